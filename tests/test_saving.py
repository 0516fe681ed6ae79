"""SavedModel export, `.keras` save/load with optimizer state, atomic files, 0.1 files."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from tiny import IMAGE_SHAPE, MODELS, images_for, make_model

import mmdvae
from mmdvae import checkpoints, compat, files, plotting
from mmdvae.export import export_saved_model
from mmdvae.models.base import LOG_VARIANCE_RANGE

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "scripts"

# One line per model: (class name in mmdvae, constructor arguments). The
# adversarial autoencoder's line is `("AAE", {})`: its discriminator optimizer is
# saved and compared like the autoencoder's.
RESUMED_MODELS = [
    ("MMDVAE", {}),
    ("ELBOVAE", {}),
    ("InfoVAE", {"alpha": 0.5, "lambda_": 10.0, "encoder_type": "gaussian"}),
    ("AAE", {}),
]


def run_script(script, argument, cwd, with_mmdvae=True):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    environment.pop("PYTHONPATH", None)
    if with_mmdvae:
        environment["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, str(SCRIPTS / script), str(argument)],
                            cwd=cwd, env=environment, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


# === SavedModel export ===


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every model exported, and its endpoints called in a process without mmdvae."""
    directory = tmp_path_factory.mktemp("exported")
    rng = np.random.default_rng(5)
    common = {"images": rng.uniform(size=(5,) + IMAGE_SHAPE).astype("float32"),
              "z": rng.normal(size=(4, 3)).astype("float32"),
              "num_samples": np.array(6), "seed": np.array(11)}
    jobs, live, bounded = [], {}, {}
    for param in MODELS:
        model_class, arguments = param.values
        model = make_model(model_class, arguments)
        # One-hot images for a categorical likelihood.
        inputs = {**common, "images": images_for(model, common["images"])}
        np.savez(directory / f"{param.id}-inputs.npz", **inputs)
        bounded[param.id] = model.likelihood.value_range is not None
        path = export_saved_model(model, directory / param.id)
        _, z_mean, z_log_var = model.posterior(inputs["images"])
        live[param.id] = {
            "encode/z": model.encode(inputs["images"]).numpy(),
            "decode": model.decode(inputs["z"]).numpy(),
            "reconstruct": model.reconstruct(inputs["images"]).numpy(),
            "sample": model.sample(6, seed=11).numpy(),
        }
        if z_mean is not None:
            live[param.id].update({"encode/z_mean": z_mean.numpy(),
                                   "encode/z_log_var": z_log_var.numpy()})
        jobs.append({"path": str(path), "inputs": str(directory / f"{param.id}-inputs.npz"),
                     "outputs": str(directory / f"{param.id}.npz")})
    (directory / "jobs.json").write_text(json.dumps(jobs))
    run_script("call_saved_models.py", directory / "jobs.json", cwd=directory,
               with_mmdvae=False)
    served = {param.id: dict(np.load(directory / f"{param.id}.npz")) for param in MODELS}
    return live, served, bounded


@pytest.mark.parametrize("model_id", [param.id for param in MODELS])
def test_saved_model_endpoints_match_the_live_model(exported, model_id):
    live, served, bounded = (part[model_id] for part in exported)
    assert not served["mmdvae_imported"]
    assert {name for name in served if name.startswith("encode/")} == {
        name for name in live if name.startswith("encode/")}
    for name, expected in live.items():
        np.testing.assert_allclose(served[name], expected, atol=1e-5, rtol=0, err_msg=name)
    np.testing.assert_allclose(served["layer_reconstruct"], live["reconstruct"], atol=1e-5)
    np.testing.assert_array_equal(served["sample_again"], served["sample"])
    assert np.abs(served["sample_other_seed"] - served["sample"]).max() > 1e-3
    assert served["sample"].shape == (6,) + live["reconstruct"].shape[1:]
    if bounded:  # not the unbounded Gaussian mean of a MutualAE
        assert 0.0 <= served["decode"].min() and served["decode"].max() <= 1.0


def test_export_refuses_a_non_empty_directory_and_other_objects(tmp_path):
    model = make_model(mmdvae.MMDVAE, {})
    (tmp_path / "notes.txt").write_text("kept")
    with pytest.raises(ValueError, match="path=.*not empty"):
        model.export(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "kept"
    with pytest.raises(TypeError, match="Autoencoder.*Sequential"):
        export_saved_model(keras.Sequential([keras.layers.Dense(1)]), tmp_path / "new")


# === .keras save and load ===


@pytest.fixture(scope="module")
def resumed_runs(tmp_path_factory):
    """2 epochs, save, 2 more in a new process; 4 uninterrupted epochs, twice."""
    directory = tmp_path_factory.mktemp("resumed")
    first, second = [], []
    for name, arguments in RESUMED_MODELS:
        base = {"model": name, "arguments": arguments, "save": None, "load": None}
        first += [
            {**base, "epochs": 2, "save": str(directory / f"{name}.keras"),
             "weights": str(directory / f"{name}-2.npz")},
            {**base, "epochs": 4, "weights": str(directory / f"{name}-4.npz")},
            {**base, "epochs": 4, "weights": str(directory / f"{name}-4-again.npz")},
        ]
        second.append({**base, "epochs": 2, "load": str(directory / f"{name}.keras"),
                       "weights": str(directory / f"{name}-2+2.npz")})
    (directory / "first.json").write_text(json.dumps(first))
    (directory / "second.json").write_text(json.dumps(second))
    run_script("train_and_save.py", directory / "first.json", cwd=ROOT)
    run_script("train_and_save.py", directory / "second.json", cwd=ROOT)
    return directory


@pytest.mark.parametrize("name", [name for name, _ in RESUMED_MODELS])
def test_two_plus_two_epochs_equal_four(resumed_runs, name):
    resumed = np.load(resumed_runs / f"{name}-2+2.npz")
    uninterrupted = np.load(resumed_runs / f"{name}-4.npz")
    after_two = np.load(resumed_runs / f"{name}-2.npz")
    assert sorted(resumed) == sorted(uninterrupted)
    assert any(key.startswith("optimizer0/") and "momentum" in key for key in resumed)
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)
    assert not all(np.array_equal(after_two[key], uninterrupted[key]) for key in after_two)


@pytest.mark.parametrize("name", [name for name, _ in RESUMED_MODELS])
def test_same_seed_and_data_give_identical_weights(resumed_runs, name):
    first = np.load(resumed_runs / f"{name}-4.npz")
    again = np.load(resumed_runs / f"{name}-4-again.npz")
    for key in first:
        np.testing.assert_array_equal(again[key], first[key], err_msg=key)


def test_saved_model_keeps_its_random_state(tmp_path):
    model = make_model(mmdvae.MMDVAE, {})
    for _ in range(3):
        model.seed_generator.next()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.seed_generator.state, model.seed_generator.state)
    np.testing.assert_array_equal(loaded.prior_samples(5), model.prior_samples(5))


# === Atomic saves ===


def files_in(directory):
    return sorted(path.name for path in directory.iterdir())


def test_a_refused_save_keeps_the_good_file(tmp_path):
    import tensorflow as tf
    import tensorflow_probability as tfp

    good = make_model(mmdvae.MMDVAE, {})
    good.save(tmp_path / "good.keras")
    before = (tmp_path / "good.keras").read_bytes()
    custom = mmdvae.MMDVAE(latent_dim=2, image_shape=IMAGE_SHAPE, network="mlp",
                           prior=tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(2)))
    with pytest.raises(NotImplementedError, match="custom tensorflow-probability"):
        custom.save(tmp_path / "good.keras")
    with pytest.raises(NotImplementedError):
        custom.save(tmp_path / "new.keras")
    assert (tmp_path / "good.keras").read_bytes() == before
    assert files_in(tmp_path) == ["good.keras"]  # no new file, no temporary
    loaded = keras.saving.load_model(tmp_path / "good.keras")
    for saved, kept in zip(loaded.variables, good.variables, strict=True):
        np.testing.assert_array_equal(saved, kept)


def test_a_save_failing_while_writing_leaves_no_file_and_no_temporary(tmp_path, monkeypatch):
    model = make_model(mmdvae.MMDVAE, {})
    model.save(tmp_path / "good.keras")
    before = (tmp_path / "good.keras").read_bytes()

    def write_half_then_fail(self, filepath, **kwargs):
        with open(filepath, "wb") as file:
            file.write(before[: len(before) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", write_half_then_fail)
    for name in ("new.keras", "good.keras"):
        with pytest.raises(OSError, match="No space left"):
            model.save(tmp_path / name)
    assert files_in(tmp_path) == ["good.keras"]
    assert (tmp_path / "good.keras").read_bytes() == before


def test_saves_refuse_a_directory_and_other_suffixes(tmp_path):
    model = make_model(mmdvae.MMDVAE, {})
    (tmp_path / "model.keras").mkdir()
    with pytest.raises(ValueError, match="`filepath` must be a file path; received "
                                         "filepath='.*model.keras', which is an existing "
                                         "directory"):
        model.save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match="`filepath` must end in .keras; received "
                                         "filepath='.*model.h5'"):
        model.save(tmp_path / "model.h5")
    (tmp_path / "a_file").write_text("kept")
    with pytest.raises(ValueError, match="a_file' is an existing file"):
        model.save(tmp_path / "a_file" / "model.keras")
    assert files_in(tmp_path) == ["a_file", "model.keras"]
    assert list((tmp_path / "model.keras").iterdir()) == []


def test_files_are_written_with_the_usual_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    model = make_model(mmdvae.MMDVAE, {})
    model.save(tmp_path / "model.keras")
    files.write_json(tmp_path / "record.json", {"loss": [0.5, float("nan")]})
    files.write_png(tmp_path / "image.png", np.zeros((2, 3), np.uint8))
    for name in ("model.keras", "record.json", "image.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    assert json.loads((tmp_path / "record.json").read_text())["loss"][0] == 0.5


def test_json_that_cannot_be_written_keeps_the_old_file(tmp_path):
    path = tmp_path / "record.json"
    files.write_json(path, {"epochs": 1})
    with pytest.raises(TypeError):
        files.write_json(path, {"epochs": object()})
    with pytest.raises(ZeroDivisionError):
        files.write_atomically(path, lambda temporary: (temporary.write_text("{"), 1 / 0))
    assert json.loads(path.read_text()) == {"epochs": 1}
    assert files_in(tmp_path) == ["record.json"]


def test_images_and_text_are_written_whole_and_read_back_equal(tmp_path):
    from PIL import Image

    pixels = np.arange(24, dtype=np.uint8).reshape(2, 4, 3) * 10
    files.write_png(tmp_path / "out" / "image.png", pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "image.png")), pixels)
    frames = [np.full((3, 3), value, np.uint8) for value in (0, 255)]
    files.write_gif(tmp_path / "out" / "animation.gif", frames, frame_seconds=0.25)
    with Image.open(tmp_path / "out" / "animation.gif") as animation:
        assert animation.n_frames == 2
        assert animation.info["duration"] == 250
        animation.seek(1)
        assert np.asarray(animation.convert("L")).min() == 255
    figure = plotting.StandaloneFigure(figsize=(2.0, 1.5))
    figure.add_subplot().plot([0, 1], [1, 0])
    files.write_figure(tmp_path / "out" / "figure.png", figure, dpi=50)
    assert Image.open(tmp_path / "out" / "figure.png").size == (100, 75)
    files.write_text(tmp_path / "out" / "notes.txt", "first\n")
    files.write_text(tmp_path / "out" / "notes.txt", "second\n")
    assert (tmp_path / "out" / "notes.txt").read_text() == "second\n"
    assert files_in(tmp_path / "out") == ["animation.gif", "figure.png", "image.png", "notes.txt"]


def test_writers_refuse_a_directory_and_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="Argument `out` must be a file path; received "
                                         "out='.*', which is an existing directory"):
        files.write_text(tmp_path, "text", argument="out")
    (tmp_path / "a_file").write_text("kept")
    with pytest.raises(ValueError, match="Argument `output_dir` must be a directory; received "
                                         "output_dir='.*a_file', which is an existing file"):
        files.check_writable_directory(tmp_path / "a_file", "output_dir")
    with pytest.raises(ValueError, match="Argument `frames` must hold at least one image"):
        files.write_gif(tmp_path / "empty.gif", [], frame_seconds=1.0)
    assert files_in(tmp_path) == ["a_file"]


# === Safe loading ===


def test_no_pickle_in_the_package():
    sources = {path: path.read_text() for path in (ROOT / "mmdvae").rglob("*.py")}
    assert sources
    users = [path.name for path, text in sources.items()
             if "import pickle" in text or "pickle." in text or "allow_pickle=True" in text]
    assert users == []


def test_resuming_refuses_a_backup_with_code_in_it(tmp_path):
    unsafe = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    unsafe.save(tmp_path / "epoch-1.keras")
    (tmp_path / checkpoints.STATE_FILE).write_text(
        json.dumps({"epoch": 1, "model": "epoch-1.keras", "history": {}}))
    with pytest.raises(ValueError, match="safe_mode"):
        checkpoints.restore_backup(tmp_path)


def test_restore_without_a_backup_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="state.json"):
        checkpoints.restore_backup(tmp_path)


# === Numerical ranges ===


@pytest.mark.parametrize("bias, expected", [(100.0, LOG_VARIANCE_RANGE[1]),
                                            (-100.0, LOG_VARIANCE_RANGE[0])])
def test_encoder_log_variances_are_clamped(bias, expected):
    model = make_model(mmdvae.ELBOVAE, {})
    layer = model.encoder.get_layer("z_log_var")
    layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
    layer.bias.assign(np.full(layer.bias.shape, bias, "float32"))
    images = np.random.default_rng(0).uniform(size=(4,) + IMAGE_SHAPE).astype("float32")
    _, _, z_log_var = model.posterior(images)
    np.testing.assert_allclose(z_log_var, expected, rtol=1e-6)
    assert LOG_VARIANCE_RANGE == pytest.approx((2 * np.log(0.005), 10.0))


@pytest.mark.slow
def test_export_of_a_model_trained_on_mnist(tmp_path, data_dir, capsys):
    """One epoch of the conv MMD-VAE on 10,000 MNIST images, served on the test set."""
    from mmdvae import data

    keras.utils.set_random_seed(0)
    train = data.load("mnist", "train", batch_size=100, shuffle=True, seed=0,
                      train_size=10000, data_dir=data_dir)
    test_images = data.load_arrays("mnist", "test", data_dir=data_dir)
    model = mmdvae.MMDVAE(latent_dim=8, network="conv", encoder_type="gaussian", seed=0)
    model.compile()
    model.fit(train, epochs=1, verbose=0)
    export_saved_model(model, tmp_path / "served")
    np.savez(tmp_path / "inputs.npz", images=test_images,
             z=model.prior_samples(100, seed=np.array([3, 0])).numpy(),
             num_samples=np.array(100), seed=np.array(0))
    jobs = [{"path": str(tmp_path / "served"), "inputs": str(tmp_path / "inputs.npz"),
             "outputs": str(tmp_path / "outputs.npz")}]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_script("call_saved_models.py", tmp_path / "jobs.json", cwd=tmp_path,
               with_mmdvae=False)
    served = np.load(tmp_path / "outputs.npz")
    live = {"reconstruct": np.concatenate([model.reconstruct(batch).numpy()
                                           for batch in np.array_split(test_images, 10)]),
            "sample": model.sample(100, seed=0).numpy()}
    differences = {name: float(np.abs(served[name] - live[name]).max()) for name in live}
    error = float(np.mean((live["reconstruct"] - test_images) ** 2))
    with capsys.disabled():
        print(f"\nserved vs live on the 10,000 MNIST test images: max |difference| "
              f"{differences}; test squared error of the served reconstructions "
              f"{float(np.mean((served['reconstruct'] - test_images) ** 2)):.6f} "
              f"(live {error:.6f})")
    assert max(differences.values()) < 1e-5
    assert not served["mmdvae_imported"]


# === Compatibility with release 0.1 (mmdvae.compat, removed in 0.4) ===


def test_the_former_argument_name_warns_from_the_callers_line_and_still_works():
    with pytest.warns(DeprecationWarning, match="`reconstruction` is now called `likelihood`; "
                                                "the former name goes in mmdvae 0.4") as record:
        model = mmdvae.InfoVAE(latent_dim=2, image_shape=IMAGE_SHAPE, network="mlp",
                               reconstruction="bernoulli")
    assert model.likelihood.name == "bernoulli"
    assert [Path(warning.filename).name for warning in record] == ["test_saving.py"]
    with pytest.raises(ValueError, match="disagree; received likelihood='mse', "
                                         "reconstruction='bernoulli'"):
        mmdvae.MMDVAE(latent_dim=2, likelihood="mse", reconstruction="bernoulli")


def test_configs_of_release_0_1_are_upgraded_with_a_warning():
    current = {"latent_dim": 2, "likelihood": "mse"}
    assert compat.upgrade_config(current) is current
    assert compat.upgrade_mutual_ae_config(current) is current
    with pytest.warns(DeprecationWarning, match="saved by mmdvae 0.1"):
        assert compat.upgrade_config({"latent_dim": 2, "reconstruction": "bernoulli"}) == {
            "latent_dim": 2, "likelihood": "bernoulli"}
    with pytest.warns(DeprecationWarning, match="holds a `temperature`"):
        upgraded = compat.upgrade_mutual_ae_config(
            {"likelihood": "categorical", "temperature": 0.25})
    assert mmdvae.likelihoods.get(upgraded["likelihood"]).temperature == 0.25
    with pytest.warns(DeprecationWarning):
        assert compat.upgrade_mutual_ae_config({"likelihood": "gaussian", "temperature": 0.5}) == {
            "likelihood": "unbounded_gaussian"}


def test_the_former_command_line_flag_sets_the_likelihood_with_a_future_warning():
    parser = argparse.ArgumentParser()
    parser.add_argument("--likelihood", default=None)
    parser.add_argument("--reconstruction", dest="likelihood", action=compat.ReconstructionFlag,
                        choices=["mse", "bernoulli"], help=argparse.SUPPRESS)
    with pytest.warns(FutureWarning, match="--reconstruction is now called --likelihood; the "
                                           "former name goes in mmdvae 0.4"):
        assert parser.parse_args(["--reconstruction", "bernoulli"]).likelihood == "bernoulli"
    assert compat.REMOVED_IN == "0.4"

"""The command line: every registered model and flag, and one-line errors for mistakes."""

import json
import signal
import subprocess
import sys
import time
import zipfile

import keras
import numpy as np
import pytest
from tiny import ROOT, run_cli

import mmdvae
from mmdvae import checkpoints, cli
from mmdvae.models import base, registry

#: A value of every model flag, as typed on the command line.
FLAG_VALUES = {
    "--network": "mlp", "--encoder-type": "gaussian", "--likelihood": "bernoulli",
    "--prior": "logistic", "--lambda": "2.5", "--alpha": "0.5", "--beta": "2.0",
    "--divergence": "stein", "--kernel": "rbf", "--bandwidth": "2.0",
    "--estimator": "unbiased", "--num-prior-samples": "50", "--information": "2.0",
    "--penalty-weight": "3.0", "--discriminator-units": "16,8",
}
#: A value some models need instead (the Mutual AE's likelihood must be reparameterised).
SPECIAL_VALUES = {("mutual", "--likelihood"): "unbounded_gaussian"}


def parse(*arguments):
    return cli.build_parser().parse_args(["train", "--out", "unused", *arguments])



@pytest.mark.parametrize("flags, expected", [
    ([], None), (["--jit"], True), (["--no-jit"], False),
])
def test_the_jit_flags_choose_the_compiled_step(flags, expected):
    """Without a flag the step is XLA-compiled where that is the faster step here."""
    args = parse("--network", "mlp", "--latent-dim", "2", *flags)
    model = registry.get("mmd").build(2, network="mlp")
    cli._compile(model, args, strategy=None)
    assert model.jit_compile is (base.default_jit_compile() if expected is None else expected)


def test_jit_and_no_jit_together_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse("--jit", "--no-jit")
    assert "not allowed with argument" in capsys.readouterr().err

def expected_config_value(text, argument):
    """The config's value for a flag's text, as the constructor stores it."""
    if argument == "discriminator_units":
        return [int(part) for part in text.split(",")]
    if argument == "likelihood":
        return text
    try:
        return int(text) if argument == "num_prior_samples" else float(text)
    except ValueError:
        return text


@pytest.mark.parametrize("model", registry.MODELS)
@pytest.mark.parametrize("flag", cli.MODEL_FLAGS)
def test_every_flag_of_every_model_builds_or_gets_one_line(model, flag, capsys):
    value = SPECIAL_VALUES.get((model, flag), FLAG_VALUES[flag])
    arguments = ["--model", model, "--latent-dim", "2", flag, value]
    if flag != "--network":
        arguments += ["--network", "mlp"]
    if flag == "--bandwidth" and "kernel" in registry.get(model).arguments:
        arguments += ["--kernel", "rbf"]  # the tutorial kernel takes no bandwidth
    args = parse(*arguments)
    argument = cli.MODEL_FLAGS[flag][0]
    entry = registry.get(model)
    if argument not in entry.arguments:
        with pytest.raises(SystemExit) as refusal:
            cli.model_arguments(args)
        message = str(refusal.value)
        assert message.startswith(f"error: {flag} {value}") and "\n" not in message
        assert "does not apply" in message and f"--model {model}" in message
        return
    built = cli._build_model(args, cli.model_arguments(args), (28, 28, 1))
    assert isinstance(built, entry.model_class)
    assert built.get_config()[argument] == expected_config_value(value, argument)


def test_model_arguments_that_conflict_get_the_models_message():
    args = parse("--model", "infovae", "--alpha", "0.5", "--lambda", "0.1")
    with pytest.raises(SystemExit, match=r"^error: --model infovae: .*alpha \+ lambda_ - 1"):
        cli._build_model(args, cli.model_arguments(args), (28, 28, 1))
    args = parse("--model", "mmd", "--alpha", "0.5")
    with pytest.raises(SystemExit, match="--alpha 0.5 does not apply to --model mmd"):
        cli.model_arguments(args)


@pytest.mark.parametrize("arguments, message", [
    (["--model", "vq"], "invalid choice: 'vq'"),
    (["--image-size", "0x4"], "--image-size: must be HEIGHTxWIDTH (e.g. 64x64)"),
    (["--latent-dim", "0"], "--latent-dim: must be a positive integer; received 0"),
    (["--seed", "-1"], "--seed: must be an integer >= 0; received -1"),
    (["--lambda", "nan"], "--lambda: must be a finite number >= 0; received nan"),
    (["--learning-rate", "0"], "--learning-rate: must be a finite number > 0; received 0"),
    (["--discriminator-units", "64,x"], "--discriminator-units: must be a comma-separated"),
    (["--figures", "loss"], "--figures: must be 'none' or a comma-separated list"),
])
def test_bad_flag_values_are_refused_by_the_parser(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--out", "unused", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def error_of(arguments):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(arguments)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


TINY_RUN = ["--network", "mlp", "--latent-dim", "2", "--figures", "none"]


def test_mistakes_are_reported_before_data_or_training(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("MMDVAE_DATA_DIR", str(data_dir))
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    message = error_of(["train", *TINY_RUN, "--out", str(blocker / "run")])
    assert f"--out {blocker / 'run'} cannot be created" in message
    message = error_of(["train", *TINY_RUN, "--train-size", "100000",
                        "--out", str(tmp_path / "big")])
    assert "train_size" in message and "100000" in message
    message = error_of(["train", *TINY_RUN, "--data-dir", str(tmp_path / "nowhere"),
                        "--out", str(tmp_path / "nodata")])
    assert "nowhere" in message and "MMDVAE_DATA_DIR" in message
    message = error_of(["train", *TINY_RUN, "--model", "mmd", "--bandwidth", "2",
                        "--out", str(tmp_path / "b")])
    assert "bandwidth" in message and "tutorial" in message
    message = error_of(["train", *TINY_RUN, "--model", "mmd",
                        "--discriminator-learning-rate", "0.1", "--out", str(tmp_path / "d")])
    assert "--discriminator-learning-rate 0.1 applies to --model aae only" in message


def test_a_corrupt_backup_is_named_corrupt(tmp_path):
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / checkpoints.STATE_FILE).write_text('{"epoch": 1, "mod')
    message = error_of(["train", *TINY_RUN, "--out", str(tmp_path / "run"), "--resume"])
    assert "state.json is corrupt" in message
    (backup / checkpoints.STATE_FILE).write_text(json.dumps(
        {"epoch": 1, "model": "epoch-1.keras", "history": {}, "arguments": {}}))
    (backup / "epoch-1.keras").write_bytes(b"not a zip file")
    message = error_of(["train", *TINY_RUN, "--out", str(tmp_path / "run"), "--resume",
                        "--epochs", "2"])
    assert "corrupt or incomplete" in message


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """An untrained 28x28 model file, for the evaluate command's checks."""
    path = tmp_path_factory.mktemp("model") / "model.keras"
    mmdvae.ELBOVAE(latent_dim=2, network="mlp", seed=0).save(path)
    return path


def test_evaluate_checks_its_arguments_before_any_work(saved_model, tmp_path, monkeypatch):
    from mmdvae import evaluation

    def expensive(*arguments, **keywords):
        raise AssertionError("an expensive measure ran before the arguments were checked")

    monkeypatch.setattr(evaluation, "evaluate", expensive)
    monkeypatch.setattr(evaluation, "train_image_classifier", expensive)
    message = error_of(["evaluate", str(saved_model), "--out", str(tmp_path)])
    assert f"--out {tmp_path} is a directory" in message
    message = error_of(["evaluate", str(saved_model), "--out", str(tmp_path / "e.json"),
                        "--mse-variance", "0.1"])
    assert "--mse-variance 0.1 applies to models with the mse likelihood only" in message
    assert "'bernoulli'" in message
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", str(saved_model), "--out", "e.json", "--kernel", "nonsense"])
    assert exit_info.value.code == 2


def test_evaluate_names_a_corrupt_model_file(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 truncated")
    message = error_of(["evaluate", str(broken), "--out", str(tmp_path / "e.json")])
    assert f"{broken} is corrupt: a .keras file is a zip archive" in message
    assert "File not found" not in message
    empty = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("metadata.json", "{}")
    message = error_of(["evaluate", str(empty), "--out", str(tmp_path / "e.json")])
    assert f"{empty} is not a readable .keras file" in message


def test_compare_names_a_corrupt_or_incomplete_evaluation(tmp_path):
    corrupt, incomplete = tmp_path / "a", tmp_path / "b"
    corrupt.mkdir()
    incomplete.mkdir()
    (corrupt / "evaluation.json").write_text('{"metrics": ')
    (incomplete / "evaluation.json").write_text('{"model": "m.keras"}')
    message = error_of(["compare", str(corrupt), "--out", str(tmp_path / "r.md")])
    assert "evaluation.json is corrupt" in message
    message = error_of(["compare", str(incomplete), "--out", str(tmp_path / "r.md")])
    assert 'has no "metrics" table' in message


def test_a_killed_run_resumes_with_every_epoch_and_its_figures(tmp_path, data_dir):
    """Killed as soon as the first backup appears; the resumed run ends the same."""
    out = tmp_path / "run"
    arguments = ["train", "--network", "mlp", "--latent-dim", "2", "--epochs", "3",
                 "--batch-size", "100", "--train-size", "2000", "--no-jit",
                 "--figures", "samples", "--out", str(out)]
    environment = {"MMDVAE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "mmdvae", *arguments], cwd=ROOT,
                               env={**__import__("os").environ, **environment},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state_file = out / "backup" / checkpoints.STATE_FILE
    deadline = time.monotonic() + 600
    while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    output = process.communicate()[0]
    assert process.returncode == -signal.SIGKILL, output[-3000:]
    state = json.loads(state_file.read_text())
    assert 1 <= state["epoch"] < 3, "the kill must interrupt the run"
    # The figures are drawn before the backup: a backed-up epoch has its figure.
    assert (out / "figures" / f"samples_epoch_{state['epoch']:04d}.png").is_file()

    again = run_cli([*arguments, "--resume"], data_dir, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"resuming after epoch {state['epoch']}" in again.stdout
    record = json.loads((out / "history.json").read_text())
    assert record["epochs"] == 3
    assert all(len(values) == 3 for values in record["history"].values())
    for name, values in state["history"].items():
        assert record["history"][name][: state["epoch"]] == values
    assert sorted(path.name for path in (out / "figures").glob("samples_epoch_*.png")) == [
        f"samples_epoch_{epoch:04d}.png" for epoch in (1, 2, 3)]
    weights = keras.saving.load_model(out / "model.keras").get_weights()

    done = run_cli([*arguments, "--resume", "--epochs", "2"], data_dir, timeout=600)
    assert done.returncode == 0
    assert "nothing left to train" in done.stdout and "finished 3 epochs" in done.stdout
    for before, after in zip(weights, keras.saving.load_model(out / "model.keras").get_weights(),
                             strict=True):
        np.testing.assert_array_equal(before, after)


def test_compare_tests_whether_two_runs_codes_differ(tmp_path, data_dir):
    """The same model twice: no difference found; another model: a clear one."""
    runs = {"first": 0, "same": 0, "other": 1}
    for name, seed in runs.items():
        run = tmp_path / name
        run.mkdir()
        keras.utils.set_random_seed(seed)
        mmdvae.MMDVAE(latent_dim=2, network="mlp", seed=seed).save(run / "model.keras")
        (run / "evaluation.json").write_text(json.dumps({"dataset": "mnist", "metrics": {}}))
    cli.main(["compare", *(str(tmp_path / name) for name in runs), "--two-sample", "300",
              "--data-dir", str(data_dir), "--out", str(tmp_path / "report.md")])
    report = (tmp_path / "report.md").read_text()
    rows = {line.split(" | ")[0].strip("| "): float(line.rsplit("|", 2)[1])
            for line in report.splitlines() if " vs " in line}
    assert set(rows) == {"first vs same", "first vs other", "same vs other"}
    assert rows["first vs same"] > 0.5
    assert rows["first vs other"] < 0.01 and rows["same vs other"] < 0.01


def test_train_takes_other_datasets_and_directories(tmp_path):
    """scikit-learn's real 8x8 digits by name, and a directory of PNG files with classes."""
    from PIL import Image

    cli.main(["train", "--dataset", "sklearn_digits", "--network", "conv", "--latent-dim", "2",
              "--epochs", "1", "--batch-size", "100", "--figures", "samples,scatter",
              "--out", str(tmp_path / "digits")])
    model = keras.saving.load_model(tmp_path / "digits" / "model.keras")
    assert model.image_shape == (8, 8, 1)
    rng = np.random.default_rng(0)
    for name in ("circles", "squares"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for index in range(12):
            pixels = (rng.uniform(size=(10, 12, 3)) * 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{index}.png")
    cli.main(["train", "--dataset", str(tmp_path / "images"), "--image-size", "16x16",
              "--network", "conv", "--latent-dim", "2", "--epochs", "1", "--batch-size", "8",
              "--figures", "samples,scatter", "--out", str(tmp_path / "folder")])
    model = keras.saving.load_model(tmp_path / "folder" / "model.keras")
    assert model.image_shape == (16, 16, 3)
    assert (tmp_path / "folder" / "figures" / "latent_scatter_epoch_0001.png").is_file()
    message = error_of(["train", "--dataset", "no_such_dataset", "--out", str(tmp_path / "x")])
    assert "no_such_dataset" in message and "tensorflow-datasets" in message


def test_train_under_a_mirrored_strategy_saves_a_plain_model(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("MMDVAE_DATA_DIR", str(data_dir))
    arguments = ["train", "--strategy", "mirrored", "--model", "aae", *TINY_RUN,
                 "--train-size", "400", "--out", str(tmp_path / "run")]
    cli.main([*arguments, "--epochs", "1"])
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert isinstance(model, mmdvae.AAE) and int(model.optimizer.iterations) == 2
    cli.main([*arguments, "--epochs", "2", "--resume"])
    assert int(keras.saving.load_model(tmp_path / "run" / "model.keras")
               .optimizer.iterations) == 4
    monkeypatch.delenv("TF_CONFIG", raising=False)
    message = error_of(["train", "--strategy", "multi-worker", "--out", str(tmp_path / "m")])
    assert "TF_CONFIG" in message

"""The figure callbacks during `fit`, the CLI's figure options and notebook 02."""

import os
import stat
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tiny import IMAGE_SHAPE, tiny_model

import mmdvae
from mmdvae import callbacks


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(64,) + IMAGE_SHAPE).astype("float32")
    labels = rng.integers(0, 4, size=64)
    return images, labels


def image_summaries(log_dir):
    """{(tag, step): (height, width, channels)} of the image summaries under log_dir."""
    found = {}
    for path in log_dir.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "images":
                    continue
                tensor = tf.make_ndarray(value.tensor)  # [width, height, encoded images...]
                decoded = tf.io.decode_png(tensor[2]).numpy()
                assert int(tensor[0]) == decoded.shape[1] and decoded.std() > 0
                found[(value.tag, event.step)] = decoded.shape
    return found


def test_two_epochs_with_every_callback_write_pngs_gifs_and_tensorboard_images(
    tiny_data, tmp_path
):
    images, labels = tiny_data
    out, logs = tmp_path / "figures", tmp_path / "logs"
    settings = dict(output_dir=out, log_dir=logs)
    figures = [
        callbacks.SampleGrid(num_samples=9, num_columns=3, every=2, gif=True, **settings),
        callbacks.ReconstructionGrid(images, num_images=6, **settings),
        callbacks.LatentScatter(images, labels, num_points=40, gif=True, **settings),
        callbacks.MorphGrid(num_rows=4, **settings),
        callbacks.InterpolationGrid(images[:2], images[2:4], num_steps=4, **settings),
        callbacks.DensityContours(images, num_points=40, **settings),
    ]
    sample_grid = figures[0]
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2)
    model.compile(jit_compile=True)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(16)
    model.fit(dataset, epochs=2, callbacks=figures, verbose=0)

    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["samples_epoch_0002.png", "samples.gif"]
        + [f"{name}_epoch_{epoch:04d}.png" for name in
           ("reconstructions", "latent_scatter", "morph_grid", "interpolations", "density")
           for epoch in (1, 2)]
        + ["latent_scatter.gif"])
    with Image.open(out / "latent_scatter.gif") as gif:
        assert gif.n_frames == 2
    with Image.open(out / "samples.gif") as gif:
        assert gif.n_frames == 1
    with Image.open(out / "morph_grid_epoch_0002.png") as png:
        pixels = np.asarray(png)
        assert png.size == (560, 560) and pixels.std() > 0  # 7 x 7 inches at 80 dpi

    summaries = image_summaries(logs)
    assert set(summaries) == {("samples", 2)} | {
        (name, epoch)
        for name in ("reconstructions", "latent_scatter", "morph_grid", "interpolations",
                     "density")
        for epoch in (1, 2)}
    assert summaries[("morph_grid", 2)] == (560, 560, 4)
    assert plt.get_fignums() == []  # every figure was closed
    # The samples decode the same codes every epoch: the prior draws of seed (0, 0).
    np.testing.assert_array_equal(sample_grid.codes,
                                  model.prior_samples(9, seed=np.array([0, 0])).numpy())


def test_scatter_without_labels_draws_one_colour(tiny_data, tmp_path):
    images, _ = tiny_data
    scatter = callbacks.LatentScatter(images, None, output_dir=tmp_path)
    assert not scatter.labelled


@pytest.mark.parametrize("callback_class", [callbacks.MorphGrid, callbacks.DensityContours])
def test_two_dimensional_figures_refuse_other_latent_sizes_before_training(
    callback_class, tiny_data, tmp_path
):
    images, _ = tiny_data
    arguments = {} if callback_class is callbacks.MorphGrid else {"images": images}
    callback = callback_class(output_dir=tmp_path, **arguments)
    model = tiny_model(mmdvae.MMDVAE, latent_dim=3)
    model.compile(jit_compile=False)
    with pytest.raises(ValueError, match="latent_dim=2; received a model with latent_dim=3"):
        model.fit(images, batch_size=16, epochs=1, callbacks=[callback], verbose=0)
    assert int(model.optimizer.iterations) == 0
    assert list(tmp_path.iterdir()) == []


def test_an_output_directory_that_cannot_be_written_is_refused(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("user data")
    with pytest.raises(ValueError, match="`output_dir` must be a directory; .*a_file"):
        callbacks.SampleGrid(output_dir=blocker)
    with pytest.raises(ValueError, match="where files can be written; .*a_file/figures"):
        callbacks.SampleGrid(output_dir=blocker / "figures")
    assert blocker.read_text() == "user data"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        with pytest.raises(ValueError, match="where files can be written"):
            callbacks.SampleGrid(log_dir=locked)


def test_existing_figures_are_not_overwritten_silently(tmp_path):
    (tmp_path / "samples_epoch_0001.png").write_bytes(b"user figure")
    with pytest.raises(ValueError, match="already holds 1 file.*overwrite=True"):
        callbacks.SampleGrid(output_dir=tmp_path)
    callbacks.SampleGrid(output_dir=tmp_path, name="other")
    callbacks.SampleGrid(output_dir=tmp_path, overwrite=True)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"every": 0}, "`every` must be an integer >= 1; received every=0"),
        ({}, "pass `output_dir`"),
        ({"log_dir": "logs", "gif": True}, "`gif=True` needs `output_dir`"),
    ],
)
def test_bad_callback_arguments_are_named(arguments, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        callbacks.SampleGrid(**arguments)


IMAGES = np.random.default_rng(0).uniform(size=(8,) + IMAGE_SHAPE).astype("float32")
LABELS = np.arange(8) % 4

# Every argument a callback checks when it is built: (callback, arguments, error,
# message naming the argument and the value received).
BAD_ARGUMENTS = {
    "frame_seconds of text": (callbacks.SampleGrid, {"frame_seconds": "a"}, TypeError,
                              r"`frame_seconds` must be a number; received "
                              r"frame_seconds='a' of type str"),
    "frame_seconds of 0": (callbacks.SampleGrid, {"frame_seconds": 0}, ValueError,
                           r"`frame_seconds` must be a finite and > 0 number; received "
                           r"frame_seconds=0.0"),
    "frame_seconds of NaN": (callbacks.SampleGrid, {"frame_seconds": float("nan")},
                             ValueError, r"received frame_seconds=nan"),
    "every of 2.5": (callbacks.SampleGrid, {"every": 2.5}, TypeError,
                     r"`every` must be an integer >= 1; received every=2.5 of type float"),
    "dpi of 0": (callbacks.SampleGrid, {"dpi": 0}, ValueError,
                 r"`dpi` must be an integer in \[1, 1000\]; received dpi=0"),
    "dpi of 10**6": (callbacks.SampleGrid, {"dpi": 10**6}, ValueError,
                     r"received dpi=1000000"),
    "gif of text": (callbacks.SampleGrid, {"gif": "yes"}, TypeError,
                    r"`gif` must be True or False; received gif='yes'"),
    "overwrite of 1": (callbacks.SampleGrid, {"overwrite": 1}, TypeError,
                       r"`overwrite` must be True or False; received overwrite=1"),
    "name with a slash": (callbacks.SampleGrid, {"name": "../samples"}, ValueError,
                          r"`name` must be a non-empty file name prefix .*name='../samples'"),
    "num_samples of -1": (callbacks.SampleGrid, {"num_samples": -1}, ValueError,
                          r"`num_samples` must be an integer in \[1, 10000\]; received "
                          r"num_samples=-1"),
    "num_columns of 0": (callbacks.SampleGrid, {"num_columns": 0}, ValueError,
                         r"received num_columns=0"),
    "seed of -1": (callbacks.SampleGrid, {"seed": -1}, ValueError,
                   r"`seed` must be an integer in \[0, 2147483647\]; received seed=-1"),
    "seed of text": (callbacks.SampleGrid, {"seed": "a"}, TypeError, r"received seed='a'"),
    "NaN codes": (callbacks.SampleGrid, {"codes": np.full((2, 2), np.nan)}, ValueError,
                  r"`codes` must hold finite codes; received 4 NaN"),
    "codes of rank 1": (callbacks.SampleGrid, {"codes": np.zeros(4)}, ValueError,
                        r"`codes` must be a numeric array of shape \(n, latent_dim\) .*"
                        r"shape \(4,\)"),
    "uint8 images to reconstruct": (
        callbacks.ReconstructionGrid, {"images": (IMAGES * 255).astype("uint8")}, TypeError,
        r"`images` must hold floating-point images in \[0, 1\]; received images of "
        r"dtype uint8"),
    "images of rank 3": (callbacks.ReconstructionGrid, {"images": IMAGES[..., 0]},
                         ValueError, r"`images` must have shape \(n, height, width, "
                         r"channels\) with n >= 1; received shape \(8, 8, 8\)"),
    "no images": (callbacks.ReconstructionGrid, {"images": IMAGES[:0]}, ValueError,
                  r"received shape \(0, 8, 8, 1\)"),
    "NaN images": (callbacks.ReconstructionGrid, {"images": IMAGES * np.nan}, ValueError,
                   r"`images` must hold finite values; received 512 NaN"),
    "num_images of 0": (callbacks.ReconstructionGrid, {"images": IMAGES, "num_images": 0},
                        ValueError, r"received num_images=0"),
    "too few class names": (
        callbacks.LatentScatter, {"images": IMAGES, "labels": LABELS,
                                  "class_names": ["a", "b"]}, ValueError,
        r"`class_names` must name every class: labels run up to 3, so 4 names are "
        r"needed; received 2 names, class_names=\['a', 'b'\]"),
    "class names of text": (
        callbacks.LatentScatter, {"images": IMAGES, "labels": LABELS,
                                  "class_names": "abcd"}, TypeError,
        r"`class_names` must be a sequence of names .*received class_names='abcd'"),
    "negative labels with class names": (
        callbacks.LatentScatter, {"images": IMAGES, "labels": LABELS - 1,
                                  "class_names": list("abcd")}, ValueError,
        r"`labels` must be non-negative integers .*from -1"),
    "labels of another length": (
        callbacks.LatentScatter, {"images": IMAGES, "labels": LABELS[:5]}, ValueError,
        r"received shapes \(8, 8, 8, 1\) and \(5,\)"),
    "num_points of 0": (callbacks.LatentScatter, {"images": IMAGES, "labels": LABELS,
                                                  "num_points": 0}, ValueError,
                        r"received num_points=0"),
    "limits reversed": (callbacks.LatentScatter, {"images": IMAGES, "labels": LABELS,
                                                  "limits": ((1, -1), (-1, 1))}, ValueError,
                        r"`limits` must be \(\(x_min, x_max\), \(y_min, y_max\)\) .*"
                        r"received limits=\(\(1, -1\), \(-1, 1\)\)"),
    "limits of NaN": (callbacks.DensityContours, {"images": IMAGES,
                                                  "limits": ((0, np.nan), (0, 1))},
                      ValueError, r"received limits=\(\(0, nan\), \(0, 1\)\)"),
    "prior_contours of None": (callbacks.LatentScatter,
                               {"images": IMAGES, "labels": LABELS, "prior_contours": None},
                               TypeError, r"received prior_contours=None"),
    "quantile range of 1": (callbacks.MorphGrid, {"quantile_range": (0.1, 1.0)}, ValueError,
                            r"`quantile_range` must be \(low, high\) with 0 < low < high < 1; "
                            r"received quantile_range=\(0.1, 1.0\)"),
    "quantile range of text": (callbacks.MorphGrid, {"quantile_range": "0.1-0.9"}, TypeError,
                               r"`quantile_range` must be a pair of numbers .*'0.1-0.9'"),
    "num_rows of 1000": (callbacks.MorphGrid, {"num_rows": 1000}, ValueError,
                         r"`num_rows` must be an integer in \[1, 100\]; received num_rows=1000"),
    "num_steps of 1": (callbacks.InterpolationGrid,
                       {"start_images": IMAGES[:2], "end_images": IMAGES[2:4], "num_steps": 1},
                       ValueError, r"`num_steps` must be an integer in \[2, 10000\]; received "
                       r"num_steps=1"),
    "interpolation ends of two shapes": (
        callbacks.InterpolationGrid, {"start_images": IMAGES[:2], "end_images": IMAGES[2:5]},
        ValueError, r"same shape .*received \(2, 8, 8, 1\) and \(3, 8, 8, 1\)"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_callback_arguments_are_checked_when_built(case, tmp_path):
    callback_class, arguments, error, message = BAD_ARGUMENTS[case]
    with pytest.raises(error, match=message):
        callback_class(output_dir=tmp_path / "figures", **arguments)
    assert not (tmp_path / "figures").exists() or list((tmp_path / "figures").iterdir()) == []


# Arguments that only the model can check: refused when training begins, before
# the first step. (callback, arguments, model arguments, message)
BAD_FOR_THE_MODEL = {
    "images of another size": (
        callbacks.ReconstructionGrid, {"images": np.zeros((4, 9, 9, 1), "float32")}, {},
        r"`images` must hold images of shape \(batch, 8, 8, 1\) to match the model's "
        r"image_shape=\(8, 8, 1\); received images of shape \(4, 9, 9, 1\)"),
    "unscaled images": (
        callbacks.ReconstructionGrid, {"images": IMAGES * 255}, {},
        r"`images` must lie in \[0, 1\] for the likelihood 'mse'; received values from "),
    "unscaled scatter images": (
        callbacks.LatentScatter, {"images": IMAGES * 255, "labels": LABELS}, {},
        r"`images` must lie in \[0, 1\]"),
    "interpolation ends of another size": (
        callbacks.InterpolationGrid, {"start_images": np.zeros((2, 4, 4, 1), "float32"),
                                      "end_images": np.zeros((2, 4, 4, 1), "float32")}, {},
        r"`start_images` must hold images of shape \(batch, 8, 8, 1\)"),
    "codes of another size": (
        callbacks.SampleGrid, {"codes": np.zeros((4, 3))}, {},
        r"`codes` must have shape \(n, 2\) to match the model's latent_dim=2; received "
        r"shape \(4, 3\)"),
    "scatter of 1-D codes": (
        callbacks.LatentScatter, {"images": IMAGES, "labels": LABELS}, {"latent_dim": 1},
        r"at least 2 dimensions; received a model with latent_dim=1"),
}


@pytest.mark.parametrize("case", list(BAD_FOR_THE_MODEL))
def test_what_needs_the_model_is_checked_before_the_first_step(case, tmp_path):
    callback_class, arguments, model_arguments, message = BAD_FOR_THE_MODEL[case]
    callback = callback_class(output_dir=tmp_path, **arguments)
    model = tiny_model(mmdvae.MMDVAE, **{"latent_dim": 2, **model_arguments})
    model.compile(jit_compile=False)
    with pytest.raises(ValueError, match=message):
        model.fit(IMAGES, batch_size=4, epochs=1, callbacks=[callback], verbose=0)
    assert int(model.optimizer.iterations) == 0
    assert list(tmp_path.iterdir()) == []


def test_importing_the_package_keeps_the_matplotlib_backend():
    """No `matplotlib.use` at import: the backend chosen by the user stays."""
    script = (
        "import matplotlib.pyplot as plt\n"
        "import mmdvae, mmdvae.plotting, mmdvae.callbacks\n"
        "print(plt.get_backend())\n"
    )
    # A backend that is not Agg, which `matplotlib.use("Agg")` would replace.
    environment = dict(os.environ, MPLBACKEND="svg", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "svg"


def test_figures_render_without_pyplot_and_leave_no_open_figure(tiny_data, tmp_path):
    images, labels = tiny_data
    figures = [callbacks.SampleGrid(num_samples=4, output_dir=tmp_path),
               callbacks.LatentScatter(images, labels, num_points=20, output_dir=tmp_path,
                                       class_names=list("abcd"))]
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2)
    model.compile(jit_compile=False)
    model.fit(images, batch_size=16, epochs=1, callbacks=figures, verbose=0)
    assert plt.get_fignums() == []
    with Image.open(tmp_path / "latent_scatter_epoch_0001.png") as png:
        assert png.size == (512, 448)  # 6.4 x 5.6 inches at 80 dpi
        assert np.asarray(png)[..., :3].std() > 10


def test_cli_draws_the_chosen_figures(tmp_path, data_dir, capsys):
    from mmdvae import cli

    out = tmp_path / "run"
    code = cli.main(
        ["train", "--latent-dim", "2", "--epochs", "2", "--batch-size", "100",
         "--train-size", "200", "--network", "mlp", "--data-dir", str(data_dir),
         "--figures", "samples,morph,interpolations", "--figure-every", "2", "--gif",
         "--tensorboard", "--no-jit", "--out", str(out)])
    assert code == 0
    assert sorted(path.name for path in (out / "figures").iterdir()) == [
        "interpolations.gif", "interpolations_epoch_0002.png", "morph_grid.gif",
        "morph_grid_epoch_0002.png", "samples.gif", "samples_epoch_0002.png"]
    assert set(image_summaries(out / "logs")) == {
        ("samples", 2), ("morph_grid", 2), ("interpolations", 2)}


def test_notebook_02_runs(tmp_path, run_notebook):
    outputs, images = run_notebook("02_fashion_mnist_elbo_vs_mmd.ipynb")
    # The comparison, the densities, the two scatter GIFs' cells and two training curves.
    assert len(images) >= 4
    assert "ELBO-VAE: test codes mean" in outputs and "MMD-VAE: test codes mean" in outputs
    run = tmp_path / "runs" / "fashion_mnist_2d"
    assert (run / "comparison.png").is_file() and (run / "density.png").is_file()
    for name in ("elbo", "mmd"):
        assert {"samples_epoch_0001.png", "latent_scatter_epoch_0001.png",
                "morph_grid_epoch_0001.png", "latent_scatter.gif"} <= {
            path.name for path in (run / name).iterdir()}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--figures", "samples,contours"], "--figures: must be 'none' or a comma-separated"),
        (["--figures", "morph", "--latent-dim", "20"],
         "--figures morph needs --latent-dim 2; received --latent-dim 20"),
        (["--figure-every", "0"], "--figure-every: must be a positive integer; received 0"),
    ],
)
def test_cli_refuses_figures_it_cannot_draw(arguments, message, tmp_path, capsys):
    from mmdvae import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--out", str(tmp_path / "run"), *arguments])
    error = str(exit_info.value.code) + capsys.readouterr().err
    assert message in error
    assert not (tmp_path / "run").exists()

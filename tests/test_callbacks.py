"""The figure callbacks during `fit`, the CLI's figure options and notebook 02."""

import os
import stat

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import mmdvae
from mmdvae import callbacks

IMAGE_SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(64,) + IMAGE_SHAPE).astype("float32")
    labels = rng.integers(0, 4, size=64)
    return images, labels


def tiny_model(latent_dim=2, **arguments):
    keras.utils.set_random_seed(0)
    return mmdvae.MMDVAE(latent_dim=latent_dim, image_shape=IMAGE_SHAPE, network="mlp",
                         seed=0, **arguments)


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
    model = tiny_model()
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


def test_scatter_without_labels_is_refused(tiny_data, tmp_path):
    images, _ = tiny_data
    with pytest.raises(ValueError, match="`labels` is required.*received labels=None"):
        callbacks.LatentScatter(images, None, output_dir=tmp_path)


@pytest.mark.parametrize("callback_class", [callbacks.MorphGrid, callbacks.DensityContours])
def test_two_dimensional_figures_refuse_other_latent_sizes_before_training(
    callback_class, tiny_data, tmp_path
):
    images, _ = tiny_data
    arguments = {} if callback_class is callbacks.MorphGrid else {"images": images}
    callback = callback_class(output_dir=tmp_path, **arguments)
    model = tiny_model(latent_dim=3)
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
        ({"every": 0}, "`every` must be a positive integer; received every=0"),
        ({}, "pass `output_dir`"),
        ({"log_dir": "logs", "gif": True}, "`gif=True` needs `output_dir`"),
    ],
)
def test_bad_callback_arguments_are_named(arguments, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        callbacks.SampleGrid(**arguments)


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
    outputs = run_notebook("02_fashion_mnist_elbo_vs_mmd.ipynb")
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

"""Bad input gets a clear error; a NaN stops training; a killed run resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_models import IMAGE_SHAPE, make_model

import mmdvae
from mmdvae import checkpoints, cli, kernels

ROOT = Path(__file__).resolve().parents[1]


def images(count=32, seed=0):
    return np.random.default_rng(seed).uniform(size=(count,) + IMAGE_SHAPE).astype("float32")


def with_value(value, index=3):
    corrupted = images()
    corrupted[index, 2, 2, 0] = value
    return corrupted


def batches(array, batch_size=16):
    return tf.data.Dataset.from_tensor_slices(array).batch(batch_size)


MMD = (mmdvae.MMDVAE, {})
UNBIASED = (mmdvae.MMDVAE, {"estimator": "unbiased"})
BERNOULLI = (mmdvae.ELBOVAE, {"reconstruction": "bernoulli"})

# Every row of the README table "Bad input and the error it gets":
# (model, call, error type, message pattern).
BAD_INPUTS = {
    "image rank": (MMD, lambda m: m.fit(images()[..., 0], epochs=1), ValueError,
                   r"`x` must hold images of shape \(batch, 8, 8, 1\).*\(32, 8, 8\)"),
    "image size": (MMD, lambda m: m.fit(np.zeros((4, 9, 9, 1), "float32")), ValueError,
                   r"`x` .*image_shape=\(8, 8, 1\); received x of shape \(4, 9, 9, 1\)"),
    "dataset image size": (MMD, lambda m: m.fit(batches(np.zeros((4, 9, 9, 1), "float32"))),
                           ValueError, r"`x` .*received x of shape \(None, 9, 9, 1\)"),
    "integer images": (MMD, lambda m: m.fit((images() * 255).astype("uint8")), TypeError,
                       r"`x` must hold floating-point images in \[0, 1\]; received x of "
                       r"dtype uint8.*astype\('float32'\) / 255"),
    "integer dataset": (MMD, lambda m: m.fit(batches((images() * 255).astype("uint8"))),
                        TypeError, r"`x` .*dtype uint8"),
    "integer images to encode": (MMD, lambda m: m.encode(np.zeros((2, 8, 8, 1), "int64")),
                                 TypeError, r"`images` .*dtype int64"),
    "values outside [0, 1], Bernoulli": (
        BERNOULLI, lambda m: m.fit(with_value(1.5)), ValueError,
        r"`x` must lie in \[0, 1\] for the Bernoulli decoder.*from 0.*to 1.5"),
    "NaN in the data": (MMD, lambda m: m.fit(with_value(np.nan)), ValueError,
                        r"`x` must hold finite values; received 1 NaN or infinite values "
                        r"in 1 images \(first at index 3\)"),
    "Inf in the data": (MMD, lambda m: m.evaluate(with_value(np.inf)), ValueError,
                        r"`x` must hold finite values"),
    "NaN in validation data": (
        MMD, lambda m: m.fit(images(), validation_data=(with_value(np.nan),)),
        ValueError, r"`validation_data` must hold finite values"),
    "NaN in a dataset's first batch": (MMD, lambda m: m.fit(batches(with_value(np.nan))),
                                       ValueError, r"`x \(first batch\)` must hold finite"),
    "NaN codes to decode": (MMD, lambda m: m.decode(np.full((2, 3), np.nan)), ValueError,
                            r"`z` must hold finite codes"),
    "codes of the wrong size": (MMD, lambda m: m.decode(np.zeros((2, 5))), ValueError,
                                r"`z` must have shape \(batch, 3\).*\(2, 5\)"),
    "empty array": (MMD, lambda m: m.fit(np.zeros((0,) + IMAGE_SHAPE, "float32")),
                    ValueError, r"`x` is empty: received 0 images"),
    "empty dataset": (MMD, lambda m: m.fit(batches(images()).take(0)), ValueError,
                      r"`x` is an empty dataset"),
    "batch of 1, unbiased MMD": (
        UNBIASED, lambda m: m.fit(images(33), batch_size=16), ValueError,
        r"MMDVAE with estimator='unbiased' needs at least 2 images per batch; received "
        r"33 images in `x` with batch_size=16, which leaves a batch of 1"),
    "dataset batch of 1, unbiased MMD": (
        UNBIASED, lambda m: m.fit(batches(images(), batch_size=1)), ValueError,
        r"needs at least 2 images per batch; received a dataset `x` whose first batch "
        r"holds 1"),
    "1 prior sample, unbiased MMD": (
        None, lambda m: mmdvae.MMDVAE(3, estimator="unbiased", num_prior_samples=1),
        ValueError, r"`num_prior_samples` must be >= 2 .*received num_prior_samples=1"),
    "unbiased MMD of 1 sample": (
        None, lambda m: kernels.compute_mmd(np.zeros((1, 3)), np.zeros((4, 3)),
                                            estimator="unbiased"),
        ValueError, r"needs at least 2 rows in `x`; received x with shape"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_a_clear_error(case):
    model_spec, call, error, pattern = BAD_INPUTS[case]
    model = None
    if model_spec is not None:
        model = make_model(*model_spec)
        model.compile(jit_compile=False)
    with pytest.raises(error, match=pattern):
        call(model)
    if model is not None:
        # Refused before any work: no step ran.
        assert int(model.optimizer.iterations) == 0


def test_readme_table_lists_every_bad_input():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Bad input and the error it gets", 1)[1].split("\n## ", 1)[0]
    for case in BAD_INPUTS:
        assert f"| {case} |" in table, case


def test_good_input_passes_the_checks():
    model = make_model(*UNBIASED)
    model.compile(jit_compile=False)
    model.fit(images(34), batch_size=16, epochs=1, verbose=0)  # batches 16, 16, 2
    assert int(model.optimizer.iterations) == 3
    assert model.predict(images(1), verbose=0).shape == (1,) + IMAGE_SHAPE


# === A NaN stops training ===


def test_a_nan_batch_stops_training_and_keeps_the_last_good_weights(tmp_path):
    model = make_model(mmdvae.MMDVAE, {})
    model.compile(jit_compile=False)
    corrupt = tf.Variable(False)

    def corrupt_third_batch(index, batch):
        bad = tf.logical_and(corrupt, tf.equal(index, 2))
        return tf.where(bad, tf.fill(tf.shape(batch), np.nan), batch)

    dataset = batches(images(64)).enumerate().map(corrupt_third_batch)

    class CorruptSecondEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            corrupt.assign(epoch == 1)

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.first_epoch = [np.array(v) for v in self.model.variables]

    path = tmp_path / "model.keras"
    stop = checkpoints.StopOnNonFiniteLoss(path)
    corruptor = CorruptSecondEpoch()
    history = model.fit(dataset, epochs=4, verbose=0, callbacks=[corruptor, stop])

    assert stop.message.startswith("Training stopped at batch 3 of epoch 2: the logged term")
    assert "reconstruction_loss=nan" in stop.message and "not finite" in stop.message
    assert "restored to the end of epoch 1" in stop.message and str(path) in stop.message
    assert len(history.epoch) == 2  # the second epoch was cut short; no third
    loaded = keras.saving.load_model(path)
    for saved, good in zip(loaded.variables, corruptor.first_epoch, strict=True):
        assert np.all(np.isfinite(saved))
        np.testing.assert_array_equal(saved, good)
    assert np.all(np.isfinite(loaded.reconstruct(images(4))))


# === The CLI: no overwriting, resuming after a kill ===


def test_cli_keeps_a_non_empty_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("kept")
    with pytest.raises(SystemExit, match="not empty.*--resume.*--overwrite"):
        cli.main(["train", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--resume needs the backup of an earlier run"):
        cli.main(["train", "--out", str(tmp_path), "--resume"])
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "kept"


def run_cli(arguments, data_dir):
    environment = dict(os.environ, MMDVAE_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "mmdvae", "train", *arguments], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_killed_run_resumes_with_every_epoch_once(tmp_path, data_dir):
    out = tmp_path / "run"
    arguments = ["--network", "mlp", "--latent-dim", "2", "--epochs", "3", "--batch-size",
                 "20", "--train-size", "4000", "--no-jit", "--out", str(out)]
    process = run_cli(arguments, data_dir)
    state_file = out / "backup" / checkpoints.STATE_FILE
    deadline = time.monotonic() + 600
    while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()[0][-3000:]
    time.sleep(0.5)  # inside the second epoch's 200 steps
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    state = json.loads(state_file.read_text())
    assert 1 <= state["epoch"] < 3, "the kill must interrupt the run"
    assert not (out / "history.json").exists()

    again = run_cli(arguments + ["--resume"], data_dir)
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output[-3000:]
    assert f"resuming after epoch {state['epoch']}" in output
    record = json.loads((out / "history.json").read_text())
    assert record["epochs"] == 3
    assert all(len(values) == 3 for values in record["history"].values())
    # The epochs before the kill are kept as they were logged.
    for name, values in state["history"].items():
        assert record["history"][name][: state["epoch"]] == values
    assert keras.saving.load_model(out / "model.keras").latent_dim == 2

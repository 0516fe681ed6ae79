"""Bad input gets a clear error; a NaN stops training; a killed run resumes."""

import json
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
BERNOULLI = (mmdvae.ELBOVAE, {"likelihood": "bernoulli"})
TO_ALLOW = r"a NumPy array or tensor of images of shape \(batch, 8, 8, 1\), a tf.data.Dataset"

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
        r"`x` must lie in \[0, 1\] for the likelihood 'bernoulli'; received values from "
        r"0.* to 1.5\. Scale images to \[0, 1\]"),
    "unscaled float images": (MMD, lambda m: m.fit(images() * 255), ValueError,
                              r"`x` must lie in \[0, 1\] for the likelihood 'mse'; received "
                              r"values from 0.* to 2\d\d\.\d+\. Scale images .* divide "
                              r"0..255 pixels by 255"),
    "unscaled images to encode": (MMD, lambda m: m.encode(images() * 255), ValueError,
                                  r"`images` must lie in \[0, 1\] for the likelihood 'mse'"),
    "unscaled dataset": (MMD, lambda m: m.fit(batches(images() * 255)), ValueError,
                         r"`x` must lie in \[0, 1\] .* to 2\d\d\.\d+ in its first batch"),
    "NaN in the data": (MMD, lambda m: m.fit(with_value(np.nan)), ValueError,
                        r"`x` must hold finite values; received 1 NaN or infinite values "
                        r"in 1 images \(first at index 3\)"),
    "Inf in the data": (MMD, lambda m: m.evaluate(with_value(np.inf)), ValueError,
                        r"`x` must hold finite values"),
    "NaN in validation data": (
        MMD, lambda m: m.fit(images(), validation_data=(with_value(np.nan),)),
        ValueError, r"`validation_data` must hold finite values"),
    "NaN in a dataset's first batch": (MMD, lambda m: m.fit(batches(with_value(np.nan))),
                                       ValueError, r"`x` must hold finite values; received 1 "
                                       r"NaN .* \(first at index 3\) in its first batch"),
    "no data": (MMD, lambda m: m.fit(None), TypeError,
                rf"`x` is required: it must be {TO_ALLOW}.*; received x=None"),
    "a dict of images": (MMD, lambda m: m.fit({"images": images()}), TypeError,
                         rf"`x` must be {TO_ALLOW}.*; received x of type dict "
                         rf"\(keys \['images'\]\)\. Pass the array of images itself"),
    "a list of arrays": (MMD, lambda m: m.fit([images(), images()]), TypeError,
                         r"`x` must be .*; received x of type list \(2 items\)\. Pass the "
                         r"images as `x` and any labels as `y`"),
    "(images, labels) as x": (MMD, lambda m: m.evaluate((images(), np.zeros(32))), TypeError,
                              r"`x` must be .*; received x of type tuple \(2 items\)"),
    "a string": (MMD, lambda m: m.predict("images.npy"), TypeError,
                 r"`x` must be .*; received x of type str \('images.npy'\)"),
    "a dataset of dicts": (
        MMD, lambda m: m.fit(tf.data.Dataset.from_tensor_slices({"images": images()}).batch(8)),
        TypeError, r"`x` must be a dataset of images or of \(images, labels\) tuples; "
        r"received a dataset of dicts with keys \['images'\]"),
    "validation data of 4 items": (
        MMD, lambda m: m.fit(images(), validation_data=(images(),) * 4), ValueError,
        r"`validation_data` must be \(images,\), \(images, labels\) .*received a tuple of "
        r"4 items"),
    "sample count of -1": (MMD, lambda m: m.sample(-1), ValueError,
                           r"`num_samples` must be an integer in \[1, 10000000\]; received "
                           r"num_samples=-1"),
    "sample count of 2.5": (MMD, lambda m: m.sample(2.5), TypeError,
                            r"`num_samples` must be an integer >= 1; received num_samples=2.5 "
                            r"of type float"),
    "sample seed of text": (MMD, lambda m: m.sample(2, seed="a"), TypeError,
                            r"`seed` must be an integer >= 0; received seed='a' of type str"),
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
        ValueError, r"`num_prior_samples` must be an integer in \[2, \d+\]; received "
        r"num_prior_samples=1"),
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
    for case in [*BAD_INPUTS, *BAD_ARGUMENTS]:
        assert f"| {case} |" in table, case


SMALL = {"image_shape": IMAGE_SHAPE, "network": "mlp"}
NAN, INF = float("nan"), float("inf")

# Model arguments refused when the model is built: (class, arguments, error type,
# message naming the argument and the value received).
BAD_ARGUMENTS = {
    "ELBOVAE with lambda_": (mmdvae.ELBOVAE, {"lambda_": 5}, ValueError,
                             r"Unrecognized keyword arguments passed to ELBOVAE: "
                             r"\{'lambda_': 5\}"),
    "ELBOVAE with alpha": (mmdvae.ELBOVAE, {"alpha": 0.5}, ValueError,
                           r"Unrecognized keyword arguments passed to ELBOVAE: "
                           r"\{'alpha': 0.5\}"),
    "MutualAE with lambda_": (mmdvae.MutualAE, {"lambda_": 5}, ValueError,
                              r"Unrecognized keyword arguments passed to MutualAE: "
                              r"\{'lambda_': 5\}"),
    "unknown likelihood": (mmdvae.MutualAE, {"likelihood": "nonsense"}, ValueError,
                           r"`likelihood` must be one of \(.*\); received "
                           r"likelihood='nonsense'"),
    "lambda_ of NaN": (mmdvae.MMDVAE, {"lambda_": NAN}, ValueError,
                       r"`lambda_` must be a finite and >= 0 number; received lambda_=nan"),
    "lambda_ of Inf": (mmdvae.InfoVAE, {"lambda_": INF}, ValueError,
                       r"`lambda_` must be a finite.* number; received lambda_=inf"),
    "alpha of NaN": (mmdvae.InfoVAE, {"alpha": NAN}, ValueError,
                     r"`alpha` must be a finite.* number; received alpha=nan"),
    "beta of Inf": (mmdvae.ELBOVAE, {"beta": INF}, ValueError,
                    r"`beta` must be a finite and >= 0 number; received beta=inf"),
    "beta of text": (mmdvae.ELBOVAE, {"beta": "1"}, TypeError,
                     r"`beta` must be a number; received beta='1' of type str"),
    "discriminator_units of 64": (mmdvae.AAE, {"discriminator_units": 64}, TypeError,
                                  r"`discriminator_units` must be a sequence of positive "
                                  r"integers .*received .*discriminator_units=64"),
    "image_shape of zeros": (mmdvae.MMDVAE, {"image_shape": (0, 0, 1)}, ValueError,
                             r"`image_shape` must hold sizes in \[1, \d+\]; received "
                             r"image_shape=\(0, 0, 1\)"),
    "negative image_shape": (mmdvae.MMDVAE, {"image_shape": (-4, -4, 1)}, ValueError,
                             r"received image_shape=\(-4, -4, 1\)"),
    "image_shape of a float": (mmdvae.MMDVAE, {"image_shape": (28.7, 28, 1)}, TypeError,
                               r"`image_shape` must be a non-empty tuple of positive "
                               r"integers .*received image_shape=\(28.7, 28, 1\)"),
    "image_shape of an integer": (mmdvae.MMDVAE, {"image_shape": 28}, TypeError,
                                  r"`image_shape` must be a tuple of positive integers .*"
                                  r"received image_shape=28"),
    "image_shape of text": (mmdvae.MMDVAE, {"image_shape": "28x28"}, TypeError,
                            r"received image_shape='28x28'"),
    "num_prior_samples of True": (mmdvae.MMDVAE, {"num_prior_samples": True}, TypeError,
                                  r"`num_prior_samples` must be an integer >= 1; received "
                                  r"num_prior_samples=True of type bool"),
    "num_prior_samples of 10**9": (mmdvae.MMDVAE, {"num_prior_samples": 10**9}, ValueError,
                                   r"`num_prior_samples` must be an integer in \[1, \d+\]; "
                                   r"received num_prior_samples=1000000000"),
    "seed of 2**70": (mmdvae.MMDVAE, {"seed": 2**70}, ValueError,
                      r"`seed` must be an integer in \[0, 2147483647\]; received "
                      r"seed=1180591620717411303424"),
    "latent_dim of 10**9": (mmdvae.MMDVAE, {"latent_dim": 10**9}, ValueError,
                            r"`latent_dim` must be an integer in \[1, \d+\]; received "
                            r"latent_dim=1000000000"),
    "latent_dim of 2.0": (mmdvae.MMDVAE, {"latent_dim": 2.0}, TypeError,
                          r"`latent_dim` must be an integer >= 1; received latent_dim=2.0 "
                          r"of type float"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_model_arguments_are_refused_at_once(case):
    model_class, arguments, error, pattern = BAD_ARGUMENTS[case]
    arguments = {"latent_dim": 2, **SMALL, **arguments}
    start = time.perf_counter()
    with pytest.raises(error, match=pattern):
        model_class(**arguments)
    assert time.perf_counter() - start < 1.0  # before building any network


def test_mutual_ae_refuses_a_bernoulli_decoder_under_the_former_argument_name():
    with pytest.raises(ValueError, match="MutualAE needs a likelihood with reparameterised"):
        mmdvae.MutualAE(2, reconstruction="bernoulli", **SMALL)


def test_numpy_integers_are_accepted_where_an_integer_is_meant():
    model = mmdvae.MMDVAE(latent_dim=np.int64(2), image_shape=np.array([8, 8, 1]),
                          network="mlp", seed=np.int32(3), num_prior_samples=np.int64(16))
    assert type(model.latent_dim) is int and model.latent_dim == 2
    assert model.image_shape == (8, 8, 1) and type(model.image_shape[0]) is int
    samples = model.sample(np.int64(3), seed=np.int64(1))
    assert samples.shape == (3, 8, 8, 1)
    np.testing.assert_array_equal(samples, model.sample(3, seed=1))
    json.dumps(model.get_config())  # NumPy integers would not serialise


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

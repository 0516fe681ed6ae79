"""Bad input gets a clear error; a NaN stops training; a killed run resumes."""

import json
import re
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import IMAGE_SHAPE, tiny_model

import mmdvae
from mmdvae import checkpoints, cli, data, evaluation, kernels, schedules

ROOT = Path(__file__).resolve().parents[1]


def images(count=32, seed=0):
    return np.random.default_rng(seed).uniform(size=(count,) + IMAGE_SHAPE).astype("float32")


def with_value(value, index=3):
    corrupted = images()
    corrupted[index, 2, 2, 0] = value
    return corrupted


def batches(array, batch_size=16):
    return tf.data.Dataset.from_tensor_slices(array).batch(batch_size)


class NaNBatches(keras.utils.PyDataset):
    """A ``keras.utils.PyDataset`` of 2 batches of NaN images."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return np.full((4,) + IMAGE_SHAPE, np.nan, "float32")


def fit_in_a_strategy_scope(model):
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model.fit(images(), epochs=1, verbose=0)


MMD = (mmdvae.MMDVAE, {})
UNBIASED = (mmdvae.MMDVAE, {"estimator": "unbiased"})
BERNOULLI = (mmdvae.ELBOVAE, {"likelihood": "bernoulli"})
TO_ALLOW = r"a NumPy array or tensor of images of shape \(batch, 8, 8, 1\), a tf.data.Dataset"

# Every row of the tables "Bad input and the error it gets" of docs/errors.md:
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
        r"needs at least 2 images per batch; received 32 images in `x` with batch_size=1, "
        r"which leaves a batch of 1"),
    "dataset's last batch of 1, unbiased MMD": (
        UNBIASED, lambda m: m.fit(batches(images(33), batch_size=16)), ValueError,
        r"needs at least 2 images per batch; received 33 images in `x` with batch_size=16, "
        r"which leaves a batch of 1"),
    "batch_size of 1, unbiased MMD": (
        UNBIASED, lambda m: m.fit(images(), batch_size=1), ValueError,
        r"needs at least 2 images per batch; received 32 images in `x` with batch_size=1"),
    "NaN to train_on_batch": (MMD, lambda m: m.train_on_batch(np.full((10,) + IMAGE_SHAPE, np.nan,
                                                                      "float32")),
                              ValueError, r"`x` must hold finite values; received 640 NaN or "
                              r"infinite values in 10 images"),
    "unscaled images to train_on_batch": (
        MMD, lambda m: m.train_on_batch(images() * 255), ValueError,
        r"`x` must lie in \[0, 1\] for the likelihood 'mse'; received values from .* to "
        r"2\d\d\.\d+"),
    "NaN to test_on_batch": (MMD, lambda m: m.test_on_batch(with_value(np.nan)), ValueError,
                             r"`x` must hold finite values; received 1 NaN"),
    "integer images to predict_on_batch": (
        MMD, lambda m: m.predict_on_batch((images() * 255).astype("uint8")), TypeError,
        r"`x` must hold floating-point images in \[0, 1\]; received x of dtype uint8"),
    "NaN in a PyDataset's first batch": (
        MMD, lambda m: m.fit(NaNBatches()), ValueError,
        r"`x` must hold finite values; received 256 NaN .* in its first batch"),
    "infinite dataset without steps_per_epoch": (
        MMD, lambda m: m.fit(batches(images()).repeat(), epochs=1), ValueError,
        r"`x` never ends .*pass `steps_per_epoch`.*received steps_per_epoch=None"),
    "not one-hot data, categorical": (
        (mmdvae.MutualAE, {"likelihood": "categorical", "image_shape": (10,)}),
        lambda m: m.fit(np.full((8, 10), 0.5, "float32")), ValueError,
        r"`x` must be one-hot \(or probabilities summing to 1\) on its last axis for the "
        r"likelihood 'categorical'; received 8 rows .* summing to 5"),
    "target of another size": (
        MMD, lambda m: m.fit(images(), np.zeros((32, 9, 9, 1), "float32")), ValueError,
        r"`y` must hold images of shape \(batch, 8, 8, 1\).*received y of shape \(32, 9, 9, 1\)"),
    "unscaled target": (MMD, lambda m: m.fit(images(), images() * 255), ValueError,
                        r"`y` must lie in \[0, 1\] .*received values from .* to 2\d\d"),
    "negative sample_weight": (
        MMD, lambda m: m.fit(images(), sample_weight=np.full(32, -1.0)), ValueError,
        r"`sample_weight` must hold finite weights >= 0; received values from -1 to -1"),
    "sample_weight of the wrong length": (
        MMD, lambda m: m.evaluate(images(), sample_weight=np.ones(5)), ValueError,
        r"`sample_weight` must hold one weight per image, shape \(32,\); received "
        r"sample_weight of shape \(5,\)"),
    "class_weight": (MMD, lambda m: m.fit(images(), class_weight={0: 2.0}), ValueError,
                     r"`class_weight` weights the classes .*received class_weight=\{0: 2.0\}"),
    "compile with a loss": (MMD, lambda m: m.compile(loss="mse"), ValueError,
                            r"`loss` of compile is not used by MMDVAE, which trains on its own "
                            r"loss .*received loss='mse'"),
    "compile with metrics": (MMD, lambda m: m.compile(metrics=["accuracy"]), ValueError,
                             r"`metrics` of compile is not used .*received metrics=\['accuracy'\]"),
    "fit inside a strategy's scope, built outside": (
        MMD, fit_in_a_strategy_scope, ValueError,
        r"MMDVAE was built outside any strategy's scope, and `fit` was called inside the scope "
        r"of a OneDeviceStrategy.*Build and compile the model inside `with strategy.scope\(\):`"),
    "batch_size of -5": (MMD, lambda m: m.fit(images(), batch_size=-5), ValueError,
                         r"`batch_size` must be an integer >= 1; received batch_size=-5"),
    "batch_size of 2.5": (MMD, lambda m: m.fit(images(), batch_size=2.5), TypeError,
                          r"`batch_size` must be an integer >= 1; received batch_size=2.5 of "
                          r"type float"),
    "batch_size of 0 to evaluate": (MMD, lambda m: m.evaluate(images(), batch_size=0),
                                    ValueError, r"`batch_size` must be an integer >= 1; "
                                    r"received batch_size=0"),
    "batch_size of -5 to predict": (MMD, lambda m: m.predict(images(), batch_size=-5),
                                    ValueError, r"received batch_size=-5"),
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
        model_class, arguments = model_spec
        model = tiny_model(model_class, **arguments)
        model.compile(jit_compile=False)
    with pytest.raises(error, match=pattern):
        call(model)
    if model is not None:
        # Refused before any work: no step ran.
        assert int(model.optimizer.iterations) == 0


def test_errors_guide_lists_every_bad_input():
    guide = (ROOT / "docs" / "errors.md").read_text()
    table = guide.split("## Bad input and the error it gets", 1)[1].split("\n## ", 1)[0]
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
    "ELBOVAE with a uniform prior": (
        mmdvae.ELBOVAE, {"prior": "uniform"}, ValueError,
        r"ELBOVAE computes KL\(q\(z\|x\) \|\| p\(z\)\) .* infinite for a prior of bounded "
        r"support.*received prior='uniform'"),
    "MutualAE with a uniform prior": (
        mmdvae.MutualAE, {"prior": "uniform", "likelihood": "gaussian"}, ValueError,
        r"MutualAE computes KL.*infinite .*received prior='uniform'"),
    "beta schedule below 0": (
        mmdvae.ELBOVAE, {"beta": schedules.LinearWarmup(-50.0, 2)}, ValueError,
        r"`beta` must take values finite and >= 0 at every step.*received "
        r"beta=LinearWarmup\(final_value=-50.0.*whose final_value is -50.0"),
    "lambda_ schedule below 0": (
        mmdvae.MMDVAE, {"lambda_": schedules.Cyclical(-10.0, 2)}, ValueError,
        r"`lambda_` must take values finite and >= 0 .*received lambda_=Cyclical\("
        r"final_value=-10.0.*whose final_value is -10.0"),
    "alpha schedule above 1": (
        mmdvae.InfoVAE, {"alpha": schedules.LinearWarmup(5.0, 10)}, ValueError,
        r"`alpha` must take values finite and <= 1 .*received alpha=LinearWarmup\("
        r"final_value=5.0.*whose final_value is 5.0"),
    "alpha and lambda_ schedules summing below 1": (
        mmdvae.InfoVAE, {"alpha": schedules.LinearWarmup(1.0, 10, initial_value=0.2),
                         "lambda_": 0.5, "encoder_type": "gaussian"}, ValueError,
        r"`alpha` and `lambda_` must satisfy alpha \+ lambda_ - 1 >= 0 .*received "
        r"alpha=LinearWarmup\(.*initial_value=0.2.*lambda_=0.5, whose sum is 0.7"),
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
    with (pytest.warns(DeprecationWarning, match="`reconstruction` is now called `likelihood`"),
          pytest.raises(ValueError, match="MutualAE needs a likelihood with reparameterised")):
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
    model = tiny_model(mmdvae.MMDVAE, estimator="unbiased")
    model.compile(jit_compile=False)
    model.fit(images(34), batch_size=16, epochs=1, verbose=0)  # batches 16, 16, 2
    assert int(model.optimizer.iterations) == 3
    assert model.predict(images(1), verbose=0).shape == (1,) + IMAGE_SHAPE


# === Keras' targets and sample weights ===


def squared_errors(model, inputs, targets):
    """Each example's mean squared error of the reconstruction of ``inputs``, in float64."""
    reconstructions = model.predict_on_batch(inputs).astype("float64")
    return ((targets.astype("float64") - reconstructions) ** 2).reshape(len(inputs), -1).mean(1)


def test_a_target_y_is_what_the_decoder_reconstructs():
    model = tiny_model(mmdvae.MMDVAE)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    clean = images()
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 0.2, clean.shape), 0, 1)
    noisy = noisy.astype("float32")
    expected = squared_errors(model, noisy, clean).mean()
    assert abs(expected - squared_errors(model, noisy, noisy).mean()) > 1e-3
    logs = model.test_on_batch(noisy, clean, return_dict=True)
    assert logs["reconstruction_loss"] == pytest.approx(expected, rel=1e-5)
    # The loss of the one step of `fit` is that of the weights before it.
    history = model.fit(noisy, clean, batch_size=32, epochs=1, verbose=0).history
    assert history["reconstruction_loss"][0] == pytest.approx(expected, rel=1e-5)
    # Labels (another rank than the images) are not a target.
    labels_logs = model.test_on_batch(noisy, np.zeros(32), return_dict=True)
    after = squared_errors(model, noisy, noisy).mean()
    assert labels_logs["reconstruction_loss"] == pytest.approx(after, rel=1e-5)


def test_sample_weight_weights_each_examples_terms():
    model = tiny_model(mmdvae.MMDVAE)
    model.compile(jit_compile=False)
    batch = images()
    half = np.r_[np.ones(16), np.zeros(16)].astype("float32")
    weighted = model.test_on_batch(batch, sample_weight=half, return_dict=True)
    first_half = model.test_on_batch(batch[:16], return_dict=True)
    assert weighted["reconstruction_loss"] == pytest.approx(
        first_half["reconstruction_loss"], rel=1e-6)
    weights = np.random.default_rng(2).uniform(0, 3, 32).astype("float32")
    errors = squared_errors(model, batch, batch)
    logs = model.test_on_batch(batch, sample_weight=weights, return_dict=True)
    assert logs["reconstruction_loss"] == pytest.approx(
        np.sum(weights * errors) / np.sum(weights), rel=1e-5)
    # The KL divergence of each example is weighted too (analytic: no random draw).
    elbo = tiny_model(mmdvae.ELBOVAE)
    elbo.compile(jit_compile=False)
    kl_weighted = elbo.test_on_batch(batch, sample_weight=half, return_dict=True)
    kl_first_half = elbo.test_on_batch(batch[:16], return_dict=True)
    assert kl_weighted["kl_divergence"] == pytest.approx(kl_first_half["kl_divergence"],
                                                         rel=1e-6)
    # Without weights the loss is the plain mean, the numbers of release 0.1.
    plain = model.test_on_batch(batch, return_dict=True)
    assert plain["reconstruction_loss"] == pytest.approx(errors.mean(), rel=1e-5)


# === A NaN stops training ===


def test_a_nan_batch_stops_training_and_keeps_the_last_good_weights(tmp_path):
    model = tiny_model(mmdvae.MMDVAE)
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
    with pytest.raises(SystemExit, match="--resume needs an interrupted run"):
        cli.main(["train", "--out", str(tmp_path), "--resume"])
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "kept"


# === Every other door: evaluation, exported endpoints, data, callbacks, the CLI ===


class Doors:
    """What the rows of ``OTHER_DOORS`` work on: a saved run, its export, bad files."""

    def __init__(self, shared, tmp_path, monkeypatch):
        self.run, self.served = shared
        self.tmp, self.monkeypatch = tmp_path, monkeypatch
        self.afile = tmp_path / "afile"
        self.afile.write_text("a file, not a directory")

    def evaluate(self, *arguments, run=None):
        return cli.main(["evaluate", str(run or self.run), "--dataset", "sklearn_digits",
                         *map(str, arguments)])

    def compare(self, *arguments):
        return cli.main(["compare", str(self.run), *map(str, arguments)])

    def corrupt_run(self):
        run = self.tmp / "corrupt"
        run.mkdir()
        (run / "model.keras").write_bytes(b"PK\x03\x04 cut short")
        return run

    def truncated_images(self):
        """A folder of 8x8 PNGs whose last one is cut to 60 bytes."""
        from PIL import Image

        folder = self.tmp / "images"
        folder.mkdir(exist_ok=True)
        for index, image in enumerate(images(4, seed=1)):
            Image.fromarray((image[..., 0] * 255).astype("uint8")).save(folder / f"{index}.png")
        (folder / "3.png").write_bytes((folder / "3.png").read_bytes()[:60])
        return folder

    def offline(self):
        import socket

        def refuse(address, *arguments, **keywords):
            raise ConnectionRefusedError(111, "Connection refused")

        self.monkeypatch.setattr(socket, "create_connection", refuse)
        self.monkeypatch.setenv("TFDS_DATA_DIR", str(self.tmp / "tfds"))
        for variable in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            self.monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run directory holding an ELBO VAE's model.keras and backup/, and its SavedModel."""
    run = tmp_path_factory.mktemp("run")
    model = tiny_model(mmdvae.ELBOVAE, likelihood="bernoulli")
    model.save(run / "model.keras")
    (run / "backup").mkdir()
    (run / "evaluation.json").write_text(json.dumps({"metrics": {"mmd": 0.1}}))
    mmdvae.export_saved_model(model, run.parent / "exported")
    return run, tf.saved_model.load(str(run.parent / "exported"))


def command(*arguments):
    return cli.main([str(argument) for argument in arguments])


def served_call(endpoint, *arguments):
    return lambda doors: getattr(doors.served, endpoint)(*map(tf.constant, arguments))


def leaves_no_directory(path):
    def check(doors):
        assert not (doors.tmp / path).exists()

    return check


def warning_first(pattern, call):
    """``call``, which must warn with ``pattern`` (a UserWarning) before its error."""
    def run(doors):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return call(doors)
            finally:
                messages = [str(warning.message) for warning in caught
                            if issubclass(warning.category, UserWarning)]
                assert any(re.search(pattern, message) for message in messages), messages

    return run


# Bad input to everything but `fit` and the constructors: (call, error type, message naming
# the argument and the value received[, a check after the error]).
OTHER_DOORS = {
    "evaluate --out the model file": (
        lambda d: d.evaluate("--out", d.run / "model.keras", "--overwrite"), SystemExit,
        r"error: --out .*model\.keras would replace the run's model file"),
    "evaluate --out into the backups": (
        lambda d: d.evaluate("--out", d.run / "backup" / "e.json"), SystemExit,
        r"error: --out .*backup/e\.json would replace the backups of its run"),
    "log_likelihood of 10**9 samples": (
        lambda d: evaluation.log_likelihood(tiny_model(mmdvae.ELBOVAE), images(2),
                                            num_samples=10**9),
        ValueError, r"`num_samples` is too large: the posterior-proposal log-likelihood of 2 "
        r"images with num_samples=1000000000 would hold about [\d,.]+ GiB .* use at most about "
        r"[\d,]+ samples"),
    "evaluate --importance-samples 10**9": (
        lambda d: d.evaluate("--out", d.tmp / "e.json", "--importance-samples", 10**9),
        SystemExit, r"error: .*--importance-samples=1000000000 would hold about [\d,.]+ GiB"),
    "evaluate --prior-samples 10**9": (
        lambda d: d.evaluate("--out", d.tmp / "e.json", "--prior-samples", 10**9),
        SystemExit, r"error: .*--prior-samples=1000000000 would hold about [\d,.]+ GiB"),
    "generate 10**9 images": (
        lambda d: evaluation.generate(tiny_model(mmdvae.MMDVAE), 10**9), ValueError,
        r"`num_samples` is too large: num_samples=1000000000 generated images of shape "
        r"\(8, 8, 1\) would take [\d,.]+ GiB as float32"),
    "evaluate --num-generated 10**9": (
        lambda d: d.evaluate("--out", d.tmp / "e.json", "--num-generated", 10**9), SystemExit,
        r"error: .*--num-generated=1000000000 generated images of shape \(8, 8, 1\) would "
        r"take [\d,.]+ GiB"),
    "mmd_test of 10**9 permutations": (
        lambda d: kernels.mmd_test(np.zeros((50, 2)), np.ones((50, 2)), num_permutations=10**9),
        ValueError, r"received num_permutations=1000000000, whose splits would take about "
        r"[\d,.]+ GiB.* use at most [\d,]+ permutations"),
    "dcgan on 1000x1000 images": (
        lambda d: mmdvae.MMDVAE(2, image_shape=(1000, 1000, 3)), ValueError,
        r"'dcgan' encoder for image_shape=\(1000, 1000, 3\) and latent_dim=2 would have "
        r"8,192,137,410 weights \(30\.5 GiB as float32\), more than MAX_NETWORK_WEIGHTS"),
    "dcgan on 1000x1000 images, CLI": (
        warning_first(r"Leaving out 1 unreadable image file", lambda d: command(
            "train", "--dataset", d.truncated_images(), "--skip-unreadable",
            "--image-size", "1000x1000", "--out", d.tmp / "new" / "run")),
        SystemExit, r"error: --model mmd: The 'dcgan' encoder for image_shape=\(1000, 1000, 1\)"
        r".* would have [\d,]+ weights", leaves_no_directory("new")),
    "offline download": (
        lambda d: (d.offline(), data.load("cifar10", "train"))[1], data.DataNotFoundError,
        r"Could not download 'cifar10': https://www\.cs\.toronto\.edu/\S+ cannot be reached "
        r"\(www\.cs\.toronto\.edu:443: Connection refused\)\. .*TFDS_DATA_DIR"),
    "evaluate --out under a file": (
        lambda d: d.evaluate("--out", d.afile / "e.json"), SystemExit,
        r"error: --out .*afile/e\.json cannot be written: '.*afile' is an existing file"),
    "evaluate --out in /proc": (
        lambda d: d.evaluate("--out", "/proc/x/e.json"), SystemExit,
        r"error: --out /proc/x/e\.json cannot be written: no file can be created in '/proc'"),
    "compare --out under a file": (
        lambda d: d.compare("--out", d.afile / "report.md"), SystemExit,
        r"error: --out .*afile/report\.md cannot be written: '.*afile' is an existing file"),
    "compare --out over an evaluation": (
        lambda d: d.compare("--out", d.run / "evaluation.json", "--overwrite"), SystemExit,
        r"error: --out .*evaluation\.json would replace the evaluation of a compared run"),
    "compare --two-sample 1": (
        lambda d: d.compare("--out", d.tmp / "report.md", "--two-sample", 1), SystemExit,
        r"error: --two-sample 1 is too few"),
    "a truncated PNG": (
        lambda d: data.from_directory(d.truncated_images()), ValueError,
        r"`directory` holds 1 unreadable image file\(s\), e\.g\. '.*3\.png' \(a PNG of 60 "
        r"bytes without its closing IEND chunk\); received directory='.*images'.*"
        r"skip_unreadable=True"),
    "a truncated PNG, CLI": (
        lambda d: command("train", "--dataset", d.truncated_images(), "--out", d.tmp / "out"),
        SystemExit,
        r"error: --dataset .*images: Argument `directory` holds 1 unreadable image file\(s\), "
        r"e\.g\. '.*3\.png'", leaves_no_directory("out")),
    "exported decode of NaN codes": (
        served_call("decode", np.full((2, 3), np.nan, "float32")),
        tf.errors.InvalidArgumentError,
        r"Argument `z` must hold finite codes; received 6 NaN or infinite values"),
    "exported encode of unscaled images": (
        served_call("encode", images(2) * 255), tf.errors.InvalidArgumentError,
        r"Argument `images` must lie in \[0, 1\] for the likelihood bernoulli; received "
        r"values from [\d.]+ to 2\d\d\.\d+"),
    "exported reconstruct of NaN images": (
        served_call("reconstruct", with_value(np.nan)[:4]), tf.errors.InvalidArgumentError,
        r"Argument `images` must hold finite values; received 1 NaN or infinite values"),
    "exported sample of -1 images": (
        served_call("sample", -1, 0), tf.errors.InvalidArgumentError,
        r"Argument `num_samples` must be an integer in \[1, 10000000\]; received "
        r"num_samples=-1"),
    "exported sample seed of -3": (
        served_call("sample", 2, -3), tf.errors.InvalidArgumentError,
        r"Argument `seed` must be an integer >= 0; received seed=-3"),
    "a corrupt model.keras": (
        lambda d: d.evaluate("--out", d.tmp / "e.json", run=d.corrupt_run()), SystemExit,
        r"error: .*corrupt/model\.keras is corrupt: a \.keras file is a zip archive and this "
        r"one is not"),
    "discriminator_units of ()": (
        lambda d: mmdvae.AAE(2, discriminator_units=(), **SMALL), TypeError,
        r"`discriminator_units` must be a non-empty tuple of positive integers such as "
        r"\(512, 512\); received discriminator_units=\(\)"),
    "image_size of 64": (
        lambda d: data.load("mnist", "train", image_size=64), TypeError,
        r"`image_size` must be a tuple of positive integers such as \(64, 64\); received "
        r"image_size=64"),
    "reproduce --overwrite --resume": (
        lambda d: command("reproduce", "proposition1", "--out", d.tmp / "x", "--quick",
                          "--resume", "--overwrite"), SystemExit,
        r"error: pass either `resume` or `overwrite`, not both: --resume continues the run "
        r"in .*x, --overwrite starts it afresh"),
    "StopOnNonFiniteLoss under a file": (
        lambda d: checkpoints.StopOnNonFiniteLoss(d.afile / "x.keras"), ValueError,
        r"`filepath` must be a path in a directory; received filepath='.*afile/x\.keras', "
        r"but '.*afile' is an existing file"),
    "EpochBackup under a file": (
        lambda d: checkpoints.EpochBackup(d.afile / "backup"), ValueError,
        r"`directory` must be a path in a directory; received directory='.*afile/backup/"
        r"state\.json', but '.*afile' is an existing file"),
}


@pytest.mark.parametrize("case", list(OTHER_DOORS))
def test_bad_input_to_every_other_door_gets_a_clear_error(case, saved_run, tmp_path,
                                                          monkeypatch):
    call, error, pattern, *after = OTHER_DOORS[case]
    doors = Doors(saved_run, tmp_path, monkeypatch)
    with pytest.raises(error, match=pattern) as raised:
        call(doors)
    if error is SystemExit:  # the command line: one error line, no traceback
        assert "\n" not in str(raised.value)
    for check in after:
        check(doors)


@pytest.mark.parametrize("network", ["dcgan", "conv", "mlp", "dcgan_bn"])
def test_the_weight_count_a_shape_is_refused_with_is_the_one_keras_builds(network):
    from mmdvae import networks

    for shape in [(8, 8, 1), (28, 28, 1), (12, 20, 3)]:
        for gaussian in (False, True):
            encoder = networks.make_encoder(network, shape, 3, gaussian=gaussian)
            assert encoder.count_params() == networks.encoder_weight_count(
                network, shape, 3, gaussian)
        decoder = networks.make_decoder(network, 3, shape, output_channels=2)
        assert decoder.count_params() == networks.decoder_weight_count(network, 3, shape, 2)

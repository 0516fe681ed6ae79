"""The decoders' likelihoods p(x|z) (``mmdvae.likelihoods``), against float64 references."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit, log_expit

import mmdvae
from mmdvae import likelihoods, losses

# === Bernoulli, Gaussian and the mean squared error ===


def test_mse_log_likelihood_is_the_gaussian_of_its_variance():
    rng = np.random.default_rng(4)
    images = rng.uniform(size=(3, 4, 4, 1)).astype("float32")
    outputs = rng.normal(size=(3, 4, 4, 1)).astype("float32")
    variance = 0.1
    mean = 1.0 / (1.0 + np.exp(-outputs.astype("float64")))
    expected = (-np.sum((images - mean) ** 2, axis=(1, 2, 3)) / (2 * variance)
                - 0.5 * 16 * np.log(2 * np.pi * variance))
    mse = likelihoods.get("mse")
    assert mse.needs_variance
    np.testing.assert_allclose(mse.log_likelihood(images, outputs, variance=variance), expected,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="likelihood='mse' is no likelihood.*mse_variance=None"):
        mse.log_likelihood(images, outputs)
    bernoulli = likelihoods.get("bernoulli")
    np.testing.assert_array_equal(bernoulli.log_likelihood(images, outputs),
                                  -bernoulli.negative_log_likelihood(images, outputs))
    with pytest.raises(ValueError, match="`mse_variance`.*mse_variance=0.1.*'bernoulli'"):
        bernoulli.log_likelihood(images, outputs, variance=0.1)


def test_bernoulli_and_gaussian_terms_against_numpy():
    rng = np.random.default_rng(4)
    images = rng.uniform(size=(3, 4, 4, 1))
    logits = rng.normal(size=(3, 4, 4, 1))
    probabilities = 1 / (1 + np.exp(-logits))
    expected = -np.sum(images * np.log(probabilities) + (1 - images) * np.log(1 - probabilities),
                       axis=(1, 2, 3))
    np.testing.assert_allclose(losses.bernoulli_negative_log_likelihood(images, logits),
                               expected, rtol=1e-10)
    std = rng.uniform(0.1, 1.0, size=images.shape)
    expected = -np.sum(-0.5 * np.log(2 * np.pi) - np.log(std)
                       - (images - probabilities) ** 2 / (2 * std**2), axis=(1, 2, 3))
    np.testing.assert_allclose(
        losses.gaussian_negative_log_likelihood(images, probabilities, std), expected, rtol=1e-10)


# === Relaxed categorical ===


def test_relaxed_categorical_samples_follow_the_decoder():
    keras.utils.set_random_seed(0)
    model = mmdvae.MutualAE(latent_dim=1, image_shape=(4,), network="mlp",
                            likelihood=mmdvae.likelihoods.Categorical(temperature=0.3),
                            seed=0)
    z = tf.zeros([20_000, 1])
    samples = model.decoder_samples(z).numpy()
    np.testing.assert_allclose(samples.sum(axis=-1), 1.0, rtol=1e-5)
    probabilities = model.decode(z[:1]).numpy()[0]
    frequencies = np.bincount(samples.argmax(axis=-1), minlength=4) / len(samples)
    # Gumbel-max: the argmax is a categorical draw (standard error < 0.004).
    np.testing.assert_allclose(frequencies, probabilities, atol=0.015)


@pytest.mark.parametrize("build, match", [
    (lambda: mmdvae.likelihoods.Categorical(temperature=0.0), "temperature.*0.0"),
    (lambda: mmdvae.MutualAE(latent_dim=2, likelihood="poisson"), "likelihood.*'poisson'"),
    (lambda: mmdvae.MutualAE(latent_dim=2, likelihood="categorical"), "categorical.*2"),
])
def test_bad_likelihood_arguments_are_named(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


# === Discretised logistic of 8-bit pixels ===

LEVELS = np.arange(256) / 255.0


def reference_probabilities(location, log_scale):
    """float64 bin masses of every level 0..255, PixelCNN++'s definition."""
    log_scale = np.maximum(log_scale, likelihoods.DiscretizedLogistic.MIN_LOG_SCALE)
    scale = np.exp(log_scale)[..., None]
    location = np.asarray(location, np.float64)[..., None]
    upper = expit((LEVELS + 0.5 / 255 - location) / scale)
    lower = expit((LEVELS - 0.5 / 255 - location) / scale)
    upper[..., -1] = 1.0
    lower[..., 0] = 0.0
    return upper - lower


def reference_log_probability(data, location, log_scale):
    """float64 ``log P(x)`` from log-CDFs (lower tail) or log-survivals (upper tail)."""
    log_scale = np.maximum(log_scale, likelihoods.DiscretizedLogistic.MIN_LOG_SCALE)
    scale = np.exp(log_scale)
    upper = (data + 0.5 / 255 - location) / scale
    lower = (data - 0.5 / 255 - location) / scale
    with np.errstate(divide="ignore"):
        from_cdf = log_expit(upper) + np.log1p(-np.exp(log_expit(lower) - log_expit(upper)))
        from_survival = log_expit(-lower) + np.log1p(
            -np.exp(log_expit(-upper) - log_expit(-lower)))
    interior = np.where(data > location, from_survival, from_cdf)
    return np.where(data < 0.5 / 255, log_expit(upper),
                    np.where(data > 1 - 0.5 / 255, log_expit(-lower), interior))


def outputs_of(location, log_scale):
    return tf.constant(np.concatenate([location, log_scale], axis=-1), tf.float32)


@pytest.fixture
def parameters():
    generator = np.random.default_rng(0)
    location = generator.uniform(-0.3, 1.3, size=(64, 1))
    log_scale = generator.uniform(-9.0, 0.5, size=(64, 1))  # some below the floor
    return location, log_scale


def test_bin_masses_match_the_float64_reference_and_sum_to_one(parameters):
    likelihood = likelihoods.get("discretized_logistic")
    location, log_scale = parameters
    expected = reference_probabilities(location[:, 0], log_scale[:, 0])  # [64, 256]
    outputs = outputs_of(np.repeat(location, 256, 0), np.repeat(log_scale, 256, 0))
    data = np.tile(LEVELS, 64)[:, None]
    log_probability = likelihood.log_probability(data, outputs).numpy().reshape(64, 256)
    probability = np.exp(log_probability.astype(np.float64))
    np.testing.assert_allclose(probability.sum(axis=1), 1.0, atol=2e-4)
    visible = expected > 1e-6
    np.testing.assert_allclose(probability[visible], expected[visible], rtol=2e-3, atol=1e-7)
    # Far in the tails too, the log-probability stays finite and accurate.
    reference_log = reference_log_probability(LEVELS, location, log_scale)
    assert np.isfinite(log_probability).all() and reference_log.min() < -1000
    np.testing.assert_allclose(log_probability, reference_log, rtol=1e-4, atol=2e-4)


def test_negative_log_likelihood_sums_over_sub_pixels():
    likelihood = likelihoods.DiscretizedLogistic()
    generator = np.random.default_rng(1)
    images = generator.integers(0, 256, size=(3, 4, 4, 3)) / 255.0
    location = generator.uniform(0, 1, size=(3, 4, 4, 3))
    log_scale = generator.uniform(-5, -1, size=(3, 4, 4, 3))
    expected = -reference_log_probability(images, location, log_scale).sum(axis=(1, 2, 3))
    nll = likelihood.negative_log_likelihood(images, outputs_of(location, log_scale))
    assert nll.shape == (3,)
    np.testing.assert_allclose(nll.numpy(), expected, rtol=1e-4)
    compiled = tf.function(likelihood.negative_log_likelihood, jit_compile=True)
    np.testing.assert_allclose(compiled(images, outputs_of(location, log_scale)).numpy(),
                               nll.numpy(), rtol=1e-5)


def test_mean_is_within_half_a_grey_level_of_the_discrete_mean(parameters):
    likelihood = likelihoods.DiscretizedLogistic()
    location, log_scale = parameters
    mean = likelihood.mean(outputs_of(location, log_scale)).numpy()[:, 0]
    discrete_mean = reference_probabilities(location[:, 0], log_scale[:, 0]) @ LEVELS
    assert np.abs(mean - discrete_mean).max() <= 0.5 / 255 + 1e-5
    assert mean.min() >= 0.0 and mean.max() <= 1.0


def test_samples_follow_the_bin_masses():
    likelihood = likelihoods.DiscretizedLogistic()
    location, log_scale = np.array([[0.3]]), np.array([[np.log(0.01)]])
    noise = tf.random.stateless_normal((200_000, 1), seed=[0, 1])
    outputs = outputs_of(np.repeat(location, 200_000, 0), np.repeat(log_scale, 200_000, 0))
    samples = likelihood.sample(outputs, noise).numpy()[:, 0]
    levels = np.rint(samples * 255)
    np.testing.assert_allclose(samples, levels / 255, atol=1e-6)  # on the 8-bit grid
    frequencies = np.bincount(levels.astype(int), minlength=256) / len(samples)
    expected = reference_probabilities(location[0], log_scale[0])[0]
    standard_error = np.sqrt(expected * (1 - expected) / len(samples))
    assert np.all(np.abs(frequencies - expected) <= 5 * standard_error + 1e-5)


def test_gradients_are_finite_at_the_extremes():
    likelihood = likelihoods.DiscretizedLogistic()
    images = tf.constant([[0.0, 1.0, 0.5, 0.0, 1.0]])
    outputs = tf.Variable([[5.0, -5.0, 40.0, 0.0, 1.0, -12.0, -12.0, 3.0, 3.0, -12.0]])
    with tf.GradientTape() as tape:
        loss = likelihood.negative_log_likelihood(images, outputs)
    gradient = tape.gradient(loss, outputs)
    assert np.isfinite(loss.numpy()).all() and np.isfinite(gradient.numpy()).all()


def test_registered_by_name_and_serialised_by_a_model(tmp_path):
    likelihood = likelihoods.get("discretized_logistic")
    assert isinstance(likelihood, likelihoods.DiscretizedLogistic)
    assert "discretized_logistic" in likelihoods.LIKELIHOODS
    assert likelihoods.serialize(likelihood) == "discretized_logistic"
    assert likelihood.output_channels(3) == 6 and likelihood.value_range == (0.0, 1.0)
    model = mmdvae.MMDVAE(latent_dim=2, image_shape=(4, 4, 3), network="mlp",
                          likelihood="discretized_logistic", seed=0)
    assert model.decoder.output_shape == (None, 4, 4, 6)
    restored = mmdvae.MMDVAE.from_config(model.get_config())
    assert restored.likelihood == likelihood

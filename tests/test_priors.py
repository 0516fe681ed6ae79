"""The priors p(z) (``mmdvae.priors``): their moments, entropies, seeds and checks."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from tiny import IMAGE_SHAPE, tiny_model

import mmdvae
from mmdvae import priors

tfd = tfp.distributions


def test_logistic_prior_has_the_logistic_mean_and_variance():
    samples = priors.get_prior("logistic", 4).sample(200_000, seed=tf.constant([3, 0])).numpy()
    assert samples.shape == (200_000, 4)
    # Standard errors: sqrt(pi^2/3 / n) = 0.004 for the mean; the variance's is ~0.016.
    np.testing.assert_allclose(samples.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(samples.var(axis=0), math.pi**2 / 3, rtol=0.03)


def test_uniform_prior_covers_minus_one_to_one():
    samples = priors.get_prior("uniform", 2).sample(50_000, seed=tf.constant([4, 0])).numpy()
    assert samples.min() >= -1.0 and samples.max() <= 1.0
    np.testing.assert_allclose(samples.var(axis=0), 1.0 / 3.0, rtol=0.03)


@pytest.mark.parametrize("prior, latent_dim, capacity", [
    ("normal", 5, 5 / 2 * math.log(2 * math.pi * math.e)),
    ("logistic", 5, 2.0 * 5),
    ("logistic", 1, 2.0),
])
def test_vimae_capacity_is_the_prior_entropy(prior, latent_dim, capacity):
    model = mmdvae.VIMAE(latent_dim=latent_dim, image_shape=IMAGE_SHAPE, network="mlp",
                         prior=prior)
    assert model.capacity == pytest.approx(capacity, rel=1e-6)
    images = np.zeros((4,) + IMAGE_SHAPE, dtype="float32")
    assert float(model.compute_terms(images)["capacity"]) == pytest.approx(capacity, rel=1e-6)


def test_prior_samples_come_from_the_model_seed():
    first = tiny_model(mmdvae.MMDVAE, prior="logistic").prior_samples(6)
    second = tiny_model(mmdvae.MMDVAE, prior="logistic").prior_samples(6)
    np.testing.assert_array_equal(first, second)


def mixture_prior(latent_dim):
    locations = tf.constant([[-2.0] * latent_dim, [2.0] * latent_dim])
    return tfd.MixtureSameFamily(
        tfd.Categorical(probs=[0.5, 0.5]),
        tfd.MultivariateNormalDiag(loc=locations, scale_diag=tf.ones([2, latent_dim])),
    )


def test_a_mixture_prior_trains_and_is_refused_by_get_config(images, tmp_path):
    images = images[:32]
    model = tiny_model(mmdvae.MMDVAE, prior=mixture_prior(3))
    model.compile()
    history = model.fit(tf.data.Dataset.from_tensor_slices(images).batch(16),
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["mmd"][-1])
    samples = model.prior_samples(4000, seed=tf.constant([1, 0])).numpy()
    # Half of the mass around -2, half around +2 in every dimension.
    assert abs(np.mean(samples[:, 0] > 0) - 0.5) < 0.03
    np.testing.assert_allclose(np.abs(samples).mean(), 2.0, atol=0.1)
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.get_config()
    model.save_weights(tmp_path / "mixture.weights.h5")
    clone = tiny_model(mmdvae.MMDVAE, prior=mixture_prior(3))
    clone.load_weights(tmp_path / "mixture.weights.h5")
    np.testing.assert_array_equal(clone.encode(images), model.encode(images))


@pytest.mark.parametrize("build, match", [
    (lambda: mmdvae.VIMAE(latent_dim=2, prior="laplace"), "prior.*'laplace'"),
    (lambda: mmdvae.AAE(latent_dim=2, prior="cauchy"), "prior.*'cauchy'"),
    (lambda: mmdvae.MMDVAE(latent_dim=3, prior=tfd.MultivariateNormalDiag(tf.zeros(2))),
     r"event shape \[3\].*received a distribution with event shape \(2,\)"),
    (lambda: mmdvae.VIMAE(latent_dim=3, prior=mixture_prior(3)), "closed-form entropy"),
])
def test_bad_priors_are_named(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()

"""The divergences (``mmdvae.divergences``): KL, MMD, Stein and the adversarial terms."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from tiny import IMAGE_SHAPE, tiny_model

import mmdvae
from mmdvae import divergences, kernels, losses, priors
from mmdvae.models import registry

# === One interface ===


def _tutorial_kernel(x, y):
    """``exp(-||x - y||^2 / d^2)``, ``d`` the number of columns."""
    return np.exp(-np.sum((x[:, None] - y[None]) ** 2, axis=-1) / x.shape[1] ** 2)


def test_divergences_take_one_call_and_match_numpy():
    """KL, MMD and Stein are all called as (z, z_mean, z_log_var, prior, prior_samples)."""
    rng = np.random.default_rng(3)
    z, z_mean, prior_z = (rng.normal(size=(6, 3)) for _ in range(3))
    z_log_var = rng.normal(scale=0.3, size=(6, 3))
    prior = priors.get_prior("normal", 3)

    def call(divergence):
        value = divergence(*(tf.constant(values, tf.float32) for values in (z, z_mean, z_log_var)),
                           prior, lambda num_samples: tf.constant(prior_z, tf.float32))
        return float(value)

    kl = np.mean(0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - z_log_var - 1.0, axis=1))
    mmd = (_tutorial_kernel(z, z).mean() + _tutorial_kernel(prior_z, prior_z).mean()
           - 2.0 * _tutorial_kernel(z, prior_z).mean())
    # Stein: -1/n sum_j phi(z_j) . z_j,
    # phi(z_j) = 1/n sum_i k_ij (score(z_i) + 2 (z_j - z_i) / d^2), score(z) = -z.
    kernel = _tutorial_kernel(z, z)
    differences = z[None, :, :] - z[:, None, :]              # [i, j] = z_j - z_i
    phi = np.mean(kernel[:, :, None] * (-z[:, None, :] + 2.0 * differences / 9.0), axis=0)
    stein = -np.mean(np.sum(phi * z, axis=1))
    for divergence, expected in [(divergences.KL(), kl), (divergences.MMD(), mmd),
                                 (divergences.Stein(), stein)]:
        np.testing.assert_allclose(call(divergence), expected, rtol=1e-5, atol=1e-7)
        assert isinstance(divergence, divergences.Divergence)


def test_every_model_keeps_its_divergence_under_one_attribute():
    kinds = {name: type(tiny_model(name).divergence).__name__ for name in registry.MODELS}
    assert kinds == {"mmd": "MMD", "elbo": "KL", "infovae": "MMD", "aae": "Adversarial",
                     "vimae-n": "MMD", "vimae-l": "MMD", "mutual": "KL"}


def test_info_vae_takes_a_divergence_by_name_or_object():
    by_name = tiny_model(mmdvae.InfoVAE, divergence="mmd", kernel="rbf", bandwidth=2.0,
                         estimator="unbiased", name="info_vae")
    by_object = tiny_model(mmdvae.InfoVAE, divergence=divergences.MMD(
        kernel="rbf", bandwidth=2.0, estimator="unbiased"), name="info_vae")
    assert by_object.get_config() == by_name.get_config()
    assert by_object.min_batch_size == 2
    stein = tiny_model(mmdvae.InfoVAE, divergence=divergences.Stein())
    assert mmdvae.InfoVAE.from_config(stein.get_config()).divergence.name == "stein_surrogate"
    with pytest.raises(ValueError, match=r"\['bandwidth', .*set them on the divergence object"):
        tiny_model(mmdvae.InfoVAE, divergence=divergences.Stein(), bandwidth=2.0)
    with pytest.raises(ValueError, match="`divergence` must be one of.*'mmd', 'stein'"):
        tiny_model(mmdvae.InfoVAE, divergence="kl")


@pytest.mark.parametrize("build, match", [
    (lambda: mmdvae.InfoVAE(latent_dim=2, alpha=1.5, divergence="stein"), "alpha.*1.5"),
    (lambda: mmdvae.InfoVAE(latent_dim=2, alpha=1.0, lambda_=-0.5, divergence="stein"),
     "alpha \\+ lambda_ - 1.*lambda_=-0.5"),
    (lambda: mmdvae.InfoVAE(latent_dim=2, divergence="gan"), "divergence.*'gan'"),
])
def test_bad_divergence_arguments_are_named(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


# === KL ===


def test_elbo_kl_matches_tensorflow_probability():
    rng = np.random.default_rng(3)
    z_mean = rng.normal(size=(50, 7)).astype("float32")
    z_log_var = rng.normal(scale=0.7, size=(50, 7)).astype("float32")
    ours = losses.kl_divergence_standard_normal(z_mean, z_log_var)
    posterior = tfp.distributions.MultivariateNormalDiag(z_mean, tf.exp(0.5 * z_log_var))
    prior = tfp.distributions.MultivariateNormalDiag(tf.zeros(7), tf.ones(7))
    reference = tfp.distributions.kl_divergence(posterior, prior)
    np.testing.assert_allclose(ours, reference, atol=1e-6 * 7 * 5, rtol=1e-6)

    model = tiny_model("elbo")
    images = rng.uniform(size=(5,) + IMAGE_SHAPE).astype("float32")
    z, z_mean, z_log_var = model.posterior(images)
    _, terms = model.regularizer(z, z_mean, z_log_var, images)
    posterior = tfp.distributions.Independent(
        tfp.distributions.Normal(z_mean, tf.exp(0.5 * z_log_var)), reinterpreted_batch_ndims=1)
    expected = tf.reduce_mean(tfp.distributions.kl_divergence(posterior, model.prior))
    np.testing.assert_allclose(terms["kl_divergence"], expected, rtol=1e-6, atol=1e-6)


# === Stein variational gradient ===


def numpy_stein_gradient(z, scores):
    """phi(z_j) = 1/n sum_i [k_ij score_i + grad_{z_i} k_ij], k = exp(-|z_i - z_j|^2 / d^2)."""
    num_samples, dim = z.shape
    differences = z[:, None, :] - z[None, :, :]  # [i, j, :] = z_i - z_j
    matrix = np.exp(-np.sum(differences**2, axis=-1) / dim**2)
    kernel_gradients = -2.0 / dim**2 * differences * matrix[:, :, None]
    return (matrix.T @ scores + kernel_gradients.sum(axis=0)) / num_samples


def test_stein_surrogate_gradient_is_the_stein_variational_gradient():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(7, 3)) * 1.5 + 0.3
    scores = -z  # the standard normal prior
    expected = numpy_stein_gradient(z, scores)
    np.testing.assert_allclose(kernels.stein_variational_gradient(z, scores), expected,
                               rtol=1e-12, atol=1e-14)
    codes = tf.Variable(z)
    with tf.GradientTape() as tape:
        loss = kernels.stein_surrogate_loss(codes, -codes)
    np.testing.assert_allclose(tape.gradient(loss, codes), -expected / len(z),
                               rtol=1e-12, atol=1e-14)


def test_stein_gradient_with_an_rbf_kernel_and_float32():
    rng = np.random.default_rng(6)
    z = rng.normal(size=(5, 2))
    scores = rng.normal(size=(5, 2))
    differences = z[:, None, :] - z[None, :, :]
    matrix = np.exp(-np.sum(differences**2, axis=-1) / (2 * 0.8**2))
    expected = (matrix.T @ scores
                - (differences / 0.8**2 * matrix[:, :, None]).sum(axis=0)) / 5
    ours = kernels.stein_variational_gradient(z.astype("float32"), scores.astype("float32"),
                                              kernel="rbf", bandwidth=0.8)
    assert ours.dtype == tf.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_info_vae_stein_term_uses_the_prior_score(images):
    model = tiny_model(mmdvae.InfoVAE, alpha=1.0, lambda_=2.0, divergence="stein",
                       prior="logistic")
    assert [m.name for m in model.metrics][-2:] == ["kl_divergence", "stein_surrogate"]
    z = tf.Variable(np.random.default_rng(7).normal(size=(6, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = model.divergence(z, None, None, model.prior)
    logistic_score = -np.tanh(z.numpy().astype("float64") / 2.0)  # d/dz log(sigmoid(z) sigmoid(-z))
    expected = numpy_stein_gradient(z.numpy().astype("float64"), logistic_score)
    np.testing.assert_allclose(tape.gradient(loss, z), -expected / 6, rtol=1e-5, atol=1e-7)
    terms = model.compute_terms(tf.constant(images[:8]))
    np.testing.assert_allclose(terms["regularization_loss"], 2.0 * terms["stein_surrogate"],
                               rtol=1e-6)


# === Adversarial ===


def test_aae_discriminator_terms_against_numpy(images):
    model = tiny_model(mmdvae.AAE, lambda_=0.5, discriminator_units=(8,))
    prior_z = np.random.default_rng(8).normal(size=(10, 3)).astype("float32")
    codes = np.random.default_rng(9).normal(size=(10, 3)).astype("float32") + 1.0
    loss, accuracy = mmdvae.divergences.discriminator_loss(
        model.discriminator(prior_z), model.discriminator(codes))
    real = model.discriminator(prior_z).numpy().astype("float64")
    fake = model.discriminator(codes).numpy().astype("float64")
    expected = np.mean(np.log1p(np.exp(-real))) + np.mean(np.log1p(np.exp(fake)))
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(accuracy, (np.sum(real > 0) + np.sum(fake < 0)) / 20)
    terms = model.compute_terms(tf.constant(images[:8]))
    np.testing.assert_allclose(terms["regularization_loss"], 0.5 * terms["generator_loss"],
                               rtol=1e-6)


def test_adversarial_is_the_generator_loss_of_its_discriminator():
    divergence = divergences.Adversarial(discriminator_units=(6,))
    with pytest.raises(ValueError, match="build"):
        divergence.logits(tf.zeros((2, 3)))
    discriminator = divergence.build(3)
    z = np.random.default_rng(3).normal(size=(12, 3)).astype("float32")
    prior_z = np.random.default_rng(4).normal(size=(12, 3)).astype("float32")
    logits = discriminator(z).numpy().astype("float64")
    prior_logits = discriminator(prior_z).numpy().astype("float64")
    value = divergence(tf.constant(z), None, None, None, None)
    np.testing.assert_allclose(value, np.mean(np.log1p(np.exp(-logits))), rtol=1e-6)
    loss, accuracy = divergence.discriminator_terms(
        tf.constant(z), lambda num_samples: tf.constant(prior_z[:num_samples]))
    np.testing.assert_allclose(loss, np.mean(np.log1p(np.exp(-prior_logits)))
                               + np.mean(np.log1p(np.exp(logits))), rtol=1e-6)
    np.testing.assert_allclose(accuracy, (np.sum(prior_logits > 0) + np.sum(logits < 0)) / 24)
    assert divergence.get_config() == {"discriminator_units": [6]}
    assert divergences.Adversarial.from_config(divergence.get_config()).discriminator_units == (6,)

"""Priors, the Stein regulariser, the adversarial autoencoder, VIMAE and MutualAE."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import mmdvae
from mmdvae import kernels, priors

tfd = tfp.distributions
IMAGE_SHAPE = (8, 8, 1)


def tiny_model(model_class, **arguments):
    keras.utils.set_random_seed(0)
    return model_class(latent_dim=3, image_shape=IMAGE_SHAPE, network="mlp", seed=0,
                       **arguments)


@pytest.fixture(scope="module")
def tiny_images():
    return np.random.default_rng(0).uniform(size=(32,) + IMAGE_SHAPE).astype("float32")


# === Priors ===


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


def test_a_mixture_prior_trains_and_is_refused_by_get_config(tiny_images, tmp_path):
    model = tiny_model(mmdvae.MMDVAE, prior=mixture_prior(3))
    model.compile()
    history = model.fit(tf.data.Dataset.from_tensor_slices(tiny_images).batch(16),
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
    np.testing.assert_array_equal(clone.encode(tiny_images), model.encode(tiny_images))


@pytest.mark.parametrize("build, match", [
    (lambda: mmdvae.VIMAE(latent_dim=2, prior="laplace"), "prior.*'laplace'"),
    (lambda: mmdvae.AAE(latent_dim=2, prior="cauchy"), "prior.*'cauchy'"),
    (lambda: mmdvae.MMDVAE(latent_dim=3, prior=tfd.MultivariateNormalDiag(tf.zeros(2))),
     r"event shape \[3\].*received a distribution with event shape \(2,\)"),
    (lambda: mmdvae.VIMAE(latent_dim=3, prior=mixture_prior(3)), "closed-form entropy"),
    (lambda: mmdvae.InfoVAE(latent_dim=2, alpha=1.5, divergence="stein"), "alpha.*1.5"),
    (lambda: mmdvae.InfoVAE(latent_dim=2, alpha=1.0, lambda_=-0.5, divergence="stein"),
     "alpha \\+ lambda_ - 1.*lambda_=-0.5"),
    (lambda: mmdvae.InfoVAE(latent_dim=2, divergence="gan"), "divergence.*'gan'"),
    (lambda: mmdvae.AAE(latent_dim=2, lambda_=-1.0), "lambda_.*-1.0"),
    (lambda: mmdvae.AAE(latent_dim=2, discriminator_units=(0,)), "discriminator_units"),
    (lambda: mmdvae.VIMAE(latent_dim=2, encoder_type="deterministic"), "encoder_type"),
    (lambda: mmdvae.MutualAE(latent_dim=2, information=-1.0), "information.*-1.0"),
    (lambda: mmdvae.likelihoods.Categorical(temperature=0.0), "temperature.*0.0"),
    (lambda: mmdvae.MutualAE(latent_dim=2, likelihood="poisson"), "likelihood.*'poisson'"),
    (lambda: mmdvae.MutualAE(latent_dim=2, likelihood="categorical"), "categorical.*2"),
])
def test_bad_arguments_are_named(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


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


def test_info_vae_stein_term_uses_the_prior_score(tiny_images):
    model = tiny_model(mmdvae.InfoVAE, alpha=1.0, lambda_=2.0, divergence="stein",
                       prior="logistic")
    assert [m.name for m in model.metrics][-2:] == ["kl_divergence", "stein_surrogate"]
    z = tf.Variable(np.random.default_rng(7).normal(size=(6, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = model.divergence(z, None, None, model.prior)
    logistic_score = -np.tanh(z.numpy().astype("float64") / 2.0)  # d/dz log(sigmoid(z) sigmoid(-z))
    expected = numpy_stein_gradient(z.numpy().astype("float64"), logistic_score)
    np.testing.assert_allclose(tape.gradient(loss, z), -expected / 6, rtol=1e-5, atol=1e-7)
    images = tf.constant(tiny_images[:8])
    terms = model.compute_terms(images)
    np.testing.assert_allclose(terms["regularization_loss"], 2.0 * terms["stein_surrogate"],
                               rtol=1e-6)


# === Adversarial autoencoder ===


def test_aae_updates_touch_only_their_own_weights(tiny_images):
    model = tiny_model(mmdvae.AAE, discriminator_units=(8,))
    model.compile(discriminator_optimizer=keras.optimizers.Adam(1e-2), jit_compile=False,
                  run_eagerly=True)

    def snapshot(weights):
        return [np.array(weight) for weight in weights]

    autoencoder = model.autoencoder_weights
    discriminator = model.discriminator.trainable_weights
    assert not {id(w) for w in autoencoder} & {id(w) for w in discriminator}
    seen = {}
    discriminator_update = model.after_autoencoder_update

    def spy(images, terms):
        seen["autoencoder"] = snapshot(autoencoder)
        seen["discriminator"] = snapshot(discriminator)
        return discriminator_update(images, terms)

    model.after_autoencoder_update = spy
    autoencoder_before = snapshot(autoencoder)
    discriminator_before = snapshot(discriminator)
    model.fit(tiny_images[:16], batch_size=16, epochs=1, verbose=0)
    autoencoder_after = snapshot(autoencoder)
    discriminator_after = snapshot(discriminator)

    # The autoencoder update changed every encoder/decoder weight and no discriminator one.
    assert all(not np.array_equal(a, b)
               for a, b in zip(autoencoder_before, seen["autoencoder"], strict=True))
    assert all(np.array_equal(a, b)
               for a, b in zip(discriminator_before, seen["discriminator"], strict=True))
    # The discriminator update changed every discriminator weight and no encoder/decoder one.
    assert all(np.array_equal(a, b)
               for a, b in zip(seen["autoencoder"], autoencoder_after, strict=True))
    assert all(not np.array_equal(a, b)
               for a, b in zip(seen["discriminator"], discriminator_after, strict=True))


def test_aae_fit_without_discriminator_optimizer_is_refused(tiny_images):
    model = tiny_model(mmdvae.AAE)
    model.compile()
    with pytest.raises(ValueError, match="discriminator_optimizer"):
        model.fit(tiny_images, epochs=1, verbose=0)
    # Evaluation needs no discriminator update.
    results = model.evaluate(tiny_images, verbose=0, return_dict=True)
    assert 0.0 <= results["discriminator_accuracy"] <= 1.0


def test_aae_discriminator_terms_against_numpy(tiny_images):
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
    terms = model.compute_terms(tf.constant(tiny_images[:8]))
    np.testing.assert_allclose(terms["regularization_loss"], 0.5 * terms["generator_loss"],
                               rtol=1e-6)


def test_aae_save_restores_both_optimizers(tiny_images, tmp_path):
    model = tiny_model(mmdvae.AAE, discriminator_units=(8,))
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  discriminator_optimizer=keras.optimizers.RMSprop(5e-4), jit_compile=False)
    model.fit(tiny_images, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "aae.keras")
    loaded = keras.saving.load_model(tmp_path / "aae.keras")
    assert isinstance(loaded.discriminator_optimizer, keras.optimizers.RMSprop)
    np.testing.assert_allclose(float(loaded.discriminator_optimizer.learning_rate), 5e-4)
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), 2e-3)
    assert int(loaded.discriminator_optimizer.iterations) == 2
    for ours, theirs in zip(model.discriminator_optimizer.variables,
                            loaded.discriminator_optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    loaded.fit(tiny_images, batch_size=16, epochs=1, verbose=0)


# === Mutual autoencoder ===


def test_mutual_ae_trains_r_on_the_bound_and_the_decoder_on_the_penalty(tiny_images):
    model = tiny_model(mmdvae.MutualAE, information=3.0, penalty_weight=2.0)
    images = tf.constant(tiny_images[:8])
    prior_z = model.prior_samples(8, seed=tf.constant([5, 0]))
    # The same draws in the model's step and in the reference below.
    model.prior_samples = lambda num_samples, seed=None: prior_z
    model.normal_noise = lambda shape: tf.random.stateless_normal(shape, seed=[6, 0])
    r_weights = model.inference_network.trainable_weights
    decoder_weights = model.decoder.trainable_weights
    with tf.GradientTape(persistent=True) as tape:
        terms = model.compute_terms(images)
        samples = model.decoder_samples(prior_z)
        bound = model.information_bound(prior_z, samples)
        penalty = 2.0 * tf.square(bound - 3.0)
        negative_bound = -bound
        decoder_objective = penalty + terms["reconstruction_loss"]
    np.testing.assert_allclose(terms["mutual_information_bound"], bound, rtol=1e-6)
    np.testing.assert_allclose(terms["information_penalty"], penalty, rtol=1e-6)
    np.testing.assert_allclose(
        terms["regularization_loss"], terms["kl_divergence"] + penalty, rtol=1e-6)
    # r climbs the bound, whatever the penalty wants. Its gradient is the difference
    # of two about 12 times larger ones (2 gamma |I_hat - M|), hence the tolerance.
    for ours, theirs in zip(tape.gradient(terms["loss"], r_weights),
                            tape.gradient(negative_bound, r_weights), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-6)
    # The decoder sees the penalty through its samples (and the reconstruction).
    for ours, theirs in zip(tape.gradient(terms["loss"], decoder_weights),
                            tape.gradient(decoder_objective, decoder_weights), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


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

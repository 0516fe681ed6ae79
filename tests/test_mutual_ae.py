"""The mutual autoencoder's information bound and penalty (``mmdvae.MutualAE``)."""

import numpy as np
import pytest
import tensorflow as tf
from tiny import tiny_model

import mmdvae


def test_mutual_ae_trains_r_on_the_bound_and_the_decoder_on_the_penalty(images):
    model = tiny_model(mmdvae.MutualAE, information=3.0, penalty_weight=2.0)
    images = tf.constant(images[:8])
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


@pytest.mark.parametrize("build, match", [
    (lambda: mmdvae.MutualAE(latent_dim=2, information=-1.0), "information.*-1.0"),
])
def test_bad_mutual_ae_arguments_are_named(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def test_a_single_categorical_variable_trains_on_the_exact_bound():
    model = tiny_model(mmdvae.MutualAE, latent_dim=1, image_shape=(5,), likelihood="categorical",
                       information=0.7, penalty_weight=3.0)
    assert model.exact_bound
    assert not tiny_model(mmdvae.MutualAE, likelihood="categorical",
                          image_shape=(4, 4, 2)).exact_bound
    one_hot = np.eye(5, dtype="float32")[np.arange(8) % 5]
    prior_z = model.prior_samples(8, seed=tf.constant([5, 0]))
    model.prior_samples = lambda num_samples, seed=None: prior_z
    terms = model.compute_terms(tf.constant(one_hot))
    # float64 reference: H(z) + mean_j sum_k p(k|z_j) log N(z_j; m_k, exp(v_k)).
    logits = model.decoder(prior_z).numpy().astype("float64")
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    means, log_variances = (np.asarray(part, "float64")
                            for part in model.inference_network(np.eye(5, dtype="float32")))
    log_variances = np.clip(log_variances, 2 * np.log(0.005), 10.0)
    z = prior_z.numpy().astype("float64")
    log_r = -0.5 * (np.log(2 * np.pi) + log_variances[None, :, 0]
                    + (z - means[None, :, 0]) ** 2 / np.exp(log_variances[None, :, 0]))
    expected = 0.5 * np.log(2 * np.pi * np.e) + np.mean(np.sum(probabilities * log_r, axis=1))
    np.testing.assert_allclose(terms["mutual_information_bound"], expected, rtol=1e-5)
    np.testing.assert_allclose(terms["information_penalty"], 3.0 * (expected - 0.7) ** 2,
                               rtol=1e-4)
    model.compile(optimizer="adam", jit_compile=False)
    model.fit(one_hot, batch_size=8, epochs=1, verbose=0)

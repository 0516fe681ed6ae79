"""The shared model harness and the model-level mathematics."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import mmdvae
from mmdvae import losses

IMAGE_SHAPE = (8, 8, 1)

# One line per model: (class, constructor arguments on top of the tiny network).
MODELS = [
    pytest.param(mmdvae.MMDVAE, {}, id="MMDVAE"),
    pytest.param(mmdvae.MMDVAE, {"encoder_type": "gaussian", "kernel": "rbf",
                                 "bandwidth": 2.0, "estimator": "unbiased"},
                 id="MMDVAE-gaussian-rbf-unbiased"),
    pytest.param(mmdvae.ELBOVAE, {}, id="ELBOVAE"),
    pytest.param(mmdvae.ELBOVAE, {"beta": 4.0, "reconstruction": "gaussian"},
                 id="ELBOVAE-beta4-gaussian"),
    pytest.param(mmdvae.InfoVAE, {"alpha": 0.5, "lambda_": 10.0,
                                  "encoder_type": "gaussian"}, id="InfoVAE-mmd"),
    pytest.param(mmdvae.InfoVAE, {"alpha": 1.0, "lambda_": 1.0, "divergence": "stein"},
                 id="InfoVAE-stein"),
    pytest.param(mmdvae.AAE, {"discriminator_units": (16,)}, id="AAE"),
    pytest.param(mmdvae.VIMAE, {"prior": "normal"}, id="VIMAE-n"),
    pytest.param(mmdvae.VIMAE, {"prior": "logistic"}, id="VIMAE-l"),
    pytest.param(mmdvae.MutualAE, {"information": 0.5}, id="MutualAE"),
]


@pytest.fixture(scope="module")
def tiny_images():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(64,) + IMAGE_SHAPE).astype("float32")


def make_model(model_class, arguments, seed=0):
    keras.utils.set_random_seed(seed)
    return model_class(latent_dim=3, image_shape=IMAGE_SHAPE, network="mlp", seed=seed,
                       **arguments)


def compile_model(model, **arguments):
    """Compiles with the defaults; models with a discriminator get its optimizer."""
    if hasattr(model, "discriminator_optimizer"):
        arguments["discriminator_optimizer"] = keras.optimizers.Adam(1e-3)
    model.compile(**arguments)


def weights_of(model):
    return [np.array(weight) for weight in model.autoencoder_weights]


@pytest.mark.parametrize("model_class, arguments", MODELS)
def test_harness(model_class, arguments, tiny_images, tmp_path):
    model = make_model(model_class, arguments)
    compile_model(model, jit_compile=False)
    before = weights_of(model)
    history = model.fit(tiny_images, batch_size=16, epochs=1, verbose=0,
                        validation_data=(tiny_images,))
    names = [metric.name for metric in model.metrics]
    assert sorted(history.history) == sorted(names + [f"val_{name}" for name in names])
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    after = weights_of(model)
    assert all(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))

    results = model.evaluate(tiny_images, batch_size=16, verbose=0, return_dict=True)
    assert sorted(results) == sorted(names)
    terms = results["reconstruction_loss"] + results["regularization_loss"]
    np.testing.assert_allclose(results["loss"], terms, rtol=1e-5)

    # The config rebuilds the same architecture; the weights then give the same outputs.
    clone = model_class.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.reconstruct(tiny_images), model.reconstruct(tiny_images))

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is model_class
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.reconstruct(tiny_images), model.reconstruct(tiny_images))
    np.testing.assert_array_equal(loaded.decode(np.ones((2, 3))), model.decode(np.ones((2, 3))))


def fix_random_numbers(model):
    """Replaces the model's random draws by fixed numbers, the same in XLA and not.

    TensorFlow's random kernels and XLA's produce different streams from the same
    seed, so compiled and uncompiled steps are compared on the same draws.
    """

    def pseudo_random(shape, phase):
        size = tf.reduce_prod(shape)
        return tf.reshape(tf.sin(tf.cast(tf.range(size), tf.float32) * 1.7 + phase), shape)

    model.normal_noise = lambda shape: pseudo_random(shape, 0.3)
    model.prior_samples = lambda num_samples, seed=None: 1.5 * pseudo_random(
        tf.stack([num_samples, model.latent_dim]), 1.1)


@pytest.mark.parametrize("model_class, arguments", MODELS)
def test_xla_matches_graph_mode(model_class, arguments, tiny_images):
    results, weights = [], []
    for jit_compile in (False, True):
        model = make_model(model_class, arguments, seed=1)
        fix_random_numbers(model)
        compile_model(model, jit_compile=jit_compile)
        # A dataset leaves the batch size unknown to the compiled step.
        batches = tf.data.Dataset.from_tensor_slices(tiny_images).batch(16)
        model.fit(batches, epochs=2, verbose=0)
        results.append(model.evaluate(tiny_images, batch_size=64, verbose=0, return_dict=True))
        weights.append(weights_of(model))
    for name in results[0]:
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    for compiled, graph in zip(weights[1], weights[0], strict=True):
        np.testing.assert_allclose(compiled, graph, rtol=1e-3, atol=1e-5)


def test_elbo_kl_matches_tensorflow_probability():
    rng = np.random.default_rng(3)
    z_mean = rng.normal(size=(50, 7)).astype("float32")
    z_log_var = rng.normal(scale=0.7, size=(50, 7)).astype("float32")
    ours = losses.kl_divergence_standard_normal(z_mean, z_log_var)
    posterior = tfp.distributions.MultivariateNormalDiag(z_mean, tf.exp(0.5 * z_log_var))
    prior = tfp.distributions.MultivariateNormalDiag(tf.zeros(7), tf.ones(7))
    reference = tfp.distributions.kl_divergence(posterior, prior)
    np.testing.assert_allclose(ours, reference, atol=1e-6 * 7 * 5, rtol=1e-6)

    model = make_model(mmdvae.ELBOVAE, {})
    images = rng.uniform(size=(5,) + IMAGE_SHAPE).astype("float32")
    z, z_mean, z_log_var = model.posterior(images)
    _, terms = model.regularizer(z, z_mean, z_log_var, images)
    posterior = tfp.distributions.Independent(
        tfp.distributions.Normal(z_mean, tf.exp(0.5 * z_log_var)), reinterpreted_batch_ndims=1)
    expected = tf.reduce_mean(tfp.distributions.kl_divergence(posterior, model.prior))
    np.testing.assert_allclose(terms["kl_divergence"], expected, rtol=1e-6, atol=1e-6)


def test_mmd_vae_step_is_the_tutorial_loss(tiny_images):
    """loss = mean((x_r - x)^2) + MMD(prior samples, codes) with the tutorial's kernel."""
    model = make_model(mmdvae.MMDVAE, {})
    images = tf.constant(tiny_images[:10])
    terms = model.compute_terms(images)
    reconstructions = model(images)
    np.testing.assert_allclose(terms["reconstruction_loss"],
                               np.mean((reconstructions.numpy() - tiny_images[:10]) ** 2),
                               rtol=1e-5)
    np.testing.assert_allclose(terms["loss"], terms["reconstruction_loss"] + terms["mmd"],
                               rtol=1e-6)


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


def test_tutorial_model_defaults():
    model = mmdvae.MMDVAE(latent_dim=20)
    assert (model.network, model.encoder_type, model.reconstruction) == (
        "dcgan", "deterministic", "mse")
    assert (model.lambda_, model.kernel, model.estimator) == (1.0, "tutorial", "biased")
    layer_types = [type(layer).__name__ for layer in model.encoder.layers]
    assert layer_types.count("Conv2D") == 2 and layer_types.count("Dense") == 2
    assert model.encoder.output.shape == (None, 20)
    assert model.decoder.output.shape == (None, 28, 28, 1)


def test_sample_is_reproducible_with_a_seed():
    model = make_model(mmdvae.MMDVAE, {})
    first, second = model.sample(4, seed=7), model.sample(4, seed=7)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (4,) + IMAGE_SHAPE
    assert np.all((first.numpy() >= 0) & (first.numpy() <= 1))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: mmdvae.MMDVAE(latent_dim=0), "latent_dim.*received latent_dim=0"),
        (lambda: mmdvae.MMDVAE(latent_dim=2.5), "latent_dim.*2.5"),
        (lambda: mmdvae.MMDVAE(latent_dim=2, kernel="gauss"), "kernel.*'gauss'"),
        (lambda: mmdvae.MMDVAE(latent_dim=2, estimator="exact"), "estimator.*'exact'"),
        (lambda: mmdvae.MMDVAE(latent_dim=2, network="resnet"), "network.*'resnet'"),
        (lambda: mmdvae.MMDVAE(latent_dim=2, reconstruction="l1"), "reconstruction.*'l1'"),
        (lambda: mmdvae.ELBOVAE(latent_dim=2, beta=-1), "beta.*-1"),
        (lambda: mmdvae.ELBOVAE(latent_dim=2, encoder_type="deterministic"),
         "encoder_type.*'deterministic'"),
        (lambda: mmdvae.InfoVAE(latent_dim=2, alpha=2.0), "alpha.*2.0"),
        (lambda: mmdvae.InfoVAE(latent_dim=2, alpha=0.5, lambda_=0.1, encoder_type="gaussian"),
         "alpha \\+ lambda_ - 1"),
        (lambda: mmdvae.InfoVAE(latent_dim=2, alpha=0.5), "encoder_type='gaussian'"),
    ],
)
def test_bad_arguments_are_named(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def test_images_of_the_wrong_shape_are_refused(tiny_images):
    model = make_model(mmdvae.MMDVAE, {})
    model.compile(jit_compile=False)
    wrong = np.zeros((4, 28, 28, 1), dtype="float32")
    with pytest.raises(ValueError, match=r"images.*\(batch, 8, 8, 1\).*\((None|4), 28, 28, 1\)"):
        model.fit(wrong, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="image_shape"):
        model.encode(wrong)

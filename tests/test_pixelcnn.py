"""The gated PixelCNN likelihood: causal, exact, saved with its model, sampled pixel by pixel."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit

import mmdvae
from mmdvae import likelihoods
from mmdvae.pixelcnn import MEAN_NOISE_SEED, PixelCNN

SMALL = {"filters": 8, "num_layers": 2, "kernel_size": 3, "first_kernel_size": 3,
         "conditioning_channels": 2}


def built_pixelcnn(image_shape, seed=0, **settings):
    keras.utils.set_random_seed(seed)
    pixelcnn = PixelCNN(**{**SMALL, **settings})
    pixelcnn.build((None, *image_shape))
    return pixelcnn


def random_inputs(pixelcnn, num_images, image_shape, seed=0, binary=True):
    generator = np.random.default_rng(seed)
    images = generator.uniform(size=(num_images, *image_shape))
    if binary:
        images = images < 0.5
    outputs = generator.normal(
        size=(num_images, *image_shape[:2], image_shape[2] * pixelcnn.conditioning_channels))
    return images.astype("float32"), outputs.astype("float32")


def binary_patterns(num_images=32, seed=0):
    """8x8 binary images: a vertical or horizontal bar at a random place (learnable)."""
    generator = np.random.default_rng(seed)
    images = np.zeros((num_images, 8, 8, 1), "float32")
    for image, place, vertical in zip(images, generator.integers(0, 6, num_images),
                                      generator.integers(0, 2, num_images), strict=True):
        if vertical:
            image[:, place:place + 2] = 1.0
        else:
            image[place:place + 2, :] = 1.0
    return images


# --- Causality ----------------------------------------------------------------------------


def test_a_logit_depends_on_earlier_pixels_only_and_has_no_blind_spot():
    image_shape = (8, 8, 2)
    pixelcnn = built_pixelcnn(image_shape)
    images, outputs = random_inputs(pixelcnn, 1, image_shape, binary=False)
    images = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = pixelcnn.logits(images, outputs)[0]
    jacobian = tape.jacobian(logits, images).numpy()  # [8, 8, 2, 1, 8, 8, 2]
    # dependence[i, j]: how much any logit of pixel i moves with any channel of pixel j.
    dependence = np.abs(jacobian).sum(axis=(2, 3, 6)).reshape(64, 64)
    for pixel in range(64):
        assert np.all(dependence[pixel, pixel:] == 0.0), f"pixel {pixel} sees its future"
        if pixel > 0:
            assert dependence[pixel, :pixel].max() > 0.0, f"pixel {pixel} sees no past"
    # The up-right pixel two columns away, the blind spot of a plain masked PixelCNN
    # with 3x3 kernels (van den Oord et al. 2016, figure 1), is seen.
    row, column = 4, 3
    assert dependence[row * 8 + column, (row - 1) * 8 + column + 2] > 0.0


# --- The exact likelihood ---------------------------------------------------------------


def test_negative_log_likelihood_equals_a_pixel_by_pixel_float64_reference():
    image_shape = (6, 6, 2)
    pixelcnn = built_pixelcnn(image_shape, seed=1)
    images, outputs = random_inputs(pixelcnn, 3, image_shape, seed=1)
    generator = np.random.default_rng(2)
    pixels = image_shape[0] * image_shape[1]
    # For pixel i, every pixel >= i (all channels) replaced by arbitrary values.
    masked = np.repeat(images[:, None], pixels, axis=1)  # [3, pixels, 6, 6, 2]
    future = np.arange(pixels)[None, :] >= np.arange(pixels)[:, None]  # [i, j]: j >= i
    future = future.reshape(pixels, *image_shape[:2], 1)
    arbitrary = generator.uniform(size=masked.shape).astype("float32")
    masked = np.where(future[None], arbitrary, masked)
    logits = pixelcnn.logits(masked.reshape(-1, *image_shape),
                             np.repeat(outputs, pixels, axis=0)).numpy()
    logits = logits.reshape(3, pixels, pixels, image_shape[2]).astype(np.float64)
    own_logit = logits[:, np.arange(pixels), np.arange(pixels)]  # [3, pixels, channels]
    data = images.reshape(3, pixels, image_shape[2]).astype(np.float64)
    cross_entropy = np.logaddexp(0.0, own_logit) - data * own_logit
    expected = cross_entropy.sum(axis=(1, 2))
    actual = pixelcnn.negative_log_likelihood(images, outputs).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    # The reference reads logits of partly random images: a wrong mask would show.
    assert expected.min() > 10.0



@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_half_precision_logits_are_summed_in_float32(policy):
    image_shape = (6, 6, 1)
    reference = built_pixelcnn(image_shape, seed=1)
    images, outputs = random_inputs(reference, 3, image_shape, seed=1)
    try:
        keras.mixed_precision.set_global_policy(policy)
        half = PixelCNN(**SMALL)
        half.build((None, *image_shape))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    half.set_weights(reference.get_weights())
    logits = half.logits(images, outputs)
    assert logits.dtype == half.compute_dtype != tf.float32
    # The sum of the float32 cross-entropies of the half-precision logits, in float64.
    logits = logits.numpy().astype(np.float64)
    expected = (np.logaddexp(0.0, logits) - images * logits).sum(axis=(1, 2, 3))
    actual = half.negative_log_likelihood(images, outputs)
    assert actual.dtype == tf.float32
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5)

# --- Ancestral sampling --------------------------------------------------------------------


def test_samples_are_drawn_pixel_by_pixel_from_the_logits_of_the_pixels_before():
    # 12x12 images; the sampler's windows (4 rows, 4 columns) are smaller.
    image_shape = (12, 12, 1)
    pixelcnn = built_pixelcnn(image_shape, seed=3, num_layers=1)
    assert (pixelcnn.rows_above, pixelcnn.columns_left) == (3, 3)
    _, outputs = random_inputs(pixelcnn, 4, image_shape, seed=3)
    uniform = np.random.default_rng(4).uniform(size=(4, *image_shape)).astype("float32")
    images, probabilities = (value.numpy() for value in pixelcnn.ancestral_sample(outputs,
                                                                                  uniform))
    assert set(np.unique(images)) <= {0.0, 1.0}
    # p_i recomputed in one pass from the sample: the sample's own past decided each pixel.
    teacher_forced = expit(pixelcnn.logits(images, outputs).numpy().astype(np.float64))
    np.testing.assert_allclose(probabilities, teacher_forced, atol=1e-5)
    decided = np.abs(uniform - teacher_forced) > 1e-4
    np.testing.assert_array_equal(images[decided], (uniform < teacher_forced)[decided])
    # The past matters: the same thresholds on the logits of another past differ.
    other = expit(pixelcnn.logits(1.0 - images, outputs).numpy())
    assert np.abs(other - teacher_forced).max() > 0.05
    # Graph mode (no XLA) agrees with the eager, XLA-compiled loop.
    graph_images, graph_probabilities = tf.function(pixelcnn.ancestral_sample)(outputs, uniform)
    np.testing.assert_allclose(graph_probabilities.numpy(), probabilities, atol=1e-5)
    assert np.mean(graph_images.numpy() != images) < 0.01


def test_sample_and_mean_use_the_likelihood_interface():
    image_shape = (8, 8, 1)
    pixelcnn = built_pixelcnn(image_shape, seed=5)
    _, outputs = random_inputs(pixelcnn, 3, image_shape, seed=5)
    noise = np.random.default_rng(6).normal(size=(3, *image_shape)).astype("float32")
    uniform = likelihoods._uniform_from_normal(tf.constant(noise))
    expected_images, _ = pixelcnn.ancestral_sample(outputs, uniform)
    np.testing.assert_array_equal(pixelcnn.sample(outputs, noise).numpy(),
                                  expected_images.numpy())
    mean = pixelcnn.mean(outputs).numpy()
    fixed = tf.random.stateless_uniform((3, *image_shape), seed=MEAN_NOISE_SEED)
    np.testing.assert_allclose(mean, pixelcnn.ancestral_sample(outputs, fixed)[1].numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(pixelcnn.mean(outputs).numpy(), mean, atol=1e-6)
    assert 0.0 < mean.min() and mean.max() < 1.0


# --- In a model: training, saving, configuration ------------------------------------------


@pytest.fixture(scope="module")
def trained():
    """An ELBO VAE with a small PixelCNN, fitted 6 epochs with XLA on tiny binary bars."""
    keras.utils.set_random_seed(0)
    images = binary_patterns()
    model = mmdvae.ELBOVAE(latent_dim=3, image_shape=(8, 8, 1), network="conv",
                           likelihood=PixelCNN(**SMALL), seed=0)
    initial = [weight.numpy() for weight in model.likelihood.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    history = model.fit(images, batch_size=16, epochs=6, verbose=0)
    return model, images, initial, history.history


def test_a_model_trains_the_pixelcnn_with_xla(trained):
    model, _, initial, history = trained
    assert model.likelihood in model.layers
    assert all(np.isfinite(history["loss"]))
    assert history["reconstruction_loss"][-1] < 0.8 * history["reconstruction_loss"][0]
    changed = [not np.allclose(before, after.numpy())
               for before, after in zip(initial, model.likelihood.trainable_weights, strict=True)]
    assert all(changed)


def test_a_model_saves_and_loads_its_pixelcnn(trained, tmp_path):
    model, images, _, _ = trained
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.likelihood, PixelCNN)
    assert loaded.likelihood.get_config() == model.likelihood.get_config()
    z = np.random.default_rng(7).normal(size=(len(images), 3)).astype("float32")
    expected = model.likelihood.negative_log_likelihood(images, model.decoder(z)).numpy()
    actual = loaded.likelihood.negative_log_likelihood(images, loaded.decoder(z)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-6)
    assert expected.std() > 0.0


def test_configuration_round_trips():
    pixelcnn = PixelCNN(filters=16, num_layers=3, kernel_size=5, first_kernel_size=5,
                        conditioning_channels=4)
    config = pixelcnn.get_config()
    assert PixelCNN.from_config(config).get_config() == config
    assert likelihoods.get(likelihoods.serialize(pixelcnn)).get_config() == config
    assert likelihoods.serialize(PixelCNN()) == "pixelcnn"
    assert isinstance(likelihoods.get("pixelcnn"), PixelCNN)
    assert likelihoods.get("pixelcnn") is not likelihoods.get("pixelcnn")
    model = mmdvae.MMDVAE(latent_dim=2, image_shape=(8, 8, 1), network="mlp",
                          likelihood=pixelcnn)
    assert model.decoder.output_shape == (None, 8, 8, 4)
    rebuilt = mmdvae.MMDVAE.from_config(model.get_config())
    assert rebuilt.likelihood.get_config() == config
    assert rebuilt.likelihood is not pixelcnn


def test_mmd_vae_by_name_trains_without_xla():
    keras.utils.set_random_seed(1)
    model = mmdvae.MMDVAE(latent_dim=2, image_shape=(8, 8, 1), network="mlp",
                          likelihood="pixelcnn", seed=1)
    initial = model.likelihood.trainable_weights[0].numpy()
    model.compile(jit_compile=False)
    history = model.fit(binary_patterns(16), batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert not np.allclose(initial, model.likelihood.trainable_weights[0].numpy())


# --- Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"filters": 0}, ValueError, "filters=0"),
        ({"filters": 2.5}, TypeError, "filters=2.5"),
        ({"num_layers": 0}, ValueError, "num_layers=0"),
        ({"kernel_size": 4}, ValueError, "kernel_size=4"),
        ({"first_kernel_size": 1}, ValueError, "first_kernel_size=1"),
        ({"conditioning_channels": -1}, ValueError, "conditioning_channels=-1"),
    ],
)
def test_bad_settings_are_refused(settings, error, message):
    with pytest.raises(error, match=message):
        PixelCNN(**settings)


def test_vector_data_and_mismatched_outputs_are_refused():
    with pytest.raises(ValueError, match=r"image_shape=\(6,\)"):
        mmdvae.ELBOVAE(latent_dim=2, image_shape=(6,), network="mlp", likelihood="pixelcnn")
    pixelcnn = built_pixelcnn((8, 8, 1))
    images, outputs = random_inputs(pixelcnn, 2, (8, 8, 1))
    with pytest.raises(ValueError, match=r"conditioning_channels=2.*\[batch, 8, 8, 2\]"):
        pixelcnn.negative_log_likelihood(images, outputs[..., :1])

"""Networks of every shape: structure, batch normalisation, errors, and training on
mock CIFAR-10 and CelebA, scikit-learn's real digits and vector data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmdvae
from mmdvae import data, networks

tfds = pytest.importorskip("tensorflow_datasets")


def layer_summary(model):
    """``(class, width, kernel, strides)`` of each layer with weights."""
    summary = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose):
            summary.append((type(layer).__name__, layer.filters, layer.kernel_size[0],
                            layer.strides[0]))
        elif isinstance(layer, keras.layers.Dense):
            summary.append(("Dense", layer.units))
        elif isinstance(layer, keras.layers.BatchNormalization):
            summary.append(("BatchNormalization", layer.momentum, layer.epsilon))
    return summary


# === The networks of release 0.1 keep their layers ===


@pytest.mark.parametrize(
    "network, encoder_layers, encoder_parameters, decoder_layers, decoder_parameters",
    [
        ("dcgan",
         [("Conv2D", 64, 4, 2), ("Conv2D", 128, 4, 2), ("Dense", 1024), ("Dense", 8)],
         (16 * 64 + 64) + (16 * 64 * 128 + 128) + (6272 * 1024 + 1024) + (1024 * 8 + 8),
         [("Dense", 1024), ("Dense", 6272), ("Conv2DTranspose", 64, 4, 2),
          ("Conv2DTranspose", 1, 4, 2)],
         (8 * 1024 + 1024) + (1024 * 6272 + 6272) + (16 * 128 * 64 + 64) + (16 * 64 + 1)),
        ("conv",
         [("Conv2D", 32, 3, 2), ("Conv2D", 64, 3, 2), ("Dense", 8)],
         (9 * 32 + 32) + (9 * 32 * 64 + 64) + (3136 * 8 + 8),
         [("Dense", 1568), ("Conv2DTranspose", 64, 3, 2), ("Conv2DTranspose", 32, 3, 2),
          ("Conv2DTranspose", 1, 3, 1)],
         (8 * 1568 + 1568) + (9 * 32 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 + 1)),
        ("mlp",
         [("Dense", 200)] * 3 + [("Dense", 8)],
         (784 * 200 + 200) + 2 * (200 * 200 + 200) + (200 * 8 + 8),
         [("Dense", 200)] * 3 + [("Dense", 784)],
         (8 * 200 + 200) + 2 * (200 * 200 + 200) + (200 * 784 + 784)),
    ],
)
def test_release_networks_are_unchanged(network, encoder_layers, encoder_parameters,
                                        decoder_layers, decoder_parameters):
    encoder = networks.make_encoder(network, (28, 28, 1), 8)
    decoder = networks.make_decoder(network, 8, (28, 28, 1))
    assert layer_summary(encoder) == encoder_layers
    assert layer_summary(decoder) == decoder_layers
    assert encoder.count_params() == encoder_parameters
    assert decoder.count_params() == decoder_parameters


# === Any size divisible by 4, any channel count ===


@pytest.mark.parametrize("network", ["dcgan", "conv", "dcgan_bn"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (12, 20, 5), (32, 32, 3), (28, 28, 1)])
def test_convolutional_networks_take_any_size_divisible_by_four(network, shape):
    encoder = networks.make_encoder(network, shape, 3, gaussian=True)
    decoder = networks.make_decoder(network, 3, shape, output_channels=2)
    z_mean, z_log_var = encoder(np.zeros((2, *shape), np.float32))
    assert z_mean.shape == (2, 3) and z_log_var.shape == (2, 3)
    assert decoder(np.zeros((2, 3), np.float32)).shape == (2, *shape[:2], 2 * shape[2])


def test_mlp_takes_vector_data():
    encoder = networks.make_encoder("mlp", (6,), 4)
    decoder = networks.make_decoder("mlp", 4, (6,), output_channels=2)
    assert encoder.input_shape == (None, 6) and decoder.output_shape == (None, 12)


# === The VIMAE paper's DCGAN with batch normalisation ===


def test_dcgan_bn_is_the_wae_celeba_network_at_64x64():
    encoder = networks.make_encoder("dcgan_bn", (64, 64, 3), 64)
    decoder = networks.make_decoder("dcgan_bn", 64, (64, 64, 3), output_channels=2)
    batch_norm = ("BatchNormalization", 0.9, 1e-5)
    assert layer_summary(encoder) == [
        ("Conv2D", 128, 5, 2), batch_norm, ("Conv2D", 256, 5, 2), batch_norm,
        ("Conv2D", 512, 5, 2), batch_norm, ("Conv2D", 1024, 5, 2), batch_norm, ("Dense", 64)]
    assert layer_summary(decoder) == [
        ("Dense", 8 * 8 * 1024), ("Conv2DTranspose", 512, 5, 2), batch_norm,
        ("Conv2DTranspose", 256, 5, 2), batch_norm, ("Conv2DTranspose", 128, 5, 2), batch_norm,
        ("Conv2DTranspose", 6, 5, 1)]
    convolutions = [layer.output.shape[1:] for layer in encoder.layers
                    if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions == [(32, 32, 128), (16, 16, 256), (8, 8, 512), (4, 4, 1024)]


def test_dcgan_bn_is_the_wae_mnist_network_at_28x28():
    decoder = networks.make_decoder("dcgan_bn", 8, (28, 28, 1))
    batch_norm = ("BatchNormalization", 0.9, 1e-5)
    assert layer_summary(decoder) == [
        ("Dense", 7 * 7 * 1024), ("Conv2DTranspose", 512, 4, 2), batch_norm,
        ("Conv2DTranspose", 256, 4, 2), batch_norm, ("Conv2DTranspose", 1, 4, 1)]
    encoder = networks.make_encoder("dcgan_bn", (28, 28, 1), 8)
    assert [entry[2] for entry in layer_summary(encoder) if entry[0] == "Conv2D"] == [4] * 4


def test_dcgan_bn_normalises_with_batch_statistics_in_training():
    encoder = networks.make_encoder("dcgan_bn", (16, 16, 3), 2)
    convolution, batch_norm = encoder.layers[1], encoder.layers[2]
    images = np.random.default_rng(0).uniform(size=(8, 16, 16, 3)).astype(np.float32)
    features = convolution(images).numpy().astype(np.float64)
    normalised = batch_norm(features, training=True).numpy()
    np.testing.assert_allclose(normalised.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    batch_variance = features.var(axis=(0, 1, 2))
    np.testing.assert_allclose(normalised.var(axis=(0, 1, 2)),
                               batch_variance / (batch_variance + 1e-5), rtol=1e-3)
    # One update of the moving statistics with momentum 0.9.
    np.testing.assert_allclose(batch_norm.moving_mean.numpy(),
                               0.1 * features.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-7)
    inference = batch_norm(features, training=False).numpy()
    expected = (features - batch_norm.moving_mean.numpy()) / np.sqrt(
        batch_norm.moving_variance.numpy() + 1e-5)
    np.testing.assert_allclose(inference, expected, rtol=1e-4, atol=1e-5)


# === Shapes a network cannot take ===


@pytest.mark.parametrize(
    "network, shape, fragments",
    [
        ("conv", (30, 30, 3), ["'conv'", "(30, 30, 3)", "divisible by 4", "mlp"]),
        ("dcgan", (28, 26, 1), ["'dcgan'", "(28, 26, 1)", "divisible by 4"]),
        ("dcgan_bn", (6,), ["'dcgan_bn'", "(6,)", "(height, width, channels)", "mlp"]),
        ("conv", (28, 28), ["'conv'", "(28, 28)", "(height, width, channels)"]),
    ],
)
def test_shapes_a_network_cannot_take(network, shape, fragments):
    for build in (lambda: networks.make_encoder(network, shape, 2),
                  lambda: networks.make_decoder(network, 2, shape),
                  lambda: mmdvae.MMDVAE(latent_dim=2, image_shape=shape, network=network)):
        with pytest.raises(ValueError) as raised:
            build()
        for fragment in fragments:
            assert fragment in str(raised.value)


def test_a_dataset_that_does_not_match_the_model():
    model = mmdvae.MMDVAE(latent_dim=2, image_shape=(28, 28, 1), network="conv", seed=0)
    model.compile()
    digits = data.load("sklearn_digits", "train", batch_size=50)
    with pytest.raises(ValueError, match=r"\(batch, 28, 28, 1\).*\(None, 8, 8, 1\)"):
        model.fit(digits, epochs=1, verbose=0)


# === Training on mock CIFAR-10 and CelebA, saving, loading and exporting ===

FIT_CASES = [
    ("conv", "cifar10"),
    ("mlp", "cifar10"),
    ("conv", "celeb_a"),
    pytest.param("dcgan", "cifar10", marks=pytest.mark.slow),
    pytest.param("dcgan_bn", "cifar10", marks=pytest.mark.slow),
    pytest.param("mlp", "celeb_a", marks=pytest.mark.slow),
    pytest.param("dcgan", "celeb_a", marks=pytest.mark.slow),
    pytest.param("dcgan_bn", "celeb_a", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("network, dataset_name", FIT_CASES)
def test_fit_save_load_and_export_on_mock_colour_images(network, dataset_name, tmp_path):
    shape = data.info(dataset_name).image_shape
    with tfds.testing.mock_data(num_examples=8):
        train = data.load(dataset_name, "train", batch_size=4, shuffle=True, seed=0)
        images = next(iter(data.load(dataset_name, "test", batch_size=4))).numpy()
    model = mmdvae.MMDVAE(latent_dim=4, image_shape=shape, network=network,
                          likelihood="discretized_logistic", seed=0)
    model.compile()
    before = [weight.numpy().copy() for weight in model.encoder.trainable_weights]
    history = model.fit(train, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(old, new.numpy())
               for old, new in zip(before, model.encoder.trainable_weights, strict=True))

    reconstructions = model.reconstruct(images).numpy()
    assert reconstructions.shape == images.shape
    assert 0.0 <= reconstructions.min() and reconstructions.max() <= 1.0
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.reconstruct(images).numpy(), reconstructions, atol=1e-5)
    exported = tf.saved_model.load(str(mmdvae.export_saved_model(model, tmp_path / "served")))
    np.testing.assert_allclose(exported.reconstruct(tf.constant(images)).numpy(),
                               reconstructions, atol=1e-5)


# === Real non-MNIST data: scikit-learn's digits ===


@pytest.mark.parametrize("network", ["conv", pytest.param("dcgan", marks=pytest.mark.slow)])
def test_a_model_learns_the_real_8x8_digits(network):
    from sklearn.neighbors import KNeighborsClassifier

    keras.utils.set_random_seed(0)  # the layers' initial weights
    train = data.load("sklearn_digits", "train", batch_size=50, shuffle=True, seed=0)
    train_images, train_labels = data.load_arrays("sklearn_digits", "train", with_labels=True)
    test_images, test_labels = data.load_arrays("sklearn_digits", "test", with_labels=True)
    model = mmdvae.MMDVAE(latent_dim=8, image_shape=(8, 8, 1), network=network,
                          likelihood="bernoulli", seed=0)
    model.compile()
    model.fit(train, epochs=10, verbose=0)
    error = np.mean((model.reconstruct(test_images).numpy() - test_images) ** 2)
    baseline = np.mean((train_images.mean(axis=0) - test_images) ** 2)  # best constant image
    assert error < 0.5 * baseline  # measured: 0.30 (conv) and 0.28 (dcgan) of the baseline
    classifier = KNeighborsClassifier(n_neighbors=10).fit(model.encode(train_images).numpy(),
                                                          train_labels)
    accuracy = classifier.score(model.encode(test_images).numpy(), test_labels)
    assert accuracy > 0.75  # measured: 0.88 (conv) and 0.90 (dcgan); chance is 0.1


# === Vector data ===


def test_vector_data_with_an_unbounded_gaussian_decoder():
    """6-D data with mean 10 and variance 19, outside the reach of a sigmoid decoder."""
    keras.utils.set_random_seed(0)  # the layers' initial weights
    generator = np.random.default_rng(0)
    values = (10.0 + np.sqrt(19.0) * generator.standard_normal((1000, 6))).astype(np.float32)
    train = data.from_arrays(values, batch_size=50, shuffle=True, seed=0, standardize=True)
    model = mmdvae.MMDVAE(latent_dim=8, image_shape=(6,), network="mlp",
                          likelihood="unbounded_gaussian", seed=0)
    model.compile()
    model.fit(train, epochs=20, verbose=0)
    statistics = train.standardization
    reconstructions = statistics.invert(model.reconstruct(statistics.apply(values)))
    error = np.mean((reconstructions - values) ** 2)  # per feature, in the data's units
    # A decoder bounded to [0, 1] cannot do better than E[(x - 1)^2] = 81 + 19 here.
    assert error < 19.0 / 10  # measured: 0.11 to 0.30 over six initialisations

"""Encoder and decoder factories, by name.

- ``"dcgan"``: the networks of the InfoVAE authors' MMD-VAE code. Encoder: conv
  64-4-2 and 128-4-2 with leaky ReLU 0.1, dense 1024 (leaky ReLU 0.1), then the
  code. Decoder: dense 1024 and dense 7*7*128 (ReLU), transposed conv 64-4-2
  (ReLU), transposed conv to the image channels 4-2.
- ``"conv"``: the small network of the Keras (R) MMD-VAE blog post. Encoder:
  conv 32-3-2 and 64-3-2 (ReLU), then the code. Decoder: dense 7*7*32 (ReLU),
  transposed conv 64-3-2 and 32-3-2 (ReLU), transposed conv 3-1.
- ``"mlp"``: three dense layers of 200 units (ReLU), for toy data (InfoVAE
  paper, proposition 1 experiment) and vector data of any shape, e.g.
  ``image_shape=(6,)``.
- ``"dcgan_bn"``: the DCGAN-like networks with batch normalisation of the
  Wasserstein autoencoder code (Tolstikhin et al., ICLR 2018), whose
  autoencoders the VIMAE paper (Crescimanna and Graham) uses. Encoder: four
  convolutions with stride 2 and 128, 256, 512, 1024 filters, each followed by
  batch normalisation (momentum 0.9, epsilon 1e-5) and ReLU, then the code.
  Decoder: dense to ``(height/8, width/8, 1024)`` (ReLU), transposed
  convolutions 512, 256, 128 with stride 2, each with batch normalisation and
  ReLU, and a transposed convolution with stride 1 to the image channels;
  kernels 5x5 (the WAE CelebA network, for 32x32 and 64x64 RGB). For a height
  or width divisible by 4 but not by 8 (28x28) it is the WAE MNIST network:
  kernels 4x4, dense to ``(height/4, width/4, 1024)`` and two upsampling
  layers, 512 and 256.

Encoders output the code ``z`` (deterministic) or ``[z_mean, z_log_var]``
(Gaussian). Decoders output unconstrained values ("logits") with
``output_channels`` times the image's channels; the model's likelihood maps them
to probabilities, means or standard deviations.
"""

import math

import keras
from keras import layers

NETWORKS = ("dcgan", "conv", "mlp", "dcgan_bn")

#: Batch normalisation of the WAE code (decay 0.9, epsilon 1e-5).
_BATCH_NORM = {"momentum": 0.9, "epsilon": 1e-5}


def _check_network(network):
    if network not in NETWORKS:
        raise ValueError(
            f"Argument `network` must be one of {NETWORKS}; received network={network!r}."
        )


def _check_convolutional_shape(network, input_shape):
    if len(input_shape) != 3:
        raise ValueError(
            f"The {network!r} network needs images of shape (height, width, channels); "
            f"received image_shape={input_shape}, of rank {len(input_shape)}. Use "
            f"network='mlp' for vector data or images of any shape."
        )
    if input_shape[0] % 4 or input_shape[1] % 4:
        raise ValueError(
            f"The {network!r} network needs images whose height and width are divisible "
            f"by 4 (two stride-2 layers); received image_shape={input_shape}. Resize the "
            f"images (e.g. image_size= in mmdvae.data) or use network='mlp'."
        )


def _dcgan_bn_layout(image_shape):
    """Kernel size and upsampling widths of the WAE networks for an image size."""
    height, width = image_shape[:2]
    if height % 8 == 0 and width % 8 == 0:
        return 5, (512, 256, 128)  # WAE CelebA: 64x64 -> 8x8 start.
    return 4, (512, 256)  # WAE MNIST: 28x28 -> 7x7 start.


def _encoder_body(network, inputs):
    if network == "dcgan":
        x = layers.Conv2D(64, 4, strides=2, padding="same")(inputs)
        x = layers.LeakyReLU(negative_slope=0.1)(x)
        x = layers.Conv2D(128, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(negative_slope=0.1)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(1024)(x)
        return layers.LeakyReLU(negative_slope=0.1)(x)
    if network == "dcgan_bn":
        kernel_size, _ = _dcgan_bn_layout(inputs.shape[1:])
        x = inputs
        for filters in (128, 256, 512, 1024):
            x = layers.Conv2D(filters, kernel_size, strides=2, padding="same")(x)
            x = layers.BatchNormalization(**_BATCH_NORM)(x)
            x = layers.ReLU()(x)
        return layers.Flatten()(x)
    if network == "conv":
        x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
        x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
        return layers.Flatten()(x)
    x = layers.Flatten()(inputs)
    for _ in range(3):
        x = layers.Dense(200, activation="relu")(x)
    return x


def make_encoder(
    network: str,
    input_shape: tuple,
    latent_dim: int,
    gaussian: bool = False,
    name: str = "encoder",
) -> keras.Model:
    """Builds an encoder ``x -> z`` or ``x -> [z_mean, z_log_var]``.

    Args:
        network: one of ``NETWORKS``.
        input_shape: the shape of one example, e.g. ``(28, 28, 1)``.
        latent_dim: the size of the code.
        gaussian: output a mean and a log-variance instead of the code.
        name: the Keras model's name.
    """
    _check_network(network)
    input_shape = tuple(input_shape)
    if network != "mlp":
        _check_convolutional_shape(network, input_shape)
    inputs = keras.Input(shape=input_shape, name="images")
    hidden = _encoder_body(network, inputs)
    if not gaussian:
        outputs = layers.Dense(latent_dim, name="z")(hidden)
    else:
        outputs = [
            layers.Dense(latent_dim, name="z_mean")(hidden),
            layers.Dense(latent_dim, name="z_log_var")(hidden),
        ]
    return keras.Model(inputs, outputs, name=name)


def make_decoder(
    network: str,
    latent_dim: int,
    output_shape: tuple,
    output_channels: int = 1,
    name: str = "decoder",
) -> keras.Model:
    """Builds a decoder ``z -> logits`` of shape ``output_shape`` (channels scaled).

    Args:
        network: one of ``NETWORKS``.
        latent_dim: the size of the code.
        output_shape: the shape of one image, e.g. ``(28, 28, 1)``.
        output_channels: values per image channel (2 for a Gaussian decoder
            with a learned standard deviation: mean and scale).
        name: the Keras model's name.
    """
    _check_network(network)
    output_shape = tuple(output_shape)
    inputs = keras.Input(shape=(latent_dim,), name="z")
    if network == "mlp":
        x = inputs
        for _ in range(3):
            x = layers.Dense(200, activation="relu")(x)
        size = math.prod(output_shape) * output_channels
        x = layers.Dense(size)(x)
        outputs = layers.Reshape(output_shape[:-1] + (output_shape[-1] * output_channels,))(x)
        return keras.Model(inputs, outputs, name=name)
    _check_convolutional_shape(network, output_shape)
    height, width, channels = output_shape
    out_channels = channels * output_channels
    if network == "dcgan":
        x = layers.Dense(1024, activation="relu")(inputs)
        x = layers.Dense(height // 4 * width // 4 * 128, activation="relu")(x)
        x = layers.Reshape((height // 4, width // 4, 128))(x)
        x = layers.Conv2DTranspose(64, 4, strides=2, padding="same", activation="relu")(x)
        outputs = layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same")(x)
    elif network == "dcgan_bn":
        kernel_size, widths = _dcgan_bn_layout(output_shape)
        start_height, start_width = height >> len(widths), width >> len(widths)
        x = layers.Dense(start_height * start_width * 1024)(inputs)
        x = layers.Reshape((start_height, start_width, 1024))(x)
        x = layers.ReLU()(x)
        for filters in widths:
            x = layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same")(x)
            x = layers.BatchNormalization(**_BATCH_NORM)(x)
            x = layers.ReLU()(x)
        outputs = layers.Conv2DTranspose(out_channels, kernel_size, strides=1, padding="same")(x)
    else:
        x = layers.Dense(height // 4 * width // 4 * 32, activation="relu")(inputs)
        x = layers.Reshape((height // 4, width // 4, 32))(x)
        x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
        outputs = layers.Conv2DTranspose(out_channels, 3, strides=1, padding="same")(x)
    return keras.Model(inputs, outputs, name=name)


def make_discriminator(
    latent_dim: int,
    hidden_units: tuple = (512, 512),
    name: str = "discriminator",
) -> keras.Model:
    """Builds a latent-space discriminator ``z -> logit`` (adversarial autoencoder).

    Dense layers with leaky ReLU 0.2, as in Makhzani et al., "Adversarial
    Autoencoders" (ICLR 2016 workshop), then one logit: positive for codes it
    takes for prior samples.

    Args:
        latent_dim: the size of the code.
        hidden_units: the widths of the hidden layers. Defaults to ``(512, 512)``.
        name: the Keras model's name.
    """
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    for units in hidden_units:
        x = layers.Dense(int(units))(x)
        x = layers.LeakyReLU(negative_slope=0.2)(x)
    outputs = layers.Dense(1, name="logit")(x)
    return keras.Model(inputs, outputs, name=name)

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

A model also takes any Keras model as its ``encoder=`` or ``decoder=``
(functional, sequential or subclassed); ``check_encoder`` and
``check_decoder`` build it on symbolic inputs and check the shapes of its
outputs before any training. A Gaussian encoder may output the pair
``(z_mean, z_log_var)`` or one tensor of ``2 * latent_dim`` values, the mean
first (``gaussian_parameters``).
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


#: Most weights one network may have (1 GiB of float32): a larger image shape is refused
#: before any layer is built, with the count, rather than running out of memory.
MAX_NETWORK_WEIGHTS = 2**28


def _dense(inputs, units):
    return inputs * units + units


def _convolution(kernel_size, inputs, filters):
    return kernel_size * kernel_size * inputs * filters + filters


def encoder_weight_count(network, input_shape, latent_dim, gaussian=False) -> int:
    """The number of weights of ``make_encoder(network, input_shape, latent_dim, gaussian)``."""
    heads = 2 if gaussian else 1
    if network == "mlp":
        hidden = _dense(math.prod(input_shape), 200) + 2 * _dense(200, 200)
        return hidden + heads * _dense(200, latent_dim)
    height, width, channels = input_shape
    if network == "dcgan":
        hidden = (_convolution(4, channels, 64) + _convolution(4, 64, 128)
                  + _dense(height // 4 * width // 4 * 128, 1024))
        return hidden + heads * _dense(1024, latent_dim)
    if network == "conv":
        hidden = _convolution(3, channels, 32) + _convolution(3, 32, 64)
        return hidden + heads * _dense(height // 4 * width // 4 * 64, latent_dim)
    kernel_size, _ = _dcgan_bn_layout(input_shape)
    widths = (channels, 128, 256, 512, 1024)
    # Each convolution, then 4 weights per channel of batch normalisation.
    hidden = sum(_convolution(kernel_size, inputs, filters) + 4 * filters
                 for inputs, filters in zip(widths, widths[1:], strict=False))
    flat = -(-height // 16) * -(-width // 16) * 1024
    return hidden + heads * _dense(flat, latent_dim)


def decoder_weight_count(network, latent_dim, output_shape, output_channels=1) -> int:
    """The number of weights of ``make_decoder(network, latent_dim, output_shape, ...)``."""
    if network == "mlp":
        hidden = _dense(latent_dim, 200) + 2 * _dense(200, 200)
        return hidden + _dense(200, math.prod(output_shape) * output_channels)
    height, width, channels = output_shape
    out_channels = channels * output_channels
    if network == "dcgan":
        return (_dense(latent_dim, 1024) + _dense(1024, height // 4 * width // 4 * 128)
                + _convolution(4, 128, 64) + _convolution(4, 64, out_channels))
    if network == "conv":
        return (_dense(latent_dim, height // 4 * width // 4 * 32) + _convolution(3, 32, 64)
                + _convolution(3, 64, 32) + _convolution(3, 32, out_channels))
    kernel_size, widths = _dcgan_bn_layout(output_shape)
    start = (height >> len(widths)) * (width >> len(widths)) * 1024
    inputs = (1024, *widths)
    return (_dense(latent_dim, start)
            + sum(_convolution(kernel_size, a, b) + 4 * b
                  for a, b in zip(inputs, widths, strict=False))
            + _convolution(kernel_size, widths[-1], out_channels))


def _check_weight_count(what, count, setting, advice=None):
    if count > MAX_NETWORK_WEIGHTS:
        advice = advice or ("resize the images (image_size= in mmdvae.data), or choose a "
                            "smaller network or latent_dim")
        raise ValueError(
            f"The {what} for {setting} would have {count:,} weights ({count * 4 / 2**30:,.1f} "
            f"GiB as float32), more than MAX_NETWORK_WEIGHTS={MAX_NETWORK_WEIGHTS:,}; "
            f"{advice}."
        )


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
    _check_weight_count(
        f"{network!r} encoder", encoder_weight_count(network, input_shape, latent_dim, gaussian),
        f"image_shape={input_shape} and latent_dim={latent_dim}")
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
    if network != "mlp":
        _check_convolutional_shape(network, output_shape)
    _check_weight_count(
        f"{network!r} decoder",
        decoder_weight_count(network, latent_dim, output_shape, output_channels),
        f"image_shape={output_shape} and latent_dim={latent_dim}")
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
    widths = (latent_dim, *map(int, hidden_units), 1)
    _check_weight_count("discriminator", sum(map(_dense, widths, widths[1:])),
                        f"discriminator_units={tuple(hidden_units)}",
                        advice="choose narrower discriminator_units")
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    for units in hidden_units:
        x = layers.Dense(int(units))(x)
        x = layers.LeakyReLU(negative_slope=0.2)(x)
    outputs = layers.Dense(1, name="logit")(x)
    return keras.Model(inputs, outputs, name=name)


# --- Networks a user brings -----------------------------------------------------


def gaussian_parameters(outputs):
    """``(z_mean, z_log_var)`` of a Gaussian encoder's outputs: a pair, or one tensor halved."""
    if isinstance(outputs, list | tuple):
        z_mean, z_log_var = outputs
        return z_mean, z_log_var
    z_mean, z_log_var = keras.ops.split(outputs, 2, axis=-1)
    return z_mean, z_log_var


def _shape_text(shape) -> str:
    sizes = ["batch" if size is None and index == 0 else str(size)
             for index, size in enumerate(shape)]
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


def _symbolic_outputs(network, argument, input_shape, what):
    if not isinstance(network, keras.layers.Layer):
        raise TypeError(
            f"Argument `{argument}` must be a Keras model (functional, sequential or "
            f"subclassed); received an object of type {type(network).__name__}."
        )
    try:
        outputs = network(keras.KerasTensor((None, *input_shape)))
    except Exception as error:  # Any error of the user's network: say what it was given.
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"Argument `{argument}` must take {what} of shape {_shape_text((None, *input_shape))}; "
            f"calling it on them raised {type(error).__name__}: {message}"
        ) from error
    return [tuple(output.shape) for output in keras.tree.flatten(outputs)]


def _matches(shape, expected) -> bool:
    """Whether ``shape`` is ``(batch, *expected)``; a size the network leaves open matches."""
    return len(shape) == len(expected) + 1 and all(
        size is None or size == wanted for size, wanted in zip(shape[1:], expected, strict=True)
    )


def check_encoder(encoder, image_shape, latent_dim: int, gaussian: bool,
                  argument: str = "encoder") -> None:
    """Builds ``encoder`` on symbolic images and checks that it outputs a code.

    A deterministic encoder outputs ``(batch, latent_dim)``; a Gaussian one a
    ``(z_mean, z_log_var)`` pair of that shape, or one ``(batch, 2 * latent_dim)``
    tensor. Raises a ValueError naming what is needed and what it outputs.
    """
    shapes = _symbolic_outputs(encoder, argument, tuple(image_shape), "images")
    if gaussian:
        valid = (len(shapes) == 2 and all(_matches(shape, (latent_dim,)) for shape in shapes)
                 or len(shapes) == 1 and _matches(shapes[0], (2 * latent_dim,)))
        needed = (f"a (z_mean, z_log_var) pair of shape (batch, {latent_dim}) each, or one "
                  f"tensor of shape (batch, {2 * latent_dim}) (2 * latent_dim, the mean "
                  f"first), for encoder_type='gaussian' with latent_dim={latent_dim}")
    else:
        valid = len(shapes) == 1 and _matches(shapes[0], (latent_dim,))
        needed = (f"one tensor of shape (batch, {latent_dim}) for "
                  f"encoder_type='deterministic' with latent_dim={latent_dim}")
    if not valid:
        received = ", ".join(_shape_text(shape) for shape in shapes)
        raise ValueError(
            f"Argument `{argument}` must output {needed}; received an encoder whose "
            f"output on images of shape {_shape_text((None, *image_shape))} has shape "
            f"{received}."
        )


def check_decoder(decoder, latent_dim: int, output_shape, reason: str = "",
                  argument: str = "decoder") -> None:
    """Builds ``decoder`` on symbolic codes and checks that it outputs ``(batch, *output_shape)``.

    ``reason`` says where ``output_shape`` comes from (the likelihood), for the message.
    """
    shapes = _symbolic_outputs(decoder, argument, (latent_dim,), "codes")
    output_shape = tuple(output_shape)
    if not (len(shapes) == 1 and _matches(shapes[0], output_shape)):
        received = ", ".join(_shape_text(shape) for shape in shapes)
        reason = f" ({reason})" if reason else ""
        raise ValueError(
            f"Argument `{argument}` must output one tensor of shape "
            f"{_shape_text((None, *output_shape))}{reason}; received a decoder whose "
            f"output on codes of shape {_shape_text((None, latent_dim))} has shape "
            f"{received}."
        )

"""A gated PixelCNN likelihood: an autoregressive decoder conditioned on ``z``.

``PixelCNN`` is a likelihood (``mmdvae.likelihoods``) with trainable weights,
for binary images (binarised MNIST). The model's decoder maps ``z`` to
conditioning feature maps, ``conditioning_channels`` per image channel, of
the image's height and width; the PixelCNN models the pixels in raster order,
each given the pixels before it and those maps:

```
log p(x|z) = sum_i log Bernoulli(x_i | sigmoid(logit_i(x_<i, decoder(z))))
```

The gated PixelCNN of van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves and
Kavukcuoglu, "Conditional Image Generation with PixelCNN Decoders" (NeurIPS
2016), small enough for a CPU: a first masked convolution of type A (the
centre pixel excluded), then ``num_layers`` gated residual layers of type B
(the centre included), each adding a 1x1 projection of the conditioning maps to
its gates, then two 1x1 layers to a Bernoulli logit per pixel and channel. A
vertical stack (the rows above) and a horizontal stack (the row so far) leave
no blind spot. A masked convolution is computed by its non-zero part only (a
kernel of ``k // 2 + 1`` rows, or columns, over a padded input; type A shifts
the input down, or right, by one pixel first), as in PixelCNN++ (Salimans,
Karpathy, Chen and Kingma, ICLR 2017). This is the InfoVAE paper's decoder for
its section 5.2 experiment ("a simplified version of the conditional PixelCNN
architecture", Zhao, Song and Ermon, AAAI 2019, appendix C).

The channels of one pixel are independent given the earlier pixels (no
ordering of the colours within a pixel).

Example:

```python
model = mmdvae.ELBOVAE(latent_dim=8, likelihood="pixelcnn")        # the defaults
model = mmdvae.MMDVAE(latent_dim=8, likelihood=PixelCNN(filters=16, num_layers=3))
```
"""

import keras
import tensorflow as tf

from mmdvae import checks, likelihoods

#: The seed of the noise ``PixelCNN.mean`` samples with, so that it is a
#: function of the decoder's outputs like the other likelihoods' means.
MEAN_NOISE_SEED = (0, 0)


def _shift_down(images):
    """Moves the rows down by one (a zero row on top): type A of the vertical stack."""
    return tf.pad(images, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _shift_right(images):
    """Moves the columns right by one (zeros on the left): type A of the horizontal stack."""
    return tf.pad(images, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


def _gate(features):
    """The gated activation ``tanh(a) * sigmoid(b)`` of the two halves of ``features``."""
    values, gates = tf.split(features, 2, axis=-1)
    return tf.tanh(values) * tf.sigmoid(gates)


@keras.saving.register_keras_serializable(package="mmdvae")
class PixelCNN(keras.layers.Layer, likelihoods.Likelihood):
    """A small gated PixelCNN over binary pixels, conditioned on the decoder's maps.

    The likelihood is exact and computed in one parallel pass over the data
    (teacher forcing); ``sample`` draws the pixels one at a time in raster
    order (ancestral sampling: the vertical stack once per row, the horizontal
    stack once per pixel, each over the window of pixels it depends on).
    ``mean`` returns the probabilities ``p(x_i = 1 | x_<i, z)`` along one
    ancestral sample drawn with fixed noise (``MEAN_NOISE_SEED``): the image the
    model shows, smoother than the binary sample and, like the other
    likelihoods' means, a function of the outputs.
    The model's ``decode``, ``sample`` and ``reconstruct`` therefore sample
    pixel by pixel (seconds for a batch of 28x28 images).

    Its weights are trained with the autoencoder's and saved in the model's
    ``.keras`` file. An object passed to a model becomes that model's: pass a
    new one to each model (two models given one object share its weights).

    Args:
        filters: channels of each stack. Defaults to 32.
        num_layers: gated residual layers after the first. Defaults to 4.
        kernel_size: odd size of the gated layers' masked kernels. Defaults to 3.
        first_kernel_size: odd size of the first (type A) masked kernel.
            Defaults to 7.
        conditioning_channels: conditioning maps per image channel, the
            decoder's ``values_per_channel``. Defaults to 8.
    """

    value_range = (0.0, 1.0)
    reparameterized = False

    def __init__(
        self,
        filters: int = 32,
        num_layers: int = 4,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        conditioning_channels: int = 8,
        name: str = "pixelcnn",
        **kwargs,
    ):
        filters = checks.check_positive_int("filters", filters, maximum=4096)
        num_layers = checks.check_positive_int("num_layers", num_layers, maximum=64)
        kernel_size = _check_kernel_size("kernel_size", kernel_size)
        first_kernel_size = _check_kernel_size("first_kernel_size", first_kernel_size)
        conditioning_channels = checks.check_positive_int(
            "conditioning_channels", conditioning_channels, maximum=4096
        )
        super().__init__(name=name, **kwargs)

        # === Config ===
        self.filters = filters
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.first_kernel_size = first_kernel_size
        self.conditioning_channels = conditioning_channels
        self.values_per_channel = conditioning_channels

        # The rows above a pixel its vertical stack reads, and the columns to
        # its left its horizontal stack reads.
        self.rows_above = first_kernel_size // 2 + 1 + num_layers * (kernel_size // 2)
        self.columns_left = self.rows_above
        self._compiled_sampler = None

    # A layer is equal only to itself: two with the same settings hold different weights.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            num_layers=self.num_layers,
            kernel_size=self.kernel_size,
            first_kernel_size=self.first_kernel_size,
            conditioning_channels=self.conditioning_channels,
        )
        return config

    # --- Weights -------------------------------------------------------------

    def build(self, input_shape):
        """Creates the weights for images of shape ``input_shape`` ``[batch, h, w, c]``."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or any(size is None for size in input_shape[1:]):
            raise ValueError(
                f"A PixelCNN likelihood needs images of shape (height, width, channels); "
                f"received image_shape={input_shape[1:]}."
            )
        channels = int(input_shape[-1])
        conditioning = channels * self.conditioning_channels
        filters, rows, first_rows = self.filters, self.kernel_size // 2 + 1, (
            self.first_kernel_size // 2 + 1)

        def kernel(name, shape):
            return self.add_weight(name=name, shape=shape, initializer="glorot_uniform")

        def bias(name, size):
            return self.add_weight(name=name, shape=(size,), initializer="zeros")

        # === Type A: the rows above, and the pixels to the left ===
        self.first_vertical = (
            kernel("first_vertical_kernel", (first_rows, self.first_kernel_size, channels,
                                             filters)),
            bias("first_vertical_bias", filters),
        )
        self.first_horizontal = (
            kernel("first_horizontal_kernel", (1, first_rows, channels, filters)),
            bias("first_horizontal_bias", filters),
        )
        # === Type B: gated residual layers conditioned on the decoder's maps ===
        self.gated_layers = []
        for index in range(self.num_layers):
            prefix = f"gated_{index}_"
            self.gated_layers.append({
                "vertical": (kernel(prefix + "vertical_kernel",
                                    (rows, self.kernel_size, filters, 2 * filters)),
                             bias(prefix + "vertical_bias", 2 * filters)),
                "horizontal": (kernel(prefix + "horizontal_kernel",
                                      (1, rows, filters, 2 * filters)),
                               bias(prefix + "horizontal_bias", 2 * filters)),
                "vertical_to_horizontal": kernel(prefix + "vertical_to_horizontal_kernel",
                                                 (1, 1, 2 * filters, 2 * filters)),
                "conditioning_vertical": kernel(prefix + "conditioning_vertical_kernel",
                                                (1, 1, conditioning, 2 * filters)),
                "conditioning_horizontal": kernel(prefix + "conditioning_horizontal_kernel",
                                                  (1, 1, conditioning, 2 * filters)),
                "residual": (kernel(prefix + "residual_kernel", (1, 1, filters, filters)),
                             bias(prefix + "residual_bias", filters)),
            })
        # === Output: two 1x1 layers to one logit per pixel and channel ===
        self.hidden_output = (kernel("hidden_output_kernel", (1, 1, filters, filters)),
                              bias("hidden_output_bias", filters))
        self.logit_output = (kernel("logit_output_kernel", (1, 1, filters, channels)),
                             bias("logit_output_bias", channels))

    # --- The network ---------------------------------------------------------

    @staticmethod
    def _vertical(inputs, weights):
        """The rows above and the current row, ``k`` columns wide (type B)."""
        kernel, bias = weights
        rows, columns = kernel.shape[0], kernel.shape[1]
        padded = tf.pad(inputs, [[0, 0], [rows - 1, 0], [columns // 2, columns // 2], [0, 0]])
        return tf.nn.conv2d(padded, kernel, strides=1, padding="VALID") + bias

    @staticmethod
    def _horizontal(inputs, weights):
        """The current pixel and those to its left (type B)."""
        kernel, bias = weights
        padded = tf.pad(inputs, [[0, 0], [0, 0], [kernel.shape[1] - 1, 0], [0, 0]])
        return tf.nn.conv2d(padded, kernel, strides=1, padding="VALID") + bias

    @staticmethod
    def _pointwise(inputs, kernel):
        return tf.nn.conv2d(inputs, kernel, strides=1, padding="VALID")

    def call(self, data, conditioning):
        """The logit of every pixel given the earlier pixels of ``data``, in one pass.

        Args:
            data: images ``[batch, height, width, channels]`` in [0, 1].
            conditioning: the decoder's outputs ``[batch, height, width,
                channels * conditioning_channels]``.
        """
        inputs = self._centred(data)
        conditioning = tf.cast(conditioning, self.compute_dtype)
        return self._horizontal_stack(inputs, self._vertical_stack(inputs, conditioning))

    def _centred(self, data):
        # Pixels in {-1, 1}, so the convolutions' zero padding differs from both values.
        return 2.0 * tf.cast(data, self.compute_dtype) - 1.0

    def _vertical_stack(self, inputs, conditioning):
        """What each gated layer's horizontal stack receives from the rows above and ``z``.

        At row ``r`` these depend on the rows ``< r`` only, so the horizontal
        stack may read them at its own position, and the sampler computes them
        once per row.
        """
        vertical = self._vertical(_shift_down(inputs), self.first_vertical)
        terms = []
        for layer in self.gated_layers:
            vertical_features = (self._vertical(vertical, layer["vertical"])
                                 + self._pointwise(conditioning, layer["conditioning_vertical"]))
            terms.append(self._pointwise(vertical_features, layer["vertical_to_horizontal"])
                         + self._pointwise(conditioning, layer["conditioning_horizontal"]))
            vertical = _gate(vertical_features)
        return terms

    def _horizontal_stack(self, inputs, terms):
        """The logits from the pixels to the left (type A, then B) and the vertical terms."""
        horizontal = self._horizontal(_shift_right(inputs), self.first_horizontal)
        for layer, term in zip(self.gated_layers, terms, strict=True):
            features = self._horizontal(horizontal, layer["horizontal"]) + term
            residual_kernel, residual_bias = layer["residual"]
            horizontal = horizontal + self._pointwise(_gate(features), residual_kernel) + (
                residual_bias)
        hidden = tf.nn.relu(self._pointwise(tf.nn.relu(horizontal), self.hidden_output[0])
                            + self.hidden_output[1])
        return self._pointwise(hidden, self.logit_output[0]) + self.logit_output[1]

    def logits(self, data, outputs):
        """``logit_i(x_<i, outputs)`` of every pixel (teacher forcing), shape of ``data``."""
        data = tf.cast(data, self.compute_dtype)
        outputs = tf.cast(outputs, self.compute_dtype)
        self._check_outputs(data, outputs)
        return self(data, outputs)

    def _check_outputs(self, data, outputs):
        expected = data.shape[-1] * self.conditioning_channels
        if outputs.shape[-1] is not None and data.shape[-1] is not None and (
                outputs.shape[-1] != expected or outputs.shape[1:3] != data.shape[1:3]):
            raise ValueError(
                f"A PixelCNN with conditioning_channels={self.conditioning_channels} needs "
                f"decoder outputs of shape [batch, {data.shape[1]}, {data.shape[2]}, "
                f"{expected}] for images of shape {tuple(data.shape[1:])}; received "
                f"outputs of shape {tuple(outputs.shape)}."
            )

    # --- The likelihood ------------------------------------------------------

    def negative_log_likelihood(self, data, outputs):
        """``-log p(x|z)`` in nats per example, summed over pixels, in one pass."""
        # The sum over pixels runs in the weights' precision (float32 under the
        # mixed-precision policies), not in half precision.
        logits = tf.cast(self.logits(data, outputs), self.variable_dtype)
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(data, logits.dtype), logits=logits)
        return tf.reduce_sum(cross_entropy, axis=[1, 2, 3])

    def data_shape(self, outputs):
        """The shape ``[batch, height, width, channels]`` of the images ``outputs`` model."""
        _, height, width, values = outputs.shape
        return [tf.shape(outputs)[0], height, width, values // self.conditioning_channels]

    def sample(self, outputs, noise):
        """Draws ``x ~ p(x|z)`` pixel by pixel from standard normal ``noise`` (data's shape)."""
        uniform = likelihoods._uniform_from_normal(tf.cast(noise, self.compute_dtype))
        return self.ancestral_sample(outputs, uniform)[0]

    def mean(self, outputs):
        """``p(x_i = 1 | x_<i, z)`` along one ancestral sample drawn with fixed noise."""
        outputs = tf.cast(outputs, self.compute_dtype)
        uniform = tf.random.stateless_uniform(self.data_shape(outputs), seed=MEAN_NOISE_SEED,
                                              dtype=self.compute_dtype)
        return self.ancestral_sample(outputs, uniform)[1]

    def ancestral_sample(self, outputs, uniform):
        """Samples the pixels in raster order; returns ``(images, probabilities)``.

        Pixel ``i`` is ``1`` when ``uniform_i < p_i``, with
        ``p_i = sigmoid(logit_i(x_<i))`` computed from the pixels sampled before
        it; ``probabilities`` holds the ``p_i``. Once per row the vertical
        stack runs on the rows above that the row depends on, once per pixel
        the horizontal stack on the pixels to its left that it depends on
        (windows that hold the whole receptive field: the same logits as the
        parallel pass). Eagerly, the loops run compiled by XLA.

        Args:
            outputs: the decoder's outputs ``[batch, height, width,
                channels * conditioning_channels]``.
            uniform: uniform numbers in (0, 1) of the images' shape.
        """
        outputs = tf.cast(outputs, self.compute_dtype)
        uniform = tf.cast(uniform, self.compute_dtype)
        if not self.built:
            self.build((None, *uniform.shape[1:]))
        self._check_outputs(uniform, outputs)
        if not tf.executing_eagerly():
            return self._ancestral_loop(outputs, uniform)
        if self._compiled_sampler is None:
            self._compiled_sampler = tf.function(self._ancestral_loop, jit_compile=True,
                                                 reduce_retracing=True)
        return self._compiled_sampler(outputs, uniform)

    def _ancestral_loop(self, outputs, uniform):
        height, width, channels = uniform.shape[1:]
        # The rows the vertical stack of the last row reads, the columns the
        # horizontal stack of the last column reads: the windows are exact.
        window_height = min(height, self.rows_above + 1)
        window_width = min(width, self.columns_left + 1)

        def pixel_step(row, terms, column, images, probabilities):
            left = tf.maximum(column - (window_width - 1), 0)
            window = tf.slice(images, [0, row, left, 0], [-1, 1, window_width, channels])
            window_terms = [tf.slice(term, [0, 0, left, 0], [-1, 1, window_width, -1])
                            for term in terms]
            logits = self._horizontal_stack(self._centred(window), window_terms)
            probability = tf.sigmoid(logits[:, 0, column - left, :])
            pixel = tf.cast(uniform[:, row, column, :] < probability, images.dtype)
            position = tf.reshape(
                tf.one_hot(row * width + column, height * width, dtype=images.dtype),
                [1, height, width, 1])
            return (column + 1, images + position * pixel[:, None, None, :],
                    probabilities + position * probability[:, None, None, :])

        def row_step(row, images, probabilities):
            top = tf.maximum(row - (window_height - 1), 0)
            window = tf.slice(images, [0, top, 0, 0], [-1, window_height, width, channels])
            conditioning = tf.slice(outputs, [0, top, 0, 0], [-1, window_height, width, -1])
            terms = [term[:, row - top:row - top + 1]
                     for term in self._vertical_stack(self._centred(window), conditioning)]
            _, images, probabilities = tf.while_loop(
                lambda column, *_: column < width,
                lambda column, images, probabilities: pixel_step(row, terms, column, images,
                                                                 probabilities),
                (tf.constant(0), images, probabilities), maximum_iterations=width,
            )
            return row + 1, images, probabilities

        zeros = tf.zeros_like(uniform)
        _, images, probabilities = tf.while_loop(
            lambda row, *_: row < height, row_step, (tf.constant(0), zeros, zeros),
            maximum_iterations=height,
        )
        return images, probabilities


def _check_kernel_size(argument, value):
    value = checks.check_positive_int(argument, value, maximum=31, minimum=3)
    if value % 2 == 0:
        raise ValueError(
            f"Argument `{argument}` must be an odd integer in [3, 31]; received "
            f"{argument}={value}."
        )
    return value


likelihoods.register("pixelcnn", PixelCNN)

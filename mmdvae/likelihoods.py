"""Decoder likelihoods ``p(x|z)``: what the decoder outputs mean.

A likelihood turns the decoder's raw outputs into a distribution over the data.
Each one knows

- ``output_channels(data_channels)``: how many decoder values it needs per
  example channel (two for a Gaussian with a learned standard deviation);
- ``parameter_shape(data_shape)``: the shape of the decoder's output for one
  example (the data's, with ``values_per_channel`` values per channel);
- ``negative_log_likelihood(data, outputs)``: the reconstruction term of each
  example (its reduction over pixels is part of the likelihood: a mean for
  ``"mse"``, a sum for the others, in nats per example);
- ``log_likelihood(data, outputs, variance=None)``: ``log p(x|z)`` of each
  example in nats, for evaluation; a likelihood that is a Gaussian only up to
  scale (``"mse"``, ``needs_variance``) needs the decoder ``variance`` assumed;
- ``mean(outputs)``: the image it shows (probabilities or means);
- ``sample(outputs, noise)``: draws ``x ~ p(x|z)`` from standard normal
  ``noise`` of the data's shape (reparameterised where the likelihood allows it);
- ``value_range``: the data range it models (``None``: any real value).

Names: ``"mse"`` (the MMD-VAE tutorial's squared error averaged over pixels),
``"bernoulli"``, ``"gaussian"`` (mean in [0, 1], learned std >= 0.005, the
InfoVAE authors' evaluation script), ``"unbounded_gaussian"`` (any real mean,
learned std >= 0.005: data outside [0, 1], tabular data), ``"categorical"``
(one-hot data over the last axis, Gumbel-softmax samples) and
``"discretized_logistic"`` (8-bit images, colour or grey: PixelCNN++'s
discretised logistic per sub-pixel) and ``"pixelcnn"`` (binary images: a gated
PixelCNN conditioned on the decoder's outputs, with trainable weights, see
``mmdvae.pixelcnn``). Models take
``likelihood=`` a name or an object; a weight on a regulariser only means
something relative to the likelihood's reduction (InfoVAE paper, Zhao, Song and
Ermon, AAAI 2019, section 5).

Example:

```python
likelihood = mmdvae.likelihoods.get("bernoulli")
outputs = model.decoder(z)
loss = likelihood.negative_log_likelihood(images, outputs)   # [batch], nats
```
"""

import math

import keras
import tensorflow as tf

from mmdvae import checks, losses


class Likelihood:
    """Base class: a distribution over one example given the decoder's outputs."""

    name: str = ""
    #: Decoder values per data channel.
    values_per_channel: int = 1
    #: The data range it models; ``None`` for any real value.
    value_range: tuple | None = (0.0, 1.0)
    #: Whether ``sample`` is differentiable in the decoder's outputs.
    reparameterized: bool = False
    #: Whether ``log_likelihood`` in nats needs an assumed decoder variance.
    needs_variance: bool = False

    def output_channels(self, data_channels: int) -> int:
        """Decoder output channels for data with ``data_channels`` channels."""
        return data_channels * self.values_per_channel

    def parameter_shape(self, data_shape) -> tuple:
        """The decoder's output shape for one example of shape ``data_shape``."""
        data_shape = tuple(data_shape)
        return (*data_shape[:-1], self.output_channels(data_shape[-1]))

    def negative_log_likelihood(self, data, outputs):
        """``-log p(x|z)`` of each example, shape ``[batch]``."""
        raise NotImplementedError

    def check_variance(self, variance) -> float | None:
        """``variance`` as a float > 0 when ``needs_variance``; refused otherwise."""
        if variance is not None:
            raise ValueError(
                f"Argument `mse_variance` applies to the 'mse' likelihood only, which has "
                f"no variance of its own; received mse_variance={variance!r} for the "
                f"likelihood {self.name!r}."
            )
        return None

    def log_likelihood(self, data, outputs, variance=None):
        """``log p(x|z)`` of each example in nats, shape ``[batch]``."""
        self.check_variance(variance)
        return -self.negative_log_likelihood(data, outputs)

    def mean(self, outputs):
        """The image the likelihood shows: probabilities or means."""
        raise NotImplementedError

    def sample(self, outputs, noise):
        """Draws ``x ~ p(x|z)`` from standard normal ``noise`` of the data's shape."""
        raise NotImplementedError

    def support(self, data_shape):
        """Every value of ``x``, ``[values, *data_shape]``, when few enough to sum; else None."""
        return None

    def support_probabilities(self, outputs):
        """``p(x = value | z)`` of each value of ``support``, ``[batch, values]``."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


def _uniform_from_normal(noise, margin=1e-6):
    """Uniform numbers from standard normal ones, through the normal CDF."""
    return tf.clip_by_value(0.5 * tf.math.erfc(-noise / tf.sqrt(2.0)), margin, 1.0 - margin)


@keras.saving.register_keras_serializable(package="mmdvae")
class MeanSquaredError(Likelihood):
    """The tutorial's squared error averaged over pixels; the mean is ``sigmoid``.

    ```
    nll(x) = mean_over_pixels (x - sigmoid(outputs))^2
    ```

    A Gaussian with a fixed variance, up to scale and constant (Zhao, Song and
    Ermon, the MMD-VAE tutorial). It has no variance, so its sample is its mean.
    Training uses the averaged error above; ``log_likelihood`` is the Gaussian's
    of an assumed variance ``v`` over the ``D`` values of an example, in nats:

    ```
    log p(x|z) = -||x - sigmoid(outputs)||^2 / (2 v) - D log(2 pi v) / 2
    ```
    """

    name = "mse"
    needs_variance = True

    def negative_log_likelihood(self, data, outputs):
        return losses.mean_squared_error(data, tf.sigmoid(outputs))

    def check_variance(self, variance) -> float:
        if variance is None:
            raise ValueError(
                "The model's likelihood='mse' is no likelihood; pass `mse_variance` (the "
                "fixed variance of an assumed Gaussian decoder) to "
                "estimate log p(x), or use a model with likelihood='bernoulli' or "
                "'gaussian'; received mse_variance=None."
            )
        return checks.check_number("mse_variance", variance, minimum=0.0, strict_minimum=True)

    def log_likelihood(self, data, outputs, variance=None):
        variance = self.check_variance(variance)
        size = math.prod(data.shape[1:])
        # The loss averages the squared error over the `size` values.
        squared_error = self.negative_log_likelihood(data, outputs) * size
        return -squared_error / (2.0 * variance) - 0.5 * size * math.log(
            2.0 * math.pi * variance)

    def mean(self, outputs):
        return tf.sigmoid(outputs)

    def sample(self, outputs, noise):
        return self.mean(outputs)


@keras.saving.register_keras_serializable(package="mmdvae")
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels with logits ``outputs``, summed over pixels.

    ```
    nll(x) = sum_over_pixels sigmoid_cross_entropy(x, outputs)
    ```

    Grey levels in [0, 1] are allowed as soft targets.
    """

    name = "bernoulli"

    def negative_log_likelihood(self, data, outputs):
        return losses.bernoulli_negative_log_likelihood(data, outputs)

    def mean(self, outputs):
        return tf.sigmoid(outputs)

    def sample(self, outputs, noise):
        return tf.cast(_uniform_from_normal(noise) < tf.sigmoid(outputs), outputs.dtype)


@keras.saving.register_keras_serializable(package="mmdvae")
class Gaussian(Likelihood):
    """Per-pixel Gaussian with a learned standard deviation, summed over pixels.

    ```
    nll(x) = sum_over_pixels (x - mean)^2 / (2 std^2) + log std + log(2 pi) / 2
    ```

    The decoder gives two values per channel. ``bounded=True`` (``"gaussian"``):
    ``mean = sigmoid(.)`` in [0, 1] and ``std = max(sigmoid(.), 0.005)``, as the
    InfoVAE authors' evaluation script. ``bounded=False``
    (``"unbounded_gaussian"``): ``mean`` is the raw output and
    ``std = 0.005 + softplus(.)``, for data of any range (standardise it first
    for a well-scaled std). ``min_std`` replaces the floor 0.005 (0: none); the
    floor bounds ``log p(x|z)`` per value by ``-log(min_std) - log(2 pi) / 2``.

    Args:
        bounded: mean in [0, 1] (``True``, default) or any real value.
        min_std: the floor of the standard deviation (>= 0). Defaults to 0.005.
    """

    values_per_channel = 2
    reparameterized = True

    def __init__(self, bounded: bool = True, min_std: float = losses.MIN_DECODER_STD):
        if not isinstance(bounded, bool):
            raise TypeError(f"Argument `bounded` must be a bool; received bounded={bounded!r}.")
        self.bounded = bounded
        self.min_std = checks.check_number("min_std", min_std, minimum=0.0, maximum=1.0)
        self.name = "gaussian" if bounded else "unbounded_gaussian"
        self.value_range = (0.0, 1.0) if bounded else None

    def get_config(self):
        return {"bounded": self.bounded, "min_std": self.min_std}

    def mean_and_std(self, outputs):
        mean, std_outputs = tf.split(outputs, 2, axis=-1)
        if self.bounded:
            return tf.sigmoid(mean), tf.maximum(tf.sigmoid(std_outputs), self.min_std)
        return mean, self.min_std + tf.nn.softplus(std_outputs)

    def negative_log_likelihood(self, data, outputs):
        mean, std = self.mean_and_std(outputs)
        return losses.gaussian_negative_log_likelihood(data, mean, std)

    def mean(self, outputs):
        return self.mean_and_std(outputs)[0]

    def sample(self, outputs, noise):
        mean, std = self.mean_and_std(outputs)
        return mean + std * noise


@keras.saving.register_keras_serializable(package="mmdvae")
class Categorical(Likelihood):
    """One-hot data over the last axis, summed over the other axes.

    ```
    nll(x) = -sum x . log_softmax(outputs)
    ```

    Samples are Gumbel-softmax relaxations at ``temperature`` (Jang et al.,
    ICLR 2017), differentiable in the outputs; used by the Mutual Autoencoder
    poster's discrete toys. A single categorical variable has a ``support`` of
    its one-hot vectors, so sums over ``x`` can be exact.

    Args:
        temperature: the relaxation's temperature (> 0). Defaults to 0.5.
    """

    name = "categorical"
    reparameterized = True

    def __init__(self, temperature: float = 0.5):
        self.temperature = checks.check_number(
            "temperature", temperature, minimum=0.0, strict_minimum=True
        )

    def get_config(self):
        return {"temperature": self.temperature}

    def negative_log_likelihood(self, data, outputs):
        return losses.categorical_negative_log_likelihood(data, outputs)

    def mean(self, outputs):
        return tf.nn.softmax(outputs, axis=-1)

    def sample(self, outputs, noise):
        gumbel = -tf.math.log(-tf.math.log(_uniform_from_normal(noise)))
        return tf.nn.softmax((outputs + gumbel) / self.temperature, axis=-1)

    def support(self, data_shape):
        """The one-hot vectors of a single categorical variable (``data_shape = (categories,)``)."""
        if len(data_shape) != 1:
            return None
        return tf.eye(data_shape[0])

    def support_probabilities(self, outputs):
        return tf.nn.softmax(outputs, axis=-1)


@keras.saving.register_keras_serializable(package="mmdvae")
class DiscretizedLogistic(Likelihood):
    """8-bit pixels from a logistic distribution discretised to 256 levels.

    PixelCNN++'s likelihood of one sub-pixel (Salimans, Karpathy, Chen and
    Kingma, ICLR 2017; one mixture component), for images whose pixels are
    ``k / 255``. The decoder gives a location ``mu`` (the raw output) and a
    ``log_scale`` (floored at ``MIN_LOG_SCALE``) per channel; a pixel's
    probability is the mass of its bin of width ``1/255``, and the lowest and
    highest bins take the tails:

    ```
    P(x) = F(x + 1/510) - F(x - 1/510)      F(y) = sigmoid((y - mu) / scale)
    P(0) = F(1/510)        P(1) = 1 - F(1 - 1/510)
    nll(x) = -sum_over_sub_pixels log P(x)
    ```

    ``mean`` is the mean of the logistic clipped to [0, 1],
    ``scale * (softplus(mu / scale) - softplus((mu - 1) / scale))``, within
    half a grey level of the discretised mean; ``sample`` draws the logistic,
    clips it to [0, 1] and rounds it to the nearest level, which is an exact
    draw of ``P``.
    """

    name = "discretized_logistic"
    values_per_channel = 2
    #: PixelCNN++'s floor -7 of the log-scale of [-1, 1] data, for [0, 1] data.
    MIN_LOG_SCALE = -7.0 - math.log(2.0)
    #: Grey levels of 8-bit pixels.
    LEVELS = 256

    def location_and_log_scale(self, outputs):
        location, log_scale = tf.split(outputs, 2, axis=-1)
        return location, tf.maximum(log_scale, self.MIN_LOG_SCALE)

    def log_probability(self, data, outputs):
        """``log P(x)`` of every sub-pixel, shape of ``data``."""
        location, log_scale = self.location_and_log_scale(outputs)
        data = tf.cast(data, location.dtype)
        inverse_scale = tf.exp(-log_scale)
        half_bin = 0.5 / (self.LEVELS - 1)
        upper = inverse_scale * (data - location + half_bin)
        lower = inverse_scale * (data - location - half_bin)
        log_cdf_upper = -tf.nn.softplus(-upper)
        log_survival_lower = -tf.nn.softplus(lower)
        # log(F(upper) - F(lower)) without cancellation:
        # sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)).
        log_bin = (log_cdf_upper + log_survival_lower
                   + tf.math.log(-tf.math.expm1(lower - upper)))
        return tf.where(data < half_bin, log_cdf_upper,
                        tf.where(data > 1.0 - half_bin, log_survival_lower, log_bin))

    def negative_log_likelihood(self, data, outputs):
        log_probability = self.log_probability(data, outputs)
        return -tf.reduce_sum(tf.reshape(log_probability, [tf.shape(log_probability)[0], -1]),
                              axis=-1)

    def mean(self, outputs):
        location, log_scale = self.location_and_log_scale(outputs)
        scale = tf.exp(log_scale)
        clipped_mean = scale * (tf.nn.softplus(location / scale)
                                - tf.nn.softplus((location - 1.0) / scale))
        return tf.clip_by_value(clipped_mean, 0.0, 1.0)

    def sample(self, outputs, noise):
        location, log_scale = self.location_and_log_scale(outputs)
        uniform = _uniform_from_normal(tf.cast(noise, location.dtype))
        logistic = location + tf.exp(log_scale) * (tf.math.log(uniform) - tf.math.log1p(-uniform))
        levels = self.LEVELS - 1
        return tf.round(tf.clip_by_value(logistic, 0.0, 1.0) * levels) / levels


_NAMED = {
    "mse": MeanSquaredError,
    "bernoulli": Bernoulli,
    "gaussian": lambda: Gaussian(bounded=True),
    "unbounded_gaussian": lambda: Gaussian(bounded=False),
    "categorical": Categorical,
    "discretized_logistic": DiscretizedLogistic,
}

#: Likelihood names, the ``likelihood=`` argument of the models. ``"pixelcnn"`` is
#: registered by ``mmdvae.pixelcnn`` (a Keras layer with weights, built on the classes
#: above), which ``mmdvae.models`` imports.
LIKELIHOODS = (*_NAMED, "pixelcnn")


def register(name: str, make) -> None:
    """Makes ``make()`` the likelihood called ``name`` (a name in ``LIKELIHOODS``)."""
    checks.check_choice("name", name, LIKELIHOODS)
    _NAMED[name] = make


def get(likelihood) -> Likelihood:
    """Returns the likelihood named ``likelihood``, or ``likelihood`` itself.

    Args:
        likelihood: a name in ``LIKELIHOODS``, a ``Likelihood``, or the
            serialised form ``serialize`` returns.
    """
    if isinstance(likelihood, Likelihood):
        return likelihood
    if isinstance(likelihood, dict):
        return keras.saving.deserialize_keras_object(likelihood)
    checks.check_choice("likelihood", likelihood, LIKELIHOODS)
    if likelihood not in _NAMED:
        raise ValueError(f"Likelihood {likelihood!r} is registered by its module: "
                         f"`import mmdvae.{likelihood}` (or `mmdvae.models`) first.")
    return _NAMED[likelihood]()


def serialize(likelihood: Likelihood):
    """The likelihood's name when it is a named one with its defaults, else a dict."""
    if likelihood.name in _NAMED:
        default = _NAMED[likelihood.name]()
        # By settings, not `==`: a PixelCNN is equal only to itself (its weights are its own).
        if type(default) is type(likelihood) and default.get_config() == likelihood.get_config():
            return likelihood.name
    return keras.saving.serialize_keras_object(likelihood)

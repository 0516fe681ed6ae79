"""The kernels as objects, and `get_kernel`, which resolves a kernel argument.

A kernel is `Tutorial()`, `RBF(bandwidth)` or `InverseMultiquadric(scales)`,
each with its formula in its docstring, or a subclass of `Kernel`; the names
`"tutorial"`, `"rbf"` and `"inverse_multiquadric"` are shortcuts for them.
Every kernel is a function of the squared distances `||x - y||^2`, serialisable
with `get_config`, and registered with Keras so that it saves inside a `.keras`
model.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.kernels.distances import compute_kernel, squared_distances
from mmdvae.kernels.median import median_bandwidth

KERNELS = ("tutorial", "rbf", "inverse_multiquadric")
METHODS = ("matmul", "tiled")
INVERSE_MULTIQUADRIC_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
MEDIAN = "median"


# === Checks of the kernels' settings ===


def _is_median(bandwidth) -> bool:
    return isinstance(bandwidth, str) and bandwidth == MEDIAN


def _check_positive(argument: str, value, hint: str = "") -> float:
    """A finite number > 0, returned as a float; `hint` ends the message."""
    if (isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real)
            or not (math.isfinite(value) and value > 0)):
        raise ValueError(
            f"Argument `{argument}` must be a number > 0; received "
            f"{argument}={value!r}{hint}."
        )
    return float(value)


def _check_bandwidth(bandwidth):
    """A finite number > 0 (returned as a float), `"median"`, or a tensor (used as is)."""
    if isinstance(bandwidth, tf.Tensor | tf.Variable) or _is_median(bandwidth):
        return bandwidth
    if isinstance(bandwidth, str | bytes):
        raise ValueError(
            f"Argument `bandwidth` must be a number > 0 or {MEDIAN!r}; received "
            f"bandwidth={bandwidth!r}."
        )
    return _check_positive(
        "bandwidth", bandwidth, f" (or pass {MEDIAN!r} for the median heuristic)")


def _check_scales(scales) -> tuple:
    if (isinstance(scales, str | bytes) or not isinstance(scales, Sequence | np.ndarray)
            or len(scales) == 0 or not all(
                isinstance(scale, numbers.Real) and not isinstance(scale, bool | np.bool_)
                and math.isfinite(scale) and scale > 0 for scale in scales)):
        raise ValueError(
            f"Argument `scales` must be a non-empty sequence of numbers > 0; "
            f"received scales={scales!r}."
        )
    return tuple(float(scale) for scale in scales)



def _as_dtype(value, dtype: tf.DType) -> tf.Tensor:
    # `tf.cast` of a Python float would round it to float32 first.
    return tf.cast(tf.convert_to_tensor(value, dtype_hint=dtype), dtype)


def _num_columns(x, dtype: tf.DType) -> tf.Tensor:
    return tf.cast(tf.shape(tf.convert_to_tensor(x))[1], dtype)


@keras.saving.register_keras_serializable(package="mmdvae")
class Kernel:
    """Base class of the kernels: `kernel(x, y)` is the `[n, m]` kernel matrix.

    A subclass implements `__call__(x, y)` (TensorFlow operations, so that it
    runs in `tf.function` and under XLA) and, when it has settings,
    `get_config()`; `from_config(config)` is `cls(**config)`. Settings computed
    from the data, such as the median heuristic, are fixed by `resolved(x, y)`;
    the base kernel has none. Two kernels are equal when their classes and
    configs are. Register a subclass with
    `keras.saving.register_keras_serializable` to save it inside a `.keras` model.

    Example:

    ```python
    @keras.saving.register_keras_serializable(package="my_package")
    class Laplace(mmdvae.kernels.Kernel):
        def __call__(self, x, y):
            distances = mmdvae.kernels.squared_distances(x, y)
            return tf.exp(-tf.sqrt(distances + 1e-12))

    mmdvae.MMDVAE(latent_dim=8, kernel=Laplace())
    ```
    """

    #: The shortcut that names the kernel, for messages and reports.
    name = "kernel"

    def __call__(self, x, y) -> tf.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define __call__(x, y).")

    def resolved(self, x, y=None, max_rows: int | None = None) -> Kernel:
        """This kernel with its data-dependent settings fixed from `x` and `y` pooled."""
        return self

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Kernel:
        return cls(**config)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


@keras.saving.register_keras_serializable(package="mmdvae")
class Tutorial(Kernel):
    """The kernel of the InfoVAE tutorial (Zhao, Song, Ermon, AAAI 2019).

    ```
    k(x, y) = exp(-||x - y||^2 / d^2)
    ```

    with `d` the number of columns: an RBF kernel with `bandwidth = d / sqrt(2)`.

    Args:
        method: `"matmul"` (default; O(n m) memory, `squared_distances`) or
            `"tiled"` (the tutorial's O(n m d) computation, `compute_kernel`).

    Example:

    >>> Tutorial()(tf.zeros([3, 2]), tf.ones([4, 2])).shape
    TensorShape([3, 4])
    """

    name = "tutorial"

    def __init__(self, method: str = "matmul"):
        self.method = checks.check_choice("method", method, METHODS)

    def __call__(self, x, y) -> tf.Tensor:
        if self.method == "tiled":
            return compute_kernel(x, y)
        distances = squared_distances(x, y)
        dim = _num_columns(x, distances.dtype)
        return tf.exp(-distances / tf.square(dim))

    def get_config(self) -> dict:
        return {"method": self.method}


class _BandwidthKernel(Kernel):
    """A kernel with a `bandwidth` that may be `"median"` (set per call or by `resolved`)."""

    bandwidth = None

    def resolved(self, x, y=None, max_rows: int | None = None) -> Kernel:
        """The kernel with `bandwidth="median"` replaced by `median_bandwidth(x, y)`.

        Executed eagerly, the bandwidth is a Python float, and a median of 0 (more
        than half of the pairs coincide) is refused with a `ValueError`; in a graph
        it is a tensor, without gradient.
        """
        if not _is_median(self.bandwidth):
            return self
        bandwidth = median_bandwidth(x, y, max_rows)
        if tf.executing_eagerly():
            bandwidth = float(bandwidth)
            if not bandwidth > 0.0:
                raise ValueError(
                    "The median heuristic gave bandwidth 0: more than half of the pooled "
                    "rows' pairs coincide. Pass a number as `bandwidth`."
                )
        return self.from_config({**self.get_config(), "bandwidth": bandwidth})

    def _bandwidth_for(self, x, y, dtype: tf.DType) -> tf.Tensor:
        bandwidth = self.bandwidth
        if _is_median(bandwidth):
            bandwidth = median_bandwidth(x, y)
        return _as_dtype(bandwidth, dtype)


@keras.saving.register_keras_serializable(package="mmdvae")
class RBF(_BandwidthKernel):
    """Gaussian (RBF) kernel with an explicit bandwidth or the median heuristic.

    ```
    k(x, y) = exp(-||x - y||^2 / (2 * bandwidth^2))
    ```

    Args:
        bandwidth: kernel width, a number > 0, or `"median"`: `median_bandwidth`
            of the rows of the call's `x` and `y` pooled (`compute_mmd` and
            `mmd_test` pool their two samples once for every kernel matrix,
            through `resolved`). Default 1.0. The tutorial kernel is the case
            `bandwidth = d / sqrt(2)`.

    Example:

    >>> RBF(bandwidth=2.0)(tf.zeros([3, 2]), tf.ones([4, 2])).shape
    TensorShape([3, 4])
    """

    name = "rbf"

    def __init__(self, bandwidth: float | str = 1.0):
        self.bandwidth = _check_bandwidth(bandwidth)

    def __call__(self, x, y) -> tf.Tensor:
        distances = squared_distances(x, y)
        bandwidth = self._bandwidth_for(x, y, distances.dtype)
        return tf.exp(-distances / (2.0 * tf.square(bandwidth)))

    def get_config(self) -> dict:
        return {"bandwidth": self.bandwidth}


@keras.saving.register_keras_serializable(package="mmdvae")
class InverseMultiquadric(_BandwidthKernel):
    """Multi-scale inverse multiquadric kernel of the Wasserstein autoencoder.

    ```
    k(x, y) = sum_s C_s / (C_s + ||x - y||^2),   C_s = 2 * d * prior_variance * s
    ```

    for `s` in `scales`. Tolstikhin et al., "Wasserstein Auto-Encoders", ICLR 2018,
    use `C = 2 d sigma^2` for a `N(0, sigma^2 I)` prior. As in the authors' code, the
    scale multiplies the prior variance, `C_s = 2 d (s sigma^2)`, and the kernels of
    all scales are summed.

    Given a `bandwidth` instead of `prior_variance`, the constants are
    `C_s = 2 * s * bandwidth^2`, so that, like the RBF kernel, the kernel is a
    function of `||x - y||^2 / (2 bandwidth^2)`:
    `k = sum_s s / (s + ||x - y||^2 / (2 bandwidth^2))`. `bandwidth = sqrt(d
    prior_variance)` gives the WAE constants; `bandwidth="median"` the median
    heuristic (`median_bandwidth`).

    Args:
        scales: positive multipliers of the base constant. Default
            `(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)`.
        prior_variance: variance `sigma^2` of each prior dimension, > 0. Default
            None: 1.0, unless `bandwidth` is given.
        bandwidth: None (default), a number > 0 or `"median"`; exclusive with
            `prior_variance`.

    Example:

    >>> InverseMultiquadric(scales=(0.5, 2.0))(tf.zeros([3, 2]), tf.ones([4, 2])).shape
    TensorShape([3, 4])
    """

    name = "inverse_multiquadric"

    def __init__(self, scales: Sequence[float] = INVERSE_MULTIQUADRIC_SCALES,
                 prior_variance: float | None = None, bandwidth: float | str | None = None):
        self.scales = _check_scales(scales)
        if prior_variance is not None and bandwidth is not None:
            raise ValueError(
                f"Arguments `prior_variance` and `bandwidth` of the inverse multiquadric "
                f"kernel are exclusive; received prior_variance={prior_variance!r} and "
                f"bandwidth={bandwidth!r}."
            )
        if prior_variance is not None:
            prior_variance = _check_positive("prior_variance", prior_variance)
        self.prior_variance = prior_variance
        self.bandwidth = None if bandwidth is None else _check_bandwidth(bandwidth)

    def __call__(self, x, y) -> tf.Tensor:
        distances = squared_distances(x, y)
        if self.bandwidth is None:
            dim = _num_columns(x, distances.dtype)
            variance = 1.0 if self.prior_variance is None else self.prior_variance
            base = 2.0 * dim * _as_dtype(variance, distances.dtype)
        else:
            base = 2.0 * tf.square(self._bandwidth_for(x, y, distances.dtype))
        constants = [base * scale for scale in self.scales]
        return tf.add_n([constant / (constant + distances) for constant in constants])

    def get_config(self) -> dict:
        return {"scales": self.scales, "prior_variance": self.prior_variance,
                "bandwidth": self.bandwidth}


_NAMED = {"tutorial": Tutorial, "rbf": RBF, "inverse_multiquadric": InverseMultiquadric}


def get_kernel(kernel: str | Kernel | dict = "tutorial", **settings) -> Kernel:
    """The kernel `kernel` names or is, with `settings` replacing its own.

    The one place a kernel argument is resolved: the models, `compute_mmd`,
    `mmd_test`, `mmdvae.evaluation.full_data_mmd` and the command line all call
    it. A setting given as None is left as the kernel has it (so
    `get_kernel("rbf", bandwidth=None)` is `RBF()`).

    Args:
        kernel: a name in `KERNELS` (`"tutorial"`, `"rbf"`,
            `"inverse_multiquadric"`), a `Kernel`, or the serialised form
            `serialize` returns.
        **settings: the kernel's constructor arguments, e.g. `bandwidth=2.0` for
            `"rbf"`; with a `Kernel`, they replace its config's values.

    Returns:
        A `Kernel`.

    Example:

    >>> get_kernel("rbf", bandwidth=2.0)
    RBF(bandwidth=2.0)
    """
    settings = {key: value for key, value in settings.items() if value is not None}
    if isinstance(kernel, dict):
        kernel = keras.saving.deserialize_keras_object(kernel)
    if isinstance(kernel, Kernel):
        kernel_class, config = type(kernel), kernel.get_config()
    elif isinstance(kernel, str) and kernel in _NAMED:
        kernel_class = _NAMED[kernel]
        config = kernel_class().get_config()
    else:
        raise ValueError(
            f"Argument `kernel` must be one of {KERNELS} or a mmdvae.kernels.Kernel; "
            f"received kernel={kernel!r}."
        )
    if not settings:
        return kernel if isinstance(kernel, Kernel) else kernel_class()
    unknown = sorted(set(settings) - set(config))
    if unknown:
        raise ValueError(
            f"Unknown keyword argument(s) {unknown} for kernel={kernel!r}; it takes "
            f"{list(config)}."
        )
    if isinstance(kernel, str):
        return kernel_class(**settings)
    return kernel_class.from_config({**config, **settings})


def serialize(kernel: str | Kernel):
    """A kernel argument as a model's config holds it: a name stays a name, a
    `Kernel` becomes `keras.saving.serialize_keras_object`'s dict."""
    if isinstance(kernel, str):
        return kernel
    return keras.saving.serialize_keras_object(get_kernel(kernel))

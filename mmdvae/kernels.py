"""Kernels and maximum mean discrepancy (MMD) estimators.

The MMD between samples `x` of `q(z)` and `y` of `p(z)` is the divergence of the
MMD-VAE (Zhao, Song, Ermon, "InfoVAE: Information Maximizing Variational
Autoencoders", AAAI 2019, and the accompanying tutorial):

```
MMD^2 = mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) - 2 mean_ij k(x_i, y_j)
```

A kernel is an object: `Tutorial()`, `RBF(bandwidth)` or
`InverseMultiquadric(scales)`, each with its formula in its docstring, or a
subclass of `Kernel`. The names `"tutorial"`, `"rbf"` and
`"inverse_multiquadric"` are shortcuts for them, resolved by `get_kernel`.

One MMD core serves training, evaluation and testing: `compute_mmd` sums the
kernel matrices in float64, whole or block by block, and the models' MMD term,
`mmdvae.evaluation.full_data_mmd` and the statistic of `mmd_test` are that
function. Everything here is plain TensorFlow: it runs eagerly, inside
`tf.function` and under XLA (`jit_compile=True`), with batch sizes known only at
run time; `mmd_test`, the permutation two-sample test, runs eagerly on whole
sample sets.

The `RBF` and `InverseMultiquadric` kernels accept `bandwidth="median"`, the
median heuristic (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012), which
`median_bandwidth` alone computes:

```
bandwidth = median_{i < j} ||z_i - z_j||      over the pooled rows z of x and y
```

(the median of the distances, not of their squares; for an even number of pairs the
mean of the two middle distances, as `np.median`).

Precision: the MMD is a small difference of means of values near 1, so the sums are
accumulated in float64 whatever the input dtype, and the result is cast back to it.
The matrix-product form of the squared distances centres both inputs on their common
mean first, so its rounding error scales with the spread of the samples and not with
their distance from the origin.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from mmdvae import checks

__all__ = [
    "ESTIMATORS",
    "INVERSE_MULTIQUADRIC_SCALES",
    "KERNELS",
    "METHODS",
    "NULL_QUANTILE_LEVELS",
    "RBF",
    "InverseMultiquadric",
    "Kernel",
    "MMDTestResult",
    "Tutorial",
    "compute_kernel",
    "compute_mmd",
    "get_kernel",
    "median_bandwidth",
    "mmd_test",
    "permutation_indices",
    "serialize",
    "squared_distances",
    "stein_surrogate_loss",
    "stein_variational_gradient",
]

KERNELS = ("tutorial", "rbf", "inverse_multiquadric")
ESTIMATORS = ("biased", "unbiased")
METHODS = ("matmul", "tiled")
INVERSE_MULTIQUADRIC_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
MEDIAN = "median"
NULL_QUANTILE_LEVELS = (0.5, 0.9, 0.95, 0.99)

# Size of each `[rows, columns]` float64 block the eager, bounded-memory paths hold
# (64 MiB), and the number of pair distances the median keeps at once (128 MiB).
_BLOCK_BYTES = 2**26
_MEDIAN_MAX_VALUES = 2**24
# Rows and bins of the first pass that brackets the median of many pairs.
_MEDIAN_SUBSAMPLE_ROWS = 2048
_MEDIAN_BINS = 4096


# === Validation ===


def _static_shape_text(tensor: tf.Tensor) -> str:
    return str(tuple(tensor.shape.as_list())) if tensor.shape.rank is not None else "?"


def _validate_pair(x, y) -> tuple[tf.Tensor, tf.Tensor]:
    """Converts `x` and `y` to tensors; checks rank 2, equal dtype and width."""
    x = tf.convert_to_tensor(x)
    y = tf.convert_to_tensor(y, dtype_hint=x.dtype)
    for name, tensor in (("x", x), ("y", y)):
        if not tensor.dtype.is_floating:
            raise ValueError(
                f"Argument `{name}` must be a floating point tensor; received "
                f"dtype {tensor.dtype.name}."
            )
        if tensor.shape.rank is not None and tensor.shape.rank != 2:
            raise ValueError(
                f"Argument `{name}` must have rank 2 (num_samples, dim); received "
                f"shape {_static_shape_text(tensor)}."
            )
    if x.dtype != y.dtype:
        raise ValueError(
            f"Arguments `x` and `y` must have the same dtype; received "
            f"{x.dtype.name} and {y.dtype.name}."
        )
    x_dim = x.shape[-1] if x.shape.rank is not None else None
    y_dim = y.shape[-1] if y.shape.rank is not None else None
    if x_dim is not None and y_dim is not None and x_dim != y_dim:
        raise ValueError(
            f"Arguments `x` and `y` must have the same last dimension; received "
            f"x with shape {_static_shape_text(x)} and y with shape "
            f"{_static_shape_text(y)}."
        )
    return x, y


def _choice_error(argument: str, value, allowed: Sequence[str], extra: str = ""):
    return ValueError(
        f"Argument `{argument}` must be one of {tuple(allowed)}{extra}; "
        f"received {argument}={value!r}."
    )


def _check_two_rows(tensor: tf.Tensor, message: str, name: str) -> list:
    """Raises ``message`` for a static row count below 2; else returns run-time asserts."""
    num_rows = tensor.shape[0] if tensor.shape.rank is not None else None
    if num_rows is not None:
        if num_rows < 2:
            raise ValueError(
                f"{message}; received {name} with shape {_static_shape_text(tensor)}."
            )
        return []
    assertion = tf.debugging.assert_greater_equal(tf.shape(tensor)[0], 2, message=message)
    return [assertion] if assertion is not None else []


def _after(assertions: list, value: tf.Tensor) -> tf.Tensor:
    """`value`, computed only once the run-time `assertions` hold."""
    if not assertions:
        return value
    with tf.control_dependencies(assertions):
        return tf.identity(value)


def _is_median(bandwidth) -> bool:
    return isinstance(bandwidth, str) and bandwidth == MEDIAN


def _check_bandwidth(bandwidth):
    """A finite number > 0 (returned as a float), `"median"`, or a tensor (used as is)."""
    if isinstance(bandwidth, tf.Tensor | tf.Variable) or _is_median(bandwidth):
        return bandwidth
    if isinstance(bandwidth, str | bytes):
        raise ValueError(
            f"Argument `bandwidth` must be a number > 0 or {MEDIAN!r}; received "
            f"bandwidth={bandwidth!r}."
        )
    if (isinstance(bandwidth, bool | np.bool_) or not isinstance(bandwidth, numbers.Real)
            or not (math.isfinite(bandwidth) and bandwidth > 0)):
        raise ValueError(
            f"Argument `bandwidth` must be a number > 0; received "
            f"bandwidth={bandwidth!r} (or pass {MEDIAN!r} for the median heuristic)."
        )
    return float(bandwidth)


def _check_positive(argument: str, value) -> float:
    if (isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real)
            or not (math.isfinite(value) and value > 0)):
        raise ValueError(
            f"Argument `{argument}` must be a number > 0; received {argument}={value!r}."
        )
    return float(value)


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


# === Squared distances ===


def compute_kernel(x, y) -> tf.Tensor:
    """The InfoVAE tutorial's kernel, computed on the `[n, m, d]` differences.

    ```
    k(x, y) = exp(-mean_over_dims((x - y)^2) / d) = exp(-||x - y||^2 / d^2)
    ```

    Same operations and the same numbers as `compute_kernel` in the InfoVAE
    tutorial (Zhao, Song, Ermon, AAAI 2019). The tutorial tiles both inputs to
    `[n, m, d]`; broadcasting into `squared_difference` forms the identical tensor
    of squared differences without the tiled copies. Memory is O(n m d);
    `Tutorial()` (its `"matmul"` method) is the O(n m) alternative.

    Args:
        x: `[n, d]` samples.
        y: `[m, d]` samples.

    Returns:
        The `[n, m]` kernel matrix.
    """
    x, y = _validate_pair(x, y)
    dim = tf.cast(tf.shape(x)[1], x.dtype)
    squared_differences = tf.math.squared_difference(
        x[:, tf.newaxis, :], y[tf.newaxis, :, :]
    )
    return tf.exp(-tf.reduce_mean(squared_differences, axis=2) / dim)


def squared_distances(x, y) -> tf.Tensor:
    """Pairwise squared Euclidean distances from one matrix product.

    ```
    ||x_i - y_j||^2 = ||x_i||^2 + ||y_j||^2 - 2 x_i . y_j     (clamped at 0)
    ```

    Both inputs are first centred on their common mean, which leaves the distances
    unchanged but keeps the norms, and so the cancellation error of the expansion,
    on the scale of the distances themselves. When `y` is the same tensor object as
    `x`, the diagonal is exactly 0. Memory is O(n m).

    On GPUs where TensorFloat-32 is enabled (TensorFlow's default on Ampere and
    later), the product runs with a 10-bit mantissa; for precise evaluation turn it
    off with `tf.config.experimental.enable_tensor_float_32_execution(False)`.

    Args:
        x: `[n, d]` samples.
        y: `[m, d]` samples.

    Returns:
        The `[n, m]` matrix of squared distances.
    """
    same_input = y is x
    x, y = _validate_pair(x, y)
    if same_input:
        x_centered = x - tf.reduce_mean(x, axis=0, keepdims=True)
        products = tf.matmul(x_centered, x_centered, transpose_b=True)
        # Norms from the product's own diagonal make the diagonal distances exactly
        # 0 (tf.linalg.set_diag would too, but XLA cannot compile its gradient for
        # a batch size unknown when tracing).
        x_norms = tf.linalg.diag_part(products)
        y_norms = x_norms
    else:
        num_x = tf.cast(tf.shape(x)[0], x.dtype)
        num_y = tf.cast(tf.shape(y)[0], x.dtype)
        center = (
            tf.reduce_sum(x, axis=0, keepdims=True)
            + tf.reduce_sum(y, axis=0, keepdims=True)
        ) / (num_x + num_y)
        x_centered = x - center
        y_centered = y - center
        products = tf.matmul(x_centered, y_centered, transpose_b=True)
        x_norms = tf.reduce_sum(tf.square(x_centered), axis=1)
        y_norms = tf.reduce_sum(tf.square(y_centered), axis=1)
    # Rounding can leave small negative residues where distances vanish.
    return tf.nn.relu(x_norms[:, tf.newaxis] + y_norms[tf.newaxis, :] - 2.0 * products)


# === The median heuristic ===


def _middle_values(values: tf.Tensor, counted: tf.Tensor, num_counted: tf.Tensor):
    """The two middle values (ranks `(N - 1) // 2` and `N // 2`) of `values[counted]`.

    `values` are >= 0 floats. Their bit patterns, read as integers, are ordered as
    the values are, so a binary search over integers finds the value of a rank in
    at most 32 (float32) or 64 (float64) counting passes; XLA's CPU sort of all
    `P^2` entries would be much slower.
    """
    integer_dtype = tf.int64 if values.dtype == tf.float64 else tf.int32
    largest = integer_dtype.max
    bits = tf.where(counted, tf.bitcast(values, integer_dtype), largest)

    def count_at_most(bound):
        return tf.reduce_sum(tf.cast(bits <= bound, tf.int64))

    lower_rank = tf.cast((num_counted - 1) // 2, tf.int64)
    upper_rank = tf.cast(num_counted // 2, tf.int64)

    def narrower(low, high):
        middle = low + (high - low) // 2
        enough = count_at_most(middle) >= lower_rank + 1
        return tf.where(enough, low, middle + 1), tf.where(enough, middle, high)

    high = tf.reduce_max(tf.where(counted, bits, tf.zeros_like(bits)))
    _, lower_bits = tf.while_loop(
        lambda low, high: low < high, narrower, (tf.zeros_like(high), high)
    )
    # The next value up, unless the lower middle value fills the upper rank too.
    next_bits = tf.reduce_min(tf.where(bits > lower_bits, bits, largest))
    upper_bits = tf.where(count_at_most(lower_bits) >= upper_rank + 1, lower_bits, next_bits)
    return (
        tf.bitcast(lower_bits, values.dtype),
        tf.bitcast(upper_bits, values.dtype),
    )


def _pair_distance_blocks(pooled: np.ndarray, block_size: int):
    """Yields `||z_i - z_j||^2` for the pairs `i < j`, a block of rows at a time."""
    num_rows = len(pooled)
    for start in range(0, num_rows - 1, block_size):
        stop = min(start + block_size, num_rows)
        columns = tf.constant(pooled[start:])
        rows = columns if stop == num_rows else tf.constant(pooled[start:stop])
        block = squared_distances(rows, columns).numpy()
        upper = np.arange(start, num_rows)[np.newaxis, :] > np.arange(start, stop)[:, np.newaxis]
        yield block[upper]


def _median_bin_edges(pooled: np.ndarray) -> np.ndarray:
    """Equal-count bin edges of the squared distances among a subsample of rows."""
    num_rows = len(pooled)
    rows = np.unique(np.linspace(0, num_rows - 1, _MEDIAN_SUBSAMPLE_ROWS).astype(np.int64))
    subsample = pooled[rows]
    values = np.concatenate(list(_pair_distance_blocks(subsample, _MEDIAN_SUBSAMPLE_ROWS)))
    levels = np.linspace(0.0, 1.0, _MEDIAN_BINS + 1)[1:-1]
    return np.unique(np.quantile(values, levels))


def _median_pair_distance(pooled: np.ndarray, block_size: int) -> float:
    """`np.median` of the distances between the pooled rows, in bounded memory.

    With at most `_MEDIAN_MAX_VALUES` pairs, all squared distances are kept and
    partitioned. With more, a first pass counts them in bins whose edges are
    quantiles of a subsample's distances, and a second keeps only the bins that
    hold the two middle ranks (about `N / _MEDIAN_BINS` values each): still exact.
    """
    num_rows = len(pooled)
    num_pairs = num_rows * (num_rows - 1) // 2
    ranks = ((num_pairs - 1) // 2, num_pairs // 2)
    lower, upper, below, count = -np.inf, np.inf, 0, num_pairs
    if num_pairs > _MEDIAN_MAX_VALUES:
        edges = _median_bin_edges(pooled)
        counts = np.zeros(len(edges) + 1, np.int64)
        for values in _pair_distance_blocks(pooled, block_size):
            bins = np.searchsorted(edges, values, side="right")
            counts += np.bincount(bins, minlength=len(edges) + 1)
        cumulative = np.cumsum(counts)
        # Bin j holds the values in [edges[j - 1], edges[j]).
        first, last = np.searchsorted(cumulative, ranks, side="right")
        lower = edges[first - 1] if first > 0 else -np.inf
        upper = edges[last] if last < len(edges) else np.inf
        below = int(cumulative[first - 1]) if first > 0 else 0
        count = int(cumulative[last]) - below
    kept = np.empty(count)
    filled = 0
    for values in _pair_distance_blocks(pooled, block_size):
        if num_pairs > _MEDIAN_MAX_VALUES:
            values = values[(values >= lower) & (values < upper)]
        kept[filled : filled + len(values)] = values
        filled += len(values)
    middle = np.partition(kept, [ranks[0] - below, ranks[1] - below])
    return float(
        0.5 * (np.sqrt(middle[ranks[0] - below]) + np.sqrt(middle[ranks[1] - below]))
    )


def _evenly_spaced_rows(pooled: tf.Tensor, max_rows: int) -> tf.Tensor:
    num_rows = pooled.shape[0]
    if num_rows is None:
        raise ValueError(
            f"Argument `max_rows` needs a row count known when called; received "
            f"max_rows={max_rows} and samples of shape {_static_shape_text(pooled)}."
        )
    if num_rows <= max_rows:
        return pooled
    return tf.gather(pooled, np.linspace(0, num_rows - 1, max_rows).astype(np.int64))


def median_bandwidth(x, y=None, max_rows: int | None = None) -> tf.Tensor:
    """The median heuristic: the median distance between the pooled rows.

    ```
    bandwidth = median_{i < j} ||z_i - z_j||,   z = the rows of x and y stacked
    ```

    over the `N = P (P - 1) / 2` distinct pairs of the `P` pooled rows; for even
    `N` the mean of the two middle distances (as `np.median`). With `y` omitted or
    the same tensor object as `x`, the rows of `x` alone are pooled. Gretton et al.,
    "A Kernel Two-Sample Test", JMLR 2012, set the Gaussian kernel's width this way.
    Every bandwidth `"median"` of the package is this function's value.

    No gradient flows through the result. In a graph (`tf.function`, XLA), the
    middle ranks are found by a binary search over the `[P, P]` squared distances
    (O(P^2) memory, at most 32 counting passes in float32, 64 in float64).
    Executed eagerly, the distances are formed in float64 a block of rows at a
    time and at most `2^24` of them kept (beyond that many pairs, the ones near
    the middle ranks, found by a counting pass), then partitioned by NumPy: the
    same median, in bounded memory. Half-precision inputs are handled in float32.
    The result is 0 when more than half of the pairs coincide, and the kernels
    then give NaN.

    Args:
        x: `[n, d]` samples.
        y: `[m, d]` samples, or None.
        max_rows: None (default) for every pooled row, or the number of evenly
            spaced pooled rows (`np.linspace(0, P - 1, max_rows)`, truncated) to
            take the median of; needs `P` known when called.

    Returns:
        A scalar tensor of the input dtype.
    """
    if y is None or y is x:
        pooled, _ = _validate_pair(x, x)
    else:
        x, y = _validate_pair(x, y)
        pooled = tf.concat([x, y], axis=0)
    if max_rows is not None:
        max_rows = checks.check_positive_int("max_rows", max_rows, minimum=2)
        pooled = _evenly_spaced_rows(pooled, max_rows)
    dtype = pooled.dtype
    pooled = tf.stop_gradient(pooled)
    if dtype not in (tf.float32, tf.float64):
        pooled = tf.cast(pooled, tf.float32)
    assertions = _check_two_rows(
        pooled, "The median heuristic needs at least 2 rows in the pooled sample (one pair)",
        "rows")
    if tf.executing_eagerly():
        rows = pooled.numpy().astype(np.float64)
        block_size = max(1, _BLOCK_BYTES // (8 * len(rows)))
        return tf.constant(_median_pair_distance(rows, block_size), dtype)
    num_rows = tf.shape(pooled)[0]
    distances = squared_distances(pooled, pooled)
    index = tf.range(num_rows)
    upper = index[:, tf.newaxis] < index[tf.newaxis, :]
    num_pairs = num_rows * (num_rows - 1) // 2
    lower_middle, upper_middle = _middle_values(distances, upper, num_pairs)
    median = _after(assertions, 0.5 * (tf.sqrt(lower_middle) + tf.sqrt(upper_middle)))
    return tf.stop_gradient(tf.cast(median, dtype))


# === Kernel objects ===


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
        if not (isinstance(method, str) and method in METHODS):
            raise _choice_error("method", method, METHODS)
        self.method = method

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
        raise _choice_error("kernel", kernel, KERNELS, " or a mmdvae.kernels.Kernel")
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


# === The MMD core ===


def _estimate(within_x, within_y, cross, num_x, num_y, unbiased: bool):
    """MMD^2 from float64 kernel sums: within `x`, within `y` and across.

    The within sums leave out the diagonal for the unbiased estimator. The same
    arithmetic on tensors and on NumPy arrays (one statistic per split).
    """
    x_pairs = num_x * (num_x - 1.0) if unbiased else num_x * num_x
    y_pairs = num_y * (num_y - 1.0) if unbiased else num_y * num_y
    return within_x / x_pairs + within_y / y_pairs - 2.0 * cross / (num_x * num_y)


def _whole_sums(x, y, kernel: Kernel, unbiased: bool):
    """The three float64 sums from the three kernel matrices."""

    def within(samples):
        matrix = tf.cast(kernel(samples, samples), tf.float64)
        total = tf.reduce_sum(matrix)
        return total - tf.linalg.trace(matrix) if unbiased else total

    cross = tf.reduce_sum(tf.cast(kernel(x, y), tf.float64))
    return within(x), within(y), cross


def _blockwise_sums(x, y, kernel: Kernel, unbiased: bool, block_size: int):
    """The three float64 sums, one `[block_size, block_size]` kernel matrix at a time.

    The rows of `x`, then of `y`, are cut into blocks (the last of each padded
    with zero rows and masked); a `tf.while_loop` runs over the block pairs on
    and above the diagonal, and a within-sample block above the diagonal counts
    twice for its transpose below. Memory is O(block_size^2).
    """
    dim = tf.shape(x)[1]

    def blocks_of(samples):
        num_rows = tf.shape(samples)[0]
        num_blocks = (num_rows + block_size - 1) // block_size
        padded = tf.pad(samples, [[0, num_blocks * block_size - num_rows], [0, 0]])
        mask = tf.cast(tf.range(num_blocks * block_size) < num_rows, tf.float64)
        return (tf.reshape(padded, [num_blocks, block_size, dim]),
                tf.reshape(mask, [num_blocks, block_size]), num_blocks)

    x_blocks, x_masks, num_x_blocks = blocks_of(x)
    y_blocks, y_masks, num_y_blocks = blocks_of(y)
    blocks = tf.concat([x_blocks, y_blocks], axis=0)
    masks = tf.concat([x_masks, y_masks], axis=0)
    num_blocks = num_x_blocks + num_y_blocks

    def body(first, second, sums):
        matrix = tf.cast(kernel(blocks[first], blocks[second]), tf.float64)
        total = tf.reduce_sum(matrix * masks[first][:, tf.newaxis] * masks[second])
        if unbiased:
            # A block on the diagonal leaves out each row's kernel with itself.
            trace = tf.reduce_sum(tf.linalg.diag_part(matrix) * masks[first])
            total -= tf.where(tf.equal(first, second), trace, tf.zeros_like(trace))
        first_in_x, second_in_x = first < num_x_blocks, second < num_x_blocks
        which = tf.where(first_in_x & second_in_x, 0,
                         tf.where(~first_in_x & ~second_in_x, 1, 2))
        multiplicity = tf.where((first != second) & (which != 2), 2.0, 1.0)
        weight = tf.cast(multiplicity, tf.float64) * tf.one_hot(which, 3, dtype=tf.float64)
        last = second + 1 >= num_blocks
        return (tf.where(last, first + 1, first), tf.where(last, first + 1, second + 1),
                sums + weight * total)

    _, _, sums = tf.while_loop(
        lambda first, second, sums: first < num_blocks, body,
        (tf.constant(0), tf.constant(0), tf.zeros([3], tf.float64)),
    )
    return sums[0], sums[1], sums[2]


def compute_mmd(
    x,
    y,
    kernel: str | Kernel = "tutorial",
    estimator: str = "biased",
    block_size: int | None = None,
    **kernel_settings,
) -> tf.Tensor:
    """Squared maximum mean discrepancy between the samples `x` and `y`.

    ```
    biased:   mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) - 2 mean_ij k(x_i, y_j)
    unbiased: sum_{i != j} k(x_i, x_j) / (n (n - 1))
              + sum_{i != j} k(y_i, y_j) / (m (m - 1)) - 2 mean_ij k(x_i, y_j)
    ```

    The package's one MMD: the models' MMD term, `mmd_test`'s statistic and
    `mmdvae.evaluation.full_data_mmd` are this function. The biased
    (V-statistic) estimator with the default kernel is the MMD of the InfoVAE
    tutorial and code (Zhao, Song, Ermon, AAAI 2019); the unbiased (U-statistic)
    one can be negative. The three sums are accumulated in float64 and the
    result is returned in the input dtype. With the whole kernel matrices
    (`block_size=None`) it is differentiable with respect to `x` and `y`; with a
    `block_size` it holds one `[block_size, block_size]` matrix at a time, for
    sets too large for three whole ones.

    The unbiased estimator needs at least two rows in `x` and in `y`. A known row
    count is checked at once (`ValueError`); a row count known only at run time is
    checked by `tf.debugging.assert_greater_equal` (`InvalidArgumentError`), except
    under XLA, which compiles that assertion to nothing: there the result is NaN.

    Args:
        x: `[n, d]` samples, e.g. encodings of a batch.
        y: `[m, d]` samples, e.g. draws from the prior; `m` may differ from `n`.
        kernel: a name in `KERNELS` or a `Kernel`, see `get_kernel`. Default
            `"tutorial"`. A `bandwidth="median"` is `median_bandwidth(x, y)` of
            this call's `x` and `y` pooled, computed once and shared by the three
            kernel sums, without gradient.
        estimator: `"biased"` (default) or `"unbiased"`.
        block_size: None (default) for whole kernel matrices, or the rows per
            block of the blockwise sums (an integer >= 1).
        **kernel_settings: the kernel's settings, e.g. `bandwidth=2.0` or
            `method="tiled"`, see `get_kernel`.

    Returns:
        A scalar tensor of the input dtype.

    Example:

    >>> encodings = tf.random.normal([200, 8])
    >>> prior_samples = tf.random.normal([200, 8])
    >>> loss = compute_mmd(encodings, prior_samples)
    >>> loss = compute_mmd(encodings, prior_samples, RBF("median"), "unbiased")
    """
    kernel = get_kernel(kernel, **kernel_settings)
    if estimator not in ESTIMATORS:
        raise _choice_error("estimator", estimator, ESTIMATORS)
    if block_size is not None:
        block_size = checks.check_positive_int("block_size", block_size)
    x, y = _validate_pair(x, y)
    kernel = kernel.resolved(x, y)
    unbiased = estimator == "unbiased"
    assertions = []
    if unbiased:
        for name, tensor in (("x", x), ("y", y)):
            assertions += _check_two_rows(
                tensor, f"compute_mmd(estimator='unbiased') needs at least 2 rows in "
                f"`{name}`", name)
    if block_size is None:
        sums = _whole_sums(x, y, kernel, unbiased)
    else:
        sums = _blockwise_sums(x, y, kernel, unbiased, block_size)
    num_x = tf.cast(tf.shape(x)[0], tf.float64)
    num_y = tf.cast(tf.shape(y)[0], tf.float64)
    mmd = _after(assertions, _estimate(*sums, num_x, num_y, unbiased))
    return tf.cast(mmd, x.dtype)


# === Stein variational gradient ===


def stein_variational_gradient(
    z, scores, kernel: str | Kernel = "tutorial", **kernel_settings
) -> tf.Tensor:
    """The Stein variational gradient of ``KL(q || p)`` at the samples ``z``.

    ```
    phi(z_j) = 1/n sum_i [ k(z_i, z_j) grad log p(z_i) + grad_{z_i} k(z_i, z_j) ]
    ```

    Liu and Wang, "Stein Variational Gradient Descent", NeurIPS 2016; the
    InfoVAE paper (Zhao, Song, Ermon, AAAI 2019), appendix B, uses it as the
    divergence ``D``. Moving the samples along ``phi`` lowers the KL fastest in
    the kernel's function space. The kernel must depend on ``z_i - z_j`` only
    (the package's three do): its gradient in ``z_i`` is then minus its gradient
    in ``z_j``, which one backward pass through the kernel matrix gives.
    No gradient flows through the result; it is computed in float64 and
    returned in the input dtype.

    Args:
        z: `[n, d]` samples of `q`.
        scores: `[n, d]` values of ``grad log p(z)`` at `z`.
        kernel: a name in `KERNELS` or a translation-invariant `Kernel`; a
            `bandwidth="median"` is `median_bandwidth(z)`.
        **kernel_settings: the kernel's settings, see `get_kernel`.

    Returns:
        The `[n, d]` tensor ``phi(z_j)``.
    """
    kernel = get_kernel(kernel, **kernel_settings)
    z, scores = _validate_pair(tf.stop_gradient(z), tf.stop_gradient(scores))
    kernel = kernel.resolved(z)
    dtype = z.dtype
    z, scores = tf.cast(z, tf.float64), tf.cast(scores, tf.float64)
    targets = tf.identity(z)
    with tf.GradientTape() as tape:
        tape.watch(targets)
        matrix = kernel(z, targets)
        total = tf.reduce_sum(matrix)
    # sum_i grad_{z_i} k(z_i, z_j) = -grad_{z_j} sum_i k(z_i, z_j).
    repulsion = -tape.gradient(total, targets)
    attraction = tf.matmul(matrix, scores, transpose_a=True)
    num_samples = tf.cast(tf.shape(z)[0], tf.float64)
    return tf.stop_gradient(tf.cast((attraction + repulsion) / num_samples, dtype))


def stein_surrogate_loss(
    z, scores, kernel: str | Kernel = "tutorial", **kernel_settings
) -> tf.Tensor:
    """A loss whose gradient in ``z_j`` is ``-phi(z_j) / n`` (InfoVAE appendix B).

    ```
    loss = -1/n sum_j stop_gradient(phi(z_j)) . z_j
    ```

    Back-propagated into an encoder that produced ``z``, it gives the Stein
    variational gradient of ``KL(q(z) || p(z))`` with respect to the encoder's
    parameters, averaged over the batch like the other terms of the models.
    Its value is not a divergence: only its gradient means something.

    Args:
        z: `[n, d]` codes (gradients flow into them).
        scores: `[n, d]` values of ``grad log p(z)`` at `z`.
        kernel: a name in `KERNELS` or a translation-invariant `Kernel`.
        **kernel_settings: the kernel's settings, see `get_kernel`.
    """
    phi = stein_variational_gradient(z, scores, kernel, **kernel_settings)
    return -tf.reduce_mean(tf.reduce_sum(phi * z, axis=1))


# === Permutation two-sample test ===


# Pooled rows up to which `mmd_test`'s statistic is summed from whole kernel matrices.
_WHOLE_MATRIX_ROWS = 4096


@dataclasses.dataclass(frozen=True)
class MMDTestResult:
    """The outcome of `mmd_test`.

    Attributes:
        statistic: the MMD^2 estimate of `x` against `y`, `compute_mmd`'s in float64.
        p_value: `(1 + #{b : null_statistics[b] >= statistic}) / (1 + num_permutations)`.
        null_quantiles: `{level: quantile}` of `null_statistics` at the levels
            `NULL_QUANTILE_LEVELS` (0.5, 0.9, 0.95, 0.99; `np.quantile`, linear).
        num_permutations: the number `B` of permutations.
        null_statistics: `[B]` float64 array, the estimate on each permuted split,
            in the order of `permutation_indices(n + m, B, seed)`.
        bandwidth: the bandwidth the kernel got (the median heuristic resolved to a
            number), or None.
        kernel: the kernel used, its median heuristic resolved.
    """

    statistic: float
    p_value: float
    null_quantiles: dict
    num_permutations: int
    null_statistics: np.ndarray = dataclasses.field(repr=False)
    bandwidth: float | None = None
    kernel: Kernel | None = None


def _validate_integer(argument: str, value, minimum: int) -> int:
    return checks.check_positive_int(argument, value, minimum=minimum)


def _as_sample(argument: str, value, min_rows: int) -> np.ndarray:
    """`value` as a finite `[rows, d]` float64 array with `rows >= min_rows`."""
    try:
        array = np.asarray(value)
    except Exception as error:  # e.g. ragged nested lists
        raise TypeError(
            f"Argument `{argument}` must be a `[num_samples, dim]` array of real "
            f"numbers; received a {type(value).__name__} ({error})."
        ) from error
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"Argument `{argument}` must hold real numbers (integer or floating "
            f"dtype); received dtype {array.dtype}."
        )
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(
            f"Argument `{argument}` must have shape (num_samples, dim) with dim >= 1; "
            f"received shape {array.shape}."
        )
    if array.shape[0] < min_rows:
        raise ValueError(
            f"Argument `{argument}` must have at least {min_rows} rows here; received "
            f"shape {array.shape}."
        )
    array = array.astype(np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"Argument `{argument}` must be finite; received {np.size(finite) - finite.sum()} "
            f"non-finite entries, the first {array[row, column]} at row {row}, "
            f"column {column}."
        )
    return array


def _permutation_chunks(num_samples: int, num_permutations: int, seed: int, chunk: int):
    """Rows of `permutation_indices`, `chunk` at a time, from one generator."""
    generator = np.random.default_rng(seed)
    for start in range(0, num_permutations, chunk):
        keys = generator.random((min(chunk, num_permutations - start), num_samples))
        yield np.argsort(keys, axis=1, kind="stable")


def permutation_indices(num_samples: int, num_permutations: int, seed: int = 0) -> np.ndarray:
    """The permutations of `mmd_test`, reproducible from `seed`.

    Row `b` is a permutation of `range(num_samples)`, the ordering of
    `num_samples` uniform keys drawn by `np.random.default_rng(seed)` (row after
    row). `mmd_test` forms its `b`-th permuted split from it: the pooled rows
    `[x; y]` at its first `n` entries play `x`, the others `y`.

    Args:
        num_samples: `n + m`, the pooled sample size, >= 1.
        num_permutations: number of permutations `B`, >= 1.
        seed: integer >= 0.

    Returns:
        A `[B, num_samples]` int64 array.
    """
    num_samples = _validate_integer("num_samples", num_samples, 1)
    num_permutations = _validate_integer("num_permutations", num_permutations, 1)
    seed = _validate_integer("seed", seed, 0)
    return np.concatenate(
        list(_permutation_chunks(num_samples, num_permutations, seed, num_permutations))
    )


def _row_blocks(pooled: np.ndarray, block_size: int):
    """Yields `(first_row, rows, columns)`: `block_size` rows of `pooled` and all of
    them, as tensors (the same object when one block holds every row)."""
    columns = tf.constant(pooled)
    for first in range(0, len(pooled), block_size):
        if first == 0 and block_size >= len(pooled):
            yield first, columns, columns
        else:
            yield first, tf.constant(pooled[first : first + block_size]), columns




def _split_sums(kernel: Kernel, pooled: np.ndarray, indicators: np.ndarray, block_size: int):
    """`s^T K s`, `s^T K 1` and `s^T diag K` of every split `s`, and `1^T K 1`, `trace K`.

    `K` is the kernel matrix of the pooled rows, formed `block_size` rows at a
    time and never held whole; the indicators enter the products `block_size`
    splits at a time. All in float64.
    """
    num_splits, num_samples = indicators.shape
    within_x = np.zeros(num_splits)
    x_row_sums = np.zeros(num_splits)
    x_diagonal = np.zeros(num_splits)
    total, trace = 0.0, 0.0
    for row_start, block, columns in _row_blocks(pooled, block_size):
        row_stop = min(row_start + block_size, num_samples)
        rows = tf.cast(kernel(block, columns), tf.float64)
        sums_and_diagonal = tf.stack(
            [tf.reduce_sum(rows, axis=1), tf.linalg.diag_part(rows[:, row_start:row_stop])],
            axis=1,
        )
        total += float(tf.reduce_sum(sums_and_diagonal[:, 0]))
        trace += float(tf.reduce_sum(sums_and_diagonal[:, 1]))
        for split_start in range(0, num_splits, block_size):
            split_stop = min(split_start + block_size, num_splits)
            weights = tf.cast(indicators[split_start:split_stop], tf.float64)
            block_weights = weights[:, row_start:row_stop]
            products = tf.matmul(weights, rows, transpose_b=True)
            within_x[split_start:split_stop] += tf.reduce_sum(
                products * block_weights, axis=1
            ).numpy()
            sums = tf.matmul(block_weights, sums_and_diagonal).numpy()
            x_row_sums[split_start:split_stop] += sums[:, 0]
            x_diagonal[split_start:split_stop] += sums[:, 1]
    return within_x, x_row_sums, x_diagonal, total, trace


#: Most memory the split indicators and statistics of `mmd_test` may take (2 GiB).
MAX_MMD_TEST_BYTES = 2**31


def check_mmd_test_size(num_samples: int, num_permutations: int) -> None:
    """Refuses an `mmd_test` whose `(B + 1) (P + 32)` bytes of splits exceed the limit.

    `P = n + m` pooled rows, `B` permutations: a boolean indicator per row and
    four float64 numbers per split.
    """
    size = (num_permutations + 1) * (num_samples + 32)
    if size > MAX_MMD_TEST_BYTES:
        raise ValueError(
            f"Argument `num_permutations` is too large for {num_samples} pooled samples: "
            f"received num_permutations={num_permutations}, whose splits would take about "
            f"{size / 2**30:,.1f} GiB, more than MAX_MMD_TEST_BYTES="
            f"{MAX_MMD_TEST_BYTES / 2**30:g} GiB; use at most "
            f"{MAX_MMD_TEST_BYTES // (num_samples + 32) - 1:,} permutations."
        )


def mmd_test(
    x,
    y,
    kernel: str | Kernel | None = None,
    bandwidth: float | str | None = None,
    estimator: str = "unbiased",
    num_permutations: int = 1000,
    seed: int = 0,
    block_size: int | None = None,
) -> MMDTestResult:
    """Permutation test of `p = q` from samples `x ~ p` and `y ~ q` with the MMD.

    Gretton et al., "A Kernel Two-Sample Test", JMLR 2012: the statistic is
    `compute_mmd(x, y, kernel, estimator)` in float64, and its null distribution
    is that of the same estimate on `B` random re-splits of the pooled sample
    `z = [x; y]` into `n` and `m` rows. The p-value counts the observed split
    among them (Phipson and Smyth, 2010), so it is never 0 and
    `P(p_value <= a) <= a` under the null for any `B`:

    ```
    p_value = (1 + #{b : MMD^2_b >= MMD^2_observed}) / (1 + B)
    ```

    One kernel matrix `K` of the `P = n + m` pooled rows serves every split. With
    `s` the 0/1 indicator of the rows a split gives to `x` and `t = 1 - s`,

    ```
    biased:   s^T K s / n^2 + t^T K t / m^2 - 2 s^T K t / (n m)
    unbiased: (s^T K s - s^T diag K) / (n (n - 1))
              + (t^T K t - t^T diag K) / (m (m - 1)) - 2 s^T K t / (n m)
    ```

    where `s^T K t = s^T K 1 - s^T K s` and `t^T K t = 1^T K 1 - 2 s^T K 1 + s^T K s`:
    all splits come from one product of `K` with the `[B + 1, P]` matrix of
    indicators (the observed split first), in TensorFlow, float64. The observed
    split is ranked among the permuted ones by its value from these same sums,
    so that a permutation that gives `x` the same rows ties with it exactly; it
    equals `statistic` up to float64 rounding.

    Memory: `K` is formed `block_size` rows at a time and never held whole, and
    the indicators enter the product `block_size` permutations at a time; beside
    a few `[block_size, P]` float64 arrays (64 MiB each by default) the test holds
    the `(B + 1) P` bytes of boolean indicators. The statistic is summed from
    whole kernel matrices up to `P = 4096` (about 100 MiB), block by block beyond;
    the median heuristic (`median_bandwidth`) works in bounded memory too. Time is
    O(P^2 (d + B)).

    Args:
        x: `[n, d]` samples, an array or tensor of real numbers.
        y: `[m, d]` samples; `m` may differ from `n`.
        kernel: a name in `KERNELS` or a `Kernel`, see `get_kernel` (`"rbf"`
            alone is `RBF(1.0)`, as everywhere); None (default) for
            `RBF("median")`, the Gaussian kernel with the median heuristic
            (`median_bandwidth` of the pooled sample, computed once).
        bandwidth: None (default: the kernel's own), a number > 0 or `"median"`,
            replacing the kernel's bandwidth.
        estimator: `"unbiased"` (default) or `"biased"`.
        num_permutations: `B`, an integer >= 1 (NumPy integers accepted).
            Default 1000.
        seed: integer >= 0 that fixes the permutations, `permutation_indices(n +
            m, B, seed)`. Default 0.
        block_size: rows of `K`, and permutations, per block; None (default) for
            as many as fit 64 MiB. The result does not depend on it.

    Returns:
        An `MMDTestResult` (statistic, p_value, null_quantiles, num_permutations,
        null_statistics, bandwidth, kernel).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> result = mmd_test(rng.normal(size=(200, 5)), rng.normal(size=(150, 5)) + 0.5)
    >>> result.p_value < 0.05
    True
    """
    # === Arguments, checked before any work ===
    kernel = get_kernel(RBF(MEDIAN) if kernel is None else kernel, bandwidth=bandwidth)
    if estimator not in ESTIMATORS:
        raise _choice_error("estimator", estimator, ESTIMATORS)
    num_permutations = _validate_integer("num_permutations", num_permutations, 1)
    seed = _validate_integer("seed", seed, 0)
    if block_size is not None:
        block_size = _validate_integer("block_size", block_size, 1)
    unbiased = estimator == "unbiased"
    x = _as_sample("x", x, 2 if unbiased else 1)
    y = _as_sample("y", y, 2 if unbiased else 1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"Arguments `x` and `y` must have the same number of columns; received "
            f"x with shape {x.shape} and y with shape {y.shape}."
        )
    num_x, num_y = len(x), len(y)
    num_samples = num_x + num_y
    check_mmd_test_size(num_samples, num_permutations)
    if block_size is None:
        block_size = max(1, _BLOCK_BYTES // (8 * num_samples))
    pooled = np.concatenate([x, y])
    kernel = kernel.resolved(tf.constant(x), tf.constant(y))

    # === The statistic, from the MMD core ===
    statistic = float(compute_mmd(
        tf.constant(x), tf.constant(y), kernel, estimator,
        block_size=None if num_samples <= _WHOLE_MATRIX_ROWS else 1024))

    # === Split indicators: the observed split, then the permutations ===
    indicators = np.zeros((num_permutations + 1, num_samples), bool)
    indicators[0, :num_x] = True
    chunks = _permutation_chunks(num_samples, num_permutations, seed, block_size)
    start = 1
    for chunk in chunks:
        np.put_along_axis(indicators[start : start + len(chunk)], chunk[:, :num_x], True, 1)
        start += len(chunk)

    # === Every split's estimate from s^T K s, s^T K 1 and s^T diag K ===
    within_x, x_row_sums, x_diagonal, total, trace = _split_sums(
        kernel, pooled, indicators, block_size)
    cross = x_row_sums - within_x
    within_y = total - 2.0 * x_row_sums + within_x
    if unbiased:
        within_x, within_y = within_x - x_diagonal, within_y - (trace - x_diagonal)
    statistics = _estimate(within_x, within_y, cross, float(num_x), float(num_y), unbiased)
    observed, null_statistics = float(statistics[0]), statistics[1:]
    exceed = int(np.count_nonzero(null_statistics >= observed))
    quantiles = np.quantile(null_statistics, NULL_QUANTILE_LEVELS)
    bandwidth = getattr(kernel, "bandwidth", None)
    return MMDTestResult(
        statistic=statistic,
        p_value=(1.0 + exceed) / (1.0 + num_permutations),
        null_quantiles=dict(zip(NULL_QUANTILE_LEVELS, quantiles.tolist(), strict=True)),
        num_permutations=num_permutations,
        null_statistics=null_statistics,
        bandwidth=None if bandwidth is None else float(bandwidth),
        kernel=kernel,
    )

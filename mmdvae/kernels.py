"""Kernels and maximum mean discrepancy (MMD) estimators.

The MMD between samples `x` of `q(z)` and `y` of `p(z)` is the divergence of the
MMD-VAE (Zhao, Song, Ermon, "InfoVAE: Information Maximizing Variational
Autoencoders", AAAI 2019, and the accompanying tutorial):

```
MMD^2 = mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) - 2 mean_ij k(x_i, y_j)
```

Everything here is plain TensorFlow: it runs eagerly, inside `tf.function` and under
XLA (`jit_compile=True`), with batch sizes known only at run time.

Precision: the MMD is a small difference of means of values near 1, so the sums are
accumulated in float64 whatever the input dtype, and the result is cast back to it.
The matrix-product form of the squared distances centres both inputs on their common
mean first, so its rounding error scales with the spread of the samples and not with
their distance from the origin.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

__all__ = [
    "ESTIMATORS",
    "INVERSE_MULTIQUADRIC_SCALES",
    "KERNELS",
    "METHODS",
    "compute_kernel",
    "compute_mmd",
    "get_kernel",
    "inverse_multiquadric_kernel",
    "rbf_kernel",
    "squared_distances",
    "tutorial_kernel",
]

KERNELS = ("tutorial", "rbf", "inverse_multiquadric")
ESTIMATORS = ("biased", "unbiased")
METHODS = ("matmul", "tiled")
INVERSE_MULTIQUADRIC_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

KernelFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


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


def _validate_positive(argument: str, value) -> None:
    """Checks `value > 0` when it is a Python or NumPy number (tensors pass)."""
    if isinstance(value, bool) or (
        isinstance(value, numbers.Number | np.ndarray) and not np.all(value > 0)
    ):
        raise ValueError(
            f"Argument `{argument}` must be a number > 0; received "
            f"{argument}={value!r}."
        )


def _validate_method(method: str) -> None:
    if method not in METHODS:
        raise _choice_error("method", method, METHODS)


def _validate_scales(scales: Sequence[float]) -> None:
    if isinstance(scales, str | bytes) or not isinstance(scales, Sequence | np.ndarray):
        raise ValueError(
            f"Argument `scales` must be a non-empty sequence of numbers > 0; "
            f"received scales={scales!r}."
        )
    if len(scales) == 0 or not all(
        isinstance(scale, numbers.Real)
        and not isinstance(scale, bool)
        and scale > 0
        for scale in scales
    ):
        raise ValueError(
            f"Argument `scales` must be a non-empty sequence of numbers > 0; "
            f"received scales={scales!r}."
        )


# === Squared distances and the tutorial kernel ===


def compute_kernel(x, y) -> tf.Tensor:
    """The InfoVAE tutorial's kernel, computed on the `[n, m, d]` differences.

    ```
    k(x, y) = exp(-mean_over_dims((x - y)^2) / d) = exp(-||x - y||^2 / d^2)
    ```

    Same operations and the same numbers as `compute_kernel` in the InfoVAE
    tutorial (Zhao, Song, Ermon, AAAI 2019). The tutorial tiles both inputs to
    `[n, m, d]`; broadcasting into `squared_difference` forms the identical tensor
    of squared differences without the tiled copies. Memory is O(n m d);
    `squared_distances` is the O(n m) alternative.

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


# === Kernels by name ===


def _num_columns(x, dtype: tf.DType) -> tf.Tensor:
    return tf.cast(tf.shape(tf.convert_to_tensor(x))[1], dtype)


def tutorial_kernel(x, y, method: str = "matmul") -> tf.Tensor:
    """The kernel of the InfoVAE tutorial (Zhao, Song, Ermon, AAAI 2019).

    ```
    k(x, y) = exp(-||x - y||^2 / d^2)
    ```

    with `d` the number of columns; an RBF kernel with `bandwidth^2 = d^2 / 2`.

    Args:
        x: `[n, d]` samples.
        y: `[m, d]` samples.
        method: `"matmul"` (default; O(n m) memory, `squared_distances`) or
            `"tiled"` (the tutorial's O(n m d) computation, `compute_kernel`).

    Returns:
        The `[n, m]` kernel matrix.
    """
    _validate_method(method)
    if method == "tiled":
        return compute_kernel(x, y)
    distances = squared_distances(x, y)
    dim = _num_columns(x, distances.dtype)
    return tf.exp(-distances / tf.square(dim))


def rbf_kernel(x, y, bandwidth: float = 1.0) -> tf.Tensor:
    """Gaussian (RBF) kernel with an explicit bandwidth.

    ```
    k(x, y) = exp(-||x - y||^2 / (2 * bandwidth^2))
    ```

    Args:
        x: `[n, d]` samples.
        y: `[m, d]` samples.
        bandwidth: kernel width, > 0. Default 1.0. The tutorial kernel is the
            case `bandwidth = d / sqrt(2)`.

    Returns:
        The `[n, m]` kernel matrix.
    """
    _validate_positive("bandwidth", bandwidth)
    distances = squared_distances(x, y)
    bandwidth = tf.cast(bandwidth, distances.dtype)
    return tf.exp(-distances / (2.0 * tf.square(bandwidth)))


def inverse_multiquadric_kernel(
    x,
    y,
    prior_variance: float = 1.0,
    scales: Sequence[float] = INVERSE_MULTIQUADRIC_SCALES,
) -> tf.Tensor:
    """Multi-scale inverse multiquadric kernel of the Wasserstein autoencoder.

    ```
    k(x, y) = sum_s C_s / (C_s + ||x - y||^2),   C_s = 2 * d * prior_variance * s
    ```

    for `s` in `scales`. Tolstikhin et al., "Wasserstein Auto-Encoders", ICLR 2018,
    use `C = 2 d sigma^2` for a `N(0, sigma^2 I)` prior. As in the authors' code, the
    scale multiplies the prior variance, `C_s = 2 d (s sigma^2)`, and the kernels of
    all scales are summed.

    Args:
        x: `[n, d]` samples.
        y: `[m, d]` samples.
        prior_variance: variance `sigma^2` of each prior dimension, > 0. Default 1.0.
        scales: positive multipliers of the base constant. Default
            `(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)`.

    Returns:
        The `[n, m]` kernel matrix.
    """
    _validate_positive("prior_variance", prior_variance)
    _validate_scales(scales)
    distances = squared_distances(x, y)
    dim = _num_columns(x, distances.dtype)
    base = 2.0 * dim * tf.cast(prior_variance, distances.dtype)
    constants = [base * scale for scale in scales]
    return tf.add_n([constant / (constant + distances) for constant in constants])


_KERNEL_FUNCTIONS = {
    "tutorial": tutorial_kernel,
    "rbf": rbf_kernel,
    "inverse_multiquadric": inverse_multiquadric_kernel,
}

_KERNEL_ARGUMENT_VALIDATORS = {
    "method": _validate_method,
    "bandwidth": functools.partial(_validate_positive, "bandwidth"),
    "prior_variance": functools.partial(_validate_positive, "prior_variance"),
    "scales": _validate_scales,
}


def get_kernel(kernel: str | Callable = "tutorial", **kernel_kwargs) -> KernelFunction:
    """Returns a kernel function `(x, y) -> [n, m] matrix`.

    Args:
        kernel: one of `KERNELS` (`"tutorial"`, `"rbf"`, `"inverse_multiquadric"`)
            or a callable `(x, y, **kernel_kwargs) -> [n, m] matrix`.
        **kernel_kwargs: keyword arguments of the kernel, e.g. `bandwidth` for
            `"rbf"`; checked at once for named kernels.

    Returns:
        A callable `(x, y) -> [n, m] matrix`.

    Example:

    >>> kernel = get_kernel("rbf", bandwidth=2.0)
    >>> kernel(tf.zeros([3, 2]), tf.ones([4, 2])).shape
    TensorShape([3, 4])
    """
    if callable(kernel):
        return functools.partial(kernel, **kernel_kwargs) if kernel_kwargs else kernel
    if not isinstance(kernel, str) or kernel not in _KERNEL_FUNCTIONS:
        raise _choice_error("kernel", kernel, KERNELS, " or a callable")
    function = _KERNEL_FUNCTIONS[kernel]
    allowed = [name for name in inspect.signature(function).parameters][2:]
    unknown = sorted(set(kernel_kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"Unknown keyword argument(s) {unknown} for kernel={kernel!r}; "
            f"allowed: {allowed}."
        )
    for name, value in kernel_kwargs.items():
        _KERNEL_ARGUMENT_VALIDATORS[name](value)
    return functools.partial(function, **kernel_kwargs) if kernel_kwargs else function


# === MMD ===


def _check_min_rows(tensor: tf.Tensor, name: str) -> list:
    """Two rows at least for the unbiased estimator; returns run-time asserts."""
    num_rows = tensor.shape[0] if tensor.shape.rank is not None else None
    if num_rows is not None:
        if num_rows < 2:
            raise ValueError(
                f"compute_mmd(estimator='unbiased') needs at least 2 rows in "
                f"`{name}`; received {name} with shape {_static_shape_text(tensor)}."
            )
        return []
    assertion = tf.debugging.assert_greater_equal(
        tf.shape(tensor)[0],
        2,
        message=(
            f"compute_mmd(estimator='unbiased') needs at least 2 rows in `{name}`"
        ),
    )
    return [assertion] if assertion is not None else []


def _mean_within(matrix: tf.Tensor, unbiased: bool) -> tf.Tensor:
    num_rows = tf.cast(tf.shape(matrix)[0], tf.float64)
    total = tf.reduce_sum(matrix)
    if not unbiased:
        return total / (num_rows * num_rows)
    return (total - tf.linalg.trace(matrix)) / (num_rows * (num_rows - 1.0))


def compute_mmd(
    x,
    y,
    kernel: str | Callable = "tutorial",
    estimator: str = "biased",
    **kernel_kwargs,
) -> tf.Tensor:
    """Squared maximum mean discrepancy between the samples `x` and `y`.

    ```
    biased:   mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) - 2 mean_ij k(x_i, y_j)
    unbiased: sum_{i != j} k(x_i, x_j) / (n (n - 1))
              + sum_{i != j} k(y_i, y_j) / (m (m - 1)) - 2 mean_ij k(x_i, y_j)
    ```

    The biased (V-statistic) estimator with the default kernel is the MMD of the
    InfoVAE tutorial and code (Zhao, Song, Ermon, AAAI 2019); the unbiased
    (U-statistic) one can be negative. The three sums are accumulated in float64
    and the result is returned in the input dtype; it is differentiable with
    respect to `x` and `y`.

    The unbiased estimator needs at least two rows in `x` and in `y`. A known row
    count is checked at once (`ValueError`); a row count known only at run time is
    checked by `tf.debugging.assert_greater_equal` (`InvalidArgumentError`), except
    under XLA, which compiles that assertion to nothing: there the result is NaN.

    Args:
        x: `[n, d]` samples, e.g. encodings of a batch.
        y: `[m, d]` samples, e.g. draws from the prior; `m` may differ from `n`.
        kernel: a name in `KERNELS` or a callable, see `get_kernel`. Default
            `"tutorial"`.
        estimator: `"biased"` (default) or `"unbiased"`.
        **kernel_kwargs: passed to the kernel, e.g. `method="tiled"`,
            `bandwidth=2.0`.

    Returns:
        A scalar tensor of the input dtype.

    Example:

    >>> encodings = tf.random.normal([200, 8])
    >>> prior_samples = tf.random.normal([200, 8])
    >>> loss = compute_mmd(encodings, prior_samples)
    """
    kernel_function = get_kernel(kernel, **kernel_kwargs)
    if estimator not in ESTIMATORS:
        raise _choice_error("estimator", estimator, ESTIMATORS)
    x, y = _validate_pair(x, y)
    unbiased = estimator == "unbiased"
    assertions = (
        _check_min_rows(x, "x") + _check_min_rows(y, "y") if unbiased else []
    )

    def as_float64(matrix: tf.Tensor) -> tf.Tensor:
        return tf.cast(matrix, tf.float64)

    x_kernel = as_float64(kernel_function(x, x))
    y_kernel = as_float64(kernel_function(y, y))
    cross_kernel = as_float64(kernel_function(x, y))
    num_x = tf.cast(tf.shape(x)[0], tf.float64)
    num_y = tf.cast(tf.shape(y)[0], tf.float64)
    cross_mean = tf.reduce_sum(cross_kernel) / (num_x * num_y)
    mmd = (
        _mean_within(x_kernel, unbiased)
        + _mean_within(y_kernel, unbiased)
        - 2.0 * cross_mean
    )
    if assertions:
        with tf.control_dependencies(assertions):
            mmd = tf.identity(mmd)
    return tf.cast(mmd, x.dtype)


# === Stein variational gradient ===


def stein_variational_gradient(
    z, scores, kernel: str | Callable = "tutorial", **kernel_kwargs
) -> tf.Tensor:
    """The Stein variational gradient of ``KL(q || p)`` at the samples ``z``.

    ```
    phi(z_j) = 1/n sum_i [ k(z_i, z_j) grad log p(z_i) + grad_{z_i} k(z_i, z_j) ]
    ```

    Liu and Wang, "Stein Variational Gradient Descent", NeurIPS 2016; the
    InfoVAE paper (Zhao, Song, Ermon, AAAI 2019), appendix B, uses it as the
    divergence ``D``. Moving the samples along ``phi`` lowers the KL fastest in
    the kernel's function space. The kernel must depend on ``z_i - z_j`` only
    (all of ``KERNELS`` do): its gradient in ``z_i`` is then minus its gradient
    in ``z_j``, which one backward pass through the kernel matrix gives.
    No gradient flows through the result; it is computed in float64 and
    returned in the input dtype.

    Args:
        z: `[n, d]` samples of `q`.
        scores: `[n, d]` values of ``grad log p(z)`` at `z`.
        kernel: a name in `KERNELS` or a translation-invariant callable.
        **kernel_kwargs: passed to the kernel, see `get_kernel`.

    Returns:
        The `[n, d]` tensor ``phi(z_j)``.
    """
    kernel_function = get_kernel(kernel, **kernel_kwargs)
    z, scores = _validate_pair(tf.stop_gradient(z), tf.stop_gradient(scores))
    dtype = z.dtype
    z, scores = tf.cast(z, tf.float64), tf.cast(scores, tf.float64)
    targets = tf.identity(z)
    with tf.GradientTape() as tape:
        tape.watch(targets)
        matrix = kernel_function(z, targets)
        total = tf.reduce_sum(matrix)
    # sum_i grad_{z_i} k(z_i, z_j) = -grad_{z_j} sum_i k(z_i, z_j).
    repulsion = -tape.gradient(total, targets)
    attraction = tf.matmul(matrix, scores, transpose_a=True)
    num_samples = tf.cast(tf.shape(z)[0], tf.float64)
    return tf.stop_gradient(tf.cast((attraction + repulsion) / num_samples, dtype))


def stein_surrogate_loss(
    z, scores, kernel: str | Callable = "tutorial", **kernel_kwargs
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
        kernel: a name in `KERNELS` or a translation-invariant callable.
        **kernel_kwargs: passed to the kernel.
    """
    phi = stein_variational_gradient(z, scores, kernel, **kernel_kwargs)
    return -tf.reduce_mean(tf.reduce_sum(phi * z, axis=1))

"""Pairwise squared distances, and the InfoVAE tutorial's kernel as its code computes it.

`squared_distances` (one matrix product, O(n m) memory) is what every kernel of
the package is a function of; `compute_kernel` is the tutorial's own O(n m d)
computation, kept as `Tutorial(method="tiled")`.
"""

from __future__ import annotations

import tensorflow as tf

from mmdvae.kernels._tensors import check_pair


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
    x, y = check_pair(x, y)
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
    x, y = check_pair(x, y)
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

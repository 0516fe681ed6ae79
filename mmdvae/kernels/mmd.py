"""The one MMD core: `compute_mmd`, float64 sums of the kernel matrices.

The MMD between samples `x` of `q(z)` and `y` of `p(z)` is the divergence of the
MMD-VAE (Zhao, Song, Ermon, "InfoVAE: Information Maximizing Variational
Autoencoders", AAAI 2019, and the accompanying tutorial):

```
MMD^2 = mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) - 2 mean_ij k(x_i, y_j)
```

The models' MMD term, `mmdvae.evaluation.full_data_mmd` and the statistic of
`mmd_test` are `compute_mmd`. The MMD is a small difference of means of values
near 1, so the sums are accumulated in float64 whatever the input dtype and the
result is cast back to it. Plain TensorFlow: it runs eagerly, inside
`tf.function` and under XLA (`jit_compile=True`), with batch sizes known only
at run time.
"""

from __future__ import annotations

import tensorflow as tf

from mmdvae import checks
from mmdvae.kernels._tensors import after, check_pair, check_two_rows
from mmdvae.kernels.objects import Kernel, get_kernel

ESTIMATORS = ("biased", "unbiased")


def estimate_from_sums(within_x, within_y, cross, num_x, num_y, unbiased: bool):
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
    checks.check_choice("estimator", estimator, ESTIMATORS)
    if block_size is not None:
        block_size = checks.check_positive_int("block_size", block_size)
    x, y = check_pair(x, y)
    kernel = kernel.resolved(x, y)
    unbiased = estimator == "unbiased"
    assertions = []
    if unbiased:
        for name, tensor in (("x", x), ("y", y)):
            assertions += check_two_rows(
                tensor, f"compute_mmd(estimator='unbiased') needs at least 2 rows in "
                f"`{name}`", name)
    if block_size is None:
        sums = _whole_sums(x, y, kernel, unbiased)
    else:
        sums = _blockwise_sums(x, y, kernel, unbiased, block_size)
    num_x = tf.cast(tf.shape(x)[0], tf.float64)
    num_y = tf.cast(tf.shape(y)[0], tf.float64)
    mmd = after(assertions, estimate_from_sums(*sums, num_x, num_y, unbiased))
    return tf.cast(mmd, x.dtype)

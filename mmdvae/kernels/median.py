"""The median heuristic: the one bandwidth `"median"` of the package.

```
bandwidth = median_{i < j} ||z_i - z_j||      over the pooled rows z of x and y
```

(Gretton et al., "A Kernel Two-Sample Test", JMLR 2012): the median of the
distances, not of their squares; for an even number of pairs the mean of the two
middle distances, as `np.median`. In a graph it is found by a binary search over
the bits of the squared distances; executed eagerly, exactly in bounded memory.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.kernels._tensors import (
    BLOCK_BYTES,
    after,
    check_pair,
    check_two_rows,
    static_shape_text,
)
from mmdvae.kernels.distances import squared_distances

# The number of pair distances the eager median keeps at once (128 MiB).
_MEDIAN_MAX_VALUES = 2**24
# Rows and bins of the first pass that brackets the median of many pairs.
_MEDIAN_SUBSAMPLE_ROWS = 2048
_MEDIAN_BINS = 4096


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
            f"max_rows={max_rows} and samples of shape {static_shape_text(pooled)}."
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
        pooled, _ = check_pair(x, x)
    else:
        x, y = check_pair(x, y)
        pooled = tf.concat([x, y], axis=0)
    if max_rows is not None:
        max_rows = checks.check_positive_int("max_rows", max_rows, minimum=2)
        pooled = _evenly_spaced_rows(pooled, max_rows)
    dtype = pooled.dtype
    pooled = tf.stop_gradient(pooled)
    if dtype not in (tf.float32, tf.float64):
        pooled = tf.cast(pooled, tf.float32)
    assertions = check_two_rows(
        pooled, "The median heuristic needs at least 2 rows in the pooled sample (one pair)",
        "rows")
    if tf.executing_eagerly():
        rows = pooled.numpy().astype(np.float64)
        block_size = max(1, BLOCK_BYTES // (8 * len(rows)))
        return tf.constant(_median_pair_distance(rows, block_size), dtype)
    num_rows = tf.shape(pooled)[0]
    distances = squared_distances(pooled, pooled)
    index = tf.range(num_rows)
    upper = index[:, tf.newaxis] < index[tf.newaxis, :]
    num_pairs = num_rows * (num_rows - 1) // 2
    lower_middle, upper_middle = _middle_values(distances, upper, num_pairs)
    median = after(assertions, 0.5 * (tf.sqrt(lower_middle) + tf.sqrt(upper_middle)))
    return tf.stop_gradient(tf.cast(median, dtype))

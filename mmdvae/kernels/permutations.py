"""The splits of the permutation two-sample test, and their kernel sums.

A split of the `P = n + m` pooled rows `[x; y]` gives `n` of them to `x`: the
observed split its first `n`, the `b`-th permuted one the rows at the first `n`
entries of `permutation_indices(P, B, seed)[b]`. Each split is a 0/1 indicator
`s` of the rows it gives to `x`, and every split's MMD estimate follows from
`s^T K s`, `s^T K 1` and `s^T diag K` of one kernel matrix `K` of the pooled
rows (`split_sums`), which is formed a block of rows at a time.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.kernels.objects import Kernel


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
    num_samples = checks.check_positive_int("num_samples", num_samples, minimum=1)
    num_permutations = checks.check_positive_int("num_permutations", num_permutations, minimum=1)
    seed = checks.check_positive_int("seed", seed, minimum=0)
    return np.concatenate(
        list(_permutation_chunks(num_samples, num_permutations, seed, num_permutations))
    )


def split_indicators(num_x: int, num_samples: int, num_permutations: int, seed: int,
                     chunk: int) -> np.ndarray:
    """The `[B + 1, P]` boolean indicators: the observed split, then the permuted ones.

    The permutations are those of `permutation_indices(P, B, seed)`, drawn
    `chunk` at a time.
    """
    indicators = np.zeros((num_permutations + 1, num_samples), bool)
    indicators[0, :num_x] = True
    start = 1
    for permutations in _permutation_chunks(num_samples, num_permutations, seed, chunk):
        np.put_along_axis(
            indicators[start : start + len(permutations)], permutations[:, :num_x], True, 1)
        start += len(permutations)
    return indicators


def _row_blocks(pooled: np.ndarray, block_size: int):
    """Yields `(first_row, rows, columns)`: `block_size` rows of `pooled` and all of
    them, as tensors (the same object when one block holds every row)."""
    columns = tf.constant(pooled)
    for first in range(0, len(pooled), block_size):
        if first == 0 and block_size >= len(pooled):
            yield first, columns, columns
        else:
            yield first, tf.constant(pooled[first : first + block_size]), columns

def split_sums(kernel: Kernel, pooled: np.ndarray, indicators: np.ndarray, block_size: int):
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

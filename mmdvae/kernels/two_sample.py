"""The MMD permutation two-sample test, `mmd_test`.

Gretton et al., "A Kernel Two-Sample Test", JMLR 2012: is `p = q`, given samples
`x ~ p` and `y ~ q`? The statistic is `compute_mmd`'s estimate in float64; its
null distribution is that of the same estimate on random re-splits of the
pooled sample (`permutations`). Runs eagerly on whole sample sets, in bounded
memory.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.kernels._tensors import BLOCK_BYTES
from mmdvae.kernels.mmd import ESTIMATORS, compute_mmd, estimate_from_sums
from mmdvae.kernels.objects import MEDIAN, RBF, Kernel, get_kernel
from mmdvae.kernels.permutations import split_indicators, split_sums

NULL_QUANTILE_LEVELS = (0.5, 0.9, 0.95, 0.99)

#: Most memory the split indicators and statistics of `mmd_test` may take (2 GiB).
MAX_MMD_TEST_BYTES = 2**31

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
    checks.check_choice("estimator", estimator, ESTIMATORS)
    num_permutations = checks.check_positive_int("num_permutations", num_permutations)
    seed = checks.check_positive_int("seed", seed, minimum=0)
    if block_size is not None:
        block_size = checks.check_positive_int("block_size", block_size)
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
        block_size = max(1, BLOCK_BYTES // (8 * num_samples))
    pooled = np.concatenate([x, y])
    kernel = kernel.resolved(tf.constant(x), tf.constant(y))

    # === The statistic, from the MMD core ===
    statistic = float(compute_mmd(
        tf.constant(x), tf.constant(y), kernel, estimator,
        block_size=None if num_samples <= _WHOLE_MATRIX_ROWS else 1024))

    # === Split indicators: the observed split, then the permutations ===
    indicators = split_indicators(num_x, num_samples, num_permutations, seed, block_size)

    # === Every split's estimate from s^T K s, s^T K 1 and s^T diag K ===
    within_x, x_row_sums, x_diagonal, total, trace = split_sums(
        kernel, pooled, indicators, block_size)
    cross = x_row_sums - within_x
    within_y = total - 2.0 * x_row_sums + within_x
    if unbiased:
        within_x, within_y = within_x - x_diagonal, within_y - (trace - x_diagonal)
    statistics = estimate_from_sums(within_x, within_y, cross, float(num_x), float(num_y), unbiased)
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

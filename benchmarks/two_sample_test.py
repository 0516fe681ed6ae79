"""Time `mmdvae.kernels.mmd_test` against a plain NumPy loop over the same permutations.

Both sides use the same data, the same RBF kernel with the median-heuristic
bandwidth, the unbiased estimator and exactly the permutations of
`permutation_indices(n + m, B, seed)`:

- `mmd_test`: the whole test (median, kernel matrix, every permuted statistic as
  a product of the kernel matrix with the split indicators, in TensorFlow);
- `numpy loop`: the float64 kernel matrix, then one statistic per permutation from
  the sub-matrices `K[x_rows, x_rows]`, `K[y_rows, y_rows]`, `K[x_rows, y_rows]`.

The loop is slow, so only its first `--numpy-permutations` permutations are timed
and its time is scaled to `B` (printed as such); their statistics are checked
against `mmd_test`'s. Run on an otherwise idle machine for meaningful ratios.

    python benchmarks/two_sample_test.py --num-samples 2000 --dim 20 --num-permutations 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from mmdvae import kernels  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def numpy_kernel_matrix(pooled: np.ndarray, bandwidth: float) -> np.ndarray:
    norms = np.sum(pooled**2, axis=1)
    distances = np.maximum(norms[:, None] + norms[None, :] - 2.0 * pooled @ pooled.T, 0.0)
    return np.exp(-distances / (2.0 * bandwidth**2))


def unbiased_statistic(matrix: np.ndarray, x_rows: np.ndarray, y_rows: np.ndarray) -> float:
    within_x = matrix[np.ix_(x_rows, x_rows)]
    within_y = matrix[np.ix_(y_rows, y_rows)]
    num_x, num_y = len(x_rows), len(y_rows)
    return (
        (within_x.sum() - np.trace(within_x)) / (num_x * (num_x - 1))
        + (within_y.sum() - np.trace(within_y)) / (num_y * (num_y - 1))
        - 2.0 * matrix[np.ix_(x_rows, y_rows)].mean()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=2000, help="n = m")
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--num-permutations", type=int, default=1000)
    parser.add_argument("--numpy-permutations", type=int, default=100,
                        help="permutations the NumPy loop runs (its time is scaled)")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    num, dim, num_permutations = arguments.num_samples, arguments.dim, arguments.num_permutations
    numpy_permutations = min(arguments.numpy_permutations, num_permutations)

    rng = np.random.default_rng(arguments.seed)
    x = rng.standard_normal((num, dim))
    y = rng.standard_normal((num, dim)) + 0.05

    kernels.mmd_test(x[:50], y[:50], num_permutations=10)  # loads the TensorFlow kernels
    start = time.perf_counter()
    result = kernels.mmd_test(x, y, num_permutations=num_permutations, seed=arguments.seed)
    test_seconds = time.perf_counter() - start

    start = time.perf_counter()
    pooled = np.concatenate([x, y])
    matrix = numpy_kernel_matrix(pooled, result.bandwidth)
    matrix_seconds = time.perf_counter() - start
    permutations = kernels.permutation_indices(2 * num, num_permutations, arguments.seed)
    start = time.perf_counter()
    null = [unbiased_statistic(matrix, permutation[:num], permutation[num:])
            for permutation in permutations[:numpy_permutations]]
    loop_seconds = time.perf_counter() - start
    numpy_seconds = matrix_seconds + loop_seconds * num_permutations / numpy_permutations
    error = np.max(np.abs(np.array(null) - result.null_statistics[:numpy_permutations]))

    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores; load average "
          f"{os.getloadavg()[0]:.2f} at the end)")
    print(f"n = m = {num}, d = {dim}, B = {num_permutations} permutations, RBF kernel, "
          f"median bandwidth {result.bandwidth:.4f}, unbiased estimator")
    print(f"mmd_test:   {test_seconds:8.2f} s  (statistic {result.statistic:.3e}, "
          f"p-value {result.p_value:.4f})")
    scaled = "" if numpy_permutations == num_permutations else (
        f"; loop timed on {numpy_permutations} permutations ({loop_seconds:.2f} s) "
        f"and scaled x{num_permutations / numpy_permutations:g}")
    print(f"numpy loop: {numpy_seconds:8.2f} s  (kernel matrix {matrix_seconds:.2f} s{scaled})")
    print(f"ratio numpy loop / mmd_test: {numpy_seconds / test_seconds:.1f}")
    print(f"max |difference| of the {numpy_permutations} permuted statistics: {error:.1e}")


if __name__ == "__main__":
    main()

"""Time the tiled and matrix-product MMD paths and measure their error.

Compares, eagerly, inside `tf.function` and under XLA (`jit_compile=True`):

- `tutorial code`: the InfoVAE tutorial's `compute_mmd` (tiled kernel, float32 means);
- `naive matmul`: the matrix-product distances with float32 means, no centring;
- `tiled`: `mmdvae.kernels.compute_mmd(method="tiled")`;
- `matmul`: `mmdvae.kernels.compute_mmd(method="matmul")`, the default.

Times are medians over `--repeats` calls after one warm-up call (which traces and
compiles); `ratio` divides by the tutorial code's time in the same mode. `error` is
the absolute difference from a float64 NumPy evaluation of the same estimator.

    python benchmarks/benchmark_kernels.py --sizes 200,1000,2048 --dims 20,64
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmdvae import kernels  # noqa: E402

MODES = ("eager", "function", "xla")


def tutorial_compute_kernel(x, y):
    """The InfoVAE tutorial's `compute_kernel`."""
    x_size = tf.shape(x)[0]
    y_size = tf.shape(y)[0]
    dim = tf.shape(x)[1]
    tiled_x = tf.tile(tf.reshape(x, tf.stack([x_size, 1, dim])), tf.stack([1, y_size, 1]))  # noqa: E501
    tiled_y = tf.tile(tf.reshape(y, tf.stack([1, y_size, dim])), tf.stack([x_size, 1, 1]))  # noqa: E501
    return tf.exp(
        -tf.reduce_mean(tf.square(tiled_x - tiled_y), axis=2) / tf.cast(dim, tf.float32)
    )


def tutorial_compute_mmd(x, y):
    """The InfoVAE tutorial's `compute_mmd` (biased, float32 means)."""
    return (
        tf.reduce_mean(tutorial_compute_kernel(x, x))
        + tf.reduce_mean(tutorial_compute_kernel(y, y))
        - 2 * tf.reduce_mean(tutorial_compute_kernel(x, y))
    )


def naive_matmul_mmd(x, y):
    """Matrix-product distances and float32 means, without centring."""

    def kernel(a, b):
        distances = (
            tf.reduce_sum(tf.square(a), axis=1)[:, tf.newaxis]
            + tf.reduce_sum(tf.square(b), axis=1)[tf.newaxis, :]
            - 2.0 * tf.matmul(a, b, transpose_b=True)
        )
        dim = tf.cast(tf.shape(a)[1], tf.float32)
        return tf.exp(-tf.maximum(distances, 0.0) / tf.square(dim))

    return (
        tf.reduce_mean(kernel(x, x))
        + tf.reduce_mean(kernel(y, y))
        - 2.0 * tf.reduce_mean(kernel(x, y))
    )


def reference_mmd(x: np.ndarray, y: np.ndarray, estimator: str) -> float:
    """Float64 MMD with the tutorial kernel."""
    dim = x.shape[1]

    def kernel(a, b):
        norms_a = np.sum(a**2, axis=1)[:, None]
        norms_b = np.sum(b**2, axis=1)[None, :]
        distances = norms_a + norms_b - 2.0 * a @ b.T
        return np.exp(-np.maximum(distances, 0.0) / dim**2)

    def within(samples):
        matrix = kernel(samples, samples)
        num = samples.shape[0]
        if estimator == "biased":
            return matrix.sum() / num**2
        return (matrix.sum() - np.trace(matrix)) / (num * (num - 1))

    return within(x) + within(y) - 2.0 * kernel(x, y).mean()


def build_paths(estimator: str) -> dict:
    paths = {}
    if estimator == "biased":
        paths["tutorial code"] = tutorial_compute_mmd
        paths["naive matmul"] = naive_matmul_mmd
    for method in kernels.METHODS[::-1]:
        paths[method] = (
            lambda x, y, method=method: kernels.compute_mmd(
                x, y, method=method, estimator=estimator
            )
        )
    return paths


def compile_modes(function) -> dict:
    signature = [tf.TensorSpec([None, None], tf.float32)] * 2
    return {
        "eager": function,
        "function": tf.function(function, input_signature=signature),
        "xla": tf.function(function, input_signature=signature, jit_compile=True),
    }


def time_call(function, x, y, repeats: int) -> tuple[float, float, float]:
    """Returns (warm-up seconds, median seconds, value)."""
    start = time.perf_counter()
    value = float(function(x, y).numpy())
    warm_up = time.perf_counter() - start
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(x, y).numpy()
        durations.append(time.perf_counter() - start)
    return warm_up, statistics.median(durations), value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per cell")
    parser.add_argument(
        "--sizes", default="200,1000,2048", help="comma-separated n = m values"
    )
    parser.add_argument("--dims", default="20,64", help="comma-separated dimensions")
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated subset of {MODES}"
    )
    parser.add_argument(
        "--estimator", default="biased", choices=kernels.ESTIMATORS
    )
    parser.add_argument(
        "--shift", type=float, default=0.0, help="mean shift of y ~ N(shift, I)"
    )
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    sizes = [int(size) for size in arguments.sizes.split(",")]
    dims = [int(dim) for dim in arguments.dims.split(",")]
    modes = [mode for mode in arguments.modes.split(",") if mode]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown modes {unknown}; allowed: {MODES}")

    paths = build_paths(arguments.estimator)
    runners = {name: compile_modes(function) for name, function in paths.items()}
    baseline = "tutorial code" if "tutorial code" in paths else "tiled"
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, estimator "
        f"{arguments.estimator}, y ~ N({arguments.shift}, I), median of "
        f"{arguments.repeats}; ratio = time / {baseline} time in the same mode"
    )
    header = (
        f"{'n':>5} {'d':>3} {'path':<14} {'mode':<9} {'warm-up s':>10} "
        f"{'time ms':>9} {'ratio':>7} {'MMD':>12} {'abs error':>10}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(arguments.seed)
    for dim in dims:
        for size in sizes:
            x = rng.standard_normal((size, dim)).astype(np.float32)
            y = (arguments.shift + rng.standard_normal((size, dim))).astype(np.float32)
            expected = reference_mmd(
                x.astype(np.float64), y.astype(np.float64), arguments.estimator
            )
            x_tensor, y_tensor = tf.constant(x), tf.constant(y)
            for mode in modes:
                baseline_time = None
                for name in paths:
                    warm_up, median, value = time_call(
                        runners[name][mode], x_tensor, y_tensor, arguments.repeats
                    )
                    if name == baseline:
                        baseline_time = median
                    print(
                        f"{size:>5} {dim:>3} {name:<14} {mode:<9} {warm_up:>10.2f} "
                        f"{1e3 * median:>9.1f} {median / baseline_time:>7.3f} "
                        f"{value:>12.4e} {abs(value - expected):>10.2e}",
                        flush=True,
                    )
            print()


if __name__ == "__main__":
    main()

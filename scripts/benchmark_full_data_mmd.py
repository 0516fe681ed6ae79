"""Time and peak memory of the chunked full-data MMD against the one-shot forms.

Usage (from the repository root):

    PYTHONPATH=. python scripts/benchmark_full_data_mmd.py [--num-codes 10000] \
        [--latent-dim 20] [--chunk-size 1000] [--one-shot]

Peak memory is the process's resident-set high-water mark (Linux ``VmHWM``),
reset before each measurement through ``/proc/self/clear_refs``; it is reported
above the resident size just before the measurement. The one-shot forms are
estimated, not run, unless ``--one-shot`` (the matrix-product form in float64,
which needs gigabytes at 10,000 codes).
"""

import argparse
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmdvae import evaluation, kernels


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(function):
    """Runs ``function``; returns its value, seconds and peak extra memory (MiB)."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    baseline = _status_kib("VmRSS")
    start = time.perf_counter()
    value = function()
    seconds = time.perf_counter() - start
    return value, seconds, (_status_kib("VmHWM") - baseline) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-codes", type=int, default=10_000)
    parser.add_argument("--latent-dim", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--one-shot", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    codes = rng.normal(0.1, 1.1, size=(args.num_codes, args.latent_dim))
    prior = rng.normal(size=(args.num_codes, args.latent_dim))
    n = args.num_codes
    # Warm-up on a small problem so that kernel compilation is not measured.
    evaluation.full_data_mmd(codes[:100], prior[:100], chunk_size=50)

    value, seconds, peak = measure(
        lambda: evaluation.full_data_mmd(codes, prior, chunk_size=args.chunk_size))
    print(f"chunked full_data_mmd, {n} x {n} codes, d={args.latent_dim}, "
          f"chunk {args.chunk_size}: MMD^2 = {value:.12g}, {seconds:.1f} s, "
          f"peak +{peak:.0f} MiB")
    print(f"  its kernel blocks: {args.chunk_size**2 * 8 / 2**20:.0f} MiB each (float64)")
    tiled = 3 * n * n * args.latent_dim * 8 / 2**30
    matmul = 3 * n * n * 8 / 2**30
    print(f"one-shot tiled kernel (compute_kernel, [n, n, d] float64 differences for "
          f"the three sums): >= {tiled:.1f} GiB")
    print(f"one-shot matrix-product kernel ([n, n] float64 matrices for the three "
          f"sums): >= {matmul:.1f} GiB")
    if args.one_shot:
        value_one_shot, seconds, peak = measure(lambda: float(kernels.compute_mmd(
            tf.constant(codes), tf.constant(prior))))
        print(f"one-shot compute_mmd (matmul, float64): MMD^2 = {value_one_shot:.12g}, "
              f"{seconds:.1f} s, peak +{peak:.0f} MiB; relative difference "
              f"{abs(value - value_one_shot) / abs(value_one_shot):.2e}")


if __name__ == "__main__":
    main()

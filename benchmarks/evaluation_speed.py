"""Time and memory of the costly evaluation measures.

Usage (from the repository root):

    python benchmarks/evaluation_speed.py mmd [--num-codes 10000] [--latent-dim 20]
        [--block-size 1024] [--estimator biased] [--reference]
    MMDVAE_DATA_DIR=... python benchmarks/evaluation_speed.py log-likelihood
        [--num-images 200] [--num-samples 1000] [--network dcgan] [--latent-dim 8]

``mmd``: ``evaluation.full_data_mmd`` between ``n`` codes and ``n`` prior draws,
its first call (tracing and XLA compilation included) and a second one, with the
peak extra memory of each: the process's resident-set high-water mark (Linux
``VmHWM``, reset through ``/proc/self/clear_refs`` before each call) above the
resident size just before it. ``--reference`` also computes the estimate with
NumPy in float64, from exact pairwise differences, 500 rows at a time (slow).

``log-likelihood``: images per second of ``evaluation.log_likelihood`` (encoder
proposal, ``K`` samples) on MNIST test images, for an untrained ``ELBOVAE``
(the weights do not change the cost), after a warm-up call on two images.

Run it alone on the machine: the figures are wall-clock times.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

import mmdvae
from mmdvae import data, evaluation


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


def numpy_mmd(x, y, estimator: str, rows: int = 500) -> float:
    """The tutorial kernel's MMD^2 in float64 NumPy, from exact differences."""
    dim = x.shape[1]

    def kernel_sum(first, second):
        total = 0.0
        for start in range(0, len(first), rows):
            differences = first[start : start + rows, np.newaxis] - second[np.newaxis]
            total += np.exp(-np.sum(np.square(differences), axis=2) / dim**2).sum()
        return total

    unbiased = estimator == "unbiased"
    num_x, num_y = len(x), len(y)
    within_x = kernel_sum(x, x) - (num_x if unbiased else 0)
    within_y = kernel_sum(y, y) - (num_y if unbiased else 0)
    x_pairs = num_x * (num_x - 1) if unbiased else num_x**2
    y_pairs = num_y * (num_y - 1) if unbiased else num_y**2
    return within_x / x_pairs + within_y / y_pairs - 2 * kernel_sum(x, y) / (num_x * num_y)


def benchmark_mmd(args) -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(0.1, 1.1, size=(args.num_codes, args.latent_dim))
    prior = rng.normal(size=(args.num_codes, args.latent_dim))

    def run():
        return evaluation.full_data_mmd(codes, prior, estimator=args.estimator,
                                        block_size=args.block_size)

    for label in ("first call", "second call"):
        value, seconds, peak = measure(run)
        print(f"full_data_mmd {label}: {args.num_codes} x {args.num_codes} codes, "
              f"d={args.latent_dim}, {args.estimator}, block {args.block_size}: "
              f"MMD^2 = {value:.15g}, {seconds:.2f} s, peak +{peak:.0f} MiB", flush=True)
    if args.reference:
        reference, seconds, _ = measure(lambda: numpy_mmd(codes, prior, args.estimator))
        print(f"NumPy float64 reference: {reference:.15g} ({seconds:.0f} s); relative "
              f"difference {abs(value - reference) / abs(reference):.2e}")


def benchmark_log_likelihood(args) -> None:
    images = data.load_arrays("mnist", "test", data_dir=os.environ.get("MMDVAE_DATA_DIR"))
    images = images[: args.num_images]
    model = mmdvae.ELBOVAE(args.latent_dim, network=args.network, seed=0)
    evaluation.log_likelihood(model, images[:2], args.num_samples, seed=0)
    start = time.perf_counter()
    estimate = evaluation.log_likelihood(model, images, args.num_samples, seed=0)
    seconds = time.perf_counter() - start
    print(f"log_likelihood, untrained ELBOVAE(latent_dim={args.latent_dim}, "
          f"network={args.network!r}), {len(images)} MNIST test images, "
          f"K={args.num_samples}: {seconds:.2f} s, {len(images) / seconds:.2f} images/s "
          f"(mean {estimate.mean:.4f} nats)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    mmd = commands.add_parser("mmd")
    mmd.add_argument("--num-codes", type=int, default=10_000)
    mmd.add_argument("--latent-dim", type=int, default=20)
    mmd.add_argument("--block-size", type=int, default=evaluation.MMD_BLOCK_SIZE)
    mmd.add_argument("--estimator", choices=("biased", "unbiased"), default="biased")
    mmd.add_argument("--reference", action="store_true")
    log_likelihood = commands.add_parser("log-likelihood")
    log_likelihood.add_argument("--num-images", type=int, default=200)
    log_likelihood.add_argument("--num-samples", type=int, default=1000)
    log_likelihood.add_argument("--network", default="dcgan")
    log_likelihood.add_argument("--latent-dim", type=int, default=8)
    args = parser.parse_args()
    if args.command == "mmd":
        benchmark_mmd(args)
    else:
        benchmark_log_likelihood(args)


if __name__ == "__main__":
    main()

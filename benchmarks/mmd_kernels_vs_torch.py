"""The MMD's forward and gradient: ``mmdvae.kernels.compute_mmd`` against PyTorch.

For each ``(n, d)``: ``x`` (the codes, ``[n, d]``) and ``y`` (prior draws, ``[n, d]``),
float32, and the time of the biased MMD with the tutorial kernel
``exp(-||x - y||^2 / d^2)`` and its gradient with respect to ``x`` (what a training step
needs):

- ``mmdvae function`` / ``mmdvae xla``: ``compute_mmd`` (centred matrix-product
  distances in float32, the three means accumulated in float64) in ``tf.function``, without
  and with ``jit_compile``;
- ``torch f64 sums``: the same computation in PyTorch eager (centred, float32 products,
  float64 means);
- ``torch f32``: the PyTorch reference's ``kernel_matmul`` (``../shared/bench``): no
  centring, float32 means.

Times are medians over ``--repeats`` calls after three warm-up calls; each framework runs
in its own fresh process, the two interleaved ``--runs`` times, and the table shows the
median of the runs. ``error`` is the absolute difference of the MMD from a float64 NumPy
evaluation on the same float32 inputs.

    python benchmarks/mmd_kernels_vs_torch.py --torch-python ~/torch-reference/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((200, 20), (400, 64), (1000, 64), (2048, 64))


def samples(num_samples: int, dim: int, seed: int = 0):
    """Codes with an offset and a spread unlike the prior's, and prior draws (float32)."""
    rng = np.random.default_rng(seed)
    x = (0.5 + 1.5 * rng.standard_normal((num_samples, dim))).astype(np.float32)
    y = rng.standard_normal((num_samples, dim)).astype(np.float32)
    return x, y


def reference_mmd(x, y) -> float:
    """The biased MMD with the tutorial kernel in float64 NumPy."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    dim = x.shape[1]

    def kernel_mean(a, b):
        distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-distances / dim**2).mean()

    return kernel_mean(x, x) + kernel_mean(y, y) - 2.0 * kernel_mean(x, y)


def median_time(function, repeats: int) -> float:
    for _ in range(3):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def repeats_for(num_samples: int, repeats: int) -> int:
    return max(5, repeats * 200 // num_samples)


# === One framework (child process) ===


def measure_mmdvae(options) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    import tensorflow as tf

    from mmdvae import kernels

    def value_and_gradient(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            mmd = kernels.compute_mmd(x, y)
        return mmd, tape.gradient(mmd, x)

    results = {}
    for mode, jit in (("mmdvae function", False), ("mmdvae xla", True)):
        step = tf.function(value_and_gradient, jit_compile=jit)
        for num_samples, dim in SIZES:
            x, y = (tf.constant(values) for values in samples(num_samples, dim))
            mmd, _ = step(x, y)
            seconds = median_time(lambda step=step, x=x, y=y: [
                value.numpy() for value in step(x, y)], repeats_for(num_samples, options.repeats))
            results[f"{mode} {num_samples}x{dim}"] = {"seconds": seconds, "mmd": float(mmd)}
    results["version"] = tf.__version__
    return results


def measure_torch(options) -> dict:
    import torch

    torch.set_num_threads(os.cpu_count())

    def distances(a, b, centre):
        if centre:
            middle = torch.cat([a, b]).mean(0, keepdim=True)
            a, b = a - middle, b - middle
        squared = (a * a).sum(1, keepdim=True) + (b * b).sum(1, keepdim=True).T - 2.0 * a @ b.T
        return squared.clamp_min(0.0)

    def mmd(x, y, wide):
        dim = x.shape[1]
        means = []
        for a, b in ((x, x), (y, y), (x, y)):
            kernel = torch.exp(-distances(a, b, centre=wide) / (dim * dim))
            means.append(kernel.double().mean() if wide else kernel.mean())
        return means[0] + means[1] - 2.0 * means[2]

    results = {}
    for mode, wide in (("torch f64 sums", True), ("torch f32", False)):
        for num_samples, dim in SIZES:
            x_values, y_values = samples(num_samples, dim)
            y = torch.from_numpy(y_values)

            def value_and_gradient(wide=wide, x_values=x_values, y=y):
                x = torch.from_numpy(x_values).requires_grad_(True)
                value = mmd(x, y, wide)
                value.backward()
                return float(value), x.grad

            value, _ = value_and_gradient()
            seconds = median_time(value_and_gradient, repeats_for(num_samples, options.repeats))
            results[f"{mode} {num_samples}x{dim}"] = {"seconds": seconds, "mmd": value}
    results["version"] = torch.__version__
    return results


# === The table (parent process) ===


def run_child(command) -> dict:
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{command} failed:\n{completed.stderr[-3000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=50,
                        help="timed calls at n = 200 (fewer for larger n)")
    parser.add_argument("--child", choices=("mmdvae", "torch"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        measure = measure_mmdvae if options.child == "mmdvae" else measure_torch
        print("RESULT " + json.dumps(measure(options)), flush=True)
        return

    own = ["--repeats", str(options.repeats)]
    commands = [[sys.executable, __file__, "--child", "mmdvae", *own]]
    if options.torch_python:
        commands.append([os.path.expanduser(options.torch_python), __file__, "--child", "torch",
                         *own])
    runs = []
    for run in range(options.runs):
        load = os.getloadavg()[0]
        for command in commands:
            runs.append(run_child(command))
        print(f"run {run + 1}/{options.runs} done (1-minute load at start {load:.2f})",
              flush=True)

    modes = ["mmdvae function", "mmdvae xla"]
    if options.torch_python:
        modes += ["torch f64 sums", "torch f32"]
    header = f"{'n x d':<12}" + "".join(f"{mode:>18}" for mode in modes)
    print("\nforward + gradient, median ms (|error| vs float64 NumPy)")
    print(header)
    for num_samples, dim in SIZES:
        reference = reference_mmd(*samples(num_samples, dim))
        cells = []
        for mode in modes:
            key = f"{mode} {num_samples}x{dim}"
            entries = [result[key] for result in runs if key in result]
            milliseconds = 1000 * statistics.median(entry["seconds"] for entry in entries)
            error = abs(entries[0]["mmd"] - reference)
            cells.append(f"{milliseconds:8.3f} ({error:.0e})")
        print(f"{f'{num_samples}x{dim}':<12}" + "".join(f"{cell:>18}" for cell in cells))
    versions = {result["version"] for result in runs}
    print(f"versions: {', '.join(sorted(versions))}")


if __name__ == "__main__":
    main()

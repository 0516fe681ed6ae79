"""Training speed of the PixelCNN experiment's model, against another checkout, interleaved.

Each measurement is a fresh process that builds the model of
``mmdvae.experiments.pixelcnn`` (a Gaussian dcgan encoder, a PixelCNN decoder of 16
filters and 4 gated layers, batch 100, ``jit_compile`` as the experiment compiles
it), trains ``--warmup`` steps on binarised MNIST (tracing), then times ``--steps``
more and prints images per second (``--policy mixed_bfloat16`` adds runs of this
checkout under that Keras policy). With ``--baseline DIR`` (another checkout of
mmdvae, e.g. ``git worktree add /tmp/base HEAD~1``) the two run alternately, A B A B
..., and the ratio of their mean images per second is printed with the CPU's name.

    MMDVAE_DATA_DIR=../shared/datasets python benchmarks/pixelcnn_speed.py \\
        --baseline /tmp/base --runs 3
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import numpy as np
import keras
keras.mixed_precision.set_global_policy(sys.argv[6])
from mmdvae import data
from mmdvae.experiments import pixelcnn as experiment
model_name = sys.argv[1]
latent_dim, steps, warmup, batch = (int(value) for value in sys.argv[2:6])
sizes = {"filters": 16, "layers": 4}
model = experiment.build(model_name, latent_dim, sizes, seed=0)
compile_arguments = getattr(experiment, "COMPILE_ARGUMENTS", {"jit_compile": False})
model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_arguments)
images = data.load_arrays("mnist", "train", train_size=batch * (steps + warmup))
images = (np.random.default_rng(0).random(images.shape) < images).astype("float32")
model.fit(images[:batch * warmup], batch_size=batch, epochs=1, verbose=0, shuffle=False)
start = time.perf_counter()
model.fit(images[batch * warmup:], batch_size=batch, epochs=1, verbose=0, shuffle=False)
seconds = time.perf_counter() - start
print(json.dumps({"images_per_second": batch * steps / seconds}))
"""


def measure(checkout: Path, policy: str, arguments) -> float:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, arguments.model, str(arguments.latent_dim),
         str(arguments.steps), str(arguments.warmup), str(arguments.batch_size), policy],
        cwd=checkout, env={**__import__("os").environ, "PYTHONPATH": str(checkout)},
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"error: the run in {checkout} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["images_per_second"]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another mmdvae checkout to compare")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--model", default="mmd", choices=("mmd", "elbo"))
    parser.add_argument("--latent-dim", type=int, default=5)
    parser.add_argument("--policy", action="append", default=[],
                        help="also this checkout under a Keras mixed-precision policy, e.g. "
                             "mixed_bfloat16 (repeatable)")
    arguments = parser.parse_args()
    checkouts = {"this": (ROOT, "float32")}
    if arguments.baseline is not None:
        checkouts = {"baseline": (arguments.baseline.resolve(), "float32"), **checkouts}
    for policy in arguments.policy:
        checkouts[f"this {policy}"] = (ROOT, policy)
    speeds = {label: [] for label in checkouts}
    for run in range(arguments.runs):
        for label, (checkout, policy) in checkouts.items():
            speeds[label].append(measure(checkout, policy, arguments))
            print(f"run {run + 1} {label}: {speeds[label][-1]:.0f} images/s", flush=True)
    print(f"CPU: {cpu_name()}; {arguments.model}, z = {arguments.latent_dim}, batch "
          f"{arguments.batch_size}, {arguments.steps} timed steps after {arguments.warmup}")
    for label, values in speeds.items():
        print(f"{label}: {statistics.mean(values):.0f} images/s "
              f"({min(values):.0f}-{max(values):.0f})")
    if "baseline" in speeds:
        for label in speeds:
            if label != "baseline":
                ratio = statistics.mean(speeds[label]) / statistics.mean(speeds["baseline"])
                print(f"ratio {label} / baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()

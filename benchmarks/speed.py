"""Training speed of mmdvae's defaults against the PyTorch reference, side by side.

Each measurement is a fresh process: ``MMDVAE(latent_dim=20)`` (or the Gaussian-encoder,
Bernoulli ``ELBOVAE(latent_dim=20)``), ``compile()`` with its defaults, and ``fit`` on
``mmdvae.data.load("mnist", "train", batch_size=200, shuffle=True, ...)``; ``--warmup``
steps (tracing and compilation) are left out and the next ``--steps`` are timed. With
``--torch-python``, the PyTorch reference (``../shared/bench/pytorch_mmd_vae.py``: the
same networks, loss, batch and optimizer) runs interleaved with them: A B C A B C ...

For each configuration it prints images per second (mean over the timed steps), the
median step, the peak resident memory of the process (``VmHWM``; the reference's
``ru_maxrss``, the same quantity) and the ratio to the reference, and records the CPU's
model, its vector flags and whether TensorFlow's oneDNN kernels are on (and whether
they would be by TensorFlow's own rule, which ignores ``TF_ENABLE_ONEDNN_OPTS``).

    MMDVAE_DATA_DIR=../shared/datasets python benchmarks/speed.py \\
        --torch-python ~/torch-reference/bin/python --runs 3

Configurations are ``label=key:value,...`` (``--config``, repeatable), keys ``model``
(mmd | elbo), ``jit`` (default: ``compile()``'s own, or 0 | 1 | auto), ``spe``
(``steps_per_execution``), ``optimizer`` (default | fused: Adam through TensorFlow's fused
kernel, a measurement only, see ``fused_adam``), ``onednn`` (default | 0 | 1:
``TF_ENABLE_ONEDNN_OPTS`` of the child), ``xla_flags`` (``XLA_FLAGS`` of the child, ``;``
for spaces) and ``isa`` (e.g. ``avx2``: oneDNN's and XLA's code limited to that instruction
set, ``ONEDNN_MAX_CPU_ISA`` and ``--xla_cpu_max_isa``, to emulate an older CPU).

Every process uses all cores, so on a shared machine each run waits (up to ``--attempts``
pauses of ``--pause`` seconds) until other processes use fewer than
``--quiet`` cores, then records the 1-minute load average and the cores other processes
kept busy while it ran; a run during which they used more is measured again (the quietest
of ``--attempts`` + 1 is kept).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "bench" / "pytorch_mmd_vae.py"
BATCH_SIZE = 200
LATENT_DIM = 20

DEFAULT_CONFIGS = (
    "mmd default=model:mmd,jit:default",
    "mmd xla=model:mmd,jit:1",
    "mmd no-xla=model:mmd,jit:0",
    "elbo default=model:elbo,jit:default",
    "elbo xla=model:elbo,jit:1",
    "elbo no-xla=model:elbo,jit:0",
)
TORCH = "torch eager"


# === The machine ===


def cpu_description() -> dict:
    """The CPU's model name, core count and the vector flags that choose kernels."""
    model, flags = platform.processor(), set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
              "avx_vnni", "amx_tile", "amx_bf16")
    return {"cpu": model, "cores": os.cpu_count(),
            "flags": [flag for flag in wanted if flag in flags]}


def load_average() -> float:
    return os.getloadavg()[0]


def busy_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def others_cores(seconds: float = 5.0) -> float:
    """Cores other processes kept busy over the next ``seconds`` (none of ours runs)."""
    start = busy_seconds()
    time.sleep(seconds)
    return (busy_seconds() - start) / seconds


def wait_for_quiet(threshold: float, attempts: int, pause: float) -> float:
    """Waits (up to ``attempts`` pauses) until others use fewer than ``threshold`` cores."""
    busy = others_cores()
    for _ in range(attempts):
        if busy < threshold:
            break
        time.sleep(pause)
        busy = others_cores()
    return busy


def peak_memory_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# === One measurement (child process) ===


def measure_mmdvae(options) -> dict:
    """Times ``fit`` of the model with ``compile()`` defaults; runs in a fresh process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    import keras
    import numpy as np
    import tensorflow as tf

    import mmdvae

    try:
        from mmdvae import runtime as jit_choice
    except ImportError:  # earlier versions chose in the models' base module
        from mmdvae.models import base as jit_choice

    keras.utils.set_random_seed(options.seed)
    if options.model == "mmd":
        model = mmdvae.MMDVAE(latent_dim=LATENT_DIM, seed=options.seed)
    else:
        model = mmdvae.ELBOVAE(latent_dim=LATENT_DIM, seed=options.seed)
    compile_arguments = {}
    if options.optimizer == "fused":
        compile_arguments["optimizer"] = fused_adam(keras, tf)(1e-3)
    if options.jit != "default":
        compile_arguments["jit_compile"] = {"0": False, "1": True}.get(options.jit, options.jit)
    if options.spe != 1:
        compile_arguments["steps_per_execution"] = options.spe
    model.compile(**compile_arguments)
    batches = mmdvae.data.load("mnist", "train", batch_size=BATCH_SIZE, shuffle=True,
                               seed=options.seed, drop_remainder=True)

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            # The step's loss as a float: the step has finished.
            self.losses = float(logs["loss"])
            self.ends.append((batch, time.perf_counter()))

    timer = StepTimes()
    num_steps = options.warmup + options.steps
    start = time.perf_counter()
    model.fit(batches, epochs=1, steps_per_epoch=num_steps, verbose=0, callbacks=[timer])
    # With steps_per_execution > 1 the callback runs once per execution; `batch` is
    # the index of the execution's last step.
    ends = [(batch + 1, moment) for batch, moment in timer.ends]
    first_timed = next(index for index, (done, _) in enumerate(ends) if done >= options.warmup)
    timed_steps = ends[-1][0] - ends[first_timed][0]
    timed_seconds = ends[-1][1] - ends[first_timed][1]
    step_seconds = [(later[1] - earlier[1]) / (later[0] - earlier[0])
                    for earlier, later in itertools.pairwise(ends[first_timed:])]
    jit = model.jit_compile
    return {
        "framework": "mmdvae",
        "model": type(model).__name__,
        "jit_compile": bool(jit),
        "jit_argument": options.jit,
        "steps_per_execution": options.spe,
        "optimizer": type(model.optimizer).__name__,
        "img_per_s": timed_steps * BATCH_SIZE / timed_seconds,
        "median_step_ms": 1000 * statistics.median(step_seconds),
        "first_steps_s": ends[first_timed][1] - start,
        "loss_final": timer.losses,
        "peak_rss_mib": peak_memory_mib(),
        "onednn": onednn_state(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "auto_resolves_to": _auto(jit_choice),
    }


def fused_adam(keras, tf):
    """Adam through TensorFlow's fused ``ResourceApplyAdam`` kernel (a measurement only).

    One pass over a variable and its moments instead of Keras' dozen. Not the same
    numbers as Keras' Adam: the kernel forms ``1 - beta`` in float32, which moves
    ``1 - beta_2`` by 1.3e-5 relative (TensorFlow 1's ``AdamOptimizer`` numbers).
    """

    class FusedAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            dtype = variable.dtype
            step = tf.cast(self.iterations + 1, dtype)
            beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
            index = self._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=self._momentums[index].handle,
                v=self._velocities[index].handle, beta1_power=tf.pow(beta_1, step),
                beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
                beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
                grad=tf.cast(gradient, dtype))

    return FusedAdam


def _auto(module) -> bool | None:
    resolve = getattr(module, "default_jit_compile", None)
    return resolve() if resolve is not None else None


def onednn_state() -> dict:
    """Whether TensorFlow's oneDNN kernels are on, and TensorFlow's own default."""
    from tensorflow.python.util import _pywrap_util_port

    flags = set(cpu_description()["flags"])
    # tensorflow/core/util/port.cc, DefaultOneDnnPolicy on Linux x86.
    own_default = bool(flags & {"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
                                "amx_bf16"})
    return {"active": bool(_pywrap_util_port.IsMklEnabled()),
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "tensorflow_default": own_default}


# === The runs (parent process) ===


def parse_config(text: str) -> tuple[str, dict]:
    label, _, settings = text.partition("=")
    config = {"model": "mmd", "jit": "default", "spe": "1", "onednn": "default",
              "xla_flags": "", "optimizer": "default", "isa": ""}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition(":")
        if key not in config:
            raise ValueError(f"Unknown key {key!r} in --config {text!r}; allowed: "
                             f"{sorted(config)}.")
        config[key] = value
    return label, config


def run_child(command, environment) -> dict:
    completed = subprocess.run(command, capture_output=True, text=True, env=environment,
                               cwd=ROOT)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{command} failed:\n{completed.stderr[-3000:]}")


def mmdvae_command(config, options):
    return [sys.executable, __file__, "--child", "--model", config["model"],
            "--jit", config["jit"], "--spe", config["spe"], "--optimizer", config["optimizer"],
            "--warmup", str(options.warmup),
            "--steps", str(options.steps), "--seed", str(options.seed)]


def child_environment(config) -> dict:
    environment = dict(os.environ)
    environment.setdefault("MMDVAE_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    environment.pop("TF_ENABLE_ONEDNN_OPTS", None)
    if config.get("onednn", "default") != "default":
        environment["TF_ENABLE_ONEDNN_OPTS"] = config["onednn"]
    xla_flags = config.get("xla_flags", "").replace(";", " ")
    if config.get("isa"):
        # Emulates an older CPU: oneDNN's and XLA's code limited to the instruction set.
        environment["ONEDNN_MAX_CPU_ISA"] = config["isa"].upper()
        xla_flags = f"{xla_flags} --xla_cpu_max_isa={config['isa'].upper()}".strip()
    if xla_flags:
        environment["XLA_FLAGS"] = xla_flags
    return environment


def measure_when_quiet(command, environment, options) -> dict:
    """Runs ``command`` once the machine is quiet; again if others were busy meanwhile.

    Keeps the run during which other processes used the fewest cores (after at most
    ``options.attempts`` repeats) and records how many were set aside.
    """
    kept = None
    for attempt in range(options.attempts + 1):
        others_before = wait_for_quiet(options.quiet, options.attempts, options.pause)
        load = load_average()
        busy, own, start = busy_seconds(), children_seconds(), time.perf_counter()
        result = run_child(command, environment)
        # Busy CPU time during the run that was not the child's: other people's work.
        others = (busy_seconds() - busy - (children_seconds() - own)) / (
            time.perf_counter() - start)
        result.update(load=load, others_before=others_before, others_during=others,
                      set_aside=attempt)
        if kept is None or others < kept["others_during"]:
            kept = result
        if others < options.quiet:
            break
        print(f"  (other processes used {others:.2f} cores during the run: measuring again)",
              flush=True)
    return kept


def torch_command(options):
    return [os.path.expanduser(options.torch_python), str(REFERENCE),
            "--warmup", str(options.warmup), "--steps", str(options.steps),
            "--seed", str(options.seed), "--threads", str(os.cpu_count())]


def summarise(label, results, reference) -> dict:
    speeds = [result["img_per_s"] for result in results]
    row = {
        "label": label,
        "img_per_s": statistics.median(speeds),
        "range": (min(speeds), max(speeds)),
        "median_step_ms": statistics.median(result["median_step_ms"] for result in results),
        "peak_mib": max(result["peak_rss_mib"] for result in results),
        "loads": [result["load"] for result in results],
        "others": [result["others_during"] for result in results],
    }
    if reference:
        row["ratio"] = row["img_per_s"] / reference["img_per_s"]
        row["memory_ratio"] = row["peak_mib"] / reference["peak_mib"]
    return row


def print_table(rows, machine):
    print(f"\n{machine['cpu']} ({machine['cores']} cores; flags {' '.join(machine['flags'])})")
    print(f"{'configuration':<26}{'img/s':>8}{'(min-max)':>16}{'median step':>13}"
          f"{'peak MiB':>10}{'x torch':>9}{'memory x':>10}  1-min loads; others' cores")
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else "-"
        memory = f"{row['memory_ratio']:.2f}" if "memory_ratio" in row else "-"
        low, high = row["range"]
        loads = ",".join(f"{load:.1f}" for load in row["loads"]) + "; " + ",".join(
            f"{others:.1f}" for others in row["others"])
        print(f"{row['label']:<26}{row['img_per_s']:>8.0f}{f'({low:.0f}-{high:.0f})':>16}"
              f"{row['median_step_ms']:>10.1f} ms{row['peak_mib']:>10.0f}{ratio:>9}"
              f"{memory:>10}  {loads}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", default=None,
                        help="a Python with torch and numpy that runs the reference")
    parser.add_argument("--config", action="append", default=None,
                        help="label=key:value,... (see the module docstring); repeatable")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file for every run")
    parser.add_argument("--quiet", type=float, default=0.2,
                        help="start a run when other processes use fewer cores than this")
    parser.add_argument("--attempts", type=int, default=4,
                        help="pauses to wait for a quiet machine before measuring anyway")
    parser.add_argument("--pause", type=float, default=30.0, help="seconds per pause")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="mmd", choices=("mmd", "elbo"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--jit", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--spe", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--optimizer", default="default", choices=("default", "fused"),
                        help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print("RESULT " + json.dumps(measure_mmdvae(options)), flush=True)
        return

    configs = [parse_config(text) for text in (options.config or DEFAULT_CONFIGS)]
    machine = cpu_description()
    jobs = [(label, mmdvae_command(config, options), child_environment(config))
            for label, config in configs]
    if options.torch_python:
        environment = dict(os.environ)
        environment.setdefault("MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))
        jobs.insert(0, (TORCH, torch_command(options), environment))
    results = {label: [] for label, _, _ in jobs}
    for run in range(options.runs):
        for label, command, environment in jobs:
            result = measure_when_quiet(command, environment, options)
            result["run"] = run
            results[label].append(result)
            others_before, others, load = (result[key] for key in (
                "others_before", "others_during", "load"))
            print(f"run {run + 1}/{options.runs} {label:<24} {result['img_per_s']:7.0f} img/s "
                  f"median {result['median_step_ms']:.1f} ms, peak "
                  f"{result['peak_rss_mib']:.0f} MiB (load {load:.2f}; other processes "
                  f"{others_before:.2f} cores before, {others:.2f} during; "
                  f"{result['set_aside']} busier runs set aside)", flush=True)

    reference = summarise(TORCH, results[TORCH], None) if TORCH in results else None
    rows = [summarise(label, runs, reference) if label != TORCH else reference
            for label, runs in results.items()]
    print_table(rows, machine)
    first = next(iter(result for label, runs in results.items() if label != TORCH
                      for result in runs), None)
    if first is not None:
        print(f"oneDNN: {first['onednn']}; TensorFlow {first['tensorflow']}, "
              f"Keras {first['keras']}; jit_compile='auto' -> {first['auto_resolves_to']}")
    if TORCH in results:
        print(f"PyTorch {results[TORCH][0].get('torch_version')}, "
              f"{results[TORCH][0].get('threads')} threads")
    if options.output:
        Path(options.output).write_text(json.dumps(
            {"machine": machine, "runs": results, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

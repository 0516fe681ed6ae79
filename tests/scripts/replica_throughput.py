"""Training throughput of MMDVAE(latent_dim=20) on 1 or 2 replicas of the CPU.

    python replica_throughput.py {single,single-xla,mirrored-1,mirrored-2}

Splits the CPU into 2 logical devices, then trains the tutorial's model (dcgan
networks) on random MNIST-shaped images at global batch 200: 5 warm-up steps,
then 30 timed steps. ``single`` trains without a strategy (``-xla``: with
XLA), ``mirrored-N`` under ``tf.distribute.MirroredStrategy`` on N logical
devices (no XLA there, see ``mmdvae.distribute``). Prints one JSON line.
"""

import contextlib
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import mmdvae  # noqa: E402

BATCH_SIZE = 200
WARM_UP_STEPS = 5
TIMED_STEPS = 30


class StepClock(keras.callbacks.Callback):
    """Records the time at the end of each step (reading the loss waits for the step)."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])
        self.times.append(time.perf_counter())


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(configuration):
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    strategy = {
        "single": None, "single-xla": None,
        "mirrored-1": tf.distribute.MirroredStrategy(devices[:1]),
        "mirrored-2": tf.distribute.MirroredStrategy(devices),
    }[configuration]
    steps = WARM_UP_STEPS + TIMED_STEPS
    images = np.random.default_rng(0).uniform(size=(steps * BATCH_SIZE, 28, 28, 1))
    dataset = tf.data.Dataset.from_tensor_slices(images.astype("float32")).batch(BATCH_SIZE)
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope:
        model = mmdvae.MMDVAE(latent_dim=20, seed=0)
        model.compile(jit_compile=configuration == "single-xla")
    clock = StepClock()
    model.fit(dataset, epochs=1, verbose=0, callbacks=[clock])
    seconds = clock.times[-1] - clock.times[WARM_UP_STEPS - 1]
    print(json.dumps({
        "configuration": configuration,
        "replicas": strategy.num_replicas_in_sync if strategy else 1,
        "jit_compile": bool(model.jit_compile),
        "images_per_second": round(TIMED_STEPS * BATCH_SIZE / seconds, 1),
        "seconds_per_step": round(seconds / TIMED_STEPS, 4),
        "cpu": cpu_name(), "cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main(sys.argv[1])

"""Trains tiny models on N logical CPU devices and on one, and writes the differences.

Run by tests/test_distribute.py in a fresh process, because the CPU must be
split into logical devices before TensorFlow initialises its devices:

    python distributed_steps.py NUM_DEVICES OUTPUT_DIR CASE [CASE ...] [--jit] [--save=CASE,...]
        [--uneven=CASE,...] [--results=FILE]

For each case (a name in ``CASES``), two copies of a model start from the
same weights and seed state, one under ``tf.distribute.MirroredStrategy`` on
NUM_DEVICES devices (compiled with ``jit_compile=True`` when ``--jit`` is
given, which falls back to False with a warning) and one without a strategy
and without XLA (whose random numbers differ from TensorFlow's kernels'). Both

- take one step with SGD on the same global batch of 32 (learning rate 1 by
  default, so each weight's change is minus its gradient): the largest
  differences of the logged terms and of the gradients;
- train 10 more steps with SGD (``LEARNING_RATES``): the largest difference of
  the variables (weights, seed state, metric state);
- for the cases of ``--save``: the distributed copy is saved from inside the strategy to
  CASE.keras with its codes and reconstructions (CASE.npz), loaded inside the
  strategy to resume, and both train 2 more steps: the largest difference.
- for the cases of ``--uneven``: two fresh copies train one epoch on 401 images
  at batch 200 (the last batch of 1 image leaves a replica without rows) and
  one at batch 201 (not divisible by the replicas), then one more at batch 200
  with sample weights: the losses of both and the largest difference of the
  variables.

OUTPUT_DIR/results_NUM_DEVICES.json (or OUTPUT_DIR/FILE) receives ``{case: {...}}``.
"""

import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

NUM_DEVICES = int(sys.argv[1])
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * NUM_DEVICES,
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import mmdvae  # noqa: E402

COMMON = {"image_shape": (8, 8, 1), "network": "mlp", "seed": 1}

#: name -> (class name, arguments); MutualAE draws its prior codes and decoder
#: samples per replica, so its step is only trained, not compared with one device.
CASES = {
    "mmd_vae": ("MMDVAE", {"latent_dim": 3}),
    "info_vae_mmd": ("InfoVAE", {"latent_dim": 3, "alpha": 0.5, "lambda_": 2.0,
                                 "encoder_type": "gaussian"}),
    "info_vae_stein": ("InfoVAE", {"latent_dim": 3, "divergence": "stein"}),
    "vimae": ("VIMAE", {"latent_dim": 3}),
    "aae": ("AAE", {"latent_dim": 2}),
    "elbo_vae": ("ELBOVAE", {"latent_dim": 2}),
    "mutual_ae": ("MutualAE", {"latent_dim": 2}),
    # One categorical variable of 10 values: the bound is summed over them, not sampled.
    "mutual_ae_exact": ("MutualAE", {"latent_dim": 1, "likelihood": "categorical",
                                     "image_shape": (10,), "information": 1.0}),
}

#: SGD learning rates of the first step and of the next ten; (1, 0.05) by default.
LEARNING_RATES = {"mutual_ae": (1e-3, 1e-3), "mutual_ae_exact": (1e-2, 5e-2)}


def images(case):
    """64 examples: one-hot rows for a single categorical variable, else uniform 8x8 images."""
    generator = np.random.default_rng(0)
    shape = {**COMMON, **CASES[case][1]}["image_shape"]
    if len(shape) == 1:
        return np.eye(shape[0], dtype="float32")[generator.integers(shape[0], size=64)]
    return generator.uniform(size=(64, *shape)).astype("float32")


def build(case, jit_compile):
    class_name, arguments = CASES[case]
    keras.utils.set_random_seed(0)
    model = getattr(mmdvae, class_name)(**{**COMMON, **arguments})
    learning_rate = LEARNING_RATES.get(case, (1.0, 0.05))[0]
    optimizers = {"optimizer": keras.optimizers.SGD(learning_rate)}
    if class_name == "AAE":
        optimizers["discriminator_optimizer"] = keras.optimizers.SGD(learning_rate)
    model.compile(jit_compile=jit_compile, **optimizers)
    return model


def values(model):
    return [variable.numpy() for variable in model.variables]


def largest_difference(first, second):
    return float(max(np.abs(a - b).max() for a, b in zip(first, second, strict=True)))


def fit(model, data, epochs):
    history = model.fit(data, batch_size=32, epochs=epochs, shuffle=False, verbose=0)
    return {name: [float(value) for value in logged] for name, logged in history.history.items()}


def compare(case, strategy, jit_compile, save_dir):
    data = images(case)
    result = {}
    single = build(case, jit_compile=False)
    with warnings.catch_warnings(record=True) as caught, strategy.scope():
        warnings.simplefilter("always")
        distributed = build(case, jit_compile=jit_compile)
    result["jit_compile"] = bool(distributed.jit_compile)
    result["warnings"] = [str(warning.message) for warning in caught
                          if "jit_compile" in str(warning.message)]
    start = values(single)
    if largest_difference(start, values(distributed)) != 0.0:
        raise RuntimeError(f"{case}: the two copies start from different weights.")

    # --- One step: logged terms and gradients ---------------------------------
    single_logs = fit(single, data[:32], epochs=1)
    distributed_logs = fit(distributed, data[:32], epochs=1)
    result["logs"] = {name: [single_logs[name][0], distributed_logs[name][0]]
                      for name in single_logs}
    initial = {id(v): value for v, value in zip(single.variables, start, strict=True)}
    pairs = list(zip(single.trainable_variables, distributed.trainable_variables, strict=True))
    learning_rate = LEARNING_RATES.get(case, (1.0, 0.05))[0]
    gradients = [[(initial[id(s)] - s.numpy()) / learning_rate for s, _ in pairs],
                 [(initial[id(s)] - d.numpy()) / learning_rate for s, d in pairs]]
    result["gradient"] = largest_difference(*gradients)
    result["gradient_scale"] = float(max(np.abs(g).max() for g in gradients[0]))

    # --- Ten more steps -----------------------------------------------------------
    for model in (single, distributed):
        for optimizer in model.optimizers:
            optimizer.learning_rate = LEARNING_RATES.get(case, (1.0, 0.05))[1]
    result["history"] = [fit(model, data, epochs=5)["loss"] for model in (single, distributed)]
    result["weights"] = largest_difference(values(single), values(distributed))
    result["weights_changed"] = largest_difference(
        [initial[id(s)] for s, _ in pairs], [d.numpy() for _, d in pairs])

    # --- Saving from the strategy and resuming inside it ------------------------
    if save_dir is not None:
        codes = distributed.encode(data).numpy()
        np.savez(os.path.join(save_dir, f"{case}.npz"), images=data, codes=codes,
                 reconstructions=distributed.decode(codes).numpy())
        path = os.path.join(save_dir, f"{case}.keras")
        with strategy.scope():
            distributed.save(path)
            resumed = keras.saving.load_model(path)
        fit(distributed, data, epochs=1)
        fit(resumed, data, epochs=1)
        result["resume"] = largest_difference(values(distributed), values(resumed))
        result["resumed_iterations"] = int(resumed.optimizer.iterations.numpy())
    return result


def uneven(case, strategy):
    """One device and the strategy on batches the replicas cannot split evenly."""
    data = np.random.default_rng(2).uniform(size=(401, 8, 8, 1)).astype("float32")
    single = build(case, jit_compile=False)
    with strategy.scope():
        distributed = build(case, jit_compile=False)
    for model in (single, distributed):
        for optimizer in model.optimizers:
            optimizer.learning_rate = LEARNING_RATES.get(case, (1.0, 0.05))[1]
    result = {}
    sample_weight = np.random.default_rng(3).uniform(0.0, 2.0, len(data)).astype("float32")
    for key, batch_size, weights in (("200", 200, None), ("201", 201, None),
                                     ("200_weighted", 200, sample_weight)):
        logs = [model.fit(data, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                          sample_weight=weights).history for model in (single, distributed)]
        result[f"losses_{key}"] = [{name: float(values[0]) for name, values in log.items()}
                                   for log in logs]
    result["weights"] = largest_difference(values(single), values(distributed))
    result["steps"] = int(distributed.optimizer.iterations.numpy())
    return result


def main():
    output_dir, cases = sys.argv[2], sys.argv[3:]
    jit_compile = "--jit" in cases
    saved = [case for option in cases if option.startswith("--save=")
             for case in option.removeprefix("--save=").split(",")]
    uneven_cases = [case for option in cases if option.startswith("--uneven=")
                    for case in option.removeprefix("--uneven=").split(",")]
    results_file = next((option.removeprefix("--results=") for option in cases
                         if option.startswith("--results=")), f"results_{NUM_DEVICES}.json")
    cases = [case for case in cases if not case.startswith("--")]
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    results = {"num_replicas": strategy.num_replicas_in_sync}
    for case in cases:
        results[case] = compare(case, strategy, jit_compile,
                                output_dir if case in saved else None)
    for case in uneven_cases:
        results[f"uneven_{case}"] = uneven(case, strategy)
    with open(os.path.join(output_dir, results_file), "w") as file:
        json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()

"""Trains tiny models for a few epochs, optionally from saved `.keras` files.

Run by tests/test_saving.py in fresh processes: ``python train_and_save.py
RUNS.json`` where the JSON list holds runs, each an object with ``model`` (a
class name in mmdvae), ``arguments``, ``epochs``, ``load`` (a `.keras` path or
null), ``save`` (a `.keras` path or null) and ``weights`` (an `.npz` path that
receives every model variable and every optimizer variable). Each run starts
from ``keras.utils.set_random_seed(0)`` with op determinism on.
"""

import json
import sys

import keras
import numpy as np
import tensorflow as tf

import mmdvae

IMAGE_SHAPE = (8, 8, 1)


def main(runs_path):
    tf.config.experimental.enable_op_determinism()
    for spec in json.loads(open(runs_path).read()):
        run(spec)


def run(spec):
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(size=(64,) + IMAGE_SHAPE).astype("float32")
    if spec["load"]:
        model = mmdvae.load_model(spec["load"])
    else:
        model_class = getattr(mmdvae, spec["model"])
        model = model_class(latent_dim=3, image_shape=IMAGE_SHAPE, network="mlp", seed=0,
                            **spec["arguments"])
        # Uncompiled steps: quicker to start, and the loaded model must keep it.
        extra = ({"discriminator_optimizer": keras.optimizers.Adam(1e-3)}
                 if isinstance(model, mmdvae.AAE) else {})
        model.compile(jit_compile=False, **extra)
    model.fit(images, batch_size=16, epochs=spec["epochs"], shuffle=False, verbose=0)
    if spec["save"]:
        model.save(spec["save"])
    optimizers = [model.optimizer] + [
        value for value in vars(model).values()
        if isinstance(value, keras.optimizers.Optimizer) and value is not model.optimizer
    ]
    # Keys by position and kind: layer names differ between models of one process.
    arrays = {f"model/{index}/{variable.name}": np.array(variable)
              for index, variable in enumerate(model.variables)}
    for number, optimizer in enumerate(optimizers):
        for index, variable in enumerate(optimizer.variables):
            kind = variable.name.rsplit("_", 1)[-1]
            arrays[f"optimizer{number}/{index}/{kind}"] = np.array(variable)
    np.savez(spec["weights"], **arrays)


if __name__ == "__main__":
    main(sys.argv[1])

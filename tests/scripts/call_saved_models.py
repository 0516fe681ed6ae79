"""Loads exported SavedModels without mmdvae and calls every endpoint.

Run by tests/test_saving.py in a fresh process: ``python call_saved_models.py
JOBS.json`` where the JSON list holds ``{"path", "inputs", "outputs"}``: the
SavedModel directory, an `.npz` with ``images``, ``z``, ``num_samples`` and
``seed``, and the `.npz` to write the endpoints' outputs to.
"""

import json
import sys

import keras
import numpy as np
import tensorflow as tf


def main(jobs_path):
    for job in json.loads(open(jobs_path).read()):
        inputs = np.load(job["inputs"])
        served = tf.saved_model.load(job["path"])
        outputs = {f"encode/{name}": value.numpy()
                   for name, value in served.encode(inputs["images"]).items()}
        outputs["decode"] = served.decode(inputs["z"]).numpy()
        outputs["reconstruct"] = served.reconstruct(inputs["images"]).numpy()
        num_samples = tf.constant(int(inputs["num_samples"]))
        seed = tf.constant(int(inputs["seed"]))
        outputs["sample"] = served.sample(num_samples, seed).numpy()
        outputs["sample_again"] = served.sample(num_samples, seed).numpy()
        outputs["sample_other_seed"] = served.sample(num_samples, seed + 1).numpy()
        layer = keras.layers.TFSMLayer(job["path"], call_endpoint="reconstruct")
        outputs["layer_reconstruct"] = np.asarray(layer(inputs["images"]))
        outputs["mmdvae_imported"] = np.array("mmdvae" in sys.modules)
        np.savez(job["outputs"], **outputs)


if __name__ == "__main__":
    main(sys.argv[1])

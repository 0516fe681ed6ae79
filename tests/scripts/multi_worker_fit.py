"""One worker of a ``tf.distribute.MultiWorkerMirroredStrategy`` run on tiny models.

Run by tests/test_distribute.py, once per worker, with ``TF_CONFIG`` naming
the cluster and this worker's task: ``python multi_worker_fit.py OUTPUT_DIR``.
Each worker seeds Keras differently (its task index), so the models start
equal only because the strategy broadcasts worker 0's initial variables. For
each model in ``MODELS`` it writes ``OUTPUT_DIR/{model}_{index}.npz``: every
model variable (weights, seed state, metric state) before and after 2
epochs of 2 steps on 64 images with global batch 32, the logged losses and
the loss ``evaluate`` gives afterwards.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import mmdvae  # noqa: E402
from mmdvae import distribute  # noqa: E402

#: Model class name -> arguments (tiny models; VIMAE draws reparameterisation noise).
MODELS = {
    "MMDVAE": {"latent_dim": 3},
    "VIMAE": {"latent_dim": 3},
}
COMMON = {"image_shape": (8, 8, 1), "network": "mlp"}


def images():
    return np.random.default_rng(0).uniform(size=(64, 8, 8, 1)).astype("float32")


def main(output_dir):
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = distribute.make_strategy("multi-worker")
    for name, arguments in MODELS.items():
        keras.utils.set_random_seed(100 + index)
        with strategy.scope():
            model = getattr(mmdvae, name)(**arguments, **COMMON)
            model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
        before = [variable.numpy() for variable in model.variables]
        history = model.fit(images(), batch_size=32, epochs=2, shuffle=False, verbose=0)
        after = [variable.numpy() for variable in model.variables]
        evaluation = model.evaluate(images(), batch_size=32, verbose=0, return_dict=True)
        np.savez(
            os.path.join(output_dir, f"{name}_{index}.npz"),
            loss=np.asarray(history.history["loss"]),
            evaluation_loss=evaluation["loss"],
            num_replicas=strategy.num_replicas_in_sync,
            **{f"before_{i}": value for i, value in enumerate(before)},
            **{f"after_{i}": value for i, value in enumerate(after)},
        )


if __name__ == "__main__":
    main(sys.argv[1])

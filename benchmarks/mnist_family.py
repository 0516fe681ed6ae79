"""Trains each model of the family a few epochs on MNIST and prints what changed.

For every model: the per-pixel squared error of the test reconstructions
(posterior means) and the MMD between the 10,000 test codes and 10,000 samples of
the model's prior (the tutorial kernel, biased estimator, float64 sums over
1000 x 1000 blocks), at initialisation and after training.

    python benchmarks/mnist_family.py --epochs 3 --train-size 20000 --network conv

Run it from the repository root with ``PYTHONPATH=.``, under
``flock /tmp/mmdvae-heavy.lock`` on shared machines.
"""

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

import mmdvae
from mmdvae import data, kernels

BLOCK = 1000


def family(latent_dim, network, seed):
    common = {"latent_dim": latent_dim, "network": network, "seed": seed}
    return {
        "MMDVAE": lambda: mmdvae.MMDVAE(**common),
        "VIMAE-n": lambda: mmdvae.VIMAE(prior="normal", **common),
        "VIMAE-l": lambda: mmdvae.VIMAE(prior="logistic", **common),
        "AAE": lambda: mmdvae.AAE(**common),
        "ELBOVAE": lambda: mmdvae.ELBOVAE(**common),
        "InfoVAE-mmd": lambda: mmdvae.InfoVAE(
            alpha=0.5, lambda_=100.0, encoder_type="gaussian", reconstruction="bernoulli",
            **common),
        "InfoVAE-stein": lambda: mmdvae.InfoVAE(
            alpha=0.5, lambda_=100.0, divergence="stein", encoder_type="gaussian",
            reconstruction="bernoulli", **common),
        "MutualAE": lambda: mmdvae.MutualAE(information=5.0, **common),
    }


def full_mmd(codes, prior_codes):
    """Biased MMD^2 of two large samples, in float64 over blocks."""
    kernel = kernels.get_kernel("tutorial")

    def block_sum(x, y):
        total = 0.0
        for start_x in range(0, len(x), BLOCK):
            for start_y in range(0, len(y), BLOCK):
                matrix = kernel(tf.constant(x[start_x:start_x + BLOCK]),
                                tf.constant(y[start_y:start_y + BLOCK]))
                total += float(tf.reduce_sum(tf.cast(matrix, tf.float64)))
        return total / (len(x) * len(y))

    return block_sum(codes, codes) + block_sum(prior_codes, prior_codes) - 2 * block_sum(
        codes, prior_codes)


def measure(model, test_images):
    batches = np.array_split(test_images, len(test_images) // BLOCK)
    codes = np.concatenate([model.encode(batch).numpy() for batch in batches])
    reconstructions = np.concatenate([model.decode(c).numpy()
                                      for c in np.array_split(codes, len(batches))])
    error = float(np.mean((reconstructions - test_images) ** 2))
    prior_codes = model.prior_samples(len(codes), seed=tf.constant([12345, 0])).numpy()
    return error, full_mmd(codes.astype("float32"), prior_codes.astype("float32"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--network", default="conv")
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=None,
                        help="keep the first N training images")
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--output", default=None, help="JSON file for the results")
    args = parser.parse_args()

    test_images = data.load_arrays("mnist", "test", data_dir=args.data_dir)
    results = {}
    for name, build in family(args.latent_dim, args.network, seed=0).items():
        if args.models and name not in args.models:
            continue
        keras.utils.set_random_seed(0)
        model = build()
        compile_arguments = {}
        if isinstance(model, mmdvae.AAE):
            compile_arguments["discriminator_optimizer"] = keras.optimizers.Adam(1e-3)
        model.compile(**compile_arguments)
        before = measure(model, test_images)
        train = data.load("mnist", "train", batch_size=200, shuffle=True, seed=0,
                          train_size=args.train_size, data_dir=args.data_dir)
        start = time.perf_counter()
        history = model.fit(train, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        after = measure(model, test_images)
        final = {key: float(values[-1]) for key, values in history.history.items()}
        results[name] = {"squared_error": [before[0], after[0]], "mmd": [before[1], after[1]],
                         "seconds": seconds, "final_epoch": final}
        print(f"{name:14s} squared error {before[0]:.5f} -> {after[0]:.5f}   "
              f"MMD(test codes, prior) {before[1]:.5f} -> {after[1]:.5f}   "
              f"({seconds:.0f} s)   " + " ".join(f"{k}={v:.4g}" for k, v in final.items()),
              flush=True)
        if args.output:
            with open(args.output, "w") as file:
                json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()

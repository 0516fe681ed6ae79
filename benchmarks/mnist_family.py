"""Trains each model of the family a few epochs on MNIST and prints what changed.

For every model, at initialisation and after training: the per-pixel squared
error of the test reconstructions (posterior means) and the squared MMD between
the codes of the 10,000 test images and 10,000 samples of the model's prior
(``mmdvae.evaluation.full_data_mmd``: unbiased, float64). The codes are draws of
``q(z|x)``, so together they are a sample of the aggregate posterior ``q(z)``
that the regularisers match to the prior; a deterministic encoder's draws are
its outputs. The kernel is the models' training kernel
``exp(-||x - y||^2 / d^2)`` unless ``--kernel`` says otherwise.

    python benchmarks/mnist_family.py --epochs 3 --train-size 20000 --network conv

Run it from the repository root with ``PYTHONPATH=.``, under
``flock /tmp/mmdvae-heavy.lock`` on shared machines.
"""

import argparse
import json
import time

import keras

import mmdvae
from mmdvae import data, evaluation
from mmdvae.models import registry


def family(latent_dim, network, seed):
    """The registered models (``mmdvae.models.registry``), two settings and two controls."""
    variants = {
        "MMDVAE": ("mmd", {}),
        "VIMAE-n": ("vimae-n", {}),
        "VIMAE-l": ("vimae-l", {}),
        "AAE": ("aae", {}),
        "ELBOVAE": ("elbo", {}),
        "InfoVAE-mmd": ("infovae", {}),
        "InfoVAE-stein": ("infovae", {"divergence": "stein"}),
        "MutualAE": ("mutual", {"information": 5.0}),
        # Controls: the same encoders without a regulariser.
        "AE (MMDVAE, lambda_=0)": ("mmd", {"lambda_": 0.0}),
        "VIMAE-n, lambda_=0": ("vimae-n", {"lambda_": 0.0}),
    }
    return {
        label: (lambda name=name, extra=extra: registry.get(name).build(
            latent_dim, network=network, seed=seed, **extra))
        for label, (name, extra) in variants.items()
    }


def measure(model, test_images, kernel, kernel_kwargs):
    error = evaluation.reconstruction_error(model, test_images)["mse_per_pixel"]
    codes = evaluation.encode_dataset(model, test_images, sample=True, seed=1)
    prior_codes = evaluation.prior_samples(model, len(codes), seed=12345)
    mmd = evaluation.full_data_mmd(codes, prior_codes, kernel=kernel, estimator="unbiased",
                                   **kernel_kwargs)
    return error, mmd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--network", default="conv")
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=None,
                        help="keep the first N training images")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--kernel", default="tutorial",
                        help="kernel of the measured MMD (a name in mmdvae.kernels.KERNELS)")
    parser.add_argument("--bandwidth", type=float, default=None,
                        help="bandwidth of the measured MMD's 'rbf' kernel")
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--output", default=None, help="JSON file for the results")
    args = parser.parse_args()

    kernel_kwargs = {} if args.bandwidth is None else {"bandwidth": args.bandwidth}
    test_images = data.load_arrays("mnist", "test", data_dir=args.data_dir)
    results = {}
    for name, build in family(args.latent_dim, args.network, seed=0).items():
        if args.models and name not in args.models:
            continue
        keras.utils.set_random_seed(0)
        model = build()
        compile_arguments = {}
        if isinstance(model, mmdvae.AAE):
            compile_arguments["discriminator_optimizer"] = keras.optimizers.Adam(1e-4)
        model.compile(**compile_arguments)
        before = measure(model, test_images, args.kernel, kernel_kwargs)
        train = data.load("mnist", "train", batch_size=args.batch_size, shuffle=True, seed=0,
                          train_size=args.train_size, data_dir=args.data_dir)
        start = time.perf_counter()
        history = model.fit(train, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        after = measure(model, test_images, args.kernel, kernel_kwargs)
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

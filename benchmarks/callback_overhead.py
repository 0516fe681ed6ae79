"""Time per epoch on MNIST with and without the figure callbacks.

Trains ``MMDVAE(latent_dim=2, network=...)`` at batch 200 for a few epochs
twice from the same seed: once without callbacks, once with every figure of
``mmdvae.callbacks`` drawn after every epoch (PNG files, TensorBoard images and
GIF frames). The first epoch of each run includes XLA compilation and is left
out; the report gives the median of the remaining epochs.

    python benchmarks/callback_overhead.py --data-dir ../shared/datasets --epochs 3
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import keras

import mmdvae
from mmdvae import callbacks, data


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, figures included when placed after the figure callbacks."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def figure_callbacks(directory, images, labels):
    settings = dict(output_dir=directory, log_dir=Path(directory) / "logs", gif=True)
    return [
        callbacks.SampleGrid(**settings),
        callbacks.ReconstructionGrid(images, **settings),
        callbacks.LatentScatter(images, labels, **settings),
        callbacks.MorphGrid(**settings),
        callbacks.InterpolationGrid(images[0:10:2], images[1:10:2], **settings),
        callbacks.DensityContours(images, **settings),
    ]


def run(args, with_figures):
    keras.utils.set_random_seed(0)
    train = data.load("mnist", "train", batch_size=200, shuffle=True, seed=0,
                      train_size=args.train_size, data_dir=args.data_dir)
    images, labels = data.load_arrays("mnist", "test", with_labels=True, data_dir=args.data_dir)
    model = mmdvae.MMDVAE(latent_dim=2, network=args.network, seed=0)
    model.compile()
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as directory:
        figures = figure_callbacks(directory, images, labels) if with_figures else []
        model.fit(train, epochs=args.epochs, callbacks=[*figures, timer], verbose=0)
        written = sorted(path.name for path in Path(directory).iterdir())
    return timer.seconds, written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--network", default="conv", choices=("dcgan", "conv", "mlp"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--out", default=None, help="JSON file for the measurements")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error(f"--epochs must be >= 2 (the first is left out); received {args.epochs}")

    report = {"network": args.network, "epochs": args.epochs,
              "train_size": args.train_size or 60000}
    for name, with_figures in (("without_callbacks", False), ("with_all_figures", True)):
        seconds, written = run(args, with_figures)
        report[name] = {"seconds_per_epoch": seconds,
                        "median_after_first": statistics.median(seconds[1:]),
                        "files": len(written)}
        print(f"{name}: epochs {[round(s, 1) for s in seconds]} s; median after the first "
              f"{report[name]['median_after_first']:.1f} s; {len(written)} files written",
              flush=True)
    overhead = (report["with_all_figures"]["median_after_first"]
                - report["without_callbacks"]["median_after_first"])
    report["overhead_seconds_per_epoch"] = overhead
    print(f"all six figures every epoch add {overhead:.1f} s per epoch "
          f"({overhead / report['without_callbacks']['median_after_first']:.0%})")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

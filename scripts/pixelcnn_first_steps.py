"""The first steps of the ``pixelcnn`` experiment's models, recorded closely.

The experiment records its models every 250 steps; at the first record the
MMD-VAE (lambda = 1000) already has ``I_q(x; z) = 0``. This script trains the same
models (``mmdvae.experiments.pixelcnn``: its networks, data, seeds and optimizer)
for ``--steps`` steps and records every ``--every`` steps, on the experiment's test
images: ``I_q(x; z)``, active units, the mean posterior variance, the spread of
the posterior means, and the gradients of the loss's two terms (reconstruction,
regularisation) on the encoder's weights over the test batches: their norms and
how much the batches agree (``gradient_norms``). It writes a Markdown table and a figure.

The models start from the experiment's initial weights, see its batches and get
its noise: the records the experiment does not make leave the model's random
generator as they found it, so the trajectory is the experiment's step for step
and the records at the experiment's steps (its ``record_every``) repeat its values.

    MMDVAE_DATA_DIR=../shared/datasets python scripts/pixelcnn_first_steps.py \\
        --models mmd elbo --latent-dim 5 --steps 300 --every 10 \\
        --out docs/results/pixelcnn-first-steps
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def gradient_norms(model, batches) -> dict:
    """The gradients of the loss's two terms on the encoder, over ``batches``.

    For each term (``reconstruction_loss``, ``regularization_loss``): the mean over
    the batches of its gradient's norm, and its *coherence*, the norm of the mean
    gradient over that mean norm: 1 when every batch pulls the same way, about
    ``1 / sqrt(len(batches))`` when the gradients are independent noise.
    """
    import tensorflow as tf

    weights = model.encoder.trainable_weights
    sums, norms = {}, {}
    for images in batches:
        with tf.GradientTape(persistent=True) as tape:
            terms = model.compute_terms(images, training=True)
        for name in ("reconstruction_loss", "regularization_loss"):
            gradients = [tf.zeros_like(weight) if gradient is None else gradient
                         for gradient, weight in zip(tape.gradient(terms[name], weights),
                                                     weights, strict=True)]
            sums[name] = gradients if name not in sums else [
                total + gradient for total, gradient in zip(sums[name], gradients, strict=True)]
            norms.setdefault(name, []).append(float(tf.linalg.global_norm(gradients)))
        del tape
    results = {}
    for name in sums:
        mean_norm = float(np.mean(norms[name]))
        norm_of_mean = float(tf.linalg.global_norm(sums[name])) / len(batches)
        results[name] = mean_norm
        results[f"{name}_coherence"] = norm_of_mean / mean_norm if mean_norm > 0 else 0.0
    return results


def measure(model, test_images, seed: int, experiment_every: int) -> dict:
    """The experiment's measures and this script's; draws as the experiment's record.

    The experiment records every ``experiment_every`` steps; at those steps the
    model's generator is left as the experiment's measures leave it, at the
    others as it was, so training draws the experiment's noise.
    """
    from mmdvae import evaluation
    from mmdvae.experiments import pixelcnn

    generator = model.seed_generator.state
    before = generator.numpy()
    latent_use = pixelcnn.latent_use(model, test_images, seed)
    step = int(model.optimizer.iterations.numpy())
    after = generator.numpy() if step % experiment_every == 0 else before
    z_mean, z_log_var = evaluation.posterior_parameters(model, test_images)
    batch = pixelcnn.BATCH_SIZE
    gradients = gradient_norms(model, [test_images[start:start + batch]
                                       for start in range(0, len(test_images), batch)])
    generator.assign(after)
    return {
        **latent_use,
        "posterior_variance": float(np.mean(np.exp(z_log_var))),
        "mean_spread": float(np.mean(np.var(z_mean, axis=0))),
        "reconstruction_gradient": gradients["reconstruction_loss"],
        "regularization_gradient": gradients["regularization_loss"],
        "reconstruction_coherence": gradients["reconstruction_loss_coherence"],
        "regularization_coherence": gradients["regularization_loss_coherence"],
    }


def train(name: str, latent_dim: int, steps: int, every: int, seed: int, data_dir) -> dict:
    """One model of the experiment's phase ``{name}_z{latent_dim}_seed{seed}``, closely recorded."""
    from mmdvae.experiments import pixelcnn
    from mmdvae.experiments.runner import Run

    sizes = pixelcnn.EXPERIMENT.sizes_for("source")
    with tempfile.TemporaryDirectory() as directory:
        run = Run(pixelcnn.EXPERIMENT, directory, sizes, seed=0, scale="source",
                  data_dir=data_dir, verbose=0, write=False)
        test_images, _, _ = pixelcnn.evaluation_images(run)

        def compute():
            model, batches, model_seed = pixelcnn.model_and_batches(run, name, latent_dim, seed)
            return run.fit(model, batches, steps=steps, source_steps=None, record_every=every,
                           measure=lambda model: measure(model, test_images, model_seed,
                                                         sizes["record_every"]))

        # `phase` seeds Python, NumPy and TensorFlow as the experiment's phase does.
        record = run.phase(f"{name}_z{latent_dim}_seed{seed}", compute)
    return record["curves"]


COLUMNS = (("step", "step", "d"), ("mutual_information", "I_q (nats)", ".3f"),
           ("active_units", "active units", ".0f"), ("posterior_variance", "mean Var q(z\\|x)",
                                                     ".3f"),
           ("mean_spread", "Var_x E[z\\|x]", ".4f"), ("reconstruction_gradient",
                                                   "grad. of reconstruction", ".3g"),
           ("regularization_gradient", "grad. of regulariser", ".3g"),
           ("reconstruction_coherence", "coherence of reconstruction", ".2f"),
           ("regularization_coherence", "coherence of regulariser", ".2f"),
           ("test_loss", "test loss", ".2f"))


def table(curves: dict) -> list:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for index in range(len(curves["step"])):
        lines.append("| " + " | ".join(format(curves[key][index], spec)
                                       for key, _, spec in COLUMNS) + " |")
    return lines


def figure(all_curves: dict, path: Path, num_batches: int):
    from mmdvae import plotting

    keys = (("mutual_information", "I_q(x; z), nats"), ("posterior_variance",
                                                        "mean Var q(z|x)"),
            ("mean_spread", "Var_x E[z|x] (mean over units)"),
            ("gradient_ratio", "|grad regulariser| / |grad reconstruction|"),
            ("regularization_coherence", "coherence (solid: regulariser,\n"
                                         "dashed: reconstruction)"))
    plot = plotting.StandaloneFigure(figsize=(17, 3.4), layout="tight")
    grid = plot.subplots(1, len(keys))
    for index, (label, curves) in enumerate(all_curves.items()):
        curves = {**curves, "gradient_ratio": list(
            np.asarray(curves["regularization_gradient"])
            / np.maximum(curves["reconstruction_gradient"], 1e-30))}
        for axes, (key, title) in zip(grid, keys, strict=True):
            axes.plot(curves["step"], curves[key], color=f"C{index}", label=label)
            axes.set(xlabel="step", title=title)
        grid[4].plot(curves["step"], curves["reconstruction_coherence"], color=f"C{index}",
                     linestyle="--")
    grid[2].set_yscale("log")
    grid[3].set_yscale("log")
    grid[4].axhline(1 / np.sqrt(num_batches), color="grey", linewidth=0.8)
    grid[4].set_ylim(0, 1.05)
    grid[0].legend(fontsize="small")
    temporary = path.with_suffix(".tmp.png")
    plot.savefig(temporary, dpi=80)
    os.replace(temporary, path)


def main(argv=None) -> int:
    from mmdvae.cli.arguments import integer, one_line

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mmd", "elbo"],
                        choices=["elbo", "aae", "stein", "mmd"])
    parser.add_argument("--latent-dim", type=integer(1), default=5)
    parser.add_argument("--steps", type=integer(1), default=300)
    parser.add_argument("--every", type=integer(1), default=10)
    parser.add_argument("--seed", type=integer(0), default=0,
                        help="the experiment's seed index (its runs have 0, 1, 2)")
    parser.add_argument("--out", type=Path, required=True, help="a directory")
    arguments = parser.parse_args(argv)
    if arguments.out.exists() and not arguments.out.is_dir():
        parser.error(f"argument --out: {arguments.out} is a file, not a directory")
    from mmdvae.experiments import pixelcnn

    data_dir = os.environ.get("MMDVAE_DATA_DIR")
    num_batches = pixelcnn.EXPERIMENT.sizes_for("source")["test_images"] // pixelcnn.BATCH_SIZE
    arguments.out.mkdir(parents=True, exist_ok=True)
    all_curves, lines = {}, [
        "# The PixelCNN experiment's first steps", "",
        f"Made by `scripts/pixelcnn_first_steps.py --models {' '.join(arguments.models)} "
        f"--latent-dim {arguments.latent_dim} --steps {arguments.steps} --every "
        f"{arguments.every} --seed {arguments.seed}`: the models of the `pixelcnn` "
        f"experiment's phases `NAME_z{arguments.latent_dim}_seed{arguments.seed}` (same "
        "initial weights, data, optimizer and noise, so the trajectory is the experiment's "
        "step for step), recorded every "
        f"{arguments.every} steps, on the experiment's {num_batches * pixelcnn.BATCH_SIZE:,} "
        "test images. \"grad.\" is the norm of the gradient of one term of the loss on the "
        "encoder's weights, averaged "
        f"over the {num_batches} test batches of {pixelcnn.BATCH_SIZE}; \"coherence\" is the "
        "norm of that gradient's mean over the batches divided by that average: 1 when the "
        f"batches agree, about 1/sqrt({num_batches}) = {1 / np.sqrt(num_batches):.2f} for "
        "independent noise.", ""]
    for name in arguments.models:
        label = pixelcnn.MODELS[name][2]
        try:
            curves = train(name, arguments.latent_dim, arguments.steps, arguments.every,
                           arguments.seed, data_dir)
        except (TypeError, ValueError) as error:  # bad data or settings, in one line
            print(f"error: {one_line(error)}", file=sys.stderr)
            return 1
        all_curves[label] = curves
        lines += [f"## {label}", "", *table(curves), ""]
        print(f"{label}: done", file=sys.stderr)
    figure(all_curves, arguments.out / "first_steps.png", num_batches)
    lines += ["![first steps](first_steps.png)", ""]
    for path, text in ((arguments.out / "first_steps.json", json.dumps(all_curves, indent=1)),
                       (arguments.out / "README.md", "\n".join(lines))):
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

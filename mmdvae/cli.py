"""Command-line interface: ``python -m mmdvae train|evaluate|compare ...``."""

import argparse
import json
import sys
import time
from pathlib import Path

MODEL_CHOICES = ("mmd", "elbo", "infovae", "aae", "vimae-n", "vimae-l", "mutual")
DATASET_CHOICES = ("mnist", "fashion_mnist")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmdvae",
        description="Train and inspect MMD variational autoencoders and their relatives.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train",
        help="train a model on MNIST or Fashion-MNIST and write it with its figures",
        description="Train a model; DIR receives model.keras, history.json, "
        "samples.png and (2-D latents) latent_scatter.png.",
    )
    train.add_argument("--model", choices=MODEL_CHOICES, default="mmd",
                       help="infovae: alpha=0.5, lambda_=100, Bernoulli likelihood; "
                       "vimae-n/-l: VIMAE with the normal/logistic prior; "
                       "mutual: MutualAE with M=1 nat")
    train.add_argument("--dataset", choices=DATASET_CHOICES, default="mnist")
    train.add_argument("--latent-dim", type=_positive_int, default=20)
    train.add_argument("--epochs", type=_positive_int, default=10)
    train.add_argument("--batch-size", type=_positive_int, default=200)
    train.add_argument("--network", choices=("dcgan", "conv", "mlp"), default="dcgan",
                       help="encoder/decoder architecture (dcgan: the InfoVAE authors')")
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--discriminator-learning-rate", type=float, default=None,
                       help="aae: the discriminator's Adam learning rate "
                            "(default: a tenth of --learning-rate)")
    train.add_argument("--encoder-type", choices=("deterministic", "gaussian"),
                       default=None, help="MMD-VAE encoder (default: the model's)")
    train.add_argument("--reconstruction", choices=("mse", "bernoulli", "gaussian"),
                       default=None, help="reconstruction term (default: the model's)")
    train.add_argument("--lambda", dest="lambda_", type=float, default=None,
                       help="MMD-VAE divergence weight (default: the model's, 1)")
    train.add_argument("--out", required=True, metavar="DIR", help="output directory")
    train.add_argument(
        "--data-dir", metavar="DIR", default=None,
        help="directory of the IDX files (default: $MMDVAE_DATA_DIR, else tensorflow-datasets)",
    )
    train.add_argument("--train-size", type=_positive_int, default=None,
                       help="keep the first N training images")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--overwrite", action="store_true",
                       help="allow writing into a non-empty output directory")
    train.add_argument("--no-jit", action="store_true", help="do not compile steps with XLA")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run in DIR from its last completed "
                       "epoch (DIR/backup keeps one after every epoch)")
    _add_figure_options(train)
    _add_evaluation_commands(commands)
    return parser


# === Figures during training ===

FIGURE_CHOICES = ("samples", "reconstructions", "scatter", "morph", "interpolations", "density")
TWO_DIMENSIONAL_FIGURES = ("morph", "density")


def _figure_list(text):
    names = [name for name in text.split(",") if name] if text != "none" else []
    unknown = [name for name in names if name not in FIGURE_CHOICES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"must be 'none' or a comma-separated list of {', '.join(FIGURE_CHOICES)}; "
            f"received {text}")
    return names


def _add_figure_options(train):
    figures = train.add_argument_group(
        "figures", "figures drawn while training, into DIR/figures/{name}_epoch_NNNN.png")
    figures.add_argument(
        "--figures", type=_figure_list, default=["samples", "scatter"], metavar="LIST",
        help=f"comma-separated figures among {', '.join(FIGURE_CHOICES)}, or 'none' "
        f"(default: samples,scatter; morph and density need --latent-dim 2)")
    figures.add_argument("--figure-every", type=_positive_int, default=1, metavar="N",
                         help="draw the figures every N epochs (default: 1)")
    figures.add_argument("--gif", action="store_true",
                         help="also write DIR/figures/{name}.gif, the figures across epochs")
    figures.add_argument("--tensorboard", action="store_true",
                         help="also write the figures as TensorBoard images into DIR/logs")


def _check_figure_arguments(args):
    two_dimensional = [name for name in args.figures if name in TWO_DIMENSIONAL_FIGURES]
    if two_dimensional and args.latent_dim != 2:
        raise SystemExit(
            f"error: --figures {','.join(two_dimensional)} needs --latent-dim 2; received "
            f"--latent-dim {args.latent_dim} (use 'interpolations' for any latent size)")


def _figure_callbacks(args, out):
    """The figure callbacks chosen by ``--figures``, drawing from the test split."""
    if not args.figures:
        return []
    from mmdvae import callbacks, data

    images, labels = data.load_arrays(args.dataset, "test", with_labels=True,
                                      data_dir=args.data_dir)
    settings = dict(every=args.figure_every, output_dir=out / "figures", gif=args.gif,
                    log_dir=out / "logs" if args.tensorboard else None,
                    # A resumed run adds the epochs after the ones already drawn.
                    overwrite=args.overwrite or args.resume)
    makers = {
        "samples": lambda: callbacks.SampleGrid(seed=args.seed, **settings),
        "reconstructions": lambda: callbacks.ReconstructionGrid(images, **settings),
        "scatter": lambda: callbacks.LatentScatter(images, labels, seed=args.seed,
                                                   class_names=data.CLASS_NAMES[args.dataset],
                                                   **settings),
        "morph": lambda: callbacks.MorphGrid(**settings),
        "interpolations": lambda: callbacks.InterpolationGrid(images[0:10:2], images[1:10:2],
                                                              **settings),
        "density": lambda: callbacks.DensityContours(images, seed=args.seed, **settings),
    }
    return [makers[name]() for name in args.figures]


def _add_evaluation_commands(commands) -> None:
    from mmdvae.evaluation import CLASSIFIERS, METRICS

    evaluate = commands.add_parser(
        "evaluate",
        help="measure a trained model (log-likelihood, MMD, classifiers, ...)",
        description="Compute the papers' measures of a trained model on a test set, "
        "print them as a table and write them to a JSON file.",
    )
    evaluate.add_argument("model_path", metavar="MODEL_PATH",
                          help="a .keras file or a run directory holding model.keras")
    evaluate.add_argument("--dataset", choices=DATASET_CHOICES, default="mnist")
    evaluate.add_argument("--metrics", nargs="+", choices=METRICS, default=None,
                          help="measures to compute (default: every one the model allows)")
    evaluate.add_argument("--out", required=True, metavar="FILE.json")
    evaluate.add_argument("--overwrite", action="store_true",
                          help="allow replacing an existing --out file")
    evaluate.add_argument("--data-dir", metavar="DIR", default=None)
    evaluate.add_argument("--test-size", type=_positive_int, default=None,
                          help="use the first N test images (default: all)")
    evaluate.add_argument("--log-likelihood-images", type=_positive_int, default=100,
                          help="test images whose log-likelihood is estimated")
    evaluate.add_argument("--importance-samples", type=_positive_int, default=1000,
                          help="K of the encoder-proposal log-likelihood")
    evaluate.add_argument("--prior-samples", type=_positive_int, default=50_000,
                          help="K of the prior-proposal log-likelihood")
    evaluate.add_argument("--num-generated", type=_positive_int, default=10_000,
                          help="prior samples scored by the image classifier")
    evaluate.add_argument("--num-labelled", type=_positive_int, nargs="+",
                          default=[100, 1000], help="labelled codes of the latent accuracy")
    evaluate.add_argument("--latent-classifier", choices=CLASSIFIERS, default="knn")
    evaluate.add_argument("--noise-std", type=float, nargs="*", default=[],
                          help="Gaussian input noise levels of the latent accuracy")
    evaluate.add_argument("--mask-fraction", type=float, nargs="*", default=[],
                          help="masked pixel fractions of the latent accuracy")
    evaluate.add_argument("--kernel", default="tutorial", help="MMD kernel name")
    evaluate.add_argument("--mse-variance", type=float, default=None,
                          help="decoder variance assumed for log p(x) of an mse model")
    evaluate.add_argument("--cache-dir", default=None,
                          help="image classifier cache (default: ~/.cache/mmdvae)")
    evaluate.add_argument("--classifier-epochs", type=_positive_int, default=2)
    evaluate.add_argument("--classifier-train-size", type=_positive_int, default=None)
    evaluate.add_argument("--seed", type=int, default=0)

    compare = commands.add_parser(
        "compare",
        help="put several evaluated runs side by side in a Markdown report",
        description="Each RUN_DIR must hold evaluation.json (from `evaluate --out "
        "RUN_DIR/evaluation.json`); its figures (*.png) are linked in the report.",
    )
    compare.add_argument("run_dirs", metavar="RUN_DIR", nargs="+")
    compare.add_argument("--out", required=True, metavar="REPORT.md")
    compare.add_argument("--overwrite", action="store_true")


def _model_class(name):
    import mmdvae

    if name in ("vimae-n", "vimae-l"):
        prior = "normal" if name == "vimae-n" else "logistic"
        return lambda **arguments: mmdvae.VIMAE(prior=prior, **arguments)
    if name == "infovae":
        return lambda **arguments: mmdvae.InfoVAE(
            alpha=0.5, lambda_=100.0, encoder_type="gaussian", reconstruction="bernoulli",
            **arguments)
    return {"mmd": mmdvae.MMDVAE, "elbo": mmdvae.ELBOVAE, "aae": mmdvae.AAE,
            "mutual": mmdvae.MutualAE}[name]


def _model_options(args) -> dict:
    """The optional model arguments given on the command line."""
    options = {"encoder_type": args.encoder_type, "reconstruction": args.reconstruction,
               "lambda_": args.lambda_}
    if args.model == "elbo":
        for name in ("encoder_type", "lambda_"):
            if options[name] is not None:
                flag = "--lambda" if name == "lambda_" else "--encoder-type"
                raise SystemExit(f"error: {flag} does not apply to --model elbo "
                                 "(its encoder is Gaussian and its KL weight is 1)")
    return {name: value for name, value in options.items() if value is not None}


def train(args) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} exists and is not a directory")
    if args.resume:
        _check_resumable(out, args)
    elif out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise SystemExit(
            f"error: --out {out} is not empty; choose another directory, pass "
            f"--resume to continue its run or --overwrite"
        )
    _check_figure_arguments(args)

    import keras
    import numpy as np

    import mmdvae
    from mmdvae import data, plotting

    keras.utils.set_random_seed(args.seed)
    train_images = data.load(
        args.dataset, "train", batch_size=args.batch_size, shuffle=True, seed=args.seed,
        train_size=args.train_size, data_dir=args.data_dir,
    )
    test_images = data.load(args.dataset, "test", batch_size=args.batch_size,
                            data_dir=args.data_dir)
    try:
        model = _model_class(args.model)(latent_dim=args.latent_dim, network=args.network,
                                         seed=args.seed, **_model_options(args))
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: --model {args.model}: {error}") from None
    extra = {}
    if isinstance(model, mmdvae.AAE):
        rate = args.discriminator_learning_rate
        extra["discriminator_optimizer"] = keras.optimizers.Adam(
            args.learning_rate / 10 if rate is None else rate)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  jit_compile=not args.no_jit, **extra)

    out.mkdir(parents=True, exist_ok=True)
    figure_callbacks = _figure_callbacks(args, out)
    start = time.perf_counter()
    model, history, stop_message = _fit_with_backup(model, args, out, train_images,
                                                    test_images, figure_callbacks)
    seconds = time.perf_counter() - start
    record = {"epochs": len(history.get("loss", [])), "seconds": seconds,
              "history": history,
              "arguments": {k: v for k, v in vars(args).items() if k != "command"}}
    (out / "history.json").write_text(json.dumps(record, indent=2, default=float))
    if stop_message:
        raise SystemExit(f"error: {stop_message}")
    model.save(out / "model.keras")

    figure = plotting.image_grid(model.sample(100, seed=args.seed).numpy(), num_columns=10,
                                 title=f"{args.model} samples from the prior")
    figure.savefig(out / "samples.png", dpi=100)
    if args.latent_dim == 2:
        images, labels = data.load_arrays(args.dataset, "test", with_labels=True,
                                          data_dir=args.data_dir)
        codes = np.concatenate([model.encode(batch).numpy()
                                for batch in np.array_split(images, 50)])
        figure = plotting.latent_scatter(codes, labels,
                                         title=f"{args.model}: test codes by class",
                                         class_names=data.CLASS_NAMES[args.dataset])
        figure.savefig(out / "latent_scatter.png", dpi=100)
    final = {key: values[-1] for key, values in history.items()}
    print(f"trained {args.epochs} epochs in {seconds:.1f} s; wrote {out}")
    print("  ".join(f"{key}={value:.5g}" for key, value in final.items()))
    return 0


#: Arguments a resumed run must share with the run it continues.
_RUN_ARGUMENTS = ("model", "dataset", "latent_dim", "batch_size", "network",
                  "learning_rate", "train_size", "seed", "encoder_type",
                  "reconstruction", "lambda_", "discriminator_learning_rate")


def _check_resumable(out, args):
    from mmdvae import checkpoints

    state = checkpoints.read_backup_state(out / "backup")
    if state is None:
        raise SystemExit(
            f"error: --resume needs the backup of an earlier run in {out / 'backup'}; "
            f"there is none (start the run without --resume)"
        )
    recorded = state.get("arguments", {})
    changed = [
        f"--{name.replace('_', '-')} {recorded[name]!r} -> {getattr(args, name)!r}"
        for name in _RUN_ARGUMENTS
        if name in recorded and recorded[name] != getattr(args, name, None)
    ]
    if changed:
        raise SystemExit(
            "error: --resume must repeat the interrupted run's arguments; changed: "
            + ", ".join(changed)
        )


def _fit_with_backup(model, args, out, train_images, test_images, callbacks=()):
    """Fits with a per-epoch backup in OUT/backup; resumes from it with --resume.

    Returns the model (the restored one when resuming), the history of every
    epoch of the run and the stop message of a non-finite loss (or ``None``).
    """
    from mmdvae import checkpoints

    history, initial_epoch = {}, 0
    if args.resume:
        model, initial_epoch, history = checkpoints.restore_backup(out / "backup")
        print(f"resuming after epoch {initial_epoch} from {out / 'backup'}", flush=True)
    arguments = {name: getattr(args, name, None) for name in _RUN_ARGUMENTS}
    backup = checkpoints.EpochBackup(out / "backup", history=history,
                                     metadata={"arguments": arguments})
    stop = checkpoints.StopOnNonFiniteLoss(out / "model.keras")
    if initial_epoch < args.epochs:
        model.fit(train_images, epochs=args.epochs, initial_epoch=initial_epoch,
                  validation_data=test_images, callbacks=[stop, backup, *callbacks],
                  verbose=1 if sys.stdout.isatty() else 2)
    return model, backup.history, stop.message


def _model_file(path: Path) -> Path:
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise SystemExit(f"error: no model file at {path} (expected a .keras file or "
                         "a run directory holding model.keras)")
    return path


def _check_output_file(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise SystemExit(f"error: --out {path} exists; choose another file or pass "
                         "--overwrite")


def evaluate(args) -> int:
    model_file = _model_file(Path(args.model_path))
    out = Path(args.out)
    _check_output_file(out, args.overwrite)
    for name in ("noise_std", "mask_fraction"):
        for level in getattr(args, name):
            if not (level >= 0 and (name == "noise_std" or level <= 1)):
                raise SystemExit(f"error: --{name.replace('_', '-')} {level} must be "
                                 f"{'>= 0' if name == 'noise_std' else 'in [0, 1]'}")

    import keras

    import mmdvae  # noqa: F401  (registers the model classes)
    from mmdvae import data, evaluation

    model = keras.saving.load_model(model_file, compile=False)
    if tuple(model.image_shape) != data.IMAGE_SHAPE:
        raise SystemExit(f"error: the model's image_shape={model.image_shape} does not "
                         f"match {args.dataset}'s {data.IMAGE_SHAPE}")
    try:
        chosen, _ = evaluation.select_metrics(model, args.metrics, True, args.mse_variance)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    test_images, test_labels = data.load_arrays(args.dataset, "test", with_labels=True,
                                                data_dir=args.data_dir)
    test_images, test_labels = test_images[: args.test_size], test_labels[: args.test_size]
    train_images = train_labels = None
    if "latent_accuracy" in chosen:
        train_images, train_labels = data.load_arrays(
            args.dataset, "train", with_labels=True, data_dir=args.data_dir)
    classifier, classifier_info = None, None
    if {"class_cross_entropy", "classifier_frechet_distance"} & set(chosen):
        classifier, classifier_info = evaluation.train_image_classifier(
            args.dataset, data_dir=args.data_dir, cache_dir=args.cache_dir,
            epochs=args.classifier_epochs, train_size=args.classifier_train_size)
    corruptions = [("gaussian", level) for level in args.noise_std] + [
        ("mask", level) for level in args.mask_fraction]
    try:
        results = evaluation.evaluate(
            model, test_images, test_labels, train_images, train_labels,
            metrics=args.metrics, image_classifier=classifier,
            log_likelihood_images=args.log_likelihood_images,
            importance_samples=args.importance_samples,
            prior_proposal_samples=args.prior_samples, num_generated=args.num_generated,
            num_labelled=args.num_labelled, latent_classifier=args.latent_classifier,
            corruptions=corruptions, kernel=args.kernel, mse_variance=args.mse_variance,
            seed=args.seed)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    record = {
        "model": str(model_file), "model_class": type(model).__name__,
        "latent_dim": model.latent_dim, "dataset": args.dataset,
        "num_test_images": len(test_images), "image_classifier": classifier_info,
        "arguments": {k: v for k, v in vars(args).items() if k != "command"},
        "metrics": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=float))
    print(f"{type(model).__name__} (latent_dim={model.latent_dim}) on {args.dataset} "
          f"test, {len(test_images)} images")
    table = {key: value for key, value in evaluation.flatten(results).items()
             if not key.startswith("seconds.")}
    width = max(map(len, table), default=10)
    for key, value in table.items():
        print(f"  {key:<{width}}  {value:.6g}")
    for metric, reason in results["skipped"].items():
        print(f"  {metric:<{width}}  skipped: {reason}")
    print(f"wrote {out}")
    return 0


def compare(args) -> int:
    import os

    from mmdvae import evaluation

    out = Path(args.out)
    _check_output_file(out, args.overwrite)
    runs = []
    for directory in map(Path, args.run_dirs):
        path = directory / "evaluation.json"
        if not path.is_file():
            raise SystemExit(
                f"error: {directory} holds no evaluation.json; run `python -m mmdvae "
                f"evaluate {directory} --out {path}` first")
        runs.append((directory, json.loads(path.read_text())))
    names = [directory.name or str(directory) for directory, _ in runs]
    if len(set(names)) < len(names):
        names = [str(directory) for directory, _ in runs]
    tables = [{key: value for key, value in evaluation.flatten(record["metrics"]).items()
               if not key.startswith("seconds.")} for _, record in runs]
    keys = list(dict.fromkeys(key for table in tables for key in table))
    lines = ["# Model comparison", "",
             "| metric | " + " | ".join(names) + " |",
             "| --- |" + " --- |" * len(names)]
    for label, key in (("model", "model_class"), ("latent_dim", "latent_dim"),
                       ("dataset", "dataset"), ("test images", "num_test_images")):
        lines.append(f"| {label} | " + " | ".join(str(record.get(key, ""))
                                                  for _, record in runs) + " |")
    for key in keys:
        cells = [f"{table[key]:.6g}" if key in table else "-" for table in tables]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    for name, (_, record) in zip(names, runs, strict=True):
        for metric, reason in record["metrics"].get("skipped", {}).items():
            lines.append(f"\n{name}: {metric} skipped ({reason}).")
    lines += ["", "## Figures", ""]
    for name, (directory, _) in zip(names, runs, strict=True):
        figures = sorted(directory.glob("*.png"))
        if figures:
            lines += [f"### {name}", ""]
            lines += [f"![{name} {figure.stem}]"
                      f"({Path(os.path.relpath(figure.resolve(), out.resolve().parent))})"
                      for figure in figures]
            lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"compared {len(runs)} runs; wrote {out}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return train(args)
    if args.command == "evaluate":
        return evaluate(args)
    if args.command == "compare":
        return compare(args)
    return 2

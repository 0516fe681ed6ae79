"""Command-line interface: ``python -m mmdvae train|evaluate|compare|reproduce ...``.

Every model of ``mmdvae.models.registry`` can be trained; every constructor
argument that matters has a flag, and a flag that does not apply to the chosen
model is refused with one ``error:`` line. Mistakes are reported before any
data is loaded or any model is trained.
"""

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import sys
import time
import zipfile
from pathlib import Path

import keras

from mmdvae import data, distribute, experiments, kernels, likelihoods, networks, priors
from mmdvae.models import base, info_vae, registry

#: Test images the figures draw from, at most (and at most this many bytes).
FIGURE_IMAGES = 10_000
FIGURE_BYTES = 200 * 2**20
#: Scatters colour codes by class up to this many classes, and draw them plainly beyond.
MAX_COLOURED_CLASSES = 20
FIGURE_CHOICES = ("samples", "reconstructions", "scatter", "morph", "interpolations", "density")
TWO_DIMENSIONAL_FIGURES = ("morph", "density")


# === Argument types ===


def _one_line(error) -> str:
    """An exception's message on one line, for an ``error:`` line."""
    return " ".join(str(error).split())


def _bandwidth(text):
    if text == "median":
        return text
    try:
        return _number(0.0, strict=True)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a finite number > 0 or 'median'; received {text}") from None


def _integer(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise argparse.ArgumentTypeError(f"must be {kind}; received {text}")
        return value

    return parse


_positive_int = _integer(1)


def _number(minimum=None, strict=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low = minimum is None or (value > minimum if strict else value >= minimum)
        if not math.isfinite(value) or not low:
            bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number{bound}; received {text}")
        return value

    return parse


def _integer_list(text):
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of positive integers; received {text}")
    return values


def _image_size(text):
    try:
        sizes = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        sizes = ()
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"must be HEIGHTxWIDTH (e.g. 64x64) or one size; received {text}")
    return sizes


def _figure_list(text):
    names = [name for name in text.split(",") if name] if text != "none" else []
    unknown = [name for name in names if name not in FIGURE_CHOICES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"must be 'none' or a comma-separated list of {', '.join(FIGURE_CHOICES)}; "
            f"received {text}")
    return names


#: The model flags: flag -> (constructor argument, argparse settings, help).
MODEL_FLAGS = {
    "--network": ("network", {"choices": networks.NETWORKS},
                  "encoder/decoder architecture (dcgan: the InfoVAE authors')"),
    "--encoder-type": ("encoder_type", {"choices": base.ENCODER_TYPES},
                       "deterministic z = f(x), or Gaussian q(z|x)"),
    "--likelihood": ("likelihood", {"choices": likelihoods.LIKELIHOODS},
                     "decoder likelihood"),
    "--prior": ("prior", {"choices": priors.PRIORS}, "the prior p(z)"),
    "--lambda": ("lambda_", {"type": _number(0.0)}, "weight of the divergence of q(z)"),
    "--alpha": ("alpha", {"type": _number()}, "infovae: information preference (<= 1)"),
    "--beta": ("beta", {"type": _number(0.0)}, "elbo, mutual: weight of the KL term"),
    "--divergence": ("divergence", {"choices": info_vae.DIVERGENCES}, "infovae: D"),
    "--kernel": ("kernel", {"choices": kernels.KERNELS}, "kernel of the MMD or Stein term"),
    "--bandwidth": ("bandwidth", {"type": _bandwidth},
                    "bandwidth of the rbf and inverse_multiquadric kernels, or 'median' "
                    "(the median heuristic on each batch)"),
    "--estimator": ("estimator", {"choices": kernels.ESTIMATORS}, "MMD estimator"),
    "--num-prior-samples": ("num_prior_samples", {"type": _positive_int},
                            "prior draws per step of the MMD (default: the batch size)"),
    "--information": ("information", {"type": _number(0.0)},
                      "mutual: the target I(z, x) in nats"),
    "--penalty-weight": ("penalty_weight", {"type": _number(0.0)},
                         "mutual: weight of the information penalty"),
    "--discriminator-units": ("discriminator_units", {"type": _integer_list},
                              "aae: discriminator widths, e.g. 512,512"),
}
_FLAG_OF = {argument: flag for flag, (argument, _, _) in MODEL_FLAGS.items()}


def _model_help() -> str:
    return "; ".join(f"{name}: {entry.summary}" for name, entry in registry.MODELS.items())


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
    train.add_argument("--model", choices=tuple(registry.MODELS), default="mmd",
                       help=_model_help())
    train.add_argument(
        "--dataset", default="mnist", metavar="NAME_OR_DIR",
        help=f"one of {', '.join(data.NAMED_DATASETS)}, any tensorflow-datasets image "
        f"dataset, or a directory of images (class subfolders give labels; no validation "
        f"split). Default: mnist")
    train.add_argument("--image-size", type=_image_size, default=None, metavar="HxW",
                       help="resize the images, e.g. 64x64 (needed for images of mixed "
                       "sizes)")
    train.add_argument("--skip-unreadable", action="store_true",
                       help="a directory --dataset: leave out, with a warning, image files "
                       "that cannot be read (default: refuse them by name)")
    train.add_argument("--latent-dim", type=_positive_int, default=20)
    train.add_argument("--epochs", type=_positive_int, default=10)
    train.add_argument("--batch-size", type=_positive_int, default=200)
    train.add_argument("--learning-rate", type=_number(0.0, strict=True), default=1e-3)
    train.add_argument("--discriminator-learning-rate", type=_number(0.0, strict=True),
                       default=None, help="aae: the discriminator's Adam learning rate "
                       "(default: a tenth of --learning-rate)")
    model_flags = train.add_argument_group(
        "model", "settings of the model; each applies to the models that take it, and "
        "defaults to the model's own")
    for flag, (argument, settings, text) in MODEL_FLAGS.items():
        metavar = "LAMBDA" if flag == "--lambda" else None
        model_flags.add_argument(flag, dest=argument, default=None, help=text,
                                 metavar=metavar, **settings)
    model_flags.add_argument("--reconstruction", dest="likelihood", help=argparse.SUPPRESS,
                             choices=likelihoods.LIKELIHOODS)
    train.add_argument("--out", required=True, metavar="DIR", help="output directory")
    train.add_argument(
        "--data-dir", metavar="DIR", default=None,
        help="directory of the IDX files (default: $MMDVAE_DATA_DIR, else tensorflow-datasets)",
    )
    train.add_argument("--train-size", type=_positive_int, default=None,
                       help="keep the first N training images")
    train.add_argument("--seed", type=_integer(0), default=0)
    train.add_argument("--overwrite", action="store_true",
                       help="allow writing into a non-empty output directory")
    jit = train.add_mutually_exclusive_group()
    jit.add_argument("--jit", action="store_true",
                     help="compile steps with XLA (default: where it is the faster step, "
                          "i.e. unless TensorFlow's oneDNN kernels are on)")
    jit.add_argument("--no-jit", action="store_true", help="do not compile steps with XLA")
    train.add_argument(
        "--strategy", choices=distribute.STRATEGIES, default="none",
        help="data-parallel training: mirrored (every GPU of this machine) or multi-worker "
        "(machines configured by TF_CONFIG; worker 0 writes DIR, the others a "
        "DIR/.worker-N scratch directory); --batch-size is the global batch")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run in DIR from its last completed "
                       "epoch (DIR/backup keeps one after every epoch)")
    _add_figure_options(train)
    _add_evaluation_commands(commands)
    experiments.add_reproduce_command(commands)
    return parser


# === Figures during training ===


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


def _figure_callbacks(args, out, images, labels, class_names):
    """The figure callbacks chosen by ``--figures``, drawing from the test split."""
    from mmdvae import callbacks

    settings = dict(every=args.figure_every, output_dir=out / "figures", gif=args.gif,
                    log_dir=out / "logs" if args.tensorboard else None,
                    # A resumed run adds the epochs after the ones already drawn.
                    overwrite=args.overwrite or args.resume)
    makers = {
        "samples": lambda: callbacks.SampleGrid(seed=args.seed, **settings),
        "reconstructions": lambda: callbacks.ReconstructionGrid(images, **settings),
        "scatter": lambda: callbacks.LatentScatter(images, labels, seed=args.seed,
                                                   class_names=class_names, **settings),
        "morph": lambda: callbacks.MorphGrid(**settings),
        "interpolations": lambda: callbacks.InterpolationGrid(images[0:10:2], images[1:10:2],
                                                              **settings),
        "density": lambda: callbacks.DensityContours(images, seed=args.seed, **settings),
    }
    return [makers[name]() for name in args.figures]


# === train ===


def model_arguments(args) -> dict:
    """The model arguments given on the command line, checked against the model.

    A flag that does not apply to ``--model`` is refused with one line naming
    the flag, its value and the flags the model takes.
    """
    entry = registry.get(args.model)
    given = {argument: getattr(args, argument) for argument, _, _ in MODEL_FLAGS.values()
             if getattr(args, argument, None) is not None}
    for argument, value in given.items():
        flag = _FLAG_OF[argument]
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        if argument in entry.fixed:
            raise SystemExit(
                f"error: {flag} {shown} does not apply to --model {args.model}, which "
                f"fixes {flag} {entry.fixed[argument]} (choose another --model)")
        if argument not in entry.arguments:
            takes = " ".join(_FLAG_OF[name] for name in entry.arguments if name in _FLAG_OF)
            raise SystemExit(
                f"error: {flag} {shown} does not apply to --model {args.model} "
                f"({entry.model_class.__name__}); it takes {takes}")
    return given


def _build_model(args, arguments, image_shape):
    try:
        return registry.get(args.model).build(args.latent_dim, seed=args.seed,
                                              image_shape=image_shape, **arguments)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: --model {args.model}: {_one_line(error)}") from None


def _compile(model, args, strategy):
    extra = {}
    if hasattr(model, "discriminator_optimizer"):
        rate = args.discriminator_learning_rate
        extra["discriminator_optimizer"] = keras.optimizers.Adam(
            args.learning_rate / 10 if rate is None else rate)
    elif args.discriminator_learning_rate is not None:
        raise SystemExit(f"error: --discriminator-learning-rate "
                         f"{args.discriminator_learning_rate} applies to --model aae only")
    jit_compile = True if args.jit else False if args.no_jit else "auto"
    # XLA cannot compile a step whose replicas' variables sit on several devices.
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  jit_compile=jit_compile if strategy is None else False, **extra)


def _prepare_output_directory(out: Path, args):
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} exists and is not a directory")
    if args.resume:
        _check_resumable(out, args)
    elif out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise SystemExit(
            f"error: --out {out} is not empty; choose another directory, pass "
            f"--resume to continue its run or --overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"error: --out {out} cannot be created: {error.strerror}") from None
    if not os.access(out, os.W_OK):
        raise SystemExit(f"error: --out {out} is not writable")


def _make_strategy(args):
    """The ``--strategy``, made first; ``None`` for ``none``."""
    try:
        strategy = distribute.make_strategy(args.strategy)
    except ValueError as error:
        raise SystemExit(f"error: --strategy {args.strategy}: {_one_line(error)}") from None
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    if args.batch_size % replicas:
        raise SystemExit(f"error: --batch-size {args.batch_size} must be divisible by the "
                         f"{replicas} replicas of --strategy {args.strategy}")
    return strategy


def _worker_directory(out: Path, strategy) -> Path:
    """``out`` for worker 0 of a multi-worker run (and any other run), else a scratch one."""
    if strategy is None or not distribute.is_multi_worker():
        return out
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    if task.get("type") == "chief" or (task.get("index", 0) == 0 and not any(
            "chief" in key for key in json.loads(os.environ["TF_CONFIG"])["cluster"])):
        return out
    return out / f".worker-{task.get('index', 0)}"


def _dataset_info(args):
    """What ``--dataset`` holds (a name or a directory), known before loading it."""
    try:
        if Path(args.dataset).is_dir():
            return data.directory_info(args.dataset, image_size=args.image_size,
                                       skip_unreadable=args.skip_unreadable)
        if args.skip_unreadable:
            raise SystemExit(f"error: --skip-unreadable applies to a directory of images; "
                             f"received --dataset {args.dataset}")
        return data.info(args.dataset, image_size=args.image_size)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: --dataset {args.dataset}: {_one_line(error)}") from None


def _load_data(args, info):
    """The training and test datasets, and the test arrays the figures draw from.

    A directory has no test split: it trains without validation and draws its
    figures from its first images.
    """
    labelled = info.has_labels
    per_image = 4 * math.prod(info.image_shape)
    figure_count = max(1, min(FIGURE_IMAGES, FIGURE_BYTES // per_image))
    common = dict(batch_size=args.batch_size, image_size=args.image_size)
    try:
        if Path(args.dataset).is_dir():
            common["skip_unreadable"] = args.skip_unreadable
            train_images = data.from_directory(args.dataset, shuffle=True, seed=args.seed,
                                               train_size=args.train_size, **common)
            test_images = None
            first = data.from_directory(args.dataset, with_labels=labelled, **common)
            figure_data = _first_images(first, figure_count, labelled)
        else:
            source = dict(data_dir=args.data_dir, **common)
            train_images = data.load(args.dataset, "train", shuffle=True, seed=args.seed,
                                     train_size=args.train_size, **source)
            test_images = data.load(args.dataset, "test", **source)
            figure_data = data.load_arrays(
                args.dataset, "test", with_labels=labelled, data_dir=args.data_dir,
                image_size=args.image_size,
                train_size=min(figure_count, info.splits.get("test", figure_count)))
            figure_data = figure_data if labelled else (figure_data, None)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {_one_line(error)}") from None
    return train_images, test_images, figure_data


def _first_images(dataset, count, labelled):
    """The first ``count`` images (and labels, else ``None``) of a batched dataset."""
    import numpy as np

    images, labels = [], []
    for element in dataset:
        batch, batch_labels = element if labelled else (element, None)
        images.append(batch.numpy())
        labels.append(None if batch_labels is None else batch_labels.numpy())
        if sum(map(len, images)) >= count:
            break
    images = np.concatenate(images)[:count]
    return images, (np.concatenate(labels)[:count] if labelled else None)


def _topmost_missing(path: Path) -> Path | None:
    """The highest of ``path`` and its ancestors that does not exist yet, if any."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _remove_if_empty(directory: Path) -> None:
    """Removes a directory tree that holds no file (the leftovers of a failed run)."""
    if directory.is_dir() and not any(path.is_file() or path.is_symlink()
                                      for path in directory.rglob("*")):
        shutil.rmtree(directory, ignore_errors=True)


def train(args) -> int:
    """Runs ``train``; a run that fails leaves no empty ``--out`` directory behind."""
    created = _topmost_missing(Path(args.out))
    try:
        return _train(args)
    except BaseException:
        if created is not None:
            _remove_if_empty(created)
        raise


def _train(args) -> int:
    out = Path(args.out)
    _check_figure_arguments(args)
    arguments = model_arguments(args)
    strategy = _make_strategy(args)
    out = _worker_directory(out, strategy)
    info = _dataset_info(args)
    _prepare_output_directory(out, args)
    keras.utils.set_random_seed(args.seed)
    scope = strategy.scope if strategy is not None else contextlib.nullcontext
    with scope():
        model = _build_model(args, arguments, info.image_shape)
        _compile(model, args, strategy)
    train_images, test_images, figure_data = _load_data(args, info)

    from mmdvae import checkpoints, plotting, saving

    history, initial_epoch = {}, 0
    if args.resume:
        with scope():
            model, initial_epoch, history = _restore(out)
        if initial_epoch >= args.epochs:
            print(f"nothing left to train: the run in {out} has finished {initial_epoch} "
                  f"epochs and --epochs {args.epochs} asks for no more (pass a larger "
                  f"--epochs to continue it)")
            return 0
        print(f"resuming after epoch {initial_epoch} from {out / 'backup'}", flush=True)
    if (info.num_classes or 0) > MAX_COLOURED_CLASSES:
        figure_data = (figure_data[0], None)  # too many classes to tell apart by colour
    figure_callbacks = (_figure_callbacks(args, out, *figure_data, info.class_names)
                        if args.figures else [])
    backup = checkpoints.EpochBackup(out / "backup", history=history,
                                     metadata={"arguments": _run_record(args)})
    # Its message reaches the user once, as the run's error line.
    stop = checkpoints.StopOnNonFiniteLoss(out / "model.keras", stream=io.StringIO())
    start = time.perf_counter()
    # The figures come before the backup, so a backed-up epoch has its figures.
    model.fit(train_images, epochs=args.epochs, initial_epoch=initial_epoch,
              validation_data=test_images, callbacks=[stop, *figure_callbacks, backup],
              verbose=1 if sys.stdout.isatty() else 2)
    seconds = time.perf_counter() - start
    history = backup.history
    saving.write_json(out / "history.json", {
        "epochs": len(history.get("loss", [])), "seconds": seconds, "history": history,
        "arguments": _run_record(args)})
    if stop.message:
        raise SystemExit(f"error: {stop.message}")
    model.save(out / "model.keras")

    figures = {"samples.png": plotting.image_grid(
        model.sample(100, seed=args.seed).numpy(), num_columns=10,
        title=f"{args.model} samples from the prior")}
    if args.latent_dim == 2:
        images, labels = figure_data
        figures["latent_scatter.png"] = plotting.latent_scatter(
            model.encode(images).numpy(), labels, title=f"{args.model}: test codes",
            class_names=info.class_names)
    for name, figure in figures.items():
        saving.replace_atomically(out / name, lambda temporary, figure=figure: figure.savefig(
            temporary, format="png", dpi=100), suffix=".png")
    final = {key: values[-1] for key, values in history.items()}
    print(f"trained {args.epochs - initial_epoch} epochs in {seconds:.1f} s; wrote {out}")
    print("  ".join(f"{key}={value:.5g}" for key, value in final.items()))
    return 0


#: Arguments a resumed run must share with the run it continues.
_RUN_ARGUMENTS = ("model", "dataset", "image_size", "strategy", "latent_dim", "batch_size",
                  "learning_rate",
                  "discriminator_learning_rate", "train_size", "seed",
                  *(argument for argument, _, _ in MODEL_FLAGS.values()))


def _run_record(args) -> dict:
    return {name: getattr(args, name) for name in vars(args) if name != "command"}


def _read_backup_state(out: Path):
    from mmdvae import checkpoints

    try:
        return checkpoints.read_backup_state(out / "backup")
    except (ValueError, OSError) as error:
        raise SystemExit(
            f"error: {out / 'backup' / checkpoints.STATE_FILE} is corrupt (not readable "
            f"JSON: {error}); start again with --overwrite") from None


def _check_resumable(out, args):
    state = _read_backup_state(out)
    if state is None:
        raise SystemExit(
            f"error: --resume needs the backup of an earlier run in {out / 'backup'}; "
            f"there is none (start the run without --resume)")
    recorded = state.get("arguments", {})
    changed = [
        f"--{name.replace('_', '-')} {recorded[name]!r} -> {getattr(args, name)!r}"
        for name in _RUN_ARGUMENTS
        if name in recorded and _json_value(recorded[name]) != _json_value(getattr(args, name))
    ]
    if changed:
        raise SystemExit(
            "error: --resume must repeat the interrupted run's arguments; changed: "
            + ", ".join(changed))


def _json_value(value):
    return json.loads(json.dumps(value))


def _restore(out: Path):
    from mmdvae import checkpoints

    try:
        return checkpoints.restore_backup(out / "backup")
    except (ValueError, OSError, KeyError) as error:
        raise SystemExit(
            f"error: the backup in {out / 'backup'} is corrupt or incomplete ({error}); "
            f"start again with --overwrite") from None


# === evaluate and compare ===


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
    evaluate.add_argument("--dataset", default=None, metavar="NAME",
                          help="the test set (default: the run's, else mnist)")
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
    evaluate.add_argument("--noise-std", type=_number(0.0), nargs="*", default=[],
                          help="Gaussian input noise levels of the latent accuracy")
    evaluate.add_argument("--mask-fraction", type=_number(0.0), nargs="*", default=[],
                          help="masked pixel fractions (in [0, 1]) of the latent accuracy")
    evaluate.add_argument("--kernel", choices=kernels.KERNELS, default=None,
                          help="MMD kernel (default: the model's own, else tutorial)")
    evaluate.add_argument("--mse-variance", type=_number(0.0, strict=True), default=None,
                          help="decoder variance assumed for log p(x) of an mse model")
    evaluate.add_argument("--cache-dir", default=None,
                          help="image classifier cache (default: ~/.cache/mmdvae)")
    evaluate.add_argument("--classifier-epochs", type=_positive_int, default=2)
    evaluate.add_argument("--classifier-train-size", type=_positive_int, default=None)
    evaluate.add_argument("--seed", type=_integer(0), default=0)

    compare = commands.add_parser(
        "compare",
        help="put several evaluated runs side by side in a Markdown report",
        description="Each RUN_DIR must hold evaluation.json (from `evaluate --out "
        "RUN_DIR/evaluation.json`); its figures (*.png) are linked in the report.",
    )
    compare.add_argument("run_dirs", metavar="RUN_DIR", nargs="+")
    compare.add_argument("--out", required=True, metavar="REPORT.md")
    compare.add_argument("--overwrite", action="store_true")
    compare.add_argument(
        "--two-sample", type=_integer(0), default=0, metavar="N",
        help="also test whether each pair of runs' code distributions q(z) are equal: an "
        "MMD permutation test (RBF kernel, median bandwidth) on one draw of q(z|x) for each "
        "of the first N test images (default 0: off; the runs need model.keras and the "
        "same latent size)")
    compare.add_argument("--data-dir", metavar="DIR", default=None)
    compare.add_argument("--seed", type=_integer(0), default=0)


def _model_file(path: Path) -> Path:
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise SystemExit(f"error: no model file at {path} (expected a .keras file or "
                         "a run directory holding model.keras)")
    return path


def _load_model(path: Path):
    if not zipfile.is_zipfile(path):
        # Keras would call it "File not found", taking it for a SavedModel directory.
        raise SystemExit(f"error: {path} is corrupt: a .keras file is a zip archive and this "
                         f"one is not (truncated or overwritten); train the model again or "
                         f"restore its file")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a damaged archive.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SystemExit(f"error: {path} is not a readable .keras file (corrupt or "
                         f"incomplete): {reason}") from None


def _check_output_file(path: Path, overwrite: bool, inputs=()) -> None:
    """Refuses an ``--out`` that cannot be written or would replace one of ``inputs``.

    ``inputs`` are ``(path, what it is)`` pairs: files the command reads, and
    directories (a run's backups) no file of it may go into.
    """
    from mmdvae import saving

    if path.is_dir():
        raise SystemExit(f"error: --out {path} is a directory; give a file path")
    target = path.resolve()
    for kept, what in inputs:
        kept = kept.resolve()
        if target == kept or kept in target.parents:
            raise SystemExit(f"error: --out {path} would replace {what} ({kept}); choose "
                             f"another file")
    if path.exists() and not overwrite:
        raise SystemExit(f"error: --out {path} exists; choose another file or pass "
                         "--overwrite")
    try:
        saving.check_writable_path(path, "out")
    except ValueError as error:
        raise SystemExit(f"error: --out {path} cannot be written: "
                         f"{_one_line(error).split(', but ', 1)[-1]}") from None


def _write_output(out: Path, write) -> None:
    """Calls ``write()``; a file system refusal becomes one ``error:`` line."""
    try:
        write()
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise SystemExit(f"error: --out {out} could not be written: {_one_line(reason)}") from None


def _run_files(model_file: Path) -> list:
    """The files of a model's run that no output may replace."""
    run = model_file.parent
    return [(model_file, "the run's model file"),
            (run / "backup", "the backups of its run, which --resume reads")]


def _trained_dataset(model_path: Path):
    """The dataset a run directory's model was trained on, when it says."""
    history = (model_path if model_path.is_dir() else model_path.parent) / "history.json"
    try:
        return json.loads(history.read_text())["arguments"]["dataset"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def evaluate(args) -> int:
    model_file = _model_file(Path(args.model_path))
    out = Path(args.out)
    _check_output_file(out, args.overwrite, _run_files(model_file))
    bad_fractions = [level for level in args.mask_fraction if level > 1]
    if bad_fractions:
        raise SystemExit(f"error: --mask-fraction {bad_fractions[0]} must be in [0, 1]")
    trained_on = _trained_dataset(Path(args.model_path))
    dataset = args.dataset or trained_on or "mnist"
    if trained_on and dataset != trained_on:
        print(f"warning: the model was trained on {trained_on}; evaluating it on "
              f"{dataset}", file=sys.stderr)

    from mmdvae import evaluation, saving

    model = _load_model(model_file)
    try:
        expected = data.info(dataset).image_shape
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: --dataset {dataset}: {_one_line(error)}") from None
    if tuple(model.image_shape) != tuple(expected):
        raise SystemExit(f"error: the model's image_shape={model.image_shape} does not "
                         f"match {dataset}'s {expected}")
    if args.mse_variance is not None and not model.likelihood.needs_variance:
        raise SystemExit(f"error: --mse-variance {args.mse_variance} applies to models with "
                         f"the mse likelihood only; this model's is {model.likelihood.name!r}")
    try:
        chosen, _ = evaluation.select_metrics(model, args.metrics, True, args.mse_variance)
        # Refused before the data are read and the classifier trained.
        num_images = min(args.log_likelihood_images, args.test_size or math.inf)
        for metric, flag, proposal in (
                ("log_likelihood", "--importance-samples", "posterior"),
                ("prior_log_likelihood", "--prior-samples", "prior")):
            if metric in chosen:
                evaluation.likelihood.check_log_likelihood_size(
                    model, num_images, getattr(args, flag[2:].replace("-", "_")), proposal,
                    argument=flag)
        if {"class_cross_entropy", "classifier_frechet_distance"} & set(chosen):
            evaluation.generated.check_generated_size(model, args.num_generated,
                                                      "--num-generated")
        test_images, test_labels = data.load_arrays(dataset, "test", with_labels=True,
                                                    data_dir=args.data_dir)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {_one_line(error)}") from None
    test_images, test_labels = test_images[: args.test_size], test_labels[: args.test_size]
    train_images = train_labels = None
    if "latent_accuracy" in chosen:
        train_images, train_labels = data.load_arrays(
            dataset, "train", with_labels=True, data_dir=args.data_dir)
    classifier, classifier_info = None, None
    if {"class_cross_entropy", "classifier_frechet_distance"} & set(chosen):
        classifier, classifier_info = evaluation.train_image_classifier(
            dataset, data_dir=args.data_dir, cache_dir=args.cache_dir,
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
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {_one_line(error)}") from None
    record = {
        "model": str(model_file), "model_class": type(model).__name__,
        "latent_dim": model.latent_dim, "dataset": dataset,
        "num_test_images": len(test_images), "image_classifier": classifier_info,
        "arguments": {k: v for k, v in vars(args).items() if k != "command"},
        "metrics": results,
    }
    _write_output(out, lambda: saving.write_json(out, record))
    print(f"{type(model).__name__} (latent_dim={model.latent_dim}) on {dataset} "
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


def _read_evaluation(directory: Path) -> dict:
    path = directory / "evaluation.json"
    if not path.is_file():
        raise SystemExit(
            f"error: {directory} holds no evaluation.json; run `python -m mmdvae "
            f"evaluate {directory} --out {path}` first")
    try:
        record = json.loads(path.read_text())
    except ValueError as error:
        raise SystemExit(f"error: {path} is corrupt (not readable JSON: {error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
        raise SystemExit(f"error: {path} has no \"metrics\" table; write it with "
                         f"`python -m mmdvae evaluate {directory} --out {path}`")
    return record


def _two_sample_lines(runs, names, args) -> list:
    """The Markdown table of MMD permutation tests between each pair of runs' codes."""
    from mmdvae import evaluation

    datasets = {record.get("dataset", "mnist") for _, record in runs}
    if len(datasets) > 1:
        raise SystemExit(f"error: --two-sample needs runs evaluated on one dataset; "
                         f"received {sorted(datasets)}")
    models = [_load_model(_model_file(directory)) for directory, _ in runs]
    sizes = {model.latent_dim for model in models}
    if len(sizes) > 1:
        raise SystemExit(f"error: --two-sample needs runs of one latent size; received "
                         f"latent sizes {sorted(sizes)}")
    try:
        images = data.load_arrays(datasets.pop(), "test", data_dir=args.data_dir)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {_one_line(error)}") from None
    images = images[: args.two_sample]
    codes = [evaluation.encode_dataset(model, images, sample=True, seed=args.seed)
             for model in models]
    lines = ["", f"## Do the code distributions differ? (MMD permutation test, "
             f"{len(images)} test images, RBF kernel with the median bandwidth, "
             f"1000 permutations)", "", "| runs | MMD^2 | p-value |", "| --- | --- | --- |"]
    for first in range(len(models)):
        for second in range(first + 1, len(models)):
            try:
                result = kernels.mmd_test(codes[first], codes[second], seed=args.seed)
            except (TypeError, ValueError) as error:
                raise SystemExit(f"error: --two-sample {args.two_sample}: {names[first]} vs "
                                 f"{names[second]}: {_one_line(error)}") from None
            lines.append(f"| {names[first]} vs {names[second]} | {result.statistic:.4g} | "
                         f"{result.p_value:.4g} |")
    return lines


def compare(args) -> int:
    from mmdvae import evaluation, saving

    out = Path(args.out)
    if args.two_sample == 1:
        raise SystemExit("error: --two-sample 1 is too few: the permutation test needs at "
                         "least 2 codes of each run (pass 0 to leave it off)")
    inputs = [pair for directory in map(Path, args.run_dirs) for pair in [
        (directory / "evaluation.json", "the evaluation of a compared run"),
        *_run_files(directory / "model.keras")]]
    _check_output_file(out, args.overwrite, inputs)
    runs = [(directory, _read_evaluation(directory)) for directory in map(Path, args.run_dirs)]
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
    if args.two_sample:
        lines += _two_sample_lines(runs, names, args)
    lines += ["", "## Figures", ""]
    for name, (directory, _) in zip(names, runs, strict=True):
        figures = sorted(directory.glob("*.png"))
        if figures:
            lines += [f"### {name}", ""]
            lines += [f"![{name} {figure.stem}]"
                      f"({Path(os.path.relpath(figure.resolve(), out.resolve().parent))})"
                      for figure in figures]
            lines.append("")
    _write_output(out, lambda: saving.write_text(out, "\n".join(lines) + "\n"))
    print(f"compared {len(runs)} runs; wrote {out}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"train": train, "evaluate": evaluate, "compare": compare,
                "reproduce": experiments.reproduce}
    return commands[args.command](args)

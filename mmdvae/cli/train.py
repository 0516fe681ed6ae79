"""``python -m mmdvae train``: one model trained into an output directory.

In a straight line: the arguments are checked and the output directory's state is
decided (``mmdvae.outputs``: a new run, ``--overwrite`` or ``--resume``); the
model is restored from the run's backup or built; each split is loaded once;
the run's arguments are recorded once (``run.json``); the model is fitted,
its figures drawn by the callbacks while it trains, and written once.
Mistakes are reported with one ``error:`` line before any data is loaded.
"""

import argparse
import contextlib
import inspect
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

from mmdvae import compat, data, outputs
from mmdvae.cli import arguments
from mmdvae.cli.arguments import one_line

HELP = "train a model on MNIST or Fashion-MNIST and write it with its figures"
DESCRIPTION = ("Train a model; DIR receives run.json (the run's arguments), model.keras, "
               "history.json, figures/ and the last epoch's figures (samples.png and "
               "latent_scatter.png by default).")

#: Test images the figures draw from, at most (and at most this many bytes).
FIGURE_IMAGES = 10_000
FIGURE_BYTES = 200 * 2**20
#: Scatters colour codes by class up to this many classes, and draw them plainly beyond.
MAX_COLOURED_CLASSES = 20
#: Figures drawn from test images (the others need only the model).
FIGURES_OF_IMAGES = ("reconstructions", "scatter", "interpolations", "density")

#: Arguments a resumed run must repeat.
RUN_ARGUMENTS = ("model", "dataset", "image_size", "strategy", "latent_dim", "batch_size",
                 "learning_rate", "discriminator_learning_rate", "train_size", "seed",
                 *(argument for argument, _, _ in arguments.MODEL_FLAGS.values()))
#: What an earlier run in the directory left that a new run (``--overwrite``) replaces.
EARLIER_RUN_FILES = ("backup", "model.keras", "history.json")


def _model_help() -> str:
    return "; ".join(f"{name}: {summary}" for name, summary in arguments.MODELS.items())


def add_arguments(parser) -> None:
    parser.add_argument("--model", choices=tuple(arguments.MODELS), default="mmd",
                        help=_model_help())
    parser.add_argument(
        "--dataset", default="mnist", metavar="NAME_OR_DIR",
        help=f"one of {', '.join(data.NAMED_DATASETS)}, any tensorflow-datasets image "
        f"dataset, or a directory of images (class subfolders give labels; no validation "
        f"split). Default: mnist")
    parser.add_argument("--image-size", type=arguments.image_size, default=None, metavar="HxW",
                        help="resize the images, e.g. 64x64 (needed for images of mixed "
                        "sizes)")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="a directory --dataset: leave out, with a warning, image files "
                        "that cannot be read (default: refuse them by name)")
    parser.add_argument("--latent-dim", type=arguments.positive_int, default=20)
    parser.add_argument("--epochs", type=arguments.positive_int, default=10)
    parser.add_argument("--batch-size", type=arguments.positive_int, default=200)
    parser.add_argument("--learning-rate", type=arguments.number(0.0, strict=True), default=1e-3)
    parser.add_argument("--discriminator-learning-rate", type=arguments.number(0.0, strict=True),
                        default=None, help="aae: the discriminator's Adam learning rate "
                        "(default: a tenth of --learning-rate)")
    model_flags = parser.add_argument_group(
        "model", "settings of the model; each applies to the models that take it, and "
        "defaults to the model's own")
    for flag, (argument, settings, text) in arguments.MODEL_FLAGS.items():
        metavar = "LAMBDA" if flag == "--lambda" else None
        model_flags.add_argument(flag, dest=argument, default=None, help=text,
                                 metavar=metavar, **settings)
    model_flags.add_argument("--reconstruction", dest="likelihood", help=argparse.SUPPRESS,
                             choices=arguments.LIKELIHOODS, action=compat.ReconstructionFlag)
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--data-dir", metavar="DIR", default=None,
        help="directory of the IDX files (default: $MMDVAE_DATA_DIR, else tensorflow-datasets)",
    )
    parser.add_argument("--train-size", type=arguments.positive_int, default=None,
                        help="keep the first N training images")
    parser.add_argument("--seed", type=arguments.integer(0), default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="allow writing into a non-empty output directory")
    jit = parser.add_mutually_exclusive_group()
    jit.add_argument("--jit", action="store_true",
                     help="compile steps with XLA (default: where it is the faster step, "
                          "i.e. unless TensorFlow's oneDNN kernels are on)")
    jit.add_argument("--no-jit", action="store_true", help="do not compile steps with XLA")
    parser.add_argument(
        "--strategy", choices=arguments.STRATEGIES, default="none",
        help="data-parallel training: mirrored (every GPU of this machine) or multi-worker "
        "(machines configured by TF_CONFIG; worker 0 writes DIR, the others a "
        "DIR/.worker-N scratch directory); --batch-size is the global batch")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in DIR from its last completed "
                        "epoch (DIR/backup keeps one after every epoch)")
    figures = parser.add_argument_group(
        "figures", "figures drawn while training, into DIR/figures/{name}_epoch_NNNN.png")
    figures.add_argument(
        "--figures", type=arguments.figure_list, default=["samples", "scatter"],
        metavar="LIST",
        help=f"comma-separated figures among {', '.join(arguments.FIGURE_CHOICES)}, or "
        f"'none' (default: samples,scatter; morph and density need --latent-dim 2)")
    figures.add_argument("--figure-every", type=arguments.positive_int, default=1, metavar="N",
                         help="draw the figures every N epochs (default: 1)")
    figures.add_argument("--gif", action="store_true",
                         help="also write DIR/figures/{name}.gif, the figures across epochs")
    figures.add_argument("--tensorboard", action="store_true",
                         help="also write the figures as TensorBoard images into DIR/logs")


# === Checks before any work ===


def _check_figure_arguments(args):
    two_dimensional = [name for name in args.figures
                       if name in arguments.TWO_DIMENSIONAL_FIGURES]
    if two_dimensional and args.latent_dim != 2:
        raise SystemExit(
            f"error: --figures {','.join(two_dimensional)} needs --latent-dim 2; received "
            f"--latent-dim {args.latent_dim} (use 'interpolations' for any latent size)")


def model_arguments(args) -> dict:
    """The model arguments given on the command line, checked against the model.

    A flag that does not apply to ``--model`` is refused with one line naming
    the flag, its value and the flags the model takes.
    """
    from mmdvae.models import registry

    entry = registry.get(args.model)
    given = {argument: getattr(args, argument)
             for argument, _, _ in arguments.MODEL_FLAGS.values()
             if getattr(args, argument, None) is not None}
    for argument, value in given.items():
        flag = arguments.FLAG_OF[argument]
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        if argument in entry.fixed:
            raise SystemExit(
                f"error: {flag} {shown} does not apply to --model {args.model}, which "
                f"fixes {flag} {entry.fixed[argument]} (choose another --model)")
        if argument not in entry.arguments:
            takes = " ".join(arguments.FLAG_OF[name] for name in entry.arguments
                             if name in arguments.FLAG_OF)
            raise SystemExit(
                f"error: {flag} {shown} does not apply to --model {args.model} "
                f"({entry.model_class.__name__}); it takes {takes}")
    rate = args.discriminator_learning_rate
    if rate is not None and "discriminator_optimizer" not in inspect.signature(
            entry.model_class.compile).parameters:
        raise SystemExit(f"error: --discriminator-learning-rate {rate} applies to --model "
                         f"aae only")
    return given


def _make_strategy(args):
    """The ``--strategy``, made first; ``None`` for ``none``."""
    from mmdvae import distribute

    try:
        strategy = distribute.make_strategy(args.strategy)
    except ValueError as error:
        raise SystemExit(f"error: --strategy {args.strategy}: {one_line(error)}") from None
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    if args.batch_size % replicas:
        raise SystemExit(f"error: --batch-size {args.batch_size} must be divisible by the "
                         f"{replicas} replicas of --strategy {args.strategy}")
    return strategy


def _worker_directory(out: Path, strategy) -> Path:
    """``out`` for worker 0 of a multi-worker run (and any other run), else a scratch one."""
    from mmdvae import distribute

    if strategy is None or not distribute.is_multi_worker():
        return out
    configuration = json.loads(os.environ["TF_CONFIG"])
    task = configuration["task"]
    if task.get("type") == "chief" or (task.get("index", 0) == 0 and not any(
            "chief" in key for key in configuration["cluster"])):
        return out
    return out / f".worker-{task.get('index', 0)}"


def _check_output_directory(out: Path, args) -> str:
    """``outputs.NEW`` or ``outputs.RESUMABLE``; anything else is one ``error:`` line."""
    settings = {name: getattr(args, name) for name in RUN_ARGUMENTS}
    try:
        return outputs.check(out, settings, resume=args.resume, overwrite=args.overwrite,
                             label=arguments.flag)
    except outputs.OutputError as error:
        raise SystemExit(f"error: {error.command_line()}") from None


def _backup_state(out: Path):
    """The ``state.json`` of the run's backup, ``None`` without one."""
    from mmdvae import checkpoints

    try:
        return checkpoints.read_backup_state(out / "backup")
    except (ValueError, OSError) as error:
        raise SystemExit(
            f"error: {out / 'backup' / checkpoints.STATE_FILE} is corrupt (not readable "
            f"JSON: {error}); start again with --overwrite") from None


# === The model ===


def build_model(args, model_arguments: dict, image_shape):
    from mmdvae.models import registry

    try:
        return registry.get(args.model).build(args.latent_dim, seed=args.seed,
                                              image_shape=image_shape, **model_arguments)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: --model {args.model}: {one_line(error)}") from None


def compile_model(model, args) -> None:
    """Adam at ``--learning-rate`` (and the discriminator's); XLA as ``--jit``/``--no-jit``.

    Without either flag the model chooses (``jit_compile="auto"``), and it also
    decides what XLA can compile under a strategy.
    """
    import keras

    extra = {}
    if hasattr(model, "discriminator_optimizer"):
        rate = args.discriminator_learning_rate
        extra["discriminator_optimizer"] = keras.optimizers.Adam(
            args.learning_rate / 10 if rate is None else rate)
    jit_compile = True if args.jit else False if args.no_jit else "auto"
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  jit_compile=jit_compile, **extra)


def _restore(out: Path):
    """``(model, completed_epochs, history)`` of the run's backup."""
    from mmdvae import checkpoints

    try:
        return checkpoints.restore_backup(out / "backup")
    except (ValueError, OSError, KeyError) as error:
        raise SystemExit(
            f"error: the backup in {out / 'backup'} is corrupt or incomplete ({error}); "
            f"start again with --overwrite") from None


# === The data ===


def _source(args):
    """``(info, training dataset or None)``: a directory is indexed once, into its dataset."""
    try:
        if Path(args.dataset).is_dir():
            dataset = data.from_directory(
                args.dataset, batch_size=args.batch_size, image_size=args.image_size,
                shuffle=True, seed=args.seed, train_size=args.train_size,
                skip_unreadable=args.skip_unreadable)
            return dataset.info, dataset
        if args.skip_unreadable:
            raise SystemExit(f"error: --skip-unreadable applies to a directory of images; "
                             f"received --dataset {args.dataset}")
        return data.info(args.dataset, image_size=args.image_size), None
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: --dataset {args.dataset}: {one_line(error)}") from None


def _load_splits(args, info, train_images):
    """The training and test datasets and the test images and labels the figures draw from.

    The test split is read once: validation iterates it, and the figures take
    its first images. A directory has no test split: it trains without
    validation and the figures take its first images.
    """
    labelled = info.has_labels
    common = dict(batch_size=args.batch_size, image_size=args.image_size)
    try:
        if train_images is None:
            source = dict(data_dir=args.data_dir, **common)
            train_images = data.load(args.dataset, "train", shuffle=True, seed=args.seed,
                                     train_size=args.train_size, **source)
            test_images = data.load(args.dataset, "test", with_labels=labelled, **source)
            figure_source = test_images
        else:
            test_images = None
            figure_source = (data.from_directory(args.dataset, with_labels=labelled,
                                                 skip_unreadable=args.skip_unreadable, **common)
                             if set(args.figures) & set(FIGURES_OF_IMAGES) else None)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {one_line(error)}") from None
    figure_data = (None, None)
    if figure_source is not None and set(args.figures) & set(FIGURES_OF_IMAGES):
        count = max(1, min(FIGURE_IMAGES, FIGURE_BYTES // (4 * math.prod(info.image_shape))))
        figure_data = _first_images(figure_source, count, labelled)
    if (info.num_classes or 0) > MAX_COLOURED_CLASSES:
        figure_data = (figure_data[0], None)  # too many classes to tell apart by colour
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


# === Callbacks ===


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


def _copy(source: Path, target: Path) -> None:
    from mmdvae import files

    files.write_atomically(target, lambda temporary: shutil.copyfile(source, temporary),
                           suffix=target.suffix)


# === train ===


def run(args) -> int:
    """Runs ``train``; a run that fails leaves no empty ``--out`` directory behind."""
    with outputs.removed_if_left_empty(args.out):
        return _train(args)


def _train(args) -> int:
    # --- Checks, before any data is read ---
    _check_figure_arguments(args)
    chosen = model_arguments(args)
    strategy = _make_strategy(args)
    out = _worker_directory(Path(args.out), strategy)
    state = _check_output_directory(out, args)
    backup_state = _backup_state(out) if state == outputs.RESUMABLE else None
    if backup_state is not None and backup_state["epoch"] >= args.epochs:
        print(f"nothing left to train: the run in {out} has finished {backup_state['epoch']} "
              f"epochs and --epochs {args.epochs} asks for no more (pass a larger "
              f"--epochs to continue it)")
        return 0

    # --- TensorFlow from here on ---
    import keras

    from mmdvae import checkpoints, files

    # Seeds the model and the data's shuffling, as before the run's first epoch.
    keras.utils.set_random_seed(args.seed)
    info, train_images = _source(args)

    # --- The model: restored from the run's backup, or built ---
    history, initial_epoch = {}, 0
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        if backup_state is not None:
            model, initial_epoch, history = _restore(out)
        else:
            model = build_model(args, chosen, info.image_shape)
            compile_model(model, args)

    # --- The data, each split once ---
    train_images, test_images, (images, labels) = _load_splits(args, info, train_images)

    # --- Training ---
    outputs.prepare(out, vars(args),
                    remove=EARLIER_RUN_FILES if state == outputs.NEW else ())
    if backup_state is not None:
        print(f"resuming after epoch {initial_epoch} from {out / 'backup'}", flush=True)
    elif state == outputs.RESUMABLE:
        print(f"resuming the run in {out}, which finished no epoch: training from the first",
              flush=True)
    figure_callbacks = (_figure_callbacks(args, out, images, labels, info.class_names)
                        if args.figures else [])
    backup = checkpoints.EpochBackup(out / "backup", history=history)
    # Its message reaches the user once, as the run's error line.
    stop = checkpoints.StopOnNonFiniteLoss(out / "model.keras", verbose=False)
    start = time.perf_counter()
    # The figures come before the backup, so a backed-up epoch has its figures.
    model.fit(train_images, epochs=args.epochs, initial_epoch=initial_epoch,
              validation_data=test_images, callbacks=[stop, *figure_callbacks, backup],
              verbose=1 if sys.stdout.isatty() else 2)
    seconds = time.perf_counter() - start

    # --- The results, each written once ---
    history = backup.history
    files.write_json(out / "history.json", {
        "epochs": len(history.get("loss", [])), "seconds": seconds, "history": history})
    if stop.message:
        raise SystemExit(f"error: {stop.message}")
    # The backup of the last epoch is the trained model: copied, not saved again.
    _copy(out / "backup" / checkpoints.read_backup_state(out / "backup")["model"],
          out / "model.keras")
    for callback in figure_callbacks:
        drawn = [path for path in callback.written if path.suffix == ".png"]
        if drawn:
            _copy(drawn[-1], out / f"{callback.name}.png")
    final = {key: values[-1] for key, values in history.items()}
    print(f"trained {args.epochs - initial_epoch} epochs in {seconds:.1f} s; wrote {out}")
    print("  ".join(f"{key}={value:.5g}" for key, value in final.items()))
    return 0

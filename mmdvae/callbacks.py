"""Keras callbacks that draw ``mmdvae.plotting`` figures while a model trains.

Each callback draws its figure every ``every`` epochs and writes it as
``{output_dir}/{name}_epoch_{epoch:04d}.png`` (epochs counted from 1) and/or as
an image summary (``tf.summary.image``, tag ``name``, step ``epoch``) in the
TensorBoard directory ``log_dir``. With ``gif=True`` the frames are also
collected and written at the end of training as ``{output_dir}/{name}.gif``,
an animation across epochs (the InfoVAE tutorial's animation of q(z)).

Everything a figure depends on is fixed when training begins, so epochs are
comparable: ``SampleGrid`` decodes the same prior codes, ``LatentScatter`` and
``DensityContours`` encode the same test subset. Every argument is checked when
the callback is built, and what needs the model (image shape, latent size,
value range) when training begins, before the first step. Files are written
atomically (``mmdvae.files``); existing files of a callback's name are never
overwritten unless ``overwrite=True``.

Example:

```python
from mmdvae import callbacks

figures = [
    callbacks.SampleGrid(every=5, output_dir="runs/mmd/figures"),
    callbacks.LatentScatter(test_images, test_labels, output_dir="runs/mmd/figures",
                            log_dir="runs/mmd/logs", gif=True),
]
model.fit(train, epochs=50, callbacks=figures)
```
"""

import math
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mmdvae import checks, files, plotting, validation

#: Largest resolution of the PNG files, in dots per inch.
MAX_DPI = 1000

#: Largest number of images a grid callback draws.
MAX_GRID_IMAGES = 10_000


def _check_flag(argument, value):
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"Argument `{argument}` must be True or False; received {argument}={value!r} "
            f"of type {type(value).__name__}."
        )
    return bool(value)


def _check_name(name):
    if not isinstance(name, str) or not name or name.strip(".") == "" or any(
        separator in name for separator in ("/", "\\", "\0")
    ):
        raise ValueError(
            f"Argument `name` must be a non-empty file name prefix without path "
            f"separators; received name={name!r}."
        )
    return name


def _check_limits(limits):
    """``None`` or ``((x_min, x_max), (y_min, y_max))`` of finite numbers, min < max."""
    if limits is None:
        return None
    try:
        (x_min, x_max), (y_min, y_max) = limits
        pairs = [(checks.check_number("limits", x_min), checks.check_number("limits", x_max)),
                 (checks.check_number("limits", y_min), checks.check_number("limits", y_max))]
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or any(low >= high for low, high in pairs):
        raise ValueError(
            f"Argument `limits` must be ((x_min, x_max), (y_min, y_max)) of finite "
            f"numbers with min < max; received limits={limits!r}."
        )
    return tuple(pairs)


def _check_finite_images(argument, images):
    images = checks.check_image_array(argument, images)
    if not np.isfinite(images).all():
        raise ValueError(
            f"Argument `{argument}` must hold finite values; received "
            f"{int((~np.isfinite(images)).sum())} NaN or infinite values."
        )
    return images


def _check_two_dimensional(callback, model):
    if model.latent_dim != 2:
        raise ValueError(
            f"{type(callback).__name__} draws 2-D codes and needs a model with "
            f"latent_dim=2; received a model with latent_dim={model.latent_dim}."
            + (" Use InterpolationGrid for any latent size."
               if isinstance(callback, MorphGrid) else "")
        )


def _fixed_subset(images, labels, num_points, seed):
    """The same ``num_points`` examples (a seeded choice, in data order) every epoch."""
    if len(images) <= num_points:
        return images, labels
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), num_points, replace=False))
    return images[chosen], None if labels is None else labels[chosen]


def _close_if_pyplot(figure):
    # Figures of mmdvae.plotting are not pyplot's; one a subclass made with
    # pyplot is closed so it does not accumulate. pyplot is not imported here.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)


class FigureCallback(keras.callbacks.Callback):
    """Base class: draws ``make_figure(epoch)`` every ``every`` epochs.

    Subclasses implement ``make_figure`` and may implement ``prepare(model)``,
    which runs when training begins (before the first step), to check the model
    and fix what the figures depend on.

    Args:
        every: draw after every ``every``-th epoch (epochs counted from 1).
        output_dir: directory of the PNG files (and the GIF); created if missing.
        log_dir: TensorBoard log directory for image summaries.
        gif: also write ``{name}.gif`` of all drawn frames when training ends
            (needs ``output_dir``).
        frame_seconds: display time of one GIF frame (> 0).
        dpi: resolution of the PNG files and images, in [1, ``MAX_DPI``].
        overwrite: allow replacing existing files of this callback's name in
            ``output_dir``.
        name: file prefix and TensorBoard tag (default: the class's).
    """

    default_name = "figure"

    def __init__(
        self, every: int = 1, output_dir=None, log_dir=None, gif: bool = False,
        frame_seconds: float = 0.5, dpi: int = 80, overwrite: bool = False,
        name: str | None = None,
    ):
        super().__init__()
        every = checks.check_positive_int("every", every)
        dpi = checks.check_positive_int("dpi", dpi, maximum=MAX_DPI)
        gif = _check_flag("gif", gif)
        overwrite = _check_flag("overwrite", overwrite)
        frame_seconds = checks.check_number("frame_seconds", frame_seconds, minimum=0.0,
                                            strict_minimum=True)
        name = _check_name(self.default_name if name is None else name)
        if output_dir is None and log_dir is None:
            raise ValueError(
                f"{type(self).__name__} needs somewhere to write: pass `output_dir` "
                f"(PNG files) and/or `log_dir` (TensorBoard); received neither."
            )
        if gif and output_dir is None:
            raise ValueError(
                "Argument `gif=True` needs `output_dir` to write the animation in; "
                "received output_dir=None."
            )
        self.every = every
        self.name = name
        self.output_dir = (None if output_dir is None
                           else files.check_writable_directory(output_dir, "output_dir"))
        self.log_dir = (None if log_dir is None
                        else files.check_writable_directory(log_dir, "log_dir"))
        self.gif = gif
        self.frame_seconds = frame_seconds
        self.dpi = dpi
        self.overwrite = overwrite
        if self.output_dir is not None and not overwrite:
            existing = sorted(self.output_dir.glob(f"{self.name}_epoch_*.png"))
            existing += [p for p in [self.gif_path] if p is not None and p.exists()]
            if existing:
                raise ValueError(
                    f"Argument `output_dir`='{self.output_dir}' already holds "
                    f"{len(existing)} file(s) of the figure {self.name!r} (e.g. "
                    f"{existing[0].name}); choose another directory, another `name`, "
                    f"or pass overwrite=True."
                )
        self.frames = []
        self.written = []
        self._writer = None

    # --- Paths ---------------------------------------------------------------

    def path(self, epoch: int) -> Path | None:
        """The PNG file of ``epoch`` (counted from 1)."""
        if self.output_dir is None:
            return None
        return self.output_dir / f"{self.name}_epoch_{epoch:04d}.png"

    @property
    def gif_path(self) -> Path | None:
        if self.output_dir is None or not self.gif:
            return None
        return self.output_dir / f"{self.name}.gif"

    # --- Hooks -----------------------------------------------------------------

    def prepare(self, model):
        """Checks ``model`` and fixes what the figures depend on."""

    def make_figure(self, epoch: int):
        """Returns the figure of ``epoch``."""
        raise NotImplementedError

    # --- Keras callback methods ----------------------------------------------

    def on_train_begin(self, logs=None):
        self.prepare(self.model)
        self.frames = []
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.draw(epoch + 1)

    def on_train_end(self, logs=None):
        if self.gif and self.frames:
            files.write_gif(self.gif_path, self.frames, self.frame_seconds)
            self.written.append(self.gif_path)
        if self._writer is not None:
            self._writer.flush()

    def draw(self, epoch: int):
        """Draws and writes the figure of ``epoch``; returns the PNG path, if any."""
        figure = self.make_figure(epoch)
        try:
            # One rendering serves the PNG file, the GIF frame and TensorBoard.
            pixels = plotting.figure_to_array(figure, dpi=self.dpi)
        finally:
            _close_if_pyplot(figure)
        path = self.path(epoch)
        if path is not None:
            files.write_png(path, pixels)
            self.written.append(path)
        if self.gif:
            self.frames.append(pixels)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image(self.name, pixels[None], step=epoch)
            self._writer.flush()
        return path


class SampleGrid(FigureCallback):
    """Decodes the same ``num_samples`` prior codes every ``every`` epochs.

    The codes are drawn once, when training begins, with the stateless seed
    ``(seed, 0)``, or given as ``codes`` (``[n, latent_dim]``, finite).
    """

    default_name = "samples"

    def __init__(self, num_samples: int = 100, num_columns: int = 10, seed: int = 0,
                 codes=None, **kwargs):
        super().__init__(**kwargs)
        self.num_samples = checks.check_positive_int("num_samples", num_samples,
                                                     maximum=MAX_GRID_IMAGES)
        self.num_columns = checks.check_positive_int("num_columns", num_columns)
        self.seed = checks.check_positive_int("seed", seed, maximum=checks.MAX_SEED,
                                              minimum=0)
        if codes is not None:
            codes = np.asarray(codes)
            if codes.dtype.kind not in "iuf" or codes.ndim != 2 or len(codes) == 0:
                raise ValueError(
                    f"Argument `codes` must be a numeric array of shape (n, latent_dim) "
                    f"with n >= 1; received an array of dtype {codes.dtype} and shape "
                    f"{codes.shape}."
                )
            if not np.isfinite(codes).all():
                raise ValueError(
                    f"Argument `codes` must hold finite codes; received "
                    f"{int((~np.isfinite(codes)).sum())} NaN or infinite values."
                )
            codes = codes.astype(np.float32)
        self.codes = codes

    def prepare(self, model):
        if self.codes is None:
            self.codes = np.asarray(
                model.prior_samples(self.num_samples, seed=np.array([self.seed, 0]))
            )
        if self.codes.shape[1] != model.latent_dim:
            raise ValueError(
                f"Argument `codes` must have shape (n, {model.latent_dim}) to match the "
                f"model's latent_dim={model.latent_dim}; received shape {self.codes.shape}."
            )

    def make_figure(self, epoch):
        return plotting.sample_grid(self.model, self.codes, num_columns=self.num_columns,
                                    title=f"samples from the prior, epoch {epoch}")


class ReconstructionGrid(FigureCallback):
    """The first ``num_images`` of ``images`` above their reconstructions.

    ``images`` are floating-point ``[n, height, width, channels]``; their
    shape and values are checked against the model when training begins.
    """

    default_name = "reconstructions"

    def __init__(self, images, num_images: int = 20, num_columns: int = 10, **kwargs):
        super().__init__(**kwargs)
        num_images = checks.check_positive_int("num_images", num_images,
                                               maximum=MAX_GRID_IMAGES)
        self.num_columns = checks.check_positive_int("num_columns", num_columns)
        self.images = _check_finite_images("images", images)[:num_images]

    def prepare(self, model):
        validation.check_images(model, self.images, argument="images")

    def make_figure(self, epoch):
        reconstructions = np.asarray(self.model.reconstruct(self.images))
        return plotting.reconstruction_grid(
            self.images, reconstructions, num_columns=self.num_columns,
            title=f"originals above reconstructions, epoch {epoch}",
        )


class LatentScatter(FigureCallback):
    """Codes of a fixed subset of ``images``, coloured by ``labels`` (one colour: ``None``).

    Codes longer than 2 are projected on their principal components (see
    ``plotting.latent_scatter``). With ``prior_contours`` the prior's density
    is drawn behind, which shows q(z) drifting against p(z) in a GIF.
    ``class_names``, if given, must name every label (indexed by label).
    """

    default_name = "latent_scatter"

    def __init__(self, images, labels, num_points: int = 2000, seed: int = 0,
                 class_names=None, prior_contours: bool = True, limits=None, **kwargs):
        images = _check_finite_images("images", images)
        self.labelled = labels is not None
        labels = np.asarray(labels) if self.labelled else np.zeros(len(images), np.int64)
        if labels.shape != (len(images),):
            raise ValueError(
                f"Arguments `images` (n, height, width, channels) and `labels` (n,) must "
                f"match; received shapes {images.shape} and {labels.shape}."
            )
        checks.check_class_names(class_names, labels)
        num_points = checks.check_positive_int("num_points", num_points)
        seed = checks.check_seed("seed", seed)
        self.prior_contours = _check_flag("prior_contours", prior_contours)
        self.limits = _check_limits(limits)
        super().__init__(**kwargs)
        self.images, self.labels = _fixed_subset(images, labels, num_points, seed)
        self.class_names = None if class_names is None else list(class_names)

    def prepare(self, model):
        if model.latent_dim < 2:
            raise ValueError(
                f"LatentScatter draws codes of at least 2 dimensions; received a model "
                f"with latent_dim={model.latent_dim}."
            )
        validation.check_images(model, self.images, argument="images")

    def make_figure(self, epoch):
        codes = np.asarray(self.model.encode(self.images))
        return plotting.latent_scatter(
            codes, self.labels if self.labelled else None, class_names=self.class_names,
            limits=self.limits,
            prior=self.model.prior if self.prior_contours else None,
            title=f"test codes by class, epoch {epoch}",
        )


class MorphGrid(FigureCallback):
    """Decoded codes on a grid of the prior's quantiles; needs ``latent_dim=2``."""

    default_name = "morph_grid"

    def __init__(self, num_rows: int = 15, quantile_range=(0.05, 0.95), **kwargs):
        super().__init__(**kwargs)
        self.num_rows = checks.check_positive_int(
            "num_rows", num_rows, maximum=math.isqrt(MAX_GRID_IMAGES))
        self.quantile_range = checks.check_quantile_range(quantile_range)

    def prepare(self, model):
        _check_two_dimensional(self, model)

    def make_figure(self, epoch):
        return plotting.morph_grid(self.model, self.num_rows, self.quantile_range,
                                   title=f"decoded prior quantiles, epoch {epoch}")


class InterpolationGrid(FigureCallback):
    """Rows of decoded interpolations between pairs of images, for any code size."""

    default_name = "interpolations"

    def __init__(self, start_images, end_images, num_steps: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.start_images = _check_finite_images("start_images", start_images)
        self.end_images = _check_finite_images("end_images", end_images)
        if self.start_images.shape != self.end_images.shape:
            raise ValueError(
                f"Arguments `start_images` and `end_images` must have the same shape "
                f"(n, height, width, channels); received {self.start_images.shape} and "
                f"{self.end_images.shape}."
            )
        self.num_steps = checks.check_positive_int("num_steps", num_steps, minimum=2,
                                                   maximum=MAX_GRID_IMAGES)

    def prepare(self, model):
        validation.check_images(model, self.start_images, argument="start_images")
        validation.check_images(model, self.end_images, argument="end_images")

    def make_figure(self, epoch):
        return plotting.interpolation_grid(
            self.model, self.start_images, self.end_images, self.num_steps,
            title=f"interpolations between test images, epoch {epoch}",
        )


class DensityContours(FigureCallback):
    """q(z) of a fixed subset of ``images`` against p(z); needs ``latent_dim=2``."""

    default_name = "density"

    def __init__(self, images, num_points: int = 1000, seed: int = 0, limits=None, **kwargs):
        super().__init__(**kwargs)
        num_points = checks.check_positive_int("num_points", num_points)
        seed = checks.check_seed("seed", seed)
        images = _check_finite_images("images", images)
        self.images, _ = _fixed_subset(images, None, num_points, seed)
        self.limits = _check_limits(limits)

    def prepare(self, model):
        _check_two_dimensional(self, model)
        validation.check_images(model, self.images, argument="images")

    def make_figure(self, epoch):
        means, log_variances = [], []
        for start in range(0, len(self.images), 500):
            # The encoder's log-variances too, which `encode` does not return.
            z, z_mean, z_log_var = self.model.posterior(self.images[start : start + 500])
            if z_mean is None:
                means.append(np.asarray(z))
            else:
                means.append(np.asarray(z_mean))
                log_variances.append(np.asarray(z_log_var))
        return plotting.density_contours(
            np.concatenate(means), self.model.prior,
            z_log_var=np.concatenate(log_variances) if log_variances else None,
            limits=self.limits, title=f"q(z) against p(z), epoch {epoch}",
        )

"""Keras callbacks that draw ``mmdvae.plotting`` figures while a model trains.

Each callback draws its figure every ``every`` epochs and writes it as
``{output_dir}/{name}_epoch_{epoch:04d}.png`` (epochs counted from 1) and/or as
an image summary (``tf.summary.image``, tag ``name``, step ``epoch``) in the
TensorBoard directory ``log_dir``. With ``gif=True`` the frames are also
collected and written at the end of training as ``{output_dir}/{name}.gif``,
an animation across epochs (the InfoVAE tutorial's animation of q(z)).

Everything a figure depends on is fixed when training begins, so epochs are
comparable: ``SampleGrid`` decodes the same prior codes, ``LatentScatter`` and
``DensityContours`` encode the same test subset. Figures are closed after
saving. Existing files of a callback's name are never overwritten unless
``overwrite=True``.

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

import tempfile
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from mmdvae import plotting


def _check_directory(argument, directory):
    """Creates ``directory`` if needed and checks that files can be written in it."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(
            f"Argument `{argument}` must be a directory; received {argument}='{directory}', "
            f"which is an existing file."
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ValueError(
            f"Argument `{argument}` must be a directory where files can be written; "
            f"received {argument}='{directory}' ({error.strerror or error})."
        ) from None
    return directory


def _check_positive_int(argument, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"Argument `{argument}` must be a positive integer; received "
            f"{argument}={value!r}."
        )


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
        frame_seconds: display time of one GIF frame.
        dpi: resolution of the PNG files and images.
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
        _check_positive_int("every", every)
        _check_positive_int("dpi", dpi)
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
        if not frame_seconds > 0:
            raise ValueError(
                f"Argument `frame_seconds` must be > 0; received frame_seconds={frame_seconds!r}."
            )
        self.every = every
        self.name = name or self.default_name
        self.output_dir = None if output_dir is None else _check_directory("output_dir", output_dir)
        self.log_dir = None if log_dir is None else _check_directory("log_dir", log_dir)
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
            from PIL import Image

            images = [Image.fromarray(frame).convert("RGB") for frame in self.frames]
            images[0].save(
                self.gif_path, save_all=True, append_images=images[1:],
                duration=int(1000 * self.frame_seconds), loop=0,
            )
            self.written.append(self.gif_path)
        if self._writer is not None:
            self._writer.flush()

    def draw(self, epoch: int):
        """Draws and writes the figure of ``epoch``; returns the PNG path, if any."""
        from PIL import Image

        figure = self.make_figure(epoch)
        try:
            # One rendering serves the PNG file, the GIF frame and TensorBoard.
            pixels = plotting.figure_to_array(figure, dpi=self.dpi)
        finally:
            plt.close(figure)
        path = self.path(epoch)
        if path is not None:
            Image.fromarray(pixels).save(path)
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
    ``(seed, 0)``, or given as ``codes``.
    """

    default_name = "samples"

    def __init__(self, num_samples: int = 100, num_columns: int = 10, seed: int = 0,
                 codes=None, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("num_samples", num_samples)
        _check_positive_int("num_columns", num_columns)
        self.num_samples = num_samples
        self.num_columns = num_columns
        self.seed = seed
        self.codes = None if codes is None else np.asarray(codes, dtype=np.float32)

    def prepare(self, model):
        if self.codes is None:
            self.codes = np.asarray(
                model.prior_samples(self.num_samples, seed=np.array([self.seed, 0]))
            )
        if self.codes.ndim != 2 or self.codes.shape[1] != model.latent_dim:
            raise ValueError(
                f"Argument `codes` must have shape (n, {model.latent_dim}) to match the "
                f"model's latent_dim={model.latent_dim}; received shape {self.codes.shape}."
            )

    def make_figure(self, epoch):
        return plotting.sample_grid(self.model, self.codes, num_columns=self.num_columns,
                                    title=f"samples from the prior, epoch {epoch}")


class ReconstructionGrid(FigureCallback):
    """The first ``num_images`` of ``images`` above their reconstructions."""

    default_name = "reconstructions"

    def __init__(self, images, num_images: int = 20, num_columns: int = 10, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("num_images", num_images)
        _check_positive_int("num_columns", num_columns)
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or len(images) == 0:
            raise ValueError(
                f"Argument `images` must have shape (n, height, width, channels) with "
                f"n >= 1; received shape {images.shape}."
            )
        self.images = images[:num_images]
        self.num_columns = num_columns

    def make_figure(self, epoch):
        reconstructions = np.asarray(self.model.reconstruct(self.images))
        return plotting.reconstruction_grid(
            self.images, reconstructions, num_columns=self.num_columns,
            title=f"originals above reconstructions, epoch {epoch}",
        )


class LatentScatter(FigureCallback):
    """Codes of a fixed subset of ``images``, coloured by ``labels``.

    Codes longer than 2 are projected on their principal components (see
    ``plotting.latent_scatter``). With ``prior_contours`` the prior's density
    is drawn behind, which shows q(z) drifting against p(z) in a GIF.
    """

    default_name = "latent_scatter"

    def __init__(self, images, labels, num_points: int = 2000, seed: int = 0,
                 class_names=None, prior_contours: bool = True, limits=None, **kwargs):
        if labels is None:
            raise ValueError(
                "Argument `labels` is required: LatentScatter colours each code by its "
                "class; received labels=None. Pass the labels of `images`."
            )
        images = np.asarray(images, dtype=np.float32)
        labels = np.asarray(labels)
        if images.ndim != 4 or labels.shape != (len(images),):
            raise ValueError(
                f"Arguments `images` (n, height, width, channels) and `labels` (n,) must "
                f"match; received shapes {images.shape} and {labels.shape}."
            )
        super().__init__(**kwargs)
        _check_positive_int("num_points", num_points)
        self.images, self.labels = _fixed_subset(images, labels, num_points, seed)
        self.class_names = class_names
        self.prior_contours = prior_contours
        self.limits = limits

    def make_figure(self, epoch):
        codes = plotting.encode_in_batches(self.model, self.images)
        return plotting.latent_scatter(
            codes, self.labels, class_names=self.class_names, limits=self.limits,
            prior=self.model.prior if self.prior_contours else None,
            title=f"test codes by class, epoch {epoch}",
        )


class MorphGrid(FigureCallback):
    """Decoded codes on a grid of the prior's quantiles; needs ``latent_dim=2``."""

    default_name = "morph_grid"

    def __init__(self, num_rows: int = 15, quantile_range=(0.05, 0.95), **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("num_rows", num_rows)
        plotting.check_quantile_range(quantile_range)
        self.num_rows = num_rows
        self.quantile_range = tuple(quantile_range)

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
        self.start_images = np.asarray(start_images, dtype=np.float32)
        self.end_images = np.asarray(end_images, dtype=np.float32)
        if self.start_images.ndim != 4 or self.start_images.shape != self.end_images.shape:
            raise ValueError(
                f"Arguments `start_images` and `end_images` must have the same shape "
                f"(n, height, width, channels); received {self.start_images.shape} and "
                f"{self.end_images.shape}."
            )
        if not isinstance(num_steps, int) or num_steps < 2:
            raise ValueError(
                f"Argument `num_steps` must be an integer >= 2; received num_steps={num_steps!r}."
            )
        self.num_steps = num_steps

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
        _check_positive_int("num_points", num_points)
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4:
            raise ValueError(
                f"Argument `images` must have shape (n, height, width, channels); "
                f"received shape {images.shape}."
            )
        self.images, _ = _fixed_subset(images, None, num_points, seed)
        self.limits = limits

    def prepare(self, model):
        _check_two_dimensional(self, model)

    def make_figure(self, epoch):
        means, log_variances = [], []
        for start in range(0, len(self.images), 500):
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

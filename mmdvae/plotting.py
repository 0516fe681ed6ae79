"""Figures from arrays: pure functions that return matplotlib Figures.

Nothing here trains a model. Functions take arrays (images, codes, labels, a
history) or, where a figure is made of decoded codes, anything with the
``decode``/``encode``/``prior``/``latent_dim`` of an ``mmdvae.Autoencoder``.
Every figure function takes ``axes=`` to draw into an existing subplot (for
side-by-side comparisons) and returns the Figure it drew on.

New figures are ``StandaloneFigure`` objects, matplotlib Figures made without
pyplot: importing or calling this module changes no backend and leaves no
figure open in pyplot, works without a display, and a figure is freed as soon
as it is no longer referenced. Write one with ``figure.savefig(path)``; in a
notebook, show it with ``display(figure)`` or as the last value of a cell
(``plt.show()`` shows pyplot's figures only).

- ``image_grid``, ``sample_grid``, ``reconstruction_grid``: tiled images;
- ``latent_scatter``: codes coloured by label, projected on two principal
  components when the code has more than two dimensions;
- ``morph_grid``: decoded codes on a grid of the prior's quantiles (2-D codes);
- ``interpolation_grid``: rows of decoded interpolations between pairs of images;
- ``density_contours``: q(z) against p(z) (InfoVAE paper, figure 3);
- ``training_curves``: the logged losses of a Keras History or history file.
"""

import io
import json
import numbers
import os
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmdvae import checks

#: Probability masses enclosed by the density contours.
CONTOUR_MASSES = (0.5, 0.9, 0.99)


# === Helpers ===


class StandaloneFigure(Figure):
    """A matplotlib Figure that needs no pyplot, and shows itself in notebooks.

    Jupyter draws it as a PNG (``_repr_png_``) whatever matplotlib backend is
    active; ``savefig`` works as for any Figure.
    """

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def _new_axes(axes, figsize):
    if axes is None:
        figure = StandaloneFigure(figsize=figsize, layout="tight")
        return figure, figure.add_subplot()
    return axes.figure, axes


def check_image_array(argument, images):
    """Returns ``images`` as a float32 array ``[n, height, width, channels]``, n >= 1.

    Integer images (0..255 pixels) are refused: they would be drawn white.
    """
    array = np.asarray(images)
    if array.dtype.kind in "biu":
        raise TypeError(
            f"Argument `{argument}` must hold floating-point images in [0, 1]; "
            f"received {argument} of dtype {array.dtype}. Pass "
            f"`{argument}.astype('float32') / 255`."
        )
    if array.dtype.kind != "f":
        raise TypeError(
            f"Argument `{argument}` must hold floating-point images in [0, 1]; "
            f"received {argument} of dtype {array.dtype}."
        )
    if array.ndim != 4 or len(array) == 0:
        raise ValueError(
            f"Argument `{argument}` must have shape (n, height, width, channels) with "
            f"n >= 1; received shape {array.shape}."
        )
    return array.astype(np.float32, copy=False)


def tile_images(images, num_columns: int | None = None, padding: int = 0):
    """Tiles ``[n, height, width, channels]`` images into one array.

    Returns an array ``[rows * (height + padding) - padding,
    columns * (width + padding) - padding, channels]``; empty cells and the
    padding are white (1).
    """
    images = check_image_array("images", images)
    count, height, width, channels = images.shape
    if num_columns is None:
        num_columns = int(np.ceil(np.sqrt(count)))
    num_columns = checks.check_positive_int("num_columns", num_columns)
    num_rows = int(np.ceil(count / num_columns))
    step_y, step_x = height + padding, width + padding
    canvas = np.ones(
        (num_rows * step_y - padding, num_columns * step_x - padding, channels),
        dtype=np.float32,
    )
    for index, image in enumerate(images):
        row, column = divmod(index, num_columns)
        top, left = row * step_y, column * step_x
        canvas[top : top + height, left : left + width] = image
    return canvas


def _show_canvas(axes, canvas, title):
    channels = canvas.shape[-1]
    axes.imshow(
        canvas.squeeze(-1) if channels == 1 else canvas,
        cmap="gray", vmin=0, vmax=1, interpolation="nearest",
    )
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title)


def figure_to_array(figure, dpi: int | None = None):
    """Renders ``figure`` to an RGBA ``uint8`` array ``[height, width, 4]``.

    Rendered by Agg whatever the figure's own canvas is; the figure's canvas
    and resolution are left as they were.
    """
    if dpi is not None:
        dpi = checks.check_positive_int("dpi", dpi)
    original_canvas, original_dpi = figure.canvas, figure.dpi
    try:
        if dpi is not None:
            figure.set_dpi(dpi)
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        return np.array(canvas.buffer_rgba(), dtype=np.uint8)
    finally:
        figure.set_canvas(original_canvas)
        figure.set_dpi(original_dpi)


# === Image grids ===


def image_grid(images, num_columns: int | None = None, title: str | None = None, axes=None):
    """Tiles images ``[n, height, width, channels]`` (values in [0, 1]) in a grid."""
    canvas = tile_images(images, num_columns)
    count = len(images)
    num_columns = num_columns or int(np.ceil(np.sqrt(count)))
    num_rows = int(np.ceil(count / num_columns))
    figure, axes = _new_axes(axes, (num_columns * 0.6 + 0.4, num_rows * 0.6 + 0.6))
    _show_canvas(axes, canvas, title)
    axes.set_axis_off()
    return figure


def sample_grid(
    model, codes=None, num_samples: int = 100, num_columns: int = 10, seed: int = 0,
    title: str | None = None, axes=None,
):
    """Decodes codes drawn from the model's prior (or the given ``codes``).

    Args:
        model: an ``mmdvae.Autoencoder``.
        codes: ``[n, latent_dim]`` codes to decode; by default ``num_samples``
            draws from ``model.prior`` with the stateless seed ``(seed, 0)``.
    """
    if codes is None:
        num_samples = checks.check_positive_int("num_samples", num_samples)
        seed = checks.check_positive_int("seed", seed, maximum=checks.MAX_SEED, minimum=0)
        codes = model.prior_samples(num_samples, seed=np.array([seed, 0]))
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2 or codes.shape[1] != model.latent_dim:
        raise ValueError(
            f"Argument `codes` must have shape (n, {model.latent_dim}) to match the "
            f"model's latent_dim={model.latent_dim}; received shape {codes.shape}."
        )
    return image_grid(np.asarray(model.decode(codes)), num_columns, title=title, axes=axes)


def _check_image_pair(first_name, first, second_name, second):
    """Checks two image batches that are drawn side by side; returns them as arrays."""
    first = check_image_array(first_name, first)
    second = check_image_array(second_name, second)
    if first.shape != second.shape:
        raise ValueError(
            f"Arguments `{first_name}` and `{second_name}` must have the same shape; "
            f"received {first.shape} and {second.shape}."
        )
    return first, second


def reconstruction_grid(
    images, reconstructions, num_columns: int = 10, title: str | None = None, axes=None,
):
    """Originals above their reconstructions, ``num_columns`` pairs per band.

    Rows alternate: a row of originals, then the row of their reconstructions.
    """
    images, reconstructions = _check_image_pair(
        "images", images, "reconstructions", reconstructions)
    num_columns = checks.check_positive_int("num_columns", num_columns)
    rows = []
    for start in range(0, len(images), num_columns):
        band = slice(start, start + num_columns)
        for part in (images[band], reconstructions[band]):
            filler = np.ones((num_columns - len(part), *images.shape[1:]), np.float32)
            rows.append(np.concatenate([part, filler]))
    return image_grid(np.concatenate(rows), num_columns, title=title, axes=axes)


# === Latent space ===


def principal_components(codes, num_components: int = 2):
    """Mean, leading principal directions ``[k, d]`` and explained variance ratios."""
    codes = np.asarray(codes, dtype=np.float64)
    mean = codes.mean(axis=0)
    _, singular_values, directions = np.linalg.svd(codes - mean, full_matrices=False)
    variance = singular_values**2
    ratios = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    return mean, directions[:num_components], ratios[:num_components]


def _mass_levels(density, cell_area, masses=CONTOUR_MASSES):
    """Density values whose upper level sets hold ``masses`` of the grid's mass."""
    values = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(values) * cell_area
    cumulative /= cumulative[-1]
    levels = [values[min(np.searchsorted(cumulative, mass), len(values) - 1)] for mass in masses]
    return np.unique(levels)


def _grid(x_limits, y_limits, size=80):
    x = np.linspace(*x_limits, size)
    y = np.linspace(*y_limits, size)
    grid_x, grid_y = np.meshgrid(x, y)
    cell_area = (x[1] - x[0]) * (y[1] - y[0])
    return grid_x, grid_y, np.stack([grid_x.ravel(), grid_y.ravel()], axis=1), cell_area


def _prior_density_on(prior, points, projection=None, seed=0):
    """p(z) at 2-D ``points``: exact for a 2-D prior, else a KDE of projected draws."""
    if projection is None:
        return np.exp(np.asarray(prior.log_prob(points.astype(np.float32)), dtype=np.float64))
    from scipy.stats import gaussian_kde

    mean, directions = projection
    draws = np.asarray(prior.sample(5000, seed=np.array([seed, 1])), dtype=np.float64)
    return gaussian_kde(((draws - mean) @ directions.T).T)(points.T)


def _limits(values, prior_values=None):
    low, high = np.percentile(values, [0.5, 99.5], axis=0)
    if prior_values is not None:
        low = np.minimum(low, prior_values[0])
        high = np.maximum(high, prior_values[1])
    margin = 0.1 * (high - low) + 1e-6
    return (low[0] - margin[0], high[0] + margin[0]), (low[1] - margin[1], high[1] + margin[1])


def latent_scatter(
    codes, labels, title: str | None = None, class_names=None, prior=None,
    limits=None, axes=None,
):
    """Scatter of codes coloured by label with a legend, or in one colour without labels.

    Codes with two dimensions are drawn as they are. Longer codes are projected
    on their first two principal components, named on the axes with the share
    of variance each explains.

    Args:
        codes: ``[n, latent_dim]`` array.
        labels: ``[n]`` integer class labels, which give the colours; ``None``
            draws every code in one colour (data without labels).
        class_names: optional names indexed by label, for the legend.
        prior: optional tensorflow-probability distribution over the codes; its
            density is drawn behind the points as contours enclosing
            ``CONTOUR_MASSES`` of its mass (for projected codes, a kernel density
            estimate of projected prior draws).
        limits: optional ``((x_min, x_max), (y_min, y_max))``, e.g. to keep the
            axes of an animation fixed.
    """
    codes = np.asarray(codes, dtype=np.float64)
    labelled = labels is not None
    labels = np.asarray(labels) if labelled else np.zeros(len(codes), dtype=np.int64)
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(
            f"Argument `codes` must have shape (n, latent_dim) with latent_dim >= 2; "
            f"received shape {codes.shape}."
        )
    if labels.shape != (codes.shape[0],):
        raise ValueError(
            f"Argument `labels` must have shape ({codes.shape[0]},) to match the "
            f"codes; received shape {labels.shape}."
        )
    check_class_names(class_names, labels)
    projection = None
    x_label, y_label = "z[0]", "z[1]"
    if codes.shape[1] > 2:
        mean, directions, ratios = principal_components(codes)
        projection = (mean, directions)
        codes = (codes - mean) @ directions.T
        x_label = f"principal component 1 ({ratios[0]:.0%} of variance)"
        y_label = f"principal component 2 ({ratios[1]:.0%} of variance)"

    figure, axes = _new_axes(axes, (6.4, 5.6))
    if limits is None:
        prior_range = None
        if prior is not None and projection is None and hasattr(prior, "distribution"):
            prior_range = np.asarray(
                prior.distribution.quantile(np.float32([[0.005] * 2, [0.995] * 2]))
            )
        limits = _limits(codes, prior_range)
    x_limits, y_limits = limits
    if prior is not None:
        grid_x, grid_y, points, cell_area = _grid(x_limits, y_limits)
        density = _prior_density_on(prior, points, projection).reshape(grid_x.shape)
        axes.contour(grid_x, grid_y, density, levels=_mass_levels(density, cell_area),
                     colors="0.5", linewidths=1.0, zorder=0)
    colormap = matplotlib.colormaps["tab10"]
    for index, label in enumerate(np.unique(labels)):
        chosen = labels == label
        name = class_names[label] if class_names is not None else str(label)
        name = name if labelled else None
        axes.scatter(
            codes[chosen, 0], codes[chosen, 1], s=3, alpha=0.6,
            color=colormap(index % 10), label=name,
        )
    axes.set_xlim(x_limits)
    axes.set_ylim(y_limits)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    if labelled:
        axes.legend(markerscale=4, fontsize="small", loc="best")
    if title:
        axes.set_title(title)
    return figure


def check_class_names(class_names, labels) -> None:
    """Checks that ``class_names`` (if given) names every label in ``labels``."""
    if class_names is None:
        return
    if isinstance(class_names, str | bytes) or not hasattr(class_names, "__len__"):
        raise TypeError(
            f"Argument `class_names` must be a sequence of names indexed by label; "
            f"received class_names={class_names!r}."
        )
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
        raise ValueError(
            f"Argument `labels` must be non-negative integers to index `class_names`; "
            f"received labels of dtype {labels.dtype}"
            + (f" from {labels.min()}" if labels.size and labels.dtype.kind in "iuf" else "")
            + "."
        )
    if labels.size and labels.max() >= len(class_names):
        raise ValueError(
            f"Argument `class_names` must name every class: labels run up to "
            f"{int(labels.max())}, so {int(labels.max()) + 1} names are needed; "
            f"received {len(class_names)} names, class_names={list(class_names)!r}."
        )


def check_quantile_range(quantile_range) -> tuple:
    """Returns ``(low, high)`` after checking ``0 < low < high < 1``."""
    if (isinstance(quantile_range, str | bytes) or not hasattr(quantile_range, "__len__")
            or len(quantile_range) != 2
            or not all(isinstance(q, numbers.Real) and not isinstance(q, bool)
                       for q in quantile_range)):
        raise TypeError(
            f"Argument `quantile_range` must be a pair of numbers (low, high) with "
            f"0 < low < high < 1; received quantile_range={quantile_range!r}."
        )
    low, high = (float(q) for q in quantile_range)
    if not 0 < low < high < 1:
        raise ValueError(
            f"Argument `quantile_range` must be (low, high) with 0 < low < high < 1; "
            f"received quantile_range={quantile_range!r}."
        )
    return low, high


def quantile_codes(prior, num_rows: int = 15, quantile_range=(0.05, 0.95)):
    """Codes ``[num_rows, num_rows, 2]`` on a grid of the prior's quantiles.

    Column ``j`` has ``z[0]`` at the quantile ``q_j`` of the prior's first
    coordinate and row ``i`` has ``z[1]`` at the quantile ``q_{n-1-i}`` of the
    second (rows go down as ``z[1]`` decreases, as on a plot), where ``q`` is
    ``num_rows`` evenly spaced probabilities from ``quantile_range[0]`` to
    ``quantile_range[1]``. The top-left code is thus
    ``(Q_0(low), Q_1(high))``. The grid covers where the prior puts its mass for
    any prior with per-coordinate quantiles (normal, logistic, uniform).

    Args:
        prior: a tensorflow-probability ``Independent`` distribution over two
            coordinates whose underlying distribution has a ``quantile``.
    """
    num_rows = checks.check_positive_int("num_rows", num_rows)
    low, high = check_quantile_range(quantile_range)
    base = getattr(prior, "distribution", None)
    event_shape = getattr(prior, "event_shape", None)
    if base is None or not hasattr(base, "quantile") or event_shape is None or list(
        event_shape
    ) != [2]:
        raise ValueError(
            "The quantile grid needs a prior over 2 coordinates that is a "
            "tfp.distributions.Independent of a distribution with `quantile` (as the "
            f"named priors are); received prior={prior!r}."
        )
    probabilities = np.linspace(low, high, num_rows, dtype=np.float32)
    per_coordinate = np.asarray(
        base.quantile(np.repeat(probabilities[:, None], 2, axis=1)), dtype=np.float64
    )
    z0 = per_coordinate[:, 0]
    z1 = per_coordinate[::-1, 1]
    grid_z1, grid_z0 = np.meshgrid(z1, z0, indexing="ij")
    return np.stack([grid_z0, grid_z1], axis=-1)


def morph_grid(
    model, num_rows: int = 15, quantile_range=(0.05, 0.95), title: str | None = None,
    axes=None,
):
    """Decodes the grid of ``quantile_codes`` of a model with 2-D codes.

    The images morph into one another along both axes; the axes are labelled
    with the codes at the grid's ends. For longer codes use
    ``interpolation_grid``.
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"A morphing grid over the prior's quantiles can only be drawn for "
            f"latent_dim=2; received a model with latent_dim={model.latent_dim}. Use "
            f"`interpolation_grid` (or the InterpolationGrid callback) for any latent size."
        )
    codes = quantile_codes(model.prior, num_rows, quantile_range)
    images = np.asarray(model.decode(codes.reshape(-1, 2).astype(np.float32)))
    figure, axes = _new_axes(axes, (7.0, 7.0))
    canvas = tile_images(images, num_rows)
    _show_canvas(axes, canvas, title)
    height, width = images.shape[1:3]
    ticks = [0, num_rows - 1]
    axes.set_xticks([width * (t + 0.5) for t in ticks])
    axes.set_xticklabels([f"{codes[0, t, 0]:.2f}" for t in ticks])
    axes.set_yticks([height * (t + 0.5) for t in ticks])
    axes.set_yticklabels([f"{codes[t, 0, 1]:.2f}" for t in ticks])
    axes.set_xlabel(f"z[0] (prior quantiles {quantile_range[0]:g} to {quantile_range[1]:g})")
    axes.set_ylabel("z[1]")
    return figure


def interpolation_grid(
    model, start_images, end_images, num_steps: int = 10, title: str | None = None,
    axes=None,
):
    """Rows of decoded interpolations between pairs of images, for any code size.

    Row ``i`` shows ``start_images[i]``, the decoded codes
    ``(1 - t) * encode(start) + t * encode(end)`` for ``num_steps`` values of
    ``t`` evenly spaced in [0, 1], and ``end_images[i]``.
    """
    start_images, end_images = _check_image_pair(
        "start_images", start_images, "end_images", end_images)
    num_steps = checks.check_positive_int("num_steps", num_steps, minimum=2)
    start_codes = np.asarray(model.encode(start_images))
    end_codes = np.asarray(model.encode(end_images))
    weights = np.linspace(0.0, 1.0, num_steps, dtype=np.float32)[None, :, None]
    codes = (1 - weights) * start_codes[:, None] + weights * end_codes[:, None]
    decoded = np.asarray(model.decode(codes.reshape(-1, codes.shape[-1])))
    decoded = decoded.reshape(len(start_images), num_steps, *start_images.shape[1:])
    rows = np.concatenate([start_images[:, None], decoded, end_images[:, None]], axis=1)
    num_columns = num_steps + 2
    figure, axes = _new_axes(axes, (num_columns * 0.6 + 0.4, len(rows) * 0.6 + 0.6))
    _show_canvas(axes, tile_images(rows.reshape(-1, *rows.shape[2:]), num_columns), title)
    width = start_images.shape[2]
    axes.set_xticks([width * 0.5, width * (num_columns - 0.5)])
    axes.set_xticklabels(["start", "end"])
    return figure


def _mixture_density(points, z_mean, z_log_var):
    """Mean over codes of ``N(points; z_mean_i, diag exp(z_log_var_i))``."""
    precision = np.exp(-z_log_var)
    # sum_k (p_k - m_ik)^2 / v_ik expanded into matrix products.
    squared = (
        (points**2) @ precision.T
        - 2.0 * points @ (z_mean * precision).T
        + np.sum(z_mean**2 * precision, axis=1)[None]
    )
    log_normalizer = -0.5 * np.sum(np.log(2 * np.pi) + z_log_var, axis=1)[None]
    return np.exp(log_normalizer - 0.5 * squared).mean(axis=1)


def density_contours(
    codes, prior, z_log_var=None, title: str | None = None, limits=None, axes=None,
):
    """Contours of q(z) against p(z) for 2-D codes (InfoVAE paper, figure 3).

    q(z) is the mixture ``mean_i N(z; codes_i, diag exp(z_log_var_i))`` when the
    encoder's log-variances are given (Gaussian encoders; ``codes`` are then the
    means), otherwise a Gaussian kernel density estimate of the codes (Scott's
    bandwidth per coordinate, ``std * n ** (-1/6)``). Both densities are drawn
    at the levels enclosing ``CONTOUR_MASSES`` of their mass on the plotted grid.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(
            f"Argument `codes` must have shape (n, 2): density contours are drawn for "
            f"2-D codes only; received shape {codes.shape}."
        )
    if z_log_var is not None:
        z_log_var = np.asarray(z_log_var, dtype=np.float64)
        if z_log_var.shape != codes.shape:
            raise ValueError(
                f"Argument `z_log_var` must have the shape of `codes` {codes.shape}; "
                f"received shape {z_log_var.shape}."
            )
    if limits is None:
        quantiles = np.asarray(prior.distribution.quantile(np.float32([[0.005] * 2, [0.995] * 2])))
        limits = _limits(codes, quantiles)
    grid_x, grid_y, points, cell_area = _grid(*limits, size=64)
    if z_log_var is None:
        # Scott's rule per coordinate: bandwidth std * n ** (-1 / (d + 4)), d = 2.
        bandwidth = codes.std(axis=0) * len(codes) ** (-1 / 6) + 1e-12
        z_log_var = np.broadcast_to(2 * np.log(bandwidth), codes.shape)
    q_density = _mixture_density(points, codes, z_log_var)
    p_density = _prior_density_on(prior, points)
    figure, axes = _new_axes(axes, (6.0, 5.6))
    for density, color, name in ((p_density, "tab:gray", "p(z)"), (q_density, "tab:red", "q(z)")):
        density = density.reshape(grid_x.shape)
        axes.contour(grid_x, grid_y, density, levels=_mass_levels(density, cell_area),
                     colors=color, linewidths=1.2)
        axes.plot([], [], color=color, label=name)
    axes.set_xlim(limits[0])
    axes.set_ylim(limits[1])
    axes.set_aspect("equal")
    axes.set_xlabel("z[0]")
    axes.set_ylabel("z[1]")
    axes.legend(title=f"mass {', '.join(f'{m:g}' for m in CONTOUR_MASSES)}", fontsize="small")
    if title:
        axes.set_title(title)
    return figure


# === Training ===


def _read_history(history):
    if hasattr(history, "history") and isinstance(history.history, dict):
        return history.history
    if isinstance(history, str | os.PathLike):
        path = Path(history)
        if not path.is_file():
            raise ValueError(f"Argument `history`: no history file at {path}.")
        history = json.loads(path.read_text())
    if isinstance(history, dict):
        inner = history.get("history")
        return inner if isinstance(inner, dict) else history
    raise TypeError(
        f"Argument `history` must be a keras History, a dict of lists or the path of a "
        f"JSON history file; received an object of type {type(history).__name__}."
    )


def training_curves(history, keys=None, title: str | None = None):
    """One panel per logged quantity, training and validation values by epoch.

    Args:
        history: a ``keras.callbacks.History`` (what ``fit`` returns), a dict of
            lists, or the path of a JSON file holding such a dict (directly or
            under ``"history"``, as ``python -m mmdvae train`` writes it).
        keys: the quantities to draw (default: all but the ``val_`` ones).
    """
    values = _read_history(history)
    available = [key for key in values if not key.startswith("val_")]
    keys = available if keys is None else list(keys)
    unknown = [key for key in keys if key not in values]
    if unknown or not keys:
        raise ValueError(
            f"Argument `keys` must name logged quantities {available}; received "
            f"keys={keys!r}."
        )
    columns = min(len(keys), 3)
    rows = int(np.ceil(len(keys) / columns))
    figure = StandaloneFigure(figsize=(4.2 * columns, 3.2 * rows))
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, key in zip(grid.ravel(), keys, strict=False):
        epochs = np.arange(1, len(values[key]) + 1)
        axes.plot(epochs, values[key], marker=".", label="training")
        if f"val_{key}" in values:
            axes.plot(epochs, values[f"val_{key}"], marker=".", label="validation")
            axes.legend(fontsize="small")
        axes.set_title(key)
        axes.set_xlabel("epoch")
    for axes in grid.ravel()[len(keys) :]:
        axes.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure

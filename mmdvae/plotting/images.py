"""Grids of images: given images, prior samples, reconstructions, and decoded codes."""

import numpy as np

from mmdvae import checks
from mmdvae.plotting.figures import new_axes, show_canvas, tile_images


def image_grid(images, num_columns: int | None = None, title: str | None = None, axes=None):
    """Tiles images ``[n, height, width, channels]`` (values in [0, 1]) in a grid."""
    canvas = tile_images(images, num_columns)
    count = len(images)
    num_columns = num_columns or int(np.ceil(np.sqrt(count)))
    num_rows = int(np.ceil(count / num_columns))
    figure, axes = new_axes(axes, (num_columns * 0.6 + 0.4, num_rows * 0.6 + 0.6))
    show_canvas(axes, canvas, title)
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
    first = checks.check_image_array(first_name, first)
    second = checks.check_image_array(second_name, second)
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
    low, high = checks.check_quantile_range(quantile_range)
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
    figure, axes = new_axes(axes, (7.0, 7.0))
    canvas = tile_images(images, num_rows)
    show_canvas(axes, canvas, title)
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
    figure, axes = new_axes(axes, (num_columns * 0.6 + 0.4, len(rows) * 0.6 + 0.6))
    show_canvas(axes, tile_images(rows.reshape(-1, *rows.shape[2:]), num_columns), title)
    width = start_images.shape[2]
    axes.set_xticks([width * 0.5, width * (num_columns - 0.5)])
    axes.set_xticklabels(["start", "end"])
    return figure

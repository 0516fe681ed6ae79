"""The latent space: codes scattered by class, and q(z) against p(z) as contours."""

import matplotlib
import numpy as np

from mmdvae import checks
from mmdvae.plotting.figures import new_axes

#: Probability masses enclosed by the density contours.
CONTOUR_MASSES = (0.5, 0.9, 0.99)


def principal_components(codes, num_components: int = 2):
    """Mean, leading principal directions ``[k, d]`` and explained variance ratios."""
    codes = np.asarray(codes, dtype=np.float64)
    mean = codes.mean(axis=0)
    _, singular_values, directions = np.linalg.svd(codes - mean, full_matrices=False)
    variance = singular_values**2
    ratios = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    return mean, directions[:num_components], ratios[:num_components]


def mass_levels(density, cell_area, masses=CONTOUR_MASSES):
    """Density values whose upper level sets hold ``masses`` of the grid's mass."""
    values = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(values) * cell_area
    cumulative /= cumulative[-1]
    levels = [values[min(np.searchsorted(cumulative, mass), len(values) - 1)] for mass in masses]
    return np.unique(levels)


def grid_points(x_limits, y_limits, size=80):
    """A ``size`` x ``size`` grid: its x and y coordinates, its points ``[size**2, 2]``
    and the area of one cell."""
    x = np.linspace(*x_limits, size)
    y = np.linspace(*y_limits, size)
    grid_x, grid_y = np.meshgrid(x, y)
    cell_area = (x[1] - x[0]) * (y[1] - y[0])
    return grid_x, grid_y, np.stack([grid_x.ravel(), grid_y.ravel()], axis=1), cell_area


def prior_density_on(prior, points, projection=None, seed=0):
    """p(z) at 2-D ``points``: exact for a 2-D prior, else a KDE of projected draws."""
    if projection is None:
        return np.exp(np.asarray(prior.log_prob(points.astype(np.float32)), dtype=np.float64))
    from scipy.stats import gaussian_kde

    mean, directions = projection
    draws = np.asarray(prior.sample(5000, seed=np.array([seed, 1])), dtype=np.float64)
    return gaussian_kde(((draws - mean) @ directions.T).T)(points.T)


def limits_of(values, prior_values=None):
    """Axis limits ``((x_min, x_max), (y_min, y_max))`` around 99 % of ``values``
    (and the prior's ``[low, high]`` quantiles, if given), with a margin of 10 %."""
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
    checks.check_class_names(class_names, labels)
    projection = None
    x_label, y_label = "z[0]", "z[1]"
    if codes.shape[1] > 2:
        mean, directions, ratios = principal_components(codes)
        projection = (mean, directions)
        codes = (codes - mean) @ directions.T
        x_label = f"principal component 1 ({ratios[0]:.0%} of variance)"
        y_label = f"principal component 2 ({ratios[1]:.0%} of variance)"

    figure, axes = new_axes(axes, (6.4, 5.6))
    if limits is None:
        prior_range = None
        if prior is not None and projection is None and hasattr(prior, "distribution"):
            prior_range = np.asarray(
                prior.distribution.quantile(np.float32([[0.005] * 2, [0.995] * 2]))
            )
        limits = limits_of(codes, prior_range)
    x_limits, y_limits = limits
    if prior is not None:
        grid_x, grid_y, points, cell_area = grid_points(x_limits, y_limits)
        density = prior_density_on(prior, points, projection).reshape(grid_x.shape)
        axes.contour(grid_x, grid_y, density, levels=mass_levels(density, cell_area),
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


def mixture_density(points, z_mean, z_log_var):
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
        limits = limits_of(codes, quantiles)
    grid_x, grid_y, points, cell_area = grid_points(*limits, size=64)
    if z_log_var is None:
        # Scott's rule per coordinate: bandwidth std * n ** (-1 / (d + 4)), d = 2.
        bandwidth = codes.std(axis=0) * len(codes) ** (-1 / 6) + 1e-12
        z_log_var = np.broadcast_to(2 * np.log(bandwidth), codes.shape)
    q_density = mixture_density(points, codes, z_log_var)
    p_density = prior_density_on(prior, points)
    figure, axes = new_axes(axes, (6.0, 5.6))
    for density, color, name in ((p_density, "tab:gray", "p(z)"), (q_density, "tab:red", "q(z)")):
        density = density.reshape(grid_x.shape)
        axes.contour(grid_x, grid_y, density, levels=mass_levels(density, cell_area),
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

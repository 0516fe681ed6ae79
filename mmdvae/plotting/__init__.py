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

from mmdvae.plotting.curves import training_curves
from mmdvae.plotting.figures import StandaloneFigure, figure_to_array, tile_images
from mmdvae.plotting.images import (
    image_grid,
    interpolation_grid,
    morph_grid,
    quantile_codes,
    reconstruction_grid,
    sample_grid,
)
from mmdvae.plotting.latent import (
    CONTOUR_MASSES,
    density_contours,
    latent_scatter,
    principal_components,
)

__all__ = [
    "CONTOUR_MASSES", "StandaloneFigure", "density_contours", "figure_to_array",
    "image_grid", "interpolation_grid", "latent_scatter", "morph_grid",
    "principal_components", "quantile_codes", "reconstruction_grid", "sample_grid",
    "tile_images", "training_curves",
]

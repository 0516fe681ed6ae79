"""The figures' common parts: a pyplot-free Figure, tiled images, rendering to pixels."""

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmdvae import checks


class StandaloneFigure(Figure):
    """A matplotlib Figure that needs no pyplot, and shows itself in notebooks.

    Jupyter draws it as a PNG (``_repr_png_``) whatever matplotlib backend is
    active; ``savefig`` works as for any Figure.
    """

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def new_axes(axes, figsize):
    """``(figure, axes)``: ``axes`` and its figure, or a new ``StandaloneFigure``'s."""
    if axes is None:
        figure = StandaloneFigure(figsize=figsize, layout="tight")
        return figure, figure.add_subplot()
    return axes.figure, axes


def tile_images(images, num_columns: int | None = None, padding: int = 0):
    """Tiles ``[n, height, width, channels]`` images into one array.

    Returns an array ``[rows * (height + padding) - padding,
    columns * (width + padding) - padding, channels]``; empty cells and the
    padding are white (1).
    """
    images = checks.check_image_array("images", images)
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


def show_canvas(axes, canvas, title):
    """Draws a tiled ``canvas`` (values in [0, 1]) on ``axes`` without ticks."""
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

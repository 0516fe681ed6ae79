"""Figures from arrays: pure functions that return matplotlib Figures.

Nothing here trains or imports a model; callers pass images and codes.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def image_grid(images, num_columns: int | None = None, title: str | None = None):
    """Tiles images ``[n, height, width, channels]`` (values in [0, 1]) in a grid."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"Argument `images` must have shape (n, height, width, channels); "
            f"received shape {images.shape}."
        )
    count, height, width, channels = images.shape
    num_columns = num_columns or int(np.ceil(np.sqrt(count)))
    num_rows = int(np.ceil(count / num_columns))
    canvas = np.ones((num_rows * height, num_columns * width, channels), dtype=np.float32)
    for index, image in enumerate(images):
        row, column = divmod(index, num_columns)
        canvas[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    figure, axes = plt.subplots(figsize=(num_columns * 0.6 + 0.4, num_rows * 0.6 + 0.6))
    axes.imshow(canvas.squeeze(-1) if channels == 1 else canvas, cmap="gray", vmin=0, vmax=1)
    axes.set_axis_off()
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure


def latent_scatter(codes, labels, title: str | None = None, class_names=None):
    """Scatter of 2-D codes coloured by label, with a legend."""
    codes = np.asarray(codes)
    labels = np.asarray(labels)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(
            f"Argument `codes` must have shape (n, 2); received shape {codes.shape}."
        )
    if labels.shape != (codes.shape[0],):
        raise ValueError(
            f"Argument `labels` must have shape ({codes.shape[0]},) to match the "
            f"codes; received shape {labels.shape}."
        )
    figure, axes = plt.subplots(figsize=(6.4, 5.6))
    colormap = plt.get_cmap("tab10")
    for index, label in enumerate(np.unique(labels)):
        chosen = labels == label
        name = class_names[label] if class_names is not None else str(label)
        axes.scatter(
            codes[chosen, 0], codes[chosen, 1], s=3, alpha=0.6,
            color=colormap(index % 10), label=name,
        )
    axes.set_xlabel("z[0]")
    axes.set_ylabel("z[1]")
    axes.legend(markerscale=4, fontsize="small", loc="best")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure

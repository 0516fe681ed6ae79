"""Training curves: the logged quantities of a Keras History or history file by epoch."""

import json
import os
from pathlib import Path

import numpy as np

from mmdvae.plotting.figures import StandaloneFigure


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

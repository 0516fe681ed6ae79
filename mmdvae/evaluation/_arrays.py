"""Checks of the arrays the evaluation measures take, made before any work.

Images go through ``mmdvae.validation.check_images``, the same checks as
``fit`` (shape, dtype, finite values, the likelihood's value range), so a
measure never scores integer pixels or data the decoder cannot model. Codes,
labels and classifier outputs get the checks below; every message names the
argument and the value received.
"""

import numbers

import numpy as np

from mmdvae import validation


def as_images(model, images, argument: str = "images") -> np.ndarray:
    """``images`` as a non-empty float32 array, checked against ``model``."""
    validation.check_images(model, images, argument)
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError(
            f"Argument `{argument}` is empty: received 0 images; at least one is needed."
        )
    return images.astype(np.float32, copy=False)


def as_codes(values, argument: str, min_rows: int = 1) -> np.ndarray:
    """``values`` as a finite float64 ``[n, width]`` array with ``n >= min_rows``."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Argument `{argument}` must hold numbers; received {argument} of dtype "
            f"{array.dtype}."
        )
    array = array.astype(np.float64, copy=False)
    if array.ndim != 2 or array.shape[0] < min_rows or array.shape[1] < 1:
        raise ValueError(
            f"Argument `{argument}` must have shape (n, width) with n >= {min_rows}; "
            f"received {argument} of shape {array.shape}."
        )
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.argwhere(~finite.all(axis=1))[0, 0])
        raise ValueError(
            f"Argument `{argument}` must hold finite values; received "
            f"{int((~finite).sum())} NaN or infinite values (the first in row {row}: "
            f"{argument}[{row}]={array[row].tolist()!r})."
        )
    return array


def same_width(first: str, first_array, second: str, second_array) -> None:
    """Two ``[n, width]`` arrays of one width (codes, features)."""
    if first_array.shape[1] != second_array.shape[1]:
        raise ValueError(
            f"Arguments `{first}` and `{second}` must have the same number of columns; "
            f"received {first} of shape {first_array.shape} and {second} of shape "
            f"{second_array.shape}."
        )


def as_labels(labels, num_rows: int | None, argument: str, num_classes: int | None = None):
    """``labels`` as integer class indices in ``[0, num_classes)``, ``num_rows`` of them.

    ``num_rows=None`` accepts any number of labels.
    """
    if labels is None:
        raise ValueError(
            f"Argument `{argument}` is needed: this measure uses class labels; "
            f"received {argument}=None."
        )
    array = np.asarray(labels)
    if array.ndim != 1 or (num_rows is not None and len(array) != num_rows):
        expected = "(n,)" if num_rows is None else f"({num_rows},), one label per example"
        raise ValueError(
            f"Argument `{argument}` must have shape {expected}; received {argument} of "
            f"shape {array.shape}."
        )
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(
        array == np.round(array)
    ):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"Argument `{argument}` must hold integer class indices; received "
            f"{argument} of dtype {array.dtype}."
        )
    if array.size == 0:
        return array
    low, high = int(array.min()), int(array.max())
    if low < 0 or (num_classes is not None and high >= num_classes):
        allowed = "0 or more" if num_classes is None else f"in [0, {num_classes - 1}]"
        raise ValueError(
            f"Argument `{argument}` must hold class indices {allowed}; received "
            f"labels from {low} to {high}."
        )
    return array


def require_gaussian_encoder(model, measure: str) -> None:
    if model.encoder_type != "gaussian":
        raise ValueError(
            f"{measure} needs a Gaussian encoder q(z|x); this "
            f"{type(model).__name__} has encoder_type={model.encoder_type!r}. "
            "Train it with encoder_type='gaussian'."
        )


def check_sequence_of_sizes(argument: str, values) -> tuple:
    """A non-empty sequence of positive integers (e.g. labelled-set sizes)."""
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = (values,)
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"Argument `{argument}` must be a sequence of positive integers; received "
            f"{argument}={values!r}."
        )
    return tuple(values)

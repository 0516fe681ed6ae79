"""Source: NumPy arrays of any shape: images, or vector (tabular) data.

Floating values are used as they are (float32), ``uint8`` images are divided
by 255 and boolean values become 0 and 1. Standardisation (``Standardization``)
is applied only when asked for, and recorded so that it can be undone.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.data import pipeline


@dataclasses.dataclass(frozen=True)
class Standardization:
    """Per-feature mean and standard deviation, and how to apply and undo them.

    ``apply(x) = (x - mean) / std``; ``invert(y) = y * std + mean``. Features
    whose standard deviation is 0 keep ``std = 1``.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, values) -> Standardization:
        """The statistics of ``values`` over its first axis (computed in float64)."""
        values = np.asarray(values, dtype=np.float64)
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def apply(self, values) -> np.ndarray:
        return ((np.asarray(values, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def invert(self, values) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) * self.std + self.mean).astype(np.float32)


def from_arrays(
    images,
    labels=None,
    *,
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    train_size: int | None = None,
    binarize: str | None = None,
    threshold: float = 0.5,
    standardize: bool | Standardization = False,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of NumPy examples: images of any shape, or vectors.

    ``images`` is ``(n, height, width, channels)`` images or ``(n, features)``
    vector data (any shape after the first axis is kept as it is). Floating
    values are used as they are (float32); ``uint8`` images (0..255) are divided
    by 255; boolean values become 0 and 1. Elements are ``(examples, labels)``
    when ``labels`` is given.

    ``standardize=True`` rescales every feature (every position of an
    example) to mean 0 and standard deviation 1 over the kept examples; pass
    the training set's ``Standardization`` to rescale test data the same way.
    It is never applied unless asked for. The returned dataset's
    ``standardization`` attribute holds it (None without), so
    ``dataset.standardization.invert(model.decode(z))`` gives values in the
    data's units.

    Args:
        images: the examples, shape ``(n, ...)``.
        labels: optional integer labels, shape ``(n,)``.
        standardize: False, True, or a ``Standardization`` to apply.
        batch_size, shuffle, seed, train_size, binarize, threshold, drop_remainder: as
            for ``load`` (the whole array is shuffled).
    """
    options = pipeline.Options.checked(batch_size, shuffle, seed, binarize, threshold,
                                       drop_remainder, None, pipeline.SHUFFLE_BUFFER)
    values = _checked_examples(images)
    if labels is not None:
        labels = _checked_labels(labels, len(values))
    if train_size is not None:
        train_size = checks.check_positive_int("train_size", train_size, maximum=len(values))
        values = values[:train_size]
        labels = None if labels is None else labels[:train_size]
    standardization = _checked_standardization(standardize, values, binarize)
    max_value = 255 if values.dtype == np.uint8 else 1
    if standardization is not None:
        values = standardization.apply(values / np.float32(max_value))
        max_value = 1
    elif options.binarize == "stochastic":
        scaled = values / np.float32(max_value)
        if scaled.min() < 0 or scaled.max() > 1:
            raise ValueError(
                f"Argument `binarize='stochastic'` draws pixels with probability equal to "
                f"their value, which must lie in [0, 1]; received images with values from "
                f"{scaled.min():.6g} to {scaled.max():.6g}."
            )
    dataset = pipeline.from_memory(values, labels, options, max_value=max_value)
    dataset.standardization = standardization
    return dataset


# === Argument checks ===


def _checked_examples(images) -> np.ndarray:
    if tf.is_tensor(images):
        images = images.numpy()
    values = np.asarray(images)
    if values.ndim < 2 or len(values) == 0:
        raise ValueError(
            f"Argument `images` must have shape (n, height, width, channels) or "
            f"(n, features) with n >= 1; received shape {values.shape}."
        )
    if values.dtype == np.bool_:
        return values.astype(np.float32)
    if values.dtype == np.uint8:
        return values
    if values.dtype.kind in "iu":
        raise TypeError(
            f"Argument `images` must hold floating-point values or uint8 pixels (0..255); "
            f"received dtype {values.dtype.name}. Scale integer data yourself, e.g. "
            f"images.astype('float32') / images.max()."
        )
    if values.dtype.kind != "f":
        raise TypeError(
            f"Argument `images` must hold numbers; received dtype {values.dtype.name}."
        )
    values = values.astype(np.float32)
    if not np.isfinite(values).all():
        raise ValueError(
            f"Argument `images` must hold finite values; received "
            f"{int((~np.isfinite(values)).sum())} NaN or infinite values."
        )
    return values


def _checked_labels(labels, count) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (count,) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"Argument `labels` must be integers of shape ({count},), one per example; "
            f"received dtype {labels.dtype.name} and shape {labels.shape}."
        )
    return labels.astype(np.int64)


def _checked_standardization(standardize, values, binarize):
    if standardize is False or standardize is None:
        return None
    if binarize is not None:
        raise ValueError(
            f"Arguments `standardize` and `binarize` exclude each other (standardised "
            f"values are not pixel probabilities); received binarize={binarize!r}."
        )
    if isinstance(standardize, Standardization):
        if np.shape(standardize.mean) != values.shape[1:]:
            raise ValueError(
                f"Argument `standardize` holds statistics of examples of shape "
                f"{np.shape(standardize.mean)}; received examples of shape {values.shape[1:]}."
            )
        return standardize
    if standardize is not True:
        raise TypeError(
            f"Argument `standardize` must be True, False or a Standardization; received "
            f"standardize={standardize!r}."
        )
    scale = np.float32(255) if values.dtype == np.uint8 else np.float32(1)
    return Standardization.of(values / scale)

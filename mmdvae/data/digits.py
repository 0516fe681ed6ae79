"""Source: scikit-learn's 1,797 real 8x8 digits, nothing to download.

Values 0..16 divided by 16; the first ``DIGITS_TRAIN_SIZE`` (1,500) digits
are ``"train"``, the last 297 ``"test"``.
"""

from __future__ import annotations

import functools

import numpy as np

from mmdvae.data.catalogue import DIGITS_TRAIN_SIZE


@functools.lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def read_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read-only float32 images (N, 8, 8, 1) in [0, 1] and int64 labels (N,) of a split."""
    images, labels = _all_digits()
    if split == "train":
        part = slice(None, DIGITS_TRAIN_SIZE)
    else:
        part = slice(DIGITS_TRAIN_SIZE, None)
    return images[part], labels[part]

"""Datasets by name: ``info``, ``load`` and ``load_arrays``, each name sent to its source.

MNIST and Fashion-MNIST come from their IDX files (``idx``, else
tensorflow-datasets) and scikit-learn's digits from scikit-learn
(``digits``); both are held in memory whole. Every other name is streamed
from tensorflow-datasets (``tfds``).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.data import digits, idx, pipeline, tfds
from mmdvae.data.catalogue import (
    DATASETS,
    NAMED,
    RECIPES,
    DatasetInfo,
    check_image_size,
    check_labels_exist,
)

#: ``load_arrays`` refuses to build arrays larger than this (bytes); stream
#: such datasets with ``load`` instead.
MAX_ARRAY_BYTES = 4 * 2**30
#: The datasets held in memory whole; the others are streamed.
_IN_MEMORY = (*DATASETS, "sklearn_digits")


def info(name: str, image_size=None) -> DatasetInfo:
    """Describes the dataset ``name`` without loading it (no download).

    Args:
        name: a name in ``NAMED_DATASETS`` or of any tensorflow-datasets image
            dataset.
        image_size: ``(height, width)`` the images will be resized to, as
            given to ``load``.

    Returns:
        A ``DatasetInfo``; ``info(name).image_shape`` is the ``image_shape``
        of a model for the dataset.
    """
    image_size = check_image_size(image_size)
    if name not in NAMED:
        return tfds.describe(name, image_size)
    known = NAMED[name]
    if image_size is None:
        return known
    preprocessing = known.preprocessing
    if name in RECIPES or image_size != known.image_shape[:2]:
        preprocessing += f"; resized to {image_size[0]}x{image_size[1]}"
    return dataclasses.replace(known, image_shape=(*image_size, known.image_shape[-1]),
                               preprocessing=preprocessing)


def load_arrays(
    name: str,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    train_size: int | None = None,
    with_labels: bool = False,
    image_size=None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Return the images of a split as float32 arrays in [0, 1], shape (N, *image_shape).

    For small datasets: the whole split is held in memory (arrays above
    ``MAX_ARRAY_BYTES`` are refused; stream those with ``load``).

    Args:
        name: a name in ``NAMED_DATASETS`` or of a tensorflow-datasets image dataset.
        split: a split of the dataset (``info(name).splits``).
        data_dir: directory with the IDX files of MNIST or Fashion-MNIST (see
            ``mmdvae.data``).
        train_size: keep the first `train_size` examples (deterministic); must be
            between 1 and the number of examples in the split.
        with_labels: also return the int64 labels, shape (N,).
        image_size: ``(height, width)`` to resize the images to.

    Returns:
        `images`, or `(images, labels)` when `with_labels` is true. The arrays are
        fresh copies the caller may modify.
    """
    _check_source_arguments(name, split, data_dir, train_size)
    image_size = check_image_size(image_size)
    if name in _IN_MEMORY and image_size is None:
        images, labels, max_value = _read_into_memory(name, split, data_dir, train_size)
        images = images.astype(np.float32) / np.float32(max_value)
        return (images, labels.astype(np.int64)) if with_labels else images

    description = info(name, image_size)
    check_labels_exist(description, with_labels)
    num_examples = train_size or description.splits.get(split)
    if num_examples is not None:
        size = num_examples * math.prod(description.image_shape) * 4
        if size > MAX_ARRAY_BYTES:
            raise ValueError(
                f"The {name!r} {split!r} split as float32 arrays would take "
                f"{size / 2**30:.1f} GiB (more than MAX_ARRAY_BYTES="
                f"{MAX_ARRAY_BYTES / 2**30:.0f} GiB); stream it with mmdvae.data.load, or "
                f"pass a smaller train_size."
            )
    dataset = load(name, split, batch_size=1000, train_size=train_size,
                   with_labels=with_labels, data_dir=data_dir, image_size=image_size)
    batches = list(dataset.as_numpy_iterator())
    if not with_labels:
        return np.concatenate(batches) if batches else np.zeros((0, *description.image_shape),
                                                                np.float32)
    images = [image_batch for image_batch, _ in batches]
    labels = [label_batch for _, label_batch in batches]
    if not batches:
        return np.zeros((0, *description.image_shape), np.float32), np.zeros((0,), np.int64)
    return np.concatenate(images), np.concatenate(labels)


def load(
    name: str,
    split: str,
    *,
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    train_size: int | None = None,
    binarize: str | None = None,
    threshold: float = 0.5,
    with_labels: bool = False,
    data_dir: str | os.PathLike | None = None,
    drop_remainder: bool = False,
    image_size=None,
    shuffle_buffer: int = pipeline.SHUFFLE_BUFFER,
) -> tf.data.Dataset:
    """Return a split as a prefetched `tf.data.Dataset` of float32 images in [0, 1].

    Elements are images of shape ``info(name, image_size).image_shape``, or
    `(images, labels)` with int64 labels when `with_labels` is true; with
    `batch_size` they gain a leading batch axis.

    With `shuffle=True` the order changes every epoch; the sequence of orders is
    reproducible for the same `seed`. MNIST, Fashion-MNIST and scikit-learn's
    digits are shuffled whole; streamed datasets shuffle their files and then
    the examples through a buffer of `shuffle_buffer` examples (the whole
    split when it is smaller). `binarize="fixed"` maps pixels to
    `float(pixel > threshold)`; `binarize="stochastic"` draws each pixel from a
    Bernoulli distribution with p equal to its intensity, with a new draw every
    epoch, and the sequence of draws is reproducible for the same `seed`.
    Shuffling and binarisation use independent streams derived from `seed`.

    Args:
        name: a name in ``NAMED_DATASETS``, or the name of any
            tensorflow-datasets image dataset (e.g. ``"cifar100"``).
        split: a split of the dataset (``info(name).splits``).
        batch_size: batch size, or None for unbatched elements.
        shuffle: whether to shuffle each epoch.
        seed: non-negative integer seed for shuffling and stochastic binarisation.
        train_size: keep the first `train_size` examples, before shuffling.
        binarize: None, "fixed" or "stochastic".
        threshold: the threshold of fixed binarisation, in (0, 1).
        with_labels: whether elements are `(images, labels)`.
        data_dir: directory with the IDX files of MNIST or Fashion-MNIST (see
            ``mmdvae.data``); not allowed for the other datasets.
        drop_remainder: drop the last smaller batch; needs `batch_size`.
        image_size: ``(height, width)`` to resize the images to (needed for
            tensorflow-datasets datasets whose images differ in size).
        shuffle_buffer: examples held by the shuffle buffer of a streamed dataset.
    """
    _check_source_arguments(name, split, data_dir, train_size)
    options = pipeline.Options.checked(batch_size, shuffle, seed, binarize, threshold,
                                       drop_remainder, image_size, shuffle_buffer)
    if name in _IN_MEMORY:
        check_labels_exist(NAMED[name], with_labels)
        images, labels, max_value = _read_into_memory(name, split, data_dir, train_size)
        return pipeline.from_memory(images, labels if with_labels else None, options,
                                    max_value=max_value)
    description = info(name, options.image_size)
    check_labels_exist(description, with_labels)
    _check_train_size(train_size, description.splits.get(split) or None, name, split)
    return tfds.stream(name, split, description, options, train_size, with_labels)


def _read_into_memory(name, split, data_dir, train_size) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``train_size`` images and labels of a split, and the largest pixel value."""
    if name == "sklearn_digits":
        images, labels = digits.read_split(split)
        max_value = 1
    else:
        images, labels = idx.read_split(name, split, data_dir)
        max_value = 255
    _check_train_size(train_size, len(images), name, split)
    return images[:train_size], labels[:train_size], max_value


def _check_train_size(train_size, split_size, name, split) -> None:
    if train_size is not None and split_size is not None and train_size > split_size:
        raise ValueError(
            f"Argument `train_size` must be between 1 and {split_size} (the size of the "
            f"{name!r} {split!r} split); received train_size={train_size!r}."
        )


def _check_source_arguments(name, split, data_dir, train_size) -> None:
    if not isinstance(name, str):
        raise TypeError(
            f"Argument `name` must be a dataset name (str); received name={name!r}. "
            f"For a directory of images use mmdvae.data.from_directory."
        )
    if name in NAMED:
        checks.check_choice("split", split, tuple(NAMED[name].splits))
    else:
        tfds.generic_recipe(name)  # Unknown names fail here, before any loading.
        if not isinstance(split, str) or not split:
            raise ValueError(f"Argument `split` must be a split name; received split={split!r}.")
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise TypeError(
            f"data_dir must be a path (str or os.PathLike) or None, "
            f"received {data_dir!r}."
        )
    if data_dir is not None and name not in DATASETS:
        raise ValueError(
            f"Argument `data_dir` is a directory of IDX files, which only {DATASETS} use; "
            f"received name={name!r} with data_dir={os.fspath(data_dir)!r}. Leave data_dir "
            f"unset: {name!r} is read through tensorflow-datasets, which keeps its files in "
            f"~/tensorflow_datasets or $TFDS_DATA_DIR."
        )
    if train_size is not None:
        checks.check_positive_int("train_size", train_size)

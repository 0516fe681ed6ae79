"""Image and vector datasets as `tf.data` pipelines: by name, from a directory, from arrays.

Every source gives float32 examples (images in [0, 1], shape ``(height, width,
channels)``; vectors of any range, shape ``(features,)``), optionally with int64
labels, and every source takes the same options: ``batch_size``, ``shuffle``
with a ``seed``, ``train_size`` (keep the first examples), ``binarize``
(``"fixed"`` or ``"stochastic"``) and ``drop_remainder``.

Sources:

- ``load(name, split)``: a dataset by name. ``NAMED_DATASETS`` lists the ones
  the package knows (``info(name)`` tells their image shape, classes, splits and
  download size before anything is loaded); any other tensorflow-datasets image
  dataset is accepted by its name (``"cifar100"``, ``"imagenet_resized/64x64"``),
  with ``image_size=(height, width)`` to resize it.
- ``from_directory(path)``: the user's own image files; class subfolders give
  the labels.
- ``from_arrays(array, labels)``: NumPy images of any shape, or vector data of
  shape ``(n, features)`` (``standardize=True`` rescales each feature to mean
  0 and variance 1 and records how to undo it).

MNIST and Fashion-MNIST come from the original IDX files when a directory is
known (the ``data_dir=`` argument, else the ``MMDVAE_DATA_DIR`` environment
variable), and from tensorflow-datasets otherwise. A directory may hold the four
files directly or in a subdirectory named like the dataset (``mnist/``,
``fashion_mnist/``); the files may be gzipped (``*.gz``) or not. If a directory
is known but lacks the files, loading fails with an error that says so (no
download is attempted). These two small datasets are read into memory; the
others are streamed from tensorflow-datasets' files (downloaded on first use
into ``~/tensorflow_datasets`` or ``$TFDS_DATA_DIR``), decoded and shuffled
through a bounded buffer, so a split never needs to fit in memory.

Preprocessing of the named datasets:

- ``omniglot``: grey (ITU-R 601 luma), inverted so strokes are 1, resized from
  105x105 to 28x28 (bilinear with antialiasing), the grey 28x28 setting of the
  VIMAE paper (Crescimanna and Graham) and of Burda et al. (2016);
- ``celeb_a``: the 140x140 square around the centre of the aligned 178x218
  photographs, resized to 64x64 (bilinear with antialiasing): the "close crop"
  of DCGAN and of the WAE code (Tolstikhin et al., 2018) whose settings the
  VIMAE paper uses;
- ``binarized_mnist``: the fixed binarisation of Larochelle and Murray (2011),
  pixels 0 or 1, no labels;
- ``sklearn_digits``: scikit-learn's 1,797 real 8x8 digits (values 0..16,
  divided by 16), the first 1,500 as ``"train"`` and the last 297 as
  ``"test"``; nothing to download.

Streamed images (tensorflow-datasets, directories) are resized before the
shuffle buffer and rounded to 8 bits, as an image file would be; in-memory
ones are resized in float32.

Example:

```python
train = load("cifar10", "train", batch_size=100, shuffle=True, seed=0)
faces = load("celeb_a", "train", batch_size=64, shuffle=True, seed=0)  # 64x64x3
info("celeb_a").image_shape                                             # (64, 64, 3)
own = from_directory("photos/", image_size=(64, 64), batch_size=32)
table = from_arrays(features, batch_size=100, standardize=True)
images = load_arrays("fashion_mnist", "test")  # (10000, 28, 28, 1) float32
```
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import math
import numbers
import os
import shutil
import warnings
import zlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmdvae import checks

#: The datasets read from IDX files (``data_dir=`` or ``MMDVAE_DATA_DIR``).
DATASETS = ("mnist", "fashion_mnist")
ENV_VAR = "MMDVAE_DATA_DIR"
#: The splits of the IDX datasets; ``info(name).splits`` gives every dataset's.
SPLITS = ("train", "test")
BINARIZE_MODES = (None, "fixed", "stochastic")
#: The image shape of the IDX datasets.
IMAGE_SHAPE = (28, 28, 1)
#: Examples held by a shuffle buffer of a streamed dataset (smaller splits are
#: shuffled whole).
SHUFFLE_BUFFER = 10_000
#: ``load_arrays`` refuses to build arrays larger than this (bytes); stream
#: such datasets with ``load`` instead.
MAX_ARRAY_BYTES = 4 * 2**30
#: Image file types ``from_directory`` reads (those of
#: ``keras.utils.image_dataset_from_directory``).
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
COLOR_MODES = (None, "grayscale", "rgb")
CATALOG_URL = "https://www.tensorflow.org/datasets/catalog/overview"
#: Seconds a download host (or its proxy) has to accept a connection before the
#: download is called off, instead of tensorflow-datasets' minutes of retries.
CONNECT_TIMEOUT = 5.0

_DIGIT_NAMES = tuple(str(digit) for digit in range(10))
_CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                  "ship", "truck")
#: The names of the labels 0..9 of the datasets with named classes.
CLASS_NAMES = {
    "mnist": _DIGIT_NAMES,
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": _CIFAR10_NAMES,
    "svhn_cropped": _DIGIT_NAMES,
    "sklearn_digits": _DIGIT_NAMES,
}

_FILE_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_GZIP_MAGIC = b"\x1f\x8b"
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)
_DIGITS_TRAIN_SIZE = 1500


class DataNotFoundError(FileNotFoundError, ValueError):
    """Neither the IDX files nor tensorflow-datasets could provide a dataset."""


# === Dataset descriptions ===


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds, known before it is loaded.

    Attributes:
        name: the dataset's name (or directory).
        image_shape: the shape of one example as the pipeline gives it, e.g.
            ``(64, 64, 3)``; the ``image_shape`` of a model for it.
        num_classes: the number of label values, ``None`` without labels.
        class_names: the names of labels ``0, 1, ...`` when they have names.
        splits: split name -> number of examples (empty when unknown).
        download_size: bytes downloaded on first use; ``0`` for data that is
            local (a directory, scikit-learn's digits, IDX files), ``None``
            when unknown.
        source: where the data comes from.
        preprocessing: what the pipeline does to the stored images.
    """

    name: str
    image_shape: tuple
    num_classes: int | None
    class_names: tuple | None
    splits: dict
    download_size: int | None
    source: str
    preprocessing: str = "pixels / 255"

    @property
    def has_labels(self) -> bool:
        return self.num_classes is not None


@dataclasses.dataclass(frozen=True)
class _Recipe:
    """How the pipeline reads one tensorflow-datasets dataset."""

    tfds_name: str
    image_key: str = "image"
    label_key: str | None = "label"
    #: The stored images' shape (``None`` sizes: images of different sizes).
    stored_shape: tuple = ()
    #: The largest stored pixel value (1 for binarized MNIST's 0/1 pixels).
    max_value: int = 255
    #: Side of the square cut around the centre before resizing (CelebA).
    centre_crop: int | None = None
    #: Grey, inverted so that strokes are 1 (Omniglot).
    grey_inverted: bool = False


_TFDS = "tensorflow-datasets"
_NAMED = {
    "mnist": DatasetInfo(
        "mnist", IMAGE_SHAPE, 10, CLASS_NAMES["mnist"], {"train": 60_000, "test": 10_000},
        11_594_722, f"IDX files (data_dir= or {ENV_VAR}), else {_TFDS}"),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", IMAGE_SHAPE, 10, CLASS_NAMES["fashion_mnist"],
        {"train": 60_000, "test": 10_000}, 30_878_645,
        f"IDX files (data_dir= or {ENV_VAR}), else {_TFDS}"),
    "binarized_mnist": DatasetInfo(
        "binarized_mnist", IMAGE_SHAPE, None, None,
        {"train": 50_000, "validation": 10_000, "test": 10_000}, 109_760_000, _TFDS,
        "the fixed binarisation of Larochelle and Murray (2011): pixels 0 or 1"),
    "omniglot": DatasetInfo(
        "omniglot", IMAGE_SHAPE, 1623, None,
        {"train": 19_280, "test": 13_180, "small1": 2_720, "small2": 3_120}, 18_827_037, _TFDS,
        "grey, inverted so strokes are 1, resized from 105x105 (bilinear, antialiased)"),
    "cifar10": DatasetInfo(
        "cifar10", (32, 32, 3), 10, CLASS_NAMES["cifar10"], {"train": 50_000, "test": 10_000},
        170_052_171, _TFDS),
    "svhn_cropped": DatasetInfo(
        "svhn_cropped", (32, 32, 3), 10, CLASS_NAMES["svhn_cropped"],
        {"train": 73_257, "test": 26_032, "extra": 531_131}, 1_575_594_780, _TFDS),
    "celeb_a": DatasetInfo(
        "celeb_a", (64, 64, 3), None, None,
        {"train": 162_770, "validation": 19_867, "test": 19_962}, 1_488_628_763, _TFDS,
        "the 140x140 square around the centre of the 178x218 photographs, resized "
        "(bilinear, antialiased)"),
    "sklearn_digits": DatasetInfo(
        "sklearn_digits", (8, 8, 1), 10, CLASS_NAMES["sklearn_digits"],
        {"train": _DIGITS_TRAIN_SIZE, "test": 1797 - _DIGITS_TRAIN_SIZE}, 0, "scikit-learn",
        "values 0..16 / 16; the first 1,500 digits are 'train', the last 297 'test'"),
}
_RECIPES = {
    "binarized_mnist": _Recipe("binarized_mnist", label_key=None, stored_shape=(28, 28, 1),
                               max_value=1),
    "omniglot": _Recipe("omniglot", stored_shape=(105, 105, 3), grey_inverted=True),
    "cifar10": _Recipe("cifar10", stored_shape=(32, 32, 3)),
    "svhn_cropped": _Recipe("svhn_cropped", stored_shape=(32, 32, 3)),
    "celeb_a": _Recipe("celeb_a", label_key=None, stored_shape=(218, 178, 3), centre_crop=140),
}
#: The datasets the package knows by name (any tensorflow-datasets image
#: dataset is accepted as well).
NAMED_DATASETS = tuple(_NAMED)


# === Public API ===


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
    image_size = _check_image_size(image_size)
    if name in _NAMED:
        known = _NAMED[name]
        if image_size is None:
            return known
        preprocessing = known.preprocessing
        if name in _RECIPES or image_size != known.image_shape[:2]:
            preprocessing += f"; resized to {image_size[0]}x{image_size[1]}"
        return dataclasses.replace(known, image_shape=(*image_size, known.image_shape[-1]),
                                   preprocessing=preprocessing)
    recipe, builder = _generic_recipe(name)
    return _generic_info(name, recipe, builder, image_size)


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
            the module docstring).
        train_size: keep the first `train_size` examples (deterministic); must be
            between 1 and the number of examples in the split.
        with_labels: also return the int64 labels, shape (N,).
        image_size: ``(height, width)`` to resize the images to.

    Returns:
        `images`, or `(images, labels)` when `with_labels` is true. The arrays are
        fresh copies the caller may modify.
    """
    _validate_source_arguments(name, split, data_dir, train_size)
    image_size = _check_image_size(image_size)
    if name in DATASETS and image_size is None:
        images, labels = _load_uint8(name, split, data_dir, train_size)
        images = images.astype(np.float32) / np.float32(255.0)
        if with_labels:
            return images, labels.astype(np.int64)
        return images
    if name == "sklearn_digits" and image_size is None:
        images, labels = _digits(split, train_size)
        return (images.copy(), labels.copy()) if with_labels else images.copy()

    description = info(name, image_size)
    _check_labels_exist(description, with_labels)
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
    shuffle_buffer: int = SHUFFLE_BUFFER,
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
            the module docstring); not allowed for the other datasets.
        drop_remainder: drop the last smaller batch; needs `batch_size`.
        image_size: ``(height, width)`` to resize the images to (needed for
            tensorflow-datasets datasets whose images differ in size).
        shuffle_buffer: examples held by the shuffle buffer of a streamed dataset.
    """
    _validate_source_arguments(name, split, data_dir, train_size)
    options = _Options.checked(batch_size, shuffle, seed, binarize, threshold,
                               drop_remainder, image_size, shuffle_buffer)
    if name in DATASETS:
        _check_labels_exist(_NAMED[name], with_labels)
        images, labels = _load_uint8(name, split, data_dir, train_size)
        return _from_memory(images, labels if with_labels else None, options, max_value=255)
    if name == "sklearn_digits":
        _check_labels_exist(_NAMED[name], with_labels)
        images, labels = _digits(split, train_size)
        return _from_memory(images, labels if with_labels else None, options, max_value=1)

    if name in _RECIPES:
        recipe, builder = _RECIPES[name], None
        description = info(name, options.image_size)
    else:
        recipe, builder = _generic_recipe(name)
        description = _generic_info(name, recipe, builder, options.image_size)
    _check_labels_exist(description, with_labels)
    split_size = description.splits.get(split)
    if train_size is not None and split_size and train_size > split_size:
        raise ValueError(
            f"Argument `train_size` must be between 1 and {split_size} (the size of the "
            f"{name!r} {split!r} split); received train_size={train_size!r}."
        )
    dataset = _from_tfds(name, split, recipe, builder, description, options, train_size,
                         with_labels)
    examples = train_size or split_size or options.shuffle_buffer
    # The images are already resized, as 8-bit pixels.
    return _finish(dataset, dataclasses.replace(options, image_size=None),
                   shuffle_size=min(examples, options.shuffle_buffer))


def from_directory(
    directory: str | os.PathLike,
    *,
    image_size=None,
    color_mode: str | None = None,
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    train_size: int | None = None,
    binarize: str | None = None,
    threshold: float = 0.5,
    with_labels: bool = False,
    drop_remainder: bool = False,
    skip_unreadable: bool = False,
) -> tf.data.Dataset:
    """Streams the image files of a directory as float32 images in [0, 1].

    Each subfolder is a class (labels ``0, 1, ...`` in the sorted order of the
    subfolder names, searched recursively); without subfolders the images in
    ``directory`` are read without labels. The files are those
    ``keras.utils.image_dataset_from_directory`` reads (``IMAGE_FORMATS``:
    PNG, JPEG, BMP, GIF's first frame), decoded by ``tf.image.decode_image``
    as it does; resizing is bilinear with antialiasing (as PIL's), and grey
    images from colour ones take the ITU-R 601 luma. Only the file headers are
    read up front (sizes and colour modes); the pixels are streamed.

    Unlike Keras' function, which shuffles through a buffer, the files are
    taken in a fixed pseudo-random order, the same on every run, so that
    `train_size` keeps a sample of every class, and `shuffle` reshuffles the
    whole list of files every epoch.

    The returned dataset has the attributes ``class_names`` (a tuple, or None),
    ``file_paths`` (the files in the order of an unshuffled epoch) and ``info``
    (a ``DatasetInfo``).

    Args:
        directory: the directory.
        image_size: ``(height, width)`` to resize every image to; needed when
            the images differ in size.
        color_mode: ``"grayscale"`` (1 channel) or ``"rgb"`` (3 channels);
            ``None`` takes grayscale when every image is grey, else rgb.
        batch_size, shuffle, seed, train_size, binarize, threshold, with_labels,
            drop_remainder: as for ``load``.
        skip_unreadable: leave out, with a warning, the files that cannot be
            read (an unknown header, or cut short: a PNG without its closing
            chunk, a JPEG without its end marker, a GIF without its trailer, a
            BMP shorter than its header says), and any other file whose pixels
            fail to decode while streaming. ``False`` (default): such a file is
            refused at once, by name.

    Raises:
        ValueError: the directory holds no image, holds images both beside
            and in class subfolders, holds images of different sizes
            without `image_size`, or holds an unreadable file (without
            `skip_unreadable`).
    """
    options = _Options.checked(batch_size, shuffle, seed, binarize, threshold,
                               drop_remainder, image_size, SHUFFLE_BUFFER)
    if train_size is not None:
        checks.check_positive_int("train_size", train_size)
    skip_unreadable = _check_skip_flag(skip_unreadable)
    found = _index_directory(directory, options.image_size, color_mode, skip_unreadable)
    description = found.info
    _check_labels_exist(description, with_labels)
    paths, labels = found.paths, found.labels
    if train_size is not None:
        if train_size > len(paths):
            raise ValueError(
                f"Argument `train_size` must be between 1 and {len(paths)} (the number of "
                f"images in {os.fspath(directory)!r}); received train_size={train_size!r}."
            )
        paths, labels = paths[:train_size], labels[:train_size]

    height, width, channels = description.image_shape
    shuffle_seed, _ = _derive_seeds(options.seed)
    features = {"paths": np.asarray(paths)}
    if with_labels:
        features["labels"] = np.asarray(labels, dtype=np.int64)
    dataset = tf.data.Dataset.from_tensor_slices(features)
    if options.shuffle:
        dataset = dataset.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)

    def read(features):
        encoded = tf.io.read_file(features.pop("paths"))
        image = _with_channels(
            tf.image.decode_image(encoded, channels=0, expand_animations=False), channels)
        if found.needs_resize:
            image = _resize_to_uint8(tf.cast(image, tf.float32), (height, width))
        image = tf.ensure_shape(tf.cast(image, tf.uint8), (height, width, channels))
        return {"images": image, **features}

    dataset = dataset.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    if skip_unreadable:
        # Damage inside a file that its header and end do not show.
        dataset = dataset.ignore_errors(log_warning=True)
    dataset = _finish(dataset, dataclasses.replace(options, shuffle=False, image_size=None),
                      shuffle_size=0)
    dataset.class_names = description.class_names
    dataset.file_paths = tuple(paths)
    dataset.info = description
    return dataset


def directory_info(directory: str | os.PathLike, image_size=None,
                   color_mode: str | None = None, skip_unreadable: bool = False) -> DatasetInfo:
    """Describes the images of a directory as ``from_directory`` reads them.

    Reads only the files' headers and ends. ``info.image_shape`` is the
    ``image_shape`` of a model for them, ``info.class_names`` the subfolder names.
    """
    return _index_directory(directory, _check_image_size(image_size), color_mode,
                            _check_skip_flag(skip_unreadable)).info


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
        batch_size, shuffle, seed, train_size, binarize, threshold,
            drop_remainder: as for ``load`` (the whole array is shuffled).
    """
    options = _Options.checked(batch_size, shuffle, seed, binarize, threshold,
                               drop_remainder, None, SHUFFLE_BUFFER)
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
    dataset = _from_memory(values, labels, options, max_value=max_value)
    dataset.standardization = standardization
    return dataset


# === Argument checks ===


@dataclasses.dataclass(frozen=True)
class _Options:
    """The pipeline options every source shares, checked."""

    batch_size: int | None
    shuffle: bool
    seed: int | None
    binarize: str | None
    threshold: float
    drop_remainder: bool
    image_size: tuple | None
    shuffle_buffer: int

    @classmethod
    def checked(cls, batch_size, shuffle, seed, binarize, threshold, drop_remainder,
                image_size, shuffle_buffer):
        if batch_size is not None:
            batch_size = checks.check_positive_int("batch_size", batch_size)
        seed = checks.check_seed("seed", seed)
        checks.check_choice("binarize", binarize, BINARIZE_MODES)
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(
                f"threshold must be a number in (0, 1), received {threshold!r}."
            )
        if not 0.0 < float(threshold) < 1.0:
            raise ValueError(
                f"threshold must be strictly between 0 and 1, received {threshold!r}."
            )
        if drop_remainder and batch_size is None:
            raise ValueError(
                "drop_remainder=True needs a batch_size, received batch_size=None."
            )
        shuffle_buffer = checks.check_positive_int("shuffle_buffer", shuffle_buffer)
        return cls(batch_size, bool(shuffle), seed, binarize, float(threshold),
                   bool(drop_remainder), _check_image_size(image_size), shuffle_buffer)


def _check_image_size(image_size):
    if image_size is None:
        return None
    size = checks.check_shape("image_size", image_size, max_size=8192, example="(64, 64)")
    if len(size) != 2:
        raise ValueError(
            f"Argument `image_size` must be (height, width); received "
            f"image_size={image_size!r}."
        )
    return size


def _validate_source_arguments(name, split, data_dir, train_size) -> None:
    if not isinstance(name, str):
        raise TypeError(
            f"Argument `name` must be a dataset name (str); received name={name!r}. "
            f"For a directory of images use mmdvae.data.from_directory."
        )
    if name not in _NAMED:
        _generic_recipe(name)  # Unknown names fail here, before any loading.
    if name in _NAMED:
        checks.check_choice("split", split, tuple(_NAMED[name].splits))
    elif not isinstance(split, str) or not split:
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


def _check_labels_exist(description: DatasetInfo, with_labels: bool) -> None:
    if with_labels and not description.has_labels:
        raise ValueError(
            f"Argument `with_labels=True` needs labels, and {description.name!r} has none; "
            f"pass with_labels=False."
        )


def _unknown_name_message(name, detail=""):
    return (
        f"Unknown dataset name={name!r}{detail}. The package knows {NAMED_DATASETS}, and "
        f"accepts the name of any tensorflow-datasets image dataset, such as 'cifar100' or "
        f"'imagenet_resized/64x64' (see {CATALOG_URL}). For a directory of images use "
        f"mmdvae.data.from_directory; for NumPy arrays, mmdvae.data.from_arrays."
    )


def _derive_seeds(seed: int | None) -> tuple[int | None, int | None]:
    if seed is None:
        return None, None
    shuffle_seed, noise_seed = np.random.SeedSequence(seed).generate_state(2)
    return int(shuffle_seed), int(noise_seed)


# === The shared end of every pipeline ===


def _from_memory(images, labels, options: _Options, max_value) -> tf.data.Dataset:
    """A dataset of in-memory examples (uint8 pixels or float values), shuffled whole.

    The pipeline shuffles and batches the examples' indices and gathers each
    batch from the arrays: the data are held once, not again in a shuffle
    buffer, in the order a shuffle of the examples themselves would give.
    """
    features = {"images": tf.constant(images)}
    if labels is not None:
        features["labels"] = tf.constant(labels.astype(np.int64))
    indices = tf.data.Dataset.range(len(images))
    return _finish(indices, options, shuffle_size=len(images), max_value=max_value,
                   lookup=lambda index: {name: tf.gather(values, index)
                                         for name, values in features.items()})


def _finish(dataset, options: _Options, shuffle_size: int, max_value=255, lookup=None):
    """Shuffles, batches, scales to float32 and binarises ``{"images", "labels"}`` elements.

    ``uint8`` images are divided by ``max_value``; other values are cast to
    float32 as they are. With ``lookup``, ``dataset`` holds indices and
    ``lookup`` turns each (batch of) indices into its elements.
    """
    shuffle_seed, noise_seed = _derive_seeds(options.seed)
    if options.shuffle and shuffle_size:
        dataset = dataset.shuffle(shuffle_size, seed=shuffle_seed, reshuffle_each_iteration=True)
    if options.batch_size is not None:
        dataset = dataset.batch(options.batch_size, drop_remainder=options.drop_remainder)
    if lookup is not None:
        dataset = dataset.map(lookup, num_parallel_calls=tf.data.AUTOTUNE)
    with_labels = "labels" in dataset.element_spec

    binarize, threshold, image_size = options.binarize, options.threshold, options.image_size

    def convert(features, noise_seed_pair=None):
        image_batch = features["images"]
        if image_batch.dtype == tf.uint8:
            image_batch = tf.cast(image_batch, tf.float32) / float(max_value)
        else:
            image_batch = tf.cast(image_batch, tf.float32)
        if image_size is not None:
            image_batch = tf.clip_by_value(_resize(image_batch, image_size), 0.0, 1.0)
        if binarize == "fixed":
            image_batch = tf.cast(image_batch > threshold, tf.float32)
        elif binarize == "stochastic":
            uniform = tf.random.stateless_uniform(
                tf.shape(image_batch), seed=noise_seed_pair
            )
            image_batch = tf.cast(uniform < image_batch, tf.float32)
        return (image_batch, features["labels"]) if with_labels else image_batch

    if binarize == "stochastic":
        noise_seeds = tf.data.Dataset.random(
            seed=noise_seed, rerandomize_each_iteration=True
        ).batch(2)
        dataset = tf.data.Dataset.zip((dataset, noise_seeds))
    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def _resize(images, size):
    """Bilinear resizing with antialiasing (as PIL's when shrinking)."""
    return tf.image.resize(images, size, method="bilinear", antialias=True)


def _resize_to_uint8(images, size):
    """Resizes 0..255 float images and rounds them to 8 bits."""
    return tf.cast(tf.round(tf.clip_by_value(_resize(images, size), 0.0, 255.0)), tf.uint8)


# === tensorflow-datasets ===


@functools.lru_cache(maxsize=1)
def _tfds_builder_names() -> frozenset:
    import tensorflow_datasets as tfds

    return frozenset(tfds.list_builders(with_community_datasets=False))


@functools.lru_cache(maxsize=32)
def _generic_recipe(name: str):
    """The recipe and builder of a tensorflow-datasets image dataset outside the table."""
    if not name or name.split("/")[0] not in _tfds_builder_names():
        raise ValueError(_unknown_name_message(name))
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except Exception as error:  # an unknown configuration, e.g. "cifar10/foo"
        raise ValueError(_unknown_name_message(name, f" ({error})".replace("\n", " "))) from error
    features = dict(builder.info.features.items())
    images = {key: feature for key, feature in features.items()
              if isinstance(feature, tfds.features.Image)}
    supervised = builder.info.supervised_keys or ()
    image_key = next((key for key in (*supervised[:1], "image") if key in images),
                     next(iter(images), None))
    if image_key is None:
        raise ValueError(
            f"Argument `name` must name an image dataset; received name={name!r}, whose "
            f"features {sorted(features)} hold no image."
        )
    image = images[image_key]
    if image.np_dtype not in (np.uint8, np.uint16):
        raise ValueError(
            f"The images of {name!r} are {image.np_dtype.name}; the pipeline reads uint8 and "
            f"uint16 images only."
        )
    label_key = next(
        (key for key in (*supervised[1:2], "label")
         if isinstance(features.get(key), tfds.features.ClassLabel)), None)
    recipe = _Recipe(name, image_key=image_key, label_key=label_key,
                     stored_shape=tuple(image.shape),
                     max_value=int(np.iinfo(image.np_dtype).max))
    return recipe, builder


def _generic_info(name, recipe: _Recipe, builder, image_size) -> DatasetInfo:
    height, width, channels = recipe.stored_shape
    if image_size is None and (height is None or width is None):
        raise ValueError(
            f"The images of {name!r} differ in size (shape {recipe.stored_shape}); pass "
            f"image_size=(height, width) to resize them."
        )
    shape = (*(image_size or (height, width)), channels)
    num_classes = class_names = None
    if recipe.label_key is not None:
        label = builder.info.features[recipe.label_key]
        num_classes, class_names = label.num_classes, tuple(label.names)
    splits = {key: split.num_examples for key, split in builder.info.splits.items()}
    download_size = int(builder.info.download_size) or None
    preprocessing = f"pixels / {recipe.max_value}"
    if image_size is not None:
        preprocessing += f"; resized to {image_size[0]}x{image_size[1]}"
    return DatasetInfo(name, shape, num_classes, class_names, splits, download_size, _TFDS,
                       preprocessing)


def _from_tfds(name, split, recipe: _Recipe, builder, description, options, train_size,
               with_labels) -> tf.data.Dataset:
    """Streams a split's examples as ``{"images": uint8, "labels": int64}``."""
    import tensorflow_datasets as tfds

    if builder is None:
        builder = tfds.builder(recipe.tfds_name)
    try:
        _download_and_prepare(name, builder)
    except DataNotFoundError:
        raise
    except Exception as error:
        size = description.download_size
        size_text = f"about {size / 2**20:,.0f} MiB" if size else "its files"
        error_text = f"{type(error).__name__}: {error}".replace("\n", " ")
        raise DataNotFoundError(
            f"Could not prepare {name!r} through tensorflow-datasets, which downloads "
            f"{size_text} on first use into {builder.data_dir} (set TFDS_DATA_DIR to "
            f"choose the directory): {error_text[:500]}"
        ) from error

    shuffle_seed, _ = _derive_seeds(options.seed)
    read_config = tfds.ReadConfig(shuffle_seed=shuffle_seed,
                                  shuffle_reshuffle_each_iteration=True)
    sliced = split if train_size is None else f"{split}[:{train_size}]"
    dataset = builder.as_dataset(split=sliced, shuffle_files=options.shuffle,
                                 read_config=read_config)
    if train_size is not None:
        dataset = dataset.take(train_size)
    target = description.image_shape[:2]

    def preprocess(example):
        image = example[recipe.image_key]
        if recipe.max_value == 1:
            image = image * 255  # 0/1 pixels as 0/255, so every source is 8-bit.
        elif recipe.max_value != 255:
            image = tf.cast(tf.round(tf.cast(image, tf.float32) * (255.0 / recipe.max_value)),
                            tf.uint8)
        image = tf.cast(image, tf.uint8)
        if recipe.centre_crop is not None:
            stored_height, stored_width = recipe.stored_shape[:2]
            image = tf.image.crop_to_bounding_box(
                image, (stored_height - recipe.centre_crop) // 2,
                (stored_width - recipe.centre_crop) // 2, recipe.centre_crop,
                recipe.centre_crop)
        if recipe.grey_inverted:
            grey = tf.tensordot(tf.cast(image, tf.float32), tf.constant(_LUMA_WEIGHTS), 1)
            image = 255.0 - grey[..., None]
            image = _resize_to_uint8(image, target)
        elif tuple(image.shape[:2]) != tuple(target):
            image = _resize_to_uint8(tf.cast(image, tf.float32), target)
        features = {"images": tf.ensure_shape(image, description.image_shape)}
        if with_labels:
            features["labels"] = tf.cast(example[recipe.label_key], tf.int64)
        return features

    return dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)


# === scikit-learn's digits ===


@functools.lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _digits(split, train_size) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _all_digits()
    part = slice(None, _DIGITS_TRAIN_SIZE) if split == "train" else slice(_DIGITS_TRAIN_SIZE,
                                                                          None)
    return _first_examples(images[part], labels[part], train_size, "sklearn_digits", split)


def _first_examples(images, labels, train_size, name, split):
    """The first ``train_size`` examples of a split (all of them for ``None``)."""
    if train_size is None:
        return images, labels
    if train_size > len(images):
        raise ValueError(
            f"Argument `train_size` must be between 1 and {len(images)} (the size of the "
            f"{name!r} {split!r} split); received train_size={train_size!r}."
        )
    return images[:train_size], labels[:train_size]


# === Directories ===


def _with_channels(image, channels):
    """A decoded image (1 to 4 channels) as grey (luma) or RGB, dropping alpha."""
    stored = tf.shape(image)[-1]
    if channels == 3:
        return tf.cond(stored < 3, lambda: tf.tile(image[..., :1], [1, 1, 3]),
                       lambda: image[..., :3])

    def luma():
        grey = tf.tensordot(tf.cast(image[..., :3], tf.float32), tf.constant(_LUMA_WEIGHTS), 1)
        return tf.cast(tf.round(tf.clip_by_value(grey, 0.0, 255.0)), tf.uint8)[..., None]

    return tf.cond(stored < 3, lambda: image[..., :1], luma)


@dataclasses.dataclass(frozen=True)
class _Directory:
    info: DatasetInfo
    paths: list
    labels: list
    needs_resize: bool


def _check_skip_flag(value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"Argument `skip_unreadable` must be True or False; received "
            f"skip_unreadable={value!r} of type {type(value).__name__}."
        )
    return bool(value)


#: How each image format ends: a file that does not is cut short.
_PNG_END = b"IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"
#: Bytes at the end of a JPEG searched for its end marker (some writers pad after it).
_JPEG_TAIL = 1024


def _truncation(path: Path) -> str | None:
    """Why ``path`` is cut short, from its first and last bytes; ``None`` if it looks whole."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(16)
        file.seek(max(0, size - _JPEG_TAIL))
        tail = file.read()
    if head.startswith(b"\x89PNG") and not tail.endswith(_PNG_END):
        return f"a PNG of {size} bytes without its closing IEND chunk"
    if head.startswith(b"\xff\xd8") and _JPEG_END not in tail:
        return f"a JPEG of {size} bytes without its end marker"
    if head.startswith(b"GIF8") and not tail.rstrip(b"\x00").endswith(b";"):
        return f"a GIF of {size} bytes without its trailer"
    if head.startswith(b"BM") and len(head) >= 6:
        declared = int.from_bytes(head[2:6], "little")
        if declared > size:
            return f"a BMP of {size} bytes whose header declares {declared}"
    return None


def _unreadable_files(paths) -> dict:
    """``{path: reason}`` for the files whose header cannot be read or that are cut short."""
    from PIL import Image, UnidentifiedImageError

    unreadable = {}
    for path in paths:
        try:
            with Image.open(path):
                pass
            reason = _truncation(path)
        except (OSError, UnidentifiedImageError) as error:
            reason = str(error)
        if reason is not None:
            unreadable[path] = reason
    return unreadable


def _index_directory(directory, image_size, color_mode, skip_unreadable=False) -> _Directory:
    """Lists a directory's images (class subfolders give labels) and checks their sizes."""
    if not isinstance(directory, str | os.PathLike):
        raise TypeError(
            f"Argument `directory` must be a path (str or os.PathLike); received "
            f"directory={directory!r}."
        )
    checks.check_choice("color_mode", color_mode, COLOR_MODES)
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise ValueError(
            f"Argument `directory` must be an existing directory; received "
            f"directory={os.fspath(directory)!r}."
        )

    def images_in(folder, recursive):
        found = folder.rglob("*") if recursive else folder.iterdir()
        return sorted(path for path in found if path.is_file()
                      and path.suffix.lower() in IMAGE_FORMATS
                      and not any(part.startswith(".") for part in path.relative_to(root).parts))

    top_level = images_in(root, recursive=False)
    classes = [(folder.name, images_in(folder, recursive=True))
               for folder in sorted(root.iterdir())
               if folder.is_dir() and not folder.name.startswith(".")]
    classes = [(name, paths) for name, paths in classes if paths]
    if classes and top_level:
        raise ValueError(
            f"Argument `directory` holds images both in class subfolders and directly in "
            f"{os.fspath(root)!r} ({len(top_level)} such as {top_level[0].name!r}); class "
            f"subfolders give the labels, so move those images into a subfolder."
        )
    if classes:
        class_names = tuple(name for name, _ in classes)
        listed = [(path, label) for label, (_, paths) in enumerate(classes) for path in paths]
    else:
        class_names = None
        listed = [(path, 0) for path in top_level]
    if not listed:
        raise ValueError(
            f"Argument `directory` must hold image files ({', '.join(IMAGE_FORMATS)}), "
            f"directly or in class subfolders; received directory={os.fspath(directory)!r}, "
            f"which holds none."
        )

    unreadable = _unreadable_files([path for path, _ in listed])
    if unreadable:
        first, reason = next(iter(unreadable.items()))
        if not skip_unreadable:
            raise ValueError(
                f"Argument `directory` holds {len(unreadable)} unreadable image file(s), "
                f"e.g. {os.fspath(first)!r} ({reason}); received "
                f"directory={os.fspath(directory)!r}. Replace or remove them, or pass "
                f"skip_unreadable=True to leave them out."
            )
        warnings.warn(
            f"Leaving out {len(unreadable)} unreadable image file(s) of "
            f"{os.fspath(root)!r}, e.g. {os.fspath(first)!r} ({reason}).", stacklevel=3)
        listed = [(path, label) for path, label in listed if path not in unreadable]
        if not listed:
            raise ValueError(
                f"Argument `directory` holds no readable image file; received "
                f"directory={os.fspath(directory)!r}."
            )
    sizes, grey = _image_headers([path for path, _ in listed], need_sizes=image_size is None,
                                 need_modes=color_mode is None)
    if image_size is None:
        distinct = sorted(set(sizes.values()))
        if len(distinct) > 1:
            first = next(path for path, size in sizes.items() if size == distinct[0])
            second = next(path for path, size in sizes.items() if size == distinct[1])
            raise ValueError(
                f"The images in {os.fspath(root)!r} have {len(distinct)} different sizes, "
                f"e.g. {first.name!r} is {distinct[0][0]}x{distinct[0][1]} and "
                f"{second.name!r} is {distinct[1][0]}x{distinct[1][1]} (height x width); pass "
                f"image_size=(height, width) to resize them all."
            )
        size = distinct[0]
    else:
        size = image_size
    if color_mode is None:
        color_mode = "grayscale" if grey else "rgb"
    channels = 1 if color_mode == "grayscale" else 3

    # A fixed order, the same on every run, that mixes the classes.
    order = np.random.default_rng(0).permutation(len(listed))
    paths = [os.fspath(listed[index][0]) for index in order]
    labels = [listed[index][1] for index in order]
    description = DatasetInfo(
        os.fspath(root), (*size, channels), len(class_names) if class_names else None,
        class_names, {"all": len(paths)}, 0, "directory",
        f"{color_mode}, pixels / 255" + ("" if image_size is None else
                                         f", resized to {size[0]}x{size[1]}"))
    return _Directory(description, paths, labels, needs_resize=image_size is not None)


def _image_headers(paths, need_sizes, need_modes):
    """``{path: (height, width)}`` and whether every image is grey, from the headers."""
    if not need_sizes and not need_modes:
        return {}, False
    from PIL import Image, UnidentifiedImageError

    sizes, grey = {}, True
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
                mode = image.mode
        except (OSError, UnidentifiedImageError) as error:
            raise ValueError(f"Cannot read the image file {os.fspath(path)!r}: {error}") from error
        sizes[path] = (height, width)
        grey = grey and mode in _GREY_MODES
    return sizes, grey


# === Arrays ===


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


# === Sources: IDX files ===


def _load_uint8(name, split, data_dir, train_size) -> tuple[np.ndarray, np.ndarray]:
    """Return read-only uint8 images (N, 28, 28, 1) and labels (N,) of a split."""
    directory, origin = _configured_directory(data_dir)
    searched = []
    images = labels = None
    if directory is not None:
        candidates = [directory / name, directory]
        for candidate in candidates:
            files = _find_idx_files(candidate, split)
            if files is not None:
                images, labels = _read_split(*files)
                break
        searched = candidates

    if images is None and directory is not None:
        # A directory the user named is never silently replaced by a download.
        raise DataNotFoundError(
            _not_found_message(name, split, searched, origin, error=None)
        )
    if images is None:
        try:
            images, labels = _load_from_tfds(name, split)
        except DataNotFoundError:
            raise  # offline: already one line naming the host and the local options
        except Exception as error:
            raise DataNotFoundError(
                _not_found_message(name, split, searched, origin, error)
            ) from error

    return _first_examples(images, labels, train_size, name, split)


def _configured_directory(data_dir) -> tuple[Path | None, str]:
    if data_dir is not None:
        return Path(data_dir).expanduser(), f"data_dir={os.fspath(data_dir)!r}"
    from_environment = os.environ.get(ENV_VAR)
    if from_environment:
        return (
            Path(from_environment).expanduser(),
            f"{ENV_VAR}={from_environment!r}",
        )
    return None, f"data_dir=None and {ENV_VAR} unset"


def _find_idx_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    found = []
    for stem in _FILE_STEMS[split]:
        for file_name in (stem + ".gz", stem):
            path = directory / file_name
            if path.is_file():
                found.append(path)
                break
        else:
            return None
    return found[0], found[1]


def _not_found_message(name, split, searched, origin, error) -> str:
    expected = " and ".join(f"{stem}[.gz]" for stem in _FILE_STEMS[split])
    if searched:
        looked = f"looked in {' and '.join(str(path) for path in searched)} ({origin})"
    else:
        looked = f"no directory to look in ({origin})"
    if error is None:
        tfds_text = (
            "tensorflow-datasets was not tried because a directory was given; "
            f"unset it ({origin}) to download the data instead."
        )
    else:
        error_text = f"{type(error).__name__}: {error}".replace("\n", " ")
        if len(error_text) > 300:
            error_text = error_text[:297] + "..."
        tfds_text = f"tensorflow-datasets could not provide it either: {error_text}"
    return (
        f"Could not load the {name!r} {split!r} split.\n"
        f"  IDX files: expected {expected}; {looked}. Pass data_dir= or set the "
        f"{ENV_VAR} environment variable to a directory holding these files, or "
        f"holding a {name}/ subdirectory with them.\n"
        f"  {tfds_text}"
    )


def _load_from_tfds(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load a split through tensorflow-datasets (may download)."""
    return _load_from_tfds_cached(name, split)


# === Downloads through tensorflow-datasets ===


def _unreachable(urls) -> str | None:
    """What cannot be reached among the hosts of ``urls`` (or their proxies); else ``None``."""
    import socket
    import urllib.parse
    import urllib.request

    proxies = urllib.request.getproxies()
    tried = set()
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = proxies.get(parts.scheme)
        through = ""
        if proxy and host and not urllib.request.proxy_bypass(host):
            proxied = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            through = f" through the proxy {proxied.hostname}:{proxied.port or 80}"
            host, port = proxied.hostname, proxied.port or 80
        if not host or (host, port) in tried:
            continue
        tried.add((host, port))
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as error:
            reason = error.strerror or type(error).__name__
            return f"{url}{through} cannot be reached ({host}:{port}: {reason})"
    return None


def _downloads_from_the_network(builder) -> bool:
    """Whether ``builder.download_and_prepare`` is tensorflow-datasets' own, which
    downloads (``tfds.testing.mock_data`` and tests put stand-ins in its place)."""
    method = type(builder).download_and_prepare
    return getattr(method, "__module__", "").startswith("tensorflow_datasets.core")


def _download_and_prepare(name: str, builder) -> None:
    """``builder.download_and_prepare()``, failing in seconds when offline.

    The download hosts are tried first (``CONNECT_TIMEOUT`` seconds each); an
    unreachable one raises a one-line ``DataNotFoundError`` at once. A failed
    download leaves no ``incomplete.*`` folder behind.
    """
    if builder.is_prepared() or not _downloads_from_the_network(builder):
        builder.download_and_prepare()
        return
    folder = Path(builder.data_dir).parent
    existed = folder.exists()
    before = set(folder.glob("incomplete.*")) if existed else set()
    urls = sorted(getattr(builder, "url_infos", None) or ())
    unreachable = _unreachable(urls)
    if unreachable is not None:
        local = (f"pass data_dir= or set {ENV_VAR} to a directory holding its IDX files, or "
                 if name in DATASETS else "")
        raise DataNotFoundError(
            f"Could not download {name!r}: {unreachable}. For a local copy, {local}put a "
            f"prepared tensorflow-datasets copy in {folder.parent} (or set TFDS_DATA_DIR to "
            f"the directory holding it)."
        )
    try:
        builder.download_and_prepare()
    except BaseException:
        if folder.exists():
            for leftover in set(folder.glob("incomplete.*")) - before:
                shutil.rmtree(leftover, ignore_errors=True)
            if not existed and not any(folder.iterdir()):
                folder.rmdir()
        raise


@functools.lru_cache(maxsize=4)
def _load_from_tfds_cached(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow_datasets as tfds

    _download_and_prepare(name, tfds.builder(name))
    images, labels = tfds.as_numpy(
        tfds.load(name, split=split, as_supervised=True, batch_size=-1)
    )
    images = np.asarray(images, dtype=np.uint8).reshape((-1, *IMAGE_SHAPE))
    labels = np.asarray(labels)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


# === IDX parsing ===


def _read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _read_idx(images_path, _IMAGES_MAGIC)
    labels = _read_idx(labels_path, _LABELS_MAGIC)
    if images.shape[1:] != IMAGE_SHAPE[:2]:
        raise ValueError(
            f"Corrupt IDX file {images_path}: images have shape {images.shape[1:]}, "
            f"expected {IMAGE_SHAPE[:2]}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"IDX files disagree: {images_path} holds {len(images)} images but "
            f"{labels_path} holds {len(labels)} labels."
        )
    return images.reshape((-1, *IMAGE_SHAPE)), labels


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    status = path.stat()
    return _read_idx_cached(
        str(path.resolve()), status.st_size, status.st_mtime_ns, expected_magic
    )


@functools.lru_cache(maxsize=16)
def _read_idx_cached(
    path: str, size: int, modified: int, expected_magic: int
) -> np.ndarray:
    """Parse one IDX file of unsigned bytes into a read-only array."""
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(
                f"Corrupt or truncated gzip file {path}: {error}"
            ) from error

    if len(raw) < 4:
        raise ValueError(f"Corrupt IDX file {path}: only {len(raw)} bytes.")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"Corrupt IDX file {path}: magic number 0x{magic:08x}, expected "
            f"0x{expected_magic:08x}."
        )
    num_dimensions = magic & 0xFF
    header_size = 4 + 4 * num_dimensions
    if len(raw) < header_size:
        raise ValueError(f"Corrupt IDX file {path}: header truncated.")
    shape = tuple(
        int.from_bytes(raw[4 + 4 * index : 8 + 4 * index], "big")
        for index in range(num_dimensions)
    )
    expected_size = header_size + int(np.prod(shape))
    if len(raw) != expected_size:
        raise ValueError(
            f"Corrupt IDX file {path}: {len(raw)} bytes for shape {shape}, "
            f"expected {expected_size}."
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)
    array.flags.writeable = False
    return array

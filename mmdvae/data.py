"""MNIST and Fashion-MNIST as NumPy arrays and `tf.data` pipelines.

Images are float32 in [0, 1] with shape (28, 28, 1); labels are int64.

The data comes from the original IDX files when a directory is known (the
``data_dir=`` argument, else the ``MMDVAE_DATA_DIR`` environment variable), and
from tensorflow-datasets otherwise. A directory may hold the four files directly
or hold them in a subdirectory named like the dataset (``mnist/``,
``fashion_mnist/``); the files may be gzipped (``*.gz``) or not. If a directory
is known but lacks the files, loading fails with an error that says so (no download
is attempted).

Example:

```python
train = load("mnist", "train", batch_size=100, shuffle=True, seed=0)
images = load_arrays("fashion_mnist", "test")  # (10000, 28, 28, 1) float32
```
"""

from __future__ import annotations

import functools
import gzip
import numbers
import os
import zlib
from pathlib import Path

import numpy as np
import tensorflow as tf

DATASETS = ("mnist", "fashion_mnist")
ENV_VAR = "MMDVAE_DATA_DIR"
SPLITS = ("train", "test")
BINARIZE_MODES = (None, "fixed", "stochastic")
IMAGE_SHAPE = (28, 28, 1)
#: The names of the labels 0..9 of each dataset.
CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}

_FILE_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_GZIP_MAGIC = b"\x1f\x8b"


class DataNotFoundError(FileNotFoundError, ValueError):
    """Neither the IDX files nor tensorflow-datasets could provide a dataset."""


# === Public API ===


def load_arrays(
    name: str,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    train_size: int | None = None,
    with_labels: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Return the images of a split as float32 in [0, 1], shape (N, 28, 28, 1).

    Args:
        name: one of `DATASETS`.
        split: "train" or "test".
        data_dir: directory with the IDX files (see the module docstring).
        train_size: keep the first `train_size` examples (deterministic); must be
            between 1 and the number of examples in the split.
        with_labels: also return the int64 labels, shape (N,).

    Returns:
        `images`, or `(images, labels)` when `with_labels` is true. The arrays are
        fresh copies the caller may modify.
    """
    _validate_source_arguments(name, split, data_dir, train_size)
    images, labels = _load_uint8(name, split, data_dir, train_size)
    images = images.astype(np.float32) / np.float32(255.0)
    if with_labels:
        return images, labels.astype(np.int64)
    return images


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
) -> tf.data.Dataset:
    """Return a split as a prefetched `tf.data.Dataset` of float32 images.

    Elements are images of shape (28, 28, 1) in [0, 1], or `(images, labels)`
    with int64 labels when `with_labels` is true; with `batch_size` they gain a
    leading batch axis.

    With `shuffle=True` the order changes every epoch; the sequence of orders is
    reproducible for the same `seed`. `binarize="fixed"` maps pixels to
    `float(pixel > threshold)`; `binarize="stochastic"` draws each pixel from a
    Bernoulli distribution with p equal to its intensity, with a new draw every
    epoch, and the sequence of draws is reproducible for the same `seed`.
    Shuffling and binarisation use independent streams derived from `seed`.

    Args:
        name: one of `DATASETS`.
        split: "train" or "test".
        batch_size: batch size, or None for unbatched elements.
        shuffle: whether to shuffle (over the whole split) each epoch.
        seed: non-negative integer seed for shuffling and stochastic binarisation.
        train_size: keep the first `train_size` examples, before shuffling.
        binarize: None, "fixed" or "stochastic".
        threshold: the threshold of fixed binarisation, in (0, 1).
        with_labels: whether elements are `(images, labels)`.
        data_dir: directory with the IDX files (see the module docstring).
        drop_remainder: drop the last smaller batch; needs `batch_size`.
    """
    _validate_source_arguments(name, split, data_dir, train_size)
    _check_optional_integer("batch_size", batch_size, minimum=1)
    _check_optional_integer("seed", seed, minimum=0)
    if binarize not in BINARIZE_MODES:
        raise ValueError(
            f"Invalid binarize={binarize!r}; expected one of {BINARIZE_MODES}."
        )
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

    images, labels = _load_uint8(name, split, data_dir, train_size)
    shuffle_seed, noise_seed = _derive_seeds(seed)

    features = {"images": images}
    if with_labels:
        features["labels"] = labels.astype(np.int64)
    dataset = tf.data.Dataset.from_tensor_slices(features)
    if shuffle:
        dataset = dataset.shuffle(
            len(images), seed=shuffle_seed, reshuffle_each_iteration=True
        )
    if batch_size is not None:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    threshold = float(threshold)

    def convert(features, noise_seed_pair=None):
        image_batch = tf.cast(features["images"], tf.float32) / 255.0
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


# === Argument checks ===


def _check_optional_integer(argument: str, value, *, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{argument} must be an integer or None, received {value!r}.")
    if value < minimum:
        raise ValueError(f"{argument} must be >= {minimum}, received {value!r}.")


def _validate_source_arguments(name, split, data_dir, train_size) -> None:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset name={name!r}; expected one of {DATASETS}.")
    if split not in SPLITS:
        raise ValueError(f"Invalid split={split!r}; expected one of {SPLITS}.")
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise TypeError(
            f"data_dir must be a path (str or os.PathLike) or None, "
            f"received {data_dir!r}."
        )
    _check_optional_integer("train_size", train_size, minimum=1)


def _derive_seeds(seed: int | None) -> tuple[int | None, int | None]:
    if seed is None:
        return None, None
    shuffle_seed, noise_seed = np.random.SeedSequence(seed).generate_state(2)
    return int(shuffle_seed), int(noise_seed)


# === Sources ===


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
        except Exception as error:
            raise DataNotFoundError(
                _not_found_message(name, split, searched, origin, error)
            ) from error

    if train_size is not None:
        if train_size > len(images):
            raise ValueError(
                f"train_size must be between 1 and {len(images)} (the size of the "
                f"{name!r} {split!r} split), received {train_size!r}."
            )
        images, labels = images[:train_size], labels[:train_size]
    return images, labels


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


@functools.lru_cache(maxsize=4)
def _load_from_tfds_cached(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow_datasets as tfds

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

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

Streamed images (tensorflow-datasets, directories) are resized before the
shuffle buffer and rounded to 8 bits, as an image file would be; in-memory
ones are resized in float32. ``mmdvae.data.catalogue`` describes how each
named dataset is preprocessed.

The modules: ``catalogue`` (the named datasets, no TensorFlow), ``named``
(``info``, ``load``, ``load_arrays``), one per source (``idx``, ``tfds``,
``digits``, ``directories``, ``arrays``) and ``pipeline``, the end they share.
Importing ``mmdvae.data`` imports the catalogue only; the functions import
TensorFlow when first used.

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

import importlib
from typing import TYPE_CHECKING

from mmdvae.data.catalogue import (
    CATALOG_URL,
    CLASS_NAMES,
    DATASETS,
    ENV_VAR,
    IMAGE_SHAPE,
    NAMED_DATASETS,
    SPLITS,
    DataNotFoundError,
    DatasetInfo,
)

if TYPE_CHECKING:
    from mmdvae.data.arrays import Standardization, from_arrays
    from mmdvae.data.directories import (
        COLOR_MODES,
        IMAGE_FORMATS,
        directory_info,
        from_directory,
    )
    from mmdvae.data.named import MAX_ARRAY_BYTES, info, load, load_arrays
    from mmdvae.data.pipeline import BINARIZE_MODES, SHUFFLE_BUFFER
    from mmdvae.data.tfds import CONNECT_TIMEOUT

#: The names that need TensorFlow -> the module that defines them, imported on first use.
_LAZY = {
    "info": "named", "load": "named", "load_arrays": "named", "MAX_ARRAY_BYTES": "named",
    "from_directory": "directories", "directory_info": "directories",
    "IMAGE_FORMATS": "directories", "COLOR_MODES": "directories",
    "from_arrays": "arrays", "Standardization": "arrays",
    "BINARIZE_MODES": "pipeline", "SHUFFLE_BUFFER": "pipeline",
    "CONNECT_TIMEOUT": "tfds",
}

__all__ = [
    "info", "load", "load_arrays", "from_directory", "directory_info", "from_arrays",
    "DatasetInfo", "Standardization", "DataNotFoundError",
    "NAMED_DATASETS", "CLASS_NAMES", "DATASETS", "SPLITS", "IMAGE_SHAPE", "ENV_VAR",
    "CATALOG_URL", "MAX_ARRAY_BYTES", "IMAGE_FORMATS", "COLOR_MODES", "BINARIZE_MODES",
    "SHUFFLE_BUFFER", "CONNECT_TIMEOUT",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})

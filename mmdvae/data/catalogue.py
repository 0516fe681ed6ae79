"""The datasets the package knows by name: what each holds, known before it is loaded.

``NAMED`` describes each one (image shape, classes, splits, download size,
source, preprocessing) and ``RECIPES`` says how the pipeline reads the copy
of tensorflow-datasets of the streamed ones. Imports no TensorFlow.

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
"""

from __future__ import annotations

import dataclasses

from mmdvae import checks

#: The datasets read from IDX files (``data_dir=`` or ``MMDVAE_DATA_DIR``).
DATASETS = ("mnist", "fashion_mnist")
ENV_VAR = "MMDVAE_DATA_DIR"
#: The splits of the IDX datasets; ``info(name).splits`` gives every dataset's.
SPLITS = ("train", "test")
#: The image shape of the IDX datasets.
IMAGE_SHAPE = (28, 28, 1)
CATALOG_URL = "https://www.tensorflow.org/datasets/catalog/overview"
#: The ``source`` of the datasets read through tensorflow-datasets.
TFDS_SOURCE = "tensorflow-datasets"
#: scikit-learn's digits: the first ones are ``"train"``, the others ``"test"``.
DIGITS_TRAIN_SIZE = 1500

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


class DataNotFoundError(FileNotFoundError, ValueError):
    """Neither the IDX files nor tensorflow-datasets could provide a dataset."""


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
class Recipe:
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


_IDX_SOURCE = f"IDX files (data_dir= or {ENV_VAR}), else {TFDS_SOURCE}"
#: The datasets the package knows by name.
NAMED = {
    "mnist": DatasetInfo(
        "mnist", IMAGE_SHAPE, 10, CLASS_NAMES["mnist"], {"train": 60_000, "test": 10_000},
        11_594_722, _IDX_SOURCE),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", IMAGE_SHAPE, 10, CLASS_NAMES["fashion_mnist"],
        {"train": 60_000, "test": 10_000}, 30_878_645, _IDX_SOURCE),
    "binarized_mnist": DatasetInfo(
        "binarized_mnist", IMAGE_SHAPE, None, None,
        {"train": 50_000, "validation": 10_000, "test": 10_000}, 109_760_000, TFDS_SOURCE,
        "the fixed binarisation of Larochelle and Murray (2011): pixels 0 or 1"),
    "omniglot": DatasetInfo(
        "omniglot", IMAGE_SHAPE, 1623, None,
        {"train": 19_280, "test": 13_180, "small1": 2_720, "small2": 3_120}, 18_827_037,
        TFDS_SOURCE,
        "grey, inverted so strokes are 1, resized from 105x105 (bilinear, antialiased)"),
    "cifar10": DatasetInfo(
        "cifar10", (32, 32, 3), 10, CLASS_NAMES["cifar10"], {"train": 50_000, "test": 10_000},
        170_052_171, TFDS_SOURCE),
    "svhn_cropped": DatasetInfo(
        "svhn_cropped", (32, 32, 3), 10, CLASS_NAMES["svhn_cropped"],
        {"train": 73_257, "test": 26_032, "extra": 531_131}, 1_575_594_780, TFDS_SOURCE),
    "celeb_a": DatasetInfo(
        "celeb_a", (64, 64, 3), None, None,
        {"train": 162_770, "validation": 19_867, "test": 19_962}, 1_488_628_763, TFDS_SOURCE,
        "the 140x140 square around the centre of the 178x218 photographs, resized "
        "(bilinear, antialiased)"),
    "sklearn_digits": DatasetInfo(
        "sklearn_digits", (8, 8, 1), 10, CLASS_NAMES["sklearn_digits"],
        {"train": DIGITS_TRAIN_SIZE, "test": 1797 - DIGITS_TRAIN_SIZE}, 0, "scikit-learn",
        "values 0..16 / 16; the first 1,500 digits are 'train', the last 297 'test'"),
}
#: How the named datasets streamed from tensorflow-datasets are read.
RECIPES = {
    "binarized_mnist": Recipe("binarized_mnist", label_key=None, stored_shape=(28, 28, 1),
                              max_value=1),
    "omniglot": Recipe("omniglot", stored_shape=(105, 105, 3), grey_inverted=True),
    "cifar10": Recipe("cifar10", stored_shape=(32, 32, 3)),
    "svhn_cropped": Recipe("svhn_cropped", stored_shape=(32, 32, 3)),
    "celeb_a": Recipe("celeb_a", label_key=None, stored_shape=(218, 178, 3), centre_crop=140),
}
#: The datasets the package knows by name (any tensorflow-datasets image
#: dataset is accepted as well).
NAMED_DATASETS = tuple(NAMED)


def check_image_size(image_size) -> tuple | None:
    """Returns ``image_size`` as ``(height, width)``, or ``None``."""
    if image_size is None:
        return None
    size = checks.check_shape("image_size", image_size, max_size=8192, example="(64, 64)")
    if len(size) != 2:
        raise ValueError(
            f"Argument `image_size` must be (height, width); received "
            f"image_size={image_size!r}."
        )
    return size


def check_labels_exist(description: DatasetInfo, with_labels: bool) -> None:
    if with_labels and not description.has_labels:
        raise ValueError(
            f"Argument `with_labels=True` needs labels, and {description.name!r} has none; "
            f"pass with_labels=False."
        )


def unknown_name_message(name, detail="") -> str:
    return (
        f"Unknown dataset name={name!r}{detail}. The package knows {NAMED_DATASETS}, and "
        f"accepts the name of any tensorflow-datasets image dataset, such as 'cifar100' or "
        f"'imagenet_resized/64x64' (see {CATALOG_URL}). For a directory of images use "
        f"mmdvae.data.from_directory; for NumPy arrays, mmdvae.data.from_arrays."
    )

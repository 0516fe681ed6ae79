"""Tests for `mmdvae.data` by name: the IDX files of MNIST and Fashion-MNIST, the catalogue."""

import gzip
import math
import struct
import subprocess
import sys

import numpy as np
import pytest

from mmdvae import data
from mmdvae.data import idx
from mmdvae.data import tfds as data_tfds

COUNTS = {"train": 60000, "test": 10000}


@pytest.fixture
def without_environment(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)


def failing_tfds(name, split):
    raise ConnectionError("tfds download blocked in tests")


# === The package ===


def test_every_public_name_resolves_and_the_catalogue_needs_no_tensorflow():
    for name in data.__all__:
        assert getattr(data, name) is not None, name
    assert set(data.__all__) <= set(dir(data))
    with pytest.raises(AttributeError, match="no attribute 'lod'"):
        data.lod  # noqa: B018
    script = ("import sys, mmdvae.data as data\n"
              "print(len(data.NAMED_DATASETS), data.DatasetInfo.__name__, "
              "'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == [str(len(data.NAMED_DATASETS)), "DatasetInfo", "False"]


# === Arrays ===


@pytest.mark.parametrize("name", data.DATASETS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_arrays_shapes_values_and_labels(data_dir, name, split):
    images, labels = data.load_arrays(name, split, data_dir=data_dir, with_labels=True)
    assert images.shape == (COUNTS[split], 28, 28, 1)
    assert images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.shape == (COUNTS[split],)
    assert labels.dtype == np.int64
    assert set(np.unique(labels).tolist()) == set(range(10))


@pytest.mark.parametrize("name", data.DATASETS)
def test_first_training_image_matches_independent_parse(data_dir, name):
    with gzip.open(data_dir / name / "train-images-idx3-ubyte.gz", "rb") as file:
        magic, count, rows, columns = struct.unpack(">IIII", file.read(16))
        first_image = file.read(rows * columns)
    assert (magic, count, rows, columns) == (0x803, 60000, 28, 28)
    with gzip.open(data_dir / name / "train-labels-idx1-ubyte.gz", "rb") as file:
        assert struct.unpack(">II", file.read(8)) == (0x801, 60000)
        first_label = file.read(1)[0]

    images, labels = data.load_arrays(
        name, "train", data_dir=data_dir, with_labels=True
    )
    assert int(np.rint(images[0] * 255).sum()) == sum(first_image)
    assert labels[0] == first_label


def test_returned_arrays_do_not_share_the_cache(data_dir):
    images, labels = data.load_arrays(
        "mnist", "test", data_dir=data_dir, with_labels=True
    )
    images[:] = -1.0
    labels[:] = -1
    images, labels = data.load_arrays(
        "mnist", "test", data_dir=data_dir, with_labels=True
    )
    assert images.min() == 0.0 and labels.min() == 0


def test_train_size_keeps_the_first_examples(data_dir):
    full_images, full_labels = data.load_arrays(
        "mnist", "train", data_dir=data_dir, with_labels=True
    )
    images, labels = data.load_arrays(
        "mnist", "train", data_dir=data_dir, train_size=500, with_labels=True
    )
    assert images.shape == (500, 28, 28, 1)
    np.testing.assert_array_equal(images, full_images[:500])
    np.testing.assert_array_equal(labels, full_labels[:500])
    dataset = data.load("mnist", "train", data_dir=data_dir, train_size=500)
    assert dataset.cardinality().numpy() == 500


# === Datasets ===


def test_unbatched_dataset_matches_arrays(data_dir):
    images, labels = data.load_arrays(
        "fashion_mnist", "test", data_dir=data_dir, with_labels=True
    )
    dataset = data.load("fashion_mnist", "test", data_dir=data_dir, with_labels=True)
    assert dataset.element_spec[0].shape == (28, 28, 1)
    assert dataset.element_spec[0].dtype.name == "float32"
    assert dataset.element_spec[1].dtype.name == "int64"
    for index, (image, label) in enumerate(dataset.take(3)):
        np.testing.assert_array_equal(image.numpy(), images[index])
        assert label.numpy() == labels[index]


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_batching(data_dir, drop_remainder):
    dataset = data.load(
        "mnist",
        "test",
        data_dir=data_dir,
        batch_size=128,
        drop_remainder=drop_remainder,
    )
    batch_sizes = [len(batch) for batch in dataset]
    if drop_remainder:
        assert batch_sizes == [128] * (10000 // 128)
        assert dataset.element_spec.shape == (128, 28, 28, 1)
    else:
        assert len(batch_sizes) == math.ceil(10000 / 128)
        assert batch_sizes[-1] == 10000 % 128
        assert dataset.element_spec.shape.as_list() == [None, 28, 28, 1]


def test_seeded_shuffle_is_reproducible_and_reshuffles(data_dir):
    def epochs(seed, count=2):
        dataset = data.load(
            "mnist",
            "train",
            data_dir=data_dir,
            train_size=1000,
            batch_size=1000,
            shuffle=True,
            seed=seed,
        )
        return [
            batch.numpy().sum(axis=(1, 2, 3)) for _ in range(count) for batch in dataset
        ]

    first_run, second_run, other_seed = epochs(0), epochs(0), epochs(1)
    np.testing.assert_array_equal(first_run[0], second_run[0])
    np.testing.assert_array_equal(first_run[1], second_run[1])
    assert not np.array_equal(first_run[0], other_seed[0])
    assert not np.array_equal(first_run[0], first_run[1])

    unshuffled = data.load_arrays("mnist", "train", data_dir=data_dir, train_size=1000)
    assert not np.array_equal(first_run[0], unshuffled.sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(
        np.sort(first_run[0]), np.sort(unshuffled.sum(axis=(1, 2, 3))), rtol=1e-6
    )


def test_shuffle_keeps_images_with_their_labels(data_dir):
    dataset = data.load(
        "fashion_mnist",
        "test",
        data_dir=data_dir,
        train_size=200,
        batch_size=200,
        shuffle=True,
        seed=3,
        with_labels=True,
    )
    images, labels = next(iter(dataset))
    reference_images, reference_labels = data.load_arrays(
        "fashion_mnist", "test", data_dir=data_dir, train_size=200, with_labels=True
    )
    flat_reference = reference_images.reshape(200, -1)
    for image, label in zip(images.numpy(), labels.numpy(), strict=True):
        matches = np.flatnonzero((flat_reference == image.reshape(-1)).all(axis=1))
        assert label in reference_labels[matches]


def test_fixed_binarization(data_dir):
    images = data.load_arrays("mnist", "test", data_dir=data_dir, train_size=256)
    dataset = data.load(
        "mnist",
        "test",
        data_dir=data_dir,
        train_size=256,
        batch_size=256,
        binarize="fixed",
        threshold=0.3,
    )
    binary = next(iter(dataset)).numpy()
    assert binary.dtype == np.float32
    assert set(np.unique(binary).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(binary, (images > 0.3).astype(np.float32))


def test_stochastic_binarization(data_dir):
    images = data.load_arrays(
        "fashion_mnist", "test", data_dir=data_dir, train_size=2000
    )

    def draw(seed):
        dataset = data.load(
            "fashion_mnist",
            "test",
            data_dir=data_dir,
            train_size=2000,
            batch_size=2000,
            binarize="stochastic",
            seed=seed,
        )
        return [next(iter(dataset)).numpy() for _ in range(2)]

    first_epoch, second_epoch = draw(0)
    assert set(np.unique(first_epoch).tolist()) == {0.0, 1.0}
    assert abs(first_epoch.mean() - images.mean()) < 2e-3
    assert np.all(first_epoch[images == 0.0] == 0.0)
    assert np.all(first_epoch[images == 1.0] == 1.0)
    assert not np.array_equal(first_epoch, second_epoch)
    repeated_first, repeated_second = draw(0)
    np.testing.assert_array_equal(first_epoch, repeated_first)
    np.testing.assert_array_equal(second_epoch, repeated_second)
    assert not np.array_equal(first_epoch, draw(1)[0])


# === Sources ===


def test_environment_variable_route(data_dir, monkeypatch):
    expected = data.load_arrays("mnist", "test", data_dir=data_dir)
    monkeypatch.setenv(data.ENV_VAR, str(data_dir))
    np.testing.assert_array_equal(data.load_arrays("mnist", "test"), expected)
    monkeypatch.setenv(data.ENV_VAR, str(data_dir / "mnist"))
    np.testing.assert_array_equal(data.load_arrays("mnist", "test"), expected)
    batch = next(iter(data.load("mnist", "test", batch_size=10)))
    np.testing.assert_array_equal(batch.numpy(), expected[:10])


def test_data_dir_argument_wins_over_environment_variable(
    data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    images = data.load_arrays("fashion_mnist", "test", data_dir=data_dir)
    assert images.shape == (10000, 28, 28, 1)


def test_uncompressed_idx_files(data_dir, tmp_path):
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(data_dir / "mnist" / f"{stem}.gz", "rb") as file:
            (tmp_path / stem).write_bytes(file.read())
    images, labels = data.load_arrays(
        "mnist", "test", data_dir=tmp_path, with_labels=True
    )
    expected_images, expected_labels = data.load_arrays(
        "mnist", "test", data_dir=data_dir, with_labels=True
    )
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_missing_directory_error_names_both_ways(
    tmp_path, monkeypatch, without_environment
):
    monkeypatch.setattr(data_tfds, "read_whole_split", failing_tfds)
    missing = tmp_path / "missing"
    with pytest.raises(data.DataNotFoundError) as raised:
        data.load("fashion_mnist", "train", data_dir=missing)
    assert isinstance(raised.value, FileNotFoundError)
    assert isinstance(raised.value, ValueError)
    message = str(raised.value)
    for fragment in (
        "data_dir=",
        data.ENV_VAR,
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        str(missing / "fashion_mnist"),
        "tensorflow-datasets was not tried",
    ):
        assert fragment in message


def test_no_directory_and_no_tfds_error(monkeypatch, without_environment):
    monkeypatch.setattr(data_tfds, "read_whole_split", failing_tfds)
    with pytest.raises(FileNotFoundError, match=data.ENV_VAR) as raised:
        data.load_arrays("mnist", "test")
    assert "data_dir=" in str(raised.value)
    assert "tfds download blocked in tests" in str(raised.value)


def test_tensorflow_datasets_route(monkeypatch, tmp_path, without_environment):
    generator = np.random.default_rng(0)
    fake_images = generator.integers(0, 256, size=(12, 28, 28, 1), dtype=np.uint8)
    fake_labels = np.arange(12) % 10
    requested = []

    def fake_tfds(name, split):
        requested.append((name, split))
        return fake_images, fake_labels

    monkeypatch.setattr(data_tfds, "read_whole_split", fake_tfds)
    images, labels = data.load_arrays("mnist", "train", with_labels=True)
    assert requested == [("mnist", "train")]
    np.testing.assert_array_equal(images, fake_images / np.float32(255))
    assert images.dtype == np.float32 and labels.dtype == np.int64

    # A directory without the files is an error, never a silent download.
    with pytest.raises(data.DataNotFoundError, match="not tried"):
        data.load("mnist", "test", data_dir=tmp_path, batch_size=5)
    assert requested == [("mnist", "train")]


@pytest.mark.parametrize(
    "file_bytes, problem",
    [
        (b"\x1f\x8b\x08\x00broken", "gzip"),
        (struct.pack(">IIII", 0x801, 2, 28, 28) + bytes(2 * 784), "magic"),
        (struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(784), "bytes"),
        (struct.pack(">II", 0x803, 2), "header"),
    ],
)
def test_corrupt_idx_file_names_the_file(tmp_path, file_bytes, problem):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(file_bytes)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x801, 2) + bytes(2)
    )
    with pytest.raises(ValueError, match=problem) as raised:
        data.load_arrays("mnist", "test", data_dir=tmp_path)
    assert "t10k-images-idx3-ubyte" in str(raised.value)


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_damaged_gzip_file_names_the_file(data_dir, tmp_path, damage):
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        compressed = (data_dir / "mnist" / f"{stem}.gz").read_bytes()
        if stem.startswith("t10k-images"):
            middle = len(compressed) // 2
            if damage == "truncated":
                compressed = compressed[:middle]
            else:
                compressed = compressed[:middle] + bytes(64) + compressed[middle + 64 :]
        (tmp_path / f"{stem}.gz").write_bytes(compressed)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        data.load_arrays("mnist", "test", data_dir=tmp_path)


# === Argument validation ===


@pytest.mark.parametrize(
    "arguments, error, fragments",
    [
        ({"name": "cifar10"}, ValueError, ["name", "cifar10", "fashion_mnist"]),
        ({"split": "validation"}, ValueError, ["split", "validation", "train"]),
        ({"batch_size": 0}, ValueError, ["batch_size", "0", ">= 1"]),
        ({"batch_size": 2.5}, TypeError, ["batch_size", "2.5"]),
        ({"batch_size": True}, TypeError, ["batch_size", "True"]),
        ({"train_size": 0}, ValueError, ["train_size", "0"]),
        ({"train_size": 10001}, ValueError, ["train_size", "10001", "10000"]),
        ({"train_size": "500"}, TypeError, ["train_size", "'500'"]),
        ({"binarize": "otsu"}, ValueError, ["binarize", "otsu", "stochastic"]),
        ({"threshold": 1.0}, ValueError, ["threshold", "1.0"]),
        ({"threshold": 0}, ValueError, ["threshold", "0"]),
        ({"threshold": "half"}, TypeError, ["threshold", "half"]),
        ({"seed": -1}, ValueError, ["seed", "-1"]),
        ({"seed": 1.5}, TypeError, ["seed", "1.5"]),
        ({"drop_remainder": True}, ValueError, ["drop_remainder", "batch_size"]),
        ({"data_dir": 3}, TypeError, ["data_dir", "3"]),
    ],
)
def test_load_validates_arguments(data_dir, arguments, error, fragments):
    keywords = {"name": "mnist", "split": "test", "data_dir": data_dir, **arguments}
    with pytest.raises(error) as raised:
        data.load(keywords.pop("name"), keywords.pop("split"), **keywords)
    for fragment in fragments:
        assert fragment in str(raised.value)


@pytest.mark.parametrize(
    "arguments, error",
    [
        ({"name": "MNIST"}, ValueError),
        ({"split": "Train"}, ValueError),
        ({"train_size": -5}, ValueError),
        ({"train_size": 60001}, ValueError),
    ],
)
def test_load_arrays_validates_arguments(data_dir, arguments, error):
    keywords = {"name": "mnist", "split": "train", "data_dir": data_dir, **arguments}
    with pytest.raises(error, match="name|split|train_size"):
        data.load_arrays(keywords.pop("name"), keywords.pop("split"), **keywords)


def test_validation_happens_before_loading(monkeypatch, without_environment):
    def unexpected_load(*arguments, **keywords):
        raise AssertionError("data was loaded before the arguments were checked")

    monkeypatch.setattr(idx, "read_split", unexpected_load)
    with pytest.raises(ValueError, match="binarize"):
        data.load("mnist", "train", binarize="yes")
    with pytest.raises(ValueError, match="name"):
        data.load_arrays("digits", "train")


# === Dataset descriptions ===


def test_info_of_the_named_datasets():
    expected_shapes = {
        "mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "binarized_mnist": (28, 28, 1),
        "omniglot": (28, 28, 1), "cifar10": (32, 32, 3), "svhn_cropped": (32, 32, 3),
        "celeb_a": (64, 64, 3), "sklearn_digits": (8, 8, 1),
    }
    assert set(data.NAMED_DATASETS) == set(expected_shapes)
    for name, shape in expected_shapes.items():
        description = data.info(name)
        assert description.image_shape == shape
        if description.class_names is not None:
            assert len(description.class_names) == description.num_classes
    assert data.info("celeb_a").splits == {"train": 162770, "validation": 19867, "test": 19962}
    assert not data.info("celeb_a").has_labels and data.info("omniglot").num_classes == 1623
    assert data.info("cifar10").class_names[0] == "airplane"
    assert data.info("celeb_a", image_size=(32, 32)).image_shape == (32, 32, 3)
    with pytest.raises(ValueError, match="image_size"):
        data.info("cifar10", image_size=(32, 32, 3))


def test_idx_images_resized_on_request(data_dir):
    from PIL import Image

    images = data.load_arrays("mnist", "test", data_dir=data_dir, train_size=4)
    resized = next(iter(data.load("mnist", "test", data_dir=data_dir, train_size=4,
                                  batch_size=4, image_size=(32, 32)))).numpy()
    assert resized.shape == (4, 32, 32, 1)
    reference = np.stack([np.asarray(Image.fromarray(image[..., 0], mode="F").resize(
        (32, 32), Image.BILINEAR)) for image in images])
    np.testing.assert_allclose(resized[..., 0], np.clip(reference, 0, 1), atol=1e-4)


# === scikit-learn's digits ===


def test_sklearn_digits_are_the_real_8x8_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = data.load_arrays("sklearn_digits", "train", with_labels=True)
    test_images, test_labels = data.load_arrays("sklearn_digits", "test", with_labels=True)
    assert images.shape == (1500, 8, 8, 1) and test_images.shape == (297, 8, 8, 1)
    assert images.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(images[..., 0], digits.images[:1500] / 16)
    np.testing.assert_array_equal(test_images[..., 0], digits.images[1500:] / 16)
    np.testing.assert_array_equal(np.concatenate([labels, test_labels]), digits.target)
    images[:] = -1  # a copy: the next call is unchanged
    assert data.load_arrays("sklearn_digits", "train").min() == 0.0

    batches = list(data.load("sklearn_digits", "train", batch_size=500, shuffle=True, seed=0,
                             binarize="fixed", train_size=1000).as_numpy_iterator())
    assert [len(batch) for batch in batches] == [500, 500]
    binary = np.concatenate(batches)
    assert set(np.unique(binary).tolist()) == {0.0, 1.0}
    np.testing.assert_allclose(binary.mean(), (digits.images[:1000] / 16 > 0.5).mean())

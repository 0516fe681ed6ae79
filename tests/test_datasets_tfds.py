"""The tensorflow-datasets pipelines of `mmdvae.data`, offline.

`tensorflow_datasets.testing.mock_data` runs the real builders (features,
decoding) on generated records, the same records on every call, so each
pipeline's output is compared with the raw records it read, transformed by an
independent NumPy or PIL reference. Nothing is downloaded.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from mmdvae import data
from mmdvae.data import tfds as data_tfds

tfds = pytest.importorskip("tensorflow_datasets")


def raw_records(name, count, split="train"):
    """The first records the mocked builder gives, as NumPy dictionaries."""
    dataset = tfds.builder(name).as_dataset(split=split).take(count)
    return list(tfds.as_numpy(dataset))


def one_batch(dataset):
    return next(iter(dataset.as_numpy_iterator()))


@pytest.fixture
def no_download(monkeypatch):
    """Any attempt to download or prepare a dataset fails at once."""

    def refuse(self, *arguments, **keywords):
        raise ConnectionError("downloads are blocked in tests")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", refuse)


# === Shapes, dtypes, values and labels ===


@pytest.mark.parametrize("name", ["cifar10", "svhn_cropped"])
def test_colour_datasets_give_the_stored_pixels_and_labels(name):
    with tfds.testing.mock_data(num_examples=12):
        images, labels = one_batch(data.load(name, "train", batch_size=12, with_labels=True))
        records = raw_records(name, 12)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.float32
    assert labels.shape == (12,) and labels.dtype == np.int64
    expected = np.stack([record["image"] for record in records]).astype(np.float64) / 255
    np.testing.assert_allclose(images, expected, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(labels, [record["label"] for record in records])
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert data.info(name).image_shape == images.shape[1:]
    assert data.info(name).num_classes == 10


def test_celeb_a_centre_crop_and_resize():
    with tfds.testing.mock_data(num_examples=6):
        faces = one_batch(data.load("celeb_a", "train", batch_size=6))
        crops = one_batch(data.load("celeb_a", "train", batch_size=6, image_size=(140, 140)))
        records = raw_records("celeb_a", 6)
    stored = np.stack([record["image"] for record in records])
    assert stored.shape == (6, 218, 178, 3)
    # The 140x140 square around the centre: rows 39..178, columns 19..158.
    centre = stored[:, 39:179, 19:159]
    np.testing.assert_allclose(crops, centre / 255.0, rtol=0, atol=1e-7)

    assert faces.shape == (6, 64, 64, 3) and faces.dtype == np.float32
    reference = np.stack([np.asarray(Image.fromarray(square).resize((64, 64), Image.BILINEAR))
                          for square in centre]) / 255.0
    difference = np.abs(faces - reference)
    # PIL and TensorFlow antialias alike; rounding may differ by one grey level.
    assert difference.max() <= 1 / 255 + 1e-6
    assert difference.mean() < 0.3 / 255
    assert data.info("celeb_a").image_shape == (64, 64, 3)


def test_omniglot_is_grey_inverted_and_28_by_28():
    with tfds.testing.mock_data(num_examples=5):
        images, labels = one_batch(data.load("omniglot", "train", batch_size=5,
                                             with_labels=True))
        full_size = one_batch(data.load("omniglot", "train", batch_size=5,
                                        image_size=(105, 105)))
        records = raw_records("omniglot", 5)
    stored = np.stack([record["image"] for record in records]).astype(np.float64)
    grey = stored @ np.array([0.2989, 0.5870, 0.1140])
    inverted = 255.0 - grey
    np.testing.assert_allclose(full_size[..., 0], np.round(inverted) / 255, rtol=0,
                               atol=1 / 255 + 1e-6)
    assert np.abs(full_size[..., 0] - np.round(inverted) / 255).mean() < 0.01 / 255

    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    reference = np.stack([
        np.asarray(Image.fromarray(picture.astype(np.float32), mode="F")
                   .resize((28, 28), Image.BILINEAR)) for picture in inverted]) / 255
    assert np.abs(images[..., 0] - reference).max() <= 0.5 / 255 + 1e-4
    np.testing.assert_array_equal(labels, [record["label"] for record in records])


def test_binarized_mnist_pixels_stay_zero_and_one():
    with tfds.testing.mock_data(num_examples=8, max_value=2):
        images = one_batch(data.load("binarized_mnist", "validation", batch_size=8))
        records = raw_records("binarized_mnist", 8, split="validation")
    stored = np.stack([record["image"] for record in records])
    assert set(np.unique(stored).tolist()) == {0, 1}
    np.testing.assert_array_equal(images, stored.astype(np.float32))
    with pytest.raises(ValueError, match="with_labels"):
        data.load("binarized_mnist", "train", with_labels=True)


def test_load_arrays_of_streamed_datasets():
    with tfds.testing.mock_data(num_examples=5):
        faces = data.load_arrays("celeb_a", "test", train_size=3)
        images, labels = data.load_arrays("cifar10", "test", with_labels=True)
        streamed = one_batch(data.load("cifar10", "test", batch_size=5))
    assert faces.shape == (3, 64, 64, 3) and faces.dtype == np.float32
    np.testing.assert_array_equal(images, streamed)
    assert labels.shape == (5,) and labels.dtype == np.int64
    with pytest.raises(ValueError, match=r"GiB.*mmdvae.data.load"):
        data.load_arrays("svhn_cropped", "extra")  # 531,131 images: 6.1 GiB as float32


# === Shuffling, train_size and binarisation ===


def test_seeded_shuffle_of_a_streamed_dataset():
    def epochs(seed):
        dataset = data.load("cifar10", "train", batch_size=40, shuffle=True, seed=seed,
                            with_labels=True)
        return [one_batch(dataset) for _ in range(2)]

    with tfds.testing.mock_data(num_examples=40):
        (first, second), (again, _), (other, _) = epochs(0), epochs(0), epochs(1)
        in_order, order_labels = one_batch(data.load("cifar10", "train", batch_size=40,
                                                     with_labels=True))
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], second[0])  # a new order every epoch
    assert not np.array_equal(first[0], other[0])  # another seed, another order
    assert not np.array_equal(first[0], in_order)
    # The same images, each with its own label.
    flat = in_order.reshape(40, -1)
    for image, label in zip(first[0], first[1], strict=True):
        (index,) = np.flatnonzero((flat == image.reshape(-1)).all(axis=1))
        assert order_labels[index] == label


def test_train_size_keeps_the_first_examples():
    with tfds.testing.mock_data(num_examples=20):
        dataset = data.load("svhn_cropped", "train", batch_size=4, train_size=7)
        batches = list(dataset.as_numpy_iterator())
        records = raw_records("svhn_cropped", 7)
    assert [len(batch) for batch in batches] == [4, 3]
    expected = np.stack([record["image"] for record in records]) / 255.0
    np.testing.assert_allclose(np.concatenate(batches), expected, rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match="train_size.*73257"):
        data.load("svhn_cropped", "train", train_size=73258)


def test_binarisation_of_a_streamed_dataset():
    with tfds.testing.mock_data(num_examples=20):
        fixed = one_batch(data.load("cifar10", "test", batch_size=20, binarize="fixed",
                                    threshold=0.3))
        grey = one_batch(data.load("cifar10", "test", batch_size=20))

        def draws(seed):
            dataset = data.load("cifar10", "test", batch_size=20, binarize="stochastic",
                                seed=seed)
            return [one_batch(dataset) for _ in range(2)]

        first, second = draws(0)
        repeated, _ = draws(0)
        other, _ = draws(1)
    np.testing.assert_array_equal(fixed, (grey > 0.3).astype(np.float32))
    assert set(np.unique(first).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(first, repeated)
    assert not np.array_equal(first, second) and not np.array_equal(first, other)
    # 61,440 Bernoulli draws: the mean is within 4 standard errors of the grey mean.
    assert abs(first.mean() - grey.mean()) < 4 * 0.5 / np.sqrt(first.size)


# === Any tensorflow-datasets image dataset ===


def test_any_image_dataset_by_name_with_a_resize():
    name = "imagenet_resized/64x64"
    with tfds.testing.mock_data(num_examples=6):
        images, labels = one_batch(data.load(name, "train", batch_size=6, with_labels=True,
                                             image_size=(32, 32)))
        records = raw_records(name, 6)
    description = data.info(name, image_size=(32, 32))
    assert description.image_shape == (32, 32, 3) and description.num_classes == 1000
    assert images.shape == (6, 32, 32, 3)
    reference = np.stack([np.asarray(Image.fromarray(record["image"]).resize(
        (32, 32), Image.BILINEAR)) for record in records]) / 255.0
    assert np.abs(images - reference).max() <= 1 / 255 + 1e-6
    np.testing.assert_array_equal(labels, [record["label"] for record in records])


def test_images_of_different_sizes_need_an_image_size():
    name = "downsampled_imagenet/64x64"  # stored with shape (None, None, 3)
    with pytest.raises(ValueError, match=r"differ in size.*image_size=\(height, width\)"):
        data.load(name, "train")
    with tfds.testing.mock_data(num_examples=5):
        images = one_batch(data.load(name, "train", batch_size=5, image_size=(16, 16)))
    assert images.shape == (5, 16, 16, 3)


def test_unknown_names_list_the_known_ones_and_accept_any_image_dataset():
    with pytest.raises(ValueError) as raised:
        data.load("cifar11", "train")
    message = str(raised.value)
    for fragment in ("name='cifar11'", *data.NAMED_DATASETS, "tensorflow-datasets image dataset",
                     "from_directory"):
        assert fragment in message
    with pytest.raises(ValueError, match="imdb_reviews.*hold no image"):
        data.info("imdb_reviews")
    with pytest.raises(ValueError, match=r"split.*'train', 'test'"):
        data.load("cifar10", "validation")


def test_data_dir_is_for_idx_files_only(tmp_path):
    with pytest.raises(ValueError, match="data_dir.*IDX.*'cifar10'"):
        data.load("cifar10", "train", data_dir=tmp_path)


def test_a_failed_download_says_what_and_where(no_download):
    with pytest.raises(data.DataNotFoundError) as raised:
        data.load("cifar10", "train")
    message = str(raised.value)
    for fragment in ("'cifar10'", "162 MiB", "TFDS_DATA_DIR", "downloads are blocked"):
        assert fragment in message


def test_download_sizes_are_those_tensorflow_datasets_records():
    for name in data.NAMED_DATASETS:
        description = data.info(name)
        if description.source == "scikit-learn":
            assert description.download_size == 0
            continue
        url_infos = tfds.builder(name).url_infos
        assert description.download_size == sum(info.size for info in url_infos.values())


# === Streaming ===

STREAMING_SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow_datasets as tfds
    from mmdvae import data

    def peak_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    num_examples = int(sys.argv[1])
    with tfds.testing.mock_data(num_examples=num_examples):
        dataset = data.load("imagenet_resized/64x64", "train", batch_size=500, shuffle=True,
                            seed=0)
        before = peak_kib()
        count, total = 0, 0.0
        for batch in dataset:
            count += int(batch.shape[0])
            total += float(batch[:, 0, 0, 0].numpy().sum())
    print(json.dumps({"count": count, "before_kib": before, "peak_kib": peak_kib()}))
""")


@pytest.mark.slow
def test_one_epoch_of_100000_streamed_images_peaks_far_below_the_dataset_size():
    num_examples = 100_000
    result = subprocess.run(
        [sys.executable, "-c", STREAMING_SCRIPT, str(num_examples)], capture_output=True,
        text=True, timeout=1200, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["count"] == num_examples
    dataset_bytes = num_examples * 64 * 64 * 3  # as uint8; four times as float32
    peak_bytes = measured["peak_kib"] * 1024
    growth_bytes = (measured["peak_kib"] - measured["before_kib"]) * 1024
    print(f"peak {peak_bytes / 2**20:.0f} MiB, of which {growth_bytes / 2**20:.0f} MiB during "
          f"the epoch (TensorFlow and the imports: {measured['before_kib'] / 1024:.0f} MiB); "
          f"dataset {dataset_bytes / 2**20:.0f} MiB as uint8, "
          f"{4 * dataset_bytes / 2**20:.0f} MiB as float32")
    # The shuffle buffer holds 10,000 images (117 MiB); the rest is batches in flight.
    assert growth_bytes < dataset_bytes / 4


# === Offline: a download fails in seconds, in one line, and leaves nothing behind ===


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Every connection is refused at once; tensorflow-datasets keeps its files in tmp_path.

    Returns the ``(host, port)`` pairs a connection was asked for.
    """
    import socket

    asked = []

    def refuse(address, *arguments, **keywords):
        asked.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                     "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    data_tfds.read_whole_split.cache_clear()
    return asked


@pytest.mark.parametrize("name, host, local", [
    ("cifar10", "www.cs.toronto.edu", "TFDS_DATA_DIR"),
    ("mnist", "storage.googleapis.com", data.ENV_VAR),
])
def test_offline_a_download_fails_at_once_saying_what_and_where(offline, tmp_path, name, host,
                                                                local):
    import time

    start = time.perf_counter()
    with pytest.raises(data.DataNotFoundError) as raised:
        data.load(name, "train", batch_size=8)
    assert time.perf_counter() - start < 5.0  # not tensorflow-datasets' minutes of retries
    message = str(raised.value)
    assert "\n" not in message
    for fragment in (f"Could not download {name!r}", f"{host}:443", "Connection refused",
                     local, str(tmp_path)):
        assert fragment in message, fragment
    assert offline == [(host, 443)]
    assert list(tmp_path.iterdir()) == []  # nothing written, no incomplete.* folder


def test_a_download_failing_midway_leaves_no_incomplete_folder(monkeypatch, tmp_path):
    """The real tensorflow-datasets path: the host answers, the transfer fails."""
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data_tfds, "unreachable", lambda urls: None)
    seen = []

    def fail(self, *arguments, **keywords):
        seen.extend(path.name for path in (tmp_path / "cifar10").glob("incomplete.*"))
        raise ConnectionError("the connection was reset")

    monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract", fail)
    monkeypatch.setattr(tfds.download.DownloadManager, "download", fail)
    with pytest.raises(data.DataNotFoundError, match="Could not prepare 'cifar10'.*was reset"):
        data.load("cifar10", "train")
    assert seen  # the download was under way in an incomplete.* folder
    assert not (tmp_path / "cifar10").exists()

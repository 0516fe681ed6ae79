"""Tests for `mmdvae.data.from_directory`: the user's own image files."""

import os
from pathlib import Path

import numpy as np
import pytest

from mmdvae import data


def write_png(path, pixels):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def class_folders(tmp_path):
    """10 RGB 8x12 PNG files in cats/ and 10 in dogs/, with known pixels."""
    generator = np.random.default_rng(0)
    pixels = {}
    for folder in ("cats", "dogs"):
        for index in range(10):
            path = tmp_path / "images" / folder / f"{index:02d}.png"
            pixels[str(path)] = generator.integers(0, 256, (8, 12, 3), dtype=np.uint8)
            write_png(path, pixels[str(path)])
    return tmp_path / "images", pixels


def test_directory_images_and_labels_from_class_folders(class_folders):
    directory, pixels = class_folders
    dataset = data.from_directory(directory, batch_size=20, with_labels=True)
    images, labels = next(iter(dataset))
    assert dataset.class_names == ("cats", "dogs")
    assert images.shape == (20, 8, 12, 3) and images.dtype.name == "float32"
    for path, image, label in zip(dataset.file_paths, images.numpy(), labels.numpy(),
                                  strict=True):
        np.testing.assert_allclose(image, pixels[path] / 255.0, rtol=0, atol=1e-7)
        assert label == ("cats", "dogs").index(os.path.basename(os.path.dirname(path)))
    described = data.directory_info(directory)
    assert described.image_shape == (8, 12, 3) and described.class_names == ("cats", "dogs")
    assert described.splits == {"all": 20}


def test_directory_train_size_shuffle_and_binarisation(class_folders):
    directory, _ = class_folders
    kept = data.from_directory(directory, train_size=6, with_labels=True, batch_size=6)
    assert set(next(iter(kept))[1].numpy().tolist()) == {0, 1}  # every class is sampled
    assert kept.file_paths == data.from_directory(directory, train_size=6).file_paths

    def epochs(seed):
        dataset = data.from_directory(directory, batch_size=20, shuffle=True, seed=seed)
        return [next(iter(dataset)).numpy() for _ in range(2)]

    first, second = epochs(0)
    np.testing.assert_array_equal(first, epochs(0)[0])
    assert not np.array_equal(first, second) and not np.array_equal(first, epochs(1)[0])
    in_order = next(iter(data.from_directory(directory, batch_size=20))).numpy()
    np.testing.assert_array_equal(np.sort(first.reshape(20, -1), axis=0),
                                  np.sort(in_order.reshape(20, -1), axis=0))
    binary = next(iter(data.from_directory(directory, batch_size=20, binarize="fixed"))).numpy()
    np.testing.assert_array_equal(binary, (in_order > 0.5).astype(np.float32))


def test_directory_grey_images_and_colour_modes(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    for index in range(3):
        write_png(tmp_path / f"{index}.png", grey)
    images = next(iter(data.from_directory(tmp_path, batch_size=3))).numpy()
    assert images.shape == (3, 8, 8, 1)
    np.testing.assert_allclose(images[0, ..., 0], grey / 255.0, atol=1e-7)
    coloured = next(iter(data.from_directory(tmp_path, batch_size=3, color_mode="rgb")))
    assert coloured.shape == (3, 8, 8, 3)
    with pytest.raises(ValueError, match="with_labels"):
        data.from_directory(tmp_path, with_labels=True)
    with pytest.raises(ValueError, match="color_mode"):
        data.from_directory(tmp_path, color_mode="cmyk")


def test_directory_of_mixed_sizes_needs_a_resize(tmp_path):
    from PIL import Image

    generator = np.random.default_rng(2)
    small = generator.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    large = generator.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    write_png(tmp_path / "a.png", small)
    write_png(tmp_path / "b.png", large)
    with pytest.raises(ValueError) as raised:
        data.from_directory(tmp_path)
    for fragment in ("'a.png' is 16x16", "'b.png' is 24x20", "image_size=(height, width)"):
        assert fragment in str(raised.value)
    dataset = data.from_directory(tmp_path, image_size=(8, 8), batch_size=2)
    images = next(iter(dataset)).numpy()
    for path, image in zip(dataset.file_paths, images, strict=True):
        pixels = small if path.endswith("a.png") else large
        reference = np.asarray(Image.fromarray(pixels).resize((8, 8), Image.BILINEAR)) / 255
        assert np.abs(image - reference).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize("contents", ["empty", "text only", "missing"])
def test_directory_without_images(tmp_path, contents):
    directory = tmp_path / "data"
    if contents != "missing":
        directory.mkdir()
        (directory / "empty_class").mkdir()
    if contents == "text only":
        (directory / "notes.txt").write_text("no images here")
    expected = "existing directory" if contents == "missing" else "holds none"
    with pytest.raises(ValueError, match=expected) as raised:
        data.from_directory(directory)
    assert str(directory) in str(raised.value)


def test_directory_with_images_beside_class_folders(class_folders):
    directory, _ = class_folders
    write_png(directory / "stray.png", np.zeros((8, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="both in class subfolders.*'stray.png'"):
        data.from_directory(directory)


def test_directory_with_an_unreadable_image(tmp_path):
    write_png(tmp_path / "good.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        data.from_directory(tmp_path)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".gif", ".jpg"])
def test_directory_reads_every_image_format(tmp_path, suffix):
    from PIL import Image

    flat = np.zeros((8, 8, 3), np.uint8)
    flat[..., 0], flat[..., 1], flat[..., 2] = 200, 100, 50  # one colour, exact in a GIF palette
    Image.fromarray(flat).save(tmp_path / f"image{suffix}")
    images = next(iter(data.from_directory(tmp_path, batch_size=1))).numpy()
    assert images.shape == (1, 8, 8, 3)
    tolerance = 3 / 255 if suffix == ".jpg" else 1e-7  # JPEG is lossy
    np.testing.assert_allclose(images[0], flat / 255.0, atol=tolerance)
    grey = next(iter(data.from_directory(tmp_path, batch_size=1, color_mode="grayscale")))
    assert grey.shape == (1, 8, 8, 1)
    luma = (0.2989 * 200 + 0.5870 * 100 + 0.1140 * 50) / 255
    np.testing.assert_allclose(grey.numpy(), luma, atol=tolerance + 1 / 255)


def test_skip_unreadable_leaves_out_a_truncated_file_with_a_warning(tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, size=(4, 8, 8), dtype=np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / f"{index}.png")
    (tmp_path / "2.png").write_bytes((tmp_path / "2.png").read_bytes()[:60])
    with pytest.raises(ValueError, match=r"unreadable image file\(s\), e\.g\. '.*2\.png'"):
        data.directory_info(tmp_path)
    with pytest.warns(UserWarning, match=r"Leaving out 1 unreadable image file\(s\).*2\.png"):
        dataset = data.from_directory(tmp_path, batch_size=8, skip_unreadable=True)
    assert [Path(path).name for path in sorted(dataset.file_paths)] == ["0.png", "1.png",
                                                                         "3.png"]
    images = np.concatenate(list(dataset.as_numpy_iterator()))
    by_name = {Path(path).name: image for path, image in zip(dataset.file_paths, images,
                                                             strict=True)}
    for index in (0, 1, 3):
        np.testing.assert_allclose(by_name[f"{index}.png"][..., 0], pixels[index] / 255.0,
                                   rtol=1e-6)
    with pytest.raises(TypeError, match="received skip_unreadable='yes'"):
        data.from_directory(tmp_path, skip_unreadable="yes")

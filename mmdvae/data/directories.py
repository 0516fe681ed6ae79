"""Source: the user's own image files, in a directory (class subfolders give labels).

Only the file headers are read up front (sizes and colour modes, and the
files' ends to find those cut short); the pixels are streamed.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.data import pipeline
from mmdvae.data.catalogue import DatasetInfo, check_image_size, check_labels_exist

#: Image file types ``from_directory`` reads (those of
#: ``keras.utils.image_dataset_from_directory``).
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
COLOR_MODES = (None, "grayscale", "rgb")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


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
        batch_size, shuffle, seed, train_size, binarize, threshold, with_labels, drop_remainder:
            as for ``load``.
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
    options = pipeline.Options.checked(batch_size, shuffle, seed, binarize, threshold,
                                       drop_remainder, image_size, pipeline.SHUFFLE_BUFFER)
    if train_size is not None:
        checks.check_positive_int("train_size", train_size)
    skip_unreadable = _check_skip_flag(skip_unreadable)
    found = _index_directory(directory, options.image_size, color_mode, skip_unreadable)
    description = found.info
    check_labels_exist(description, with_labels)
    paths, labels = found.paths, found.labels
    if train_size is not None:
        if train_size > len(paths):
            raise ValueError(
                f"Argument `train_size` must be between 1 and {len(paths)} (the number of "
                f"images in {os.fspath(directory)!r}); received train_size={train_size!r}."
            )
        paths, labels = paths[:train_size], labels[:train_size]

    height, width, channels = description.image_shape
    shuffle_seed, _ = pipeline.derive_seeds(options.seed)
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
            image = pipeline.resize_to_uint8(tf.cast(image, tf.float32), (height, width))
        image = tf.ensure_shape(tf.cast(image, tf.uint8), (height, width, channels))
        return {"images": image, **features}

    dataset = dataset.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    if skip_unreadable:
        # Damage inside a file that its header and end do not show.
        dataset = dataset.ignore_errors(log_warning=True)
    dataset = pipeline.finish(
        dataset, dataclasses.replace(options, shuffle=False, image_size=None), shuffle_size=0)
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
    return _index_directory(directory, check_image_size(image_size), color_mode,
                            _check_skip_flag(skip_unreadable)).info


def _with_channels(image, channels):
    """A decoded image (1 to 4 channels) as grey (luma) or RGB, dropping alpha."""
    stored = tf.shape(image)[-1]
    if channels == 3:
        return tf.cond(stored < 3, lambda: tf.tile(image[..., :1], [1, 1, 3]),
                       lambda: image[..., :3])

    def luma():
        grey = tf.tensordot(tf.cast(image[..., :3], tf.float32),
                            tf.constant(pipeline.LUMA_WEIGHTS), 1)
        return tf.cast(tf.round(tf.clip_by_value(grey, 0.0, 255.0)), tf.uint8)[..., None]

    return tf.cond(stored < 3, lambda: image[..., :1], luma)


# === Listing and checking the files ===


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


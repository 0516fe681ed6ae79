"""Source: tensorflow-datasets, streamed from its files (or, for MNIST, read whole).

The named datasets of ``catalogue.RECIPES`` and any other tensorflow-datasets
image dataset (``"cifar100"``, ``"imagenet_resized/64x64"``) are downloaded on
first use into ``~/tensorflow_datasets`` or ``$TFDS_DATA_DIR``, then decoded,
preprocessed and rounded to 8 bits before the shuffle buffer, so a split
never needs to fit in memory. When the download hosts cannot be reached,
loading fails within ``CONNECT_TIMEOUT`` seconds, in one line, and leaves no
``incomplete.*`` folder behind.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmdvae.data import pipeline
from mmdvae.data.catalogue import (
    DATASETS,
    ENV_VAR,
    IMAGE_SHAPE,
    RECIPES,
    TFDS_SOURCE,
    DataNotFoundError,
    DatasetInfo,
    Recipe,
    unknown_name_message,
)

#: Seconds a download host (or its proxy) has to accept a connection before the
#: download is called off, instead of tensorflow-datasets' minutes of retries.
CONNECT_TIMEOUT = 5.0


# === Describing a dataset ===


@functools.lru_cache(maxsize=1)
def _builder_names() -> frozenset:
    import tensorflow_datasets as tfds

    return frozenset(tfds.list_builders(with_community_datasets=False))


@functools.lru_cache(maxsize=32)
def generic_recipe(name: str) -> tuple[Recipe, object]:
    """The recipe and builder of a tensorflow-datasets image dataset outside the catalogue."""
    if not name or name.split("/")[0] not in _builder_names():
        raise ValueError(unknown_name_message(name))
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except Exception as error:  # an unknown configuration, e.g. "cifar10/foo"
        raise ValueError(unknown_name_message(name, f" ({error})".replace("\n", " "))) from error
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
    recipe = Recipe(name, image_key=image_key, label_key=label_key,
                    stored_shape=tuple(image.shape),
                    max_value=int(np.iinfo(image.np_dtype).max))
    return recipe, builder


def describe(name: str, image_size) -> DatasetInfo:
    """The ``DatasetInfo`` of a tensorflow-datasets image dataset outside the catalogue."""
    recipe, builder = generic_recipe(name)
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
    return DatasetInfo(name, shape, num_classes, class_names, splits, download_size,
                       TFDS_SOURCE, preprocessing)


# === Streaming a split ===


def stream(name: str, split: str, description: DatasetInfo, options: pipeline.Options,
           train_size: int | None, with_labels: bool) -> tf.data.Dataset:
    """A split of ``name`` through the shared pipeline end, images already resized.

    Shuffles the files, then the examples through a buffer of
    ``options.shuffle_buffer`` examples (the whole split when it is smaller).
    """
    recipe, builder = (RECIPES[name], None) if name in RECIPES else generic_recipe(name)
    dataset = _examples(name, split, recipe, builder, description, options, train_size,
                        with_labels)
    examples = train_size or description.splits.get(split) or options.shuffle_buffer
    # The images are already resized, as 8-bit pixels.
    return pipeline.finish(dataset, dataclasses.replace(options, image_size=None),
                           shuffle_size=min(examples, options.shuffle_buffer))


def _examples(name, split, recipe: Recipe, builder, description, options, train_size,
              with_labels) -> tf.data.Dataset:
    """Streams a split's examples as ``{"images": uint8, "labels": int64}``."""
    import tensorflow_datasets as tfds

    if builder is None:
        builder = tfds.builder(recipe.tfds_name)
    try:
        download_and_prepare(name, builder)
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

    shuffle_seed, _ = pipeline.derive_seeds(options.seed)
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
            grey = tf.tensordot(tf.cast(image, tf.float32),
                                tf.constant(pipeline.LUMA_WEIGHTS), 1)
            image = 255.0 - grey[..., None]
            image = pipeline.resize_to_uint8(image, target)
        elif tuple(image.shape[:2]) != tuple(target):
            image = pipeline.resize_to_uint8(tf.cast(image, tf.float32), target)
        features = {"images": tf.ensure_shape(image, description.image_shape)}
        if with_labels:
            features["labels"] = tf.cast(example[recipe.label_key], tf.int64)
        return features

    return dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)


@functools.lru_cache(maxsize=4)
def read_whole_split(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read-only uint8 images (N, 28, 28, 1) and labels of an IDX dataset (may download)."""
    import tensorflow_datasets as tfds

    download_and_prepare(name, tfds.builder(name))
    images, labels = tfds.as_numpy(
        tfds.load(name, split=split, as_supervised=True, batch_size=-1)
    )
    images = np.asarray(images, dtype=np.uint8).reshape((-1, *IMAGE_SHAPE))
    labels = np.asarray(labels)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


# === Downloads ===


def unreachable(urls) -> str | None:
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


def download_and_prepare(name: str, builder) -> None:
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
    cannot_reach = unreachable(urls)
    if cannot_reach is not None:
        local = (f"pass data_dir= or set {ENV_VAR} to a directory holding its IDX files, or "
                 if name in DATASETS else "")
        raise DataNotFoundError(
            f"Could not download {name!r}: {cannot_reach}. For a local copy, {local}put a "
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

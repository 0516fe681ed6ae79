"""The end every source's pipeline shares: shuffle, batch, scale to float32, resize, binarise.

A source gives a `tf.data.Dataset` of ``{"images": ..., "labels": ...}``
elements (uint8 pixels or float values; labels optional) and ``finish`` turns
it into float32 images, or ``(images, labels)`` pairs, with the options every
source takes (``Options``). Sources held in memory go through ``from_memory``,
which shuffles indices instead of the examples themselves.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.data.catalogue import check_image_size

BINARIZE_MODES = (None, "fixed", "stochastic")
#: Examples held by a shuffle buffer of a streamed dataset (smaller splits are
#: shuffled whole).
SHUFFLE_BUFFER = 10_000
#: ITU-R 601 luma: the grey of an RGB pixel.
LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)


@dataclasses.dataclass(frozen=True)
class Options:
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
                image_size, shuffle_buffer) -> Options:
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
                   bool(drop_remainder), check_image_size(image_size), shuffle_buffer)


def derive_seeds(seed: int | None) -> tuple[int | None, int | None]:
    """Independent seeds for shuffling and for stochastic binarisation."""
    if seed is None:
        return None, None
    shuffle_seed, noise_seed = np.random.SeedSequence(seed).generate_state(2)
    return int(shuffle_seed), int(noise_seed)


def from_memory(images, labels, options: Options, max_value) -> tf.data.Dataset:
    """A dataset of in-memory examples (uint8 pixels or float values), shuffled whole.

    The pipeline shuffles and batches the examples' indices and gathers each
    batch from the arrays: the data are held once, not again in a shuffle
    buffer, in the order a shuffle of the examples themselves would give.
    """
    features = {"images": tf.constant(images)}
    if labels is not None:
        features["labels"] = tf.constant(labels.astype(np.int64))
    indices = tf.data.Dataset.range(len(images))
    return finish(indices, options, shuffle_size=len(images), max_value=max_value,
                  lookup=lambda index: {name: tf.gather(values, index)
                                        for name, values in features.items()})


def finish(dataset, options: Options, shuffle_size: int, max_value=255,
           lookup=None) -> tf.data.Dataset:
    """Shuffles, batches, scales to float32 and binarises ``{"images", "labels"}`` elements.

    ``uint8`` images are divided by ``max_value``; other values are cast to
    float32 as they are. With ``lookup``, ``dataset`` holds indices and
    ``lookup`` turns each (batch of) indices into its elements.
    """
    shuffle_seed, noise_seed = derive_seeds(options.seed)
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
            image_batch = tf.clip_by_value(resize(image_batch, image_size), 0.0, 1.0)
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


def resize(images, size):
    """Bilinear resizing with antialiasing (as PIL's when shrinking)."""
    return tf.image.resize(images, size, method="bilinear", antialias=True)


def resize_to_uint8(images, size):
    """Resizes 0..255 float images and rounds them to 8 bits."""
    return tf.cast(tf.round(tf.clip_by_value(resize(images, size), 0.0, 255.0)), tf.uint8)

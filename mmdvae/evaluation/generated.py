"""Measures of generated images, judged by a small classifier of the real ones.

- ``train_image_classifier``: a small CNN trained on a dataset's real images,
  cached on disk.
- ``generate``: images decoded from prior samples.
- ``class_cross_entropy``: whether the model generates every class as often as
  the data holds it (the InfoVAE paper's mode coverage).
- ``classifier_frechet_distance``: the FID formula (Heusel et al., 2017) in the
  classifier's feature space.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmdvae import checks, files
from mmdvae.evaluation.latent import prior_samples

#: Default directory of cached image classifiers.
DEFAULT_CACHE_DIR = Path("~/.cache/mmdvae").expanduser()


def _classifier_network(image_shape, num_classes: int):
    import keras
    from keras import layers

    inputs = keras.Input(shape=image_shape, name="images")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    features = layers.Dense(128, activation="relu", name="features")(x)
    logits = layers.Dense(num_classes, name="logits")(features)
    return keras.Model(inputs, logits, name="image_classifier")


def train_image_classifier(
    dataset: str,
    data_dir=None,
    cache_dir=None,
    epochs: int = 2,
    train_size: int | None = None,
    seed: int = 0,
):
    """A small CNN classifier of a dataset's real images, cached on disk.

    Two convolutions (32 and 64 filters, 3x3, max-pooling), a 128-unit ``features``
    layer and class logits, trained with Adam on the training split. The first call
    trains it and writes ``{cache_dir}/{name}.keras`` and a JSON file with its test
    accuracy; later calls with the same arguments load it.

    Args:
        dataset: one of ``mmdvae.data.DATASETS``.
        data_dir: directory of the IDX files (see ``mmdvae.data``).
        cache_dir: where classifiers are cached; ``~/.cache/mmdvae`` by default.
        epochs, train_size, seed: training settings (part of the cache name).

    Returns:
        ``(classifier, info)``: a ``keras.Model`` from images to logits and a dict
        with ``test_accuracy`` and the cache ``path``.
    """
    import keras

    from mmdvae import data

    checks.check_choice("dataset", dataset, data.DATASETS)
    epochs = checks.check_positive_int("epochs", epochs)
    if train_size is not None:
        train_size = checks.check_positive_int("train_size", train_size)
    seed = checks.check_seed("seed", seed)
    cache_dir = Path(cache_dir).expanduser() if cache_dir else DEFAULT_CACHE_DIR
    name = f"{dataset}_classifier_e{epochs}_n{train_size or 'all'}_s{seed}"
    path = cache_dir / f"{name}.keras"
    info_path = cache_dir / f"{name}.json"
    if path.exists() and info_path.exists():
        return keras.saving.load_model(path), json.loads(info_path.read_text())

    images, labels = data.load_arrays(dataset, "train", data_dir=data_dir,
                                      train_size=train_size, with_labels=True)
    test_images, test_labels = data.load_arrays(dataset, "test", data_dir=data_dir,
                                                with_labels=True)
    keras.utils.set_random_seed(seed)
    classifier = _classifier_network(images.shape[1:], int(labels.max()) + 1)
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    classifier.fit(images, labels, batch_size=128, epochs=epochs, verbose=0)
    _, accuracy = classifier.evaluate(test_images, test_labels, batch_size=500, verbose=0)
    # Written through a temporary file and renamed, so a reader never sees half a file.
    files.write_atomically(path, classifier.save, suffix=".keras")
    info = {"test_accuracy": float(accuracy), "path": str(path), "epochs": epochs,
            "train_size": train_size, "dataset": dataset}
    files.write_json(info_path, info)
    return classifier, info


def classifier_outputs(classifier, images, batch_size: int = 500):
    """Returns ``(features, probabilities)`` of ``images`` (float64 arrays)."""
    import keras

    batch_size = checks.check_positive_int("batch_size", batch_size)
    images = np.asarray(images, dtype=np.float32)
    features_model = keras.Model(
        classifier.inputs[0],
        [classifier.get_layer("features").output, classifier.outputs[0]],
    )
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        feature, logits = features_model(images[start : start + batch_size], training=False)
        features.append(np.asarray(feature, dtype=np.float64))
        probabilities.append(np.asarray(tf.nn.softmax(logits), dtype=np.float64))
    return np.concatenate(features), np.concatenate(probabilities)


#: Most bytes of images ``generate`` returns (float32); more is refused before any work.
MAX_GENERATED_BYTES = 4 * 2**30


def check_generated_size(model, num_samples: int, argument: str = "num_samples") -> None:
    """Refuses a ``generate`` whose images would exceed ``MAX_GENERATED_BYTES``."""
    per_image = 4 * math.prod(model.image_shape)
    size = num_samples * per_image
    if size > MAX_GENERATED_BYTES:
        raise ValueError(
            f"Argument `{argument}` is too large: {argument}={num_samples} generated images "
            f"of shape {tuple(model.image_shape)} would take {size / 2**30:,.1f} GiB as "
            f"float32, more than MAX_GENERATED_BYTES={MAX_GENERATED_BYTES / 2**30:g} GiB; use "
            f"at most {MAX_GENERATED_BYTES // per_image:,}."
        )


def generate(model, num_samples: int, seed: int = 0, batch_size: int = 1000) -> np.ndarray:
    """``num_samples`` images decoded from prior samples drawn with ``seed``."""
    num_samples = checks.check_positive_int("num_samples", num_samples)
    batch_size = checks.check_positive_int("batch_size", batch_size)
    check_generated_size(model, num_samples)
    z = prior_samples(model, num_samples, seed).astype(np.float32)
    return np.asarray(model.decode(z, batch_size=batch_size))


def class_cross_entropy(real_labels, generated_probabilities,
                        num_classes: int | None = None) -> dict:
    """Cross-entropy between the real label distribution and the generated one.

    ```
    H(p_real, p_gen) = -sum_c p_real(c) log p_gen(c)
    ```

    ``p_real`` is the label frequency of the real data; ``p_gen`` the classifier's
    class probabilities averaged over generated images. Its minimum,
    ``H(p_real)``, is reached when the model generates every class as often as
    the data holds it (the InfoVAE paper's measure of mode coverage).

    Args:
        real_labels: ``[n]`` class indices in ``[0, num_classes)``.
        generated_probabilities: ``[m, num_classes]`` class probabilities.
        num_classes: the number of classes; the probabilities' width by default.

    Returns:
        ``{"cross_entropy": ..., "real_entropy": ...}`` in nats.
    """
    generated_probabilities = checks.check_matrix("generated_probabilities",
                                                  generated_probabilities)
    width = generated_probabilities.shape[1]
    if num_classes is not None:
        num_classes = checks.check_positive_int("num_classes", num_classes)
        if num_classes != width:
            raise ValueError(
                f"Argument `num_classes` must equal the width of "
                f"`generated_probabilities`, {width}; received num_classes={num_classes}."
            )
    if generated_probabilities.min() < 0 or generated_probabilities.max() > 1:
        raise ValueError(
            f"Argument `generated_probabilities` must hold probabilities in [0, 1]; "
            f"received values from {generated_probabilities.min():.6g} to "
            f"{generated_probabilities.max():.6g}."
        )
    real_labels = checks.check_labels("real_labels", real_labels, None, num_classes=width)
    if len(real_labels) == 0:
        raise ValueError("Argument `real_labels` is empty: received 0 labels.")
    real = np.bincount(real_labels, minlength=width).astype(np.float64)
    real /= real.sum()
    generated = generated_probabilities.mean(axis=0)
    present = real > 0
    return {
        "cross_entropy": float(-np.sum(real[present] * np.log(generated[present]))),
        "real_entropy": float(-np.sum(real[present] * np.log(real[present]))),
    }


def frechet_distance(mean_a, covariance_a, mean_b, covariance_b) -> float:
    """Frechet (2-Wasserstein) distance squared between two Gaussians.

    ```
    ||m_a - m_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))
    ```
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    covariance_a = np.atleast_2d(np.asarray(covariance_a, np.float64))
    covariance_b = np.atleast_2d(np.asarray(covariance_b, np.float64))
    if not (mean_a.shape == mean_b.shape == covariance_a.shape[:1] == covariance_b.shape[:1]
            and covariance_a.shape == covariance_b.shape == mean_a.shape * 2):
        raise ValueError(
            f"Arguments `mean_a`, `covariance_a`, `mean_b`, `covariance_b` must have "
            f"shapes (d,), (d, d), (d,), (d, d); received {mean_a.shape}, "
            f"{covariance_a.shape}, {mean_b.shape}, {covariance_b.shape}."
        )
    # tr (C_a C_b)^(1/2) = sum of the square roots of the eigenvalues of the
    # symmetric C_a^(1/2) C_b C_a^(1/2); this stays exact for singular
    # covariances (dead ReLU features) where a general matrix square root fails.
    values, vectors = np.linalg.eigh(covariance_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    product_values = np.linalg.eigvalsh(root_a @ covariance_b @ root_a)
    trace_root = np.sum(np.sqrt(np.clip(product_values, 0.0, None)))
    return float(np.sum(np.square(mean_a - mean_b)) + np.trace(covariance_a)
                 + np.trace(covariance_b) - 2.0 * trace_root)


def classifier_frechet_distance(real_features, generated_features) -> float:
    """Frechet distance of Gaussians fit to two sets of classifier features.

    The FID formula (Heusel et al., 2017), but in the feature space of the small
    classifier of ``train_image_classifier`` trained on the same dataset, not of
    Inception: its values are comparable only between models scored with the same
    classifier.
    """
    real = checks.check_matrix("real_features", real_features, 2)
    generated = checks.check_matrix("generated_features", generated_features, 2)
    checks.check_same_width("real_features", real, "generated_features", generated)
    return frechet_distance(real.mean(axis=0), np.cov(real, rowvar=False),
                            generated.mean(axis=0), np.cov(generated, rowvar=False))

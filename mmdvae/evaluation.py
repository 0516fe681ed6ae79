"""The papers' evaluation measures, as pure functions over a model and data.

Nothing here trains an autoencoder. Every function takes a trained model (any
``mmdvae.Autoencoder``) and arrays of images, or arrays of codes, and returns
numbers. Random draws come from an explicit integer ``seed``, so every measure
repeats exactly. Sums that decide the result (log-sum-exp of importance weights,
kernel sums, covariances) are taken in float64.

- ``log_likelihood``: importance-sampled ``log p(x)`` with the encoder as proposal,
  or the InfoVAE authors' estimator with prior samples as proposal.
- ``full_data_mmd``: the MMD between the codes of a whole held-out set and as many
  prior samples, in chunks (memory O(chunk^2)).
- ``log_det_covariance``: ``log det Cov[q(z)] / d``.
- ``train_image_classifier``, ``class_cross_entropy``,
  ``classifier_frechet_distance``: a small CNN trained on the real images judges
  the generated ones.
- ``latent_classification_accuracy``: a simple classifier on the codes of 100 or
  1000 labelled images, with optional input corruption (VIMAE paper).
- ``mutual_information``, ``active_units``, ``reconstruction_error``.

The definitions are those of the InfoVAE paper (Zhao, Song and Ermon, AAAI 2019)
and the VIMAE paper (Crescimanna and Graham); ``OBJECTIVES.md`` restates them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmdvae import kernels

CLASSIFIERS = ("knn", "svm", "logistic")
CORRUPTIONS = (None, "gaussian", "mask")
PROPOSALS = ("posterior", "prior")

#: Default directory of cached image classifiers.
DEFAULT_CACHE_DIR = Path("~/.cache/mmdvae").expanduser()


# === Argument checks ===


def _check_positive_int(argument: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Argument `{argument}` must be a positive integer; received "
            f"{argument}={value!r}."
        )


def _check_choice(argument: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(
            f"Argument `{argument}` must be one of {tuple(allowed)}; received "
            f"{argument}={value!r}."
        )


def _as_images(model, images, argument: str = "images") -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    expected = tuple(model.image_shape)
    if images.ndim != len(expected) + 1 or images.shape[1:] != expected:
        raise ValueError(
            f"Argument `{argument}` must have shape "
            f"(n, {', '.join(map(str, expected))}) "
            f"to match the model's image_shape={expected}; received shape "
            f"{images.shape}."
        )
    if len(images) == 0:
        raise ValueError(
            f"Argument `{argument}` is empty; at least one image is needed."
        )
    return images


def _as_codes(codes, argument: str, min_rows: int = 1) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] < min_rows:
        raise ValueError(
            f"Argument `{argument}` must have shape (n, latent_dim) with n >= "
            f"{min_rows}; received shape {codes.shape}."
        )
    return codes


def _require_gaussian_encoder(model, measure: str) -> None:
    if model.encoder_type != "gaussian":
        raise ValueError(
            f"{measure} needs a Gaussian encoder q(z|x); this "
            f"{type(model).__name__} has encoder_type={model.encoder_type!r}. "
            "Train it with encoder_type='gaussian'."
        )


def _require_labels(labels, images, argument: str) -> np.ndarray:
    if labels is None:
        raise ValueError(
            f"Argument `{argument}` is needed: this measure uses class labels, and "
            "none were given for the dataset."
        )
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(
            f"Argument `{argument}` must have shape ({len(images)},), one label per "
            f"image; received shape {labels.shape}."
        )
    return labels


# === Encoding ===


def posterior_parameters(model, images, batch_size: int = 500):
    """Returns ``(z_mean, z_log_var)`` of ``q(z|x)`` as float64 arrays.

    ``z_log_var`` is ``None`` for a deterministic encoder, whose code is returned
    as ``z_mean``.
    """
    images = _as_images(model, images)
    _check_positive_int("batch_size", batch_size)
    means, log_variances = [], []
    for start in range(0, len(images), batch_size):
        z, z_mean, z_log_var = model.posterior(
            tf.constant(images[start : start + batch_size])
        )
        if z_mean is None:
            z_mean = z
        else:
            log_variances.append(np.asarray(z_log_var, dtype=np.float64))
        means.append(np.asarray(z_mean, dtype=np.float64))
    z_mean = np.concatenate(means)
    return z_mean, (np.concatenate(log_variances) if log_variances else None)


def encode_dataset(model, images, sample: bool = True, seed: int = 0,
                   batch_size: int = 500) -> np.ndarray:
    """Codes of ``images`` (float64): samples of ``q(z|x)`` or its means.

    Samples (``sample=True``) are draws of the aggregate posterior ``q(z)``;
    a deterministic encoder's codes are the same either way.
    """
    z_mean, z_log_var = posterior_parameters(model, images, batch_size)
    if not sample or z_log_var is None:
        return z_mean
    noise = np.random.default_rng(seed).standard_normal(z_mean.shape)
    return z_mean + np.exp(0.5 * z_log_var) * noise


def prior_samples(model, num_samples: int, seed: int = 0) -> np.ndarray:
    """``num_samples`` draws of the model's prior (float64), from ``seed``."""
    _check_positive_int("num_samples", num_samples)
    samples = model.prior_samples(num_samples, seed=tf.constant([seed, 1]))
    return np.asarray(samples, dtype=np.float64)


# === Log-likelihood by importance sampling ===


@dataclasses.dataclass
class LogLikelihood:
    """An estimate of the mean ``log p(x)`` over images, in nats per image.

    Attributes:
        mean: the mean of the per-image estimates.
        standard_error: the Monte Carlo standard error of ``mean`` for these
            images (the spread of the sampling, not of the data).
        per_image: the ``[n]`` per-image estimates.
        per_image_standard_error: their ``[n]`` Monte Carlo standard errors.
        num_samples: proposal samples per image.
        proposal: ``"posterior"`` or ``"prior"``.
    """

    mean: float
    standard_error: float
    per_image: np.ndarray
    per_image_standard_error: np.ndarray
    num_samples: int
    proposal: str

    def as_dict(self) -> dict:
        return {
            "mean": self.mean,
            "standard_error": self.standard_error,
            "data_standard_error": float(
                np.std(self.per_image, ddof=1) / math.sqrt(len(self.per_image))
            ) if len(self.per_image) > 1 else float("nan"),
            "per_image_standard_error_rms": float(
                np.sqrt(np.mean(np.square(self.per_image_standard_error)))),
            "num_images": len(self.per_image),
            "num_samples": self.num_samples,
            "proposal": self.proposal,
        }


def decoder_log_likelihood(model, images, logits, std=None,
                           mse_variance: float | None = None):
    """``log p(x|z)`` per row of ``images`` given the decoder's outputs for ``z``.

    ``logits, std = model.decoder_outputs(z)``. Bernoulli and learned-std Gaussian
    decoders use ``model.reconstruction_terms`` (their negative log-likelihoods
    summed over pixels). The ``"mse"`` loss is no likelihood; ``mse_variance``
    makes it one by assuming a Gaussian of that fixed variance around the decoded
    image:

    ```
    log p(x|z) = -||x - decode(z)||^2 / (2 v) - D log(2 pi v) / 2
    ```
    """
    if model.reconstruction != "mse":
        return -model.reconstruction_terms(images, logits, std)
    _check_mse_variance(model, mse_variance)
    size = math.prod(model.image_shape)
    squared_error = model.reconstruction_terms(images, logits, std) * size
    return -squared_error / (2.0 * mse_variance) - 0.5 * size * math.log(
        2.0 * math.pi * mse_variance
    )


def _check_mse_variance(model, mse_variance) -> None:
    if model.reconstruction != "mse":
        return
    if mse_variance is None:
        raise ValueError(
            "The model's reconstruction='mse' is no likelihood; pass `mse_variance` "
            "(the fixed variance of an assumed Gaussian decoder) to estimate "
            "log p(x), or use a model with reconstruction='bernoulli' or 'gaussian'."
        )
    if not isinstance(mse_variance, numbers.Real) or not mse_variance > 0:
        raise ValueError(
            f"Argument `mse_variance` must be a number > 0; received "
            f"mse_variance={mse_variance!r}."
        )


def _log_mean_exp_and_error(log_weights: np.ndarray):
    """Per row: ``log mean exp(w)`` and its delta-method standard error."""
    num_samples = log_weights.shape[1]
    shifted = log_weights - log_weights.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    first = weights.sum(axis=1)
    second = np.square(weights).sum(axis=1)
    estimate = np.log(first / num_samples) + log_weights.max(axis=1)
    # Relative variance of the weights: K sum(w^2) / sum(w)^2 - 1.
    relative_variance = np.maximum(num_samples * second / np.square(first) - 1.0, 0.0)
    return estimate, np.sqrt(relative_variance / num_samples)


def _gaussian_log_density(z, z_mean, z_log_var):
    """``log N(z; mean, diag exp(log_var))`` summed over the last axis (float64)."""
    return -0.5 * np.sum(
        np.square(z - z_mean) / np.exp(z_log_var) + z_log_var + math.log(2.0 * math.pi),
        axis=-1,
    )


def log_likelihood(
    model,
    images,
    num_samples: int = 1000,
    proposal: str = "posterior",
    seed: int = 0,
    batch_size: int = 10_000,
    mse_variance: float | None = None,
) -> LogLikelihood:
    """Estimates ``log p(x)`` per image by importance sampling.

    ```
    posterior: log p(x) ~ logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)]
                          - log K,       z_k ~ q(z|x)
    prior:     log p(x) ~ logsumexp_k log p(x|z_k) - log K,      z_k ~ p(z)
    ```

    The posterior proposal (Burda et al., ICLR 2016) needs a Gaussian encoder.
    The prior proposal is the InfoVAE authors' evaluation script's estimator, far
    noisier for the same ``K``; as there, one set of prior samples serves every
    image, while the posterior proposal draws for each image. The standard error
    of each per-image estimate is the delta-method one, ``sd(w) / (sqrt(K)
    mean(w))`` for the importance weights ``w``; it is itself uncertain when a few
    weights dominate, and it measures the spread of the sampling only: an encoder
    much narrower than the true posterior (an MMD-VAE's, with no KL term) gives
    steady weights and a small error around an estimate that is biased low.

    Args:
        model: a trained ``Autoencoder``.
        images: ``[n, *image_shape]`` images.
        num_samples: ``K``, proposal samples per image. Default 1000.
        proposal: ``"posterior"`` (default) or ``"prior"``.
        seed: integer seed of the draws.
        batch_size: (image, sample) pairs decoded at once.
        mse_variance: assumed decoder variance of a ``reconstruction="mse"``
            model, see ``decoder_log_likelihood``.

    Returns:
        A ``LogLikelihood`` (nats per image).
    """
    _check_choice("proposal", proposal, PROPOSALS)
    _check_positive_int("num_samples", num_samples)
    _check_positive_int("batch_size", batch_size)
    images = _as_images(model, images)
    if proposal == "posterior":
        _require_gaussian_encoder(model, "log_likelihood(proposal='posterior')")
    _check_mse_variance(model, mse_variance)
    if proposal == "prior":
        return _prior_log_likelihood(model, images, num_samples, seed, batch_size,
                                     mse_variance)
    rng = np.random.default_rng(seed)
    z_mean, z_log_var = posterior_parameters(model, images)
    estimates = np.empty(len(images))
    errors = np.empty(len(images))
    sample_batch = min(num_samples, batch_size)
    for index, image in enumerate(images):
        log_weights = np.empty(num_samples)
        for start in range(0, num_samples, sample_batch):
            count = min(sample_batch, num_samples - start)
            noise = rng.standard_normal((count, model.latent_dim))
            z = z_mean[index] + np.exp(0.5 * z_log_var[index]) * noise
            z32 = tf.constant(z, dtype=tf.float32)
            repeated = tf.constant(np.broadcast_to(image, (count, *image.shape)))
            log_weights[start : start + count] = (
                np.asarray(decoder_log_likelihood(
                    model, repeated, *model.decoder_outputs(z32), mse_variance
                ), np.float64)
                + np.asarray(model.prior.log_prob(z32), dtype=np.float64)
                - _gaussian_log_density(z, z_mean[index], z_log_var[index])
            )
        estimate, error = _log_mean_exp_and_error(log_weights[np.newaxis])
        estimates[index], errors[index] = estimate[0], error[0]
    return LogLikelihood(
        mean=float(estimates.mean()),
        standard_error=float(np.sqrt(np.sum(np.square(errors))) / len(errors)),
        per_image=estimates,
        per_image_standard_error=errors,
        num_samples=num_samples,
        proposal="posterior",
    )


def _prior_log_likelihood(model, images, num_samples, seed, batch_size, mse_variance):
    """The prior-proposal estimate; the ``K`` prior samples serve every image."""
    log_weights = np.empty((len(images), num_samples))
    z_batch = min(num_samples, 1000)
    image_batch = max(1, batch_size // z_batch)
    samples = prior_samples(model, num_samples, seed).astype(np.float32)
    ones = [1] * len(model.image_shape)
    for start in range(0, num_samples, z_batch):
        z = tf.constant(samples[start : start + z_batch])
        logits, std = model.decoder_outputs(z)
        count = int(logits.shape[0])
        for first in range(0, len(images), image_batch):
            batch = tf.constant(images[first : first + image_batch])
            size = int(batch.shape[0])
            pairs = decoder_log_likelihood(
                model,
                tf.repeat(batch, count, axis=0),
                tf.tile(logits, [size, *ones]),
                None if std is None else tf.tile(std, [size, *ones]),
                mse_variance,
            )
            log_weights[first : first + size, start : start + count] = np.reshape(
                np.asarray(pairs, np.float64), (size, count)
            )
    estimates, errors = _log_mean_exp_and_error(log_weights)
    # Shared samples make the images' errors correlated: the delta-method error
    # of the mean is that of the per-sample average of w_ik / mean_k(w_ik).
    normalised = np.exp(log_weights - estimates[:, np.newaxis]).mean(axis=0)
    standard_error = (
        float(np.std(normalised, ddof=1) / math.sqrt(num_samples))
        if num_samples > 1 else float("inf")
    )
    return LogLikelihood(
        mean=float(estimates.mean()),
        standard_error=standard_error,
        per_image=estimates,
        per_image_standard_error=errors,
        num_samples=num_samples,
        proposal="prior",
    )


# === Divergences and shape of q(z) ===


def full_data_mmd(
    x,
    y,
    kernel="tutorial",
    estimator: str = "biased",
    chunk_size: int = 1000,
    **kernel_kwargs,
) -> float:
    """Squared MMD between two whole sample sets, in chunks, summed in float64.

    The same estimators and kernels as ``mmdvae.kernels.compute_mmd`` (which it
    equals), but the kernel matrices are formed ``chunk_size x chunk_size`` blocks
    at a time from float64 inputs, so memory stays O(chunk_size^2) whatever
    ``n`` and ``m``. Blocks below the diagonal of the within-sample sums are the
    transposes of those above and are counted twice instead of computed.

    Args:
        x: ``[n, d]`` samples, e.g. the codes of a held-out set.
        y: ``[m, d]`` samples, e.g. as many prior samples.
        kernel: a name in ``mmdvae.kernels.KERNELS`` or a callable.
        estimator: ``"biased"`` or ``"unbiased"``.
        chunk_size: rows per block.
        **kernel_kwargs: passed to ``mmdvae.kernels.get_kernel``.

    Returns:
        The squared MMD as a Python float.
    """
    kernel_function = kernels.get_kernel(kernel, **kernel_kwargs)
    _check_choice("estimator", estimator, kernels.ESTIMATORS)
    _check_positive_int("chunk_size", chunk_size)
    unbiased = estimator == "unbiased"
    x = _as_codes(x, "x", 2 if unbiased else 1)
    y = _as_codes(y, "y", 2 if unbiased else 1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"Arguments `x` and `y` must have the same number of columns; received "
            f"shapes {x.shape} and {y.shape}."
        )

    def blocks(array):
        return [tf.constant(array[start : start + chunk_size])
                for start in range(0, len(array), chunk_size)]

    def within_sum(parts):
        total = 0.0
        for row, first in enumerate(parts):
            # `kernel(a, a)` with one tensor gets an exact zero diagonal distance.
            matrix = kernel_function(first, first)
            total += float(tf.reduce_sum(matrix))
            if unbiased:
                total -= float(tf.linalg.trace(matrix))
            for second in parts[row + 1 :]:
                total += 2.0 * float(tf.reduce_sum(kernel_function(first, second)))
        return total

    def cross_sum(first_parts, second_parts):
        return sum(float(tf.reduce_sum(kernel_function(first, second)))
                   for first in first_parts for second in second_parts)

    x_parts, y_parts = blocks(x), blocks(y)
    num_x, num_y = float(len(x)), float(len(y))
    x_pairs = num_x * (num_x - 1.0) if unbiased else num_x * num_x
    y_pairs = num_y * (num_y - 1.0) if unbiased else num_y * num_y
    return (within_sum(x_parts) / x_pairs + within_sum(y_parts) / y_pairs
            - 2.0 * cross_sum(x_parts, y_parts) / (num_x * num_y))


def log_det_covariance(codes) -> float:
    """``log det Cov[z] / d`` of ``[n, d]`` codes, in float64.

    0 when the codes have identity covariance, ``log(c)`` for ``c I``. The InfoVAE
    paper uses it to show ELBO's ``q(z)`` spreading beyond the prior's.
    """
    codes = _as_codes(codes, "codes", 2)
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    sign, log_det = np.linalg.slogdet(covariance)
    if sign <= 0:
        return float("-inf")
    return float(log_det / codes.shape[1])


# === Information in the codes ===


def mutual_information(z_mean, z_log_var, seed: int = 0,
                       chunk_size: int = 1000) -> float:
    """Monte Carlo ``I_q(x; z)`` of a Gaussian encoder over a dataset, in nats.

    With ``q(z) = 1/N sum_n q(z|x_n)`` the aggregate posterior of the ``N`` images:

    ```
    I_q(x; z) = E_x E_q(z|x) [log q(z|x) - log q(z)]
    ```

    estimated with one draw ``z ~ q(z|x_i)`` per image. It cannot exceed
    ``log N``.

    Args:
        z_mean, z_log_var: ``[N, d]`` posterior parameters, see
            ``posterior_parameters``.
        seed: seed of the draws.
        chunk_size: draws evaluated against all ``N`` densities at once.
    """
    z_mean = _as_codes(z_mean, "z_mean")
    if z_log_var is None:
        raise ValueError(
            "mutual_information needs a Gaussian encoder (z_log_var); a "
            "deterministic encoder's I(x; z) is infinite for continuous x."
        )
    z_log_var = _as_codes(z_log_var, "z_log_var")
    if z_log_var.shape != z_mean.shape:
        raise ValueError(
            f"Arguments `z_mean` and `z_log_var` must have the same shape; received "
            f"{z_mean.shape} and {z_log_var.shape}."
        )
    _check_positive_int("chunk_size", chunk_size)
    num_images = len(z_mean)
    z = z_mean + np.exp(0.5 * z_log_var) * np.random.default_rng(seed).standard_normal(
        z_mean.shape
    )
    log_conditional = _gaussian_log_density(z, z_mean, z_log_var)
    log_marginal = np.empty(num_images)
    for start in range(0, num_images, chunk_size):
        chunk = z[start : start + chunk_size, np.newaxis, :]
        log_densities = _gaussian_log_density(chunk, z_mean, z_log_var)
        top = log_densities.max(axis=1)
        log_marginal[start : start + chunk_size] = top + np.log(
            np.mean(np.exp(log_densities - top[:, np.newaxis]), axis=1)
        )
    return float(np.mean(log_conditional - log_marginal))


def active_units(z_mean, threshold: float = 0.01) -> int:
    """Number of latent dimensions with ``Var_x E_q(z|x)[z_u] > threshold``.

    Burda, Grosse and Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
    """
    z_mean = _as_codes(z_mean, "z_mean", 2)
    return int(np.sum(np.var(z_mean, axis=0, ddof=1) > threshold))


def reconstruction_error(model, images, batch_size: int = 500) -> dict:
    """Errors of ``decode(encode(x))`` (posterior means) on ``images``.

    Returns ``{"mse_per_pixel": ..., "reconstruction_loss": ...}``: the squared
    error averaged over pixels and images, and the model's own reconstruction
    loss (see its ``reconstruction``) averaged over images.
    """
    images = _as_images(model, images)
    squared, own = 0.0, 0.0
    for start in range(0, len(images), batch_size):
        batch = tf.constant(images[start : start + batch_size])
        z = model.encode(batch)
        logits, std = model.decoder_outputs(z)
        squared += float(tf.reduce_sum(tf.cast(
            tf.square(model.decoded_images(z) - batch), tf.float64)))
        own += float(tf.reduce_sum(tf.cast(
            model.reconstruction_terms(batch, logits, std), tf.float64)))
    return {"mse_per_pixel": squared / images.size,
            "reconstruction_loss": own / len(images)}


# === Latent classification ===


def _make_classifier(classifier: str, num_labelled: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if classifier == "knn":
        return KNeighborsClassifier(n_neighbors=min(5, num_labelled))
    if classifier == "svm":
        return make_pipeline(StandardScaler(), SVC())
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def code_classification_accuracy(train_codes, train_labels, test_codes, test_labels,
                                 classifier: str = "knn") -> float:
    """Test accuracy of a scikit-learn classifier fit on labelled codes.

    ``"knn"``: 5 nearest neighbours in the code space; ``"svm"``: an RBF SVM and
    ``"logistic"``: logistic regression, both on standardised codes.
    """
    _check_choice("classifier", classifier, CLASSIFIERS)
    train_codes = _as_codes(train_codes, "train_codes")
    test_codes = _as_codes(test_codes, "test_codes")
    train_labels = _require_labels(train_labels, train_codes, "train_labels")
    test_labels = _require_labels(test_labels, test_codes, "test_labels")
    if len(np.unique(train_labels)) < 2:
        raise ValueError(
            "Argument `train_labels` must hold at least two classes; received "
            f"only {np.unique(train_labels).tolist()}."
        )
    model = _make_classifier(classifier, len(train_codes))
    model.fit(train_codes, train_labels)
    return float(np.mean(model.predict(test_codes) == test_labels))


def corrupt(images, corruption: str | None, level: float, seed: int = 0) -> np.ndarray:
    """Corrupts images as in the VIMAE paper.

    ``"gaussian"``: adds noise of standard deviation ``level`` and clips to
    ``[0, 1]``; ``"mask"``: sets each pixel to 0 with probability ``level``;
    ``None``: returns the images unchanged.
    """
    _check_choice("corruption", corruption, CORRUPTIONS)
    images = np.asarray(images, dtype=np.float32)
    if corruption is None:
        return images
    if not isinstance(level, numbers.Real) or not (
        level >= 0 and (corruption == "gaussian" or level <= 1)
    ):
        allowed = ">= 0" if corruption == "gaussian" else "in [0, 1]"
        raise ValueError(
            f"Argument `level` (the {corruption} corruption's "
            f"{'std' if corruption == 'gaussian' else 'masked fraction'}) must be "
            f"{allowed}; received level={level!r}."
        )
    rng = np.random.default_rng(seed)
    if corruption == "gaussian":
        noisy = images + level * rng.standard_normal(images.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32)
    return (images * (rng.random(images.shape) >= level)).astype(np.float32)


def latent_classification_accuracy(
    model,
    train_images,
    train_labels,
    test_images,
    test_labels,
    num_labelled: int = 1000,
    classifier: str = "knn",
    corruption: str | None = None,
    level: float = 0.0,
    seed: int = 0,
) -> float:
    """Accuracy of a classifier on codes from ``num_labelled`` labelled images.

    The VIMAE paper's semi-supervised measure (after Kingma et al., 2014): encode
    ``num_labelled`` training images drawn at random (``seed``) to their posterior
    means, fit a simple classifier on them, and score it on the codes of the test
    images. With ``corruption`` both sets are corrupted before encoding (see
    ``corrupt``), the paper's robustness test.
    """
    _check_positive_int("num_labelled", num_labelled)
    _check_choice("classifier", classifier, CLASSIFIERS)
    _check_choice("corruption", corruption, CORRUPTIONS)
    train_images = _as_images(model, train_images, "train_images")
    test_images = _as_images(model, test_images, "test_images")
    train_labels = _require_labels(train_labels, train_images, "train_labels")
    test_labels = _require_labels(test_labels, test_images, "test_labels")
    if num_labelled > len(train_images):
        raise ValueError(
            f"Argument `num_labelled` must be at most the number of labelled "
            f"training images, {len(train_images)}; received "
            f"num_labelled={num_labelled}."
        )
    chosen = np.random.default_rng(seed).choice(
        len(train_images), num_labelled, replace=False
    )
    corrupted_train = corrupt(train_images[chosen], corruption, level, seed + 1)
    corrupted_test = corrupt(test_images, corruption, level, seed + 2)
    return code_classification_accuracy(
        encode_dataset(model, corrupted_train, sample=False),
        train_labels[chosen],
        encode_dataset(model, corrupted_test, sample=False),
        test_labels,
        classifier,
    )


# === A classifier for generated images ===


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

    _check_choice("dataset", dataset, data.DATASETS)
    _check_positive_int("epochs", epochs)
    if train_size is not None:
        _check_positive_int("train_size", train_size)
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
    _, accuracy = classifier.evaluate(test_images, test_labels, batch_size=500,
                                      verbose=0)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so a reader never sees half a file.
    temporary = cache_dir / f".{name}.{os.getpid()}.keras"
    classifier.save(temporary)
    os.replace(temporary, path)
    info = {"test_accuracy": float(accuracy), "path": str(path), "epochs": epochs,
            "train_size": train_size, "dataset": dataset}
    info_path.write_text(json.dumps(info, indent=2))
    return classifier, info


def classifier_outputs(classifier, images, batch_size: int = 500):
    """Returns ``(features, probabilities)`` of ``images`` (float64 arrays)."""
    import keras

    features_model = keras.Model(
        classifier.inputs[0],
        [classifier.get_layer("features").output, classifier.outputs[0]],
    )
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        feature, logits = features_model(images[start : start + batch_size],
                                         training=False)
        features.append(np.asarray(feature, dtype=np.float64))
        probabilities.append(np.asarray(tf.nn.softmax(logits), dtype=np.float64))
    return np.concatenate(features), np.concatenate(probabilities)


def generate(model, num_samples: int, seed: int = 0, batch_size: int = 1000):
    """``num_samples`` images decoded from prior samples drawn with ``seed``."""
    z = prior_samples(model, num_samples, seed)
    return np.concatenate([
        np.asarray(model.decode(z[start : start + batch_size].astype(np.float32)))
        for start in range(0, num_samples, batch_size)
    ])


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

    Returns:
        ``{"cross_entropy": ..., "real_entropy": ...}`` in nats.
    """
    generated_probabilities = _as_codes(generated_probabilities,
                                        "generated_probabilities")
    num_classes = num_classes or generated_probabilities.shape[1]
    real = np.bincount(np.asarray(real_labels), minlength=num_classes)
    real = real.astype(np.float64)
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
    real = _as_codes(real_features, "real_features", 2)
    generated = _as_codes(generated_features, "generated_features", 2)
    return frechet_distance(real.mean(axis=0), np.cov(real, rowvar=False),
                            generated.mean(axis=0), np.cov(generated, rowvar=False))


# === Every measure at once ===

#: Names of the measures ``evaluate`` computes, in the order it reports them.
METRICS = (
    "log_likelihood",
    "prior_log_likelihood",
    "mmd",
    "log_det_covariance",
    "mutual_information",
    "active_units",
    "reconstruction_error",
    "latent_accuracy",
    "class_cross_entropy",
    "classifier_frechet_distance",
)


def unavailable_reason(model, metric: str, has_labels: bool,
                       mse_variance: float | None = None) -> str | None:
    """Why ``model`` cannot provide ``metric`` (``None`` when it can)."""
    _check_choice("metric", metric, METRICS)
    gaussian = model.encoder_type == "gaussian"
    if metric in ("log_likelihood", "mutual_information") and not gaussian:
        return (f"{metric} needs a Gaussian encoder; the model has "
                f"encoder_type={model.encoder_type!r}")
    if (metric in ("log_likelihood", "prior_log_likelihood")
            and model.reconstruction == "mse" and mse_variance is None):
        return (f"{metric} needs a likelihood; the model's reconstruction='mse' "
                "is none unless an mse_variance is given")
    if metric in ("latent_accuracy", "class_cross_entropy",
                  "classifier_frechet_distance") and not has_labels:
        return f"{metric} needs class labels, and the dataset has none"
    return None


def select_metrics(model, metrics=None, has_labels: bool = True,
                   mse_variance: float | None = None):
    """Returns ``(chosen, skipped)``: the measures to compute and why others are not.

    Asked-for measures the model cannot provide raise a ``ValueError`` that says
    why; with ``metrics=None`` they are skipped instead.
    """
    if metrics is None:
        chosen, skipped = [], {}
        for metric in METRICS:
            reason = unavailable_reason(model, metric, has_labels, mse_variance)
            if reason is None:
                chosen.append(metric)
            else:
                skipped[metric] = reason
        return chosen, skipped
    if isinstance(metrics, str):
        metrics = [metrics]
    for metric in metrics:
        _check_choice("metrics", metric, METRICS)
        reason = unavailable_reason(model, metric, has_labels, mse_variance)
        if reason is not None:
            raise ValueError(f"Cannot compute metric {metric!r}: {reason}.")
    return list(metrics), {}


def evaluate(
    model,
    test_images,
    test_labels=None,
    train_images=None,
    train_labels=None,
    metrics=None,
    image_classifier=None,
    log_likelihood_images: int = 100,
    importance_samples: int = 1000,
    prior_proposal_samples: int = 50_000,
    num_generated: int = 10_000,
    num_labelled=(100, 1000),
    latent_classifier: str = "knn",
    corruptions=(),
    kernel: str = "tutorial",
    mse_variance: float | None = None,
    seed: int = 0,
) -> dict:
    """Computes the chosen measures of ``model`` on a test set.

    Args:
        model: a trained ``Autoencoder``.
        test_images, test_labels: the held-out set (labels may be ``None``).
        train_images, train_labels: labelled training images for the latent
            classification accuracy.
        metrics: names in ``METRICS``; ``None`` computes every one the model and
            data allow and reports the others under ``"skipped"``.
        image_classifier: the classifier of ``train_image_classifier``, needed by
            ``class_cross_entropy`` and ``classifier_frechet_distance``.
        log_likelihood_images: test images whose log-likelihood is estimated.
        importance_samples: ``K`` of the posterior-proposal estimate.
        prior_proposal_samples: ``K`` of the prior-proposal estimate.
        num_generated: prior samples decoded for the classifier measures.
        num_labelled: sizes of the labelled sets of the latent accuracy.
        latent_classifier: one of ``CLASSIFIERS``.
        corruptions: ``(corruption, level)`` pairs for the latent accuracy.
        kernel: MMD kernel name.
        mse_variance: see ``decoder_log_likelihood``.
        seed: seed of every draw.

    Returns:
        A JSON-ready dict ``{metric: value or dict, ..., "skipped": {...},
        "seconds": {metric: time}}``.
    """
    import time

    test_images = _as_images(model, test_images, "test_images")
    has_labels = test_labels is not None
    chosen, skipped = select_metrics(model, metrics, has_labels, mse_variance)
    if "latent_accuracy" in chosen:
        train_labels = _require_labels(train_labels, train_images, "train_labels")
        for size in num_labelled:
            _check_positive_int("num_labelled", size)
            if size > len(train_images):
                raise ValueError(
                    f"Argument `num_labelled` must be at most the number of labelled "
                    f"training images, {len(train_images)}; received {size}."
                )
    if {"class_cross_entropy", "classifier_frechet_distance"} & set(chosen):
        if image_classifier is None:
            raise ValueError(
                "The classifier measures need `image_classifier` (see "
                "train_image_classifier); received None."
            )
        _require_labels(test_labels, test_images, "test_labels")

    results, seconds = {}, {}
    needs_codes = {"mmd", "log_det_covariance", "mutual_information", "active_units"}
    if needs_codes & set(chosen):
        z_mean, z_log_var = posterior_parameters(model, test_images)
        codes = z_mean if z_log_var is None else z_mean + np.exp(
            0.5 * z_log_var
        ) * np.random.default_rng(seed).standard_normal(z_mean.shape)
    generated_outputs = None
    for metric in chosen:
        start = time.perf_counter()
        if metric == "log_likelihood":
            results[metric] = log_likelihood(
                model, test_images[:log_likelihood_images], importance_samples,
                "posterior", seed, mse_variance=mse_variance).as_dict()
        elif metric == "prior_log_likelihood":
            results[metric] = log_likelihood(
                model, test_images[:log_likelihood_images], prior_proposal_samples,
                "prior", seed, mse_variance=mse_variance).as_dict()
        elif metric == "mmd":
            results[metric] = full_data_mmd(
                codes, prior_samples(model, len(codes), seed), kernel=kernel)
        elif metric == "log_det_covariance":
            results[metric] = log_det_covariance(codes)
        elif metric == "mutual_information":
            results[metric] = mutual_information(z_mean, z_log_var, seed)
        elif metric == "active_units":
            results[metric] = active_units(z_mean)
        elif metric == "reconstruction_error":
            results[metric] = reconstruction_error(model, test_images)
        elif metric == "latent_accuracy":
            accuracies = {}
            for size in num_labelled:
                for corruption, level in [(None, 0.0), *corruptions]:
                    name = (f"{size}" if corruption is None
                            else f"{size}_{corruption}_{level:g}")
                    accuracies[name] = latent_classification_accuracy(
                        model, train_images, train_labels, test_images, test_labels,
                        size, latent_classifier, corruption, level, seed)
            results[metric] = accuracies
        else:
            if generated_outputs is None:
                generated = generate(model, num_generated, seed)
                generated_outputs = classifier_outputs(image_classifier, generated)
                real_outputs = classifier_outputs(image_classifier, test_images)
            if metric == "class_cross_entropy":
                results[metric] = class_cross_entropy(test_labels, generated_outputs[1])
            else:
                results[metric] = classifier_frechet_distance(
                    real_outputs[0], generated_outputs[0])
        seconds[metric] = time.perf_counter() - start
    if {"log_likelihood", "prior_log_likelihood"} <= set(results):
        results["log_likelihood_compute_ratio"] = _compute_ratio(
            results["log_likelihood"], results["prior_log_likelihood"])
    results["skipped"] = skipped
    results["seconds"] = seconds
    return results


def _compute_ratio(posterior: dict, prior: dict) -> float:
    """Prior-proposal samples per encoder-proposal sample for equal per-image error.

    Both errors fall as ``1 / sqrt(K)``, so the prior proposal needs
    ``K_prior (se_prior / se_posterior)^2`` samples to match the encoder proposal's
    error with ``K_posterior``; each sample costs one decoder evaluation.
    """
    needed = prior["num_samples"] * (
        prior["per_image_standard_error_rms"]
        / posterior["per_image_standard_error_rms"]) ** 2
    return float(needed / posterior["num_samples"])


def flatten(results: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, numbers only (for tables)."""
    flat = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, numbers.Number) and not isinstance(value, bool):
            flat[name] = value
    return flat

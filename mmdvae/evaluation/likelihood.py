"""How well the decoder explains held-out images: ``log p(x)`` and reconstructions.

- ``log_likelihood``: importance-sampled ``log p(x)`` with the encoder as proposal
  (Burda, Grosse and Salakhutdinov, ICLR 2016), or the InfoVAE authors'
  estimator with prior samples as proposal.
- ``decoder_log_likelihood``: ``log p(x|z)`` from the model's likelihood object.
- ``reconstruction_error``: errors of ``decode(encode(x))``.

The importance weights of many images are computed at once, ``batch_size``
(image, sample) pairs per decoder call; their log-sum-exp is taken in float64.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from mmdvae import checks, validation
from mmdvae.evaluation.latent import _gaussian_log_density, posterior_parameters, prior_samples
from mmdvae.runtime import full_precision

PROPOSALS = ("posterior", "prior")

#: Most memory an estimate may hold (its importance weights and draws); a larger
#: ``num_samples`` is refused before any work, with the estimate.
MAX_LOG_LIKELIHOOD_BYTES = 2 * 2**30


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
        num_images = len(self.per_image)
        return {
            "mean": self.mean,
            "standard_error": self.standard_error,
            "data_standard_error": float(
                np.std(self.per_image, ddof=1) / math.sqrt(num_images)
            ) if num_images > 1 else float("nan"),
            "per_image_standard_error_rms": float(
                np.sqrt(np.mean(np.square(self.per_image_standard_error)))),
            "num_images": num_images,
            "num_samples": self.num_samples,
            "proposal": self.proposal,
        }


def is_mean_squared_error(model) -> bool:
    """Whether the model's likelihood needs an assumed variance (``"mse"``) for ``log p(x|z)``."""
    return model.likelihood.needs_variance


def check_mse_variance(model, mse_variance) -> float | None:
    """``mse_variance`` as a float > 0 for an ``"mse"`` model, ``None`` otherwise.

    An ``"mse"`` model needs it to have a likelihood; any other model refuses it
    (its likelihood has its own variance). See ``Likelihood.check_variance``.
    """
    return model.likelihood.check_variance(mse_variance)


def decoder_log_likelihood(model, images, outputs, mse_variance: float | None = None):
    """``log p(x|z)`` of each row of ``images`` given the decoder's outputs for ``z``.

    ``outputs = model.decoder(z)``; the value is the likelihood's
    ``log_likelihood``: ``-negative_log_likelihood`` in nats, or for ``"mse"``
    the Gaussian of the fixed variance ``mse_variance``.
    """
    return model.likelihood.log_likelihood(images, outputs, variance=mse_variance)


def _log_mean_exp_and_error(log_weights: np.ndarray):
    """Per row: ``log mean exp(w)`` and its delta-method standard error."""
    num_samples = log_weights.shape[1]
    top = log_weights.max(axis=1)
    weights = np.exp(log_weights - top[:, np.newaxis])
    first = weights.sum(axis=1)
    second = np.square(weights).sum(axis=1)
    estimate = np.log(first / num_samples) + top
    # Relative variance of the weights: K sum(w^2) / sum(w)^2 - 1.
    relative_variance = np.maximum(num_samples * second / np.square(first) - 1.0, 0.0)
    return estimate, np.sqrt(relative_variance / num_samples)


def log_likelihood_bytes(num_images: int, num_samples: int, latent_dim: int,
                         proposal: str = "posterior", batch_size: int = 2000) -> int:
    """Bytes ``log_likelihood`` holds at most: its float64 weights and draws.

    The ``[n, K]`` log-weights (twice for the prior proposal's error), and the
    draws of ``q(z|x)`` for the images of one decoder batch (posterior) or the
    ``K`` prior draws (prior), with their temporaries.
    """
    if proposal == "prior":
        return 8 * (2 * num_images * num_samples + 2 * num_samples * latent_dim)
    rows = min(num_images, max(1, batch_size // num_samples))
    return 8 * (num_images * num_samples + 3 * rows * num_samples * (latent_dim + 1))


def check_log_likelihood_size(model, num_images: int, num_samples: int,
                              proposal: str = "posterior", batch_size: int = 2000,
                              argument: str = "num_samples") -> None:
    """Refuses a ``log_likelihood`` whose memory exceeds ``MAX_LOG_LIKELIHOOD_BYTES``."""
    size = log_likelihood_bytes(num_images, num_samples, model.latent_dim, proposal, batch_size)
    if size <= MAX_LOG_LIKELIHOOD_BYTES:
        return
    # Bytes per sample once the samples of one image fill a decoder batch.
    per_sample = log_likelihood_bytes(num_images, 1, model.latent_dim, proposal, batch_size=1)
    fits = MAX_LOG_LIKELIHOOD_BYTES // per_sample
    raise ValueError(
        f"Argument `{argument}` is too large: the {proposal}-proposal log-likelihood of "
        f"{num_images} images with {argument}={num_samples} would hold about "
        f"{size / 2**30:,.1f} GiB of importance weights and draws, more than "
        f"MAX_LOG_LIKELIHOOD_BYTES={MAX_LOG_LIKELIHOOD_BYTES / 2**30:g} GiB; use at most "
        f"about {fits:,} samples for {num_images} images, or fewer images per call."
    )


def log_likelihood(
    model,
    images,
    num_samples: int = 1000,
    proposal: str = "posterior",
    seed: int = 0,
    batch_size: int = 2000,
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
        images: ``[n, *image_shape]`` images, checked as ``fit`` checks them
            (floating point, finite, in the likelihood's range).
        num_samples: ``K``, proposal samples per image. Default 1000.
        proposal: ``"posterior"`` (default) or ``"prior"``.
        seed: integer seed of the draws.
        batch_size: (image, sample) pairs per decoder call: ``batch_size // K``
            images at once when ``K <= batch_size``, else one image in several
            calls. Default 2000.
        mse_variance: assumed decoder variance of an ``"mse"`` model, see
            ``decoder_log_likelihood``; refused for other models.

    Returns:
        A ``LogLikelihood`` (nats per image).
    """
    checks.check_choice("proposal", proposal, PROPOSALS)
    num_samples = checks.check_positive_int("num_samples", num_samples)
    batch_size = checks.check_positive_int("batch_size", batch_size)
    seed = checks.check_seed("seed", seed)
    if proposal == "posterior":
        validation.check_gaussian_encoder(model, "log_likelihood(proposal='posterior')")
    mse_variance = check_mse_variance(model, mse_variance)
    images = validation.checked_image_array(model, images)
    check_log_likelihood_size(model, len(images), num_samples, proposal, batch_size)
    if proposal == "prior":
        return _prior_log_likelihood(model, images, num_samples, seed, batch_size,
                                     mse_variance)
    return _posterior_log_likelihood(model, images, num_samples, seed, batch_size,
                                     mse_variance)


def _posterior_log_likelihood(model, images, num_samples, seed, batch_size, mse_variance):
    """The encoder-proposal estimate, many images per decoder call."""

    @tf.function(reduce_retracing=True)
    def decoder_and_prior(images, z):
        # images [b, *image_shape], z [b, k, d]: log p(x_i|z_ik) and log p(z_ik).
        num_images, count = tf.shape(z)[0], tf.shape(z)[1]
        codes = tf.reshape(z, [num_images * count, model.latent_dim])
        outputs = full_precision(model.decoder(codes, training=False))
        log_decoder = decoder_log_likelihood(
            model, tf.repeat(images, count, axis=0), outputs, mse_variance)
        log_prior = model.prior.log_prob(codes)
        return (tf.reshape(log_decoder, [num_images, count]),
                tf.reshape(log_prior, [num_images, count]))

    rng = np.random.default_rng(seed)
    z_mean, z_log_var = posterior_parameters(model, images)
    log_weights = np.empty((len(images), num_samples))
    images_per_batch = max(1, batch_size // num_samples)
    samples_per_call = min(num_samples, batch_size)
    for first in range(0, len(images), images_per_batch):
        rows = slice(first, first + images_per_batch)
        mean = z_mean[rows, np.newaxis]
        log_var = z_log_var[rows, np.newaxis]
        # Drawn image after image, as K draws per image in turn would be.
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal(
            (len(mean), num_samples, model.latent_dim))
        log_proposal = _gaussian_log_density(z, mean, log_var)
        batch = tf.constant(images[rows])
        for start in range(0, num_samples, samples_per_call):
            columns = slice(start, start + samples_per_call)
            log_decoder, log_prior = decoder_and_prior(
                batch, tf.constant(z[:, columns], tf.float32))
            log_weights[rows, columns] = (
                np.asarray(log_decoder, np.float64) + np.asarray(log_prior, np.float64)
                - log_proposal[:, columns])
    estimates, errors = _log_mean_exp_and_error(log_weights)
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

    @tf.function(reduce_retracing=True)
    def decoder_pairs(images, outputs):
        # images [b, *image_shape], outputs [k, ...]: log p(x_i|z_k), shape [b, k].
        num_images, count = tf.shape(images)[0], tf.shape(outputs)[0]
        tiled = tf.tile(outputs, tf.concat([[num_images], tf.ones_like(tf.shape(outputs))[1:]],
                                           axis=0))
        log_decoder = decoder_log_likelihood(
            model, tf.repeat(images, count, axis=0), tiled, mse_variance)
        return tf.reshape(log_decoder, [num_images, count])

    log_weights = np.empty((len(images), num_samples))
    samples_per_call = min(num_samples, batch_size)
    images_per_call = max(1, batch_size // samples_per_call)
    samples = prior_samples(model, num_samples, seed).astype(np.float32)
    for start in range(0, num_samples, samples_per_call):
        columns = slice(start, start + samples_per_call)
        outputs = full_precision(model.decoder(tf.constant(samples[columns]), training=False))
        for first in range(0, len(images), images_per_call):
            rows = slice(first, first + images_per_call)
            log_weights[rows, columns] = np.asarray(
                decoder_pairs(tf.constant(images[rows]), outputs), np.float64)
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


def reconstruction_error(model, images, batch_size: int = 500) -> dict:
    """Errors of ``decode(encode(x))`` (posterior means) on ``images``.

    Returns ``{"mse_per_pixel": ..., "reconstruction_loss": ...}``: the squared
    error of the shown image averaged over pixels and images, and the model's
    own reconstruction loss (its likelihood's negative log-likelihood) averaged
    over images.
    """
    images = validation.checked_image_array(model, images)
    batch_size = checks.check_positive_int("batch_size", batch_size)
    codes = model.encode(images, batch_size=batch_size)
    squared, own = 0.0, 0.0
    for start in range(0, len(images), batch_size):
        batch = tf.constant(images[start : start + batch_size])
        outputs = full_precision(model.decoder(codes[start : start + batch_size],
                                               training=False))
        squared += float(tf.reduce_sum(tf.cast(
            tf.square(model.likelihood.mean(outputs) - batch), tf.float64)))
        own += float(tf.reduce_sum(tf.cast(
            model.likelihood.negative_log_likelihood(batch, outputs), tf.float64)))
    return {"mse_per_pixel": squared / images.size, "reconstruction_loss": own / len(images)}

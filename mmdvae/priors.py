"""Priors over the latent vector, as tensorflow-probability distributions.

A prior is any ``tfp.distributions.Distribution`` whose event shape is
``[latent_dim]``. Names give the common ones, each independent per dimension:

- ``"normal"``: the standard normal; entropy ``log(2 pi e) / 2 = 1.419`` nats.
- ``"logistic"``: the standard logistic (scale 1); variance ``pi^2 / 3`` and
  entropy ``2`` nats, more than the normal's.
- ``"logistic_unit_variance"``: the logistic of the normal's variance, scale
  ``s = sqrt(3) / pi``; entropy ``log(s) + 2 = 1.404`` nats, less than the
  normal's, as the VIMAE paper's VIMAE-l prior ("the Logistic has less entropy
  than a Gaussian", Crescimanna and Graham, IJCNN 2020, section III-B).
- ``"uniform"``: uniform on ``[-1, 1]``.

Models store a named prior in their config; a model built on any other
distribution cannot be serialised by config (save its weights and rebuild it
with the same prior).
"""

import math

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

PRIORS = ("normal", "logistic", "logistic_unit_variance", "uniform")

#: The scale of the logistic whose variance ``pi^2 s^2 / 3`` is 1.
UNIT_VARIANCE_LOGISTIC_SCALE = math.sqrt(3.0) / math.pi


def get_prior(prior, latent_dim: int) -> tfd.Distribution:
    """Returns the prior named ``prior`` (or checks a given distribution).

    Args:
        prior: one of ``PRIORS`` or a ``tfp.distributions.Distribution`` with
            event shape ``[latent_dim]`` and an empty batch shape.
        latent_dim: the number of latent dimensions.
    """
    if isinstance(prior, tfd.Distribution):
        event_shape = prior.event_shape
        batch_shape = prior.batch_shape
        if event_shape.rank != 1 or event_shape[0] != latent_dim or batch_shape.rank != 0:
            raise ValueError(
                f"Argument `prior` must have event shape [{latent_dim}] "
                f"(latent_dim) and an empty batch shape; received a distribution "
                f"with event shape {event_shape} and batch shape {batch_shape}."
            )
        return prior
    if not isinstance(prior, str) or prior not in PRIORS:
        raise ValueError(
            f"Argument `prior` must be one of {PRIORS} or a "
            f"tfp.distributions.Distribution; received prior={prior!r}."
        )
    zeros = tf.zeros([latent_dim])
    ones = tf.ones([latent_dim])
    if prior == "normal":
        base = tfd.Normal(loc=zeros, scale=ones)
    elif prior == "logistic":
        base = tfd.Logistic(loc=zeros, scale=ones)
    elif prior == "logistic_unit_variance":
        base = tfd.Logistic(loc=zeros, scale=UNIT_VARIANCE_LOGISTIC_SCALE * ones)
    else:
        base = tfd.Uniform(low=-ones, high=ones)
    return tfd.Independent(base, reinterpreted_batch_ndims=1, name=f"{prior}_prior")


def prior_entropy(model_name: str, prior, prior_argument) -> float:
    """The prior's entropy ``H(p(z))`` in nats; a ValueError when it has no closed form."""
    try:
        return float(prior.entropy())
    except NotImplementedError:
        raise ValueError(
            f"{model_name} needs a prior with a closed-form entropy; received "
            f"prior={prior_argument!r}."
        ) from None

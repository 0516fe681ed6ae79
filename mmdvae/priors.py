"""Priors over the latent vector, as tensorflow-probability distributions.

A prior is any ``tfp.distributions.Distribution`` whose event shape is
``[latent_dim]``. Names give the common ones: ``"normal"`` (standard normal),
``"logistic"`` (standard logistic per dimension, the VIMAE-l prior) and
``"uniform"`` (uniform on ``[-1, 1]`` per dimension). Models store a named
prior in their config; a model built on any other distribution cannot be
serialised by config (save its weights and rebuild it with the same prior).
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

PRIORS = ("normal", "logistic", "uniform")


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
    else:
        base = tfd.Uniform(low=-ones, high=ones)
    return tfd.Independent(base, reinterpreted_batch_ndims=1, name=f"{prior}_prior")

"""VIMAE: the variational infomax autoencoder (an MMD-VAE with a Gaussian encoder)."""

import keras
import tensorflow as tf

from mmdvae.models.base import _pop_gaussian_encoder_type
from mmdvae.models.mmd_vae import MMDVAE


@keras.saving.register_keras_serializable(package="mmdvae")
class VIMAE(MMDVAE):
    """Variational InfoMax AutoEncoder, normal (VIMAE-n) or logistic (VIMAE-l) prior.

    ```
    loss = E_x E_q(z|x)[-log p(x|z)] + lambda_ * MMD(q(z), p(z))
    ```

    Crescimanna and Graham, "The Variational InfoMax AutoEncoder" (IJCNN 2020),
    eq. (5): a stochastic Gaussian encoder sampled by reparameterisation, and the
    divergence between the aggregate posterior and the prior estimated by the
    MMD (the ``MMDVAE`` machinery). ``VIMAE(prior="normal")`` is VIMAE-n,
    ``VIMAE(prior="logistic")`` VIMAE-l. The paper ties the network's capacity to
    the prior's entropy ``H(p(z))``, which ``capacity`` returns in nats
    (``d/2 log(2 pi e)`` for the standard normal, ``2 d`` for the standard
    logistic) and the model logs as ``capacity``.

    Args:
        latent_dim: size of the latent code.
        lambda_: weight of the MMD. Defaults to 1.
        prior: ``"normal"`` (default), ``"logistic"``, or any prior of
            ``mmdvae.priors`` with a closed-form entropy.
        kernel, bandwidth, estimator, num_prior_samples: see ``InfoVAE``.
        **kwargs: the ``Autoencoder`` arguments; the encoder is always Gaussian.

    Example:

    ```python
    model = mmdvae.VIMAE(latent_dim=20, prior="logistic")   # VIMAE-l
    model.capacity                                          # 40.0 nats
    model.compile()
    model.fit(images, epochs=10, batch_size=200)
    ```
    """

    extra_metric_names = ("mmd", "capacity")

    def __init__(self, latent_dim: int, lambda_: float = 1.0, prior="normal", **kwargs):
        _pop_gaussian_encoder_type("VIMAE", kwargs, "its encoder is stochastic")
        super().__init__(
            latent_dim, lambda_=lambda_, prior=prior, encoder_type="gaussian", **kwargs
        )
        try:
            entropy = self.prior.entropy()
        except NotImplementedError:
            raise ValueError(
                f"VIMAE needs a prior with a closed-form entropy (its capacity); "
                f"received prior={prior!r}."
            ) from None
        self._capacity = float(entropy)

    @property
    def capacity(self) -> float:
        """The prior's entropy ``H(p(z))`` in nats."""
        return self._capacity

    def regularizer(self, z, z_mean, z_log_var, images):
        loss, terms = super().regularizer(z, z_mean, z_log_var, images)
        terms["capacity"] = tf.constant(self.capacity, dtype=loss.dtype)
        return loss, terms

"""VIMAE: the variational infomax autoencoder (a Gaussian encoder and the MMD)."""

import keras
import tensorflow as tf

from mmdvae.models.mmd_vae import MMDVAE
from mmdvae.priors import prior_entropy


@keras.saving.register_keras_serializable(package="mmdvae")
class VIMAE(MMDVAE):
    """Variational InfoMax AutoEncoder, normal (VIMAE-n) or logistic (VIMAE-l) prior.

    ```
    loss = E_x E_q(z|x)[-log p(x|z)] + lambda_ * MMD(q(z), p(z))
    ```

    Crescimanna and Graham, "The Variational InfoMax AutoEncoder" (IJCNN 2020),
    eq. (5): a stochastic Gaussian encoder sampled by reparameterisation, and the
    divergence between the aggregate posterior and the prior estimated by the
    MMD. ``VIMAE(prior="normal")`` is VIMAE-n, ``VIMAE(prior="logistic")``
    VIMAE-l. The paper ties the network's capacity to the prior's entropy
    ``H(p(z))``, which ``capacity`` returns in nats (``d/2 log(2 pi e)`` for the
    standard normal, ``2 d`` for the standard logistic) and the model logs as
    ``capacity``. It is the ``MMDVAE`` with a Gaussian encoder and that metric.

    Args:
        latent_dim: size of the latent code.
        lambda_: weight of the MMD (>= 0), or a schedule of the step
            (``mmdvae.schedules``). Defaults to 1.
        prior: ``"normal"`` (default), ``"logistic"``, or any prior of
            ``mmdvae.priors`` with a closed-form entropy.
        **kwargs: the ``MMDVAE`` arguments (``kernel``, ``bandwidth``,
            ``estimator``, ``num_prior_samples``) and the ``Autoencoder``'s; the
            encoder is Gaussian.

    Example:

    ```python
    model = mmdvae.VIMAE(latent_dim=20, prior="logistic")   # VIMAE-l
    model.capacity                                          # 40.0 nats
    model.compile()
    model.fit(images, epochs=10, batch_size=200)
    ```
    """

    encoder_types = ("gaussian",)
    encoder_type_reason = "its encoder is stochastic"

    def __init__(self, latent_dim: int, lambda_: float = 1.0, prior="normal", **kwargs):
        super().__init__(latent_dim, lambda_=lambda_, prior=prior, **kwargs)
        self.capacity = prior_entropy("VIMAE", self.prior, prior)
        self.track("capacity")

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        loss, terms = super().regularizer(z, z_mean, z_log_var, images, training=training)
        return loss, {**terms, "capacity": tf.constant(self.capacity, dtype=loss.dtype)}

"""ELBO-VAE (and beta-VAE): reconstruction plus the KL of q(z|x) from p(z)."""

import keras

from mmdvae import divergences, schedules
from mmdvae.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="mmdvae")
class ELBOVAE(Autoencoder):
    """Variational autoencoder trained on the evidence lower bound.

    ```
    loss = E_x E_q(z|x)[-log p(x|z)] + beta * E_x KL(q(z|x) || p(z))
    ```

    Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014; ``beta != 1``
    is the beta-VAE (Higgins et al., ICLR 2017). In the InfoVAE family (Zhao,
    Song and Ermon, AAAI 2019) it is ``alpha = 1 - beta, lambda = beta``. The
    encoder is Gaussian and the KL is analytic for the standard normal prior
    (``mmdvae.divergences.kl_divergence``). The likelihood defaults to the
    Bernoulli, which makes the loss the negative ELBO in nats per image.

    Args:
        latent_dim: size of the latent code.
        beta: weight of the KL term (>= 0), or a schedule of the step such as
            a KL warm-up (``mmdvae.schedules.LinearWarmup``). Defaults to 1.
        **kwargs: the ``Autoencoder`` arguments (``"bernoulli"`` likelihood by
            default; the encoder is Gaussian).

    Example:

    ```python
    model = mmdvae.ELBOVAE(latent_dim=2, beta=1.0)
    model.compile()
    model.fit(images, epochs=10, batch_size=100)
    ```
    """

    encoder_types = ("gaussian",)
    encoder_type_reason = "the KL term needs a posterior distribution"
    default_likelihood = "bernoulli"
    uses_kl_divergence = True

    def __init__(self, latent_dim: int, beta: float = 1.0, **kwargs):
        beta = schedules.weight("beta", beta, minimum=0.0)
        super().__init__(latent_dim, **kwargs)
        self.beta = beta
        self.divergence = divergences.KL()
        self.track(self.divergence.name)
        self.track_weights(beta=beta)

    def get_config(self):
        return {**super().get_config(), "beta": schedules.serialize(self.beta)}

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        kl = self.divergence(z, z_mean, z_log_var, self.prior)
        return self.weight_now(self.beta) * kl, {self.divergence.name: kl}

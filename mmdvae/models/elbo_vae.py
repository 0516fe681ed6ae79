"""ELBO-VAE (and beta-VAE): the InfoVAE with alpha = 1 - beta, lambda = beta."""

import keras

from mmdvae.models.base import _pop_gaussian_encoder_type
from mmdvae.models.info_vae import InfoVAE

_NOT_ELBO_ARGUMENTS = (
    "alpha", "lambda_", "divergence", "kernel", "bandwidth", "estimator",
    "num_prior_samples", "encoder_type",
)


@keras.saving.register_keras_serializable(package="mmdvae")
class ELBOVAE(InfoVAE):
    """Variational autoencoder trained on the evidence lower bound.

    ```
    loss = E_x E_q(z|x)[-log p(x|z)] + beta * E_x KL(q(z|x) || p(z))
    ```

    Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014; ``beta != 1``
    is the beta-VAE (Higgins et al., ICLR 2017). In the InfoVAE family (Zhao,
    Song and Ermon, AAAI 2019) it is ``alpha = 1 - beta, lambda = beta``, so the
    divergence term vanishes. The encoder is Gaussian and the KL is analytic for
    the standard normal prior. The reconstruction term defaults to the Bernoulli
    cross-entropy summed over pixels, which makes the loss the negative ELBO in
    nats per image.

    Args:
        latent_dim: size of the latent code.
        beta: weight of the KL term (>= 0). Defaults to 1.
        reconstruction: defaults to ``"bernoulli"``.
        **kwargs: the ``Autoencoder`` arguments.

    Example:

    ```python
    model = mmdvae.ELBOVAE(latent_dim=2, beta=1.0)
    model.compile()
    model.fit(images, epochs=10, batch_size=100)
    ```
    """

    extra_metric_names = ("kl_divergence",)

    def __init__(
        self,
        latent_dim: int,
        beta: float = 1.0,
        reconstruction: str = "bernoulli",
        **kwargs,
    ):
        if not beta >= 0:
            raise ValueError(f"Argument `beta` must be >= 0; received beta={beta!r}.")
        _pop_gaussian_encoder_type("ELBOVAE", kwargs, "the KL term needs a posterior distribution")
        super().__init__(
            latent_dim,
            alpha=1.0 - beta,
            lambda_=beta,
            encoder_type="gaussian",
            reconstruction=reconstruction,
            **kwargs,
        )
        self.beta = float(beta)

    def get_config(self):
        config = super().get_config()
        for name in _NOT_ELBO_ARGUMENTS:
            config.pop(name, None)
        config["beta"] = self.beta
        return config

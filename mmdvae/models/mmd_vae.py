"""MMD-VAE: the InfoVAE with alpha = 1 and the maximum mean discrepancy."""

import keras

from mmdvae.models.info_vae import InfoVAE


@keras.saving.register_keras_serializable(package="mmdvae")
class MMDVAE(InfoVAE):
    """Maximum-mean-discrepancy variational autoencoder (InfoVAE, alpha = 1).

    ```
    loss = reconstruction_loss + lambda_ * MMD(q(z), p(z))
    ```

    The member of the InfoVAE family of the tutorial and the authors' code
    (Zhao, Song and Ermon, "InfoVAE: Information Maximizing Variational
    Autoencoders", AAAI 2019). The MMD compares the batch's codes with as many
    prior samples, using the tutorial's kernel ``exp(-||x - y||^2 / d^2)`` and the
    biased estimator by default. ``MMDVAE(latent_dim=20)`` is the tutorial's model:
    the dcgan networks, a deterministic encoder, the squared error averaged over
    pixels (``reconstruction="mse"``) and ``lambda_ = 1``. Because that error is a
    per-pixel mean, ``lambda_`` is relative to it: use a larger weight (the
    authors' evaluation script: 50; the paper: 1000 with summed likelihoods) with
    summed reconstruction terms.

    Args:
        latent_dim: size of the latent code.
        lambda_: weight of the MMD. Defaults to 1.
        kernel, bandwidth, estimator, num_prior_samples: see ``InfoVAE``.
        encoder_type: ``"deterministic"`` (default) or ``"gaussian"``.
        **kwargs: the ``Autoencoder`` arguments.

    Example:

    ```python
    model = mmdvae.MMDVAE(latent_dim=20)
    model.compile()
    model.fit(mmdvae.data.load("mnist", "train", batch_size=200), epochs=5)
    ```
    """

    extra_metric_names = ("mmd",)

    def __init__(self, latent_dim: int, lambda_: float = 1.0, **kwargs):
        super().__init__(latent_dim, alpha=1.0, lambda_=lambda_, divergence="mmd", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["alpha"], config["divergence"]
        return config

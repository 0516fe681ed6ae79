"""MMD-VAE: reconstruction plus the maximum mean discrepancy of q(z) from p(z)."""

import keras

from mmdvae import divergences, schedules
from mmdvae.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="mmdvae")
class MMDVAE(Autoencoder):
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
    pixels (``likelihood="mse"``) and ``lambda_ = 1``. Because that error is a
    per-pixel mean, ``lambda_`` is relative to it: use a larger weight (the
    authors' evaluation script: 50; the paper: 1000 with summed likelihoods) with
    summed likelihoods.

    Args:
        latent_dim: size of the latent code.
        lambda_: weight of the MMD (>= 0), or a schedule of the step
            (``mmdvae.schedules``). Defaults to 1.
        kernel, bandwidth, estimator, num_prior_samples: the MMD's, see
            ``mmdvae.divergences.MMD``.
        **kwargs: the ``Autoencoder`` arguments (deterministic encoder and
            ``"mse"`` likelihood by default).

    Example:

    ```python
    model = mmdvae.MMDVAE(latent_dim=20)
    model.compile()
    model.fit(mmdvae.data.load("mnist", "train", batch_size=200), epochs=5)
    ```
    """

    def __init__(self, latent_dim: int, lambda_: float = 1.0, kernel="tutorial",
                 bandwidth=None, estimator="biased", num_prior_samples=None, **kwargs):
        lambda_ = schedules.weight("lambda_", lambda_, minimum=0.0)
        divergence = divergences.MMD(kernel, bandwidth, estimator, num_prior_samples)
        super().__init__(latent_dim, **kwargs)

        # === Config ===
        self.lambda_ = lambda_
        self.divergence = divergence

        # === Metrics ===
        self.track(divergence.name)
        self.track_weights(lambda_=lambda_)

    def get_config(self):
        return {**super().get_config(), "lambda_": schedules.serialize(self.lambda_),
                **self.divergence.get_config()}

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        mmd = self.divergence(z, z_mean, z_log_var, self.prior, self.prior_samples)
        return self.weight_now(self.lambda_) * mmd, {self.divergence.name: mmd}

"""InfoVAE: the general objective of the InfoVAE family."""

import keras
import tensorflow as tf

from mmdvae import checks, divergences, schedules
from mmdvae.models.base import Autoencoder

DIVERGENCES = ("mmd", "stein")


@keras.saving.register_keras_serializable(package="mmdvae")
class InfoVAE(Autoencoder):
    """Information maximizing VAE with a divergence between q(z) and p(z).

    Minimises the InfoVAE objective (Zhao, Song and Ermon, "InfoVAE: Information
    Maximizing Variational Autoencoders", AAAI 2019):

    ```
    loss = E_x E_q(z|x)[-log p(x|z)]
           + (1 - alpha) E_x KL(q(z|x) || p(z))
           + (alpha + lambda_ - 1) D(q(z) || p(z))
    ```

    With ``divergence="mmd"``, ``D`` is the maximum mean discrepancy between the
    batch's codes and prior draws (``mmdvae.divergences.MMD``), logged as ``mmd``.
    With ``divergence="stein"``, ``D`` is the paper's appendix-B surrogate whose
    gradient is the Stein variational gradient of ``KL(q(z) || p(z))``
    (``mmdvae.divergences.Stein``), logged as ``stein_surrogate`` (a value
    without meaning of its own). ``alpha = 0, lambda_ = 1`` is the ELBO;
    ``alpha = 1`` is the MMD-VAE with weight ``lambda_``. A KL term
    (``alpha < 1``) needs a Gaussian encoder; it is logged as ``kl_divergence``
    whenever the encoder is Gaussian.

    Args:
        latent_dim: size of the latent code.
        alpha: the paper's information preference; ``alpha <= 1`` (the KL
            weight ``1 - alpha`` may not be negative). Defaults to 1.
        lambda_: the paper's divergence weight, with ``alpha + lambda_ - 1 >= 0``.
            Defaults to 1. Either may be a schedule of the step
            (``mmdvae.schedules``); a schedule's values are not checked.
        divergence: ``"mmd"`` (default) or ``"stein"``.
        kernel, bandwidth: the divergence's kernel, see ``mmdvae.kernels``.
        estimator, num_prior_samples: the MMD's, see ``mmdvae.divergences.MMD``
            (not used by the Stein divergence).
        **kwargs: the ``Autoencoder`` arguments.

    Example:

    ```python
    model = mmdvae.InfoVAE(latent_dim=20, alpha=0.5, lambda_=10,
                           encoder_type="gaussian")
    model.compile()
    model.fit(images, epochs=10, batch_size=200)
    ```
    """

    def __init__(self, latent_dim: int, alpha: float = 1.0, lambda_: float = 1.0,
                 divergence: str = "mmd", kernel="tutorial", bandwidth=None,
                 estimator="biased", num_prior_samples=None, **kwargs):
        alpha = schedules.weight("alpha", alpha, maximum=1.0)
        lambda_ = schedules.weight("lambda_", lambda_)
        constants = isinstance(alpha, schedules.Constant) and isinstance(
            lambda_, schedules.Constant)
        if constants and alpha.value + lambda_.value - 1.0 < 0.0:
            raise ValueError(
                f"Arguments `alpha` and `lambda_` must satisfy alpha + lambda_ - 1 >= 0 "
                f"(the divergence weight); received alpha={alpha.value}, "
                f"lambda_={lambda_.value}."
            )
        checks.check_choice("divergence", divergence, DIVERGENCES)
        if divergence == "mmd":
            part = divergences.MMD(kernel, bandwidth, estimator, num_prior_samples)
        else:
            part = divergences.Stein(kernel, bandwidth)
        super().__init__(latent_dim, **kwargs)
        if not (isinstance(alpha, schedules.Constant) and alpha.value == 1.0) and (
            self.encoder_type != "gaussian"
        ):
            shown = alpha.value if isinstance(alpha, schedules.Constant) else alpha
            raise ValueError(
                f"A KL term (alpha < 1) needs `encoder_type='gaussian'`; received "
                f"encoder_type={self.encoder_type!r} with alpha={shown}."
            )

        # === Config ===
        self.alpha = alpha
        self.lambda_ = lambda_
        self.divergence = part
        self.estimator = estimator
        self.num_prior_samples = num_prior_samples

        # === Metrics ===
        self.track("kl_divergence", part.name)
        self.track_weights(alpha=alpha, lambda_=lambda_)

    @property
    def min_batch_size(self) -> int:
        unused = (isinstance(self.alpha, schedules.Constant)
                  and isinstance(self.lambda_, schedules.Constant)
                  and self.alpha.value + self.lambda_.value == 1.0)
        return 1 if unused else self.divergence.min_batch_size

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": schedules.serialize(self.alpha),
            "lambda_": schedules.serialize(self.lambda_),
            "divergence": "mmd" if isinstance(self.divergence, divergences.MMD) else "stein",
            "kernel": self.divergence.kernel,
            "bandwidth": self.divergence.bandwidth,
            "estimator": self.estimator,
            "num_prior_samples": self.num_prior_samples,
        }

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        if z_mean is None:
            kl = tf.zeros([], dtype=z.dtype)
        else:
            kl = tf.reduce_mean(divergences.kl_divergence(z, z_mean, z_log_var, self.prior))
        divergence = self.divergence(z, self.prior, self.prior_samples)
        alpha, lambda_ = self.weight_now(self.alpha), self.weight_now(self.lambda_)
        loss = (1.0 - alpha) * kl + (alpha + lambda_ - 1.0) * divergence
        return loss, {"kl_divergence": kl, self.divergence.name: divergence}

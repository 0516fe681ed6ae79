"""InfoVAE: the general objective of the InfoVAE family."""

import keras
import tensorflow as tf

from mmdvae import divergences, schedules
from mmdvae.models.base import Autoencoder

#: Divergences ``InfoVAE`` takes by name.
DIVERGENCES = tuple(divergences.NAMED)

_DEFAULT_SETTINGS = {"kernel": "tutorial", "bandwidth": None, "estimator": "biased",
                     "num_prior_samples": None}


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
            (``mmdvae.schedules``) whose initial and final values obey the same
            bounds.
        divergence: ``"mmd"`` (default), ``"stein"``, or a
            ``mmdvae.divergences.Divergence`` object (e.g.
            ``divergences.MMD(kernel="rbf", bandwidth=1.0)``).
        kernel, bandwidth: the named divergence's kernel, see ``mmdvae.kernels``.
        estimator, num_prior_samples: the named MMD's, see
            ``mmdvae.divergences.MMD`` (not used by the Stein divergence).
        **kwargs: the ``Autoencoder`` arguments.

    Example:

    ```python
    model = mmdvae.InfoVAE(latent_dim=20, alpha=0.5, lambda_=10,
                           encoder_type="gaussian")
    model.compile()
    model.fit(images, epochs=10, batch_size=200)
    ```
    """

    #: The KL divergence is computed (and logged) whenever the encoder is Gaussian.
    uses_kl_divergence = True

    def __init__(self, latent_dim: int, alpha: float = 1.0, lambda_: float = 1.0,
                 divergence="mmd", kernel="tutorial", bandwidth=None,
                 estimator="biased", num_prior_samples=None, **kwargs):
        alpha = schedules.weight("alpha", alpha, maximum=1.0)
        lambda_ = schedules.weight("lambda_", lambda_)
        # At the start and at the end of the schedules (the value of a number).
        alpha_ends = list(schedules.endpoint_values(alpha).values())
        lambda_ends = list(schedules.endpoint_values(lambda_).values())
        for end in (0, -1):
            if alpha_ends[end] + lambda_ends[end] - 1.0 < 0.0:
                shown = [schedules.serialize(weight) if isinstance(weight, schedules.Constant)
                         else weight for weight in (alpha, lambda_)]
                raise ValueError(
                    f"Arguments `alpha` and `lambda_` must satisfy alpha + lambda_ - 1 >= 0 "
                    f"(the divergence weight); received alpha={shown[0]!r}, "
                    f"lambda_={shown[1]!r}, whose sum is {alpha_ends[end] + lambda_ends[end]:g}."
                )
        settings = {"kernel": kernel, "bandwidth": bandwidth, "estimator": estimator,
                    "num_prior_samples": num_prior_samples}
        if not isinstance(divergence, str) and settings != _DEFAULT_SETTINGS:
            raise ValueError(
                f"Arguments {sorted(settings)} apply to a divergence given by name; set "
                f"them on the divergence object instead. Received divergence={divergence!r} "
                f"with {settings}."
            )
        part = divergences.get(divergence, **settings)
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
        self.kl_divergence = divergences.KL()

        # === Metrics ===
        self.track(self.kl_divergence.name, part.name)
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
            **divergences.serialize(self.divergence),
        }

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        if z_mean is None:
            kl = tf.zeros([], dtype=z.dtype)
        else:
            kl = self.kl_divergence(z, z_mean, z_log_var, self.prior)
        divergence = self.divergence(z, z_mean, z_log_var, self.prior, self.prior_samples)
        alpha, lambda_ = self.weight_now(self.alpha), self.weight_now(self.lambda_)
        loss = (1.0 - alpha) * kl + (alpha + lambda_ - 1.0) * divergence
        return loss, {self.kl_divergence.name: kl, self.divergence.name: divergence}

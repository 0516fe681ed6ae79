"""InfoVAE: the general objective of the InfoVAE family."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from mmdvae import kernels, losses
from mmdvae.models.base import Autoencoder, _check_choice

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
    batch's codes and as many prior samples (``num_prior_samples``), logged as
    ``mmd``. With ``divergence="stein"``, ``D`` is the paper's appendix-B
    surrogate, whose gradient is the Stein variational gradient of
    ``KL(q(z) || p(z))`` (``mmdvae.kernels.stein_surrogate_loss``, same kernel,
    averaged over the batch); it needs no prior samples, only the prior's score
    ``grad log p(z)``, and is logged as ``stein_surrogate`` (a value without
    meaning of its own). ``alpha = 0, lambda_ = 1`` is the
    ELBO; ``alpha = 1`` is the MMD-VAE with weight ``lambda_``. The KL term needs
    a Gaussian encoder; it is computed in closed form for the standard normal
    prior and by a one-sample Monte Carlo estimate otherwise.

    Args:
        latent_dim: size of the latent code.
        alpha: the paper's information preference; ``alpha <= 1`` (the KL
            weight ``1 - alpha`` may not be negative). Defaults to 1.
        lambda_: the paper's divergence weight, with ``alpha + lambda_ - 1 >= 0``.
            Defaults to 1.
        divergence: ``"mmd"`` (default) or ``"stein"``.
        kernel: MMD kernel name, see ``mmdvae.kernels.KERNELS``. Defaults to the
            tutorial's ``exp(-||x - y||^2 / d^2)``.
        bandwidth: bandwidth of the ``"rbf"`` kernel.
        estimator: ``"biased"`` (the original code's) or ``"unbiased"``.
        num_prior_samples: prior samples per step; ``None`` means the batch size.
        **kwargs: the ``Autoencoder`` arguments (network, encoder_type,
            reconstruction, prior, seed, image_shape).

    Example:

    ```python
    model = mmdvae.InfoVAE(latent_dim=20, alpha=0.5, lambda_=10,
                           encoder_type="gaussian")
    model.compile()
    model.fit(images, epochs=10, batch_size=200)
    ```
    """

    extra_metric_names = ("kl_divergence", "mmd")

    def __init__(
        self,
        latent_dim: int,
        alpha: float = 1.0,
        lambda_: float = 1.0,
        divergence: str = "mmd",
        kernel: str = "tutorial",
        bandwidth: float | None = None,
        estimator: str = "biased",
        num_prior_samples: int | None = None,
        **kwargs,
    ):
        _check_choice("divergence", divergence, DIVERGENCES)
        _check_choice("estimator", estimator, kernels.ESTIMATORS)
        alpha = float(alpha)
        lambda_ = float(lambda_)
        if alpha > 1.0:
            raise ValueError(
                f"Argument `alpha` must be <= 1 (the KL weight 1 - alpha may not be "
                f"negative); received alpha={alpha}."
            )
        if alpha + lambda_ - 1.0 < 0.0:
            raise ValueError(
                f"Arguments `alpha` and `lambda_` must satisfy alpha + lambda_ - 1 >= 0 "
                f"(the divergence weight); received alpha={alpha}, lambda_={lambda_}."
            )
        if num_prior_samples is not None and (
            not isinstance(num_prior_samples, int) or num_prior_samples < 1
        ):
            raise ValueError(
                f"Argument `num_prior_samples` must be None (the batch size) or a "
                f"positive integer; received num_prior_samples={num_prior_samples!r}."
            )
        if num_prior_samples == 1 and estimator == "unbiased":
            raise ValueError(
                "Argument `num_prior_samples` must be >= 2 for the unbiased MMD "
                "estimator; received num_prior_samples=1."
            )
        kernel_kwargs = {} if bandwidth is None else {"bandwidth": bandwidth}
        kernels.get_kernel(kernel, **kernel_kwargs)
        if divergence == "stein":
            # A plain tuple the base class reads while building the trackers;
            # set past Keras' attribute tracking, which is not set up yet.
            names = tuple(name for name in self.extra_metric_names if name != "mmd")
            object.__setattr__(self, "extra_metric_names", names + ("stein_surrogate",))
        super().__init__(latent_dim, **kwargs)
        if alpha < 1.0 and self.encoder_type != "gaussian":
            raise ValueError(
                f"A KL term (alpha < 1) needs `encoder_type='gaussian'`; received "
                f"encoder_type={self.encoder_type!r} with alpha={alpha}."
            )

        # === Config ===
        self.alpha = alpha
        self.lambda_ = lambda_
        self.divergence = divergence
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.estimator = estimator
        self.num_prior_samples = num_prior_samples
        self.kernel_kwargs = kernel_kwargs

    @property
    def min_batch_size(self) -> int:
        # The unbiased MMD leaves out each code's kernel with itself.
        uses_mmd = "mmd" in self.extra_metric_names and self.divergence_weight > 0
        return 2 if uses_mmd and self.estimator == "unbiased" else 1

    @property
    def kl_weight(self):
        return 1.0 - self.alpha

    @property
    def divergence_weight(self):
        return self.alpha + self.lambda_ - 1.0

    def get_config(self):
        config = super().get_config()
        config.update(
            alpha=self.alpha,
            lambda_=self.lambda_,
            divergence=self.divergence,
            kernel=self.kernel,
            bandwidth=self.bandwidth,
            estimator=self.estimator,
            num_prior_samples=self.num_prior_samples,
        )
        return config

    def kl_divergence(self, z, z_mean, z_log_var):
        """Per-example ``KL(q(z|x) || p(z))``: closed form for the normal prior."""
        if self.prior_name == "normal":
            return losses.kl_divergence_standard_normal(z_mean, z_log_var)
        posterior = tfp.distributions.MultivariateNormalDiag(
            loc=z_mean, scale_diag=tf.exp(0.5 * z_log_var)
        )
        return posterior.log_prob(z) - self.prior.log_prob(z)

    def maximum_mean_discrepancy(self, z):
        """MMD between the codes ``z`` and samples of the prior."""
        num_samples = self.num_prior_samples or tf.shape(z)[0]
        prior_z = self.prior_samples(num_samples)
        return kernels.compute_mmd(
            z, prior_z, kernel=self.kernel, estimator=self.estimator, **self.kernel_kwargs
        )

    def stein_surrogate(self, z):
        """The appendix-B surrogate of ``D``: its gradient is the Stein gradient."""
        codes = tf.stop_gradient(z)
        with tf.GradientTape() as tape:
            tape.watch(codes)
            log_prob = tf.reduce_sum(self.prior.log_prob(codes))
        scores = tape.gradient(log_prob, codes)
        return kernels.stein_surrogate_loss(
            z, scores, kernel=self.kernel, **self.kernel_kwargs
        )

    def regularizer(self, z, z_mean, z_log_var, images):
        terms = {}
        total = tf.zeros([])
        if "kl_divergence" in self.extra_metric_names:
            if z_mean is None:
                terms["kl_divergence"] = tf.zeros([])
            else:
                terms["kl_divergence"] = tf.reduce_mean(self.kl_divergence(z, z_mean, z_log_var))
            total += self.kl_weight * terms["kl_divergence"]
        if "mmd" in self.extra_metric_names:
            terms["mmd"] = self.maximum_mean_discrepancy(z)
            total += self.divergence_weight * terms["mmd"]
        if "stein_surrogate" in self.extra_metric_names:
            terms["stein_surrogate"] = self.stein_surrogate(z)
            total += self.divergence_weight * terms["stein_surrogate"]
        return total, terms

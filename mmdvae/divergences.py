"""Divergences between the encoder's codes and the prior, the parts models add up.

- ``kl_divergence``: ``KL(q(z|x) || p(z))`` of each example (VAE, beta-VAE,
  InfoVAE with ``alpha < 1``); closed form where tensorflow-probability has one
  (a Gaussian encoder against the normal prior), a one-sample Monte Carlo
  estimate otherwise.
- ``MMD``: the maximum mean discrepancy between a batch of codes and prior
  draws (MMD-VAE, VIMAE, InfoVAE), with its kernel, estimator and number of
  prior draws.
- ``Stein``: the InfoVAE paper's appendix-B surrogate, whose gradient is the
  Stein variational gradient of ``KL(q(z) || p(z))``.
- ``generator_loss`` and ``discriminator_loss``: the adversarial
  autoencoder's terms on a discriminator's logits.

``MMD`` and ``Stein`` hold their settings, check them when built, and give
them back as flat keyword arguments (``get_config``), so a model's config is
its own arguments plus theirs. Under a ``tf.distribute`` strategy both are
computed on the codes of the global batch (``mmdvae.distribute``).
"""

import tensorflow as tf
import tensorflow_probability as tfp

from mmdvae import checks, distribute, kernels, losses


def kl_divergence(z, z_mean, z_log_var, prior):
    """``KL(N(z_mean, diag exp(z_log_var)) || prior)`` of each example.

    ```
    normal prior:  0.5 * sum_over_latent_dims(mean^2 + exp(log_var) - log_var - 1)
    otherwise:     log q(z|x) - log p(z) at the sample z
    ```
    """
    if _is_standard_normal(prior):
        return losses.kl_divergence_standard_normal(z_mean, z_log_var)
    posterior = tfp.distributions.MultivariateNormalDiag(
        loc=z_mean, scale_diag=tf.exp(0.5 * z_log_var)
    )
    return posterior.log_prob(z) - prior.log_prob(z)


def _is_standard_normal(prior) -> bool:
    distribution = getattr(prior, "distribution", None)
    if not isinstance(distribution, tfp.distributions.Normal):
        return False
    loc = tf.get_static_value(distribution.loc)
    scale = tf.get_static_value(distribution.scale)
    return loc is not None and scale is not None and (loc == 0).all() and (scale == 1).all()


def _kernel_arguments(kernel, bandwidth) -> dict:
    arguments = {} if bandwidth is None else {"bandwidth": bandwidth}
    kernels.get_kernel(kernel, **arguments)
    return arguments


class MMD:
    """The MMD between a batch of codes and as many (or ``num_prior_samples``) prior draws.

    ```
    MMD^2 = mean k(z_i, z_j) + mean k(y_i, y_j) - 2 mean k(z_i, y_j),   y ~ p(z)
    ```

    See ``mmdvae.kernels.compute_mmd`` (Zhao, Song and Ermon, InfoVAE tutorial).

    Args:
        kernel: a name in ``mmdvae.kernels.KERNELS``. Defaults to the tutorial's.
        bandwidth: the kernel's bandwidth, where it takes one.
        estimator: ``"biased"`` (the tutorial's) or ``"unbiased"``.
        num_prior_samples: prior draws per step; ``None`` means the batch size.
    """

    name = "mmd"

    def __init__(self, kernel="tutorial", bandwidth=None, estimator="biased",
                 num_prior_samples=None):
        self.kernel_arguments = _kernel_arguments(kernel, bandwidth)
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.estimator = checks.check_choice("estimator", estimator, kernels.ESTIMATORS)
        if num_prior_samples is not None:
            num_prior_samples = checks.check_positive_int(
                "num_prior_samples", num_prior_samples, maximum=1_000_000,
                minimum=2 if estimator == "unbiased" else 1,
            )
        self.num_prior_samples = num_prior_samples

    @property
    def min_batch_size(self) -> int:
        """The unbiased estimator leaves out each code's kernel with itself."""
        return 2 if self.estimator == "unbiased" else 1

    def get_config(self) -> dict:
        return {"kernel": self.kernel, "bandwidth": self.bandwidth,
                "estimator": self.estimator, "num_prior_samples": self.num_prior_samples}

    def __call__(self, z, prior, prior_samples):
        """The MMD between ``z`` and ``prior_samples(num_samples)``, draws of ``prior``.

        Under a ``tf.distribute`` strategy ``z`` is the replica's share: the
        MMD is computed on the codes of the global batch, against prior draws
        every replica makes alike, so each replica holds the global value.
        """
        z = distribute.gather(z)
        num_samples = self.num_prior_samples or tf.shape(z)[0]
        prior_z = tf.cast(prior_samples(num_samples), z.dtype)
        return kernels.compute_mmd(
            z, prior_z, kernel=self.kernel, estimator=self.estimator, **self.kernel_arguments
        )


class Stein:
    """The appendix-B surrogate of ``KL(q(z) || p(z))`` (Zhao, Song and Ermon).

    ```
    loss = -1/n sum_j stop_gradient(phi(z_j)) . z_j
    phi(z_j) = 1/n sum_i [k(z_i, z_j) grad log p(z_i) + grad_{z_i} k(z_i, z_j)]
    ```

    Its gradient in the encoder's parameters is the Stein variational gradient
    (Liu and Wang, NeurIPS 2016); its value means nothing on its own. It needs
    only the prior's score ``grad log p(z)``, no prior draws.

    Args:
        kernel: a name in ``mmdvae.kernels.KERNELS``. Defaults to the tutorial's.
        bandwidth: the kernel's bandwidth, where it takes one.
    """

    name = "stein_surrogate"
    min_batch_size = 1

    def __init__(self, kernel="tutorial", bandwidth=None):
        self.kernel_arguments = _kernel_arguments(kernel, bandwidth)
        self.kernel = kernel
        self.bandwidth = bandwidth

    def get_config(self) -> dict:
        return {"kernel": self.kernel, "bandwidth": self.bandwidth}

    def __call__(self, z, prior, prior_samples=None):
        """The surrogate at the codes ``z``; it draws no random numbers.

        Under a ``tf.distribute`` strategy it is computed on the codes of the
        global batch, as ``MMD`` is.
        """
        z = distribute.gather(z)
        codes = tf.stop_gradient(z)
        with tf.GradientTape() as tape:
            tape.watch(codes)
            log_prob = tf.reduce_sum(prior.log_prob(codes))
        scores = tape.gradient(log_prob, codes)
        return kernels.stein_surrogate_loss(z, scores, kernel=self.kernel,
                                            **self.kernel_arguments)


def generator_loss(code_logits):
    """The non-saturating adversarial loss ``E softplus(-D(z))`` (Makhzani et al.)."""
    return tf.reduce_mean(tf.nn.softplus(-code_logits))


def discriminator_loss(prior_logits, code_logits):
    """``(loss, accuracy)`` of a discriminator telling prior draws (1) from codes (0)."""
    loss = tf.reduce_mean(tf.nn.softplus(-prior_logits)) + tf.reduce_mean(
        tf.nn.softplus(code_logits)
    )
    correct = tf.concat([prior_logits > 0, code_logits < 0], axis=0)
    return loss, tf.reduce_mean(tf.cast(correct, loss.dtype))

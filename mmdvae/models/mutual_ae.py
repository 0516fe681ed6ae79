"""MutualAE: the ELBO with a constraint on the generative model's mutual information."""

import keras
import tensorflow as tf

from mmdvae import checks, compat, distribute, divergences, likelihoods, losses, networks, schedules
from mmdvae.models.base import Autoencoder, clamp_log_variance
from mmdvae.priors import prior_entropy
from mmdvae.runtime import full_precision


@keras.saving.register_keras_serializable(package="mmdvae")
class MutualAE(Autoencoder):
    """Mutual autoencoder: the ELBO with the constraint ``I_p(z, x) = M``.

    ```
    loss = E_x E_q(z|x)[-log p(x|z)] + beta * E_x KL(q(z|x) || p(z))
           + gamma * (I_hat - M)^2
    I_hat = H(p(z)) + E_{z ~ p(z), x ~ p(x|z)} log r(z|x)   (<= I_p(z, x))
    ```

    The Mutual Autoencoder poster (Phuong, Kushman, Nowozin, Tomioka, Welling,
    "The Mutual Autoencoder: Controlling Information in Latent Code
    Representations", 2018): a VAE with a powerful decoder may ignore ``z``;
    fixing the mutual information of the generative model ``p(z) p(x|z)`` to
    ``M`` nats keeps the code in use. ``I_hat`` is the variational infomax lower
    bound with an inference network ``r(z|x)`` (Gaussian, mean and log-variance,
    the encoder's architecture: a copy of an ``encoder=`` given), which is
    trained to maximise the bound while the decoder is trained on the
    penalty; the constraint is enforced by the quadratic penalty (our choice of
    method). For a single categorical variable (``image_shape = (categories,)``)
    the bound is exact, a sum over the values of ``x`` weighted by ``p(x|z)``
    (``exact_information_bound``); otherwise the ``x ~ p(x|z)`` draws are the
    likelihood's reparameterised samples: ``mean + std * noise`` for a
    Gaussian, a Gumbel-softmax sample for categorical images. Logged: ``mutual_information_bound``
    (``I_hat`` on the step's batch, in nats) and ``information_penalty``.
    ``penalty_weight=0`` is the plain VAE, whose ``I_hat`` still estimates how
    much its decoder uses ``z``.

    Args:
        latent_dim: size of the latent code.
        information: the target ``M`` in nats (>= 0). Defaults to 1.
        penalty_weight: ``gamma`` (>= 0). Defaults to 10.
        beta: weight of the KL term (>= 0), or a schedule of the step
            (``mmdvae.schedules``). Defaults to 1.
        **kwargs: the ``Autoencoder`` arguments; the likelihood must be
            reparameterised (default ``"unbounded_gaussian"``, or
            ``"gaussian"``, ``"categorical"``); the prior needs a closed-form
            entropy; the encoder is Gaussian.

    Example:

    ```python
    # x one-hot on {0..9}, a 1-D code that must carry 1 nat about x.
    model = mmdvae.MutualAE(latent_dim=1, image_shape=(10,), network="mlp",
                            likelihood="categorical", information=1.0)
    model.compile()
    model.fit(one_hot_digits, epochs=50, batch_size=100)
    ```
    """

    encoder_types = ("gaussian",)
    encoder_type_reason = "the KL term needs a posterior distribution"
    default_likelihood = "unbounded_gaussian"
    uses_kl_divergence = True

    def __init__(self, latent_dim: int, information: float = 1.0,
                 penalty_weight: float = 10.0, beta: float = 1.0, **kwargs):
        information = checks.check_number("information", information, minimum=0.0)
        penalty_weight = checks.check_number("penalty_weight", penalty_weight, minimum=0.0)
        beta = schedules.weight("beta", beta, minimum=0.0)
        super().__init__(latent_dim, **kwargs)
        if not self.likelihood.reparameterized:
            raise ValueError(
                f"MutualAE needs a likelihood with reparameterised samples (x ~ p(x|z) "
                f"in I_hat): one of 'gaussian', 'unbounded_gaussian', 'categorical'; "
                f"received likelihood={self.likelihood.name!r}."
            )
        if isinstance(self.likelihood, likelihoods.Categorical) and self.image_shape[-1] < 2:
            raise ValueError(
                f"A categorical decoder needs one-hot data with at least 2 "
                f"categories on the last axis; received image_shape={self.image_shape}."
            )
        entropy = prior_entropy("MutualAE", self.prior, kwargs.get("prior", "normal"))

        # === Layers ===
        # r(z|x) has the encoder's architecture: a copy of a given encoder.
        if "encoder" in self.given_networks:
            self.inference_network = keras.models.clone_model(self.encoder)
            networks.check_encoder(self.inference_network, self.image_shape,
                                   self.latent_dim, gaussian=True)
        else:
            self.inference_network = networks.make_encoder(
                self.network, self.image_shape, self.latent_dim, gaussian=True,
                name="inference_network",
            )

        # === Config ===
        self.information = information
        self.penalty_weight = penalty_weight
        self.beta = beta
        self.prior_entropy = entropy
        self.divergence = divergences.KL()

        # === Metrics ===
        self.track("kl_divergence", "mutual_information_bound", "information_penalty")
        self.track_weights(beta=beta)

    def get_config(self):
        return {**super().get_config(), "information": self.information,
                "penalty_weight": self.penalty_weight, "beta": schedules.serialize(self.beta)}

    @classmethod
    def from_config(cls, config):
        config = compat.upgrade_mutual_ae_config(config)
        return super().from_config(config)

    @property
    def autoencoder_weights(self):
        return super().autoencoder_weights + self.inference_network.trainable_weights

    def information_bound(self, prior_z, samples):
        """``H(p(z)) + mean log r(z|x)`` over prior codes and their decoder samples."""
        r_mean, r_log_var = self._inference(samples)
        log_r = losses.gaussian_log_density(prior_z, r_mean, r_log_var)
        # Under a tf.distribute strategy, the mean over the global batch.
        return self.prior_entropy + tf.reduce_mean(distribute.gather(log_r))

    def exact_information_bound(self, prior_z, probabilities):
        """``H(p(z)) + mean_z sum_x p(x|z) log r(z|x)``, summed over the likelihood's support.

        ``probabilities`` is ``p(x|z)`` of each value of ``x``, ``[batch, values]``
        (``likelihood.support_probabilities``); no sample of ``x`` is drawn.
        """
        r_mean, r_log_var = self._inference(self.likelihood.support(self.image_shape))
        log_r = losses.gaussian_log_density(prior_z[:, None, :], r_mean[None], r_log_var[None])
        expected = tf.reduce_sum(probabilities * log_r, axis=1)
        return self.prior_entropy + tf.reduce_mean(distribute.gather(expected))

    @property
    def exact_bound(self) -> bool:
        """Whether ``I_hat`` sums over every value of ``x`` (a single categorical variable)."""
        return self.likelihood.support(self.image_shape) is not None

    def _inference(self, x):
        outputs = self.inference_network(x, training=True)
        r_mean, r_log_var = map(full_precision, networks.gaussian_parameters(outputs))
        return r_mean, clamp_log_variance(r_log_var)

    def _bound(self, prior_z, decoded):
        if self.exact_bound:
            return self.exact_information_bound(prior_z, decoded)
        return self.information_bound(prior_z, decoded)

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        kl = self.divergence(z, z_mean, z_log_var, self.prior)
        prior_z = distribute.replica_rows(self.prior_samples, tf.shape(z)[0])
        if self.exact_bound:
            outputs = full_precision(self.decoder(prior_z, training=True))
            decoded = self.likelihood.support_probabilities(outputs)
        else:
            decoded = self.decoder_samples(prior_z, training=True)
        bound = self._bound(prior_z, decoded)
        gap = bound - self.information
        penalty = self.penalty_weight * tf.square(gap)
        # r(z|x) maximises the bound whatever the penalty asks: this term is 0 and
        # changes only r's gradient, from the penalty's 2 gamma gap dI/dr to -dI/dr.
        bound_for_r = self._bound(prior_z, tf.stop_gradient(decoded))
        to_r = tf.stop_gradient(-1.0 - 2.0 * self.penalty_weight * gap)
        to_r_term = to_r * (bound_for_r - tf.stop_gradient(bound_for_r))
        loss = self.weight_now(self.beta) * kl + penalty + to_r_term
        return loss, {"kl_divergence": kl, "mutual_information_bound": bound,
                      "information_penalty": penalty}

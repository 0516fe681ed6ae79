"""MutualAE: the ELBO with a constraint on the generative model's mutual information."""

import keras
import tensorflow as tf

from mmdvae import losses, networks
from mmdvae.models.base import LOG_VARIANCE_RANGE, _check_choice
from mmdvae.models.elbo_vae import ELBOVAE

LIKELIHOODS = ("gaussian", "categorical")

#: Uniform numbers for the Gumbel noise are kept this far from 0 and 1.
_UNIFORM_MARGIN = 1e-6


@keras.saving.register_keras_serializable(package="mmdvae")
class MutualAE(ELBOVAE):
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
    bound with an inference network ``r(z|x)`` (Gaussian, mean and log-variance),
    which is trained to maximise the bound while the decoder is trained on the
    penalty; the constraint is enforced by the quadratic penalty (our choice of
    method). The ``x ~ p(x|z)`` draws are reparameterised: ``mean + std * noise``
    for the Gaussian decoder (unconstrained mean, learned std >= 0.005), a
    Gumbel-softmax sample at ``temperature`` for the categorical decoder (a
    softmax over the last axis of one-hot data). Logged:
    ``mutual_information_bound`` (``I_hat`` on the step's batch, in nats) and
    ``information_penalty``. ``penalty_weight=0`` is the plain VAE, whose
    ``I_hat`` still estimates how much its decoder uses ``z``.

    Args:
        latent_dim: size of the latent code.
        information: the target ``M`` in nats (>= 0). Defaults to 1.
        penalty_weight: ``gamma`` (>= 0). Defaults to 10.
        likelihood: ``"gaussian"`` (default) or ``"categorical"``.
        temperature: Gumbel-softmax temperature (> 0). Defaults to 0.5.
        beta: weight of the KL term. Defaults to 1.
        **kwargs: the ``Autoencoder`` arguments; the prior needs a closed-form
            entropy, the encoder is Gaussian.

    Example:

    ```python
    # x one-hot on {0..9}, a 1-D code that must carry 1 nat about x.
    model = mmdvae.MutualAE(latent_dim=1, image_shape=(10,), network="mlp",
                            likelihood="categorical", information=1.0)
    model.compile()
    model.fit(one_hot_digits, epochs=50, batch_size=100)
    ```
    """

    extra_metric_names = (
        "kl_divergence", "mutual_information_bound", "information_penalty",
    )

    def __init__(
        self,
        latent_dim: int,
        information: float = 1.0,
        penalty_weight: float = 10.0,
        likelihood: str = "gaussian",
        temperature: float = 0.5,
        **kwargs,
    ):
        _check_choice("likelihood", likelihood, LIKELIHOODS)
        for name, value, strict in (
            ("information", information, False),
            ("penalty_weight", penalty_weight, False),
            ("temperature", temperature, True),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                value > 0 if strict else value >= 0
            ):
                bound = "> 0" if strict else ">= 0"
                raise ValueError(
                    f"Argument `{name}` must be a number {bound}; "
                    f"received {name}={value!r}."
                )
        kwargs.pop("reconstruction", None)
        image_shape = tuple(kwargs.get("image_shape", (28, 28, 1)))
        if likelihood == "categorical" and image_shape[-1] < 2:
            raise ValueError(
                f"A categorical decoder needs one-hot data with at least 2 "
                f"categories on the last axis; received image_shape={image_shape}."
            )
        # The Gaussian likelihood needs the base class's two decoder channels.
        reconstruction = "gaussian" if likelihood == "gaussian" else "bernoulli"
        super().__init__(latent_dim, reconstruction=reconstruction, **kwargs)
        try:
            prior_entropy = float(self.prior.entropy())
        except NotImplementedError:
            raise ValueError(
                f"MutualAE needs a prior with a closed-form entropy (for I_hat); "
                f"received prior={kwargs.get('prior')!r}."
            ) from None

        # === Layers ===
        self.inference_network = networks.make_encoder(
            self.network, self.image_shape, latent_dim, gaussian=True,
            name="inference_network",
        )

        # === Config ===
        self.information = float(information)
        self.penalty_weight = float(penalty_weight)
        self.likelihood = likelihood
        self.temperature = float(temperature)
        self.prior_entropy = prior_entropy

    def get_config(self):
        config = super().get_config()
        del config["reconstruction"]
        config.update(
            information=self.information,
            penalty_weight=self.penalty_weight,
            likelihood=self.likelihood,
            temperature=self.temperature,
        )
        return config

    @property
    def autoencoder_weights(self):
        return super().autoencoder_weights + self.inference_network.trainable_weights

    # --- The decoder's distribution --------------------------------------------

    def decoder_outputs(self, z, training=False):
        """``(mean, std)`` for the Gaussian (mean unconstrained), ``(logits, None)``."""
        outputs = self.decoder(z, training=training)
        if self.likelihood == "categorical":
            return outputs, None
        mean, std_logits = tf.split(outputs, 2, axis=-1)
        return mean, losses.MIN_DECODER_STD + tf.nn.softplus(std_logits)

    def reconstruction_terms(self, images, outputs, std):
        if self.likelihood == "categorical":
            return losses.categorical_negative_log_likelihood(images, outputs)
        return losses.gaussian_negative_log_likelihood(images, outputs, std)

    def decoded_images(self, z, training=False):
        """The decoder's mean (Gaussian) or category probabilities (categorical)."""
        outputs, _ = self.decoder_outputs(z, training=training)
        if self.likelihood == "categorical":
            return tf.nn.softmax(outputs, axis=-1)
        return outputs

    def decoder_samples(self, z, training=False):
        """Reparameterised draws ``x ~ p(x|z)`` (relaxed one-hot when categorical)."""
        outputs, std = self.decoder_outputs(z, training=training)
        noise = self.normal_noise(tf.shape(outputs))
        if self.likelihood == "gaussian":
            return outputs + std * noise
        # Gumbel noise from the normal draws (through the normal CDF), so every
        # random number of the model comes from `normal_noise`.
        uniform = tf.clip_by_value(
            0.5 * tf.math.erfc(-noise / tf.sqrt(2.0)),
            _UNIFORM_MARGIN,
            1.0 - _UNIFORM_MARGIN,
        )
        gumbel = -tf.math.log(-tf.math.log(uniform))
        return tf.nn.softmax((outputs + gumbel) / self.temperature, axis=-1)

    def information_bound(self, prior_z, samples):
        """``H(p(z)) + mean log r(z|x)`` over prior codes and their decoder samples."""
        r_mean, r_log_var = self.inference_network(samples, training=True)
        r_log_var = tf.clip_by_value(r_log_var, *LOG_VARIANCE_RANGE)
        log_r = losses.gaussian_log_density(prior_z, r_mean, r_log_var)
        return self.prior_entropy + tf.reduce_mean(log_r)

    def regularizer(self, z, z_mean, z_log_var, images):
        loss, terms = super().regularizer(z, z_mean, z_log_var, images)
        prior_z = self.prior_samples(tf.shape(z)[0])
        samples = self.decoder_samples(prior_z, training=True)
        bound = self.information_bound(prior_z, samples)
        gap = bound - self.information
        penalty = self.penalty_weight * tf.square(gap)
        # r(z|x) maximises the bound whatever the penalty asks: this term is 0 and
        # changes only r's gradient, from the penalty's 2 gamma gap dI/dr to -dI/dr.
        bound_for_r = self.information_bound(prior_z, tf.stop_gradient(samples))
        to_r = tf.stop_gradient(-1.0 - 2.0 * self.penalty_weight * gap)
        loss += penalty + to_r * (bound_for_r - tf.stop_gradient(bound_for_r))
        terms.update(mutual_information_bound=bound, information_penalty=penalty)
        return loss, terms

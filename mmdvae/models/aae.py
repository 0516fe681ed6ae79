"""AAE: the adversarial autoencoder, with a discriminator on the latent space."""

import keras
import tensorflow as tf

from mmdvae import networks
from mmdvae.models.base import Autoencoder


def _missing_discriminator_optimizer():
    return ValueError(
        "AAE needs a discriminator optimizer to train: call "
        "`model.compile(optimizer=..., discriminator_optimizer=...)`, e.g. "
        "`discriminator_optimizer=keras.optimizers.Adam(1e-4)`; received "
        "discriminator_optimizer=None."
    )


@keras.saving.register_keras_serializable(package="mmdvae")
class AAE(Autoencoder):
    """Adversarial autoencoder: a discriminator on z makes q(z) match the prior.

    Each training step makes two updates, each of its own weights only:

    ```
    autoencoder:    E_x[-log p(x|z)] + lambda_ * E_x softplus(-D(z))     z = f(x)
    discriminator:  E_p(z) softplus(-D(z)) + E_x softplus(D(stop_gradient(f(x))))
    ```

    ``D`` returns logits, so ``softplus(-D)`` is the cross-entropy of "prior
    sample" and ``softplus(D)`` of "code"; the autoencoder minimises the
    non-saturating generator loss. Makhzani et al., "Adversarial Autoencoders"
    (ICLR 2016 workshop); in the InfoVAE family (Zhao, Song, Ermon, AAAI 2019)
    it is ``alpha = 1`` with ``D`` the Jensen-Shannon divergence estimated by a
    discriminator. The discriminator step draws fresh codes from the encoder
    after its update, and as many prior samples. Logged: ``generator_loss``,
    ``discriminator_loss`` and ``discriminator_accuracy`` (the discriminator's
    accuracy on prior samples and codes together). Give the discriminator the
    slower optimizer (e.g. a tenth of the autoencoder's learning rate): one as
    fast as the autoencoder's wins and drives the codes away from the prior.

    Args:
        latent_dim: size of the latent code.
        lambda_: weight of the generator loss (>= 0). Defaults to 1.
        discriminator_units: widths of the discriminator's hidden layers.
            Defaults to ``(512, 512)``.
        reconstruction: defaults to ``"bernoulli"`` (nats per image).
        **kwargs: the ``Autoencoder`` arguments (deterministic encoder by default).

    Example:

    ```python
    model = mmdvae.AAE(latent_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  discriminator_optimizer=keras.optimizers.Adam(1e-4))
    model.fit(images, epochs=10, batch_size=100)
    ```
    """

    extra_metric_names = (
        "generator_loss", "discriminator_loss", "discriminator_accuracy",
    )

    def __init__(
        self,
        latent_dim: int,
        lambda_: float = 1.0,
        discriminator_units=(512, 512),
        reconstruction: str = "bernoulli",
        **kwargs,
    ):
        if isinstance(lambda_, bool) or not float(lambda_) >= 0.0:
            raise ValueError(
                f"Argument `lambda_` must be >= 0; received lambda_={lambda_!r}."
            )
        units = tuple(discriminator_units)
        if not units or not all(
            isinstance(size, int) and not isinstance(size, bool) and size > 0
            for size in units
        ):
            raise ValueError(
                f"Argument `discriminator_units` must be a non-empty sequence of "
                f"positive integers; received "
                f"discriminator_units={discriminator_units!r}."
            )
        super().__init__(latent_dim, reconstruction=reconstruction, **kwargs)

        # === Layers ===
        self.discriminator = networks.make_discriminator(latent_dim, units)

        # === Config ===
        self.lambda_ = float(lambda_)
        self.discriminator_units = units
        self.discriminator_optimizer = None

    def get_config(self):
        config = super().get_config()
        config.update(
            lambda_=self.lambda_, discriminator_units=list(self.discriminator_units)
        )
        return config

    # --- Two optimizers --------------------------------------------------------

    def compile(
        self, optimizer=None, discriminator_optimizer=None, jit_compile=True, **kwargs
    ):
        """Configures training; ``discriminator_optimizer`` is needed to ``fit``."""
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        if discriminator_optimizer is not None:
            discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
            discriminator_optimizer.build(self.discriminator.trainable_weights)
        self.discriminator_optimizer = discriminator_optimizer

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and self.discriminator_optimizer is not None:
            config["discriminator_optimizer"] = keras.saving.serialize_keras_object(
                self.discriminator_optimizer
            )
        return config

    def fit(self, *args, **kwargs):
        if self.compiled and self.discriminator_optimizer is None:
            raise _missing_discriminator_optimizer()
        return super().fit(*args, **kwargs)

    # --- Losses ------------------------------------------------------------------

    def discriminator_terms(self, prior_z, codes, training=False):
        """The discriminator's loss and accuracy on prior samples (real) and codes."""
        real_logits = self.discriminator(prior_z, training=training)
        fake_logits = self.discriminator(codes, training=training)
        loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(
            tf.nn.softplus(fake_logits)
        )
        correct = tf.concat([real_logits > 0, fake_logits < 0], axis=0)
        return loss, tf.reduce_mean(tf.cast(correct, loss.dtype))

    def regularizer(self, z, z_mean, z_log_var, images):
        generator_loss = tf.reduce_mean(tf.nn.softplus(-self.discriminator(z)))
        # Logged in evaluation; the training step replaces them by the update's.
        prior_z = self.prior_samples(tf.shape(z)[0])
        discriminator_loss, accuracy = self.discriminator_terms(
            prior_z, tf.stop_gradient(z)
        )
        return self.lambda_ * generator_loss, {
            "generator_loss": generator_loss,
            "discriminator_loss": discriminator_loss,
            "discriminator_accuracy": accuracy,
        }

    def after_autoencoder_update(self, images, terms):
        """Updates the discriminator (its weights only) on new codes and prior draws."""
        if self.discriminator_optimizer is None:
            raise _missing_discriminator_optimizer()
        codes, _, _ = self.posterior(images, training=True)
        codes = tf.stop_gradient(codes)
        prior_z = self.prior_samples(tf.shape(codes)[0])
        weights = self.discriminator.trainable_weights
        with tf.GradientTape() as tape:
            loss, accuracy = self.discriminator_terms(prior_z, codes, training=True)
        gradients = tape.gradient(loss, weights)
        self.discriminator_optimizer.apply_gradients(
            zip(gradients, weights, strict=True)
        )
        return {"discriminator_loss": loss, "discriminator_accuracy": accuracy}

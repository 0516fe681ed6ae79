"""AAE: the adversarial autoencoder, with a discriminator on the latent space."""

import keras
import tensorflow as tf

from mmdvae import distribute, divergences, schedules
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
    non-saturating generator loss: the model's ``divergence`` is a
    ``mmdvae.divergences.Adversarial`` holding the discriminator.
    Makhzani et al., "Adversarial Autoencoders" (ICLR 2016 workshop); in the
    InfoVAE family (Zhao, Song, Ermon, AAAI 2019) it is ``alpha = 1`` with ``D``
    the Jensen-Shannon divergence estimated by a discriminator. The
    discriminator step draws fresh codes from the encoder after its update, and
    as many prior samples. Logged: ``generator_loss``, ``discriminator_loss``
    and ``discriminator_accuracy`` (on prior samples and codes together; in
    training, those of the discriminator's update). Give the discriminator the
    slower optimizer (e.g. a tenth of the autoencoder's learning rate): one as
    fast as the autoencoder's wins and drives the codes away from the prior.

    Args:
        latent_dim: size of the latent code.
        lambda_: weight of the generator loss (>= 0), or a schedule of the step
            (``mmdvae.schedules``). Defaults to 1.
        discriminator_units: widths of the discriminator's hidden layers.
            Defaults to ``(512, 512)``.
        **kwargs: the ``Autoencoder`` arguments (deterministic encoder and
            ``"bernoulli"`` likelihood, nats per image, by default).

    Example:

    ```python
    model = mmdvae.AAE(latent_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  discriminator_optimizer=keras.optimizers.Adam(1e-4))
    model.fit(images, epochs=10, batch_size=100)
    ```
    """

    default_likelihood = "bernoulli"

    def __init__(self, latent_dim: int, lambda_: float = 1.0,
                 discriminator_units=(512, 512), **kwargs):
        lambda_ = schedules.weight("lambda_", lambda_, minimum=0.0)
        divergence = divergences.Adversarial(discriminator_units)
        super().__init__(latent_dim, **kwargs)

        # === Parts and layers ===
        self.divergence = divergence
        self.discriminator = divergence.build(self.latent_dim)

        # === Config ===
        self.lambda_ = lambda_
        self.discriminator_optimizer = None

        # === Metrics ===
        self.track("generator_loss", "discriminator_loss", "discriminator_accuracy")
        self.track_weights(lambda_=lambda_)

    def get_config(self):
        return {**super().get_config(), "lambda_": schedules.serialize(self.lambda_),
                **self.divergence.get_config()}

    @property
    def discriminator_units(self) -> tuple:
        """Widths of the discriminator's hidden layers."""
        return self.divergence.discriminator_units

    # --- Two optimizers --------------------------------------------------------

    def compile(self, optimizer=None, discriminator_optimizer=None, jit_compile="auto",
                **kwargs):
        """Configures training; ``discriminator_optimizer`` is needed to ``fit``."""
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        if discriminator_optimizer is not None:
            discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
            discriminator_optimizer.build(self.discriminator.trainable_weights)
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def optimizers(self) -> list:
        found = super().optimizers
        return found + ([self.discriminator_optimizer] if self.discriminator_optimizer else [])

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

    def discriminator_terms(self, codes, training=False):
        """The discriminator's loss and accuracy on ``codes`` and as many prior draws.

        Under a ``tf.distribute`` strategy, on the codes of the global batch
        and one set of prior draws every replica makes alike.
        """
        return self.divergence.discriminator_terms(codes, self.prior_samples, training=training)

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        # On the codes of the global batch under a strategy (`mmdvae.distribute`).
        generator_loss = self.divergence(z, z_mean, z_log_var, self.prior, self.prior_samples)
        terms = {"generator_loss": generator_loss}
        if not training:
            # In training, the discriminator's update reports its own terms.
            loss, accuracy = self.discriminator_terms(tf.stop_gradient(z))
            terms.update(discriminator_loss=loss, discriminator_accuracy=accuracy)
        return self.weight_now(self.lambda_) * generator_loss, terms

    def after_autoencoder_update(self, images, terms):
        """Updates the discriminator (its weights only) on new codes and prior draws."""
        if self.discriminator_optimizer is None:
            raise _missing_discriminator_optimizer()
        codes, _, _ = self.posterior(images, training=True)
        codes = tf.stop_gradient(codes)
        weights = self.discriminator.trainable_weights
        with tf.GradientTape() as tape:
            loss, accuracy = self.discriminator_terms(codes, training=True)
            # The replica's share of the global batch's mean (`mmdvae.distribute`).
            scaled_loss = self.discriminator_optimizer.scale_loss(distribute.scale_loss(loss))
        gradients = tape.gradient(scaled_loss, weights)
        self.apply_gradients(self.discriminator_optimizer, gradients, weights)
        return {"discriminator_loss": loss, "discriminator_accuracy": accuracy}

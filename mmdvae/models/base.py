"""The shared base class of every mmdvae model.

``Autoencoder`` owns the training and evaluation steps, the metric trackers and
the public ``encode``/``decode``/``sample``/``reconstruct`` methods. A model
differs from the others only through hooks:

- ``regularizer(z, z_mean, z_log_var, images)``: the latent term of the loss
  and any extra quantities to log;
- ``after_autoencoder_update(images, terms)``: a second update after the
  autoencoder's (the adversarial autoencoder trains its discriminator there);
- ``extra_metric_names``: names of the extra logged quantities.
"""

import math

import keras
import tensorflow as tf

from mmdvae import losses, networks, priors, validation

ENCODER_TYPES = ("deterministic", "gaussian")

#: Encoder log-variances are clamped to this range. The lower end is the
#: standard-deviation floor 0.005 of the InfoVAE authors' evaluation script; the
#: upper end keeps ``exp`` finite.
LOG_VARIANCE_RANGE = (2.0 * math.log(0.005), 10.0)

_SEED_STATE_KEY = "seed_generator_state"


def _check_choice(argument, value, allowed):
    if value not in allowed:
        raise ValueError(
            f"Argument `{argument}` must be one of {tuple(allowed)}; "
            f"received {argument}={value!r}."
        )


def _pop_gaussian_encoder_type(model_name, kwargs, reason):
    """Takes ``encoder_type`` out of ``kwargs``, refusing all but ``"gaussian"``."""
    encoder_type = kwargs.pop("encoder_type", "gaussian")
    if encoder_type != "gaussian":
        raise ValueError(
            f"Argument `encoder_type` of {model_name} must be 'gaussian' ({reason}); "
            f"received encoder_type={encoder_type!r}."
        )


def _check_latent_dim(latent_dim):
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int):
        raise TypeError(
            f"Argument `latent_dim` must be a positive integer; "
            f"received latent_dim={latent_dim!r} of type {type(latent_dim).__name__}."
        )
    if latent_dim < 1:
        raise ValueError(
            f"Argument `latent_dim` must be a positive integer (>= 1); "
            f"received latent_dim={latent_dim}."
        )


@keras.saving.register_keras_serializable(package="mmdvae")
class Autoencoder(keras.Model):
    """Base class: an encoder, a decoder, a prior and one training step.

    The loss is ``reconstruction_loss + regularization_loss``, where the
    reconstruction term is averaged over the batch (its reduction over pixels is
    set by ``reconstruction``, see ``mmdvae.losses``) and the regularization term
    comes from the subclass's ``regularizer`` hook.

    Args:
        latent_dim: size of the latent code.
        image_shape: shape of one image. Defaults to ``(28, 28, 1)``.
        network: encoder/decoder architecture, one of ``mmdvae.networks.NETWORKS``.
            Defaults to ``"dcgan"`` (the InfoVAE authors' networks).
        encoder_type: ``"deterministic"`` (``z = f(x)``) or ``"gaussian"``
            (mean and log-variance, sampled by reparameterisation).
        reconstruction: ``"mse"`` (squared error averaged over pixels, the
            tutorial's), ``"bernoulli"`` (cross-entropy summed over pixels) or
            ``"gaussian"`` (learned per-pixel std >= 0.005, summed over pixels).
        prior: name in ``mmdvae.priors.PRIORS`` or a tensorflow-probability
            distribution with event shape ``[latent_dim]``.
        seed: integer seed of the model's random numbers (``None``: random).
    """

    extra_metric_names: tuple = ()

    def __init__(
        self,
        latent_dim: int,
        image_shape=(28, 28, 1),
        network: str = "dcgan",
        encoder_type: str = "deterministic",
        reconstruction: str = "mse",
        prior="normal",
        seed: int | None = None,
        **kwargs,
    ):
        _check_latent_dim(latent_dim)
        _check_choice("network", network, networks.NETWORKS)
        _check_choice("encoder_type", encoder_type, ENCODER_TYPES)
        _check_choice("reconstruction", reconstruction, losses.RECONSTRUCTIONS)
        image_shape = tuple(int(size) for size in image_shape)
        super().__init__(**kwargs)

        # === Config ===
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.network = network
        self.encoder_type = encoder_type
        self.reconstruction = reconstruction
        self.prior_name = prior if isinstance(prior, str) else None
        self.prior = priors.get_prior(prior, latent_dim)
        self.seed = seed

        # === Layers ===
        self.encoder = networks.make_encoder(
            network, image_shape, latent_dim, gaussian=encoder_type == "gaussian"
        )
        self.decoder = networks.make_decoder(
            network,
            latent_dim,
            image_shape,
            output_channels=2 if reconstruction == "gaussian" else 1,
        )
        self.seed_generator = keras.random.SeedGenerator(seed)

        # === Metrics ===
        names = ("loss", "reconstruction_loss", "regularization_loss")
        self.trackers = [
            keras.metrics.Mean(name=name) for name in names + tuple(self.extra_metric_names)
        ]
        self.built = True

    # --- Configuration -------------------------------------------------------

    def get_config(self):
        if self.prior_name is None:
            raise NotImplementedError(
                "A model whose prior is a custom tensorflow-probability distribution "
                "cannot be serialised by name; save its weights with "
                "`save_weights` and rebuild it with the same prior."
            )
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            image_shape=list(self.image_shape),
            network=self.network,
            encoder_type=self.encoder_type,
            reconstruction=self.reconstruction,
            prior=self.prior_name,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def compile(self, optimizer=None, jit_compile=True, **kwargs):
        """Configures training; Adam(1e-3) and XLA compilation by default."""
        if optimizer is None:
            optimizer = keras.optimizers.Adam(1e-3)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.optimizer is not None:
            self.optimizer.build(self.autoencoder_weights)

    @property
    def metrics(self):
        return self.trackers

    # --- Saving ----------------------------------------------------------------

    def save_own_variables(self, store):
        # The seed generator is not a layer, so Keras would not save its state:
        # a reloaded model would repeat its random draws from the start.
        super().save_own_variables(store)
        store[_SEED_STATE_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        own = {key: store[key] for key in store.keys() if key != _SEED_STATE_KEY}
        super().load_own_variables(own)
        if _SEED_STATE_KEY in store.keys():
            self.seed_generator.state.assign(store[_SEED_STATE_KEY])

    def export(self, filepath, overwrite: bool = False, **kwargs):
        """Writes a SavedModel with named endpoints, see ``mmdvae.export``."""
        from mmdvae.export import export_saved_model

        if kwargs:
            raise TypeError(
                f"Autoencoder.export takes `filepath` and `overwrite`; received "
                f"the unexpected arguments {sorted(kwargs)}."
            )
        return export_saved_model(self, filepath, overwrite=overwrite)

    # --- Input checks before any work -----------------------------------------

    @property
    def min_batch_size(self) -> int:
        """The smallest batch the loss can be estimated on."""
        return 1

    def fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        validation.check_fit_inputs(self, x, batch_size, kwargs.get("validation_data"),
                                    kwargs.get("validation_batch_size"))
        if isinstance(x, tf.data.Dataset):
            # A dataset keeps its own order (shuffle it with `mmdvae.data.load`);
            # Keras would otherwise warn that its default shuffle=True is ignored.
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, batch_size, *args, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, *args, **kwargs):
        validation.check_data(self, x, batch_size, argument="x")
        return super().evaluate(x, y, batch_size, *args, **kwargs)

    def predict(self, x, batch_size=None, *args, **kwargs):
        validation.check_data(self, x, batch_size, argument="x", batch_needs_loss=False)
        return super().predict(x, batch_size, *args, **kwargs)

    @property
    def autoencoder_weights(self):
        """The weights the autoencoder update trains (encoder and decoder)."""
        return self.encoder.trainable_weights + self.decoder.trainable_weights

    # --- Hooks -----------------------------------------------------------------

    def regularizer(self, z, z_mean, z_log_var, images):
        """Returns ``(regularization_loss, {name: value})``; zero by default."""
        return tf.zeros([]), {}

    def after_autoencoder_update(self, images, terms):
        """A second update after the autoencoder's; returns extra logged values."""
        return {}

    # --- Encoding and decoding ------------------------------------------------

    def _check_images(self, images):
        shape = tuple(images.shape[1:])
        if len(shape) != len(self.image_shape) or any(
            size is not None and size != expected
            for size, expected in zip(shape, self.image_shape, strict=False)
        ):
            raise ValueError(
                f"Argument `images` must have shape "
                f"(batch, {', '.join(map(str, self.image_shape))}) "
                f"to match the model's image_shape={self.image_shape}; received "
                f"images of shape {tuple(images.shape)}."
            )

    def prior_samples(self, num_samples, seed=None):
        """Draws ``num_samples`` codes from the prior (the model's seed by default)."""
        if seed is None:
            seed = self.seed_generator.next()
        return self.prior.sample(num_samples, seed=tf.cast(seed, tf.int32))

    def normal_noise(self, shape):
        """Standard normal noise for reparameterised samples (the model's seed)."""
        return keras.random.normal(shape, seed=self.seed_generator)

    def posterior(self, images, training=False):
        """Returns ``(z, z_mean, z_log_var)``; the last two are ``None`` when deterministic."""
        if self.encoder_type == "deterministic":
            z = self.encoder(images, training=training)
            return z, None, None
        z_mean, z_log_var = self.encoder(images, training=training)
        z_log_var = tf.clip_by_value(z_log_var, *LOG_VARIANCE_RANGE)
        noise = self.normal_noise(tf.shape(z_mean))
        return z_mean + tf.exp(0.5 * z_log_var) * noise, z_mean, z_log_var

    def encode(self, images, sample: bool = False):
        """Codes of ``images``: the posterior mean, or a sample when ``sample``."""
        validation.check_images(self, images)
        images = tf.convert_to_tensor(images, dtype=self.compute_dtype)
        self._check_images(images)
        z, z_mean, _ = self.posterior(images)
        return z if sample or z_mean is None else z_mean

    def decoder_outputs(self, z, training=False):
        """Returns the decoder's ``(mean, std)``: std is ``None`` but for "gaussian"."""
        logits = self.decoder(z, training=training)
        if self.reconstruction != "gaussian":
            return logits, None
        mean_logits, std_logits = tf.split(logits, 2, axis=-1)
        std = tf.maximum(tf.sigmoid(std_logits), losses.MIN_DECODER_STD)
        return mean_logits, std

    def decoded_images(self, z, training=False):
        """Images (pixel probabilities or means) decoded from ``z``, unchecked."""
        logits, _ = self.decoder_outputs(z, training=training)
        return tf.sigmoid(logits)

    def decode(self, z):
        """Images (pixel probabilities or means in [0, 1]) decoded from codes ``z``."""
        validation.check_codes(self, z)
        return self.decoded_images(tf.convert_to_tensor(z, dtype=self.compute_dtype))

    def reconstruct(self, images):
        """Decodes the codes of ``images`` (posterior means for Gaussian encoders)."""
        return self.decode(self.encode(images))

    def sample(self, num_samples: int, seed: int | None = None):
        """Decodes ``num_samples`` codes drawn from the prior."""
        if seed is not None:
            seed = tf.constant([seed, 0])
        return self.decode(self.prior_samples(num_samples, seed=seed))

    def call(self, images, training=False):
        z, _, _ = self.posterior(images, training=training)
        return self.decoded_images(z, training=training)

    # --- Loss and steps --------------------------------------------------------

    def reconstruction_terms(self, images, logits, std):
        """The reconstruction loss of each example."""
        if self.reconstruction == "mse":
            return losses.mean_squared_error(images, tf.sigmoid(logits))
        if self.reconstruction == "bernoulli":
            return losses.bernoulli_negative_log_likelihood(images, logits)
        return losses.gaussian_negative_log_likelihood(images, tf.sigmoid(logits), std)

    def compute_terms(self, images, training=False):
        """All logged terms of the loss on a batch, ``loss`` included."""
        self._check_images(images)
        z, z_mean, z_log_var = self.posterior(images, training=training)
        logits, std = self.decoder_outputs(z, training=training)
        reconstruction_loss = tf.reduce_mean(self.reconstruction_terms(images, logits, std))
        regularization_loss, extra_terms = self.regularizer(z, z_mean, z_log_var, images)
        return {
            "loss": reconstruction_loss + regularization_loss,
            "reconstruction_loss": reconstruction_loss,
            "regularization_loss": regularization_loss,
            **extra_terms,
        }

    def _images(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return tf.cast(images, self.compute_dtype)

    def _record(self, terms):
        for tracker in self.trackers:
            tracker.update_state(terms[tracker.name])
        return {tracker.name: tracker.result() for tracker in self.trackers}

    def train_step(self, data):
        images = self._images(data)
        weights = self.autoencoder_weights
        with tf.GradientTape() as tape:
            terms = self.compute_terms(images, training=True)
        gradients = tape.gradient(terms["loss"], weights)
        self.optimizer.apply_gradients(zip(gradients, weights, strict=True))
        terms.update(self.after_autoencoder_update(images, terms))
        return self._record(terms)

    def test_step(self, data):
        return self._record(self.compute_terms(self._images(data), training=False))

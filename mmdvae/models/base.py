"""The shared base class of every mmdvae model.

``Autoencoder`` owns the training and evaluation steps, the metric trackers and
the public ``encode``/``decode``/``sample``/``reconstruct`` methods. What a
model adds is parts and hooks:

- a likelihood (``mmdvae.likelihoods``) for the decoder, chosen by name or
  object, and a prior (``mmdvae.priors``);
- ``regularizer(z, z_mean, z_log_var, images, training)``: the latent term of
  the loss and the quantities to log, added up from ``mmdvae.divergences``;
- ``after_autoencoder_update(images, terms)``: a second update after the
  autoencoder's (the adversarial autoencoder trains its discriminator there);
- ``track(*names)`` in the constructor: the extra logged quantities.
"""

import math
import os

import keras
import tensorflow as tf

from mmdvae import (
    checks,
    compat,
    distribute,
    likelihoods,
    networks,
    priors,
    runtime,
    schedules,
    validation,
)
from mmdvae.models.checked import CheckedModel

ENCODER_TYPES = ("deterministic", "gaussian")

#: Encoder log-variances are clamped to this range. The lower end is the
#: standard-deviation floor 0.005 of the InfoVAE authors' evaluation script; the
#: upper end keeps ``exp`` finite.
LOG_VARIANCE_RANGE = (2.0 * math.log(0.005), 10.0)

#: Largest latent size a model accepts (a typo such as 10**9 would otherwise
#: allocate for minutes before running out of memory).
MAX_LATENT_DIM = 65_536

#: Images per batch of ``encode``/``decode`` on large arrays.
ENCODE_BATCH_SIZE = 500

#: Most images one call of ``sample`` draws.
MAX_SAMPLES = 10**7

_SEED_STATE_KEY = "seed_generator_state"


def clamp_log_variance(z_log_var):
    """Clamps encoder log-variances to ``LOG_VARIANCE_RANGE``."""
    return tf.clip_by_value(z_log_var, *LOG_VARIANCE_RANGE)


@keras.saving.register_keras_serializable(package="mmdvae")
class Autoencoder(CheckedModel):
    """Base class: an encoder, a decoder, a likelihood, a prior and one training step.

    The loss is ``reconstruction_loss + regularization_loss``: the
    likelihood's negative log-likelihood averaged over the batch (its reduction
    over pixels is the likelihood's, see ``mmdvae.likelihoods``) and the
    subclass's ``regularizer``. On its own it is a plain autoencoder.

    Args:
        latent_dim: size of the latent code.
        image_shape: shape of one example. Defaults to ``(28, 28, 1)``;
            ``(n,)`` for vector data with the ``"mlp"`` network, ``(length,
            channels)`` for signals with networks of one's own.
        network: the built-in architecture of the encoder and decoder not
            given as ``encoder``/``decoder``, one of ``mmdvae.networks.NETWORKS``.
            Defaults to ``"dcgan"`` (the InfoVAE authors' networks); ``None``
            when both are given.
        encoder_type: ``"deterministic"`` (``z = f(x)``) or ``"gaussian"`` (mean
            and log-variance, sampled by reparameterisation); ``None`` takes the
            model's default, the first of its ``encoder_types``.
        likelihood: a name in ``mmdvae.likelihoods.LIKELIHOODS`` or a
            ``Likelihood``. Defaults to the model's ``default_likelihood``.
        prior: name in ``mmdvae.priors.PRIORS`` or a tensorflow-probability
            distribution with event shape ``[latent_dim]``.
        seed: integer seed of the model's random numbers: reparameterisation
            noise and prior draws (``None``: random). The initial weights come
            from Keras's global seed: call ``keras.utils.set_random_seed``
            before building for a repeatable model.
        encoder: a Keras model (functional, sequential or subclassed) from
            images of ``image_shape`` to the code: ``(batch, latent_dim)`` for a
            deterministic encoder; a ``(z_mean, z_log_var)`` pair of that shape or
            one ``(batch, 2 * latent_dim)`` tensor for a Gaussian one. ``None``
            (default) builds ``network``'s.
        decoder: a Keras model from codes ``(batch, latent_dim)`` to the
            likelihood's parameters, ``(batch, *likelihood.parameter_shape(image_shape))``
            (unconstrained values: the likelihood maps them). ``None`` (default)
            builds ``network``'s. Both are checked on symbolic inputs when the
            model is built, before any training; a subclassed network is saved
            through its ``get_config`` (register it with
            ``keras.saving.register_keras_serializable`` or load with
            ``custom_objects``).

    Example, a network of one's own:

    ```python
    encoder = keras.Sequential([keras.Input((64, 1)), keras.layers.Conv1D(16, 5, 2),
                                keras.layers.Flatten(), keras.layers.Dense(8)])
    model = mmdvae.MMDVAE(latent_dim=8, image_shape=(64, 1), encoder=encoder,
                          network="mlp")   # the mlp decoder
    ```
    """

    #: Encoder types the model allows; the first is its default.
    encoder_types = ENCODER_TYPES
    #: Why a model allows only some encoder types (for the error message).
    encoder_type_reason = ""
    default_likelihood = "mse"
    #: The divergence of q(z) from p(z) the loss adds (``mmdvae.divergences``);
    #: ``None`` without one (the AAE's is its discriminator).
    divergence = None
    #: Weights an optimizer must update for ``apply_gradients`` to XLA-compile its
    #: update in a graph step. Measured on 2 cores: the 13 M weights of the dcgan
    #: networks update in 26 ms instead of 35 ms; below about 0.2 M weights the
    #: compiled update is slower than Keras' own, and compiling it takes 0.6 s.
    compiled_update_min_weights = 1_000_000
    #: Whether the loss holds ``KL(q(z|x) || p(z))`` when the encoder is Gaussian.
    uses_kl_divergence = False

    def __init__(
        self,
        latent_dim: int,
        image_shape=(28, 28, 1),
        network: str | None = "dcgan",
        encoder_type: str | None = None,
        likelihood=None,
        prior="normal",
        seed: int | None = None,
        encoder: keras.Model | None = None,
        decoder: keras.Model | None = None,
        **kwargs,
    ):
        likelihood = compat.likelihood_argument(likelihood, kwargs)
        if likelihood is None:
            likelihood = self.default_likelihood
        latent_dim = checks.check_positive_int("latent_dim", latent_dim, maximum=MAX_LATENT_DIM)
        image_shape = checks.check_shape("image_shape", image_shape)
        if encoder is None or decoder is None:
            checks.check_choice("network", network, networks.NETWORKS)
        else:
            network = None
        encoder_type = self._encoder_type_argument(encoder_type)
        likelihood = likelihoods.get(likelihood)
        seed = checks.check_seed("seed", seed)
        prior_distribution = priors.get_prior(prior, latent_dim)
        self._check_prior_for_kl_divergence(encoder_type, prior, prior_distribution)
        if encoder is not None:
            networks.check_encoder(encoder, image_shape, latent_dim,
                                   gaussian=encoder_type == "gaussian")
        if decoder is not None:
            networks.check_decoder(
                decoder, latent_dim, likelihood.parameter_shape(image_shape),
                reason=f"the parameters of the likelihood {likelihood.name!r} for "
                       f"image_shape={image_shape}")
        super().__init__(**kwargs)

        # === Config ===
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.network = network
        self.encoder_type = encoder_type
        self.likelihood = likelihood
        self.prior_name = prior if isinstance(prior, str) else None
        self.prior = prior_distribution
        self.seed = seed

        # === Layers ===
        #: The networks passed in, saved with the config (the others are `network`'s).
        self.given_networks = tuple(name for name, given in
                                    (("encoder", encoder), ("decoder", decoder))
                                    if given is not None)
        self.encoder = encoder if encoder is not None else networks.make_encoder(
            network, image_shape, latent_dim, gaussian=encoder_type == "gaussian"
        )
        self.decoder = decoder if decoder is not None else networks.make_decoder(
            network, latent_dim, image_shape,
            output_channels=likelihood.values_per_channel,
        )
        self.seed_generator = keras.random.SeedGenerator(seed)
        if isinstance(likelihood, keras.layers.Layer) and not likelihood.built:
            # A likelihood with weights (a PixelCNN) has them before `compile`
            # builds the optimizer; as an attribute it is saved with the model.
            likelihood.build((None, *image_shape))

        # === Metrics ===
        self.trackers = []
        self.scheduled_weights = {}
        self.track("loss", "reconstruction_loss", "regularization_loss")
        self.built = True

    def _check_prior_for_kl_divergence(self, encoder_type, prior, distribution):
        """A Gaussian posterior has infinite KL divergence to a prior of bounded support."""
        if not self.uses_kl_divergence or encoder_type != "gaussian":
            return
        far = tf.fill([1, int(distribution.event_shape[0])], 1e3)
        if bool(tf.reduce_all(tf.math.is_finite(tf.concat(
                [distribution.log_prob(far), distribution.log_prob(-far)], axis=0)))):
            return
        shown = prior if isinstance(prior, str) else type(distribution).__name__
        raise ValueError(
            f"{type(self).__name__} computes KL(q(z|x) || p(z)) for its Gaussian encoder, "
            f"which is infinite for a prior of bounded support: a Gaussian puts mass "
            f"where the prior has none; received prior={shown!r}. Choose a prior "
            f"positive everywhere ('normal', 'logistic'), or a model without a KL term "
            f"(MMDVAE, VIMAE, AAE, or InfoVAE with alpha=1 and a deterministic encoder)."
        )

    def _encoder_type_argument(self, encoder_type):
        if encoder_type is None:
            return self.encoder_types[0]
        if encoder_type in self.encoder_types:
            return encoder_type
        reason = f" ({self.encoder_type_reason})" if self.encoder_type_reason else ""
        raise ValueError(
            f"Argument `encoder_type` of {type(self).__name__} must be one of "
            f"{self.encoder_types}{reason}; received encoder_type={encoder_type!r}."
        )

    def track(self, *names):
        """Adds a ``keras.metrics.Mean`` for each logged quantity in ``names``."""
        self.trackers.extend(keras.metrics.Mean(name=name) for name in names)

    def track_weights(self, **weights):
        """Logs each weight that follows a schedule under its name (``lambda_`` as ``lambda``)."""
        for name, schedule in weights.items():
            if not isinstance(schedule, schedules.Constant):
                self.scheduled_weights[name.rstrip("_")] = schedule
                self.track(name.rstrip("_"))

    def weight_now(self, schedule):
        """The value of a weight's schedule at the current training step.

        In the dtype the loss is summed in (float64 for a float64 model).
        """
        optimizer = getattr(self, "optimizer", None)
        value = schedule(0 if optimizer is None else optimizer.iterations)
        return tf.cast(value, runtime.full_precision_dtype(self.compute_dtype))

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
            likelihood=likelihoods.serialize(self.likelihood),
            prior=self.prior_name,
            seed=self.seed,
        )
        for name in self.given_networks:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        config = compat.upgrade_config(dict(config))
        for name in ("encoder", "decoder"):
            if isinstance(config.get(name), dict):
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    def compile(self, optimizer=None, jit_compile="auto", **kwargs):
        """Configures training: Adam(1e-3) by default, XLA where it is the faster step.

        Args:
            optimizer: a Keras optimizer; ``Adam(1e-3)`` by default.
            jit_compile: ``True`` (XLA), ``False`` (TensorFlow's graph kernels) or
                ``"auto"`` (default): ``mmdvae.runtime.default_jit_compile()``, which is
                ``False`` where TensorFlow's oneDNN kernels are on and ``True`` elsewhere;
                ``False`` under a ``tf.distribute`` strategy or with
                ``run_eagerly=True``. Both steps compute the same losses up to
                float32 rounding from the same random draws; XLA draws other random
                numbers from the same seed.
            **kwargs: the arguments of ``keras.Model.compile``.
        """
        self._check_compile_arguments(kwargs)
        if optimizer is None:
            optimizer = keras.optimizers.Adam(1e-3)
        jit_compile = runtime.resolve_jit_compile(
            jit_compile, run_eagerly=bool(kwargs.get("run_eagerly")),
            under_strategy=distribute.uses_strategy(self))
        jit_compile = distribute.check_jit_compile(self, jit_compile)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        # Built now, so its slot variables exist before the first step (a
        # callback can then snapshot and restore the whole training state).
        self.optimizer.build(self.autoencoder_weights)

    def _check_compile_arguments(self, arguments):
        """Refuses the losses and metrics of ``keras.Model.compile``, which would be ignored.

        The model's loss is its own (``compute_terms``) and its logged quantities
        are its ``metrics``.
        """
        distribute.check_scope(self, "compile")
        for name in ("loss", "loss_weights", "metrics", "weighted_metrics"):
            if arguments.get(name) is not None:
                raise ValueError(
                    f"Argument `{name}` of compile is not used by {type(self).__name__}, "
                    f"which trains on its own loss and logs {[m.name for m in self.metrics]}; "
                    f"received {name}={arguments[name]!r}. Leave it out (compute other "
                    f"measures with `mmdvae.evaluation`)."
                )

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)

    @property
    def metrics(self):
        return self.trackers

    @property
    def optimizers(self) -> list:
        """Every optimizer the model trains with (``optimizer`` first)."""
        return [self.optimizer] if self.optimizer is not None else []

    # --- Saving ----------------------------------------------------------------

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves a ``.keras`` file through a temporary file, renamed at the end.

        A model that cannot be serialised is refused before ``filepath`` is
        touched, and a failure while writing leaves the old file as it was.
        """
        from mmdvae import saving

        saving.save_model(self, filepath, overwrite=overwrite, **kwargs)

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
        return export_saved_model(self, os.fspath(filepath), overwrite=overwrite)

    # --- Input checks before any work -----------------------------------------

    @property
    def min_batch_size(self) -> int:
        """The smallest batch the loss can be estimated on (the divergence's)."""
        return 1 if self.divergence is None else self.divergence.min_batch_size

    @property
    def autoencoder_weights(self):
        """The weights the autoencoder update trains (encoder, decoder, likelihood)."""
        weights = self.encoder.trainable_weights + self.decoder.trainable_weights
        if isinstance(self.likelihood, keras.layers.Layer):
            weights += self.likelihood.trainable_weights
        return weights

    # --- Hooks -----------------------------------------------------------------

    def regularizer(self, z, z_mean, z_log_var, images, training=False):
        """Returns ``(regularization_loss, {name: value})``; zero by default."""
        return tf.zeros([], dtype=z.dtype), {}

    def after_autoencoder_update(self, images, terms):
        """A second update after the autoencoder's; returns extra logged values."""
        return {}

    # --- Encoding and decoding ------------------------------------------------

    def prior_samples(self, num_samples, seed=None):
        """Draws ``num_samples`` codes from the prior (the model's seed by default)."""
        if seed is None:
            seed = self.seed_generator.next()
        return self.prior.sample(num_samples, seed=tf.cast(seed, tf.int32))

    def normal_noise(self, shape):
        """Standard normal noise for reparameterised samples (the model's seed).

        In a step on several replicas, the rows of this replica in one draw for
        the global batch, as ``prior_samples``.
        """
        shape = tf.convert_to_tensor(shape, dtype=tf.int32)
        return distribute.replica_rows(
            lambda rows: keras.random.normal(
                tf.concat([tf.reshape(rows, [1]), shape[1:]], axis=0), seed=self.seed_generator
            ),
            shape[0],
        )

    def posterior(self, images, training=False):
        """Returns ``(z, z_mean, z_log_var)``; the last two are ``None`` when deterministic."""
        if self.encoder_type == "deterministic":
            z = runtime.full_precision(self.encoder(images, training=training))
            return z, None, None
        outputs = self.encoder(images, training=training)
        z_mean, z_log_var = map(runtime.full_precision, networks.gaussian_parameters(outputs))
        z_log_var = clamp_log_variance(z_log_var)
        noise = self.normal_noise(tf.shape(z_mean))
        return z_mean + tf.exp(0.5 * z_log_var) * noise, z_mean, z_log_var

    def _in_batches(self, function, values, batch_size):
        checks.check_positive_int("batch_size", batch_size)
        # Float32 in, as the data of `fit`: the networks cast their own inputs under a
        # mixed-precision policy.
        dtype = runtime.full_precision_dtype(self.compute_dtype)
        values = tf.convert_to_tensor(values, dtype=dtype)
        if not tf.executing_eagerly() or values.shape[0] <= batch_size:
            return function(values)
        parts = [function(values[start:start + batch_size])
                 for start in range(0, int(tf.shape(values)[0]), batch_size)]
        return tf.concat(parts, axis=0)

    def encode(self, images, sample: bool = False, batch_size: int = ENCODE_BATCH_SIZE):
        """Codes of ``images``: the posterior mean, or a sample when ``sample``.

        Large arrays are encoded ``batch_size`` images at a time.
        """
        validation.check_images(self, images)

        def codes(batch):
            z, z_mean, _ = self.posterior(batch)
            return z if sample or z_mean is None else z_mean

        return self._in_batches(codes, images, batch_size)

    def decoded_images(self, z, training=False):
        """Images (the likelihood's probabilities or means) decoded from ``z``, unchecked."""
        return self.likelihood.mean(runtime.full_precision(self.decoder(z, training=training)))

    def decoder_samples(self, z, training=False):
        """Draws ``x ~ p(x|z)`` (reparameterised where the likelihood allows it)."""
        outputs = runtime.full_precision(self.decoder(z, training=training))
        channels = outputs.shape[-1] // self.likelihood.values_per_channel
        noise = self.normal_noise(tf.concat([tf.shape(outputs)[:-1], [channels]], axis=0))
        return self.likelihood.sample(outputs, noise)

    def decode(self, z, batch_size: int = ENCODE_BATCH_SIZE):
        """Images (the likelihood's probabilities or means) decoded from codes ``z``."""
        validation.check_codes(self, z)
        return self._in_batches(self.decoded_images, z, batch_size)

    def reconstruct(self, images, batch_size: int = ENCODE_BATCH_SIZE):
        """Decodes the codes of ``images`` (posterior means for Gaussian encoders)."""
        return self.decode(self.encode(images, batch_size=batch_size), batch_size=batch_size)

    def sample(self, num_samples: int, seed: int | None = None):
        """Decodes ``num_samples`` codes drawn from the prior."""
        num_samples = checks.check_positive_int("num_samples", num_samples,
                                                maximum=MAX_SAMPLES)
        seed = checks.check_seed("seed", seed)
        if seed is not None:
            seed = tf.constant([seed, 0])
        return self.decode(self.prior_samples(num_samples, seed=seed))

    def call(self, images, training=False):
        z, _, _ = self.posterior(images, training=training)
        return self.decoded_images(z, training=training)

    # --- Loss and steps --------------------------------------------------------

    def compute_terms(self, images, training=False, targets=None, sample_weight=None):
        """All logged terms of the loss on a batch, ``loss`` included.

        Args:
            images: the batch the encoder reads.
            training: whether the networks run in training mode.
            targets: the images the decoder reconstructs; ``images`` by default. A
                denoising autoencoder encodes noisy ``images`` and reconstructs clean
                ``targets`` (``fit(noisy, clean)``).
            sample_weight: one weight >= 0 per image, or ``None``. It weights each
                example's terms, the reconstruction and, where the model has one,
                the KL divergence, in a weighted mean (``distribute.example_mean``). The terms
                that compare the batch's codes with the prior as a whole (MMD,
                Stein, adversarial, information bound) are statistics of every code
                in the batch and are not weighted.
        """
        validation.check_images(self, images)
        targets = images if targets is None else targets
        with distribute.example_weights(sample_weight):
            z, z_mean, z_log_var = self.posterior(images, training=training)
            # Half-precision networks (a mixed-precision policy): the sums in float32.
            outputs = runtime.full_precision(self.decoder(z, training=training))
            reconstruction_loss = distribute.example_mean(
                self.likelihood.negative_log_likelihood(targets, outputs)
            )
            regularization_loss, extra_terms = self.regularizer(
                z, z_mean, z_log_var, images, training=training
            )
        return {
            "loss": reconstruction_loss + regularization_loss,
            "reconstruction_loss": reconstruction_loss,
            "regularization_loss": regularization_loss,
            **extra_terms,
            **{name: self.weight_now(schedule)
               for name, schedule in self.scheduled_weights.items()},
        }

    def _batch(self, data):
        """``(images, targets, sample_weight)`` of a step's data.

        The targets are ``y`` when it has the images' rank, else the images
        themselves (a ``y`` of another rank is class labels, which are not used).
        """
        images, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        # Under a mixed-precision policy the data stay float32 for the likelihood;
        # the encoder's first layer casts its own input.
        dtype = runtime.full_precision_dtype(self.compute_dtype)
        images = tf.cast(images, dtype)
        if not tf.is_tensor(y) or y.shape.rank != images.shape.rank:
            return images, images, sample_weight
        return images, tf.cast(y, dtype), sample_weight

    def _record(self, terms):
        for tracker in self.trackers:
            tracker.update_state(terms[tracker.name])
        return distribute.step_logs({tracker.name: tracker.result() for tracker in self.trackers})

    def train_step(self, data):
        images, targets, sample_weight = self._batch(data)
        weights = self.autoencoder_weights
        with tf.GradientTape() as tape:
            terms = self.compute_terms(images, True, targets, sample_weight)
            # Keras sums the replicas' gradients (see `mmdvae.distribute`).
            loss = self.optimizer.scale_loss(distribute.scale_loss(terms["loss"]))
        gradients = tape.gradient(loss, weights)
        self.apply_gradients(self.optimizer, gradients, weights)
        terms.update(self.after_autoencoder_update(images, terms))
        return self._record(terms)

    def apply_gradients(self, optimizer, gradients, weights):
        """``optimizer.apply_gradients``, compiled with XLA inside a step that is not.

        A Keras optimizer updates each variable with a dozen small operations,
        which TensorFlow's graph executor runs one by one, each a pass over the
        variable; XLA fuses them into a few loops (same formulas, float32
        rounding). Done for ``compiled_update_min_weights`` weights or more; the
        step itself keeps TensorFlow's kernels (``jit_compile=False``), and under
        a ``tf.distribute`` strategy the update stays as Keras writes it.
        """
        pairs = list(zip(gradients, weights, strict=True))
        num_weights = sum(weight.shape.num_elements() for weight in weights)
        if (self.jit_compile or tf.executing_eagerly() or distribute.uses_strategy(self)
                or num_weights < self.compiled_update_min_weights):
            optimizer.apply_gradients(pairs)
            return
        tf.function(lambda: optimizer.apply_gradients(pairs), jit_compile=True)()

    def test_step(self, data):
        images, targets, sample_weight = self._batch(data)
        return self._record(self.compute_terms(images, False, targets, sample_weight))

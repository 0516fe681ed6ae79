"""Divergences between the encoder's codes and the prior, the parts models add up.

Each is a ``Divergence``: a ``name`` (its logged quantity), a
``min_batch_size``, a ``get_config`` and one call,
``divergence(z, z_mean, z_log_var, prior, prior_samples)``, that returns the
batch's value; a model's ``regularizer`` weighs and adds them up.

- ``KL``: the batch mean of ``kl_divergence``, ``KL(q(z|x) || p(z))`` of each
  example (VAE, beta-VAE, InfoVAE with ``alpha < 1``); closed form where
  tensorflow-probability has one (a Gaussian encoder against the normal prior),
  a one-sample Monte Carlo estimate otherwise.
- ``MMD``: the maximum mean discrepancy between a batch of codes and prior
  draws (MMD-VAE, VIMAE, InfoVAE), with its kernel, estimator and number of
  prior draws.
- ``Stein``: the InfoVAE paper's appendix-B surrogate, whose gradient is the
  Stein variational gradient of ``KL(q(z) || p(z))``.
- ``Adversarial``: the adversarial autoencoder's discriminator estimate of
  the Jensen-Shannon divergence, with ``generator_loss`` and
  ``discriminator_loss`` its two terms on the discriminator's logits.

``MMD`` and ``Stein`` hold their settings, check them when built, and give
them back as flat keyword arguments (``get_config``), so a model's config is
its own arguments plus theirs. Under a ``tf.distribute`` strategy both are
computed on the codes of the global batch (``mmdvae.distribute``).

Example:

```python
divergence = mmdvae.divergences.get("mmd", kernel="rbf", bandwidth=1.0)
value = divergence(z, None, None, model.prior, model.prior_samples)   # a scalar
```
"""

import inspect

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from mmdvae import checks, distribute, kernels, losses, networks, runtime


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


class Divergence:
    """Base class: a divergence of the codes ``z`` from the prior, one term of a loss.

    Subclasses set ``name`` (the logged quantity) and implement ``__call__``;
    ``get_config`` returns the constructor's keyword arguments.
    """

    name: str = ""
    #: The smallest batch the divergence can be estimated on.
    min_batch_size: int = 1
    #: The ``mmdvae.kernels.Kernel`` of a kernel divergence (MMD, Stein), else None.
    kernel = None

    def __call__(self, z, z_mean, z_log_var, prior, prior_samples=None):
        """The batch's divergence, a scalar.

        Args:
            z: the codes, ``[batch, latent_dim]``.
            z_mean, z_log_var: the Gaussian posterior's parameters, ``None`` for a
                deterministic encoder.
            prior: the prior distribution.
            prior_samples: ``prior_samples(num_samples)`` draws from the prior
                with the model's seed.
        """
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


@keras.saving.register_keras_serializable(package="mmdvae")
class KL(Divergence):
    """The batch mean of ``KL(q(z|x) || p(z))`` (``kl_divergence``); needs a Gaussian encoder."""

    name = "kl_divergence"

    def __call__(self, z, z_mean, z_log_var, prior, prior_samples=None):
        # Weighted by the step's sample weights, over the global batch (`mmdvae.distribute`).
        return distribute.example_mean(kl_divergence(z, z_mean, z_log_var, prior))


@keras.saving.register_keras_serializable(package="mmdvae")
class MMD(Divergence):
    """The MMD between a batch of codes and as many (or ``num_prior_samples``) prior draws.

    ```
    MMD^2 = mean k(z_i, z_j) + mean k(y_i, y_j) - 2 mean k(z_i, y_j),   y ~ p(z)
    ```

    See ``mmdvae.kernels.compute_mmd`` (Zhao, Song and Ermon, InfoVAE tutorial).

    Args:
        kernel: a name in ``mmdvae.kernels.KERNELS`` or a ``mmdvae.kernels.Kernel``
            (its ``kernel`` attribute is the ``Kernel``). Defaults to the tutorial's.
        bandwidth: the kernel's bandwidth, where it takes one (replacing a
            ``Kernel``'s own).
        estimator: ``"biased"`` (the tutorial's) or ``"unbiased"``.
        num_prior_samples: prior draws per step; ``None`` means the batch size.
    """

    name = "mmd"

    def __init__(self, kernel="tutorial", bandwidth=None, estimator="biased",
                 num_prior_samples=None):
        self.kernel = kernels.get_kernel(kernel, bandwidth=bandwidth)
        self.kernel_argument = kernels.serialize(kernel)
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
        return {"kernel": self.kernel_argument, "bandwidth": self.bandwidth,
                "estimator": self.estimator, "num_prior_samples": self.num_prior_samples}

    def __call__(self, z, z_mean, z_log_var, prior, prior_samples=None):
        """The MMD between ``z`` and ``prior_samples(num_samples)``, draws of ``prior``.

        Under a ``tf.distribute`` strategy ``z`` is the replica's share: the
        MMD is computed on the codes of the global batch, against prior draws
        every replica makes alike, so each replica holds the global value.
        """
        z = distribute.gather(z)
        num_samples = self.num_prior_samples or tf.shape(z)[0]
        prior_z = tf.cast(prior_samples(num_samples), z.dtype)
        return kernels.compute_mmd(z, prior_z, self.kernel, self.estimator)


@keras.saving.register_keras_serializable(package="mmdvae")
class Stein(Divergence):
    """The appendix-B surrogate of ``KL(q(z) || p(z))`` (Zhao, Song and Ermon).

    ```
    loss = -1/n sum_j stop_gradient(phi(z_j)) . z_j
    phi(z_j) = 1/n sum_i [k(z_i, z_j) grad log p(z_i) + grad_{z_i} k(z_i, z_j)]
    ```

    Its gradient in the encoder's parameters is the Stein variational gradient
    (Liu and Wang, NeurIPS 2016); its value means nothing on its own. It needs
    only the prior's score ``grad log p(z)``, no prior draws.

    Args:
        kernel: a name in ``mmdvae.kernels.KERNELS`` or a ``mmdvae.kernels.Kernel``
            (its ``kernel`` attribute is the ``Kernel``). Defaults to the tutorial's.
        bandwidth: the kernel's bandwidth, where it takes one (replacing a
            ``Kernel``'s own).
    """

    name = "stein_surrogate"

    def __init__(self, kernel="tutorial", bandwidth=None):
        self.kernel = kernels.get_kernel(kernel, bandwidth=bandwidth)
        self.kernel_argument = kernels.serialize(kernel)
        self.bandwidth = bandwidth

    def get_config(self) -> dict:
        return {"kernel": self.kernel_argument, "bandwidth": self.bandwidth}

    def __call__(self, z, z_mean, z_log_var, prior, prior_samples=None):
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
        return kernels.stein_surrogate_loss(z, scores, self.kernel)


@keras.saving.register_keras_serializable(package="mmdvae")
class Adversarial(Divergence):
    """The adversarial autoencoder's term: a discriminator's estimate of ``JS(q(z) || p(z))``.

    ```
    generator:      E_x softplus(-D(z))                               z = f(x)
    discriminator:  E_p(z) softplus(-D(z)) + E_x softplus(D(z))
    ```

    ``D`` returns logits; the value is the non-saturating generator loss
    (``generator_loss``), which the autoencoder minimises, and the
    discriminator's own loss is ``discriminator_terms`` (``discriminator_loss``).
    Makhzani et al., "Adversarial Autoencoders" (2016); in the InfoVAE family
    (Zhao, Song and Ermon, AAAI 2019) the Jensen-Shannon case. ``build`` makes
    the discriminator, whose weights the model owns and trains in its second
    update. Under a ``tf.distribute`` strategy both terms are computed on the
    codes of the global batch.

    Args:
        discriminator_units: widths of the discriminator's hidden layers.
    """

    name = "generator_loss"

    def __init__(self, discriminator_units=(512, 512)):
        self.discriminator_units = checks.check_integer_tuple(
            "discriminator_units", discriminator_units)
        self.discriminator = None

    def build(self, latent_dim: int):
        """Makes the discriminator ``z -> logit`` for codes of ``latent_dim`` and returns it."""
        self.discriminator = networks.make_discriminator(latent_dim, self.discriminator_units)
        return self.discriminator

    def get_config(self) -> dict:
        return {"discriminator_units": list(self.discriminator_units)}

    def logits(self, codes, training=False):
        """The discriminator's logits, in float32 under a mixed-precision policy."""
        if self.discriminator is None:
            raise ValueError("Adversarial divergence has no discriminator yet: call "
                             "`build(latent_dim)` first.")
        return runtime.full_precision(self.discriminator(codes, training=training))

    def __call__(self, z, z_mean, z_log_var, prior, prior_samples=None):
        return generator_loss(self.logits(distribute.gather(z)))

    def discriminator_terms(self, codes, prior_samples, training=False):
        """The discriminator's ``(loss, accuracy)`` on ``codes`` and as many prior draws."""
        codes = distribute.gather(codes)
        prior_z = prior_samples(tf.shape(codes)[0])
        return discriminator_loss(self.logits(prior_z, training=training),
                                  self.logits(codes, training=training))


#: Divergences a model takes by name (``InfoVAE(divergence=...)``).
NAMED = {"mmd": MMD, "stein": Stein}


def get(divergence, **settings) -> Divergence:
    """The divergence named ``divergence`` built with ``settings``, or ``divergence`` itself.

    Args:
        divergence: a name in ``NAMED``, a ``Divergence``, or the dict
            ``serialize`` returns for one.
        **settings: the named divergence's arguments (``kernel``, ``bandwidth``,
            ...); those it does not take are left out (``Stein`` takes no
            ``estimator``).
    """
    if isinstance(divergence, dict):
        divergence = keras.saving.deserialize_keras_object(divergence)
    if isinstance(divergence, Divergence):
        return divergence
    checks.check_choice("divergence", divergence, tuple(NAMED))
    divergence_class = NAMED[divergence]
    taken = inspect.signature(divergence_class).parameters
    return divergence_class(**{name: value for name, value in settings.items() if name in taken})


def serialize(divergence: Divergence):
    """``{"divergence": name, **settings}`` for a named divergence, else its Keras serialisation."""
    for name, divergence_class in NAMED.items():
        if type(divergence) is divergence_class:
            return {"divergence": name, **divergence.get_config()}
    return {"divergence": keras.saving.serialize_keras_object(divergence)}


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

"""The tiny models, data and command runner every test file builds on."""

import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmdvae
from mmdvae import likelihoods
from mmdvae.models import registry

ROOT = Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (8, 8, 1)
LATENT_DIM = 3


def tiny_model(model, seed=0, **arguments):
    """A model on 8x8 images with the mlp network: a registry name or a class."""
    keras.utils.set_random_seed(seed)
    settings = {"latent_dim": LATENT_DIM, "image_shape": IMAGE_SHAPE, "network": "mlp",
                "seed": seed, **arguments}
    latent_dim = settings.pop("latent_dim")
    if isinstance(model, str):
        return registry.get(model).build(latent_dim, **settings)
    return model(latent_dim, **settings)


def functional_encoder(output_size, image_shape=IMAGE_SHAPE, pair=False):
    """A functional encoder of one's own: one tensor of ``output_size``, or a pair of them."""
    inputs = keras.Input(shape=image_shape)
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inputs))
    if pair:
        outputs = [keras.layers.Dense(output_size)(hidden), keras.layers.Dense(output_size)(hidden)]
    else:
        outputs = keras.layers.Dense(output_size)(hidden)
    return keras.Model(inputs, outputs, name="own_encoder")


@keras.saving.register_keras_serializable(package="mmdvae_tests")
class ResidualDecoder(keras.Model):
    """A subclassed decoder of one's own: a dense layer, a residual block, the output's shape."""

    def __init__(self, target_shape, units=16, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.residual = keras.layers.Dense(units, activation="relu")
        self.to_outputs = keras.layers.Dense(math.prod(self.target_shape))
        self.reshape = keras.layers.Reshape(self.target_shape)

    def call(self, z):
        hidden = self.hidden(z)
        hidden = hidden + self.residual(hidden)
        return self.reshape(self.to_outputs(hidden))

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape),
                "units": self.units}


def own_networks(model, **arguments):
    """``{"encoder": ..., "decoder": ...}`` of one's own that fit the tiny ``model``.

    ``model`` is a registry name; ``arguments`` the model's (its likelihood,
    encoder type and image shape decide the networks' shapes). A Gaussian
    encoder outputs one tensor of ``2 * latent_dim`` values.
    """
    entry = registry.get(model)
    settings = {"image_shape": IMAGE_SHAPE, **entry.defaults, **arguments, **entry.fixed}
    model_class = entry.model_class
    encoder_type = settings.get("encoder_type") or model_class.encoder_types[0]
    likelihood = likelihoods.get(settings.get("likelihood") or model_class.default_likelihood)
    size = LATENT_DIM * (2 if encoder_type == "gaussian" else 1)
    return {"encoder": functional_encoder(size, settings["image_shape"]),
            "decoder": ResidualDecoder(likelihood.parameter_shape(settings["image_shape"]))}


#: The model harness's cases, ``pytest.param(name, arguments)``: every registered model,
#: variants of the settings that change the step, and every model on networks of one's own.
MODELS = [pytest.param(name, {}, id=name) for name in registry.MODELS] + [
    pytest.param("mmd", {"encoder_type": "gaussian", "kernel": "rbf", "bandwidth": 2.0,
                         "estimator": "unbiased"}, id="mmd-gaussian-rbf-unbiased"),
    pytest.param("elbo", {"beta": 4.0, "likelihood": "gaussian"}, id="elbo-beta4-gaussian"),
    pytest.param("infovae", {"alpha": 1.0, "lambda_": 1.0, "divergence": "stein",
                             "encoder_type": "deterministic", "likelihood": "mse"},
                 id="infovae-stein"),
    pytest.param("infovae", {"divergence": "stein"}, id="infovae-stein-gaussian-kl"),
    pytest.param("mutual", {"information": 0.5, "likelihood": "categorical",
                            "image_shape": (4, 4, 2)}, id="mutual-categorical"),
] + [
    # A functional encoder and a subclassed decoder of one's own, built per test.
    pytest.param(name, own_networks, id=f"{name}-own-networks") for name in registry.MODELS
]


def make_model(name, arguments, seed=0):
    """The tiny ``name`` model; ``arguments`` a dict or a function of the name (own_networks)."""
    if callable(arguments):
        keras.utils.set_random_seed(seed)
        arguments = arguments(name)
    return tiny_model(name, seed=seed, **arguments)


def images_for(model, images):
    """The tiny images, or one-hot ones for a categorical likelihood."""
    if isinstance(model.likelihood, mmdvae.likelihoods.Categorical):
        shape = (len(images), *model.image_shape)
        labels = np.random.default_rng(1).integers(0, shape[-1], size=shape[:-1])
        return np.eye(shape[-1], dtype="float32")[labels]
    return images


def fix_random_numbers(model):
    """Replaces the model's random draws by fixed numbers, the same in XLA and not.

    TensorFlow's random kernels and XLA's produce different streams from the same
    seed, so compiled and uncompiled steps are compared on the same draws: slices of
    one constant table, bitwise equal in both. (A formula such as sin(1.7 i + c) is
    not: XLA fuses the multiply-add, and the sine then differs by up to 1.4e-5.)
    """
    table = tf.constant(np.random.default_rng(0).standard_normal(4096), tf.float32)

    def draws(shape, offset):
        return tf.reshape(table[offset:offset + tf.reduce_prod(shape)], shape)

    model.normal_noise = lambda shape: draws(shape, 0)
    model.prior_samples = lambda num_samples, seed=None: draws(
        tf.stack([num_samples, model.latent_dim]), 2048)


def tiny_images(num_images=64, seed=0):
    """Uniform images in [0, 1] of shape ``IMAGE_SHAPE``, the same for a seed."""
    return np.random.default_rng(seed).uniform(size=(num_images, *IMAGE_SHAPE)).astype("float32")


def compile_model(model, **arguments):
    """Compiles with the defaults; models with a discriminator get its optimizer."""
    if isinstance(model, mmdvae.AAE):
        arguments.setdefault("discriminator_optimizer", keras.optimizers.Adam(1e-3))
    model.compile(**arguments)
    return model


def run_cli(arguments, data_dir=None, timeout=300, **kwargs):
    """Runs ``python -m mmdvae ARGUMENTS`` in a fresh process; returns the result."""
    environment = dict(os.environ)
    if data_dir is not None:
        environment["MMDVAE_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "mmdvae", *map(str, arguments)], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=timeout,
                          **kwargs)

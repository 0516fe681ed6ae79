"""The tiny models, data and command runner every test file builds on."""

import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

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

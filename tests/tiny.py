"""The tiny models, data and command runner every test file builds on."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

import mmdvae
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

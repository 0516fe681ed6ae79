"""TensorFlow SavedModel export of a trained model, for serving without mmdvae.

``export_saved_model(model, path)`` writes a SavedModel with four endpoints,
each with a free batch dimension:

- ``encode(images) -> {"z", ...}``: the code ``z`` (the posterior mean for a
  Gaussian encoder, as ``model.encode``), and for Gaussian encoders also
  ``"z_mean"`` and ``"z_log_var"`` (clamped to
  ``mmdvae.models.base.LOG_VARIANCE_RANGE``);
- ``decode(z) -> images``: pixel probabilities or means in [0, 1], not logits;
- ``reconstruct(images) -> images``: ``decode(encode(images)["z"])``;
- ``sample(num_samples, seed) -> images``: decodes ``num_samples`` prior draws
  made with stateless random ops, so the same scalar int32 ``seed`` gives the
  same images every time, and the same images as ``model.sample(num_samples,
  seed=seed)`` in the exporting process.

Each endpoint checks its inputs in the graph as the Python method checks them
(finite images in the likelihood's range, finite codes, ``num_samples`` in
``[1, MAX_SAMPLES]``, ``seed >= 0``) and raises ``tf.errors.InvalidArgumentError``
with a message naming the argument and the value received.

``reconstruct`` is also the default serving signature. The directory loads with
plain ``tf.saved_model.load(path)`` in a process that does not import mmdvae,
and as ``keras.layers.TFSMLayer(path, call_endpoint="reconstruct")``.

Example:

```python
mmdvae.export_saved_model(model, "exported/mmd_vae")
served = tf.saved_model.load("exported/mmd_vae")
images = served.sample(tf.constant(16), tf.constant(0))
```
"""

import os
from pathlib import Path

import keras
import tensorflow as tf

from mmdvae.models.base import MAX_SAMPLES
from mmdvae.validation import graph

ENDPOINTS = ("reconstruct", "encode", "decode", "sample")


def _check_destination(path, overwrite):
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"Argument `path` must be a directory for the SavedModel; received "
            f"path={os.fspath(path)!r}, which is an existing file."
        )
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ValueError(
            f"Argument `path` must be a new or empty directory (pass overwrite=True "
            f"to replace its SavedModel); received path={os.fspath(path)!r}, which "
            f"is not empty."
        )
    return path


def export_saved_model(model, path, overwrite: bool = False) -> Path:
    """Writes ``model`` as a TensorFlow SavedModel with named endpoints.

    Args:
        model: an ``mmdvae.Autoencoder`` (any model of the package).
        path: the directory to write; it must be new or empty unless
            ``overwrite``.
        overwrite: allow writing into a non-empty directory.

    Returns:
        The path written, as a ``pathlib.Path``.
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "posterior"):
        raise TypeError(
            f"Argument `model` must be an mmdvae Autoencoder; received an object of "
            f"type {type(model).__name__}."
        )
    path = _check_destination(path, overwrite)
    # Float32 in and out under every dtype policy: the networks cast their own inputs.
    dtype = tf.float32
    image_spec = tf.TensorSpec((None, *model.image_shape), dtype, name="images")
    code_spec = tf.TensorSpec((None, model.latent_dim), dtype, name="z")

    def codes(images):
        z, z_mean, z_log_var = model.posterior(graph.checked_images(model, images), training=False)
        if z_mean is None:
            return {"z": z}
        return {"z": z_mean, "z_mean": z_mean, "z_log_var": z_log_var}

    def decode(z):
        return model.decoded_images(z, training=False)

    def decode_codes(z):
        return decode(graph.checked_codes(z))

    def reconstruct(images):
        return decode(codes(images)["z"])

    def sample(num_samples, seed):
        num_samples, seed = graph.checked_sample_arguments(num_samples, seed, MAX_SAMPLES)
        seed_pair = tf.stack([seed, tf.zeros_like(seed)])
        return decode(tf.cast(model.prior_samples(num_samples, seed=seed_pair), dtype))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[image_spec])
    archive.add_endpoint("encode", codes, input_signature=[image_spec])
    archive.add_endpoint("decode", decode_codes, input_signature=[code_spec])
    archive.add_endpoint(
        "sample",
        sample,
        input_signature=[
            tf.TensorSpec((), tf.int32, name="num_samples"),
            tf.TensorSpec((), tf.int32, name="seed"),
        ],
    )
    archive.write_out(os.fspath(path), verbose=False)
    return path

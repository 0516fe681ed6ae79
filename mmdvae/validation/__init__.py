"""Checks of the data given to a model, made before any training or inference.

Every Keras entry point of ``Autoencoder`` (``fit``, ``evaluate``, ``predict``,
``train_on_batch``, ``test_on_batch``, ``predict_on_batch``) calls
``check_call`` (and ``encode``/``decode`` call ``check_images``/``check_codes``),
so a mistake in the data gets a ``ValueError`` or ``TypeError`` that names the
argument, what was received and what is allowed, instead of a shape error deep
inside a compiled step or a NaN loss many minutes later.

- NumPy arrays and eager tensors are checked in full: shape, dtype, finite
  values, the likelihood's range (and one-hot rows for the categorical one),
  emptiness and the size of every batch.
- A ``tf.data.Dataset`` is checked through its element spec (rank, sizes,
  dtype), its cardinality (empty; infinite without ``steps``), the size of
  every batch where its pipeline tells (a ``batch`` of a dataset of known
  size), and the values of its first batch; a NaN in a later batch shows up as
  a non-finite loss, which ``mmdvae.checkpoints.StopOnNonFiniteLoss`` reports.
- A ``keras.utils.PyDataset`` is checked through its first batch, as a dataset.
- Python generators are passed through: looking at a batch would consume it.
- Anything else (``None``, a dict, a list, a string, a tuple as ``x``) is
  refused with a ``TypeError`` naming the type received and what is allowed,
  instead of an error from inside Keras.

A target ``y`` of the images' rank is what the decoder reconstructs (a
denoising autoencoder) and is checked as the images are; a ``y`` of another
rank (class labels) is not used. ``sample_weight`` must hold one finite,
non-negative weight per image.

Integer images (such as the raw 0..255 pixels of an IDX file) are refused rather
than converted, because a silent ``/ 255`` would hide a pipeline that forgot to
scale its data.
"""

from mmdvae.validation.arrays import (
    DEFAULT_BATCH_SIZE,
    ONE_HOT_TOLERANCE,
    check_arrays,
    check_batch_size,
    check_codes,
    check_gaussian_encoder,
    check_images,
    checked_image_array,
)
from mmdvae.validation.datasets import (
    check_batch,
    check_counts,
    check_data,
    check_fit_inputs,
    dataset_batch_sizes,
)

__all__ = [
    "DEFAULT_BATCH_SIZE", "ONE_HOT_TOLERANCE", "check_arrays", "check_batch",
    "check_batch_size", "check_codes", "check_counts", "check_data", "check_fit_inputs",
    "check_gaussian_encoder", "check_images", "checked_image_array", "dataset_batch_sizes",
]

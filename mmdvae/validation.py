"""Checks of the data given to a model, made before any training or inference.

``Autoencoder.fit``, ``evaluate`` and ``predict`` call ``check_data`` (and
``encode``/``decode`` call ``check_images``/``check_codes``), so a mistake in
the data gets a ``ValueError`` or ``TypeError`` that names the argument, what
was received and what is allowed, instead of a shape error deep inside a
compiled step or a NaN loss many minutes later.

- NumPy arrays and eager tensors are checked in full: shape, dtype, finite
  values, the [0, 1] range of a Bernoulli decoder, emptiness and the size of
  every batch.
- A ``tf.data.Dataset`` is checked through its element spec (rank, sizes,
  dtype), its cardinality (empty) and the values of its first batch only; a
  NaN in a later batch shows up as a non-finite loss, which
  ``mmdvae.checkpoints.StopOnNonFiniteLoss`` reports.
- Keras ``PyDataset`` objects and Python generators are passed through.
- Anything else (``None``, a dict, a list, a string, a tuple as ``x``) is
  refused with a ``TypeError`` naming the type received and what is allowed,
  instead of an error from inside Keras.

Integer images (such as the raw 0..255 pixels of an IDX file) are refused rather
than converted, because a silent ``/ 255`` would hide a pipeline that forgot to
scale its data.
"""

import types

import keras
import numpy as np
import tensorflow as tf

#: The batch size Keras uses for arrays when none is given.
DEFAULT_BATCH_SIZE = 32


def _is_checkable_array(value) -> bool:
    if isinstance(value, np.ndarray | list):
        return True
    return tf.is_tensor(value) and tf.executing_eagerly() and hasattr(value, "numpy")


def _shape_text(image_shape) -> str:
    return "(batch, " + ", ".join(str(size) for size in image_shape) + ")"


def _check_shape(model, shape, argument):
    shape = tuple(shape)
    expected = tuple(model.image_shape)
    if len(shape) != len(expected) + 1 or any(
        size is not None and size != wanted
        for size, wanted in zip(shape[1:], expected, strict=True)
    ):
        raise ValueError(
            f"Argument `{argument}` must hold images of shape "
            f"{_shape_text(expected)} to match the model's image_shape={expected}; "
            f"received {argument} of shape {shape}."
        )


def _images_text(model) -> str:
    value_range = model.likelihood.value_range
    if value_range is None:
        return "floating-point images"
    return f"floating-point images in [{value_range[0]:g}, {value_range[1]:g}]"


def _check_dtype(model, dtype, argument):
    try:
        dtype = tf.as_dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Argument `{argument}` must hold {_images_text(model)}; "
            f"received {argument} of dtype {dtype}."
        ) from None
    if dtype.is_integer or dtype.is_bool:
        raise TypeError(
            f"Argument `{argument}` must hold {_images_text(model)}; "
            f"received {argument} of dtype {dtype.name}. Integer pixels (0..255) "
            f"are not converted implicitly: pass `{argument}.astype('float32') / 255`."
        )
    if not dtype.is_floating:
        raise TypeError(
            f"Argument `{argument}` must hold {_images_text(model)}; "
            f"received {argument} of dtype {dtype.name}."
        )


def _check_values(model, values, argument, where=""):
    """Finite values in the likelihood's range; ``where`` says which part was read."""
    finite = np.isfinite(values)
    if not finite.all():
        bad = np.argwhere(~finite.reshape(len(values), -1).all(axis=1)).ravel()
        raise ValueError(
            f"Argument `{argument}` must hold finite values; received "
            f"{int((~finite).sum())} NaN or infinite values in {len(bad)} images "
            f"(first at index {int(bad[0])}){where}."
        )
    value_range = model.likelihood.value_range
    if value_range is not None and values.size:
        low, high = float(values.min()), float(values.max())
        if low < value_range[0] or high > value_range[1]:
            raise ValueError(
                f"Argument `{argument}` must lie in [{value_range[0]:g}, "
                f"{value_range[1]:g}] for the likelihood {model.likelihood.name!r}; "
                f"received values from {low:.6g} to {high:.6g}{where}. Scale images "
                f"to [0, 1] (e.g. divide 0..255 pixels by 255), or choose "
                f"likelihood='unbounded_gaussian' for data of any range."
            )


def _check_batch_sizes(model, num_images, batch_size, argument):
    needed = model.min_batch_size
    if num_images == 0:
        raise ValueError(
            f"Argument `{argument}` is empty: received 0 images; at least "
            f"{needed} needed."
        )
    if needed < 2:
        return
    batch_size = batch_size or DEFAULT_BATCH_SIZE
    smallest = min(num_images, num_images % batch_size or batch_size)
    if smallest < needed:
        raise ValueError(
            f"{_model_text(model)} needs at least {needed} images per batch; "
            f"received {num_images} images "
            f"in `{argument}` with batch_size={batch_size}, which leaves a batch of "
            f"{smallest}. Choose a batch_size that leaves no batch of 1, or drop "
            f"the remainder."
        )


def _model_text(model):
    divergence = getattr(model, "mmd", None) or getattr(model, "divergence", None)
    estimator = getattr(divergence, "estimator", None)
    if estimator is None:
        return type(model).__name__
    return f"{type(model).__name__} with estimator={estimator!r}"


def _images_of(element):
    """The images of a dataset element or a batch: the first of a tuple."""
    if isinstance(element, tuple | list) and element:
        return element[0]
    return element


def check_images(model, images, argument: str = "images", batch_size=None,
                 batch_needs_loss: bool = False) -> None:
    """Checks an array of images against ``model``; symbolic tensors: shape only."""
    if not _is_checkable_array(images):
        if tf.is_tensor(images) and images.shape.rank is not None:
            _check_shape(model, images.shape, argument)
        return
    values = images.numpy() if tf.is_tensor(images) else np.asarray(images)
    _check_shape(model, values.shape, argument)
    _check_dtype(model, values.dtype, argument)
    if batch_needs_loss:
        _check_batch_sizes(model, len(values), batch_size, argument)
    _check_values(model, values, argument)


def check_codes(model, z, argument: str = "z") -> None:
    """Checks codes given to ``decode``: shape ``(batch, latent_dim)``, finite."""
    shape = tuple(z.shape) if hasattr(z, "shape") else np.shape(z)
    if len(shape) != 2 or shape[-1] not in (None, model.latent_dim):
        raise ValueError(
            f"Argument `{argument}` must have shape (batch, {model.latent_dim}) "
            f"(latent_dim={model.latent_dim}); received {argument} of shape {shape}."
        )
    if _is_checkable_array(z):
        values = z.numpy() if tf.is_tensor(z) else np.asarray(z)
        if values.dtype.kind in "fc" and not np.isfinite(values).all():
            raise ValueError(
                f"Argument `{argument}` must hold finite codes; received "
                f"{int((~np.isfinite(values)).sum())} NaN or infinite values."
            )


def _check_dataset(model, dataset, argument, batch_needs_loss):
    spec = _images_of(dataset.element_spec)
    if isinstance(spec, dict):
        raise TypeError(
            f"Argument `{argument}` must be a dataset of images or of (images, labels) "
            f"tuples; received a dataset of dicts with keys {sorted(spec)}. Map it to "
            f"the images, e.g. `{argument}.map(lambda element: element['images'])`."
        )
    if not isinstance(spec, tf.TensorSpec):
        return
    if spec.shape.rank is not None:
        _check_shape(model, spec.shape, argument)
    _check_dtype(model, spec.dtype, argument)
    if int(dataset.cardinality()) == 0:
        raise ValueError(
            f"Argument `{argument}` is an empty dataset (cardinality 0); it must "
            f"yield at least one batch of images."
        )
    for element in dataset.take(1):
        first = _images_of(element).numpy()
        if batch_needs_loss and len(first) < model.min_batch_size:
            raise ValueError(
                f"{_model_text(model)} needs at least {model.min_batch_size} images "
                f"per batch; received a dataset `{argument}` whose first batch "
                f"holds {len(first)}."
            )
        _check_values(model, first, argument, where=" in its first batch")
        return
    raise ValueError(
        f"Argument `{argument}` is an empty dataset: it yielded no batch; it must "
        f"yield at least one batch of images."
    )


def _allowed_text(model) -> str:
    return (
        f"a NumPy array or tensor of images of shape {_shape_text(model.image_shape)}, "
        f"a tf.data.Dataset of images or of (images, labels) tuples, a "
        f"keras.utils.PyDataset or a Python generator"
    )


def _received_text(argument, value) -> str:
    kind = type(value).__name__
    if isinstance(value, dict):
        detail = f"keys {sorted(map(str, value))}"
    elif isinstance(value, list | tuple):
        detail = f"{len(value)} items"
    else:
        detail = repr(value)[:60]
    return f"{argument} of type {kind} ({detail})"


def _check_data_type(model, x, argument):
    """Refuses a kind of ``x`` Keras would fail on with an error of its own."""
    if x is None:
        raise TypeError(
            f"Argument `{argument}` is required: it must be {_allowed_text(model)}; "
            f"received {argument}=None."
        )
    allowed = (np.ndarray, tf.data.Dataset, keras.utils.PyDataset, types.GeneratorType)
    refused = (list, tuple, dict, str, bytes)
    if isinstance(x, allowed) or tf.is_tensor(x):
        return
    if hasattr(x, "__array__") and not isinstance(x, refused):
        return  # array-likes of other libraries are converted by Keras
    hint = ""
    if isinstance(x, tuple | list):
        hint = (" Pass the images as `x` and any labels as `y` (fit(images, labels)), "
                "join a list of image arrays with np.concatenate, or give a "
                "tf.data.Dataset of (images, labels).")
    elif isinstance(x, dict):
        hint = " Pass the array of images itself."
    raise TypeError(
        f"Argument `{argument}` must be {_allowed_text(model)}; received "
        f"{_received_text(argument, x)}.{hint}"
    )


def check_data(model, x, batch_size=None, argument: str = "x",
               batch_needs_loss: bool = True) -> None:
    """Checks the ``x`` of ``fit``/``evaluate``/``predict`` before any work.

    With ``argument="validation_data"``, ``x`` may also be an ``(images,)``,
    ``(images, labels)`` or ``(images, labels, weights)`` tuple, as Keras takes it.
    """
    if argument == "validation_data" and isinstance(x, tuple | list):
        if not 1 <= len(x) <= 3:
            raise ValueError(
                f"Argument `validation_data` must be (images,), (images, labels) or "
                f"(images, labels, sample_weights); received a {type(x).__name__} of "
                f"{len(x)} items."
            )
        x = x[0]
    _check_data_type(model, x, argument)
    if isinstance(x, tf.data.Dataset):
        _check_dataset(model, x, argument, batch_needs_loss)
        return
    check_images(model, x, argument, batch_size, batch_needs_loss)


def check_fit_inputs(model, x, batch_size, validation_data, validation_batch_size):
    """Checks the training and validation data of ``fit``."""
    check_data(model, x, batch_size, argument="x")
    if validation_data is not None:
        check_data(model, validation_data, validation_batch_size or batch_size,
                   argument="validation_data")

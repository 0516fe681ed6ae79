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

import types

import keras
import numpy as np
import tensorflow as tf

from mmdvae import checks, likelihoods

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
    if isinstance(model.likelihood, likelihoods.Categorical) and values.size:
        _check_one_hot(values, argument, where)


#: How far from 1 the sum of a categorical example's values may be (float rounding).
ONE_HOT_TOLERANCE = 1e-3


def _check_one_hot(values, argument, where):
    """The categorical likelihood models one-hot rows (or probabilities) on the last axis."""
    sums = values.sum(axis=-1, dtype=np.float64)
    bad = np.abs(sums - 1.0) > ONE_HOT_TOLERANCE
    if bad.any():
        first = tuple(int(index) for index in np.unravel_index(int(np.argmax(bad)), bad.shape))
        first = first[0] if len(first) == 1 else first
        raise ValueError(
            f"Argument `{argument}` must be one-hot (or probabilities summing to 1) on "
            f"its last axis for the likelihood 'categorical'; received {int(bad.sum())} "
            f"rows that sum to other values, the first at index {first} summing to "
            f"{float(sums[first]):.6g}{where}. Choose another likelihood for data that "
            f"is not categorical."
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
    divergence = getattr(model, "divergence", None)
    estimator = getattr(divergence, "estimator", None)
    if estimator is None:
        return type(model).__name__
    return f"{type(model).__name__} with estimator={estimator!r}"


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


def _is_target(model, shape) -> bool:
    """A ``y`` of the images' rank is a target to reconstruct; another rank is labels."""
    return shape is not None and len(shape) == len(model.image_shape) + 1


def _element_parts(element):
    """``(images, y, sample_weight)`` of a dataset element or a batch."""
    if isinstance(element, tuple | list):
        parts = (*element, None, None)
        return parts[0], parts[1], parts[2]
    return element, None, None


def _check_spec(model, spec, argument):
    if spec.shape.rank is not None:
        _check_shape(model, spec.shape, argument)
    _check_dtype(model, spec.dtype, argument)


def _check_sample_weight(values, num_images, argument="sample_weight", where=""):
    """One finite, non-negative weight per image: shape ``(batch,)`` or ``(batch, 1)``."""
    values = np.asarray(values)
    if values.dtype.kind not in "fiu" or values.dtype == np.bool_:
        raise TypeError(
            f"Argument `{argument}` must hold one number per image; received "
            f"{argument} of dtype {values.dtype}{where}."
        )
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or len(values) != num_images:
        raise ValueError(
            f"Argument `{argument}` must hold one weight per image, shape "
            f"({num_images},); received {argument} of shape {values.shape}{where}."
        )
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(
            f"Argument `{argument}` must hold finite weights >= 0; received values "
            f"from {float(np.nanmin(values)):.6g} to {float(np.nanmax(values)):.6g}"
            f"{' (with NaN)' if np.isnan(values).any() else ''}{where}."
        )


def _check_batch_values(model, element, argument, where, batch_needs_loss):
    """The values of one batch of a dataset or ``PyDataset``: images, target, weights."""
    images, target, weights = (
        None if part is None else np.asarray(part) for part in _element_parts(element)
    )
    if batch_needs_loss and len(images) < model.min_batch_size:
        raise ValueError(
            f"{_model_text(model)} needs at least {model.min_batch_size} images "
            f"per batch; received a dataset `{argument}` whose first batch "
            f"holds {len(images)}."
        )
    _check_values(model, images, argument, where=where)
    if target is not None and _is_target(model, target.shape):
        _check_shape(model, target.shape, "y")
        _check_dtype(model, target.dtype, "y")
        _check_values(model, target, "y", where=where)
    if weights is not None:
        _check_sample_weight(weights, len(images), where=where)


def _check_dataset(model, dataset, argument, batch_needs_loss, steps):
    images_spec, target_spec, _ = _element_parts(dataset.element_spec)
    if isinstance(images_spec, dict):
        raise TypeError(
            f"Argument `{argument}` must be a dataset of images or of (images, labels) "
            f"tuples; received a dataset of dicts with keys {sorted(images_spec)}. Map "
            f"it to the images, e.g. `{argument}.map(lambda element: element['images'])`."
        )
    if not isinstance(images_spec, tf.TensorSpec):
        return
    _check_spec(model, images_spec, argument)
    if isinstance(target_spec, tf.TensorSpec) and _is_target(model, target_spec.shape):
        _check_spec(model, target_spec, "y")
    cardinality = int(dataset.cardinality())
    if cardinality == 0:
        raise ValueError(
            f"Argument `{argument}` is an empty dataset (cardinality 0); it must "
            f"yield at least one batch of images."
        )
    _check_finite_length(cardinality == tf.data.INFINITE_CARDINALITY, argument, steps)
    if batch_needs_loss:
        sizes = dataset_batch_sizes(dataset)
        if sizes is not None:
            _check_batch_sizes(model, sizes[0], sizes[1], argument)
    for element in dataset.take(1):
        element = tf.nest.map_structure(lambda part: part.numpy(), element)
        _check_batch_values(model, element, argument, " in its first batch",
                            batch_needs_loss)
        return
    raise ValueError(
        f"Argument `{argument}` is an empty dataset: it yielded no batch; it must "
        f"yield at least one batch of images."
    )


#: tf.data transformations that keep each batch's size: looked through to find a ``batch``.
_SIZE_KEEPING = ("_MapDataset", "_ParallelMapDataset", "_PrefetchDataset", "CacheDataset",
                 "_OptionsDataset", "_AssertCardinalityDataset", "_IgnoreErrorsDataset")


def dataset_batch_sizes(dataset):
    """``(num_images, batch_size)`` of a dataset that batches one of known size, else ``None``.

    Read from the pipeline (``batch`` after element-wise steps such as ``map`` or
    ``prefetch``) without iterating it; ``None`` when the pipeline does not tell.
    """
    while type(dataset).__name__ in _SIZE_KEEPING:
        dataset = getattr(dataset, "_input_dataset", None)
        if dataset is None:
            return None
    if type(dataset).__name__ not in ("_BatchDataset", "_ParallelBatchDataset"):
        return None
    batch_size = tf.get_static_value(getattr(dataset, "_batch_size", None))
    drop_remainder = tf.get_static_value(getattr(dataset, "_drop_remainder", None))
    source = getattr(dataset, "_input_dataset", None)
    if batch_size is None or drop_remainder is None or source is None:
        return None
    num_images = int(source.cardinality())
    if num_images < 0:
        return None
    if drop_remainder:
        num_images -= num_images % int(batch_size)
    return num_images, int(batch_size)


def _check_finite_length(infinite, argument, steps):
    """Keras' rule: data without end needs the number of steps that ends an epoch."""
    if not infinite or steps is not None:
        return
    steps_argument = {"x": "steps_per_epoch", "validation_data": "validation_steps"}.get(
        argument, "steps")
    raise ValueError(
        f"Argument `{argument}` never ends (an infinite dataset, e.g. after "
        f"`.repeat()`); pass `{steps_argument}`, the number of batches that makes one "
        f"epoch; received {steps_argument}=None."
    )


def _check_py_dataset(model, dataset, argument, batch_needs_loss, steps):
    _check_finite_length(dataset.num_batches is None, argument, steps)
    if dataset.num_batches == 0:
        raise ValueError(
            f"Argument `{argument}` is an empty PyDataset (num_batches=0); it must "
            f"yield at least one batch of images."
        )
    element = dataset[0]
    images = _element_parts(element)[0]
    _check_shape(model, np.shape(images), argument)
    _check_dtype(model, np.asarray(images).dtype, argument)
    _check_batch_values(model, element, argument, " in its first batch", batch_needs_loss)


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


def check_batch_size(argument: str, value):
    """``None`` (Keras' default) or an integer >= 1."""
    return None if value is None else checks.check_positive_int(argument, value)


def check_arrays(model, x, y=None, sample_weight=None, batch_size=None,
                 argument: str = "x", batch_needs_loss: bool = True) -> None:
    """Checks images, a target ``y`` of their rank, and ``sample_weight``."""
    check_images(model, x, argument, batch_size, batch_needs_loss)
    num_images = len(x) if _is_checkable_array(x) else None
    if y is not None and _is_checkable_array(y) and _is_target(model, np.shape(y)):
        check_images(model, y, "y")
        if num_images is not None and len(y) != num_images:
            raise ValueError(
                f"Argument `y` (the images to reconstruct) must hold one image per "
                f"image of `{argument}`; received {len(y)} targets for {num_images} images."
            )
    if sample_weight is not None:
        if num_images is None:
            num_images = len(sample_weight)
        _check_sample_weight(sample_weight, num_images)


def check_batch(model, x, y=None, sample_weight=None, argument: str = "x",
                batch_needs_loss: bool = True) -> None:
    """Checks the one batch of ``train_on_batch``, ``test_on_batch`` or ``predict_on_batch``."""
    _check_data_type(model, x, argument)
    if isinstance(x, tf.data.Dataset | keras.utils.PyDataset | types.GeneratorType):
        raise TypeError(
            f"Argument `{argument}` must be one batch: a NumPy array or tensor of images of "
            f"shape {_shape_text(model.image_shape)}; received {_received_text(argument, x)}. "
            f"Pass datasets to fit, evaluate or predict."
        )
    num_images = len(x) if _is_checkable_array(x) else None
    check_arrays(model, x, y, sample_weight, num_images, argument, batch_needs_loss)


def check_data(model, x, batch_size=None, argument: str = "x",
               batch_needs_loss: bool = True, y=None, sample_weight=None,
               steps=None) -> None:
    """Checks the data of ``fit``/``evaluate``/``predict`` before any work.

    With ``argument="validation_data"``, ``x`` may also be an ``(images,)``,
    ``(images, y)`` or ``(images, y, sample_weights)`` tuple, as Keras takes it.
    ``steps`` is the number of batches the call will take (``steps_per_epoch``,
    ``validation_steps`` or ``steps``), which data without end needs.
    """
    batch_size = check_batch_size(
        "validation_batch_size" if argument == "validation_data" else "batch_size",
        batch_size)
    if argument == "validation_data" and isinstance(x, tuple | list):
        if not 1 <= len(x) <= 3:
            raise ValueError(
                f"Argument `validation_data` must be (images,), (images, labels) or "
                f"(images, labels, sample_weights); received a {type(x).__name__} of "
                f"{len(x)} items."
            )
        x, y, sample_weight = _element_parts(x)
    _check_data_type(model, x, argument)
    if isinstance(x, tf.data.Dataset):
        _check_dataset(model, x, argument, batch_needs_loss, steps)
        return
    if isinstance(x, keras.utils.PyDataset):
        _check_py_dataset(model, x, argument, batch_needs_loss, steps)
        return
    check_arrays(model, x, y, sample_weight, batch_size, argument, batch_needs_loss)


#: Arguments of ``fit`` and ``evaluate`` that count steps or epochs.
_COUNTS = {"epochs": 0, "initial_epoch": 0, "steps_per_epoch": 1, "validation_steps": 1,
           "steps": 1, "validation_freq": 1}


def check_counts(arguments: dict) -> None:
    """Integer counts of ``fit``/``evaluate``/``predict`` (``None`` allowed)."""
    for name, minimum in _COUNTS.items():
        value = arguments.get(name)
        if value is not None:
            checks.check_positive_int(name, value, minimum=minimum)


def check_fit_inputs(model, x, y, batch_size, sample_weight, arguments: dict):
    """Checks the training and validation data and the counts of ``fit``."""
    check_counts(arguments)
    check_batch_size("validation_batch_size", arguments.get("validation_batch_size"))
    split = arguments.get("validation_split", 0.0)
    if checks.check_number("validation_split", split, minimum=0.0, maximum=1.0) == 1.0:
        raise ValueError(
            f"Argument `validation_split` must be a fraction in [0, 1) of the images "
            f"kept for validation; received validation_split={split!r}, which leaves none "
            f"to train on."
        )
    check_data(model, x, batch_size, argument="x", y=y, sample_weight=sample_weight,
               steps=arguments.get("steps_per_epoch"))
    validation_data = arguments.get("validation_data")
    if validation_data is not None:
        check_data(model, validation_data,
                   arguments.get("validation_batch_size") or batch_size,
                   argument="validation_data", steps=arguments.get("validation_steps"))

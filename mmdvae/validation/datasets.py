"""Data given to ``fit``/``evaluate``/``predict``: datasets, ``PyDataset``s, batches, counts.

A ``tf.data.Dataset`` is checked through its element spec, its cardinality,
the batch sizes its pipeline tells and the values of its first batch; a
``keras.utils.PyDataset`` through its first batch; arrays in full
(``mmdvae.validation.arrays``).
"""

import types

import keras
import numpy as np
import tensorflow as tf

from mmdvae import checks
from mmdvae.validation.arrays import (
    _check_batch_sizes,
    _check_dtype,
    _check_sample_weight,
    _check_shape,
    _check_values,
    _is_checkable_array,
    _is_target,
    _model_text,
    _shape_text,
    check_arrays,
    check_batch_size,
)


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

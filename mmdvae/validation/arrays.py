"""Arrays (images, codes, targets, weights) checked in full against a model."""

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


def checked_image_array(model, images, argument: str = "images") -> np.ndarray:
    """``images`` as a non-empty float32 array, checked against ``model`` (for measures)."""
    check_images(model, images, argument)
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError(
            f"Argument `{argument}` is empty: received 0 images; at least one is needed."
        )
    return images.astype(np.float32, copy=False)


def check_gaussian_encoder(model, measure: str) -> None:
    """A ``ValueError`` unless ``model``'s encoder is Gaussian, which ``measure`` needs."""
    if model.encoder_type != "gaussian":
        raise ValueError(
            f"{measure} needs a Gaussian encoder q(z|x); this "
            f"{type(model).__name__} has encoder_type={model.encoder_type!r}. "
            "Train it with encoder_type='gaussian'."
        )

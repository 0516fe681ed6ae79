"""The checks of ``encode``, ``decode`` and ``sample`` as graph operations, for a SavedModel.

Each function returns its inputs behind ``tf.debugging.Assert`` operations that
raise ``tf.errors.InvalidArgumentError`` with a message naming the argument and
the value received, as the Python methods' checks (``mmdvae.validation.arrays``)
do, so a served model refuses what the live model refuses.
"""

import tensorflow as tf


def _check(condition, *parts):
    """An ``InvalidArgumentError`` with the message ``parts`` (text and tensors) unless
    ``condition``; returns the check, for a control dependency."""
    message = tf.strings.join([part if isinstance(part, str) else tf.strings.as_string(part)
                               for part in parts])
    return tf.debugging.Assert(condition, [message])


def _non_finite_count(values):
    return tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(values)), tf.int64))


def checked_images(model, images):
    """``images`` after the checks of ``model.encode``: finite, in the likelihood's range."""
    bad = _non_finite_count(images)
    checks = [_check(tf.equal(bad, 0), "Argument `images` must hold finite values; received ",
                     bad, " NaN or infinite values.")]
    value_range = model.likelihood.value_range
    if value_range is not None:
        low, high = tf.reduce_min(images), tf.reduce_max(images)
        checks.append(_check(
            tf.logical_and(low >= value_range[0], high <= value_range[1]),
            f"Argument `images` must lie in [{value_range[0]:g}, {value_range[1]:g}] for the "
            f"likelihood {model.likelihood.name}; received values from ", low, " to ", high,
            ". Scale images to [0, 1] (e.g. divide 0..255 pixels by 255)."))
    with tf.control_dependencies(checks):
        return tf.identity(images)


def checked_codes(z):
    """``z`` after the check of ``model.decode``: finite codes."""
    bad = _non_finite_count(z)
    with tf.control_dependencies([_check(
            tf.equal(bad, 0), "Argument `z` must hold finite codes; received ", bad,
            " NaN or infinite values.")]):
        return tf.identity(z)


def checked_sample_arguments(num_samples, seed, max_samples: int):
    """The arguments of ``sample`` after the checks of ``model.sample``."""
    checks = [
        _check(tf.logical_and(num_samples >= 1, num_samples <= max_samples),
               f"Argument `num_samples` must be an integer in [1, {max_samples}]; received "
               f"num_samples=", num_samples, "."),
        _check(seed >= 0, "Argument `seed` must be an integer >= 0; received seed=", seed, "."),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(num_samples), tf.identity(seed)

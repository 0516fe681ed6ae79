"""Checks of the sample tensors that the kernels, the median and the MMD take.

They work on tensors whose shapes may be known only at run time: a shape known
when called is checked at once (`ValueError`), a row count known only at run
time by a `tf.debugging` assertion that the result waits for (`after`).
"""

from __future__ import annotations

import tensorflow as tf

# Size of each `[rows, columns]` float64 block the eager, bounded-memory paths
# hold (64 MiB): the median heuristic's and the two-sample test's.
BLOCK_BYTES = 2**26


def static_shape_text(tensor: tf.Tensor) -> str:
    return str(tuple(tensor.shape.as_list())) if tensor.shape.rank is not None else "?"


def check_pair(x, y) -> tuple[tf.Tensor, tf.Tensor]:
    """Converts `x` and `y` to tensors; checks rank 2, equal dtype and width."""
    x = tf.convert_to_tensor(x)
    y = tf.convert_to_tensor(y, dtype_hint=x.dtype)
    for name, tensor in (("x", x), ("y", y)):
        if not tensor.dtype.is_floating:
            raise ValueError(
                f"Argument `{name}` must be a floating point tensor; received "
                f"dtype {tensor.dtype.name}."
            )
        if tensor.shape.rank is not None and tensor.shape.rank != 2:
            raise ValueError(
                f"Argument `{name}` must have rank 2 (num_samples, dim); received "
                f"shape {static_shape_text(tensor)}."
            )
    if x.dtype != y.dtype:
        raise ValueError(
            f"Arguments `x` and `y` must have the same dtype; received "
            f"{x.dtype.name} and {y.dtype.name}."
        )
    x_dim = x.shape[-1] if x.shape.rank is not None else None
    y_dim = y.shape[-1] if y.shape.rank is not None else None
    if x_dim is not None and y_dim is not None and x_dim != y_dim:
        raise ValueError(
            f"Arguments `x` and `y` must have the same last dimension; received "
            f"x with shape {static_shape_text(x)} and y with shape "
            f"{static_shape_text(y)}."
        )
    return x, y


def check_two_rows(tensor: tf.Tensor, message: str, name: str) -> list:
    """Raises ``message`` for a static row count below 2; else returns run-time asserts."""
    num_rows = tensor.shape[0] if tensor.shape.rank is not None else None
    if num_rows is not None:
        if num_rows < 2:
            raise ValueError(
                f"{message}; received {name} with shape {static_shape_text(tensor)}."
            )
        return []
    assertion = tf.debugging.assert_greater_equal(tf.shape(tensor)[0], 2, message=message)
    return [assertion] if assertion is not None else []


def after(assertions: list, value: tf.Tensor) -> tf.Tensor:
    """`value`, computed only once the run-time `assertions` hold."""
    if not assertions:
        return value
    with tf.control_dependencies(assertions):
        return tf.identity(value)

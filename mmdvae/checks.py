"""Argument checks shared by the whole package.

Each function raises at once, before any expensive work, with a message that
names the argument, the value received and what is allowed: ``TypeError`` for
a value of the wrong kind, ``ValueError`` for one of the right kind out of
range. NumPy scalars are accepted wherever a Python number is.

Example:

```python
checks.check_positive_int("num_samples", 64)          # returns 64
checks.check_number("beta", float("nan"), minimum=0)   # ValueError
```
"""

import math
import numbers

import numpy as np

#: Largest model seed: Keras seeds are 32-bit.
MAX_SEED = 2**31 - 1


def check_choice(argument: str, value, allowed):
    """Returns ``value`` when it is one of ``allowed``."""
    if isinstance(value, str | int | float | type(None)) and value in allowed:
        return value
    raise ValueError(
        f"Argument `{argument}` must be one of {tuple(allowed)}; "
        f"received {argument}={value!r}."
    )


def check_positive_int(argument: str, value, maximum: int | None = None, minimum: int = 1):
    """Returns ``value`` as an ``int`` when it is an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Argument `{argument}` must be an integer >= {minimum}; received "
            f"{argument}={value!r} of type {type(value).__name__}."
        )
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(
            f"Argument `{argument}` must be an integer {allowed}; "
            f"received {argument}={value}."
        )
    return value


def check_number(
    argument: str,
    value,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Returns ``value`` as a ``float`` when it is a finite number in range.

    Args:
        argument: the argument's name, for the message.
        value: the value to check.
        minimum: the smallest value allowed (``None``: no bound).
        maximum: the largest value allowed (``None``: no bound).
        strict_minimum: ``minimum`` itself is not allowed.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Argument `{argument}` must be a number; received {argument}={value!r} "
            f"of type {type(value).__name__}."
        )
    value = float(value)
    too_low = minimum is not None and (
        value <= minimum if strict_minimum else value < minimum
    )
    too_high = maximum is not None and value > maximum
    if not math.isfinite(value) or too_low or too_high:
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if strict_minimum else '>='} {minimum:g}")
        if maximum is not None:
            bounds.append(f"<= {maximum:g}")
        allowed = " and ".join(["finite", *bounds])
        raise ValueError(
            f"Argument `{argument}` must be a {allowed} number; "
            f"received {argument}={value!r}."
        )
    return value


def check_seed(argument: str, value):
    """Returns ``value`` when it is ``None`` or an integer in ``[0, MAX_SEED]``."""
    if value is None:
        return None
    return check_positive_int(argument, value, maximum=MAX_SEED, minimum=0)


def check_shape(argument: str, value, max_size: int = 2**20,
                example: str = "(28, 28, 1)") -> tuple:
    """Returns ``value`` as a tuple of positive ints (e.g. an ``image_shape``).

    A sequence of integers (NumPy integers included) each in ``[1, max_size]``;
    a bare integer, a string or a float size is refused. ``example`` is a good
    value shown in the message.
    """
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        raise TypeError(
            f"Argument `{argument}` must be a tuple of positive integers such as "
            f"{example}; received {argument}={value!r}."
        )
    sizes = tuple(value)
    if not sizes or not all(
        isinstance(size, numbers.Integral) and not isinstance(size, bool | np.bool_)
        for size in sizes
    ):
        raise TypeError(
            f"Argument `{argument}` must be a non-empty tuple of positive integers "
            f"such as {example}; received {argument}={value!r}."
        )
    if any(size < 1 or size > max_size for size in sizes):
        raise ValueError(
            f"Argument `{argument}` must hold sizes in [1, {max_size}]; "
            f"received {argument}={value!r}."
        )
    return tuple(int(size) for size in sizes)


def check_integer_tuple(argument: str, value) -> tuple:
    """Returns ``value`` as a non-empty tuple of positive ints (layer widths)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        raise TypeError(
            f"Argument `{argument}` must be a sequence of positive integers such as "
            f"(512, 512); received the single integer {argument}={value!r}."
        )
    return check_shape(argument, value, example="(512, 512)")


# === Arrays ===


def check_image_array(argument: str, images) -> np.ndarray:
    """Returns ``images`` as a float32 array ``[n, height, width, channels]``, n >= 1.

    Integer images (0..255 pixels) are refused: a figure would draw them white.
    """
    array = np.asarray(images)
    if array.dtype.kind in "biu":
        raise TypeError(
            f"Argument `{argument}` must hold floating-point images in [0, 1]; "
            f"received {argument} of dtype {array.dtype}. Pass "
            f"`{argument}.astype('float32') / 255`."
        )
    if array.dtype.kind != "f":
        raise TypeError(
            f"Argument `{argument}` must hold floating-point images in [0, 1]; "
            f"received {argument} of dtype {array.dtype}."
        )
    if array.ndim != 4 or len(array) == 0:
        raise ValueError(
            f"Argument `{argument}` must have shape (n, height, width, channels) with "
            f"n >= 1; received shape {array.shape}."
        )
    return array.astype(np.float32, copy=False)


def check_class_names(class_names, labels) -> None:
    """Checks that ``class_names`` (if given) names every label in ``labels``."""
    if class_names is None:
        return
    if isinstance(class_names, str | bytes) or not hasattr(class_names, "__len__"):
        raise TypeError(
            f"Argument `class_names` must be a sequence of names indexed by label; "
            f"received class_names={class_names!r}."
        )
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
        raise ValueError(
            f"Argument `labels` must be non-negative integers to index `class_names`; "
            f"received labels of dtype {labels.dtype}"
            + (f" from {labels.min()}" if labels.size and labels.dtype.kind in "iuf" else "")
            + "."
        )
    if labels.size and labels.max() >= len(class_names):
        raise ValueError(
            f"Argument `class_names` must name every class: labels run up to "
            f"{int(labels.max())}, so {int(labels.max()) + 1} names are needed; "
            f"received {len(class_names)} names, class_names={list(class_names)!r}."
        )


def check_quantile_range(quantile_range) -> tuple:
    """Returns ``(low, high)`` after checking ``0 < low < high < 1``."""
    if (isinstance(quantile_range, str | bytes) or not hasattr(quantile_range, "__len__")
            or len(quantile_range) != 2
            or not all(isinstance(q, numbers.Real) and not isinstance(q, bool)
                       for q in quantile_range)):
        raise TypeError(
            f"Argument `quantile_range` must be a pair of numbers (low, high) with "
            f"0 < low < high < 1; received quantile_range={quantile_range!r}."
        )
    low, high = (float(q) for q in quantile_range)
    if not 0 < low < high < 1:
        raise ValueError(
            f"Argument `quantile_range` must be (low, high) with 0 < low < high < 1; "
            f"received quantile_range={quantile_range!r}."
        )
    return low, high


def check_matrix(argument: str, values, min_rows: int = 1) -> np.ndarray:
    """Returns ``values`` (codes, features) as a finite float64 ``[n, width]`` array with
    ``n >= min_rows``."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Argument `{argument}` must hold numbers; received {argument} of dtype "
            f"{array.dtype}."
        )
    array = array.astype(np.float64, copy=False)
    if array.ndim != 2 or array.shape[0] < min_rows or array.shape[1] < 1:
        raise ValueError(
            f"Argument `{argument}` must have shape (n, width) with n >= {min_rows}; "
            f"received {argument} of shape {array.shape}."
        )
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.argwhere(~finite.all(axis=1))[0, 0])
        raise ValueError(
            f"Argument `{argument}` must hold finite values; received "
            f"{int((~finite).sum())} NaN or infinite values (the first in row {row}: "
            f"{argument}[{row}]={array[row].tolist()!r})."
        )
    return array


def check_same_width(first: str, first_array, second: str, second_array) -> None:
    """Checks that two ``[n, width]`` arrays (codes, features) have one width."""
    if first_array.shape[1] != second_array.shape[1]:
        raise ValueError(
            f"Arguments `{first}` and `{second}` must have the same number of columns; "
            f"received {first} of shape {first_array.shape} and {second} of shape "
            f"{second_array.shape}."
        )


def check_labels(argument: str, labels, num_rows: int | None = None,
                 num_classes: int | None = None) -> np.ndarray:
    """Returns ``labels`` as integer class indices in ``[0, num_classes)``, ``num_rows`` of them.

    ``num_rows=None`` accepts any number of labels.
    """
    if labels is None:
        raise ValueError(
            f"Argument `{argument}` is needed: this measure uses class labels; "
            f"received {argument}=None."
        )
    array = np.asarray(labels)
    if array.ndim != 1 or (num_rows is not None and len(array) != num_rows):
        expected = "(n,)" if num_rows is None else f"({num_rows},), one label per example"
        raise ValueError(
            f"Argument `{argument}` must have shape {expected}; received {argument} of "
            f"shape {array.shape}."
        )
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(
        array == np.round(array)
    ):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"Argument `{argument}` must hold integer class indices; received "
            f"{argument} of dtype {array.dtype}."
        )
    if array.size == 0:
        return array
    low, high = int(array.min()), int(array.max())
    if low < 0 or (num_classes is not None and high >= num_classes):
        allowed = "0 or more" if num_classes is None else f"in [0, {num_classes - 1}]"
        raise ValueError(
            f"Argument `{argument}` must hold class indices {allowed}; received "
            f"labels from {low} to {high}."
        )
    return array


def check_sequence_of_sizes(argument: str, values) -> tuple:
    """Returns ``values`` (one integer or a sequence of them, e.g. labelled-set sizes) as a
    tuple; the caller checks each size."""
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = (values,)
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"Argument `{argument}` must be a sequence of positive integers; received "
            f"{argument}={values!r}."
        )
    return tuple(values)

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

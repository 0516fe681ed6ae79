"""Weights of the regularisers (`beta`, `lambda_`, `alpha`) as functions of the step.

A schedule maps the training step, an integer tensor such as
`optimizer.iterations`, to a float32 scalar tensor. It is plain TensorFlow, so it
can be called inside an XLA-compiled `train_step`; it is a Keras-serialisable
object, so a model that holds one saves and loads it through
`keras.saving.serialize_keras_object`.

- `Constant(value)`: a fixed weight.
- `LinearWarmup(final_value, warmup_steps, initial_value, delay_steps)`: the KL
  warm-up of Bowman et al., "Generating Sentences from a Continuous Space",
  CoNLL 2016, and Sønderby et al., "Ladder Variational Autoencoders", NeurIPS 2016.
- `Cyclical(final_value, cycle_steps, ramp_fraction, initial_value)`: the cyclical
  annealing of Fu et al., "Cyclical Annealing Schedule: A Simple Approach to
  Mitigating KL Vanishing", NAACL 2019.

`get(value)` turns a number, a schedule or a serialised schedule into a schedule.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
import tensorflow as tf

from mmdvae import checks

__all__ = ["Constant", "Cyclical", "LinearWarmup", "Schedule", "endpoint_values", "get"]


# === Validation ===


def _finite_number(argument: str, value) -> float:
    return checks.check_number(argument, value)


def _integer(argument: str, value, minimum: int) -> int:
    return checks.check_positive_int(argument, value, minimum=minimum)


def _step_tensor(step) -> tf.Tensor:
    """The step as an int64 tensor; a Keras variable such as `optimizer.iterations`
    is read. Any shape is allowed: the formulas apply elementwise."""
    if isinstance(step, keras.Variable):
        step = step.value
    if isinstance(step, bool) or isinstance(step, float | np.floating):
        raise TypeError(
            f"Argument `step` must be an integer or an integer tensor; received "
            f"step={step!r} of type {type(step).__name__}."
        )
    step = tf.convert_to_tensor(step)
    if not step.dtype.is_integer:
        raise TypeError(
            f"Argument `step` must be an integer or an integer tensor; received a "
            f"tensor of dtype {step.dtype.name}."
        )
    return tf.cast(step, tf.int64)


# === Schedules ===


@keras.saving.register_keras_serializable(package="mmdvae")
class Schedule:
    """Base class: a weight as a function of the training step.

    Subclasses implement `weight_at(step)` (`step` an int64 tensor; float64
    arithmetic, returning a tensor of the step's shape) and `get_config()`.
    `__call__(step)` takes an integer or an integer tensor, e.g.
    `optimizer.iterations`, and returns the weight as a float32 tensor of the
    step's shape (a scalar for a scalar step). `from_config(config)` is
    `cls(**config)`.
    """

    def __call__(self, step) -> tf.Tensor:
        return tf.cast(self.weight_at(_step_tensor(step)), tf.float32)

    def weight_at(self, step: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


@keras.saving.register_keras_serializable(package="mmdvae")
class Constant(Schedule):
    """The same weight at every step.

    ```
    weight(step) = value
    ```

    Args:
        value: the weight, a finite number.

    Example:

    >>> float(Constant(0.5)(10))
    0.5
    """

    def __init__(self, value: float):
        self.value = _finite_number("value", value)

    def weight_at(self, step: tf.Tensor) -> tf.Tensor:
        return tf.zeros_like(step, tf.float64) + self.value

    def get_config(self) -> dict:
        return {"value": self.value}


@keras.saving.register_keras_serializable(package="mmdvae")
class LinearWarmup(Schedule):
    """KL warm-up: hold, then ramp linearly from `initial_value` to `final_value`.

    ```
    weight(step) = initial_value + (final_value - initial_value)
                   * clip((step - delay_steps) / warmup_steps, 0, 1)
    ```

    so the weight is `initial_value` up to step `delay_steps` and reaches
    `final_value` at step `delay_steps + warmup_steps` (Bowman et al., CoNLL 2016;
    Sønderby et al., NeurIPS 2016).

    Args:
        final_value: the weight after the warm-up, a finite number.
        warmup_steps: length of the ramp, an integer >= 1.
        initial_value: the weight before it, a finite number. Default 0.0.
        delay_steps: steps before the ramp starts, an integer >= 0. Default 0.

    Example:

    >>> schedule = LinearWarmup(1.0, warmup_steps=100)
    >>> float(schedule(25))
    0.25
    """

    def __init__(
        self,
        final_value: float,
        warmup_steps: int,
        initial_value: float = 0.0,
        delay_steps: int = 0,
    ):
        self.final_value = _finite_number("final_value", final_value)
        self.warmup_steps = _integer("warmup_steps", warmup_steps, 1)
        self.initial_value = _finite_number("initial_value", initial_value)
        self.delay_steps = _integer("delay_steps", delay_steps, 0)

    def weight_at(self, step: tf.Tensor) -> tf.Tensor:
        elapsed = tf.cast(step - self.delay_steps, tf.float64)
        warmup_steps = tf.constant(self.warmup_steps, tf.float64)
        fraction = tf.clip_by_value(elapsed / warmup_steps, 0.0, 1.0)
        return self.initial_value + (self.final_value - self.initial_value) * fraction

    def get_config(self) -> dict:
        return {
            "final_value": self.final_value,
            "warmup_steps": self.warmup_steps,
            "initial_value": self.initial_value,
            "delay_steps": self.delay_steps,
        }


@keras.saving.register_keras_serializable(package="mmdvae")
class Cyclical(Schedule):
    """Cyclical annealing: in every cycle, ramp linearly, then hold.

    ```
    tau          = (step mod cycle_steps) / cycle_steps
    weight(step) = initial_value + (final_value - initial_value)
                   * min(1, tau / ramp_fraction)
    ```

    Fu et al., "Cyclical Annealing Schedule: A Simple Approach to Mitigating KL
    Vanishing", NAACL 2019, with their linear ramp `f(tau) = tau / R`
    (`R = ramp_fraction`); steps count from 0, so each cycle starts at
    `initial_value`.

    Args:
        final_value: the weight held in the second part of each cycle.
        cycle_steps: steps per cycle, an integer >= 1.
        ramp_fraction: the part of each cycle spent ramping, in (0, 1].
            Default 0.5, the paper's `R`.
        initial_value: the weight at the start of each cycle. Default 0.0.

    Example:

    >>> schedule = Cyclical(1.0, cycle_steps=100)
    >>> [float(schedule(step)) for step in (0, 25, 50, 99, 100)]
    [0.0, 0.5, 1.0, 1.0, 0.0]
    """

    def __init__(
        self,
        final_value: float,
        cycle_steps: int,
        ramp_fraction: float = 0.5,
        initial_value: float = 0.0,
    ):
        self.final_value = _finite_number("final_value", final_value)
        self.cycle_steps = _integer("cycle_steps", cycle_steps, 1)
        self.ramp_fraction = _finite_number("ramp_fraction", ramp_fraction)
        if not 0.0 < self.ramp_fraction <= 1.0:
            raise ValueError(
                f"Argument `ramp_fraction` must be in (0, 1]; received "
                f"ramp_fraction={ramp_fraction!r}."
            )
        self.initial_value = _finite_number("initial_value", initial_value)

    def weight_at(self, step: tf.Tensor) -> tf.Tensor:
        position = tf.cast(tf.math.floormod(step, self.cycle_steps), tf.float64)
        ramp_steps = tf.constant(self.cycle_steps * self.ramp_fraction, tf.float64)
        fraction = tf.minimum(tf.constant(1.0, tf.float64), position / ramp_steps)
        return self.initial_value + (self.final_value - self.initial_value) * fraction

    def get_config(self) -> dict:
        return {
            "final_value": self.final_value,
            "cycle_steps": self.cycle_steps,
            "ramp_fraction": self.ramp_fraction,
            "initial_value": self.initial_value,
        }


# === Lookup ===


def _check_round_trip(value) -> None:
    """A callable other than a `Schedule` must survive Keras serialisation."""
    try:
        config = keras.saving.serialize_keras_object(value)
        restored = keras.saving.deserialize_keras_object(config)
    except Exception as error:
        raise TypeError(
            f"A callable schedule must be a Keras-serialisable object (a `Schedule`, "
            f"or e.g. a registered class with `get_config`); {value!r} could not be "
            f"serialised and restored: {error}"
        ) from error
    if type(restored) is not type(value):
        raise TypeError(
            f"A callable schedule must be a Keras-serialisable object; {value!r} "
            f"came back from serialisation as {restored!r}."
        )


def get(value) -> Schedule:
    """A schedule from a number, a schedule or its serialised form.

    Args:
        value: a finite Python or NumPy number (a `Constant`); a `Schedule`
            (returned as is); the dict of `keras.saving.serialize_keras_object`
            of a schedule, which a model's `get_config` stores (restored); or a
            Keras-serialisable callable object of the step such as a
            `keras.optimizers.schedules.LearningRateSchedule` (returned as is,
            after checking that it survives serialisation).

    Returns:
        A callable `step -> weight`.

    Raises:
        TypeError: for a bool, a string, a plain function or lambda, or any
            other type.
        ValueError: for a non-finite number or a dict that is not a serialised
            object.

    Example:

    >>> get(0.5)
    Constant(value=0.5)
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return Constant(value)
    if isinstance(value, dict):
        if "class_name" not in value:
            raise ValueError(
                f"A schedule given as a dict must be the output of "
                f"`keras.saving.serialize_keras_object(schedule)`, with a "
                f"'class_name' key; received {value!r}."
            )
        restored = keras.saving.deserialize_keras_object(value)
        if not callable(restored):
            raise TypeError(
                f"The dict {value!r} restores {restored!r}, which is not a "
                f"callable schedule."
            )
        return restored
    if callable(value) and not isinstance(value, type):
        if not hasattr(value, "get_config"):
            raise TypeError(
                f"A schedule must be a number, a `mmdvae.schedules.Schedule`, its "
                f"serialised dict, or a Keras-serialisable callable object; received "
                f"the plain callable {value!r}, which a saved model could not "
                f"restore. Subclass `Schedule` instead."
            )
        _check_round_trip(value)
        return value
    raise TypeError(
        f"A schedule must be a number, a `mmdvae.schedules.Schedule`, its serialised "
        f"dict, or a Keras-serialisable callable object; received {value!r} of "
        f"type {type(value).__name__}."
    )


def endpoint_values(schedule) -> dict:
    """``{name: value}`` of the values a schedule starts from and ends at.

    The bounds of every value it takes for `Constant`, `LinearWarmup` and
    `Cyclical`, which move linearly between the two; the value at step 0 for
    another callable, whose later values cannot be known in advance.
    """
    if isinstance(schedule, Constant):
        return {"value": schedule.value}
    if isinstance(schedule, LinearWarmup | Cyclical):
        return {"initial_value": schedule.initial_value, "final_value": schedule.final_value}
    return {"value at step 0": float(np.asarray(schedule(0)))}


def weight(argument: str, value, minimum: float | None = None,
           maximum: float | None = None) -> Schedule:
    """A model's weight argument as a schedule, checked against its range.

    A number must be finite and in ``[minimum, maximum]``; a schedule's initial
    and final values (``endpoint_values``) must be too.
    """
    if not (isinstance(value, Schedule | dict)
            or (callable(value) and not isinstance(value, type))):
        return Constant(checks.check_number(argument, value, minimum=minimum, maximum=maximum))
    schedule = get(value)
    for name, endpoint in endpoint_values(schedule).items():
        too_low = minimum is not None and endpoint < minimum
        too_high = maximum is not None and endpoint > maximum
        if too_low or too_high or not np.isfinite(endpoint):
            bounds = ["finite"]
            if minimum is not None:
                bounds.append(f">= {minimum:g}")
            if maximum is not None:
                bounds.append(f"<= {maximum:g}")
            raise ValueError(
                f"Argument `{argument}` must take values {' and '.join(bounds)} at every "
                f"step, as a number {argument} must; received {argument}={schedule!r}, "
                f"whose {name} is {endpoint!r}."
            )
    return schedule


def serialize(schedule: Schedule):
    """A constant's number, or the serialised schedule, for a model's config."""
    if isinstance(schedule, Constant):
        return schedule.value
    return keras.saving.serialize_keras_object(schedule)

"""Tests of mmdvae.schedules against their formulas, eagerly and under XLA."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmdvae import schedules
from mmdvae.schedules import Constant, Cyclical, LinearWarmup

STEPS = (0, 1, 4, 5, 6, 10, 15, 24, 25, 26, 99, 100, 101, 137, 250, 10**9)


def warmup_formula(step, final_value, warmup_steps, initial_value=0.0, delay_steps=0):
    fraction = min(1.0, max(0.0, (step - delay_steps) / warmup_steps))
    return initial_value + (final_value - initial_value) * fraction


def cyclical_formula(step, final_value, cycle_steps, ramp_fraction=0.5, initial_value=0.0):
    tau = (step % cycle_steps) / cycle_steps
    return initial_value + (final_value - initial_value) * min(1.0, tau / ramp_fraction)


CASES = [
    (Constant(0.7), lambda step: 0.7),
    (Constant(-3), lambda step: -3.0),
    (LinearWarmup(1.0, 100), lambda step: warmup_formula(step, 1.0, 100)),
    (
        LinearWarmup(2.0, 10, initial_value=0.5, delay_steps=5),
        lambda step: warmup_formula(step, 2.0, 10, 0.5, 5),
    ),
    (LinearWarmup(0.0, 1, initial_value=4.0), lambda step: warmup_formula(step, 0.0, 1, 4.0)),
    (Cyclical(1.0, 100), lambda step: cyclical_formula(step, 1.0, 100)),
    (
        Cyclical(10.0, 25, ramp_fraction=0.8, initial_value=1.0),
        lambda step: cyclical_formula(step, 10.0, 25, 0.8, 1.0),
    ),
    (Cyclical(1.0, 7, ramp_fraction=1.0), lambda step: cyclical_formula(step, 1.0, 7, 1.0)),
]
CASE_IDS = [repr(schedule) for schedule, _ in CASES]


def test_hand_computed_values():
    # Values worked out by hand, independent of the formulas above.
    warmup = LinearWarmup(2.0, 10, initial_value=0.5, delay_steps=5)
    assert [float(warmup(step)) for step in (0, 5, 10, 15, 40)] == [0.5, 0.5, 1.25, 2.0, 2.0]
    cyclical = Cyclical(1.0, 100)
    assert [float(cyclical(step)) for step in (0, 25, 50, 99, 100, 125)] == [
        0.0, 0.5, 1.0, 1.0, 0.0, 0.5,
    ]


@pytest.mark.parametrize("schedule, formula", CASES, ids=CASE_IDS)
def test_values_match_formula_eager_and_xla(schedule, formula):
    expected = np.array([formula(step) for step in STEPS], np.float32)
    eager = [schedule(step).numpy() for step in STEPS]
    compiled = tf.function(lambda step: schedule(step), jit_compile=True)
    under_xla = [compiled(tf.constant(step, tf.int64)).numpy() for step in STEPS]
    for values in (eager, under_xla):
        assert all(value.dtype == np.float32 and value.shape == () for value in values)
        np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-7)
    # Elementwise over a vector of steps, as int32.
    vector = schedule(tf.constant(STEPS[:-1], tf.int32)).numpy()
    np.testing.assert_allclose(vector, expected[:-1], rtol=1e-6, atol=1e-7)


def test_optimizer_iterations_inside_compiled_step():
    optimizer = keras.optimizers.SGD()
    optimizer.build([])
    schedule = LinearWarmup(1.0, 8)

    @tf.function(jit_compile=True)
    def step():
        weight = schedule(optimizer.iterations)
        optimizer.iterations.assign_add(1)
        return weight

    values = [float(step()) for _ in range(10)]
    np.testing.assert_allclose(values, [min(1.0, step / 8) for step in range(10)], rtol=1e-6)


@pytest.mark.parametrize("schedule, formula", CASES, ids=CASE_IDS)
def test_config_round_trip(schedule, formula):
    config = keras.saving.serialize_keras_object(schedule)
    assert config["registered_name"] == f"mmdvae>{type(schedule).__name__}"
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    assert float(restored(37)) == float(schedule(37))
    assert type(schedule).from_config(schedule.get_config()) == schedule
    assert schedules.get(config) == schedule


def test_get():
    assert schedules.get(0.25) == Constant(0.25)
    assert schedules.get(np.float32(0.5)) == Constant(0.5)
    assert schedules.get(np.int64(3)) == Constant(3.0)
    assert schedules.get(np.array(2.0)) == Constant(2.0)
    schedule = Cyclical(1.0, 10)
    assert schedules.get(schedule) is schedule
    # A Keras-serialisable callable object of the step is accepted as is.
    decay = keras.optimizers.schedules.PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0)
    assert schedules.get(decay) is decay
    assert math.isclose(float(schedules.get(decay)(5)), 0.5, rel_tol=1e-6)


class UnregisteredSchedule:
    def __call__(self, step):
        return tf.constant(1.0)

    def get_config(self):
        return {}


@pytest.mark.parametrize(
    "value, error, pattern",
    [
        (True, TypeError, r"received True of type bool"),
        ("linear", TypeError, r"received 'linear' of type str"),
        ([0.5], TypeError, r"received \[0.5\] of type list"),
        (lambda step: 1.0, TypeError, r"plain callable <function"),
        (float, TypeError, r"received <class 'float'>"),
        (UnregisteredSchedule(), TypeError, r"could not be serialised and restored"),
        (float("nan"), ValueError, r"`value` must be a finite number; received value=nan"),
        (np.inf, ValueError, r"received value=inf"),
        ({"value": 0.5}, ValueError, r"'class_name' key; received \{'value': 0.5\}"),
    ],
)
def test_get_rejects(value, error, pattern):
    with pytest.raises(error, match=pattern):
        schedules.get(value)


BAD_ARGUMENTS = [
    (Constant, ("1",), TypeError, r"`value` must be a number; received value='1'"),
    (Constant, (None,), TypeError, r"`value`.*received value=None"),
    (LinearWarmup, (1.0, 0), ValueError,
     r"`warmup_steps` must be an integer >= 1; received warmup_steps=0"),
    (LinearWarmup, (1.0, 10.0), TypeError,
     r"`warmup_steps` must be an integer >= 1; received warmup_steps=10.0 of type float"),
    (LinearWarmup, (1.0, True), TypeError, r"`warmup_steps`.*received warmup_steps=True"),
    (LinearWarmup, (1.0, 10, 0.0, -1), ValueError,
     r"`delay_steps` must be an integer >= 0; received delay_steps=-1"),
    (LinearWarmup, (float("inf"), 10), ValueError, r"`final_value`.*received final_value=inf"),
    (LinearWarmup, (1.0, 10, np.nan), ValueError, r"`initial_value`.*nan"),
    (Cyclical, (1.0, 0), ValueError,
     r"`cycle_steps` must be an integer >= 1; received cycle_steps=0"),
    (Cyclical, (1.0, 10, 0.0), ValueError,
     r"`ramp_fraction` must be in \(0, 1\]; received ramp_fraction=0.0"),
    (Cyclical, (1.0, 10, 1.5), ValueError,
     r"`ramp_fraction` must be in \(0, 1\]; received ramp_fraction=1.5"),
]


@pytest.mark.parametrize("cls, arguments, error, pattern", BAD_ARGUMENTS)
def test_bad_arguments(cls, arguments, error, pattern):
    with pytest.raises(error, match=pattern):
        cls(*arguments)


def test_numpy_integer_arguments_accepted():
    schedule = LinearWarmup(np.float32(1.0), np.int64(4), delay_steps=np.int32(2))
    assert schedule.get_config() == {
        "final_value": 1.0, "warmup_steps": 4, "initial_value": 0.0, "delay_steps": 2,
    }
    assert type(schedule.get_config()["warmup_steps"]) is int
    assert float(schedule(np.int64(4))) == 0.5


def test_bad_steps():
    schedule = LinearWarmup(1.0, 10)
    with pytest.raises(TypeError, match=r"`step` must be an integer.*received step=2.5"):
        schedule(2.5)
    with pytest.raises(TypeError, match=r"`step`.*dtype float32"):
        schedule(tf.constant(2.0))
    with pytest.raises(TypeError, match=r"`step`.*received step=True"):
        schedule(True)

"""Regulariser weights that follow a schedule: in the step, in the logs, across a resume."""

import keras
import numpy as np
import pytest
from tiny import compile_model, tiny_images, tiny_model

import mmdvae
from mmdvae import schedules


def test_a_kl_warm_up_is_logged_and_weighs_the_kl_term():
    warmup = schedules.LinearWarmup(final_value=1.0, warmup_steps=8)
    model = compile_model(tiny_model("elbo", beta=warmup), jit_compile=True)
    history = model.fit(tiny_images(64), batch_size=16, epochs=3, verbose=0)
    # Steps 0-3, 4-7 and 8-11: the logged value is the mean over the epoch's steps.
    expected = [np.mean([min(step / 8, 1.0) for step in range(4 * epoch, 4 * epoch + 4)])
                for epoch in range(3)]
    np.testing.assert_allclose(history.history["beta"], expected, rtol=1e-6)
    terms = model.compute_terms(tiny_images(16, seed=1))
    np.testing.assert_allclose(terms["regularization_loss"], terms["kl_divergence"],
                               rtol=1e-6)  # beta is 1 from step 8 on
    assert "beta" not in [metric.name for metric in tiny_model("elbo", beta=0.5).metrics]


@pytest.mark.parametrize("name, argument", [("mmd", "lambda_"), ("vimae-l", "lambda_"),
                                            ("infovae", "alpha"), ("aae", "lambda_"),
                                            ("mutual", "beta")])
def test_every_weight_takes_a_schedule(name, argument):
    # Graph steps: a schedule in an XLA step is the warm-up test's (above); every
    # model's XLA step is test_models.test_xla_matches_graph_mode's.
    schedule = schedules.Cyclical(final_value=0.5, cycle_steps=4)
    model = compile_model(tiny_model(name, **{argument: schedule}), jit_compile=False)
    history = model.fit(tiny_images(32), batch_size=16, epochs=1, verbose=0)
    # Steps 0 and 1 of a 4-step cycle ramping over 2 steps: weights 0 and 0.25.
    np.testing.assert_allclose(history.history[argument.rstrip("_")], [0.125], rtol=1e-6)
    assert model.get_config()[argument]["class_name"] == "Cyclical"


def test_a_resumed_warm_up_continues_from_its_step(tmp_path):
    """2 epochs, save, load, 2 more epochs = 4 epochs, in the middle of the warm-up."""
    images = tiny_images(64)
    warmup = schedules.LinearWarmup(final_value=2.0, warmup_steps=12, delay_steps=2)

    def fresh():
        return compile_model(tiny_model("elbo", beta=warmup), jit_compile=False)

    straight = fresh()
    history = straight.fit(images, batch_size=16, epochs=4, verbose=0, shuffle=False)
    first = fresh()
    first.fit(images, batch_size=16, epochs=2, verbose=0, shuffle=False)
    first.save(tmp_path / "half.keras")
    resumed = keras.saving.load_model(tmp_path / "half.keras")
    assert isinstance(resumed.beta, schedules.LinearWarmup) and resumed.beta == warmup
    assert int(resumed.optimizer.iterations) == 8
    later = resumed.fit(images, batch_size=16, epochs=2, verbose=0, shuffle=False)
    np.testing.assert_allclose(later.history["beta"], history.history["beta"][2:], rtol=1e-6)
    for ours, theirs in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="beta.*-1"):
        mmdvae.ELBOVAE(2, beta=-1.0)
    with pytest.raises(TypeError, match="schedule"):
        mmdvae.ELBOVAE(2, beta=lambda step: 1.0)
    with pytest.raises(TypeError, match="beta.*'1'"):
        mmdvae.ELBOVAE(2, beta="1")

"""The NaN guard and the per-epoch backup, on fresh models in their first epoch."""

import io
import json
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from tiny import IMAGE_SHAPE, tiny_model

import mmdvae
from mmdvae import checkpoints


def images(count=32, seed=0):
    return np.random.default_rng(seed).uniform(size=(count,) + IMAGE_SHAPE).astype("float32")


def fresh_model(model_class=mmdvae.MMDVAE, **arguments):
    return tiny_model(model_class, latent_dim=2, **arguments)


def state_of(model):
    """Every variable of the model and of its optimizers, in order, as arrays."""
    variables = list(model.variables)
    for optimizer in model.optimizers:
        variables += list(optimizer.variables)
    return [(variable.path, np.array(variable)) for variable in variables]


def assert_same_state(actual, expected):
    assert len(actual) == len(expected)
    for (path, value), (_, wanted) in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(value, wanted, err_msg=path)


def no_hidden_files(directory):
    return [path.name for path in directory.iterdir() if path.name.startswith(".")] == []


# === The NaN guard on a fresh model ===


@pytest.mark.parametrize(
    "model_class, batch, bad_terms",
    [
        # The first step's loss is finite (computed before the NaN update); in the
        # second, every term is NaN.
        (mmdvae.MMDVAE, 2, {"loss", "reconstruction_loss", "regularization_loss", "mmd"}),
        (mmdvae.ELBOVAE, 2, {"loss", "reconstruction_loss", "regularization_loss",
                             "kl_divergence"}),
        # The discriminator's update of the first step sees the NaN codes.
        (mmdvae.AAE, 1, {"discriminator_loss"}),
    ],
)
def test_a_fresh_model_diverging_in_its_first_epoch_is_restored_and_saved(
    model_class, batch, bad_terms, tmp_path
):
    model = fresh_model(model_class)
    nan_rate = keras.optimizers.Adam(float("nan"))
    if model_class is mmdvae.AAE:  # its discriminator goes bad from the NaN codes
        model.compile(optimizer=nan_rate, discriminator_optimizer=keras.optimizers.Adam(1e-3),
                      jit_compile=False)
    else:
        model.compile(optimizer=nan_rate, jit_compile=False)
    initial = state_of(model)
    path = tmp_path / "model.keras"
    stream = io.StringIO()
    stop = checkpoints.StopOnNonFiniteLoss(path, stream=stream)
    history = model.fit(images(), batch_size=8, epochs=3, verbose=0, callbacks=[stop])

    found = re.match(rf"Training stopped at batch {batch} of epoch 1: the logged term "
                     rf"'(\w+)' is not finite \((.*?)\)\. ", stop.message)
    assert found, stop.message
    named = dict(item.split("=") for item in found.group(2).split(", "))
    assert set(named) == bad_terms and set(named.values()) == {"nan"}
    assert found.group(1) == next(iter(named)) != "loss"  # a component, not the sum
    assert "restored to the start of training" in stop.message
    assert "except" not in stop.message  # every variable existed before the first step
    assert stop.message.endswith(f", and saved to {path}.")
    assert stream.getvalue().strip() == stop.message
    assert len(history.epoch) == 1
    assert_same_state(state_of(model), initial)
    assert all(int(optimizer.iterations) == 0 for optimizer in model.optimizers)
    loaded = keras.saving.load_model(path)
    assert_same_state(state_of(loaded), initial)
    assert np.isfinite(loaded.reconstruct(images(4))).all()
    assert no_hidden_files(tmp_path)


def test_a_model_whose_optimizer_is_built_by_its_first_step_is_restored_without_a_crash(
    tmp_path,
):
    """A plain Keras model: Adam creates its slots in the first step, after the snapshot."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(float("nan")), loss="mse",
                  jit_compile=False)
    initial = [np.array(v) for v in model.variables]
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    stop = checkpoints.StopOnNonFiniteLoss(tmp_path / "model.keras", stream=io.StringIO())
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0, callbacks=[stop])

    assert "the logged term 'loss' is not finite" in stop.message
    # Adam's two slots per weight (kernel, bias) were created after the snapshot.
    assert "(except 4 variables created after that state was taken" in stop.message
    for variable, value in zip(model.variables, initial, strict=True):
        np.testing.assert_array_equal(variable, value)
    assert int(model.optimizer.iterations) == 0
    assert keras.saving.load_model(tmp_path / "model.keras").count_params() == 5


def test_a_failed_save_is_reported_in_the_message_not_raised(tmp_path, monkeypatch):
    model = fresh_model()
    model.compile(optimizer=keras.optimizers.Adam(float("nan")), jit_compile=False)
    initial = state_of(model)

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", fail)
    stop = checkpoints.StopOnNonFiniteLoss(tmp_path / "model.keras", stream=io.StringIO())
    model.fit(images(), batch_size=8, epochs=1, verbose=0, callbacks=[stop])
    assert "failed (OSError: [Errno 28] No space left on device)" in stop.message
    assert_same_state(state_of(model), initial)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["model.h5", "directory.keras"])
def test_the_guard_refuses_a_path_it_cannot_save_to(name, tmp_path):
    (tmp_path / "directory.keras").mkdir()
    with pytest.raises(ValueError, match=f"`filepath` must be the path of a .keras file; "
                                         f"received filepath='.*{name}'"):
        checkpoints.StopOnNonFiniteLoss(tmp_path / name)


def test_callbacks_refuse_a_model_they_cannot_save_before_the_first_step(tmp_path):
    model = fresh_model(prior=tfp.distributions.MultivariateNormalDiag(loc=tf.zeros(2)))
    model.compile(jit_compile=False)
    for callback in (checkpoints.StopOnNonFiniteLoss(tmp_path / "model.keras"),
                     checkpoints.EpochBackup(tmp_path / "backup")):
        with pytest.raises(ValueError, match=f"{type(callback).__name__} cannot save .*"
                                             f"custom tensorflow-probability"):
            model.fit(images(), batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    assert int(model.optimizer.iterations) == 0
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "backup").exists()
    # Without a file to write, the guard still works.
    model.fit(images(), batch_size=8, epochs=1, verbose=0,
              callbacks=[checkpoints.StopOnNonFiniteLoss()])
    assert int(model.optimizer.iterations) == 4


# === The per-epoch backup ===


def test_a_fresh_model_backed_up_every_epoch_is_restored_with_its_optimizer(tmp_path):
    model = fresh_model()
    model.compile(jit_compile=False)
    backup = checkpoints.EpochBackup(tmp_path / "backup", metadata={"note": "run a"})
    model.fit(images(), batch_size=8, epochs=2, verbose=0, callbacks=[backup])

    directory = tmp_path / "backup"
    assert sorted(path.name for path in directory.iterdir()) == ["epoch-2.keras", "state.json"]
    state = json.loads((directory / "state.json").read_text())
    assert state["epoch"] == 2 and state["model"] == "epoch-2.keras" and state["note"] == "run a"
    assert sorted(state["history"]) == sorted(m.name for m in model.metrics)
    assert all(len(values) == 2 for values in state["history"].values())
    umask = os.umask(0)
    os.umask(umask)
    for path in directory.iterdir():  # the permissions of any new file, not 0600
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path

    restored, epochs, history = checkpoints.restore_backup(directory)
    assert epochs == 2 and history == state["history"]
    assert int(restored.optimizer.iterations) == 8
    assert_same_state(state_of(restored), state_of(model))


def test_a_backup_skips_a_non_finite_epoch(tmp_path):
    model = fresh_model()
    model.compile(optimizer=keras.optimizers.Adam(float("nan")), jit_compile=False)
    model.fit(images(), batch_size=8, epochs=1, verbose=0,
              callbacks=[checkpoints.EpochBackup(tmp_path / "backup")])
    assert not (tmp_path / "backup").exists() or list((tmp_path / "backup").iterdir()) == []
    assert checkpoints.read_backup_state(tmp_path / "backup") is None


@pytest.mark.parametrize(
    "state, model_bytes, error, message",
    [
        ('{"epoch": 1, "model": "epo', None, ValueError, "state.json is corrupt .not valid JSON"),
        ('{"epoch": 1}', None, ValueError, r"is corrupt: it lacks \['model', 'history'\]"),
        ('{"epoch": 1, "model": "epoch-1.keras", "history": {}}', None, FileNotFoundError,
         "names the model file .*epoch-1.keras, which does not exist"),
        ('{"epoch": 1, "model": "epoch-1.keras", "history": {}}', b"PK\x03\x04 truncated",
         ValueError, r"backup model .*epoch-1.keras is corrupt \(not a .keras zip file\)"),
    ],
)
def test_a_corrupt_backup_is_called_corrupt(state, model_bytes, error, message, tmp_path):
    (tmp_path / "state.json").write_text(state)
    if model_bytes is not None:
        (tmp_path / "epoch-1.keras").write_bytes(model_bytes)
    with pytest.raises(error, match=message):
        checkpoints.restore_backup(tmp_path)


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"history": [1.0]}, TypeError, "`history` must be a dict of lists or None; .* list"),
        ({"metadata": {"when": object()}}, TypeError,
         "`metadata` must hold JSON-serialisable values; received metadata="),
    ],
)
def test_backup_arguments_are_checked_when_built(arguments, error, message, tmp_path):
    with pytest.raises(error, match=message):
        checkpoints.EpochBackup(tmp_path / "backup", **arguments)
    (tmp_path / "a_file").write_text("kept")
    with pytest.raises(ValueError, match="`directory` must be a directory; .*a_file"):
        checkpoints.EpochBackup(tmp_path / "a_file")

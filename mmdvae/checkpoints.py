"""Keeping what a run has trained: a per-epoch backup and a stop on NaN or Inf.

- ``EpochBackup(directory)`` saves the whole model (weights, every optimizer's
  state, the seed state) and the history after every epoch, so an interrupted
  run resumes from its last completed epoch with ``restore_backup(directory)``
  and ``fit(..., initial_epoch=epoch)``. The ``.keras`` file is written first
  and ``state.json`` is then replaced, both atomically
  (``mmdvae.files``), so a run killed at any moment leaves either the
  previous epoch's backup or the new one, never half of one.
- ``StopOnNonFiniteLoss(filepath)`` stops training at the first batch whose
  logged terms are not finite, names the terms that went bad, puts back the
  last finite state (the end of the last good epoch, or the start of training,
  optimizer state included) and saves it to ``filepath``.

Both check when training begins that the model can be saved, so a model that
cannot (a custom prior) is refused before the first epoch, not after it.

Example:

```python
stop = StopOnNonFiniteLoss("run/model.keras")
model.fit(images, epochs=10, callbacks=[EpochBackup("run/backup"), stop])
if stop.message:
    print(stop.message)
```
"""

import json
import math
import os
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np

from mmdvae import files, saving

STATE_FILE = "state.json"

#: Keys every ``state.json`` holds.
STATE_KEYS = ("epoch", "model", "history")


def _optimizers(model):
    """Every optimizer of ``model``: its ``optimizers`` (mmdvae models), else ``optimizer``."""
    found = getattr(model, "optimizers", None)
    if found is None:
        found = [getattr(model, "optimizer", None)]
    return [optimizer for optimizer in found if optimizer is not None]


def _state_variables(model):
    """The model's variables and those of its optimizers, each once."""
    variables, seen = [], set()
    for variable in [*model.variables,
                     *(v for optimizer in _optimizers(model) for v in optimizer.variables)]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def _non_finite_terms(logs):
    bad = [
        name for name, value in (logs or {}).items()
        if not math.isfinite(float(np.asarray(value)))
    ]
    # The components first: the total loss is bad whenever one of them is.
    return sorted(bad, key=lambda name: name in ("loss", "val_loss"))


def _check_savable(callback, model, what):
    """Raises before training when ``model`` cannot be written to a ``.keras`` file."""
    try:
        keras.saving.serialize_keras_object(model)
    except NotImplementedError as error:
        raise ValueError(
            f"{type(callback).__name__} cannot save {what} of this model: {error} "
            f"Train without this callback, or with a model that can be saved."
        ) from None


def _check_model_path(argument, path):
    path = Path(path)
    if path.suffix != ".keras" or path.is_dir():
        raise ValueError(
            f"Argument `{argument}` must be the path of a .keras file; received "
            f"{argument}={os.fspath(path)!r}"
            + (", which is an existing directory." if path.is_dir() else ".")
        )
    # Refused now rather than when the model has to be saved.
    return files.check_writable_path(path, argument)


class EpochBackup(keras.callbacks.Callback):
    """Saves the model and the history after every finite epoch.

    Args:
        directory: where ``epoch-N.keras`` and ``state.json`` go; created if
            missing.
        history: the history of the epochs before this run's first (when
            resuming), as ``{name: [value per epoch]}``.
        metadata: extra JSON-serialisable content kept in ``state.json``.
    """

    def __init__(self, directory, history=None, metadata=None):
        super().__init__()
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise ValueError(
                f"Argument `directory` must be a directory; received "
                f"directory={os.fspath(directory)!r}, which is an existing file."
            )
        files.check_writable_path(directory / STATE_FILE, "directory")
        if history is not None and not isinstance(history, dict):
            raise TypeError(
                f"Argument `history` must be a dict of lists or None; received an "
                f"object of type {type(history).__name__}."
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(
                f"Argument `metadata` must be a dict or None; received an object of "
                f"type {type(metadata).__name__}."
            )
        self.directory = directory
        self.history = {name: list(values) for name, values in (history or {}).items()}
        self.metadata = dict(metadata or {})
        try:  # refused now rather than after the first epoch
            json.dumps(self.metadata, default=float)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Argument `metadata` must hold JSON-serialisable values; received "
                f"metadata={self.metadata!r} ({error})."
            ) from None

    def on_train_begin(self, logs=None):
        _check_savable(self, self.model, "a backup")

    def on_epoch_end(self, epoch, logs=None):
        if _non_finite_terms(logs):
            return
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(np.asarray(value)))
        model_file = f"epoch-{epoch + 1}.keras"
        saving.save_model(self.model, self.directory / model_file)
        state = {"epoch": epoch + 1, "model": model_file, "history": self.history,
                 **self.metadata}
        files.write_json(self.directory / STATE_FILE, state)
        for old in self.directory.glob("epoch-*.keras"):
            if old.name != model_file:
                old.unlink()


def read_backup_state(directory):
    """The ``state.json`` of a backup directory, or ``None`` when there is none.

    Raises ``ValueError`` when the file exists but is not a backup state (not
    JSON, or without ``epoch``, ``model`` and ``history``).
    """
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"The backup state {os.fspath(path)} is corrupt (not valid JSON: {error}); "
            f"delete the backup directory to start over."
        ) from None
    missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise ValueError(
            f"The backup state {os.fspath(path)} is corrupt: it lacks {missing}; "
            f"delete the backup directory to start over."
        )
    return state


def restore_backup(directory):
    """Returns ``(model, completed_epochs, history)`` from an ``EpochBackup``.

    The model is loaded in Keras's safe mode, compiled, with its optimizer
    state. Raises ``FileNotFoundError`` when ``directory`` holds no backup and
    ``ValueError`` when the backup is corrupt.
    """
    state = read_backup_state(directory)
    if state is None:
        raise FileNotFoundError(
            f"No backup to resume from: {os.fspath(Path(directory) / STATE_FILE)} "
            f"does not exist."
        )
    path = Path(directory) / state["model"]
    if not path.is_file():
        raise FileNotFoundError(
            f"The backup state names the model file {os.fspath(path)}, which does "
            f"not exist."
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"The backup model {os.fspath(path)} is corrupt (not a .keras zip file); "
            f"delete the backup directory to start over."
        )
    model = keras.saving.load_model(path, safe_mode=True)
    return model, int(state["epoch"]), state["history"]


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops at the first non-finite logged term and keeps the last finite state.

    Unlike ``keras.callbacks.TerminateOnNaN``, which only looks at ``loss`` and
    leaves the broken weights in the model, this callback checks every logged
    term, names the ones that went bad, restores the weights and the state of
    every optimizer (``model.optimizers``) to the end of the last finite epoch
    (or the start of training) and, with ``filepath``, saves them there
    atomically. After ``fit`` returns, ``message`` says what happened (``None``
    when training ended normally).

    The state is kept variable by variable. A variable created after the
    state was taken (an optimizer built lazily by its first step) cannot be
    put back; it is left as it is, and the message says so.

    Args:
        filepath: a ``.keras`` path to save the restored model to, or ``None``.
        stream: where to print the stop message (standard error by default).
        verbose: print the stop message; ``False`` leaves it to the caller
            (the command line prints it as its ``error:`` line).
    """

    def __init__(self, filepath=None, stream=None, verbose: bool = True):
        super().__init__()
        self.filepath = None if filepath is None else _check_model_path("filepath", filepath)
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(
                f"Argument `stream` must be a writable text stream or None; received "
                f"an object of type {type(stream).__name__}."
            )
        if not isinstance(verbose, bool):
            raise TypeError(
                f"Argument `verbose` must be True or False; received verbose={verbose!r}."
            )
        self.stream = stream
        self.verbose = verbose
        self.message = None
        self._snapshot = {}
        self._good_epochs = 0
        self._epoch = 0

    def _take_snapshot(self):
        self._snapshot = {
            id(variable): (variable, np.array(variable))
            for variable in _state_variables(self.model)
        }

    def on_train_begin(self, logs=None):
        if self.filepath is not None:
            _check_savable(self, self.model, "the last finite state")
        self.message = None
        self._good_epochs = 0
        self._take_snapshot()

    def on_train_batch_end(self, batch, logs=None):
        bad = _non_finite_terms(logs)
        if bad:
            self._stop(bad, logs, f"batch {batch + 1} of epoch {self._epoch + 1}")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and self.message:
            return
        bad = _non_finite_terms(logs)
        if bad:
            self._stop(bad, logs, f"the end of epoch {epoch + 1}")
            return
        self._good_epochs = epoch + 1
        self._take_snapshot()

    def _restore(self):
        """Puts back the snapshot; returns the variables that were not in it."""
        missing = []
        for variable in _state_variables(self.model):
            kept = self._snapshot.get(id(variable))
            if kept is None or kept[0] is not variable:
                missing.append(variable)
            else:
                variable.assign(kept[1])
        return missing

    def _stop(self, bad, logs, where):
        values = ", ".join(f"{name}={float(np.asarray(logs[name]))}" for name in bad)
        missing = self._restore()
        restored = (f"the end of epoch {self._good_epochs}" if self._good_epochs
                    else "the start of training")
        self.message = (
            f"Training stopped at {where}: the logged term "
            f"{bad[0]!r} is not finite ({values}). The weights and optimizer state "
            f"were restored to {restored}, the last finite state"
        )
        if missing:
            names = ", ".join(variable.path for variable in missing[:3])
            self.message += (
                f" (except {len(missing)} variables created after that state was "
                f"taken, left as they are: {names}{', ...' if len(missing) > 3 else ''})"
            )
        if self.filepath is not None:
            try:
                saving.save_model(self.model, self.filepath)
                self.message += f", and saved to {os.fspath(self.filepath)}"
            except (OSError, ValueError, NotImplementedError) as error:
                self.message += (
                    f"; saving it to {os.fspath(self.filepath)} failed "
                    f"({type(error).__name__}: {error})"
                )
        self.message += "."
        self.model.stop_training = True
        if self.verbose:
            print(self.message, file=self.stream or sys.stderr, flush=True)

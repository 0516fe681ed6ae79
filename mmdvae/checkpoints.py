"""Keeping what a run has trained: a per-epoch backup and a stop on NaN or Inf.

- ``EpochBackup(directory)`` saves the whole model (weights, every optimizer's
  state, the seed state) and the history after every epoch, so an interrupted
  run resumes from its last completed epoch with ``restore_backup(directory)``
  and ``fit(..., initial_epoch=epoch)``. The ``.keras`` file is written first
  and ``state.json`` is then replaced atomically, so a run killed at any moment
  leaves either the previous epoch's backup or the new one, never half of one.
- ``StopOnNonFiniteLoss(filepath)`` stops training at the first batch whose
  logged terms are not finite, names the terms that went bad, puts back the
  last finite state (the end of the last good epoch, optimizer state included)
  and saves it to ``filepath``.

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
from pathlib import Path

import keras
import numpy as np

STATE_FILE = "state.json"


def _optimizers(model):
    """The model's optimizers: ``model.optimizer`` and any other attribute one."""
    found = [model.optimizer] if model.optimizer is not None else []
    for value in vars(model).values():
        if isinstance(value, keras.optimizers.Optimizer) and all(
            value is not other for other in found
        ):
            found.append(value)
    return found


def _state_variables(model):
    variables = list(model.variables)
    for optimizer in _optimizers(model):
        variables += list(optimizer.variables)
    return variables


def _non_finite_terms(logs):
    bad = [
        name for name, value in (logs or {}).items()
        if not math.isfinite(float(np.asarray(value)))
    ]
    # The components first: the total loss is bad whenever one of them is.
    return sorted(bad, key=lambda name: name in ("loss", "val_loss"))


def _write_json_atomically(path, content):
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(content, indent=2, default=float))
    os.replace(temporary, path)


class EpochBackup(keras.callbacks.Callback):
    """Saves the model and the history after every finite epoch.

    Args:
        directory: where ``epoch-N.keras`` and ``state.json`` go.
        history: the history of the epochs before this run's first (when
            resuming), as ``{name: [value per epoch]}``.
        metadata: extra JSON-serialisable content kept in ``state.json``.
    """

    def __init__(self, directory, history=None, metadata=None):
        super().__init__()
        self.directory = Path(directory)
        self.history = {name: list(values) for name, values in (history or {}).items()}
        self.metadata = dict(metadata or {})

    def on_epoch_end(self, epoch, logs=None):
        if _non_finite_terms(logs):
            return
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(np.asarray(value)))
        self.directory.mkdir(parents=True, exist_ok=True)
        model_file = f"epoch-{epoch + 1}.keras"
        self.model.save(self.directory / model_file)
        state = {"epoch": epoch + 1, "model": model_file, "history": self.history,
                 **self.metadata}
        _write_json_atomically(self.directory / STATE_FILE, state)
        for old in self.directory.glob("epoch-*.keras"):
            if old.name != model_file:
                old.unlink()


def read_backup_state(directory):
    """The ``state.json`` of a backup directory, or ``None`` when there is none."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def restore_backup(directory):
    """Returns ``(model, completed_epochs, history)`` from an ``EpochBackup``.

    The model is loaded in Keras's safe mode, compiled, with its optimizer
    state. Raises ``FileNotFoundError`` when ``directory`` holds no backup.
    """
    state = read_backup_state(directory)
    if state is None:
        raise FileNotFoundError(
            f"No backup to resume from: {os.fspath(Path(directory) / STATE_FILE)} "
            f"does not exist."
        )
    model = keras.saving.load_model(Path(directory) / state["model"], safe_mode=True)
    return model, int(state["epoch"]), state["history"]


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops at the first non-finite logged term and keeps the last finite state.

    Unlike ``keras.callbacks.TerminateOnNaN``, which only looks at ``loss`` and
    leaves the broken weights in the model, this callback checks every logged
    term, names the ones that went bad, restores the weights and optimizer
    state of the end of the last finite epoch (or of the start of training) and,
    with ``filepath``, saves them there. After ``fit`` returns, ``message`` says
    what happened (``None`` when training ended normally).

    Args:
        filepath: a ``.keras`` path to save the restored model to, or ``None``.
        stream: where to print the stop message (standard error by default).
    """

    def __init__(self, filepath=None, stream=None):
        super().__init__()
        self.filepath = None if filepath is None else Path(filepath)
        self.stream = stream
        self.message = None
        self._snapshot = None
        self._good_epochs = 0
        self._epoch = 0

    def _take_snapshot(self):
        variables = _state_variables(self.model)
        self._snapshot = [np.array(variable) for variable in variables]

    def on_train_begin(self, logs=None):
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

    def _stop(self, bad, logs, where):
        values = ", ".join(f"{name}={float(np.asarray(logs[name]))}" for name in bad)
        for variable, value in zip(_state_variables(self.model), self._snapshot,
                                   strict=True):
            variable.assign(value)
        restored = (f"the end of epoch {self._good_epochs}" if self._good_epochs
                    else "the start of training")
        self.message = (
            f"Training stopped at {where}: the logged term "
            f"{bad[0]!r} is not finite ({values}). The weights and optimizer state "
            f"were restored to {restored}, the last finite state"
        )
        if self.filepath is not None:
            self.model.save(self.filepath)
            self.message += f", and saved to {os.fspath(self.filepath)}"
        self.message += "."
        self.model.stop_training = True
        print(self.message, file=self.stream or sys.stderr, flush=True)

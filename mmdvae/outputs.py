"""A run's output directory: a new run, an interrupted run to resume, or a finished run.

A command that writes a run into a directory (``python -m mmdvae train``, an
experiment of ``reproduce``) decides what the directory holds once, before any
work, with ``check``, and writes the run's record with ``prepare`` when the
work can start:

- ``NEW``: the directory is missing or empty, or ``overwrite`` starts afresh in
  it (``prepare`` then removes what an earlier run left that a resumed run
  would read back);
- ``RESUMABLE``: with ``resume``, the directory holds the record of a run
  (``run.json``) whose settings the new call repeats;
- ``FINISHED``: with ``resume``, the directory also holds the run's
  ``finished_file``; without ``resume`` such a run is refused, never
  overwritten.

Anything else is refused with an ``OutputError`` (a ``ValueError``): a
non-empty directory without ``resume`` or ``overwrite``, ``resume`` without a
record (or with other settings), a path that is a file or cannot be created.
Nothing is written by ``check``; ``removed_if_left_empty`` removes the
directories a failed run created and left empty.

This module imports neither TensorFlow nor Keras.

Example:

```python
state = outputs.check(out, {"seed": 0, "latent_dim": 2}, resume=resume, overwrite=overwrite)
with outputs.removed_if_left_empty(out):
    ...                                       # load the data, build the model
    outputs.prepare(out, {"seed": 0, "latent_dim": 2, "epochs": 10},
                    remove=("backup",) if state == outputs.NEW else ())
    ...                                       # train, write the results
```
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from mmdvae import files

#: The record of a run, written by ``prepare``; a resumed run must repeat its settings.
RUN_FILE = "run.json"

#: What an output directory holds.
NEW, RESUMABLE, FINISHED = "new", "resumable", "finished"


class OutputError(ValueError):
    """An output directory that cannot be used as asked.

    ``str(error)`` names the Python argument ``out``; ``command_line()`` gives
    the same message with the command line's ``--out``.
    """

    def __init__(self, problem: str, directory=None):
        self.problem = problem
        self.directory = None if directory is None else Path(directory)
        if directory is None:
            super().__init__(problem)
        else:
            super().__init__(f"Argument `out` (out={os.fspath(directory)!r}) {problem}")

    def command_line(self, flag: str = "--out") -> str:
        """The message for an ``error:`` line, naming ``flag`` and the directory."""
        if self.directory is None:
            return self.problem
        return f"{flag} {self.directory} {self.problem}"


def _json_value(value):
    return json.loads(json.dumps(value))


def read_record(directory) -> dict | None:
    """The ``run.json`` record of ``directory``, or ``None`` when it has none.

    Raises ``OutputError`` when the file is not a JSON object.
    """
    path = Path(directory) / RUN_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise OutputError(f"{path} is corrupt (not readable JSON: {error}); start again in "
                          f"another directory or with --overwrite") from None
    if not isinstance(record, dict):
        raise OutputError(f"{path} is corrupt (not a JSON object); start again in another "
                          f"directory or with --overwrite")
    return record


def _check_creatable(directory: Path) -> None:
    """Refuses a missing ``directory`` that cannot be created; creates nothing."""
    ancestor = next(parent for parent in directory.parents if parent.exists())
    if not ancestor.is_dir():
        raise OutputError(f"cannot be created: {ancestor} is a file", directory)
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as error:
        raise OutputError(f"cannot be created: {error.strerror}", directory) from None


def check(directory, settings: dict, *, resume: bool = False, overwrite: bool = False,
          finished_file: str | None = None, start_if_missing: bool = False,
          label: Callable[[str], str] = str) -> str:
    """Decides what ``directory`` holds, without writing; returns ``NEW``, ``RESUMABLE``
    or ``FINISHED``.

    Args:
        directory: the output directory.
        settings: what a resumed run must repeat: each key is compared with the
            same key of the directory's ``run.json`` (a missing key reads as ``None``).
        resume: continue the run recorded in ``directory``.
        overwrite: start afresh in a non-empty ``directory``.
        finished_file: the file (relative to ``directory``) that marks a
            finished run, never overwritten; ``None``: runs are never finished.
        start_if_missing: with ``resume``, a missing or empty directory starts a
            new run instead of being refused.
        label: how a setting is named in messages (e.g. as its flag).

    Raises:
        OutputError: for ``resume`` and ``overwrite`` together, a path that is a
            file or cannot be created or written, a non-empty directory without
            ``resume`` or ``overwrite``, a finished run without ``resume``, a
            ``resume`` without a record, or with other settings.
    """
    directory = Path(directory)
    if resume and overwrite:
        raise OutputError("pass either `resume` (continue the run in the directory) or "
                          "`overwrite` (start afresh), not both")
    if directory.exists() and not directory.is_dir():
        raise OutputError("exists and is not a directory", directory)
    if not directory.exists():
        _check_creatable(directory)
    elif not os.access(directory, os.W_OK):
        raise OutputError("is not writable", directory)
    empty = not directory.exists() or not any(directory.iterdir())
    finished = finished_file is not None and (directory / finished_file).exists()
    if finished and not resume:
        raise OutputError(
            f"holds a finished run ({finished_file}); choose another directory: a finished "
            f"run is never overwritten (delete it to run again, or pass --resume to read "
            f"it back)", directory)
    if not resume:
        if not empty and not overwrite:
            raise OutputError("is not empty; choose another directory, pass --resume to "
                              "continue its run or --overwrite to start afresh", directory)
        return NEW
    record = read_record(directory)
    if record is None:
        if empty and start_if_missing:
            return NEW
        raise OutputError(f"--resume needs an interrupted run in {directory}; there is none "
                          f"({RUN_FILE} is missing): start the run without --resume")
    changed = [
        f"{label(key)} {record.get(key)!r} -> {value!r}"
        for key, value in _json_value(settings).items() if record.get(key) != value
    ]
    if changed:
        raise OutputError(f"--resume must repeat the run's settings recorded in "
                          f"{directory / RUN_FILE}; changed: {', '.join(changed)}")
    return FINISHED if finished else RESUMABLE


def prepare(directory, record: dict, remove=()) -> Path:
    """Creates ``directory`` if needed, removes ``remove`` from it and writes ``record``.

    Args:
        directory: the output directory, checked by ``check``.
        record: the run's record (its settings and anything else worth keeping),
            written to ``run.json`` as JSON.
        remove: names in ``directory`` (files or directories) an earlier run
            left that this one must not read back, e.g. its backups; removed
            before the record is written.

    Returns ``directory`` as a ``Path``.
    """
    directory = Path(directory)
    content = _json_value(record)  # refused before anything is touched
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in remove:
            path = directory / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    except OSError as error:
        raise OutputError(f"cannot be prepared: {error.strerror or error}", directory) from None
    files.write_json(directory / RUN_FILE, content)
    return directory


def _topmost_missing(path: Path) -> Path | None:
    """The highest of ``path`` and its ancestors that does not exist yet, if any."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


@contextlib.contextmanager
def removed_if_left_empty(directory):
    """Removes the directories under ``directory`` this block created when it fails
    (any exception, ``SystemExit`` included) and leaves them without a file."""
    created = _topmost_missing(Path(directory).absolute())
    try:
        yield
    except BaseException:
        if created is not None and created.is_dir() and not any(
                path.is_file() or path.is_symlink() for path in created.rglob("*")):
            shutil.rmtree(created, ignore_errors=True)
        raise

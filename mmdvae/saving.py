"""Writing files so that nothing already saved is lost.

Every file the package writes (``.keras`` models, backups, JSON records,
figures) goes to a temporary file in the destination's directory first, is
flushed to disk and is then renamed over the destination, which is atomic on
POSIX file systems: a crash, a kill or an error while writing leaves the old
file as it was, a failed write leaves no temporary file behind, and a reader
never sees half a file. The file gets the permissions of any new file (the
process's umask), not the private ones of ``tempfile``.

Example:

```python
saving.save_model(model, "runs/a/model.keras")     # refuses before touching the file
saving.write_json("runs/a/history.json", {"loss": [0.2, 0.1]})
```
"""

import json
import os
import tempfile
import uuid
from pathlib import Path

import keras


def _check_file_path(path: Path, argument: str) -> None:
    if path.is_dir():
        raise ValueError(
            f"Argument `{argument}` must be a file path; received "
            f"{argument}={os.fspath(path)!r}, which is an existing directory."
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(
                    f"Argument `{argument}` must be a path in a directory; received "
                    f"{argument}={os.fspath(path)!r}, but {os.fspath(parent)!r} is an "
                    f"existing file."
                )
            break


def check_writable_path(path, argument: str = "path") -> Path:
    """Returns ``path`` as a ``Path`` when a file can be written there; else a ``ValueError``.

    For checks before any work: ``path`` must not be a directory, its nearest
    existing ancestor must be a directory, and a file must be creatable in that
    directory (tried with a temporary file, removed at once, so nothing is left
    behind; missing directories below it are created when writing).
    """
    path = Path(path)
    _check_file_path(path, argument)
    ancestor = next(parent for parent in path.parents if parent.exists())
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as error:
        raise ValueError(
            f"Argument `{argument}` must be a path that can be written; received "
            f"{argument}={os.fspath(path)!r}, but no file can be created in "
            f"{os.fspath(ancestor)!r} ({error.strerror})."
        ) from None
    return path


def _temporary_path(path: Path, suffix: str) -> Path:
    # A hidden name of the destination's directory (so the rename stays on one
    # file system); created by the writer itself, so it gets the usual permissions.
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{suffix}")


def _flush_to_disk(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_atomically(path, write, suffix: str = ".tmp", argument: str = "filepath") -> Path:
    """Calls ``write(temporary_path)``, then renames the temporary file to ``path``.

    Args:
        path: the destination; its directory is created if missing.
        write: a function writing the whole file at the path it is given.
        suffix: the temporary file's suffix (some writers infer the format
            from it, e.g. ``".keras"``).
        argument: the argument name used in error messages.

    The temporary file is removed when ``write`` fails, and ``path`` is
    untouched. Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    _check_file_path(path, argument)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_path(path, suffix)
    try:
        write(temporary)
        _flush_to_disk(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def write_text(path, text: str, argument: str = "path") -> Path:
    """Writes ``text`` to ``path`` atomically."""
    return replace_atomically(path, lambda temporary: temporary.write_text(text),
                              argument=argument)


def write_json(path, content, argument: str = "path") -> Path:
    """Writes ``content`` as indented JSON to ``path`` atomically.

    The content is serialised before anything is written, so content that
    cannot be serialised leaves ``path`` untouched.
    """
    text = json.dumps(content, indent=2, default=float) + "\n"
    return write_text(path, text, argument=argument)


def save_model(model, filepath, overwrite: bool = True, **kwargs) -> Path:
    """Saves ``model`` as a ``.keras`` file atomically.

    The path and the model's config are checked first, so a model that cannot
    be saved (e.g. one with a custom prior, ``NotImplementedError``) or a bad
    path is refused before ``filepath`` is touched.
    """
    path = Path(filepath)
    if path.suffix != ".keras":
        raise ValueError(
            f"Argument `filepath` must end in .keras; received "
            f"filepath={os.fspath(path)!r}."
        )
    _check_file_path(path, "filepath")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"Argument `filepath` names an existing file and overwrite=False; "
            f"received filepath={os.fspath(path)!r}."
        )
    keras.saving.serialize_keras_object(model)

    def write(temporary):
        keras.Model.save(model, temporary, overwrite=True, **kwargs)

    return replace_atomically(path, write, suffix=".keras")

"""Writing files so that nothing already saved is lost.

Every file the package writes (``.keras`` models, backups, JSON records, text
reports, figures) goes through ``write_atomically``: it is written to a
temporary file in the destination's directory, flushed to disk and then
renamed over the destination, which is atomic on POSIX file systems. A crash, a
kill or an error while writing leaves the old file as it was, a failed write
leaves no temporary file behind, and a reader never sees half a file. The file
gets the permissions of any new file (the process's umask), not the private
ones of ``tempfile``.

This module imports neither TensorFlow nor matplotlib: figures are written
through their own ``savefig`` and images through Pillow, imported when needed.

Example:

```python
from mmdvae import files

files.write_json("runs/a/history.json", {"loss": [0.2, 0.1]})
files.write_figure("runs/a/samples.png", figure, dpi=100)
files.write_atomically("runs/a/notes.txt", lambda temporary: temporary.write_text("ok"))
```
"""

import json
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path


def check_file_path(path: Path, argument: str = "path") -> None:
    """A ``ValueError`` naming ``argument`` unless ``path`` can name a file: not a
    directory, and its nearest existing ancestor a directory."""
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
    check_file_path(path, argument)
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


def check_writable_directory(directory, argument: str = "directory") -> Path:
    """Creates ``directory`` if needed and checks that files can be written in it.

    Returns it as a ``Path``; a ``ValueError`` naming ``argument`` when it is an
    existing file or files cannot be created in it.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(
            f"Argument `{argument}` must be a directory; received {argument}='{directory}', "
            f"which is an existing file."
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ValueError(
            f"Argument `{argument}` must be a directory where files can be written; "
            f"received {argument}='{directory}' ({error.strerror or error})."
        ) from None
    return directory


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


def write_atomically(path, write: Callable[[Path], object], suffix: str = ".tmp",
                     argument: str = "path") -> Path:
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
    check_file_path(path, argument)
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
    return write_atomically(path, lambda temporary: temporary.write_text(text),
                            argument=argument)


def write_json(path, content, argument: str = "path") -> Path:
    """Writes ``content`` as indented JSON to ``path`` atomically.

    The content is serialised before anything is written, so content that
    cannot be serialised leaves ``path`` untouched.
    """
    text = json.dumps(content, indent=2, default=float) + "\n"
    return write_text(path, text, argument=argument)


def write_figure(path, figure, dpi: float | None = None, argument: str = "path") -> Path:
    """Writes a matplotlib ``figure`` as a PNG file at ``path`` atomically."""
    options = {} if dpi is None else {"dpi": dpi}
    return write_atomically(
        path, lambda temporary: figure.savefig(temporary, format="png", **options),
        suffix=".png", argument=argument)


def write_png(path, pixels, argument: str = "path") -> Path:
    """Writes a ``uint8`` pixel array (height, width[, channels]) as a PNG file atomically."""
    from PIL import Image

    image = Image.fromarray(pixels)
    return write_atomically(path, lambda temporary: image.save(temporary, format="PNG"),
                            suffix=".png", argument=argument)


def write_gif(path, frames, frame_seconds: float, argument: str = "path") -> Path:
    """Writes ``uint8`` pixel arrays as a looping GIF animation at ``path`` atomically."""
    from PIL import Image

    images = [Image.fromarray(frame).convert("RGB") for frame in frames]
    if not images:
        raise ValueError("Argument `frames` must hold at least one image; received none.")
    return write_atomically(
        path,
        lambda temporary: images[0].save(
            temporary, format="GIF", save_all=True, append_images=images[1:],
            duration=int(1000 * frame_seconds), loop=0),
        suffix=".gif", argument=argument)

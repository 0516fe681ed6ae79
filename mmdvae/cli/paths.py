"""The files ``evaluate`` and ``compare`` read and write: a run's model, an output file."""

import zipfile
from pathlib import Path

from mmdvae.cli.arguments import one_line


def model_file(path: Path) -> Path:
    """The ``.keras`` file at ``path``, or ``path/model.keras`` for a run directory."""
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise SystemExit(f"error: no model file at {path} (expected a .keras file or "
                         "a run directory holding model.keras)")
    return path


def load_model(path: Path):
    """The model of a ``.keras`` file; a damaged file is named in one ``error:`` line."""
    import keras

    from mmdvae import saving  # noqa: F401  (registers the models with Keras)

    if not zipfile.is_zipfile(path):
        # Keras would call it "File not found", taking it for a SavedModel directory.
        raise SystemExit(f"error: {path} is corrupt: a .keras file is a zip archive and this "
                         f"one is not (truncated or overwritten); train the model again or "
                         f"restore its file")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a damaged archive.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SystemExit(f"error: {path} is not a readable .keras file (corrupt or "
                         f"incomplete): {reason}") from None


def run_files(model_path: Path) -> list:
    """The files of a model's run that no output may replace."""
    run = model_path.parent
    return [(model_path, "the run's model file"),
            (run / "backup", "the backups of its run, which --resume reads")]


def check_output_file(path: Path, overwrite: bool, inputs=()) -> None:
    """Refuses an ``--out`` that cannot be written or would replace one of ``inputs``.

    ``inputs`` are ``(path, what it is)`` pairs: files the command reads, and
    directories (a run's backups) no file of it may go into.
    """
    from mmdvae import files

    if path.is_dir():
        raise SystemExit(f"error: --out {path} is a directory; give a file path")
    target = path.resolve()
    for kept, what in inputs:
        kept = kept.resolve()
        if target == kept or kept in target.parents:
            raise SystemExit(f"error: --out {path} would replace {what} ({kept}); choose "
                             f"another file")
    if path.exists() and not overwrite:
        raise SystemExit(f"error: --out {path} exists; choose another file or pass "
                         "--overwrite")
    try:
        files.check_writable_path(path, "out")
    except ValueError as error:
        raise SystemExit(f"error: --out {path} cannot be written: "
                         f"{one_line(error).split(', but ', 1)[-1]}") from None


def write_output(out: Path, write) -> None:
    """Calls ``write()``; a file system refusal becomes one ``error:`` line."""
    try:
        write()
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise SystemExit(f"error: --out {out} could not be written: {one_line(reason)}") from None

"""Saving models so that nothing already saved is lost.

``save_model`` checks the path and the model's config before touching the
destination, then writes the ``.keras`` file atomically through
``mmdvae.files.write_atomically`` (a temporary file in the same directory,
renamed over the destination), so a crash, a kill or a model that cannot be
saved leaves any previous file as it was. ``load_model`` loads a ``.keras`` file
of any mmdvae model in a fresh process: importing this module registers every
serialisable class of the package with Keras (``import mmdvae`` alone loads
nothing, see ``mmdvae/__init__.py``).

Example:

```python
saving.save_model(model, "runs/a/model.keras")     # refuses before touching the file
model = saving.load_model("runs/a/model.keras")
```
"""

import os
from pathlib import Path

import keras

# Imported for their `keras.saving.register_keras_serializable` decorators: once
# this module is imported, `keras.saving.load_model` finds every class of the package.
from mmdvae import (  # noqa: F401
    divergences,
    files,
    kernels,
    likelihoods,
    models,
    pixelcnn,
    schedules,
)


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
    files.check_file_path(path, "filepath")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"Argument `filepath` names an existing file and overwrite=False; "
            f"received filepath={os.fspath(path)!r}."
        )
    keras.saving.serialize_keras_object(model)

    def write(temporary):
        keras.Model.save(model, temporary, overwrite=True, **kwargs)

    return files.write_atomically(path, write, suffix=".keras", argument="filepath")


def load_model(filepath, **kwargs):
    """Loads a ``.keras`` file of any mmdvae model (``keras.saving.load_model``).

    Every class of the package is registered with Keras before loading, so this
    works in a process that has imported nothing but ``mmdvae``. ``kwargs`` are
    those of ``keras.saving.load_model`` (``compile``, ``safe_mode``, ...).
    """
    path = Path(filepath)
    if path.suffix != ".keras":
        reason = "which does not end in .keras"
    elif not path.exists():
        reason = "which does not exist"
    elif not path.is_file():
        reason = "which is not a file"
    else:
        reason = None
    if reason is not None:
        raise ValueError(
            f"Argument `filepath` must name an existing .keras file; received "
            f"filepath={os.fspath(path)!r}, {reason}."
        )
    return keras.saving.load_model(path, **kwargs)

"""mmdvae: MMD variational autoencoders and their relatives in Keras 3.

``import mmdvae`` is cheap: it imports neither TensorFlow nor Keras. The
submodules (``mmdvae.data``, ``mmdvae.kernels``, ...) and the public names
(``mmdvae.MMDVAE``, ``mmdvae.export_saved_model``, ...) load on first use
(PEP 562), and ``from mmdvae import MMDVAE`` works as usual. Importing the
package changes nothing global: no environment variable, logging level or
matplotlib backend is set.

A ``.keras`` file of any mmdvae model loads with ``mmdvae.load_model(path)``
(``keras.saving.load_model`` once ``mmdvae.saving`` or a model is imported).
"""

import importlib

__version__ = "0.2.0"

#: Submodules and subpackages, imported on first use.
_SUBMODULES = frozenset({
    "callbacks", "checkpoints", "checks", "cli", "compat", "data", "distribute",
    "divergences", "evaluation", "experiments", "export", "files", "kernels", "likelihoods",
    "losses", "models", "networks", "outputs", "pixelcnn", "plotting", "priors", "runtime",
    "saving", "schedules", "validation",
})

#: Public names of the package and the module each comes from.
_NAMES = {
    "Autoencoder": "mmdvae.models",
    "AAE": "mmdvae.models",
    "ELBOVAE": "mmdvae.models",
    "InfoVAE": "mmdvae.models",
    "MMDVAE": "mmdvae.models",
    "MutualAE": "mmdvae.models",
    "VIMAE": "mmdvae.models",
    "export_saved_model": "mmdvae.export",
    "load_model": "mmdvae.saving",
}

__all__ = [
    "Autoencoder", "ELBOVAE", "InfoVAE", "MMDVAE",
    "AAE", "VIMAE", "MutualAE",
    "checks", "data", "divergences", "evaluation", "kernels", "likelihoods", "losses",
    "networks", "pixelcnn", "priors", "checkpoints", "export_saved_model", "load_model",
    "saving", "validation",
]


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_NAMES) | _SUBMODULES)

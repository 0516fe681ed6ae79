"""mmdvae: MMD variational autoencoders and their relatives in Keras 3.

Importing the package changes nothing global: no environment variable, logging
level or matplotlib backend is set (the command line quiets TensorFlow's
start-up messages in its own process only, see ``mmdvae.console``).
"""

from mmdvae import console

if console.started_as_command_line():
    console.quiet_tensorflow()

from mmdvae import (  # noqa: E402
    checkpoints,
    checks,
    data,
    divergences,
    evaluation,
    kernels,
    likelihoods,
    losses,
    networks,
    pixelcnn,
    priors,
    saving,
    validation,
)
from mmdvae.export import export_saved_model  # noqa: E402
from mmdvae.models import (  # noqa: E402
    AAE,
    ELBOVAE,
    MMDVAE,
    VIMAE,
    Autoencoder,
    InfoVAE,
    MutualAE,
)

__version__ = "0.2.0"

__all__ = [
    "Autoencoder", "ELBOVAE", "InfoVAE", "MMDVAE",
    "AAE", "VIMAE", "MutualAE",
    "checks", "data", "divergences", "evaluation", "kernels", "likelihoods", "losses",
    "networks", "pixelcnn", "priors", "checkpoints", "export_saved_model", "saving",
    "validation",
]

"""mmdvae: MMD variational autoencoders and their relatives in Keras 3.

Importing the package turns on TensorFlow's oneDNN CPU kernels
(``TF_ENABLE_ONEDNN_OPTS=1``) unless the variable is already set, because they
make training markedly faster on CPUs where TensorFlow leaves them off; it only
has an effect when TensorFlow has not been imported yet.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mmdvae import (  # noqa: E402
    checkpoints,
    data,
    evaluation,
    kernels,
    losses,
    networks,
    priors,
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

__version__ = "0.1.0"

__all__ = [
    "Autoencoder", "ELBOVAE", "InfoVAE", "MMDVAE",
    "AAE", "VIMAE", "MutualAE",
    "data", "evaluation", "kernels", "losses", "networks", "priors",
    "checkpoints", "export_saved_model", "validation",
]

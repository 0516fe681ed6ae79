"""The models: one base class, one short file per model, and their registry."""

# Imported for its registration as the likelihood "pixelcnn".
import mmdvae.pixelcnn  # noqa: F401
from mmdvae.models import registry
from mmdvae.models.aae import AAE
from mmdvae.models.base import Autoencoder
from mmdvae.models.elbo_vae import ELBOVAE
from mmdvae.models.info_vae import InfoVAE
from mmdvae.models.mmd_vae import MMDVAE
from mmdvae.models.mutual_ae import MutualAE
from mmdvae.models.vimae import VIMAE

__all__ = ["AAE", "Autoencoder", "ELBOVAE", "InfoVAE", "MMDVAE", "MutualAE", "VIMAE",
           "registry"]

"""The models: one base class and one short file per model."""

from mmdvae.models.base import Autoencoder
from mmdvae.models.elbo_vae import ELBOVAE
from mmdvae.models.info_vae import InfoVAE
from mmdvae.models.mmd_vae import MMDVAE

__all__ = ["Autoencoder", "ELBOVAE", "InfoVAE", "MMDVAE"]

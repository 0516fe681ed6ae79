"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Directory with `mnist/` and `fashion_mnist/` IDX files.

    `MMDVAE_DATA_DIR` if set, else `../shared/datasets` beside the repository.
    """
    configured = os.environ.get("MMDVAE_DATA_DIR")
    if configured:
        directory = Path(configured)
    else:
        directory = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not directory.is_dir():
        pytest.skip(f"No MNIST/Fashion-MNIST IDX files at {directory}.")
    return directory

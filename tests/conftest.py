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


@pytest.fixture(scope="module")
def images():
    """The tiny models' 64 seeded images in [0, 1] (``tiny.tiny_images()``), one per module."""
    from tiny import tiny_images

    return tiny_images()


@pytest.fixture
def run_notebook(tmp_path, data_dir, monkeypatch):
    """Executes a notebook of notebooks/ in quick mode in tmp_path.

    Returns a function of the notebook's file name that returns the text its
    cells printed and its inline PNG outputs.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    root = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("MMDVAE_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MMDVAE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]))

    def run(name):
        notebook = nbformat.read(root / "notebooks" / name, as_version=4)
        client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
        outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
        text = "".join(output.get("text", "") for output in outputs)
        images = [output for output in outputs if "image/png" in output.get("data", {})]
        return text, images

    return run

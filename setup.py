from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent


def requirements(name):
    lines = (here / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def tensorflow_with_cuda():
    """The TensorFlow of requirements.txt with its `and-cuda` extra, at the same version."""
    (tensorflow,) = [line for line in requirements("requirements.txt")
                     if line.startswith("tensorflow==")]
    return tensorflow.replace("tensorflow==", "tensorflow[and-cuda]==", 1)


setup(
    name="mmdvae",
    version="0.1.0",
    description="MMD variational autoencoders (InfoVAE family), ELBO VAE, AAE and VIMAE in Keras 3",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mmdvae", "mmdvae.*"]),
    python_requires=">=3.11",
    install_requires=requirements("requirements.txt"),
    extras_require={
        "dev": requirements("requirements-dev.txt"),
        # TensorFlow's CUDA and cuDNN wheels (NVIDIA GPUs, Linux): `pip install .[gpu]`.
        "gpu": [tensorflow_with_cuda()],
    },
    entry_points={"console_scripts": ["mmdvae=mmdvae.cli:main"]},
)

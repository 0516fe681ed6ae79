"""Source: MNIST and Fashion-MNIST from their original IDX files.

The files are found in a directory known from the ``data_dir=`` argument,
else the ``MMDVAE_DATA_DIR`` environment variable: the four files directly,
or in a subdirectory named like the dataset (``mnist/``, ``fashion_mnist/``),
gzipped (``*.gz``) or not. A directory that lacks them is an error, never a
silent download; without a directory, the split comes from
tensorflow-datasets. Either way the split is read into memory whole, once.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from mmdvae.data import tfds
from mmdvae.data.catalogue import ENV_VAR, IMAGE_SHAPE, DataNotFoundError

_FILE_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_GZIP_MAGIC = b"\x1f\x8b"


def read_split(name: str, split: str, data_dir) -> tuple[np.ndarray, np.ndarray]:
    """Read-only uint8 images (N, 28, 28, 1) and labels (N,) of a split."""
    directory, origin = _configured_directory(data_dir)
    if directory is None:
        try:
            return tfds.read_whole_split(name, split)
        except DataNotFoundError:
            raise  # offline: already one line naming the host and the local options
        except Exception as error:
            raise DataNotFoundError(
                _not_found_message(name, split, [], origin, error)
            ) from error
    candidates = [directory / name, directory]
    for candidate in candidates:
        files = _find_files(candidate, split)
        if files is not None:
            return _read_files(*files)
    # A directory the user named is never silently replaced by a download.
    raise DataNotFoundError(_not_found_message(name, split, candidates, origin, error=None))


def _configured_directory(data_dir) -> tuple[Path | None, str]:
    if data_dir is not None:
        return Path(data_dir).expanduser(), f"data_dir={os.fspath(data_dir)!r}"
    from_environment = os.environ.get(ENV_VAR)
    if from_environment:
        return (
            Path(from_environment).expanduser(),
            f"{ENV_VAR}={from_environment!r}",
        )
    return None, f"data_dir=None and {ENV_VAR} unset"


def _find_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    found = []
    for stem in _FILE_STEMS[split]:
        for file_name in (stem + ".gz", stem):
            path = directory / file_name
            if path.is_file():
                found.append(path)
                break
        else:
            return None
    return found[0], found[1]


def _not_found_message(name, split, searched, origin, error) -> str:
    expected = " and ".join(f"{stem}[.gz]" for stem in _FILE_STEMS[split])
    if searched:
        looked = f"looked in {' and '.join(str(path) for path in searched)} ({origin})"
    else:
        looked = f"no directory to look in ({origin})"
    if error is None:
        tfds_text = (
            "tensorflow-datasets was not tried because a directory was given; "
            f"unset it ({origin}) to download the data instead."
        )
    else:
        error_text = f"{type(error).__name__}: {error}".replace("\n", " ")
        if len(error_text) > 300:
            error_text = error_text[:297] + "..."
        tfds_text = f"tensorflow-datasets could not provide it either: {error_text}"
    return (
        f"Could not load the {name!r} {split!r} split.\n"
        f"  IDX files: expected {expected}; {looked}. Pass data_dir= or set the "
        f"{ENV_VAR} environment variable to a directory holding these files, or "
        f"holding a {name}/ subdirectory with them.\n"
        f"  {tfds_text}"
    )


# === Parsing ===


def _read_files(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _read_idx(images_path, _IMAGES_MAGIC)
    labels = _read_idx(labels_path, _LABELS_MAGIC)
    if images.shape[1:] != IMAGE_SHAPE[:2]:
        raise ValueError(
            f"Corrupt IDX file {images_path}: images have shape {images.shape[1:]}, "
            f"expected {IMAGE_SHAPE[:2]}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"IDX files disagree: {images_path} holds {len(images)} images but "
            f"{labels_path} holds {len(labels)} labels."
        )
    return images.reshape((-1, *IMAGE_SHAPE)), labels


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    status = path.stat()
    return _read_idx_cached(
        str(path.resolve()), status.st_size, status.st_mtime_ns, expected_magic
    )


@functools.lru_cache(maxsize=16)
def _read_idx_cached(
    path: str, size: int, modified: int, expected_magic: int
) -> np.ndarray:
    """Parse one IDX file of unsigned bytes into a read-only array."""
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(
                f"Corrupt or truncated gzip file {path}: {error}"
            ) from error

    if len(raw) < 4:
        raise ValueError(f"Corrupt IDX file {path}: only {len(raw)} bytes.")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"Corrupt IDX file {path}: magic number 0x{magic:08x}, expected "
            f"0x{expected_magic:08x}."
        )
    num_dimensions = magic & 0xFF
    header_size = 4 + 4 * num_dimensions
    if len(raw) < header_size:
        raise ValueError(f"Corrupt IDX file {path}: header truncated.")
    shape = tuple(
        int.from_bytes(raw[4 + 4 * index : 8 + 4 * index], "big")
        for index in range(num_dimensions)
    )
    expected_size = header_size + int(np.prod(shape))
    if len(raw) != expected_size:
        raise ValueError(
            f"Corrupt IDX file {path}: {len(raw)} bytes for shape {shape}, "
            f"expected {expected_size}."
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)
    array.flags.writeable = False
    return array

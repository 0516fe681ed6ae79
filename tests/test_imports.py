"""The package's modules import one another one way only, and `import mmdvae` is cheap."""

import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny import tiny_images, tiny_model

import mmdvae

PACKAGE = Path(__file__).resolve().parents[1] / "mmdvae"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set:
    """The mmdvae modules a module imports when it is imported (not inside functions)."""
    imported = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names if alias.name.startswith("mmdvae")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mmdvae"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists() or (
                    PACKAGE.parent / candidate.replace(".", "/") / "__init__.py").exists()
                imported.add(candidate if is_module else node.module)
    return imported


def test_no_module_imports_a_module_that_imports_it_back():
    graph = {_module_name(path): _top_level_imports(path) for path in PACKAGE.rglob("*.py")}
    assert "mmdvae.likelihoods" in graph and "mmdvae.pixelcnn" in graph
    # A package's __init__ gathers its modules; the modules importing the package back
    # for its other names is the usual layout, not a circle.
    circles = sorted(
        (first, second) for first, imports in graph.items() for second in imports
        if first < second and first in graph.get(second, ())
        and not second.startswith(first + ".") and not first.startswith(second + ".")
        and first != "mmdvae" and second != "mmdvae")
    assert circles == []


# === A lazy package (PEP 562) ===

HEAVY_MODULES = ("tensorflow", "keras", "tensorflow_probability", "matplotlib")


def _python(code: str, timeout: float = 300) -> str:
    environment = dict(os.environ, PYTHONPATH=str(PACKAGE.parent), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", code], env=environment, cwd=PACKAGE.parent,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_importing_the_package_imports_no_tensorflow_keras_or_matplotlib():
    output = _python(
        "import sys, mmdvae\n"
        f"print(sorted(set({HEAVY_MODULES!r}) & set(sys.modules)))\n"
        "print(mmdvae.__version__, 'MMDVAE' in dir(mmdvae), 'data' in dir(mmdvae))\n"
        f"print(sorted(set({HEAVY_MODULES!r}) & set(sys.modules)))\n")
    assert output.splitlines() == ["[]", f"{mmdvae.__version__} True True", "[]"]


def test_every_public_name_resolves_to_its_module_or_class():
    assert len(set(mmdvae.__all__)) == len(mmdvae.__all__)
    for name in mmdvae.__all__:
        value = getattr(mmdvae, name)
        if inspect.ismodule(value):
            assert value is importlib.import_module(f"mmdvae.{name}"), name
        else:
            assert value.__name__ == name and value.__module__.startswith("mmdvae."), name
    assert issubclass(mmdvae.MMDVAE, mmdvae.Autoencoder)
    assert mmdvae.load_model is mmdvae.saving.load_model
    assert set(mmdvae.__all__) <= set(dir(mmdvae))
    namespace = {}
    exec("from mmdvae import *", namespace)
    assert namespace["InfoVAE"] is mmdvae.models.InfoVAE


def test_every_submodule_loads_on_first_use():
    on_disk = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    on_disk |= {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert mmdvae._SUBMODULES == on_disk
    assert mmdvae.compat is importlib.import_module("mmdvae.compat")


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'mmdvae' has no attribute 'MMDVae'"):
        mmdvae.MMDVae  # noqa: B018
    assert not hasattr(mmdvae, "tensorflow")


def _registered_names() -> set:
    """``mmdvae>Name`` of every class the package registers with Keras (outside experiments)."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        if "experiments" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and any(
                    "register_keras_serializable" in ast.unparse(decorator)
                    and 'package="mmdvae"' in ast.unparse(decorator).replace("'", '"')
                    for decorator in node.decorator_list):
                names.add(f"mmdvae>{node.name}")
    return names


def test_a_fresh_process_loads_a_saved_model_and_finds_every_registered_class(tmp_path):
    names = _registered_names()
    assert {"mmdvae>MMDVAE", "mmdvae>PixelCNN", "mmdvae>KL", "mmdvae>Bernoulli"} <= names
    model = tiny_model("mmd")
    images = tiny_images(6)
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "images.npy", images)
    output = _python(
        "import json, sys, keras, numpy as np, mmdvae\n"
        f"names = {sorted(names)!r}\n"
        "before = [name for name in names if keras.saving.get_registered_object(name)]\n"
        f"model = mmdvae.load_model({str(path)!r})\n"
        "missing = [name for name in names if not keras.saving.get_registered_object(name)]\n"
        f"codes = model.encode(np.load({str(tmp_path / 'images.npy')!r})).numpy()\n"
        f"np.save({str(tmp_path / 'codes.npy')!r}, codes)\n"
        "print(json.dumps({'before': before, 'missing': missing,\n"
        "                  'type': type(model).__name__}))\n")
    result = json.loads(output.splitlines()[-1])
    # `import mmdvae` registers nothing; loading registers every class, PixelCNN too.
    assert result == {"before": [], "missing": [], "type": "MMDVAE"}
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), model.encode(images))


def test_load_model_refuses_a_missing_file_before_keras_does(tmp_path):
    with pytest.raises(ValueError, match=r"Argument `filepath` must name an existing \.keras "
                                         r"file; received filepath='.*none\.keras', which "
                                         r"does not exist\."):
        mmdvae.load_model(tmp_path / "none.keras")
    (tmp_path / "model.h5").write_text("")
    with pytest.raises(ValueError, match=r"model\.h5', which does not end in \.keras"):
        mmdvae.load_model(tmp_path / "model.h5")

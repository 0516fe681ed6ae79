"""The package's modules import one another one way only."""

import ast
from pathlib import Path

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

"""The documentation: the site builds in strict mode, and the README's links resolve."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A stand-in for TensorFlow that fails when imported: the API reference must be
# read from the sources (static analysis), never by importing the package.
NO_TENSORFLOW = 'raise ImportError("the documentation build imported TensorFlow")\n'


def build_site(tmp_path):
    blocker = tmp_path / "blocker"
    (blocker / "tensorflow").mkdir(parents=True)
    (blocker / "tensorflow" / "__init__.py").write_text(NO_TENSORFLOW)
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(blocker), "HOME": str(tmp_path)},
    )
    return result, site


def test_site_builds_in_strict_mode_without_importing_tensorflow(tmp_path):
    result, site = build_site(tmp_path)
    output = result.stdout + result.stderr
    # Strict mode turns every warning (a broken link or anchor, a page left out of
    # the navigation, an unresolved cross-reference) into a failed build.
    assert result.returncode == 0, output
    assert "WARNING" not in output, output

    # The API pages hold the rendered docstrings, one heading per documented object.
    models = (site / "api" / "models" / "index.html").read_text()
    for name in ("Autoencoder", "MMDVAE", "ELBOVAE", "InfoVAE", "AAE", "VIMAE", "MutualAE"):
        assert f'id="mmdvae.models.{name}"' in models, name
    assert "maximum mean discrepancy" in models.lower()
    kernels = (site / "api" / "kernels" / "index.html").read_text()
    assert 'id="mmdvae.kernels.compute_mmd"' in kernels
    assert 'id="mmdvae.kernels.mmd_test"' in kernels
    data = (site / "api" / "data" / "index.html").read_text()
    assert 'id="mmdvae.data.load"' in data
    # Doctest examples are shown as code, not as nested quotes.
    assert "<blockquote>" not in kernels
    schedules = (site / "api" / "schedules" / "index.html").read_text()
    assert "&gt;&gt;&gt; schedule = LinearWarmup" in schedules
    assert "<blockquote>" not in schedules


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [target for target in targets if "://" not in target]
    assert any(target.startswith("docs/") for target in local)
    for target in local:
        path = target.split("#", 1)[0]
        assert (ROOT / path).exists(), target


def test_readme_stays_short():
    # The README says what the package is and links to the guides under docs/.
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200

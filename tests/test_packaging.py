"""The package installs into an environment that already has its own torch without replacing it.

The exact torch pin lives in constraints.txt (used by the Makefile for fresh CPU set-ups); the package metadata asks
for a range. The test builds a throw-away venv that sees this environment's packages (through a .pth file), installs a
stand-in torch of another patch version into it, and asks pip, offline, what `pip install .` would do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib and the venv layout used here need 3.11")

REPO_ROOT = Path(__file__).resolve().parents[1]
OTHER_TORCH = "2.13.1"


def _fake_torch(site_packages: Path) -> None:
    """A distribution named torch at OTHER_TORCH: just enough metadata for pip to see it as installed."""
    (site_packages / "torch").mkdir()
    (site_packages / "torch" / "__init__.py").write_text(f"__version__ = {OTHER_TORCH!r}\n")
    info = site_packages / f"torch-{OTHER_TORCH}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {OTHER_TORCH}\n")
    (info / "INSTALLER").write_text("test\n")
    (info / "RECORD").write_text("")


@pytest.fixture(scope="module")
def venv_with_other_torch(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    _fake_torch(site)
    # this environment's packages (pip, setuptools, numpy, ...) after the venv's own, so the fake torch wins
    (site / "zz_outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_metadata_asks_for_a_torch_range_and_constraints_pin_it():
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    torch_requirement = next(d for d in project["dependencies"] if d.startswith("torch"))
    assert "==" not in torch_requirement
    assert "torch==" in (REPO_ROOT / "constraints.txt").read_text()


def test_pip_install_keeps_an_installed_torch_of_another_version(venv_with_other_torch, tmp_path):
    python = venv_with_other_torch
    assert subprocess.check_output([python, "-c", "import torch; print(torch.__version__)"], text=True).strip() \
        == OTHER_TORCH
    report = tmp_path / "report.json"
    # offline (--no-index): anything pip would have to fetch, torch included, makes this fail
    subprocess.run([python, "-m", "pip", "install", "--dry-run", "--no-index", "--no-build-isolation", "--quiet",
                    "--disable-pip-version-check", "--report", str(report), str(REPO_ROOT)],
                   check=True, capture_output=True, cwd=tmp_path)
    to_install = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert to_install == ["ob-hypersim"]

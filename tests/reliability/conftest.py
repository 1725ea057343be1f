"""Shared set-up of the reliability tests: a small hand-built Hypersim tree and what a clean run makes of it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from obhypersim_build.run import generate
from obtoolkit.manifest import read_manifest, table_to_records
from tests.obhypersim_build.conftest import write_layered_tree
from tests.training.conftest import toy_variants  # noqa: F401 (a fixture of the training tests, used here too)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` except the run's config echo and the lock file."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in ("build_config.yaml", ".obh.lock")}


def manifest_rows(path: Path) -> list[dict]:
    return [r.as_dict() for r in table_to_records(read_manifest(path))]


def stats_files(out: Path) -> int:
    """How many frames a run has finished (written their stats JSON, the last file of a frame)."""
    return len(list(out.glob("hypersim/*/*/stats/*.json")))


@pytest.fixture
def hypersim(tmp_path) -> Path:
    """Two scenes (ai_001_001 standard camera, ai_001_002 tilt-shift), one camera, three frames each."""
    return write_layered_tree(tmp_path / "hypersim").layout.root


def clean_digest(hypersim: Path, folder: Path) -> dict[str, str]:
    """The output of an undisturbed `generate` of `hypersim` (into `folder`)."""
    generate(hypersim, folder, progress=False)
    return tree_digest(folder)


@pytest.fixture(scope="module")
def train_data(tmp_path_factory) -> Path:
    """A generated dataset of three synthetic scenes of two 64x80 frames (4 train, 2 val), for `train` and `evaluate`
    (the training tests' data)."""
    from obtoolkit._open3d import open3d_available
    from obtoolkit.synth import make_synthetic_dataset

    if not open3d_available():
        pytest.skip("open3d (the raycast extra) is needed to make synthetic scenes")
    root = tmp_path_factory.mktemp("train_data")
    make_synthetic_dataset(root / "hypersim", scenes=3, frames=2, seed=1, height=64, width=80)
    generate(root / "hypersim", root / "ob", progress=False)
    return root / "ob"

"""Shared test set-up: one intra-op thread, fixture locations, synthetic data helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


def _set_torch_threads() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


_set_torch_threads()


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The real-data fixtures beside the repository (`../shared/fixtures`); skips when absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real-data fixtures not found at {SHARED_FIXTURES} (they live beside the repository)")
    return SHARED_FIXTURES


@pytest.fixture
def frozen_git_state(monkeypatch, tmp_path) -> None:
    """No git checkout for the test's duration, in this process and every process it starts (GIT_DIR names a
    folder that is not a repository), so `obtoolkit.provenance.git_sha()` is None throughout.

    For tests that compare the bytes of outputs of separate runs: `manifest.parquet` records the git commit of the
    checkout, "-dirty" included, at the time of the run that wrote it, so a commit or an edit in the checkout while
    the suite runs (a merge during a CI run) would change a manifest although nothing about the runs differs."""
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-a-git-checkout"))


SYNTHETIC_SCENES = ("ai_900_001", "ai_900_002")  # standard camera, real tilt-shift camera
SYNTHETIC_SHAPE_HW = (96, 128)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic Hypersim root, generated once per session (about 2 s) and shared by all tests.

    `obtoolkit.synth.make_synthetic_dataset(root, scenes=2, frames=2, seed=0, height=96, width=128)`: scenes
    ai_900_001 (standard camera) and ai_900_002 (real tilt-shift camera), each with trajectories cam_00 and cam_01 of
    frames 0 and 1, every Hypersim file kind, `_detail/` metadata and meshes, the camera and split CSVs, and reference
    boundaries under `<scene>/_synth_reference/`. Treat it as read-only. Skips when open3d cannot be imported.
    """
    from obtoolkit._open3d import open3d_available

    if not open3d_available():
        pytest.skip("open3d is not installed (the raycast extra): synthetic scenes cannot be generated")
    from obtoolkit.synth.generate import make_synthetic_dataset

    root = tmp_path_factory.mktemp("synthetic_hypersim")
    make_synthetic_dataset(root, scenes=2, frames=2, seed=0, height=SYNTHETIC_SHAPE_HW[0],
                           width=SYNTHETIC_SHAPE_HW[1])
    return root

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

"""Synthetic trees in each dataset's format, written once per session (a few milliseconds each)."""

from __future__ import annotations

import pytest

from obtoolkit.datasets import format_names
from obtoolkit.datasets.synthetic import write_synthetic_tree


@pytest.fixture(scope="session")
def trees(tmp_path_factory):
    """{format name: SyntheticTree} (seed 0, 3 frames of 24 x 32); read-only."""
    return {name: write_synthetic_tree(name, tmp_path_factory.mktemp(name), seed=0) for name in format_names()}

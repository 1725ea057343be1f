"""`obh demo`: the bundled end-to-end run on synthetic data."""

from __future__ import annotations

from pathlib import Path


def run_demo(out_dir: Path | None) -> Path:
    raise NotImplementedError("the demo is assembled in the foundation issue")

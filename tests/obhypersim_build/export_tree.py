"""A small OB-Hypersim tree for the export tests, made by `obh generate` from the hand-built layered scenes.

8 frames (2 scenes x 4 frames, 24x32), split train and test. The depth of one frame is then replaced by float16 bit
patterns of every kind (NaNs with payloads, infinities, -0, subnormals) so that exactness is tested on the bits; the
manifest has no depth hash, so the tree stays consistent.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from obhypersim_build.run import generate
from obtoolkit.manifest import read_manifest, table_to_records

from .conftest import write_layered_tree

ODD_DEPTH_FRAME = ("ai_001_002", "cam_00", 1)


def make_export_tree(tmp: Path) -> Path:
    """Generate the tree under `tmp`; returns its root (with manifest.parquet)."""
    hypersim = write_layered_tree(tmp / "hypersim", frames_per_camera=4).layout.root
    root = tmp / "ob_hypersim"
    generate(hypersim, root, progress=False)
    record = next(r for r in table_to_records(read_manifest(root / "manifest.parquet"))
                  if (r.scene, r.camera, r.frame) == ODD_DEPTH_FRAME)
    with h5py.File(root / record.depth_path, "r+") as handle:
        shape = handle["dataset"].shape
        bits = np.random.default_rng(0).integers(0, 1 << 16, size=shape, dtype=np.uint16)
        bits.flat[:6] = [0x7E01, 0xFE3F, 0x7C00, 0x8000, 0x0001, 0x7FFF]  # NaN payloads, inf, -0, subnormal
        del handle["dataset"]
        handle.create_dataset("dataset", data=bits.view(np.float16), compression="gzip")
    return root


def manifest_rows(root: Path) -> list[dict]:
    return [r.as_dict() for r in table_to_records(read_manifest(root / "manifest.parquet"))]

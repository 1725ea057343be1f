"""Milliseconds per frame of the dataset readers at each dataset's real frame size, and of the per-image depth
metrics (every scale policy), DBE (both modes) and fixed-threshold counts.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_datasets.py [--frames 3]

Trees are synthetic (`obtoolkit.datasets.synthetic`) at NYUD-MT / iBims 480x640, OB-FUTURE 1080x1080 and DIODE /
OB-DIODE / OB-EntitySeg 768x1024, written to a temporary folder (the page cache is warm: this is decode cost, not
disk). The metric timings use the first iBims frame with a prediction = GT x 1.1 + noise. No targets: these figures
say whether reading or scoring can keep up with a forward pass.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

from obtoolkit.datasets import format_names, get_format
from obtoolkit.datasets.synthetic import write_synthetic_tree
from obtoolkit.metrics.dbe import depth_boundary_errors
from obtoolkit.metrics.depth import aligned_depth_errors
from obtoolkit.metrics.fixed_threshold import fixed_threshold_counts

SIZES = {"nyudmt": (480, 640), "ibims": (480, 640), "ob_future": (1080, 1080), "diode": (768, 1024),
         "ob_diode": (768, 1024), "ob_entityseg": (768, 1024)}


def _ms(function, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return 1000 * (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_datasets_") as tmp:
        for name in format_names():
            fmt = get_format(name)
            tree = write_synthetic_tree(name, f"{tmp}/{name}", n_frames=args.frames, shape_hw=SIZES[name])
            frames = fmt.frames(tree.root)
            start = time.perf_counter()
            for files in frames:
                fmt.read_frame(tree.root, files)
            ms = 1000 * (time.perf_counter() - start) / len(frames)
            h, w = SIZES[name]
            print(f"read_frame {name:13s} {w}x{h}: {ms:7.1f} ms/frame")
        ibims = get_format("ibims")
        arrays = ibims.read_frame(f"{tmp}/ibims", ibims.frames(f"{tmp}/ibims")[0])
        rng = np.random.default_rng(0)
        gt = np.nan_to_num(arrays.depth_m)
        pred = gt * 1.1 + rng.uniform(0.5, 1.0, gt.shape)
        prob = rng.random(gt.shape)
        cases = {
            "depth metrics, 5 policies": lambda: aligned_depth_errors(pred, gt, ibims.preset.depth, arrays.depth_valid,
                                                                      official_factor=0.63),
            "DBE ours": lambda: depth_boundary_errors(pred, arrays.depth_edges, arrays.depth_valid, mode="ours"),
            "DBE official": lambda: depth_boundary_errors(pred, arrays.depth_edges, arrays.depth_valid,
                                                          mode="official"),
            "fixed-threshold counts": lambda: fixed_threshold_counts(prob, arrays.boundary),
        }
        for label, function in cases.items():
            print(f"{label:26s} 640x480: {_ms(function, 5):7.1f} ms/image")


if __name__ == "__main__":
    main()

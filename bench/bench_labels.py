"""Seconds per frame of label generation: compute only, and with file I/O (read inputs, validate, write labels).

Runs on one thread. Inputs: the real Hypersim frame ai_037_002/cam_00/frame.0000 from ../shared/fixtures (depth and
depth-derived normals; no instance ids), or `--hypersim-root` + `--frame` for any Hypersim-format frame (e.g. a
synthetic 1024x768 scene made with `obh synth`).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_labels.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from obtoolkit.boundaries import P2ORM_COMPAT, FrameRays, LabelParams, compute_labels
from obtoolkit.hypersim import (
    FrameGeometry,
    HypersimLayout,
    parse_frame_id,
    read_camera_parameters,
    read_frame_geometry,
    read_hdf5_dataset,
)
from obtoolkit.labels_io import LabelArrays, write_label_files
from obtoolkit.validation import validate_labels

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def fixture_inputs() -> FrameGeometry:
    root = FIXTURES / "hypersim"
    distance = read_hdf5_dataset(root / "ai_037_002/images/scene_cam_00_geometry_hdf5/frame.0000.depth_meters.hdf5",
                                 what="depth", kind="f").astype(np.float32)
    normals = np.load(FIXTURES / "p2orm_compat/ai_037_002_f0000_normals_cam_from_depth.npy")
    camera = read_camera_parameters(root / "metadata_camera_parameters.csv").camera("ai_037_002")
    return FrameGeometry(distance, np.isfinite(distance), camera.M_cam_from_uv, normals)


def hypersim_inputs(root: Path, frame_text: str) -> tuple[FrameGeometry, callable]:
    layout, frame = HypersimLayout(root), parse_frame_id(frame_text)
    camera = read_camera_parameters(layout.camera_parameters_csv).camera(frame.scene)

    def read() -> FrameGeometry:
        return read_frame_geometry(layout, frame, camera=camera)

    return read(), read


def timed(function, repeats: int) -> float:
    function()  # compile / warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hypersim-root", type=Path)
    parser.add_argument("--frame", default="ai_900_001/cam_00/frame.0000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    read = None
    if args.hypersim_root:
        inputs, read = hypersim_inputs(args.hypersim_root, args.frame)
        source = f"{args.hypersim_root}/{args.frame}"
    else:
        inputs, source = fixture_inputs(), "real ai_037_002/cam_00/frame.0000 (depth + depth normals, no ids)"
    height, width = inputs.shape_hw
    rays = FrameRays.from_camera(inputs.M_cam_from_uv, height, width)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.python_implementation()} "
          f"{platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"frame: {source}, {width}x{height}, median of {args.repeats}")
    with tempfile.TemporaryDirectory() as out:
        for name, params in (("default", LabelParams()), ("p2orm_compat", P2ORM_COMPAT)):
            compute = timed(lambda p=params: compute_labels(inputs, p, rays), args.repeats)
            labels = LabelArrays.from_labels(compute_labels(inputs, params, rays))
            validate = timed(lambda p=params, a=labels: validate_labels(a, inputs, p, rays_unit=rays.unit),
                             args.repeats)
            write = timed(lambda a=labels: write_label_files(out, parse_frame_id("ai_000_000/cam_00/0"), a),
                          args.repeats)
            read_s = timed(read, args.repeats) if read else 0.0
            total = compute + validate + write + read_s
            print(f"{name:>13}: compute {compute:.3f} s | validate {validate:.3f} s | write labels {write:.3f} s | "
                  f"read inputs {read_s:.3f} s | total {total:.3f} s")


if __name__ == "__main__":
    main()

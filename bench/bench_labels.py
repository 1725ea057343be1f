"""Seconds per frame of label generation (compute only, and with file I/O), and the per-family agreement table.

Speed (default): one thread. Inputs: the real Hypersim frame ai_037_002/cam_00/frame.0000 from ../shared/fixtures
(depth and depth-derived normals; no instance ids), or `--hypersim-root` + `--frame` for any Hypersim-format frame
(e.g. a synthetic 1024x768 scene made with `obh synth`).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_labels.py [--repeats 5]

Agreement (`--families`): F, precision, recall, self-occlusion recall, side and orientation accuracy of the default,
mesh-exact and P2ORM-compatible modes against the mesh references, per scene family (obtoolkit.synth.scorecard;
docs/labels.md holds the table and says which families were held out of tuning).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_labels.py --families all --scenes 4 --frames 2
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


def timed(function, repeats: int) -> tuple[float, float]:
    """Median wall and process-CPU seconds of `function` over `repeats` calls, after one warm-up call (numba
    compilation, caches). CPU time is the steadier figure on a shared machine."""
    function()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def families_table(args: argparse.Namespace) -> None:
    from obtoolkit.synth.families import FAMILIES, HELD_OUT_FAMILIES, TUNING_FAMILIES
    from obtoolkit.synth.scorecard import markdown_table, score_family, score_table

    groups = {"all": list(FAMILIES), "tuning": list(TUNING_FAMILIES), "held_out": list(HELD_OUT_FAMILIES)}
    names = [n for item in args.families.split(",") for n in groups.get(item, [item])]
    width, height = (int(v) for v in args.size.split("x"))
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}; "
          f"{args.scenes} scenes x {args.frames} frames per family at {width}x{height}, seed {args.seed}")
    scores = []
    for name in names:
        start = time.perf_counter()
        scores.append(score_family(name, scenes=args.scenes, frames=args.frames, seed=args.seed, height=height,
                                   width=width, modes=args.modes.split(",")))
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    print(markdown_table(score_table(scores)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hypersim-root", type=Path)
    parser.add_argument("--frame", default="ai_900_001/cam_00/frame.0000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--families", help="Score families instead of timing: names, or all / tuning / held_out.")
    parser.add_argument("--scenes", type=int, default=4, help="Scenes per family (--families).")
    parser.add_argument("--frames", type=int, default=2, help="Frames per scene (--families).")
    parser.add_argument("--seed", type=int, default=0, help="Scene seed (--families).")
    parser.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT (--families).")
    parser.add_argument("--modes", default="default,mesh_exact,p2orm", help="Label modes (--families).")
    args = parser.parse_args()
    if args.families:
        families_table(args)
        return
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
    print(f"load average {os.getloadavg()[0]:.2f}; seconds: wall (process CPU)")
    with tempfile.TemporaryDirectory() as out:
        for name, params in (("default", LabelParams()), ("p2orm_compat", P2ORM_COMPAT)):
            compute = timed(lambda p=params: compute_labels(inputs, p, rays), args.repeats)
            labels = LabelArrays.from_labels(compute_labels(inputs, params, rays))
            validate = timed(lambda p=params, a=labels: validate_labels(a, inputs, p, rays_unit=rays.unit),
                             args.repeats)
            write = timed(lambda a=labels: write_label_files(out, parse_frame_id("ai_000_000/cam_00/0"), a),
                          args.repeats)
            read_s = timed(read, args.repeats) if read else (0.0, 0.0)
            total = [sum(t[i] for t in (compute, validate, write, read_s)) for i in (0, 1)]
            figures = " | ".join(f"{label} {t[0]:.3f} ({t[1]:.3f}) s" for label, t in (
                ("compute", compute), ("validate", validate), ("write labels", write), ("read inputs", read_s),
                ("total", total)))
            print(f"{name:>13}: {figures}")

if __name__ == "__main__":
    main()

"""Seconds per synthetic frame: ray casting + shading, writing the Hypersim files, and the reference boundaries.

    .venv/bin/python bench/bench_synth.py --height 192 --width 256 --frames 4
    .venv/bin/python bench/bench_synth.py --height 768 --width 1024 --frames 2

One thread (OMP_NUM_THREADS=1 and open3d casts with nthreads=1, as in the generator). Prints the median per frame.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

from obtoolkit.hypersim import FrameId
from obtoolkit.raycast import MeshCaster, RayCamera
from obtoolkit.synth.cameras import TILT_SHIFT, camera_matrix
from obtoolkit.synth.generate import write_frame
from obtoolkit.synth.reference import compute_reference, object_keys, write_reference
from obtoolkit.synth.render import render_frame
from obtoolkit.synth.scene import build_scene
from obtoolkit.synth.writer import HypersimWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--frames", type=int, default=4)
    args = parser.parse_args()
    scene = build_scene("ai_900_001", np.random.default_rng([0, 0]), TILT_SHIFT)
    mesh = scene.scene_mesh()
    keys = object_keys(scene.object_semantic, scene.object_instance, scene.node_ids)
    start = time.perf_counter()
    caster = MeshCaster(mesh.vertices_asset, mesh.faces_vi, keys[mesh.faces_oi])
    print(f"{len(mesh.faces_vi)} faces; BVH build {time.perf_counter() - start:.3f} s")
    M = camera_matrix(TILT_SHIFT, args.height, args.width)
    trajectory = scene.trajectory(np.random.default_rng(1), args.frames, M)
    timings = {"render": [], "write": [], "reference": []}
    with tempfile.TemporaryDirectory() as root:
        writer = HypersimWriter(root)
        for index in range(args.frames):
            camera = RayCamera(M, trajectory.R_world_from_cam[index], trajectory.positions_asset[index], args.height,
                               args.width)
            frame = FrameId(scene.name, "cam_00", index)
            t0 = time.perf_counter()
            hits = caster.cast(camera.pixel_rays())
            rendered = render_frame(scene, mesh, caster, camera, hits)
            t1 = time.perf_counter()
            write_frame(writer, frame, rendered)
            t2 = time.perf_counter()
            reference = compute_reference(caster, camera, mesh.faces_oi, scene.meters_per_asset_unit, hits=hits)
            write_reference(root, frame, reference)
            t3 = time.perf_counter()
            for name, seconds in zip(timings, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                timings[name].append(seconds)
    summary = ", ".join(f"{name} {statistics.median(values):.3f} s" for name, values in timings.items())
    print(f"{args.width}x{args.height}, median of {args.frames} frames: {summary}")


if __name__ == "__main__":
    main()

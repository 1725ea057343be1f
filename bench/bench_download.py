"""`obh download` against the loopback test server: requests, retries, bytes and seconds, with and without faults.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_download.py [--scenes 2] [--frames 20] [--size 384x512]
        [--fault-rate 0.333] [--jobs 4] [--seed 0]

Scenes are written with HypersimWriter (noisy depth, normals and ids so that the gzip'd HDF5 files do not shrink
to nothing; a JPEG preview; the `_detail/` tables), zipped in Hypersim's layout (stored and deflated members,
the second scene as ZIP64) and served on 127.0.0.1 by tests/obhypersim_build/archive_server.py, which injects
faults (dropped and truncated bodies, 503, flipped bytes) on the given share of requests. Four runs: clean,
rerun (everything verified), faulted into a fresh folder, rerun. Each run's files are compared byte for byte
with the originals. Loopback has no latency, so this measures the client's overhead and fault handling, not a
real network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from obhypersim_build.download import DownloadRequest, RetryPolicy, download
from obtoolkit.hypersim import FrameId
from obtoolkit.synth.writer import HypersimWriter
from tests.obhypersim_build.archive_server import (
    METADATA_PATH,
    SCENES_PATH,
    ArchiveServer,
    served_files,
    zip_scene,
)


def write_scene(writer: HypersimWriter, scene: str, frames: int, height: int, width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for index in range(frames):
        frame = FrameId(scene, "cam_00", index)
        distance = 2 + rng.random((height, width)) * 3
        writer.write_geometry(frame, "depth_meters", distance.astype(np.float16))
        writer.write_geometry(frame, "normal_cam", rng.normal(size=(height, width, 3)).astype(np.float16))
        for name in ("render_entity_id", "semantic", "semantic_instance"):
            writer.write_geometry(frame, name, rng.integers(1, 40, (height, width)).astype(np.int16))
        writer.write_tonemap(frame, rng.integers(0, 255, (height, width, 3)).astype(np.uint8))
    writer.write_scene_metadata(scene, 0.01, ["cam_00"])
    positions = np.zeros((frames, 3))
    writer.write_camera_trajectory(scene, "cam_00", positions, np.repeat(np.eye(3)[None], frames, 0), positions)
    writer.write_nodes(scene, [(1, "a", 0, "a0")])
    writer.write_mesh_annotations(scene, ["a0"], np.array([1]), np.array([1]), np.zeros((41, 3)), np.zeros((2, 3)))


def write_tables(writer: HypersimWriter, scenes: list[str], frames: int, height: int, width: int) -> None:
    M = np.diag([np.tan(np.pi / 6), np.tan(np.pi / 6) * height / width, -1.0])
    writer.write_camera_parameters([
        {"scene_name": s, "settings_output_img_height": height, "settings_output_img_width": width,
         "settings_units_info_meters_scale": 0.01, **{f"M_cam_from_uv_{r}{c}": M[r, c] for r in range(3)
                                                      for c in range(3)}} for s in scenes])
    writer.write_split([[s, "cam_00", f, True, "", "train"] for s in scenes for f in range(frames)])


def identical(out: Path, source: Path) -> bool:
    names = [p.relative_to(out) for p in out.rglob("*")
             if p.is_file() and p.relative_to(out).parts[0].startswith("ai_") and not p.name.startswith(".")]
    return bool(names) and all((out / n).read_bytes() == (source / n).read_bytes() for n in names)


def run(server: ArchiveServer, out: Path, scenes: list[str], jobs: int, source: Path) -> dict:
    server.clear_log()
    request = DownloadRequest(out, scenes=tuple(scenes), base_url=server.url + SCENES_PATH,
                              metadata_url=server.url + METADATA_PATH)
    start = time.perf_counter()
    report = download(request, policy=RetryPolicy(retries=8, backoff_s=0.01, backoff_max_s=0.2), jobs=jobs,
                      progress=False)
    seconds = time.perf_counter() - start
    transfer = report.transfer
    for failure in report.failed:
        print("FAILED", failure.name, failure.error)
    return {"ok": report.count("ok"), "skipped": report.count("skipped"), "failed": report.count("failed"),
            "requests": transfer["requests"], "retries": transfer["retries"], "retry_kinds": transfer["retry_kinds"],
            "faults_served": sum(e.fault is not None for e in server.log),
            "bytes_received": transfer["bytes_received"],
            "bytes_kept": sum(r.bytes_fetched for r in report.results), "seconds": round(seconds, 2),
            "MiB_per_s": round(transfer["bytes_received"] / 2**20 / seconds, 1), "identical": identical(out, source)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--size", default="384x512", help="HxW")
    parser.add_argument("--fault-rate", type=float, default=1 / 3)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    scenes = [f"ai_001_{i + 1:03d}" for i in range(args.scenes)]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source"
        writer = HypersimWriter(source)
        for index, scene in enumerate(scenes):
            write_scene(writer, scene, args.frames, height, width, args.seed + index)
        write_tables(writer, scenes, args.frames, height, width)
        archives = {s: zip_scene(source, s, zip64=i == 1) for i, s in enumerate(scenes)}
        print(json.dumps({"archives_MiB": round(sum(map(len, archives.values())) / 2**20, 1),
                          "members": args.scenes * (6 * args.frames + 13)}))
        results = {}
        with ArchiveServer(served_files(source, archives)) as server:
            results["clean"] = run(server, Path(folder) / "a", scenes, args.jobs, source)
            results["clean_rerun"] = run(server, Path(folder) / "a", scenes, args.jobs, source)
        with ArchiveServer(served_files(source, archives), fault_rate=args.fault_rate, seed=args.seed) as server:
            results["faults"] = run(server, Path(folder) / "b", scenes, args.jobs, source)
            results["faults_rerun"] = run(server, Path(folder) / "b", scenes, args.jobs, source)
        for name, result in results.items():
            print(name, json.dumps(result))


if __name__ == "__main__":
    main()

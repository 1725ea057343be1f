"""End-to-end generation speed: frames per second per core on synthetic 1024x768 Hypersim frames.

Each frame is read (5 float16/int16 gzip HDF5 files), labelled, validated and written (labels, stats JSON, input
copies), exactly as `obh generate` does. One worker process, OMP_NUM_THREADS=1; the first frame (numba compilation,
caches) is excluded by timing a second run over frames that were not yet generated.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_generate.py [--frames 6] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from obhypersim_build.config import BuildConfig
from obhypersim_build.plan import plan_tasks
from obhypersim_build.worker import run_camera_task
from obtoolkit.synth.generate import make_synthetic_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=6, help="Frames per camera trajectory (2 cameras).")
    parser.add_argument("--work", type=Path, help="Keep the synthetic tree here (reused when present).")
    parser.add_argument("--mesh-exact", action="store_true", help="Also decide self-occlusion on the meshes.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_generate_"))
    hypersim = work / "hypersim"
    if not (hypersim / "metadata_camera_parameters.csv").is_file():
        print(f"writing synthetic 1024x768 frames under {hypersim} (slow: Hypersim's gzip level 9) ...")
        make_synthetic_dataset(hypersim, scenes=1, frames=args.frames + 1, seed=3, height=768, width=1024)
    config = BuildConfig(mesh_exact=args.mesh_exact).resolved(hypersim)
    tasks = plan_tasks(hypersim, split_csv=config.split_csv)
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    warm = [t.__class__(t.scene, t.camera, t.frames[:1], t.meta[:1]) for t in tasks]
    timed = [t.__class__(t.scene, t.camera, t.frames[1:], t.meta[1:]) for t in tasks]
    for task in warm:
        run_camera_task(task, hypersim, out, config)
    start, start_cpu = time.perf_counter(), time.process_time()
    records = [r for task in timed for r in run_camera_task(task, hypersim, out, config)]
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    ok = sum(r.status == "ok" for r in records)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load average {os.getloadavg()[0]:.2f}")
    print(f"mode: {'mesh-exact' if args.mesh_exact else 'default'} labels; {len(records)} frames ({ok} ok), "
          f"1024x768, one process")
    print(f"{seconds / len(records):.3f} s per frame = {len(records) / seconds:.2f} frames/s/core "
          f"(target >= 3; 74,619 frames on 16 cores: {74_619 / (16 * len(records) / seconds) / 3600:.2f} h)")
    print(f"process CPU: {cpu / len(records):.3f} s per frame (the figure to compare on a loaded machine)")


if __name__ == "__main__":
    main()

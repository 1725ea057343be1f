"""Export speed: samples/s and MB/s of `obh export webdataset` and `obh export hf` (write + read back + check), and
reading the shards back, on the demo's tree (32 frames at 256x192) and on Hypersim-sized frames (1024x768).

Both trees are synthetic (`obtoolkit.synth`) and labelled by `obh generate`; they are kept in --work and reused.
Each export is run --repeats times into a fresh folder, one process (jobs=1), OMP_NUM_THREADS=1; the table gives the
median and the worst run. Reading compares the shard reader (with and without member checksums) with the manifest
path's readers, both reading what training reads (JPEG, HDF5 depth, ob and instance-contour PNGs).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_export.py [--work DIR] [--repeats 3] [--large-frames 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from obhypersim_build.export import ExportSettings, export_dataset
from obhypersim_build.run import generate
from obtoolkit.hypersim import read_hdf5_dataset, read_rgb_image
from obtoolkit.labels_io import read_png
from obtoolkit.shards import ShardReader
from obtoolkit.synth.generate import make_synthetic_dataset

TRAINING_PRODUCTS = ("rgb", "depth", "ob", "instance_contour")
TREES = {"demo 256x192": dict(scenes=4, frames=4, height=192, width=256),  # obh demo's dataset
         "hypersim 1024x768": dict(scenes=1, height=768, width=1024)}


def make_tree(work: Path, name: str, frames: int | None) -> Path:
    options = dict(TREES[name], frames=frames or TREES[name].get("frames"))
    folder = work / name.replace(" ", "_")
    root = folder / "ob_hypersim"
    if not (root / "manifest.parquet").is_file():
        print(f"making {name} tree ({options}) under {folder} ...", flush=True)
        make_synthetic_dataset(folder / "hypersim", seed=0, **options)
        generate(folder / "hypersim", root, progress=False)
    return root


def time_exports(root: Path, work: Path, kind: str, repeats: int) -> list:
    runs = []
    for repeat in range(repeats):
        out = work / f"out_{kind}_{repeat}"
        shutil.rmtree(out, ignore_errors=True)
        runs.append(export_dataset(root, out, ExportSettings(kind=kind, max_bytes=50_000_000), progress=False))
    return runs


def read_rate(root: Path, shards: Path) -> dict[str, float]:
    """Samples/s reading what training reads (RGB, depth, ob, instance contour): from the shards (checksums on /
    off; every member decoded / training's four only) and from the tree's files (the manifest path)."""
    rates = {}
    for checks, products in ((True, None), (False, None), (True, TRAINING_PRODUCTS), (False, TRAINING_PRODUCTS)):
        reader = ShardReader(shards, check_checksums=checks, products=products)
        start = time.perf_counter()
        count = sum(1 for _ in reader.stream())
        what = "every member" if products is None else "training's four"
        rates[f"shards, {what}, checksums {'on' if checks else 'off'}"] = count / (time.perf_counter() - start)
    rows = ShardReader(shards).manifest_rows()
    start = time.perf_counter()
    for row in rows:
        read_rgb_image(root / row["rgb_path"], what="rgb")
        read_hdf5_dataset(root / row["depth_path"], what="depth")
        read_png(root / row["ob_path"], what="ob", dtype="uint8")
        read_png(root / row["instance_contour_path"], what="instance contour", dtype="uint8")
    rates["tree's files (manifest path), training's four"] = len(rows) / (time.perf_counter() - start)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="Keep the trees here (reused when present).")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-frames", type=int, default=4, help="Frames per camera of the 1024x768 tree.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_export_"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load average at start {os.getloadavg()[0]:.2f}")
    print("| tree | format | samples | MB written | samples/s (median / worst) | MB/s (median / worst) |")
    print("|---|---|---|---|---|---|")
    reads = {}
    for name in TREES:
        root = make_tree(work, name, args.large_frames if "1024" in name else None)
        for kind in ("webdataset", "hf"):
            runs = time_exports(root, work, kind, args.repeats)
            per_s = sorted(r.samples_per_second for r in runs)
            mb_s = sorted(r.mb_per_second for r in runs)
            print(f"| {name} | {kind} | {runs[0].n_samples} | {runs[0].bytes_written / 1e6:.1f} | "
                  f"{statistics.median(per_s):.1f} / {per_s[0]:.1f} | {statistics.median(mb_s):.1f} / {mb_s[0]:.1f} |",
                  flush=True)
        reads[name] = read_rate(root, work / "out_webdataset_0")
    print("\n| tree | reader | samples/s |\n|---|---|---|")
    for name, rates in reads.items():
        for reader, rate in rates.items():
            print(f"| {name} | {reader} | {rate:.1f} |")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

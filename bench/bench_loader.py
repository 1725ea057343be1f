"""Training-loader throughput: samples per second of `ObHypersimDataset` on 1024x768 OB-Hypersim frames.

Each sample reads the tonemap JPEG, the depth HDF5 and the boundary PNGs, draws the training augmentations (the
paper's 320x320 random crop, flip, photometric distortion) and normalises, exactly as `obh train` does. Timed in the
main process and through a DataLoader with each number of workers (one thread each), after one warm-up pass.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_loader.py [--work DIR] [--frames 6] [--workers 0 1 2]

With --work, the synthetic tree and its labels are kept and reused (bench_generate.py's --work folder works too).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from obhypersim_build.run import generate
from obtoolkit.synth.generate import make_synthetic_dataset
from training.augment import AugmentConfig
from training.data import DataConfig, ObHypersimDataset, SampleKey


def labelled_tree(work: Path, frames: int) -> tuple[Path, str]:
    """A 1024x768 OB-Hypersim tree under work/labels (made once) and the split its frames are in."""
    hypersim, labels = work / "hypersim", work / "labels"
    if not (hypersim / "metadata_camera_parameters.csv").is_file():
        print(f"writing synthetic 1024x768 frames under {hypersim} (slow: Hypersim's gzip level 9) ...")
        make_synthetic_dataset(hypersim, scenes=1, frames=frames, seed=3, height=768, width=1024)
    if not (labels / "manifest.parquet").is_file():
        generate(hypersim, labels, progress=False)
    manifest = pd.read_parquet(labels / "manifest.parquet", columns=["split", "status"])
    return labels, str(manifest.loc[manifest["status"] == "ok", "split"].mode()[0])


def time_dataset(dataset: ObHypersimDataset, repeats: int) -> float:
    """Samples per second, reading every sample `repeats` times in this process."""
    for i in range(len(dataset)):  # warm-up: imports, caches
        dataset[i]
    start = time.perf_counter()
    for epoch in range(repeats):
        for i in range(len(dataset)):
            dataset[SampleKey(epoch, i)]
    return repeats * len(dataset) / (time.perf_counter() - start)


def time_loader(dataset: ObHypersimDataset, workers: int, batch_size: int, repeats: int) -> float:
    """Samples per second through a DataLoader (workers started before the clock, as in a long run)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=False,
                        persistent_workers=workers > 0, worker_init_fn=lambda _: torch.set_num_threads(1))
    for _ in loader:  # warm-up epoch: worker start-up
        pass
    start, samples = time.perf_counter(), 0
    for _ in range(repeats):
        for batch in loader:
            samples += batch.image.shape[0]
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="Keep (and reuse) the synthetic tree and labels here.")
    parser.add_argument("--frames", type=int, default=6, help="Frames per camera trajectory (2 cameras).")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="Passes over the frames per measurement.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    labels, split = labelled_tree(args.work or Path(tempfile.mkdtemp(prefix="bench_loader_")), args.frames)
    augment = AugmentConfig(crop_hw=(320, 320), hflip=0.5, photometric=True)
    dataset = ObHypersimDataset(DataConfig(root=labels, split=split, augment=augment))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f}")
    print(f"{len(dataset)} frames of 1024x768, 320x320 crops with flip and photometric distortion")
    print(f"  dataset in this process: {time_dataset(dataset, args.repeats):.1f} samples/s")
    for workers in args.workers:
        rate = time_loader(dataset, workers, args.batch_size, args.repeats)
        print(f"  DataLoader, {workers} worker(s), batch {args.batch_size}: {rate:.1f} samples/s")


if __name__ == "__main__":
    main()

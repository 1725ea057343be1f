"""Seconds that a validation holds training up: this trainer's `Validator.run` beside an older tree's
`evaluate_model` (which ran the exact boundary benchmark inline), on one checkpoint, alternated in fresh processes.

    git archive 3904087 training obtoolkit | tar -x -C BEFORE_DIR      # the trainer before issue 15
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_validation.py --checkpoint RUN/checkpoints/last.pt \\
        --root DATA --before BEFORE_DIR [--frames 8] [--threads 1] [--repeats 3]

Both validate the first `--frames` frames of the val split's scene-balanced subset (the older tree: the first
frames of the split; with the demo data's single val scene they are the same frames). The first pair is a warm-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def before(checkpoint: str, root: str, frames: int) -> str:
    """The older tree's validation: `evaluate_model` with the exact benchmark inline."""
    import torch

    import training
    from obtoolkit.metrics import DEPTH_PRESETS
    from training.checkpoints import load_model_checkpoint
    from training.data import DataConfig, ObHypersimDataset
    from training.evaluate import EvalOptions, evaluate_model

    tree = Path(training.__file__).resolve().parents[1]
    if tree == REPO:
        raise RuntimeError(f"--before must be another tree than {REPO} (PYTHONPATH did not take precedence)")

    model, _ = load_model_checkpoint(checkpoint)
    dataset = ObHypersimDataset(DataConfig(root=root, split="val", augment=None))
    began = time.perf_counter()
    result = evaluate_model(model, dataset, device=torch.device("cpu"), depth_unit_m=1.0,
                            options=EvalOptions(depth=DEPTH_PRESETS["hypersim"], max_frames=frames))
    blocking = time.perf_counter() - began
    summary = result.summary()
    return (f"before ({tree}): blocking {blocking:.2f} s; AbsRel {summary['depth/abs_rel']:.4f}, "
            f"ODS F {summary['boundary/ods_f']:.4f}")


def now(checkpoint: str, root: str, frames: int, out: Path) -> str:
    """This tree's validation: the monitor (blocking), the exact benchmark in a background process."""
    import torch
    from torch.utils.data import Subset

    from obtoolkit.metrics import DEPTH_PRESETS, BoundaryEvalOptions
    from training.checkpoints import load_model_checkpoint
    from training.config import ValidationSection
    from training.data import DataConfig, ObHypersimDataset, scene_balanced_subset
    from training.run_log import RunLog, read_log
    from training.validation import Validator

    model, _ = load_model_checkpoint(checkpoint)
    dataset = ObHypersimDataset(DataConfig(root=root, split="val", augment=None))
    subset = Subset(dataset, scene_balanced_subset(dataset.records, frames))
    validator = Validator(subset, section=ValidationSection(frames=frames, exact="background", exact_workers=1),
                          device=torch.device("cpu"), amp="none", depth=DEPTH_PRESETS["hypersim"],
                          boundary=BoundaryEvalOptions(), depth_unit_m=1.0, out_dir=out / "val",
                          log=RunLog(out, tensorboard=False))
    began = time.perf_counter()
    values = validator.run(model, 1)
    blocking = time.perf_counter() - began
    while not validator.poll():
        time.sleep(0.02)
    done = time.perf_counter() - began
    exact = read_log(out, "val_exact")[-1]
    validator.close()
    return (f"now: blocking {blocking:.2f} s, exact benchmark done {done - blocking:.2f} s later in the background; "
            f"AbsRel {values['depth/abs_rel']:.4f}, tolerance ODS F {values['boundary_tolerance/ods_f']:.4f}, "
            f"exact ODS F {exact['boundary/ods_f']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--root", required=True, help="Dataset root (manifest.parquet) with a val split.")
    parser.add_argument("--before", type=Path, required=True, help="An older tree (training/, obtoolkit/).")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_validation")
    parser.add_argument("--one", choices=["before", "now"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        import torch

        torch.set_num_threads(args.threads)
        out = args.work / f"run_{time.time_ns()}"
        print(before(args.checkpoint, args.root, args.frames) if args.one == "before" else
              now(args.checkpoint, args.root, args.frames, out), flush=True)
        return
    print(f"load average {os.getloadavg()[0]:.2f}; {args.threads} thread(s)", flush=True)
    for repeat in range(args.repeats):
        for which, path in (("before", args.before), ("now", REPO)):
            env = {**os.environ, "PYTHONPATH": str(path), "OMP_NUM_THREADS": str(args.threads)}
            command = [sys.executable, __file__, "--one", which, *sys.argv[1:]]
            line = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()
            print(("(warm-up) " if repeat == 0 else "") + line.splitlines()[-1], flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

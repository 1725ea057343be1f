"""`obh evaluate CHECKPOINT`: load one of our checkpoints, exported models or run folders (`from_pretrained`) and
evaluate it on a manifest split, with reports and a predictions picture."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from obtoolkit.metrics import DEPTH_PRESETS, BoundaryEvalOptions
from training.build import data_config
from training.checkpoints import CheckpointInfo
from training.config import TrainConfig
from training.data import DataConfig, ObHypersimDataset
from training.evaluate import EvalOptions, evaluate_model, write_evaluation
from training.inference import Amp
from training.predict import resolve_device
from training.pretrained import from_pretrained, run_config
from training.threads import default_threads, usable_cores


def checkpoint_run_config(info: CheckpointInfo) -> TrainConfig | None:
    """The recorded config of the run that wrote a checkpoint (None for converted official checkpoints)."""
    return run_config(info)


def checkpoint_data_config(run: TrainConfig | None, **where) -> DataConfig:
    """The evaluation data of a run (depth kind, target, camera CSV from its config; defaults without one), at
    `where` (root, manifest, split, split_list, depth_scale)."""
    if run is None:
        return DataConfig(**where, augment=None)
    return dataclasses.replace(data_config(run, train=False), on_error="raise", **where)


def default_metric_workers() -> int:
    """All usable cores but one (which runs the model, or feeds the GPU)."""
    return max(1, len(usable_cores()) - 1)


def share_cpu_with_metric_workers(metric_workers: int) -> int:
    """Run torch on the cores the metric workers leave (at most OMP_NUM_THREADS), so that no core is oversubscribed
    (oversubscribed OpenMP threads wait for each other: docs/benchmarks.md); returns the thread count."""
    threads = min(default_threads(), max(1, len(usable_cores()) - metric_workers))
    torch.set_num_threads(threads)
    return threads


def evaluate_checkpoint(checkpoint: Path, *, data_root: Path, manifest: Path | None = None, split: str = "test",
                        split_list: Path | None = None, depth_scale: float | None = None, flip_tta: bool = False,
                        protocol: str = "occlusion", max_dist: float = 0.0075, max_frames: int | None = None,
                        depth_preset: str | None = None, out_dir: Path, device: str = "auto", batch_size: int = 1,
                        loader_workers: int = 2, metric_workers: int | None = None, amp: Amp = "none",
                        pictures: int = 4) -> dict[str, float]:
    """Evaluate `checkpoint` on the frames of `split` (or `split_list`); writes metrics.json, per_image.csv,
    per_image_depth.json, pr_curve.png and predictions.png into `out_dir` and returns the headline numbers. The data
    settings and the depth preset are the run's (from the checkpoint), unless given. On the CPU the model runs on
    the cores the metric workers leave (`metric_workers`, default: all usable cores but one)."""
    device = resolve_device(device)
    metric_workers = default_metric_workers() if metric_workers is None else metric_workers
    if device.type == "cpu":
        share_cpu_with_metric_workers(metric_workers)
    model, info = from_pretrained(checkpoint, device=device)
    scale = info.depth_unit_m if depth_scale is None else depth_scale
    run = checkpoint_run_config(info)
    data = checkpoint_data_config(run, root=data_root, manifest=manifest, split=split, split_list=split_list,
                                  depth_scale=scale)
    dataset = ObHypersimDataset(data)
    depth_preset = depth_preset or (run.data.depth_eval if run is not None else "hypersim")
    options = EvalOptions(flip_tta=flip_tta, boundary=BoundaryEvalOptions(protocol=protocol, max_dist=max_dist),
                          depth=DEPTH_PRESETS[depth_preset], max_frames=max_frames, batch_size=batch_size,
                          loader_workers=loader_workers, metric_workers=metric_workers, amp=amp, pictures=pictures)
    result = evaluate_model(model, dataset, device=device, depth_unit_m=scale, options=options, progress=True)
    write_evaluation(result, out_dir, extra={"checkpoint": str(checkpoint), "variant": info.variant,
                                             "split": str(split_list or split), "flip_tta": flip_tta,
                                             "depth_kind": data.depth, "target": data.target,
                                             "depth_preset": depth_preset, "frames": len(result.names),
                                             "device": str(device), "amp": amp, "batch_size": batch_size})
    return result.summary()

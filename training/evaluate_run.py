"""`obh evaluate CHECKPOINT`: load one of our checkpoints and evaluate it on a manifest split, with reports."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from obtoolkit.config import from_mapping
from obtoolkit.metrics import DEPTH_PRESETS, BoundaryEvalOptions
from training.checkpoints import CheckpointInfo, load_model_checkpoint
from training.config import TrainConfig
from training.data import DataConfig, ObHypersimDataset
from training.evaluate import EvalOptions, evaluate_model, write_evaluation
from training.train import data_config


def checkpoint_run_config(info: CheckpointInfo) -> TrainConfig | None:
    """The recorded config of the run that wrote a checkpoint (None for converted official checkpoints)."""
    config = info.extra.get("config")
    return None if config is None else from_mapping(TrainConfig, json.loads(config),
                                                      source="the checkpoint's run config")


def checkpoint_data_config(run: TrainConfig | None, **where) -> DataConfig:
    """The evaluation data of a run (depth kind, target, camera CSV from its config; defaults without one), at
    `where` (root, manifest, split, split_list, depth_scale)."""
    if run is None:
        return DataConfig(**where, augment=None)
    return dataclasses.replace(data_config(run, train=False), on_error="raise", **where)


def evaluate_checkpoint(checkpoint: Path, *, data_root: Path, manifest: Path | None = None, split: str = "test",
                        split_list: Path | None = None, depth_scale: float | None = None, flip_tta: bool = False,
                        protocol: str = "occlusion", max_dist: float = 0.0075, max_frames: int | None = None,
                        depth_preset: str | None = None, out_dir: Path, device: str | None = None) -> dict[str, float]:
    """Evaluate `checkpoint` on the frames of `split` (or `split_list`); writes metrics.json, per_image.csv,
    per_image_depth.json and pr_curve.png into `out_dir` and returns the headline numbers. The data settings and the
    depth preset are the run's (from the checkpoint), unless given."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, info = load_model_checkpoint(checkpoint, map_location=device)
    scale = info.depth_unit_m if depth_scale is None else depth_scale
    run = checkpoint_run_config(info)
    data = checkpoint_data_config(run, root=data_root, manifest=manifest, split=split, split_list=split_list,
                                  depth_scale=scale)
    dataset = ObHypersimDataset(data)
    depth_preset = depth_preset or (run.data.depth_eval if run is not None else "hypersim")
    options = EvalOptions(flip_tta=flip_tta, boundary=BoundaryEvalOptions(protocol=protocol, max_dist=max_dist),
                          depth=DEPTH_PRESETS[depth_preset], max_frames=max_frames)
    result = evaluate_model(model, dataset, device=device, depth_unit_m=scale, options=options, progress=True)
    write_evaluation(result, out_dir, extra={"checkpoint": str(checkpoint), "variant": info.variant,
                                             "split": str(split_list or split), "flip_tta": flip_tta,
                                             "depth_kind": data.depth, "target": data.target,
                                             "depth_preset": depth_preset,
                                             "frames": len(result.names)})
    return result.summary()

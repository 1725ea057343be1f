"""`obh evaluate CHECKPOINT`: load one of our checkpoints and evaluate it on a manifest split, with reports."""

from __future__ import annotations

from pathlib import Path

import torch

from obtoolkit.metrics import BoundaryEvalOptions
from training.checkpoints import load_model_checkpoint
from training.data import DataConfig, ObHypersimDataset
from training.evaluate import EvalOptions, evaluate_model, write_evaluation


def evaluate_checkpoint(checkpoint: Path, *, data_root: Path, manifest: Path | None = None, split: str = "test",
                        split_list: Path | None = None, depth_scale: float | None = None, flip_tta: bool = False,
                        protocol: str = "occlusion", max_dist: float = 0.0075, max_frames: int | None = None,
                        out_dir: Path, device: str | None = None) -> dict[str, float]:
    """Evaluate `checkpoint` on the frames of `split` (or `split_list`); writes metrics.json, per_image.csv,
    per_image_depth.json and pr_curve.png into `out_dir` and returns the headline numbers."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, info = load_model_checkpoint(checkpoint, map_location=device)
    scale = info.depth_unit_m if depth_scale is None else depth_scale
    data = DataConfig(root=data_root, manifest=manifest, split=split, split_list=split_list, depth_scale=scale,
                      augment=None)
    dataset = ObHypersimDataset(data)
    options = EvalOptions(flip_tta=flip_tta, boundary=BoundaryEvalOptions(protocol=protocol, max_dist=max_dist),
                          max_frames=max_frames)
    result = evaluate_model(model, dataset, device=device, depth_unit_m=scale, options=options, progress=True)
    write_evaluation(result, out_dir, extra={"checkpoint": str(checkpoint), "variant": info.variant,
                                             "split": str(split_list or split), "flip_tta": flip_tta,
                                             "frames": len(result.names)})
    return result.summary()

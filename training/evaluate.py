"""Evaluating a model on a dataset: depth metrics and the boundary benchmark (optionally with flip TTA).

Used by the trainer's periodic validation and by `obh evaluate CHECKPOINT`; predictions (and flip TTA with the
official border-ramped depth fusion) come from `training.predict`. Depth is compared in the network's depth
units (the dataset returns metres / depth_scale), as the paper does; `rmse_m` restates RMSE in metres. Boundaries are
scored with the exact ODS/OIS/AP benchmark of `obtoolkit.metrics` on the final logit map's sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from obtoolkit.metrics import DEPTH_PRESETS, BoundaryEvalOptions, BoundaryEvaluator, DepthEvalOptions, DepthEvaluator
from obtoolkit.metrics.evaluators import BoundaryEvaluation
from training.data import ObHypersimDataset
from training.predict import predict_tensor


@dataclass(frozen=True)
class EvalOptions:
    flip_tta: bool = False
    boundary: BoundaryEvalOptions = field(default_factory=BoundaryEvalOptions)
    depth: DepthEvalOptions = field(default_factory=lambda: DEPTH_PRESETS["hypersim"])
    max_frames: int | None = None


@dataclass(frozen=True)
class EvalResult:
    depth: dict[str, float]
    boundary: BoundaryEvaluation
    depth_rows: list[dict]
    names: list[str]

    def summary(self) -> dict[str, float]:
        """The headline numbers: depth metrics, ODS/OIS/AP/R50 and the best fixed-threshold F."""
        result = self.boundary.boundary
        out = {f"depth/{k}": float(v) for k, v in self.depth.items()}
        out.update({"boundary/ods_f": result.ods.f_measure, "boundary/ois_f": result.ois_f,
                    "boundary/ap": result.ap, "boundary/r50": result.r50})
        return out


def evaluate_model(model: nn.Module, dataset: ObHypersimDataset, *, device: torch.device, depth_unit_m: float,
                   options: EvalOptions | None = None, progress: bool = False) -> EvalResult:
    """Predict every frame of `dataset` (one at a time, full size) and score it."""
    options = EvalOptions() if options is None else options
    boundary, depth = BoundaryEvaluator(options.boundary), DepthEvaluator(options.depth)
    was_training = model.training
    model.eval()
    count = len(dataset) if options.max_frames is None else min(len(dataset), options.max_frames)
    names = []
    for position in tqdm(range(count), disable=not progress, unit="frame", desc="evaluate"):
        sample = dataset[position]
        record = dataset.records[position]
        name = f"{record.scene}/{record.camera}/{record.frame:04d}"
        pred_depth, probability = predict_tensor(model, sample.image[None].to(device), flip_tta=options.flip_tta)
        valid = sample.valid[0].numpy()
        gt_boundary = sample.boundary[0].numpy() > 0.5
        boundary.process(name, probability[0, 0].float().cpu().numpy(), gt_boundary)
        depth.process(name, pred_depth[0, 0].float().cpu().numpy(), sample.depth[0].numpy(), valid_mask=valid)
        names.append(name)
    model.train(was_training)
    depth_metrics = depth.evaluate()
    if "rmse" in depth_metrics:
        depth_metrics["rmse_m"] = depth_metrics["rmse"] * depth_unit_m
    return EvalResult(depth_metrics, boundary.evaluate(), depth.rows, names)


def write_evaluation(result: EvalResult, out_dir: Path, extra: dict | None = None) -> list[Path]:
    """metrics.json, per_image.csv (boundary and depth per frame) and pr_curve.png under `out_dir`."""
    import json

    from obtoolkit.fileio import atomic_write_text
    from obtoolkit.metrics.report import plot_pr_curve, write_metrics_json, write_per_image_csv

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_metrics_json(out_dir / "metrics.json", result.boundary,
                       extra={**(extra or {}), "depth": result.depth, "summary": result.summary()})
    write_per_image_csv(out_dir / "per_image.csv", result.boundary.per_image)
    atomic_write_text(out_dir / "per_image_depth.json", json.dumps(result.depth_rows, indent=1, default=float))
    curve = result.boundary.boundary
    plot_pr_curve(out_dir / "pr_curve.png", {"model": curve.curve}, {"model": (curve.ods.recall, curve.ods.precision)})
    return [out_dir / n for n in ("metrics.json", "per_image.csv", "per_image_depth.json", "pr_curve.png")]

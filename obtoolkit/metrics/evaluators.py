"""Evaluators with `reset / process / evaluate` (detectron2's protocol) for boundaries and depth.

A driver (e.g. `obh evaluate CHECKPOINT`) feeds one image at a time:

    boundary = BoundaryEvaluator(BoundaryEvalOptions(protocol="occlusion", max_dist=0.0075))
    depth = DepthEvaluator(DEPTH_PRESETS["hypersim"])
    for sample in loader:
        boundary.process(sample.name, pred_prob, gt_boundary, valid_mask=valid_mask)
        depth.process(sample.name, pred_depth_du, gt_depth_du, valid_mask=valid_mask, gt_edges=gt_boundary)
    results = {"boundary": boundary.evaluate(), "depth": depth.evaluate()}

For parallel drivers, compute `image_boundary_counts` in workers and hand the counts to `add_counts`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from obtoolkit.metrics.boundary import (
    BoundaryCounts,
    BoundaryEvalOptions,
    BoundaryMetric,
    BoundaryResult,
    image_best,
    image_boundary_counts,
    thresholds,
)
from obtoolkit.metrics.dbe import depth_boundary_errors
from obtoolkit.metrics.depth import DepthEvalOptions, DepthMetric, depth_errors
from obtoolkit.metrics.orientation import opr_counts


@dataclasses.dataclass(frozen=True)
class ImageBoundaryRow:
    """One image's line of the per-image table: its best interpolated point and its totals at that threshold."""

    name: str
    best_threshold: float
    best_recall: float
    best_precision: float
    best_f: float
    n_gt_pixels: int
    n_pred_pixels_at_best: int


@dataclasses.dataclass(frozen=True)
class BoundaryEvaluation:
    """What `BoundaryEvaluator.evaluate` returns: the boundary result, the OPR result (or None), per-image rows."""

    boundary: BoundaryResult
    opr: BoundaryResult | None
    per_image: list[ImageBoundaryRow]
    options: BoundaryEvalOptions


class BoundaryEvaluator:
    """Boundary ODS / OIS / AP / R50 over a dataset (plus OPR when orientations are given)."""

    def __init__(self, options: BoundaryEvalOptions | None = None) -> None:
        self.options = BoundaryEvalOptions() if options is None else options
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        thr = thresholds(self.options.n_thresholds)
        self.metric = BoundaryMetric(thr)
        self.opr_metric = BoundaryMetric(thr)
        self.rows: list[ImageBoundaryRow] = []

    def process(self, name: str, pred_prob: np.ndarray, gt_boundaries: np.ndarray | Sequence[np.ndarray], *,
                valid_mask: np.ndarray | None = None, pred_orientation_rad: np.ndarray | None = None,
                gt_orientations_rad: np.ndarray | Sequence[np.ndarray] | None = None) -> BoundaryCounts:
        """Score one image (shapes as in `image_boundary_counts`) and accumulate it; return its counts."""
        counts = image_boundary_counts(pred_prob, gt_boundaries, self.options, valid_mask=valid_mask,
                                       pred_orientation_rad=pred_orientation_rad,
                                       gt_orientations_rad=gt_orientations_rad, where=name)
        self.add_counts(name, counts)
        return counts

    def add_counts(self, name: str, counts: BoundaryCounts) -> None:
        """Accumulate counts computed elsewhere (a worker process)."""
        self.metric.update(counts)
        if counts.cnt_p_oriented is not None:
            self.opr_metric.update(opr_counts(counts))
        best = image_best(counts)
        k = int(np.argmin(np.abs(counts.thresholds - best.threshold)))
        self.rows.append(ImageBoundaryRow(name, best.threshold, best.recall, best.precision, best.f_measure,
                                          int(counts.sum_r[0]), int(counts.sum_p[k])))

    def evaluate(self) -> BoundaryEvaluation:
        """Dataset numbers and the per-image table."""
        opr = self.opr_metric.compute() if self.opr_metric.n_images else None
        return BoundaryEvaluation(self.metric.compute(), opr, list(self.rows), self.options)


class DepthEvaluator:
    """Depth metrics (and, when reference edges are given, the iBims depth-boundary errors) over a dataset."""

    def __init__(self, options: DepthEvalOptions, *, tau_px: float = 10.0) -> None:
        self.options = options
        self.tau_px = tau_px
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self.metric = DepthMetric()
        self.rows: list[dict[str, float | str]] = []

    def process(self, name: str, pred_depth_du: np.ndarray, gt_depth_du: np.ndarray, *,
                valid_mask: np.ndarray | None = None, gt_edges: np.ndarray | None = None) -> dict[str, float] | None:
        """Score one image; returns its metrics (None when it has no valid pixel)."""
        metrics = depth_errors(pred_depth_du, gt_depth_du, self.options, valid_mask, where=name)
        if metrics is not None and gt_edges is not None:
            metrics.update(depth_boundary_errors(pred_depth_du, gt_edges, valid_mask, self.tau_px))
        self.metric.update(metrics)
        if metrics is not None:
            self.rows.append({"name": name, **metrics})
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Means over images (see `DepthMetric.compute`)."""
        return self.metric.compute()

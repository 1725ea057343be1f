"""Evaluation: boundary ODS/OIS/AP/R50 (exact one-to-one matching), depth metrics, depth-boundary errors, OPR/AOR.

Main entry points:
- `BoundaryEvaluator`, `DepthEvaluator` (reset / process / evaluate);
- `image_boundary_counts` + `BoundaryMetric` (update / compute) for custom loops;
- `match_maps`, `thin`, `edge_nms` as building blocks;
- `evaluate_maps.evaluate_maps` behind `obh evaluate-maps`.
"""

from obtoolkit.metrics.boundary import (
    BoundaryCounts,
    BoundaryEvalOptions,
    BoundaryMetric,
    BoundaryResult,
    binary_map,
    image_boundary_counts,
    thresholds,
)
from obtoolkit.metrics.dbe import depth_boundary_errors
from obtoolkit.metrics.depth import DEPTH_PRESETS, DepthEvalOptions, DepthMetric, depth_errors
from obtoolkit.metrics.evaluators import BoundaryEvaluator, DepthEvaluator
from obtoolkit.metrics.matching import match_maps
from obtoolkit.metrics.nms import edge_nms
from obtoolkit.metrics.thinning import thin

__all__ = [
    "DEPTH_PRESETS",
    "BoundaryCounts",
    "BoundaryEvalOptions",
    "BoundaryEvaluator",
    "BoundaryMetric",
    "BoundaryResult",
    "DepthEvalOptions",
    "DepthEvaluator",
    "DepthMetric",
    "binary_map",
    "depth_boundary_errors",
    "depth_errors",
    "edge_nms",
    "image_boundary_counts",
    "match_maps",
    "thin",
    "thresholds",
]

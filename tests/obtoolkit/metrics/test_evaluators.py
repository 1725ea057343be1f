from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.metrics.boundary import BoundaryEvalOptions
from obtoolkit.metrics.depth import DEPTH_PRESETS
from obtoolkit.metrics.evaluators import BoundaryEvaluator, DepthEvaluator

from .conftest import soft_map_and_gt


def test_boundary_evaluator_reset_process_evaluate():
    rng = np.random.default_rng(1)
    evaluator = BoundaryEvaluator(BoundaryEvalOptions(n_thresholds=5, max_dist=0.05))
    for k in range(3):
        pred, gt = soft_map_and_gt(rng, 20, 20)
        evaluator.process(f"img{k}", pred, gt, valid_mask=np.ones((20, 20), bool))
    first = evaluator.evaluate()
    assert first.boundary.n_images == 3 and [r.name for r in first.per_image] == ["img0", "img1", "img2"]
    assert first.opr is None and 0 <= first.boundary.ods.f_measure <= 1
    evaluator.reset()
    assert evaluator.evaluate().boundary.n_images == 0


def test_depth_evaluator_with_boundary_errors():
    evaluator = DepthEvaluator(DEPTH_PRESETS["hypersim"])
    gt = np.ones((30, 30))
    gt[:, 15:] = 3.0
    edges = np.zeros((30, 30), bool)
    edges[:, 14] = True
    metrics = evaluator.process("a", gt.copy(), gt, gt_edges=edges)
    assert metrics["abs_rel"] == 0 and metrics["dbe_acc"] <= 1.0
    assert evaluator.process("b", gt, np.full((30, 30), np.nan)) is None
    summary = evaluator.evaluate()
    assert summary["n_images"] == 1 and summary["n_skipped"] == 1 and summary["delta1"] == pytest.approx(1.0)

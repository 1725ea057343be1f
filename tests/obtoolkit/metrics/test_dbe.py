from __future__ import annotations

import math

import numpy as np
import pytest

from obtoolkit.metrics.dbe import boundary_errors_from_edges, depth_boundary_errors, predicted_depth_edges


def _direct(pred_edges, gt_edges, tau):
    """The definition with explicit nearest-pixel searches."""
    p = [tuple(x) for x in np.argwhere(pred_edges)]
    g = [tuple(x) for x in np.argwhere(gt_edges)]
    if not g:
        return math.nan, math.nan

    def nearest(a, points):
        return min(math.dist(a, b) for b in points) if points else math.inf

    d_gt = [nearest(a, g) for a in p]
    near = [d for d in d_gt if d < tau]
    if not near:
        return tau, tau
    d_est = [nearest(b, p) for b in g]
    completeness = (sum(min(d, tau) for d in d_gt) + sum(min(d, tau) for d in d_est)) / (len(p) + len(g))
    return sum(near) / len(near), completeness


def test_equals_direct_definition_on_random_edges():
    rng = np.random.default_rng(0)
    for _ in range(25):
        h, w = rng.integers(5, 30, 2)
        pred = rng.random((h, w)) < rng.uniform(0.0, 0.1)
        gt = rng.random((h, w)) < rng.uniform(0.0, 0.1)
        tau = float(rng.uniform(1, 12))
        ours = boundary_errors_from_edges(pred, gt, tau)
        assert np.allclose(ours, _direct(pred, gt, tau), equal_nan=True)


def test_special_cases():
    gt = np.zeros((20, 20), bool)
    assert all(math.isnan(v) for v in boundary_errors_from_edges(gt, gt))
    gt[10, :] = True
    far = np.zeros_like(gt)
    far[0, 0] = True
    assert boundary_errors_from_edges(far, gt, tau_px=5.0) == (5.0, 5.0)


def test_step_depth_gives_edges_near_the_step():
    depth = np.ones((40, 40))
    depth[:, 20:] = 3.0
    edges = predicted_depth_edges(depth)
    assert edges.any() and (np.abs(np.argwhere(edges)[:, 1] - 19.5) <= 1.5).all()
    gt = np.zeros((40, 40), bool)
    gt[:, 19] = True
    result = depth_boundary_errors(depth, gt)
    assert result["dbe_acc"] <= 1.0 and result["dbe_comp"] <= 1.0
    with pytest.raises(ValueError, match="gt_edges"):
        depth_boundary_errors(depth, gt[:, :5])

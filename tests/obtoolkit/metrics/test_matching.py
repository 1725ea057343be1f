from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from obtoolkit.metrics.matching import disk_offsets, match_maps, matching_radius_px, outlier_weight

from .conftest import random_maps


def brute_force(pred, gt, radius_px):
    """Dense assignment on the full dummy-augmented matrix: the obviously correct optimum (count, cost)."""
    p, g = np.argwhere(pred), np.argwhere(gt)
    n1, n2 = len(p), len(g)
    if n1 == 0 or n2 == 0:
        return 0, 0
    ow, big = outlier_weight(radius_px), 1e12
    d = np.sqrt(((p[:, None, :] - g[None, :, :]) ** 2).sum(-1).astype(float))
    matrix = np.full((n1 + n2, n2 + n1), big)
    matrix[:n1, :n2] = np.where(d <= radius_px, 2 * np.rint(100 * d), big)
    matrix[:n1, n2:] = np.where(np.eye(n1, dtype=bool), ow, big)
    matrix[n1:, :n2] = np.where(np.eye(n2, dtype=bool), ow, big)
    matrix[n1:, n2:] = 0.0  # freed dummies pair up at no cost
    rows, cols = linear_sum_assignment(matrix)
    real = (rows < n1) & (cols < n2)
    return int(real.sum()), int(round(matrix[rows[real], cols[real]].sum() / 2))


def test_radius_and_weights():
    assert matching_radius_px(480, 640, 0.0075) == pytest.approx(6.0)
    assert matching_radius_px(768, 1024, 0.0075) == pytest.approx(9.6)
    assert outlier_weight(6.0) == 60000
    dy, dx, cost = disk_offsets(1.5)
    assert len(dy) == 9 and cost[0] == 0 and cost.max() == 141


@pytest.mark.parametrize("seed", range(3))
def test_count_and_cost_equal_dense_brute_force(seed):
    rng = np.random.default_rng(seed)
    for k in range(80):
        pred, gt = random_maps(rng)
        radius = float(rng.uniform(0.5, 4.0))
        result = match_maps(pred, gt, radius_px=radius)
        assert (result.n_matched, round(result.total_cost_px * 100)) == brute_force(pred, gt, radius), (seed, k)


def test_pairs_are_one_to_one_and_admissible():
    rng = np.random.default_rng(7)
    pred, gt = random_maps(rng, 30)
    result = match_maps(pred, gt, radius_px=3.0)
    pairs = result.pairs
    assert len({tuple(p) for p in pairs[:, :2]}) == len(pairs) == len({tuple(p) for p in pairs[:, 2:]})
    assert (np.hypot(pairs[:, 0] - pairs[:, 2], pairs[:, 1] - pairs[:, 3]) <= 3.0).all()
    assert result.pred_matched.sum() == result.gt_matched.sum() == result.n_matched


def test_prefers_more_matches_over_shorter_distance():
    # p1 sits on g1; p2 reaches g1 only. Maximum cardinality needs p1 -> g2 (farther).
    pred = np.zeros((1, 6), bool)
    gt = np.zeros((1, 6), bool)
    pred[0, [2, 0]] = True
    gt[0, [1, 4]] = True
    result = match_maps(pred, gt, radius_px=2.0)
    assert result.n_matched == 2 and result.total_cost_px == pytest.approx(3.0)


def test_deterministic_and_empty_inputs():
    rng = np.random.default_rng(3)
    pred, gt = random_maps(rng, 30)
    a = match_maps(pred, gt, radius_px=2.5)
    b = match_maps(pred, gt, radius_px=2.5)
    assert np.array_equal(a.pairs, b.pairs)
    empty = match_maps(np.zeros((5, 5), bool), np.ones((5, 5), bool))
    assert empty.n_matched == 0


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="disagree"):
        match_maps(np.zeros((4, 4), bool), np.zeros((4, 5), bool))

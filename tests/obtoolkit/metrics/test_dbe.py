from __future__ import annotations

import math

import numpy as np
import pytest

from obtoolkit.metrics.dbe import (
    boundary_errors_from_edges,
    depth_boundary_errors,
    official_boundary_errors_from_edges,
    official_predicted_depth_edges,
    predicted_depth_edges,
)


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


# -- both modes, hand-computed -------------------------------------------------------------------------------------


def _ramp(depth: np.ndarray, column: int, low: float) -> None:
    """A two-step depth ramp low -> low + 1 -> low + 2 at `column`: Canny puts its edge exactly on that column
    (a single step would tie between its two sides)."""
    depth[:, column] = low + 1.0
    depth[:, column + 1:] = low + 2.0


def _columns(edges: np.ndarray) -> list[int]:
    return sorted(set(np.argwhere(edges)[:, 1].tolist()))


def test_canny_finds_the_ramp_column_in_both_modes():
    depth = np.ones((40, 40))
    _ramp(depth, 20, 1.0)
    for edges in (predicted_depth_edges(depth), official_predicted_depth_edges(depth)):
        assert _columns(edges) == [20] and np.argwhere(edges)[:, 0].tolist() == list(range(1, 39))  # border: none
    invalid_nearby = np.ones((40, 40), bool)
    invalid_nearby[:, 22:] = False  # ours keeps the edge two pixels from an invalid region (masked smoothing)
    assert predicted_depth_edges(depth, invalid_nearby).sum() == 38


def test_without_mask_both_modes_agree_by_hand():
    depth = np.ones((40, 40))
    _ramp(depth, 20, 1.0)  # predicted edges: column 20, rows 1..38 (38 px)
    gt = np.zeros((40, 40), bool)
    gt[:, 22] = True  # 40 px, 2 px to the right
    # accuracy: every predicted pixel is 2 px from the GT. completeness: 38 x 2 (pred -> GT) + 38 x 2 + 2 sqrt(5)
    # (GT rows 0 and 39 reach rows 1 and 38 diagonally), over 38 + 40 pixels.
    expected = (2.0, (4 * 38 + 2 * math.sqrt(5)) / 78)
    for mode in ("ours", "official"):
        result = depth_boundary_errors(depth, gt, mode=mode)
        assert (result["dbe_acc"], result["dbe_comp"]) == pytest.approx(expected), mode


def test_mask_changes_completeness_by_hand():
    depth = np.ones((40, 40))
    _ramp(depth, 10, 1.0)
    _ramp(depth, 30, 3.0)  # edges at columns 10 and 30
    gt = np.zeros((40, 40), bool)
    gt[:, 12] = gt[:, 32] = True
    valid = np.zeros((40, 40), bool)
    valid[:, :25] = True  # columns 25.. invalid: the ramp at 30 and the GT at 32 are outside
    # official: Canny sees both ramps; accuracy over column 10 only (2 px); completeness sums 38 x 2 (column 10)
    # + 0 (column 30: D_gt is multiplied by the mask) + 2 x (76 + 2 sqrt 5) (both GT columns, unmasked),
    # over all 76 predicted + 80 GT pixels.
    official = depth_boundary_errors(depth, gt, valid, mode="official")
    assert (official["dbe_acc"], official["dbe_comp"]) == pytest.approx((2.0, (228 + 4 * math.sqrt(5)) / 156))
    # ours: only column 10 and the GT column 12 exist inside the mask: the unmasked case of the test above
    ours = depth_boundary_errors(depth, gt, valid, mode="ours")
    assert (ours["dbe_acc"], ours["dbe_comp"]) == pytest.approx((2.0, (152 + 2 * math.sqrt(5)) / 78))


def test_far_invalid_prediction_hides_edges_only_in_the_official_mode():
    depth = np.ones((40, 40))
    _ramp(depth, 10, 1.0)
    depth[:, 30:] = 100.0  # e.g. a window predicted very far, inside the invalid region
    gt = np.zeros((40, 40), bool)
    gt[:, 12] = True
    valid = np.zeros((40, 40), bool)
    valid[:, :25] = True
    # official: normalising over the whole prediction shrinks the ramp below Canny's thresholds; its only edges are
    # at the far step, outside the mask -> no predicted edge near the GT -> both errors are tau (10 px)
    official = depth_boundary_errors(depth, gt, valid, mode="official")
    assert (official["dbe_acc"], official["dbe_comp"]) == (10.0, 10.0)
    ours = depth_boundary_errors(depth, gt, valid, mode="ours")
    assert (ours["dbe_acc"], ours["dbe_comp"]) == pytest.approx((2.0, (152 + 2 * math.sqrt(5)) / 78))


def test_official_arithmetic_from_edges_by_hand():
    gt = np.zeros((5, 10), bool)
    gt[:, 5] = True
    pred = np.zeros((5, 10), bool)
    pred[:, 6] = pred[:, 0] = True
    valid = np.zeros((5, 10), bool)
    valid[:, 3:] = True  # column 0 (5 predicted pixels, 5 px from the GT) is outside the mask
    # official: accuracy over column 6 = 1; completeness = (5 x 1 + 5 x 0 [masked D_gt] + 5 x 1 [GT -> column 6])
    # / (10 predicted + 5 GT)
    assert official_boundary_errors_from_edges(pred, gt, valid) == pytest.approx((1.0, 10 / 15))
    # ours drops column 0 first: (1, (5 + 5) / (5 + 5))
    assert boundary_errors_from_edges(pred & valid, gt & valid) == pytest.approx((1.0, 1.0))
    # without a mask the two arithmetics agree: (5 x 1 + 5 x 5) / 15 pred -> GT, + 5 x 1 GT -> pred
    unmasked = ((5 * 1 + 5 * 5) / 10, (5 * 1 + 5 * 5 + 5 * 1) / 15)
    assert official_boundary_errors_from_edges(pred, gt) == pytest.approx(unmasked)
    assert boundary_errors_from_edges(pred, gt) == pytest.approx(unmasked)


def _official_direct(pred_edges, gt_edges, valid, tau):
    """The official arithmetic with explicit nearest-pixel searches (slow reference)."""
    p = [tuple(x) for x in np.argwhere(pred_edges)]
    g = [tuple(x) for x in np.argwhere(gt_edges)]
    if not g:
        return math.nan, math.nan

    def nearest(a, points):
        return min(math.dist(a, b) for b in points) if points else math.inf

    d_gt = {a: nearest(a, g) for a in p}
    near = [d_gt[a] for a in p if d_gt[a] < tau and valid[a]]
    if not near:
        return tau, tau
    to_gt = sum(min(d_gt[a], tau) if valid[a] else 0.0 for a in p)
    to_pred = sum(min(nearest(b, p), tau) for b in g)
    return sum(near) / len(near), (to_gt + to_pred) / (len(p) + len(g))


def test_official_arithmetic_equals_direct_reference_on_random_edges():
    rng = np.random.default_rng(1)
    for _ in range(25):
        h, w = rng.integers(5, 25, 2)
        pred = rng.random((h, w)) < rng.uniform(0.0, 0.1)
        gt = rng.random((h, w)) < rng.uniform(0.0, 0.1)
        valid = rng.random((h, w)) < rng.uniform(0.3, 1.0)
        tau = float(rng.uniform(1, 12))
        ours = official_boundary_errors_from_edges(pred, gt, valid, tau)
        assert np.allclose(ours, _official_direct(pred, gt, valid, tau), equal_nan=True)


def test_mode_is_checked():
    with pytest.raises(ValueError, match="mode"):
        depth_boundary_errors(np.ones((8, 8)), np.zeros((8, 8), bool), mode="p2orm")
    result = depth_boundary_errors(np.ones((8, 8)), np.zeros((8, 8), bool), mode="official")
    assert math.isnan(result["dbe_acc"]) and math.isnan(result["dbe_comp"])

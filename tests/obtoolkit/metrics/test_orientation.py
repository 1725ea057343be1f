from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.metrics.boundary import BoundaryEvalOptions, image_boundary_counts
from obtoolkit.metrics.orientation import aor_curve, opr_counts, orientation_agrees, sum_counts


def test_orientation_agreement_rule():
    assert orientation_agrees(0.1, 0.1 + np.pi / 2)
    assert not orientation_agrees(0.0, np.pi / 2 + 0.01)
    assert orientation_agrees(-3.0, 3.0)  # 6 rad apart = 0.28 rad the other way round
    assert not orientation_agrees(0.0, np.pi)


def test_oriented_counts_all_or_nothing():
    gt = np.zeros((30, 30), bool)
    gt[15, 3:27] = True
    pred = np.roll(gt, 1, axis=0).astype(np.float64)
    theta_gt = np.zeros((30, 30))
    options = BoundaryEvalOptions(protocol="bsds", n_thresholds=3, max_dist=0.05)
    same = image_boundary_counts(pred, gt, options, pred_orientation_rad=np.full((30, 30), 0.2),
                                 gt_orientations_rad=theta_gt)
    assert np.array_equal(same.cnt_p_oriented, same.cnt_p) and np.array_equal(same.cnt_r_oriented, same.cnt_r)
    flipped = image_boundary_counts(pred, gt, options, pred_orientation_rad=np.full((30, 30), np.pi),
                                    gt_orientations_rad=theta_gt)
    assert not flipped.cnt_p_oriented.any()
    assert np.allclose(aor_curve(same)[:, 2], 1.0)
    assert np.array_equal(opr_counts(flipped).cnt_p, flipped.cnt_p_oriented)
    total = sum_counts([same, flipped])
    assert np.array_equal(total.cnt_p, same.cnt_p + flipped.cnt_p)
    with pytest.raises(ValueError, match="both"):
        image_boundary_counts(pred, gt, options, pred_orientation_rad=theta_gt)

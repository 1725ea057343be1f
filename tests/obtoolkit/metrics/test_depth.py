from __future__ import annotations

import math

import numpy as np
import pytest

from obtoolkit.metrics.depth import DEPTH_PRESETS, DepthEvalOptions, DepthMetric, depth_errors, valid_depth_mask

OPTIONS = DepthEvalOptions(valid_min=0.0, valid_max=10.0, clamp_min=0.1, clamp_max=10.0)


def test_hand_computed_values():
    gt = np.array([[1.0, 2.0], [4.0, np.nan]])
    pred = np.array([[2.0, 2.0], [2.0, 7.0]])
    m = depth_errors(pred, gt, OPTIONS)
    # valid: g = 1, 2, 4; p = 2, 2, 2
    assert m["abs_rel"] == pytest.approx((1 / 1 + 0 + 2 / 4) / 3)
    assert m["sq_rel"] == pytest.approx((1 / 1 + 0 + 4 / 4) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    e = [math.log(2), 0.0, math.log(0.5)]
    assert m["rmse_log"] == pytest.approx(math.sqrt(sum(x * x for x in e) / 3))
    assert m["log10"] == pytest.approx((math.log10(2) + 0 + math.log10(2)) / 3)
    mean_e = sum(e) / 3
    assert m["silog"] == pytest.approx(100 * math.sqrt(sum(x * x for x in e) / 3 - mean_e**2))
    assert m["delta1"] == pytest.approx(1 / 3) and m["delta2"] == pytest.approx(1 / 3)
    assert m["delta3"] == pytest.approx(1 / 3)  # ratios 2, 1, 2 and 1.25^3 = 1.953: only the exact pixel


def test_clamp_mask_crop_and_scale():
    gt = np.full((4, 4), 2.0)
    pred = np.full((4, 4), np.nan)
    m = depth_errors(pred, gt, OPTIONS)  # NaN -> clamp_min 0.1
    assert m["abs_rel"] == pytest.approx(0.95)
    pred = np.full((4, 4), np.inf)
    assert depth_errors(pred, gt, OPTIONS)["rmse"] == pytest.approx(8.0)
    mask = np.zeros((4, 4), bool)
    assert depth_errors(np.ones((4, 4)), gt, OPTIONS, mask) is None
    cropped = DepthEvalOptions(valid_min=0.0, valid_max=10.0, clamp_min=0.1, clamp_max=10.0, crop=(1, 3, 0, 2))
    assert valid_depth_mask(gt, cropped).sum() == 4
    scaled = DepthEvalOptions(valid_min=0.0, valid_max=10.0, clamp_min=0.1, clamp_max=10.0, pred_scale=2.0)
    assert depth_errors(np.ones((4, 4)), gt, scaled)["abs_rel"] == pytest.approx(0.0)


def test_presets_follow_the_spec_tables():
    assert DEPTH_PRESETS["hypersim"].clamp_min == 0.06 and DEPTH_PRESETS["hypersim"].clamp_max == 100.0
    assert DEPTH_PRESETS["nyud"].crop == (45, 471, 41, 601) and DEPTH_PRESETS["nyudmt"].crop is None
    assert DEPTH_PRESETS["ob_future"].clamp_min == 0.0392 and DEPTH_PRESETS["ibims"].clamp_max == 52.0
    gt = np.array([[0.0, 5.0, 10.0, 0.0005]])
    assert valid_depth_mask(gt, DEPTH_PRESETS["nyudmt"]).tolist() == [[False, True, False, False]]


def test_metric_averages_per_image_and_streams():
    images = [(np.full((2, 2), p), np.full((2, 2), 2.0)) for p in (1.0, 2.0, 4.0)]
    once, streamed = DepthMetric(), DepthMetric()
    for pred, gt in images:
        once.update(depth_errors(pred, gt, OPTIONS))
    for pred, gt in images[::-1]:
        streamed.update(depth_errors(pred, gt, OPTIONS))
    streamed.update(None)
    assert once.compute()["abs_rel"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert streamed.compute()["abs_rel"] == pytest.approx(once.compute()["abs_rel"])
    assert streamed.compute()["n_skipped"] == 1


def test_errors():
    with pytest.raises(ValueError, match="gt_depth_du"):
        depth_errors(np.ones((2, 2)), np.ones((2, 3)), OPTIONS, where="frame 3")
    with pytest.raises(ValueError, match="clamp"):
        DepthEvalOptions(valid_min=0, valid_max=1, clamp_min=2, clamp_max=1)

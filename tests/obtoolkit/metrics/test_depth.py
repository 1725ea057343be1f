from __future__ import annotations

import math

import numpy as np
import pytest

from obtoolkit.metrics.depth import (
    DEPTH_PRESETS,
    OFFICIAL_ZERO_SHOT_MULTIPLIER,
    SCALE_POLICIES,
    AlignedDepthMetric,
    Alignment,
    DepthEvalOptions,
    DepthMetric,
    aligned_depth_errors,
    depth_errors,
    fit_alignment,
    official_zero_shot_factor,
    policy_table,
    valid_depth_mask,
)

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


# -- scale policies ------------------------------------------------------------------------------------------------

WIDE = DepthEvalOptions(valid_min=0.0, valid_max=100.0, clamp_min=1e-3, clamp_max=100.0)


def test_official_zero_shot_factor_is_stated_correctly():
    # iBims: the official network outputs sigmoid x 52 x 3.7 = sigmoid x 192.4 m; an OB-Hypersim checkpoint
    # (max_depth 100 in units of 3.05 m) predicts sigmoid x 305 m, so the equivalent factor is 192.4 / 305.
    factor = official_zero_shot_factor(max_depth_eval=52, checkpoint_max_depth=100, checkpoint_unit_m=3.05)
    assert factor == pytest.approx(192.4 / 305.0) and factor == pytest.approx(0.63082, abs=1e-5)
    assert OFFICIAL_ZERO_SHOT_MULTIPLIER / factor == pytest.approx(5.865, abs=1e-3)  # the old doc's overestimate
    assert official_zero_shot_factor(max_depth_eval=10, checkpoint_max_depth=10, checkpoint_unit_m=1.0) == \
        pytest.approx(3.7)
    sigmoid = 0.25  # the same network output gives the official depth once multiplied by the factor
    assert sigmoid * 100 * 3.05 * factor == pytest.approx(sigmoid * 52 * 3.7)
    with pytest.raises(ValueError, match="checkpoint_unit_m"):
        official_zero_shot_factor(max_depth_eval=52, checkpoint_max_depth=100, checkpoint_unit_m=0)


def test_fit_alignment_by_hand():
    p, g = np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 5.0, 7.0, 9.0])
    assert fit_alignment(p, g, "none") == Alignment(1.0, 0.0)
    assert fit_alignment(p, g, "official", official_factor=0.5) == Alignment(0.5, 0.0)
    assert fit_alignment(p, g, "median").scale == pytest.approx(6.0 / 2.5)
    assert fit_alignment(p, g, "lsq_scale").scale == pytest.approx(70.0 / 30.0)  # sum pg / sum p^2
    fitted = fit_alignment(p, g, "lsq_scale_shift")
    assert (fitted.scale, fitted.shift) == (pytest.approx(2.0), pytest.approx(1.0))
    flipped = fit_alignment(p[::-1].copy(), g, "lsq_scale_shift")
    assert (flipped.scale, flipped.shift) == (pytest.approx(-2.0), pytest.approx(11.0))


def test_fit_alignment_degenerate_cases():
    constant = fit_alignment(np.full(3, 2.0), np.array([1.0, 2.0, 6.0]), "lsq_scale_shift")
    assert (constant.scale, constant.shift) == (0.0, 3.0)  # every least-squares fit predicts mean(g)
    zeros, g = np.zeros(3), np.ones(3)
    assert math.isnan(fit_alignment(zeros, g, "median").scale)
    assert math.isnan(fit_alignment(zeros, g, "lsq_scale").scale)
    assert math.isnan(fit_alignment(np.array([]), np.array([]), "median").scale)
    with pytest.raises(ValueError, match="official_factor"):
        fit_alignment(g, g, "official")
    with pytest.raises(ValueError, match="scale policy"):
        fit_alignment(g, g, "mean")


def test_every_policy_on_a_hand_made_image():
    gt = np.array([[3.0, 5.0], [7.0, 9.0], [np.nan, 4.0]])
    pred = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, np.nan]])
    valid = np.array([[True, True], [True, True], [True, False]])  # (2, 1) is masked out, (2, 0) has no GT
    results = aligned_depth_errors(pred, gt, WIDE, valid, official_factor=3.0)
    assert set(results) == set(SCALE_POLICIES)
    g = np.array([3.0, 5.0, 7.0, 9.0])
    expected = {
        "none": [1.0, 2.0, 3.0, 4.0],
        "official": [3.0, 6.0, 9.0, 12.0],
        "median": [2.4, 4.8, 7.2, 9.6],
        "lsq_scale": [7 / 3, 14 / 3, 7.0, 28 / 3],
        "lsq_scale_shift": [3.0, 5.0, 7.0, 9.0],
    }
    for policy, p in expected.items():
        abs_rel = float(np.mean(np.abs(g - np.array(p)) / g))
        assert results[policy]["abs_rel"] == pytest.approx(abs_rel), policy
        assert results[policy]["rmse"] == pytest.approx(math.sqrt(np.mean((g - np.array(p)) ** 2))), policy
    assert results["lsq_scale_shift"]["delta1"] == 1.0 and results["lsq_scale_shift"]["shift"] == pytest.approx(1.0)
    assert results["median"]["scale"] == pytest.approx(2.4)
    # "none" is exactly depth_errors
    plain = depth_errors(pred, gt, WIDE, valid)
    assert {k: results["none"][k] for k in plain} == plain


def test_alignment_then_clamp():
    gt = np.array([[1.0, 2.0, 3.0]])
    pred = np.array([[3.0, 2.0, 1.0]])  # anti-correlated: lsq scale + shift fits it exactly with s = -1, t = 4
    results = aligned_depth_errors(pred, gt, OPTIONS, policies=("lsq_scale_shift", "official"), official_factor=-1.0)
    assert results["lsq_scale_shift"]["abs_rel"] == pytest.approx(0.0)
    assert results["official"]["abs_rel"] == pytest.approx(np.mean(np.abs(gt - 0.1) / gt))  # negative -> clamp_min
    nan_pred = np.array([[np.nan, 2.0, 3.0]])  # the fit ignores NaN; the metric clamps it to clamp_min
    median = aligned_depth_errors(nan_pred, gt, OPTIONS, policies=("median",))["median"]
    assert median["scale"] == pytest.approx(1.0) and median["abs_rel"] == pytest.approx((0.9 / 1.0) / 3)


def test_aligned_none_equals_depth_errors_on_random_images():
    rng = np.random.default_rng(3)
    scaled = DepthEvalOptions(valid_min=0.0, valid_max=10.0, clamp_min=0.1, clamp_max=10.0, pred_scale=1.7)
    for _ in range(20):
        gt = rng.uniform(0.0, 12.0, (7, 9))
        pred = rng.uniform(-1.0, 11.0, (7, 9))
        pred[rng.random(pred.shape) < 0.1] = np.nan
        mask = rng.random(gt.shape) < 0.9
        for options in (OPTIONS, scaled):
            result = aligned_depth_errors(pred, gt, options, mask, policies=("none",))["none"]
            plain = depth_errors(pred, gt, options, mask)
            assert {k: result[k] for k in plain} == plain


def test_aligned_metric_side_by_side():
    gts = [np.full((2, 2), 2.0), np.array([[1.0, 2.0], [4.0, 8.0]])]
    preds = [np.full((2, 2), 1.0), np.array([[2.0, 4.0], [8.0, 16.0]])]
    metric = AlignedDepthMetric(("none", "median"))
    for pred, gt in zip(preds, gts, strict=True):
        metric.update(aligned_depth_errors(pred, gt, WIDE, policies=("none", "median")))
    metric.update(aligned_depth_errors(preds[0], gts[0], WIDE, np.zeros((2, 2), bool), policies=("none", "median")))
    result = metric.compute()
    assert result["none"]["abs_rel"] == pytest.approx((0.5 + 1.0) / 2) and result["none"]["n_skipped"] == 1
    assert result["median"]["abs_rel"] == pytest.approx(0.0) and result["median"]["scale"] == pytest.approx(1.25)
    table = policy_table(result).splitlines()
    assert len(table) == 3 and table[1].startswith("none") and "abs_rel" in table[0]
    assert policy_table({"official": {"sq_rel": 10989.0168, "abs_rel": 32.4712}}, ("abs_rel", "sq_rel")).split()[-2:] \
        == ["32.4712", "10989.0168"]  # columns never run together
    with pytest.raises(ValueError, match="official_factor"):
        aligned_depth_errors(preds[0], gts[0], WIDE)


def test_diode_preset_and_no_hidden_scale():
    assert DEPTH_PRESETS["diode"].clamp_max == 350.0 and DEPTH_PRESETS["diode"].clamp_min > 0
    assert all(options.pred_scale == 1.0 for options in DEPTH_PRESETS.values())

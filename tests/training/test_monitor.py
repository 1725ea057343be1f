"""The device monitor against obtoolkit's depth metrics and a brute-force tolerance count."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from obtoolkit.metrics import DEPTH_PRESETS, BoundaryCounts, BoundaryMetric, depth_errors, thresholds
from training.monitor import DEPTH_METRICS, ValidationMonitor, depth_errors_batch, tolerance_counts


def _depth_batch(rng: np.random.Generator, shape=(3, 1, 24, 32)):
    gt = rng.uniform(0.5, 12.0, shape).astype(np.float32)
    pred = (gt * rng.uniform(0.7, 1.3, shape)).astype(np.float32)
    valid = rng.random(shape) > 0.2
    gt[0, 0, :3] = np.nan  # invalid GT
    gt[0, 0, 3:5] = 0.0
    pred[1, 0, :2] = np.nan  # a NaN prediction is clamped, not propagated
    pred[1, 0, 2:4] = 200.0  # above the clamp
    valid[2] = False  # an image without valid pixels
    return pred, gt, valid


@pytest.mark.parametrize("preset", ["hypersim", "nyud", "ob_future"])
def test_depth_metrics_on_the_device_equal_obtoolkit(preset):
    options = DEPTH_PRESETS[preset]
    shape = (3, 1, 480, 640) if preset == "nyud" else (3, 1, 24, 32)  # the Eigen crop needs NYUD's size
    pred, gt, valid = _depth_batch(np.random.default_rng(0), shape)
    metrics, counted = depth_errors_batch(torch.from_numpy(pred), torch.from_numpy(np.nan_to_num(gt)),
                                          torch.from_numpy(valid) & torch.from_numpy(np.isfinite(gt)), options)
    for i in range(3):
        expected = depth_errors(pred[i, 0], gt[i, 0], options, valid[i, 0])
        assert counted[i].item() == (expected is not None)
        if expected is not None:
            np.testing.assert_allclose(metrics[i].numpy(), [expected[k] for k in DEPTH_METRICS], rtol=1e-12)


def reference_tolerance_counts(probability: np.ndarray, gt: np.ndarray, thr: np.ndarray, radius: int) -> np.ndarray:
    """Brute force over every window offset: (4, K) cnt_r, sum_r, cnt_p, sum_p."""
    h, w = probability.shape
    near_gt = np.zeros((h, w), bool)
    window_max = np.full((h, w), -np.inf)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            for y in range(h):
                for x in range(w):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w:
                        near_gt[y, x] |= gt[yy, xx]
                        window_max[y, x] = max(window_max[y, x], probability[yy, xx])
    rows = [[np.sum(gt & (window_max >= t)), gt.sum(), np.sum((probability >= t) & near_gt), np.sum(probability >= t)]
            for t in thr]
    return np.array(rows).T


def test_tolerance_counts_equal_a_brute_force_count():
    rng = np.random.default_rng(1)
    probability = rng.random((2, 1, 14, 18)).astype(np.float32)
    probability[0, 0, 3, 4] = thresholds(9)[2]  # exactly on a threshold: counted (>=)
    gt = rng.random((2, 1, 14, 18)) > 0.85
    thr = thresholds(9)
    max_dist = 0.1  # 2.27 px on a 14 x 18 image -> radius 2
    counts = tolerance_counts(torch.from_numpy(probability), torch.from_numpy(gt), torch.from_numpy(thr), max_dist)
    radius = math.floor(max_dist * math.hypot(14, 18))
    for i in range(2):
        np.testing.assert_array_equal(counts[i].numpy(), reference_tolerance_counts(probability[i, 0], gt[i, 0], thr,
                                                                                    radius))


def test_monitor_accumulates_batches_and_reads_once():
    rng = np.random.default_rng(2)
    pred, gt, valid = _depth_batch(rng)
    probability = rng.random((3, 1, 24, 32)).astype(np.float32)
    boundary = (rng.random((3, 1, 24, 32)) > 0.9).astype(np.float32)
    monitor = ValidationMonitor(DEPTH_PRESETS["hypersim"], depth_unit_m=3.05, n_thresholds=9)
    tensors = [torch.from_numpy(a) for a in (pred, probability, np.nan_to_num(gt), valid, boundary)]
    monitor.update(["a", "b"], *(t[:2] for t in tensors))
    monitor.update(["c"], *(t[2:] for t in tensors))
    values, rows = monitor.compute()
    assert [r["name"] for r in rows] == ["a", "b"] and values["depth/n_images"] == 2 and values["depth/n_skipped"] == 1
    with pytest.raises(ValueError, match="2 names for 1 frames"):
        monitor.update(["x", "y"], *(t[2:] for t in tensors))
    assert values["depth/rmse_m"] == pytest.approx(values["depth/rmse"] * 3.05)
    assert values["depth/abs_rel"] == pytest.approx(np.mean([r["abs_rel"] for r in rows]))
    thr = thresholds(9)
    counts = tolerance_counts(tensors[1], tensors[4] > 0.5, torch.from_numpy(thr), 0.0075)
    metric = BoundaryMetric(thr)
    metric.update([BoundaryCounts(thr, *image) for image in counts.numpy()])
    assert values["boundary_tolerance/ods_f"] == metric.compute().ods.f_measure
    assert 0 <= values["boundary_tolerance/ois_f"] <= 1 and 0 <= values["boundary_tolerance/ap"] <= 1

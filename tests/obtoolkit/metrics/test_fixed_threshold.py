from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.metrics.fixed_threshold import (
    FixedThresholdMetric,
    fixed_threshold_counts,
    scores_from_counts,
)

PRED = np.array([[0.9, 0.6, 0.2], [0.7, 0.4, 0.8], [0.1, 0.5, 0.0]])
GT = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0]], dtype=bool)


def test_counts_and_scores_by_hand():
    counts = fixed_threshold_counts(PRED, GT, (0.5, 0.7))
    # 0.5: predicted (0,0) (0,1) (1,0) (1,2) (2,1) [0.5 >= 0.5]; GT (0,0) (0,1) (1,1) (1,2)
    # 0.7: predicted (0,0) (1,0) (1,2) [0.7 >= 0.7]
    assert counts.tolist() == [[3, 2, 1, 3], [2, 1, 2, 4]]
    scores = scores_from_counts(counts)
    assert scores[0] == pytest.approx([3 / 5, 3 / 4, 6 / 9, 6 / 9])  # precision, recall, F1 = 2TP/(2TP+FP+FN), acc
    assert scores[1] == pytest.approx([2 / 3, 2 / 4, 4 / 7, 6 / 9])


def test_zero_division_gives_zero_like_sklearn():
    empty = fixed_threshold_counts(np.zeros((2, 2)), np.zeros((2, 2), bool), (0.5,))
    assert empty.tolist() == [[0, 0, 0, 4]] and scores_from_counts(empty)[0].tolist() == [0.0, 0.0, 0.0, 1.0]
    missed = fixed_threshold_counts(np.zeros((2, 2)), np.eye(2, dtype=bool), (0.5,))
    assert scores_from_counts(missed)[0].tolist() == [0.0, 0.0, 0.0, 0.5]


def test_mean_over_images_and_valid_mask():
    metric = FixedThresholdMetric()
    metric.update(PRED, GT)
    metric.update(np.zeros((2, 2)), np.zeros((2, 2), bool))  # P = R = F = 0, accuracy 1
    result = metric.compute()
    assert result["n_images"] == 2
    assert result["precision@0.5"] == pytest.approx((3 / 5 + 0) / 2) and result["f1@0.7"] == pytest.approx(4 / 7 / 2)
    assert result["accuracy@0.5"] == pytest.approx((6 / 9 + 1) / 2)
    assert metric.count_sums.tolist() == [[3, 2, 1, 7], [2, 1, 2, 8]]
    valid = np.ones((3, 3), bool)
    valid[1, 1] = False  # the missed GT pixel is not counted (NYUD-MT's unlabelled pixels)
    assert fixed_threshold_counts(PRED, GT, (0.5,), valid).tolist() == [[3, 2, 0, 3]]


def _reference(pred, gt, threshold):
    """sklearn's binary precision / recall / F1 / accuracy with zero_division=0, pixel by pixel."""
    tp = fp = fn = tn = 0
    for p, g in zip(pred.ravel() >= threshold, gt.ravel(), strict=True):
        tp += p and g
        fp += p and not g
        fn += g and not p
        tn += not p and not g
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return [precision, recall, f1, (tp + tn) / pred.size]


def test_equals_reference_on_random_maps_and_streams():
    rng = np.random.default_rng(0)
    images = []
    for _ in range(12):
        h, w = rng.integers(1, 20, 2)
        images.append((rng.random((h, w)), rng.random((h, w)) < rng.uniform(0, 0.3)))
    forward, backward = FixedThresholdMetric((0.3, 0.5, 0.7)), FixedThresholdMetric((0.3, 0.5, 0.7))
    for pred, gt in images:
        scores = scores_from_counts(fixed_threshold_counts(pred, gt, (0.3, 0.5, 0.7)))
        for k, threshold in enumerate((0.3, 0.5, 0.7)):
            assert scores[k] == pytest.approx(_reference(pred, gt, threshold))
        forward.update(pred, gt)
    for pred, gt in images[::-1]:
        backward.add_counts(fixed_threshold_counts(pred, gt, (0.3, 0.5, 0.7)))
    assert forward.compute() == pytest.approx(backward.compute())


def test_errors_name_the_input():
    with pytest.raises(ValueError, match="gt_boundary"):
        fixed_threshold_counts(PRED, GT[:2])
    with pytest.raises(ValueError, match="values 0 and 1"):
        fixed_threshold_counts(PRED, GT * 255)
    assert fixed_threshold_counts(PRED, GT.astype(np.float32)).tolist() == fixed_threshold_counts(PRED, GT).tolist()
    with pytest.raises(ValueError, match="counts"):
        FixedThresholdMetric().add_counts(np.zeros((3, 4), np.int64))
    with pytest.raises(ValueError, match="at least one"):
        FixedThresholdMetric(())
    assert np.isnan(FixedThresholdMetric().compute()["f1@0.5"])

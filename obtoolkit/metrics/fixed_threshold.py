"""Pixel-wise boundary precision / recall / F1 / accuracy at fixed thresholds (MoDOT's `ob_evals.compute_edge_metrics`).

Per image and threshold t: B = [P >= t]; with TP, FP, FN, TN counted over the pixels of `valid_mask` (all pixels by
default; the official code excludes NYUD-MT's pixels labelled 255), exactly as sklearn with zero_division=0:
precision = TP / (TP + FP) (0 without predicted pixels), recall = TP / (TP + FN) (0 without GT pixels),
F1 = 2 TP / (2 TP + FP + FN) (0 when that is 0/0), accuracy = (TP + TN) / pixels. No NMS, no thinning, no distance
tolerance: a prediction one pixel off counts as a false positive and a miss. Each score is averaged over images
(the official convention); the summed counts are kept too.

The official scripts print one threshold: 0.7 (`eval_final.py`, in-domain) and 0.5 (`eval_final_transfer.py`,
zero-shot). This is a monitoring number, not the paper's ODS (see `boundary.py` for the tolerance-matched benchmark).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from obtoolkit._checks import check_array

FIXED_THRESHOLDS = (0.5, 0.7)
SCORE_NAMES = ("precision", "recall", "f1", "accuracy")


def fixed_threshold_counts(pred_prob: np.ndarray, gt_boundary: np.ndarray,
                           thresholds: Sequence[float] = FIXED_THRESHOLDS, valid_mask: np.ndarray | None = None,
                           *, where: str = "") -> np.ndarray:
    """(K, 4) int64 counts [TP, FP, FN, TN] per threshold of one image.

    Args:
        pred_prob: (H, W) float boundary probability (NaN counts as below every threshold).
        gt_boundary: (H, W) bool, or integers / floats in {0, 1}.
        thresholds: K thresholds; a pixel is predicted when pred_prob >= t.
        valid_mask: (H, W) bool; pixels outside it are not counted.
        where: context for error messages.
    """
    check_array("pred_prob", pred_prob, shape=(None, None), kind="fiu", where=where)
    check_array("gt_boundary", gt_boundary, shape=pred_prob.shape, kind="biuf", where=where)
    if gt_boundary.dtype != bool and not np.isin(gt_boundary, (0, 1)).all():
        raise ValueError(f"gt_boundary ({where}): expected values 0 and 1 only, got {np.unique(gt_boundary)[:6]}")
    gt = np.asarray(gt_boundary) != 0
    pred = np.asarray(pred_prob, dtype=np.float64)
    if valid_mask is not None:
        check_array("valid_mask", valid_mask, shape=pred_prob.shape, kind="b", where=where)
        gt, pred = gt[valid_mask], pred[valid_mask]
    n_pixels, n_gt = gt.size, int(np.count_nonzero(gt))
    counts = np.empty((len(thresholds), 4), dtype=np.int64)
    for k, threshold in enumerate(thresholds):
        predicted = pred >= threshold
        tp = int(np.count_nonzero(predicted & gt))
        fp = int(np.count_nonzero(predicted)) - tp
        fn = n_gt - tp
        counts[k] = (tp, fp, fn, n_pixels - tp - fp - fn)
    return counts


def scores_from_counts(counts: np.ndarray) -> np.ndarray:
    """(K, 4) float64 [precision, recall, F1, accuracy] of (K, 4) [TP, FP, FN, TN] (sklearn, zero_division=0)."""
    tp, fp, fn, tn = (counts[:, j].astype(np.float64) for j in range(4))

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    return np.stack([ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn),
                     ratio(tp + tn, tp + fp + fn + tn)], axis=1)


class FixedThresholdMetric:
    """Fixed-threshold P/R/F1/accuracy averaged over images (update per image, compute at the end)."""

    def __init__(self, thresholds: Sequence[float] = FIXED_THRESHOLDS) -> None:
        self.thresholds = tuple(float(t) for t in thresholds)
        if not self.thresholds:
            raise ValueError("thresholds: expected at least one")
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self.score_sums = np.zeros((len(self.thresholds), 4))
        self.count_sums = np.zeros((len(self.thresholds), 4), dtype=np.int64)
        self.n_images = 0

    def update(self, pred_prob: np.ndarray, gt_boundary: np.ndarray, valid_mask: np.ndarray | None = None,
               *, where: str = "") -> None:
        """Add one image."""
        self.add_counts(fixed_threshold_counts(pred_prob, gt_boundary, self.thresholds, valid_mask, where=where))

    def add_counts(self, counts: np.ndarray) -> None:
        """Add one image's (K, 4) counts (e.g. computed in a worker)."""
        check_array("counts", counts, shape=(len(self.thresholds), 4), kind="iu")
        self.score_sums += scores_from_counts(counts)
        self.count_sums += counts
        self.n_images += 1

    def compute(self) -> dict[str, float]:
        """{"precision@0.5", "recall@0.5", "f1@0.5", "accuracy@0.5", ... per threshold, "n_images"}; the scores are
        means over images (NaN before any image). Summed counts are in `count_sums` ([TP, FP, FN, TN] rows)."""
        means = self.score_sums / self.n_images if self.n_images else np.full_like(self.score_sums, np.nan)
        result: dict[str, float] = {}
        for k, threshold in enumerate(self.thresholds):
            for j, name in enumerate(SCORE_NAMES):
                result[f"{name}@{threshold:g}"] = float(means[k, j])
        result["n_images"] = self.n_images
        return result


def tolerance_scores_at(curve: np.ndarray, thresholds: Sequence[float], *, atol: float = 1e-9
                        ) -> dict[float, dict[str, float]]:
    """{t: {"precision", "recall", "f"}} of the tolerance-matched boundary benchmark at fixed thresholds, read from
    its summed counts (`BoundaryResult.curve`, rows [threshold, R, P, F]): the dataset-level P/R/F one threshold
    gives, beside ODS (the best threshold). Unlike the pixel-wise scores above, a prediction within the matching
    radius counts, and NMS / thinning follow the protocol. Each t must be one of the curve's thresholds (0.5 and 0.7
    are among the 99 of linspace(0.01, 0.99)); a ValueError names the missing one.
    """
    check_array("curve", curve, shape=(None, 4), kind="f")
    out = {}
    for threshold in thresholds:
        rows = np.flatnonzero(np.abs(curve[:, 0] - threshold) <= atol)
        if rows.size == 0:
            raise ValueError(f"threshold {threshold:g} is not one of the benchmark's {len(curve)} thresholds")
        _, recall, precision, f = curve[rows[0]]
        out[float(threshold)] = {"precision": float(precision), "recall": float(recall), "f": float(f)}
    return out

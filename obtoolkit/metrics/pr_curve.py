"""From boundary counts to the BSDS numbers: R, P, F per threshold, ODS, OIS, AP and R50.

Conventions follow the Berkeley benchmark (`collect_eval_bdry`) and pdollar's `edgesEvalDir`, which reproduce each
other: R = cntR / max(eps, sumR), P = cntP / max(eps, sumP), F = 2PR / max(eps, P + R) with eps = 2.2e-16.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

EPS = float(np.finfo(np.float64).eps)


class BestPoint(NamedTuple):
    """A point of a PR curve: threshold, recall, precision, F-measure (floats)."""

    threshold: float
    recall: float
    precision: float
    f_measure: float


def recall_precision_f(cnt_r, sum_r, cnt_p, sum_p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recall, precision and F (float64 arrays) from counts; empty denominators give 0, never NaN."""
    cnt_r, sum_r, cnt_p, sum_p = (np.asarray(a, dtype=np.float64) for a in (cnt_r, sum_r, cnt_p, sum_p))
    recall = cnt_r / np.maximum(EPS, sum_r)
    precision = cnt_p / np.maximum(EPS, sum_p)
    f_measure = 2.0 * precision * recall / np.maximum(EPS, precision + recall)
    return recall, precision, f_measure


def best_interpolated(thresholds: np.ndarray, recall: np.ndarray, precision: np.ndarray) -> BestPoint:
    """The best F on the curve, interpolating linearly (100 points) between consecutive thresholds (ODS).

    Args:
        thresholds, recall, precision: (K,) float arrays in threshold order.

    Returns:
        the first maximum, as MATLAB's `findBestRPF` finds it.
    """
    if len(thresholds) == 1:
        r, p = float(recall[0]), float(precision[0])
        return BestPoint(float(thresholds[0]), r, p, 2 * p * r / max(EPS, p + r))
    a = np.linspace(0.0, 1.0, 100)
    b = 1.0 - a
    best = BestPoint(np.nan, np.nan, np.nan, -1.0)
    for j in range(1, len(thresholds)):
        rj = recall[j] * a + recall[j - 1] * b
        pj = precision[j] * a + precision[j - 1] * b
        tj = thresholds[j] * a + thresholds[j - 1] * b
        fj = 2.0 * pj * rj / np.maximum(EPS, pj + rj)
        k = int(np.argmax(fj))
        if fj[k] > best.f_measure:
            best = BestPoint(float(tj[k]), float(rj[k]), float(pj[k]), float(fj[k]))
    return best


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """BSDS AP: P(R) interpolated linearly at R = 0, 0.01, ..., 1 inside [min R, max R], summed, divided by 100.

    One point is kept per distinct recall (its first occurrence in threshold order). Fewer than two distinct
    recalls give 0.
    """
    unique_r, first = np.unique(np.asarray(recall, dtype=np.float64), return_index=True)
    if len(unique_r) < 2:
        return 0.0
    unique_p = np.asarray(precision, dtype=np.float64)[first]
    grid = np.linspace(0.0, 1.0, 101)
    inside = (grid >= unique_r[0]) & (grid <= unique_r[-1])
    return float(np.interp(grid[inside], unique_r, unique_p).sum() / 100.0)


def recall_at_precision(recall: np.ndarray, precision: np.ndarray, target: float = 0.5) -> float:
    """R50: recall interpolated at precision `target`, or at the lowest precision when all are above it.

    NaN when every precision is below `target` (pdollar's `interp1` returns NaN there too).
    """
    unique_p, first = np.unique(np.asarray(precision, dtype=np.float64), return_index=True)
    query = max(float(unique_p[0]), target)
    if query > unique_p[-1]:
        return float("nan")
    if len(unique_p) == 1:
        return float(np.asarray(recall, dtype=np.float64)[first[0]])
    return float(np.interp(query, unique_p, np.asarray(recall, dtype=np.float64)[first]))

"""Occlusion-orientation metrics (DOC -> DOOBNet -> MT-ORL -> P2ORM): OPR and AOR from oriented boundary counts.

A matched predicted pixel has a correct orientation when |theta_pred - theta_gt| mod 2 pi lies in [0, pi/2] or
[3 pi/2, 2 pi) (within 90 degrees of its GT partner, doobscripts `correspondOccPixels`). `image_boundary_counts`
counts these pixels when given orientation maps (`cnt_p_oriented`, `cnt_r_oriented`).

- OPR: precision = cnt_p_oriented / sumP, recall = the boundary recall cntR / sumR (the released
  `collect_eval_bdry_occ` uses these columns); ODS / OIS / AP as for boundaries.
- AOR: x = boundary recall, y = cnt_p_oriented / cntP (the share of matched predictions with a correct
  orientation), one point per threshold.
"""

from __future__ import annotations

import numpy as np

from obtoolkit.metrics.boundary import BoundaryCounts
from obtoolkit.metrics.pr_curve import EPS


def orientation_agrees(theta_pred_rad: np.ndarray, theta_gt_rad: np.ndarray) -> np.ndarray:
    """bool array: the two orientations (radians, any range) are within 90 degrees of each other."""
    diff = np.mod(np.asarray(theta_pred_rad, dtype=np.float64) - theta_gt_rad, 2.0 * np.pi)
    return (diff <= 0.5 * np.pi) | (diff >= 1.5 * np.pi)


def opr_counts(counts: BoundaryCounts) -> BoundaryCounts:
    """Counts whose precision is the OPR precision: cntP replaced by the correctly oriented matched predictions."""
    if counts.cnt_p_oriented is None:
        raise ValueError("counts: no orientation counts (pass orientation maps to image_boundary_counts)")
    return BoundaryCounts(counts.thresholds, counts.cnt_r, counts.sum_r, counts.cnt_p_oriented, counts.sum_p)


def aor_curve(counts: BoundaryCounts) -> np.ndarray:
    """(K, 3) float64 rows [threshold, boundary recall, oriented share of matched predictions] (AOR)."""
    if counts.cnt_p_oriented is None:
        raise ValueError("counts: no orientation counts (pass orientation maps to image_boundary_counts)")
    recall = counts.cnt_r / np.maximum(EPS, counts.sum_r)
    share = counts.cnt_p_oriented / np.maximum(EPS, counts.cnt_p)
    return np.stack([counts.thresholds, recall, share], axis=1)


def sum_counts(all_counts: list[BoundaryCounts]) -> BoundaryCounts:
    """Element-wise sum of several images' counts (orientation counts kept when every image has them)."""
    first = all_counts[0]
    oriented = all(c.cnt_p_oriented is not None for c in all_counts)

    def total(name: str) -> np.ndarray:
        return np.sum([getattr(c, name) for c in all_counts], axis=0).astype(np.int64)

    return BoundaryCounts(first.thresholds, total("cnt_r"), total("sum_r"), total("cnt_p"), total("sum_p"),
                          total("cnt_p_oriented") if oriented else None,
                          total("cnt_r_oriented") if oriented else None)

"""iBims-1 depth-boundary errors (Koch et al. 2018; the official Python by T. Koch, as copied in P2ORM and MoDOT).

Reference edges are hand-annotated (iBims `edges`, NYUv2-OC++) or an OB ground truth; predicted edges are Canny
edges of the min-max normalised predicted depth (sigma sqrt(2), thresholds 0.15 / 0.3). With D_gt the distance to the
nearest GT edge pixel, D_est the distance to the nearest predicted edge pixel and tau = 10 px:

- accuracy = mean of D_gt over predicted edge pixels with D_gt < tau;
- completeness = (sum over predicted edges of min(D_gt, tau) + sum over GT edges of min(D_est, tau))
  / (#predicted edges + #GT edges)   (the official code's symmetric, truncated chamfer).

No GT edge: both NaN. No predicted edge within tau of a GT edge: both tau. Distances are in pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import feature

from obtoolkit._checks import check_array


def predicted_depth_edges(pred_depth_du: np.ndarray, valid_mask: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool Canny edges of the prediction normalised to [0, 1] over its nonzero (and valid) pixels.

    Zero, non-finite and masked-out pixels are NaN before the filter, as in the official code (they produce no edge).
    """
    check_array("pred_depth_du", pred_depth_du, shape=(None, None), kind="fiu")
    pred = np.asarray(pred_depth_du, dtype=np.float64).copy()
    invalid = (pred == 0) | ~np.isfinite(pred)
    if valid_mask is not None:
        invalid |= ~valid_mask
    if invalid.all():
        return np.zeros(pred.shape, dtype=bool)
    pred[invalid] = np.nan
    pred -= np.nanmin(pred)
    top = np.nanmax(pred)
    if top > 0:
        pred /= top
    with np.errstate(invalid="ignore"):
        return feature.canny(pred, sigma=np.sqrt(2.0), low_threshold=0.15, high_threshold=0.3)


def boundary_errors_from_edges(pred_edges: np.ndarray, gt_edges: np.ndarray, tau_px: float = 10.0
                               ) -> tuple[float, float]:
    """(accuracy, completeness) in pixels from two (H, W) bool edge maps (definition in the module docstring)."""
    check_array("pred_edges", pred_edges, shape=(None, None), kind="b")
    check_array("gt_edges", gt_edges, shape=pred_edges.shape, kind="b")
    if not gt_edges.any():
        return float("nan"), float("nan")
    d_gt = ndimage.distance_transform_edt(~gt_edges)
    near = pred_edges & (d_gt < tau_px)
    if not near.any():
        return float(tau_px), float(tau_px)
    accuracy = float(d_gt[near].mean())
    if pred_edges.any():
        d_est = ndimage.distance_transform_edt(~pred_edges)
    else:
        d_est = np.full(gt_edges.shape, np.inf)
    total = np.minimum(d_gt[pred_edges], tau_px).sum() + np.minimum(d_est[gt_edges], tau_px).sum()
    completeness = float(total / (pred_edges.sum() + gt_edges.sum()))
    return accuracy, completeness


def depth_boundary_errors(pred_depth_du: np.ndarray, gt_edges: np.ndarray, valid_mask: np.ndarray | None = None,
                          tau_px: float = 10.0) -> dict[str, float]:
    """{"dbe_acc", "dbe_comp"} of one image (pixels; NaN without GT edges).

    Args:
        pred_depth_du: (H, W) float predicted depth (any unit: it is normalised).
        gt_edges: (H, W) bool reference depth edges.
        valid_mask: (H, W) bool; predicted and reference edges outside it are dropped (MoDOT's masked variant).
        tau_px: truncation distance in pixels.
    """
    check_array("gt_edges", gt_edges, shape=pred_depth_du.shape, kind="b")
    pred_edges = predicted_depth_edges(pred_depth_du, valid_mask)
    reference = gt_edges if valid_mask is None else gt_edges & valid_mask
    accuracy, completeness = boundary_errors_from_edges(pred_edges, reference, tau_px)
    return {"dbe_acc": accuracy, "dbe_comp": completeness}

"""iBims-1 depth-boundary errors (Koch et al. 2018; the official Python by T. Koch, as copied in P2ORM and MoDOT).

Reference edges are hand-annotated (iBims `edges`, NYUv2-OC++) or an OB ground truth; predicted edges are Canny
edges of the min-max normalised predicted depth (sigma sqrt(2), thresholds 0.15 / 0.3). With D_gt the distance to the
nearest reference edge pixel, D_est the distance to the nearest predicted edge pixel and tau = 10 px:

- accuracy = mean of D_gt over predicted edge pixels with D_gt < tau;
- completeness = (sum over predicted edges of min(D_gt, tau) + sum over reference edges of min(D_est, tau))
  / (#predicted edges + #reference edges)   (the official code's symmetric, truncated chamfer).

No reference edge: both NaN. No predicted edge within tau of a reference edge: both tau. Distances are in pixels.

Two modes differ only when a valid mask is given (`depth_boundary_errors(mode=...)`):
- "ours": the mask applies first and everywhere. The prediction is normalised over its valid pixels and Canny runs
  with the mask (skimage smooths the valid pixels only and finds no edge on the mask's border); predicted and
  reference edges outside the mask are dropped; both errors use the remaining edges only.
- "official": MoDOT's `ob_evals.compute_depth_boundary_error` exactly. Canny runs on the whole prediction
  (float32, zeros as NaN); the mask multiplies only the accuracy terms and D_gt: predicted edges outside the mask add
  0 to the completeness sum but still count in its denominator, and reference edges outside it count in full.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage
from skimage import feature

from obtoolkit._checks import check_array

DbeMode = Literal["ours", "official"]
CANNY_SIGMA = float(np.sqrt(2.0))
CANNY_LOW, CANNY_HIGH = 0.15, 0.3


def predicted_depth_edges(pred_depth_du: np.ndarray, valid_mask: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool Canny edges of the prediction (our mode).

    The prediction is min-max normalised over its usable pixels (finite, nonzero and inside `valid_mask`), and
    Canny's smoothing uses only those pixels (skimage's `mask`): invalid regions neither create edges nor erase the
    edges next to them.
    """
    check_array("pred_depth_du", pred_depth_du, shape=(None, None), kind="fiu")
    pred = np.asarray(pred_depth_du, dtype=np.float64)
    usable = np.isfinite(pred) & (pred != 0)
    if valid_mask is not None:
        check_array("valid_mask", valid_mask, shape=pred.shape, kind="b")
        usable &= valid_mask
    if not usable.any():
        return np.zeros(pred.shape, dtype=bool)
    low, high = pred[usable].min(), pred[usable].max()
    normalised = np.where(usable, (pred - low) / (high - low if high > low else 1.0), 0.0)
    return feature.canny(normalised, sigma=CANNY_SIGMA, low_threshold=CANNY_LOW, high_threshold=CANNY_HIGH,
                         mask=usable)


def official_predicted_depth_edges(pred_depth_du: np.ndarray) -> np.ndarray:
    """(H, W) bool Canny edges as `ob_evals.compute_depth_boundary_error` computes them: float32, zeros as NaN,
    min-max normalised over the non-NaN pixels, Canny on the whole image."""
    check_array("pred_depth_du", pred_depth_du, shape=(None, None), kind="fiu")
    pred = np.asarray(pred_depth_du).astype(np.float32)
    pred[pred == 0] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.isnan(pred).all():
            return np.zeros(pred.shape, dtype=bool)
        pred = pred - np.nanmin(pred)
        pred = pred / np.nanmax(pred)
        return feature.canny(pred, sigma=CANNY_SIGMA, low_threshold=CANNY_LOW, high_threshold=CANNY_HIGH)


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
    d_est = ndimage.distance_transform_edt(~pred_edges)
    total = np.minimum(d_gt[pred_edges], tau_px).sum() + np.minimum(d_est[gt_edges], tau_px).sum()
    completeness = float(total / (pred_edges.sum() + gt_edges.sum()))
    return accuracy, completeness


def official_boundary_errors_from_edges(pred_edges: np.ndarray, gt_edges: np.ndarray,
                                        valid_mask: np.ndarray | None = None, tau_px: float = 10.0
                                        ) -> tuple[float, float]:
    """(accuracy, completeness) with the official code's arithmetic, mask included (see the module docstring)."""
    check_array("pred_edges", pred_edges, shape=(None, None), kind="b")
    check_array("gt_edges", gt_edges, shape=pred_edges.shape, kind="b")
    if not gt_edges.any():
        return float("nan"), float("nan")
    mask = np.ones(pred_edges.shape) if valid_mask is None else check_array(
        "valid_mask", valid_mask, shape=pred_edges.shape, kind="b").astype(np.float64)
    d_gt = ndimage.distance_transform_edt(~gt_edges)
    d_est = ndimage.distance_transform_edt(~pred_edges) if pred_edges.any() else np.full(pred_edges.shape, np.inf)
    near = pred_edges * (d_gt < tau_px) * mask
    d_gt_masked = d_gt * mask
    if near.sum() == 0:
        return float(tau_px), float(tau_px)
    accuracy = float((d_gt_masked * near).sum() / near.sum())
    to_gt = np.minimum(d_gt_masked[pred_edges], tau_px).sum()
    to_pred = np.minimum(d_est[gt_edges], tau_px).sum()
    return accuracy, float((to_gt + to_pred) / (pred_edges.sum() + gt_edges.sum()))


def depth_boundary_errors(pred_depth_du: np.ndarray, gt_edges: np.ndarray, valid_mask: np.ndarray | None = None,
                          tau_px: float = 10.0, *, mode: DbeMode = "ours") -> dict[str, float]:
    """{"dbe_acc", "dbe_comp"} of one image (pixels; NaN without reference edges).

    Args:
        pred_depth_du: (H, W) float predicted depth (any unit: it is normalised).
        gt_edges: (H, W) bool reference edges (the dataset's depth edges or the OB ground truth).
        valid_mask: (H, W) bool valid pixels (e.g. the GT depth mask).
        tau_px: truncation distance in pixels.
        mode: "ours" (the mask applies first, everywhere) or "official" (ob_evals.py exactly).
    """
    check_array("gt_edges", gt_edges, shape=pred_depth_du.shape, kind="b")
    if mode == "official":
        edges = official_predicted_depth_edges(pred_depth_du) if gt_edges.any() else np.zeros_like(gt_edges)
        accuracy, completeness = official_boundary_errors_from_edges(edges, gt_edges, valid_mask, tau_px)
    elif mode == "ours":
        reference = gt_edges if valid_mask is None else gt_edges & valid_mask
        accuracy, completeness = boundary_errors_from_edges(predicted_depth_edges(pred_depth_du, valid_mask),
                                                            reference, tau_px)
    else:
        raise ValueError(f"mode: expected 'ours' or 'official', got {mode!r}")
    return {"dbe_acc": accuracy, "dbe_comp": completeness}

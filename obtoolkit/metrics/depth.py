"""Depth metrics (BTS / NeWCRFs / MoDOT convention): per image over the valid pixels, then averaged over images.

Units: `du` is the dataset's depth unit: metres for NYUD-MT, NYUD, OB-FUTURE and iBims-1; Hypersim's Euclidean
distance divided by 3.05 for OB-Hypersim (MoDOT's convention). Metrics are unit-free except RMSE (du) and SqRel (du).

Per image, with g = GT and p = prediction over the valid pixels:
AbsRel = mean(|g - p| / g); SqRel = mean((g - p)^2 / g); RMSE = sqrt(mean((g - p)^2));
RMSE_log = sqrt(mean((ln g - ln p)^2)); log10 = mean(|log10 p - log10 g|);
SILog = 100 sqrt(mean(e^2) - mean(e)^2), e = ln p - ln g; delta_k = mean(max(g/p, p/g) < 1.25^k), k = 1, 2, 3.
Valid pixels: finite GT with valid_min < g < valid_max, inside `valid_mask` and inside the crop. The prediction is
multiplied by `pred_scale`, then clamped to [clamp_min, clamp_max] (NaN -> clamp_min, +inf -> clamp_max).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from obtoolkit._checks import check_array

METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "delta1", "delta2", "delta3")


@dataclasses.dataclass(frozen=True)
class DepthEvalOptions:
    """Which pixels count and how predictions are clamped, per dataset (`DEPTH_PRESETS`).

    valid_min, valid_max: GT range, both exclusive, in du (valid_max may be inf).
    clamp_min, clamp_max: prediction clamp in du.
    crop: (top, bottom, left, right) 0-based, end-exclusive rows/columns kept, or None.
    pred_scale: factor applied to the prediction first (1.0; MoDOT's iBims transfer script uses 3.7 for its models).
    """

    valid_min: float
    valid_max: float
    clamp_min: float
    clamp_max: float
    crop: tuple[int, int, int, int] | None = None
    pred_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.clamp_min < self.clamp_max:
            raise ValueError(f"clamp: expected clamp_min < clamp_max, got {self.clamp_min}, {self.clamp_max}")
        if self.clamp_min <= 0:
            raise ValueError(f"clamp_min: expected > 0 (logarithms follow), got {self.clamp_min}")


DEPTH_PRESETS: dict[str, DepthEvalOptions] = {
    # NYUD-MT (MoDOT's `nyudmt`): metres, no crop.
    "nyudmt": DepthEvalOptions(valid_min=1e-3, valid_max=10.0, clamp_min=1e-3, clamp_max=10.0),
    # NYUD with the Eigen crop (rows 45:471, columns 41:601 of 480 x 640).
    "nyud": DepthEvalOptions(valid_min=1e-3, valid_max=10.0, clamp_min=1e-3, clamp_max=10.0, crop=(45, 471, 41, 601)),
    # OB-Hypersim: Euclidean distance / 3.05; any finite positive GT is valid.
    "hypersim": DepthEvalOptions(valid_min=0.0, valid_max=math.inf, clamp_min=0.06, clamp_max=100.0),
    # OB-FUTURE (`synocc`): 8-bit PNG / 25.5, one step = 0.0392.
    "ob_future": DepthEvalOptions(valid_min=0.0, valid_max=10.0, clamp_min=0.0392, clamp_max=10.0),
    # iBims-1 zero-shot: the dataset's masks travel in valid_mask; GT 0 is invalid.
    "ibims": DepthEvalOptions(valid_min=0.0, valid_max=math.inf, clamp_min=1e-3, clamp_max=52.0),
}


def valid_depth_mask(gt_depth_du: np.ndarray, options: DepthEvalOptions, valid_mask: np.ndarray | None = None
                     ) -> np.ndarray:
    """(H, W) bool: the pixels that enter the depth metrics (finite GT in range, inside the mask and the crop)."""
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(gt_depth_du) & (gt_depth_du > options.valid_min) & (gt_depth_du < options.valid_max)
    if valid_mask is not None:
        valid &= valid_mask
    if options.crop is not None:
        top, bottom, left, right = options.crop
        cropped = np.zeros_like(valid)
        cropped[top:bottom, left:right] = True
        valid &= cropped
    return valid


def clamp_prediction(pred_depth_du: np.ndarray, options: DepthEvalOptions) -> np.ndarray:
    """float64 copy of the prediction, scaled, with NaN -> clamp_min, inf -> clamp_max, then clipped."""
    pred = np.asarray(pred_depth_du, dtype=np.float64) * options.pred_scale
    pred = np.nan_to_num(pred, nan=options.clamp_min, posinf=options.clamp_max, neginf=options.clamp_min)
    return np.clip(pred, options.clamp_min, options.clamp_max)


def depth_errors(pred_depth_du: np.ndarray, gt_depth_du: np.ndarray, options: DepthEvalOptions,
                 valid_mask: np.ndarray | None = None, *, where: str = "") -> dict[str, float] | None:
    """The nine standard metrics of one image.

    Args:
        pred_depth_du, gt_depth_du: (H, W) float depth in du; GT may hold NaN/inf/0 where invalid.
        options: validity range, clamp, crop and scale.
        valid_mask: (H, W) bool; False pixels are ignored.
        where: context for error messages.

    Returns:
        {name: float} for METRIC_NAMES, or None when the image has no valid pixel.
    """
    check_array("pred_depth_du", pred_depth_du, shape=(None, None), kind="fiu", where=where)
    check_array("gt_depth_du", gt_depth_du, shape=pred_depth_du.shape, kind="fiu", where=where)
    if valid_mask is not None:
        check_array("valid_mask", valid_mask, shape=pred_depth_du.shape, kind="b", where=where)
    valid = valid_depth_mask(gt_depth_du, options, valid_mask)
    if not valid.any():
        return None
    g = np.asarray(gt_depth_du, dtype=np.float64)[valid]
    p = clamp_prediction(pred_depth_du, options)[valid]
    ratio = np.maximum(g / p, p / g)
    e = np.log(p) - np.log(g)
    return {
        "abs_rel": float(np.mean(np.abs(g - p) / g)),
        "sq_rel": float(np.mean((g - p) ** 2 / g)),
        "rmse": float(np.sqrt(np.mean((g - p) ** 2))),
        "rmse_log": float(np.sqrt(np.mean(e**2))),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "silog": float(100.0 * np.sqrt(max(np.mean(e**2) - np.mean(e) ** 2, 0.0))),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
    }


class DepthMetric:
    """Per-image metrics summed with update, averaged by compute (images without valid pixels are counted apart).

    Any metric name may be added (e.g. the depth-boundary errors), each averaged over the images that report a
    finite value for it.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.n_images = 0
        self.n_skipped = 0

    def update(self, metrics: dict[str, float] | None) -> None:
        """Add one image's metrics; None records an image without valid pixels."""
        if metrics is None:
            self.n_skipped += 1
            return
        self.n_images += 1
        for name, value in metrics.items():
            if math.isfinite(value):
                self.sums[name] = self.sums.get(name, 0.0) + value
                self.counts[name] = self.counts.get(name, 0) + 1

    def compute(self) -> dict[str, float]:
        """Mean of each metric over the images that reported it, plus n_images and n_skipped."""
        means = {name: self.sums[name] / self.counts[name] for name in self.sums}
        return {**means, "n_images": self.n_images, "n_skipped": self.n_skipped}

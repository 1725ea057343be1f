"""Depth metrics (BTS / NeWCRFs / MoDOT convention): per image over the valid pixels, then averaged over images.

Units: `du` is the dataset's depth unit: metres for NYUD-MT, NYUD, OB-FUTURE and iBims-1; Hypersim's Euclidean
distance divided by 3.05 for OB-Hypersim (MoDOT's convention). Metrics are unit-free except RMSE (du) and SqRel (du).

Per image, with g = GT and p = prediction over the valid pixels:
AbsRel = mean(|g - p| / g); SqRel = mean((g - p)^2 / g); RMSE = sqrt(mean((g - p)^2));
RMSE_log = sqrt(mean((ln g - ln p)^2)); log10 = mean(|log10 p - log10 g|);
SILog = 100 sqrt(mean(e^2) - mean(e)^2), e = ln p - ln g; delta_k = mean(max(g/p, p/g) < 1.25^k), k = 1, 2, 3.
Valid pixels: finite GT with valid_min < g < valid_max, inside `valid_mask` and inside the crop. The prediction is
multiplied by `pred_scale` (1.0 in every preset), then clamped to [clamp_min, clamp_max] (NaN -> clamp_min,
+inf -> clamp_max).

Scale policies (`aligned_depth_errors`, reported side by side): "none" (metric depth as predicted), "official"
(MoDOT's zero-shot rescale, `official_zero_shot_factor`), "median" (per image, median(g) / median(p)),
"lsq_scale" (per image, least squares s minimising sum (s p - g)^2) and "lsq_scale_shift" (per image, least squares
s, t minimising sum (s p + t - g)^2). Alignments are fitted in depth (not inverse depth) on the valid pixels with a
finite prediction, applied to the prediction, and the result is clamped as above.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

from obtoolkit._checks import check_array

METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "delta1", "delta2", "delta3")


@dataclasses.dataclass(frozen=True)
class DepthEvalOptions:
    """Which pixels count and how predictions are clamped, per dataset (`DEPTH_PRESETS`).

    valid_min, valid_max: GT range, both exclusive, in du (valid_max may be inf).
    clamp_min, clamp_max: prediction clamp in du.
    crop: (top, bottom, left, right) 0-based, end-exclusive rows/columns kept, or None.
    pred_scale: a fixed factor applied to the prediction before anything else (1.0 in every preset). It is NOT
        MoDOT's zero-shot "x 3.7": that constant multiplies an output rebuilt with the eval max_depth, so its
        equivalent on a prediction in metres depends on the checkpoint (`official_zero_shot_factor`, applied by the
        "official" scale policy of `aligned_depth_errors`).
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
    # DIODE zero-shot: the depth mask travels in valid_mask; clamp to the official max_depth_eval 350 (its
    # min_depth_eval 0 becomes 1e-3, since the logarithmic metrics need a positive prediction).
    "diode": DepthEvalOptions(valid_min=0.0, valid_max=math.inf, clamp_min=1e-3, clamp_max=350.0),
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


def _check_inputs(pred_depth_du, gt_depth_du, valid_mask, where) -> None:
    check_array("pred_depth_du", pred_depth_du, shape=(None, None), kind="fiu", where=where)
    check_array("gt_depth_du", gt_depth_du, shape=pred_depth_du.shape, kind="fiu", where=where)
    if valid_mask is not None:
        check_array("valid_mask", valid_mask, shape=pred_depth_du.shape, kind="b", where=where)


def _metrics(g: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The nine metrics of 1-D float64 GT `g` and clamped prediction `p` (both > 0)."""
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


def depth_errors(pred_depth_du: np.ndarray, gt_depth_du: np.ndarray, options: DepthEvalOptions,
                 valid_mask: np.ndarray | None = None, *, where: str = "") -> dict[str, float] | None:
    """The nine standard metrics of one image (scale policy "none").

    Args:
        pred_depth_du, gt_depth_du: (H, W) float depth in du; GT may hold NaN/inf/0 where invalid.
        options: validity range, clamp, crop and scale.
        valid_mask: (H, W) bool; False pixels are ignored.
        where: context for error messages.

    Returns:
        {name: float} for METRIC_NAMES, or None when the image has no valid pixel.
    """
    _check_inputs(pred_depth_du, gt_depth_du, valid_mask, where)
    valid = valid_depth_mask(gt_depth_du, options, valid_mask)
    if not valid.any():
        return None
    g = np.asarray(gt_depth_du, dtype=np.float64)[valid]
    return _metrics(g, clamp_prediction(pred_depth_du, options)[valid])


# -- scale policies ------------------------------------------------------------------------------------------------

ScalePolicy = Literal["none", "official", "median", "lsq_scale", "lsq_scale_shift"]
SCALE_POLICIES: tuple[ScalePolicy, ...] = ("none", "official", "median", "lsq_scale", "lsq_scale_shift")
# eval_final_transfer.py multiplies the output of MoDOT-family models by this constant after rebuilding the network
# with the zero-shot config's max_depth (iBims 52, DIODE 350, EntitySeg 10).
OFFICIAL_ZERO_SHOT_MULTIPLIER = 3.7


def official_zero_shot_factor(*, max_depth_eval: float, checkpoint_max_depth: float, checkpoint_unit_m: float,
                              multiplier: float = OFFICIAL_ZERO_SHOT_MULTIPLIER) -> float:
    """The factor on our prediction (in metres) that reproduces MoDOT's official zero-shot depth.

    The official script builds the network with max_depth = max_depth_eval, so it outputs sigmoid x max_depth_eval,
    then multiplies by 3.7 (iBims: sigmoid x 52 x 3.7 = sigmoid x 192.4 m). A checkpoint trained with max_depth M in
    units of u metres predicts sigmoid x M x u metres (OB-Hypersim: 100 x 3.05 m = 305 m). The same sigmoid thus
    needs the factor (max_depth_eval x 3.7) / (M x u): 192.4 / 305 = 0.6308 on iBims, not 3.7.

    Args:
        max_depth_eval: the zero-shot config's max_depth (`EvalPreset.zero_shot_max_depth`).
        checkpoint_max_depth: the checkpoint's max_depth M, in its depth units.
        checkpoint_unit_m: metres per depth unit of the checkpoint (3.05 for MoDOT's OB-Hypersim units, 1 for metres).
        multiplier: the hard-coded constant (3.7).
    """
    for name, value in (("max_depth_eval", max_depth_eval), ("checkpoint_max_depth", checkpoint_max_depth),
                        ("checkpoint_unit_m", checkpoint_unit_m), ("multiplier", multiplier)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: expected a finite value > 0, got {value}")
    return max_depth_eval * multiplier / (checkpoint_max_depth * checkpoint_unit_m)


@dataclasses.dataclass(frozen=True)
class Alignment:
    """aligned prediction = scale x prediction + shift (NaN scale: no alignment exists, the prediction becomes NaN)."""

    scale: float
    shift: float = 0.0


def fit_alignment(pred: np.ndarray, gt: np.ndarray, policy: ScalePolicy, *, official_factor: float | None = None
                  ) -> Alignment:
    """The alignment of one image under `policy`, from 1-D float64 prediction and GT over the fitting pixels.

    median: median(gt) / median(pred) (NaN unless median(pred) > 0). lsq_scale: sum(p g) / sum(p^2) (NaN if all
    p are 0). lsq_scale_shift: s = cov(p, g) / var(p), t = mean(g) - s mean(p); a constant prediction gives s = 0,
    t = mean(g) (every least-squares solution predicts mean(g)). No pixel: NaN.
    """
    if policy == "none":
        return Alignment(1.0)
    if policy == "official":
        if official_factor is None:
            raise ValueError("scale policy 'official' needs official_factor (see official_zero_shot_factor)")
        return Alignment(float(official_factor))
    if policy not in SCALE_POLICIES:
        raise ValueError(f"scale policy: expected one of {SCALE_POLICIES}, got {policy!r}")
    if pred.size == 0:
        return Alignment(math.nan)
    if policy == "median":
        denominator = float(np.median(pred))
        return Alignment(float(np.median(gt)) / denominator if denominator > 0 else math.nan)
    if policy == "lsq_scale":
        denominator = float(np.dot(pred, pred))
        return Alignment(float(np.dot(pred, gt)) / denominator if denominator > 0 else math.nan)
    p_mean, g_mean = float(pred.mean()), float(gt.mean())
    variance = float(np.mean((pred - p_mean) ** 2))
    if variance == 0:
        return Alignment(0.0, g_mean)
    scale = float(np.mean((pred - p_mean) * (gt - g_mean))) / variance
    return Alignment(scale, g_mean - scale * p_mean)


def aligned_depth_errors(pred_depth_du: np.ndarray, gt_depth_du: np.ndarray, options: DepthEvalOptions,
                         valid_mask: np.ndarray | None = None, *, policies: tuple[ScalePolicy, ...] = SCALE_POLICIES,
                         official_factor: float | None = None, where: str = ""
                         ) -> dict[str, dict[str, float] | None]:
    """The nine metrics of one image under each scale policy, plus the fitted "scale" and "shift".

    Args as `depth_errors`; `official_factor` is required when "official" is among `policies`. The alignment is
    fitted on the valid pixels with a finite prediction (after `pred_scale`), applied to the whole prediction, then
    clamped. Returns {policy: metrics or None (no valid pixel)}.
    """
    _check_inputs(pred_depth_du, gt_depth_du, valid_mask, where)
    valid = valid_depth_mask(gt_depth_du, options, valid_mask)
    if "official" in policies and official_factor is None:
        raise ValueError("scale policy 'official' needs official_factor (see official_zero_shot_factor)")
    if not valid.any():
        return {policy: None for policy in policies}
    pred = np.asarray(pred_depth_du, dtype=np.float64) * options.pred_scale
    gt = np.asarray(gt_depth_du, dtype=np.float64)
    fit = valid & np.isfinite(pred)
    unscaled = dataclasses.replace(options, pred_scale=1.0)
    results: dict[str, dict[str, float] | None] = {}
    for policy in policies:
        alignment = fit_alignment(pred[fit], gt[fit], policy, official_factor=official_factor)
        with np.errstate(invalid="ignore", over="ignore"):
            aligned = pred * alignment.scale + alignment.shift
        metrics = _metrics(gt[valid], clamp_prediction(aligned, unscaled)[valid])
        results[policy] = {**metrics, "scale": alignment.scale, "shift": alignment.shift}
    return results


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


class AlignedDepthMetric:
    """One `DepthMetric` per scale policy: update with `aligned_depth_errors`' output, compute side by side."""

    def __init__(self, policies: tuple[ScalePolicy, ...] = SCALE_POLICIES) -> None:
        self.policies = tuple(policies)
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self.metrics = {policy: DepthMetric() for policy in self.policies}

    def update(self, per_policy: dict[str, dict[str, float] | None]) -> None:
        """Add one image's metrics under every policy."""
        for policy in self.policies:
            self.metrics[policy].update(per_policy[policy])

    def compute(self) -> dict[str, dict[str, float]]:
        """{policy: DepthMetric.compute()}."""
        return {policy: metric.compute() for policy, metric in self.metrics.items()}


def policy_table(results: dict[str, dict[str, float]], names: tuple[str, ...] = METRIC_NAMES) -> str:
    """A plain-text table, one row per scale policy, one column per metric (the side-by-side report); columns are
    separated by at least one space, however large a value (a wrong scale can give a SqRel of 10,000)."""
    header = f"{'policy':<16}" + "".join(f" {name:>10}" for name in names)
    rows = [header]
    for policy, metrics in results.items():
        rows.append(f"{policy:<16}" + "".join(f" {metrics.get(name, math.nan):>10.4f}" for name in names))
    return "\n".join(rows)

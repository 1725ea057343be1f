"""The validation monitor: what training looks at each validation, computed on the device in one pass.

Depth: the nine metrics of `obtoolkit.metrics.depth_errors` (same valid pixels, clamp and per-image averaging),
in float64 on the device: they equal the benchmark's up to summation order.

Boundaries: a tolerance-based F, cheap and monotone, good enough to follow training and pick checkpoints; the
exact ODS/OIS/AP (NMS, one-to-one matching) runs apart (`training.validation`). At each of the benchmark's
thresholds t, a predicted pixel (p >= t) counts as correct when a ground-truth pixel lies within r pixels of it, and
a ground-truth pixel as found when a predicted pixel lies within r pixels of it, with r = floor(max_dist x image
diagonal) in Chebyshev distance (a square window: two separable max-pools per image, whatever the number of
thresholds). Without one-to-one matching or NMS, thick or doubled predictions are not penalised, so the monitor's F
is typically above the exact benchmark's. The per-image counts go through `obtoolkit.metrics.BoundaryMetric`, so
ODS, OIS and AP are defined exactly as the benchmark's, on these counts.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from obtoolkit.metrics import BoundaryCounts, BoundaryMetric, DepthEvalOptions, thresholds

DEPTH_METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "delta1", "delta2", "delta3")


def depth_errors_batch(pred_depth_du: torch.Tensor, gt_depth_du: torch.Tensor, valid: torch.Tensor,
                       options: DepthEvalOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image depth metrics of a batch, on its device.

    Args:
        pred_depth_du, gt_depth_du: float (B, 1, H, W) depth in network units (GT may be 0, NaN or inf where
            invalid); valid: bool (B, 1, H, W) pixels with usable GT; options: valid range, clamp, crop and scale.

    Returns:
        metrics: float64 (B, 9) in `DEPTH_METRICS` order (meaningless where counted is False);
        counted: bool (B,) images with at least one valid pixel.
    """
    g = gt_depth_du.double()
    p = torch.nan_to_num(pred_depth_du.double() * options.pred_scale, nan=options.clamp_min,
                         posinf=options.clamp_max, neginf=options.clamp_min).clamp(options.clamp_min, options.clamp_max)
    mask = valid & torch.isfinite(g) & (g > options.valid_min) & (g < options.valid_max)
    if options.crop is not None:
        top, bottom, left, right = options.crop
        inside = torch.zeros_like(mask)
        inside[..., top:bottom, left:right] = True
        mask &= inside
    count = mask.sum(dim=(1, 2, 3))
    g = torch.where(mask, g, 1.0)
    p = torch.where(mask, p, 1.0)

    def mean(values: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, values, 0.0).sum(dim=(1, 2, 3)) / count.clamp_min(1)

    e = torch.log(p) - torch.log(g)
    ratio = torch.maximum(g / p, p / g)
    e_mean, e2_mean = mean(e), mean(e * e)
    metrics = torch.stack([
        mean((g - p).abs() / g), mean((g - p) ** 2 / g), mean((g - p) ** 2).sqrt(), e2_mean.sqrt(),
        mean((torch.log10(p) - torch.log10(g)).abs()), 100.0 * (e2_mean - e_mean**2).clamp_min(0.0).sqrt(),
        mean((ratio < 1.25).double()), mean((ratio < 1.25**2).double()), mean((ratio < 1.25**3).double()),
    ], dim=1)
    return metrics, count > 0


def max_pool_square(x: torch.Tensor, radius_px: int) -> torch.Tensor:
    """Maximum over the (2r + 1)^2 window around each pixel of float (B, 1, H, W), as two separable max-pools."""
    if radius_px == 0:
        return x
    k = 2 * radius_px + 1
    x = F.max_pool2d(x, kernel_size=(1, k), stride=1, padding=(0, radius_px))
    return F.max_pool2d(x, kernel_size=(k, 1), stride=1, padding=(radius_px, 0))


def tolerance_counts(probability: torch.Tensor, gt_boundary: torch.Tensor, thresholds_: torch.Tensor,
                     max_dist: float) -> torch.Tensor:
    """Per-image tolerance counts at every threshold, on the batch's device.

    Args:
        probability: float (B, 1, H, W) boundary probability; gt_boundary: bool (B, 1, H, W);
        thresholds_: float64 (K,) increasing, on the same device; max_dist: tolerance as a fraction of the diagonal.

    Returns:
        int64 (B, 4, K): rows cnt_r, sum_r, cnt_p, sum_p as in `obtoolkit.metrics.BoundaryCounts` (cnt_p: predicted
        pixels >= t within the window of a GT pixel; cnt_r: GT pixels with a predicted pixel >= t in their window).
    """
    batch, _, height, width = probability.shape
    radius = math.floor(max_dist * math.hypot(height, width))
    probability = probability.double()
    near_gt = max_pool_square(gt_boundary.double(), radius) > 0
    window_max = max_pool_square(probability, radius)
    k = len(thresholds_)

    def at_least(values: torch.Tensor) -> torch.Tensor:  # (B, K): pixels with value >= t_k, per image
        bins = torch.bucketize(values.reshape(batch, -1), thresholds_, right=True)  # thresholds <= value
        bins += torch.arange(batch, device=bins.device)[:, None] * (k + 1)
        histogram = torch.bincount(bins.reshape(-1), minlength=batch * (k + 1)).reshape(batch, k + 1)
        return histogram.flip(1).cumsum(1).flip(1)[:, 1:]

    nothing = torch.full_like(probability, -1.0)
    sum_p = at_least(probability)
    cnt_p = at_least(torch.where(near_gt, probability, nothing))
    cnt_r = at_least(torch.where(gt_boundary, window_max, nothing))
    sum_r = gt_boundary.reshape(batch, -1).sum(1)[:, None].expand(batch, k)
    return torch.stack([cnt_r, sum_r, cnt_p, sum_p], dim=1)


class ValidationMonitor:
    """Accumulates a validation pass on the device (`update`, no host synchronisation) and reads it once (`compute`).

    Results: `depth/<metric>` averaged over images with valid pixels (`depth/rmse_m` in metres, `depth/n_images`,
    `depth/n_skipped`), and `boundary_tolerance/{ods_f, ois_f, ap, ods_threshold}`; only for the predictions given
    (a single-task model's other task, or a dataset without depth options, is left out).

    depth: the depth options (None: no depth metrics), in units of `depth_unit_m` metres; depth_factor: multiplies
    predicted and GT depth (network units) into those units.
    """

    def __init__(self, depth: DepthEvalOptions | None, *, depth_unit_m: float, depth_factor: float = 1.0,
                 max_dist: float = 0.0075, n_thresholds: int = 99):
        self.depth, self.depth_unit_m, self.depth_factor, self.max_dist = depth, depth_unit_m, depth_factor, max_dist
        self.thresholds = thresholds(n_thresholds)
        self.reset()

    def reset(self) -> None:
        self.pr_totals: np.ndarray | None = None  # int64 (4, K) counts summed over images, after `compute`
        self._depth: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._counts: list[torch.Tensor] = []
        self.names: list[str] = []

    def update(self, names: list[str], pred_depth_du: torch.Tensor | None, probability: torch.Tensor | None,
               gt_depth_du: torch.Tensor, valid: torch.Tensor, gt_boundary: torch.Tensor,
               boundary_valid: torch.Tensor | None = None) -> None:
        """One batch, every tensor (B, 1, H, W) on one device (gt_boundary: 0/1 float or bool; boundary_valid: bool
        where the OB label is defined, None: everywhere); a prediction the model does not make is None."""
        if len(names) != gt_depth_du.shape[0]:
            raise ValueError(f"monitor: {len(names)} names for {gt_depth_du.shape[0]} frames")
        self.names += list(names)
        if pred_depth_du is not None and self.depth is not None:
            if self.depth_factor != 1.0:
                pred_depth_du, gt_depth_du = pred_depth_du * self.depth_factor, gt_depth_du * self.depth_factor
            self._depth.append(depth_errors_batch(pred_depth_du, gt_depth_du, valid, self.depth))
        if probability is not None:
            gt_boundary = gt_boundary > 0.5
            if boundary_valid is not None:
                probability, gt_boundary = torch.where(boundary_valid, probability, 0.0), gt_boundary & boundary_valid
            levels = torch.as_tensor(self.thresholds, device=probability.device)
            self._counts.append(tolerance_counts(probability, gt_boundary, levels, self.max_dist))

    def compute(self) -> tuple[dict[str, float], list[dict]]:
        """(the monitor's numbers, per-image depth rows {"name", metric: value}) in one transfer from the device."""
        out: dict[str, float] = {}
        rows: list[dict] = []
        if self._depth:
            metrics = torch.cat([m for m, _ in self._depth]).cpu().numpy()
            counted = torch.cat([c for _, c in self._depth]).cpu().numpy()
            rows = [{"name": name, **dict(zip(DEPTH_METRICS, map(float, values), strict=True))}
                    for name, values, ok in zip(self.names, metrics, counted, strict=True) if ok]
            if counted.any():
                out = {f"depth/{k}": float(v) for k, v in zip(DEPTH_METRICS, metrics[counted].mean(0), strict=True)}
                out["depth/rmse_m"] = out["depth/rmse"] * self.depth_unit_m
            out.update({"depth/n_images": int(counted.sum()), "depth/n_skipped": int((~counted).sum())})
        if self._counts:
            counts = torch.cat(self._counts).cpu().numpy()
            self.pr_totals = counts.sum(axis=0)
            out.update(self._boundary(counts))
        return out, rows

    def _boundary(self, counts: np.ndarray) -> dict[str, float]:
        metric = BoundaryMetric(self.thresholds)
        metric.update([BoundaryCounts(self.thresholds, *image) for image in counts])
        result = metric.compute()
        return {"boundary_tolerance/ods_f": result.ods.f_measure, "boundary_tolerance/ods_threshold":
                result.ods.threshold, "boundary_tolerance/ois_f": result.ois_f, "boundary_tolerance/ap": result.ap}

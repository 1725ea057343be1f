"""MoDOT's losses (spec modot.md §2) as small modules with explicit masks, each returning one named term.

The total is a dict of named terms (`depth`, `boundary`, `obdcl`) that the trainer sums and logs; weights are applied
inside each term, as in the official code. Schedules take `step` as an argument; no module keeps a counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


def _at_least_fp32(tensor: torch.Tensor) -> torch.Tensor:
    """Losses run in float32 under fp16/bf16 autocast, and in float64 when given float64 (gradcheck)."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


class SILogLoss(nn.Module):
    """Scale-invariant log loss, batch-pooled: weight * sqrt(mean(d^2) - variance_focus * mean(d)^2).

    d = log(pred) - log(gt) over the valid pixels of the whole batch; no x10 factor (as the official loss actually
    used); the quantity under the root is clamped at 1e-13.
    """

    def __init__(self, variance_focus: float = 0.85, weight: float = 1.2):
        super().__init__()
        self.variance_focus = variance_focus
        self.weight = weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor) -> torch.Tensor:
        """pred, target float (B, 1, H, W) depth in network units; valid_mask bool (B, 1, H, W). Masked sums, not
        boolean indexing: nothing here waits for the device. A batch without valid pixels gives 0."""
        valid = valid_mask & (target > 0)
        count = valid.sum()
        pred, target = _at_least_fp32(pred), _at_least_fp32(target)
        d = torch.where(valid, torch.log(pred.clamp_min(1e-8)) - torch.log(torch.where(valid, target, 1.0)), 0.0)
        n = count.clamp_min(1).to(d.dtype)
        value = ((d * d).sum() / n - self.variance_focus * (d.sum() / n).pow(2)).clamp_min(1e-13)
        return torch.where(count > 0, self.weight * torch.sqrt(value), pred.sum() * 0.0)


def class_balanced_bce(logits: torch.Tensor, target: torch.Tensor, negative_scale: float,
                       valid_mask: torch.Tensor | None = None) -> torch.Tensor:
    """MT-ORL's class-balanced cross-entropy: weights p_neg on positives, 1.1 * p_pos * negative_scale on negatives.

    p_pos / p_neg are the fractions of pixels labelled exactly 1 / 0 over the whole batch (inside `valid_mask` when
    given); other label values, and pixels outside the mask, get weight 0. The weighted BCE-with-logits is averaged
    over all pixels, zero-weight ones included (as the official code).
    """
    logits, target = _at_least_fp32(logits), _at_least_fp32(target)
    considered = torch.ones_like(target, dtype=torch.bool) if valid_mask is None else valid_mask
    positive = (target == 1) & considered
    negative = (target == 0) & considered
    total = considered.sum().clamp_min(1).to(target.dtype)
    p_pos, p_neg = positive.sum().to(target.dtype) / total, negative.sum().to(target.dtype) / total
    weight = torch.zeros_like(target)
    weight = torch.where(positive, p_neg, weight)
    weight = torch.where(negative, 1.1 * p_pos * negative_scale, weight)
    loss = F.binary_cross_entropy_with_logits(logits, target.clamp(0, 1), weight=weight.detach(), reduction="none")
    return loss.mean()


class BoundaryLoss(nn.Module):
    """Deep supervision over the OB logit maps: weight * sum_j map_weights[j] * CCE(logits_j, target).

    Maps are ordered [side 1/16, side 1/8, side 1/4 (stage 1), side 1/4 (stage 0), final] (OB-Hypersim weights
    0.1, 0.3, 0.3, 0.5, 2.3). A single map (SSR's stage 2) uses weight 1, as the official code's unweighted branch.
    """

    def __init__(self, map_weights: Sequence[float] = (0.1, 0.3, 0.3, 0.5, 2.3), negative_scale: float = 1.1,
                 weight: float = 1.0, mask_invalid: bool = False):
        super().__init__()
        self.map_weights = tuple(map_weights)
        self.negative_scale = negative_scale
        self.weight = weight
        self.mask_invalid = mask_invalid

    def forward(self, logits: Sequence[torch.Tensor], target: torch.Tensor, valid_mask: torch.Tensor | None = None,
                label_mask: torch.Tensor | None = None) -> torch.Tensor:
        """logits: the OB maps (B, 1, H, W); target (B, 1, H, W) 0/1; valid_mask: the depth-valid pixels (used with
        `mask_invalid`); label_mask: where the OB label is defined (None or all True: everywhere)."""
        mask = valid_mask if self.mask_invalid else None
        if label_mask is not None:
            mask = label_mask if mask is None else mask & label_mask
        if len(logits) == 1:
            return self.weight * class_balanced_bce(logits[0], target, self.negative_scale, mask)
        if len(logits) != len(self.map_weights):
            raise ValueError(f"{len(logits)} OB maps but {len(self.map_weights)} map weights")
        terms = [w * class_balanced_bce(x, target, self.negative_scale, mask) for w, x in zip(
            self.map_weights, logits, strict=True)]
        return self.weight * torch.stack(terms).sum()


def _shift(depth: torch.Tensor, dy: int, dx: int, padding: str) -> torch.Tensor:
    """out[y, x] = depth[y + dy, x + dx], with zero or replicated values outside the image (B, 1, H, W)."""
    pad = (max(-dx, 0), max(dx, 0), max(-dy, 0), max(dy, 0))  # left, right, top, bottom
    mode = "constant" if padding == "zeros" else "replicate"
    padded = F.pad(depth, pad, mode=mode)
    height, width = depth.shape[-2:]
    top, left = max(dy, 0), max(dx, 0)
    return padded[..., top:top + height, left:left + width]


class OBDCL(nn.Module):
    """OB-Depth Constraint Loss (spec §2.3): push depth apart across ground-truth boundaries, optionally smooth
    elsewhere.

    Discontinuity term: mean over all pixels of B * (1 - clamp(D, 0, margin) / margin) where B = boundary > 0 and
    D = combine(|d(y-1) - d(y+1)|, |d(x-1) - d(x+1)|); smoothness term: sum over the 4 one-pixel shifts of
    mean((1 - B) * |d - shift(d)|). Faithful defaults: combine "min", zero padding (border artefacts: the border sees
    large differences), margin 1 depth unit, weights 0.1 and 0.1; active from `start_step`.
    """

    def __init__(self, disc_weight: float = 0.1, smooth_weight: float = 0.0, start_step: int = 0,
                 margin: float = 1.0, combine: Literal["min", "max"] = "min",
                 padding: Literal["zeros", "replicate"] = "zeros"):
        super().__init__()
        self.disc_weight, self.smooth_weight, self.start_step = disc_weight, smooth_weight, start_step
        self.margin, self.combine, self.padding = margin, combine, padding

    def active(self, step: int) -> bool:
        return step >= self.start_step

    def forward(self, depth: torch.Tensor, boundary: torch.Tensor, step: int) -> torch.Tensor:
        """depth float (B, 1, H, W) predicted, network units; boundary (B, 1, H, W) ground-truth OB (> 0 = on)."""
        if not self.active(step):
            return depth.sum() * 0.0
        depth = _at_least_fp32(depth)
        on = (boundary > 0).to(depth.dtype)
        vertical = (_shift(depth, -1, 0, self.padding) - _shift(depth, 1, 0, self.padding)).abs()
        horizontal = (_shift(depth, 0, -1, self.padding) - _shift(depth, 0, 1, self.padding)).abs()
        combine = torch.minimum if self.combine == "min" else torch.maximum
        step_size = combine(vertical, horizontal)
        loss = self.disc_weight * (on * (1.0 - step_size.clamp(0, self.margin) / self.margin)).mean()
        if self.smooth_weight:
            off = 1.0 - on
            smooth = sum((off * (depth - _shift(depth, dy, dx, self.padding)).abs()).mean()
                         for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)))
            loss = loss + self.smooth_weight * smooth
        return loss


class ModotLoss(nn.Module):
    """The terms of MoDOT's objective, returned by name: {"depth", "boundary", "obdcl"}; a single-task model has only
    the terms of its task (`depth` or `boundary` None)."""

    def __init__(self, depth: SILogLoss | None, boundary: BoundaryLoss | None, obdcl: OBDCL | None = None):
        super().__init__()
        if depth is None and boundary is None:
            raise ValueError("ModotLoss needs a depth or a boundary term")
        self.depth, self.boundary, self.obdcl = depth, boundary, obdcl

    def forward(self, depth_pred: torch.Tensor | None, boundary_logits: Sequence[torch.Tensor], depth: torch.Tensor,
                valid: torch.Tensor, boundary: torch.Tensor, step: int,
                boundary_valid: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """depth_pred (B, 1, H, W) or None; boundary_logits the model's OB maps; depth, valid, boundary the sample's
        targets; boundary_valid (B, 1, H, W) bool where the OB label is defined (None: everywhere)."""
        terms = {}
        if self.depth is not None:
            terms["depth"] = self.depth(depth_pred, depth, valid)
        if self.boundary is not None:
            terms["boundary"] = self.boundary(boundary_logits, boundary, valid, boundary_valid)
        if self.obdcl is not None:
            terms["obdcl"] = self.obdcl(depth_pred, boundary, step)
        return terms

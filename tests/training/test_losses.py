from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from training.losses import OBDCL, BoundaryLoss, ModotLoss, SILogLoss, class_balanced_bce

torch.manual_seed(0)


def random_depth(shape=(2, 1, 6, 7), dtype=torch.float64):
    return torch.rand(shape, dtype=dtype) * 4 + 0.5


def test_silog_equals_a_loop_over_valid_pixels():
    pred, gt = random_depth(), random_depth()
    valid = torch.rand(pred.shape) > 0.3
    gt[~valid] = 0.0
    diffs = [math.log(p) - math.log(g) for p, g, v in zip(pred.flatten().tolist(), gt.flatten().tolist(),
                                                           valid.flatten().tolist(), strict=True) if v]
    mean, mean_sq = sum(diffs) / len(diffs), sum(d * d for d in diffs) / len(diffs)
    expected = 1.2 * math.sqrt(mean_sq - 0.85 * mean * mean)
    assert SILogLoss()(pred, gt, valid).item() == pytest.approx(expected, rel=1e-12)
    assert SILogLoss()(pred, gt, torch.zeros_like(valid)).item() == 0.0


def test_silog_gradcheck():
    pred = random_depth().requires_grad_()
    gt, valid = random_depth(), torch.rand(pred.shape) > 0.2
    assert torch.autograd.gradcheck(lambda p: SILogLoss()(p, gt, valid), (pred,))


def reference_cce(logits, target, negative_scale, mask=None):
    logits, target = logits.detach().numpy().ravel(), target.numpy().ravel()
    considered = np.ones_like(target, bool) if mask is None else mask.numpy().ravel()
    positive, negative = (target == 1) & considered, (target == 0) & considered
    p_pos, p_neg = positive.sum() / considered.sum(), negative.sum() / considered.sum()
    total = 0.0
    for x, y, pos, neg in zip(logits, target, positive, negative, strict=True):
        w = p_neg if pos else (1.1 * p_pos * negative_scale if neg else 0.0)
        prob = 1 / (1 + math.exp(-x))
        y = min(max(y, 0.0), 1.0)
        total += -w * (y * math.log(prob) + (1 - y) * math.log(1 - prob))
    return total / len(logits)


@pytest.mark.parametrize("masked", [False, True])
def test_class_balanced_bce_equals_reference(masked):
    logits = torch.randn(2, 1, 5, 6, dtype=torch.float64)
    target = (torch.rand(logits.shape) > 0.8).double()
    target[0, 0, 0, :2] = 0.5  # neither 0 nor 1: weight 0
    mask = torch.rand(logits.shape) > 0.3 if masked else None
    value = class_balanced_bce(logits, target, 1.1, mask).item()
    assert value == pytest.approx(reference_cce(logits, target, 1.1, mask), rel=1e-10)


def test_boundary_loss_weights_the_five_maps():
    target = (torch.rand(1, 1, 8, 8) > 0.7).double()
    maps = [torch.randn(1, 1, 8, 8, dtype=torch.float64) for _ in range(5)]
    weights = (0.1, 0.3, 0.3, 0.5, 2.3)
    expected = 5.0 * sum(w * reference_cce(m, target, 1.1) for w, m in zip(weights, maps, strict=True))
    assert BoundaryLoss(weights, weight=5.0)(maps, target).item() == pytest.approx(expected, rel=1e-10)
    assert BoundaryLoss(weights)(maps[-1:], target).item() == pytest.approx(reference_cce(maps[-1], target, 1.1))
    with pytest.raises(ValueError, match="map weights"):
        BoundaryLoss(weights)(maps[:3], target)


def reference_obdcl(depth, boundary, margin, smooth_weight, combine, padding):
    d = depth[0, 0].detach().numpy()
    b = boundary[0, 0].numpy() > 0
    height, width = d.shape

    def at(y, x):
        if 0 <= y < height and 0 <= x < width:
            return d[y, x]
        return 0.0 if padding == "zeros" else d[min(max(y, 0), height - 1), min(max(x, 0), width - 1)]

    disc, smooth = 0.0, 0.0
    for y in range(height):
        for x in range(width):
            dv, dh = abs(at(y - 1, x) - at(y + 1, x)), abs(at(y, x - 1) - at(y, x + 1))
            step = min(dv, dh) if combine == "min" else max(dv, dh)
            if b[y, x]:
                disc += 1 - min(max(step, 0.0), margin) / margin
            else:
                smooth += sum(abs(d[y, x] - at(y + dy, x + dx)) for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)))
    pixels = height * width
    return 0.1 * disc / pixels + smooth_weight * smooth / pixels


@pytest.mark.parametrize(("combine", "padding", "smooth"), [("min", "zeros", 0.0), ("max", "replicate", 0.1),
                                                            ("min", "zeros", 0.1)])
def test_obdcl_equals_a_loop(combine, padding, smooth):
    depth = random_depth((1, 1, 7, 9))
    boundary = (torch.rand(depth.shape) > 0.6).double()
    loss = OBDCL(smooth_weight=smooth, margin=1.5, combine=combine, padding=padding)
    assert loss(depth, boundary, step=0).item() == pytest.approx(
        reference_obdcl(depth, boundary, 1.5, smooth, combine, padding), rel=1e-10)


def test_obdcl_start_step_and_gradcheck():
    depth = random_depth((1, 1, 6, 6)).requires_grad_()
    boundary = (torch.rand(depth.shape) > 0.5).double()
    loss = OBDCL(start_step=10, smooth_weight=0.1)
    assert loss(depth, boundary, step=9).item() == 0.0 and loss(depth, boundary, step=10).item() > 0
    assert torch.autograd.gradcheck(lambda d: loss(d * 0.3, boundary, step=10), (depth,))


def test_modot_loss_returns_named_terms():
    depth = random_depth((1, 1, 8, 8))
    maps = [torch.randn(1, 1, 8, 8, dtype=torch.float64) for _ in range(5)]
    boundary = (torch.rand(1, 1, 8, 8) > 0.7).double()
    valid = torch.ones_like(boundary, dtype=torch.bool)
    terms = ModotLoss(SILogLoss(), BoundaryLoss(), OBDCL(start_step=5))(depth, maps, depth * 1.1, valid, boundary, 3)
    assert set(terms) == {"depth", "boundary", "obdcl"} and terms["obdcl"].item() == 0.0
    assert all(torch.isfinite(v) for v in terms.values())

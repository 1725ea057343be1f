from __future__ import annotations

import pytest
import torch

from tests.training.conftest import toy_modot
from training.models import ModotOutput
from training.models.ssr import ModotSSR


def _bn_layers(module: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_ssr_output_and_shapes():
    model = ModotSSR(toy_modot(), max_depth=5.0).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 37, 50))
    assert isinstance(out, ModotOutput) and len(out.boundary_logits) == 1
    assert out.depth.shape == (2, 1, 37, 50) and out.boundary_logits[-1].shape == (2, 1, 37, 50)
    assert (out.depth > 0).all() and (out.depth < 5.0).all()


def test_stage1_is_frozen_and_kept_in_eval_mode():
    model = ModotSSR(toy_modot(), max_depth=5.0).train()
    assert not model.stage1.training and all(not m.training for m in model.stage1.modules())
    assert model.ob_down.training
    before = [bn.running_mean.clone() for bn in _bn_layers(model.stage1)]
    out = model(torch.randn(2, 3, 32, 40))
    (out.depth.mean() + out.boundary_logits[-1].mean()).backward()
    assert all(p.grad is None for p in model.stage1.parameters())
    assert all(p.grad is not None for n, p in model.named_parameters() if not n.startswith("stage1."))
    assert all(torch.equal(b, bn.running_mean) for b, bn in zip(before, _bn_layers(model.stage1), strict=True))


def test_official_stage1_mode_follows_train():
    model = ModotSSR(toy_modot(), max_depth=5.0, stage1_mode="train").train()
    assert model.stage1.training
    before = [bn.running_mean.clone() for bn in _bn_layers(model.stage1)]
    model(torch.randn(2, 3, 32, 40))
    changed = [not torch.equal(b, bn.running_mean) for b, bn in zip(before, _bn_layers(model.stage1), strict=True)]
    assert all(changed)  # the official quirk: the "frozen" stage 1 updates its BN statistics
    assert not model.eval().stage1.training


def test_ssr_rejects_bad_options():
    with pytest.raises(ValueError, match="stage1_mode"):
        ModotSSR(toy_modot(), max_depth=5.0, stage1_mode="frozen")
    with pytest.raises(ValueError, match="max_depth"):
        ModotSSR(toy_modot(), max_depth=-1.0)

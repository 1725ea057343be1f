from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.training.conftest import TOY_DECODER, TOY_SWIN, toy_modot
from training.models import MODOT_VARIANTS, ModotOutput, build_modot
from training.models.modot import CASM, BoundaryDecoder, Modot, PyramidPoolingHead
from training.models.swin import SwinTransformer

# Parameter counts of the official network (spec section 1.7; non-Large with the lateral-channel fix).
OFFICIAL_PARAMETERS = {
    "modot_swin_large_w7": 281_008_024,
    "modot_swin_large_w12": 281_211_064,
    "modot_swin_base_w7": 150_364_220,
    "modot_swin_base_w12": 150_499_580,
    "modot_swin_small_w7": 120_065_998,
    "modot_swin_tiny_w7": 98_748_094,
}


def _meta_model(variant: str) -> torch.nn.Module:
    with torch.device("meta"):
        return build_modot(variant, max_depth=10.0)


@pytest.mark.parametrize(("variant", "expected"), sorted(OFFICIAL_PARAMETERS.items()))
def test_parameter_counts_equal_the_official_network(variant, expected):
    assert sum(p.numel() for p in _meta_model(variant).parameters()) == expected


def test_ssr_parameter_counts():
    model = _meta_model("modot_ssr_swin_large_w7")
    assert sum(p.numel() for p in model.parameters()) == 281_421_914
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 413_890


def test_build_options():
    model = build_modot("modot_swin_tiny_w7", max_depth=10.0, drop_path_rate=0.0, side_head_relu=False)
    assert all(block.drop_path.p == 0.0 for stage in model.encoder.layers for block in stage.blocks)
    assert not model.ob_decoder.side_heads[0].relu
    ssr = build_modot("modot_ssr_swin_tiny_w7", max_depth=10.0, stage1_mode="train")
    assert ssr.stage1_mode == "train" and ssr.stage1.training
    with pytest.raises(TypeError, match="stage1_mode"):
        build_modot("modot_swin_tiny_w7", max_depth=10.0, stage1_mode="train")


def test_registry_has_every_size_and_window():
    for size in ("tiny", "small", "base", "large"):
        for window in (7, 12):
            assert f"modot_swin_{size}_w{window}" in MODOT_VARIANTS
            assert MODOT_VARIANTS[f"modot_ssr_swin_{size}_w{window}"].ssr
    assert MODOT_VARIANTS["modot_swin_large_w7"].official_encoder == "large07"
    with pytest.raises(KeyError, match="modot_swin_large_w7"):
        build_modot("modot_large07", max_depth=10.0)


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (32, 96), (17, 9)])
def test_any_input_size(size):
    model = toy_modot().eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, *size))
    assert isinstance(out, ModotOutput) and out.depth.shape == (2, 1, *size)
    assert len(out.boundary_logits) == 5
    assert all(t.shape == (2, 1, *size) and torch.isfinite(t).all() for t in out.boundary_logits)
    assert (out.depth > 0).all() and (out.depth < 10.0).all()


def test_training_step_reaches_every_parameter():
    model = toy_modot().train()
    out = model(torch.randn(2, 3, 40, 44))
    (out.depth.mean() + sum(t.sigmoid().mean() for t in out.boundary_logits)).backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None]
    assert not silent


def test_channels_follow_the_encoder():
    for embed_dim in (8, 12):
        encoder = SwinTransformer.from_config(dataclasses.replace(TOY_SWIN, embed_dim=embed_dim))
        model = Modot(encoder=encoder, max_depth=1.0, **TOY_DECODER).eval()
        assert model.ob_laterals[3].conv.in_channels == 8 * embed_dim
        with torch.no_grad():
            assert model(torch.randn(1, 3, 32, 32)).depth.shape == (1, 1, 32, 32)


def test_side_head_relu_quirk_and_its_flag():
    x = torch.randn(2, 3, 32, 32)
    faithful = toy_modot().train()(x).boundary_logits
    assert all((t >= 0).all() for t in faithful[:4])
    clean = toy_modot(side_head_relu=False).train()(x).boundary_logits
    assert all((t < 0).any() for t in clean[:4])


def test_ppm_groupnorm_quirk_and_its_flag():
    faithful = PyramidPoolingHead(16, 32, groupnorm_groups=16)
    assert all(isinstance(b.norm, torch.nn.GroupNorm) for b in faithful.branches)
    clean = PyramidPoolingHead(16, 32, groupnorm_groups=16, groupnorm_all_branches=False)
    kinds = [type(b.norm) for b in clean.branches]
    assert kinds == [torch.nn.GroupNorm, torch.nn.BatchNorm2d, torch.nn.BatchNorm2d, torch.nn.BatchNorm2d]
    assert set(faithful.state_dict()) <= set(clean.state_dict())


def test_casm_formula():
    casm = CASM(16).eval()
    ob, depth = torch.randn(2, 16, 5, 6), torch.randn(2, 16, 5, 6)
    with torch.no_grad():
        out = casm(ob, depth)
        fused = casm.strips(casm.fuse(torch.cat([ob, depth], 1)))
        torch.testing.assert_close(out.depth, fused + depth * casm.ob_gate(ob) + depth)
        torch.testing.assert_close(out.ob, ob + ob * casm.depth_gate(depth))
    with pytest.raises(ValueError, match="differ"):
        casm(ob, depth[..., :5])


@pytest.mark.parametrize("train", [False, True])
def test_casm_gradcheck(train):
    casm = CASM(16).double().train(train)
    ob = torch.randn(2, 16, 2, 3, dtype=torch.float64, requires_grad=True)
    depth = torch.randn(2, 16, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda o, d: tuple(casm(o, d)), (ob, depth))


def _toy_decoder() -> BoundaryDecoder:
    return BoundaryDecoder(feature_channels=(8, 8, 4, 8, 4), feature_strides=(8, 4, 2, 2, 1))


@pytest.mark.parametrize("train", [False, True])
def test_boundary_decoder_gradcheck(train):
    decoder = _toy_decoder().double().train(train)
    shapes = [(8, 2, 2), (8, 3, 3), (4, 5, 5), (8, 5, 5), (4, 9, 9)]  # odd sizes: crops and pads on the way
    inputs = tuple(torch.randn(2, *s, dtype=torch.float64, requires_grad=True) for s in shapes)
    assert torch.autograd.gradcheck(lambda *f: decoder(list(f), 9, 9).logits, inputs, fast_mode=True)


def test_boundary_decoder_structure():
    decoder = _toy_decoder()
    assert isinstance(decoder.transitions[2], torch.nn.Conv2d)  # equal strides: a plain bias-free 1x1 conv
    assert decoder.transitions[2].bias is None
    out = decoder([torch.randn(2, *s) for s in [(8, 1, 1), (8, 2, 2), (4, 4, 4), (8, 4, 4), (4, 8, 8)]], 8, 8)
    assert len(out.logits) == 5 and out.features.shape == (2, 4, 8, 8)


def test_autocast_cpu_bfloat16():
    model = toy_modot().eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(1, 3, 45, 38))
    assert out.depth.shape == (1, 1, 45, 38)
    assert all(torch.isfinite(t.float()).all() for t in (out.depth, *out.boundary_logits))


def test_rejects_bad_input():
    model = toy_modot()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match="max_depth"):
        toy_modot().__class__(encoder=SwinTransformer.from_config(TOY_SWIN), max_depth=0.0, **TOY_DECODER)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fp32_and_autocast_match_cpu():
    model = toy_modot().eval()
    x = torch.randn(2, 3, 45, 61)
    with torch.no_grad():
        cpu = model(x)
        model.cuda()
        gpu = model(x.cuda())
        with torch.autocast("cuda", dtype=torch.bfloat16):
            mixed = model(x.cuda())
    torch.testing.assert_close(gpu.depth.cpu(), cpu.depth, rtol=1e-3, atol=1e-3)
    for a, b in zip(gpu.boundary_logits, cpu.boundary_logits, strict=True):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-3, atol=1e-3)
    assert all(torch.isfinite(t.float()).all() for t in (mixed.depth, *mixed.boundary_logits))

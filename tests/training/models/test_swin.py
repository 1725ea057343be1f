from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.training.conftest import TOY_SWIN
from training.models.swin import (
    SWIN_VARIANTS,
    PatchMerging,
    SwinTransformer,
    WindowAttention,
    relative_position_index,
    shifted_window_mask,
    window_attention,
    window_merge,
    window_partition,
)


def test_relative_position_index_matches_a_loop():
    w = 4
    index = relative_position_index(w)
    tokens = [(r, c) for r in range(w) for c in range(w)]
    for i, (ri, ci) in enumerate(tokens):
        for j, (rj, cj) in enumerate(tokens):
            assert index[i, j] == (ri - rj + w - 1) * (2 * w - 1) + (ci - cj + w - 1)


def test_shifted_window_mask_matches_the_official_slices():
    hp, wp, w, shift = 12, 8, 4, 2
    regions = torch.zeros(hp, wp)
    count = 0
    for rows in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
        for cols in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
            regions[rows, cols] = count
            count += 1
    windows = window_partition(regions[None, :, :, None], w)[0, :, :, 0]
    expected = torch.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0)
    assert torch.equal(shifted_window_mask(hp, wp, w, shift, torch.device("cpu")), expected)


def test_window_partition_and_merge_are_inverse():
    x = torch.randn(2, 12, 8, 5)
    windows = window_partition(x, 4)
    assert windows.shape == (2, 6, 16, 5)
    assert torch.equal(windows[0, 1], x[0, 0:4, 4:8].reshape(16, 5))  # row-major windows, row-major tokens
    assert torch.equal(window_merge(windows, 4, 12, 8), x)


@pytest.mark.parametrize("with_mask", [False, True])
def test_window_attention_matches_explicit_softmax(with_mask):
    b, nw, heads, n, d = 2, 3, 2, 16, 8
    q, k, v = (torch.randn(b, nw, heads, n, d) for _ in range(3))
    bias = torch.randn(heads, n, n) * 0.1
    mask = torch.where(torch.rand(nw, n, n) < 0.3, -100.0, 0.0) if with_mask else None
    logits = (q * d**-0.5) @ k.transpose(-2, -1) + bias
    if mask is not None:
        logits = logits + mask[None, :, None]
    expected = logits.softmax(-1) @ v
    torch.testing.assert_close(window_attention(q, k, v, bias, mask), expected, rtol=0, atol=1e-6)


def _reference_window_attention(attn: WindowAttention, x: torch.Tensor, shift: int) -> torch.Tensor:
    """Slow reference: zero-pad, roll, loop over windows with an explicit softmax, unroll, crop."""
    b, h, w, c = x.shape
    ws, heads = attn.window_size, attn.num_heads
    hp, wp = -(-h // ws) * ws, -(-w // ws) * ws
    grid = F.pad(x, (0, 0, 0, wp - w, 0, hp - h))
    grid = torch.roll(grid, (-shift, -shift), (1, 2))
    regions = torch.zeros(hp, wp)
    if shift:
        for i, rows in enumerate((slice(0, -ws), slice(-ws, -shift), slice(-shift, None))):
            for j, cols in enumerate((slice(0, -ws), slice(-ws, -shift), slice(-shift, None))):
                regions[rows, cols] = 3 * i + j
    out = torch.zeros(b, hp, wp, c)
    bias = attn.position_bias()
    for top in range(0, hp, ws):
        for left in range(0, wp, ws):
            tokens = grid[:, top:top + ws, left:left + ws].reshape(b, ws * ws, c)
            region = regions[top:top + ws, left:left + ws].reshape(-1)
            q, k, v = attn.qkv(tokens).view(b, ws * ws, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            logits = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1) + bias
            logits = logits + torch.where(region[:, None] != region[None, :], -100.0, 0.0)
            y = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, ws * ws, c)
            out[:, top:top + ws, left:left + ws] = attn.proj(y).view(b, ws, ws, c)
    return torch.roll(out, (shift, shift), (1, 2))[:, :h, :w]


@pytest.mark.parametrize(("h", "w", "shift"), [(8, 8, 0), (8, 8, 2), (6, 9, 0), (6, 9, 2), (3, 2, 2)])
def test_window_attention_module_matches_a_loop_reference(h, w, shift):
    attn = WindowAttention(dim=8, num_heads=2, window_size=4)
    x = torch.randn(2, h, w, 8)
    hp, wp = -(-h // 4) * 4, -(-w // 4) * 4
    mask = shifted_window_mask(hp, wp, 4, 2, x.device)
    with torch.no_grad():
        torch.testing.assert_close(attn(x, shift, mask), _reference_window_attention(attn, x, shift))


@pytest.mark.parametrize(("h", "w"), [(4, 6), (5, 7)])
def test_patch_merging_matches_the_official_slicing(h, w):
    merge = PatchMerging(3)
    x = torch.randn(2, h, w, 3)
    padded = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
    cat = torch.cat([padded[:, 0::2, 0::2], padded[:, 1::2, 0::2], padded[:, 0::2, 1::2], padded[:, 1::2, 1::2]], -1)
    with torch.no_grad():
        torch.testing.assert_close(merge(x), merge.reduction(merge.norm(cat)), rtol=0, atol=0)


def test_swin_output_shapes_for_any_size():
    encoder = SwinTransformer.from_config(TOY_SWIN).eval()
    assert encoder.out_channels == (8, 16, 32, 64) and encoder.out_strides == (4, 8, 16, 32)
    for h, w in [(33, 47), (64, 64), (5, 3)]:
        features = encoder(torch.randn(2, 3, h, w))
        size = (-(-h // 4), -(-w // 4))
        for channels, feature in zip(encoder.out_channels, features, strict=True):
            assert feature.shape == (2, channels, *size) and feature.is_contiguous()
            size = (-(-size[0] // 2), -(-size[1] // 2))


def test_swin_pads_like_an_explicitly_padded_image():
    encoder = SwinTransformer.from_config(TOY_SWIN).eval()
    image = torch.randn(1, 3, 30, 29)
    with torch.no_grad():
        padded = encoder(F.pad(image, (0, 3, 0, 2)))
        for a, b in zip(encoder(image), padded, strict=True):
            assert torch.equal(a, b)


def test_drop_path_rule_is_linear_over_all_blocks():
    encoder = SwinTransformer.from_config(SWIN_VARIANTS["swin_tiny_w7"])
    rates = [block.drop_path.p for stage in encoder.layers for block in stage.blocks]
    assert len(rates) == 12
    torch.testing.assert_close(torch.tensor(rates), torch.linspace(0, 0.3, 12))


def test_variants_registry():
    published = {f"swin_{s}_w{w}" for s in ("tiny", "small", "base", "large") for w in (7, 12)}
    assert set(SWIN_VARIANTS) == published | {"swin_nano_w7"}  # nano: the compact CPU-demo encoder
    assert SWIN_VARIANTS["swin_large_w12"].stage_channels == (192, 384, 768, 1536)
    assert SWIN_VARIANTS["swin_base_w7"].num_heads == (4, 8, 16, 32)

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from training.models.newcrf import NeWCRF


def _regions(hp: int, wp: int, ws: int, shift: int) -> torch.Tensor:
    regions = torch.zeros(hp, wp)
    if shift:
        for i, rows in enumerate((slice(0, -ws), slice(-ws, -shift), slice(-shift, None))):
            for j, cols in enumerate((slice(0, -ws), slice(-ws, -shift), slice(-shift, None))):
                regions[rows, cols] = 3 * i + j
    return regions


def _reference_block(block, x: torch.Tensor, v: torch.Tensor, ws: int) -> torch.Tensor:
    """The official CRFBlock step by step, with a loop over windows and an explicit softmax."""
    b, h, w, c = x.shape
    shift, heads = block.shift, block.attn.num_heads
    hp, wp = -(-h // ws) * ws, -(-w // ws) * ws
    grid = F.pad(block.norm1(x), (0, 0, 0, wp - w, 0, hp - h))
    values = F.pad(v, (0, 0, 0, wp - w, 0, hp - h))  # pad v by x's padding amounts ...
    grid = torch.roll(grid, (-shift, -shift), (1, 2))
    values = torch.roll(values, (-shift, -shift), (1, 2))[:, :hp, :wp]  # ... shift, then crop to x's padded size
    regions = _regions(hp, wp, ws, shift)
    out = torch.zeros(b, hp, wp, c)
    for top in range(0, hp, ws):
        for left in range(0, wp, ws):
            tokens = grid[:, top:top + ws, left:left + ws].reshape(b, ws * ws, c)
            vals = values[:, top:top + ws, left:left + ws].reshape(b, ws * ws, heads, c // heads).transpose(1, 2)
            q, k = block.attn.qk(tokens).view(b, ws * ws, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
            region = regions[top:top + ws, left:left + ws].reshape(-1)
            logits = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1) + block.attn.position_bias()
            logits = logits + torch.where(region[:, None] != region[None, :], -100.0, 0.0)
            y = (logits.softmax(-1) @ vals).transpose(1, 2).reshape(b, ws * ws, c)
            out[:, top:top + ws, left:left + ws] = block.attn.proj(y).view(b, ws, ws, c)
    x = x + torch.roll(out, (shift, shift), (1, 2))[:, :h, :w]
    return x + block.mlp(block.norm2(x))


def _reference(crf: NeWCRF, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    x = crf.proj_x(x).permute(0, 2, 3, 1)
    v = crf.proj_v(v).permute(0, 2, 3, 1)
    for block in crf.blocks:
        x = _reference_block(block, x, v, crf.window_size)
    return crf.norm(x).permute(0, 3, 1, 2)


@pytest.mark.parametrize(("x_size", "v_size"), [((8, 8), (8, 8)), ((5, 7), (6, 8)), ((3, 3), (4, 4)), ((9, 5), (9, 5))])
def test_newcrf_matches_the_official_steps(x_size, v_size):
    crf = NeWCRF(input_dim=6, value_dim=5, embed_dim=8, num_heads=2, window_size=4).eval()
    x, v = torch.randn(2, 6, *x_size), torch.randn(2, 5, *v_size)
    with torch.no_grad():
        out = crf(x, v)
        assert out.shape == (2, 8, *x_size) and out.is_contiguous()
        torch.testing.assert_close(out, _reference(crf, x, v))


def test_newcrf_projections_follow_the_widths():
    crf = NeWCRF(input_dim=16, value_dim=8, embed_dim=16, num_heads=2)
    assert crf.proj_x is None and crf.proj_v is not None  # as in the official code (e.g. Swin-B's f3 at crf3)
    assert crf(torch.randn(1, 16, 4, 4), torch.randn(1, 8, 4, 4)).shape == (1, 16, 4, 4)


def test_newcrf_rejects_a_smaller_value_grid():
    crf = NeWCRF(input_dim=4, value_dim=4, embed_dim=8, num_heads=2)
    with pytest.raises(ValueError, match="smaller"):
        crf(torch.randn(1, 4, 6, 6), torch.randn(1, 4, 5, 6))

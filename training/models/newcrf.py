"""The NeWCRF window-attention decoder block of NeWCRFs (Yuan et al., CVPR 2022), as MoDOT uses it.

A `NeWCRF` level projects the encoder feature x and the upper-level output v to `embed_dim` channels with 3x3
convolutions, runs two window-attention blocks (plain, then shifted) in which queries and keys come from x and the
values from v, and ends with a LayerNorm. The residual stream is x; v stays the same for both blocks.

Quirk kept from the official code (named here, no flag, since it only matters for sizes that are not multiples of
the window): v can be larger than x (v is the 2x PixelShuffle of a coarser level whose size was rounded up). The
official block pads v by x's padding amounts, applies the cyclic shift to that larger grid and only then crops
it to x's padded size, so for odd sizes the shifted windows see values shifted relative to x. `_value_windows`
reproduces this exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from training.models.swin import (
    Mlp,
    RelativePositionBiasMixin,
    from_windows,
    merge_heads,
    pad_grid,
    padded_size,
    shifted_window_mask,
    split_heads,
    to_windows,
    window_attention,
)


def _value_windows(v: torch.Tensor, height: int, width: int, window_size: int, shift: int) -> torch.Tensor:
    """Cut the value grid v (B, Hv, Wv, C), Hv >= height, into the windows that meet x's (height, width) windows.

    Official order: pad v by x's padding, shift, then crop to x's padded size. Returns (B, nW, N, C).
    """
    hp, wp = padded_size(height, window_size), padded_size(width, window_size)
    hv, wv = v.shape[1:3]
    v = pad_grid(v, hv + hp - height, wv + wp - width)
    if shift:
        v = torch.roll(v, shifts=(-shift, -shift), dims=(1, 2))
    return to_windows(v[:, :hp, :wp], window_size, 0)


class CRFAttention(RelativePositionBiasMixin):
    """Window attention whose values come from another grid. Keys: `qk` (C -> 2C), `proj` (C -> C), the table."""

    def __init__(self, dim: int, num_heads: int, window_size: int):
        super().__init__()
        self.qk = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.init_position_bias(num_heads, window_size)

    def forward(self, x: torch.Tensor, v: torch.Tensor, shift: int, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, H, W, C) normalised queries/keys, v (B, Hv, Wv, C) values with Hv >= H, Wv >= W -> (B, H, W, C)."""
        b, h, w, c = x.shape
        hp, wp = padded_size(h, self.window_size), padded_size(w, self.window_size)
        qk_windows = self.qk(to_windows(pad_grid(x, hp, wp), self.window_size, shift))  # official order
        q, k = split_heads(qk_windows, 2, self.num_heads)
        (values,) = split_heads(_value_windows(v, h, w, self.window_size, shift), 1, self.num_heads)
        out = self.proj(merge_heads(window_attention(q, k, values, self.position_bias(), mask if shift else None)))
        return from_windows(out, self.window_size, shift, hp, wp, h, w)


class CRFBlock(nn.Module):
    """x + attn(norm1(x), v), then x + mlp(norm2(x)). No stochastic depth (the official rate is 0)."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CRFAttention(dim, num_heads, window_size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), v, self.shift, mask)
        return x + self.mlp(self.norm2(x))


class NeWCRF(nn.Module):
    """One NeWCRF decoder level.

    Args:
        input_dim: channels of the encoder feature x.
        value_dim: channels of the upper-level feature v.
        embed_dim: working width; x and v are projected to it by 3x3 convolutions (`proj_x`, `proj_v`), each
            omitted when the widths already agree (as in the official code, e.g. Swin-B's 1024-channel f3 at crf3).
        num_heads: attention heads.
        window_size: attention window (7 in MoDOT, whatever the encoder's window).
        depth: number of blocks, alternating plain and shifted windows.

    Forward: x (B, input_dim, H, W), v (B, value_dim, Hv, Wv) with Hv >= H and Wv >= W -> (B, embed_dim, H, W),
    contiguous NCHW.
    """

    def __init__(self, *, input_dim: int, value_dim: int, embed_dim: int, num_heads: int, window_size: int = 7,
                 depth: int = 2):
        super().__init__()
        self.window_size = window_size
        self.proj_x = nn.Conv2d(input_dim, embed_dim, 3, padding=1) if input_dim != embed_dim else None
        self.proj_v = nn.Conv2d(value_dim, embed_dim, 3, padding=1) if value_dim != embed_dim else None
        self.blocks = nn.ModuleList(
            CRFBlock(embed_dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2) for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.proj_x is not None:
            x = self.proj_x(x)
        if self.proj_v is not None:
            v = self.proj_v(v)
        x, v = x.permute(0, 2, 3, 1), v.permute(0, 2, 3, 1)
        h, w = x.shape[1:3]
        if v.shape[1] < h or v.shape[2] < w:
            raise ValueError(f"NeWCRF: the value grid {tuple(v.shape[1:3])} is smaller than the feature grid {(h, w)}")
        mask = shifted_window_mask(padded_size(h, self.window_size), padded_size(w, self.window_size),
                                   self.window_size, self.window_size // 2, x.device)
        for block in self.blocks:
            x = block(x, v, mask)
        return self.norm(x).permute(0, 3, 1, 2).contiguous()


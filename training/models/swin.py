"""Swin Transformer encoder in plain PyTorch, in the MS / mmseg layout that NeWCRFs and MoDOT use.

The module and parameter names follow that layout (`patch_embed`, `layers.N.blocks.M.attn.qkv`, downsampling at the
*end* of each stage), so ImageNet checkpoints of the official Swin release load directly (`load_pretrained_swin` in
`swin_weights.py`, which also renames timm-layout checkpoints). The four per-stage output LayerNorms are
`out_norms.N` (`normN` in the official code).

Tokens travel as (B, H, W, C) tensors; the four outputs are returned as contiguous (B, C, H, W) tensors, like the
official code (the decoders' convolutions and pooling then round exactly as there).

Window attention goes through `torch.nn.functional.scaled_dot_product_attention`, with the relative position bias
(and, for shifted windows, the -100 cross-region mask of the official code) passed as an additive `attn_mask`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from training.models.layers import DropPath

# Mask value the official code adds to attention logits between tokens of different regions in a shifted window.
SHIFTED_WINDOW_MASK_VALUE = -100.0


@dataclass(frozen=True)
class SwinConfig:
    """Hyper-parameters of one Swin encoder (patch size 4, MLP ratio 4, qkv bias, no absolute position embedding)."""

    embed_dim: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: int
    drop_path_rate: float = 0.3  # MoDOT uses 0.3 for every Swin size
    mlp_ratio: float = 4.0

    @property
    def stage_channels(self) -> tuple[int, ...]:
        """Channels of the four outputs: C, 2C, 4C, 8C."""
        return tuple(self.embed_dim * 2**i for i in range(len(self.depths)))


_SIZES = {
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}
SWIN_VARIANTS: dict[str, SwinConfig] = {
    f"swin_{size}_w{window}": SwinConfig(embed_dim, depths, heads, window)
    for size, (embed_dim, depths, heads) in _SIZES.items()
    for window in (7, 12)
}
# Not a published Swin size: a compact encoder for CPU demos and smoke runs (no ImageNet checkpoint exists).
SWIN_VARIANTS["swin_nano_w7"] = SwinConfig(32, (2, 2, 2, 2), (1, 2, 4, 8), 7, drop_path_rate=0.1)


# ----------------------------------------------------------------------------------------------------------------
# Window helpers (shared with the NeWCRF decoders)


def relative_position_index(window_size: int) -> torch.Tensor:
    """(N, N) int64 index into the (2w - 1)^2 bias table, N = w * w; always built on the CPU."""
    coords = torch.arange(window_size, device="cpu")
    grid = torch.stack(torch.meshgrid(coords, coords, indexing="ij")).flatten(1)  # (2, N): row, column
    delta = grid[:, :, None] - grid[:, None, :] + (window_size - 1)  # (2, N, N), each in [0, 2w - 2]
    return delta[0] * (2 * window_size - 1) + delta[1]


def _region_ids(size: int, window_size: int, shift: int, device: torch.device) -> torch.Tensor:
    """Region of each row (or column) of a padded, cyclically shifted grid: 0, 1 or 2 (the official slices)."""
    ids = torch.zeros(size, dtype=torch.int64, device=device)
    ids[size - window_size:] = 1
    ids[size - shift:] = 2
    return ids


def shifted_window_mask(height_padded: int, width_padded: int, window_size: int, shift: int,
                        device: torch.device) -> torch.Tensor:
    """Additive mask (nW, N, N): 0 between tokens of one region of a shifted window, -100 otherwise.

    The grid is (height_padded, width_padded), both multiples of `window_size`; windows are numbered row-major.
    """
    rows = _region_ids(height_padded, window_size, shift, device)
    cols = _region_ids(width_padded, window_size, shift, device)
    regions = (rows[:, None] * 3 + cols[None, :])[None, :, :, None]  # (1, Hp, Wp, 1)
    regions = window_partition(regions, window_size)[0, :, :, 0]  # (nW, N)
    different = regions[:, :, None] != regions[:, None, :]
    return different.float() * SHIFTED_WINDOW_MASK_VALUE


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, Hp, Wp, C) -> (B, nW, N, C): non-overlapping windows, row-major, N = window_size^2 tokens each."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, -1, window_size * window_size, c)


def window_merge(windows: torch.Tensor, window_size: int, height: int, width: int) -> torch.Tensor:
    """Inverse of `window_partition`: (B, nW, N, C) -> (B, height, width, C)."""
    b, _, _, c = windows.shape
    x = windows.view(b, height // window_size, width // window_size, window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, height, width, c)


def padded_size(size: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= size."""
    return math.ceil(size / multiple) * multiple


def pad_grid(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Zero-pad (B, H, W, C) at the bottom and right to (B, height, width, C)."""
    h, w = x.shape[1:3]
    if (h, w) == (height, width):
        return x
    return F.pad(x, (0, 0, 0, width - w, 0, height - h))


def to_windows(grid: torch.Tensor, window_size: int, shift: int) -> torch.Tensor:
    """Cyclically shift a padded (B, Hp, Wp, C) grid by -shift on both axes, then cut it into windows (B, nW, N, C)."""
    if shift:
        grid = torch.roll(grid, shifts=(-shift, -shift), dims=(1, 2))
    return window_partition(grid, window_size)


def from_windows(windows: torch.Tensor, window_size: int, shift: int, height_padded: int, width_padded: int,
                 height: int, width: int) -> torch.Tensor:
    """Inverse of `to_windows` followed by the crop of the padding: (B, nW, N, C) -> (B, height, width, C)."""
    grid = window_merge(windows, window_size, height_padded, width_padded)
    if shift:
        grid = torch.roll(grid, shifts=(shift, shift), dims=(1, 2))
    return grid[:, :height, :width]


def split_heads(windows: torch.Tensor, groups: int, num_heads: int) -> tuple[torch.Tensor, ...]:
    """(B, nW, N, groups * C) -> `groups` tensors (B, nW, heads, N, C / heads) (views, e.g. q, k, v)."""
    b, nw, n, gc = windows.shape
    head_dim = gc // (groups * num_heads)
    return windows.view(b, nw, n, groups, num_heads, head_dim).permute(3, 0, 1, 4, 2, 5).unbind(0)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, nW, heads, N, d) -> (B, nW, N, heads * d)."""
    b, nw, heads, n, d = x.shape
    return x.transpose(2, 3).reshape(b, nw, n, heads * d)


def window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                     mask: torch.Tensor | None) -> torch.Tensor:
    """softmax((q / sqrt(d)) k^T + bias [+ mask]) v in every window, through `scaled_dot_product_attention`.

    Args:
        q, k, v: (B, nW, heads, N, d).
        bias: (heads, N, N) relative position bias.
        mask: (nW, N, N) additive shifted-window mask (0 or -100), or None.

    Returns:
        (B, nW, heads, N, d).

    q is scaled before the call (and SDPA told scale=1), exactly as the official code scales it. On the CPU the
    5-D inputs take SDPA's reference ("math") path, which then reproduces the official attention bit for bit; that
    matters because the pyramid pooling head (GroupNorm over two channels of a 1x1 map) amplifies differences in
    the encoder output about a thousandfold. On CUDA the windows are flattened to 4-D so that the fused kernels
    can run.
    """
    b, nw, heads, n, d = q.shape
    attn_mask = bias if mask is None else bias.unsqueeze(0) + mask.unsqueeze(1)
    attn_mask = attn_mask.to(q.dtype)
    q = q * d**-0.5
    if not q.is_cuda:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=1.0)
    flat = [t.reshape(b * nw, heads, n, d) for t in (q, k, v)]
    attn_mask = attn_mask.expand(b, nw, heads, n, n).reshape(b * nw, heads, n, n)
    return F.scaled_dot_product_attention(*flat, attn_mask=attn_mask, scale=1.0).view(b, nw, heads, n, d)


class RelativePositionBiasMixin(nn.Module):
    """A window attention's learned relative position bias: the parameter `relative_position_bias_table`
    ((2w - 1)^2, heads) on the attention module itself (the official key), and the index that gathers it."""

    def init_position_bias(self, num_heads: int, window_size: int) -> None:
        self.num_heads = num_heads
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size), persistent=False)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def position_bias(self) -> torch.Tensor:
        """(heads, N, N) bias gathered from the table."""
        n = self.window_size**2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(n, n, self.num_heads).permute(2, 0, 1)


class WindowAttention(RelativePositionBiasMixin):
    """(Shifted) window multi-head self-attention with relative position bias, as in Swin.

    Keys: `qkv` (C -> 3C, bias), `proj` (C -> C), `relative_position_bias_table` ((2w - 1)^2, heads).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.init_position_bias(num_heads, window_size)

    def forward(self, x: torch.Tensor, shift: int, mask: torch.Tensor | None) -> torch.Tensor:
        """Attend within windows of the (normalised) tokens x (B, H, W, C); returns (B, H, W, C).

        The official order, step for step: zero-pad the grid at the bottom and right to multiples of the window
        (padded tokens take part in the attention), shift it by -shift when shift > 0 (`mask` is then the
        (nW, N, N) shifted-window mask), cut it into windows, project to q, k, v, attend, project back, undo the
        shift and crop. Keeping the projections on the windows makes every GEMM the official one, so the result
        is bit-identical on the CPU.
        """
        b, h, w, c = x.shape
        hp, wp = padded_size(h, self.window_size), padded_size(w, self.window_size)
        windows = self.qkv(to_windows(pad_grid(x, hp, wp), self.window_size, shift))
        q, k, v = split_heads(windows, 3, self.num_heads)
        out = self.proj(merge_heads(window_attention(q, k, v, self.position_bias(), mask if shift else None)))
        return from_windows(out, self.window_size, shift, hp, wp, h, w)


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2 on the last dimension."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    """Pre-norm Swin block: x + attn(norm1(x)), then x + mlp(norm2(x)), each branch with stochastic depth."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        if not 0 <= shift < window_size:
            raise ValueError(f"shift {shift} must be in [0, window_size={window_size})")
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, H, W, C) -> (B, H, W, C)."""
        x = x + self.drop_path(self.attn(self.norm1(x), self.shift, mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhood -> one token: (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 2C).

    Odd sizes are zero-padded at the bottom / right. The four neighbours are concatenated in the official order
    (top-left, bottom-left, top-right, bottom-right), then LayerNorm(4C) and a bias-free Linear(4C, 2C).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        x = pad_grid(x, h + h % 2, w + w % 2)
        x = x.view(b, (h + 1) // 2, 2, (w + 1) // 2, 2, c)
        # (row offset, column offset) -> (column offset, row offset): (0,0), (1,0), (0,1), (1,1)
        x = x.permute(0, 1, 3, 4, 2, 5).reshape(b, (h + 1) // 2, (w + 1) // 2, 4 * c)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """`depth` Swin blocks alternating plain and shifted windows (shift = window // 2), then optional PatchMerging."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float,
                 drop_paths: list[float], downsample: bool):
        super().__init__()
        self.window_size = window_size
        self.blocks = nn.ModuleList(
            SwinBlock(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio, drop_paths[i])
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, H, W, C) -> (stage output (B, H, W, C), downsampled (B, H/2, W/2, 2C) or None)."""
        h, w = x.shape[1:3]
        mask = shifted_window_mask(padded_size(h, self.window_size), padded_size(w, self.window_size),
                                   self.window_size, self.window_size // 2, x.device)
        for block in self.blocks:
            x = block(x, mask)
        return x, (self.downsample(x) if self.downsample is not None else None)


class PatchEmbed(nn.Module):
    """Zero-pad the image to multiples of the patch size (bottom / right), 4x4 stride-4 conv, LayerNorm.

    (B, 3, H, W) -> (B, ceil(H/4), ceil(W/4), C).
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[-2:]
        p = self.patch_size
        images = F.pad(images, (0, (p - w % p) % p, 0, (p - h % p) % p))
        return self.norm(self.proj(images).permute(0, 2, 3, 1))


class SwinTransformer(nn.Module):
    """Swin encoder returning four feature maps at strides 4, 8, 16 and 32.

    Args:
        embed_dim, depths, num_heads, window_size: the Swin size (see `SWIN_VARIANTS`).
        drop_path_rate: stochastic depth, rising linearly from 0 over all blocks to this value.
        mlp_ratio: hidden width of the MLPs relative to the stage width.

    Input (B, 3, H, W) float, any H, W >= 1. Outputs (B, C_i, H_i, W_i) with C_i = embed_dim * 2^i,
    H_0 = ceil(H / 4) and H_{i+1} = ceil(H_i / 2) (likewise for W); contiguous NCHW.
    """

    def __init__(self, *, embed_dim: int, depths: tuple[int, ...], num_heads: tuple[int, ...], window_size: int,
                 drop_path_rate: float = 0.3, mlp_ratio: float = 4.0, in_channels: int = 3, patch_size: int = 4):
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {depths} and num_heads {num_heads} differ in length")
        self.out_channels = tuple(embed_dim * 2**i for i in range(len(depths)))
        self.out_strides = tuple(patch_size * 2**i for i in range(len(depths)))
        self.patch_embed = PatchEmbed(in_channels, embed_dim, patch_size)
        # explicit CPU: identical to the official values, and buildable under a meta-device context
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        starts = [sum(depths[:i]) for i in range(len(depths))]
        self.layers = nn.ModuleList(
            SwinStage(self.out_channels[i], depths[i], num_heads[i], window_size, mlp_ratio,
                      rates[starts[i]:starts[i] + depths[i]], downsample=i < len(depths) - 1)
            for i in range(len(depths))
        )
        self.out_norms = nn.ModuleList(nn.LayerNorm(c) for c in self.out_channels)
        self.apply(_init_swin_weights)

    @classmethod
    def from_config(cls, config: SwinConfig) -> SwinTransformer:
        return cls(embed_dim=config.embed_dim, depths=config.depths, num_heads=config.num_heads,
                   window_size=config.window_size, drop_path_rate=config.drop_path_rate, mlp_ratio=config.mlp_ratio)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.patch_embed(images.contiguous(memory_format=torch.channels_last))
        features = []
        for stage, norm in zip(self.layers, self.out_norms, strict=True):
            out, x = stage(x)
            features.append(norm(out).permute(0, 3, 1, 2).contiguous())  # NCHW, as the official code
        return tuple(features)


def _init_swin_weights(module: nn.Module) -> None:
    """The official initialisation: truncated normal (std 0.02) Linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)

"""Small building blocks shared by the Swin encoder, the NeWCRF decoders, MoDOT and SSR.

Feature maps are NCHW-shaped tensors. Most of them are stored channels-last in memory (they come from token
tensors of shape (B, H, W, C) viewed as (B, C, H, W)); every op used here accepts either layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_image_batch(images: torch.Tensor, where: str = "MoDOT input") -> None:
    """Raise a ValueError unless `images` is a floating (B, 3, H, W) tensor with B, H, W >= 1."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{where}: expected a torch.Tensor of shape (B, 3, H, W), got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3 or min(images.shape) < 1:
        raise ValueError(f"{where}: expected shape (B, 3, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"{where}: expected a floating-point tensor, got {images.dtype}")


class ConvBNReLU(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU, the `ConvBnRelu` of the official code.

    Padding is (k - 1) // 2, so odd kernels keep the spatial size at stride 1.
    Input (B, C_in, H, W); output (B, C_out, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
                 relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu(x, inplace=True) if self.relu else x


class ChannelGate(nn.Module):
    """CBAM channel attention: sigmoid(mlp(maxpool(x)) + mlp(avgpool(x))).

    The MLP is two bias-free 1x1 convolutions C -> C // reduction -> C with a ReLU between them
    (keys `mlp.0.weight`, `mlp.2.weight`). Input (B, C, H, W); output weights (B, C, 1, 1) in (0, 1).
    """

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        max_pooled = F.adaptive_max_pool2d(x, 1)
        avg_pooled = F.adaptive_avg_pool2d(x, 1)
        return torch.sigmoid(self.mlp(max_pooled) + self.mlp(avg_pooled))


class SpatialGate(nn.Module):
    """CBAM spatial attention: sigmoid(conv_kxk([max over channels, mean over channels])).

    Input (B, C, H, W); output weights (B, 1, H, W) in (0, 1).
    """

    def __init__(self, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # torch.max (not amax): on ties the gradient goes to one channel, as in the official code
        descriptor = torch.cat([torch.max(x, dim=1, keepdim=True)[0], x.mean(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(descriptor))


class ResidualBottleneck(nn.Module):
    """torchvision-style ResNet bottleneck without downsampling: 1x1 -> 3x3 -> 1x1 (x4), residual, ReLU.

    `ResidualBottleneck(64, 16)` maps (B, 64, H, W) to (B, 64, H, W); keys conv1/bn1/conv2/bn2/conv3/bn3 as in the
    official `Bottleneck`.
    """

    expansion = 4

    def __init__(self, channels: int, width: int):
        super().__init__()
        if width * self.expansion != channels:
            raise ValueError(f"bottleneck width {width} x {self.expansion} must equal its {channels} channels")
        self.conv1 = nn.Conv2d(channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        return F.relu(out + x, inplace=True)


class DropPath(nn.Module):
    """Stochastic depth per sample: in training, zero a sample's residual branch with probability `p` and scale
    the kept ones by 1 / (1 - p). Identity in eval mode or when p == 0."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _crop_or_pad_1d(size_in: int, size_out: int) -> tuple[int, int]:
    """(start, pad_before) of the official `crop` along one axis; `start` indexes the unpadded input."""
    if size_in >= size_out:
        return (size_in - size_out) // 2, 0
    pad = (size_out - size_in) // 2 + 1
    return (size_in + 2 * pad - size_out) // 2 - pad, pad


def center_crop_or_pad(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Centre-crop (or zero-pad, then centre-crop) `x` (B, C, H, W) to (B, C, height, width).

    Reproduces the official `crop(data1, data2)` exactly, odd offsets included: a larger axis keeps the rows from
    (H - height) // 2; a smaller one is padded by (height - H) // 2 + 1 on both sides and then cropped the same way.
    Pure cropping returns a view.
    """
    h_in, w_in = x.shape[-2:]
    if (h_in, w_in) == (height, width):
        return x
    top, _ = _crop_or_pad_1d(h_in, height)
    left, _ = _crop_or_pad_1d(w_in, width)
    if top >= 0 and left >= 0:
        return x[..., top:top + height, left:left + width]
    # negative padding crops: one call handles an axis that grows next to one that shrinks
    return F.pad(x, (-left, width - w_in + left, -top, height - h_in + top))


def upsample_bilinear(x: torch.Tensor, scale: int, *, align_corners: bool) -> torch.Tensor:
    """Bilinear upsampling of (B, C, H, W) by an integer factor to (B, C, scale * H, scale * W)."""
    if scale == 1:
        return x
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=align_corners)

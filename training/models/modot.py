"""MoDOT (Xu, Wang, Wang, WACV 2026): joint monocular depth and occlusion-boundary (OB) estimation.

MoDOT is NeWCRFs (Swin encoder, pyramid pooling head, four NeWCRF window-attention decoders, sigmoid depth head)
plus an MT-ORL-style OB decoder fed by lateral encoder features and a full-resolution image path, with a
Cross-Attention Strip Module (CASM) at each of the four depth-decoder levels exchanging information between the
depth features and the OB lateral features. Spec: docs/model.md and the project's MoDOT specification (section 1).

Every channel count is derived from the encoder and from the decoder widths; any Swin size works (the official
code hard-codes Swin-L's lateral channels and crashes with the others).

Quirks of the official network that are kept by default (so the authors' checkpoints load and reproduce their
outputs), each named where it lives:
- `side_head_relu`: the four side OB heads end in ReLU, so side logits are >= 0 (`BoundaryDecoder`).
- `ppm_groupnorm_all_branches`: every pyramid-pooling branch uses GroupNorm(256) (`PyramidPoolingHead`).
- centre crops vs. bottom/right padding: Swin pads at the bottom and right while the decoders and heads crop
  symmetrically (`center_crop_or_pad`), which shifts coarse features by about a pixel for sizes that are not
  multiples of 32.
- the NeWCRF value-grid shift for odd sizes (see `training.models.newcrf`).
- the step between the two stride-4 OB levels is a plain 1x1 convolution without BN or ReLU (`BoundaryDecoder`).
- the depth head applies the sigmoid *before* its x4 bilinear upsampling.
- CASM and the OB modules keep PyTorch's default initialisation (the official `CASM.init_weights` is never called).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from training.models.layers import (
    ChannelGate,
    ConvBNReLU,
    SpatialGate,
    center_crop_or_pad,
    check_image_batch,
    upsample_bilinear,
)
from training.models.newcrf import NeWCRF
from training.models.swin import SwinTransformer


class ModotOutput(NamedTuple):
    """What MoDOT (and SSR) return.

    depth: (B, 1, H, W), sigmoid x max_depth, in the network's depth units (see the checkpoint's `depth_unit_m`);
        None for a boundary-only model (`tasks=("boundary",)`).
    boundary_logits: OB logit maps, each (B, 1, H, W). MoDOT gives five, ordered
        [side 1/16, side 1/8, side 1/4 (from encoder stage 1), side 1/4 (from stage 0), final]; SSR gives one; a
        depth-only model none. `boundary_logits[-1]` is the final map.
    """

    depth: torch.Tensor | None
    boundary_logits: tuple[torch.Tensor, ...]


class ModotFeatures(NamedTuple):
    """`Modot.forward_features`: the outputs plus the two feature maps the SSR stage consumes.

    depth_features: (B, C0, ceil(H/4), ceil(W/4)), the last CASM's depth output (input of the depth head); None
        without the depth task.
    boundary_features: (B, 64, H, W), the OB decoder's full-resolution state before its final head; None without the
        boundary task.
    """

    depth: torch.Tensor | None
    boundary_logits: tuple[torch.Tensor, ...]
    depth_features: torch.Tensor | None
    boundary_features: torch.Tensor | None


class CasmOutput(NamedTuple):
    ob: torch.Tensor
    depth: torch.Tensor


# ----------------------------------------------------------------------------------------------------------------
# Depth path


class ConvNormReLU(nn.Module):
    """Bias-free conv -> given norm -> ReLU (mmcv's `ConvModule` as the pyramid pooling head uses it)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, norm: nn.Module):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm = norm
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")  # mmcv's ConvModule init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)), inplace=True)


class PyramidPoolingHead(nn.Module):
    """PSPNet pooling pyramid on the deepest encoder feature (`decoder` in the official code).

    Each branch average-pools to s x s, applies a 1x1 Conv-Norm-ReLU to `channels`, and is bilinearly resized back;
    the input and the branches are concatenated and fused by a 3x3 Conv-BN-ReLU. No dropout.

    Quirk `groupnorm_all_branches` (default True, faithful): NeWCRFs switches the branch norm to
    GroupNorm(`groupnorm_groups`) while building the scale-1 branch (whose 1x1 map BatchNorm cannot normalise
    with batch size 1) and, scale 1 coming first, every branch keeps it. False gives the evident intent: GroupNorm
    only where the pooled map is 1x1, BatchNorm elsewhere (the parameter names stay the same).

    Input (B, C_in, h, w); output (B, channels, h, w).
    """

    def __init__(self, in_channels: int, channels: int = 512, pool_scales: Sequence[int] = (1, 2, 3, 6), *,
                 groupnorm_all_branches: bool = True, groupnorm_groups: int = 256):
        super().__init__()
        self.pool_scales = tuple(pool_scales)

        def branch_norm(scale: int) -> nn.Module:
            if groupnorm_all_branches or scale == 1:
                return nn.GroupNorm(groupnorm_groups, channels)
            return nn.BatchNorm2d(channels)

        self.branches = nn.ModuleList(
            ConvNormReLU(in_channels, channels, 1, branch_norm(scale)) for scale in self.pool_scales
        )
        self.bottleneck = ConvBNReLU(in_channels + len(self.pool_scales) * channels, channels, 3)
        nn.init.kaiming_normal_(self.bottleneck.conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pyramid = [x]
        for scale, branch in zip(self.pool_scales, self.branches, strict=True):
            pooled = branch(F.adaptive_avg_pool2d(x, scale))
            pyramid.append(F.interpolate(pooled, size=size, mode="bilinear", align_corners=False))
        return self.bottleneck(torch.cat(pyramid, dim=1))


class DepthHead(nn.Module):
    """3x3 conv to one channel, sigmoid, x`scale` bilinear upsampling, centre crop: values in (0, 1).

    Input (B, C, h, w); output (B, 1, height, width). (The official `DispHead`; the sigmoid comes before the
    upsampling.)
    """

    def __init__(self, in_channels: int, scale: int = 4):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(in_channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        y = upsample_bilinear(torch.sigmoid(self.conv(x)), self.scale, align_corners=False)
        return center_crop_or_pad(y, height, width)


# ----------------------------------------------------------------------------------------------------------------
# CASM


def _strip_pair(channels: int, kernel: tuple[int, int]) -> nn.Sequential:
    """[conv k, BN, ReLU, conv k, BN] with biased convs and 'same' padding (keys 0, 1, 3, 4)."""
    padding = ((kernel[0] - 1) // 2, (kernel[1] - 1) // 2)
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel, padding=padding),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, kernel, padding=padding),
        nn.BatchNorm2d(channels),
    )


class MultiScaleStripFusion(nn.Module):
    """Three parallel branches on one feature, concatenated and fused by a 1x1 Conv-BN-ReLU (`MSS_Fuse`).

    Branch A: relu(horizontal 1xk pair + vertical kx1 pair) for k = strip_kernels[0] (7); branch B: a 3x3
    Conv-BN-ReLU; branch C: branch A with k = strip_kernels[1] (11). (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, strip_kernels: tuple[int, int] = (7, 11)):
        super().__init__()
        short, long = strip_kernels
        self.horizontal_short = _strip_pair(channels, (1, short))
        self.vertical_short = _strip_pair(channels, (short, 1))
        self.square = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)
        )
        self.horizontal_long = _strip_pair(channels, (1, long))
        self.vertical_long = _strip_pair(channels, (long, 1))
        self.project = ConvBNReLU(3 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in-place sums on fresh BatchNorm outputs (BatchNorm's backward does not need them): fewer allocations
        short = F.relu(self.horizontal_short(x).add_(self.vertical_short(x)), inplace=True)
        long = F.relu(self.horizontal_long(x).add_(self.vertical_long(x)), inplace=True)
        return self.project(torch.cat([short, self.square(x), long], dim=1))


class CASM(nn.Module):
    """Cross-Attention Strip Module: CBAM channel gating in both directions plus strip-convolution fusion.

    With O the OB feature and D the depth feature, both (B, C, H, W):
        depth_out = MSS(fuse([O, D])) + D * CA_O(O) + D
        ob_out = O + O * CA_D(D)
    where CA_* are CBAM channel gates (reduction 16) and fuse is a biased 1x1 conv 2C -> C. No dot-product
    attention and no strip pooling (spec section 1.4).
    """

    def __init__(self, channels: int, reduction: int = 16, strip_kernels: tuple[int, int] = (7, 11)):
        super().__init__()
        self.ob_gate = ChannelGate(channels, reduction)
        self.depth_gate = ChannelGate(channels, reduction)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)
        self.strips = MultiScaleStripFusion(channels, strip_kernels)

    def forward(self, ob: torch.Tensor, depth: torch.Tensor) -> CasmOutput:
        if ob.shape != depth.shape:
            raise ValueError(f"CASM: OB feature {tuple(ob.shape)} and depth feature {tuple(depth.shape)} differ")
        ob_weights, depth_weights = self.ob_gate(ob), self.depth_gate(depth)
        fused = self.strips(self.fuse(torch.cat([ob, depth], dim=1)))
        # in-place adds on fresh products: one allocation per output, the official rounding order
        depth_out = (depth * ob_weights).add_(fused).add_(depth)
        return CasmOutput(ob=(ob * depth_weights).add_(ob), depth=depth_out)


# ----------------------------------------------------------------------------------------------------------------
# OB path


class ImagePath(nn.Module):
    """Full-resolution image features for the OB decoder (the official "EIP").

    1x1 Conv-BN-ReLU 3 -> `hidden`, `num_3x3` 3x3 Conv-BN-ReLU at `hidden`, 1x1 Conv-BN-ReLU to `out_channels`;
    then a CBAM channel gate (reduction 4) and a CBAM spatial gate (5x5) applied in parallel as x * g + x, the two
    gated maps concatenated and fused by a 1x1 Conv-BN-ReLU. (B, 3, H, W) -> (B, out_channels, H, W).
    """

    def __init__(self, in_channels: int = 3, hidden: int = 16, out_channels: int = 64, num_3x3: int = 6,
                 channel_reduction: int = 4, spatial_kernel: int = 5):
        super().__init__()
        self.out_channels = out_channels
        layers = [ConvBNReLU(in_channels, hidden, 1)]
        layers += [ConvBNReLU(hidden, hidden, 3) for _ in range(num_3x3)]
        layers.append(ConvBNReLU(hidden, out_channels, 1))
        self.convs = nn.Sequential(*layers)
        self.channel_gate = ChannelGate(out_channels, channel_reduction)
        self.spatial_gate = SpatialGate(spatial_kernel)
        self.fuse = ConvBNReLU(2 * out_channels, out_channels, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.convs(images.contiguous(memory_format=torch.channels_last))
        gated = [(x * self.channel_gate(x)).add_(x), (x * self.spatial_gate(x)).add_(x)]
        return self.fuse(torch.cat(gated, dim=1))


class BoundaryDecoderOutput(NamedTuple):
    logits: tuple[torch.Tensor, ...]
    features: torch.Tensor


class BoundaryDecoder(nn.Module):
    """Top-down OB decoder of MT-ORL (`BasicDecoder2`), with side outputs after every level but the last.

    Args:
        feature_channels: channels of the inputs, coarsest first (MoDOT: o3, o2, o1, o0, image path).
        feature_strides: their strides relative to the image (MoDOT: 16, 8, 4, 4, 1).
        end_channels: width of the final 3x3 Conv-BN-ReLU before the 1x1 logit conv.
        side_head_relu: quirk (default True, faithful): each side head is a 1x1 Conv-BN-ReLU to one channel, so side
            logits are >= 0 and side probabilities >= 0.5. False drops that ReLU (same parameters).

    Each input is first halved by a 1x1 Conv-BN-ReLU. At level k the state is centre-cropped (or padded) to the
    level-k feature, concatenated after it, and refined by two 3x3 Conv-BN-ReLU. It then moves to the next level
    through a 1x1 Conv-BN-ReLU (when the width changes) and bilinear upsampling (align_corners=True); between two
    levels of equal stride the step is a plain bias-free 1x1 conv (official quirk).

    Forward: the five inputs and the output size (height, width) -> logits (len(inputs) maps (B, 1, height, width):
    the side maps, coarsest first, then the final map) and the full-resolution state (B, 2 * C_last / 2, H, W).
    """

    def __init__(self, feature_channels: Sequence[int], feature_strides: Sequence[int], *, end_channels: int = 64,
                 side_head_relu: bool = True):
        super().__init__()
        if len(feature_channels) != len(feature_strides):
            raise ValueError("feature_channels and feature_strides must have the same length")
        halves = [c // 2 for c in feature_channels]
        widths = [halves[0]] + [2 * h for h in halves[1:]]
        self.strides = tuple(feature_strides)
        self.state_channels = widths[-1]
        self.reduce = nn.ModuleList(ConvBNReLU(c, h, 1) for c, h in zip(feature_channels, halves, strict=True))
        self.fuse = nn.ModuleList(nn.Sequential(ConvBNReLU(w, w, 3), ConvBNReLU(w, w, 3)) for w in widths)
        self.side_heads = nn.ModuleList(ConvBNReLU(w, 1, 1, relu=side_head_relu) for w in widths[:-1])
        self.transitions = nn.ModuleList(
            _transition(widths[i], halves[i + 1], self._step(i)) for i in range(len(widths) - 1)
        )
        self.final = ConvBNReLU(widths[-1], end_channels, 3)
        self.logit = nn.Conv2d(end_channels, 1, 1, bias=False)

    def _step(self, level: int) -> int:
        return self.strides[level] // self.strides[level + 1]

    def forward(self, features: Sequence[torch.Tensor], height: int, width: int) -> BoundaryDecoderOutput:
        if len(features) != len(self.reduce):
            raise ValueError(f"BoundaryDecoder: expected {len(self.reduce)} features, got {len(features)}")
        logits = []
        state = None
        for level, feature in enumerate(features):
            # channels-last: the full-resolution 3x3 convolutions run about 30 % faster on the CPU (and on GPUs)
            feature = self.reduce[level](feature.contiguous(memory_format=torch.channels_last))
            if state is not None:
                feature = torch.cat([feature, center_crop_or_pad(state, *feature.shape[-2:])], dim=1)
            state = self.fuse[level](feature)
            if level < len(self.transitions):
                side = upsample_bilinear(self.side_heads[level](state), self.strides[level], align_corners=True)
                logits.append(center_crop_or_pad(side, height, width))
                state = upsample_bilinear(self.transitions[level](state), self._step(level), align_corners=True)
        logits.append(center_crop_or_pad(self.logit(self.final(state)), height, width))
        return BoundaryDecoderOutput(tuple(logits), state)


def _transition(in_channels: int, out_channels: int, step: int) -> nn.Module:
    """Channel change between two decoder levels (the upsampling is done in `BoundaryDecoder.forward`)."""
    if step == 1:
        return nn.Conv2d(in_channels, out_channels, 1, bias=False)
    if in_channels != out_channels:
        return ConvBNReLU(in_channels, out_channels, 1)
    return nn.Identity()


# ----------------------------------------------------------------------------------------------------------------
# The network


TASKS = ("depth", "boundary")


class Modot(nn.Module):
    """MoDOT stage 1: depth and five OB logit maps from an RGB image.

    Args:
        encoder: a `SwinTransformer` (any size or window); all decoder input channels are taken from it.
        max_depth: depth output scale: depth = sigmoid(...) x max_depth, in the training data's depth units.
        crf_dims: widths of the four NeWCRF levels, finest first (crf0..crf3); levels 1-3 are followed by
            PixelShuffle(2), so their depth features have crf_dims[l] / 4 channels.
        crf_heads: attention heads of the four levels.
        crf_window: NeWCRF attention window (7 whatever the encoder window, as in the official code).
        ppm_channels: width of the pyramid pooling head (the value input of crf3).
        ppm_groupnorm_groups: groups of its GroupNorm (256 in the official code).
        side_head_relu, ppm_groupnorm_all_branches: faithful quirks, see `BoundaryDecoder`, `PyramidPoolingHead`.
        tasks: what the network predicts, a subset of ("depth", "boundary"). The paper's single-task baselines
            build only their own path: depth only is NeWCRFs (encoder, pyramid pooling, NeWCRF decoders, depth
            head), boundary only is the encoder with the OB laterals, image path and OB decoder. A module of the
            other task would receive no gradient through the loss but, through CASM, would still shape the
            remaining task's features, so it is not built at all.
        casm: the Cross-Attention Strip Modules between the two paths (needs both tasks). Without them (the
            ablation) the depth decoder's output goes straight to the next level and the OB laterals straight to
            the OB decoder.

    Input: (B, 3, H, W) ImageNet-normalised RGB, any H, W >= 1. Output: `ModotOutput`.
    """

    def __init__(self, *, encoder: SwinTransformer, max_depth: float,
                 crf_dims: Sequence[int] = (128, 256, 512, 1024), crf_heads: Sequence[int] = (4, 8, 16, 32),
                 crf_window: int = 7, ppm_channels: int = 512, ppm_groupnorm_groups: int = 256,
                 side_head_relu: bool = True, ppm_groupnorm_all_branches: bool = True,
                 tasks: Sequence[str] = TASKS, casm: bool = True):
        super().__init__()
        if max_depth <= 0:
            raise ValueError(f"max_depth must be positive, got {max_depth}")
        levels = len(encoder.out_channels)
        if len(crf_dims) != levels or len(crf_heads) != levels:
            raise ValueError(f"crf_dims and crf_heads need one entry per encoder level ({levels})")
        if any(d % 4 for d in crf_dims[1:]):
            raise ValueError(f"crf_dims[1:] {tuple(crf_dims[1:])} must be divisible by 4 (PixelShuffle(2))")
        self.tasks = check_tasks(tasks)
        if casm and self.tasks != TASKS:
            raise ValueError(f"casm joins the depth and boundary paths: a model of tasks {self.tasks} has none "
                             "(set casm to false)")
        self.max_depth = float(max_depth)
        # depth feature width at each level after its PixelShuffle (none at level 0) = the CASM width
        widths = [crf_dims[0]] + [d // 4 for d in crf_dims[1:]]
        value_dims = widths[1:] + [ppm_channels]
        self.encoder = encoder
        # modules are created in the official order, so that a seed gives the official initialisation
        depth, boundary = "depth" in self.tasks, "boundary" in self.tasks
        if depth:
            self.ppm = PyramidPoolingHead(encoder.out_channels[-1], ppm_channels,
                                          groupnorm_all_branches=ppm_groupnorm_all_branches,
                                          groupnorm_groups=ppm_groupnorm_groups)
            self.depth_decoders = nn.ModuleList(
                NeWCRF(input_dim=encoder.out_channels[level], value_dim=value_dims[level],
                       embed_dim=crf_dims[level], num_heads=crf_heads[level], window_size=crf_window)
                for level in range(levels)
            )
        if boundary:
            self.ob_laterals = nn.ModuleList(
                ConvBNReLU(encoder.out_channels[level], widths[level], 1) for level in range(levels)
            )
        self.casms = nn.ModuleList(CASM(w) for w in widths) if casm else None
        if depth:
            self.depth_head = DepthHead(crf_dims[0], scale=encoder.out_strides[0])
        if boundary:
            self.image_path = ImagePath()
            # OB lateral strides: the encoder's, halved by the 2x upsampling on every level but the finest
            lateral_strides = [encoder.out_strides[0]] + [s // 2 for s in encoder.out_strides[1:]]
            self.ob_decoder = BoundaryDecoder(
                feature_channels=[*widths[::-1], self.image_path.out_channels],
                feature_strides=[*lateral_strides[::-1], 1],
                side_head_relu=side_head_relu,
            )

    def forward(self, images: torch.Tensor) -> ModotOutput:
        features = self.forward_features(images)
        return ModotOutput(features.depth, features.boundary_logits)

    def forward_features(self, images: torch.Tensor) -> ModotFeatures:
        """The outputs and the two inner features SSR needs; see `ModotFeatures`."""
        check_image_batch(images)
        height, width = images.shape[-2:]
        feats = self.encoder(images)
        ob = None
        if "boundary" in self.tasks:
            ob = [lateral(f if level == 0 else upsample_bilinear(f, 2, align_corners=False))
                  for level, (lateral, f) in enumerate(zip(self.ob_laterals, feats, strict=True))]
        depth = value = None
        if "depth" in self.tasks:
            value = self.ppm(feats[-1])
            for level in reversed(range(len(feats))):
                level_depth = self.depth_decoders[level](feats[level], value)
                if level > 0:
                    level_depth = F.pixel_shuffle(level_depth, 2)
                if self.casms is None:
                    value = level_depth
                else:
                    ob[level], value = self.casms[level](ob[level], level_depth)
            depth = (self.depth_head(value, height, width) * self.max_depth).contiguous()
        if ob is None:
            return ModotFeatures(depth, (), value, None)
        decoded = self.ob_decoder([*ob[::-1], self.image_path(images)], height, width)
        return ModotFeatures(depth, tuple(t.contiguous() for t in decoded.logits), value, decoded.features)


def check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    """The tasks in canonical order ("depth" before "boundary"); ValueError when empty or unknown."""
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f"tasks: expected a non-empty subset of {TASKS}, got {tuple(tasks)}")
    return tuple(t for t in TASKS if t in tasks)

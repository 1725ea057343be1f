"""SSR, MoDOT's second stage (`MoDOT_SSR.py`): a small refiner trained on top of a frozen, trained MoDOT.

From stage 1 it takes the last CASM's depth feature (stride 4) and the OB decoder's full-resolution state. The OB
state is brought to stride 4 by two strided Conv-BN-ReLU, the depth feature is reduced to the same width by a 1x1
conv, a CASM crosses the two, and two heads (ResNet bottleneck + 1x1 conv) predict the refined depth and one OB
logit map. Spec section 1.6.

Deliberate deviation (`stage1_mode`): the official code freezes stage 1's parameters but leaves it in train mode,
so while SSR trains, stage 1's BatchNorm layers normalise with batch statistics and update their running
statistics, and its drop-path stays active. Here stage 1 is kept in eval mode by default (`stage1_mode="eval"`);
`stage1_mode="train"` reproduces the official behaviour.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from training.models.layers import ConvBNReLU, ResidualBottleneck, center_crop_or_pad, upsample_bilinear
from training.models.modot import CASM, TASKS, Modot, ModotOutput

Stage1Mode = Literal["eval", "train"]


def _head(channels: int) -> nn.Sequential:
    """Bottleneck (channels -> channels / 4 -> channels, residual) then a biased 1x1 conv to one channel."""
    return nn.Sequential(OrderedDict([
        ("bottleneck", ResidualBottleneck(channels, channels // ResidualBottleneck.expansion)),
        ("logit", nn.Conv2d(channels, 1, 1)),
    ]))


class ModotSSR(nn.Module):
    """MoDOT + SSR: a frozen stage-1 `Modot` and the trainable refiner.

    Args:
        stage1: the stage-1 network (its parameters are frozen here; load its weights before or after).
        max_depth: depth output scale of the refined depth (sigmoid x max_depth), in the data's depth units.
        stage1_mode: "eval" (default, deviation from the official code) keeps stage 1 in eval mode whatever
            `train()` is called with; "train" lets stage 1 follow this module's mode, as the official code does.

    Input (B, 3, H, W); output `ModotOutput` with depth (B, 1, H, W) and a 1-tuple of OB logits (B, 1, H, W).
    """

    def __init__(self, stage1: Modot, *, max_depth: float, stage1_mode: Stage1Mode = "eval"):
        super().__init__()
        if stage1_mode not in ("eval", "train"):
            raise ValueError(f"stage1_mode must be 'eval' or 'train', got {stage1_mode!r}")
        if max_depth <= 0:
            raise ValueError(f"max_depth must be positive, got {max_depth}")
        if stage1.tasks != TASKS:
            raise ValueError(f"SSR refines both depth and boundaries; its stage 1 predicts only {stage1.tasks}")
        self.tasks = TASKS
        self.max_depth = float(max_depth)
        self.stage1_mode = stage1_mode
        self.stage1 = stage1
        self.stage1.requires_grad_(False)
        ob_channels = stage1.ob_decoder.state_channels
        depth_channels = stage1.depth_head.conv.in_channels
        self.ob_down = nn.Sequential(
            ConvBNReLU(ob_channels, ob_channels, 3, stride=2),
            ConvBNReLU(ob_channels, ob_channels, 1, stride=2),
        )
        self.depth_reduce = nn.Conv2d(depth_channels, ob_channels, 1)
        self.casm = CASM(ob_channels)
        self.depth_head = _head(ob_channels)
        self.boundary_head = _head(ob_channels)
        self.train()

    def train(self, mode: bool = True) -> ModotSSR:
        super().train(mode)
        if self.stage1_mode == "eval":
            self.stage1.eval()
        return self

    def forward(self, images: torch.Tensor) -> ModotOutput:
        height, width = images.shape[-2:]
        with torch.no_grad():
            stage1 = self.stage1.forward_features(images)
        ob = self.ob_down(stage1.boundary_features)  # stride 4, like the depth feature
        depth = self.depth_reduce(stage1.depth_features)
        crossed = self.casm(ob, depth)
        depth_logit = self.depth_head(depth + crossed.depth)
        depth_logit = F.interpolate(depth_logit, size=(height, width), mode="bilinear", align_corners=False)
        full = stage1.boundary_features
        refined = center_crop_or_pad(upsample_bilinear(crossed.ob, 4, align_corners=False), *full.shape[-2:]) + full
        logit = center_crop_or_pad(self.boundary_head(refined), height, width)
        return ModotOutput(torch.sigmoid(depth_logit) * self.max_depth, (logit.contiguous(),))

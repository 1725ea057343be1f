"""Official MoDOT key names for our modules, written independently of the converter (the inverse direction)."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from training.models import build_modot

_PARTS = {"ob_gate.mlp": "ca_ob.se", "depth_gate.mlp": "ca_depth.se", "fuse": "fuse_layer",
          "strips.horizontal_short": "sa.conv1", "strips.vertical_short": "sa.conv2", "strips.square": "sa.conv3",
          "strips.horizontal_long": "sa.conv4", "strips.vertical_long": "sa.conv5", "strips.project": "sa.conv_end"}
_PART = "|".join(re.escape(p) for p in _PARTS)

# Our name -> official name, written independently of the converter's rules (the inverse direction).
_TO_OFFICIAL = [
    (r"^encoder\.out_norms\.(\d)\.", lambda m: f"backbone.norm{m[1]}."),
    (r"^encoder\.", lambda m: "backbone."),
    (r"^ppm\.branches\.(\d)\.conv\.", lambda m: f"decoder.psp_modules.{m[1]}.1.conv."),
    (r"^ppm\.branches\.(\d)\.norm\.", lambda m: f"decoder.psp_modules.{m[1]}.1.gn."),
    (r"^ppm\.bottleneck\.", lambda m: "decoder.bottleneck."),
    (r"^depth_decoders\.(\d)\.blocks\.", lambda m: f"crf{m[1]}.crf_layer.blocks."),
    (r"^depth_decoders\.(\d)\.norm\.", lambda m: f"crf{m[1]}.norm_crf."),
    (r"^depth_decoders\.(\d)\.", lambda m: f"crf{m[1]}."),
    (r"^depth_head\.conv\.", lambda m: "disp_head.conv1."),
    (r"^ob_laterals\.(\d)\.", lambda m: f"skip_feat{4 - int(m[1])}."),
    (rf"^casms\.(\d)\.({_PART})\.", lambda m: f"feats_cross{4 - int(m[1])}.{_PARTS[m[2]]}."),
    (r"^image_path\.convs\.", lambda m: "ob_convolution."),
    (r"^image_path\.channel_gate\.mlp\.", lambda m: "ca_img.se."),
    (r"^image_path\.spatial_gate\.", lambda m: "sa_img."),
    (r"^image_path\.fuse\.", lambda m: "fuse_aimg."),
    (r"^ob_decoder\.reduce\.", lambda m: "ob_decoder.half_features_op."),
    (r"^ob_decoder\.fuse\.", lambda m: "ob_decoder.decoder_fuses."),
    (r"^ob_decoder\.side_heads\.(\d)\.", lambda m: f"ob_decoder.out_upsamples.{m[1]}.0.conv."),
    (r"^ob_decoder\.transitions\.(\d)\.(conv|bn)\.", lambda m: f"ob_decoder.decoder_upsamples.{m[1]}.0.conv.{m[2]}."),
    (r"^ob_decoder\.transitions\.(\d)\.weight", lambda m: f"ob_decoder.decoder_upsamples.{m[1]}.0.weight"),
    (r"^ob_decoder\.final\.", lambda m: "ob_decoder.end.0."),
    (r"^ob_decoder\.logit\.", lambda m: "ob_decoder.end.1."),
]


def to_official_name(name: str) -> str:
    for pattern, replacement in _TO_OFFICIAL:
        match = re.match(pattern, name)
        if match:
            return replacement(match) + name[match.end():]
    raise AssertionError(f"no inverse rule for {name}")


def official_toy_checkpoint(path: Path, variant: str) -> torch.nn.Module:
    """Write a toy model under official key names (a DataParallel `module.` prefix, a 'model' entry)."""
    model = build_modot(variant, max_depth=10.0)
    official = {"module." + to_official_name(k): v for k, v in model.state_dict().items()}
    torch.save({"model": official, "epoch": 3}, path)
    return model



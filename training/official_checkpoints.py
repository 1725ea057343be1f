"""Conversion of the authors' MoDOT checkpoints (xul-ops/MoDOT) into our checkpoint format.

Official checkpoints (`torch.save({"model": DataParallel(model).state_dict(), ...})`) are converted by renaming
every key with `OFFICIAL_KEY_RULES` (documented in docs/model.md). The `relative_position_index` buffers are dropped
(they are recomputed from the window size). Anything unknown, missing or of the wrong shape is an error that lists
the keys.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from obtoolkit.errors import FormatError
from training.checkpoints import write_checkpoint
from training.models.registry import build_modot, get_variant

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# The official modules named by encoder level from the deepest: skip_feat1 / feats_cross1 sit at level 3.
_LEVEL_FROM_OFFICIAL_INDEX = {"1": "3", "2": "2", "3": "1", "4": "0"}
_CASM_PARTS = {
    "ca_ob.se": "ob_gate.mlp",
    "ca_depth.se": "depth_gate.mlp",
    "fuse_layer": "fuse",
    "sa.conv1": "strips.horizontal_short",
    "sa.conv2": "strips.vertical_short",
    "sa.conv3": "strips.square",
    "sa.conv4": "strips.horizontal_long",
    "sa.conv5": "strips.vertical_long",
    "sa.conv_end": "strips.project",
}
_CASM_PART = "|".join(re.escape(part) for part in _CASM_PARTS)


def _rule(pattern: str, replacement: str | Callable[[re.Match[str]], str]) -> Rule:
    template = replacement if callable(replacement) else (lambda m, r=replacement: m.expand(r))
    return re.compile(pattern), template


def _casm(prefix: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f"{prefix(m) if callable(prefix) else prefix}{_CASM_PARTS[m['part']]}{m['rest']}"


OFFICIAL_KEY_RULES: tuple[Rule, ...] = (
    _rule(r"^backbone\.norm(\d)\.(.+)$", r"encoder.out_norms.\1.\2"),
    _rule(r"^backbone\.((?:patch_embed|layers)\..+)$", r"encoder.\1"),
    _rule(r"^decoder\.psp_modules\.(\d+)\.1\.conv\.(.+)$", r"ppm.branches.\1.conv.\2"),
    _rule(r"^decoder\.psp_modules\.(\d+)\.1\.(?:gn|bn)\.(.+)$", r"ppm.branches.\1.norm.\2"),
    _rule(r"^decoder\.bottleneck\.(conv|bn)\.(.+)$", r"ppm.bottleneck.\1.\2"),
    _rule(r"^crf(\d)\.(proj_x|proj_v)\.(.+)$", r"depth_decoders.\1.\2.\3"),
    _rule(r"^crf(\d)\.crf_layer\.blocks\.(.+)$", r"depth_decoders.\1.blocks.\2"),
    _rule(r"^crf(\d)\.norm_crf\.(.+)$", r"depth_decoders.\1.norm.\2"),
    _rule(r"^disp_head\.conv1\.(.+)$", r"depth_head.conv.\1"),
    _rule(r"^skip_feat([1-4])\.(.+)$", lambda m: f"ob_laterals.{_LEVEL_FROM_OFFICIAL_INDEX[m[1]]}.{m[2]}"),
    _rule(rf"^feats_cross([1-4])\.(?P<part>{_CASM_PART})(?P<rest>\..+)$",
          _casm(lambda m: f"casms.{_LEVEL_FROM_OFFICIAL_INDEX[m[1]]}.")),
    _rule(r"^ob_convolution\.(\d+)\.(.+)$", r"image_path.convs.\1.\2"),
    _rule(r"^ca_img\.se\.(.+)$", r"image_path.channel_gate.mlp.\1"),
    _rule(r"^sa_img\.conv\.(.+)$", r"image_path.spatial_gate.conv.\1"),
    _rule(r"^fuse_aimg\.(.+)$", r"image_path.fuse.\1"),
    _rule(r"^ob_decoder\.half_features_op\.(.+)$", r"ob_decoder.reduce.\1"),
    _rule(r"^ob_decoder\.decoder_fuses\.(.+)$", r"ob_decoder.fuse.\1"),
    _rule(r"^ob_decoder\.out_upsamples\.(\d+)\.0\.conv\.(.+)$", r"ob_decoder.side_heads.\1.\2"),
    _rule(r"^ob_decoder\.decoder_upsamples\.(\d+)\.0\.conv\.(.+)$", r"ob_decoder.transitions.\1.\2"),
    _rule(r"^ob_decoder\.decoder_upsamples\.(\d+)\.0\.(weight|bias)$", r"ob_decoder.transitions.\1.\2"),
    _rule(r"^ob_decoder\.end\.0\.(.+)$", r"ob_decoder.final.\1"),
    _rule(r"^ob_decoder\.end\.1\.(.+)$", r"ob_decoder.logit.\1"),
)

OFFICIAL_SSR_KEY_RULES: tuple[Rule, ...] = (
    _rule(r"^double_ob\.(.+)$", r"ob_down.\1"),
    _rule(r"^conv_down\.(.+)$", r"depth_reduce.\1"),
    _rule(rf"^feats_cross_final\.(?P<part>{_CASM_PART})(?P<rest>\..+)$", _casm("casm.")),
    _rule(r"^heads\.depth\.0\.(.+)$", r"depth_head.bottleneck.\1"),
    _rule(r"^heads\.depth\.1\.(.+)$", r"depth_head.logit.\1"),
    _rule(r"^ob_bottleneck\.(.+)$", r"boundary_head.bottleneck.\1"),
    _rule(r"^ob_conv_out_\.(.+)$", r"boundary_head.logit.\1"),
)

_SSR_STAGE1_PREFIX = re.compile(r"^init_model\.(?:module\.)?")


def rename_official_key(key: str, *, ssr: bool) -> str | None:
    """Our name for an official key (without the DataParallel `module.` prefix), or None when no rule matches."""
    if ssr:
        stage1 = _SSR_STAGE1_PREFIX.match(key)
        if stage1 is not None:
            inner = rename_official_key(key[stage1.end():], ssr=False)
            return None if inner is None else f"stage1.{inner}"
    for pattern, replacement in OFFICIAL_SSR_KEY_RULES if ssr else OFFICIAL_KEY_RULES:
        match = pattern.match(key)
        if match is not None:
            return replacement(match)
    return None


class ConversionError(ValueError):
    """An official state dict does not match the requested variant; the message lists the offending keys."""


def _expected_state(variant: str) -> dict[str, torch.Tensor]:
    """Names and shapes (meta tensors) of the variant's state dict, built without allocating memory."""
    with torch.device("meta"):
        return build_modot(variant, max_depth=1.0).state_dict()


def _is_untrained_lateral(name: str, value: torch.Tensor, expected: torch.Tensor) -> bool:
    """The official code builds its OB lateral convs for Swin-L channels whatever the encoder (spec 1.1)."""
    return re.search(r"(?:^|\.)ob_laterals\.\d\.conv\.weight$", name) is not None and \
        value.shape[0] == expected.shape[0] and value.shape[1] != expected.shape[1]


def _strip_data_parallel(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("module."): v for k, v in state.items()}


def convert_official_state_dict(official: Mapping[str, torch.Tensor], variant: str, *,
                                reinit_untrained_laterals: bool = False) -> dict[str, torch.Tensor]:
    """Rename an official MoDOT / MoDOT_SSR state dict for `variant`; `model.load_state_dict(result)` is strict.

    Args:
        official: the official state dict (the `model` entry of an official checkpoint); a `module.` prefix
            (DataParallel) is accepted. `relative_position_index` buffers are dropped.
        variant: the target variant; SSR variants expect MoDOT_SSR keys (`init_model.module.*` for stage 1).
        reinit_untrained_laterals: the official network builds its four OB lateral convs with Swin-L input channels
            whatever the encoder, and then fails in forward for any other encoder, so those weights of a non-Large
            official model were never trained. By default that shape mismatch is an error; True replaces the four
            conv weights with freshly initialised ones of the right shape (everything else is converted).

    Raises:
        ConversionError: listing keys without a rule, keys the variant lacks or needs, and shape mismatches.
    """
    spec = get_variant(variant)
    expected = _expected_state(variant)
    converted, unknown = {}, []
    for key, value in _strip_data_parallel(official).items():
        if key.endswith("relative_position_index"):
            continue
        name = rename_official_key(key, ssr=spec.ssr)
        if name is None or name not in expected:
            unknown.append(key)
            continue
        converted[name] = value
    missing = sorted(set(expected) - set(converted))
    mismatched = [name for name, value in converted.items() if tuple(value.shape) != tuple(expected[name].shape)]
    if reinit_untrained_laterals:
        for name in [n for n in mismatched if _is_untrained_lateral(n, converted[n], expected[n])]:
            converted[name] = _fresh_conv_weight(expected[name].shape, converted[name].dtype)
            mismatched.remove(name)
    _raise_if_problems(variant, unknown, missing, mismatched, converted, expected)
    return {name: converted[name] for name in expected}


def _fresh_conv_weight(shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    weight = torch.empty(shape, dtype=dtype)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # nn.Conv2d's default initialisation
    return weight


def _raise_if_problems(variant: str, unknown: list[str], missing: list[str], mismatched: list[str],
                       converted: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> None:
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} official key(s) with no counterpart: {', '.join(unknown)}")
    if missing:
        problems.append(f"{len(missing)} key(s) of {variant} missing from the official state dict: "
                        f"{', '.join(missing)}")
    if mismatched:
        shapes = [f"{n} {tuple(converted[n].shape)} != {tuple(expected[n].shape)}" for n in mismatched]
        problems.append(f"{len(mismatched)} shape mismatch(es): {'; '.join(shapes)}")
        if any(_is_untrained_lateral(n, converted[n], expected[n]) for n in mismatched):
            problems.append("the OB lateral convs have Swin-L input channels: the official network hard-codes them "
                            "and cannot run with this encoder, so they were never trained; pass "
                            "reinit_untrained_laterals=True (CLI: --reinit-untrained-laterals) to initialise them")
    if problems:
        raise ConversionError(f"cannot convert to {variant}: " + "; ".join(problems))


def official_state_dict_from_checkpoint(checkpoint: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict inside an official checkpoint object (its `model` / `state_dict` entry, or itself)."""
    if isinstance(checkpoint, Mapping):
        for key in ("model", "state_dict"):
            if isinstance(checkpoint.get(key), Mapping):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, Mapping) or not checkpoint or \
            not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise FormatError(path, "an official MoDOT checkpoint (a dict with a 'model' state dict)")
    return dict(checkpoint)


def read_official_checkpoint(path: str | Path, *, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read an official `.pth` checkpoint and return its state dict.

    With `trust_pickle=False` the file is read with `weights_only=True`; checkpoints that pickled other objects
    (e.g. the training arguments) then need `trust_pickle=True`, which can run code from the file: only for files
    you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: official checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as error:  # re-raised with the file name and the way out
        hint = "" if trust_pickle else "; if it pickles more than tensors and you trust it, use trust_pickle=True"
        raise FormatError(path, "a PyTorch checkpoint readable with weights_only=True", f"{error}{hint}") from error
    return official_state_dict_from_checkpoint(checkpoint, path)


def convert_official_checkpoint(official_path: str | Path, out_path: str | Path, *, variant: str, max_depth: float,
                                depth_unit_m: float, reinit_untrained_laterals: bool = False,
                                trust_pickle: bool = False) -> Path:
    """Read an official checkpoint, convert it for `variant` and write it in our format (what the CLI does)."""
    official = read_official_checkpoint(official_path, trust_pickle=trust_pickle)
    converted = convert_official_state_dict(official, variant, reinit_untrained_laterals=reinit_untrained_laterals)
    extra = {"converted_from": str(official_path), "source": "official MoDOT checkpoint (xul-ops/MoDOT)",
             "reinit_untrained_laterals": reinit_untrained_laterals}
    return write_checkpoint(out_path, converted, variant=variant, max_depth=max_depth, depth_unit_m=depth_unit_m,
                            extra=extra)

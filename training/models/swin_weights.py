"""ImageNet Swin weights into our encoder: Microsoft's release layout and timm's layout, read without running code.

Our encoder uses the Microsoft / mmseg names (`SwinTransformer` in swin.py). Two key layouts are read:

- **Microsoft** (the official Swin release, e.g. `swin_large_patch4_window7_224_22k.pth`, a `model` entry): the
  names are ours, except the optional `module.` / `backbone.` / `encoder.` prefixes and mmseg's `normN` output norms.
- **timm** (how the hub serves Swin weights, `.pth` or `.safetensors`): PatchMerging sits at the *start* of the next
  stage (`layers.N.downsample` is Microsoft's `layers.{N-1}.downsample`), the classifier is `head.fc`, a
  `features_only` model names its stages `layers_N` and may wrap everything in `model.`. The merge itself
  concatenates the 2x2 neighbours in the same order in both layouts, so the reduction weights need no reordering.

Derived buffers (`relative_position_index`, `attn_mask`) are dropped: the encoder recomputes them. Relative position
tables are bicubically resized between window sizes, as the official loader does.

A file is refused (`FormatError`, one line) when it supplies fewer than `MIN_MATCHED_FRACTION` of the encoder's
tensors besides the four output norms (which no ImageNet checkpoint has). A checkpoint of the right Swin size
supplies all of them; a wrong file (another architecture, a decoder-only file, a Swin-T file for a Swin-S encoder,
which supplies 52%) falls far below, where the official loader would silently train from random weights. The 10%
margin keeps the official loader's tolerance of a few tensors of another shape (left at their initial values and
listed in the report).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from obtoolkit.errors import FormatError, MissingFileError
from training.models.swin import SwinTransformer

logger = logging.getLogger(__name__)

MIN_MATCHED_FRACTION = 0.9
# Buffers an ImageNet checkpoint may carry that this implementation recomputes.
_DERIVED_BUFFER_SUFFIXES = ("relative_position_index", "attn_mask")
_WRAPPER_PREFIXES = ("module.", "model.", "backbone.", "encoder.")  # DataParallel, timm features, mmseg, MoBY
_OUTPUT_NORMS = "out_norms."
_DOWNSAMPLE = re.compile(r"^layers\.(\d+)\.downsample\.")
_FLAT_STAGE = re.compile(r"^layers_(\d+)\.")


@dataclass(frozen=True)
class PretrainedLoadReport:
    """What `load_pretrained_swin` did: the layout it read and key lists, each sorted."""

    path: Path
    layout: str  # "microsoft" or "timm"
    loaded: tuple[str, ...]
    missing: tuple[str, ...]  # encoder keys the file lacks (normally the four `out_norms`)
    unexpected: tuple[str, ...]  # file keys (Microsoft names) the encoder lacks: classifier head, final norm, buffers
    resized: tuple[str, ...]  # relative position tables interpolated to another window size
    skipped: tuple[str, ...]  # shape mismatches left at their initial values, as the official loader does
    expected: int  # encoder tensors an ImageNet checkpoint can supply (all but the output norms)


def read_checkpoint_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a `.safetensors` file, or of a `.pth`/`.pt` file (its `state_dict` or `model` entry if any).

    `.pth` files are read with `weights_only=True`: they must hold tensors and plain containers only.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "checkpoint")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as error:  # safetensors' own error type: re-raised with the file name
            raise FormatError(path, "a safetensors file", str(error)) from error
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # re-raised with the file name
        raise FormatError(path, "a PyTorch checkpoint readable with weights_only=True", str(error)) from error
    if isinstance(checkpoint, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(checkpoint.get(key), Mapping):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, Mapping) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise FormatError(path, "a state dict (a mapping of names to tensors)")
    return dict(checkpoint)


def _strip_wrappers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove `module.` / `model.` / `backbone.` / `encoder.` prefixes shared by every key, in that order."""
    for prefix in _WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def is_timm_layout(keys: list[str] | tuple[str, ...]) -> bool:
    """Whether Swin keys (wrappers stripped) follow timm: downsampling from stage 1 on, `head.fc` or `layers_N`."""
    stages = [int(m[1]) for m in map(_DOWNSAMPLE.match, keys) if m is not None]
    if stages:
        return min(stages) >= 1
    return any(k.startswith("head.fc.") or _FLAT_STAGE.match(k) for k in keys)


def timm_to_microsoft_key(key: str) -> str:
    """timm's name of a Swin tensor -> Microsoft's: `layers_N.` -> `layers.N.`, `layers.N.downsample` ->
    `layers.{N-1}.downsample`, `head.fc.` -> `head.`; other names are shared."""
    key = _FLAT_STAGE.sub(lambda m: f"layers.{m[1]}.", key)
    key = _DOWNSAMPLE.sub(lambda m: f"layers.{int(m[1]) - 1}.downsample.", key)
    return "head." + key[len("head.fc."):] if key.startswith("head.fc.") else key


def microsoft_keys(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict under our encoder's names, the layout read: "microsoft" or "timm")."""
    state = _strip_wrappers(state)
    layout = "timm" if is_timm_layout(list(state)) else "microsoft"
    renamed = {}
    for key, value in state.items():
        if layout == "timm":
            key = timm_to_microsoft_key(key)
        head, _, rest = key.partition(".")
        if head in {"norm0", "norm1", "norm2", "norm3"}:  # mmseg's per-stage output norms
            key = f"{_OUTPUT_NORMS}{head[-1]}.{rest}"
        renamed[key] = value
    return renamed, layout


def resize_relative_position_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Bicubically resample a ((2w - 1)^2, heads) table to (length, heads), as the official loader does."""
    old_side, new_side = math.isqrt(table.shape[0]), math.isqrt(length)
    grid = table.T.reshape(1, table.shape[1], old_side, old_side).float()
    grid = F.interpolate(grid, size=(new_side, new_side), mode="bicubic")
    return grid.reshape(table.shape[1], length).T.to(table.dtype)


def _match(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor]):
    """(accepted tensors, resized keys, skipped keys) of `state` for an encoder whose state dict is `own`."""
    accepted, resized, skipped = {}, [], []
    for key, value in state.items():
        if key not in own or key.endswith(_DERIVED_BUFFER_SUFFIXES):
            continue
        if key.endswith("relative_position_bias_table") and value.shape[1] == own[key].shape[1] \
                and value.shape[0] != own[key].shape[0]:
            value = resize_relative_position_table(value, own[key].shape[0])
            resized.append(key)
        if value.shape != own[key].shape:
            skipped.append(key)
            continue
        accepted[key] = value
    return accepted, resized, skipped


def load_pretrained_swin(encoder: SwinTransformer, path: str | Path) -> PretrainedLoadReport:
    """Load ImageNet weights (Microsoft or timm layout) from a local `.pth` or `.safetensors` file into `encoder`.

    Missing and unexpected keys are tolerated as by the official loader (an ImageNet checkpoint has the classifier
    head and final norm, and lacks the four output norms); a tensor whose shape still differs after resizing is left
    at its initial value and listed in `skipped`. Logs one INFO line with the counts (WARNING when something was
    skipped).

    Raises:
        MissingFileError: no such file.
        FormatError: not a readable state dict, or fewer than `MIN_MATCHED_FRACTION` of the encoder's tensors (the
            output norms aside) matched by name and shape; nothing is loaded then.
    """
    path = Path(path)
    state, layout = microsoft_keys(read_checkpoint_state_dict(path))
    own = encoder.state_dict()
    accepted, resized, skipped = _match(state, own)
    expected = sum(1 for k in own if not k.startswith(_OUTPUT_NORMS))
    matched = sum(1 for k in accepted if not k.startswith(_OUTPUT_NORMS))
    if matched < MIN_MATCHED_FRACTION * expected:
        raise FormatError(path, f"Swin weights for this encoder (at least {MIN_MATCHED_FRACTION:.0%} of its "
                                f"{expected} tensors by name and shape)",
                          f"{matched} matching ({layout} layout read; {len(skipped)} of another shape, "
                          f"{len(set(state) - set(own))} other keys)")
    encoder.load_state_dict(accepted, strict=False)
    report = PretrainedLoadReport(
        path=path, layout=layout, loaded=tuple(sorted(accepted)),
        missing=tuple(sorted(set(own) - set(accepted) - set(skipped))),
        unexpected=tuple(sorted(set(state) - set(own))), resized=tuple(sorted(resized)),
        skipped=tuple(sorted(skipped)), expected=expected,
    )
    logger.log(logging.WARNING if skipped else logging.INFO,
               "%s: matched %d of %d encoder tensors (%s layout; %d resized; skipped for shape %s); "
               "not in the file: %d (the output norms start fresh); %d file keys unused",
               path, matched, expected, layout, len(resized), list(skipped), len(report.missing),
               len(report.unexpected))
    return report

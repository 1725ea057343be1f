"""Build the authors' MoDOT network from a local checkout, for numerical comparisons and timings only.

Nothing of the official code is part of this project. Point `repo` at a checkout of xul-ops/MoDOT (the folder that
holds `modot/networks/MoDOT.py`); its imports need `timm` (DropPath, to_2tuple, trunc_normal_) and
`mmcv.cnn.ConvModule`, which can be real packages or small stand-ins on `extra_paths`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from training.models import get_variant

# Environment variables read by the equivalence test (tests/training/test_official_equivalence.py).
OFFICIAL_REPO_ENV = "MODOT_OFFICIAL_REPO"
OFFICIAL_EXTRA_PATH_ENV = "MODOT_OFFICIAL_EXTRA_PATH"


def import_official(repo: str | Path, extra_paths: Sequence[str | Path] = ()) -> tuple[type, type]:
    """The official `MoDOT` and `MoDOT_SSR` classes from a checkout."""
    for path in [*extra_paths, repo]:
        path = str(Path(path).resolve())
        if path not in sys.path:
            sys.path.insert(0, path)
    if not (Path(repo) / "modot" / "networks" / "MoDOT.py").is_file():
        raise FileNotFoundError(f"{repo}: no modot/networks/MoDOT.py (expected a checkout of xul-ops/MoDOT)")
    modot = importlib.import_module("modot.networks.MoDOT")
    ssr = importlib.import_module("modot.networks.MoDOT_SSR")
    return modot.MoDOT, ssr.MoDOT_SSR


def _fix_laterals(network: torch.nn.Module, encoder_channels: Sequence[int]) -> None:
    """Rebuild the official OB lateral convs with the encoder's channels (they are hard-coded for Swin-L).

    Uses the official network's own `ConvBnRelu` class; without this the official code fails in forward for any
    encoder but Swin-L (spec section 1.1). A no-op for Swin-L.
    """
    convs = {"skip_feat1": (3, 256), "skip_feat2": (2, 128), "skip_feat3": (1, 64), "skip_feat4": (0, 128)}
    for name, (level, out_channels) in convs.items():
        module = getattr(network, name)
        if module.conv.in_channels != encoder_channels[level]:
            setattr(network, name, type(module)(encoder_channels[level], out_channels, 1))


def build_official(repo: str | Path, variant: str, max_depth: float,
                   extra_paths: Sequence[str | Path] = ()) -> torch.nn.Module:
    """The official network for one of our variants (randomly initialised, lateral convs fixed for non-Large)."""
    spec = get_variant(variant)
    if spec.official_encoder is None:
        raise ValueError(f"{variant} has no official counterpart")
    modot_class, ssr_class = import_official(repo, extra_paths)
    if spec.ssr:
        network = ssr_class(None, version=spec.official_encoder, max_depth=max_depth)
        _fix_laterals(network.init_model.module, spec.encoder_config.stage_channels)
    else:
        network = modot_class(None, version=spec.official_encoder, max_depth=max_depth)
        _fix_laterals(network, spec.encoder_config.stage_channels)
    return network


def official_outputs(network: torch.nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(depth, list of OB logit maps) from the official network's list output."""
    depth, boundaries = network(images)[:2]
    return depth, list(boundaries) if isinstance(boundaries, (list, tuple)) else [boundaries]

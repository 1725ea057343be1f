"""Our network against the authors' code: same weights, same outputs.

Needs a checkout of xul-ops/MoDOT (the folder holding modot/networks/MoDOT.py) in $MODOT_OFFICIAL_REPO, and, when
timm and mmcv are not installed, folders with stand-ins for them in $MODOT_OFFICIAL_EXTRA_PATH (os.pathsep-separated).
Skipped otherwise.
"""

from __future__ import annotations

import os

import pytest
import torch

from bench.official import OFFICIAL_EXTRA_PATH_ENV, OFFICIAL_REPO_ENV, build_official, official_outputs
from training.models import build_modot
from training.official_checkpoints import convert_official_state_dict

TOLERANCE = 1e-4  # max abs difference, on depth and on every logit map

pytestmark = pytest.mark.skipif(OFFICIAL_REPO_ENV not in os.environ,
                                reason=f"set {OFFICIAL_REPO_ENV} to a checkout of xul-ops/MoDOT to compare with it")


def _pair(variant: str, max_depth: float):
    extra = [p for p in os.environ.get(OFFICIAL_EXTRA_PATH_ENV, "").split(os.pathsep) if p]
    official = build_official(os.environ[OFFICIAL_REPO_ENV], variant, max_depth, extra)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # non-trivial BN statistics, so that eval mode exercises them
        for name, tensor in official.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith("running_mean"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
    ours = build_modot(variant, max_depth=max_depth)
    ours.load_state_dict(convert_official_state_dict(official.state_dict(), variant))
    return official.eval(), ours.eval()


def _max_differences(official, ours, images) -> dict[str, float]:
    with torch.no_grad():
        depth, logits = official_outputs(official, images)
        out = ours(images)
    diffs = {"depth": float((depth - out.depth).abs().max())}
    diffs.update({f"logit{i}": float((a - b).abs().max())
                  for i, (a, b) in enumerate(zip(logits, out.boundary_logits, strict=True))})
    return diffs


@pytest.mark.parametrize("size", [(128, 160), (97, 61)])
def test_tiny_matches_the_official_network(size):
    official, ours = _pair("modot_swin_tiny_w7", 100.0)
    diffs = _max_differences(official, ours, torch.randn(2, 3, *size))
    assert max(diffs.values()) <= TOLERANCE, diffs
    assert diffs["depth"] == 0.0, diffs  # the depth path is bit-identical on the CPU


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["modot_swin_large_w7", "modot_ssr_swin_large_w7"])
def test_large_matches_the_official_network_at_320(variant):
    official, ours = _pair(variant, 100.0)
    diffs = _max_differences(official, ours, torch.randn(1, 3, 320, 320))
    assert max(diffs.values()) <= TOLERANCE, diffs

"""Small MoDOT configurations for fast tests, and helpers to register them as variants."""

from __future__ import annotations

import pytest

from training.models import registry, swin
from training.models.modot import Modot
from training.models.registry import ModotVariant
from training.models.swin import SwinConfig, SwinTransformer

# Swin with 8 channels, two blocks per stage (plain + shifted), window 7.
TOY_SWIN = SwinConfig(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2), window_size=7, drop_path_rate=0.1)
# Decoder widths such that every CASM has 16 channels (the minimum for its reduction of 16).
TOY_DECODER = {"crf_dims": (16, 64, 64, 64), "crf_heads": (1, 2, 2, 2), "ppm_channels": 32, "ppm_groupnorm_groups": 16}


def toy_modot(**options) -> Modot:
    """A MoDOT with the official structure and tiny widths (about 0.4 M parameters)."""
    return Modot(encoder=SwinTransformer.from_config(TOY_SWIN), max_depth=10.0, **TOY_DECODER, **options)


@pytest.fixture
def toy_variants(monkeypatch) -> tuple[str, str]:
    """Register `modot_toy` and `modot_ssr_toy` (toy Swin + toy decoder) for the duration of a test."""
    monkeypatch.setitem(swin.SWIN_VARIANTS, "swin_toy_w7", TOY_SWIN)
    for name, ssr in (("modot_toy", False), ("modot_ssr_toy", True)):
        variant = ModotVariant(name=name, encoder="swin_toy_w7", ssr=ssr, official_encoder=None, **TOY_DECODER)
        monkeypatch.setitem(registry.MODOT_VARIANTS, name, variant)
    return "modot_toy", "modot_ssr_toy"

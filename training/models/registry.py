"""Named MoDOT variants and `build_modot`.

Every variant has a full name, e.g. `modot_swin_large_w7` (the paper's configuration, the official `large07`) or
`modot_ssr_swin_large_w7` (the same with the SSR second stage). Names are looked up, never parsed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from training.models.modot import Modot
from training.models.ssr import ModotSSR
from training.models.swin import SWIN_VARIANTS, SwinConfig, SwinTransformer
from training.models.swin_weights import load_pretrained_swin


@dataclass(frozen=True)
class ModotVariant:
    """One registered configuration: the Swin encoder, the decoder widths and whether the SSR stage sits on top.

    The decoder widths are the official ones for every registered variant; they are fields so that the whole
    architecture is described here (tests register small variants).
    """

    name: str
    encoder: str  # a key of SWIN_VARIANTS
    ssr: bool
    official_encoder: str | None  # the official `--encoder` value, e.g. "large07"
    crf_dims: tuple[int, ...] = (128, 256, 512, 1024)
    crf_heads: tuple[int, ...] = (4, 8, 16, 32)
    ppm_channels: int = 512
    ppm_groupnorm_groups: int = 256

    @property
    def encoder_config(self) -> SwinConfig:
        return SWIN_VARIANTS[self.encoder]


def _variants() -> dict[str, ModotVariant]:
    variants = {}
    for size in ("tiny", "small", "base", "large"):
        for window in (7, 12):
            encoder = f"swin_{size}_w{window}"
            official = f"{size}{window:02d}"
            for ssr, prefix in ((False, "modot"), (True, "modot_ssr")):
                name = f"{prefix}_{encoder}"
                variants[name] = ModotVariant(name=name, encoder=encoder, ssr=ssr, official_encoder=official)
    return variants


MODOT_VARIANTS: dict[str, ModotVariant] = _variants()
# Not in the paper: the same architecture at about 1/6 of the size of modot_swin_tiny_w7 (16.2 M parameters), so
# that a few hundred training steps fit in minutes on a laptop CPU (configs/demo_cpu.yaml, `obh demo`, smoke tests).
_NANO_DECODER = {"crf_dims": (64, 128, 256, 512), "crf_heads": (2, 4, 8, 16), "ppm_channels": 128,
                 "ppm_groupnorm_groups": 64}
for _ssr, _prefix in ((False, "modot"), (True, "modot_ssr")):
    MODOT_VARIANTS[f"{_prefix}_swin_nano_w7"] = ModotVariant(
        name=f"{_prefix}_swin_nano_w7", encoder="swin_nano_w7", ssr=_ssr, official_encoder=None, **_NANO_DECODER)


def get_variant(name: str) -> ModotVariant:
    """The registered variant `name`; a KeyError lists the valid names."""
    try:
        return MODOT_VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown MoDOT variant {name!r}; known: {', '.join(sorted(MODOT_VARIANTS))}") from None


def build_modot(variant: str, *, max_depth: float, encoder_weights: str | Path | None = None,
                drop_path_rate: float | None = None, **options: Any) -> nn.Module:
    """Build a registered MoDOT variant (randomly initialised unless `encoder_weights` is given).

    Args:
        variant: a key of `MODOT_VARIANTS`.
        max_depth: depth output scale (sigmoid x max_depth), in the training data's depth units.
        encoder_weights: optional local ImageNet Swin checkpoint (`.pth` or `.safetensors`), loaded non-strictly.
        drop_path_rate: the encoder's stochastic depth; None keeps the variant's (0.3, as the official code).
        options: keyword options of `Modot` (e.g. `side_head_relu=False`); for SSR variants also `stage1_mode`.

    Returns:
        `Modot`, or `ModotSSR` for `modot_ssr_*` variants. Both return `ModotOutput`.
    """
    spec = get_variant(variant)
    stage1_mode = options.pop("stage1_mode", None)
    if stage1_mode is not None and not spec.ssr:
        raise TypeError(f"{variant}: stage1_mode only applies to SSR variants")
    encoder_config = spec.encoder_config
    if drop_path_rate is not None:
        encoder_config = dataclasses.replace(encoder_config, drop_path_rate=drop_path_rate)
    encoder = SwinTransformer.from_config(encoder_config)
    if encoder_weights is not None:
        load_pretrained_swin(encoder, encoder_weights)
    model = Modot(encoder=encoder, max_depth=max_depth, crf_dims=spec.crf_dims, crf_heads=spec.crf_heads,
                  ppm_channels=spec.ppm_channels, ppm_groupnorm_groups=spec.ppm_groupnorm_groups, **options)
    if spec.ssr:
        return ModotSSR(model, max_depth=max_depth, stage1_mode=stage1_mode or "eval")
    return model

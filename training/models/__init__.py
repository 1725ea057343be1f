"""MoDOT networks: the Swin encoder, MoDOT (stage 1), SSR (stage 2) and the variant registry.

    from training.models import build_modot
    model = build_modot("modot_swin_large_w7", max_depth=10.0)
    out = model(images)            # out.depth (B, 1, H, W); out.boundary_logits[-1] is the final OB logit map
"""

from training.models.modot import Modot, ModotFeatures, ModotOutput
from training.models.registry import MODOT_VARIANTS, ModotVariant, build_modot, get_variant
from training.models.ssr import ModotSSR
from training.models.swin import SWIN_VARIANTS, SwinTransformer
from training.models.swin_weights import load_pretrained_swin

__all__ = [
    "MODOT_VARIANTS",
    "SWIN_VARIANTS",
    "Modot",
    "ModotFeatures",
    "ModotOutput",
    "ModotSSR",
    "ModotVariant",
    "SwinTransformer",
    "build_modot",
    "get_variant",
    "load_pretrained_swin",
]

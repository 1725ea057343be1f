"""MoDOT: Swin encoder, NeWCRF depth decoder, OB decoder, CASM, losses, dataset, trainer, evaluation, checkpoints.

    from training import from_pretrained
    pretrained = from_pretrained("model.safetensors")   # a checkpoint, an exported model or a run folder
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_pretrained"]


def __getattr__(name: str) -> Any:
    """`training.from_pretrained` without importing torch for every `training.*` submodule."""
    if name == "from_pretrained":
        from training.pretrained import from_pretrained

        return from_pretrained
    raise AttributeError(f"module 'training' has no attribute {name!r}")

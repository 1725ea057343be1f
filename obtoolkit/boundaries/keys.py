"""Object keys: which pixels belong to one object (spec §6.1 step 5).

key = ('inst', semantic_instance) if semantic_instance >= 1; else ('stuff',) if the NYU40 class is a stuff class;
else ('node', render_entity_id) (unlabeled_policy 'node') or ('stuff',) (unlabeled_policy 'stuff').
Encoded as two arrays so that compiled kernels compare keys cheaply: kind (uint8) and id (int32).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from obtoolkit._checks import check_same_hw

if TYPE_CHECKING:
    from obtoolkit.boundaries.params import LabelParams
    from obtoolkit.hypersim.frames import FrameGeometry

KEY_NONE, KEY_STUFF, KEY_INSTANCE, KEY_NODE = 0, 1, 2, 3


class ObjectKeys(NamedTuple):
    """Per-pixel object keys: kind uint8 (H, W) in {KEY_NONE, KEY_STUFF, KEY_INSTANCE, KEY_NODE} and id int32 (H, W)
    (0 for none / stuff)."""

    kind: np.ndarray
    ident: np.ndarray

    def encoded(self) -> np.ndarray:
        """One int64 per pixel: (kind << 32) + id, as the mesh caster's face keys."""
        return (self.kind.astype(np.int64) << 32) + self.ident.astype(np.int64)


def frame_object_keys(frame: FrameGeometry, params: LabelParams) -> ObjectKeys:
    """The keys of a frame record under the parameters' stuff classes and unlabelled policy."""
    return object_keys(frame.valid_mask, frame.semantic, frame.semantic_instance, frame.render_entity_id,
                       stuff_classes=params.stuff_classes, unlabeled_policy=params.unlabeled_policy)


def object_keys(
    valid_mask: np.ndarray,
    semantic: np.ndarray | None,
    semantic_instance: np.ndarray | None,
    render_entity_id: np.ndarray | None,
    *,
    stuff_classes: Collection[int],
    unlabeled_policy: str = "node",
) -> ObjectKeys:
    """Per-pixel object keys.

    Args:
        valid_mask: bool (H, W); invalid pixels get KEY_NONE.
        semantic, semantic_instance, render_entity_id: int (H, W) Hypersim id maps (-1 = none). When any is None,
            every valid pixel gets the stuff key (no object information: purely geometric labels).
        stuff_classes: NYU40 classes treated as one stuff object.
        unlabeled_policy: "node" or "stuff".

    Returns:
        ObjectKeys: kind uint8 (H, W) in {KEY_NONE, KEY_STUFF, KEY_INSTANCE, KEY_NODE} and id int32 (H, W) (0 for
        none / stuff).
    """
    if unlabeled_policy not in ("node", "stuff"):
        raise ValueError(f"unlabeled_policy must be 'node' or 'stuff', got {unlabeled_policy!r}")
    kind = np.where(valid_mask, KEY_STUFF, KEY_NONE).astype(np.uint8)
    ident = np.zeros(valid_mask.shape, np.int32)
    if semantic is None or semantic_instance is None or render_entity_id is None:
        return ObjectKeys(kind, ident)
    check_same_hw("object_keys", valid_mask=valid_mask, semantic=semantic, semantic_instance=semantic_instance,
                  render_entity_id=render_entity_id)
    instance = valid_mask & (semantic_instance >= 1)
    stuff = valid_mask & ~instance & np.isin(semantic, list(stuff_classes))
    node = valid_mask & ~instance & ~stuff
    if unlabeled_policy == "stuff":
        stuff |= node
        node = np.zeros_like(node)
    kind[instance], ident[instance] = KEY_INSTANCE, semantic_instance[instance]
    kind[stuff], ident[stuff] = KEY_STUFF, 0
    kind[node], ident[node] = KEY_NODE, render_entity_id[node]
    return ObjectKeys(kind, ident)

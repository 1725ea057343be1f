"""The 8-neighbourhood in P2ORM's channel layout, and the four inclinations that cover every adjacent pair once."""

from __future__ import annotations

import numpy as np

# (row, col) offsets of channels 1..8 of an order map: NW, N, NE, W, E, SW, S, SE (raster order).
NEIGHBOUR_OFFSETS = np.array(
    [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64
)
CHANNEL_NAMES = ("NW", "N", "NE", "W", "E", "SW", "S", "SE")
DIAGONAL_CHANNELS = (0, 2, 5, 7)  # indices into NEIGHBOUR_OFFSETS
OPPOSITE = np.array([7, 6, 5, 4, 3, 2, 1, 0], dtype=np.int64)  # index of the reverse direction

# The four inclinations E, S, SE, NE (spec §6.2): every unordered adjacent pair is (p, p + offset) for exactly one.
INCLINATION_NAMES = ("E", "S", "SE", "NE")
INCLINATION_OFFSETS = np.array([(0, 1), (1, 0), (1, 1), (-1, 1)], dtype=np.int64)
INCLINATION_CHANNEL = np.array([4, 6, 7, 2], dtype=np.int64)  # index into NEIGHBOUR_OFFSETS of p -> q
INCLINATION_REVERSE_CHANNEL = OPPOSITE[INCLINATION_CHANNEL]  # q -> p: W, N, NW, SW


def pairs_to_order(relation: np.ndarray) -> np.ndarray:
    """Expand per-pair relations (H, W, 4) [E, S, SE, NE] into an exactly antisymmetric order map (H, W, 9).

    relation[p, k] = +1 means p occludes q = p + INCLINATION_OFFSETS[k]; pairs leaving the image must be 0.
    Channel 0 of the result is 1 where any relation is non-zero.
    """
    height, width, _ = relation.shape
    order = np.zeros((height, width, 9), np.int8)
    for k, (dy, dx) in enumerate(INCLINATION_OFFSETS):
        forward, backward = INCLINATION_CHANNEL[k] + 1, INCLINATION_REVERSE_CHANNEL[k] + 1
        order[..., forward] = relation[..., k]
        src = relation[max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx), k]
        order[max(0, dy):height + min(0, dy), max(0, dx):width + min(0, dx), backward] = -src
    order[..., 0] = np.any(order[..., 1:] != 0, axis=-1)
    return order


def order_to_pairs(order: np.ndarray) -> np.ndarray:
    """The forward channels (E, S, SE, NE) of an order map: int8 (H, W, 4); inverse of `pairs_to_order`."""
    return np.ascontiguousarray(order[..., INCLINATION_CHANNEL + 1])

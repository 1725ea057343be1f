"""Per-pixel products of the default generator from its per-pair relations (compiled): the order map, the
occluder / occluded sides, the class of each occluder pixel, instance contours, the spike rule and the isolated-pixel
filter. Pure functions of the relation arrays `obtoolkit.boundaries.kernels.relations_kernel` returns.
"""

from __future__ import annotations

import numba
import numpy as np

from obtoolkit.boundaries.kernels import CLASS_INTER, CLASS_NONE, CLASS_SELF, CLASS_VOID

_OFFSETS = np.array([(0, 1), (1, 0), (1, 1), (-1, 1)], dtype=np.int64)  # E, S, SE, NE as (row, col)

# For each inclination k (E, S, SE, NE): the order channel (1-8) of p -> q and of q -> p.
_FORWARD_CHANNEL = np.array([5, 7, 8, 3], np.int64)
_BACKWARD_CHANNEL = np.array([4, 2, 1, 6], np.int64)


@numba.njit(cache=True, nogil=True)
def assemble_kernel(relation, pair_class, tie, valid, drop_spikes, tie_contour):
    """Per-pixel products from per-pair relations, visiting only the pairs that carry a relation or a tie.

    Returns:
        order int8 (H, W, 9) (exactly antisymmetric on valid pairs; invalid pixels hold 0), relation_class uint8
        (H, W, 9), occluder bool (sum > 0), occluded bool (sum < 0), best_class uint8 (class of the pixel's
        occluding relations, priority inter > self > void), contour bool (occluder of an inter-object pair, or nearer
        side of a tie when `tie_contour`).
    """
    height, width = valid.shape
    total = np.zeros((height, width), np.int32)
    spike = np.zeros((height, width), np.bool_)
    if drop_spikes:  # |sum of the 8 relations| == 8, counting both sides of every pair
        for y in range(height):
            for x in range(width):
                for k in range(4):
                    omega = relation[y, x, k]
                    if omega != 0:
                        total[y, x] += omega
                        total[y + _OFFSETS[k, 0], x + _OFFSETS[k, 1]] -= omega
        for y in range(height):
            for x in range(width):
                spike[y, x] = abs(total[y, x]) == 8
        total[:, :] = 0
    order = np.zeros((height, width, 9), np.int8)
    relation_class = np.zeros((height, width, 9), np.uint8)
    best_class = np.zeros((height, width), np.uint8)
    contour = np.zeros((height, width), np.bool_)
    for y in range(height):
        for x in range(width):
            for k in range(4):
                omega, t = relation[y, x, k], tie[y, x, k]
                if omega == 0 and t == 0:
                    continue
                yq, xq = y + _OFFSETS[k, 0], x + _OFFSETS[k, 1]
                if spike[y, x] or spike[yq, xq]:
                    continue
                if tie_contour and t != 0:
                    if t > 0 and valid[y, x]:
                        contour[y, x] = True
                    elif t < 0 and valid[yq, xq]:
                        contour[yq, xq] = True
                if omega == 0:
                    continue
                cls = pair_class[y, x, k]
                _set_side(order, relation_class, total, best_class, contour, valid, y, x, _FORWARD_CHANNEL[k],
                          int(omega), cls)
                _set_side(order, relation_class, total, best_class, contour, valid, yq, xq, _BACKWARD_CHANNEL[k],
                          -int(omega), cls)
    return order, relation_class, total > 0, total < 0, best_class, contour


@numba.njit(cache=True, nogil=True)
def _set_side(order, relation_class, total, best_class, contour, valid, y, x, channel, value, cls):
    """Record one side of a relation at pixel (y, x); invalid pixels carry no label (void relations are one-sided)."""
    if not valid[y, x]:
        return
    order[y, x, channel] = value
    order[y, x, 0] = 1
    relation_class[y, x, channel] = cls
    total[y, x] += value
    if value > 0:
        if cls == CLASS_INTER:
            contour[y, x] = True
            best_class[y, x] = CLASS_INTER
        elif cls == CLASS_SELF and best_class[y, x] != CLASS_INTER:
            best_class[y, x] = CLASS_SELF
        elif cls == CLASS_VOID and best_class[y, x] == CLASS_NONE:
            best_class[y, x] = CLASS_VOID


@numba.njit(cache=True, nogil=True)
def drop_isolated(mask):
    """Keep set pixels that have at least one other set pixel in their 3x3 window (zero outside the image)."""
    height, width = mask.shape
    out = np.zeros((height, width), np.bool_)
    for y in range(height):
        for x in range(width):
            if not mask[y, x]:
                continue
            for yn in range(max(0, y - 1), min(height, y + 2)):
                for xn in range(max(0, x - 1), min(width, x + 2)):
                    if (yn != y or xn != x) and mask[yn, xn]:
                        out[y, x] = True
    return out

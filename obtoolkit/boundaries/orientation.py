"""Occlusion orientation: from an order map to an angle per boundary pixel, and its two file encodings.

Convention (P2ORM, spec §3.4): theta in (-pi, pi] is the boundary's tangent direction with the occluder on the left as
seen on screen; the unit vector from occluder to occluded is (-sin theta, cos theta) in (column, row) coordinates with
rows going down. Occluder on the left, background on the right gives theta = -pi/2.
"""

from __future__ import annotations

import math

import numpy as np

from obtoolkit.boundaries._neighbours import NEIGHBOUR_OFFSETS
from obtoolkit.boundaries.p2orm import P2ORM_PI, raw_orientation_over_pi

ORI8_NEUTRAL = 127
ORI16_NONE = 0
_ORI16_SPAN = 65534


def _occlusion_vectors(relations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum over the 8 neighbours of omega * unit offset, for relations (..., 8): float64 column and row parts."""
    lengths = np.hypot(NEIGHBOUR_OFFSETS[:, 0], NEIGHBOUR_OFFSETS[:, 1])
    relations = relations.astype(np.float64)
    return relations @ (NEIGHBOUR_OFFSETS[:, 1] / lengths), relations @ (NEIGHBOUR_OFFSETS[:, 0] / lengths)


def _tangent_angle(w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Tangent angle (occluder on the left) of occluder->occluded vectors (w, h): float64 in (-pi, pi]."""
    theta = np.arctan2(h, w) - math.pi / 2
    return np.where(theta <= -math.pi, theta + 2 * math.pi, theta)


def _smoothed_vectors(ys, xs, w, h, shape, radius):
    """Sums of the boundary pixels' vectors within `radius` px of each boundary pixel (a disk)."""
    field_w = np.zeros(shape)
    field_h = np.zeros(shape)
    field_w[ys, xs], field_h[ys, xs] = w, h
    padded_w, padded_h = np.pad(field_w, radius), np.pad(field_h, radius)
    sum_w, sum_h = np.zeros_like(w), np.zeros_like(h)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx <= radius * radius:
                sum_w += padded_w[ys + radius + dy, xs + radius + dx]
                sum_h += padded_h[ys + radius + dy, xs + radius + dx]
    return sum_w, sum_h


def orientation(order: np.ndarray, ob_mask: np.ndarray, *, method: str = "p2orm", radius: int = 2):
    """Orientation of the occluder-side boundary pixels.

    Args:
        order: int8 (H, W, 9) order map.
        ob_mask: bool (H, W) occluder-side boundary pixels; the result is NaN elsewhere.
        method: "p2orm" (each pixel's own clipped 8-direction vector sum) or "smoothed" (unit-weighted
            occluder->occluded vectors summed over the boundary pixels within `radius` px, a disk).
        radius: smoothed mode only.

    Returns:
        theta float64 (H, W) in (-pi, pi], NaN off `ob_mask` and where undefined (vectors cancel: w = h = 0);
        theta_over_pi_p2orm float32 (H, W): P2ORM's own value (its float32 arithmetic, PI = 3.1416), zero off
        `ob_mask`, used for the 8-bit encoding so that our files equal P2ORM's.
    """
    if method not in ("p2orm", "smoothed"):
        raise ValueError(f"method must be 'p2orm' or 'smoothed', got {method!r}")
    ys, xs = np.nonzero(ob_mask)
    relations = order[ys, xs, 1:]
    w, h = _occlusion_vectors(relations)
    if method == "p2orm":
        w, h = np.clip(w, -1.0, 1.0), np.clip(h, -1.0, 1.0)
    else:
        w, h = _smoothed_vectors(ys, xs, w, h, ob_mask.shape, radius)
    theta = np.full(ob_mask.shape, np.nan)
    theta[ys, xs] = np.where(np.hypot(w, h) > 1e-9, _tangent_angle(w, h), np.nan)
    p2orm_value = np.zeros(ob_mask.shape, np.float32)
    p2orm_value[ys, xs] = raw_orientation_over_pi(relations[:, None, :].reshape(-1, 1, 8))[:, 0]
    return theta, p2orm_value


def encode_ori8(theta_over_pi: np.ndarray, ob_mask: np.ndarray) -> np.ndarray:
    """P2ORM's 8-bit file encoding: trunc(((theta / pi) + 1) / 2 * 255) on boundary pixels, 127 elsewhere.

    Computed on the boundary pixels only (a few percent of a frame)."""
    theta_over_pi, ob_mask = np.broadcast_arrays(np.asarray(theta_over_pi), np.asarray(ob_mask, bool))
    code = np.full(ob_mask.shape, ORI8_NEUTRAL, np.uint8)
    value = np.trunc((theta_over_pi[ob_mask].astype(np.float64) + 1.0) / 2.0 * 255.0)
    code[ob_mask] = np.clip(value, 0, 255).astype(np.uint8)
    return code


def decode_ori8(code: np.ndarray) -> np.ndarray:
    """Inverse of `encode_ori8` as P2ORM's loader reads it: theta = (v / 255 * 2 - 1) * pi (radians, float64)."""
    return (code.astype(np.float64) / 255.0 * 2.0 - 1.0) * P2ORM_PI


def encode_ori16(theta: np.ndarray) -> np.ndarray:
    """Precise 16-bit encoding: 0 = no orientation, else 1 + round((theta + pi) / (2 pi) * 65534) (step 9.6e-5 rad)."""
    theta = np.asarray(theta)
    defined = np.isfinite(theta)
    code = np.full(theta.shape, ORI16_NONE, np.uint16)
    # on the defined pixels only (a few percent of a frame), in the dtype np.where(defined, theta, 0.0) would have
    code[defined] = 1 + np.round((theta[defined].astype(np.result_type(theta.dtype, 0.0)) + math.pi) / (2 * math.pi)
                                 * _ORI16_SPAN)
    return code


def decode_ori16(code: np.ndarray) -> np.ndarray:
    """Inverse of `encode_ori16`: theta in radians (float64), NaN where the code is 0."""
    theta = (code.astype(np.float64) - 1.0) / _ORI16_SPAN * 2 * math.pi - math.pi
    return np.where(code == ORI16_NONE, np.nan, theta)


def occluded_direction(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vector from occluder to occluded for angle(s) theta: (column, row) components, rows going down."""
    return -np.sin(theta), np.cos(theta)

"""Matching geometry shared by the matchers: radius in pixels, outlier weight, disk of admissible offsets.

A predicted pixel p and a GT pixel g may be matched when d = sqrt(dy^2 + dx^2) <= r_px, r_px = max_dist *
sqrt(H^2 + W^2) (BSDS `correspondPixels`); a pair costs rint(100 d), an unmatched pixel ceil(100 * 100 * r_px).
"""

from __future__ import annotations

import math

import numba
import numpy as np


def matching_radius_px(height: int, width: int, max_dist: float) -> float:
    """Matching radius in pixels: `max_dist` (a fraction of the image diagonal) times sqrt(H^2 + W^2), float64."""
    return float(max_dist) * math.sqrt(float(height) * height + float(width) * width)


def outlier_weight(radius_px: float) -> int:
    """Integer cost of leaving one pixel unmatched: ceil(100 * outlier cost), outlier cost = 100 * r_px (BSDS)."""
    return int(math.ceil(100.0 * (100.0 * radius_px)))


def disk_offsets(radius_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (dy, dx) with sqrt(dy^2 + dx^2) <= radius_px and their integer costs rint(100 d), sorted by cost.

    Returns:
        dy, dx: (M,) int64 offsets in pixels; cost: (M,) int64 in hundredths of a pixel.
    """
    reach = int(math.ceil(radius_px))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    dy, dx = dy.ravel(), dx.ravel()
    distance = np.sqrt((dy * dy + dx * dx).astype(np.float64))
    keep = distance <= radius_px
    dy, dx, distance = dy[keep], dx[keep], distance[keep]
    cost = np.rint(100.0 * distance).astype(np.int64)
    order = np.lexsort((dx, dy, cost))
    return dy[order].astype(np.int64), dx[order].astype(np.int64), cost[order]


def within_radius(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """(H, W) bool: pixels within radius_px (+ 1e-6) of a True pixel of `mask`, exactly
    `scipy.ndimage.distance_transform_edt(~mask) <= radius_px + 1e-6`, by stamping disk rows around each pixel.

    Args:
        mask: (H, W) bool.
        radius_px: radius in pixels, >= 0.
    """
    reach = int(math.ceil(radius_px + 1e-6))
    dy = np.arange(-reach, reach + 1)
    dx = np.arange(0, reach + 1)
    inside = np.sqrt((dy[:, None] ** 2 + dx[None, :] ** 2).astype(np.float64)) <= radius_px + 1e-6
    half_width = np.where(inside.any(axis=1), inside.sum(axis=1) - 1, -1).astype(np.int64)  # per row of the disk
    out = np.zeros(mask.shape, dtype=bool)
    _stamp_rows(np.ascontiguousarray(mask, dtype=bool), half_width, out)
    return out


@numba.njit(cache=True, nogil=True)
def _stamp_rows(mask, half_width, out):
    """Set out[y + d, x - s : x + s + 1] for every mask pixel (y, x) and disk row d of half width s >= 0.

    Mask pixels are visited in row-major order, so along one source row the spans of a disk row only move right:
    each output pixel is written at most once per (source row, disk row).
    """
    h, w = mask.shape
    reach = half_width.shape[0] // 2
    done = np.empty(half_width.shape[0], dtype=np.int64)  # per disk row: columns < done[d] already written
    for y in range(h):
        done[:] = 0
        for x in range(w):
            if not mask[y, x]:
                continue
            for d in range(half_width.shape[0]):
                s = half_width[d]
                yy = y + d - reach
                if s < 0 or yy < 0 or yy >= h:
                    continue
                start = max(x - s, done[d])
                stop = min(x + s + 1, w)
                for xx in range(start, stop):
                    out[yy, xx] = True
                done[d] = max(done[d], stop)

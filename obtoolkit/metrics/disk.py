"""Matching geometry shared by the matchers: radius in pixels, outlier weight, disk of admissible offsets.

A predicted pixel p and a GT pixel g may be matched when d = sqrt(dy^2 + dx^2) <= r_px, r_px = max_dist *
sqrt(H^2 + W^2) (BSDS `correspondPixels`); a pair costs rint(100 d), an unmatched pixel ceil(100 * 100 * r_px).
"""

from __future__ import annotations

import math

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


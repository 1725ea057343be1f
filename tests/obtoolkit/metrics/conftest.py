"""Small synthetic boundary maps shared by the metric tests."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def random_maps(rng: np.random.Generator, max_side: int = 24,
                density: tuple[float, float] = (0.02, 0.4)) -> tuple[np.ndarray, np.ndarray]:
    """A random (pred, gt) pair of bool maps with random sizes (2 .. max_side - 1) and densities (in `density`)."""
    h, w = rng.integers(2, max_side, 2)
    pred = rng.random((h, w)) < rng.uniform(*density)
    gt = rng.random((h, w)) < rng.uniform(*density)
    return pred, gt


def soft_map_and_gt(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A blurred, shifted, noisy soft boundary map in [0, 1] and its 1-pixel GT (a few straight segments)."""
    gt = np.zeros((h, w), dtype=bool)
    soft = np.zeros((h, w))
    for _ in range(3):
        y0, y1 = rng.integers(0, h, 2)
        x0, x1 = rng.integers(0, w, 2)
        n = max(abs(int(y1) - int(y0)), abs(int(x1) - int(x0))) + 1
        ys = np.round(np.linspace(y0, y1, n)).astype(int)
        xs = np.round(np.linspace(x0, x1, n)).astype(int)
        gt[ys, xs] = True
        shift = rng.integers(-2, 3, 2)
        soft[np.clip(ys + shift[0], 0, h - 1), np.clip(xs + shift[1], 0, w - 1)] = rng.uniform(0.4, 1.0)
    soft = ndimage.gaussian_filter(ndimage.grey_dilation(soft, size=3), 1.0)
    soft = soft / max(soft.max(), 1e-9) + (rng.random((h, w)) < 0.02) * rng.random((h, w)) * 0.5
    return np.clip(soft, 0.0, 1.0), gt

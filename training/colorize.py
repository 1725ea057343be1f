"""Pictures of predictions: colour-mapped depth and boundary overlays (uint8 RGB arrays, HWC)."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps

from obtoolkit.viz import DEPTH_CMAP


def colorize(values_hw: np.ndarray, cmap: str = DEPTH_CMAP, *, vmin: float | None = None,
             vmax: float | None = None, percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """Map a float (H, W) array to uint8 RGB (H, W, 3) with a matplotlib colour map.

    The range is [vmin, vmax], each defaulting to the given percentile of the finite values; values outside are
    clipped. Non-finite values become black.
    """
    values_hw = np.asarray(values_hw, dtype=np.float64)
    if values_hw.ndim != 2:
        raise ValueError(f"colorize: expected an (H, W) array, got shape {values_hw.shape}")
    finite = np.isfinite(values_hw)
    if finite.any():
        low, high = np.percentile(values_hw[finite], percentiles)
    else:
        low, high = 0.0, 1.0
    low = low if vmin is None else vmin
    high = high if vmax is None else vmax
    scaled = (values_hw - low) / max(high - low, 1e-12)
    rgb = colormaps[cmap](np.clip(np.where(finite, scaled, 0.0), 0.0, 1.0))[..., :3]
    rgb[~finite] = 0.0
    return np.round(rgb * 255.0).astype(np.uint8)


def overlay_boundary(image_rgb_hwc: np.ndarray, probability_hw: np.ndarray,
                     color: tuple[int, int, int] = (255, 40, 40), strength: float = 0.9) -> np.ndarray:
    """Blend `color` into a uint8 RGB image with weight strength x probability per pixel; returns uint8 (H, W, 3).

    probability_hw: float (H, W) in [0, 1] (values outside are clipped).
    """
    if image_rgb_hwc.shape[:2] != probability_hw.shape or image_rgb_hwc.shape[-1:] != (3,):
        raise ValueError(f"overlay_boundary: image {image_rgb_hwc.shape} and probability {probability_hw.shape} "
                         "must be (H, W, 3) and (H, W)")
    alpha = strength * np.clip(np.asarray(probability_hw, dtype=np.float64), 0.0, 1.0)[..., None]
    blended = (1.0 - alpha) * image_rgb_hwc.astype(np.float64) + alpha * np.asarray(color, dtype=np.float64)
    return np.round(blended).astype(np.uint8)

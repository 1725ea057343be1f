from __future__ import annotations

import numpy as np
import pytest

from training.colorize import colorize, overlay_boundary


def test_colorize_range_and_invalid_values():
    values = np.linspace(0.0, 1.0, 50).reshape(5, 10)
    values[0, 0] = np.nan
    rgb = colorize(values, "gray", vmin=0.0, vmax=1.0)
    assert rgb.shape == (5, 10, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == 0).all()  # non-finite -> black
    assert (rgb[-1, -1] == 255).all() and rgb[2, 5, 0] == round(values[2, 5] * 255)
    assert colorize(np.full((3, 3), np.inf)).max() == 0
    with pytest.raises(ValueError, match="H, W"):
        colorize(np.zeros((2, 2, 2)))


def test_overlay_boundary():
    image = np.full((4, 4, 3), 100, dtype=np.uint8)
    probability = np.zeros((4, 4))
    probability[1, 2] = 1.0
    out = overlay_boundary(image, probability, color=(255, 0, 0), strength=1.0)
    assert (out[1, 2] == (255, 0, 0)).all() and (out[0, 0] == 100).all()
    with pytest.raises(ValueError):
        overlay_boundary(image, probability[:3])

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from obtoolkit.metrics.nms import conv_tri, edge_nms, edge_orientation


def _slow_conv_tri(image, radius):
    kernel = [float(k) for k in list(range(1, radius + 2)) + list(range(radius, 0, -1))]
    total = sum(kernel)
    h, w = image.shape

    def reflect(i, n):  # MATLAB 'symmetric' padding
        while i < 0 or i >= n:
            i = -i - 1 if i < 0 else 2 * n - i - 1
        return i

    rows = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            rows[y, x] = sum(kernel[k] * image[reflect(y + k - radius, h), x] for k in range(len(kernel))) / total
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            out[y, x] = sum(kernel[k] * rows[y, reflect(x + k - radius, w)] for k in range(len(kernel))) / total
    return out


def _slow_nms(edges, r=1, s=5, m=1.01):
    """The spec's definition, one pixel at a time."""
    h, w = edges.shape
    orientation = edge_orientation(edges)

    def interp(x, y):
        x = min(max(x, 0.0), w - 1.001)
        y = min(max(y, 0.0), h - 1.001)
        x0, y0 = int(x), int(y)
        fx, fy = x - x0, y - y0
        return (edges[y0, x0] * (1 - fx) * (1 - fy) + edges[y0, x0 + 1] * fx * (1 - fy)
                + edges[y0 + 1, x0] * (1 - fx) * fy + edges[y0 + 1, x0 + 1] * fx * fy)

    out = edges.copy()
    for y in range(h):
        for x in range(w):
            e = edges[y, x]
            if e == 0:
                continue
            c, sn = math.cos(orientation[y, x]), math.sin(orientation[y, x])
            if any(e * m < interp(x + d * c, y + d * sn) for d in range(-r, r + 1) if d):
                out[y, x] = 0.0
    s = min(s, w // 2, h // 2)
    for y in range(h):
        for x in range(w):
            for dist in (x, w - 1 - x):
                if dist < s:
                    out[y, x] *= dist / s
    for y in range(h):
        for dist in (y, h - 1 - y):
            if dist < s:
                out[y, :] *= dist / s
    return out


def test_conv_tri_matches_slow_reference():
    image = np.random.default_rng(0).random((9, 12))
    for radius in (1, 4):
        assert np.allclose(conv_tri(image, radius), _slow_conv_tri(image, radius), atol=1e-12)
    assert np.allclose(conv_tri(image, 0), image)


def test_nms_matches_slow_reference():
    rng = np.random.default_rng(1)
    edges = ndimage.gaussian_filter(rng.random((30, 40)), 1.5)
    edges = (edges - edges.min()) / (edges.max() - edges.min())
    assert np.allclose(edge_nms(edges), _slow_nms(edges), atol=1e-12)


def test_nms_keeps_ridge_and_zeroes_border():
    edges = np.zeros((21, 21))
    edges[:, 10] = 1.0
    edges[:, 9] = edges[:, 11] = 0.5
    out = edge_nms(edges)
    assert (out[:, 9] == 0).all() and (out[:, 11] == 0).all()
    assert out[10, 10] == pytest.approx(1.0)
    assert out[0, 10] == 0 and out[-1, 10] == 0  # border damping reaches 0 on the outermost rows
    assert out[2, 10] == pytest.approx(0.4)


def test_nms_rejects_bad_input():
    with pytest.raises(ValueError, match="edges"):
        edge_nms(np.zeros((4, 4), np.uint8))

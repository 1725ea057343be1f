from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import ndimage

from bench.stress_maps import FAMILIES, make_case
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


# --- Frozen copy of the numpy formulation the compiled module replaced (the reference for bit-identity) ---------------

def _frozen_conv_tri(image, radius):
    out = np.asarray(image, dtype=np.float64)
    if radius <= 0:
        return out.copy()
    kernel = np.concatenate([np.arange(1, radius + 2), np.arange(radius, 0, -1)]).astype(np.float64)
    kernel /= kernel.sum()
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="symmetric")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for k, weight in enumerate(kernel):
            acc += weight * (padded[k : k + n, :] if axis == 0 else padded[:, k : k + n])
        out = acc
    return out


def _frozen_edge_orientation(edges):
    smooth = _frozen_conv_tri(edges, 4)
    oy, ox = np.gradient(smooth)
    _, oxx = np.gradient(ox)
    oyy, oxy = np.gradient(oy)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.arctan(oyy * np.sign(-oxy) / (oxx + 1e-5))
    return np.mod(angle, np.pi)


@numba.njit
def _frozen_interp(image, x, y):
    h, w = image.shape
    x = 0.0 if x < 0 else (w - 1.001 if x > w - 1.001 else x)
    y = 0.0 if y < 0 else (h - 1.001 if y > h - 1.001 else y)
    x0 = int(x)
    y0 = int(y)
    dx0 = x - x0
    dy0 = y - y0
    dx1 = 1.0 - dx0
    dy1 = 1.0 - dy0
    return (image[y0, x0] * dx1 * dy1 + image[y0, x0 + 1] * dx0 * dy1
            + image[y0 + 1, x0] * dx1 * dy0 + image[y0 + 1, x0 + 1] * dx0 * dy0)


@numba.njit
def _frozen_suppress(edges, orientation, radius, multiplier):
    h, w = edges.shape
    out = edges.copy()
    for y in range(h):
        for x in range(w):
            e = edges[y, x]
            if e == 0.0:
                continue
            e *= multiplier
            cos_o = math.cos(orientation[y, x])
            sin_o = math.sin(orientation[y, x])
            for d in range(-radius, radius + 1):
                if d != 0 and e < _frozen_interp(edges, x + d * cos_o, y + d * sin_o):
                    out[y, x] = 0.0
                    break
    return out


def _frozen_edge_nms(edges, presmooth_radius=0):
    e = np.where(np.isfinite(edges) & (edges > 0), edges, 0.0).astype(np.float64)
    if presmooth_radius > 0:
        e = _frozen_conv_tri(e, presmooth_radius)
    out = _frozen_suppress(e, _frozen_edge_orientation(e), 1, 1.01)
    h, w = out.shape
    s = min(5, w // 2, h // 2)
    for i in range(s):
        out[:, i] *= i / s
        out[:, w - 1 - i] *= i / s
    for i in range(s):
        out[i, :] *= i / s
        out[h - 1 - i, :] *= i / s
    return out


def _bitwise_equal(a, b):
    """Same dtype, shape and bytes: -0.0 differs from +0.0 here (np.array_equal would call them equal)."""
    same_layout = a.dtype == b.dtype and a.shape == b.shape
    return same_layout and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def _varied_maps():
    rng = np.random.default_rng(7)
    maps = [make_case(family, 240, 320, seed=1)[0] for family in FAMILIES]
    maps.append(make_case("soft_thick", 768, 1024, seed=2)[0])  # one full-size frame (all were compared once)
    for shape in [(2, 2), (2, 9), (9, 2), (3, 3), (5, 7), (4, 12), (31, 43)]:
        maps.append(rng.random(shape))
        noisy = rng.normal(size=shape)
        noisy[rng.random(shape) < 0.2] = np.nan
        noisy[rng.random(shape) < 0.1] = np.inf
        maps.append(noisy)
    sparse = rng.random((50, 60))
    sparse[sparse < 0.95] = 0.0
    maps += [sparse, rng.random((50, 60)).astype(np.float32), np.zeros((40, 30)), np.ones((40, 30))]
    return maps


def test_compiled_nms_is_bit_identical_to_the_numpy_formulation():
    for edges in _varied_maps():
        before = edges.copy()
        for presmooth_radius in (0, 1):
            assert _bitwise_equal(edge_nms(edges, presmooth_radius=presmooth_radius),
                                  _frozen_edge_nms(edges, presmooth_radius))
        assert _bitwise_equal(edges, before)  # suppression works in place on its own copy, never on the input
        finite = np.nan_to_num(edges, nan=0.0, posinf=1.0)
        assert _bitwise_equal(edge_orientation(finite), _frozen_edge_orientation(finite))


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (6, 1), (2, 2), (5, 7), (3, 40)])
def test_conv_tri_is_bit_identical_including_radius_beyond_size(shape):
    image = np.random.default_rng(3).normal(size=shape)
    for radius in (0, 1, 2, 4, 9):
        assert _bitwise_equal(conv_tri(image, radius), _frozen_conv_tri(image, radius))
    assert _bitwise_equal(conv_tri(image > 0, 2), _frozen_conv_tri(image > 0, 2))


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (6, 1)])
def test_nms_and_orientation_reject_a_side_of_one_pixel_like_np_gradient(shape):
    with pytest.raises(ValueError):
        _frozen_edge_nms(np.ones(shape))
    with pytest.raises(ValueError, match="2x2"):
        edge_nms(np.ones(shape))
    with pytest.raises(ValueError, match="2x2"):
        edge_orientation(np.ones(shape))

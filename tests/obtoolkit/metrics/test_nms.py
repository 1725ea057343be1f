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


def _whole_array_conv_tri(image, radius):
    """The first release's conv_tri: sums of shifted whole arrays (the floating-point definition of the kernel)."""
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


def _whole_array_orientation(edges):
    """The first release's orientation: np.gradient and np.arctan on whole arrays."""
    oy, ox = np.gradient(_whole_array_conv_tri(edges, 4))
    _, oxx = np.gradient(ox)
    oyy, oxy = np.gradient(oy)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mod(np.arctan(oyy * np.sign(-oxy) / (oxx + 1e-5)), np.pi)


def _bits(array):
    return np.ascontiguousarray(array, dtype=np.float64).view(np.int64)


def _varied_maps():
    from bench.stress_maps import FAMILIES, make_case

    rng = np.random.default_rng(5)
    for family in sorted(FAMILIES):
        yield make_case(family, 41, 57, 2)[0]
    for k in range(12):
        h, w = rng.integers(2, 30, 2)
        edges = rng.random((h, w)) * [1.0, 1e-3, 1e3][k % 3]
        edges[rng.random((h, w)) < 0.3] = 0.0
        yield edges
    yield rng.random((20, 25)).astype(np.float32)
    hostile = rng.random((23, 31)) - 0.2  # negatives, NaN and infinities: edge_nms zeroes them first
    hostile[rng.random(hostile.shape) < 0.05] = np.nan
    hostile[3, 4], hostile[7, 9] = np.inf, -np.inf
    yield hostile


def test_kernels_are_bit_identical_to_whole_array_numpy():
    """The compiled filter, derivatives and angle do the same floating-point operations as the numpy definition."""
    for edges in _varied_maps():
        edges = np.nan_to_num(edges, posinf=0.0, neginf=0.0)  # conv_tri and the orientation take finite maps
        for radius in (1, 2, 4, 9):
            assert np.array_equal(_bits(conv_tri(edges, radius)), _bits(_whole_array_conv_tri(edges, radius)))
        assert np.array_equal(_bits(edge_orientation(edges)), _bits(_whole_array_orientation(edges)))
    for shape in [(1, 1), (1, 7), (7, 1), (2, 2), (3, 2)]:  # padding wider than the image
        image = np.random.default_rng(6).random(shape)
        for radius in (1, 4, 9):
            assert np.array_equal(_bits(conv_tri(image, radius)), _bits(_whole_array_conv_tri(image, radius)))


def test_orientation_needs_two_by_two():
    with pytest.raises(ValueError, match="2x2"):
        edge_orientation(np.ones((1, 9)))
    with pytest.raises(ValueError, match="2x2"):
        edge_nms(np.ones((9, 1)))


def test_nms_with_the_angle_taken_only_where_needed_is_bit_identical():
    from obtoolkit.metrics.nms import _damp_borders, _suppress

    for edges in _varied_maps():
        for presmooth in (0, 1):
            e = np.where(np.isfinite(edges) & (edges > 0), edges, 0.0).astype(np.float64)
            if presmooth:
                e = _whole_array_conv_tri(e, 1)
            pixels = np.flatnonzero(e)
            expected = _suppress(e, pixels, _whole_array_orientation(e).ravel()[pixels], 1, 1.01)
            _damp_borders(expected, 5)
            assert np.array_equal(_bits(edge_nms(edges, presmooth_radius=presmooth)), _bits(expected))

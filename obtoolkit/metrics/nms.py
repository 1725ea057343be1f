"""Edge non-maximum suppression as in the structured-edge toolbox (`edgesNmsMex`) and the occlusion scripts.

Spec (docs/evaluation.md, "NMS"):

1. Orientation: smooth E with a triangle filter of radius 4 (`conv_tri`), take gradients Ox, Oy (central differences
   inside, one-sided at the border: `np.gradient`), second derivatives Oxx (from Ox), Oxy and Oyy (from Oy), and
   O = mod(atan(Oyy * sign(-Oxy) / (Oxx + 1e-5)), pi).
2. Suppression: a pixel with e > 0 is set to 0 when m * e is smaller than E bilinearly interpolated at
   (x, y) + d * (cos O, sin O) for some d in {-r..r} \\ {0}; sample coordinates are clamped to [0, W - 1.001] x
   [0, H - 1.001]. Comparisons use the input map, not the partly suppressed one.
3. Border damping: within s pixels of each border the value is multiplied by (distance to the border) / s, so the
   outermost rows and columns become 0 (s is capped at W // 2 and H // 2).

Options: `presmooth_radius = 1` first applies `conv_tri(E, 1)` as the HED/pdollar Python ports do; the occlusion
MATLAB scripts (`edge_nms(E, 0)`) do not pre-smooth and zero values <= 0 first.

Implementation: the filters and derivatives are compiled loops that do the same floating-point operations, in the
same order, as the whole-array numpy expressions of the spec (the tests compare bits); the angle is numpy's own
arctan (which may use SIMD code whose last bit differs from libm's), taken only at the nonzero pixels that NMS
compares. About 20 ms per 1024x768 map with a sparse foreground, 70 ms with a dense one (3.5x and 1.3x faster than
whole-array numpy).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from obtoolkit._checks import check_array


def conv_tri(image: np.ndarray, radius: int) -> np.ndarray:
    """Separable triangle filter [1 2 .. r+1 .. 2 1] / (r+1)^2 with symmetric padding (pdollar `convTri`, integer r).

    Args:
        image: (H, W) float array, no NaN.
        radius: integer radius >= 0; 0 returns a float64 copy.

    Returns:
        (H, W) float64 smoothed image: rows first, then columns, each output the sum of weight * input in tap order
        starting from 0.0 (the same floating-point operations as a sum of shifted whole arrays).
    """
    check_array("image", image, shape=(None, None), kind="fiub")
    out = np.asarray(image, dtype=np.float64)
    if radius <= 0:
        return out.copy()
    kernel = np.concatenate([np.arange(1, radius + 2), np.arange(radius, 0, -1)]).astype(np.float64)
    kernel /= kernel.sum()
    h, w = out.shape
    rows = np.pad(np.arange(h), radius, mode="symmetric")  # the source row of every padded row
    cols = np.pad(np.arange(w), radius, mode="symmetric")
    return _conv_tri_kernel(np.ascontiguousarray(out), kernel, rows, cols)


@numba.njit(cache=True, nogil=True)
def _conv_tri_kernel(image, kernel, rows, cols):
    h, w = image.shape
    taps = kernel.shape[0]
    mid = np.zeros((h, w))
    for y in range(h):
        acc = mid[y]
        for k in range(taps):
            source, weight = image[rows[y + k]], kernel[k]
            for x in range(w):
                acc[x] += weight * source[x]
    out = np.zeros((h, w))
    padded = np.empty(w + taps - 1)
    for y in range(h):
        for i in range(w + taps - 1):
            padded[i] = mid[y, cols[i]]
        acc = out[y]
        for k in range(taps):
            weight = kernel[k]
            for x in range(w):
                acc[x] += weight * padded[x + k]
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _difference(f, y, x, axis):
    """np.gradient(f, axis=axis)[y, x] for unit spacing: central inside, one-sided at both ends (size >= 2)."""
    if axis == 0:
        n, i = f.shape[0], y
        if i == 0:
            return (f[1, x] - f[0, x]) / 1.0
        if i == n - 1:
            return (f[n - 1, x] - f[n - 2, x]) / 1.0
        return (f[y + 1, x] - f[y - 1, x]) / 2.0
    n, i = f.shape[1], x
    if i == 0:
        return (f[y, 1] - f[y, 0]) / 1.0
    if i == n - 1:
        return (f[y, n - 1] - f[y, n - 2]) / 1.0
    return (f[y, x + 1] - f[y, x - 1]) / 2.0


@numba.njit(cache=True, nogil=True, inline="always")
def _difference_of_difference(f, y, x, outer, inner):
    """np.gradient(np.gradient(f, axis=inner), axis=outer)[y, x], the inner differences taken where needed."""
    i, n = (y, f.shape[0]) if outer == 0 else (x, f.shape[1])
    low, high, step = (0, 1, 1.0) if i == 0 else ((n - 2, n - 1, 1.0) if i == n - 1 else (i - 1, i + 1, 2.0))
    if outer == 0:
        return (_difference(f, high, x, inner) - _difference(f, low, x, inner)) / step
    return (_difference(f, y, high, inner) - _difference(f, y, low, inner)) / step


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _orientation_arguments(smooth, pixels):
    """(N,) oyy * sign(-oxy) / (oxx + 1e-5) at the flat `pixels` of the smoothed map (IEEE division)."""
    w = smooth.shape[1]
    out = np.empty(pixels.shape[0])
    for t in range(pixels.shape[0]):
        y, x = pixels[t] // w, pixels[t] % w
        oxx = _difference_of_difference(smooth, y, x, 1, 1)
        oyy = _difference_of_difference(smooth, y, x, 0, 0)
        v = -_difference_of_difference(smooth, y, x, 1, 0)  # -oxy: the x difference of oy
        sign = 1.0 if v > 0 else (-1.0 if v < 0 else (0.0 if v == 0 else v))
        out[t] = oyy * sign / (oxx + 1e-5)
    return out


def _orientations_at(edges: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """(N,) float64 orientation in [0, pi) at the flat `pixels` of `edges` ((H, W), at least 2x2)."""
    if not len(pixels):
        return np.zeros(0)
    smooth = conv_tri(edges, 4)
    if min(smooth.shape) < 2:
        raise ValueError(f"edges: expected at least 2x2 pixels to take an orientation, got {smooth.shape}")
    # numpy's arctan (possibly SIMD) for the angle itself: its last bit can differ from libm's; elementwise, so
    # taking it on a subset gives the same bits
    return np.mod(np.arctan(_orientation_arguments(smooth, pixels)), np.pi)


def edge_orientation(edges: np.ndarray) -> np.ndarray:
    """Edge normal orientation in [0, pi) from second derivatives of the radius-4 smoothed map.

    Args:
        edges: (H, W) float array, boundary strength, no NaN; at least 2x2.

    Returns:
        (H, W) float64 orientation in radians, measured from +x (columns) towards +y (rows).
    """
    check_array("edges", edges, shape=(None, None), kind="fiub")
    return _orientations_at(edges, np.arange(edges.size)).reshape(edges.shape)


@numba.njit(cache=True, nogil=True)
def _interp(image, x, y):
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


@numba.njit(cache=True, nogil=True)
def _suppress(edges, pixels, orientation, radius, multiplier):
    """NMS of the flat `pixels` of `edges` (its nonzero pixels), orientation[t] that of pixels[t]."""
    w = edges.shape[1]
    out = edges.copy()
    for t in range(pixels.shape[0]):
        y, x = pixels[t] // w, pixels[t] % w
        e = edges[y, x] * multiplier
        cos_o = math.cos(orientation[t])
        sin_o = math.sin(orientation[t])
        for d in range(-radius, radius + 1):
            if d != 0 and e < _interp(edges, x + d * cos_o, y + d * sin_o):
                out[y, x] = 0.0
                break
    return out


def _damp_borders(edges: np.ndarray, border: int) -> None:
    h, w = edges.shape
    s = min(border, w // 2, h // 2)
    for i in range(s):
        edges[:, i] *= i / s
        edges[:, w - 1 - i] *= i / s
    for i in range(s):
        edges[i, :] *= i / s
        edges[h - 1 - i, :] *= i / s


def edge_nms(
    edges: np.ndarray,
    *,
    radius: int = 1,
    border: int = 5,
    multiplier: float = 1.01,
    presmooth_radius: int = 0,
) -> np.ndarray:
    """Thin a soft boundary map by non-maximum suppression across the edge orientation.

    Args:
        edges: (H, W) float array in [0, 1] (higher = boundary); values <= 0 (and NaN) are treated as 0.
        radius: suppression radius r in pixels (1 in every OB protocol).
        border: damping width s in pixels (5).
        multiplier: conservative suppression factor m (1.01).
        presmooth_radius: 0 (occlusion scripts) or 1 (`conv_tri(E, 1)` first, as the HED/pdollar Python ports).

    Returns:
        (H, W) float64 suppressed map, values in [0, 1].
    """
    check_array("edges", edges, shape=(None, None), kind="f")
    e = np.where(np.isfinite(edges) & (edges > 0), edges, 0.0).astype(np.float64, copy=False)
    if presmooth_radius > 0:
        e = conv_tri(e, presmooth_radius)
    pixels = np.flatnonzero(e)  # only nonzero pixels are compared with their neighbours
    out = _suppress(e, pixels, _orientations_at(e, pixels), int(radius), float(multiplier))
    _damp_borders(out, int(border))
    return out

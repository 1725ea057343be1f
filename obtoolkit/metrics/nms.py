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
"""

from __future__ import annotations

import math

import numba
import numpy as np

from obtoolkit._checks import check_array


def _tri_kernel(radius: int) -> np.ndarray:
    kernel = np.concatenate([np.arange(1, radius + 2), np.arange(radius, 0, -1)]).astype(np.float64)
    kernel /= kernel.sum()
    return kernel


@numba.njit(cache=True, nogil=True)
def _reflect(i, n):
    # MATLAB/numpy 'symmetric' padding, repeated when the radius exceeds the size.
    while i < 0 or i >= n:
        i = -i - 1 if i < 0 else 2 * n - i - 1
    return i


@numba.njit(cache=True, nogil=True)
def _conv_tri_kernel(image, kernel):
    # Same arithmetic as the former numpy loop: per axis (rows, then columns) acc = 0; acc += w_k * x_k, k ascending.
    # Row by row: the row pass of output row y goes into a padded buffer, which the column pass then reads.
    h, w = image.shape
    taps = kernel.shape[0]
    radius = (taps - 1) // 2
    out = np.empty((h, w))
    padded = np.empty(w + 2 * radius)
    row = padded[radius : radius + w]
    for y in range(h):
        row[:] = 0.0
        for k in range(taps):
            src = image[_reflect(y + k - radius, h)]
            weight = kernel[k]
            for x in range(w):
                row[x] += weight * src[x]
        for x in range(radius):
            padded[radius - 1 - x] = row[_reflect(-1 - x, w)]
            padded[radius + w + x] = row[_reflect(w + x, w)]
        acc = out[y]
        acc[:] = 0.0
        for k in range(taps):
            weight = kernel[k]
            shifted = padded[k : k + w]
            for x in range(w):
                acc[x] += weight * shifted[x]
    return out


def conv_tri(image: np.ndarray, radius: int) -> np.ndarray:
    """Separable triangle filter [1 2 .. r+1 .. 2 1] / (r+1)^2 with symmetric padding (pdollar `convTri`, integer r).

    Along axis 0 first, then axis 1; each output sums weight * sample in kernel order starting from 0 (compiled, one
    image row at a time; bit-identical to the numpy formulation `acc += w_k * padded[k:k + n]` per axis).

    Args:
        image: (H, W) float array, no NaN.
        radius: integer radius >= 0; 0 returns a float64 copy.

    Returns:
        (H, W) float64 smoothed image.
    """
    check_array("image", image, shape=(None, None), kind="fiub")
    out = np.asarray(image, dtype=np.float64)
    if radius <= 0:
        return out.copy()
    return _conv_tri_kernel(np.ascontiguousarray(out), _tri_kernel(int(radius)))


@numba.njit(cache=True, nogil=True)
def _d_col(image, y, x):
    # np.gradient along columns (unit spacing): central differences inside, one-sided at the ends.
    w = image.shape[1]
    if x == 0:
        return image[y, 1] - image[y, 0]
    if x == w - 1:
        return image[y, w - 1] - image[y, w - 2]
    return (image[y, x + 1] - image[y, x - 1]) / 2.0


@numba.njit(cache=True, nogil=True)
def _d_row(image, y, x):
    h = image.shape[0]
    if y == 0:
        return image[1, x] - image[0, x]
    if y == h - 1:
        return image[h - 1, x] - image[h - 2, x]
    return (image[y + 1, x] - image[y - 1, x]) / 2.0


@numba.njit(cache=True, nogil=True)
def _sign(v):
    # np.sign: 1, -1, +0 for either zero, NaN for NaN.
    if v > 0.0:
        return 1.0
    if v < 0.0:
        return -1.0
    return 0.0 if v == 0.0 else v


@numba.njit(cache=True, nogil=True)
def _atan_argument(smooth, ys, xs):
    # Oyy * sign(-Oxy) / (Oxx + 1e-5) at the listed pixels, with Oxx = d/dx Ox, Oyy = d/dy Oy, Oxy = d/dx Oy and
    # Ox, Oy (first derivatives of the smoothed map) evaluated only where the outer difference reads them.
    n = ys.shape[0]
    out = np.empty(n)
    h, w = smooth.shape
    for i in range(n):
        y = ys[i]
        x = xs[i]
        if x == 0:
            oxx = _d_col(smooth, y, 1) - _d_col(smooth, y, 0)
            oxy = _d_row(smooth, y, 1) - _d_row(smooth, y, 0)
        elif x == w - 1:
            oxx = _d_col(smooth, y, w - 1) - _d_col(smooth, y, w - 2)
            oxy = _d_row(smooth, y, w - 1) - _d_row(smooth, y, w - 2)
        else:
            oxx = (_d_col(smooth, y, x + 1) - _d_col(smooth, y, x - 1)) / 2.0
            oxy = (_d_row(smooth, y, x + 1) - _d_row(smooth, y, x - 1)) / 2.0
        if y == 0:
            oyy = _d_row(smooth, 1, x) - _d_row(smooth, 0, x)
        elif y == h - 1:
            oyy = _d_row(smooth, h - 1, x) - _d_row(smooth, h - 2, x)
        else:
            oyy = (_d_row(smooth, y + 1, x) - _d_row(smooth, y - 1, x)) / 2.0
        out[i] = oyy * _sign(-oxy) / (oxx + 1e-5)
    return out


def _angle_at(edges: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The arctan of `edge_orientation(edges)` at pixels (ys, xs) before `mod pi` (edges float64 C-contiguous, both
    sides >= 2); numpy, not libm, evaluates arctan, elementwise, exactly as on the full frame."""
    argument = _atan_argument(_conv_tri_kernel(edges, _tri_kernel(4)), ys, xs)
    return np.arctan(argument, out=argument)


def _require_two_by_two(shape: tuple[int, ...]) -> None:
    """The orientation takes np.gradient twice along each axis: a side of one pixel is a ValueError (as it was)."""
    if min(shape) < 2:
        raise ValueError(f"edges: expected at least 2x2 pixels to take an edge orientation, got {shape[0]}x{shape[1]}")


@numba.njit(cache=True, nogil=True)
def _mod_pi(angle):
    # np.mod(angle, pi) for |angle| <= pi / 2 or NaN (numpy: fmod is exact there, a negative remainder gets + pi,
    # a zero one becomes +0).
    if angle < 0.0:
        return angle + np.pi
    if angle == 0.0:
        return 0.0
    return angle


def edge_orientation(edges: np.ndarray) -> np.ndarray:
    """Edge normal orientation in [0, pi) from second derivatives of the radius-4 smoothed map.

    Args:
        edges: (H, W) float array, boundary strength, no NaN; both sides >= 2 pixels (as `np.gradient`).

    Returns:
        (H, W) float64 orientation in radians, measured from +x (columns) towards +y (rows).
    """
    smooth = conv_tri(edges, 4)
    _require_two_by_two(smooth.shape)
    h, w = smooth.shape
    ys, xs = np.divmod(np.arange(h * w, dtype=np.int64), w)
    angle = _atan_argument(smooth, ys, xs)
    return np.mod(np.arctan(angle, out=angle), np.pi).reshape(h, w)


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
def _suppress(edges, ys, xs, angle, radius, multiplier):
    # angle[i] (orientation before mod pi) belongs to pixel (ys[i], xs[i]); the listed pixels are exactly the
    # nonzero ones. Every comparison reads the input map; the suppressed pixels are zeroed in place afterwards.
    suppressed = np.zeros(ys.shape[0], np.bool_)
    for i in range(ys.shape[0]):
        y = ys[i]
        x = xs[i]
        e = edges[y, x] * multiplier
        orientation = _mod_pi(angle[i])
        cos_o = math.cos(orientation)
        sin_o = math.sin(orientation)
        for d in range(-radius, radius + 1):
            if d != 0 and e < _interp(edges, x + d * cos_o, y + d * sin_o):
                suppressed[i] = True
                break
    for i in range(ys.shape[0]):
        if suppressed[i]:
            edges[ys[i], xs[i]] = 0.0


@numba.njit(cache=True, nogil=True)
def _positive_part(edges):
    # Values <= 0, NaN and infinities become 0; the rest are converted to float64 (exact for float32 input).
    h, w = edges.shape
    out = np.empty((h, w))
    for y in range(h):
        for x in range(w):
            v = edges[y, x]
            out[y, x] = np.float64(v) if v > 0 and v != np.inf else 0.0
    return out


@numba.njit(cache=True, nogil=True)
def _nonzero(edges):
    h, w = edges.shape
    n = 0
    for y in range(h):
        for x in range(w):
            if edges[y, x] != 0.0:
                n += 1
    ys = np.empty(n, np.int64)
    xs = np.empty(n, np.int64)
    n = 0
    for y in range(h):
        for x in range(w):
            if edges[y, x] != 0.0:
                ys[n] = y
                xs[n] = x
                n += 1
    return ys, xs


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
    _require_two_by_two(edges.shape)
    e = _positive_part(np.ascontiguousarray(edges))
    if presmooth_radius > 0:
        e = _conv_tri_kernel(e, _tri_kernel(int(presmooth_radius)))
    # The orientation is needed only where suppression looks (nonzero pixels).
    ys, xs = _nonzero(e)
    if ys.size == 0:
        return e  # nothing to suppress or damp
    _suppress(e, ys, xs, _angle_at(e, ys, xs), int(radius), float(multiplier))
    _damp_borders(e, int(border))
    return e

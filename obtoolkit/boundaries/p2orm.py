"""P2ORM-compatible occlusion relations, boundaries and orientation (tim885/P2ORM, spec §3).

This module reproduces P2ORM's label generator (`gen_occ_order`, `occ_order_to_edge` with connectivity 8,
`occ_order_connect8_to_ori`) including its quirks, so that its output can be compared pixel for pixel:

- Pixel (x, y) has its centre at (x + 0.5, y + 0.5); the ray through an image point (x', y') is
  (x' - cx, cy - y', -fx): an OpenGL-style camera (y up, looking down -z), only fx is used (square pixels, no skew).
- Condition 1 (zero order): D_q - D_p, divided by 1.414 for diagonal neighbours, beyond +-tau.
- Condition 2: the same sign and magnitude through the ray of the midpoint of the two pixel centres, intersected with
  both tangent planes. Condition 3: p's plane lies in front of q's plane (or behind) along both pixel rays.
- Quirk: every "distance to a plane" is the Euclidean norm of the intersection point, i.e. |lambda| (an intersection
  behind the camera counts as in front); a line within 1e-6 of parallel to a plane (dot product of the unnormalised
  direction and the normal) gives the intersection point (0, 0, 0), i.e. distance 0; NaN components are set to 0.
- Quirk: border pixels see replicated depth, normals and validity for their out-of-image neighbours, while the rays
  of those neighbours go through their true (outside) positions; such relations are kept.
- Quirk: a pixel whose 3x3 window holds a NaN depth gets no relation at all.
- Quirk (P2ORM's default `dataset='interiornet'`): when the 5x5 window around a pixel holds a depth of exactly 0
  ("unknown, infinitely far"), the window's zeros become 65535 and its other values the window maximum.
- Quirk: a pixel that occludes, or is occluded by, all 8 neighbours loses all its relations (on its own side only,
  which breaks antisymmetry), and relations towards invalid neighbours are zeroed.
- Boundaries: s = sum of the 8 relations; fg = s > 0, bg = s < 0, edge = any relation; isolated fg/bg pixels are
  removed by P2ORM's 3x3 mean filter (scipy `reflect` borders: a lone pixel on the image border survives).
- Orientation: P2ORM's clipped 8-direction vector sum in float32 with its constants (0.707, PI = 3.1416).

All geometry runs in float64; `distance` and `tau` share one unit (P2ORM used millimetres and tau = 25).
"""

from __future__ import annotations

import numba
import numpy as np

from obtoolkit._checks import check_array, check_same_hw

P2ORM_PI = 3.1416
P2ORM_DIAGONAL = 1.414
P2ORM_PARALLEL_EPS = 1e-6
P2ORM_VOID_DEPTH = 65535.0

_DY = np.array([-1, -1, -1, 0, 0, 1, 1, 1], dtype=np.int64)
_DX = np.array([-1, 0, 1, -1, 1, -1, 0, 1], dtype=np.int64)


def occlusion_order(
    distance: np.ndarray,
    normals_cam: np.ndarray,
    K: np.ndarray,
    tau: float,
    invalid: np.ndarray | None = None,
) -> np.ndarray:
    """P2ORM's pixel-pair occlusion order.

    Args:
        distance: (H, W) Euclidean distance along each pixel's ray, in the unit of `tau` (e.g. millimetres); NaN
            and 0 follow P2ORM's quirks (see the module docstring).
        normals_cam: (H, W, 3) camera-frame normals (x right, y up, z towards the viewer); used as given.
        K: (3, 3) intrinsics in P2ORM's convention (pixel (x, y) has its centre at (x + 0.5, y + 0.5)); only fx, cx,
            cy are used.
        tau: the depth-discontinuity threshold, in the unit of `distance`.
        invalid: optional bool (H, W), True where the input is invalid (skipped, and relations towards it zeroed).

    Returns:
        int8 (H, W, 9): channel 0 = any relation; channels 1-8 = neighbours NW, N, NE, W, E, SW, S, SE;
        +1 = this pixel occludes that neighbour, -1 = it is occluded by it.
    """
    check_array("distance", distance, shape=(None, None), kind="fiu")
    check_array("normals_cam", normals_cam, shape=(None, None, 3), kind="f")
    K = check_array("K", np.asarray(K, dtype=np.float64), shape=(3, 3))
    check_same_hw("occlusion_order", distance=distance, normals_cam=normals_cam, invalid=invalid)
    if invalid is None:
        invalid = np.zeros(distance.shape, dtype=bool)
    return _order_kernel(
        np.ascontiguousarray(distance, dtype=np.float64), np.ascontiguousarray(normals_cam, dtype=np.float64),
        float(K[0, 0]), float(K[0, 2]), float(K[1, 2]), float(tau), np.ascontiguousarray(invalid, dtype=np.bool_),
        _DY, _DX,
    )


@numba.njit(cache=True, nogil=True)
def _clamp(value, size):
    return min(max(value, 0), size - 1)


@numba.njit(cache=True, nogil=True)
def _norm3(x0, x1, x2):
    # numpy's norm over a length-3 axis: sqrt((x0*x0 + x1*x1) + x2*x2)
    return np.sqrt((x0 * x0 + x1 * x1) + x2 * x2)


@numba.njit(cache=True, nogil=True)
def _plane_distance(i0, i1, i2, p0, p1, p2, n0, n1, n2):
    """P2ORM's `insect_line_plane_3d_batch` from the origin along (i0, i1, i2), then the norm of the point."""
    dot = (i0 * n0 + i1 * n1) + i2 * n2
    if abs(dot) < P2ORM_PARALLEL_EPS:
        return 0.0
    d = ((n0 * p0 + n1 * p1) + n2 * p2) / dot
    x0, x1, x2 = i0 * d, i1 * d, i2 * d
    if np.isnan(x0):
        x0 = 0.0
    if np.isnan(x1):
        x1 = 0.0
    if np.isnan(x2):
        x2 = 0.0
    return _norm3(x0, x1, x2)


@numba.njit(cache=True, nogil=True)
def _is_candidate(distance, y, x, tau, dy, dx):
    height, width = distance.shape
    centre = distance[y, x]
    for k in range(8):
        length = P2ORM_DIAGONAL if dy[k] != 0 and dx[k] != 0 else 1.0
        diff = (distance[_clamp(y + dy[k], height), _clamp(x + dx[k], width)] - centre) / length
        if diff > tau or diff < -tau:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _window(distance, y, x):
    """The 5x5 window around (y, x) with replicated borders, after P2ORM's zero-depth ('interiornet') rule."""
    height, width = distance.shape
    window = np.empty((5, 5))
    has_nan = False
    low, high = np.inf, -np.inf
    for a in range(5):
        for b in range(5):
            value = distance[_clamp(y - 2 + a, height), _clamp(x - 2 + b, width)]
            window[a, b] = value
            if np.isnan(value):
                has_nan = True
            else:
                low, high = min(low, value), max(high, value)
    if not has_nan and low == 0.0:
        for a in range(5):
            for b in range(5):
                window[a, b] = P2ORM_VOID_DEPTH if window[a, b] == 0.0 else high
    return window


@numba.njit(cache=True, nogil=True)
def _pixel_relations(distance, normals, fx, cx, cy, tau, invalid, y, x, dy, dx, out):
    height, width = distance.shape
    window = _window(distance, y, x)
    centre = window[2, 2]
    for a in range(1, 4):
        for b in range(1, 4):
            if np.isnan(window[a, b] - centre):  # NaN makes P2ORM's max() test fail: no label for this pixel
                return
    # unit rays and 3-D points of the 3x3 neighbourhood (index 4 = centre)
    points = np.empty((9, 3))
    cy2, cx2 = y + 0.5, x + 0.5
    for idx in range(9):
        ry, rx = cy2 + (idx // 3 - 1), cx2 + (idx % 3 - 1)
        r0, r1, r2 = rx - cx, cy - ry, -fx
        norm = _norm3(r0, r1, r2)
        depth = window[1 + idx // 3, 1 + idx % 3]
        points[idx, 0], points[idx, 1], points[idx, 2] = r0 / norm * depth, r1 / norm * depth, r2 / norm * depth
    nc = normals[y, x]
    order = np.zeros(8, dtype=np.int8)
    for k in range(8):
        idx = (dy[k] + 1) * 3 + (dx[k] + 1)
        length = P2ORM_DIAGONAL if dy[k] != 0 and dx[k] != 0 else 1.0
        neighbour = window[2 + dy[k], 2 + dx[k]]
        diff0 = (neighbour - centre) / length
        if diff0 > tau:
            order[k] = 1
        elif diff0 < -tau:
            order[k] = -1
        else:
            continue
        nq = normals[_clamp(y + dy[k], height), _clamp(x + dx[k], width)]
        m0, m1, m2 = (cx2 + 0.5 * dx[k]) - cx, cy - (cy2 + 0.5 * dy[k]), -fx
        mid_p = _plane_distance(m0, m1, m2, points[4, 0], points[4, 1], points[4, 2], nc[0], nc[1], nc[2])
        mid_q = _plane_distance(m0, m1, m2, points[idx, 0], points[idx, 1], points[idx, 2], nq[0], nq[1], nq[2])
        diff_mid = (mid_q - mid_p) / length
        mid_sign = 1 if diff_mid > tau else (-1 if diff_mid < -tau else 0)
        if mid_sign * order[k] != 1:
            order[k] = 0
            continue
        a = _plane_distance(points[4, 0], points[4, 1], points[4, 2], points[idx, 0], points[idx, 1],
                            points[idx, 2], nq[0], nq[1], nq[2]) - centre
        b = neighbour - _plane_distance(points[idx, 0], points[idx, 1], points[idx, 2], points[4, 0],
                                        points[4, 1], points[4, 2], nc[0], nc[1], nc[2])
        layering = 1 if (a > 0 and b > 0) else (-1 if (a < 0 and b < 0) else 0)
        if layering * order[k] != 1:
            order[k] = 0
    total = 0
    for k in range(8):
        total += order[k]
    if abs(total) == 8:
        return
    for k in range(8):
        if invalid[_clamp(y + dy[k], height), _clamp(x + dx[k], width)]:
            order[k] = 0
        out[y, x, k + 1] = order[k]
        if order[k] != 0:
            out[y, x, 0] = 1


@numba.njit(cache=True, nogil=True)
def _order_kernel(distance, normals, fx, cx, cy, tau, invalid, dy, dx):
    height, width = distance.shape
    out = np.zeros((height, width, 9), dtype=np.int8)
    for y in range(height):
        for x in range(width):
            if invalid[y, x] or not _is_candidate(distance, y, x, tau, dy, dx):
                continue
            _pixel_relations(distance, normals, fx, cx, cy, tau, invalid, y, x, dy, dx, out)
    return out


def _isolated_removed(mask: np.ndarray) -> np.ndarray:
    """P2ORM's filter: keep a pixel when its 3x3 mean of {0, 255} exceeds 29, with scipy 'reflect' borders.

    A pixel survives when the window holds at least 2 set pixels (2 * 255 / 9 = 56.7 > 29 >= 255 / 9); 'reflect'
    repeats the border row/column, so a lone border pixel counts twice and survives, exactly as in P2ORM.
    """
    padded = np.pad(mask.astype(np.int32), 1, mode="symmetric")
    height, width = mask.shape
    count = sum(padded[a:a + height, b:b + width] for a in range(3) for b in range(3))
    return mask & (count >= 2)


def order_to_boundaries(order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P2ORM's `occ_order_to_edge` (connectivity 8): occluder side, occluded side and 2-pixel band.

    Args:
        order: int (H, W, 9) order map.

    Returns:
        fg, bg, edge: uint8 (H, W) maps with values 0/1. fg = sum of the 8 relations > 0 and bg = sum < 0, both
        after P2ORM's isolated-pixel removal; edge = any non-zero channel (not filtered).
    """
    check_array("order", order, shape=(None, None, 9), kind="iu")
    total = order[..., 1:].astype(np.int32).sum(axis=-1)
    fg = _isolated_removed(total > 0)
    bg = _isolated_removed(total < 0)
    edge = np.any(order != 0, axis=-1)
    return fg.astype(np.uint8), bg.astype(np.uint8), edge.astype(np.uint8)


def order_to_orientation(order: np.ndarray) -> np.ndarray:
    """P2ORM's `occ_order_connect8_to_ori`, zeroed off `fg`: theta / pi as float32 (H, W) in [-1, 1].

    theta is the tangent direction with the occluder on the left; the occluder-to-occluded vector is
    (-sin theta, cos theta) in (column, row) with rows going down. Computed in float32 with P2ORM's constants.
    """
    fg, _, _ = order_to_boundaries(order)
    return raw_orientation_over_pi(order) * fg.astype(np.float32)


def raw_orientation_over_pi(order: np.ndarray) -> np.ndarray:
    """The orientation of every pixel (not masked by fg), P2ORM's float32 arithmetic: theta / pi, (H, W).

    `order` is (H, W, 9), or (H, W, 8) holding only the 8 neighbour channels.
    """
    o = (order[..., 1:] if order.shape[-1] == 9 else order).astype(np.float32)
    w = -o[..., 3] + o[..., 4]
    h = -o[..., 1] + o[..., 6]
    w += (-o[..., 0] + o[..., 2] - o[..., 5] + o[..., 7]) * np.float32(0.707)
    h += (-o[..., 0] - o[..., 2] + o[..., 5] + o[..., 7]) * np.float32(0.707)
    w = np.clip(w, np.float32(-1.0), np.float32(1.0))
    h = np.clip(h, np.float32(-1.0), np.float32(1.0))
    theta = np.arctan2(h, w) - np.float32(P2ORM_PI / 2)
    wrap = theta <= np.float32(-P2ORM_PI)
    theta[wrap] += np.float32(2 * P2ORM_PI)
    theta[(w == 0) & (h == 0)] = 0.0
    return (theta / np.float32(P2ORM_PI)).astype(np.float32)

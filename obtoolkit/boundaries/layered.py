"""The layered test: when two pixels of one object are a self-occlusion however small the step (docs/labels.md).

Compiled helpers of `obtoolkit.boundaries.kernels`. For a same-object pair (p, q) whose normals are the renderer's
(depth-derived normals are too noisy, and keep P2ORM's tau test), with lambda the distance along a ray to a pixel's
tangent plane, the relation is +1 (p occludes q) when:

  step = D_q - D_p > e_p + e_q, with e = depth_rel_error * D (the depths' rounding: float16 is exact to 2^-11);
  dm L = lambda(r_m; q) - lambda(r_m; p) > s_mq + s_mp   (mid ray: q's plane lies behind p's);
  a = lambda(r_p; q) - D_p > s_pq + e_p                    (along p's ray, q's surface continues behind p);
  b = D_q - lambda(r_q; p) > s_qp + e_q                    (along q's ray, p's surface passes in front of q);

(or the tau test: |d0|, |dm| > tau with a and b beyond the same margins), each s the plane hit's uncertainty (depth
rounding and `normal_tol_rad`, `plane_hit`); and the near pixel's riser is hidden (`riser_hidden`): a step whose
riser faces the camera is a joined step (a moulding around a recessed canvas seen from the side the moulding faces),
not an occlusion, unless that riser would be wide enough for the pixels to have seen it. -1 for the mirror.
"""

from __future__ import annotations

import numba
import numpy as np

from obtoolkit.geometry import NORMAL_FLIPPED, NORMAL_FROM_DEPTH, NORMAL_GIVEN

# Where a pixel's normal comes from, for the kernel: none, derived from depth (float16 ripple: only the tau test), or
# the renderer's (given: the layered test too).
NORMAL_KIND_NONE, NORMAL_KIND_DEPTH, NORMAL_KIND_GIVEN = 0, 1, 2
OFFSETS = np.array([(0, 1), (1, 0), (1, 1), (-1, 1)], dtype=np.int64)  # E, S, SE, NE as (row, col)


def normal_kinds(source: np.ndarray) -> np.ndarray:
    """uint8 (H, W) NORMAL_KIND_* from `SanitizedNormals.source` (obtoolkit.geometry NORMAL_*)."""
    kinds = np.full(source.shape, NORMAL_KIND_NONE, np.uint8)
    kinds[(source == NORMAL_GIVEN) | (source == NORMAL_FLIPPED)] = NORMAL_KIND_GIVEN
    kinds[source == NORMAL_FROM_DEPTH] = NORMAL_KIND_DEPTH
    return kinds


@numba.njit(cache=True, nogil=True, inline="always")
def _dot(a0, a1, a2, b0, b1, b2):
    return a0 * b0 + a1 * b1 + a2 * b2


@numba.njit(cache=True, nogil=True)
def plane_hit(r0, r1, r2, n0, n1, n2, d0_, s0, s1, s2, depth_error, normal_tol):
    """Hit of unit ray r on the tangent plane of a pixel (point X0 = d0_ * s, unit ray s, unit normal n).

    Returns (lam, cos, sigma): lam = (n . X0) / (n . r), the distance along r (NaN when |n . r| < 1e-6); cos = |n . r|;
    sigma bounds how far the stored data may move lam: the pixel's depth rounding `depth_error` (it moves the plane
    by depth_error |n . s|) and a normal error of `normal_tol` radians (it tilts the plane about X0, moving the hit by
    about |hit - X0| normal_tol), both divided by |n . r|.
    """
    n_dot_r = _dot(n0, n1, n2, r0, r1, r2)
    cos = abs(n_dot_r)
    if cos < 1e-6:
        return np.nan, cos, np.inf
    n_dot_s = _dot(n0, n1, n2, s0, s1, s2)
    lam = d0_ * n_dot_s / n_dot_r
    e0, e1, e2 = lam * r0 - d0_ * s0, lam * r1 - d0_ * s1, lam * r2 - d0_ * s2
    spread = np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    return lam, cos, (depth_error * abs(n_dot_s) + spread * normal_tol) / cos


# A riser within this of edge-on (|m . o|, about the precision of Hypersim's float16 normals) hides a strip a
# thousandth of the step high: undecided, so not an occlusion.
_EDGE_ON = 2.0 ** -10


@numba.njit(cache=True, nogil=True)
def _behind_plane(distance, valid, rays, n0, n1, n2, dp, p0, p1, p2, depth_rel, normal_tol, y, x):
    """Pixel (y, x) lies behind the tangent plane of the pixel (dp along unit ray p, unit normal n) by more than the
    rounding and normal errors."""
    if not valid[y, x]:
        return False
    lam, cos, sigma = plane_hit(rays[y, x, 0], rays[y, x, 1], rays[y, x, 2], n0, n1, n2, dp, p0, p1, p2,
                                 depth_rel * dp, normal_tol)
    return not np.isnan(lam) and distance[y, x] - lam > sigma + depth_rel * distance[y, x]


@numba.njit(cache=True, nogil=True)
def _image_edge_normal(distance, valid, normals, rays, depth_rel, normal_tol, y, x, yq, xq):
    """(col, row) direction, in the image, from pixel p = (y, x) across the edge of its surface: the sum of the unit
    offsets of p's neighbours that lie behind p's tangent plane (beyond the rounding and normal errors) while the
    opposite neighbour does not (opposite pairs together, so that the image border does not tilt it); the pair's
    own direction (towards q) when there is none."""
    height, width = valid.shape
    n0, n1, n2 = normals[y, x, 0], normals[y, x, 1], normals[y, x, 2]
    dp, p0, p1, p2 = distance[y, x], rays[y, x, 0], rays[y, x, 1], rays[y, x, 2]
    g_col = g_row = 0.0
    for j in range(4):
        dy, dx = OFFSETS[j, 0], OFFSETS[j, 1]
        if y - abs(dy) < 0 or y + abs(dy) >= height or x - dx < 0 or x + dx >= width:
            continue
        ahead = _behind_plane(distance, valid, rays, n0, n1, n2, dp, p0, p1, p2, depth_rel, normal_tol, y + dy, x + dx)
        back = _behind_plane(distance, valid, rays, n0, n1, n2, dp, p0, p1, p2, depth_rel, normal_tol, y - dy, x - dx)
        if ahead != back:
            sign = (1.0 if ahead else -1.0) / np.sqrt(float(dy * dy + dx * dx))
            g_col += sign * dx
            g_row += sign * dy
    if g_col == 0.0 and g_row == 0.0:
        return float(xq - x), float(yq - y)
    return g_col, g_row


@numba.njit(cache=True, nogil=True)
def riser_hidden(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, y, x, yq, xq, m0, m1,
                  m2):
    """Whether the near pixel p = (y, x) hides the step down to the far pixel q: the step's riser (the face joining
    the two layers, taken perpendicular to p's tangent plane, however thin) faces away from the camera.

    The riser runs along the edge of p's surface (its image direction from `_image_edge_normal`). The edge's 3-D
    direction e is where p's plane meets the plane of sight through the image edge; the riser's normal
    o = e x n lies in p's plane, across the edge. p occludes q when the mid ray m runs along o towards q's side
    (by more than _EDGE_ON). When it runs against it, the camera sees the riser and the layers are joined (a moulding
    around a recessed canvas, seen from the side it faces), unless such a riser would be at least as wide in the
    image as the pair's spacing (then the pixels would have seen it, and nothing joins the layers there).
    """
    n0, n1, n2 = normals[y, x, 0], normals[y, x, 1], normals[y, x, 2]
    dp, p0, p1, p2 = distance[y, x], rays[y, x, 0], rays[y, x, 1], rays[y, x, 2]
    g_col, g_row = _image_edge_normal(distance, valid, normals, rays, depth_rel, normal_tol, y, x, yq, xq)
    # ray derivative along the image edge tangent (-g_row, g_col): the raw ray is linear in pixel coordinates
    t0 = -g_row * ray_col[0] + g_col * ray_row[0]
    t1 = -g_row * ray_col[1] + g_col * ray_row[1]
    t2 = -g_row * ray_col[2] + g_col * ray_row[2]
    s0, s1, s2 = p1 * t2 - p2 * t1, p2 * t0 - p0 * t2, p0 * t1 - p1 * t0  # normal of the plane of sight
    e0, e1, e2 = n1 * s2 - n2 * s1, n2 * s0 - n0 * s2, n0 * s1 - n1 * s0  # edge direction in p's plane
    o0, o1, o2 = e1 * n2 - e2 * n1, e2 * n0 - e0 * n2, e0 * n1 - e1 * n0  # riser's normal, in p's plane
    norm_o = np.sqrt(o0 * o0 + o1 * o1 + o2 * o2)
    if norm_o == 0.0:
        return False
    dq = distance[yq, xq]
    d0, d1, d2 = dq * rays[yq, xq, 0] - dp * p0, dq * rays[yq, xq, 1] - dp * p1, dq * rays[yq, xq, 2] - dp * p2
    facing = _dot(o0, o1, o2, m0, m1, m2) / norm_o
    if abs(facing) <= _EDGE_ON:
        return False
    if facing * _dot(o0, o1, o2, d0, d1, d2) > 0.0:
        return True
    height_m = -_dot(d0, d1, d2, n0, n1, n2)  # the riser would span the step along -n
    c0, c1, c2 = p1 * rays[yq, xq, 2] - p2 * rays[yq, xq, 1], p2 * rays[yq, xq, 0] - p0 * rays[yq, xq, 2], \
        p0 * rays[yq, xq, 1] - p1 * rays[yq, xq, 0]
    return height_m * abs(facing) >= np.sqrt(c0 * c0 + c1 * c1 + c2 * c2) * dp


@numba.njit(cache=True, nogil=True)
def _layered(step, mid, a, b, step_error, mid_error, a_error, b_error):
    """+1 when p's surface lies in front of q's along all three rays beyond what rounding and normal errors explain
    (the stored step, the mid-ray separation, p's ray and q's ray), -1 for the mirror, else 0."""
    if step > step_error and mid > mid_error and a > a_error and b > b_error:
        return 1
    if step < -step_error and mid < -mid_error and a < -a_error and b < -b_error:
        return -1
    return 0


@numba.njit(cache=True, nogil=True)
def on_plane(distance, normals, rays, depth_rel, normal_tol, zero_order, y, x, yq, xq):
    """A same-object pair that the layered test (and the tau test with its margins) cannot relate, found with one
    plane hit: the step is within the two depths' rounding error, or b (q's depth beyond p's tangent plane along
    q's ray) is not beyond its uncertainty with the step's sign, which both tests require. Pairs without two normals,
    or that the zero-order fallback might relate, go to the full test."""
    dp, dq = distance[y, x], distance[yq, xq]
    step = dq - dp
    error_q = depth_rel * dq
    if abs(step) <= error_q + depth_rel * dp:
        return True
    if zero_order:
        return False
    n0, n1, n2 = normals[y, x, 0], normals[y, x, 1], normals[y, x, 2]
    n_dot_q = _dot(n0, n1, n2, rays[yq, xq, 0], rays[yq, xq, 1], rays[yq, xq, 2])
    if abs(n_dot_q) < 1e-6:
        return False
    n_dot_p = _dot(n0, n1, n2, rays[y, x, 0], rays[y, x, 1], rays[y, x, 2])
    b = dq - dp * n_dot_p / n_dot_q  # as _plane_hit's lam
    # b's margin is at least q's rounding error plus p's, carried along q's ray (_plane_hit's sigma without the
    # normal term)
    return b * step <= 0.0 or abs(b) * abs(n_dot_q) <= error_q * abs(n_dot_q) + depth_rel * dp * abs(n_dot_p)




@numba.njit(cache=True, nogil=True)
def self_order(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, y, x, yq, xq, m0, m1, m2, d0,
               dm, a, b, tau, strict, length, mid_error, pq_error, qp_error):
    """omega of a same-object pair by the layered test (or the tau test with margins), given its separations and
    their uncertainties (`plane_hit`), then the riser of the near side: +1, -1 or 0 (see the module docstring)."""
    if np.isnan(dm + a + b):
        return 0
    dp, dq = distance[y, x], distance[yq, xq]
    error_p, error_q = depth_rel * dp, depth_rel * dq
    omega = _layered(dq - dp, dm * length, a, b, error_p + error_q, mid_error, pq_error + error_p, qp_error + error_q)
    if omega == 0 and strict and abs(d0) > tau and abs(dm) > tau:
        # the tau test, with a and b beyond their uncertainty (float16 rounding at far range otherwise puts a
        # concave corner's b a few millimetres above 0)
        omega = _layered(dq - dp, dm * length, a, b, 0.0, 0.0, pq_error + error_p, qp_error + error_q)
    if omega == 1 and riser_hidden(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, y, x,
                                   yq, xq, m0, m1, m2):
        return 1
    if omega == -1 and riser_hidden(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, yq, xq,
                                    y, x, m0, m1, m2):
        return -1
    return 0

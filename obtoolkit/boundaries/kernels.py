"""Compiled per-pair kernel of the default generator (spec §6.2).

Each unordered adjacent pair (p, q = p + offset) is decided once, for the four inclinations E, S, SE, NE, so the
resulting order map is exactly antisymmetric. `relations_kernel` and its slow reference in the tests implement the
same rules:

  lambda(r; X0, n) = (n . X0) / (n . r), undefined where |n . r| < cos_graze_min or n is undefined;
  d0 = (D_q - D_p) / L,  dm = (lambda(r_m; X_q, n_q) - lambda(r_m; X_p, n_p)) / L,
  a = lambda(r_p; X_q, n_q) - D_p,  b = D_q - lambda(r_q; X_p, n_p),  tau = max(tau_abs, tau_rel * min(D_p, D_q));
  geometric g = +1 if d0 > tau and dm > tau and a > 0 and b > 0, -1 if all mirrored, else 0; when a lambda is undefined,
  g = 0 ('strict') or sign(d0) if |d0| > 4 tau ('zero_order'); with the layered test (below), g is the layered
  test's instead;
  same key (or no instance rule): omega = g, class SELF; different keys: a tie when every defined separation of the
  two tangent planes (dm along the mid ray, a along p's ray, b along q's ray; d0 when none is defined) is below
  eps_tie, else omega = sign(d0) (the nearer pixel occludes), class INTER; exactly one side valid: VOID (valid side
  occludes) when the void policy is 'occluder'.

Deviation from spec §6.2 item 3, on purpose (measured against mesh reference boundaries, docs/labels.md): the spec
orders by dm and decides ties on dm, falling back to d0 when dm is small. d0 compares the lengths of two different
rays, so on one flat surface it changes by about D * sin(angle) / f per pixel (about 2 mm at 3 m for Hypersim's
887 px focal length, four times more at a quarter of the resolution), as much as a poster's gap: it must not decide
ties. dm alone misses separated objects whose tangent plane misleads at the silhouette (a sofa's top face next to the
wall behind it: dm small, a large), and its sign is wrong there for about 1 % of inter-object pairs, where the nearer
pixel is right.

The layered test (default mode; same-object pairs whose normals are both the renderer's; depth-derived normals
are too noisy for it and keep P2ORM's test above). With e = depth_rel_error * D the depths' rounding (float16 is
exact to 2^-11) and s the uncertainty of each plane hit (`_plane_hit`: rounding and `normal_tol_rad`), p occludes q
when p's tangent plane lies in front of q's beyond what the data can explain:

  step = D_q - D_p > e_p + e_q,  dm L > s_mp + s_mq,  a > s_pq + e_p,  b > s_qp + e_q   (however small the step),

or when the tau test holds (|d0|, |dm| > tau; a and b beyond the same margins, so that far concave corners no longer
pass on float16 rounding). Below tau, two normals that differ by more than normal_tol_rad and less than
bend_max_deg are one bending surface, not layers (shading normals of a faceted curved mesh stray from its facets by
as much as such a step). Last, the riser of the step (the face joining the layers, perpendicular to the near
plane along its edge, however thin) must face away from the camera (`_riser_hidden`): a step whose riser faces the
camera is joined (a moulding around a recessed canvas seen from the side the moulding faces), unless such a riser
would be wide enough for the pixels to have seen it. -1 for the mirror. `_on_plane` rejects most pairs cheaply with
one plane hit, a condition both tests require.
"""

from __future__ import annotations

import numba
import numpy as np

from obtoolkit.geometry import NORMAL_FLIPPED, NORMAL_FROM_DEPTH, NORMAL_GIVEN

CLASS_NONE, CLASS_VOID, CLASS_INTER, CLASS_SELF = 0, 1, 2, 3
# Where a pixel's normal comes from, for the kernel: none, derived from depth (float16 ripple: only the tau test), or
# the renderer's (given: the layered test too).
NORMAL_KIND_NONE, NORMAL_KIND_DEPTH, NORMAL_KIND_GIVEN = 0, 1, 2
# (row, col) of q - p for the inclinations E, S, SE, NE. All numba functions that call each other live in this one
# module: numba's cache does not notice a change to a callee in another file.
_OFFSETS = np.array([(0, 1), (1, 0), (1, 1), (-1, 1)], dtype=np.int64)


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
def _plane_hit(r0, r1, r2, n0, n1, n2, d0_, s0, s1, s2, depth_error, normal_tol):
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
    lam, cos, sigma = _plane_hit(rays[y, x, 0], rays[y, x, 1], rays[y, x, 2], n0, n1, n2, dp, p0, p1, p2,
                                  depth_rel * dp, normal_tol)
    return not np.isnan(lam) and distance[y, x] - lam > sigma + depth_rel * distance[y, x]


@numba.njit(cache=True, nogil=True)
def _image_edge_normal(distance, valid, normals, rays, depth_rel, normal_tol, edge, edge_known, y, x, yq, xq):
    """(col, row) direction, in the image, from pixel p = (y, x) across the edge of its surface: the sum of the unit
    offsets of p's neighbours that lie behind p's tangent plane (beyond the rounding and normal errors) while the
    opposite neighbour does not (opposite pairs together, so that the image border does not tilt it); the pair's
    own direction (towards q) when there is none.

    The sum depends on p alone: it is computed once per pixel into `edge` (float64 (H, W, 2)), where `edge_known`
    (bool (H, W)) is set, and read back for p's other pairs."""
    if not edge_known[y, x]:
        height, width = valid.shape
        n0, n1, n2 = normals[y, x, 0], normals[y, x, 1], normals[y, x, 2]
        dp, p0, p1, p2 = distance[y, x], rays[y, x, 0], rays[y, x, 1], rays[y, x, 2]
        g_col = g_row = 0.0
        for j in range(4):
            dy, dx = _OFFSETS[j, 0], _OFFSETS[j, 1]
            if y - abs(dy) < 0 or y + abs(dy) >= height or x - dx < 0 or x + dx >= width:
                continue
            ahead = _behind_plane(distance, valid, rays, n0, n1, n2, dp, p0, p1, p2, depth_rel, normal_tol, y + dy,
                                  x + dx)
            back = _behind_plane(distance, valid, rays, n0, n1, n2, dp, p0, p1, p2, depth_rel, normal_tol, y - dy,
                                 x - dx)
            if ahead != back:
                sign = (1.0 if ahead else -1.0) / np.sqrt(float(dy * dy + dx * dx))
                g_col += sign * dx
                g_row += sign * dy
        edge[y, x, 0], edge[y, x, 1] = g_col, g_row
        edge_known[y, x] = True
    g_col, g_row = edge[y, x, 0], edge[y, x, 1]
    if g_col == 0.0 and g_row == 0.0:
        return float(xq - x), float(yq - y)
    return g_col, g_row


@numba.njit(cache=True, nogil=True)
def _riser_hidden(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, edge, edge_known, y, x,
                  yq, xq, m0, m1, m2):
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
    g_col, g_row = _image_edge_normal(distance, valid, normals, rays, depth_rel, normal_tol, edge, edge_known, y,
                                      x, yq, xq)
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
def _on_plane(distance, normals, rays, depth_rel, zero_order, y, x, yq, xq):
    """A same-object pair that neither the layered test nor the tau test (with its margins) can relate, found
    cheaply: the step is within the two depths' rounding error, or b (q's depth beyond p's tangent plane along q's
    ray) is not beyond its rounding margin with the step's sign, which both tests require. Pairs that the zero-order
    fallback might relate go to the full test."""
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
def _behind_far_plane(distance, normals, rays, depth_rel, zero_order, y, x, yq, xq):
    """A same-object pair that `_on_plane` kept but neither test can relate either: a (p's depth in front of q's
    tangent plane along p's ray) is not beyond its rounding margin with the step's sign (p's rounding error plus
    q's carried along p's ray, _plane_hit's sigma without the normal term), which both tests require. The factor
    0.999 keeps the margin a strict under-estimate whatever the rounding of the two evaluations, so only pairs that
    both tests reject end here. A separate function from `_on_plane`, which stays small enough for the compiler to
    inline into the pair loop."""
    if zero_order:
        return False
    n0, n1, n2 = normals[yq, xq, 0], normals[yq, xq, 1], normals[yq, xq, 2]
    n_dot_p = _dot(n0, n1, n2, rays[y, x, 0], rays[y, x, 1], rays[y, x, 2])
    if abs(n_dot_p) < 1e-6:
        return False
    dp, dq = distance[y, x], distance[yq, xq]
    n_dot_q = _dot(n0, n1, n2, rays[yq, xq, 0], rays[yq, xq, 1], rays[yq, xq, 2])
    a = dq * n_dot_q / n_dot_p - dp  # as _plane_hit's lam, minus dp
    return a * (dq - dp) <= 0.0 or \
        abs(a) * abs(n_dot_p) <= 0.999 * (depth_rel * dp * abs(n_dot_p) + depth_rel * dq * abs(n_dot_q))


@numba.njit(cache=True, nogil=True)
def _bends(normals, y, x, yq, xq, normal_tol, bend_cos):
    """The two pixels' normals differ by more than normal_tol and less than the bend limit (cosine bend_cos): one
    bending surface, never layers, for a step below tau (see _self_order)."""
    cos = _dot(normals[y, x, 0], normals[y, x, 1], normals[y, x, 2], normals[yq, xq, 0], normals[yq, xq, 1],
               normals[yq, xq, 2])
    return bend_cos < cos < np.cos(normal_tol)


@numba.njit(cache=True, nogil=True)
def _self_order(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, bend_cos, edge, edge_known, y,
                x, yq, xq, m0, m1, m2, d0, dm, a, b, tau, strict, length, mid_error, pq_error, qp_error):
    """omega of a same-object pair by the layered test (or the tau test with margins), given its separations and
    their uncertainties (`_plane_hit`), then the riser of the near side: +1, -1 or 0 (see the module docstring).

    Below tau, pairs whose normals differ by more than `normal_tol` and less than the bend limit (cosine
    `bend_cos`) are one bending surface, not layers: a step of a few rounding errors there is what shading normals
    straying from the facets of a curved mesh also show (the inside of a bowl near its rim).
    """
    if np.isnan(dm + a + b):
        return 0
    dp, dq = distance[y, x], distance[yq, xq]
    error_p, error_q = depth_rel * dp, depth_rel * dq
    omega = 0
    if abs(d0) > tau or not _bends(normals, y, x, yq, xq, normal_tol, bend_cos):
        omega = _layered(dq - dp, dm * length, a, b, error_p + error_q, mid_error, pq_error + error_p,
                         qp_error + error_q)
    if omega == 0 and strict and abs(d0) > tau and abs(dm) > tau:
        # the tau test, with a and b beyond their uncertainty (float16 rounding at far range otherwise puts a
        # concave corner's b a few millimetres above 0)
        omega = _layered(dq - dp, dm * length, a, b, 0.0, 0.0, pq_error + error_p, qp_error + error_q)
    if omega == 1 and _riser_hidden(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, edge,
                                    edge_known, y, x, yq, xq, m0, m1, m2):
        return 1
    if omega == -1 and _riser_hidden(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, edge,
                                     edge_known, yq, xq, y, x, m0, m1, m2):
        return -1
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# Pairs


@numba.njit(cache=True, nogil=True)
def _inter_order(dm, a, b, d0, eps, dp, dq):
    """(omega, class, tie) of an inter-object pair.

    Whether the two objects are separated at all is measured on their tangent planes, along three rays: the mid ray
    (dm), p's ray (a) and q's ray (b); the pair is a tie when every defined one is below eps (or, with none defined,
    when d0 is). A separated pair is ordered by which pixel is nearer (d0: IOBE's definition of the occluder between
    objects), which the tangent-plane extrapolations get wrong at silhouettes; d0's viewing-angle error only matters
    within the tie band, which d0 does not decide.
    """
    defined = False
    separated = 0.0
    for s in (dm, a, b):
        if not np.isnan(s):
            defined = True
            if separated == 0.0 and abs(s) >= eps:
                separated = s
    if not defined and abs(d0) >= eps:
        separated = d0
    if separated == 0.0:
        return 0, CLASS_NONE, (1 if dp < dq else (-1 if dq < dp else 0))
    order = d0 if d0 != 0.0 else separated
    return (1 if order > 0 else -1), CLASS_INTER, 0


@numba.njit(cache=True, nogil=True)
def _pair(distance, valid, normals, normal_kind, rays, rays_raw, kind, ident, y, x, yq, xq, length, tau_abs, tau_rel,
          cos_min, zero_order, void_occluder, instance_rule, tie_eps_rel, depth_rel, normal_tol, bend_cos,
          self_override, self_decided, k, ray_col, ray_row, edge, edge_known):
    """(omega, class, tie) of the pair (p = (y, x), q = (yq, xq)); tie is +-1 for an inter-object tie, else 0."""
    vp, vq = valid[y, x], valid[yq, xq]
    if not vp or not vq:
        if vp != vq and void_occluder:
            return (1 if vp else -1), CLASS_VOID, 0
        return 0, CLASS_NONE, 0
    dp, dq = distance[y, x], distance[yq, xq]
    nearest = min(dp, dq)
    tau = max(tau_abs, tau_rel * nearest)
    d0 = (dq - dp) / length
    inter = instance_rule and (kind[y, x] != kind[yq, xq] or ident[y, x] != ident[yq, xq])
    if not inter and self_decided[y, x, k]:
        omega = self_override[y, x, k]
        return omega, (CLASS_SELF if omega != 0 else CLASS_NONE), 0
    error_p, error_q = depth_rel * dp, depth_rel * dq
    layered = depth_rel > 0.0 and normal_kind[y, x] == NORMAL_KIND_GIVEN and normal_kind[yq, xq] == NORMAL_KIND_GIVEN
    if not inter and abs(d0) <= tau and (not layered or abs(dq - dp) <= error_p + error_q or _bends(
            normals, y, x, yq, xq, normal_tol, bend_cos)):
        return 0, CLASS_NONE, 0
    # mid ray: the map uv -> ray is linear, so the ray of the uv midpoint is the sum of the raw rays
    m0 = rays_raw[y, x, 0] + rays_raw[yq, xq, 0]
    m1 = rays_raw[y, x, 1] + rays_raw[yq, xq, 1]
    m2 = rays_raw[y, x, 2] + rays_raw[yq, xq, 2]
    mn = np.sqrt(m0 * m0 + m1 * m1 + m2 * m2)
    m0, m1, m2 = m0 / mn, m1 / mn, m2 / mn
    p0, p1, p2 = rays[y, x, 0], rays[y, x, 1], rays[y, x, 2]
    q0, q1, q2 = rays[yq, xq, 0], rays[yq, xq, 1], rays[yq, xq, 2]
    lam_mp = lam_mq = lam_pq = lam_qp = np.nan
    c_mp = c_mq = c_pq = c_qp = 0.0
    s_mp = s_mq = s_pq = s_qp = np.inf
    if normal_kind[y, x] != NORMAL_KIND_NONE:
        n0, n1, n2 = normals[y, x, 0], normals[y, x, 1], normals[y, x, 2]
        lam_mp, c_mp, s_mp = _plane_hit(m0, m1, m2, n0, n1, n2, dp, p0, p1, p2, error_p, normal_tol)
        lam_qp, c_qp, s_qp = _plane_hit(q0, q1, q2, n0, n1, n2, dp, p0, p1, p2, error_p, normal_tol)
    if normal_kind[yq, xq] != NORMAL_KIND_NONE:
        n0, n1, n2 = normals[yq, xq, 0], normals[yq, xq, 1], normals[yq, xq, 2]
        lam_mq, c_mq, s_mq = _plane_hit(m0, m1, m2, n0, n1, n2, dq, q0, q1, q2, error_q, normal_tol)
        lam_pq, c_pq, s_pq = _plane_hit(p0, p1, p2, n0, n1, n2, dq, q0, q1, q2, error_q, normal_tol)
    dm = (lam_mq - lam_mp) / length
    a = lam_pq - dp
    b = dq - lam_qp
    if inter:
        if min(c_mp, c_mq) < cos_min:
            dm = np.nan
        if c_pq < cos_min:
            a = np.nan
        if c_qp < cos_min:
            b = np.nan
        return _inter_order(dm, a, b, d0, tie_eps_rel * nearest, dp, dq)
    strict = min(min(c_mp, c_mq), min(c_pq, c_qp)) >= cos_min
    if not layered:  # P2ORM's test with the relative threshold
        if strict and d0 > tau and dm > tau and a > 0 and b > 0:
            return 1, CLASS_SELF, 0
        if strict and d0 < -tau and dm < -tau and a < 0 and b < 0:
            return -1, CLASS_SELF, 0
    else:
        omega = _self_order(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, bend_cos, edge,
                            edge_known, y, x, yq, xq, m0, m1, m2, d0, dm, a, b, tau, strict, length, s_mp + s_mq, s_pq,
                            s_qp)
        if omega != 0:
            return omega, CLASS_SELF, 0
    if not strict and zero_order and abs(d0) > 4.0 * tau:
        return (1 if d0 > 0 else -1), CLASS_SELF, 0
    return 0, CLASS_NONE, 0


@numba.njit(cache=True, nogil=True)
def relations_kernel(distance, valid, normals, normal_kind, rays, rays_raw, kind, ident, tau_abs, tau_rel, diag_len,
                     cos_min, zero_order, void_occluder, instance_rule, tie_eps_rel, depth_rel, normal_tol, bend_cos,
                     self_override, self_decided):
    """Relations of every adjacent pair.

    Args (all C-contiguous): distance float64 (H, W) metres (any value where invalid); valid bool (H, W);
        normals float64 (H, W, 3) unit, facing the camera; normal_kind uint8 (H, W) (NORMAL_KIND_*); rays float64
        (H, W, 3) unit;
        rays_raw float64 (H, W, 3) = M_cam_from_uv @ (u, v, 1); kind uint8 / ident int32 (H, W) object keys;
        self_override int8 (H, W, 4) and self_decided bool (H, W, 4): same-object relations decided elsewhere (the
        mesh-exact mode), used instead of the geometric test where decided.

    Returns:
        relation int8 (H, W, 4), pair_class uint8 (H, W, 4), tie int8 (H, W, 4), for the inclinations E, S, SE, NE
        (pair (p, p + offset)); pairs leaving the image are 0.
    """
    height, width = distance.shape
    # the raw ray is linear in pixel coordinates: its steps along a column and a row are the same everywhere
    ray_col = rays_raw[0, min(1, width - 1)] - rays_raw[0, 0]
    ray_row = rays_raw[min(1, height - 1), 0] - rays_raw[0, 0]
    relation = np.zeros((height, width, 4), np.int8)
    pair_class = np.zeros((height, width, 4), np.uint8)
    tie = np.zeros((height, width, 4), np.int8)
    # each pixel's image edge direction, computed on its first layered step (`_image_edge_normal`)
    edge = np.empty((height, width, 2), np.float64)
    edge_known = np.zeros((height, width), np.bool_)
    for y in range(height):
        for x in range(width):
            vp, dp, kp, ip = valid[y, x], distance[y, x], kind[y, x], ident[y, x]
            for k in range(4):
                yq, xq = y + _OFFSETS[k, 0], x + _OFFSETS[k, 1]
                if yq < 0 or yq >= height or xq >= width:
                    continue
                length = diag_len if k >= 2 else 1.0
                if vp and valid[yq, xq] and kp == kind[yq, xq] and ip == ident[yq, xq] and not self_decided[y, x, k]:
                    # the common case, decided cheaply: same object and a depth step below what a relation needs
                    # (tau; with the layered test, the depth's rounding error), or q lying on p's tangent plane
                    dq = distance[yq, xq]
                    if depth_rel == 0.0 or normal_kind[y, x] != NORMAL_KIND_GIVEN or \
                            normal_kind[yq, xq] != NORMAL_KIND_GIVEN:
                        if abs(dq - dp) <= max(tau_abs, tau_rel * min(dp, dq)) * length:
                            continue
                    elif _on_plane(distance, normals, rays, depth_rel, zero_order, y, x, yq, xq) or \
                            _behind_far_plane(distance, normals, rays, depth_rel, zero_order, y, x, yq, xq):
                        continue
                elif not vp and not valid[yq, xq]:
                    continue
                omega, cls, t = _pair(distance, valid, normals, normal_kind, rays, rays_raw, kind, ident, y, x, yq, xq,
                                      length, tau_abs, tau_rel, cos_min, zero_order, void_occluder, instance_rule,
                                      tie_eps_rel, depth_rel, normal_tol, bend_cos, self_override,
                                      self_decided, k, ray_col, ray_row, edge, edge_known)
                relation[y, x, k] = omega
                pair_class[y, x, k] = cls
                tie[y, x, k] = t
    return relation, pair_class, tie

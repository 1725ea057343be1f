"""Compiled per-pair kernel of the default generator (spec §6.2).

Each unordered adjacent pair (p, q = p + offset) is decided once, for the four inclinations E, S, SE, NE, so the
resulting order map is exactly antisymmetric. `relations_kernel` and its slow reference in the tests implement the
same rules:

  lambda(r; X0, n) = (n . X0) / (n . r), undefined where |n . r| < cos_graze_min or n is undefined;
  d0 = (D_q - D_p) / L,  dm = (lambda(r_m; X_q, n_q) - lambda(r_m; X_p, n_p)) / L,
  a = lambda(r_p; X_q, n_q) - D_p,  b = D_q - lambda(r_q; X_p, n_p),  tau = max(tau_abs, tau_rel * min(D_p, D_q));
  geometric g = +1 if d0 > tau and dm > tau and a > 0 and b > 0, -1 if all mirrored, else 0; when a lambda is undefined,
  g = 0 ('strict') or sign(d0) if |d0| > 4 tau ('zero_order'); with the layered test (the renderer's normals on
  both sides), g is the layered test's instead (`obtoolkit.boundaries.layered`: small steps count, a and b need
  margins, a visible riser joins the layers);
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
"""

from __future__ import annotations

import numba
import numpy as np

from obtoolkit.boundaries.layered import NORMAL_KIND_GIVEN, NORMAL_KIND_NONE, on_plane, plane_hit, self_order
from obtoolkit.boundaries.layered import OFFSETS as _OFFSETS
from obtoolkit.boundaries.layered import normal_kinds as normal_kinds

CLASS_NONE, CLASS_VOID, CLASS_INTER, CLASS_SELF = 0, 1, 2, 3


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
          cos_min, zero_order, void_occluder, instance_rule, tie_eps_rel, depth_rel, normal_tol, self_override,
          self_decided, k, ray_col, ray_row):
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
    if not inter and abs(d0) <= tau and (not layered or abs(dq - dp) <= error_p + error_q):
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
        lam_mp, c_mp, s_mp = plane_hit(m0, m1, m2, n0, n1, n2, dp, p0, p1, p2, error_p, normal_tol)
        lam_qp, c_qp, s_qp = plane_hit(q0, q1, q2, n0, n1, n2, dp, p0, p1, p2, error_p, normal_tol)
    if normal_kind[yq, xq] != NORMAL_KIND_NONE:
        n0, n1, n2 = normals[yq, xq, 0], normals[yq, xq, 1], normals[yq, xq, 2]
        lam_mq, c_mq, s_mq = plane_hit(m0, m1, m2, n0, n1, n2, dq, q0, q1, q2, error_q, normal_tol)
        lam_pq, c_pq, s_pq = plane_hit(p0, p1, p2, n0, n1, n2, dq, q0, q1, q2, error_q, normal_tol)
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
        omega = self_order(distance, valid, normals, rays, ray_col, ray_row, depth_rel, normal_tol, y, x, yq, xq,
                           m0, m1, m2, d0, dm, a, b, tau, strict, length, s_mp + s_mq, s_pq, s_qp)
        if omega != 0:
            return omega, CLASS_SELF, 0
    if not strict and zero_order and abs(d0) > 4.0 * tau:
        return (1 if d0 > 0 else -1), CLASS_SELF, 0
    return 0, CLASS_NONE, 0


@numba.njit(cache=True, nogil=True)
def relations_kernel(distance, valid, normals, normal_kind, rays, rays_raw, kind, ident, tau_abs, tau_rel, diag_len,
                     cos_min, zero_order, void_occluder, instance_rule, tie_eps_rel, depth_rel, normal_tol,
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
                    elif on_plane(distance, normals, rays, depth_rel, normal_tol, zero_order, y, x, yq, xq):
                        continue
                elif not vp and not valid[yq, xq]:
                    continue
                omega, cls, t = _pair(distance, valid, normals, normal_kind, rays, rays_raw, kind, ident, y, x, yq, xq,
                                      length, tau_abs, tau_rel, cos_min, zero_order, void_occluder, instance_rule,
                                      tie_eps_rel, depth_rel, normal_tol, self_override, self_decided, k,
                                      ray_col, ray_row)
                relation[y, x, k] = omega
                pair_class[y, x, k] = cls
                tie[y, x, k] = t
    return relation, pair_class, tie


# For each inclination k (E, S, SE, NE): the order channel (1-8) of p -> q and of q -> p.
_FORWARD_CHANNEL = np.array([5, 7, 8, 3], np.int64)
_BACKWARD_CHANNEL = np.array([4, 2, 1, 6], np.int64)


@numba.njit(cache=True, nogil=True)
def assemble_kernel(relation, pair_class, tie, valid, drop_spikes, tie_contour):
    """Per-pixel products from per-pair relations, visiting only the pairs that carry a relation or a tie.

    Returns:
        order int8 (H, W, 9) (exactly antisymmetric on valid pairs; invalid pixels hold 0), relation_class uint8
        (H, W, 9), occluder bool (sum > 0), occluded bool (sum < 0), best_class uint8 (class of the pixel's
        occluding relations, priority inter > self > void), contour bool (occluder of an inter-object pair, or nearer
        side of a tie when `tie_contour`).
    """
    height, width = valid.shape
    total = np.zeros((height, width), np.int32)
    spike = np.zeros((height, width), np.bool_)
    if drop_spikes:  # |sum of the 8 relations| == 8, counting both sides of every pair
        for y in range(height):
            for x in range(width):
                for k in range(4):
                    omega = relation[y, x, k]
                    if omega != 0:
                        total[y, x] += omega
                        total[y + _OFFSETS[k, 0], x + _OFFSETS[k, 1]] -= omega
        for y in range(height):
            for x in range(width):
                spike[y, x] = abs(total[y, x]) == 8
        total[:, :] = 0
    order = np.zeros((height, width, 9), np.int8)
    relation_class = np.zeros((height, width, 9), np.uint8)
    best_class = np.zeros((height, width), np.uint8)
    contour = np.zeros((height, width), np.bool_)
    for y in range(height):
        for x in range(width):
            for k in range(4):
                omega, t = relation[y, x, k], tie[y, x, k]
                if omega == 0 and t == 0:
                    continue
                yq, xq = y + _OFFSETS[k, 0], x + _OFFSETS[k, 1]
                if spike[y, x] or spike[yq, xq]:
                    continue
                if tie_contour and t != 0:
                    if t > 0 and valid[y, x]:
                        contour[y, x] = True
                    elif t < 0 and valid[yq, xq]:
                        contour[yq, xq] = True
                if omega == 0:
                    continue
                cls = pair_class[y, x, k]
                _set_side(order, relation_class, total, best_class, contour, valid, y, x, _FORWARD_CHANNEL[k],
                          int(omega), cls)
                _set_side(order, relation_class, total, best_class, contour, valid, yq, xq, _BACKWARD_CHANNEL[k],
                          -int(omega), cls)
    return order, relation_class, total > 0, total < 0, best_class, contour


@numba.njit(cache=True, nogil=True)
def _set_side(order, relation_class, total, best_class, contour, valid, y, x, channel, value, cls):
    """Record one side of a relation at pixel (y, x); invalid pixels carry no label (void relations are one-sided)."""
    if not valid[y, x]:
        return
    order[y, x, channel] = value
    order[y, x, 0] = 1
    relation_class[y, x, channel] = cls
    total[y, x] += value
    if value > 0:
        if cls == CLASS_INTER:
            contour[y, x] = True
            best_class[y, x] = CLASS_INTER
        elif cls == CLASS_SELF and best_class[y, x] != CLASS_INTER:
            best_class[y, x] = CLASS_SELF
        elif cls == CLASS_VOID and best_class[y, x] == CLASS_NONE:
            best_class[y, x] = CLASS_VOID


@numba.njit(cache=True, nogil=True)
def drop_isolated(mask):
    """Keep set pixels that have at least one other set pixel in their 3x3 window (zero outside the image)."""
    height, width = mask.shape
    out = np.zeros((height, width), np.bool_)
    for y in range(height):
        for x in range(width):
            if not mask[y, x]:
                continue
            for yn in range(max(0, y - 1), min(height, y + 2)):
                for xn in range(max(0, x - 1), min(width, x + 2)):
                    if (yn != y or xn != x) and mask[yn, xn]:
                        out[y, x] = True
    return out

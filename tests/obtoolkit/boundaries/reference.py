"""Slow, literal implementations of spec §6.2-6.3, one pixel pair at a time, to check the compiled kernels."""

from __future__ import annotations

import math

import numpy as np

from obtoolkit.boundaries.params import LabelParams

OFFSETS = [(0, 1), (1, 0), (1, 1), (-1, 1)]  # E, S, SE, NE


def _key(semantic, instance, entity, params: LabelParams):
    if instance >= 1:
        return ("inst", int(instance))
    if semantic in params.stuff_classes or params.unlabeled_policy == "stuff":
        return ("stuff",)
    return ("node", int(entity))


def _plane(ray, point, normal, cos_min):
    if normal is None:
        return None
    denominator = float(np.dot(normal, ray))
    if abs(denominator) < cos_min:
        return None
    return float(np.dot(normal, point)) / denominator


def _hit(ray, point, normal, depth_error, params: LabelParams):
    """(lam, cos, sigma) of `ray` on the plane (point, normal), as documented in docs/labels.md: lam undefined
    (None) when |n . r| < 1e-6; sigma = (depth_error |n . s| + |hit - point| normal_tol) / |n . r|, s = unit ray of
    the point."""
    if normal is None:
        return None, 0.0, math.inf
    cos = abs(float(np.dot(normal, ray)))
    if cos < 1e-6:
        return None, cos, math.inf
    lam = float(np.dot(normal, point)) / float(np.dot(normal, ray))
    own_ray = point / np.linalg.norm(point)
    spread = float(np.linalg.norm(lam * ray - point))
    return lam, cos, (depth_error * abs(float(np.dot(normal, own_ray))) + spread * params.normal_tol_rad) / cos


def _ray(M, row, col, height, width):
    u, v = (2 * col + 1) / width - 1, 1 - (2 * row + 1) / height
    r = M @ np.array([u, v, 1.0])
    return r / np.linalg.norm(r)


def riser_hidden(near, far, distance, valid, normals, M, params: LabelParams) -> bool:
    """The near pixel occludes the far one: the riser joining the layers (perpendicular to the near tangent plane,
    along the near surface's edge) faces away from the camera (beyond 2^-10 of edge-on), or, facing it, would be at
    least as wide in the image as the pair's spacing."""
    height, width = distance.shape
    (y, x), (yq, xq) = near, far
    n, dp = normals[y, x], float(distance[y, x])
    rp, rq = _ray(M, y, x, height, width), _ray(M, yq, xq, height, width)
    mid = _ray(M, (y + yq) / 2, (x + xq) / 2, height, width)
    def behind(yj, xj):
        if not valid[yj, xj]:
            return False
        lam, _, sigma = _hit(_ray(M, yj, xj, height, width), dp * rp, n, params.depth_rel_error * dp, params)
        return lam is not None and distance[yj, xj] - lam > sigma + params.depth_rel_error * distance[yj, xj]

    edge_normal = np.zeros(2)  # (row, col): towards the neighbours behind the near tangent plane, opposite pairs only
    for dy, dx in OFFSETS:
        if not (0 <= y - dy < height and 0 <= y + dy < height and 0 <= x - dx and x + dx < width):
            continue
        ahead, back = behind(y + dy, x + dx), behind(y - dy, x - dx)
        if ahead != back:
            edge_normal += (1 if ahead else -1) * np.array([dy, dx]) / math.hypot(dy, dx)
    if not edge_normal.any():
        edge_normal = np.array([yq - y, xq - x], float)
    tangent_row, tangent_col = -edge_normal[1], edge_normal[0]  # the image edge's direction, (row, col)
    step_col = M @ np.array([2.0 / width, 0.0, 0.0])
    step_row = M @ np.array([0.0, -2.0 / height, 0.0])
    along = tangent_col * step_col + tangent_row * step_row
    edge = np.cross(n, np.cross(rp, along))
    riser = np.cross(edge, n)
    if np.linalg.norm(riser) == 0:
        return False
    riser /= np.linalg.norm(riser)
    offset = float(distance[yq, xq]) * rq - dp * rp
    facing = float(np.dot(riser, mid))
    if abs(facing) <= 2.0 ** -10:
        return False
    if facing * float(np.dot(riser, offset)) > 0:
        return True
    height_m = -float(np.dot(offset, n))
    return height_m * abs(facing) >= float(np.linalg.norm(np.cross(rp, rq))) * dp


def _same_object(p, q, diag, distance, valid, normals, given, M, params: LabelParams):
    """omega of a same-object pair (spec §6.2 item 4 and docs/labels.md's layered test)."""
    (y, x), (yq, xq) = p, q
    height, width = distance.shape
    rp, rq = _ray(M, y, x, height, width), _ray(M, yq, xq, height, width)
    rm = _ray(M, (y + yq) / 2, (x + xq) / 2, height, width)
    dp, dq = float(distance[y, x]), float(distance[yq, xq])
    xp_, xq_ = dp * rp, dq * rq
    length = params.diag_len if diag else 1.0
    tau = max(params.tau_abs_m, params.tau_rel * min(dp, dq))
    d0 = (dq - dp) / length
    if not (params.layered_test and given[y, x] and given[yq, xq]):
        return None  # P2ORM's test, below
    error_p, error_q = params.depth_rel_error * dp, params.depth_rel_error * dq
    if abs(d0) <= tau and abs(dq - dp) <= error_p + error_q:
        return 0
    mp, c_mp, s_mp = _hit(rm, xp_, normals[y, x], error_p, params)
    mq, c_mq, s_mq = _hit(rm, xq_, normals[yq, xq], error_q, params)
    pq, c_pq, s_pq = _hit(rp, xq_, normals[yq, xq], error_q, params)
    qp, c_qp, s_qp = _hit(rq, xp_, normals[y, x], error_p, params)
    strict = min(c_mp, c_mq, c_pq, c_qp) >= params.cos_graze_min
    if None not in (mp, mq, pq, qp):
        mid, a, b, step = mq - mp, pq - dp, dq - qp, dq - dp
        angle = math.degrees(math.acos(min(1.0, max(-1.0, float(np.dot(normals[y, x], normals[yq, xq]))))))
        # below tau, layers must be parallel (within the normal tolerance) or steeper than a bend of one surface
        bend = abs(d0) <= tau and math.radians(angle) > params.normal_tol_rad and angle < params.bend_max_deg
        for sign in (1, -1):
            layered = not bend and sign * step > error_p + error_q and sign * mid > s_mp + s_mq and \
                sign * a > s_pq + error_p and sign * b > s_qp + error_q
            by_tau = strict and sign * d0 > tau and sign * mid / length > tau and sign * a > s_pq + error_p and \
                sign * b > s_qp + error_q
            near, far = (p, q) if sign == 1 else (q, p)
            if (layered or by_tau) and riser_hidden(near, far, distance, valid, normals, M, params):
                return sign
    if not strict and params.graze_fallback == "zero_order" and abs(d0) > 4 * tau:
        return int(math.copysign(1, d0))
    return 0


def reference_pair(p, q, diag, distance, valid, normals, normal_kind, M, keys, params: LabelParams):
    """(omega, class, tie) for pixels p, q (row, col) following spec §6.2 (and docs/labels.md) literally.

    normal_kind: uint8 (H, W): 0 no normal, 1 derived from depth, 2 given (the layered test needs given normals).
    """
    (y, x), (yq, xq) = p, q
    height, width = distance.shape
    normal_ok, given = normal_kind > 0, normal_kind == 2
    if not valid[y, x] or not valid[yq, xq]:
        if valid[y, x] != valid[yq, xq] and params.void_policy == "occluder":
            return (1 if valid[y, x] else -1), 1, 0
        return 0, 0, 0
    if not (params.instance_rule and keys[y][x] != keys[yq][xq]):
        omega = _same_object(p, q, diag, distance, valid, normals, given, M, params)
        if omega is not None:
            return omega, (3 if omega else 0), 0

    def uv(row, col):
        return (2 * col + 1) / width - 1, 1 - (2 * row + 1) / height

    def ray(u, v):
        r = M @ np.array([u, v, 1.0])
        return r / np.linalg.norm(r)

    up, vp = uv(y, x)
    uq, vq = uv(yq, xq)
    rp, rq, rm = ray(up, vp), ray(uq, vq), ray((up + uq) / 2, (vp + vq) / 2)
    dp, dq = float(distance[y, x]), float(distance[yq, xq])
    xp_, xq_ = dp * rp, dq * rq
    np_ = normals[y, x] if normal_ok[y, x] else None
    nq_ = normals[yq, xq] if normal_ok[yq, xq] else None
    length = params.diag_len if diag else 1.0
    tau = max(params.tau_abs_m, params.tau_rel * min(dp, dq))
    cos_min = params.cos_graze_min
    lam = {"mp": _plane(rm, xp_, np_, cos_min), "mq": _plane(rm, xq_, nq_, cos_min),
           "pq": _plane(rp, xq_, nq_, cos_min), "qp": _plane(rq, xp_, np_, cos_min)}
    d0 = (dq - dp) / length
    dm = None if lam["mp"] is None or lam["mq"] is None else (lam["mq"] - lam["mp"]) / length
    a = None if lam["pq"] is None else lam["pq"] - dp
    b = None if lam["qp"] is None else dq - lam["qp"]
    if params.instance_rule and keys[y][x] != keys[yq][xq]:
        eps = params.tie_eps_rel * min(dp, dq)
        separations = [s for s in (dm, a, b) if s is not None]  # mid ray, p's ray, q's ray (kernels.py)
        large = [s for s in separations if abs(s) >= eps]
        if not large and not (not separations and abs(d0) >= eps):
            return 0, 0, (1 if dp < dq else -1 if dq < dp else 0)
        order = d0 if d0 != 0 else (large[0] if large else d0)
        return (1 if order > 0 else -1), 2, 0
    if abs(d0) <= tau:
        return 0, 0, 0
    if any(v is None for v in lam.values()):
        if params.graze_fallback == "zero_order" and abs(d0) > 4 * tau:
            return int(math.copysign(1, d0)), 3, 0
        return 0, 0, 0
    if d0 > tau and dm > tau and a > 0 and b > 0:
        return 1, 3, 0
    if d0 < -tau and dm < -tau and a < 0 and b < 0:
        return -1, 3, 0
    return 0, 0, 0


def reference_relations(distance, valid, normals, normal_kind, M, semantic, instance, entity, params: LabelParams):
    """Per-pair (relation, class, tie) arrays (H, W, 4) for E, S, SE, NE, before the spike rule."""
    height, width = distance.shape
    keys = [[_key(semantic[y, x], instance[y, x], entity[y, x], params) if valid[y, x] else None
             for x in range(width)] for y in range(height)]
    relation = np.zeros((height, width, 4), np.int8)
    pair_class = np.zeros((height, width, 4), np.uint8)
    tie = np.zeros((height, width, 4), np.int8)
    for y in range(height):
        for x in range(width):
            for k, (dy, dx) in enumerate(OFFSETS):
                if 0 <= y + dy < height and 0 <= x + dx < width:
                    relation[y, x, k], pair_class[y, x, k], tie[y, x, k] = reference_pair(
                        (y, x), (y + dy, x + dx), k >= 2, distance, valid, normals, normal_kind, M, keys, params)
    return relation, pair_class, tie


def reference_order(relation):
    """Per-pixel 8-neighbour order (H, W, 9) built pair by pair."""
    height, width, _ = relation.shape
    channel = {(-1, -1): 1, (-1, 0): 2, (-1, 1): 3, (0, -1): 4, (0, 1): 5, (1, -1): 6, (1, 0): 7, (1, 1): 8}
    order = np.zeros((height, width, 9), np.int8)
    for y in range(height):
        for x in range(width):
            for k, (dy, dx) in enumerate(OFFSETS):
                if 0 <= y + dy < height and 0 <= x + dx < width:
                    order[y, x, channel[(dy, dx)]] = relation[y, x, k]
                    order[y + dy, x + dx, channel[(-dy, -dx)]] = -relation[y, x, k]
    order[..., 0] = np.any(order[..., 1:] != 0, axis=-1)
    return order

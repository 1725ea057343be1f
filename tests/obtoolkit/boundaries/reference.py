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


def reference_pair(p, q, diag, distance, valid, normals, normal_ok, M, keys, params: LabelParams):
    """(omega, class, tie) for pixels p, q (row, col) following spec §6.2 literally."""
    (y, x), (yq, xq) = p, q
    height, width = distance.shape
    if not valid[y, x] or not valid[yq, xq]:
        if valid[y, x] != valid[yq, xq] and params.void_policy == "occluder":
            return (1 if valid[y, x] else -1), 1, 0
        return 0, 0, 0

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


def reference_relations(distance, valid, normals, normal_ok, M, semantic, instance, entity, params: LabelParams):
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
                        (y, x), (y + dy, x + dx), k >= 2, distance, valid, normals, normal_ok, M, keys, params)
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

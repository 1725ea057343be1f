"""One-to-one pixel matching between a binary boundary map and a ground truth: exact, deterministic, incremental.

Objective (the BSDS `correspondPixels` objective with a dense outlier model). A predicted pixel p and a GT pixel g may
be matched when their distance d = sqrt(dy^2 + dx^2) <= r_px, r_px = max_dist * sqrt(H^2 + W^2). A matched pair
costs rint(100 d); an unmatched pixel (either side) costs the outlier weight ow = ceil(100 * 100 * r_px). Among all
one-to-one matchings M, we return one minimising

    sum_{(p, g) in M} (rint(100 d(p, g)) - ow),

i.e. as many matches as possible, ties broken by the smallest total distance (every real edge costs at most 100 r_px,
one hundredth of ow). BSDS's C++ solves the same objective on a random degree-6 outlier graph, which drops 0-0.25 %
of the matches at random; here the optimum is exact and the result depends only on the inputs.

Solver. The problem is written as a square assignment on rows {P_i} + {DG_j} and columns {G_j} + {DP_i}: P_i-G_j
costs 2 rint(100 d), P_i-DP_i and DG_j-G_j cost ow (unmatched), DG_j-DP_i cost 0 for every admissible pair (the freed
dummies of a matched pair pair up). A perfect matching with k real pairs costs const + 2 sum_M (rint(100 d) - ow).
Integer shortest augmenting paths (Dijkstra on reduced costs, Hungarian duals) keep an optimal perfect matching while
predicted pixels are inserted or deleted one at a time. Deletions keep the duals feasible; an insertion gets duals
that keep them feasible; each then needs one augmentation. A threshold sweep therefore re-solves only what changed
between consecutive thresholds.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from obtoolkit._checks import check_array, check_same_hw

_INF = np.iinfo(np.int64).max // 4


def matching_radius_px(height: int, width: int, max_dist: float) -> float:
    """Matching radius in pixels: `max_dist` (a fraction of the image diagonal) times sqrt(H^2 + W^2), float64."""
    return float(max_dist) * math.sqrt(float(height) * height + float(width) * width)


def outlier_weight(radius_px: float) -> int:
    """Integer cost of leaving one pixel unmatched: ceil(100 * outlier cost), outlier cost = 100 * r_px (BSDS)."""
    return int(math.ceil(100.0 * (100.0 * radius_px)))


def disk_offsets(radius_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (dy, dx) with sqrt(dy^2 + dx^2) <= radius_px and their integer costs rint(100 d), sorted by cost.

    Returns:
        dy, dx: (M,) int64 offsets in pixels; cost: (M,) int64 in hundredths of a pixel.
    """
    reach = int(math.ceil(radius_px))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    dy, dx = dy.ravel(), dx.ravel()
    distance = np.sqrt((dy * dy + dx * dx).astype(np.float64))
    keep = distance <= radius_px
    dy, dx, distance = dy[keep], dx[keep], distance[keep]
    cost = np.rint(100.0 * distance).astype(np.int64)
    order = np.lexsort((dx, dy, cost))
    return dy[order].astype(np.int64), dx[order].astype(np.int64), cost[order]


@numba.njit(cache=True, nogil=True)
def build_graph(pred_yx, gt_index, dy, dx, cost):
    """Admissible pairs between predicted pixels and GT pixels, both ways (CSR).

    Args:
        pred_yx: (N1, 2) int64 predicted pixel coordinates (row, column).
        gt_index: (H, W) int64 image: local GT index, or -1 where there is no GT pixel.
        dy, dx, cost: disk offsets and their costs (`disk_offsets`).

    Returns:
        p_ptr (N1 + 1,), p_adj (E,) GT index, p_cost (E,) 2 * rint(100 d), g_ptr (N2 + 1,), g_adj (E,) pred index;
        N2 = gt_index.max() + 1. All int64.
    """
    h, w = gt_index.shape
    n1 = pred_yx.shape[0]
    n2 = 0
    for y in range(h):
        for x in range(w):
            if gt_index[y, x] + 1 > n2:
                n2 = gt_index[y, x] + 1
    p_ptr = np.zeros(n1 + 1, dtype=np.int64)
    for i in range(n1):
        count = 0
        for k in range(dy.shape[0]):
            y = pred_yx[i, 0] + dy[k]
            x = pred_yx[i, 1] + dx[k]
            if 0 <= y < h and 0 <= x < w and gt_index[y, x] >= 0:
                count += 1
        p_ptr[i + 1] = p_ptr[i] + count
    n_edges = p_ptr[n1]
    p_adj = np.empty(n_edges, dtype=np.int64)
    p_cost = np.empty(n_edges, dtype=np.int64)
    g_count = np.zeros(n2 + 1, dtype=np.int64)
    for i in range(n1):
        e = p_ptr[i]
        for k in range(dy.shape[0]):
            y = pred_yx[i, 0] + dy[k]
            x = pred_yx[i, 1] + dx[k]
            if 0 <= y < h and 0 <= x < w and gt_index[y, x] >= 0:
                p_adj[e] = gt_index[y, x]
                p_cost[e] = 2 * cost[k]
                g_count[gt_index[y, x] + 1] += 1
                e += 1
    g_ptr = np.cumsum(g_count)
    g_fill = g_ptr[:-1].copy()
    g_adj = np.empty(n_edges, dtype=np.int64)
    for i in range(n1):
        for e in range(p_ptr[i], p_ptr[i + 1]):
            j = p_adj[e]
            g_adj[g_fill[j]] = i
            g_fill[j] += 1
    return p_ptr, p_adj, p_cost, g_ptr, g_adj


@numba.njit(cache=True, nogil=True)
def _heap_push(keys, vals, size, key, val):
    i = size
    keys[i] = key
    vals[i] = val
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] < keys[i] or (keys[parent] == keys[i] and vals[parent] <= vals[i]):
            break
        keys[parent], keys[i] = keys[i], keys[parent]
        vals[parent], vals[i] = vals[i], vals[parent]
        i = parent
    return size + 1


@numba.njit(cache=True, nogil=True)
def _heap_pop(keys, vals, size):
    """Remove the root (smallest key, then smallest value); the caller read it before. Returns the new size."""
    size -= 1
    keys[0] = keys[size]
    vals[0] = vals[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        right = left + 1
        if right < size and (keys[right] < keys[left] or (keys[right] == keys[left] and vals[right] < vals[left])):
            child = right
        if keys[i] < keys[child] or (keys[i] == keys[child] and vals[i] <= vals[child]):
            break
        keys[child], keys[i] = keys[i], keys[child]
        vals[child], vals[i] = vals[i], vals[child]
        i = child
    return size


class _Graph(NamedTuple):
    n1: int
    n2: int
    ow: int
    p_ptr: np.ndarray
    p_adj: np.ndarray
    p_cost: np.ndarray
    g_ptr: np.ndarray
    g_adj: np.ndarray


@numba.njit(cache=True, nogil=True)
def _relax(c, w, row, min_val, u, v, dist, pred, scanned, touched, n_touched, hk, hv, hs):
    if scanned[c]:
        return n_touched, hs
    nd = min_val + w - u[row] - v[c]
    if nd < dist[c]:
        if dist[c] == _INF:
            touched[n_touched] = c
            n_touched += 1
        dist[c] = nd
        pred[c] = row
        hs = _heap_push(hk, hv, hs, nd, c)
    return n_touched, hs


@numba.njit(cache=True, nogil=True)
def _augment(s, g, state, work):
    """Shortest augmenting path from free row `s` to a free column; update duals and the matching."""
    n1, n2, ow, p_ptr, p_adj, p_cost, g_ptr, g_adj = g
    active, u, v, col_of_row, row_of_col = state
    dist, pred, scanned, touched, hk, hv = work
    n_touched = 0
    hs = 0
    min_val = 0
    row = s
    sink = -1
    while sink < 0:
        if row < n1:
            for e in range(p_ptr[row], p_ptr[row + 1]):
                n_touched, hs = _relax(p_adj[e], p_cost[e], row, min_val, u, v, dist, pred, scanned, touched,
                                       n_touched, hk, hv, hs)
            n_touched, hs = _relax(n2 + row, ow, row, min_val, u, v, dist, pred, scanned, touched, n_touched,
                                   hk, hv, hs)
        else:
            j = row - n1
            n_touched, hs = _relax(j, ow, row, min_val, u, v, dist, pred, scanned, touched, n_touched, hk, hv, hs)
            for e in range(g_ptr[j], g_ptr[j + 1]):
                i = g_adj[e]
                if active[i]:
                    n_touched, hs = _relax(n2 + i, 0, row, min_val, u, v, dist, pred, scanned, touched, n_touched,
                                           hk, hv, hs)
        c = -1
        while hs > 0:
            key = hk[0]
            cand = hv[0]
            hs = _heap_pop(hk, hv, hs)
            if not scanned[cand] and key == dist[cand]:
                c = cand
                break
        if c < 0:
            raise RuntimeError("matching: no augmenting path (the assignment graph lost its perfect matching)")
        scanned[c] = 1
        min_val = dist[c]
        if row_of_col[c] < 0:
            sink = c
        else:
            row = row_of_col[c]
    for t in range(n_touched):
        c = touched[t]
        if scanned[c] and c != sink:
            delta = min_val - dist[c]
            u[row_of_col[c]] += delta
            v[c] -= delta
    u[s] += min_val
    c = sink
    while True:
        r = pred[c]
        previous = col_of_row[r]
        col_of_row[r] = c
        row_of_col[c] = r
        if r == s:
            break
        c = previous
    for t in range(n_touched):
        dist[touched[t]] = _INF
        scanned[touched[t]] = 0


@numba.njit(cache=True, nogil=True)
def _insert(i, g, state, work):
    """Activate predicted pixel i with feasible duals, then restore a perfect matching."""
    n1, n2, ow, p_ptr, p_adj, p_cost, g_ptr, g_adj = g
    active, u, v, col_of_row, row_of_col = state
    best = _INF
    for e in range(p_ptr[i], p_ptr[i + 1]):
        best = min(best, -u[n1 + p_adj[e]])
    if best == _INF:
        best = 0
    v[n2 + i] = best
    ui = ow - best
    for e in range(p_ptr[i], p_ptr[i + 1]):
        ui = min(ui, p_cost[e] - v[p_adj[e]])
    u[i] = ui
    active[i] = 1
    if ui == ow - best:  # the edge to its own (free) dummy is tight: unmatched is optimal
        col_of_row[i] = n2 + i
        row_of_col[n2 + i] = i
    else:
        col_of_row[i] = -1
        row_of_col[n2 + i] = -1
        _augment(i, g, state, work)


@numba.njit(cache=True, nogil=True)
def _delete(i, g, state, work):
    """Deactivate predicted pixel i (duals stay feasible), then restore a perfect matching."""
    n1, n2, ow, p_ptr, p_adj, p_cost, g_ptr, g_adj = g
    active, u, v, col_of_row, row_of_col = state
    active[i] = 0
    c1 = col_of_row[i]
    col_of_row[i] = -1
    if c1 == n2 + i:
        row_of_col[n2 + i] = -1
        return
    r1 = row_of_col[n2 + i]
    row_of_col[n2 + i] = -1
    row_of_col[c1] = -1
    col_of_row[r1] = -1
    _augment(r1, g, state, work)


@numba.njit(cache=True, nogil=True)
def _new_state(g):
    n1, n2, ow = g[0], g[1], g[2]
    active = np.zeros(n1, dtype=np.uint8)
    u = np.zeros(n1 + n2, dtype=np.int64)
    v = np.zeros(n2 + n1, dtype=np.int64)
    col_of_row = np.full(n1 + n2, -1, dtype=np.int64)
    row_of_col = np.full(n2 + n1, -1, dtype=np.int64)
    for j in range(n2):  # every GT pixel starts unmatched: DG_j - G_j, tight with u = ow, v = 0
        col_of_row[n1 + j] = j
        row_of_col[j] = n1 + j
        u[n1 + j] = ow
    n_cols = n1 + n2
    capacity = 2 * g[4].shape[0] + 2 * n_cols + 16
    work = (np.full(n_cols, _INF, dtype=np.int64), np.zeros(n_cols, dtype=np.int64), np.zeros(n_cols, dtype=np.uint8),
            np.zeros(n_cols, dtype=np.int64), np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64))
    return (active, u, v, col_of_row, row_of_col), work


@numba.njit(cache=True, nogil=True)
def _pair_cost(i, j, p_ptr, p_adj, p_cost):
    for e in range(p_ptr[i], p_ptr[i + 1]):
        if p_adj[e] == j:
            return p_cost[e] // 2
    return -1


@numba.njit(cache=True, nogil=True)
def sweep_graph(g, active_idx, starts, ends, p_theta, g_theta, p_matched, p_oriented):
    """Optimal matchings for a sequence of predicted-pixel sets, processed from the last set to the first.

    Args:
        g: the graph tuple (n1, n2, ow, p_ptr, p_adj, p_cost, g_ptr, g_adj).
        active_idx, starts, ends: int64; set k is active_idx[starts[k]:ends[k]] (predicted node indices), K sets.
        p_theta, g_theta: (N1,), (N2,) float64 orientations in radians, or empty arrays when not evaluated.
        p_matched, p_oriented: (K, N1) uint8 outputs, OR-ed with "matched" and "matched with a correct orientation"
            so that several annotators can share them.

    Returns:
        n_matched (K,), total_cost (K,) in hundredths of a pixel, n_gt_oriented (K,): int64 per set.
    """
    n1, n2 = g[0], g[1]
    n_sets = starts.shape[0]
    state, work = _new_state(g)
    active, u, v, col_of_row, row_of_col = state
    want = np.zeros(n1, dtype=np.uint8)
    n_matched = np.zeros(n_sets, dtype=np.int64)
    total_cost = np.zeros(n_sets, dtype=np.int64)
    n_gt_oriented = np.zeros(n_sets, dtype=np.int64)
    with_theta = p_theta.shape[0] > 0
    for k in range(n_sets - 1, -1, -1):
        want[:] = 0
        for t in range(starts[k], ends[k]):
            want[active_idx[t]] = 1
        for i in range(n1):  # insertions first: a pixel that moved takes over its GT before the old one leaves
            if want[i] and not active[i]:
                _insert(i, g, state, work)
        for i in range(n1):
            if active[i] and not want[i]:
                _delete(i, g, state, work)
        for i in range(n1):
            j = col_of_row[i]
            if active[i] and j < n2:
                n_matched[k] += 1
                total_cost[k] += _pair_cost(i, j, g[3], g[4], g[5])
                p_matched[k, i] = 1
                if with_theta and _orientation_agrees(p_theta[i], g_theta[j]):
                    p_oriented[k, i] = 1
                    n_gt_oriented[k] += 1
    return n_matched, total_cost, n_gt_oriented


@numba.njit(cache=True, nogil=True)
def _orientation_agrees(theta_pred, theta_gt):
    """|theta_pred - theta_gt| mod 2 pi in [0, pi/2] or [3 pi/2, 2 pi): within 90 degrees (doobscripts)."""
    diff = (theta_pred - theta_gt) % (2.0 * np.pi)
    return diff <= 0.5 * np.pi or diff >= 1.5 * np.pi


def make_graph(pred_yx: np.ndarray, gt_map: np.ndarray, radius_px: float) -> _Graph:
    """The assignment graph between predicted pixels `pred_yx` ((N1, 2) int64) and the GT pixels of `gt_map`.

    GT pixels are numbered in row-major order of `gt_map` ((H, W) bool).
    """
    gt_index = np.full(gt_map.shape, -1, dtype=np.int64)
    gt_index[gt_map] = np.arange(int(gt_map.sum()), dtype=np.int64)
    dy, dx, cost = disk_offsets(radius_px)
    p_ptr, p_adj, p_cost, g_ptr, g_adj = build_graph(pred_yx, gt_index, dy, dx, cost)
    return _Graph(len(pred_yx), int(gt_map.sum()), outlier_weight(radius_px), p_ptr, p_adj, p_cost, g_ptr, g_adj)


class PixelMatch(NamedTuple):
    """Result of matching one binary map with one GT map.

    pred_matched, gt_matched: (H, W) bool, pixels with a partner. n_matched: number of pairs.
    total_cost_px: sum of rint(100 d) / 100 over the pairs, in pixels. pairs: (n_matched, 4) int64 rows
    (pred_row, pred_col, gt_row, gt_col).
    """

    pred_matched: np.ndarray
    gt_matched: np.ndarray
    n_matched: int
    total_cost_px: float
    pairs: np.ndarray


def match_maps(pred_binary: np.ndarray, gt_binary: np.ndarray, *, max_dist: float = 0.0075,
               radius_px: float | None = None) -> PixelMatch:
    """Match two binary maps one-to-one: as many pairs as possible, then the smallest total distance.

    Args:
        pred_binary, gt_binary: (H, W) bool (or 0/1 integer) maps.
        max_dist: matching radius as a fraction of the image diagonal (ignored when `radius_px` is given).
        radius_px: matching radius in pixels.

    Returns:
        a PixelMatch.
    """
    check_array("pred_binary", pred_binary, shape=(None, None), kind="biu")
    check_array("gt_binary", gt_binary, shape=(None, None), kind="biu")
    h, w = check_same_hw(pred_binary=pred_binary, gt_binary=gt_binary)
    pred, gt = pred_binary != 0, gt_binary != 0
    radius = matching_radius_px(h, w, max_dist) if radius_px is None else float(radius_px)
    pred_yx = np.argwhere(pred).astype(np.int64)
    gt_yx = np.argwhere(gt).astype(np.int64)
    graph = make_graph(pred_yx, gt, radius)
    partner, cost = _solve_partners(tuple(graph), np.arange(graph.n1, dtype=np.int64))
    keep = partner >= 0
    pairs = np.concatenate([pred_yx[keep], gt_yx[partner[keep]]], axis=1).reshape(-1, 4)
    pred_matched = np.zeros((h, w), dtype=bool)
    gt_matched = np.zeros((h, w), dtype=bool)
    pred_matched[pairs[:, 0], pairs[:, 1]] = True
    gt_matched[pairs[:, 2], pairs[:, 3]] = True
    return PixelMatch(pred_matched, gt_matched, int(keep.sum()), float(cost[keep].sum()) / 100.0, pairs)


@numba.njit(cache=True, nogil=True)
def _solve_partners(g, nodes):
    """Insert `nodes` one by one; return each predicted node's GT partner (-1: none) and the pair cost (int64)."""
    n1, n2 = g[0], g[1]
    state, work = _new_state(g)
    for t in range(nodes.shape[0]):
        _insert(nodes[t], g, state, work)
    active, col_of_row = state[0], state[3]
    partner = np.full(n1, -1, dtype=np.int64)
    cost = np.zeros(n1, dtype=np.int64)
    for i in range(n1):
        if active[i] and col_of_row[i] < n2:
            partner[i] = col_of_row[i]
            cost[i] = _pair_cost(i, col_of_row[i], g[3], g[4], g[5])
    return partner, cost

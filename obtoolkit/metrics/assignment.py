"""Exact min-cost one-to-one matching, incremental: the matching itself, for the outputs that depend on the pairs.

Used where the chosen pairs matter: several annotators (cntP counts predicted pixels matched to at least one of
them), orientation counts (OPR compares each pair's orientations) and `match_maps` (pictures). Counts of a single
annotator need only the matching size and use `cardinality` instead.

Objective (BSDS `correspondPixels` with a dense outlier model): among all one-to-one matchings M of admissible pairs,
minimise sum_{(p, g) in M} (rint(100 d(p, g)) - ow), i.e. as many pairs as possible, then the smallest total
distance (every pair costs at most 100 r_px, one hundredth of the outlier weight ow).

Solver. A square assignment on rows {P_i} + {DG_j} and columns {G_j} + {DP_i}: P_i-G_j costs 2 rint(100 d),
P_i-DP_i and DG_j-G_j cost ow (unmatched), DG_j-DP_i cost 0 for every admissible pair (the freed dummies of a
matched pair pair up). A perfect matching with k real pairs costs const + 2 sum_M (rint(100 d) - ow). Integer
shortest augmenting paths (Dijkstra on reduced costs, Hungarian duals, heap ties broken by column index) keep an
optimal perfect matching while predicted pixels are inserted or deleted one at a time: deletions keep the duals
feasible; an insertion gets duals that keep them feasible; each then needs one augmentation. The pairs chosen among
equally good matchings are a deterministic function of the inputs and of the order of the operations (insertions
in increasing node order, then deletions in increasing node order, threshold by threshold from the highest); this
order is part of the results and must not change.

Cost. An augmentation scans every column whose reduced distance is below the one of the path it finds; on dense
predictions (untrained networks, texture, thick soft maps) that is most of a connected region, so the sweep can be
quadratic in the pixels of a region. Only pair-dependent outputs pay it.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from obtoolkit.metrics.disk import disk_offsets, outlier_weight

_INF = np.iinfo(np.int64).max // 4


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


class Graph(NamedTuple):
    """The assignment graph: sizes, outlier weight and admissible pairs in CSR, both ways (int64 arrays)."""

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
def sweep_graph(g, nodes, inserted, ptr, p_theta, g_theta, p_matched, p_oriented):
    """Optimal matchings after each batch of insertions and deletions of predicted nodes.

    Args:
        g: the graph tuple (n1, n2, ow, p_ptr, p_adj, p_cost, g_ptr, g_adj).
        nodes, inserted: (C,) int64 node indices and bool (True: the node enters, False: it leaves); batch l is
            nodes[ptr[l]:ptr[l + 1]], L batches. Within a batch insertions are applied first, then deletions, each
            in the order given (increasing node index: the order the results are defined by).
        p_theta, g_theta: (N1,), (N2,) float64 orientations in radians, or empty arrays when not evaluated.
        p_matched, p_oriented: (L, N1) uint8 outputs, OR-ed with "matched" and "matched with a correct orientation"
            after batch l, so that several annotators can share them.

    Returns:
        n_matched (L,), total_cost (L,) in hundredths of a pixel, n_gt_oriented (L,): int64 per batch.
    """
    n1, n2 = g[0], g[1]
    n_levels = ptr.shape[0] - 1
    state, work = _new_state(g)
    active, u, v, col_of_row, row_of_col = state
    n_matched = np.zeros(n_levels, dtype=np.int64)
    total_cost = np.zeros(n_levels, dtype=np.int64)
    n_gt_oriented = np.zeros(n_levels, dtype=np.int64)
    with_theta = p_theta.shape[0] > 0
    for level in range(n_levels):
        for t in range(ptr[level], ptr[level + 1]):
            if inserted[t]:
                _insert(nodes[t], g, state, work)
        for t in range(ptr[level], ptr[level + 1]):
            if not inserted[t]:
                _delete(nodes[t], g, state, work)
        for i in range(n1):
            j = col_of_row[i]
            if active[i] and j < n2:
                n_matched[level] += 1
                total_cost[level] += _pair_cost(i, j, g[3], g[4], g[5])
                p_matched[level, i] = 1
                if with_theta and _orientation_agrees(p_theta[i], g_theta[j]):
                    p_oriented[level, i] = 1
                    n_gt_oriented[level] += 1
    return n_matched, total_cost, n_gt_oriented



@numba.njit(cache=True, nogil=True)
def _orientation_agrees(theta_pred, theta_gt):
    """|theta_pred - theta_gt| mod 2 pi in [0, pi/2] or [3 pi/2, 2 pi): within 90 degrees (doobscripts)."""
    diff = (theta_pred - theta_gt) % (2.0 * np.pi)
    return diff <= 0.5 * np.pi or diff >= 1.5 * np.pi


def make_graph(pred_yx: np.ndarray, gt_map: np.ndarray, radius_px: float) -> Graph:
    """The assignment graph between predicted pixels `pred_yx` ((N1, 2) int64) and the GT pixels of `gt_map`.

    GT pixels are numbered in row-major order of `gt_map` ((H, W) bool).
    """
    gt_index = np.full(gt_map.shape, -1, dtype=np.int64)
    gt_index[gt_map] = np.arange(int(gt_map.sum()), dtype=np.int64)
    dy, dx, cost = disk_offsets(radius_px)
    p_ptr, p_adj, p_cost, g_ptr, g_adj = build_graph(pred_yx, gt_index, dy, dx, cost)
    return Graph(len(pred_yx), int(gt_map.sum()), outlier_weight(radius_px), p_ptr, p_adj, p_cost, g_ptr, g_adj)




@numba.njit(cache=True, nogil=True)
def solve_partners(g, nodes):
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

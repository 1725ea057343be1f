"""Exact min-cost one-to-one matching, incremental: the matching itself, for the outputs that depend on the pairs.

Used where the chosen pairs matter: several annotators (cntP counts predicted pixels matched to at least one of
them), orientation counts (OPR compares each pair's orientations) and `match_maps` (pictures). Counts of a single
annotator need only the matching size and use `cardinality` instead.

Objective (BSDS `correspondPixels` with a dense outlier model): among all one-to-one matchings M of admissible pairs,
minimise sum_{(p, g) in M} (rint(100 d(p, g)) - ow), i.e. as many pairs as possible, then the smallest total
distance (every pair costs at most 100 r_px, one hundredth of the outlier weight ow). Equivalently: a maximum-weight
matching with weights w(p, g) = ow - rint(100 d) > 0, unmatched pixels weighing nothing.

Solver: primal-dual, with integer duals y_p >= 0 (predicted pixels) and z_g >= 0 (GT pixels), feasible
(y_p + z_g >= w(p, g) on every admissible pair) and complementary (matched pairs tight, y_p = 0 for a free predicted
pixel, z_g = 0 for a free GT pixel). By LP duality a matching with such duals has maximum weight. Predicted pixels
are inserted and deleted one at a time, threshold by threshold:

- insert p: y_p = max(0, max_g w(p, g) - z_g) keeps the duals feasible; if y_p > 0, one search from p (below).
- delete p: drop it; if it was matched to g, g is left free, and if z_g > 0 it is remembered as a deficit.
- after a batch (one threshold's deletions, then its insertions), one search from each GT pixel still in deficit.

A search from a predicted root is Dijkstra on reduced costs y_p + z_g - w(p, g) over the alternating tree (a GT
pixel leads on to its partner at the same distance). Its terminals are: a free GT pixel (any dual: augment; this is
where deficits get filled), or a tree pixel p' whose y_p' falls to zero at distance d_p' + y_p' (p' leaves the
matching; for p' = the root, the root stays free). With the distance Delta of the nearest terminal, every tree
vertex closer than Delta moves its dual by Delta - d (GT +, predicted -), which keeps feasibility and complementarity,
then the path to the terminal is flipped. The search from a GT root in deficit is the mirror image (its terminals: a
free predicted pixel, or a tree GT pixel whose z falls to zero). The search stops as soon as the nearest terminal
found so far is no farther than the next heap key, and never pushes a vertex beyond it.

Cost: a search scans the tree vertices closer than the terminal it finds. Unlike a square assignment with dummy
rows and columns (the first release's formulation), there are no zero-cost dummy-to-dummy edges, so it does not
spread over whole plateaus of equally good alternatives: 4-90x faster than that solver on the five-annotator stress
maps at 320x240 and 640x480 (docs/evaluation.md has what remains expensive).

Ties: among equally good matchings the pairs chosen are a deterministic function of the inputs and of the order of
the operations (deletions of a threshold in increasing node order, then insertions in increasing node order,
thresholds from the highest; heap ties by vertex index). They differ from the first release's (another solver), so
cntP with several annotators may differ by a few pixels; counts of pairs and total distances are the same optimum.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from obtoolkit.metrics.disk import disk_offsets, outlier_weight

_INF = np.iinfo(np.int32).max  # 'not reached' (distances stay below the outlier weight, < 2**31)


@numba.njit(cache=True, nogil=True)
def _pairs_at(k, from_gt, pred_yx, pred_index, gt_yx, gt_index, dy, dx, pred_out, gt_out):
    """The pairs at disk offset k, in increasing index of the walked side: (pred_out[:n], gt_out[:n]); returns n."""
    h, w = gt_index.shape
    n = 0
    if from_gt:
        for j in range(gt_yx.shape[0]):
            y, x = gt_yx[j, 0] - dy[k], gt_yx[j, 1] - dx[k]
            if 0 <= y < h and 0 <= x < w and pred_index[y, x] >= 0:
                pred_out[n], gt_out[n] = pred_index[y, x], j
                n += 1
    else:
        for i in range(pred_yx.shape[0]):
            y, x = pred_yx[i, 0] + dy[k], pred_yx[i, 1] + dx[k]
            if 0 <= y < h and 0 <= x < w and gt_index[y, x] >= 0:
                pred_out[n], gt_out[n] = i, gt_index[y, x]
                n += 1
    return n


@numba.njit(cache=True, nogil=True)
def build_graph(pred_yx, pred_index, gt_yx, gt_index, dy, dx, cost, from_gt, gt_lists=True):
    """Admissible pairs between predicted pixels and GT pixels, both ways (CSR).

    Args:
        pred_yx, gt_yx: (N1, 2), (N2, 2) int64 pixel coordinates (row, column); GT in row-major order.
        pred_index, gt_index: (H, W) int32 (or int64) images of the local indices, -1 elsewhere.
        dy, dx, cost: disk offsets and their costs (`disk_offsets`).
        from_gt: walk the disk around every GT pixel instead of every predicted pixel (cheaper when there are
            fewer GT pixels); the result is the same either way.
        gt_lists: also list each GT pixel's pairs (g_*), which only searches from a GT pixel in deficit read, so
            only sweeps with deletions need them; without, g_adj, g_cost and g_edge are empty.

    Returns:
        p_ptr (N1 + 1,), p_adj (E,) GT index, p_cost (E,) rint(100 d), g_ptr (N2 + 1,), g_adj (E,) pred index,
        g_cost (E,) rint(100 d), g_edge (E,) the same pair's index in p_adj. Indices, costs and edge indices int32
        (half the memory traffic of the searches), pointers int64. Every list is in disk order (increasing cost,
        then the order of `disk_offsets`): the offsets are the outer loop of both passes.
    """
    n1, n2 = pred_yx.shape[0], gt_yx.shape[0]
    pred_at, gt_at = np.empty(n2 if from_gt else n1, dtype=np.int64), np.empty(n2 if from_gt else n1, dtype=np.int64)
    p_ptr = np.zeros(n1 + 1, dtype=np.int64)
    g_ptr = np.zeros(n2 + 1, dtype=np.int64)
    for k in range(dy.shape[0]):
        for t in range(_pairs_at(k, from_gt, pred_yx, pred_index, gt_yx, gt_index, dy, dx, pred_at, gt_at)):
            p_ptr[pred_at[t] + 1] += 1
            g_ptr[gt_at[t] + 1] += 1
    p_ptr = np.cumsum(p_ptr)
    g_ptr = np.cumsum(g_ptr)
    n_edges = p_ptr[n1]
    if n_edges >= 2**31:
        raise ValueError("matching: more than 2**31 admissible pairs (int32 edge indices)")
    n_listed = n_edges if gt_lists else 0
    p_adj, p_cost = np.empty(n_edges, dtype=np.int32), np.empty(n_edges, dtype=np.int32)
    g_adj, g_cost = np.empty(n_listed, dtype=np.int32), np.empty(n_listed, dtype=np.int32)
    g_edge = np.empty(n_listed, dtype=np.int32)
    p_fill, g_fill = p_ptr[:-1].copy(), g_ptr[:-1].copy()
    for k in range(dy.shape[0]):
        for t in range(_pairs_at(k, from_gt, pred_yx, pred_index, gt_yx, gt_index, dy, dx, pred_at, gt_at)):
            i, j = pred_at[t], gt_at[t]
            e = p_fill[i]
            p_adj[e] = j
            p_cost[e] = cost[k]
            p_fill[i] += 1
            if gt_lists:
                f = g_fill[j]
                g_adj[f] = i
                g_cost[f] = cost[k]
                g_edge[f] = e
                g_fill[j] += 1
    return p_ptr, p_adj, p_cost, g_ptr, g_adj, g_cost, g_edge


_SHIFT = np.int64(32)
_MAX_KEY_DISTANCE = 2**31 - 1  # distances stay below a root's dual, at most the outlier weight, and below _INF


@numba.njit(cache=True, nogil=True, inline="always")
def _key(dist, v):
    """Heap key: distance in the high bits, vertex in the low 32 (ties by smaller vertex index)."""
    return (dist << _SHIFT) | v


@numba.njit(cache=True, nogil=True)
def _sift_up(heap, pos, i, key):
    while i > 0:
        parent = (i - 1) >> 2
        u = heap[parent]
        if key >= u:
            break
        heap[i] = u
        pos[u & 0xFFFFFFFF] = i
        i = parent
    heap[i] = key
    pos[key & 0xFFFFFFFF] = i


@numba.njit(cache=True, nogil=True)
def _heap_update(heap, pos, size, v, d):
    """Insert vertex v with distance d, or move it up after its distance decreased. Returns the new size.

    A 4-ary heap of keys (`_key`), indexed by vertex (pos[v]: v's slot, -1 when absent): each vertex is in it at
    most once, with its current distance, and comparing two keys is one integer comparison.
    """
    if pos[v] < 0:
        _sift_up(heap, pos, size, _key(d, v))
        return size + 1
    _sift_up(heap, pos, pos[v], _key(d, v))
    return size


@numba.njit(cache=True, nogil=True)
def _heap_pop(heap, pos, size):
    """Remove the first entry (the caller read heap[0]). Returns the new size."""
    pos[heap[0] & 0xFFFFFFFF] = -1
    size -= 1
    if size == 0:
        return 0
    key = heap[size]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best = first
        bk = heap[first]
        for c in range(first + 1, min(first + 4, size)):
            if heap[c] < bk:
                best = c
                bk = heap[c]
        if bk >= key:
            break
        heap[i] = bk
        pos[bk & 0xFFFFFFFF] = i
        i = best
    heap[i] = key
    pos[key & 0xFFFFFFFF] = i
    return size


@numba.njit(cache=True, nogil=True)
def _heap_clear(heap, pos, size):
    for k in range(size):
        pos[heap[k] & 0xFFFFFFFF] = -1


class Graph(NamedTuple):
    """The matching graph: sizes, outlier weight and admissible pairs in CSR, both ways (`build_graph`)."""

    n1: int
    n2: int
    ow: int
    p_ptr: np.ndarray
    p_adj: np.ndarray
    p_cost: np.ndarray
    g_ptr: np.ndarray
    g_adj: np.ndarray
    g_cost: np.ndarray
    g_edge: np.ndarray


@numba.njit(cache=True, nogil=True)
def _search(root, from_pred, g, state, work):
    """One Dijkstra search (module docstring) from `root`: a free predicted pixel with y > 0 (`from_pred`), or a GT
    pixel in deficit (free, z > 0). The root's side is the "near" side, whose vertices are expanded along their own
    CSR lists; the other side's vertices ("far") are the heap's, at dist[far_base + index]. Both searches share this
    code, mirrored; both sides' lists are sorted by cost, which allows an early stop.

    A far vertex with dist below the final Delta is exactly one that was popped (every vertex pushed closer than
    the bound is popped before the loop ends, and reduced costs are >= 0, so a popped vertex is never improved).
    """
    n1, n2, ow, p_ptr, p_adj, p_cost, g_ptr, g_adj, g_cost, g_edge = g
    active, y, z, mate_p, mate_g, mate_e = state
    dist, parent, parent_e, touched, heap, pos = work
    if from_pred:
        ptr, adj, cost, near_dual, far_dual, near_mate, far_mate, far_base = p_ptr, p_adj, p_cost, y, z, mate_p, \
            mate_g, 0
    else:
        ptr, adj, cost, near_dual, far_dual, near_mate, far_mate, far_base = g_ptr, g_adj, g_cost, z, y, mate_g, \
            mate_p, n2
    # Ties. The pairs chosen among equally good ones are those of scanning a GT pixel's list in increasing
    # predicted index (as this solver did before). The list is in increasing cost instead, for the early stop, so
    # the scan goes on through pairs as close as the bound (slack 1), and a free predicted pixel at the bound set
    # by this same list replaces the terminal when its index is smaller. Other effects of the order only touch
    # vertices at or beyond the final bound, which are never popped and whose duals do not move.
    slack = 0 if from_pred else 1
    n_touched = 0
    hs = 0
    v = root
    dv = 0
    bound = near_dual[root]  # the nearest terminal so far: the root itself left free
    term_near = root  # the terminal: a near vertex whose dual falls to zero, or a free far vertex
    term_far = -1
    while v >= 0:
        if dv + near_dual[v] < bound:
            bound = dv + near_dual[v]
            term_near, term_far = v, -1
        base = dv + near_dual[v] - ow
        tie_ok = False  # the terminal was set by this list (a GT pixel's)
        for e in range(ptr[v], ptr[v + 1]):
            if base + cost[e] >= bound + slack:
                break  # lists are in increasing cost and far duals are >= 0: no later pair comes closer
            k = adj[e]
            c = far_base + k
            if not from_pred and not active[k]:
                continue
            nd = base + far_dual[k] + cost[e]
            if nd >= bound and not (tie_ok and nd == bound and far_mate[k] < 0 and k < term_far):
                continue
            if nd >= dist[c]:
                continue
            if dist[c] == _INF:
                touched[n_touched] = c
                n_touched += 1
            dist[c] = nd
            parent[c] = v
            parent_e[c] = e if from_pred else g_edge[e]  # the pair's index in the predicted pixels' lists
            if far_mate[k] < 0:  # a free far vertex ends the search here at the latest
                bound = nd
                term_near, term_far = -1, k
                tie_ok = not from_pred
            else:
                hs = _heap_update(heap, pos, hs, c, nd)
        v = -1
        if hs > 0 and (heap[0] >> _SHIFT) < bound:
            c = heap[0] & 0xFFFFFFFF
            hs = _heap_pop(heap, pos, hs)
            v = far_mate[c - far_base]
            dv = dist[c]
    _heap_clear(heap, pos, hs)
    delta = bound
    near_dual[root] -= delta
    for t in range(n_touched):
        c = touched[t]
        if dist[c] < delta:
            far_dual[c - far_base] += delta - dist[c]
            near_dual[far_mate[c - far_base]] -= delta - dist[c]
        dist[c] = _INF  # the flip below reads parents only
    if term_far < 0 and term_near != root:  # near vertex term_near leaves the matching (the root: nothing changes)
        term_far = near_mate[term_near]
        near_mate[term_near] = -1
    if term_far >= 0:
        _flip_to_root(term_far, root, from_pred, far_base, near_mate, far_mate, mate_e, parent, parent_e)


@numba.njit(cache=True, nogil=True)
def _flip_to_root(k, root, from_pred, far_base, near_mate, far_mate, mate_e, parent, parent_e):
    """Far vertex k reached from `root`: match k to its parent, and so on back to the root."""
    while True:
        r = parent[far_base + k]
        following = near_mate[r]
        near_mate[r] = k
        far_mate[k] = r
        mate_e[r if from_pred else k] = parent_e[far_base + k]  # mate_e is indexed by the predicted pixel
        if r == root:
            return
        k = following


@numba.njit(cache=True, nogil=True)
def _insert(i, g, state, work):
    """Activate predicted pixel i with the smallest feasible dual, then search from it if it must be matched."""
    ow, p_ptr, p_adj, p_cost = g[2], g[3], g[4], g[5]
    active, y, z, mate_p = state[0], state[1], state[2], state[3]
    best = 0
    for e in range(p_ptr[i], p_ptr[i + 1]):
        best = max(best, ow - p_cost[e] - z[p_adj[e]])
    active[i] = 1
    y[i] = best
    mate_p[i] = -1
    if best > 0:
        _search(i, True, g, state, work)


@numba.njit(cache=True, nogil=True)
def _delete(i, state):
    """Deactivate predicted pixel i. Returns the GT pixel it leaves free with a positive dual (a deficit), or -1."""
    active, y, z, mate_p, mate_g = state[0], state[1], state[2], state[3], state[4]
    active[i] = 0
    y[i] = 0
    j = mate_p[i]
    mate_p[i] = -1
    if j < 0:
        return -1
    mate_g[j] = -1
    return j if z[j] > 0 else -1


@numba.njit(cache=True, nogil=True)
def _new_state(g):
    n1, n2 = g[0], g[1]
    state = (np.zeros(n1, dtype=np.uint8), np.zeros(n1, dtype=np.int32), np.zeros(n2, dtype=np.int32),
             np.full(n1, -1, dtype=np.int32), np.full(n2, -1, dtype=np.int32), np.full(n1, -1, dtype=np.int32))
    n_vertices = n1 + n2
    work = (np.full(n_vertices, _INF, dtype=np.int32), np.zeros(n_vertices, dtype=np.int32),
            np.zeros(n_vertices, dtype=np.int32), np.zeros(n_vertices, dtype=np.int32),
            np.empty(n_vertices, dtype=np.int64), np.full(n_vertices, -1, dtype=np.int32))
    return state, work


@numba.njit(cache=True, nogil=True)
def _apply_batch(g, state, work, nodes, inserted, start, stop, deficit):
    """One threshold: its deletions (increasing node order), its insertions, then the deficits' searches."""
    n_deficit = 0
    for t in range(start, stop):
        if not inserted[t]:
            j = _delete(nodes[t], state)
            if j >= 0:
                deficit[n_deficit] = j
                n_deficit += 1
    for t in range(start, stop):
        if inserted[t]:
            _insert(nodes[t], g, state, work)
    z, mate_g = state[2], state[4]
    for t in range(n_deficit):
        j = deficit[t]
        if mate_g[j] < 0 and z[j] > 0:
            _search(j, False, g, state, work)


@numba.njit(cache=True, nogil=True)
def sweep_graph(g, nodes, inserted, ptr, p_theta, g_theta, p_matched, p_oriented):
    """Optimal matchings after each batch of insertions and deletions of predicted nodes.

    Args:
        g: the graph tuple (`Graph`).
        nodes, inserted: (C,) int64 node indices and bool (True: the node enters, False: it leaves); batch l is
            nodes[ptr[l]:ptr[l + 1]], L batches, each in increasing node index (the order results are defined by).
        p_theta, g_theta: (N1,), (N2,) float64 orientations in radians, or empty arrays when not evaluated.
        p_matched, p_oriented: (L, N1) uint8 outputs, OR-ed with "matched" and "matched with a correct orientation"
            after batch l, so that several annotators can share them.

    Returns:
        n_matched (L,), total_cost (L,) in hundredths of a pixel, n_gt_oriented (L,): int64 per batch.
    """
    n1, n2, p_adj, p_cost, g_adj = g[0], g[1], g[4], g[5], g[7]
    if g_adj.shape[0] < p_adj.shape[0] and not inserted.all():  # built with gt_lists=False
        raise ValueError("sweep_graph: deletions need the GT side's lists (make_graph(..., gt_lists=True))")
    n_levels = ptr.shape[0] - 1
    state, work = _new_state(g)
    active, mate_p, mate_e = state[0], state[3], state[5]
    deficit = np.empty(n2 + 1, dtype=np.int64)
    n_matched = np.zeros(n_levels, dtype=np.int64)
    total_cost = np.zeros(n_levels, dtype=np.int64)
    n_gt_oriented = np.zeros(n_levels, dtype=np.int64)
    with_theta = p_theta.shape[0] > 0
    for level in range(n_levels):
        _apply_batch(g, state, work, nodes, inserted, ptr[level], ptr[level + 1], deficit)
        for i in range(n1):
            j = mate_p[i]
            if active[i] and j >= 0:
                n_matched[level] += 1
                total_cost[level] += p_cost[mate_e[i]]
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


def make_graph(pred_yx: np.ndarray, gt_map: np.ndarray, radius_px: float, *, gt_lists: bool = True) -> Graph:
    """The matching graph between predicted pixels `pred_yx` ((N1, 2) int64) and the GT pixels of `gt_map`.

    GT pixels are numbered in row-major order of `gt_map` ((H, W) bool). gt_lists=False leaves out the GT side's
    lists (`build_graph`): enough for insertions only (nested sets, `solve_partners`), half the building.
    """
    pred_yx = np.ascontiguousarray(pred_yx, dtype=np.int64).reshape(-1, 2)
    gt_yx = np.argwhere(gt_map).astype(np.int64)
    gt_index = np.full(gt_map.shape, -1, dtype=np.int32)
    gt_index[gt_yx[:, 0], gt_yx[:, 1]] = np.arange(len(gt_yx), dtype=np.int32)
    pred_index = np.full(gt_map.shape, -1, dtype=np.int32)
    pred_index[pred_yx[:, 0], pred_yx[:, 1]] = np.arange(len(pred_yx), dtype=np.int32)
    ow = outlier_weight(radius_px)
    if ow >= _MAX_KEY_DISTANCE or len(pred_yx) + len(gt_yx) >= 2**31:
        raise ValueError(f"matching: radius {radius_px:.1f} px or {len(pred_yx) + len(gt_yx)} pixels is beyond the "
                         "solver's 31-bit distances and vertex indices")
    dy, dx, cost = disk_offsets(radius_px)
    arrays = build_graph(pred_yx, pred_index, gt_yx, gt_index, dy, dx, cost, len(gt_yx) < len(pred_yx), gt_lists)
    return Graph(len(pred_yx), len(gt_yx), ow, *arrays)


@numba.njit(cache=True, nogil=True)
def solve_partners(g, nodes):
    """Insert `nodes` one by one; return each predicted node's GT partner (-1: none) and the pair cost (int64)."""
    n1 = g[0]
    state, work = _new_state(g)
    for t in range(nodes.shape[0]):
        _insert(nodes[t], g, state, work)
    active, mate_p, mate_e = state[0], state[3], state[5]
    partner = np.full(n1, -1, dtype=np.int64)
    cost = np.zeros(n1, dtype=np.int64)
    for i in range(n1):
        if active[i] and mate_p[i] >= 0:
            partner[i] = mate_p[i]
            cost[i] = g[5][mate_e[i]]
    return partner, cost

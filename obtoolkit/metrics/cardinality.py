"""Maximum-matching size across a threshold sweep: the count every single-annotator boundary count needs.

Why the size is enough. The benchmark's matching maximises the number of pairs first and only then minimises the
total distance (`matching`), so its number of pairs is the maximum matching size nu of the bipartite graph "predicted
pixel p -- GT pixel g, admissible when |p - g| <= r_px". With one annotator, cntR = cntP = nu: which pixels are paired
never enters the counts. This module computes nu at every threshold exactly, without costs.

Algorithm. Thresholds are processed from the highest to the lowest; between two thresholds, predicted pixels leave
(deletions, BSDS protocol only: thinned maps are not nested) and enter (insertions), deletions first. A maximum
matching M is kept throughout, with two kinds of marks that prune searches:

- Insertion of x: one search for an augmenting path from x (breadth first: x -> GT g -> mate(g) -> GT ...). If M was
  maximum before, M plus this path (or M itself when there is none) is maximum after, because every augmenting path
  of the new graph has x as an end (otherwise it was augmenting before).
- Deletion of a matched pixel p (mate g): M - (p, g) has size nu - 1 and every augmenting path of the new graph ends
  at g (same argument), so one search from g (g -> predicted q -> mate(q) -> ... -> a free predicted pixel) restores
  a maximum matching. Deleting an unmatched pixel keeps M maximum.
- Dead GT pixels (set D). When a search from an inserted x fails, every GT pixel it reached is matched and the mates
  of those pixels have all their GT neighbours in the reached set or in D. Invariant: every g in D is matched and
  N(mate(g)) is a subset of D. An alternating path entering D therefore never leaves it and never ends (D has no free
  pixel), so searches from predicted pixels skip D. Insertions and augmentations that avoid D keep the invariant;
  a search from a GT pixel outside D never enters D (it would arrive at mate(d) from a GT neighbour of mate(d), which
  is in D). Only the deletion of the mate of some g in D breaks it. The search from g then runs first (searches from
  GT pixels do not skip D). If it re-matches g along a path whose predicted pixels have all their GT neighbours in
  D, D is closed again (all of D is matched; the new mates' neighbourhoods lie in D; other mates did not change) and
  stays. Otherwise the set Y of dead pixels that can reach g (no path) or a dead GT pixel of the path (found
  backwards: h -> predicted neighbour q -> mate(q) if dead -> ...) leaves D. D \\ Y keeps the invariant: a dead d
  whose mate's neighbourhood meets Y reaches Y's seeds, so it is in Y, and the mates outside Y did not change.
- Exhausted predicted pixels (set E, valid during one threshold's deletions only). When a search from a freed GT
  pixel fails, every predicted pixel it reached is matched and every predicted neighbour of their mates was reached.
  Such a region holds no free predicted pixel and stays so under deletions and augmentations from GT pixels, so later
  searches from GT pixels skip it. Insertions could break it, so the marks are dropped before the insertions. When no
  predicted pixel is free at all, searches from GT pixels are skipped outright.

Each search costs the pixels it visits; failed searches are paid once per region (marks), successful ones are short
on these geometric graphs. Neighbours are found implicitly, row by row of the disk: GT pixels of a predicted pixel
with a next-GT-pixel table, predicted pixels of a GT pixel with a bitset of the active predicted pixels (64 pixels per
word), so listing the neighbours of a pixel costs O(r + neighbours), not O(r^2). Nothing of size "number of
admissible pairs" is stored: memory is O(H * W).
"""

from __future__ import annotations

import numba
import numpy as np

from obtoolkit.metrics.disk import disk_offsets


class DiskLayout:
    """Flat, padded image layout for disk neighbourhoods of radius r_px.

    Pixel (y, x) of an (H, W) image has flat index (y + pad) * wp + x + pad, with pad = ceil(r_px) + 1 so that every
    disk row stays inside the padded image without bounds checks, and wp a multiple of 64 so that a row of the
    active-pixel bitset starts on a word.
    """

    def __init__(self, height: int, width: int, radius_px: float) -> None:
        dy, dx, _ = disk_offsets(radius_px)
        self.reach = int(np.max(np.abs(dy))) if len(dy) else 0
        self.pad = self.reach + 1
        self.wp = -(-(width + 2 * self.pad) // 64) * 64
        self.hp = height + 2 * self.pad
        self.width = width
        half = np.zeros(2 * self.reach + 1, dtype=np.int64)
        for y, x in zip(dy, dx, strict=True):
            half[y + self.reach] = max(half[y + self.reach], abs(int(x)))
        self.row_half_width = half

    def flat(self, pixel: np.ndarray) -> np.ndarray:
        """(N,) int64 padded flat indices of row-major pixel indices y * W + x."""
        pixel = np.asarray(pixel, dtype=np.int64)
        return (pixel // self.width + self.pad) * self.wp + pixel % self.width + self.pad

    def geometry(self, gt: np.ndarray) -> tuple:
        """(gt_at, gt_pos, next_gt, row_half_width, reach, wp): GT index per padded pixel (int32, -1: none), GT flat
        positions (int64), next-GT-pixel table (int32), half widths of the disk rows, reach and row length."""
        gt_pos = self.flat(np.flatnonzero(gt.ravel()))
        gt_at = np.full(self.hp * self.wp, -1, dtype=np.int32)
        gt_at[gt_pos] = np.arange(len(gt_pos), dtype=np.int32)
        return gt_at, gt_pos, _next_gt_table(gt_at, self.wp), self.row_half_width, self.reach, self.wp


@numba.njit(cache=True, nogil=True)
def _next_gt_table(gt_at, wp):
    """next[q]: the first flat index >= q of the same row holding a GT pixel, or the row's end + wp."""
    n = gt_at.shape[0]
    nxt = np.empty(n, dtype=np.int32)
    for row_start in range(0, n, wp):
        following = row_start + 2 * wp
        for q in range(row_start + wp - 1, row_start - 1, -1):
            if gt_at[q] >= 0:
                following = q
            nxt[q] = following
    return nxt


# Index of the lowest set bit: (low * _DEBRUIJN) >> 58 is distinct for the 64 powers of two (a de Bruijn sequence).
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_TABLE = np.zeros(64, dtype=np.int64)
for _i in range(64):
    _DEBRUIJN_TABLE[(((1 << _i) * int(_DEBRUIJN)) % (1 << 64)) >> 58] = _i


@numba.njit(cache=True, nogil=True)
def _active_in_row(bits, first, last, out):
    """Write the active pixels of the flat range [first, last] (one row) to `out`; return how many."""
    n = 0
    w_first = first >> 6
    w_last = last >> 6
    for w in range(w_first, w_last + 1):
        word = bits[w]
        if w == w_first:
            word &= ~((np.uint64(1) << np.uint64(first & 63)) - np.uint64(1))
        if w == w_last:
            word &= (np.uint64(2) << np.uint64(last & 63)) - np.uint64(1)
        while word:
            low = word & (~word + np.uint64(1))
            out[n] = (w << 6) + _DEBRUIJN_TABLE[(low * _DEBRUIJN) >> np.uint64(58)]
            n += 1
            word ^= low
    return n


@numba.njit(cache=True, nogil=True)
def _new_state(n_flat, n_gt):
    """Matching state: (active bitset, pred_mate, gt_mate, dead, counters[n_matched, n_free_pred, epoch, phase])."""
    bits = np.zeros(n_flat // 64 + 1, dtype=np.uint64)
    pred_mate = np.full(n_flat, -1, dtype=np.int32)
    gt_mate = np.full(n_gt, -1, dtype=np.int64)
    dead = np.zeros(n_gt, dtype=np.uint8)
    counters = np.zeros(4, dtype=np.int64)
    return bits, pred_mate, gt_mate, dead, counters


@numba.njit(cache=True, nogil=True)
def _new_scratch(n_flat, n_gt, row_capacity):
    """Search scratch: GT stamps and parents, pred stamps and parents, exhausted marks, queue, visited, path, row."""
    size = max(n_gt, 1) + 1
    return (np.zeros(n_gt, dtype=np.int64), np.zeros(n_gt, dtype=np.int64), np.zeros(n_flat, dtype=np.int32),
            np.zeros(n_flat, dtype=np.int32), np.zeros(n_flat, dtype=np.int32), np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(row_capacity, dtype=np.int64))


@numba.njit(cache=True, nogil=True, inline="always")
def _search_from_pred(x, geo, state, scratch):
    """Augment from the free predicted pixel x if possible (skipping dead GT pixels); mark a failed search dead."""
    gt_at, gt_pos, next_gt, half, reach, wp = geo
    bits, pred_mate, gt_mate, dead, counters = state
    g_stamp, g_parent, p_stamp, p_parent, exhausted, queue, visited, path, row = scratch
    counters[2] += 1
    epoch = counters[2]
    queue[0] = x
    head, tail, n_visited = 0, 1, 0
    while head < tail:
        p = queue[head]
        head += 1
        for segment in range(4 * reach + 2):  # centre row first, then outwards; in a row, from p rightwards first
            i_row = segment >> 1
            k = reach + (i_row + 1) // 2 if i_row % 2 else reach - i_row // 2
            base = p + (k - reach) * wp
            if segment & 1:
                q, end = next_gt[base - half[k]], base - 1
            else:
                q, end = next_gt[base], base + half[k]
            while q <= end:
                g = gt_at[q]
                q = next_gt[q + 1]
                if dead[g] or g_stamp[g] == epoch:
                    continue
                g_stamp[g] = epoch
                g_parent[g] = p
                visited[n_visited] = g
                n_visited += 1
                if gt_mate[g] < 0:
                    while True:  # flip the alternating path back to x
                        r = g_parent[g]
                        previous = pred_mate[r]
                        pred_mate[r] = g
                        gt_mate[g] = r
                        if r == x:
                            break
                        g = previous
                    counters[0] += 1
                    counters[1] -= 1
                    return
                queue[tail] = gt_mate[g]
                tail += 1
    for t in range(n_visited):
        dead[visited[t]] = 1


@numba.njit(cache=True, nogil=True, inline="always")
def _search_from_gt(g0, geo, state, scratch):
    """Augment from the free GT pixel g0 to a free predicted pixel if possible; mark a failed search exhausted.

    Returns the length of the augmenting path (its predicted pixels are left in scratch's `path`), 0 on failure.
    """
    gt_at, gt_pos, next_gt, half, reach, wp = geo
    bits, pred_mate, gt_mate, dead, counters = state
    g_stamp, g_parent, p_stamp, p_parent, exhausted, queue, visited, path, row = scratch
    if counters[1] == 0:  # no free predicted pixel anywhere: no augmenting path
        return 0
    counters[2] += 1
    epoch = counters[2]
    phase = counters[3]
    queue[0] = g0
    head, tail, n_visited = 0, 1, 0
    while head < tail:
        h = queue[head]
        head += 1
        for i_row in range(2 * reach + 1):
            k = reach + (i_row + 1) // 2 if i_row % 2 else reach - i_row // 2  # centre row first, then outwards
            base = gt_pos[h] + (k - reach) * wp
            n_row = _active_in_row(bits, base - half[k], base + half[k], row)
            for i in range(n_row):
                p = row[i]
                if p_stamp[p] == epoch or exhausted[p] == phase:
                    continue
                p_stamp[p] = epoch
                p_parent[p] = h
                if pred_mate[p] < 0:
                    n_path = 0
                    while True:  # flip the alternating path back to g0
                        g = p_parent[p]
                        previous = gt_mate[g]
                        gt_mate[g] = p
                        pred_mate[p] = g
                        path[n_path] = p
                        n_path += 1
                        if g == g0:
                            break
                        p = previous
                    counters[0] += 1
                    counters[1] -= 1
                    return n_path
                visited[n_visited] = p
                n_visited += 1
                queue[tail] = pred_mate[p]
                tail += 1
    for t in range(n_visited):
        exhausted[visited[t]] = phase
    return 0


@numba.njit(cache=True, nogil=True, inline="always")
def _revive(queue, tail, geo, state, row):
    """Remove from D every dead GT pixel from which one of queue[:tail] (already removed) is reachable."""
    gt_at, gt_pos, next_gt, half, reach, wp = geo
    bits, pred_mate, gt_mate, dead, counters = state
    while tail > 0:
        tail -= 1
        h = queue[tail]
        for k in range(2 * reach + 1):
            base = gt_pos[h] + (k - reach) * wp
            n_row = _active_in_row(bits, base - half[k], base + half[k], row)
            for i in range(n_row):
                d = pred_mate[row[i]]
                if d >= 0 and dead[d]:
                    dead[d] = 0
                    queue[tail] = d
                    tail += 1


@numba.njit(cache=True, nogil=True, inline="always")
def _stays_dead(path, n_path, geo, dead):
    """True when every GT neighbour of every predicted pixel of the path is dead (D is closed again)."""
    gt_at, gt_pos, next_gt, half, reach, wp = geo
    for t in range(n_path):
        p = path[t]
        for k in range(2 * reach + 1):
            base = p + (k - reach) * wp
            end = base + half[k]
            q = next_gt[base - half[k]]
            while q <= end:
                if not dead[gt_at[q]]:
                    return False
                q = next_gt[q + 1]
    return True


@numba.njit(cache=True, nogil=True, inline="always")
def _insert(x, geo, state, scratch):
    bits, pred_mate, counters = state[0], state[1], state[4]
    bits[x >> 6] |= np.uint64(1) << np.uint64(x & 63)
    pred_mate[x] = -1
    counters[1] += 1
    _search_from_pred(x, geo, state, scratch)


@numba.njit(cache=True, nogil=True, inline="always")
def _delete(x, geo, state, scratch):
    bits, pred_mate, gt_mate, dead, counters = state
    bits[x >> 6] &= ~(np.uint64(1) << np.uint64(x & 63))
    g = pred_mate[x]
    if g < 0:
        counters[1] -= 1
        return
    pred_mate[x] = -1
    gt_mate[g] = -1
    counters[0] -= 1
    path = scratch[7]
    n_path = _search_from_gt(g, geo, state, scratch)
    if not dead[g] or (n_path > 0 and _stays_dead(path, n_path, geo, dead)):
        return
    # D lost its closure around g: revive what reaches g (no path) or the dead GT pixels of the path.
    queue = scratch[5]
    tail = 0
    if n_path == 0:
        dead[g] = 0
        queue[0] = g
        tail = 1
    for t in range(n_path):
        h = pred_mate[path[t]]
        if dead[h]:
            dead[h] = 0
            queue[tail] = h
            tail += 1
    _revive(queue, tail, geo, state, scratch[8])


@numba.njit(cache=True, nogil=True)
def sweep_sizes(geo, n_flat, pixels, inserted, ptr):
    """Maximum matching size after each batch of changes.

    Args:
        geo: `DiskLayout.geometry(gt)`.
        n_flat: size of the padded flat image.
        pixels: (C,) int64 padded flat indices of predicted pixels; inserted: (C,) bool (False: deletion).
        ptr: (L + 1,) int64; batch l is pixels[ptr[l]:ptr[l + 1]]. Within a batch deletions are applied first.

    Returns:
        (L,) int64 maximum matching size after each batch.
    """
    n_gt = geo[1].shape[0]
    state = _new_state(n_flat, n_gt)
    scratch = _new_scratch(n_flat, n_gt, 2 * geo[3].max() + 130 if geo[3].shape[0] else 130)
    counters = state[4]
    sizes = np.zeros(ptr.shape[0] - 1, dtype=np.int64)
    for level in range(ptr.shape[0] - 1):
        counters[3] += 1  # a new phase: exhausted marks of earlier batches no longer hold
        for t in range(ptr[level], ptr[level + 1]):
            if not inserted[t]:
                _delete(pixels[t], geo, state, scratch)
        for t in range(ptr[level], ptr[level + 1]):
            if inserted[t]:
                _insert(pixels[t], geo, state, scratch)
        sizes[level] = counters[0]
    return sizes


@numba.njit(cache=True, nogil=True)
def _final_matching(geo, n_flat, pixels):
    """Insert `pixels` (padded flat) in one batch; return each one's GT index (-1: unmatched)."""
    n_gt = geo[1].shape[0]
    state = _new_state(n_flat, n_gt)
    scratch = _new_scratch(n_flat, n_gt, 2 * geo[3].max() + 130 if geo[3].shape[0] else 130)
    for x in pixels:
        _insert(x, geo, state, scratch)
    partner = np.empty(pixels.shape[0], dtype=np.int64)
    for i in range(pixels.shape[0]):
        partner[i] = state[1][pixels[i]]
    return partner


def maximum_matching(pred_binary: np.ndarray, gt_binary: np.ndarray, radius_px: float) -> tuple[np.ndarray, np.ndarray]:
    """A maximum matching between two binary maps (as many pairs as the benchmark's optimal matching, fast).

    Unlike `matching.match_maps` it does not minimise the total distance, so among equally many pairs it may pick
    other pixels; used for pictures, where `match_maps` can be slow on dense maps.

    Args:
        pred_binary, gt_binary: (H, W) bool maps.
        radius_px: matching radius in pixels.

    Returns:
        pred_matched, gt_matched: (H, W) bool, the paired pixels.
    """
    h, w = gt_binary.shape
    layout = DiskLayout(h, w, radius_px)
    pred_pixel = np.flatnonzero(pred_binary.ravel())
    partner = _final_matching(layout.geometry(gt_binary), layout.hp * layout.wp, layout.flat(pred_pixel))
    pred_matched = np.zeros(h * w, dtype=bool)
    pred_matched[pred_pixel[partner >= 0]] = True
    gt_matched = np.zeros(h * w, dtype=bool)
    gt_matched[np.flatnonzero(gt_binary.ravel())[partner[partner >= 0]]] = True
    return pred_matched.reshape(h, w), gt_matched.reshape(h, w)


def matching_sizes(gt: np.ndarray, radius_px: float, pixel: np.ndarray, inserted: np.ndarray,
                   ptr: np.ndarray) -> np.ndarray:
    """Maximum matching size between the predicted set and `gt` after each batch of insertions / deletions.

    Args:
        gt: (H, W) bool GT map.
        radius_px: matching radius in pixels.
        pixel: (C,) int64 row-major indices y * W + x of predicted pixels entering (inserted True) or leaving the
            set; a pixel only enters when absent and only leaves when present.
        inserted: (C,) bool.
        ptr: (L + 1,) int64 batch boundaries.

    Returns:
        (L,) int64 sizes (= matched pairs of the benchmark's optimal matching) after each batch.
    """
    h, w = gt.shape
    layout = DiskLayout(h, w, radius_px)
    return sweep_sizes(layout.geometry(gt), layout.hp * layout.wp, layout.flat(pixel),
                       np.asarray(inserted, dtype=np.bool_), np.asarray(ptr, dtype=np.int64))

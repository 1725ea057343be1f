"""Morphological thinning: MATLAB's `bwmorph(B, 'thin', Inf)`, bit-identical to `skimage.morphology.thin`.

The algorithm is Guo & Hall's two-subiteration parallel thinning (Lam, Lee & Suen 1992, p. 879). Each subiteration
decides, for every foreground pixel and from the image as it was before the subiteration, whether to delete it; a
3x3 lookup table on the 8-neighbourhood encodes the decision. Full iterations (both subiterations) repeat until the
image stops changing; pixels outside the image count as background.

Two facts make it cheap:

1. Sparse passes. After the first two subiterations only pixels next to a deletion of the two previous
   subiterations are re-examined: a pixel's decision depends on its 8 neighbours alone, so a pixel whose
   neighbourhood did not change since the last subiteration with the same table keeps its decision (it was not
   deleted then, so it is not deleted now). Cost: proportional to the foreground, not to the frame.
2. Decomposition over 8-connected components. A pixel's 3x3 neighbourhood holds pixels of its own 8-connected
   component and background only, so the thinning of an image is the union of the thinnings of its components.
   Across thresholds (`sweep_thinning`) the foreground only grows as the threshold falls; a component that received no
   new pixel is unchanged and keeps its thinned pixels, and only components that received new pixels (merged ones
   included) are thinned again. An 8-bit map whose level set does not change between two thresholds costs nothing.
   Components are tracked with a union-find whose classes carry circular pixel lists, so a component's pixels are
   listed in time proportional to its size.

Cost of `sweep_thinning`: O(F) union-find work for the F pixels above the lowest threshold, plus, per threshold, the
size of the components that changed. Worst cases: a map whose foreground is one giant component at most thresholds
(dense noise above the percolation density, a smooth field whose level sets are large blobs) costs about the sum over
thresholds of the foreground, roughly 30-70 ns per foreground pixel and threshold.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numba
import numpy as np

from obtoolkit._checks import check_array


def _deletes(code: int, second: bool) -> bool:
    """Guo-Hall deletion test for one 8-neighbourhood; bit k of `code` is neighbour x_{k+1}."""
    x = [(code >> k) & 1 for k in range(8)]

    def nb(i: int) -> int:  # 1-based, cyclic: x_9 == x_1
        return x[(i - 1) % 8]

    crossings = sum(1 for i in range(1, 5) if nb(2 * i - 1) == 0 and (nb(2 * i) or nb(2 * i + 1)))
    n1 = sum(nb(2 * k - 1) | nb(2 * k) for k in range(1, 5))
    n2 = sum(nb(2 * k) | nb(2 * k + 1) for k in range(1, 5))
    if second:
        g3 = ((nb(6) | nb(7) | (1 - nb(4))) & nb(5)) == 0
    else:
        g3 = ((nb(2) | nb(3) | (1 - nb(8))) & nb(1)) == 0
    return crossings == 1 and 2 <= min(n1, n2) <= 3 and g3


@functools.cache
def guo_hall_luts() -> tuple[np.ndarray, np.ndarray]:
    """The two deletion lookup tables, each (256,) bool, indexed by the neighbourhood code (bit k = x_{k+1})."""
    first = np.array([_deletes(code, second=False) for code in range(256)], dtype=bool)
    second = np.array([_deletes(code, second=True) for code in range(256)], dtype=bool)
    return first, second


def _luts_uint8() -> tuple[np.ndarray, np.ndarray]:
    first, second = guo_hall_luts()
    return first.astype(np.uint8), second.astype(np.uint8)


@numba.njit(cache=True, nogil=True, inline="always")
def _code(img, p, wp):
    """Neighbourhood code of flat pixel p in a padded image of row length wp (E, NE, N, NW, W, SW, S, SE)."""
    return (img[p + 1] | (img[p - wp + 1] << 1) | (img[p - wp] << 2) | (img[p - wp - 1] << 3)
            | (img[p - 1] << 4) | (img[p + wp - 1] << 5) | (img[p + wp] << 6) | (img[p + wp + 1] << 7))


@numba.njit(cache=True, nogil=True)
def _subiteration(img, candidates, n_candidates, lut, wp, deleted):
    """Decide on all candidates from the current image, then delete; return how many were deleted."""
    n_deleted = 0
    for c in range(n_candidates):
        p = candidates[c]
        if img[p] and lut[_code(img, p, wp)]:
            deleted[n_deleted] = p
            n_deleted += 1
    for d in range(n_deleted):
        img[deleted[d]] = 0
    return n_deleted


@numba.njit(cache=True, nogil=True)
def _wake_neighbours(img, deleted, n_deleted, wp, pending, lists, n_listed, parities):
    """Queue the foreground 8-neighbours of `deleted` for the next subiterations of the given parities.

    pending[q] bit k is set while q is in lists[k] (once per list). Returns the new list lengths.
    """
    n0, n1 = n_listed
    for d in range(n_deleted):
        p = deleted[d]
        for q in (p + 1, p - wp + 1, p - wp, p - wp - 1, p - 1, p + wp - 1, p + wp, p + wp + 1):
            if not img[q]:
                continue
            flags = pending[q]
            if parities & 1 and not flags & 1:
                lists[0, n0] = q
                n0 += 1
            if parities & 2 and not flags & 2:
                lists[1, n1] = q
                n1 += 1
            pending[q] = flags | parities
    return n0, n1


@numba.njit(cache=True, nogil=True)
def _drop_queues(pending, lists, n_listed):
    for k in range(2):
        for c in range(n_listed[k]):
            pending[lists[k, c]] = 0


@numba.njit(cache=True, nogil=True)
def thin_flat(img, pixels, n, lut_first, lut_second, wp, pending, work):
    """Thin, in place, the foreground pixels `pixels[:n]` of a flat zero-framed uint8 image.

    Subiterations 0 and 1 examine every pixel. Afterwards, while deletions are dense (more than one per 8 remaining
    pixels over the two previous subiterations) every remaining pixel is examined, which costs less than listing
    neighbours; examining a pixel with no recent deletion around is harmless (it keeps "not deleted"). Once they are
    sparse, a pixel is examined at subiteration s only when a neighbour was deleted at s - 1 or s - 2: each deletion
    queues its neighbours once per table (parity), so the neighbours of a deletion are listed once, not twice.

    Args:
        img: (Hp * Wp,) uint8 image with a zero frame of at least one pixel; foreground 1. Pixels outside `pixels`
            must not be 8-adjacent to them (other components, background).
        pixels: (>= n,) int64 flat indices of the foreground to thin.
        lut_first, lut_second: (256,) uint8 deletion tables.
        wp: row length of the flat image.
        pending: (Hp * Wp,) uint8 scratch, all zero on entry and on return.
        work: (6, >= n) int64 scratch.
    """
    lists, remaining = work[0:2], work[2]
    deleted = (work[3], work[4], work[5])  # rotating: two subiterations ago, the last one, the current one
    n_prev = _subiteration(img, pixels, n, lut_first, wp, deleted[0])
    n_last = _subiteration(img, pixels, n, lut_second, wp, deleted[1])
    remaining[:n] = pixels[:n]
    n_remaining = n
    n_listed = (0, 0)
    queued = False
    step = 2
    i_prev, i_last, i_new = 0, 1, 2
    while n_prev + n_last > 0:
        parity = step % 2
        lut = lut_first if parity == 0 else lut_second
        if 8 * (n_prev + n_last) >= n_remaining:
            if queued:
                _drop_queues(pending, lists, n_listed)
                n_listed, queued = (0, 0), False
            kept = 0
            for i in range(n_remaining):
                if img[remaining[i]]:
                    remaining[kept] = remaining[i]
                    kept += 1
            n_remaining = kept
            n_new = _subiteration(img, remaining, n_remaining, lut, wp, deleted[i_new])
        else:
            if not queued:
                n_listed = _wake_neighbours(img, deleted[i_prev], n_prev, wp, pending, lists, (0, 0), 1 << parity)
                n_listed = _wake_neighbours(img, deleted[i_last], n_last, wp, pending, lists, n_listed, 3)
                queued = True
            listed = lists[parity]
            n_cand = n_listed[parity]
            bit = np.uint8(1 << parity)
            for c in range(n_cand):
                pending[listed[c]] &= ~bit
            n_listed = (0, n_listed[1]) if parity == 0 else (n_listed[0], 0)
            n_new = _subiteration(img, listed, n_cand, lut, wp, deleted[i_new])
            n_listed = _wake_neighbours(img, deleted[i_new], n_new, wp, pending, lists, n_listed, 3)
        i_prev, i_last, i_new = i_last, i_new, i_prev
        n_prev, n_last = n_last, n_new
        step += 1
    if queued:
        _drop_queues(pending, lists, n_listed)


def thin(binary: np.ndarray) -> np.ndarray:
    """Thin a binary map to 8-connected 1-pixel-wide curves (MATLAB `bwmorph(B, 'thin', Inf)`).

    Args:
        binary: (H, W) bool or integer map; nonzero is foreground.

    Returns:
        (H, W) bool thinned map, a subset of the foreground; identical to `skimage.morphology.thin(binary)`.
    """
    check_array("binary", binary, shape=(None, None), kind="biu")
    h, w = binary.shape
    padded = np.zeros((h + 2, w + 2), dtype=np.uint8)
    padded[1:-1, 1:-1] = binary != 0
    flat = padded.ravel()
    pixels = np.flatnonzero(flat).astype(np.int64)
    lut_first, lut_second = _luts_uint8()
    work = np.empty((6, max(len(pixels), 1)), dtype=np.int64)
    thin_flat(flat, pixels, len(pixels), lut_first, lut_second, w + 2, np.zeros_like(flat), work)
    return padded[1:-1, 1:-1].astype(bool)


class LevelChanges(NamedTuple):
    """A pixel set at every threshold, as the changes from one threshold to the next, highest threshold first.

    pixel: (C,) int64 row-major pixel index y * W + x; inserted: (C,) bool, True where the pixel enters the set,
    False where it leaves it; ptr: (K + 1,) int64, the changes on the way to threshold k (from threshold k + 1, or
    from the empty set for k = K - 1) are pixel[ptr[K - 1 - k] : ptr[K - k]] ("level" K - 1 - k).
    """

    pixel: np.ndarray
    inserted: np.ndarray
    ptr: np.ndarray


@numba.njit(cache=True, nogil=True)
def _find(parent, p):
    while parent[p] != p:
        parent[p] = parent[parent[p]]
        p = parent[p]
    return p


@numba.njit(cache=True, nogil=True)
def _union(parent, size, ring, a, b):
    """Merge the classes of a and b (by size) and splice their circular pixel lists."""
    a = _find(parent, a)
    b = _find(parent, b)
    if a == b:
        return
    if size[a] < size[b]:
        a, b = b, a
    parent[b] = a
    size[a] += size[b]
    ring[a], ring[b] = ring[b], ring[a]


@numba.njit(cache=True, nogil=True)
def _grow(array, n_needed):
    if n_needed <= array.shape[0]:
        return array
    bigger = np.empty(max(n_needed, 2 * array.shape[0]), dtype=array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


@numba.njit(cache=True, nogil=True)
def _dirty_pixels(order, start, stop, parent, size, ring, seen, stamp, n_flat, buffer):
    """Pixels of the components that received order[start:stop] (one list; the components are not adjacent).

    Small totals are listed component by component from the circular lists; large ones by one raster scan, which
    visits them in memory order (much faster to thin than the scattered order of the lists).
    """
    total = 0
    for t in range(start, stop):
        root = _find(parent, order[t])
        if seen[root] != stamp:
            seen[root] = stamp
            total += size[root]
    buffer = _grow(buffer, total)
    n = 0
    if 8 * total < n_flat:
        for t in range(start, stop):
            root = _find(parent, order[t])
            if seen[root] != stamp:
                continue
            seen[root] = -stamp
            q = root
            for _ in range(size[root]):
                buffer[n] = q
                n += 1
                q = ring[q]
    else:
        for q in range(n_flat):
            if parent[q] >= 0 and seen[_find(parent, q)] == stamp:
                buffer[n] = q
                n += 1
    return buffer, n


@numba.njit(cache=True, nogil=True)
def _sweep(order, counts, hp, wp, lut_first, lut_second):
    """Kernel of `sweep_thinning` on padded flat indices; see there."""
    n_flat = hp * wp
    img = np.zeros(n_flat, dtype=np.uint8)  # thinned map of the current threshold
    parent = np.full(n_flat, -1, dtype=np.int32)  # -1: not foreground yet
    size = np.zeros(n_flat, dtype=np.int32)
    ring = np.zeros(n_flat, dtype=np.int32)
    seen = np.zeros(n_flat, dtype=np.int32)  # +-(level + 1) on the roots of changed components
    marked = np.zeros(n_flat, dtype=np.uint8)
    n_levels = counts.shape[0]
    pixel = np.empty(max(16, counts[0]), dtype=np.int64)
    inserted = np.empty(max(16, counts[0]), dtype=np.uint8)
    ptr = np.zeros(n_levels + 1, dtype=np.int64)
    buffer = np.empty(16, dtype=np.int64)
    before = np.empty(16, dtype=np.uint8)
    work = np.empty((6, 16), dtype=np.int64)
    n_changes = 0
    start = 0
    for level in range(n_levels):
        stop = counts[n_levels - 1 - level]
        for t in range(start, stop):
            p = order[t]
            parent[p] = p
            size[p] = 1
            ring[p] = p
        for t in range(start, stop):
            p = order[t]
            for q in (p + 1, p - wp + 1, p - wp, p - wp - 1, p - 1, p + wp - 1, p + wp, p + wp + 1):
                if parent[q] >= 0:
                    _union(parent, size, ring, p, q)
        buffer, m = _dirty_pixels(order, start, stop, parent, size, ring, seen, level + 1, n_flat, buffer)
        before = _grow(before, m)
        if work.shape[1] < m:
            work = np.empty((6, max(m, 2 * work.shape[1])), dtype=np.int64)
        for i in range(m):
            before[i] = img[buffer[i]]
            img[buffer[i]] = 1
        thin_flat(img, buffer, m, lut_first, lut_second, wp, marked, work)
        pixel = _grow(pixel, n_changes + m)
        inserted = _grow(inserted, n_changes + m)
        for i in range(m):
            if img[buffer[i]] != before[i]:
                pixel[n_changes] = buffer[i]
                inserted[n_changes] = img[buffer[i]]
                n_changes += 1
        start = stop
        ptr[level + 1] = n_changes
    return pixel[:n_changes], inserted[:n_changes], ptr


def sweep_thinning(values: np.ndarray, thresholds_: np.ndarray) -> LevelChanges:
    """thin([values >= t]) for every threshold t, computed from the highest threshold down, reusing what is unchanged.

    Args:
        values: (H, W) float map (no NaN).
        thresholds_: (K,) increasing thresholds.

    Returns:
        LevelChanges; replaying them gives, at each threshold t, exactly `thin(values >= t)`.
    """
    check_array("values", values, shape=(None, None), kind="f")
    h, w = values.shape
    thr = np.asarray(thresholds_, dtype=np.float64)
    if len(thr) > 1 and np.any(np.diff(thr) <= 0):
        raise ValueError("thresholds_: expected strictly increasing values")
    flat_values = values.ravel()
    above = np.flatnonzero(flat_values >= thr[0]) if len(thr) else np.zeros(0, np.int64)
    above = above[np.argsort(-flat_values[above], kind="stable")]
    counts = np.searchsorted(-flat_values[above], -thr, side="right").astype(np.int64)
    order = (above // w + 1) * (w + 2) + above % w + 1
    lut_first, lut_second = _luts_uint8()
    padded_pixel, inserted, ptr = _sweep(order.astype(np.int64), counts, h + 2, w + 2, lut_first, lut_second)
    pixel = (padded_pixel // (w + 2) - 1) * w + padded_pixel % (w + 2) - 1
    return LevelChanges(pixel, inserted.astype(bool), ptr)

"""Morphological thinning: MATLAB's `bwmorph(B, 'thin', Inf)`, bit-identical to `skimage.morphology.thin`.

The algorithm is Guo & Hall's two-subiteration parallel thinning (Lam, Lee & Suen 1992, p. 879). Each subiteration
decides, for every foreground pixel and from the image as it was before the subiteration, whether to delete it; the
decision depends on the pixel's 8-neighbourhood alone (`guo_hall_luts`: the two tables, the definition). Full
iterations (both subiterations) repeat until the image stops changing; pixels outside the image count as background.

Bit-packed rows. A row is a sequence of uint64 words, 64 pixels each, and one subiteration decides a word's 64
pixels at once: the eight neighbour planes are shifts of the nine words around it, and the tables' test is written as
about sixty bitwise operations (`_deletable`; a test checks it against the tables on all 256 neighbourhoods).
Layout: `bits[y + 1, 1 + x // 64]` holds pixel (y, x) at bit x % 64; the first and last rows and the first and last
word of every row are zero guards.

Sparse passes. After the first two subiterations, while deletions are sparse, a word is decided again only when a
word of its 3x3 word neighbourhood had a deletion in one of the two previous subiterations: a pixel whose
neighbourhood did not change since the last subiteration with the same table keeps its decision (it was not deleted
then, so it is not deleted now). While deletions are dense every word is decided, which costs less than listing.

Across thresholds (`sweep_thinning`) the foreground grows as the threshold falls, and every level is thinned again
from its foreground, on the whole frame: thinning is per 8-connected component and deterministic, so the
components that received no new pixel come out as they were, and the changes are what differs from the previous
level's thinned map. Cost per threshold: O(H W / 64) words for the two full subiterations and the comparison, plus
O(words around deletions) per later subiteration; the worst maps are those whose level sets are large blobs (a
smooth field), peeled one pixel layer per iteration.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numba
import numpy as np

from obtoolkit._checks import check_array

_U1 = np.uint64(1)
_U63 = np.uint64(63)
_DENSE = 4  # every word is decided while the two previous subiterations deleted in more than 1 / _DENSE of them


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


@numba.njit(cache=True, nogil=True, inline="always")
def _deletable(a_l, a, a_r, m_l, m, m_r, b_l, b, b_r, second):
    """Pixels of word m deleted by one Guo-Hall subiteration, from the 3x3 words around it (a: above, b: below).

    Neighbour planes x1..x8 as in `thinning._deletes` (E, NE, N, NW, W, SW, S, SE); x9 == x1.
    """
    x1 = (m >> _U1) | (m_r << _U63)
    x2 = (a >> _U1) | (a_r << _U63)
    x3 = a
    x4 = (a << _U1) | (a_l >> _U63)
    x5 = (m << _U1) | (m_l >> _U63)
    x6 = (b << _U1) | (b_l >> _U63)
    x7 = b
    x8 = (b >> _U1) | (b_r << _U63)
    # crossing number == 1: exactly one of the four "0 then a 1 in the next two" patterns
    c1 = ~x1 & (x2 | x3)
    c2 = ~x3 & (x4 | x5)
    c3 = ~x5 & (x6 | x7)
    c4 = ~x7 & (x8 | x1)
    one_crossing = (c1 | c2 | c3 | c4) & ~((c1 & (c2 | c3 | c4)) | (c2 & (c3 | c4)) | (c3 & c4))
    # 2 <= min(N1, N2) <= 3 with N1 = sum of (x_{2k-1} | x_{2k}), N2 = sum of (x_{2k} | x_{2k+1}), k = 1..4
    p1, p2, p3, p4 = x1 | x2, x3 | x4, x5 | x6, x7 | x8
    q1, q2, q3, q4 = x2 | x3, x4 | x5, x6 | x7, x8 | x1
    n1_ge2 = (p1 & (p2 | p3 | p4)) | (p2 & (p3 | p4)) | (p3 & p4)
    n2_ge2 = (q1 & (q2 | q3 | q4)) | (q2 & (q3 | q4)) | (q3 & q4)
    both_4 = p1 & p2 & p3 & p4 & q1 & q2 & q3 & q4
    count_ok = n1_ge2 & n2_ge2 & ~both_4
    if second:
        g3 = ~((x6 | x7 | ~x4) & x5)
    else:
        g3 = ~((x2 | x3 | ~x8) & x1)
    return m & one_crossing & count_ok & g3


@numba.njit(cache=True, nogil=True)
def _decide(flat, c, row, second):
    """Deletions of word c of the flat packed image (rows of `row` words)."""
    return _deletable(flat[c - row - 1], flat[c - row], flat[c - row + 1], flat[c - 1], flat[c], flat[c + 1],
                      flat[c + row - 1], flat[c + row], flat[c + row + 1], second)


@numba.njit(cache=True, nogil=True)
def _candidates(deleted, n_deleted, row, step, stamp, out, n_out):
    """Append to `out` the words of the 3x3 word neighbourhoods of `deleted` not yet stamped with `step`."""
    for i in range(n_deleted):
        c = np.int64(deleted[i])
        for q in (c - row - 1, c - row, c - row + 1, c - 1, c, c + 1, c + row - 1, c + row, c + row + 1):
            if stamp[q] != step:
                stamp[q] = step
                out[n_out] = q
                n_out += 1
    return n_out


@numba.njit(cache=True, nogil=True)
def thin_bits(bits, stamp, words, masks):
    """Thin, in place, the bit-packed image `bits` (layout in the module docstring) to Guo-Hall's fixed point.

    Args:
        bits: (H + 2, n_words + 2) uint64, zero guard rows and words; C-contiguous.
        stamp: (bits.size,) int32 scratch; words: (4, bits.size) int32 scratch; masks: (bits.size,) uint64 scratch.

    Returns:
        Number of subiterations run.
    """
    n_rows, row = bits.shape
    flat = bits.reshape(bits.size)
    stamp[:] = -1
    deleted = (words[0], words[1], words[2])  # rotating: two subiterations ago, the last one, the current one
    candidates = words[3]
    n_prev, n_last = 0, 0
    i_prev, i_last, i_new = 0, 1, 2
    step = 0
    quiet = 0  # subiterations in a row without a deletion: two end the thinning
    while quiet < 2:
        second = step % 2 == 1
        if step < 2 or _DENSE * (n_prev + n_last) > n_rows * row:
            n_cand = 0
            for y in range(1, n_rows - 1):
                for k in range(1, row - 1):
                    candidates[n_cand] = y * row + k
                    n_cand += 1
        else:
            n_cand = _candidates(deleted[i_prev], n_prev, row, step, stamp, candidates, 0)
            n_cand = _candidates(deleted[i_last], n_last, row, step, stamp, candidates, n_cand)
        current = deleted[i_new]
        n_new = 0
        for i in range(n_cand):
            c = candidates[i]
            if flat[c] == 0:
                continue
            d = _decide(flat, c, row, second)
            if d:
                current[n_new] = c
                masks[n_new] = d
                n_new += 1
        for i in range(n_new):
            flat[current[i]] &= ~masks[i]
        quiet = 0 if n_new else quiet + 1
        i_prev, i_last, i_new = i_last, i_new, i_prev
        n_prev, n_last = n_last, n_new
        step += 1
    return step


def pack_rows(binary: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H + 2, ceil(W / 64) + 2) uint64 packed rows with zero guard rows and words (module docstring)."""
    h, w = binary.shape
    n_words = (w + 63) // 64
    padded = np.zeros((h + 2, 64 * (n_words + 2)), dtype=bool)
    padded[1:-1, 64 : 64 + w] = binary
    return np.packbits(padded, axis=1, bitorder="little").view(np.uint64).reshape(h + 2, n_words + 2)


def unpack_rows(bits: np.ndarray, width: int) -> np.ndarray:
    """Inverse of `pack_rows`: (H + 2, n_words + 2) uint64 -> (H, W) bool."""
    as_bytes = np.ascontiguousarray(bits).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[1:-1, 64 : 64 + width].astype(bool)


@numba.njit(cache=True, nogil=True)
def _scratch(n_words):
    """The scratch arrays of `thin_bits` for a packed image of n_words words (guards included)."""
    return np.empty(n_words, np.int32), np.empty((4, n_words), np.int32), np.empty(n_words, np.uint64)


def thin(binary: np.ndarray) -> np.ndarray:
    """Thin a binary map to 8-connected 1-pixel-wide curves (MATLAB `bwmorph(B, 'thin', Inf)`).

    Args:
        binary: (H, W) bool or integer map; nonzero is foreground.

    Returns:
        (H, W) bool thinned map, a subset of the foreground; identical to `skimage.morphology.thin(binary)`.
    """
    check_array("binary", binary, shape=(None, None), kind="biu")
    bits = pack_rows(np.asarray(binary) != 0)
    thin_bits(bits, *_scratch(bits.size))
    return unpack_rows(bits, binary.shape[1])


class LevelChanges(NamedTuple):
    """A pixel set at every threshold, as the changes from one threshold to the next, highest threshold first.

    pixel: (C,) int64 row-major pixel index y * W + x; inserted: (C,) bool, True where the pixel enters the set,
    False where it leaves it; ptr: (K + 1,) int64, the changes on the way to threshold k (from threshold k + 1, or
    from the empty set for k = K - 1) are pixel[ptr[K - 1 - k] : ptr[K - k]] ("level" K - 1 - k).
    """

    pixel: np.ndarray
    inserted: np.ndarray
    ptr: np.ndarray


_DEBRUIJN = np.array([0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43, 22, 45,
                      39, 33, 30, 24, 18, 12, 5, 63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11, 46,
                      26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6], dtype=np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def _lowest_bit(word):
    """Index of the lowest set bit of a nonzero uint64 (de Bruijn multiplication)."""
    return _DEBRUIJN[((word & (~word + _U1)) * np.uint64(0x03F79D71B4CB0A89)) >> np.uint64(58)]


@numba.njit(cache=True, nogil=True)
def _append_changes(old_bits, new_bits, width, pixel, inserted, n_changes):
    """Append the pixels (y * width + x, raster order) where `new_bits` differs from `old_bits`; return the count."""
    n_rows, row = new_bits.shape
    for y in range(1, n_rows - 1):
        for k in range(1, row - 1):
            diff = old_bits[y, k] ^ new_bits[y, k]
            while diff:
                j = _lowest_bit(diff)
                diff &= diff - _U1
                pixel[n_changes] = (y - 1) * width + 64 * (k - 1) + j
                inserted[n_changes] = (new_bits[y, k] >> np.uint64(j)) & _U1
                n_changes += 1
    return n_changes


@numba.njit(cache=True, nogil=True)
def _by_level(above, enter, n_levels):
    """The pixels `above` grouped by the threshold index at which they enter (`enter`, >= 0): pixels[first[k] :
    first[k + 1]] enter at k."""
    first = np.zeros(n_levels + 1, dtype=np.int64)
    for k in enter:
        first[k + 1] += 1
    for k in range(n_levels):
        first[k + 1] += first[k]
    fill = first[:-1].copy()
    pixels = np.empty(above.shape[0], dtype=np.int64)
    for t in range(above.shape[0]):
        pixels[fill[enter[t]]] = above[t]
        fill[enter[t]] += 1
    return pixels, first


@numba.njit(cache=True, nogil=True)
def _sweep(above, enter, n_levels, height, width):
    """Kernel of `sweep_thinning`: above (F,) the pixels y * W + x at or above the lowest threshold, enter (F,) the
    highest threshold index each reaches."""
    pixels, first = _by_level(above, enter, n_levels)
    row = (width + 63) // 64 + 2
    fore_bits = np.zeros((height + 2, row), dtype=np.uint64)  # [values >= t]
    old_bits = np.zeros_like(fore_bits)  # the thinned map of the previous threshold
    new_bits = np.zeros_like(fore_bits)
    stamp, words, masks = _scratch(fore_bits.size)
    pixel = np.empty(max(16, pixels.shape[0]), dtype=np.int64)
    inserted = np.empty(pixel.shape[0], dtype=np.uint8)
    ptr = np.zeros(n_levels + 1, dtype=np.int64)
    n_changes = 0
    for level in range(n_levels):
        k = n_levels - 1 - level
        ptr[level + 1] = n_changes
        if first[k] == first[k + 1]:
            continue  # same foreground, same thinned map
        for p in pixels[first[k] : first[k + 1]]:
            y, x = p // width, p % width
            fore_bits[y + 1, 1 + x // 64] |= _U1 << np.uint64(x % 64)
        new_bits[:] = fore_bits
        thin_bits(new_bits, stamp, words, masks)
        n_fore = first[n_levels] - first[k]  # a level changes at most its foreground
        if pixel.shape[0] < n_changes + n_fore:
            size = max(n_changes + n_fore, 2 * pixel.shape[0])
            pixel = np.concatenate((pixel[:n_changes], np.empty(size - n_changes, np.int64)))
            inserted = np.concatenate((inserted[:n_changes], np.empty(size - n_changes, np.uint8)))
        n_changes = _append_changes(old_bits, new_bits, width, pixel, inserted, n_changes)
        old_bits, new_bits = new_bits, old_bits
        ptr[level + 1] = n_changes
    return pixel[:n_changes], inserted[:n_changes], ptr


def sweep_thinning(values: np.ndarray, thresholds_: np.ndarray) -> LevelChanges:
    """thin([values >= t]) for every threshold t, from the highest threshold down, as changes between thresholds.

    Args:
        values: (H, W) float map (no NaN).
        thresholds_: (K,) increasing thresholds.

    Returns:
        LevelChanges, each level's changes in raster order; replaying them gives, at each threshold t, exactly
        `thin(values >= t)`.
    """
    check_array("values", values, shape=(None, None), kind="f")
    h, w = values.shape
    thr = np.asarray(thresholds_, dtype=np.float64)
    if len(thr) > 1 and np.any(np.diff(thr) <= 0):
        raise ValueError("thresholds_: expected strictly increasing values")
    flat_values = values.ravel()
    above = np.flatnonzero(flat_values >= thr[0]) if len(thr) else np.zeros(0, np.int64)
    enter = np.searchsorted(thr, flat_values[above], side="right").astype(np.int64) - 1
    pixel, inserted, ptr = _sweep(above.astype(np.int64), enter, len(thr), h, w)
    return LevelChanges(pixel, inserted.astype(bool), ptr)

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import thin as skimage_thin

from bench.stress_maps import FAMILIES, make_case
from obtoolkit.metrics.thinning import _deletable, guo_hall_luts, pack_rows, sweep_thinning, thin, unpack_rows


def test_luts_match_scikit_image_tables():
    from skimage.morphology import _skeletonize

    first, second = guo_hall_luts()
    assert np.array_equal(first, _skeletonize.G123_LUT)
    assert np.array_equal(second, _skeletonize.G123P_LUT)


# neighbour k of the code (E, NE, N, NW, W, SW, S, SE) as (row above / same / below, column offset)
_NEIGHBOURS = [(1, 1), (0, 1), (0, 0), (0, -1), (1, -1), (2, -1), (2, 0), (2, 1)]


@pytest.mark.parametrize("column", [0, 5, 63])  # 0 and 63 take neighbours from the words beside
def test_packed_decision_equals_the_tables_on_every_neighbourhood(column):
    first, second = guo_hall_luts()
    for code in range(256):
        rows = np.zeros((3, 3 * 64), dtype=bool)  # three words per row: left, centre, right
        rows[1, 64 + column] = True
        for k, (r, dx) in enumerate(_NEIGHBOURS):
            rows[r, 64 + column + dx] = bool(code >> k & 1)
        words = np.packbits(rows, axis=1, bitorder="little").view(np.uint64)
        for table, is_second in ((first, False), (second, True)):
            deleted = _deletable(*words[0], *words[1], *words[2], is_second)
            assert bool(deleted >> np.uint64(column) & np.uint64(1)) == table[code], (code, is_second)


def test_pack_rows_round_trip():
    rng = np.random.default_rng(3)
    for h, w in [(1, 1), (3, 63), (2, 64), (5, 65), (4, 200)]:
        binary = rng.random((h, w)) < 0.5
        bits = pack_rows(binary)
        assert bits.shape == (h + 2, (w + 63) // 64 + 2) and not bits[0].any() and not bits[-1].any()
        assert not bits[:, 0].any() and not bits[:, -1].any()
        assert np.array_equal(unpack_rows(bits, w), binary)


@pytest.mark.parametrize("seed", range(4))
def test_bit_identical_to_skimage_on_random_and_blobby_maps(seed):
    rng = np.random.default_rng(seed)
    for k in range(60):
        h, w = rng.integers(1, 48, 2) if k < 40 else rng.integers(60, 200, 2)  # several words per row
        if k % 2:
            binary = rng.random((h, w)) < rng.uniform(0.1, 0.9)
        else:
            binary = ndimage.gaussian_filter(rng.random((h, w)), rng.uniform(0.5, 4)) > 0.5
        assert np.array_equal(thin(binary), skimage_thin(binary)), (seed, k)


def test_full_and_border_touching_blobs():
    for binary in (np.ones((9, 13), bool), np.pad(np.ones((5, 5), bool), ((0, 4), (3, 0)))):
        assert np.array_equal(thin(binary), skimage_thin(binary))


def test_known_values_and_edge_cases():
    line = np.zeros((5, 7), bool)
    line[2, 1:6] = True
    assert np.array_equal(thin(line), line)  # already thin
    assert not thin(np.zeros((4, 4), bool)).any()
    assert thin(np.ones((1, 1), bool)).all()
    assert thin(np.array([[0, 2], [0, 0]], dtype=np.uint8)).dtype == bool


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="binary"):
        thin(np.zeros((3, 3, 3), bool))
    with pytest.raises(ValueError, match="binary"):
        thin(np.zeros((3, 3), np.float32))


def _replay(sweep, n_thresholds, shape):
    """The thinned map at every threshold (index k), rebuilt from the changes of `sweep_thinning`."""
    current = np.zeros(shape[0] * shape[1], dtype=bool)
    maps = [None] * n_thresholds
    for level in range(n_thresholds):
        part = slice(sweep.ptr[level], sweep.ptr[level + 1])
        assert not (current[sweep.pixel[part]] == sweep.inserted[part]).any()  # a change changes something
        current[sweep.pixel[part]] = sweep.inserted[part]
        maps[n_thresholds - 1 - level] = current.reshape(shape).copy()
    return maps


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sweep_equals_thinning_every_threshold_from_scratch(family):
    """Reusing unchanged components across thresholds gives skimage's thinning of every thresholded map."""
    thr = np.linspace(0.01, 0.99, 99)
    for seed, (h, w) in enumerate([(31, 47), (40, 29)]):
        pred, _ = make_case(family, h, w, seed)
        for k, thinned in enumerate(_replay(sweep_thinning(pred, thr), len(thr), (h, w))):
            assert np.array_equal(thinned, skimage_thin(pred >= thr[k])), (family, seed, k)


def test_sweep_merges_components_and_handles_ties_and_empty_levels():
    values = np.zeros((9, 12))
    values[2:7, 1:4] = 0.9  # a blob
    values[2:7, 6:9] = 0.9  # another blob
    values[4, 4:6] = 0.5  # a bridge that merges them at threshold 0.5
    values[0, 11] = 0.2
    thr = np.array([0.1, 0.3, 0.5, 0.7, 0.95])
    maps = _replay(sweep_thinning(values, thr), len(thr), values.shape)
    for k, t in enumerate(thr):
        assert np.array_equal(maps[k], skimage_thin(values >= t))
    assert not maps[-1].any()
    with pytest.raises(ValueError, match="increasing"):
        sweep_thinning(values, np.array([0.5, 0.3]))

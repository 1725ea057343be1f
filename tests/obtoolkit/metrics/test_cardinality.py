from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial import cKDTree

from bench.stress_maps import FAMILIES, make_case
from obtoolkit.metrics.boundary import BoundaryEvalOptions, binary_map, image_boundary_counts
from obtoolkit.metrics.cardinality import DiskLayout, matching_sizes, maximum_matching
from obtoolkit.metrics.disk import disk_offsets
from obtoolkit.metrics.matching import matching_radius_px

from .conftest import random_maps
from .test_matching import brute_force


def _random_batches(rng, h, w, n_levels, density):
    """Random insert/delete batches over an (h, w) frame and the predicted set after each batch."""
    present = np.zeros(h * w, dtype=bool)
    pixel, inserted, ptr, states = [], [], [0], []
    for _ in range(n_levels):
        for q in rng.permutation(h * w)[: rng.integers(0, h * w + 1)]:
            if rng.random() < (density if not present[q] else 1 - density):
                pixel.append(q)
                inserted.append(not present[q])
                present[q] = not present[q]
        ptr.append(len(pixel))
        states.append(present.reshape(h, w).copy())
    return np.array(pixel, dtype=np.int64), np.array(inserted, dtype=bool), np.array(ptr), states


@pytest.mark.parametrize("seed", range(4))
def test_sizes_equal_dense_brute_force_under_insertions_and_deletions(seed):
    """Every batch's size == the dense assignment's match count on that batch's set (dead/exhausted marks included)."""
    rng = np.random.default_rng(seed)
    for k in range(60):
        h, w = rng.integers(2, 18, 2)
        gt = rng.random((h, w)) < rng.uniform(0.02, 0.7)
        radius = float(rng.uniform(0.5, 3.5))
        pixel, inserted, ptr, states = _random_batches(rng, h, w, int(rng.integers(1, 9)), rng.uniform(0.2, 0.9))
        sizes = matching_sizes(gt, radius, pixel, inserted, ptr)
        assert list(sizes) == [brute_force(state, gt, radius)[0] for state in states], (seed, k)


def test_insertions_only_and_empty_inputs():
    rng = np.random.default_rng(9)
    gt = rng.random((12, 15)) < 0.3
    order = rng.permutation(12 * 15)
    ptr = np.array([0, 20, 60, 180])
    sizes = matching_sizes(gt, 2.0, order, np.ones(180, dtype=bool), ptr)
    expected = []
    for end in ptr[1:]:
        pred = np.zeros(12 * 15, dtype=bool)
        pred[order[:end]] = True
        expected.append(brute_force(pred.reshape(12, 15), gt, 2.0)[0])
    assert list(sizes) == expected
    assert list(matching_sizes(np.zeros((4, 4), bool), 1.5, order[:5] % 16, np.ones(5, bool), np.array([0, 5]))) == [0]
    assert list(matching_sizes(gt, 2.0, np.zeros(0, np.int64), np.zeros(0, bool), np.array([0, 0, 0]))) == [0, 0]


def test_disk_layout_rows_cover_exactly_the_disk():
    for radius in (0.5, 1.0, 1.5, 2.9, 6.0, 9.6):
        layout = DiskLayout(7, 9, radius)
        dy, dx, _ = disk_offsets(radius)
        half = layout.row_half_width
        from_rows = {(y - layout.reach, x) for y in range(len(half)) for x in range(-half[y], half[y] + 1)}
        assert from_rows == set(zip(dy.tolist(), dx.tolist(), strict=True))
        assert layout.wp % 64 == 0 and layout.pad > layout.reach


def test_maximum_matching_has_the_benchmark_count_and_admissible_pairs():
    rng = np.random.default_rng(4)
    for _ in range(40):
        pred, gt = random_maps(rng, 20, density=(0.05, 0.6))
        radius = float(rng.uniform(0.5, 3.0))
        pred_matched, gt_matched = maximum_matching(pred, gt, radius)
        assert pred_matched.sum() == gt_matched.sum() == brute_force(pred, gt, radius)[0]
        assert not (pred_matched & ~pred).any() and not (gt_matched & ~gt).any()


def scipy_matching_size(pred, gt, radius_px):
    """Maximum matching size by scipy's Hopcroft-Karp on the explicit graph (|p - g| <= r): an independent reference
    that, unlike the dense assignment, stays fast on maps of a few thousand pixels."""
    p, g = np.argwhere(pred).astype(np.float64), np.argwhere(gt).astype(np.float64)
    if len(p) == 0 or len(g) == 0:
        return 0
    pairs = cKDTree(p).sparse_distance_matrix(cKDTree(g), radius_px + 1e-9, output_type="coo_matrix")
    keep = np.hypot(*(p[pairs.row] - g[pairs.col]).T) <= radius_px
    graph = csr_matrix((np.ones(keep.sum()), (pairs.row[keep], pairs.col[keep])), shape=(len(p), len(g)))
    return int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())


def test_scipy_reference_agrees_with_the_dense_assignment():
    rng = np.random.default_rng(3)
    for _ in range(30):
        pred, gt = random_maps(rng, 16, density=(0.05, 0.7))
        radius = float(rng.uniform(0.5, 3.0))
        assert scipy_matching_size(pred, gt, radius) == brute_force(pred, gt, radius)[0]


@pytest.mark.parametrize("family", sorted(f for f in FAMILIES if not f.startswith("five_annotators")))
def test_bsds_sweep_on_stress_families_equals_a_maximum_matching_per_threshold(family):
    """BSDS protocol on larger stress maps (thinned sets are not nested: many deletions of matched pixels, so dead
    regions lose their mates and are re-matched or revived): each threshold's count == scipy's maximum matching of
    that threshold's set thinned from scratch."""
    for seed, (h, w, max_dist) in enumerate([(48, 64, 0.06), (40, 52, 0.1), (56, 40, 0.035)]):
        pred, gts = make_case(family, h, w, seed)
        options = BoundaryEvalOptions(protocol="bsds", n_thresholds=49, max_dist=max_dist)
        counts = image_boundary_counts(pred, gts, options)
        radius = matching_radius_px(h, w, max_dist)
        for k, t in enumerate(counts.thresholds):
            n = scipy_matching_size(binary_map(pred, t, options), gts[0], radius)
            assert counts.cnt_r[k] == counts.cnt_p[k] == n, (family, seed, k)


def test_long_random_walks_of_insertions_and_deletions_on_geometric_maps():
    """Many levels that toggle clustered pixels on and off (mates of dead GT pixels are deleted often) around a
    boundary-like GT: every level's size == scipy's maximum matching."""
    rng = np.random.default_rng(21)
    for k in range(12):
        h, w = rng.integers(20, 48, 2)
        gt = make_case("nms_like", int(h), int(w), k)[1][0] | (rng.random((h, w)) < rng.uniform(0.0, 0.05))
        radius = float(rng.uniform(1.0, 4.5))
        present = np.zeros(h * w, dtype=bool)
        pixel, inserted, ptr, states = [], [], [0], []
        for _ in range(60):
            y, x = rng.integers(0, h), rng.integers(0, w)
            half = int(rng.integers(1, 6))
            box = np.zeros((h, w), dtype=bool)
            box[max(y - half, 0): y + half + 1, max(x - half, 0): x + half + 1] = True
            flip = np.flatnonzero(box.ravel() & (rng.random(h * w) < rng.uniform(0.2, 1.0)))
            for q in rng.permutation(flip):
                pixel.append(q)
                inserted.append(not present[q])
                present[q] = not present[q]
            ptr.append(len(pixel))
            states.append(present.reshape(h, w).copy())
        sizes = matching_sizes(gt, radius, np.array(pixel, dtype=np.int64), np.array(inserted, dtype=bool),
                               np.array(ptr))
        assert list(sizes) == [scipy_matching_size(s, gt, radius) for s in states], k

"""The incremental min-cost engine against independent dense solves after every batch of insertions and deletions."""

from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.metrics import assignment
from obtoolkit.metrics.disk import disk_offsets

from .conftest import random_maps
from .test_cardinality import _random_batches
from .test_matching import brute_force


def _sweep(pixel, inserted, ptr, gt, radius, theta=None):
    """Run `sweep_graph` over the universe of touched pixels; per-batch counts, costs and matched-pixel maps."""
    h, w = gt.shape
    universe = np.unique(pixel)
    node = np.searchsorted(universe, pixel).astype(np.int64)
    yx = np.stack([universe // w, universe % w], axis=1).astype(np.int64)
    graph = assignment.make_graph(yx, gt, radius)
    n_levels = len(ptr) - 1
    p_matched = np.zeros((n_levels, len(yx)), dtype=np.uint8)
    p_oriented = np.zeros_like(p_matched)
    p_theta, g_theta = (np.zeros(0), np.zeros(0)) if theta is None else (theta[0][yx[:, 0], yx[:, 1]], theta[1][gt])
    counts, costs, oriented = assignment.sweep_graph(tuple(graph), node, inserted, np.asarray(ptr, dtype=np.int64),
                                                     p_theta, g_theta, p_matched, p_oriented)
    maps = np.zeros((n_levels, h * w), dtype=bool)
    maps[:, universe] = p_matched.astype(bool)
    return counts, costs, oriented, maps.reshape(n_levels, h, w)


@pytest.mark.parametrize("seed", range(4))
def test_every_batch_is_an_optimal_matching(seed):
    """Count and total distance after each batch == a dense assignment of that batch's set; deletions make deficits
    (freed GT pixels with positive duals), so both searches and the deficit repair are exercised."""
    rng = np.random.default_rng(100 + seed)
    for k in range(50):
        h, w = rng.integers(2, 16, 2)
        gt = rng.random((h, w)) < rng.uniform(0.02, 0.7)
        radius = float(rng.uniform(0.5, 3.5))
        pixel, inserted, ptr, states = _random_batches(rng, h, w, int(rng.integers(1, 9)), rng.uniform(0.2, 0.9))
        if not len(pixel):
            continue
        counts, costs, _, maps = _sweep(pixel, inserted, ptr, gt, radius)
        for level, state in enumerate(states):
            assert (counts[level], costs[level]) == brute_force(state, gt, radius), (seed, k, level)
            assert maps[level].sum() == counts[level] and not (maps[level] & ~state).any(), (seed, k, level)


def test_dense_clusters_with_heavy_churn():
    """Clustered maps where most pixels compete for a few GT pixels, many batches: the regime of several annotators."""
    rng = np.random.default_rng(7)
    for k in range(12):
        h, w = 14, 18
        gt = np.zeros((h, w), dtype=bool)
        gt[rng.integers(0, h), :] = True
        gt[:, rng.integers(0, w)] = True
        pixel, inserted, ptr, states = _random_batches(rng, h, w, 12, 0.6)
        counts, costs, _, _ = _sweep(pixel, inserted, ptr, gt, 2.5)
        assert [(int(a), int(b)) for a, b in zip(counts, costs, strict=True)] == [
            brute_force(state, gt, 2.5) for state in states], k


def test_oriented_counts_count_matched_pairs_within_ninety_degrees():
    rng = np.random.default_rng(3)
    h, w = 12, 12
    gt = rng.random((h, w)) < 0.3
    pixel = rng.permutation(h * w)[:60].astype(np.int64)
    ptr = np.array([0, 60])
    theta_p = np.full((h, w), 0.3)
    same = _sweep(pixel, np.ones(60, dtype=bool), ptr, gt, 2.0, (theta_p, theta_p + 0.2))
    opposite = _sweep(pixel, np.ones(60, dtype=bool), ptr, gt, 2.0, (theta_p, theta_p + np.pi))
    assert same[2][0] == same[0][0] > 0  # every pair within 90 degrees
    assert opposite[2][0] == 0 and opposite[0][0] == same[0][0]


def test_partners_form_an_optimal_one_to_one_matching():
    rng = np.random.default_rng(5)
    for _ in range(30):
        pred, gt = random_maps(rng, 14, density=(0.1, 0.7))
        radius = float(rng.uniform(0.8, 3.0))
        yx = np.argwhere(pred).astype(np.int64)
        graph = assignment.make_graph(yx, gt, radius)
        partner, cost = assignment.solve_partners(tuple(graph), np.arange(graph.n1, dtype=np.int64))
        matched = partner >= 0
        assert len(set(partner[matched].tolist())) == matched.sum()
        gt_yx = np.argwhere(gt)[partner[matched]]
        distance = np.hypot(*(yx[matched] - gt_yx).T)
        assert (distance <= radius).all() and np.array_equal(cost[matched], np.rint(100 * distance).astype(int))
        assert (int(matched.sum()), int(cost.sum())) == brute_force(pred, gt, radius)


def test_graph_is_the_same_walked_from_either_side():
    rng = np.random.default_rng(8)
    for _ in range(20):
        h, w = rng.integers(1, 20, 2)
        pred, gt = rng.random((h, w)) < rng.uniform(0.0, 0.8), rng.random((h, w)) < rng.uniform(0.0, 0.8)
        pred_yx, gt_yx = np.argwhere(pred).astype(np.int64), np.argwhere(gt).astype(np.int64)
        pred_index, gt_index = np.full((h, w), -1, dtype=np.int64), np.full((h, w), -1, dtype=np.int64)
        pred_index[pred], gt_index[gt] = np.arange(len(pred_yx)), np.arange(len(gt_yx))
        radius = float(rng.uniform(0.5, 4.0))
        offsets = disk_offsets(radius)
        a = assignment.build_graph(pred_yx, pred_index, gt_yx, gt_index, *offsets, False)
        b = assignment.build_graph(pred_yx, pred_index, gt_yx, gt_index, *offsets, True)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        pairs = sum(int((np.hypot(*(gt_yx - q).T) <= radius).sum()) for q in pred_yx)
        assert len(a[1]) == pairs


def test_graph_without_gt_lists_serves_insertions_and_refuses_deletions():
    rng = np.random.default_rng(9)
    pred, gt = rng.random((20, 24)) < 0.3, rng.random((20, 24)) < 0.2
    yx = np.argwhere(pred).astype(np.int64)
    full = assignment.make_graph(yx, gt, 2.5)
    lean = assignment.make_graph(yx, gt, 2.5, gt_lists=False)
    assert all(np.array_equal(a, b) for a, b in zip(full[:7], lean[:7], strict=True))  # sizes, p lists, g_ptr
    assert len(lean.g_adj) == len(lean.g_cost) == len(lean.g_edge) == 0
    nodes = np.arange(len(yx), dtype=np.int64)
    assert np.array_equal(assignment.solve_partners(tuple(full), nodes)[0],
                          assignment.solve_partners(tuple(lean), nodes)[0])
    empty = np.zeros(0)
    matched = np.zeros((2, len(yx)), dtype=np.uint8)
    inserted = np.array([True] * len(yx) + [False])
    with pytest.raises(ValueError, match="gt_lists"):
        assignment.sweep_graph(tuple(lean), np.append(nodes, 0), inserted, np.array([0, len(yx), len(yx) + 1]),
                               empty, empty, matched, matched.copy())

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench.stress_maps import FAMILIES, make_case
from obtoolkit.metrics.boundary import (
    BoundaryEvalOptions,
    BoundaryMetric,
    binary_map,
    image_best,
    image_boundary_counts,
    thresholds,
)
from obtoolkit.metrics.maps_io import read_ground_truth, read_prediction_png
from obtoolkit.metrics.matching import matching_radius_px

from .conftest import soft_map_and_gt
from .test_matching import brute_force

BSDS_IMAGES = ("2018", "3063", "5096", "6046", "8068")


def test_thresholds_and_options():
    assert np.allclose(thresholds(99)[[0, -1]], [0.01, 0.99])
    assert np.allclose(thresholds(5), [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])
    assert BoundaryEvalOptions(protocol="bsds").thin and not BoundaryEvalOptions(protocol="bsds").nms
    assert BoundaryEvalOptions().nms and not BoundaryEvalOptions().thin
    assert not BoundaryEvalOptions(apply_nms=False).nms
    with pytest.raises(ValueError, match="protocol"):
        BoundaryEvalOptions(protocol="pdollar")
    with pytest.raises(ValueError, match="max_dist"):
        BoundaryEvalOptions(max_dist=0)


@pytest.mark.parametrize("protocol", ["bsds", "occlusion"])
def test_sweep_counts_equal_brute_force_per_threshold(protocol):
    """Incremental sweep == an independent dense solve of every thresholded (thinned / NMS'd) map."""
    rng = np.random.default_rng(5)
    options = BoundaryEvalOptions(protocol=protocol, n_thresholds=9, max_dist=0.06)
    for _ in range(3):
        pred, gt = soft_map_and_gt(rng, 26, 30)
        counts = image_boundary_counts(pred, gt, options)
        radius = matching_radius_px(26, 30, options.max_dist)
        for k, t in enumerate(counts.thresholds):
            binary = binary_map(pred, t, options)
            n, _ = brute_force(binary, gt, radius)
            assert counts.cnt_r[k] == counts.cnt_p[k] == n
            assert counts.sum_p[k] == binary.sum() and counts.sum_r[k] == gt.sum()


def test_multiple_annotators_count_recall_per_annotator_and_precision_once():
    rng = np.random.default_rng(2)
    pred, gt_a = soft_map_and_gt(rng, 24, 24)
    gt_b = np.roll(gt_a, 1, axis=1)
    options = BoundaryEvalOptions(protocol="bsds", n_thresholds=5, max_dist=0.05)
    both = image_boundary_counts(pred, [gt_a, gt_b], options)
    one_a = image_boundary_counts(pred, gt_a, options)
    one_b = image_boundary_counts(pred, gt_b, options)
    assert np.array_equal(both.cnt_r, one_a.cnt_r + one_b.cnt_r)
    assert np.array_equal(both.sum_r, one_a.sum_r + one_b.sum_r)
    assert (both.cnt_p >= np.maximum(one_a.cnt_p, one_b.cnt_p)).all()
    assert (both.cnt_p <= np.minimum(one_a.cnt_p + one_b.cnt_p, both.sum_p)).all()


def test_valid_mask_drops_pixels_on_both_sides():
    rng = np.random.default_rng(4)
    pred, gt = soft_map_and_gt(rng, 30, 30)
    mask = np.zeros((30, 30), bool)
    mask[:, :15] = True
    options = BoundaryEvalOptions(protocol="occlusion", n_thresholds=5, max_dist=0.05)
    counts = image_boundary_counts(pred, gt, options, valid_mask=mask)
    assert counts.sum_r[0] == (gt & mask).sum()
    assert counts.sum_p[2] == (binary_map(pred, counts.thresholds[2], options) & mask).sum()


def test_perfect_prediction_scores_one():
    gt = np.zeros((40, 40), bool)
    gt[20, 5:35] = True
    options = BoundaryEvalOptions(protocol="bsds", n_thresholds=9)
    metric = BoundaryMetric(thresholds(9))
    metric.update(image_boundary_counts(gt.astype(np.float64), gt, options))
    result = metric.compute()
    assert result.ods.f_measure == pytest.approx(1.0) and result.ois_f == pytest.approx(1.0)


def test_streaming_equals_one_call():
    rng = np.random.default_rng(8)
    options = BoundaryEvalOptions(n_thresholds=7, max_dist=0.05)
    all_counts = [image_boundary_counts(*soft_map_and_gt(rng, 20, 24), options) for _ in range(4)]
    once, streamed = BoundaryMetric(thresholds(7)), BoundaryMetric(thresholds(7))
    once.update(all_counts)
    streamed.update(all_counts[:1])
    streamed.update(all_counts[1:3])
    streamed.update(all_counts[3])
    a, b = once.compute(), streamed.compute()
    assert a.as_dict() == b.as_dict() and np.array_equal(a.curve, b.curve)
    assert np.isnan(BoundaryMetric(thresholds(7)).compute().ods.f_measure)


def test_errors_name_the_problem():
    options = BoundaryEvalOptions(n_thresholds=3)
    with pytest.raises(ValueError, match="gt_boundaries"):
        image_boundary_counts(np.zeros((4, 4)), np.zeros((4, 5), bool), options, where="img7")
    with pytest.raises(ValueError, match="at least one"):
        image_boundary_counts(np.zeros((4, 4)), [], options)
    with pytest.raises(ValueError, match="pred_prob"):
        image_boundary_counts(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), options)


@pytest.fixture(scope="module")
def berkeley_counts(shared_fixtures):
    """Counts of the five BSDS benchmark images (computed once for the tests below)."""
    return _bsds_counts(shared_fixtures / "bsds500_bench")


def _bsds_counts(root):
    options = BoundaryEvalOptions(protocol="bsds", n_thresholds=5, max_dist=0.0075)
    return [image_boundary_counts(read_prediction_png(root / "png" / f"{n}.png"),
                                  read_ground_truth(root / "groundTruth" / f"{n}.mat"), options, where=n)
            for n in BSDS_IMAGES]


def test_berkeley_benchmark_oracle(shared_fixtures, berkeley_counts):
    """The MATLAB outputs of the BSDS benchmark's own test: nthresh 5, maxDist 0.0075, thinning, 5-6 annotators."""
    root = shared_fixtures / "bsds500_bench"
    all_counts = berkeley_counts
    metric = BoundaryMetric(thresholds(5))
    metric.update(all_counts)
    result = metric.compute()
    expected = np.loadtxt(root / "test_2" / "eval_bdry.txt")
    ours = [result.ods.threshold, result.ods.recall, result.ods.precision, result.ods.f_measure,
            result.ois_recall, result.ois_precision, result.ois_f, result.ap]
    assert np.abs(np.array(ours) - expected).max() <= 1e-3
    per_threshold = np.loadtxt(root / "test_2" / "eval_bdry_thr.txt")
    assert np.abs(result.curve - per_threshold).max() <= 1e-3
    per_image = np.loadtxt(root / "test_2" / "eval_bdry_img.txt")
    best = np.array([list(image_best(c)) for c in all_counts])
    assert np.abs(best[:, 1:] - per_image[:, 2:]).max() <= 2e-3
    assert np.abs(best[:, 0] - per_image[:, 1]).max() <= 1e-3


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("protocol", ["bsds", "occlusion"])
def test_stress_families_equal_brute_force_per_threshold(family, protocol):
    """Maps of every stress family: each threshold's count == an independent dense solve per annotator."""
    options = BoundaryEvalOptions(protocol=protocol, n_thresholds=19, max_dist=0.08)
    pred, gts = make_case(family, 16, 21, 3)
    counts = image_boundary_counts(pred, gts, options)
    radius = matching_radius_px(16, 21, options.max_dist)
    for k, t in enumerate(counts.thresholds):
        binary = binary_map(pred, t, options)
        per_annotator = [brute_force(binary, gt, radius)[0] for gt in gts]
        assert counts.cnt_r[k] == sum(per_annotator), (family, k)
        assert max(per_annotator) <= counts.cnt_p[k] <= min(sum(per_annotator), binary.sum()), (family, k)
        if len(gts) == 1:
            assert counts.cnt_p[k] == per_annotator[0]
        assert counts.sum_p[k] == binary.sum() and counts.sum_r[k] == sum(int(gt.sum()) for gt in gts)


FIRST_RELEASE = "first_release_counts.json"  # the square-assignment matcher at commit 3904087
PAIR_COUNTS = "pair_counts.json"  # the max-weight primal-dual engine (issue 11), its choice among equal optima
# Counts every optimal matching shares (pairs per annotator, set sizes); the rest depends on which pixels are paired.
TIE_FREE_KEYS = ("cnt_r", "sum_r", "sum_p")


def _frozen_cases(name):
    return {case["name"]: case for case in json.loads((Path(__file__).parent / "data" / name).read_text())["cases"]}


def _assert_same_counts(counts, frozen, keys=None):
    for key, expected in frozen.items():
        if key != "name" and (keys is None or key in keys):
            assert getattr(counts, key).tolist() == expected, (frozen["name"], key)


def _pair_dependent_cases():
    """(name, counts) of three annotators and of orientations, both protocols, on four soft maps."""
    rng = np.random.default_rng(11)
    for k in range(4):
        pred, gt = soft_map_and_gt(rng, 30, 36)
        gts = [gt, np.roll(gt, 1, axis=1), np.roll(gt, -1, axis=0)]
        theta_p = rng.uniform(-np.pi, np.pi, gt.shape)
        theta_g = [rng.uniform(-np.pi, np.pi, gt.shape) for _ in gts]
        for protocol in ("occlusion", "bsds"):
            options = BoundaryEvalOptions(protocol=protocol, n_thresholds=99, max_dist=0.05)
            yield f"three_annotators/{k}/{protocol}", image_boundary_counts(pred, gts, options)
            yield f"oriented/{k}/{protocol}", image_boundary_counts(
                pred, gt, options, pred_orientation_rad=theta_p, gt_orientations_rad=theta_g[0])


def test_pair_dependent_counts_keep_the_optimum_and_are_frozen():
    """Several annotators and orientation counts depend on which pixels are paired among equally good matchings.
    What every optimum shares equals the first release; the rest is frozen for the current engine, and cntP stays
    within 1 % of the first release's."""
    first, current = _frozen_cases(FIRST_RELEASE), _frozen_cases(PAIR_COUNTS)
    for name, counts in _pair_dependent_cases():
        _assert_same_counts(counts, first[name], TIE_FREE_KEYS)
        _assert_same_counts(counts, current[name])
        before = np.array(first[name]["cnt_p"])
        assert np.abs(counts.cnt_p - before).max() <= max(2, 0.01 * before.max()), name


def test_berkeley_counts_keep_the_optimum_and_are_frozen(berkeley_counts):
    first, current = _frozen_cases(FIRST_RELEASE), _frozen_cases(PAIR_COUNTS)
    for name, counts in zip(BSDS_IMAGES, berkeley_counts, strict=True):
        _assert_same_counts(counts, first[f"bsds500_bench/{name}"], TIE_FREE_KEYS)
        _assert_same_counts(counts, current[f"bsds500_bench/{name}"])


def test_options_counts_and_metrics_pickle_for_worker_processes():
    options = BoundaryEvalOptions(protocol="bsds", n_thresholds=5)
    pred, gt = soft_map_and_gt(np.random.default_rng(1), 20, 20)
    counts = image_boundary_counts(pred, gt, options)
    metric = BoundaryMetric(thresholds(5))
    metric.update(counts)
    for thing in (options, counts, metric):
        again = pickle.loads(pickle.dumps(thing))
        assert type(again) is type(thing)
    assert pickle.loads(pickle.dumps(counts)).cnt_r.tolist() == counts.cnt_r.tolist()
    assert repr(pickle.loads(pickle.dumps(metric)).compute().as_dict()) == repr(metric.compute().as_dict())  # NaN-safe


def test_paired_counts_do_not_depend_on_the_order_within_a_level():
    """Each level's changes are applied in increasing node order whatever order they arrive in."""
    from obtoolkit.metrics import boundary
    from obtoolkit.metrics.thinning import LevelChanges, sweep_thinning

    pred, gts = make_case("five_annotators", 48, 64, 0)
    radius = matching_radius_px(48, 64, 0.0075)
    raster = sweep_thinning(pred, np.linspace(0.01, 0.99, 99))
    rng = np.random.default_rng(0)
    levels = zip(raster.ptr[:-1], raster.ptr[1:], strict=True)
    shuffled = np.concatenate([rng.permutation(np.arange(a, b)) for a, b in levels])
    scrambled = LevelChanges(raster.pixel[shuffled], raster.inserted[shuffled], raster.ptr)
    first = boundary._paired_counts(raster, gts, radius, None, 64, False)
    second = boundary._paired_counts(scrambled, gts, radius, None, 64, False)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))

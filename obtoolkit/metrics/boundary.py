"""Boundary benchmark (ODS / OIS / AP / R50): per-image counts, and an accumulator with update / compute.

Per image (`image_boundary_counts`):
1. optional edge NMS of the soft map (occlusion protocol: once, no thinning);
2. for each threshold t_k = linspace(1/(K+1), 1 - 1/(K+1), K): B_k = [P >= t_k], thinned in the BSDS protocol;
3. predictions outside `valid_mask` are dropped (after thinning), GT pixels outside it too;
4. B_k is matched one-to-one to every annotator (`matching`), within r_px = max_dist * diagonal;
5. counts per threshold: cntR = sum over annotators of matched GT pixels, sumR = sum of GT pixels,
   cntP = predicted pixels matched to at least one annotator, sumP = predicted pixels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np

from obtoolkit._checks import check_array
from obtoolkit.metrics import assignment, cardinality, matching
from obtoolkit.metrics.disk import within_radius
from obtoolkit.metrics.nms import edge_nms
from obtoolkit.metrics.pr_curve import (
    BestPoint,
    average_precision,
    best_interpolated,
    recall_at_precision,
    recall_precision_f,
)
from obtoolkit.metrics.thinning import LevelChanges, sweep_thinning, thin

Protocol = Literal["bsds", "occlusion"]


@dataclasses.dataclass(frozen=True)
class BoundaryEvalOptions:
    """How boundary maps are scored.

    protocol: "bsds" thins every thresholded map and applies no NMS by default (pdollar/BSDS edges);
        "occlusion" applies edge NMS once and does not thin (DOOBNet / MT-ORL / P2ORM / IOBE scripts).
    n_thresholds: K thresholds linspace(1/(K+1), 1 - 1/(K+1), K); binarisation uses >=.
    max_dist: matching radius as a fraction of the image diagonal (0.0075; 0.011 is NYUD's convention).
    apply_nms: None follows the protocol (occlusion: yes, bsds: no); True/False forces it.
    nms_presmooth_radius: 0 (occlusion MATLAB scripts) or 1 (HED/pdollar Python ports smooth with conv_tri(E, 1)).
    quantize_uint8: round the map to multiples of 1/255 first (parity with tools that read 8-bit PNGs).
    """

    protocol: Protocol = "occlusion"
    n_thresholds: int = 99
    max_dist: float = 0.0075
    apply_nms: bool | None = None
    nms_presmooth_radius: int = 0
    quantize_uint8: bool = False

    def __post_init__(self) -> None:
        if self.protocol not in ("bsds", "occlusion"):
            raise ValueError(f"protocol: expected 'bsds' or 'occlusion', got {self.protocol!r}")
        if self.n_thresholds < 1:
            raise ValueError(f"n_thresholds: expected >= 1, got {self.n_thresholds}")
        if not self.max_dist > 0:
            raise ValueError(f"max_dist: expected > 0 (a fraction of the diagonal), got {self.max_dist}")

    @property
    def thin(self) -> bool:
        """True when each thresholded map is thinned (BSDS protocol)."""
        return self.protocol == "bsds"

    @property
    def nms(self) -> bool:
        """True when edge NMS runs once on the soft map."""
        return self.protocol == "occlusion" if self.apply_nms is None else self.apply_nms


def thresholds(n_thresholds: int) -> np.ndarray:
    """(K,) float64 thresholds linspace(1/(K+1), 1 - 1/(K+1), K): 0.01 ... 0.99 for K = 99."""
    return np.linspace(1.0 / (n_thresholds + 1), 1.0 - 1.0 / (n_thresholds + 1), n_thresholds)


@dataclasses.dataclass(frozen=True)
class BoundaryCounts:
    """Counts of one image (or a sum of images) per threshold; every array is (K,) int64.

    cnt_p_oriented / cnt_r_oriented are present only when orientations were evaluated: predicted (GT) pixels
    matched to some annotator with an orientation within 90 degrees of their partner's.
    """

    thresholds: np.ndarray
    cnt_r: np.ndarray
    sum_r: np.ndarray
    cnt_p: np.ndarray
    sum_p: np.ndarray
    cnt_p_oriented: np.ndarray | None = None
    cnt_r_oriented: np.ndarray | None = None


def _as_gt_list(gt_boundaries, shape, where) -> list[np.ndarray]:
    gts = [gt_boundaries] if isinstance(gt_boundaries, np.ndarray) else list(gt_boundaries)
    if not gts:
        raise ValueError(f"gt_boundaries{where}: expected at least one annotation")
    out = []
    for k, gt in enumerate(gts):
        check_array(f"gt_boundaries[{k}]", gt, shape=shape, kind="biu", where=where.strip(" ()"))
        out.append(np.asarray(gt) != 0)
    return out


def _prediction_map(pred_prob: np.ndarray, options: BoundaryEvalOptions) -> np.ndarray:
    pred = pred_prob
    if options.quantize_uint8 or not options.nms:  # edge_nms zeroes non-finite values itself
        pred = np.where(np.isfinite(pred_prob), pred_prob, 0.0).astype(np.float64, copy=False)
    if options.quantize_uint8:
        pred = np.round(np.clip(pred, 0.0, 1.0) * 255.0) / 255.0
    if options.nms:
        pred = edge_nms(pred, presmooth_radius=options.nms_presmooth_radius)
    return pred


def _occlusion_changes(pred: np.ndarray, valid: np.ndarray, thr: np.ndarray) -> tuple[LevelChanges, np.ndarray]:
    """Occlusion protocol: B_k = [P >= t_k] inside `valid` are nested; pixels enter by decreasing value.

    Returns the changes (insertions only, each level in decreasing value, ties in row-major order) and sumP (K,).
    """
    flat = pred.ravel()
    pixel = np.flatnonzero((flat >= thr[0]) & valid.ravel())
    pixel = pixel[np.argsort(-flat[pixel], kind="stable")]
    sum_p = np.searchsorted(-flat[pixel], -thr, side="right").astype(np.int64)
    return LevelChanges(pixel, np.ones(len(pixel), dtype=bool), np.concatenate([[0], sum_p[::-1]])), sum_p


def _bsds_changes(pred: np.ndarray, valid: np.ndarray, thr: np.ndarray) -> tuple[LevelChanges, np.ndarray]:
    """BSDS protocol: B_k = thin([P >= t_k]) inside `valid` (thinning sees the whole map). Changes and sumP (K,)."""
    changes = _restrict(sweep_thinning(pred, thr), valid.ravel())
    running = np.concatenate([[0], np.cumsum(np.where(changes.inserted, 1, -1))])
    return changes, running[changes.ptr[1:]][::-1].astype(np.int64)


def _restrict(changes: LevelChanges, keep_flat: np.ndarray) -> LevelChanges:
    """The changes of the pixels where `keep_flat` ((H * W,) bool) is True."""
    keep = keep_flat[changes.pixel]
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return LevelChanges(changes.pixel[keep], changes.inserted[keep], kept_before[changes.ptr].astype(np.int64))


def _single_counts(changes: LevelChanges, gt: np.ndarray, radius: float) -> np.ndarray:
    """(K,) matched pairs with one annotator: the maximum matching size at every threshold (`cardinality`)."""
    if not len(changes.pixel):
        return np.zeros(len(changes.ptr) - 1, dtype=np.int64)
    sizes = cardinality.matching_sizes(gt, radius, changes.pixel, changes.inserted, changes.ptr)
    return sizes[::-1].astype(np.int64)


def _paired_counts(changes, gts, radius, thetas, width, nested):
    """Counts that depend on the pairs (several annotators, orientations): the min-cost matchings (`assignment`).

    Nodes are numbered by decreasing value (occlusion) or row-major (BSDS), and each level's changes are applied in
    increasing node order: part of the definition of which pairs are chosen among equally good ones.
    """
    if nested:
        universe, node = changes.pixel, np.arange(len(changes.pixel), dtype=np.int64)
    else:
        present = np.zeros(gts[0].size, dtype=bool)
        present[changes.pixel] = True
        universe = np.flatnonzero(present)
        node = (np.cumsum(present, dtype=np.int64) - 1)[changes.pixel]
        level = np.repeat(np.arange(len(changes.ptr) - 1), np.diff(changes.ptr))
        if not np.all((np.diff(node) > 0) | (np.diff(level) > 0)):  # `sweep_thinning` lists each level in raster
            order = np.lexsort((node, level))  # order already; other sources are sorted here
            node, changes = node[order], LevelChanges(changes.pixel[order], changes.inserted[order], changes.ptr)
    yx = np.stack([universe // width, universe % width], axis=1).astype(np.int64)
    n_levels = len(changes.ptr) - 1
    p_matched = np.zeros((n_levels, len(yx)), dtype=np.uint8)
    p_oriented = np.zeros_like(p_matched)
    cnt_r = np.zeros(n_levels, dtype=np.int64)
    cnt_r_oriented = np.zeros(n_levels, dtype=np.int64)
    for g, gt in enumerate(gts):
        graph = assignment.make_graph(yx, gt, radius, gt_lists=not nested)
        p_theta, g_theta = _node_orientations(thetas, g, yx, gt)
        n_matched, _, n_oriented = assignment.sweep_graph(
            tuple(graph), node, changes.inserted, changes.ptr, p_theta, g_theta, p_matched, p_oriented)
        cnt_r += n_matched
        cnt_r_oriented += n_oriented
        del graph  # one annotator's graph at a time (it can take a gigabyte on 2048x1536 texture)
    cnt_p = p_matched.sum(axis=1, dtype=np.int64)
    cnt_p_oriented = p_oriented.sum(axis=1, dtype=np.int64)
    return cnt_r[::-1], cnt_p[::-1], cnt_r_oriented[::-1], cnt_p_oriented[::-1]


def image_boundary_counts(
    pred_prob: np.ndarray,
    gt_boundaries: np.ndarray | Sequence[np.ndarray],
    options: BoundaryEvalOptions = BoundaryEvalOptions(),
    *,
    valid_mask: np.ndarray | None = None,
    pred_orientation_rad: np.ndarray | None = None,
    gt_orientations_rad: np.ndarray | Sequence[np.ndarray] | None = None,
    where: str = "",
) -> BoundaryCounts:
    """Counts of one image for every threshold.

    Args:
        pred_prob: (H, W) float boundary probability in [0, 1], higher = boundary; NaN counts as 0.
        gt_boundaries: (H, W) bool/uint8 GT map, or a list of them (one per annotator).
        options: protocol, thresholds, radius.
        valid_mask: (H, W) bool; predicted and GT pixels outside it are ignored (dropped from every count). NMS and
            thinning still see the whole map, so the mask only removes pixels, it never creates boundaries.
        pred_orientation_rad, gt_orientations_rad: (H, W) float orientations (radians, left rule), one GT map per
            annotator; when given, oriented counts (OPR) are added.
        where: context for error messages (an image name).

    Returns:
        BoundaryCounts with (K,) int64 arrays. Single-threaded and deterministic.
    """
    context = f" ({where})" if where else ""
    check_array("pred_prob", pred_prob, shape=(None, None), kind="f", where=where)
    gts = _as_gt_list(gt_boundaries, pred_prob.shape, context)
    h, w = pred_prob.shape
    valid = np.ones((h, w), dtype=bool) if valid_mask is None else check_array(
        "valid_mask", valid_mask, shape=(h, w), kind="b", where=where)
    gts = [gt & valid for gt in gts]
    thr = thresholds(options.n_thresholds)
    thetas = _orientations(pred_orientation_rad, gt_orientations_rad, len(gts), (h, w), where)
    pred = _prediction_map(pred_prob, options)
    changes, sum_p = _candidate_changes(pred, valid, thr, options)
    return _counts(changes, sum_p, gts, thetas, thr, options)


def _candidate_changes(pred: np.ndarray, valid: np.ndarray, thr: np.ndarray,
                       options: BoundaryEvalOptions) -> tuple[LevelChanges, np.ndarray]:
    """The scored predicted sets of every threshold (thinned in the BSDS protocol) as changes, and sumP (K,)."""
    return (_bsds_changes if options.thin else _occlusion_changes)(pred, valid, thr)


def _counts(changes: LevelChanges, sum_p: np.ndarray, gts: list[np.ndarray], thetas, thr: np.ndarray,
            options: BoundaryEvalOptions) -> BoundaryCounts:
    """Match the candidate sets with every annotator and count (the last stage of `image_boundary_counts`)."""
    h, w = gts[0].shape
    radius = matching.matching_radius_px(h, w, options.max_dist)
    if len(changes.pixel):
        changes = _restrict(changes, _near_any(gts, radius).ravel())
    sum_r = np.full(len(thr), sum(int(gt.sum()) for gt in gts), dtype=np.int64)
    if len(gts) == 1 and thetas is None:
        matched = _single_counts(changes, gts[0], radius)
        return BoundaryCounts(thr, matched, sum_r, matched.copy(), sum_p)
    cnt_r, cnt_p, cnt_r_oriented, cnt_p_oriented = _paired_counts(changes, gts, radius, thetas, w, not options.thin)
    oriented = thetas is not None
    return BoundaryCounts(thr, cnt_r, sum_r, cnt_p, sum_p, cnt_p_oriented if oriented else None,
                          cnt_r_oriented if oriented else None)


def _near_any(gts: list[np.ndarray], radius: float) -> np.ndarray:
    """(H, W) bool: pixels within `radius` of a GT pixel of some annotator (only they can be matched)."""
    return within_radius(np.logical_or.reduce(gts), radius)


def _orientations(pred_theta, gt_thetas, n_gt, shape, where):
    if pred_theta is None and gt_thetas is None:
        return None
    if pred_theta is None or gt_thetas is None:
        raise ValueError(f"orientations ({where}): give both pred_orientation_rad and gt_orientations_rad, or neither")
    gt_list = [gt_thetas] if isinstance(gt_thetas, np.ndarray) else list(gt_thetas)
    if len(gt_list) != n_gt:
        raise ValueError(f"gt_orientations_rad ({where}): expected {n_gt} maps (one per annotator), got {len(gt_list)}")
    check_array("pred_orientation_rad", pred_theta, shape=shape, kind="f", where=where)
    for g, theta in enumerate(gt_list):
        check_array(f"gt_orientations_rad[{g}]", theta, shape=shape, kind="f", where=where)
    return pred_theta, gt_list


def _node_orientations(thetas, g, yx, gt):
    if thetas is None:
        empty = np.zeros(0, dtype=np.float64)
        return empty, empty
    pred_theta, gt_list = thetas
    p_theta = pred_theta[yx[:, 0], yx[:, 1]].astype(np.float64)
    return p_theta, gt_list[g][gt].astype(np.float64)


@dataclasses.dataclass(frozen=True)
class BoundaryResult:
    """Dataset-level boundary numbers.

    ods: best interpolated point of the summed curve (threshold, R, P, F). ois_*: R, P, F of the per-image best
    thresholds' counts, pooled. ap: BSDS average precision. r50: recall at 50 % precision (NaN if never reached).
    curve: (K, 4) float64 rows [threshold, R, P, F] of the summed counts. n_images: images accumulated.
    totals: int64 (4, K) the summed counts themselves, rows cnt_r, sum_r, cnt_p, sum_p (PR-curve viewers want them).
    """

    ods: BestPoint
    ois_recall: float
    ois_precision: float
    ois_f: float
    ap: float
    r50: float
    curve: np.ndarray
    n_images: int
    totals: np.ndarray | None = None

    def as_dict(self) -> dict[str, float | int]:
        """Flat JSON-friendly numbers (no curve)."""
        return {
            "ods_threshold": self.ods.threshold, "ods_recall": self.ods.recall,
            "ods_precision": self.ods.precision, "ods_f": self.ods.f_measure,
            "ois_recall": self.ois_recall, "ois_precision": self.ois_precision, "ois_f": self.ois_f,
            "ap": self.ap, "r50": self.r50, "n_images": self.n_images,
        }


def image_best(counts: BoundaryCounts) -> BestPoint:
    """One image's best interpolated (threshold, R, P, F), as in `eval_bdry_img.txt`."""
    recall, precision, _ = recall_precision_f(counts.cnt_r, counts.sum_r, counts.cnt_p, counts.sum_p)
    return best_interpolated(counts.thresholds, recall, precision)


class BoundaryMetric:
    """Sufficient statistics of the boundary benchmark: update with per-image counts, compute at the end.

    State: the counts summed over images (for ODS, AP, R50) and the pooled counts of every image at its own best
    threshold (for OIS: first argmax of the per-image F, not interpolated). Both are integer sums, so any split
    of the images into batches gives exactly the same result.
    """

    def __init__(self, thresholds_: np.ndarray) -> None:
        self.thresholds = np.asarray(thresholds_, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        k = len(self.thresholds)
        self.totals = np.zeros((4, k), dtype=np.int64)
        self.ois_totals = np.zeros(4, dtype=np.int64)
        self.n_images = 0

    def update(self, counts: BoundaryCounts | Sequence[BoundaryCounts]) -> None:
        """Add one image's counts (or a sequence of them)."""
        for c in [counts] if isinstance(counts, BoundaryCounts) else counts:
            if len(c.thresholds) != len(self.thresholds) or not np.allclose(c.thresholds, self.thresholds):
                raise ValueError(f"counts: expected thresholds {self.thresholds[:3]}... (K={len(self.thresholds)})")
            stacked = np.stack([c.cnt_r, c.sum_r, c.cnt_p, c.sum_p]).astype(np.int64)
            self.totals += stacked
            _, _, f = recall_precision_f(*stacked)
            self.ois_totals += stacked[:, int(np.argmax(f))]
            self.n_images += 1

    def compute(self) -> BoundaryResult:
        """ODS, OIS, AP, R50 and the curve; NaN numbers when no image was added."""
        recall, precision, f = recall_precision_f(*self.totals)
        if self.n_images == 0:
            nan = float("nan")
            return BoundaryResult(BestPoint(nan, nan, nan, nan), nan, nan, nan, nan, nan,
                                  np.stack([self.thresholds, recall, precision, f], axis=1), 0, self.totals.copy())
        ois_r, ois_p, ois_f = (float(x) for x in recall_precision_f(*self.ois_totals))
        return BoundaryResult(
            ods=best_interpolated(self.thresholds, recall, precision),
            ois_recall=ois_r, ois_precision=ois_p, ois_f=ois_f,
            ap=average_precision(recall, precision),
            r50=recall_at_precision(recall, precision),
            curve=np.stack([self.thresholds, recall, precision, f], axis=1),
            n_images=self.n_images,
            totals=self.totals.copy(),
        )


def binary_map(pred_prob: np.ndarray, threshold: float, options: BoundaryEvalOptions = BoundaryEvalOptions(),
               valid_mask: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool predicted boundary at one threshold, exactly as the benchmark scores it (NMS, >=, thinning, mask).

    Used for pictures; `image_boundary_counts` does the same for every threshold at once.
    """
    check_array("pred_prob", pred_prob, shape=(None, None), kind="f")
    pred = _prediction_map(pred_prob, options) >= threshold
    if options.thin:
        pred = thin(pred)
    return pred if valid_mask is None else pred & valid_mask

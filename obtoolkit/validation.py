"""Label checks (spec §6.8): what a bad label looks like, as code.

`validate_labels` runs every check on one frame's decoded label files against its geometry and returns a
FrameReport of CheckResults. A check with severity "error" failing fails the frame; "warning" checks flag outliers.
Checks that need inputs which are absent (camera matrix, normals, instance ids, expected hashes) are skipped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from skimage.morphology import thin

from obtoolkit.boundaries import CLASS_INTER, CLASS_SELF, LabelParams
from obtoolkit.boundaries._neighbours import INCLINATION_CHANNEL, INCLINATION_OFFSETS, NEIGHBOUR_OFFSETS
from obtoolkit.boundaries.keys import object_keys
from obtoolkit.boundaries.orientation import ORI8_NEUTRAL, ORI16_NONE, decode_ori16
from obtoolkit.geometry import pixel_centre_uv, points_cam_from_distance, rays_from_uv, sanitize_normals
from obtoolkit.labels_io import LabelArrays


@dataclass(frozen=True)
class Thresholds:
    """Pass criteria (spec §6.8's suggestions). Fractions are of the pixels or pairs each check looks at."""

    self_depth_consistency: float = 1.0
    inter_depth_consistency: float = 0.99
    side_depth_agreement: float = 0.97
    orientation_agreement: float = 0.95
    orientation_max_angle_deg: float = 67.5
    strong_discontinuity_recall: float = 0.99
    instance_contour_recall: float = 0.99
    max_block_fraction: float = 0.02
    max_thinning_removed: float = 0.05
    ob_fraction_range: tuple[float, float] = (0.001, 0.15)
    max_nan_fraction: float = 0.5
    max_undefined_orientation: float = 0.05


@dataclass(frozen=True)
class CheckResult:
    """One check on one frame. `value` is the measured quantity (None when skipped or not numeric)."""

    name: str
    passed: bool
    severity: str  # "error" or "warning"
    value: float | None = None
    criterion: str = ""
    detail: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class FrameReport:
    frame: str
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        return any(not c.passed and c.severity == "error" and not c.skipped for c in self.checks)

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed and c.severity == "warning" and not c.skipped]

    def as_dict(self) -> dict:
        return {"frame": self.frame, "failed": self.failed,
                "checks": [c.__dict__ for c in self.checks]}


@dataclass(frozen=True, eq=False)
class ValidationGeometry:
    """What the checks compare labels against. Only distance and validity are required.

    distance_m float (H, W) metres; valid_mask bool (H, W); M_cam_from_uv (3, 3) or None; normal_cam (H, W, 3) or
    None; semantic / semantic_instance / render_entity_id int (H, W) or None.
    """

    distance_m: np.ndarray
    valid_mask: np.ndarray
    M_cam_from_uv: np.ndarray | None = None
    normal_cam: np.ndarray | None = None
    semantic: np.ndarray | None = None
    semantic_instance: np.ndarray | None = None
    render_entity_id: np.ndarray | None = None


def _ratio_check(name, good, total, threshold, severity="error", detail="") -> CheckResult:
    if total == 0:
        return CheckResult(name, True, severity, None, f">= {threshold}", "nothing to check" + detail, skipped=True)
    value = good / total
    return CheckResult(name, bool(value >= threshold), severity, value, f">= {threshold}", f"{good}/{total}{detail}")


def _skip(name: str, why: str, severity: str = "error") -> CheckResult:
    return CheckResult(name, True, severity, None, "", why, skipped=True)


def _pair_slices(dy: int, dx: int, height: int, width: int):
    """Slices (p, q) such that q = p + (dy, dx) for every in-image pair."""
    p = (slice(max(0, -dy), height - max(0, dy)), slice(max(0, -dx), width - max(0, dx)))
    q = (slice(max(0, dy), height + min(0, dy)), slice(max(0, dx), width + min(0, dx)))
    return p, q


def _channels(height: int, width: int):
    for c, (dy, dx) in enumerate(NEIGHBOUR_OFFSETS):
        p, q = _pair_slices(int(dy), int(dx), height, width)
        yield c + 1, p, q, (math.sqrt(2.0) if dy and dx else 1.0)


# --------------------------------------------------------------------------------------------------- the checks


def check_schema(labels: LabelArrays, shape: tuple[int, int]) -> CheckResult:
    """Shapes, value sets, channel 0 = any relation, classes only on relations, ob_class only on ob."""
    problems = []
    if labels.ob.shape != shape:
        problems.append(f"size {labels.ob.shape} != depth {shape}")
    else:
        if not np.isin(labels.order, (-1, 0, 1)).all():
            problems.append("order values outside {-1, 0, 1}")
        if not np.array_equal(labels.order[..., 0] != 0, np.any(labels.order[..., 1:] != 0, axis=-1)):
            problems.append("order channel 0 != any relation")
        if labels.ob_class.max(initial=0) > 3 or labels.relation_class.max(initial=0) > 3:
            problems.append("class values outside 0..3")
        if np.any((labels.relation_class[..., 1:] != 0) & (labels.order[..., 1:] == 0)):
            problems.append("relation classes on zero relations")
        if not np.array_equal(labels.ob_class != 0, labels.ob):
            problems.append("ob_class set off ob (or missing on ob)")
    return CheckResult("schema", not problems, "error", None, "formats and value sets", "; ".join(problems))


def check_invalid_pixels(labels: LabelArrays, valid: np.ndarray, params: LabelParams) -> CheckResult:
    """Invalid pixels carry nothing; under the 'ignore' void policy no relation points at an invalid pixel."""
    invalid = ~valid
    bad = (labels.ob[invalid].sum() + labels.instance_contour[invalid].sum() + np.count_nonzero(labels.order[invalid])
           + np.count_nonzero(labels.ob_class[invalid]) + np.count_nonzero(labels.ori8[invalid] != ORI8_NEUTRAL)
           + np.count_nonzero(labels.ori16[invalid] != ORI16_NONE))
    pointing = 0
    if params.void_policy == "ignore":
        height, width = valid.shape
        for channel, p, q, _ in _channels(height, width):
            pointing += int(np.count_nonzero((labels.order[p + (channel,)] != 0) & invalid[q]))
    detail = f"{int(bad)} labelled invalid pixels, {pointing} relations towards invalid pixels"
    return CheckResult("no_labels_on_invalid", bad == 0 and pointing == 0, "error", float(bad + pointing), "== 0",
                       detail)


def check_antisymmetry(labels: LabelArrays, valid: np.ndarray, severity: str = "error") -> CheckResult:
    """order[p, k] == -order[p + offset_k, opposite(k)] on every pair of valid pixels.

    P2ORM itself breaks this (its spike rule is one-sided), so in p2orm_compat mode it is a warning.
    """
    height, width = valid.shape
    mismatches = 0
    for channel, p, q, _ in _channels(height, width):
        if channel > 4:  # channels NW, N, NE, W visit every unordered pair once
            continue
        both = valid[p] & valid[q]
        mismatches += int(np.count_nonzero((labels.order[p + (channel,)] != -labels.order[q + (9 - channel,)]) & both))
    return CheckResult("antisymmetry", mismatches == 0, severity, float(mismatches), "== 0", f"{mismatches} pairs")


def check_depth_consistency(labels: LabelArrays, distance: np.ndarray, params: LabelParams,
                            thresholds: Thresholds) -> list[CheckResult]:
    """Self-occlusions: D_q - D_p > tau * L; inter-object relations: the occluder is nearer (D_q > D_p)."""
    height, width = distance.shape
    counts = {CLASS_SELF: [0, 0], CLASS_INTER: [0, 0]}
    for channel, p, q, _ in _channels(height, width):
        occludes = labels.order[p + (channel,)] == 1
        length = params.diag_len if channel in (1, 3, 6, 8) else 1.0
        dp, dq = distance[p], distance[q]
        step = (dq - dp) / length
        tau = np.maximum(params.tau_abs_m, params.tau_rel * np.minimum(dp, dq))
        for cls, ok in ((CLASS_SELF, step > tau * (1 - 1e-9)), (CLASS_INTER, dq > dp)):
            mask = occludes & (labels.relation_class[p + (channel,)] == cls)
            counts[cls][0] += int(np.count_nonzero(mask & ok))
            counts[cls][1] += int(np.count_nonzero(mask))
    return [
        _ratio_check("depth_consistency_self", *counts[CLASS_SELF], thresholds.self_depth_consistency),
        _ratio_check("depth_consistency_inter", *counts[CLASS_INTER], thresholds.inter_depth_consistency, "warning"),
    ]


def _oriented_boundary(labels: LabelArrays):
    """Boundary pixels with a defined orientation: rows, cols, occluder->occluded unit vectors (col, row)."""
    theta = decode_ori16(labels.ori16)
    ys, xs = np.nonzero(labels.ob & np.isfinite(theta))
    angles = theta[ys, xs]
    return ys, xs, -np.sin(angles), np.cos(angles)


def check_side_depth(labels: LabelArrays, distance, valid, thresholds: Thresholds) -> CheckResult:
    """Along the orientation's occluder->occluded direction, the far side (3 px) is deeper than the near side."""
    ys, xs, vx, vy = _oriented_boundary(labels)
    height, width = distance.shape

    def median_along(steps):
        samples = []
        for t in steps:
            yy = np.clip(np.rint(ys + t * vy).astype(int), 0, height - 1)
            xx = np.clip(np.rint(xs + t * vx).astype(int), 0, width - 1)
            samples.append(np.where(valid[yy, xx], distance[yy, xx], np.nan))
        return np.nanmedian(np.stack(samples), axis=0) if samples else np.array([])

    if ys.size == 0:
        return _skip("side_depth", "no oriented boundary pixel", "warning")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN samples (next to void) give NaN: not counted
        far, near = median_along((1, 2, 3)), median_along((0, -1, -2))
    known = np.isfinite(far) & np.isfinite(near)
    return _ratio_check("side_depth", int(np.count_nonzero(known & (far > near))), int(known.sum()),
                        thresholds.side_depth_agreement, "warning")


def check_orientation(labels: LabelArrays, distance, valid, params: LabelParams,
                      thresholds: Thresholds) -> list[CheckResult]:
    """Orientation vs the near->far direction of depth in a 5x5 window (each neighbour votes by the sign of its
    step beyond tau, which clamps the vote at the discontinuity); non-boundary pixels hold the neutral codes."""
    neutral = np.count_nonzero(labels.ori8[~labels.ob] != ORI8_NEUTRAL) + np.count_nonzero(
        labels.ori16[~labels.ob] != ORI16_NONE)
    results = [CheckResult("orientation_neutral_off_boundary", neutral == 0, "error", float(neutral), "== 0")]
    ys, xs, vx, vy = _oriented_boundary(labels)
    if ys.size == 0:
        return results + [_skip("orientation_agreement", "no oriented boundary pixel", "warning")]
    height, width = distance.shape
    gx, gy = np.zeros(ys.size), np.zeros(ys.size)
    centre = distance[ys, xs]
    tau = np.maximum(params.tau_abs_m, params.tau_rel * centre)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            if dy == 0 and dx == 0:
                continue
            yy, xx = ys + dy, xs + dx
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            yy, xx = np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)
            step = np.where(inside & valid[yy, xx], distance[yy, xx] - centre, 0.0)
            vote = np.sign(step) * (np.abs(step) > tau) / math.hypot(dy, dx)
            gx += vote * dx
            gy += vote * dy
    norm = np.hypot(gx, gy)
    known = norm > 0
    cos = (gx * vx + gy * vy) / np.where(known, norm, 1.0)
    agree = known & (cos > math.cos(math.radians(thresholds.orientation_max_angle_deg)))
    return results + [_ratio_check("orientation_agreement", int(agree.sum()), int(known.sum()),
                                   thresholds.orientation_agreement, "warning")]


@dataclass(frozen=True, eq=False)
class _PlaneGeometry:
    """Rays, raw rays and sanitised normals of a frame, to intersect mid-pair rays with tangent planes."""

    distance: np.ndarray
    rays: np.ndarray
    raw: np.ndarray
    normals: np.ndarray
    normal_ok: np.ndarray

    @classmethod
    def build(cls, geometry: ValidationGeometry, params: LabelParams) -> _PlaneGeometry:
        height, width = geometry.distance_m.shape
        M = np.asarray(geometry.M_cam_from_uv, np.float64)
        u, v = pixel_centre_uv(height, width)
        raw = rays_from_uv(M, u, v, normalize=False)
        rays = raw / np.linalg.norm(raw, axis=-1, keepdims=True)
        distance = np.where(geometry.valid_mask, geometry.distance_m, 0.0).astype(np.float64)
        normals = sanitize_normals(geometry.normal_cam, rays, points_cam_from_distance(distance, rays),
                                   geometry.valid_mask, source=params.normal_source)
        return cls(distance, rays, raw, normals.normals_cam.astype(np.float64), normals.defined)

    def mid_step(self, p, q, length: float, cos_min: float) -> np.ndarray:
        """dm = (lambda(r_m; X_q, n_q) - lambda(r_m; X_p, n_p)) / L for index arrays p, q; NaN where undefined."""
        mid = self.raw[p] + self.raw[q]
        mid /= np.linalg.norm(mid, axis=-1, keepdims=True)

        def plane(side):
            n = self.normals[side]
            denominator = np.einsum("nc,nc->n", n, mid)
            ok = self.normal_ok[side] & (np.abs(denominator) >= cos_min)
            lam = self.distance[side] * np.einsum("nc,nc->n", n, self.rays[side]) / np.where(ok, denominator, 1.0)
            return np.where(ok, lam, np.nan)

        return (plane(q) - plane(p)) / length


def check_recall(labels: LabelArrays, geometry: ValidationGeometry, params: LabelParams,
                 thresholds: Thresholds) -> list[CheckResult]:
    """Strong discontinuities (|dD| > max(0.10 m, 5% D), not explained by the tangent planes: |dm| > tau) and
    instance contours (pairs of different objects, i.e. the inter-object rule's pairs, with |dm| >= eps_tie, or
    |d0| where dm is undefined) carry a relation."""
    if geometry.M_cam_from_uv is None:
        return [_skip("strong_discontinuity_recall", "no camera matrix", "warning"),
                _skip("instance_contour_recall", "no camera matrix", "warning")]
    valid = geometry.valid_mask
    has_ids = all(a is not None for a in (geometry.semantic, geometry.semantic_instance, geometry.render_entity_id))
    kind, ident = object_keys(valid, geometry.semantic, geometry.semantic_instance, geometry.render_entity_id,
                              stuff_classes=params.stuff_classes, unlabeled_policy=params.unlabeled_policy)
    planes = _PlaneGeometry.build(geometry, params)
    distance = planes.distance
    height, width = valid.shape
    strong, contour, ties = [0, 0], [0, 0], 0
    for k, (dy, dx) in enumerate(INCLINATION_OFFSETS):
        p_slice, q_slice = _pair_slices(int(dy), int(dx), height, width)
        dp, dq = distance[p_slice], distance[q_slice]
        both = valid[p_slice] & valid[q_slice]
        big = both & (np.abs(dq - dp) > np.maximum(0.10, 0.05 * np.minimum(dp, dq)))
        inter = both & ((kind[p_slice] != kind[q_slice]) | (ident[p_slice] != ident[q_slice]))
        rows, cols = np.nonzero(big | inter)
        if rows.size == 0:
            continue
        p = (rows + p_slice[0].start, cols + p_slice[1].start)
        q = (rows + q_slice[0].start, cols + q_slice[1].start)
        length = params.diag_len if k >= 2 else 1.0
        dm = planes.mid_step(p, q, length, params.cos_graze_min)
        related = labels.order[p + (INCLINATION_CHANNEL[k] + 1,)] != 0
        near = np.minimum(distance[p], distance[q])
        unexplained = big[rows, cols] & np.isfinite(dm) & (np.abs(dm) > np.maximum(params.tau_abs_m,
                                                                                     params.tau_rel * near))
        strong[0] += int(np.count_nonzero(unexplained & related))
        strong[1] += int(np.count_nonzero(unexplained))
        step = np.where(np.isfinite(dm), dm, (distance[q] - distance[p]) / length)
        pair_inter = inter[rows, cols]
        decided = pair_inter & (np.abs(step) >= params.tie_eps_rel * near)
        ties += int(np.count_nonzero(pair_inter & ~decided))
        contour[0] += int(np.count_nonzero(decided & related))
        contour[1] += int(np.count_nonzero(decided))
    results = [_ratio_check("strong_discontinuity_recall", *strong, thresholds.strong_discontinuity_recall,
                            "warning")]
    if not has_ids or not params.instance_rule:
        return results + [_skip("instance_contour_recall", "no instance ids or instance rule off", "warning")]
    return results + [_ratio_check("instance_contour_recall", *contour, thresholds.instance_contour_recall,
                                   "warning", f", {ties} tie pairs")]


def check_thinness(labels: LabelArrays, thresholds: Thresholds) -> list[CheckResult]:
    """Boundaries are thin: few pixels in 2x2 all-on blocks; thinning removes few pixels."""
    ob = labels.ob
    total = int(ob.sum())
    if total == 0:
        return [_skip("thin_blocks", "no boundary pixel", "warning"), _skip("thinning_removed", "", "warning")]
    block = ob[:-1, :-1] & ob[1:, :-1] & ob[:-1, 1:] & ob[1:, 1:]
    in_block = np.zeros_like(ob)
    for dy in (0, 1):
        for dx in (0, 1):
            in_block[dy:dy + block.shape[0], dx:dx + block.shape[1]] |= block
    block_fraction = in_block.sum() / total
    removed = 1.0 - thin(ob).sum() / total
    return [
        CheckResult("thin_blocks", bool(block_fraction <= thresholds.max_block_fraction), "warning",
                    float(block_fraction), f"<= {thresholds.max_block_fraction}"),
        CheckResult("thinning_removed", bool(removed <= thresholds.max_thinning_removed), "warning", float(removed),
                    f"<= {thresholds.max_thinning_removed}"),
    ]


def check_density(labels: LabelArrays, valid: np.ndarray, thresholds: Thresholds) -> list[CheckResult]:
    """Boundary density, NaN fraction and undefined orientations within sane ranges (outliers are flagged)."""
    low, high = thresholds.ob_fraction_range
    fraction = float(labels.ob.mean())
    nan_fraction = float(1.0 - valid.mean())
    n_ob = int(labels.ob.sum())
    undefined = float(np.count_nonzero(labels.ob & (labels.ori16 == ORI16_NONE)) / n_ob) if n_ob else 0.0
    return [
        CheckResult("ob_density", low <= fraction <= high, "warning", fraction, f"in [{low}, {high}]"),
        CheckResult("nan_fraction", nan_fraction <= thresholds.max_nan_fraction, "warning", nan_fraction,
                    f"<= {thresholds.max_nan_fraction}"),
        CheckResult("undefined_orientation", undefined <= thresholds.max_undefined_orientation, "warning", undefined,
                    f"<= {thresholds.max_undefined_orientation}"),
    ]


def check_provenance(labels: LabelArrays, expected_hashes: dict[str, str] | None) -> CheckResult:
    """The decoded files hash to what generation recorded: catches files edited after generation."""
    if expected_hashes is None:
        return _skip("content_hashes", "no recorded hashes")
    actual = labels.content_hashes()
    changed = sorted(k for k, v in expected_hashes.items() if actual.get(k) != v)
    return CheckResult("content_hashes", not changed, "error", float(len(changed)), "all equal",
                       f"changed since generation: {', '.join(changed)}" if changed else "")


def validate_labels(
    labels: LabelArrays,
    geometry: ValidationGeometry,
    params: LabelParams,
    *,
    frame: str = "",
    expected_hashes: dict[str, str] | None = None,
    thresholds: Thresholds | None = None,
) -> FrameReport:
    """Every check of spec §6.8 on one frame (determinism is checked by regenerating; see the generation stage)."""
    thresholds = Thresholds() if thresholds is None else thresholds
    schema = check_schema(labels, geometry.distance_m.shape)
    if not schema.passed:
        return FrameReport(frame, (schema, check_provenance(labels, expected_hashes)))
    valid = geometry.valid_mask
    distance = np.where(valid, geometry.distance_m, np.nan).astype(np.float64)
    steps: Sequence[Callable[[], CheckResult | list[CheckResult]]] = (
        lambda: check_invalid_pixels(labels, valid, params),
        lambda: check_antisymmetry(labels, valid, "warning" if params.p2orm_compat else "error"),
        lambda: check_depth_consistency(labels, distance, params, thresholds),
        lambda: check_side_depth(labels, distance, valid, thresholds),
        lambda: check_orientation(labels, distance, valid, params, thresholds),
        lambda: check_recall(labels, geometry, params, thresholds),
        lambda: check_thinness(labels, thresholds),
        lambda: check_density(labels, valid, thresholds),
        lambda: check_provenance(labels, expected_hashes),
    )
    checks = [schema]
    for step in steps:
        result = step()
        checks.extend(result if isinstance(result, list) else [result])
    return FrameReport(frame, tuple(checks))

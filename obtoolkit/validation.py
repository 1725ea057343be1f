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

import numba
import numpy as np

from obtoolkit.boundaries import LabelParams
from obtoolkit.boundaries._neighbours import INCLINATION_CHANNEL, INCLINATION_OFFSETS, NEIGHBOUR_OFFSETS
from obtoolkit.boundaries.keys import frame_object_keys
from obtoolkit.boundaries.orientation import ORI16_NONE, decode_ori16
from obtoolkit.geometry import camera_rays, rays_from_uv, sanitize_normals_at
from obtoolkit.hypersim.frames import FrameGeometry
from obtoolkit.labels_io import LabelArrays
from obtoolkit.metrics.thinning import thin


@dataclass(frozen=True)
class Thresholds:
    """Pass criteria. Fractions are of the pixels or pairs each check looks at.

    The error checks are exact. The warning rates flag outliers: they are set below what good labels measure, so
    that a flag means something. Measured typical values (default labels; the real ai_037_002 frame at 1024x768 from
    its depth alone, and the demo's 32 synthetic frames at 256x192): orientation agreement 0.95 / 0.95, side depth
    0.97 / 0.99, 2x2-block fraction 0.06 / 0.09, thinning removal 0.16 / 0.17, strong-discontinuity recall 1.00 /
    0.998. Spec §6.8 suggests 0.95, 0.97, 0.02, 0.05 and 0.99: those fire on many good frames (occluder-side boundaries
    of 1-2 px structures are legitimately 2 px thick, and per-pixel orientation is coarse at junctions), so they are
    not the defaults here.
    """

    self_depth_consistency: float = 1.0
    inter_depth_consistency: float = 0.99
    side_depth_agreement: float = 0.85
    orientation_agreement: float = 0.85
    orientation_max_angle_deg: float = 67.5
    strong_discontinuity_recall: float = 0.98
    instance_contour_recall: float = 0.99
    max_block_fraction: float = 0.15
    max_thinning_removed: float = 0.30
    ob_fraction_range: tuple[float, float] = (0.001, 0.15)
    max_nan_fraction: float = 0.5
    max_undefined_orientation: float = 0.05


# The statistical checks (rates) look at most at this many pairs or pixels per frame, taken at an even stride, so
# that validating a frame costs about as much as labelling it.
MAX_SAMPLES = 4096


def _even_sample(n: int, limit: int = MAX_SAMPLES) -> np.ndarray:
    """Indices of at most `limit` items out of n, evenly spread (deterministic)."""
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).round().astype(np.int64)


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


_CHANNEL_DY = NEIGHBOUR_OFFSETS[:, 0].copy()
_CHANNEL_DX = NEIGHBOUR_OFFSETS[:, 1].copy()
(ORDER_RANGE, CHANNEL_ZERO, CLASS_RANGE, CLASS_ON_ZERO, OB_CLASS_MISMATCH, INVALID_LABELLED, POINTS_AT_INVALID,
 ANTISYMMETRY, SELF_OK, SELF_TOTAL, INTER_OK, INTER_TOTAL, NEUTRAL_OFF_BOUNDARY) = range(13)


@numba.njit(cache=True, nogil=True)
def _structure_counts(order, relation_class, ob, ob_class, ori8, ori16, contour, valid, distance, tau_abs, tau_rel,
                      step_rel, diag_len, dy, dx):
    """One pass over the pixels counting every structural problem (see the index constants above)."""
    height, width = valid.shape
    counts = np.zeros(13, np.int64)
    for y in range(height):
        for x in range(width):
            any_relation = False
            for c in range(8):
                omega, cls = order[y, x, c + 1], relation_class[y, x, c + 1]
                if omega < -1 or omega > 1:
                    counts[ORDER_RANGE] += 1
                if cls > 3:
                    counts[CLASS_RANGE] += 1
                if omega == 0:
                    if cls != 0:
                        counts[CLASS_ON_ZERO] += 1
                    continue
                any_relation = True
                yq, xq = y + dy[c], x + dx[c]
                if yq < 0 or yq >= height or xq < 0 or xq >= width:
                    continue
                if not valid[yq, xq]:
                    counts[POINTS_AT_INVALID] += 1
                elif c < 4 and valid[y, x] and order[yq, xq, 8 - c] != -omega:
                    counts[ANTISYMMETRY] += 1
                if omega == 1 and valid[y, x] and valid[yq, xq]:
                    dp, dq = distance[y, x], distance[yq, xq]
                    if cls == 3:
                        length = diag_len if dy[c] != 0 and dx[c] != 0 else 1.0
                        counts[SELF_TOTAL] += 1
                        if step_rel > 0.0:
                            if dq - dp > step_rel * (dp + dq) * (1 - 1e-9):
                                counts[SELF_OK] += 1
                        elif (dq - dp) / length > max(tau_abs, tau_rel * min(dp, dq)) * (1 - 1e-9):
                            counts[SELF_OK] += 1
                    elif cls == 2:
                        counts[INTER_TOTAL] += 1
                        if dq >= dp:  # equal float16 depths: ordered by the tangent planes
                            counts[INTER_OK] += 1
            # antisymmetry also where p has no relation but q claims one towards p
            for c in range(4):
                yq, xq = y + dy[c], x + dx[c]
                if 0 <= yq < height and 0 <= xq < width and valid[y, x] and valid[yq, xq] and \
                        order[y, x, c + 1] == 0 and order[yq, xq, 8 - c] != 0:
                    counts[ANTISYMMETRY] += 1
            if (order[y, x, 0] != 0) != any_relation:
                counts[CHANNEL_ZERO] += 1
            if ob_class[y, x] > 3:
                counts[CLASS_RANGE] += 1
            if (ob_class[y, x] != 0) != ob[y, x]:
                counts[OB_CLASS_MISMATCH] += 1
            if not valid[y, x] and (ob[y, x] or contour[y, x] or any_relation or order[y, x, 0] != 0
                                    or ob_class[y, x] != 0 or ori8[y, x] != 127 or ori16[y, x] != 0):
                counts[INVALID_LABELLED] += 1
            if not ob[y, x] and (ori8[y, x] != 127 or ori16[y, x] != 0):
                counts[NEUTRAL_OFF_BOUNDARY] += 1
    return counts


def structure_counts(labels: LabelArrays, valid: np.ndarray, distance: np.ndarray, params: LabelParams,
                     mesh_exact: bool = False) -> np.ndarray:
    """Counts of every structural problem, indexed by the module's constants (ORDER_RANGE, ..., SELF_OK, ...).

    Self-occlusion relations must step by more than tau; with the layered test, by more than the two depths'
    rounding error (depth_rel_error (D_p + D_q)); in mesh-exact mode (decided on the mesh, without a threshold),
    the occluder must be nearer.
    """
    tau_abs, tau_rel = (0.0, 0.0) if mesh_exact else (params.tau_abs_m, params.tau_rel)
    step_rel = params.depth_rel_error if params.layered_test and not (mesh_exact or params.p2orm_compat) else 0.0
    return _structure_counts(
        np.ascontiguousarray(labels.order), np.ascontiguousarray(labels.relation_class), labels.ob,
        labels.ob_class, labels.ori8, labels.ori16, labels.instance_contour, valid,
        np.ascontiguousarray(distance, dtype=np.float64), tau_abs, tau_rel, step_rel, params.diag_len,
        _CHANNEL_DY, _CHANNEL_DX)


def check_schema(labels: LabelArrays, shape: tuple[int, int], counts: np.ndarray | None = None) -> CheckResult:
    """Shapes, value sets, channel 0 = any relation, classes only on relations, ob_class exactly on ob."""
    if labels.ob.shape != shape:
        return CheckResult("schema", False, "error", None, "formats and value sets",
                           f"size {labels.ob.shape} != depth {shape}")
    names = {ORDER_RANGE: "order values outside {-1, 0, 1}", CHANNEL_ZERO: "order channel 0 != any relation",
             CLASS_RANGE: "class values outside 0..3", CLASS_ON_ZERO: "relation classes on zero relations",
             OB_CLASS_MISMATCH: "ob_class set off ob (or missing on ob)"}
    problems = [f"{text} ({counts[index]} px)" for index, text in names.items() if counts[index]]
    return CheckResult("schema", not problems, "error", None, "formats and value sets", "; ".join(problems))


def check_invalid_pixels(counts: np.ndarray, params: LabelParams) -> CheckResult:
    """Invalid pixels carry nothing; under the 'ignore' void policy no relation points at an invalid pixel."""
    labelled = int(counts[INVALID_LABELLED])
    pointing = int(counts[POINTS_AT_INVALID]) if params.void_policy == "ignore" else 0
    detail = f"{labelled} labelled invalid pixels, {pointing} relations towards invalid pixels"
    return CheckResult("no_labels_on_invalid", labelled == 0 and pointing == 0, "error", float(labelled + pointing),
                       "== 0", detail)


def check_antisymmetry(counts: np.ndarray, severity: str = "error") -> CheckResult:
    """order[p, k] == -order[p + offset_k, opposite(k)] on every pair of valid pixels.

    P2ORM itself breaks this (its spike rule is one-sided), so in p2orm_compat mode it is a warning.
    """
    mismatches = int(counts[ANTISYMMETRY])
    return CheckResult("antisymmetry", mismatches == 0, severity, float(mismatches), "== 0", f"{mismatches} pairs")


def check_depth_consistency(counts: np.ndarray, thresholds: Thresholds) -> list[CheckResult]:
    """Self-occlusions: D_q - D_p > tau * L; inter-object relations: the occluder is not farther (D_q >= D_p).

    Equal depths are allowed between objects: Hypersim's float16 depth rounds neighbours to the same value (a step of
    2 mm at 3 m), and the generator then orders the pair by its tangent planes.
    """
    return [
        _ratio_check("depth_consistency_self", int(counts[SELF_OK]), int(counts[SELF_TOTAL]),
                     thresholds.self_depth_consistency),
        _ratio_check("depth_consistency_inter", int(counts[INTER_OK]), int(counts[INTER_TOTAL]),
                     thresholds.inter_depth_consistency, "warning"),
    ]


def _oriented_boundary(labels: LabelArrays):
    """Boundary pixels with a defined orientation (an even sample of at most MAX_SAMPLES): rows, cols, and the
    occluder->occluded unit vectors (col, row)."""
    ys, xs = np.nonzero(labels.ob & (labels.ori16 != ORI16_NONE))
    keep = _even_sample(ys.size)
    ys, xs = ys[keep], xs[keep]
    angles = decode_ori16(labels.ori16[ys, xs])
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


def check_neutral_orientation(counts: np.ndarray) -> CheckResult:
    """Pixels off the boundary hold the neutral orientation codes (127, and 0 in 16 bits)."""
    wrong = int(counts[NEUTRAL_OFF_BOUNDARY])
    return CheckResult("orientation_neutral_off_boundary", wrong == 0, "error", float(wrong), "== 0")


def check_orientation(labels: LabelArrays, distance, valid, params: LabelParams,
                      thresholds: Thresholds) -> list[CheckResult]:
    """Orientation vs the near->far direction of depth in a 5x5 window (each neighbour votes by the sign of its
    step beyond tau, which clamps the vote at the discontinuity)."""
    results = []
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
    """Tangent planes of the pixels that a recall check looks at: computed at those pixels only. `rays_unit` float64
    (H, W, 3) are the camera's unit rays when already computed (else computed from the camera matrix)."""

    geometry: FrameGeometry
    params: LabelParams
    rays_unit: np.ndarray | None = None

    def mid_step(self, p, q, length: np.ndarray) -> np.ndarray:
        """dm = (lambda(r_m; X_q, n_q) - lambda(r_m; X_p, n_p)) / L for index arrays p, q; NaN where undefined."""
        geometry, params = self.geometry, self.params
        height, width = geometry.distance_m.shape
        M = np.asarray(geometry.M_cam_from_uv, np.float64)
        ys, xs = np.concatenate([p[0], q[0]]), np.concatenate([p[1], q[1]])
        u, v = (2.0 * xs + 1.0) / width - 1.0, 1.0 - (2.0 * ys + 1.0) / height
        raw = rays_from_uv(M, u, v, normalize=False)
        rays = raw / np.linalg.norm(raw, axis=-1, keepdims=True)
        normals, defined = self._normals(ys, xs, rays)
        distance = geometry.distance_m[ys, xs].astype(np.float64)
        n = len(p[0])
        mid = raw[:n] + raw[n:]
        mid /= np.linalg.norm(mid, axis=-1, keepdims=True)

        def plane(side):
            denominator = np.einsum("nc,nc->n", normals[side], mid)
            ok = defined[side] & (np.abs(denominator) >= params.cos_graze_min)
            lam = distance[side] * np.einsum("nc,nc->n", normals[side], rays[side]) / np.where(ok, denominator, 1.0)
            return np.where(ok, lam, np.nan)

        return (plane(slice(n, None)) - plane(slice(0, n))) / length

    def _normals(self, ys, xs, rays):
        """Sanitised normals at the pixels (ys, xs), as the generator makes them (depth normals where needed)."""
        geometry = self.geometry
        height, width = geometry.distance_m.shape
        full_rays = self.rays_unit
        if full_rays is None:
            full_rays = camera_rays(np.asarray(geometry.M_cam_from_uv, np.float64), height, width)
        return sanitize_normals_at(geometry.normal_cam, geometry.distance_m, full_rays, geometry.valid_mask, ys, xs,
                                   source=self.params.normal_source,
                                   max_disagreement_deg=self.params.normal_max_disagreement_deg)


def check_recall(labels: LabelArrays, geometry: FrameGeometry, params: LabelParams, thresholds: Thresholds,
                 rays_unit: np.ndarray | None = None) -> list[CheckResult]:
    """Strong discontinuities (|dD| > max(0.10 m, 5% D), not explained by the tangent planes: |dm| > tau) and
    instance contours (pairs of different objects, i.e. the inter-object rule's pairs, with |dm| >= eps_tie, or
    |d0| where dm is undefined) carry a relation."""
    if geometry.M_cam_from_uv is None:
        return [_skip("strong_discontinuity_recall", "no camera matrix", "warning"),
                _skip("instance_contour_recall", "no camera matrix", "warning")]
    valid = geometry.valid_mask
    kind, ident = frame_object_keys(geometry, params)
    distance = np.where(valid, geometry.distance_m, 0.0).astype(np.float64)
    height, width = valid.shape
    pairs = []  # (p rows, p cols, q rows, q cols, length, big, inter, related) per inclination
    for k, (dy, dx) in enumerate(INCLINATION_OFFSETS):
        p_slice, q_slice = _pair_slices(int(dy), int(dx), height, width)
        dp, dq = distance[p_slice], distance[q_slice]
        both = valid[p_slice] & valid[q_slice]
        big = both & (np.abs(dq - dp) > np.maximum(0.10, 0.05 * np.minimum(dp, dq)))
        inter = both & ((kind[p_slice] != kind[q_slice]) | (ident[p_slice] != ident[q_slice]))
        rows, cols = np.nonzero(big | inter)
        py, px = rows + p_slice[0].start, cols + p_slice[1].start
        qy, qx = rows + q_slice[0].start, cols + q_slice[1].start
        related = labels.order[py, px, INCLINATION_CHANNEL[k] + 1] != 0
        length = np.full(rows.size, params.diag_len if k >= 2 else 1.0)
        pairs.append((py, px, qy, qx, length, big[rows, cols], inter[rows, cols], related))
    py, px, qy, qx, length, big, inter, related = (np.concatenate(parts) for parts in zip(*pairs, strict=True))
    keep = _even_sample(py.size)
    py, px, qy, qx, length, big, inter, related = (a[keep] for a in (py, px, qy, qx, length, big, inter, related))
    dm = _PlaneGeometry(geometry, params, rays_unit).mid_step((py, px), (qy, qx), length) if py.size else np.zeros(0)
    dp, dq = distance[py, px], distance[qy, qx]
    near = np.minimum(dp, dq)
    unexplained = big & np.isfinite(dm) & (np.abs(dm) > np.maximum(params.tau_abs_m, params.tau_rel * near))
    strong = [int(np.count_nonzero(unexplained & related)), int(np.count_nonzero(unexplained))]
    step = np.where(np.isfinite(dm), dm, (dq - dp) / length)
    decided = inter & (np.abs(step) >= params.tie_eps_rel * near)
    ties = int(np.count_nonzero(inter & ~decided))
    contour = [int(np.count_nonzero(decided & related)), int(np.count_nonzero(decided))]
    results = [_ratio_check("strong_discontinuity_recall", *strong, thresholds.strong_discontinuity_recall,
                            "warning")]
    if not geometry.has_ids or not params.instance_rule:
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
    geometry: FrameGeometry,
    params: LabelParams,
    *,
    rays_unit: np.ndarray | None = None,
    frame: str = "",
    expected_hashes: dict[str, str] | None = None,
    thresholds: Thresholds | None = None,
    mesh_exact: bool = False,
) -> FrameReport:
    """Every check of spec §6.8 on one frame (determinism is checked by regenerating; see the generation stage).

    Only the geometry's distance and valid mask are required; the checks that need the camera matrix, normals or id
    maps are skipped without them. `rays_unit` float64 (H, W, 3): the camera's unit rays, when already computed.
    `frame` names the frame in the report (default: the geometry's frame id).
    """
    frame = frame or (str(geometry.frame) if geometry.frame is not None else "")
    thresholds = Thresholds() if thresholds is None else thresholds
    valid = geometry.valid_mask
    distance = np.where(valid, geometry.distance_m, np.nan).astype(np.float64)
    counts = structure_counts(labels, valid, distance, params, mesh_exact) if labels.ob.shape == valid.shape else None
    schema = check_schema(labels, geometry.distance_m.shape, counts)
    if not schema.passed:
        return FrameReport(frame, (schema, check_provenance(labels, expected_hashes)))
    steps: Sequence[Callable[[], CheckResult | list[CheckResult]]] = (
        lambda: check_invalid_pixels(counts, params),
        lambda: check_antisymmetry(counts, "warning" if params.p2orm_compat else "error"),
        lambda: check_depth_consistency(counts, thresholds),
        lambda: check_neutral_orientation(counts),
        lambda: check_side_depth(labels, distance, valid, thresholds),
        lambda: check_orientation(labels, distance, valid, params, thresholds),
        lambda: check_recall(labels, geometry, params, thresholds, rays_unit),
        lambda: check_thinness(labels, thresholds),
        lambda: check_density(labels, valid, thresholds),
        lambda: check_provenance(labels, expected_hashes),
    )
    checks = [schema]
    for step in steps:
        result = step()
        checks.extend(result if isinstance(result, list) else [result])
    return FrameReport(frame, tuple(checks))

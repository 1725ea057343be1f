"""Where the default labels miss the reference's self-occlusion occluders, and which condition of the layered test
each missed pair fails: the per-pixel diagnosis of docs/labels.md's label rounds.

Held-out discipline: run it on tuning families only. A held-out family (`obtoolkit.synth.families.HELD_OUT_FAMILIES`)
is refused: its per-pixel results must not be looked at while rules are chosen.

    OMP_NUM_THREADS=1 .venv/bin/python bench/label_misses.py --family bedroom [--scenes 4 --frames 2]

Prints the missed pairs by condition, the (occluder part, occluded part, condition) triples that hold most of them,
and the missed pixels by (scene, frame, occluder part). A missed pixel is a reference self-occlusion occluder (contacts,
ties and steps below float16 precision left out, as in the agreement table) with no labelled occluder in its 3x3
window; its pairs are the reference's self-occlusion pairs in which it occludes.

Conditions (`pair_condition`, in the order the kernel tests them, `obtoolkit.boundaries.kernels`): "depth normals"
(a side has no renderer normal: only the tau test applies), "step within rounding" (|step| within the two depths'
rounding, below tau), "plane parallel to ray", then the failing separations of the layered test, each "X crossing"
(the wrong sign: the tangent planes cross) or "X margin" (the right sign, within its uncertainty), for X in step,
dm, a, b, prefixed "bend+" when the bend rule refused the layered test; "wrong side" (related the other way round),
"riser prior" (the layered test holds but the step's riser is taken as seen, so the layers as joined) and "related"
(the pair is labelled: the pixel was lost when the relations were assembled into pixels).
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from obtoolkit.boundaries import FrameRays, LabelParams, compute_labels, kernels
from obtoolkit.geometry import points_cam_from_distance, sanitize_normals
from obtoolkit.synth.reference import OFFSETS, SELF_OCCLUSION


@dataclass(frozen=True)
class PairInputs:
    """What the kernel sees of one frame: distance float64 (H, W) metres (0 where invalid), valid bool (H, W), normals
    float64 (H, W, 3) camera frame, normal_kind uint8 (H, W) (kernels.NORMAL_KIND_*), rays_unit and rays_raw float64
    (H, W, 3), and the raw ray's steps along a column and a row (3,)."""

    distance_m: np.ndarray
    valid: np.ndarray
    normals: np.ndarray
    normal_kind: np.ndarray
    rays_unit: np.ndarray
    rays_raw: np.ndarray
    ray_col: np.ndarray
    ray_row: np.ndarray


def pair_inputs(geometry, params: LabelParams, rays: FrameRays) -> PairInputs:
    """The arrays `compute_labels` hands to the kernel for a frame record."""
    valid = geometry.valid_mask
    distance = np.where(valid, geometry.distance_m, 0.0).astype(np.float64)
    points = points_cam_from_distance(distance, rays.unit)
    normals = sanitize_normals(geometry.normal_cam, rays.unit, points, valid, source=params.normal_source,
                               max_disagreement_deg=params.normal_max_disagreement_deg)
    raw = rays.raw
    return PairInputs(distance, valid, normals.normals_cam, kernels.normal_kinds(normals.source), rays.unit, raw,
                      raw[0, min(1, raw.shape[1] - 1)] - raw[0, 0], raw[min(1, raw.shape[0] - 1), 0] - raw[0, 0])


def pair_condition(inputs: PairInputs, y: int, x: int, yq: int, xq: int, expected: int, params: LabelParams) -> str:
    """Why the same-object pair (p = (y, x), q = (yq, xq), q - p one of E, S, SE, NE) is, or is not, related as
    `expected` (+1: p occludes q, -1: q occludes p) by the default mode's layered test (see the module docstring)."""
    D, N, kind = inputs.distance_m, inputs.normals, inputs.normal_kind
    length = params.diag_len if (yq != y and xq != x) else 1.0
    dp, dq = D[y, x], D[yq, xq]
    tau = max(params.tau_abs_m, params.tau_rel * min(dp, dq))
    d0 = (dq - dp) / length
    error_p, error_q = params.depth_rel_error * dp, params.depth_rel_error * dq
    if kind[y, x] != kernels.NORMAL_KIND_GIVEN or kind[yq, xq] != kernels.NORMAL_KIND_GIVEN:
        return "depth normals"
    if abs(d0) <= tau and abs(dq - dp) <= error_p + error_q:
        return "step within rounding"
    bend_cos = math.cos(math.radians(params.bend_max_deg))
    bends = kernels._bends(N, y, x, yq, xq, params.normal_tol_rad, bend_cos)
    m = inputs.rays_raw[y, x] + inputs.rays_raw[yq, xq]
    m = m / np.linalg.norm(m)
    p, q = inputs.rays_unit[y, x], inputs.rays_unit[yq, xq]
    tol = params.normal_tol_rad
    lam_mp, c_mp, s_mp = kernels._plane_hit(*m, *N[y, x], dp, *p, error_p, tol)
    lam_qp, c_qp, s_qp = kernels._plane_hit(*q, *N[y, x], dp, *p, error_p, tol)
    lam_mq, c_mq, s_mq = kernels._plane_hit(*m, *N[yq, xq], dq, *q, error_q, tol)
    lam_pq, c_pq, s_pq = kernels._plane_hit(*p, *N[yq, xq], dq, *q, error_q, tol)
    dm, a, b = (lam_mq - lam_mp) / length, lam_pq - dp, dq - lam_qp
    if np.isnan(dm + a + b):
        return "plane parallel to ray"
    strict = min(c_mp, c_mq, c_pq, c_qp) >= params.cos_graze_min
    separations = (("step", dq - dp, error_p + error_q), ("dm", dm * length, s_mp + s_mq),
                   ("a", a, s_pq + error_p), ("b", b, s_qp + error_q))
    omega = 0
    if abs(d0) > tau or not bends:
        omega = kernels._layered(dq - dp, dm * length, a, b, error_p + error_q, s_mp + s_mq, s_pq + error_p,
                                 s_qp + error_q)
    if omega == 0 and strict and abs(d0) > tau and abs(dm) > tau:
        omega = kernels._layered(dq - dp, dm * length, a, b, 0.0, 0.0, s_pq + error_p, s_qp + error_q)
    if omega == 0:
        why = ["bend"] if abs(d0) <= tau and bends else []
        for name, value, error in separations:
            if value * expected <= 0:
                why.append(f"{name} crossing")
            elif abs(value) <= error:
                why.append(f"{name} margin")
        return "+".join(why) if why else "tau test"
    if omega != expected:
        return "wrong side"
    edge = np.empty(D.shape + (2,), np.float64)
    edge_known = np.zeros(D.shape, np.bool_)
    near, far = ((y, x), (yq, xq)) if omega == 1 else ((yq, xq), (y, x))
    hidden = kernels._riser_hidden(D, inputs.valid, N, inputs.rays_unit, inputs.ray_col, inputs.ray_row,
                                   params.depth_rel_error, tol, edge, edge_known, *near, *far, *m)
    return "related" if hidden else "riser prior"


def missed_pairs(geometry, reference, params: LabelParams, rays: FrameRays):
    """Yield (y, x, py, px, qy, qx, condition) for every reference self-occlusion pair (p, q) in which a missed pixel
    (y, x) occludes (see the module docstring), with the condition `pair_condition` gives it."""
    from obtoolkit.synth.agreement import _split_reference

    height, width = geometry.shape_hw
    labels = compute_labels(geometry, params, rays)
    kept, _, _ = _split_reference(reference, geometry.distance_m, params.tie_eps_rel)
    self_pixels = kept.occluder_class() == SELF_OCCLUSION
    missed = self_pixels & ~ndimage.binary_dilation(labels.ob, np.ones((3, 3), bool))
    inputs = pair_inputs(geometry, params, rays)
    for y, x in zip(*np.nonzero(missed), strict=True):
        for k, (dy, dx) in enumerate(OFFSETS):
            for py, px, sign in ((y, x, 1), (y - dy, x - dx, -1)):
                qy, qx = py + dy, px + dx
                if not (0 <= py < height and 0 <= px < width and 0 <= qy < height and 0 <= qx < width):
                    continue
                if kept.relation_class[py, px, k] == SELF_OCCLUSION and kept.relation[py, px, k] == sign:
                    yield int(y), int(x), int(py), int(px), int(qy), int(qx), pair_condition(
                        inputs, py, px, qy, qx, sign, params)


def main() -> None:
    from obtoolkit.synth.agreement import _split_reference
    from obtoolkit.synth.families import FAMILIES, HELD_OUT_FAMILIES, family_scene
    from obtoolkit.synth.generate import synthetic_scene_name
    from obtoolkit.synth.scorecard import _frames

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", required=True, help="A tuning family (held-out families are refused).")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT")
    parser.add_argument("--top", type=int, default=25, help="Rows of the part tables.")
    args = parser.parse_args()
    if args.family not in FAMILIES:
        parser.error(f"--family: expected one of {sorted(FAMILIES)}, got {args.family!r}")
    if args.family in HELD_OUT_FAMILIES:
        parser.error(f"--family {args.family}: a held-out family; its per-pixel results are not looked at "
                     "(docs/labels.md, held-out discipline)")
    width, height = (int(v) for v in args.size.split("x"))
    params = LabelParams()
    conditions, parts, pixels = collections.Counter(), collections.Counter(), collections.Counter()
    reference_self = missed_total = 0
    for s in range(args.scenes):
        scene = family_scene(args.family, s, args.seed, synthetic_scene_name(s))
        names = [o.name for o in scene.objects]

        def name(object_id: int, names: list[str] = names) -> str:
            return names[object_id] if object_id >= 0 else "-"
        for f, (geometry, reference, _, _) in enumerate(_frames(scene, s, args.seed, args.frames, height, width,
                                                                params, False)):
            print(f"{args.family} scene {s} frame {f}", file=sys.stderr, flush=True)
            kept, _, _ = _split_reference(reference, geometry.distance_m, params.tie_eps_rel)
            reference_self += int((kept.occluder_class() == SELF_OCCLUSION).sum())
            rays = FrameRays.from_camera(geometry.M_cam_from_uv, height, width)
            seen = set()
            for y, x, _, _, qy, qx, condition in missed_pairs(geometry, reference, params, rays):
                conditions[condition] += 1
                parts[(name(reference.object_id[y, x]), name(reference.object_id[qy, qx]), condition)] += 1
                if (y, x) not in seen:
                    seen.add((y, x))
                    pixels[(s, f, name(reference.object_id[y, x]))] += 1
            missed_total += len(seen)
    print(f"{args.family}: {reference_self} self-occlusion occluders, {missed_total} missed "
          f"(self recall {1 - missed_total / max(reference_self, 1):.3f}); {sum(conditions.values())} missed pairs")
    total = max(sum(conditions.values()), 1)
    print("\n| missed pairs | share | condition |\n|---|---|---|")
    for condition, n in conditions.most_common():
        print(f"| {n} | {n / total:.1%} | {condition} |")
    print("\n| pairs | occluder part | occluded part | condition |\n|---|---|---|---|")
    for (a, b, condition), n in parts.most_common(args.top):
        print(f"| {n} | {a} | {b} | {condition} |")
    print("\n| missed pixels | scene | frame | occluder part |\n|---|---|---|---|")
    for (s, f, part), n in pixels.most_common(args.top):
        print(f"| {n} | {s} | {f} | {part} |")


if __name__ == "__main__":
    main()

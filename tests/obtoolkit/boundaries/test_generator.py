from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obtoolkit.boundaries import (
    CLASS_INTER,
    CLASS_SELF,
    CLASS_VOID,
    FrameRays,
    LabelParams,
    compute_labels,
    kernels,
)
from obtoolkit.boundaries._neighbours import OPPOSITE, order_to_pairs, pairs_to_order
from obtoolkit.boundaries.keys import object_keys
from obtoolkit.geometry import camera_rays, points_cam_from_distance, sanitize_normals, standard_M_cam_from_uv
from obtoolkit.hypersim import FrameGeometry

from .reference import reference_order, reference_relations
from .scenes import TILT_SHIFT_M, H, W, layered_frame, plane_distance, single_surface_frame


def run_kernel(inputs: FrameGeometry, params: LabelParams):
    height, width = inputs.shape_hw
    rays = FrameRays.from_camera(inputs.M_cam_from_uv, height, width)
    distance = np.where(inputs.valid_mask, inputs.distance_m, 0.0).astype(np.float64)
    normals = sanitize_normals(inputs.normal_cam, rays.unit, points_cam_from_distance(distance, rays.unit),
                               inputs.valid_mask, source=params.normal_source)
    kind, ident = object_keys(inputs.valid_mask, inputs.semantic, inputs.semantic_instance, inputs.render_entity_id,
                              stuff_classes=params.stuff_classes, unlabeled_policy=params.unlabeled_policy)
    result = kernels.relations_kernel(
        distance, inputs.valid_mask, normals.normals_cam, kernels.normal_kinds(normals.source), rays.unit, rays.raw,
        kind, ident, params.tau_abs_m, params.tau_rel, params.diag_len, params.cos_graze_min,
        params.graze_fallback == "zero_order", params.void_policy == "occluder", params.instance_rule,
        params.tie_eps_rel, params.depth_rel_error if params.layered_test else 0.0, params.normal_tol_rad,
        math.cos(math.radians(params.bend_max_deg)),
        np.zeros((height, width, 4), np.int8), np.zeros((height, width, 4), bool))
    return result, normals


def random_frame(seed: int, height: int = 10, width: int = 12, M=None) -> FrameGeometry:
    """Piecewise-planar random depth with random normals, ids and holes: every rule of §6.2 gets exercised."""
    rng = np.random.default_rng(seed)
    M = standard_M_cam_from_uv(height, width) if M is None else M
    rays = camera_rays(M, height, width)
    labels = rng.integers(0, 4, (height // 2 + 1, width // 3 + 1)).repeat(2, 0).repeat(3, 1)[:height, :width]
    distance = np.empty((height, width))
    normals = np.empty((height, width, 3))
    for region in range(4):
        normal = rng.normal(size=3)
        normal[2] = abs(normal[2]) + 0.5
        d, n = plane_distance(rays, normal, -rng.uniform(1.0, 4.0))
        mask = labels == region
        distance[mask], normals[mask] = np.abs(d[mask]), n[mask] + rng.normal(scale=0.2, size=n[mask].shape)
    distance += rng.choice([0.0, 0.01, 0.3], size=distance.shape, p=[0.8, 0.1, 0.1])
    valid = rng.random((height, width)) > 0.1
    distance[~valid] = np.nan
    semantic = np.array([1, 5, 7, 2])[labels]
    instance = np.array([-1, 4, -1, -1])[labels]
    entity = labels + 1
    return FrameGeometry(distance.astype(np.float32), valid, M, normals.astype(np.float32), semantic, instance, entity)


PARAM_VARIANTS = [
    LabelParams(),
    LabelParams(void_policy="occluder", graze_fallback="zero_order", tau_rel=0.0, cos_graze_min=0.3),
    LabelParams(instance_rule=False, unlabeled_policy="stuff", normal_source="depth"),
    LabelParams(tie_policy="contour_only", tie_eps_rel=0.05, normal_source="hybrid", diag_len=math.sqrt(2)),
]


@pytest.mark.parametrize("params", PARAM_VARIANTS)
@pytest.mark.parametrize("seed", range(6))
def test_kernel_equals_literal_reference(seed, params):
    inputs = random_frame(seed, M=TILT_SHIFT_M if seed % 2 else None)
    (relation, pair_class, tie), normals = run_kernel(inputs, params)
    expected = reference_relations(
        np.where(inputs.valid_mask, inputs.distance_m, 0.0), inputs.valid_mask,
        normals.normals_cam.astype(np.float64), kernels.normal_kinds(normals.source), np.asarray(inputs.M_cam_from_uv),
        inputs.semantic, inputs.semantic_instance, inputs.render_entity_id, params)
    np.testing.assert_array_equal(relation, expected[0])
    np.testing.assert_array_equal(pair_class, expected[1])
    np.testing.assert_array_equal(tie, expected[2])
    assert np.count_nonzero(relation) > 0


def test_pairs_to_order_equals_pairwise_reference():
    rng = np.random.default_rng(3)
    relation = rng.integers(-1, 2, (7, 9, 4)).astype(np.int8)
    relation[:, -1, [0, 2, 3]] = 0
    relation[-1, :, [1, 2]] = 0
    relation[0, :, 3] = 0
    np.testing.assert_array_equal(pairs_to_order(relation), reference_order(relation))
    np.testing.assert_array_equal(order_to_pairs(pairs_to_order(relation)), relation)


def test_object_in_front_of_wall_is_inter_object_with_near_side_occluding():
    labels = compute_labels(layered_frame())
    assert labels.ob[:, 19].all() and labels.ob[:, 10].all()
    assert not labels.ob[:, 9].any() and not labels.ob[:, 20].any()
    assert (labels.ob_class[:, 19] == CLASS_INTER).all()
    assert labels.instance_contour[:, [10, 19]].all() and labels.target[:, 19].all()
    assert labels.ob_background[:, [9, 20]].all()
    np.testing.assert_allclose(labels.theta[2:-2, 19], -math.pi / 2)  # occluder on the left
    np.testing.assert_allclose(np.abs(labels.theta[2:-2, 10]), math.pi / 2)  # occluder on the right: +pi/2
    assert labels.theta[2:-2, 10] == pytest.approx(math.pi / 2)


def test_step_below_tau_is_found_by_the_instance_rule_and_the_layered_test():
    inputs = layered_frame(gap_m=0.01)  # 1 cm: below tau = 25 mm
    assert compute_labels(inputs).instance_contour[:, 19].all()
    # one object: the tau test alone misses the step, the layered test finds it (the riser is hidden on both sides)
    assert not compute_labels(inputs, LabelParams(instance_rule=False, layered_test=False)).ob.any()
    labels = compute_labels(inputs, LabelParams(instance_rule=False))
    assert labels.ob[:, [10, 19]].all() and labels.ob.sum() == 2 * H
    assert (labels.ob_class[labels.ob] == CLASS_SELF).all()


def test_coplanar_tie_is_skipped_or_contour_only():
    inputs = layered_frame(gap_m=0.002)  # a poster 2 mm in front of the wall: a tie at 3 m
    assert not compute_labels(inputs).target.any()
    labels = compute_labels(inputs, LabelParams(tie_policy="contour_only"))
    assert labels.instance_contour[:, [10, 19]].all() and not labels.ob.any() and labels.n_ties > 0


def test_two_parts_of_one_instance_are_self_occlusion():
    labels = compute_labels(layered_frame(front_instance=5, back_instance=5))
    assert labels.ob[:, 19].all() and (labels.ob_class[:, 19] == CLASS_SELF).all()
    assert not labels.instance_contour.any()


def test_stuff_against_stuff_never_gets_a_contour():
    inputs = layered_frame(gap_m=0.01)
    stuff = FrameGeometry(inputs.distance_m, inputs.valid_mask, inputs.M_cam_from_uv, inputs.normal_cam,
                          np.where(inputs.semantic == 5, 22, 1), np.full((H, W), -1), inputs.render_entity_id)
    labels = compute_labels(stuff)
    assert not labels.instance_contour.any() and (labels.ob_class[labels.ob] == CLASS_SELF).all()


def test_concave_crease_and_convex_edge_give_nothing_but_a_fold_does():
    rays = camera_rays(standard_M_cam_from_uv(H, W), H, W)
    left, n_left = plane_distance(rays, [0.7, 0, 0.7], -2.0)
    right, n_right = plane_distance(rays, [-0.7, 0, 0.7], -2.0)
    concave = np.maximum(left, right)  # a corner seen from inside (room corner)
    normals = np.where((left > right)[..., None], n_left, n_right)
    assert not compute_labels(single_surface_frame(concave, normals)).target.any()
    convex = np.minimum(left, right)  # a box edge pointing at the camera
    normals = np.where((left < right)[..., None], n_left, n_right)
    assert not compute_labels(single_surface_frame(convex, normals)).target.any()


def test_tilt_shift_camera_uses_exact_rays():
    """A step on a frontal plane of the real tilt-shift camera: exact rays see no boundary except at the step."""
    labels = compute_labels(layered_frame(M=TILT_SHIFT_M, front_instance=5, back_instance=5))
    assert labels.ob[:, 19].all() and labels.ob.sum() == 2 * H


def test_void_policies():
    inputs = layered_frame()
    valid = inputs.valid_mask.copy()
    valid[:, 25:] = False  # a window onto nothing
    window = FrameGeometry(np.where(valid, inputs.distance_m, np.nan).astype(np.float32), valid, inputs.M_cam_from_uv,
                           inputs.normal_cam, inputs.semantic, inputs.semantic_instance, inputs.render_entity_id)
    assert not compute_labels(window).ob[:, 24].any()
    labels = compute_labels(window, LabelParams(void_policy="occluder"))
    assert labels.ob[:, 24].all() and (labels.ob_class[:, 24] == CLASS_VOID).all()
    assert not labels.order[~valid].any()


def test_spike_rule_drops_both_sides():
    rays = camera_rays(standard_M_cam_from_uv(H, W), H, W)
    distance, normals = plane_distance(rays, [0, 0, 1], -3.0)
    distance[8, 8] -= 0.5  # one pixel floating in front
    # (the tau test: the layered test would see the faces of this column that face the camera as joining it to
    # the plane, so not all 8 relations hold)
    params = LabelParams(layered_test=False)
    labels = compute_labels(single_surface_frame(distance, normals), params)
    assert not labels.order.any()
    kept = compute_labels(single_surface_frame(distance, normals),
                          dataclasses.replace(params, drop_isolated_spikes=False, remove_isolated_pixels=False))
    assert kept.ob[8, 8] and kept.order[8, 9, 4] == -1


def test_orientation_smoothed_and_encodings():
    labels = compute_labels(layered_frame(), LabelParams(ori_method="smoothed", ori_radius=2))
    np.testing.assert_allclose(labels.theta[3:-3, 19], -math.pi / 2, atol=1e-9)
    assert (labels.ori8[labels.ob] != 127).any() and (labels.ori8[~labels.ob] == 127).all()
    assert (labels.ori16[~labels.ob] == 0).all() and (labels.ori16[labels.ob] > 0).all()


def check_label_invariants(inputs: FrameGeometry, labels) -> None:
    order = labels.order
    valid = inputs.valid_mask
    height, width = valid.shape
    assert not order[~valid].any() and not labels.target[~valid].any() and not labels.ob_class[~valid].any()
    for channel, (dy, dx) in enumerate([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]):
        ys, xs = slice(max(0, -dy), height - max(0, dy)), slice(max(0, -dx), width - max(0, dx))
        yq, xq = slice(max(0, dy), height + min(0, dy)), slice(max(0, dx), width + min(0, dx))
        both = valid[ys, xs] & valid[yq, xq]
        forward = order[ys, xs, channel + 1]
        backward = order[yq, xq, OPPOSITE[channel] + 1]
        assert np.array_equal(forward[both], -backward[both])
    assert np.array_equal(labels.ob_class > 0, labels.ob)
    assert np.array_equal(labels.target, labels.ob | labels.instance_contour)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), void=st.sampled_from(["ignore", "occluder"]),
       method=st.sampled_from(["p2orm", "smoothed"]))
def test_properties_antisymmetry_invalid_and_determinism(seed, void, method):
    inputs = random_frame(seed, height=9, width=11)
    params = LabelParams(void_policy=void, ori_method=method)
    first = compute_labels(inputs, params)
    check_label_invariants(inputs, first)
    second = compute_labels(inputs, params)
    for name in ("order", "ob", "ob_class", "instance_contour", "ori8", "ori16"):
        assert np.array_equal(getattr(first, name), getattr(second, name))


def test_bad_inputs_are_rejected():
    inputs = layered_frame()
    with pytest.raises(ValueError, match="shape"):
        FrameGeometry(inputs.distance_m[None], inputs.valid_mask, inputs.M_cam_from_uv)
    with pytest.raises(ValueError, match="disagree"):
        FrameGeometry(inputs.distance_m, inputs.valid_mask[:, :-1], inputs.M_cam_from_uv)
    with pytest.raises(ValueError, match="dtype"):
        FrameGeometry(inputs.distance_m, inputs.valid_mask.astype(np.uint8), inputs.M_cam_from_uv)
    with pytest.raises(ValueError, match="tau_abs_m"):
        LabelParams(tau_abs_m=0.0)

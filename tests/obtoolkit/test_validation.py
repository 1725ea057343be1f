from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.boundaries import LabelParams, compute_labels
from obtoolkit.hypersim import FrameGeometry
from obtoolkit.labels_io import LabelArrays
from obtoolkit.validation import validate_labels

from .boundaries.scenes import layered_frame


def run(labels: LabelArrays, inputs, params=None, **kwargs):
    report = validate_labels(labels, inputs, params or LabelParams(), frame="f", **kwargs)
    return report, {c.name: c for c in report.checks}


def test_generated_labels_pass_every_error_check():
    inputs = layered_frame()
    labels = LabelArrays.from_labels(compute_labels(inputs))
    report, checks = run(labels, inputs, expected_hashes=labels.content_hashes())
    assert not report.failed, [c for c in report.checks if not c.passed]
    assert checks["antisymmetry"].value == 0
    assert checks["depth_consistency_inter"].value == 1.0
    assert checks["strong_discontinuity_recall"].value == 1.0
    assert checks["instance_contour_recall"].value == 1.0
    assert checks["orientation_agreement"].value == 1.0 and checks["side_depth"].value == 1.0
    assert not checks["content_hashes"].skipped and checks["content_hashes"].passed


def test_edited_file_is_caught_by_hashes():
    inputs = layered_frame()
    labels = LabelArrays.from_labels(compute_labels(inputs))
    recorded = labels.content_hashes()
    ob = labels.ob.copy()
    ob[0, 0] = True  # someone painted a pixel
    edited = labels.replace(ob=ob)
    report, checks = run(edited, inputs, expected_hashes=recorded)
    assert report.failed
    assert "ob" in checks["schema"].detail or "ob" in checks["content_hashes"].detail


def test_broken_antisymmetry_and_invalid_labels_fail():
    inputs = layered_frame()
    labels = LabelArrays.from_labels(compute_labels(inputs))
    order = labels.order.copy()
    order[5, 19, 5] = 0  # drop one side of a pair
    order[5, 19, 0] = np.any(order[5, 19, 1:] != 0)
    classes = labels.relation_class.copy()
    classes[5, 19, 5] = 0
    broken = labels.replace(order=order, relation_class=classes)
    report, checks = run(broken, inputs)
    assert report.failed and checks["antisymmetry"].value == 1

    valid = inputs.valid_mask.copy()
    valid[:, 19] = False  # the boundary column becomes invalid: its labels are now on invalid pixels
    moved = FrameGeometry(inputs.distance_m, valid, inputs.M_cam_from_uv)
    report = validate_labels(labels, moved, LabelParams())
    assert report.failed
    assert not {c.name: c for c in report.checks}["no_labels_on_invalid"].passed


def test_wrong_depth_order_is_caught():
    inputs = layered_frame()
    labels = LabelArrays.from_labels(compute_labels(inputs))
    swapped = FrameGeometry(np.where(inputs.semantic == 5, 3.5, 3.0).astype(np.float32), inputs.valid_mask)
    report = validate_labels(labels, swapped, LabelParams())
    checks = {c.name: c for c in report.checks}
    assert checks["depth_consistency_inter"].value == 0.0 and not checks["depth_consistency_inter"].passed
    assert checks["orientation_agreement"].value == 0.0


def test_equal_depths_between_objects_are_not_a_wrong_order():
    """float16 depth rounds neighbours to one value; the generator then orders them by their tangent planes."""
    inputs = layered_frame()
    labels = LabelArrays.from_labels(compute_labels(inputs))
    flat = FrameGeometry(np.full(inputs.distance_m.shape, 3.0, np.float32), inputs.valid_mask)
    checks = {c.name: c for c in validate_labels(labels, flat, LabelParams()).checks}
    assert checks["depth_consistency_inter"].value == 1.0


def test_schema_problems():
    inputs = layered_frame()
    labels = LabelArrays.from_labels(compute_labels(inputs))
    bad_class = labels.ob_class.copy()
    bad_class[0, 0] = 9
    report, checks = run(labels.replace(ob_class=bad_class), inputs)
    assert report.failed and not checks["schema"].passed


def test_missing_inputs_skip_checks_without_failing():
    inputs = layered_frame()
    labels = LabelArrays.from_labels(compute_labels(inputs))
    report = validate_labels(labels, FrameGeometry(inputs.distance_m, inputs.valid_mask), LabelParams())
    checks = {c.name: c for c in report.checks}
    assert checks["strong_discontinuity_recall"].skipped and checks["content_hashes"].skipped
    assert not report.failed


@pytest.mark.parametrize("params", [LabelParams(void_policy="occluder"), LabelParams(ori_method="smoothed")])
def test_variants_pass(params):
    inputs = layered_frame()
    valid = inputs.valid_mask.copy()
    valid[:4, :] = False
    holey = FrameGeometry(np.where(valid, inputs.distance_m, np.nan).astype(np.float32), valid, inputs.M_cam_from_uv,
                        inputs.normal_cam, inputs.semantic, inputs.semantic_instance, inputs.render_entity_id)
    labels = LabelArrays.from_labels(compute_labels(holey, params))
    report, _ = run(labels, holey, params)
    assert not report.failed, [c for c in report.checks if not c.passed]

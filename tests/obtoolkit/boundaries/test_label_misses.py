"""bench/label_misses.py: its per-pair diagnosis of the layered test agrees with the compiled kernel, pair by pair."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from obtoolkit._open3d import open3d_available
from obtoolkit.boundaries import FrameRays, LabelParams, kernels
from obtoolkit.boundaries.keys import frame_object_keys

needs_open3d = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")


def _frame(family: str, height: int = 96, width: int = 128):
    from obtoolkit.synth.families import family_scene
    from obtoolkit.synth.generate import synthetic_scene_name
    from obtoolkit.synth.scorecard import _frames

    scene = family_scene(family, 0, 0, synthetic_scene_name(0))
    (geometry, reference, _, _), = _frames(scene, 0, 0, 1, height, width, LabelParams(), False)
    return geometry, reference


@needs_open3d
@pytest.mark.parametrize("family", ["containers", "bedroom"])
def test_pair_condition_says_related_exactly_where_the_kernel_relates(family):
    from bench.label_misses import pair_condition, pair_inputs

    params = LabelParams()
    geometry, _ = _frame(family)
    height, width = geometry.shape_hw
    rays = FrameRays.from_camera(geometry.M_cam_from_uv, height, width)
    inputs = pair_inputs(geometry, params, rays)
    kind, ident = frame_object_keys(geometry, params)
    relation, _, _ = kernels.relations_kernel(
        inputs.distance_m, inputs.valid, inputs.normals, inputs.normal_kind, inputs.rays_unit, inputs.rays_raw, kind,
        ident, params.tau_abs_m, params.tau_rel, params.diag_len, params.cos_graze_min, False, False,
        params.instance_rule, params.tie_eps_rel, params.depth_rel_error, params.normal_tol_rad,
        math.cos(math.radians(params.bend_max_deg)), np.zeros((height, width, 4), np.int8),
        np.zeros((height, width, 4), bool))
    layered = inputs.valid & (inputs.normal_kind == kernels.NORMAL_KIND_GIVEN)
    checked = related = 0
    for k, (dy, dx) in enumerate(((0, 1), (1, 0), (1, 1), (-1, 1))):
        for y in range(max(0, -dy), height - max(0, dy)):
            for x in range(width - dx):
                yq, xq = y + dy, x + dx
                if not (layered[y, x] and layered[yq, xq] and kind[y, x] == kind[yq, xq]
                        and ident[y, x] == ident[yq, xq]):
                    continue
                dp, dq = inputs.distance_m[y, x], inputs.distance_m[yq, xq]
                if abs(dq - dp) <= params.depth_rel_error * (dp + dq):  # every such pair: rounding
                    if (x + y) % 50 == 0:
                        assert pair_condition(inputs, y, x, yq, xq, 1, params) == "step within rounding"
                    assert relation[y, x, k] == 0
                    continue
                for expected in (1, -1):
                    condition = pair_condition(inputs, y, x, yq, xq, expected, params)
                    assert (condition == "related") == (relation[y, x, k] == expected), (y, x, k, condition)
                checked += 1
                related += relation[y, x, k] != 0
    assert checked > 200 and related > 20  # the frame holds layered pairs of both outcomes


def test_held_out_families_are_refused(monkeypatch, capsys):
    from bench import label_misses
    from obtoolkit.synth.families import HELD_OUT_FAMILIES

    monkeypatch.setattr(sys, "argv", ["label_misses.py", "--family", HELD_OUT_FAMILIES[0]])
    with pytest.raises(SystemExit) as raised:
        label_misses.main()
    assert raised.value.code == 2
    assert "held-out family" in capsys.readouterr().err

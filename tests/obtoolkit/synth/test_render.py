from __future__ import annotations

import numpy as np
import pytest

from obtoolkit._open3d import open3d_available
from obtoolkit.geometry import camera_rays, standard_M_cam_from_uv
from obtoolkit.synth import meshes, render
from obtoolkit.synth.cameras import look_at

pytestmark = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")


def _two_planes():
    """Key 1: a wall at y = 3 m; key 2: a smaller plate at y = 2 m in front of it (metres = asset units here)."""
    wall = meshes.rectangle_with_hole([-10, 3, -10], [20, 0, 0], [0, 0, 20])
    plate = meshes.rectangle_with_hole([-0.5, 2, -0.5], [1, 0, 0], [0, 0, 1])
    both = meshes.concatenate([wall, plate])
    return render.MeshCaster(both.vertices, both.faces, np.array([1, 1, 2, 2]))


def test_pixel_rays_are_hypersims_exact_rays():
    R = look_at(np.array([1.0, 2.0, 3.0]), np.array([4.0, 9.0, 1.0]))
    M = standard_M_cam_from_uv(6, 8)
    camera = render.RayCamera(M, R, np.array([1.0, 2.0, 3.0]), 6, 8)
    rays = camera.pixel_rays()
    assert rays.shape == (6, 8, 6) and rays.dtype == np.float32
    np.testing.assert_allclose(rays[..., :3], np.broadcast_to([1, 2, 3], (6, 8, 3)))
    np.testing.assert_allclose(rays[..., 3:], camera_rays(M, 6, 8) @ R.T, atol=1e-7)


def test_cast_gives_euclidean_distance_faces_and_misses():
    caster = _two_planes()
    rays = np.array([[0, 0, 0, 0, 1, 0], [0, 0, 0, 0.6, 0.8, 0], [0, 0, 0, 0, -1, 0]], np.float32)
    hits = caster.cast(rays)
    np.testing.assert_allclose(hits.t_asset[:2], [2.0, 3.0 / 0.8], rtol=1e-6)
    assert hits.t_asset[2] == np.inf and hits.face[2] == -1 and not hits.hit[2]
    assert hits.face[0] in (2, 3) and hits.face[1] in (0, 1)
    points = hits.points_asset(rays)
    np.testing.assert_allclose(points[1], [3 * 0.75, 3.0, 0.0], atol=1e-5)
    assert np.isnan(points[2]).all()


def test_cast_on_keys_sees_through_other_keys():
    caster = _two_planes()
    rays = np.array([[0, 0, 0, 0, 1, 0]] * 3, np.float32)
    hits = caster.cast_on_keys(rays, np.array([1, 2, 5]))
    np.testing.assert_allclose(hits.t_asset, [3.0, 2.0, np.inf])
    assert hits.face[0] in (0, 1) and hits.face[1] in (2, 3) and hits.face[2] == -1
    assert caster.cast_on_keys(np.zeros((0, 6), np.float32), np.zeros(0, np.int64)).face.shape == (0,)


def test_faces_touch():
    caster = _two_planes()
    np.testing.assert_array_equal(caster.faces_touch(np.array([0, 0, 0, 2, -1]), np.array([0, 1, 2, 3, 0])),
                                  [True, True, False, True, False])


def test_tonemap_puts_the_90th_percentile_at_0_8():
    rng = np.random.default_rng(0)
    color = rng.uniform(0.0, 3.0, (40, 50, 1)).repeat(3, axis=2)
    valid = np.ones((40, 50), bool)
    valid[:5] = False
    color[:5] = 100.0  # invalid pixels do not set the exposure
    out = render.tonemap(color, valid)
    assert out.dtype == np.uint8 and out.shape == (40, 50, 3)
    assert np.percentile(out[5:, :, 0], 90) == pytest.approx(0.8 * 255, abs=1.5)
    assert (out[:5] == 255).all()
    gray = np.full((4, 4, 3), 0.5)
    np.testing.assert_array_equal(render.tonemap(gray, np.zeros((4, 4), bool)),
                                  np.full((4, 4, 3), round(0.5 ** (1 / 2.2) * 255)))  # no valid pixel: scale 1
    assert (render.tonemap(np.zeros((4, 4, 3)), np.ones((4, 4), bool)) == 0).all()

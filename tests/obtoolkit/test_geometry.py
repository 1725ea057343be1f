from __future__ import annotations

import math

import numpy as np
import pytest

from obtoolkit.geometry import (
    NORMAL_FLIPPED,
    NORMAL_FROM_DEPTH,
    NORMAL_GIVEN,
    NORMAL_NONE,
    camera_rays,
    depth_normals,
    distance_to_planar_depth,
    pinhole_equivalent,
    pixel_centre_uv,
    planar_depth_to_distance,
    points_cam_from_distance,
    points_world_from_cam,
    rays_from_uv,
    sanitize_normals,
    sanitize_normals_at,
    standard_M_cam_from_uv,
)
from obtoolkit.hypersim import HypersimLayout, read_camera_parameters, read_camera_trajectory, read_hdf5_dataset


@pytest.fixture(scope="module")
def camera_table(shared_fixtures):
    return read_camera_parameters(shared_fixtures / "hypersim" / "metadata_camera_parameters.csv")


@pytest.fixture(scope="module")
def fixture_frame(shared_fixtures, camera_table):
    root = shared_fixtures / "hypersim"
    path = root / "ai_037_002/images/scene_cam_00_geometry_hdf5/frame.0000.depth_meters.hdf5"
    distance = read_hdf5_dataset(path, what="depth", kind="f", shape=(768, 1024)).astype(np.float64)
    trajectory = read_camera_trajectory(HypersimLayout(root), "ai_037_002", "cam_00")
    return camera_table.camera("ai_037_002"), distance, trajectory


def closed_form_rays(height, width, focal_px):
    """The standard-camera closed form: ray through pixel (i, j) is (i + 0.5 - W/2, -(j + 0.5 - H/2), -f)."""
    j, i = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack([i + 0.5 - width / 2, -(j + 0.5 - height / 2), -np.full_like(i, focal_px)], axis=-1)
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def test_uv_at_pixel_centres():
    u, v = pixel_centre_uv(2, 4)
    np.testing.assert_allclose(u[0], [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_allclose(v[:, 0], [0.5, -0.5])


def test_standard_camera_rays_equal_closed_form():
    height, width = 768, 1024
    focal = (width / 2) / math.tan(math.pi / 6)
    assert focal == pytest.approx(886.81, abs=0.01)
    exact = camera_rays(standard_M_cam_from_uv(height, width), height, width)
    closed = closed_form_rays(height, width, focal)
    assert np.max(np.abs(exact - closed) / np.abs(closed).max(axis=-1, keepdims=True)) < 1e-6
    assert np.all(exact[..., 2] < 0)


def test_rays_ignore_matrix_scale_and_lie_in_plane_of_pair():
    M = np.array([[0.58, 0.01, -0.07], [0.0, 0.43, 0.09], [0.0, 0.004, -1.0]])
    a = rays_from_uv(M, np.array([0.1]), np.array([0.2]))
    b = rays_from_uv(3.7 * M, np.array([0.1]), np.array([0.2]))
    np.testing.assert_allclose(a, b, atol=1e-15)
    r1, r2 = rays_from_uv(M, np.array([0.1, 0.3]), np.array([0.2, 0.2]))
    mid = rays_from_uv(M, np.array([0.2]), np.array([0.2]))[0]
    assert abs(np.dot(np.cross(r1, r2), mid)) < 1e-15


def test_depth_round_trip_and_backprojection():
    rays = camera_rays(standard_M_cam_from_uv(6, 8), 6, 8)
    distance = np.linspace(1, 5, 48).reshape(6, 8)
    distance[0, 0] = np.nan
    planar = distance_to_planar_depth(distance, rays)
    np.testing.assert_allclose(planar_depth_to_distance(planar, rays), distance)
    points = points_cam_from_distance(distance, rays)
    np.testing.assert_allclose(-points[..., 2], planar)
    np.testing.assert_allclose(np.linalg.norm(points, axis=-1), distance)
    assert np.isnan(points[0, 0]).all()


def test_world_points_inverse_of_pose():
    rng = np.random.default_rng(0)
    R, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    R *= np.sign(np.linalg.det(R))
    c = np.array([10.0, -20.0, 30.0])
    world = rng.normal(size=(5, 3)) * 100
    cam_m = (world - c) @ R * 0.0254
    np.testing.assert_allclose(points_world_from_cam(cam_m, R, c, 0.0254), world, atol=1e-9)


def test_real_tilt_shift_pinhole_equivalent(fixture_frame):
    camera, _, _ = fixture_frame
    assert not camera.is_standard()
    pinhole = pinhole_equivalent(camera.M_cam_from_uv, camera.height, camera.width)
    assert pinhole.fx == pytest.approx(887.535, abs=0.01)
    assert pinhole.fy == pytest.approx(887.535, abs=0.01)
    assert pinhole.cx == pytest.approx(572.94, abs=0.01)
    assert pinhole.cy == pytest.approx(457.14, abs=0.01)
    assert pinhole.rotation_deg == pytest.approx(0.534, abs=0.005)
    axis = np.array([pinhole.R_v[2, 1] - pinhole.R_v[1, 2], pinhole.R_v[0, 2] - pinhole.R_v[2, 0],
                     pinhole.R_v[1, 0] - pinhole.R_v[0, 1]])
    assert abs(axis[0]) / np.linalg.norm(axis) > 0.999999  # a rotation about x
    np.testing.assert_allclose(pinhole.K_half_pixel()[:2, 2], [573.44, 457.64], atol=0.01)


def test_real_frame_planar_depth_error_of_standard_formula(fixture_frame):
    camera, distance, _ = fixture_frame
    exact = distance_to_planar_depth(distance, camera_rays(camera.M_cam_from_uv, 768, 1024))
    standard = distance_to_planar_depth(distance, closed_form_rays(768, 1024, 886.81))
    error = np.abs(exact - standard)
    assert error.max() == pytest.approx(0.38, abs=0.005)
    assert (error / exact).max() == pytest.approx(0.057, abs=0.001)
    pinhole = pinhole_equivalent(camera.M_cam_from_uv, 768, 1024)
    points = points_cam_from_distance(distance, camera_rays(camera.M_cam_from_uv, 768, 1024))
    assert np.all(pinhole.planar_depth(points) > 0)


def test_real_frame_world_points(fixture_frame):
    """Exact rays + pose put the floor at z = 0 (asset units), horizontal, and keep verticals vertical (spec §1.5)."""
    camera, distance, trajectory = fixture_frame
    R, c = trajectory.pose(0)
    np.testing.assert_allclose(c, [2.91, -443.65, 97.61], atol=0.01)
    pinhole = pinhole_equivalent(camera.M_cam_from_uv, 768, 1024)
    R_world_from_virtual = R @ pinhole.R_virtual_from_cam.T
    np.testing.assert_allclose(R_world_from_virtual[:, 1], [0, 0, -1], atol=1e-6)  # image down = world down

    def world(rays):
        return points_world_from_cam(points_cam_from_distance(distance, rays), R, c, camera.meters_per_asset_unit)

    def plane_fit(points):
        normal = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)[2][-1]
        return math.degrees(math.acos(abs(normal[2]))), np.abs((points - points.mean(axis=0)) @ normal).max()

    exact = world(camera_rays(camera.M_cam_from_uv, 768, 1024))
    floor = exact[..., 2] < 0.5  # the floor: world z within 5 mm of 0 (asset unit = 1 cm)
    assert floor.sum() > 80_000 and exact[..., 2].min() > -0.1
    tilt, spread_cm = plane_fit(exact[floor])
    assert tilt < 0.01 and spread_cm < 0.5  # flat to float16 depth precision
    wrong_tilt, wrong_spread_cm = plane_fit(world(closed_form_rays(768, 1024, 886.81))[floor])
    assert wrong_tilt > 3.0 and wrong_spread_cm > 2.0  # the usual standard-camera formula bends the floor


def test_rays_of_every_csv_scene_equal_rq_pinhole(camera_table):
    assert len(camera_table) == 482
    tilt_shift = 0
    for scene in camera_table.scenes:
        camera = camera_table.camera(scene)
        h, w = camera.height // 8, camera.width // 8  # the same matrix at a lower resolution keeps this fast
        exact = camera_rays(camera.M_cam_from_uv, h, w)
        pinhole = pinhole_equivalent(camera.M_cam_from_uv, h, w)
        np.testing.assert_allclose(pinhole.rays(h, w), exact, rtol=0, atol=1e-6, err_msg=scene)
        tilt_shift += not camera.is_standard()
    assert tilt_shift == 285


def planar_scene(height=24, width=32):
    rays = camera_rays(standard_M_cam_from_uv(height, width), height, width)
    normal = np.array([0.0, 0.6, 0.8])  # a plane tilted towards the camera (z = towards the viewer)
    distance = 3.0 / -(rays @ normal)  # n . (D r) = -3
    return rays, distance, normal


def test_depth_normals_of_a_plane():
    rays, distance, normal = planar_scene()
    valid = np.ones(distance.shape, bool)
    normals, defined = depth_normals(points_cam_from_distance(distance, rays), valid)
    assert defined.all()
    np.testing.assert_allclose(normals, np.broadcast_to(normal, normals.shape), atol=1e-9)


def test_depth_normals_use_one_sided_differences_at_jumps():
    rays, distance, normal = planar_scene()
    distance = distance.copy()
    distance[:, 16:] += 1.0  # a depth jump between columns 15 and 16
    valid = np.ones(distance.shape, bool)
    valid[5, 5] = False
    normals, defined = depth_normals(points_cam_from_distance(distance, rays), valid)
    assert not defined[5, 5]
    left = normals[:, 15][np.arange(24) != 5]
    assert np.all(left @ normal > 0.9999)


def test_sanitize_normals_flips_falls_back_and_records():
    rays, distance, normal = planar_scene()
    valid = np.ones(distance.shape, bool)
    valid[0, :] = False
    given = np.broadcast_to(normal * 2.0, rays.shape).copy()  # non-unit
    given[3, 3] = -normal  # inward
    given[4, 4] = 0.0  # zero (artist normal)
    given[5, 5] = np.nan
    points = points_cam_from_distance(distance, rays)
    result = sanitize_normals(given, rays, points, valid)
    assert result.source[0, 0] == NORMAL_NONE and not result.normals_cam[0].any()
    assert result.source[3, 3] == NORMAL_FLIPPED
    assert result.source[4, 4] == NORMAL_FROM_DEPTH and result.source[5, 5] == NORMAL_FROM_DEPTH
    assert result.source[10, 10] == NORMAL_GIVEN
    defined = result.defined
    np.testing.assert_allclose(result.normals_cam[defined], np.broadcast_to(normal, (defined.sum(), 3)), atol=1e-6)
    assert np.all(np.einsum("hwc,hwc->hw", result.normals_cam, rays)[defined] < 0)


def test_sanitize_hybrid_replaces_disagreeing_normals():
    rays, distance, normal = planar_scene()
    valid = np.ones(distance.shape, bool)
    given = np.broadcast_to(normal, rays.shape).copy()
    given[10, 10] = [0.0, 0.0, 1.0]  # 37 deg off: kept
    given[12, 12] = [1.0, 0.0, 0.2]  # far off: replaced in hybrid mode
    points = points_cam_from_distance(distance, rays)
    hybrid = sanitize_normals(given, rays, points, valid, source="hybrid")
    assert hybrid.source[10, 10] == NORMAL_GIVEN and hybrid.source[12, 12] == NORMAL_FROM_DEPTH
    plain = sanitize_normals(given, rays, points, valid, source="normal_cam")
    assert plain.source[12, 12] == NORMAL_GIVEN
    depth_only = sanitize_normals(None, rays, points, valid, source="depth")
    assert np.all(depth_only.source == NORMAL_FROM_DEPTH)
    with pytest.raises(ValueError):
        sanitize_normals(given, rays, points, valid, source="bump")


@pytest.mark.parametrize("source", ["normal_cam", "depth", "hybrid"])
def test_sparse_sanitizing_equals_full_frame(source):
    rng = np.random.default_rng(4)
    rays, distance, normal = planar_scene()
    distance = distance.copy()
    distance[:, 16:] += 0.7
    valid = rng.random(distance.shape) > 0.1
    given = np.broadcast_to(normal, rays.shape).copy() + rng.normal(scale=0.3, size=rays.shape)
    given[rng.random(distance.shape) < 0.1] = 0.0
    given[rng.random(distance.shape) < 0.1] *= -1.0
    points = points_cam_from_distance(np.where(valid, distance, 0.0), rays)
    full = sanitize_normals(given, rays, points, valid, source=source)
    ys, xs = np.nonzero(np.ones(distance.shape, bool))
    sparse, defined = sanitize_normals_at(given, distance, rays, valid, ys, xs, source=source)
    np.testing.assert_array_equal(defined, full.defined[ys, xs])
    np.testing.assert_allclose(sparse[defined], full.normals_cam[ys, xs][defined], atol=1e-6)

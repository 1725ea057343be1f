from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from obtoolkit.geometry import pinhole_equivalent, rays_from_uv, standard_M_cam_from_uv
from obtoolkit.hypersim import read_camera_parameters
from obtoolkit.synth import cameras
from obtoolkit.synth.writer import HypersimWriter

M_COLUMNS = [f"M_cam_from_uv_{r}{c}" for r in range(3) for c in range(3)]
PROJ_COLUMNS = [f"M_proj_{r}{c}" for r in range(4) for c in range(4)]


@pytest.fixture(scope="module")
def real_cameras(shared_fixtures) -> pd.DataFrame:
    return pd.read_csv(shared_fixtures / "hypersim" / "metadata_camera_parameters.csv")


def test_tilt_shift_constant_is_the_real_row(real_cameras):
    row = real_cameras.set_index("scene_name").loc[cameras.TILT_SHIFT_SOURCE_SCENE]
    np.testing.assert_array_equal(row[M_COLUMNS].to_numpy(float).reshape(3, 3), cameras.TILT_SHIFT_M_CAM_FROM_UV)
    for column in ("camera_physical_horizontal_shift", "camera_physical_vertical_offset"):
        assert cameras.camera_csv_row("ai_900_002", cameras.TILT_SHIFT, 768, 1024, 0.01)[column] == row[column]


def test_projection_matches_every_real_row(real_cameras):
    for _, row in real_cameras.iterrows():
        M = row[M_COLUMNS].to_numpy(float).reshape(3, 3)
        expected = row[PROJ_COLUMNS].to_numpy(float).reshape(4, 4)
        np.testing.assert_allclose(cameras.projection_from_M_cam_from_uv(M), expected, atol=1e-12,
                                   err_msg=row["scene_name"])


def test_tilt_shift_is_clearly_not_standard():
    pinhole = pinhole_equivalent(cameras.TILT_SHIFT_M_CAM_FROM_UV, 768, 1024)
    assert 7.5 < pinhole.rotation_deg < 8.5
    assert abs(pinhole.cx - 511.5) > 100 and abs(pinhole.cy - 383.5) > 100
    u, v = np.meshgrid(np.linspace(-0.9, 0.9, 5), np.linspace(-0.9, 0.9, 5))
    tilted = rays_from_uv(cameras.camera_matrix(cameras.TILT_SHIFT, 96, 128), u, v)
    standard = rays_from_uv(cameras.camera_matrix(cameras.STANDARD, 96, 128), u, v)
    angles = np.degrees(np.arccos(np.clip(np.einsum("...c,...c->...", tilted, standard), -1, 1)))
    assert angles.min() > 1.0 and angles.max() > 8.0
    with pytest.raises(ValueError, match="unknown camera model"):
        cameras.camera_matrix("fisheye", 96, 128)


def test_camera_rows_read_back(tmp_path):
    rows = [cameras.camera_csv_row("ai_900_001", cameras.STANDARD, 96, 128, 0.0254),
            cameras.camera_csv_row("ai_900_002", cameras.TILT_SHIFT, 96, 128, 0.01)]
    HypersimWriter(tmp_path).write_camera_parameters(rows)
    table = read_camera_parameters(tmp_path / "metadata_camera_parameters.csv")
    standard, tilted = table.camera("ai_900_001"), table.camera("ai_900_002")
    assert standard.is_standard() and not tilted.is_standard()
    assert standard.shape_hw == (96, 128) and standard.meters_per_asset_unit == 0.0254
    np.testing.assert_array_equal(tilted.M_cam_from_uv, cameras.TILT_SHIFT_M_CAM_FROM_UV)
    np.testing.assert_allclose(standard.M_proj, cameras.projection_from_M_cam_from_uv(
        standard_M_cam_from_uv(96, 128)))


def test_look_at_and_centre_ray_aim():
    R = cameras.look_at(np.array([0.0, 0.0, 1.5]), np.array([2.0, 3.0, 0.5]))
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    forward = np.array([2.0, 3.0, -1.0]) / np.linalg.norm([2.0, 3.0, -1.0])
    np.testing.assert_allclose(-R[:, 2], forward)
    assert R[2, 0] == pytest.approx(0.0)  # no roll: the camera's x axis stays horizontal
    np.testing.assert_allclose(cameras.centre_ray_rotation(standard_M_cam_from_uv(768, 1024)), np.eye(3))
    Q = cameras.centre_ray_rotation(cameras.TILT_SHIFT_M_CAM_FROM_UV)
    centre = rays_from_uv(cameras.TILT_SHIFT_M_CAM_FROM_UV, np.array(0.0), np.array(0.0))
    np.testing.assert_allclose(Q @ [0, 0, -1], centre, atol=1e-12)


def test_trajectory_aims_the_image_centre_at_the_targets():
    M = cameras.TILT_SHIFT_M_CAM_FROM_UV
    positions, rotations, targets = cameras.trajectory_poses(
        np.array([1.0, 0.5, 1.5]), np.array([2.0, 0.8, 1.4]), np.array([2.0, 4.0, 0.8]), np.array([2.5, 4.0, 0.8]), 3,
        M)
    assert positions.shape == (3, 3) and rotations.shape == (3, 3, 3) and targets.shape == (3, 3)
    centre = rays_from_uv(M, np.array(0.0), np.array(0.0))
    for p, R, t in zip(positions, rotations, targets, strict=True):
        np.testing.assert_allclose(R @ centre, (t - p) / np.linalg.norm(t - p), atol=1e-12)

"""Cameras of synthetic scenes: the standard and a real tilt-shift `M_cam_from_uv`, camera-CSV rows, look-at poses.

Hypersim keys `M_cam_from_uv` by scene (one row of `metadata_camera_parameters.csv` per scene, shared by all of the
scene's trajectories), so the camera model is a property of a synthetic scene too: `make_synthetic_dataset` cycles
through the models scene by scene. Both matrices map uv in (-1, 1)^2 to rays and do not depend on the resolution.
"""

from __future__ import annotations

import math

import numpy as np

from obtoolkit.geometry import HYPERSIM_FOV_X_RAD, standard_M_cam_from_uv

STANDARD = "standard"
TILT_SHIFT = "tilt_shift"
LENS_SHIFT = "lens_shift"
CAMERA_MODELS = (STANDARD, TILT_SHIFT)  # what `make_synthetic_dataset` cycles through by default
ALL_CAMERA_MODELS = (STANDARD, TILT_SHIFT, LENS_SHIFT)

# A real tilt-shift camera: scene ai_028_008, row of contrib/mikeroberts3000/metadata_camera_parameters.csv in
# apple/ml-hypersim (read from ../shared/fixtures/hypersim/metadata_camera_parameters.csv). V-Ray CameraPhysical with
# horizontal_shift 0.1405 and vertical_offset -0.135. Its pinhole equivalent at 1024x768 has f = 875.3 px,
# c = (388.5, 521.7) and an 8.0 degree rotation R_v, so ignoring it misplaces rays by more than 100 px.
TILT_SHIFT_SOURCE_SCENE = "ai_028_008"
TILT_SHIFT_M_CAM_FROM_UV = np.array([
    [0.5827406208740833, 0.0, -0.0],
    [0.0, 0.44134648000992754, 0.15888473911708595],
    [-0.08185879829454684, -0.0, -1.015932107172257],
])
_TILT_SHIFT_PHYSICAL = {  # the V-Ray fields of the same row that produce the matrix
    "use_camera_physical": True,
    "camera_physical_horizontal_shift": 0.14047209918498993,
    "camera_physical_vertical_offset": -0.13500000536441803,
    "camera_physical_lens_shift": 0.0,
    "camera_physical_horizontal_offset": 0.0,
    "camera_physical_zoom_factor": 1.0,
    "camera_physical_fov": 1.0471975803375244,
}
# A strong vertical lens shift: scene ai_026_006 of the same CSV (lens_shift 0.885, the largest pinhole rotation of all
# 482 scenes): its pinhole equivalent at 1024x768 has f = 664.2 px, c = (511.5, 971.1), below the image, and a 41.5
# degree rotation R_v. The image sees well above the camera's -z axis, as a camera looking up a tall room would.
LENS_SHIFT_SOURCE_SCENE = "ai_026_006"
LENS_SHIFT_M_CAM_FROM_UV = np.array([
    [0.7903225369878771, 0.0, -0.0],
    [0.0, 0.4439377392550294, -0.0],
    [-0.0, -0.39276232880718764, -1.3688787409561254],
])
_LENS_SHIFT_PHYSICAL = {
    "use_camera_physical": True,
    "camera_physical_horizontal_shift": 0.0,
    "camera_physical_vertical_offset": 0.0,
    "camera_physical_lens_shift": 0.8847239017486572,
    "camera_physical_horizontal_offset": 0.0,
    "camera_physical_zoom_factor": 1.0,
    "camera_physical_fov": 1.0471975803375244,
}
_MATRICES = {TILT_SHIFT: TILT_SHIFT_M_CAM_FROM_UV, LENS_SHIFT: LENS_SHIFT_M_CAM_FROM_UV}
_PHYSICAL = {TILT_SHIFT: _TILT_SHIFT_PHYSICAL, LENS_SHIFT: _LENS_SHIFT_PHYSICAL}
# Hypersim's projection matrices use near = 1 and far = 1000 (asset units).
PROJ_NEAR, PROJ_FAR = 1.0, 1000.0


def camera_matrix(model: str, height: int, width: int) -> np.ndarray:
    """`M_cam_from_uv` float64 (3, 3) of a camera model at the given image size (only `standard` depends on it)."""
    if model == STANDARD:
        return standard_M_cam_from_uv(height, width)
    if model in _MATRICES:
        return _MATRICES[model].copy()
    raise ValueError(f"unknown camera model {model!r}; known: {ALL_CAMERA_MODELS}")


def projection_from_M_cam_from_uv(M_cam_from_uv: np.ndarray, near: float = PROJ_NEAR,
                                  far: float = PROJ_FAR) -> np.ndarray:
    """OpenGL-style `M_proj` float64 (4, 4) equivalent to `M_cam_from_uv` (as in Hypersim's camera CSV).

    Rows 0, 1 and 3 are the rows of inv(M_cam_from_uv) (clip x, y and w; uv = clip xy / w); row 2 maps the camera
    depth to [-1, 1] between `near` and `far`: row 2 = (far + near) / (far - near) * row 3 - (0, 0, 0, 2 far near /
    (far - near)). This reproduces the M_proj of all 482 rows of the real CSV to 1e-15.
    """
    M = np.asarray(M_cam_from_uv, np.float64)
    inverse = np.linalg.inv(M)
    proj = np.zeros((4, 4))
    proj[0, :3], proj[1, :3], proj[3, :3] = inverse[0], inverse[1], inverse[2]
    proj[2, :3] = (far + near) / (far - near) * inverse[2]
    proj[2, 3] = -2.0 * far * near / (far - near)
    return proj


def camera_csv_row(scene: str, model: str, height: int, width: int, meters_per_asset_unit: float) -> dict:
    """One `metadata_camera_parameters.csv` row: image size, units, fov fields, M_cam_from_uv_ij and M_proj_ij."""
    M = camera_matrix(model, height, width)
    proj = projection_from_M_cam_from_uv(M)
    row: dict[str, object] = {
        "scene_name": scene,
        "settings_output_img_height": float(height),
        "settings_output_img_width": float(width),
        "settings_units_info_meters_scale": meters_per_asset_unit,
        "use_camera_physical": False,
        "settings_camera_fov": HYPERSIM_FOV_X_RAD,
    }
    row.update(_PHYSICAL.get(model, {}))
    row.update({f"M_cam_from_uv_{r}{c}": float(M[r, c]) for r in range(3) for c in range(3)})
    row.update({f"M_proj_{r}{c}": float(proj[r, c]) for r in range(4) for c in range(4)})
    return row


def look_at(position: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """`R_world_from_cam` float64 (3, 3) of a camera at `position` (3,) looking at `target` (3,), no roll.

    Hypersim camera frame: columns are the camera's +x (right), +y (up) and +z (backwards) axes in world coordinates.
    """
    forward = np.asarray(target, np.float64) - np.asarray(position, np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at: the viewing direction is parallel to the up vector")
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    return np.stack([right, true_up, -forward], axis=1)


def centre_ray_rotation(M_cam_from_uv: np.ndarray) -> np.ndarray:
    """Rotation Q float64 (3, 3) of the camera frame taking -z onto the ray through the image centre (uv = 0).

    A shifted lens (tilt-shift) looks off its -z axis; `look_at(...) @ Q.T` aims the image centre at the target. For
    the standard camera Q is the identity.
    """
    centre = np.asarray(M_cam_from_uv, np.float64) @ np.array([0.0, 0.0, 1.0])
    centre /= np.linalg.norm(centre)
    minus_z = np.array([0.0, 0.0, -1.0])
    axis = np.cross(minus_z, centre)
    sin, cos = np.linalg.norm(axis), float(minus_z @ centre)
    if sin < 1e-12:
        return np.eye(3)
    k = axis / sin
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + sin * K + (1.0 - cos) * K @ K


def trajectory_poses(start: np.ndarray, end: np.ndarray, target_start: np.ndarray, target_end: np.ndarray,
                     frames: int, M_cam_from_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth walk of `frames` keyframes: positions and look-at points interpolated along a gentle arc; the image
    centre of `M_cam_from_uv` looks at the look-at point.

    Returns positions (N, 3), R_world_from_cam (N, 3, 3) and look-at points (N, 3), float64, in the input's units.
    """
    s = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    bump = np.sin(np.pi * s)[:, None] * np.array([0.0, 0.0, 0.15 * math.dist(start, end)])
    positions = start + s[:, None] * (np.asarray(end) - start) + bump
    targets = target_start + s[:, None] * (np.asarray(target_end) - target_start)
    Q = centre_ray_rotation(M_cam_from_uv)
    rotations = np.stack([look_at(p, t) @ Q.T for p, t in zip(positions, targets, strict=True)])
    return positions, rotations, targets

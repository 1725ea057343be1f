"""Hand-made frames with known occlusion boundaries, built by intersecting exact rays with planes."""

from __future__ import annotations

import numpy as np

from obtoolkit.geometry import camera_rays, standard_M_cam_from_uv
from obtoolkit.hypersim import FrameGeometry

H, W = 24, 32
TILT_SHIFT_M = np.array([[0.579607, 0.0, -0.069553], [0.0, 0.434687, 0.092733], [0.0, 0.004054, -1.003909]])


def plane_distance(rays, normal, offset):
    """Distance along each unit ray to the plane {X : normal . X = offset} (normal facing the camera)."""
    normal = np.asarray(normal, np.float64) / np.linalg.norm(normal)
    return offset / (rays @ normal), np.broadcast_to(normal, rays.shape).copy()


def layered_frame(M=None, *, front_instance=5, back_instance=-1, gap_m=0.5, front_cols=(10, 20)):
    """A fronto-parallel wall at 3 m (stuff) with a box face in front of it on columns [a, b)."""
    M = standard_M_cam_from_uv(H, W) if M is None else M
    rays = camera_rays(M, H, W)
    back, back_n = plane_distance(rays, [0, 0, 1], -3.0)
    front, front_n = plane_distance(rays, [0, 0, 1], -(3.0 - gap_m))
    columns = np.zeros((H, W), bool)
    columns[:, front_cols[0]:front_cols[1]] = True
    distance = np.where(columns, front, back).astype(np.float32)
    normals = np.where(columns[..., None], front_n, back_n).astype(np.float16)
    semantic = np.where(columns, 5, 1).astype(np.int32)  # chair in front of a wall
    instance = np.where(columns, front_instance, back_instance).astype(np.int32)
    entity = np.where(columns, 7, 1).astype(np.int32)
    return FrameGeometry(distance, np.ones((H, W), bool), M, normals.astype(np.float32), semantic, instance, entity)


def single_surface_frame(distance, normals, M=None):
    """Everything one object (one instance), so every relation is a self-occlusion."""
    M = standard_M_cam_from_uv(H, W) if M is None else M
    ones = np.ones(distance.shape, np.int32)
    return FrameGeometry(distance.astype(np.float32), np.isfinite(distance), M, normals.astype(np.float32),
                       ones * 5, ones * 3, ones * 2)

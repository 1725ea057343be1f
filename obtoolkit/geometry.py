"""Camera geometry for Hypersim: exact rays from `M_cam_from_uv`, depth conversions, back-projection, normals.

Conventions (spec hypersim_and_labels.md §1.5):
- Pixel (column i, row j), 0-based, row 0 at the top; its centre has uv = ((2i+1)/W - 1, 1 - (2j+1)/H).
- Hypersim camera frame: +x right, +y up, +z backwards (the camera looks down -z).
- `distance_m` (Hypersim's depth_meters) is the Euclidean distance from the optical centre along the ray;
  `depth_planar_m` is the depth along the stored camera's viewing axis, -z.
- Every function takes the camera explicitly: 285 of 482 Hypersim scenes use tilt-shift lenses, so no default focal
  length exists anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import scipy.linalg

from obtoolkit._checks import check_array, check_same_hw

# OpenGL-style Hypersim camera frame -> OpenCV frame (x right, y down, z forward).
F_OPENCV_FROM_HYPERSIM = np.diag([1.0, -1.0, -1.0])
HYPERSIM_FOV_X_RAD = math.pi / 3


def pixel_centre_uv(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """uv coordinates of every pixel centre: two float64 (H, W) arrays, u in (-1, 1) rightwards, v upwards."""
    u = (2.0 * np.arange(width) + 1.0) / width - 1.0
    v = 1.0 - (2.0 * np.arange(height) + 1.0) / height
    return np.broadcast_to(u[None, :], (height, width)), np.broadcast_to(v[:, None], (height, width))


def uv_from_pixel(x: np.ndarray | float, y: np.ndarray | float, height: int, width: int):
    """uv of image point (x, y) in 0-based pixel-centre coordinates (pixel (i, j) has its centre at (i, j))."""
    u = (2.0 * np.asarray(x, dtype=np.float64) + 1.0) / width - 1.0
    v = 1.0 - (2.0 * np.asarray(y, dtype=np.float64) + 1.0) / height
    return u, v


def rays_from_uv(M_cam_from_uv: np.ndarray, u: np.ndarray, v: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Camera-frame rays through uv points: float64 (..., 3) = M_cam_from_uv @ (u, v, 1), unit length by default.

    The map is linear in uv, so the ray through the uv midpoint of two pixels lies in the plane of their two rays.
    """
    M = check_array("M_cam_from_uv", np.asarray(M_cam_from_uv, dtype=np.float64), shape=(3, 3))
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    rays = u[..., None] * M[:, 0] + v[..., None] * M[:, 1] + M[:, 2]
    if normalize:
        rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    return rays


def camera_rays(M_cam_from_uv: np.ndarray, height: int, width: int) -> np.ndarray:
    """Exact unit rays at every pixel centre: float64 (H, W, 3) in the Hypersim camera frame (z < 0 in front)."""
    u, v = pixel_centre_uv(height, width)
    return rays_from_uv(M_cam_from_uv, u, v)


def standard_M_cam_from_uv(height: int, width: int, fov_x_rad: float = HYPERSIM_FOV_X_RAD) -> np.ndarray:
    """The canonical (non-tilt-shift) matrix diag(tan(fov_x/2), tan(fov_y/2), -1), float64 (3, 3).

    With fov_x = 60 deg and 1024x768 this is Hypersim's standard camera (focal length 886.81 px). Only 197 of 482
    scenes use it: read the per-scene matrix from the camera CSV instead of assuming this one.
    """
    tan_x = math.tan(fov_x_rad / 2.0)
    return np.diag([tan_x, tan_x * height / width, -1.0])


def distance_to_planar_depth(distance_m: np.ndarray, rays_unit: np.ndarray) -> np.ndarray:
    """Planar depth along the camera's -z axis, `D * (-r_z)`: float (H, W) in metres; NaN stays NaN."""
    check_same_hw("distance_to_planar_depth", distance_m=distance_m, rays_unit=rays_unit)
    return distance_m * -rays_unit[..., 2]


def planar_depth_to_distance(depth_planar_m: np.ndarray, rays_unit: np.ndarray) -> np.ndarray:
    """Inverse of `distance_to_planar_depth`: Euclidean distance along each ray, (H, W) metres; NaN stays NaN."""
    check_same_hw("planar_depth_to_distance", depth_planar_m=depth_planar_m, rays_unit=rays_unit)
    return depth_planar_m / -rays_unit[..., 2]


def points_cam_from_distance(distance_m: np.ndarray, rays_unit: np.ndarray) -> np.ndarray:
    """Back-project: camera-frame points `D * r`, float64 (H, W, 3) in metres; NaN where the distance is NaN."""
    check_same_hw("points_cam_from_distance", distance_m=distance_m, rays_unit=rays_unit)
    return distance_m.astype(np.float64)[..., None] * rays_unit


def points_world_from_cam(
    points_cam_m: np.ndarray, R_world_from_cam: np.ndarray, position_asset: np.ndarray, meters_per_asset_unit: float
) -> np.ndarray:
    """World points in asset units (Hypersim's `position`): c + R_world_from_cam @ (P_cam / meters_per_asset_unit).

    Args:
        points_cam_m: (..., 3) camera-frame points in metres.
        R_world_from_cam: (3, 3) camera-to-world rotation of the frame's keyframe.
        position_asset: (3,) camera centre in asset units.
        meters_per_asset_unit: scene scale.

    Returns:
        float64 (..., 3) world positions in asset units.
    """
    R = check_array("R_world_from_cam", np.asarray(R_world_from_cam, np.float64), shape=(3, 3))
    c = check_array("position_asset", np.asarray(position_asset, np.float64), shape=(3,))
    return c + (np.asarray(points_cam_m, np.float64) / meters_per_asset_unit) @ R.T


@dataclass(frozen=True, eq=False)
class PinholeEquivalent:
    """The pinhole camera that reproduces a Hypersim `M_cam_from_uv` exactly (spec §1.5).

    Attributes:
        K: float64 (3, 3) upper-triangular intrinsics (K[2, 2] = 1) in the 0-based pixel-centre convention: pixel (i, j)
            has its centre at image point (i, j), so a standard 1024x768 scene has c = (511.5, 383.5).
        R_v: float64 (3, 3) rotation from the OpenCV-oriented camera frame (F @ Hypersim frame) to the virtual pinhole
            frame. Virtual-frame ray of a Hypersim ray d: R_v @ F @ d; the pixel it hits is K @ (that ray).
    """

    K: np.ndarray
    R_v: np.ndarray

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def skew(self) -> float:
        return float(self.K[0, 1])

    @property
    def rotation_deg(self) -> float:
        """Angle of R_v in degrees (0 for a standard camera)."""
        return math.degrees(math.acos(np.clip((np.trace(self.R_v) - 1.0) / 2.0, -1.0, 1.0)))

    @property
    def R_virtual_from_cam(self) -> np.ndarray:
        """Rotation from the Hypersim camera frame to the virtual pinhole (OpenCV) frame: R_v @ F."""
        return self.R_v @ F_OPENCV_FROM_HYPERSIM

    def K_half_pixel(self) -> np.ndarray:
        """K in the convention where pixel (i, j) has its centre at (i + 0.5, j + 0.5) (P2ORM, OpenCV continuous)."""
        K = self.K.copy()
        K[0, 2] += 0.5
        K[1, 2] += 0.5
        return K

    def planar_depth(self, points_cam_m: np.ndarray) -> np.ndarray:
        """Depth along the virtual pinhole's optical axis, e3 . R_v F P_cam: (H, W) metres."""
        return np.asarray(points_cam_m, np.float64) @ self.R_virtual_from_cam[2]

    def rays(self, height: int, width: int) -> np.ndarray:
        """Unit rays of this pinhole at every pixel centre, expressed in the Hypersim camera frame: (H, W, 3)."""
        j, i = np.mgrid[0:height, 0:width].astype(np.float64)
        pixels = np.stack([i, j, np.ones_like(i)], axis=-1)
        virtual = pixels @ np.linalg.inv(self.K).T
        rays = virtual @ self.R_virtual_from_cam  # R^T applied to row vectors
        return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def uv_from_pixel_matrix(height: int, width: int) -> np.ndarray:
    """T (3, 3): maps homogeneous 0-based pixel-centre coordinates (i, j, 1) to (u, v, 1)."""
    return np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, -2.0 / height, 1.0 - 1.0 / height], [0, 0, 1.0]])


def pinhole_equivalent(M_cam_from_uv: np.ndarray, height: int, width: int) -> PinholeEquivalent:
    """RQ-factorise A = (F M T)^-1 = K R_v into intrinsics K (positive diagonal) and a rotation R_v (spec §1.5)."""
    M = check_array("M_cam_from_uv", np.asarray(M_cam_from_uv, dtype=np.float64), shape=(3, 3))
    A = np.linalg.inv(F_OPENCV_FROM_HYPERSIM @ M @ uv_from_pixel_matrix(height, width))
    R, Q = scipy.linalg.rq(A)
    signs = np.diag(np.sign(np.diag(R)))
    K, R_v = R @ signs, signs @ Q
    if np.linalg.det(R_v) < 0:
        raise ValueError("M_cam_from_uv does not describe a right-handed camera (RQ gives a reflection)")
    return PinholeEquivalent(K=K / K[2, 2], R_v=R_v)


# ---------------------------------------------------------------------------------------------------------------------
# Normals

NORMAL_NONE, NORMAL_GIVEN, NORMAL_FLIPPED, NORMAL_FROM_DEPTH = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class SanitizedNormals:
    """Unit camera-frame normals that face the camera, with where each came from.

    Attributes:
        normals_cam: float32 (H, W, 3), unit length with n . ray <= 0; zero where `source == NORMAL_NONE`.
        source: uint8 (H, W): NORMAL_NONE (0, invalid pixel or no usable normal), NORMAL_GIVEN (1, the input normal),
            NORMAL_FLIPPED (2, the input normal flipped to face the camera), NORMAL_FROM_DEPTH (3, derived from depth).
    """

    normals_cam: np.ndarray
    source: np.ndarray

    @property
    def defined(self) -> np.ndarray:
        return self.source != NORMAL_NONE


def depth_normals(
    points_cam_m: np.ndarray, valid_mask: np.ndarray, *, jump_rel: float = 0.02, where: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Normals from back-projected points: cross product of horizontal and vertical tangents, facing the camera.

    Each tangent is a central difference where both neighbours are valid and the distance's second difference is at
    most `jump_rel` times the distance (no jump); otherwise the one-sided difference towards the valid neighbour with
    the smaller distance change (the same surface side of a jump).

    Args:
        points_cam_m: float (H, W, 3) camera-frame points, metres (any value where invalid).
        valid_mask: bool (H, W).
        where: optional bool (H, W): compute only these pixels (the others are left undefined).

    Returns:
        normals float64 (H, W, 3) unit, n . P <= 0 (facing the camera), zero where undefined; defined bool (H, W).
    """
    check_same_hw("depth_normals", points_cam_m=points_cam_m, valid_mask=valid_mask, subset=where)
    ys, xs = np.nonzero(valid_mask if where is None else valid_mask & where)
    normal, ok = _depth_normals_at(lambda rows, cols: points_cam_m[rows, cols], valid_mask, ys, xs, jump_rel)
    normals = np.zeros(valid_mask.shape + (3,), np.float64)
    defined = np.zeros(valid_mask.shape, bool)
    normals[ys[ok], xs[ok]] = normal[ok]
    defined[ys[ok], xs[ok]] = True
    return normals, defined


def _depth_normals_at(point_at, valid, ys, xs, jump_rel):
    """Depth normals at pixels (ys, xs): float64 (N, 3) unit facing the camera, and ok (N,).

    `point_at(rows, cols)` returns the camera-frame points of the given pixels (computed on demand, so that a few
    pixels never cost a whole frame).
    """
    tangent_x, ok_x = _tangent_at(point_at, valid, ys, xs, axis=1, jump_rel=jump_rel)
    tangent_y, ok_y = _tangent_at(point_at, valid, ys, xs, axis=0, jump_rel=jump_rel)
    normal = np.cross(tangent_x, tangent_y)
    norm = np.linalg.norm(normal, axis=-1)
    ok = ok_x & ok_y & (norm > 1e-12)
    normal = normal / np.where(ok, norm, 1.0)[:, None]
    centre = point_at(ys, xs).astype(np.float64)
    normal[np.einsum("nc,nc->n", normal, centre) > 0] *= -1.0
    normal[~ok] = 0.0
    return normal, ok


def _tangent_at(point_at, valid, ys, xs, *, axis: int, jump_rel: float):
    """Surface tangent along `axis` at pixels (ys, xs): float64 (N, 3) and whether it exists (N,)."""
    height, width = valid.shape

    def neighbour(step):
        ny, nx = (ys + step, xs) if axis == 0 else (ys, xs + step)
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        ny, nx = np.clip(ny, 0, height - 1), np.clip(nx, 0, width - 1)
        return point_at(ny, nx).astype(np.float64), inside & valid[ny, nx]

    centre = point_at(ys, xs).astype(np.float64)
    after, after_ok = neighbour(1)
    before, before_ok = neighbour(-1)
    forward, backward = after - centre, centre - before
    distance = np.linalg.norm(centre, axis=-1)
    d_forward = np.linalg.norm(after, axis=-1) - distance
    d_backward = distance - np.linalg.norm(before, axis=-1)
    smooth = after_ok & before_ok & (np.abs(d_forward - d_backward) <= jump_rel * distance)
    use_forward = after_ok & (~before_ok | (np.abs(d_forward) <= np.abs(d_backward)))
    tangent = np.where(use_forward[:, None], forward, backward)
    tangent = np.where(smooth[:, None], 0.5 * (forward + backward), tangent)
    return tangent, after_ok | before_ok


def sanitize_normals_at(
    normals_cam: np.ndarray | None,
    distance_m: np.ndarray,
    rays_unit: np.ndarray,
    valid_mask: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    *,
    source: str = "normal_cam",
    min_norm: float = 0.5,
    max_disagreement_deg: float = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """`sanitize_normals` at the pixels (ys, xs) only: unit normals float64 (N, 3) facing the camera, defined (N,).

    The same rules as the full-frame version, computed without any full-frame array (for checks that sample pixels).
    """
    if source not in ("normal_cam", "depth", "hybrid"):
        raise ValueError(f"source must be normal_cam, depth or hybrid, got {source!r}")

    def point_at(rows, cols):
        return np.where(valid_mask[rows, cols], distance_m[rows, cols], 0.0)[:, None] * rays_unit[rows, cols]

    valid = valid_mask[ys, xs]
    out = np.zeros((len(ys), 3))
    usable = np.zeros(len(ys), bool)
    if source != "depth" and normals_cam is not None:
        given = normals_cam[ys, xs].astype(np.float64)
        norm = np.linalg.norm(given, axis=-1)
        usable = valid & np.isfinite(norm) & (norm >= min_norm)
        given = np.where(usable[:, None], given / np.where(usable, norm, 1.0)[:, None], 0.0)
        given[np.einsum("nc,nc->n", given, rays_unit[ys, xs]) > 0] *= -1.0
        out = given
    need = valid & (~usable if source == "normal_cam" else np.ones(len(ys), bool))
    depth_n = np.zeros((len(ys), 3))
    depth_ok = np.zeros(len(ys), bool)
    depth_n[need], depth_ok[need] = _depth_normals_at(point_at, valid_mask, ys[need], xs[need], 0.02)
    if source == "hybrid":
        agree = np.einsum("nc,nc->n", out, depth_n) >= math.cos(math.radians(max_disagreement_deg))
        usable &= agree | ~depth_ok
    fallback = valid & ~usable & depth_ok
    out[fallback] = depth_n[fallback]
    return out, usable | fallback


@numba.njit(cache=True, nogil=True)
def _normalise_facing(normals, rays, valid, min_norm):
    """Unit, camera-facing copies of usable given normals; flags usable and flipped pixels."""
    height, width = valid.shape
    out = np.zeros((height, width, 3), np.float64)
    usable = np.zeros((height, width), np.bool_)
    flipped = np.zeros((height, width), np.bool_)
    for y in range(height):
        for x in range(width):
            if not valid[y, x]:
                continue
            n0, n1, n2 = float(normals[y, x, 0]), float(normals[y, x, 1]), float(normals[y, x, 2])
            norm = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
            if not np.isfinite(norm) or norm < min_norm:
                continue
            n0, n1, n2 = n0 / norm, n1 / norm, n2 / norm
            if n0 * rays[y, x, 0] + n1 * rays[y, x, 1] + n2 * rays[y, x, 2] > 0:
                n0, n1, n2 = -n0, -n1, -n2
                flipped[y, x] = True
            out[y, x, 0], out[y, x, 1], out[y, x, 2] = n0, n1, n2
            usable[y, x] = True
    return out, usable, flipped


def sanitize_normals(
    normals_cam: np.ndarray | None,
    rays_unit: np.ndarray,
    points_cam_m: np.ndarray,
    valid_mask: np.ndarray,
    *,
    source: str = "normal_cam",
    min_norm: float = 0.5,
    max_disagreement_deg: float = 60.0,
    where: np.ndarray | None = None,
) -> SanitizedNormals:
    """Make normals usable: normalise, face the camera, fall back to depth-derived normals, record where (spec §6.1).

    Args:
        normals_cam: float (H, W, 3) Hypersim `normal_cam` (may be NaN, zero, non-unit or inward), or None.
        rays_unit: float64 (H, W, 3) unit rays of the pixels.
        points_cam_m: float (H, W, 3) camera-frame points (for depth normals), metres.
        valid_mask: bool (H, W) valid depth pixels; no normal is produced elsewhere.
        source: "normal_cam" (given normals, depth fallback where unusable), "depth" (depth normals only) or
            "hybrid" (like normal_cam, and also depth normals where the two disagree by > max_disagreement_deg).
        min_norm: a given normal shorter than this is unusable (artist normals can be zero).
        max_disagreement_deg: hybrid mode only.
        where: optional bool (H, W): only these pixels get normals (others are NORMAL_NONE); saves work when only
            a few pixels are needed. Depth normals still use the neighbours' points.
    """
    if source not in ("normal_cam", "depth", "hybrid"):
        raise ValueError(f"source must be normal_cam, depth or hybrid, got {source!r}")
    check_same_hw("sanitize_normals", normals_cam=normals_cam, rays_unit=rays_unit, valid_mask=valid_mask)
    out = np.zeros(valid_mask.shape + (3,), np.float64)
    origin = np.zeros(valid_mask.shape, np.uint8)
    usable = np.zeros(valid_mask.shape, bool)
    flipped = usable
    wanted = valid_mask if where is None else valid_mask & where
    if source != "depth" and normals_cam is not None:
        out, usable, flipped = _normalise_facing(normals_cam, rays_unit, wanted, min_norm)
    if source != "hybrid":
        # depth normals only where no usable given normal is (`depth_normals`' values, without its full-frame arrays)
        check_same_hw("depth_normals", points_cam_m=points_cam_m, valid_mask=valid_mask)
        ys, xs = np.nonzero(wanted & ~usable)
        depth_n, depth_ok = _depth_normals_at(lambda rows, cols: points_cam_m[rows, cols], valid_mask, ys, xs, 0.02)
        origin[usable] = np.where(flipped[usable], NORMAL_FLIPPED, NORMAL_GIVEN)
        ys, xs = ys[depth_ok], xs[depth_ok]
        out[ys, xs] = depth_n[depth_ok]
        origin[ys, xs] = NORMAL_FROM_DEPTH
        return SanitizedNormals(out.astype(np.float32), origin)
    depth_n, depth_ok = depth_normals(points_cam_m, valid_mask, where=wanted)
    cos_limit = math.cos(math.radians(max_disagreement_deg))
    agree = np.einsum("hwc,hwc->hw", out, depth_n) >= cos_limit
    usable = usable & (agree | ~depth_ok)
    origin[usable] = np.where(flipped[usable], NORMAL_FLIPPED, NORMAL_GIVEN)
    fallback = wanted & ~usable & depth_ok
    out[fallback] = depth_n[fallback]
    out[~(usable | fallback)] = 0.0
    origin[fallback] = NORMAL_FROM_DEPTH
    return SanitizedNormals(out.astype(np.float32), origin)

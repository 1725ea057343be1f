"""Ray casting of triangle meshes with Hypersim's exact camera model (open3d, the `raycast` extra).

Rays are Hypersim's exact rays: pixel-centre uv -> `M_cam_from_uv` -> unit camera-frame ray -> world frame by the
keyframe's `R_world_from_cam`, from the camera position, in asset units. A unit ray makes the hit distance the
Euclidean distance, so `depth_meters = t_hit * meters_per_asset_unit` (Hypersim's definition). open3d's
`RaycastingScene` casts on one thread: the casts are deterministic and the test machines have 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from obtoolkit._checks import check_array
from obtoolkit._open3d import import_open3d
from obtoolkit.geometry import pixel_centre_uv, rays_from_uv

CAST_THREADS = 1


@dataclass(frozen=True, eq=False)
class RayCamera:
    """One camera pose with Hypersim's exact ray model.

    Attributes:
        M_cam_from_uv: float64 (3, 3).
        R_world_from_cam: float64 (3, 3).
        position_asset: float64 (3,) camera centre in asset units.
        height, width: image size in pixels.
    """

    M_cam_from_uv: np.ndarray
    R_world_from_cam: np.ndarray
    position_asset: np.ndarray
    height: int
    width: int

    def rays_at_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """World rays through uv points: float32 (..., 6) = (origin, unit direction), asset units."""
        directions = rays_from_uv(self.M_cam_from_uv, u, v) @ np.asarray(self.R_world_from_cam, np.float64).T
        origins = np.broadcast_to(np.asarray(self.position_asset, np.float64), directions.shape)
        return np.concatenate([origins, directions], axis=-1).astype(np.float32)

    def pixel_rays(self) -> np.ndarray:
        """World rays through every pixel centre: float32 (H, W, 6)."""
        return self.rays_at_uv(*pixel_centre_uv(self.height, self.width))


@dataclass(frozen=True, eq=False)
class Hits:
    """First hits of a batch of rays.

    Attributes:
        t_asset: float32 (...) distance along the (unit) ray in asset units; inf on a miss.
        face: int64 (...) face index into the scene mesh; -1 on a miss.
        barycentric: float32 (..., 2) (b1, b2): the hit is (1 - b1 - b2) v0 + b1 v1 + b2 v2; 0 on a miss.
    """

    t_asset: np.ndarray
    face: np.ndarray
    barycentric: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        return self.face >= 0

    def points_asset(self, rays: np.ndarray) -> np.ndarray:
        """Hit points float64 (..., 3), origin + t * direction; NaN on a miss."""
        t = np.where(self.hit, self.t_asset, np.nan).astype(np.float64)
        return rays[..., :3].astype(np.float64) + t[..., None] * rays[..., 3:].astype(np.float64)


class MeshCaster:
    """A scene mesh in an open3d RaycastingScene (not picklable: build one per process), with each face's key.

    Args:
        vertices_asset: float (V, 3), asset units.
        faces_vi: int (F, 3).
        face_key: int64 (F,) any integer label per face; `cast_on_keys` only sees faces of the asked key.
    """

    def __init__(self, vertices_asset: np.ndarray, faces_vi: np.ndarray, face_key: np.ndarray):
        o3d = import_open3d()
        self.faces_vi = check_array("faces_vi", np.asarray(faces_vi, np.int64), shape=(None, 3))
        self.face_key = check_array("face_key", np.asarray(face_key, np.int64), shape=(len(self.faces_vi),))
        self._o3d = o3d
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(np.asarray(vertices_asset, np.float32)),
                                  o3d.core.Tensor(self.faces_vi.astype(np.uint32)))

    def cast(self, rays: np.ndarray) -> Hits:
        """First hit of each ray (float32 (..., 6)) on any face."""
        result = self._scene.cast_rays(self._o3d.core.Tensor(np.ascontiguousarray(rays, np.float32)),
                                       nthreads=CAST_THREADS)
        face = result["primitive_ids"].numpy().astype(np.int64)
        miss = face == int(self._scene.INVALID_ID)
        face[miss] = -1
        bary = np.where(miss[..., None], 0.0, result["primitive_uvs"].numpy()).astype(np.float32)
        return Hits(result["t_hit"].numpy(), face, bary)

    def cast_on_keys(self, rays: np.ndarray, keys: np.ndarray, other_keys: np.ndarray | None = None) -> Hits:
        """First hit of each ray (float32 (N, 6)) among the faces whose key equals `keys` (N,), or `other_keys` (N,)
        when given: other faces are transparent, as if the scene held only those keys' surfaces."""
        n = len(rays)
        t = np.full(n, np.inf, np.float32)
        face = np.full(n, -1, np.int64)
        bary = np.zeros((n, 2), np.float32)
        if n == 0:
            return Hits(t, face, bary)
        found = self._scene.list_intersections(self._o3d.core.Tensor(np.ascontiguousarray(rays, np.float32)),
                                               nthreads=CAST_THREADS)
        ray_ids = found["ray_ids"].numpy().astype(np.int64)
        prims = found["primitive_ids"].numpy().astype(np.int64)
        keep = self.face_key[prims] == np.asarray(keys)[ray_ids]
        if other_keys is not None:
            keep |= self.face_key[prims] == np.asarray(other_keys)[ray_ids]
        ray_ids, prims, t_hit = ray_ids[keep], prims[keep], found["t_hit"].numpy()[keep]
        order = np.lexsort((prims, t_hit, ray_ids))  # nearest first; ties broken by face index (deterministic)
        first = order[np.unique(ray_ids[order], return_index=True)[1]]
        t[ray_ids[first]] = t_hit[first]
        face[ray_ids[first]] = prims[first]
        bary[ray_ids[first]] = found["primitive_uvs"].numpy()[keep][first]
        return Hits(t, face, bary)

    def faces_touch(self, face_a: np.ndarray, face_b: np.ndarray) -> np.ndarray:
        """bool (N,): the two faces are the same face or share a (welded) vertex; False where either is -1."""
        va, vb = self.faces_vi[face_a], self.faces_vi[face_b]
        shared = (va[:, :, None] == vb[:, None, :]).any(axis=(1, 2))
        return (face_a >= 0) & (face_b >= 0) & shared

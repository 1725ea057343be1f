"""Ray casting and shading of synthetic scenes into Hypersim's per-frame images, and Hypersim's tone map.

Rays are Hypersim's exact rays: pixel-centre uv -> `M_cam_from_uv` -> unit camera-frame ray -> world frame by the
keyframe's `R_world_from_cam`, from the camera position, in asset units. open3d's `RaycastingScene` casts them
(float32, one thread: the casts are deterministic and the test machines have 2 cores). A unit ray makes the hit
distance the Euclidean distance, so `depth_meters = t_hit * meters_per_asset_unit` (Hypersim's definition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from obtoolkit._checks import check_array
from obtoolkit._open3d import import_open3d
from obtoolkit.geometry import pixel_centre_uv, rays_from_uv
from obtoolkit.synth.scene import SceneMesh, SyntheticScene

CAST_THREADS = 1
AMBIENT = 0.12
LIGHT_RGB = np.array([1.0, 0.93, 0.8]) * 5.0  # point-light power; the tone map rescales the image anyway
BACKGROUND_RGB = np.array([1.6, 1.8, 2.2])  # what rays that hit nothing see (the `residual` of window pixels)
SHININESS = 40.0
BUMP_WAVELENGTH_M = 0.04
TEXTURE_KINDS = {"plain": 0, "checker": 1, "stripes": 2}


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

    def cast_on_keys(self, rays: np.ndarray, keys: np.ndarray) -> Hits:
        """First hit of each ray (float32 (N, 6)) among the faces whose key equals `keys` (N,): other faces are
        transparent, as if the scene held only that key's surfaces."""
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


# ---------------------------------------------------------------------------------------------------------------------
# Shading


@dataclass(frozen=True, eq=False)
class RenderedFrame:
    """Every per-frame image of one Hypersim frame, in Hypersim's stored dtypes.

    Attributes:
        geometry: modality name (GEOMETRY_MODALITIES) -> float16 / int16 array (H, W[, 3]).
        final: modality name (FINAL_MODALITIES) -> float16 (H, W, 3), linear, not NaN-masked.
        tonemap: uint8 (H, W, 3) sRGB preview.
    """

    geometry: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    tonemap: np.ndarray


def _interpolate(corner_values: np.ndarray, face: np.ndarray, barycentric: np.ndarray) -> np.ndarray:
    """Barycentric interpolation of per-corner values (F, 3, C) at hits: float64 (..., C)."""
    b1, b2 = barycentric[..., :1].astype(np.float64), barycentric[..., 1:].astype(np.float64)
    values = corner_values[np.maximum(face, 0)]
    return (1.0 - b1 - b2) * values[..., 0, :] + b1 * values[..., 1, :] + b2 * values[..., 2, :]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norm > 0, norm, 1.0)


def _texture(scene: SyntheticScene, object_id: np.ndarray, points_m: np.ndarray) -> np.ndarray:
    """Diffuse reflectance float64 (..., 3) of procedural 3-D checker / stripe textures at world points (metres)."""
    materials = [o.material for o in scene.objects]
    kind = np.array([TEXTURE_KINDS[m.kind] for m in materials])[object_id]
    period = np.array([m.period_m for m in materials])[object_id][..., None]
    axis = np.array([m.axis for m in materials])[object_id]
    # Fractional offsets keep planes such as z = 0 away from the cells' edges (no speckle from rounding).
    cells = np.floor(points_m / period + np.array([0.31, 0.47, 0.23]))
    checker = cells.sum(axis=-1) % 2 == 1
    stripes = np.floor(np.einsum("...c,...c->...", points_m, axis) / period[..., 0] + 0.29) % 2 == 1
    phase_b = np.where(kind == 1, checker, np.where(kind == 2, stripes, False))
    color_a = np.array([m.color_a for m in materials])[object_id]
    color_b = np.array([m.color_b for m in materials])[object_id]
    return np.where(phase_b[..., None], color_b, color_a)


def _bumped(normals: np.ndarray, points_m: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Normals tilted by a procedural tangential wave pattern of slope `amplitude` (..., 1): float64 (..., 3)."""
    k = 2.0 * np.pi / BUMP_WAVELENGTH_M
    wave = np.sin(k * points_m[..., [1, 2, 0]] + np.array([1.3, 0.7, 2.1]))
    tangential = wave - np.einsum("...c,...c->...", wave, normals)[..., None] * normals
    return _unit(normals + amplitude * tangential)


def _facing(vectors: np.ndarray, view: np.ndarray) -> np.ndarray:
    """`vectors` (..., 3) flipped where needed so that they face the camera (v . view <= 0)."""
    return np.where((np.einsum("...c,...c->...", vectors, view) > 0)[..., None], -vectors, vectors)


def _light(scene: SyntheticScene, caster: MeshCaster, points_asset: np.ndarray, offset_normal: np.ndarray,
           hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Direct light of the point light with a cast shadow: (radiance float64 (..., 3), unit direction to the light).

    The shadow ray starts 1 mm off the surface along `offset_normal` (the face normal facing the camera).
    """
    scale = scene.meters_per_asset_unit
    to_light = scene.light_position_m / scale - np.where(hit[..., None], points_asset, 0.0)
    distance_asset = np.linalg.norm(to_light, axis=-1)
    direction = to_light / np.maximum(distance_asset, 1e-9)[..., None]
    origins = np.where(hit[..., None], points_asset + offset_normal * (1e-3 / scale), 0.0)
    blocker = caster.cast(np.concatenate([origins, direction], axis=-1))
    lit = hit & ~(blocker.t_asset < distance_asset - 2e-3 / scale)
    falloff = 1.0 / np.maximum((distance_asset * scale) ** 2, 0.25)
    return np.where(lit[..., None], LIGHT_RGB * falloff[..., None], 0.0), direction


def _shade(scene: SyntheticScene, mesh: SceneMesh, caster: MeshCaster, hits: Hits, view: np.ndarray,
           points_asset: np.ndarray, normal_bump_world: np.ndarray, object_id: np.ndarray) -> dict[str, np.ndarray]:
    """Hypersim's final images, float64 (H, W, 3): color = diffuse_reflectance * diffuse_illumination + residual.

    Lambert shading with ambient light and a shadowed point light on the bump normals (turned to face the camera, so
    that inward artist normals still shade), a Blinn-Phong highlight as the residual, and `BACKGROUND_RGB` where
    nothing is hit.
    """
    hit = hits.hit[..., None]
    shading_normal = _facing(normal_bump_world, view)
    face_normal = _facing(_unit(np.cross(*_edges(mesh, hits.face))), view)
    direct, to_light = _light(scene, caster, points_asset, face_normal, hits.hit)
    lambert = np.maximum(np.einsum("...c,...c->...", shading_normal, to_light), 0.0)[..., None]
    half = _unit(to_light - view)
    highlight = np.maximum(np.einsum("...c,...c->...", shading_normal, half), 0.0)[..., None] ** SHININESS
    specular = np.array([o.material.specular for o in scene.objects])[object_id][..., None]
    points_m = points_asset * scene.meters_per_asset_unit
    reflectance = np.where(hit, _texture(scene, object_id, points_m), 0.0)
    illumination = np.where(hit, AMBIENT + direct * lambert, 0.0)
    residual = np.where(hit, specular * direct * highlight, BACKGROUND_RGB)
    return {"color": reflectance * illumination + residual, "diffuse_illumination": illumination,
            "diffuse_reflectance": reflectance, "residual": residual}


def _edges(mesh: SceneMesh, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two edge vectors v1 - v0, v2 - v0 (..., 3) of each hit face (face 0 where nothing is hit)."""
    v = mesh.vertices_asset[mesh.faces_vi[np.maximum(face, 0)]]
    return v[..., 1, :] - v[..., 0, :], v[..., 2, :] - v[..., 0, :]


def render_frame(scene: SyntheticScene, mesh: SceneMesh, caster: MeshCaster, camera: RayCamera,
                 hits: Hits | None = None) -> RenderedFrame:
    """Render every Hypersim modality of one frame (geometry images, final HDR images, tone-mapped preview).

    `hits` are the primary hits of `camera.pixel_rays()` when already cast. NaN depth / position / normals and -1 ids
    where the ray hits nothing; `tex_coord` is 0 there (not NaN-masked, like Hypersim's); the final images are not
    NaN-masked (misses see `BACKGROUND_RGB` in `residual`).
    """
    rays = camera.pixel_rays()
    hits = caster.cast(rays) if hits is None else hits
    object_id = np.where(hits.hit, mesh.faces_oi[np.maximum(hits.face, 0)], 0)
    points_asset = np.where(hits.hit[..., None], hits.points_asset(rays), 0.0)
    normal_world = _unit(_interpolate(mesh.corner_normals, hits.face, hits.barycentric))
    bump = np.array([o.material.bump for o in scene.objects])[object_id][..., None]
    normal_bump_world = _bumped(normal_world, points_asset * scene.meters_per_asset_unit, bump)
    final = _shade(scene, mesh, caster, hits, rays[..., 3:].astype(np.float64), points_asset, normal_bump_world,
                   object_id)
    final = {name: image.astype(np.float16) for name, image in final.items()}
    geometry = _geometry_images(scene, mesh, hits, points_asset, normal_world, normal_bump_world,
                                np.asarray(camera.R_world_from_cam, np.float64), object_id)
    return RenderedFrame(geometry, final, tonemap(final["color"].astype(np.float32), hits.hit))


def _geometry_images(scene: SyntheticScene, mesh: SceneMesh, hits: Hits, points_asset: np.ndarray,
                     normal_world: np.ndarray, normal_bump_world: np.ndarray, R_world_from_cam: np.ndarray,
                     object_id: np.ndarray) -> dict[str, np.ndarray]:
    """The ten geometry images in Hypersim's stored dtypes (float16 with NaN, int16 with -1)."""
    hit = hits.hit
    masked = lambda a: np.where(hit[..., None], a, np.nan).astype(np.float16)  # noqa: E731
    ids = lambda table: np.where(hit, np.asarray(table)[object_id], -1).astype(np.int16)  # noqa: E731
    tex = np.where(hit[..., None], _interpolate(mesh.corner_uv, hits.face, hits.barycentric), 0.0)
    distance_m = hits.t_asset.astype(np.float64) * scene.meters_per_asset_unit
    return {
        "depth_meters": np.where(hit, distance_m, np.nan).astype(np.float16),
        "position": masked(points_asset),
        "normal_world": masked(normal_world),
        "normal_cam": masked(normal_world @ R_world_from_cam),  # R^T n for row vectors
        "normal_bump_world": masked(normal_bump_world),
        "normal_bump_cam": masked(normal_bump_world @ R_world_from_cam),
        "render_entity_id": ids(scene.node_ids),
        "semantic": ids(scene.object_semantic),
        "semantic_instance": ids(scene.object_instance),
        "tex_coord": np.concatenate([tex, np.zeros(hit.shape + (1,))], axis=-1).astype(np.float16),
    }


def tonemap(color: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """Hypersim's tone map: uint8 (H, W, 3) sRGB from linear `color` float (H, W, 3).

    The image is scaled so that the 90th percentile of CCIR601 luma (0.3 R + 0.59 G + 0.11 B) over `valid_mask`
    (bool (H, W), pixels that hit geometry) becomes 0.8 after gamma 1/2.2; scale 1 without valid pixels, 0 when that
    percentile is below 1e-4; then gamma 1/2.2, clipped to [0, 1].
    """
    gamma = 1.0 / 2.2
    color = np.asarray(color, np.float64)
    if not valid_mask.any():
        scale = 1.0
    else:
        luma = color @ np.array([0.3, 0.59, 0.11])
        percentile = np.percentile(luma[valid_mask], 90)
        scale = 0.0 if percentile < 1e-4 else 0.8 ** (1.0 / gamma) / percentile
    mapped = np.clip(np.power(np.maximum(scale * color, 0.0), gamma), 0.0, 1.0)
    return np.round(mapped * 255.0).astype(np.uint8)

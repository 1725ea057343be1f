"""Shading of synthetic scenes into Hypersim's per-frame images, and Hypersim's tone map.

The ray casting itself (Hypersim's exact rays, open3d) lives in `obtoolkit.raycast`; its classes are re-exported
here for the synthetic-scene code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from obtoolkit.raycast import Hits, MeshCaster, RayCamera
from obtoolkit.synth.scene import SceneMesh, SyntheticScene

AMBIENT = 0.12
LIGHT_RGB = np.array([1.0, 0.93, 0.8]) * 5.0  # point-light power; the tone map rescales the image anyway
BACKGROUND_RGB = np.array([1.6, 1.8, 2.2])  # what rays that hit nothing see (the `residual` of window pixels)
SHININESS = 40.0
BUMP_WAVELENGTH_M = 0.04
TEXTURE_KINDS = {"plain": 0, "checker": 1, "stripes": 2}


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
    tex = np.where(hit[..., None], _interpolate(mesh.corner_uv, hits.face, hits.barycentric), 0.0)
    return {
        **_label_images(scene, hits, normal_world, R_world_from_cam, object_id),
        "position": masked(points_asset),
        "normal_world": masked(normal_world),
        "normal_bump_world": masked(normal_bump_world),
        "normal_bump_cam": masked(normal_bump_world @ R_world_from_cam),
        "tex_coord": np.concatenate([tex, np.zeros(hit.shape + (1,))], axis=-1).astype(np.float16),
    }


def _label_images(scene: SyntheticScene, hits: Hits, normal_world: np.ndarray, R_world_from_cam: np.ndarray,
                  object_id: np.ndarray) -> dict[str, np.ndarray]:
    """depth_meters, normal_cam and the three id maps in Hypersim's stored dtypes."""
    hit = hits.hit
    ids = lambda table: np.where(hit, np.asarray(table)[object_id], -1).astype(np.int16)  # noqa: E731
    distance_m = hits.t_asset.astype(np.float64) * scene.meters_per_asset_unit
    return {
        "depth_meters": np.where(hit, distance_m, np.nan).astype(np.float16),
        "normal_cam": np.where(hit[..., None], normal_world @ R_world_from_cam, np.nan).astype(np.float16),
        "render_entity_id": ids(scene.node_ids),
        "semantic": ids(scene.object_semantic),
        "semantic_instance": ids(scene.object_instance),
    }


def render_label_geometry(scene: SyntheticScene, mesh: SceneMesh, camera: RayCamera,
                          hits: Hits) -> dict[str, np.ndarray]:
    """The geometry images label generation reads (depth_meters, normal_cam, render_entity_id, semantic,
    semantic_instance), exactly as `render_frame` makes them, without shading the frame (for evaluations that need
    no files). `hits` are the primary hits of `camera.pixel_rays()`."""
    object_id = np.where(hits.hit, mesh.faces_oi[np.maximum(hits.face, 0)], 0)
    normal_world = _unit(_interpolate(mesh.corner_normals, hits.face, hits.barycentric))
    return _label_images(scene, hits, normal_world, np.asarray(camera.R_world_from_cam, np.float64), object_id)


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

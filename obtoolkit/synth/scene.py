"""Synthetic scene specification and its seeded random layout.

A scene is a furnished room built from low-level objects, as in Hypersim: every object is one row of
`metadata_objects.csv` with an NYU40 class (`mesh_objects_si`) and an instance id (`mesh_objects_sii`), and one V-Ray
render node (`metadata_nodes.csv`, node_id = the value of `render_entity_id`). An instance (a chair) spans several
objects (legs, seat, back, armrests). Walls, floor and ceiling are NYU40 1 / 2 / 22 with instance -1; one clutter
object is unlabelled (si = sii = -1). Node ids are a seeded permutation of 1..N, so code that maps render entities to
objects must go through the table. One extra node, the light, has no object (object_id -1, `_NULL_OBJECT`).

World frame: z up, metres while building; `scene_mesh` converts to asset units (`meters_per_asset_unit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from obtoolkit.synth import meshes
from obtoolkit.synth.cameras import trajectory_poses
from obtoolkit.synth.meshes import Mesh

NYU40_WALL, NYU40_FLOOR, NYU40_CHAIR, NYU40_SOFA, NYU40_PICTURE = 1, 2, 5, 6, 11
NYU40_CEILING, NYU40_BOX, NYU40_LAMP, NYU40_OTHERPROP = 22, 29, 35, 40
# Hypersim scenes use these scales (float32 values as stored in the real CSV): centimetres and inches.
METERS_PER_ASSET_UNIT_CHOICES = (0.009999999776482582, 0.02539999969303608)
LIGHT_NODE_NAME = "light_ceiling"


@dataclass(frozen=True)
class Material:
    """A procedural diffuse material evaluated on world positions (metres).

    Attributes:
        kind: "plain", "checker" (3-D checker of cell size `period_m`) or "stripes" (bands across `axis`).
        color_a, color_b: linear RGB reflectances in [0, 1] of the two texture phases.
        period_m: cell or band size in metres.
        axis: unit direction across the stripes (world frame).
        specular: weight of a Blinn-Phong highlight (the `residual` image).
        bump: slope amplitude of the procedural bump (the `normal_bump_*` images).
    """

    kind: str
    color_a: tuple[float, float, float]
    color_b: tuple[float, float, float] = (0.0, 0.0, 0.0)
    period_m: float = 0.2
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    specular: float = 0.0
    bump: float = 0.05


@dataclass(frozen=True, eq=False)
class SceneObject:
    """One low-level object: name, NYU40 class (-1 = unlabelled), instance id (-1 = none), mesh in metres."""

    name: str
    nyu40: int
    instance: int
    mesh: Mesh
    material: Material


@dataclass(frozen=True, eq=False)
class SceneMesh:
    """All objects merged into one mesh, as in Hypersim's `_detail/mesh/` files.

    Attributes:
        vertices_asset: float64 (V, 3) world positions in asset units; every value is exactly representable in
            float32, so casting the stored file again reproduces the generator's geometry bit for bit.
        faces_vi: int64 (F, 3) vertex indices.
        faces_oi: int64 (F,) object id (row of metadata_objects.csv) per face.
        corner_normals: float64 (F, 3, 3) artist shading normals (world frame, unit; inward for some objects).
        corner_uv: float64 (F, 3, 2) texture coordinates (metres along the part's surface).
    """

    vertices_asset: np.ndarray
    faces_vi: np.ndarray
    faces_oi: np.ndarray
    corner_normals: np.ndarray
    corner_uv: np.ndarray


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Keyframes of one camera: positions and look-at points float64 (N, 3) in asset units, R_world_from_cam
    float64 (N, 3, 3)."""

    positions_asset: np.ndarray
    R_world_from_cam: np.ndarray
    look_at_asset: np.ndarray


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A furnished room.

    Attributes:
        name: `ai_9VV_NNN`.
        meters_per_asset_unit: scene scale.
        camera_model: "standard" or "tilt_shift" (one `M_cam_from_uv` per scene, as in Hypersim's camera CSV).
        objects: the low-level objects; object_id = index.
        node_ids: int64 (N_obj,) render-entity id of each object (a permutation of 1..N_obj).
        room_size_m: float64 (3,) room extent; the room spans [0, size] on each axis.
        light_position_m: float64 (3,) point light (world, metres).
        view_target_m: float64 (2, 3) look-at points at the start and end of every trajectory.
        camera_region_m: float64 (2, 3) lower and upper corners of the region the cameras move in.
    """

    name: str
    meters_per_asset_unit: float
    camera_model: str
    objects: tuple[SceneObject, ...]
    node_ids: np.ndarray
    room_size_m: np.ndarray
    light_position_m: np.ndarray
    view_target_m: np.ndarray
    camera_region_m: np.ndarray

    @property
    def object_semantic(self) -> np.ndarray:
        return np.array([o.nyu40 for o in self.objects], np.int64)

    @property
    def object_instance(self) -> np.ndarray:
        return np.array([o.instance for o in self.objects], np.int64)

    def object_id(self, name: str) -> int:
        return next(i for i, o in enumerate(self.objects) if o.name == name)

    def node_rows(self) -> list[tuple[int, str, int, str]]:
        """`metadata_nodes.csv` rows (node_id, node_name, object_id, object_name), sorted by node id."""
        rows = [(int(n), f"node_{o.name}", i, o.name) for i, (o, n) in enumerate(zip(self.objects, self.node_ids,
                                                                                     strict=True))]
        rows.append((len(self.objects) + 1, LIGHT_NODE_NAME, -1, "_NULL_OBJECT"))
        return sorted(rows)

    def scene_mesh(self) -> SceneMesh:
        """The merged mesh in asset units (float32-exact vertices)."""
        merged = meshes.concatenate([o.mesh for o in self.objects])
        vertices = (merged.vertices / self.meters_per_asset_unit).astype(np.float32).astype(np.float64)
        faces_oi = np.concatenate([np.full(len(o.mesh.faces), i, np.int64) for i, o in enumerate(self.objects)])
        return SceneMesh(vertices, merged.faces, faces_oi, merged.corner_normals, merged.corner_uv)

    def trajectory(self, rng: np.random.Generator, frames: int, M_cam_from_uv: np.ndarray) -> Trajectory:
        """A seeded smooth walk of `frames` keyframes inside `camera_region_m`; the image centre looks at the
        furniture."""
        lo, hi = self.camera_region_m
        start, end = rng.uniform(lo, hi), rng.uniform(lo, hi)
        jitter = rng.uniform(-0.1, 0.1, (2, 3))
        positions, rotations, targets = trajectory_poses(start, end, self.view_target_m[0] + jitter[0],
                                                         self.view_target_m[1] + jitter[1], frames,
                                                         M_cam_from_uv)
        scale = 1.0 / self.meters_per_asset_unit
        return Trajectory(positions * scale, rotations, targets * scale)


# ---------------------------------------------------------------------------------------------------------------------
# Seeded layout


def _color(rng: np.random.Generator, base: tuple[float, float, float], spread: float = 0.08):
    return tuple(float(np.clip(c + rng.uniform(-spread, spread), 0.02, 0.95)) for c in base)


def _materials(rng: np.random.Generator) -> dict[str, Material]:
    """Textures with strong edges that are not occlusion boundaries: wallpaper stripes, floor tiles, checkers."""
    c = lambda base: _color(rng, base)  # noqa: E731
    return {
        "wall": Material("stripes", c((0.75, 0.7, 0.6)), c((0.45, 0.4, 0.35)), 0.22, (0.7071, 0.7071, 0.0)),
        "floor": Material("checker", c((0.55, 0.38, 0.22)), c((0.25, 0.16, 0.1)), 0.5, specular=0.15),
        "ceiling": Material("plain", c((0.85, 0.85, 0.82))),
        "wood": Material("stripes", c((0.4, 0.25, 0.12)), c((0.3, 0.18, 0.08)), 0.03, (0.0, 0.0, 1.0)),
        "fabric": Material("checker", c((0.2, 0.35, 0.6)), c((0.75, 0.75, 0.7)), 0.12, bump=0.15),
        "sofa": Material("checker", c((0.6, 0.2, 0.2)), c((0.85, 0.7, 0.3)), 0.15, bump=0.15),
        "chest": Material("stripes", c((0.3, 0.5, 0.3)), c((0.8, 0.8, 0.55)), 0.08, (0.0, 0.0, 1.0)),
        "ring": Material("stripes", c((0.85, 0.55, 0.15)), c((0.15, 0.15, 0.2)), 0.06, (0.0, 0.0, 1.0), 0.4),
        "metal": Material("plain", c((0.6, 0.6, 0.65)), specular=0.6, bump=0.0),
        "poster": Material("checker", c((0.9, 0.85, 0.2)), c((0.1, 0.1, 0.4)), 0.1),
        "clutter": Material("plain", c((0.8, 0.1, 0.1)), specular=0.3),
    }


def _placed(parts: dict[str, Mesh], yaw_rad: float, origin_m: np.ndarray) -> dict[str, Mesh]:
    R = meshes.rotation_z(yaw_rad)
    return {name: mesh.transformed(R, origin_m) for name, mesh in parts.items()}


def build_scene(name: str, rng: np.random.Generator, camera_model: str) -> SyntheticScene:
    """Draw one furnished room from `rng` (the draw order is fixed, so a seed fixes the scene).

    Furniture stands in front of the back wall (y = Ly): an L-shaped sofa against it with a clutter cube on its seat, a
    lidded chest in front of the sofa, an upright torus, a chair with armrests facing the cameras, a floor lamp (thin
    pole) in the right corner, a poster flush on the back wall and a window hole above the sofa. Cameras stand in the
    front part of the room and look at the furniture.
    """
    size = np.array([rng.uniform(5.6, 6.2), rng.uniform(5.2, 5.8), rng.uniform(2.6, 3.0)])
    lx, ly, lz = size
    mat = _materials(rng)
    x0 = rng.uniform(0.5, 0.65)  # left end of the sofa's seat
    window_x = x0 + 1.0 + rng.uniform(-0.15, 0.15)
    window = (window_x - 0.55, 1.05, window_x + 0.55, 2.15)
    target_x = 0.5 * (window_x + lx - 0.9)  # the cameras look at the middle of the furniture
    camera_lo, camera_hi = np.array([target_x - 0.7, 0.35, 1.35]), np.array([target_x + 0.7, 0.9, 1.75])
    objects: list[SceneObject] = []

    def add(instance_name: str, nyu40: int, instance: int, parts: dict[str, Mesh], material) -> None:
        for part, mesh in parts.items():
            part_material = material(part) if callable(material) else material
            objects.append(SceneObject(f"{instance_name}_{part}", nyu40, instance, mesh, part_material))

    room_class = {"floor": NYU40_FLOOR, "ceiling": NYU40_CEILING}
    for part, mesh in meshes.room_parts(size, window).items():
        material = mat[part] if part in ("floor", "ceiling") else mat["wall"]
        objects.append(SceneObject(f"room_{part}", room_class.get(part, NYU40_WALL), -1, mesh, material))

    sofa_origin = np.array([x0, ly - 0.05 - 0.9, 0.0])
    add("sofa", NYU40_SOFA, 2, _placed(meshes.l_sofa_parts(), 0.0, sofa_origin), mat["sofa"])
    cube = rng.uniform(0.18, 0.22)
    cube_x = x0 + rng.uniform(1.2, 1.6)
    clutter = meshes.box([cube_x, ly - 0.75, 0.42], [cube_x + cube, ly - 0.75 + cube, 0.42 + cube])
    objects.append(SceneObject("clutter_cube", -1, -1, clutter, mat["clutter"]))

    chest = meshes.lidded_box_parts(open_angle_rad=math.radians(rng.uniform(35, 55)))
    chest_origin = np.array([x0 + 1.55 + rng.uniform(-0.1, 0.1), ly - 1.75 + rng.uniform(-0.08, 0.08), 0.0])
    chest_yaw = math.radians(rng.choice([-1, 1]) * rng.uniform(15, 40))
    add("chest", NYU40_BOX, 3, _placed(chest, chest_yaw, chest_origin), mat["chest"])

    major, minor = rng.uniform(0.28, 0.32), rng.uniform(0.1, 0.12)
    ring = meshes.torus(major, minor, 64, 32).transformed(meshes.rotation_x(math.pi / 2), [0, 0, major + minor])
    ring_origin = np.array([x0 + 2.75 + rng.uniform(-0.1, 0.1), ly - 1.3 + rng.uniform(-0.1, 0.1), 0.0])
    # Seen about 62 degrees off its axis from the cameras, the hole stays open while the near tube passes in front of
    # the far one (a fat torus self-occludes between about 57 and 85 degrees).
    towards_cameras = 0.5 * (camera_lo + camera_hi) - ring_origin
    ring_yaw = -math.atan2(towards_cameras[0], -towards_cameras[1]) + math.radians(rng.choice([-1, 1]) * 62)
    add("torus", NYU40_OTHERPROP, 4, _placed({"ring": ring}, ring_yaw, ring_origin), mat["ring"])

    chair_origin = np.array([x0 + 3.6 + rng.uniform(-0.1, 0.1), ly - 1.7 + rng.uniform(-0.15, 0.15), 0.0])
    chair = _placed(meshes.chair_parts(), math.radians(rng.uniform(-35, 35)), chair_origin)
    add("chair", NYU40_CHAIR, 1, chair, lambda part: mat["wood"] if part.startswith("leg") else mat["fabric"])

    lamp_origin = np.array([lx - 0.9 + rng.uniform(-0.05, 0.05), ly - 0.45 + rng.uniform(-0.05, 0.05), 0.0])
    add("lamp", NYU40_LAMP, 5, _placed(meshes.lamp_parts(), 0.0, lamp_origin), mat["metal"])

    poster_x = 0.5 * (x0 + 2.4 + lx - 0.9) + rng.uniform(-0.15, 0.15)
    poster_mesh = meshes.poster().translated([poster_x, ly, 1.15]).with_inward_normals()
    objects.append(SceneObject("poster", NYU40_PICTURE, 6, poster_mesh, mat["poster"]))

    return SyntheticScene(
        name=name,
        meters_per_asset_unit=float(rng.choice(METERS_PER_ASSET_UNIT_CHOICES)),
        camera_model=camera_model,
        objects=tuple(objects),
        node_ids=rng.permutation(len(objects)).astype(np.int64) + 1,
        room_size_m=size,
        light_position_m=np.array([0.5 * lx, 0.45 * ly, lz - 0.25]),
        view_target_m=np.array([[target_x - 0.2, ly - 1.5, 0.85], [target_x + 0.2, ly - 1.5, 0.85]]),
        camera_region_m=np.stack([camera_lo, camera_hi]),
    )

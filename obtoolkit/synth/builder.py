"""Building blocks of the scene families: a collector of low-level objects with instance ids, placement helpers,
NYU40 classes and Hypersim's asset units."""

from __future__ import annotations

import math

import numpy as np

from obtoolkit.synth import meshes
from obtoolkit.synth.meshes import Mesh
from obtoolkit.synth.scene import SceneObject, SyntheticScene, _materials

# Hypersim's four scales, as the float32 values its CSV stores: centimetres, inches, millimetres, metres.
ASSET_UNITS = (0.009999999776482582, 0.02539999969303608, 0.0010000000474974513, 1.0)
WALL, FLOOR, CABINET, CHAIR, TABLE, DOOR, BOOKSHELF, PICTURE = 1, 2, 3, 5, 7, 8, 10, 11
FLOOR_MAT, BOOKS, PAPER, BOX, LAMP, OTHERSTRUCTURE, OTHERFURNITURE, OTHERPROP = 20, 23, 26, 29, 35, 38, 39, 40
UNLABELLED = -1


class Builder:
    """Collects low-level objects; instance ids are handed out in order."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.objects: list[SceneObject] = []
        self.mat = _materials(rng)
        self._instances = 0

    def u(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def instance(self) -> int:
        self._instances += 1
        return self._instances

    def room(self, size: np.ndarray, window: tuple[float, float, float, float] | None = None) -> None:
        classes = {"floor": FLOOR, "ceiling": 22}
        for part, mesh in meshes.room_parts(size, window).items():
            material = self.mat[part] if part in ("floor", "ceiling") else self.mat["wall"]
            self.objects.append(SceneObject(f"room_{part}", classes.get(part, WALL), -1, mesh, material))

    def add(self, name: str, nyu40: int, parts: dict[str, Mesh] | Mesh, material: str, *,
            instance: int | None = None) -> None:
        """Add an object's parts (one low-level object each); a labelled class gets a new instance id unless given,
        stuff (wall / floor) and unlabelled objects get none."""
        if instance is None:
            instance = self.instance() if nyu40 not in (WALL, FLOOR, UNLABELLED) else -1
        parts = {"": parts} if isinstance(parts, Mesh) else parts
        for part, mesh in parts.items():
            self.objects.append(SceneObject(f"{name}_{part}" if part else name, nyu40, instance, mesh,
                                            self.mat[material]))

    def scene(self, name: str, camera_model: str, meters_per_asset_unit: float, size: np.ndarray,
              camera_lo: list[float], camera_hi: list[float], targets: list[list[float]]) -> SyntheticScene:
        return SyntheticScene(
            name=name, meters_per_asset_unit=meters_per_asset_unit, camera_model=camera_model,
            objects=tuple(self.objects),
            node_ids=self.rng.permutation(len(self.objects)).astype(np.int64) + 1,
            room_size_m=np.asarray(size, np.float64),
            light_position_m=np.array([0.5 * size[0], 0.45 * size[1], size[2] - 0.25]),
            view_target_m=np.asarray(targets, np.float64),
            camera_region_m=np.array([camera_lo, camera_hi], np.float64),
        )


def place(parts: dict[str, Mesh] | Mesh, yaw_rad: float, origin: list[float]) -> dict[str, Mesh] | Mesh:
    """Rotate about z by `yaw_rad`, then translate to `origin` (metres)."""
    R = meshes.rotation_z(yaw_rad)
    if isinstance(parts, Mesh):
        return parts.transformed(R, origin)
    return {name: mesh.transformed(R, origin) for name, mesh in parts.items()}


def on_left_wall(parts: dict[str, Mesh] | Mesh, y: float, z: float) -> dict[str, Mesh] | Mesh:
    """A wall-mounted item (back on local y = 0, front towards -y) hung on the left wall x = 0, centred at y."""
    return place(parts, math.pi / 2, [0.0, y, z])


def on_right_wall(parts: dict[str, Mesh] | Mesh, lx: float, y: float, z: float) -> dict[str, Mesh] | Mesh:
    return place(parts, -math.pi / 2, [lx, y, z])

"""Scene families: seeded rooms built around one kind of geometry that occlusion labels find hard.

Each family is a builder `(name, rng, camera_model, meters_per_asset_unit) -> SyntheticScene`, registered in
`FAMILIES` with a one-line description and whether label parameters and rules were tuned on it (the held-out
discipline of docs/labels.md: rules are chosen on the tuning families only; the others are evaluated, never looked
at while tuning). `room` is the original furnished room (`obtoolkit.synth.scene.build_scene`), unchanged.

Units and cameras are axes that every family crosses: `family_scene(family, k, seed, name)` gives scene k the camera
model ALL_CAMERA_MODELS[k % 3] (standard, tilt-shift, strong lens shift) and the asset unit ASSET_UNITS[k % 4]
(centimetres, inches, millimetres, metres: the four scales Hypersim uses), so four scenes of a family see every
camera and unit.

Names used below: the back wall is y = Ly (objects against it stand at y < Ly), x runs along it, z is up; a "plate"
is a slab whose back lies on a wall and whose front stands `thickness` in front of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from obtoolkit.synth import furniture as fu
from obtoolkit.synth import meshes
from obtoolkit.synth.builder import (
    ASSET_UNITS,
    BOOKS,
    BOOKSHELF,
    BOX,
    CABINET,
    CHAIR,
    DOOR,
    FLOOR,
    FLOOR_MAT,
    LAMP,
    OTHERFURNITURE,
    OTHERPROP,
    OTHERSTRUCTURE,
    PAPER,
    PICTURE,
    TABLE,
    UNLABELLED,
    WALL,
    Builder,
    on_left_wall,
    on_right_wall,
    place,
)
from obtoolkit.synth.cameras import ALL_CAMERA_MODELS
from obtoolkit.synth.homes import build_bathroom, build_bedroom
from obtoolkit.synth.interiors import build_kitchen, build_office, build_stairs
from obtoolkit.synth.lounge import build_living_room, build_workshop
from obtoolkit.synth.meshes import Mesh
from obtoolkit.synth.scene import SyntheticScene, build_scene

# ---------------------------------------------------------------------------------------------------------------------
# Tuning families


def build_flush(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """Flat objects flush on walls, floor and a table, steps of 0.5-2 cm: posters, a picture frame with a recessed
    canvas, a light switch (unlabelled), a wall panel and skirting boards of class wall (the wall's own key: a
    self-occlusion a few millimetres deep), a rug, a floor tile patch of class floor, books, a placemat and a sheet
    of paper on a table (the paper's 1 mm is below float16 depth precision: don't-care in the reference)."""
    b = Builder(rng)
    size = np.array([b.u(5.0, 6.0), b.u(4.5, 5.5), b.u(2.6, 3.0)])
    lx, ly, _ = size
    b.room(size)
    xs = np.linspace(0.7, lx - 0.7, 5) + rng.uniform(-0.1, 0.1, 5)
    b.add("poster", PICTURE, fu.plate(b.u(0.5, 0.8), b.u(0.6, 0.9), b.u(0.005, 0.02)).translated([xs[0], ly, 1.1]),
          "poster")
    frame = fu.picture_frame_parts(0.6, 0.5, b.u(0.02, 0.04), 0.05, b.u(0.005, 0.015))
    b.add("frame", PICTURE, place(frame, 0.0, [xs[1], ly, 1.25]), "wood")
    b.add("switch", UNLABELLED, fu.plate(0.08, 0.12, b.u(0.008, 0.015)).translated([xs[2], ly, 1.1]), "metal")
    b.add("wall_panel", WALL, fu.plate(0.9, 0.7, b.u(0.01, 0.02)).translated([xs[3], ly, 0.9]), "wall")
    b.add("poster_small", PICTURE, fu.plate(0.4, 0.5, b.u(0.008, 0.02)).translated([xs[4], ly, 1.3]), "poster")
    skirting = b.u(0.012, 0.02)
    b.add("skirting_back", WALL, meshes.box([0.0, ly - skirting, 0.0], [lx, ly, 0.09]), "wood")
    b.add("skirting_left", WALL, meshes.box([0.0, 0.0, 0.0], [skirting, ly - skirting, 0.09]), "wood")
    b.add("poster_left", PICTURE, on_left_wall(fu.plate(0.6, 0.8, b.u(0.005, 0.015)), ly - 1.6, 1.0), "poster")
    b.add("tiles_left", WALL, on_left_wall(fu.plate(1.0, 0.5, b.u(0.008, 0.015)), ly - 2.8, 0.9), "chest")
    rug = (b.u(0.6, 1.2), ly - 2.6 + b.u(-0.2, 0.2))
    b.add("rug", FLOOR_MAT, meshes.box([rug[0], rug[1], 0.0], [rug[0] + 1.6, rug[1] + 1.1, b.u(0.005, 0.015)]),
          "fabric")
    tile = b.u(lx - 2.0, lx - 1.4)
    b.add("floor_patch", FLOOR, meshes.box([tile, ly - 2.4, 0.0], [tile + 0.8, ly - 1.6, b.u(0.008, 0.015)]), "ring")
    table_x, table_y = lx / 2 + b.u(-0.3, 0.3), ly - 1.5 + b.u(-0.1, 0.1)
    b.add("table", TABLE, place(fu.table_parts(1.2, 0.7, 0.74), 0.0, [table_x, table_y, 0.0]), "wood")
    for k in range(3):
        thickness = b.u(0.015, 0.035)
        x0, y0 = table_x - 0.5 + 0.33 * k, table_y - 0.25 + b.u(-0.05, 0.05)
        b.add(f"book_{k}", BOOKS, place(meshes.box([0, 0, 0], [0.22, 0.3, thickness]), b.u(-0.3, 0.3),
                                        [x0, y0, 0.74]), "chest")
    b.add("placemat", OTHERPROP, meshes.box([table_x - 0.5, table_y + 0.12, 0.74],
                                            [table_x - 0.1, table_y + 0.32, 0.743]), "fabric")
    b.add("paper", PAPER, meshes.box([table_x + 0.1, table_y + 0.1, 0.74], [table_x + 0.31, table_y + 0.3, 0.7408]),
          "ceiling")
    return b.scene(name, camera_model, units, size, [lx / 2 - 0.9, 0.5, 1.3], [lx / 2 + 0.9, 1.4, 1.75],
                   [[lx / 2 - 0.5, ly - 1.0, 0.9], [lx / 2 + 0.5, ly - 1.0, 0.9]])


def build_thin_parts(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """Thin parts of one object in front of other parts of it: chairs with stretchers and slatted backs (one seen
    from behind), an A-frame step ladder, wire-frame cubes, a cabinet with bar handles 1.5-3 cm in front of drawers
    pulled out by millimetres, and a bookshelf whose boards sit 0.8-2 cm behind its side panels."""
    b = Builder(rng)
    size = np.array([b.u(5.2, 6.0), b.u(5.0, 5.8), b.u(2.6, 3.0)])
    lx, ly, _ = size
    b.room(size)
    b.add("chair_front", CHAIR, place(fu.slat_chair_parts(), b.u(-0.7, 0.7), [0.9 + b.u(0, 0.3), ly - 2.2, 0.0]),
          "wood")
    b.add("chair_back", CHAIR, place(fu.slat_chair_parts(), math.pi + b.u(-0.5, 0.5),
                                     [lx / 2 + b.u(-0.2, 0.2), ly - 2.6, 0.0]), "fabric")
    b.add("step_ladder", OTHERFURNITURE, place(fu.step_ladder_parts(1.5, 0.45, 0.7), b.u(0.9, 1.3) *
                                               rng.choice([-1, 1]), [lx - 1.2, ly - 1.7, 0.0]), "metal")
    b.add("wire_cube", OTHERPROP, place(fu.wire_cube(b.u(0.4, 0.55), 0.02), b.u(0, 1.5), [1.6, ly - 1.2, 0.0]),
          "metal")
    table_x = lx / 2 + 0.9
    b.add("table", TABLE, place(fu.table_parts(0.9, 0.6, 0.72), 0.0, [table_x, ly - 2.0, 0.0]), "wood")
    b.add("wire_small", OTHERPROP, place(fu.wire_cube(b.u(0.22, 0.3), 0.01), b.u(0, 1.5),
                                         [table_x, ly - 2.0, 0.72]), "ring")
    cabinet = fu.cabinet_parts(0.9, 0.45, 0.85, tuple(b.u(0.003, 0.012) for _ in range(3)), b.u(0.0, 0.06),
                               b.u(0.015, 0.03))
    b.add("cabinet", CABINET, place(cabinet, 0.0, [lx / 2 - 0.6, ly - 0.25, 0.0]), "chest")
    shelf = fu.shelf_parts(0.8, 0.3, 1.6, 4, b.u(0.008, 0.02))
    b.add("shelf", BOOKSHELF, place(shelf, 0.0, [lx / 2 + 0.6, ly - 0.16, 0.0]), "wood")
    return b.scene(name, camera_model, units, size, [lx / 2 - 1.0, 0.5, 1.2], [lx / 2 + 1.0, 1.3, 1.7],
                   [[lx / 2 - 0.5, ly - 1.8, 0.6], [lx / 2 + 0.5, ly - 1.8, 0.6]])


def _door(b: Builder, width: float, height: float) -> dict[str, Mesh]:
    """A door on a wall (back on y = 0): a leaf 0.5-1.5 cm proud of the wall inside a casing 1.5-3 cm proud."""
    casing, trim = b.u(0.015, 0.03), 0.07
    leaf = b.u(0.005, 0.012)
    hw = width / 2
    return {"casing": meshes.concatenate([
        meshes.box([-hw - trim, -casing, 0.0], [-hw, 0.0, height]),
        meshes.box([hw, -casing, 0.0], [hw + trim, 0.0, height]),
        meshes.box([-hw - trim, -casing, height], [hw + trim, 0.0, height + trim]),
    ]), "leaf": meshes.box([-hw, -leaf, 0.0], [hw, 0.0, height])}


def build_grazing(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """A long corridor seen along its walls (grazing angles of 80-89 degrees): doors with casings, picture frames,
    radiators, switches and skirting boards on both walls, and the floor far ahead."""
    b = Builder(rng)
    size = np.array([b.u(2.2, 2.8), b.u(12.0, 16.0), b.u(2.6, 2.9)])
    lx, ly, _ = size
    b.room(size)
    skirting = b.u(0.012, 0.02)
    b.add("skirting_left", WALL, meshes.box([0.0, 0.0, 0.0], [skirting, ly, 0.09]), "wood")
    b.add("skirting_right", WALL, meshes.box([lx - skirting, 0.0, 0.0], [lx, ly, 0.09]), "wood")
    for side, mount in (("left", lambda parts, y, z: on_left_wall(parts, y, z)),
                        ("right", lambda parts, y, z: on_right_wall(parts, lx, y, z))):
        y = b.u(2.0, 3.0)
        while y < ly - 1.5:
            kind = int(rng.integers(0, 4))
            if kind == 0:
                b.add(f"door_{side}_{y:.1f}", DOOR, mount(_door(b, 0.85, 2.05), y, 0.0), "wood")
                y += 1.6
            elif kind == 1:
                frame = fu.picture_frame_parts(0.7, 0.5, b.u(0.02, 0.04), 0.05, b.u(0.005, 0.015))
                b.add(f"frame_{side}_{y:.1f}", PICTURE, mount(frame, y, 1.3), "poster")
                y += 1.2
            elif kind == 2:
                radiator = {"panel": meshes.box([-0.5, -b.u(0.06, 0.1), 0.0], [0.5, -0.03, 0.6]),
                            "bracket": meshes.box([-0.3, -0.03, 0.2], [-0.26, 0.0, 0.4])}
                b.add(f"radiator_{side}_{y:.1f}", OTHERFURNITURE, mount(radiator, y, 0.15), "metal")
                y += 1.5
            else:
                b.add(f"switch_{side}_{y:.1f}", UNLABELLED, mount(fu.plate(0.08, 0.12, b.u(0.008, 0.015)), y, 1.1),
                      "metal")
                y += 0.8
            y += b.u(0.3, 1.0)
    near_left = rng.random() < 0.5
    x_lo, x_hi = (0.3, 0.6) if near_left else (lx - 0.6, lx - 0.3)
    x_target = 0.7 if near_left else lx - 0.7
    return b.scene(name, camera_model, units, size, [x_lo, 0.5, 1.35], [x_hi, 1.5, 1.7],
                   [[x_target, ly - 4.0, 1.1], [x_target, ly - 2.5, 1.2]])


# ---------------------------------------------------------------------------------------------------------------------
# Families held out in round 1 (tuning families since round 2)


def build_curved(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """Smooth-normal curved objects: an upright and a lying torus, bolsters and a standing capsule, bowls (normals
    smoothed across the rim), open lamp shades (one surface, its inside seen with normals facing away), balls and
    a vase."""
    b = Builder(rng)
    size = np.array([b.u(5.4, 6.0), b.u(5.0, 5.6), b.u(2.6, 3.0)])
    lx, ly, _ = size
    window_x = b.u(1.2, 2.0)
    b.room(size, (window_x - 0.5, 1.1, window_x + 0.5, 2.1))
    major, minor = b.u(0.25, 0.32), b.u(0.08, 0.12)
    ring = meshes.torus(major, minor, 64, 32).transformed(meshes.rotation_x(math.pi / 2), [0, 0, major + minor])
    b.add("torus_up", OTHERPROP, place(ring, b.u(0.6, 1.2), [1.2, ly - 1.6, 0.0]), "ring")
    flat = meshes.torus(b.u(0.2, 0.28), b.u(0.05, 0.08), 64, 32)
    b.add("torus_flat", OTHERPROP, flat.translated([2.3, ly - 2.4, flat.vertices[:, 2].max()]), "ring")
    b.add("bolster", OTHERPROP, place(fu.capsule_lying(b.u(0.1, 0.15), b.u(0.5, 0.8)), b.u(-0.6, 0.6),
                                      [1.6, ly - 3.0, 0.0]), "fabric")
    b.add("capsule", OTHERPROP, meshes.capsule(0.12, b.u(0.4, 0.8)).translated([lx - 0.8, ly - 2.8, 0.0]), "metal")
    table_x = lx / 2 + 0.5
    b.add("table", TABLE, place(fu.table_parts(1.1, 0.7, 0.72), 0.0, [table_x, ly - 1.6, 0.0]), "wood")
    b.add("bowl", OTHERPROP, fu.bowl(b.u(0.12, 0.18), b.u(0.07, 0.1), 0.008).translated([table_x - 0.25,
                                                                                     ly - 1.6, 0.72]), "chest")
    b.add("lamp", LAMP, place(fu.table_lamp_parts(0.16, 0.1, 0.2, 0.35), 0.0, [table_x + 0.3, ly - 1.5, 0.72]),
          "metal")
    b.add("bowl_floor", OTHERPROP, fu.bowl(b.u(0.25, 0.35), b.u(0.15, 0.2), 0.012).translated([lx - 1.6,
                                                                                          ly - 2.5, 0.0]), "poster")
    b.add("floor_lamp", LAMP, place(fu.table_lamp_parts(0.25, 0.17, 0.3, 1.4), 0.0, [lx - 0.6, ly - 0.6, 0.0]),
          "metal")
    for k in range(3):
        radius = b.u(0.08, 0.16)
        b.add(f"ball_{k}", OTHERPROP, meshes.sphere(radius, 40, 20).translated([0.8 + 0.5 * k + b.u(0, 0.2),
                                                                              ly - 3.4 + b.u(0, 0.3), radius]),
              "clutter")
    vase = meshes.lathe([[0.0, 0.0], [0.08, 0.0], [0.12, 0.12], [0.06, 0.3], [0.045, 0.36], [0.0, 0.36]], 40,
                        hard=(1, 4))
    b.add("vase", OTHERPROP, vase.translated([table_x + 0.05, ly - 1.75, 0.72]), "ring")
    return b.scene(name, camera_model, units, size, [lx / 2 - 0.9, 0.4, 1.3], [lx / 2 + 0.9, 1.2, 1.75],
                   [[lx / 2 - 0.6, ly - 2.2, 0.5], [lx / 2 + 0.6, ly - 2.2, 0.6]])


def build_containers(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """Open containers: cabinets with drawers pulled out by 0.5-10 cm and doors ajar by 5-35 degrees, a wardrobe
    with its door ajar, chests with lids barely open and wide open."""
    b = Builder(rng)
    size = np.array([b.u(5.4, 6.0), b.u(5.0, 5.6), b.u(2.6, 3.0)])
    lx, ly, _ = size
    b.room(size)
    drawers = tuple(float(rng.choice([0.005, 0.01, 0.02, 0.05, 0.1])) for _ in range(3))
    cabinet = fu.cabinet_parts(1.0, 0.5, 0.9, drawers, math.radians(b.u(5, 35)), b.u(0.02, 0.03))
    b.add("cabinet", CABINET, place(cabinet, b.u(-0.3, 0.3), [1.3, ly - 0.9, 0.0]), "chest")
    wardrobe = fu.cabinet_parts(1.1, 0.6, 1.9, (b.u(0.005, 0.03), b.u(0.0, 0.02)), math.radians(b.u(5, 25)),
                                0.025)
    b.add("wardrobe", CABINET, place(wardrobe, 0.0, [lx - 1.0, ly - 0.31, 0.0]), "wood")
    for k, (angle, x) in enumerate(((b.u(5, 25), lx / 2 - 0.2), (b.u(60, 100), lx / 2 + 0.7))):
        chest = meshes.lidded_box_parts(b.u(0.5, 0.8), b.u(0.35, 0.5), b.u(0.3, 0.45),
                                        open_angle_rad=math.radians(angle))
        b.add(f"chest_{k}", BOX, place(chest, b.u(-0.6, 0.6), [x, ly - 2.0 + b.u(-0.2, 0.2), 0.0]), "chest")
    dresser = fu.cabinet_parts(0.7, 0.4, 0.6, (b.u(0.01, 0.1), b.u(0.0, 0.01)), math.radians(b.u(10, 35)), 0.02)
    b.add("dresser", CABINET, place(dresser, b.u(0.3, 0.8), [lx / 2 - 1.1, ly - 2.7, 0.0]), "fabric")
    return b.scene(name, camera_model, units, size, [lx / 2 - 1.0, 0.4, 1.3], [lx / 2 + 1.0, 1.2, 1.8],
                   [[lx / 2 - 0.6, ly - 1.6, 0.5], [lx / 2 + 0.6, ly - 1.6, 0.7]])


def _leaning_books(b: Builder, x0: float, y0: float, z0: float) -> None:
    """Upright books of different depths side by side (touching), then one leaning on the last at its top edge."""
    x = x0
    for k in range(5):
        thickness, height, depth = b.u(0.02, 0.05), b.u(0.18, 0.26), b.u(0.13, 0.2)
        b.add(f"book_{k}", BOOKS, meshes.box([x, y0 - depth, z0], [x + thickness, y0, z0 + height]), "chest")
        x += thickness
    gap, height, thickness = b.u(0.03, 0.08), 0.2, 0.03
    angle = math.asin(gap / height)
    book = meshes.box([-thickness, -0.16, 0.0], [0.0, 0.0, height]).transformed(
        np.array([[math.cos(angle), 0.0, math.sin(angle)], [0.0, 1.0, 0.0], [-math.sin(angle), 0.0, math.cos(angle)]]),
        [x + gap + 0.001, y0, z0])
    b.add("book_leaning", BOOKS, book, "poster")


def build_leaning(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """Objects leaning on or touching others: planks and a mattress against the wall, a ladder against the wall,
    books leaning on each other on a table, balls resting on a box and on the floor against it."""
    b = Builder(rng)
    size = np.array([b.u(5.4, 6.0), b.u(5.0, 5.6), b.u(2.6, 3.0)])
    lx, ly, _ = size
    b.room(size)
    for k in range(2):
        plank = fu.leaning(meshes.box([-0.15, -0.03, 0.0], [0.15, 0.0, 2.0]), math.radians(b.u(6, 15)))
        b.add(f"plank_{k}", OTHERSTRUCTURE, plank.translated([0.8 + 0.45 * k, ly, 0.0]), "wood")
    mattress = fu.leaning(meshes.box([-0.7, -0.2, 0.0], [0.7, 0.0, 1.9]), math.radians(b.u(5, 12)))
    b.add("mattress", OTHERFURNITURE, mattress.translated([2.7, ly, 0.0]), "fabric")
    ladder = fu.leaning(fu.ladder_parts(2.2, 0.4, 0.28), math.radians(b.u(12, 20)))
    b.add("ladder", OTHERFURNITURE, place(ladder, 0.0, [1.7, ly, 0.0]), "metal")
    table_x = lx / 2 + 0.4
    b.add("table", TABLE, place(fu.table_parts(1.2, 0.6, 0.72), 0.0, [table_x, ly - 1.8, 0.0]), "wood")
    _leaning_books(b, table_x - 0.45, ly - 1.55, 0.72)
    box_x = 1.3
    b.add("crate", BOX, meshes.box([box_x, ly - 2.6, 0.0], [box_x + 0.5, ly - 2.1, 0.45]), "chest")
    radius = b.u(0.1, 0.15)
    b.add("ball_on_crate", OTHERPROP, meshes.sphere(radius, 40, 20).translated([box_x + 0.25, ly - 2.35,
                                                                                 0.45 + radius]), "clutter")
    radius = b.u(0.1, 0.15)
    b.add("ball_on_floor", OTHERPROP, meshes.sphere(radius, 40, 20).translated([box_x + 0.5 + radius, ly - 2.9,
                                                                                 radius]), "ring")
    b.add("chair", CHAIR, place(fu.slat_chair_parts(), math.pi, [table_x + 0.3, ly - 2.1 + 0.1 - 0.23, 0.0]),
          "fabric")
    return b.scene(name, camera_model, units, size, [lx / 2 - 1.0, 0.4, 1.3], [lx / 2 + 1.0, 1.2, 1.8],
                   [[lx / 2 - 0.6, ly - 1.8, 0.7], [lx / 2 + 0.6, ly - 1.8, 0.8]])


def build_long_range(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """A hall seen from one end: crates, shelves, a cabinet, pillars and a table with books 10-22 m away, posters,
    frames and a wall panel on the far wall (steps of 0.5-3 cm, where float16 depth steps by 8-16 mm)."""
    b = Builder(rng)
    size = np.array([b.u(10.0, 14.0), b.u(24.0, 28.0), b.u(4.5, 5.5)])
    lx, ly, _ = size
    b.room(size)
    mid = lx / 2
    for k in range(4):
        side = b.u(0.6, 1.2)
        x, y = mid + b.u(-4.0, 4.0), b.u(11.0, 21.0)
        b.add(f"crate_{k}", BOX, place(meshes.box([-side / 2, -side / 2, 0.0], [side / 2, side / 2, side]),
                                       b.u(0, 1.5), [x, y, 0.0]), "chest")
    b.add("shelf", BOOKSHELF, place(fu.shelf_parts(1.2, 0.4, 2.0, 5, b.u(0.01, 0.03)), b.u(-0.4, 0.4),
                                    [mid - 2.5, b.u(13.0, 17.0), 0.0]), "wood")
    cabinet = fu.cabinet_parts(1.2, 0.5, 1.0, (b.u(0.02, 0.1), b.u(0.005, 0.03)), math.radians(b.u(10, 40)), 0.03)
    b.add("cabinet", CABINET, place(cabinet, 0.0, [mid + 2.5, ly - 0.26, 0.0]), "fabric")
    for k, x in enumerate((mid - 3.5, mid + 3.5)):
        b.add(f"pillar_{k}", OTHERSTRUCTURE, meshes.cylinder(0.3, size[2], 48).translated([x, b.u(9.0, 12.0), 0.0]),
              "metal")
    table_x, table_y = mid + b.u(-1.0, 1.0), b.u(12.0, 16.0)
    b.add("table", TABLE, place(fu.table_parts(1.6, 0.9, 0.75), b.u(-0.3, 0.3), [table_x, table_y, 0.0]), "wood")
    for k in range(3):
        b.add(f"book_{k}", BOOKS, meshes.box([table_x - 0.6 + 0.4 * k, table_y - 0.2, 0.75],
                                             [table_x - 0.35 + 0.4 * k, table_y + 0.12, 0.75 + b.u(0.02, 0.05)]),
              "chest")
    xs = mid + np.array([-3.0, -1.2, 0.6, 2.0, 3.6]) + rng.uniform(-0.2, 0.2, 5)
    b.add("poster_0", PICTURE, fu.plate(1.0, 1.4, b.u(0.005, 0.02)).translated([xs[0], ly, 1.5]), "poster")
    b.add("frame", PICTURE, place(fu.picture_frame_parts(1.2, 0.9, b.u(0.03, 0.05), 0.08, b.u(0.01, 0.03)), 0.0,
                                  [xs[1], ly, 1.6]), "wood")
    b.add("poster_1", PICTURE, fu.plate(0.8, 1.1, b.u(0.01, 0.03)).translated([xs[2], ly, 1.4]), "poster")
    b.add("wall_panel", WALL, fu.plate(1.4, 1.0, b.u(0.01, 0.03)).translated([xs[3], ly, 2.6]), "wall")
    b.add("skirting", WALL, meshes.box([0.0, ly - b.u(0.015, 0.03), 0.0], [lx, ly, 0.12]), "wood")
    return b.scene(name, camera_model, units, size, [mid - 1.5, 0.8, 1.4], [mid + 1.5, 2.0, 1.8],
                   [[mid - 1.0, ly - 8.0, 1.2], [mid + 1.0, ly - 8.0, 1.4]])


# ---------------------------------------------------------------------------------------------------------------------
# Registry


def _build_room(name: str, rng: np.random.Generator, camera_model: str, units: float) -> SyntheticScene:
    """The original room draws its own unit (cm or inch) from rng, as it always has."""
    del units
    return build_scene(name, rng, camera_model)


@dataclass(frozen=True)
class Family:
    """A scene family: its builder, what it is for, and whether label rules were tuned on it."""

    name: str
    build: Callable[[str, np.random.Generator, str, float], SyntheticScene]
    tuning: bool

    @property
    def description(self) -> str:
        return (self.build.__doc__ or "").split("\n\n")[0].replace("\n", " ")


FAMILIES = {f.name: f for f in (
    Family("room", _build_room, True),
    Family("flush", build_flush, True),
    Family("thin_parts", build_thin_parts, True),
    Family("grazing", build_grazing, True),
    Family("curved", build_curved, True),  # held out in round 1
    Family("containers", build_containers, True),  # held out in round 1
    Family("leaning", build_leaning, True),  # held out in round 1
    Family("long_range", build_long_range, True),  # held out in round 1
    Family("kitchen", build_kitchen, True),  # held out in round 2
    Family("office", build_office, True),  # held out in round 2
    Family("stairs", build_stairs, True),  # held out in round 2
    Family("bathroom", build_bathroom, True),  # held out in round 3
    Family("bedroom", build_bedroom, True),  # held out in round 3
    Family("living_room", build_living_room, False),
    Family("workshop", build_workshop, False),
)}
TUNING_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.tuning)
HELD_OUT_FAMILIES = tuple(name for name, f in FAMILIES.items() if not f.tuning)


def family_scene(family: str, index: int, seed: int, name: str,
                 camera_models: tuple[str, ...] = ALL_CAMERA_MODELS) -> SyntheticScene:
    """Scene `index` of a family, drawn from default_rng([seed, index]) with camera camera_models[index % len] and
    unit ASSET_UNITS[index % 4] (the room family draws its own unit: with the default camera cycle of
    `make_synthetic_dataset` it is exactly the scene that function has always made)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown scene family {family!r}; known: {sorted(FAMILIES)}")
    camera = camera_models[index % len(camera_models)]
    return FAMILIES[family].build(name, np.random.default_rng([seed, index]), camera,
                                  ASSET_UNITS[index % len(ASSET_UNITS)])



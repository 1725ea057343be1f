"""Composite objects of the scene families (obtoolkit.synth.families): each returns {part name: Mesh} in a local
frame, z up, the floor at z = 0, the front towards -y, in metres.

Parts of one object that belong together touch, abut or interpenetrate (a drawer reaching into its cabinet) but never
hold coplanar visible faces, so the ray caster never breaks a tie between two surfaces. Each docstring says which
occlusions the object is there for.
"""

from __future__ import annotations

import math

import numpy as np

from obtoolkit.synth.meshes import Mesh, box, capsule, concatenate, cylinder, lathe, rotation_x, rotation_z


def picture_frame_parts(width: float, height: float, depth: float, border: float, recess: float) -> dict[str, Mesh]:
    """A picture frame flush on a wall (its back on y = 0), centred on x = 0, from z = 0 to `height`: a moulding of
    `depth` (m) around a canvas set `recess` (m) behind the moulding's front. The moulding's inner edge passes
    `recess` in front of the canvas: a self-occlusion step of a few millimetres to centimetres within one object."""
    hw = width / 2
    canvas_front = -(depth - recess)
    moulding = concatenate([
        box([-hw, -depth, 0.0], [hw, 0.0, border]),
        box([-hw, -depth, height - border], [hw, 0.0, height]),
        box([-hw, -depth, border], [-hw + border, 0.0, height - border]),
        box([hw - border, -depth, border], [hw, 0.0, height - border]),
    ])
    canvas = box([-hw + border, canvas_front, border], [hw - border, 0.0, height - border])
    return {"moulding": moulding, "canvas": canvas}


def plate(width: float, height: float, thickness: float) -> Mesh:
    """A thin slab with its back on y = 0, centred on x = 0, from z = 0 to `height`, `thickness` in front (-y)."""
    return box([-width / 2, -thickness, 0.0], [width / 2, 0.0, height])


def cabinet_parts(width: float, depth: float, height: float, drawer_out: tuple[float, ...], door_angle_rad: float,
                  handle_gap: float) -> dict[str, Mesh]:
    """A cabinet centred on the z axis, its front at y = -depth / 2: a body, a column of drawers on the left pulled
    out by `drawer_out` (m, one per drawer; the drawer's box reaches back into the body), a door on the right hinged
    on its right edge and opened by `door_angle_rad`, and bar handles standing `handle_gap` in front of the drawer
    fronts (each bar on two short posts).

    Occlusions: a drawer front passes `drawer_out` in front of the body (a small self-occlusion step when pulled out
    by a centimetre), a handle bar passes in front of its drawer, the open door's free edge passes in front of the
    body's inside and the door frame.
    """
    hw, hd = width / 2, depth / 2
    wall = 0.02
    front = -hd
    plinth = 0.06
    parts = {"body": concatenate([
        box([-hw, front, 0.0], [hw, hd, plinth]),  # bottom
        box([-hw, front, height - wall], [hw, hd, height]),  # top
        box([-hw, hd - wall, plinth], [hw, hd, height - wall]),  # back
        box([-hw, front, plinth], [-hw + wall, hd - wall, height - wall]),  # left side
        box([hw - wall, front, plinth], [hw, hd - wall, height - wall]),  # right side
        box([-wall / 2, front, plinth], [wall / 2, hd - wall, height - wall]),  # middle divider
    ])}
    n = len(drawer_out)
    slot = (height - plinth - wall) / n
    for k, out in enumerate(drawer_out):
        z0 = plinth + k * slot + 0.004
        z1 = z0 + slot - 0.008
        tray = box([-hw + wall + 0.003, front - out, z0], [-wall / 2 - 0.003, hd - 2 * wall, z1])
        parts[f"drawer_{k}"] = tray
        x_mid = 0.5 * (-hw + wall - wall / 2)
        post = 0.012
        bar = box([x_mid - 0.09, front - out - handle_gap - post, 0.5 * (z0 + z1) - 0.006],
                  [x_mid + 0.09, front - out - handle_gap, 0.5 * (z0 + z1) + 0.006])
        posts = [box([x - post / 2, front - out - handle_gap, 0.5 * (z0 + z1) - 0.005],
                     [x + post / 2, front - out, 0.5 * (z0 + z1) + 0.005]) for x in (x_mid - 0.075, x_mid + 0.075)]
        parts[f"handle_{k}"] = concatenate([bar, *posts])
    door_width = hw - wall / 2 - 0.004
    door = box([-door_width, -0.018, plinth + 0.002], [0.0, 0.0, height - wall - 0.002])
    parts["door"] = door.transformed(rotation_z(door_angle_rad), [hw, front - 0.001, 0.0])
    return parts


def ladder_parts(height: float, width: float, rung_spacing: float, rail: float = 0.05,
                 rung_radius: float = 0.014) -> dict[str, Mesh]:
    """A straight ladder in the xz plane (rails at x = +-width / 2, from z = 0 to `height`, y in [0, rail]) with round
    rungs between the rails (cylinders touching both rails, smooth normals). Thin parts of one object: rungs pass in
    front of whatever of the ladder lies behind them when it leans or stands as an A-frame."""
    hw = width / 2
    parts = {"rail_left": box([-hw - rail, 0.0, 0.0], [-hw, rail, height]),
             "rail_right": box([hw, 0.0, 0.0], [hw + rail, rail, height])}
    for k, z in enumerate(np.arange(rung_spacing, height - 0.1, rung_spacing)):
        parts[f"rung_{k}"] = cylinder(rung_radius, width, 16).transformed(
            rotation_z(math.pi / 2) @ rotation_x(math.pi / 2), [-hw, rail / 2, float(z)])
    return parts


def step_ladder_parts(height: float, width: float, spread: float) -> dict[str, Mesh]:
    """An A-frame step ladder: a front ladder and a rear frame (two legs and crossbars) meeting at the top, feet
    `spread` apart. Seen from the side or the front, the front rungs pass in front of the rear legs and crossbars."""
    angle = math.atan2(spread / 2, height)
    length = height / math.cos(angle)
    front = ladder_parts(length, width, 0.28)
    rear = {"rear_left": box([-width / 2 - 0.045, 0.0, 0.0], [-width / 2 + 0.004, 0.035, length]),
            "rear_right": box([width / 2 - 0.004, 0.0, 0.0], [width / 2 + 0.045, 0.035, length])}
    for k, z in enumerate((0.35 * length, 0.7 * length)):
        rear[f"rear_bar_{k}"] = box([-width / 2, 0.005, z], [width / 2, 0.03, z + 0.03])
    front = {k: m.transformed(rotation_x(-angle)) for k, m in front.items()}
    lift = -min(m.vertices[:, 2].min() for m in front.values())  # the rails' front corners stand on the floor
    parts = {f"front_{k}": m.translated([0.0, -spread / 2, lift]) for k, m in front.items()}
    parts.update({k: m.transformed(rotation_x(angle), [0.0, spread / 2 - 0.035, 0.0]) for k, m in rear.items()})
    return parts


def slat_chair_parts(width: float = 0.46, depth: float = 0.46, seat_height: float = 0.45,
                     stretcher_height: float = 0.15, slats: int = 5) -> dict[str, Mesh]:
    """A chair with stretchers (crossbars between the legs a few centimetres apart in depth), a back of vertical
    slats between a top rail and a lower rail set 1.5 cm behind the slats' front, and legs. Thin parts of one object
    in front of other parts of it: front stretcher before the rear one, slats before the rails and the rear legs."""
    hw, hd, leg = width / 2, depth / 2, 0.035
    seat = box([-hw, -hd, seat_height - 0.04], [hw, hd, seat_height])
    parts = {"seat": seat}
    for name, x0, y0 in (("leg_fl", -hw, -hd), ("leg_fr", hw - leg, -hd), ("leg_bl", -hw, hd - leg),
                         ("leg_br", hw - leg, hd - leg)):
        top = seat_height - 0.04 if y0 < 0 else seat_height + 0.45
        parts[name] = box([x0, y0, 0.0], [x0 + leg, y0 + leg, top])
    bar = 0.02
    parts["stretcher_front"] = box([-hw + leg, -hd + 0.008, stretcher_height], [hw - leg, -hd + 0.008 + bar,
                                                                                stretcher_height + bar])
    parts["stretcher_back"] = box([-hw + leg, hd - leg + 0.008, stretcher_height + 0.05],
                                  [hw - leg, hd - leg + 0.008 + bar, stretcher_height + 0.05 + bar])
    parts["stretcher_left"] = box([-hw + 0.008, -hd + leg, stretcher_height + 0.1],
                                  [-hw + 0.008 + bar, hd - leg, stretcher_height + 0.1 + bar])
    back_y = hd - leg
    parts["rail_top"] = box([-hw + leg, back_y + 0.015, seat_height + 0.38], [hw - leg, hd, seat_height + 0.45])
    parts["rail_low"] = box([-hw + leg, back_y + 0.015, seat_height + 0.05], [hw - leg, hd, seat_height + 0.09])
    xs = np.linspace(-hw + leg + 0.05, hw - leg - 0.07, slats)
    for k, x in enumerate(xs):
        parts[f"slat_{k}"] = box([x, back_y, seat_height + 0.02], [x + 0.02, back_y + 0.015, seat_height + 0.42])
    return parts


def wire_cube(size: float, bar: float) -> Mesh:
    """A wire frame: the 12 edges of a cube (side `size`, standing on z = 0, centred on x = y = 0) as square bars of
    side `bar`; the bars along x span the whole side, the others fit between them (abutting, never coplanar where
    visible). Front bars cross the rear bars in the image: thin parts of one object far in front of other parts."""
    h, b = size / 2, bar
    bars = []
    for y in (-h, h - b):
        for z in (0.0, size - b):
            bars.append(box([-h, y, z], [h, y + b, z + b]))
    for x in (-h, h - b):
        for z in (0.0, size - b):
            bars.append(box([x, -h + b, z], [x + b, h - b, z + b]))
        for y in (-h, h - b):
            bars.append(box([x, y, b], [x + b, y + b, size - b]))
    return concatenate(bars)


def shelf_parts(width: float, depth: float, height: float, boards: int, board_inset: float) -> dict[str, Mesh]:
    """An open bookshelf: two side panels, a back panel, and `boards` shelf boards set `board_inset` (m) behind the
    side panels' front edges. The side panels' front edges pass `board_inset` in front of the boards' ends (a small
    self-occlusion step) and the boards' front edges pass in front of the back panel."""
    hw, hd, side = width / 2, depth / 2, 0.02
    parts = {"side_left": box([-hw, -hd, 0.0], [-hw + side, hd, height]),
             "side_right": box([hw - side, -hd, 0.0], [hw, hd, height]),
             "back": box([-hw + side, hd - 0.01, 0.0], [hw - side, hd, height])}
    for k, z in enumerate(np.linspace(0.05, height - 0.02, boards)):
        parts[f"board_{k}"] = box([-hw + side, -hd + board_inset, float(z)], [hw - side, hd - 0.01, float(z) + 0.02])
    return parts


def table_parts(width: float, depth: float, height: float, top: float = 0.03, leg: float = 0.05) -> dict[str, Mesh]:
    """A table: a top slab on four legs flush with its corners."""
    hw, hd = width / 2, depth / 2
    parts = {"top": box([-hw, -hd, height - top], [hw, hd, height])}
    for name, x0, y0 in (("leg_0", -hw, -hd), ("leg_1", hw - leg, -hd), ("leg_2", -hw, hd - leg),
                         ("leg_3", hw - leg, hd - leg)):
        parts[name] = box([x0, y0, 0.0], [x0 + leg, y0 + leg, height - top])
    return parts


def bowl(radius: float, height: float, wall: float, n_segments: int = 48) -> Mesh:
    """A bowl standing on z = 0: a closed solid of revolution (outer wall, rounded rim, inner wall) with smooth
    normals everywhere, including across the rim (an artist's smoothing group): the rim passes in front of the
    inside, and shading normals there disagree with the facets."""
    t = np.linspace(0.0, 1.0, 9)
    outer = np.stack([radius * np.sin(0.5 * np.pi * t), height * (1 - np.cos(0.5 * np.pi * t))], axis=1)
    inner_r, inner_h = radius - wall, height - wall
    inner = np.stack([inner_r * np.sin(0.5 * np.pi * t[::-1]), wall + inner_h * (1 - np.cos(0.5 * np.pi * t[::-1]))],
                     axis=1)
    rim = np.array([[radius - wall / 2, height + wall / 3]])
    profile = np.concatenate([outer, rim, inner])
    profile[[0, -1], 0] = 0.0
    return lathe(profile, n_segments)


def lamp_shade(bottom_radius: float, top_radius: float, height: float, n_segments: int = 48) -> Mesh:
    """An open truncated cone (no thickness, one surface seen from both sides), bottom at z = 0: its near rim passes
    in front of its own inside; inside, the shading normals point away from the camera."""
    return lathe([[bottom_radius, 0.0], [top_radius, height]], n_segments)


def table_lamp_parts(shade_bottom: float, shade_top: float, shade_height: float, stem: float) -> dict[str, Mesh]:
    """A table lamp: a round base, a thin stem and an open shade whose bottom rim hangs below the stem's top."""
    base = cylinder(0.08, 0.02, 32)
    pole = cylinder(0.008, stem, 12).translated([0.0, 0.0, 0.02])
    shade = lamp_shade(shade_bottom, shade_top, shade_height).translated([0.0, 0.0, 0.02 + stem - 0.6 * shade_height])
    return {"base": base, "stem": pole, "shade": shade}


def capsule_lying(radius: float, length: float) -> Mesh:
    """A capsule lying along x on z = 0 (a bolster or a pipe), centred on x = 0."""
    return capsule(radius, length).transformed(_rotation_y(math.pi / 2), [-(length / 2 + radius), 0.0, radius])


def _rotation_y(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def leaning(parts: dict[str, Mesh] | Mesh, lean_rad: float) -> dict[str, Mesh] | Mesh:
    """An object (standing on z = 0 with its back on y = 0, its front towards -y) tilted back by `lean_rad`, then
    moved so that its highest rear point touches the plane y = 0 (a wall) and its lowest point the floor z = 0: a
    board or a ladder leaning on a wall. All parts move together."""
    single = isinstance(parts, Mesh)
    parts = {"": parts} if single else parts
    tilted = {name: mesh.transformed(rotation_x(-lean_rad)) for name, mesh in parts.items()}
    points = np.concatenate([mesh.vertices for mesh in tilted.values()])
    shift = [0.0, -points[:, 1].max(), -points[:, 2].min()]
    moved = {name: mesh.translated(shift) for name, mesh in tilted.items()}
    return moved[""] if single else moved

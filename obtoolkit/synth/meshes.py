"""Procedural triangle meshes with analytic normals for synthetic Hypersim scenes.

Every primitive returns a `Mesh`: welded vertex positions (a surface that is continuous shares its vertices, so that
"faces sharing a vertex" means "neighbouring faces on one surface"), counter-clockwise triangles seen from the side the
normals point to, and per-corner normals and texture coordinates (like Hypersim's OBJ files, which index positions,
normals and texture coordinates separately: a box corner has one position but three normals). Units are whatever the
caller uses; the scene builder works in metres and converts to asset units at the end.

Parts of one object that only touch (a chair leg under the seat) are separate welded pieces that share no vertex.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from obtoolkit._checks import check_array


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh with per-corner shading attributes.

    Attributes:
        vertices: float64 (V, 3) positions.
        faces: int64 (F, 3) vertex indices, counter-clockwise seen from the normals' side.
        corner_normals: float64 (F, 3, 3) unit normal at each corner of each face (analytic, smooth or flat).
        corner_uv: float64 (F, 3, 2) texture coordinates at each corner.
    """

    vertices: np.ndarray
    faces: np.ndarray
    corner_normals: np.ndarray
    corner_uv: np.ndarray

    def __post_init__(self) -> None:
        check_array("vertices", self.vertices, shape=(None, 3), kind="f")
        n_faces = len(check_array("faces", self.faces, shape=(None, 3), kind="iu"))
        check_array("corner_normals", self.corner_normals, shape=(n_faces, 3, 3), kind="f")
        check_array("corner_uv", self.corner_uv, shape=(n_faces, 3, 2), kind="f")

    @property
    def face_normals(self) -> np.ndarray:
        """Geometric unit normals from the winding, float64 (F, 3)."""
        v = self.vertices[self.faces]
        n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        return n / np.linalg.norm(n, axis=-1, keepdims=True)

    def transformed(self, rotation: np.ndarray, translation: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
        """The mesh rotated by `rotation` (3, 3) about the origin, then translated by `translation` (3,)."""
        R = np.asarray(rotation, np.float64)
        return Mesh(self.vertices @ R.T + np.asarray(translation, np.float64), self.faces,
                    self.corner_normals @ R.T, self.corner_uv)

    def translated(self, translation: Sequence[float]) -> Mesh:
        return self.transformed(np.eye(3), translation)

    def with_inward_normals(self) -> Mesh:
        """The same surface with every shading normal negated (Hypersim's artist normals sometimes point inward)."""
        return Mesh(self.vertices, self.faces, -self.corner_normals, self.corner_uv)


def concatenate(meshes: Sequence[Mesh]) -> Mesh:
    """One mesh holding all pieces; vertex indices are offset, nothing is welded across pieces."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return Mesh(
        np.concatenate([m.vertices for m in meshes]),
        np.concatenate([m.faces + o for m, o in zip(meshes, offsets, strict=True)]).astype(np.int64),
        np.concatenate([m.corner_normals for m in meshes]),
        np.concatenate([m.corner_uv for m in meshes]),
    )


def rotation_z(angle_rad: float) -> np.ndarray:
    """Rotation about +z (the world's up axis) by `angle_rad`, float64 (3, 3)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_x(angle_rad: float) -> np.ndarray:
    """Rotation about +x by `angle_rad`, float64 (3, 3)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _flat_corners(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat corner normals from the winding and planar texture coordinates on each face's two widest axes."""
    v = vertices[faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    dominant = np.argmax(np.abs(n), axis=-1)
    axes = np.array([[1, 2], [0, 2], [0, 1]])[dominant]  # drop the axis the face is facing
    uv = np.take_along_axis(v, np.broadcast_to(axes[:, None, :], (len(faces), 3, 2)), axis=2)
    return np.repeat(n[:, None, :], 3, axis=1), uv


def flat_mesh(vertices: np.ndarray, faces: np.ndarray) -> Mesh:
    """A mesh of planar pieces: flat corner normals from the winding, planar texture coordinates."""
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    normals, uv = _flat_corners(vertices, faces)
    return Mesh(vertices, faces, normals, uv)


# Corner order: bit 0 = x, bit 1 = y, bit 2 = z (0 = low, 1 = high). Two triangles per side, outward.
_BOX_FACES = np.array([
    [0, 2, 3], [0, 3, 1],  # z low
    [4, 5, 7], [4, 7, 6],  # z high
    [0, 1, 5], [0, 5, 4],  # y low
    [2, 6, 7], [2, 7, 3],  # y high
    [0, 4, 6], [0, 6, 2],  # x low
    [1, 3, 7], [1, 7, 5],  # x high
])


def box(lo: Sequence[float], hi: Sequence[float]) -> Mesh:
    """Axis-aligned closed box from corner `lo` (3,) to corner `hi` (3,): 8 welded vertices, 12 faces, flat normals."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if np.any(hi <= lo):
        raise ValueError(f"box: hi {hi} must exceed lo {lo} on every axis")
    bits = np.array([[(k >> a) & 1 for a in range(3)] for k in range(8)], np.float64)
    return flat_mesh(lo + bits * (hi - lo), _BOX_FACES)


def torus(major_radius: float, minor_radius: float, n_major: int = 48, n_minor: int = 24) -> Mesh:
    """Torus around the z axis, centred at the origin, with analytic smooth normals (from the tube's centre line).

    Vertices form a welded (n_major x n_minor) grid that wraps in both directions; texture coordinates are the two
    angles divided by 2 pi (the seam faces get u or v = 1, not 0).
    """
    if not 0 < minor_radius < major_radius:
        raise ValueError("torus: need 0 < minor_radius < major_radius")
    i, j = np.meshgrid(np.arange(n_major), np.arange(n_minor), indexing="ij")
    theta, phi = 2 * np.pi * i / n_major, 2 * np.pi * j / n_minor
    normals = np.stack([np.cos(phi) * np.cos(theta), np.cos(phi) * np.sin(theta), np.sin(phi)], -1).reshape(-1, 3)
    centre = np.stack([np.cos(theta), np.sin(theta), np.zeros_like(theta)], -1).reshape(-1, 3) * major_radius
    vertices = centre + minor_radius * normals
    i0, j0 = i.ravel(), j.ravel()
    i1, j1 = (i0 + 1) % n_major, (j0 + 1) % n_minor
    a, b, c, d = i0 * n_minor + j0, i1 * n_minor + j0, i1 * n_minor + j1, i0 * n_minor + j1
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)])
    uv_a = np.stack([i0 / n_major, j0 / n_minor], -1)
    uv_b, uv_c, uv_d = uv_a + [1 / n_major, 0], uv_a + [1 / n_major, 1 / n_minor], uv_a + [0, 1 / n_minor]
    corner_uv = np.concatenate([np.stack([uv_a, uv_b, uv_c], 1), np.stack([uv_a, uv_c, uv_d], 1)])
    return Mesh(vertices, faces.astype(np.int64), normals[faces], corner_uv)


def cylinder(radius: float, height: float, n_segments: int = 24) -> Mesh:
    """Closed cylinder standing on the xy plane (z from 0 to `height`) around the z axis.

    The side has smooth radial normals, the caps flat normals; the rims are welded (the caps share the side's rim
    vertices), so the whole cylinder is one connected surface.
    """
    angles = 2 * np.pi * np.arange(n_segments) / n_segments
    ring = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(n_segments)], -1)
    vertices = np.concatenate([ring, ring + [0, 0, height], [[0, 0, 0], [0, 0, height]]])
    k = np.arange(n_segments)
    k1 = (k + 1) % n_segments
    top, bottom_centre, top_centre = k + n_segments, 2 * n_segments, 2 * n_segments + 1
    side = np.concatenate([np.stack([k, k1, k1 + n_segments], -1), np.stack([k, k1 + n_segments, top], -1)])
    caps = np.concatenate([np.stack([np.full(n_segments, bottom_centre), k1, k], -1),
                           np.stack([np.full(n_segments, top_centre), top, k1 + n_segments], -1)])
    faces = np.concatenate([side, caps]).astype(np.int64)
    radial = np.stack([np.cos(angles), np.sin(angles), np.zeros(n_segments)], -1)
    side_normals = radial[side % n_segments]
    cap_normals = np.repeat(np.repeat([[[0.0, 0.0, -1.0]], [[0.0, 0.0, 1.0]]], n_segments, axis=0), 3, axis=1)
    side_uv = np.stack([(side % n_segments) / n_segments, (side >= n_segments).astype(np.float64) * height], -1)
    cap_uv = vertices[caps][..., :2]
    return Mesh(vertices, faces, np.concatenate([side_normals, cap_normals]), np.concatenate([side_uv, cap_uv]))


def rectangle_with_hole(corner: Sequence[float], edge_u: Sequence[float], edge_v: Sequence[float],
                        hole: tuple[float, float, float, float] | None = None) -> Mesh:
    """A planar rectangle `corner + a * edge_u + b * edge_v` (a, b in [0, 1]), optionally with a rectangular hole.

    The normal is edge_u x edge_v (flat). `hole` = (a0, b0, a1, b1) in the same unit-square coordinates. With a hole
    the rectangle is 8 welded vertices and 8 triangles (a conforming triangulation: triangles that touch share
    vertices); without, 4 vertices and 2 triangles.
    """
    corner, edge_u, edge_v = (np.asarray(x, np.float64) for x in (corner, edge_u, edge_v))
    if hole is None:
        ab = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
        faces = np.array([[0, 1, 2], [0, 2, 3]])
    else:
        a0, b0, a1, b1 = hole
        if not 0 < a0 < a1 < 1 or not 0 < b0 < b1 < 1:
            raise ValueError(f"rectangle_with_hole: hole {hole} must lie strictly inside the unit square")
        ab = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [a0, b0], [a1, b0], [a1, b1], [a0, b1]], np.float64)
        faces = np.array([[0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
    vertices = corner + ab[:, :1] * edge_u + ab[:, 1:] * edge_v
    mesh = flat_mesh(vertices, faces)
    uv = ab[faces] * [np.linalg.norm(edge_u), np.linalg.norm(edge_v)]
    return Mesh(mesh.vertices, mesh.faces, mesh.corner_normals, uv)



def lathe(profile_rz: Sequence[Sequence[float]], n_segments: int = 32, *, hard: Sequence[int] = ()) -> Mesh:
    """A surface of revolution about the z axis from a profile polyline of (radius, z) points.

    The outward side of each profile segment is on its right when walking from point i to i + 1 in the (r, z) plane
    (a profile going up at r > 0 faces away from the axis). Points with r = 0 are poles: one welded vertex, closing
    the surface there. The surface is welded all round; shading normals are smooth (the average of the two adjacent
    segments' analytic normals, like an artist's smoothing group), except at the profile points listed in `hard`,
    where each side keeps its own segment's normal (a crease). Texture coordinates: (angle / 2 pi, arc length).

    Args:
        profile_rz: (P, 2) points, P >= 2, radius >= 0.
        n_segments: segments around the axis.
        hard: indices of profile points where the normal is not smoothed.
    """
    profile = np.asarray(profile_rz, np.float64)
    if profile.ndim != 2 or profile.shape[1] != 2 or len(profile) < 2 or np.any(profile[:, 0] < 0):
        raise ValueError("lathe: profile_rz must be (P >= 2, 2) points with radius >= 0")
    tangent = np.diff(profile, axis=0)
    length = np.linalg.norm(tangent, axis=1)
    if np.any(length <= 0):
        raise ValueError("lathe: consecutive profile points must differ")
    segment_normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1) / length[:, None]  # (dr, dz) -> (dz, -dr)
    angles = 2 * np.pi * np.arange(n_segments) / n_segments
    pole = profile[:, 0] == 0
    index = np.zeros((len(profile), n_segments), np.int64)
    vertices, count = [], 0
    for i, (r, z) in enumerate(profile):
        if pole[i]:
            vertices.append([[0.0, 0.0, z]])
            index[i] = count
            count += 1
        else:
            vertices.append(np.stack([r * np.cos(angles), r * np.sin(angles), np.full(n_segments, z)], axis=1))
            index[i] = count + np.arange(n_segments)
            count += n_segments
    vertices = np.concatenate(vertices)
    arc = np.concatenate([[0.0], np.cumsum(length)])
    faces, normals_rz, uv = [], [], []
    j = np.arange(n_segments)
    j1 = (j + 1) % n_segments
    point_normal = [_point_normal(segment_normal, i, pole[i], i in hard) for i in range(len(profile))]
    for s in range(len(profile) - 1):
        n_start = segment_normal[s] if s in hard else point_normal[s]
        n_end = segment_normal[s] if s + 1 in hard else point_normal[s + 1]
        a, b, c, d = index[s, j], index[s, j1], index[s + 1, j1], index[s + 1, j]
        for tri, sides in (((a, b, c), (0, 0, 1)), ((a, c, d), (0, 1, 1))):
            if (pole[s] and tri[0] is a and tri[1] is b) or (pole[s + 1] and tri[1] is c and tri[2] is d):
                continue  # the quad's collapsed half at a pole
            faces.append(np.stack(tri, axis=1))
            corner_j = [j if t is a or t is d else j1 for t in tri]
            normals_rz.append(np.stack([n_start if side == 0 else n_end for side in sides])[None].repeat(
                n_segments, 0))
            uv.append(np.stack([np.stack([cj / n_segments, np.full(n_segments, arc[s + side])], axis=1)
                                for cj, side in zip(corner_j, sides, strict=True)], axis=1))
            corner_angle = np.stack([angles[cj] for cj in corner_j], axis=1)
            normals_rz[-1] = _revolve_normals(normals_rz[-1], corner_angle)
    return Mesh(vertices, np.concatenate(faces).astype(np.int64), np.concatenate(normals_rz),
                np.concatenate(uv))


def _point_normal(segment_normal: np.ndarray, i: int, pole: bool, hard: bool) -> np.ndarray:
    """Smoothed (radial, z) normal at profile point i: the axis direction at a pole, the segment's own normal at the
    profile's ends, else the mean of the two adjacent segments' normals (hard points keep per-segment normals)."""
    adjacent = segment_normal[max(i - 1, 0):i + 1]
    if pole:
        return np.array([0.0, np.sign(adjacent[0, 1]) or 1.0])
    if len(adjacent) == 1 or hard:
        return adjacent[-1] if i == 0 else adjacent[0]
    mean = adjacent.sum(axis=0)
    return mean / np.linalg.norm(mean)


def _revolve_normals(normals_rz: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(N, 3, 2) profile-plane normals (radial, z) at corners of angle (N, 3) -> (N, 3, 3) world normals."""
    radial, z = normals_rz[..., 0], normals_rz[..., 1]
    return np.stack([radial * np.cos(angle), radial * np.sin(angle), z], axis=-1)


def sphere(radius: float, n_segments: int = 32, n_rings: int = 16) -> Mesh:
    """A welded UV sphere centred at the origin with smooth analytic normals."""
    polar = np.linspace(np.pi, 0.0, n_rings + 1)
    profile = np.stack([radius * np.sin(polar), radius * np.cos(polar)], axis=1)
    profile[[0, -1], 0] = 0.0
    return lathe(profile, n_segments)


def capsule(radius: float, length: float, n_segments: int = 32, n_cap: int = 8) -> Mesh:
    """A closed capsule along z (a cylinder of `length` between two hemispheres, z from 0 to length + 2 radius),
    smooth normals everywhere (the surface is smooth)."""
    polar = np.linspace(np.pi, np.pi / 2, n_cap + 1)
    bottom = np.stack([radius * np.sin(polar), radius + radius * np.cos(polar)], axis=1)
    top = bottom[::-1] * [1.0, -1.0] + [0.0, length + 2 * radius]
    profile = np.concatenate([bottom, top])
    profile[[0, -1], 0] = 0.0
    return lathe(profile, n_segments)


# ---------------------------------------------------------------------------------------------------------------------
# Composite objects. Each returns {part name: Mesh} in a local frame: z up, the floor at z = 0, the front towards -y.
# Parts that belong together touch (or abut on a shared plane) but never overlap on a visible surface, so the ray
# caster never has to break a tie between two coplanar visible faces.


def chair_parts(width: float = 0.5, depth: float = 0.5, seat_height: float = 0.45, seat_thickness: float = 0.06,
                leg_size: float = 0.045, back_height: float = 0.5, back_thickness: float = 0.05,
                arm_height: float = 0.2, arm_size: float = 0.05, arm_inset: float = 0.03) -> dict[str, Mesh]:
    """A chair centred on the z axis: four legs flush with the seat's corners, a seat, a back standing on the seat's
    rear edge, and two armrests (a bar from the back to the front plus a front post standing on the seat).

    The armrests lie inside the seat's footprint, `arm_height` above it, so from any view from above and in front they
    pass in front of the seat: a self-occlusion within the chair instance.
    """
    hw, hd = width / 2, depth / 2
    seat_bottom = seat_height - seat_thickness
    parts = {"seat": box([-hw, -hd, seat_bottom], [hw, hd, seat_height])}
    for name, sx, sy in (("leg_front_left", -1, -1), ("leg_front_right", 1, -1), ("leg_back_left", -1, 1),
                         ("leg_back_right", 1, 1)):
        x0 = hw - leg_size if sx > 0 else -hw
        y0 = hd - leg_size if sy > 0 else -hd
        parts[name] = box([x0, y0, 0.0], [x0 + leg_size, y0 + leg_size, seat_bottom])
    parts["back"] = box([-hw, hd - back_thickness, seat_height], [hw, hd, seat_height + back_height])
    bar_bottom = seat_height + arm_height
    front = -hd + arm_inset
    for name, side in (("armrest_left", -1), ("armrest_right", 1)):
        x_out = side * (hw - arm_inset)
        x_lo, x_hi = sorted((x_out, x_out - side * arm_size))
        bar = box([x_lo, front, bar_bottom], [x_hi, hd - back_thickness, bar_bottom + arm_size])
        post = box([x_lo, front, seat_height], [x_hi, front + arm_size, bar_bottom])
        parts[name] = concatenate([bar, post])
    return parts


def l_sofa_parts(length: float = 2.3, depth: float = 0.9, chaise_width: float = 0.9, chaise_depth: float = 0.9,
                 seat_height: float = 0.42, back_height: float = 0.85, back_thickness: float = 0.2,
                 arm_width: float = 0.2, arm_height: float = 0.62) -> dict[str, Mesh]:
    """An L-shaped sofa: a seat with a back along +y, a chaise extending the seat towards -y on the left (x from 0),
    a second back along the chaise's left side, and an arm at the right end (x up to `length`).

    The two backs meet in a concave corner (the L's inner crease); parts abut on shared planes. The back wall side of
    the sofa is at y = depth; the left side at x = -back_thickness.
    """
    seat_right = length - arm_width
    seat_front = depth - back_thickness
    return {
        "seat": box([0.0, 0.0, 0.0], [seat_right, seat_front, seat_height]),
        "back": box([0.0, seat_front, 0.0], [seat_right, depth, back_height]),
        "chaise": box([0.0, -chaise_depth, 0.0], [chaise_width, 0.0, seat_height]),
        "back_side": box([-back_thickness, -chaise_depth, 0.0], [0.0, depth, back_height]),
        "arm": box([seat_right, 0.0, 0.0], [length, depth, arm_height]),
    }


def lidded_box_parts(width: float = 0.7, depth: float = 0.45, height: float = 0.4, wall: float = 0.025,
                     lid_thickness: float = 0.03, open_angle_rad: float = math.radians(45)) -> dict[str, Mesh]:
    """A hollow chest centred on the z axis (a bottom and four walls of thickness `wall`, abutting, one part) with a
    lid hinged along its top rear edge, opened by `open_angle_rad`.

    Seen from above and in front, the front wall's rim and the lid's edges pass in front of the chest's inside (a
    self-occlusion); the lid touches the body only along the hinge line, so lid and body stay connected.
    """
    hw, hd = width / 2, depth / 2
    body = concatenate([
        box([-hw, -hd, 0.0], [hw, hd, wall]),
        box([-hw, -hd, wall], [hw, -hd + wall, height]),
        box([-hw, hd - wall, wall], [hw, hd, height]),
        box([-hw, -hd + wall, wall], [-hw + wall, hd - wall, height]),
        box([hw - wall, -hd + wall, wall], [hw, hd - wall, height]),
    ])
    lid = box([-hw, -depth, 0.0], [hw, 0.0, lid_thickness]).transformed(rotation_x(-open_angle_rad), [0.0, hd, height])
    return {"body": body, "lid": lid}


def lamp_parts(pole_radius: float = 0.015, pole_height: float = 1.75, base_radius: float = 0.15,
               base_height: float = 0.02) -> dict[str, Mesh]:
    """A floor lamp's thin pole standing on a flat round base (the pole is a few pixels wide in the images)."""
    return {"base": cylinder(base_radius, base_height, 32),
            "pole": cylinder(pole_radius, pole_height - base_height, 12).translated([0.0, 0.0, base_height])}


def poster(width: float = 0.6, height: float = 0.8, thickness: float = 0.002) -> Mesh:
    """A thin poster whose back face lies on the plane y = 0 (the wall), centred on x = 0, from z = 0 to `height`.

    Its front face is `thickness` in front of the wall (towards -y): flush in practice, but never coplanar with the
    wall's visible face.
    """
    return box([-width / 2, -thickness, 0.0], [width / 2, 0.0, height])


def room_parts(size: Sequence[float], window: tuple[float, float, float, float] | None) -> dict[str, Mesh]:
    """The room shell x in [0, Lx], y in [0, Ly], z in [0, Lz], normals facing inwards, as separate objects.

    `window` = (x0, z0, x1, z1) in metres is a rectangular hole in the back wall (y = Ly): it opens onto nothing.
    """
    lx, ly, lz = (float(s) for s in size)
    hole = None
    if window is not None:
        x0, z0, x1, z1 = window
        hole = (x0 / lx, z0 / lz, x1 / lx, z1 / lz)
    return {
        "floor": rectangle_with_hole([0, 0, 0], [lx, 0, 0], [0, ly, 0]),
        "ceiling": rectangle_with_hole([0, 0, lz], [0, ly, 0], [lx, 0, 0]),
        "wall_back": rectangle_with_hole([0, ly, 0], [lx, 0, 0], [0, 0, lz], hole),
        "wall_front": rectangle_with_hole([lx, 0, 0], [-lx, 0, 0], [0, 0, lz]),
        "wall_left": rectangle_with_hole([0, 0, 0], [0, ly, 0], [0, 0, lz]),
        "wall_right": rectangle_with_hole([lx, ly, 0], [0, -ly, 0], [0, 0, lz]),
    }

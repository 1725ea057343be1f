from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from obtoolkit.synth import meshes


def _edge_counts(mesh: meshes.Mesh) -> Counter:
    edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1)
    return Counter(map(tuple, edges))


def _normals_agree_with_winding(mesh: meshes.Mesh) -> bool:
    corner_mean = mesh.corner_normals.mean(axis=1)
    return bool(np.all(np.einsum("fc,fc->f", mesh.face_normals, corner_mean) > 0.9))


@pytest.mark.parametrize("mesh", [
    meshes.box([0, 0, 0], [1, 2, 3]),
    meshes.torus(1.0, 0.3, 16, 8),
    meshes.cylinder(0.5, 2.0, 12),
], ids=["box", "torus", "cylinder"])
def test_closed_primitives_are_welded_watertight_and_consistently_wound(mesh):
    assert set(_edge_counts(mesh).values()) == {2}  # every edge shared by exactly two faces: closed, welded
    assert _normals_agree_with_winding(mesh)
    assert np.allclose(np.linalg.norm(mesh.corner_normals, axis=-1), 1.0)
    assert mesh.corner_uv.shape == (len(mesh.faces), 3, 2)


def test_torus_normals_are_analytic():
    mesh = meshes.torus(1.0, 0.25, 32, 16)
    centre_line = mesh.vertices.copy()
    centre_line[:, 2] = 0
    centre_line *= 1.0 / np.linalg.norm(centre_line, axis=1, keepdims=True)
    radial = mesh.vertices - centre_line
    expected = radial / np.linalg.norm(radial, axis=1, keepdims=True)
    np.testing.assert_allclose(mesh.corner_normals, expected[mesh.faces], atol=1e-12)
    assert len(mesh.vertices) == 32 * 16


def test_rectangle_with_hole_is_conforming_and_planar():
    mesh = meshes.rectangle_with_hole([0, 0, 0], [4, 0, 0], [0, 0, 3], (0.25, 0.3, 0.5, 0.8))
    assert len(mesh.vertices) == 8 and len(mesh.faces) == 8
    counts = _edge_counts(mesh)
    assert sorted(Counter(counts.values()).items()) == [(1, 8), (2, 8)]  # 4 outer + 4 hole edges are borders
    np.testing.assert_allclose(mesh.face_normals, np.tile([0, -1, 0], (8, 1)), atol=1e-12)
    area = 0.5 * np.linalg.norm(np.cross(*(mesh.vertices[mesh.faces[:, k]] - mesh.vertices[mesh.faces[:, 0]]
                                           for k in (1, 2))), axis=1).sum()
    assert area == pytest.approx(12 - 1 * 1.5)


def test_bad_primitive_arguments():
    with pytest.raises(ValueError, match="hi"):
        meshes.box([0, 0, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="minor_radius"):
        meshes.torus(0.2, 0.3)
    with pytest.raises(ValueError, match="hole"):
        meshes.rectangle_with_hole([0, 0, 0], [1, 0, 0], [0, 1, 0], (0.5, 0.5, 0.2, 0.9))
    with pytest.raises(ValueError, match="corner_normals"):
        meshes.Mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]), np.zeros((2, 3, 3)), np.zeros((1, 3, 2)))


def test_transform_and_inward_normals():
    mesh = meshes.box([0, 0, 0], [1, 1, 1])
    moved = mesh.transformed(meshes.rotation_z(math.pi / 2), [10, 0, 0])
    np.testing.assert_allclose(moved.vertices.min(axis=0), [9, 0, 0], atol=1e-12)
    assert _normals_agree_with_winding(moved)
    inward = mesh.with_inward_normals()
    np.testing.assert_array_equal(inward.corner_normals, -mesh.corner_normals)
    np.testing.assert_array_equal(inward.faces, mesh.faces)


def test_concatenate_offsets_indices_without_welding():
    a, b = meshes.box([0, 0, 0], [1, 1, 1]), meshes.box([1, 0, 0], [2, 1, 1])
    both = meshes.concatenate([a, b])
    assert len(both.vertices) == 16 and both.faces[12:].min() == 8
    np.testing.assert_array_equal(both.vertices[both.faces[12:]], b.vertices[b.faces])


def test_chair_armrests_pass_over_the_seat_and_parts_touch():
    parts = meshes.chair_parts()
    seat, back = parts["seat"].vertices, parts["back"].vertices
    for side in ("armrest_left", "armrest_right"):
        arm = parts[side].vertices
        assert np.all(arm[:, :2].min(axis=0) >= seat[:, :2].min(axis=0) - 1e-12)  # inside the seat's footprint
        assert np.all(arm[:, :2].max(axis=0) <= seat[:, :2].max(axis=0) + 1e-12)
        assert arm[:, 2].min() == pytest.approx(seat[:, 2].max())  # the post stands on the seat
        assert arm[:, 2].max() > seat[:, 2].max() + 0.15
        assert arm[:, 1].max() == pytest.approx(back[:, 1].min())  # the bar meets the back
    for leg in ("leg_front_left", "leg_back_right"):
        assert parts[leg].vertices[:, 2].max() == pytest.approx(seat[:, 2].min())


def test_l_sofa_parts_abut_and_form_an_l():
    parts = meshes.l_sofa_parts()
    lo = {k: m.vertices.min(axis=0) for k, m in parts.items()}
    hi = {k: m.vertices.max(axis=0) for k, m in parts.items()}
    assert hi["seat"][1] == pytest.approx(lo["back"][1])
    assert hi["chaise"][1] == pytest.approx(lo["seat"][1])
    assert hi["back_side"][0] == pytest.approx(lo["seat"][0])
    assert lo["chaise"][1] < lo["seat"][1] - 0.5  # the chaise sticks out: an L


def test_lid_touches_the_chest_only_along_the_hinge():
    parts = meshes.lidded_box_parts(open_angle_rad=math.radians(40))
    body, lid = parts["body"].vertices, parts["lid"].vertices
    top = body[:, 2].max()
    assert lid[:, 2].min() == pytest.approx(top)
    hinge = lid[np.isclose(lid[:, 2], top)]
    assert len(hinge) == 2 and np.allclose(hinge[:, 1], body[:, 1].max())  # the rear top edge
    assert lid[:, 2].max() > top + 0.2


def test_room_faces_inwards_with_a_window_hole():
    parts = meshes.room_parts([5, 6, 3], (1, 1, 2, 2))
    centre = np.array([2.5, 3, 1.5])
    for name, mesh in parts.items():
        centroids = mesh.vertices[mesh.faces].mean(axis=1)
        assert np.all(np.einsum("fc,fc->f", mesh.face_normals, centre - centroids) > 0), name
    assert len(parts["wall_back"].faces) == 8 and len(parts["floor"].faces) == 2


@pytest.mark.parametrize("mesh", [
    meshes.sphere(0.5, 16, 8),
    meshes.capsule(0.2, 1.0, 16, 4),
    meshes.lathe([[0.0, 0.0], [0.5, 0.05], [0.6, 0.3], [0.55, 0.3], [0.45, 0.07], [0.0, 0.03]], 24, hard=(1, 2, 3, 4)),
], ids=["sphere", "capsule", "hard_profile"])
def test_closed_lathes_are_welded_watertight_and_consistently_wound(mesh):
    assert set(_edge_counts(mesh).values()) == {2}
    assert _normals_agree_with_winding(mesh)
    assert np.allclose(np.linalg.norm(mesh.corner_normals, axis=-1), 1.0)


def test_lathe_normals_are_analytic_on_a_sphere_and_open_profiles_have_a_border():
    mesh = meshes.sphere(2.0, 32, 16)
    expected = mesh.vertices[mesh.faces] / 2.0
    np.testing.assert_allclose(mesh.corner_normals, expected, atol=1e-12)
    shade = meshes.lathe([[0.3, 0.0], [0.2, 0.25]], 16)  # an open frustum: one surface, two rims
    assert sorted(Counter(_edge_counts(shade).values()).items()) == [(1, 32), (2, 32)]
    with pytest.raises(ValueError, match="profile"):
        meshes.lathe([[0.1, 0.0]], 8)

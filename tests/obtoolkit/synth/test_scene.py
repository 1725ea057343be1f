from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.synth.cameras import STANDARD, camera_matrix
from obtoolkit.synth.scene import LIGHT_NODE_NAME, build_scene


@pytest.fixture(scope="module")
def scene():
    return build_scene("ai_900_001", np.random.default_rng([7, 0]), STANDARD)


def test_same_rng_same_scene(scene):
    again = build_scene("ai_900_001", np.random.default_rng([7, 0]), STANDARD)
    other = build_scene("ai_900_001", np.random.default_rng([8, 0]), STANDARD)
    a, b, c = scene.scene_mesh(), again.scene_mesh(), other.scene_mesh()
    np.testing.assert_array_equal(a.vertices_asset, b.vertices_asset)
    np.testing.assert_array_equal(scene.node_ids, again.node_ids)
    assert a.vertices_asset.shape != c.vertices_asset.shape or not np.array_equal(a.vertices_asset, c.vertices_asset)


def test_hypersim_semantics(scene):
    si, sii = scene.object_semantic, scene.object_instance
    names = [o.name for o in scene.objects]
    for name, nyu40 in (("room_floor", 2), ("room_ceiling", 22), ("room_wall_back", 1), ("room_wall_left", 1)):
        assert si[names.index(name)] == nyu40 and sii[names.index(name)] == -1
    instances = {o.instance for o in scene.objects if o.instance >= 1}
    assert len(instances) >= 6
    assert any(o.nyu40 == -1 and o.instance == -1 for o in scene.objects)  # unlabelled clutter
    chair_parts = [o.name for o in scene.objects if o.name.startswith("chair_")]
    assert {"chair_seat", "chair_back", "chair_armrest_left", "chair_armrest_right"} <= set(chair_parts)
    assert len({scene.objects[names.index(n)].instance for n in chair_parts}) == 1  # one instance, many objects


def test_nodes_map_render_entities_to_objects(scene):
    rows = scene.node_rows()
    node_ids = [r[0] for r in rows]
    assert node_ids == list(range(1, len(scene.objects) + 2))
    assert sorted(scene.node_ids.tolist()) == list(range(1, len(scene.objects) + 1))
    assert not np.array_equal(scene.node_ids, np.arange(1, len(scene.objects) + 1))  # must go through the table
    light = [r for r in rows if r[1] == LIGHT_NODE_NAME]
    assert light == [(len(scene.objects) + 1, LIGHT_NODE_NAME, -1, "_NULL_OBJECT")]
    for node_id, _, object_id, object_name in rows:
        if object_id >= 0:
            assert scene.node_ids[object_id] == node_id and scene.objects[object_id].name == object_name


def test_scene_mesh_is_float32_exact_in_asset_units(scene):
    mesh = scene.scene_mesh()
    np.testing.assert_array_equal(mesh.vertices_asset, mesh.vertices_asset.astype(np.float32))
    size_asset = scene.room_size_m / scene.meters_per_asset_unit
    assert np.all(mesh.vertices_asset.min(axis=0) >= -1e-3)
    assert np.all(mesh.vertices_asset.max(axis=0) <= size_asset + 1)
    assert len(mesh.faces_oi) == len(mesh.faces_vi) and set(np.unique(mesh.faces_oi)) == set(range(len(scene.objects)))
    assert scene.meters_per_asset_unit in (0.009999999776482582, 0.02539999969303608)


def test_poster_normals_point_into_the_wall(scene):
    poster = scene.objects[scene.object_id("poster")]
    assert np.all(np.einsum("fc,fc->f", poster.mesh.face_normals, poster.mesh.corner_normals.mean(axis=1)) < 0)


def test_trajectory_stays_in_the_room_and_looks_at_the_furniture(scene):
    trajectory = scene.trajectory(np.random.default_rng(0), 4, camera_matrix(STANDARD, 96, 128))
    positions_m = trajectory.positions_asset * scene.meters_per_asset_unit
    assert positions_m.shape == (4, 3)
    assert np.all(positions_m > 0.2) and np.all(positions_m < scene.room_size_m - 0.2)
    forward = -trajectory.R_world_from_cam[:, :, 2]
    assert np.all(forward[:, 1] > 0.8)  # towards the back wall and the furniture

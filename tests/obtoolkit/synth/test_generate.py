"""Synthetic scenes read back through obtoolkit.hypersim agree with their meshes (the acceptance checks)."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest

from obtoolkit._open3d import import_open3d, open3d_available
from obtoolkit.geometry import camera_rays, pinhole_equivalent, standard_M_cam_from_uv
from obtoolkit.hypersim import (
    FINAL_MODALITIES,
    GEOMETRY_MODALITIES,
    HypersimLayout,
    iter_frames,
    list_cameras,
    list_scenes,
    read_camera_parameters,
    read_camera_trajectory,
    read_final,
    read_frame_geometry,
    read_geometry,
    read_mesh_annotations,
    read_mesh_geometry,
    read_metadata_cameras,
    read_metadata_nodes,
    read_meters_per_asset_unit,
    read_split_csv,
    read_tonemap,
)
from obtoolkit.synth.cameras import TILT_SHIFT_M_CAM_FROM_UV
from obtoolkit.synth.generate import make_synthetic_dataset, split_rows, synthetic_scene_name
from obtoolkit.synth.render import tonemap
from tests.conftest import SYNTHETIC_SCENES, SYNTHETIC_SHAPE_HW

pytestmark = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")


@pytest.fixture(scope="module")
def layout(synthetic_root) -> HypersimLayout:
    return HypersimLayout(synthetic_root)


@pytest.fixture(scope="module")
def recast(layout):
    """Ray casting of the stored meshes with exact rays, independently of the generator's code:
    {frame: (distance_m float64 (H, W) NaN on a miss, object_id int64 (H, W) -1 on a miss)}."""
    o3d = import_open3d()
    table = read_camera_parameters(layout.camera_parameters_csv)
    out = {}
    for scene in list_scenes(layout.root):
        mesh = read_mesh_geometry(layout, scene)
        raycaster = o3d.t.geometry.RaycastingScene()
        raycaster.add_triangles(o3d.core.Tensor(mesh.vertices_asset.astype(np.float32)),
                                o3d.core.Tensor(mesh.faces_vi.astype(np.uint32)))
        camera = table.camera(scene)
        rays_cam = camera_rays(camera.M_cam_from_uv, camera.height, camera.width)
        for camera_name in list_cameras(layout.root, scene):
            trajectory = read_camera_trajectory(layout, scene, camera_name)
            for frame in (f for f in iter_frames(layout.root, [scene]) if f.camera == camera_name):
                R, position = trajectory.pose(frame.frame)
                rays = np.concatenate([np.broadcast_to(position, rays_cam.shape), rays_cam @ R.T], axis=-1)
                result = raycaster.cast_rays(o3d.core.Tensor(rays.astype(np.float32)), nthreads=1)
                face = result["primitive_ids"].numpy().astype(np.int64)
                miss = face == int(raycaster.INVALID_ID)
                distance = result["t_hit"].numpy().astype(np.float64) * camera.meters_per_asset_unit
                object_id = np.where(miss, -1, mesh.faces_oi[np.where(miss, 0, face)])
                out[frame] = (np.where(miss, np.nan, distance), object_id)
    return out


def test_layout_reads_back(synthetic_root, layout):
    assert list_scenes(synthetic_root) == list(SYNTHETIC_SCENES)
    frames = list(iter_frames(synthetic_root))
    assert len(frames) == 2 * 2 * 2
    table = read_camera_parameters(layout.camera_parameters_csv)
    for scene in SYNTHETIC_SCENES:
        camera = table.camera(scene)
        assert camera.shape_hw == SYNTHETIC_SHAPE_HW and camera.M_proj is not None
        assert read_meters_per_asset_unit(layout, scene) == camera.meters_per_asset_unit
        assert read_metadata_cameras(layout, scene) == ["cam_00", "cam_01"] == list_cameras(synthetic_root, scene)
    for frame in frames:
        for modality, spec in GEOMETRY_MODALITIES.items():
            array = read_geometry(layout, frame, modality, shape_hw=SYNTHETIC_SHAPE_HW)
            assert array.dtype == np.dtype(spec.stored_dtype), modality
        for modality, spec in FINAL_MODALITIES.items():
            assert read_final(layout, frame, modality, shape_hw=SYNTHETIC_SHAPE_HW).dtype == spec.stored_dtype
        assert read_tonemap(layout, frame, shape_hw=SYNTHETIC_SHAPE_HW).dtype == np.uint8
        geometry = read_frame_geometry(layout, frame, shape_hw=SYNTHETIC_SHAPE_HW)
        assert 0.5 < geometry.valid_fraction < 1.0  # the window shows nothing
    split = read_split_csv(layout.split_csv)
    assert len(split) == 8 and split["included_in_public_release"].all()
    assert sorted(split.groupby("scene_name")["split_partition_name"].first()) == ["test", "train"]


def test_files_are_hypersim_hdf5(layout):
    frame = next(iter_frames(layout.root))
    with h5py.File(layout.geometry_path(frame, "depth_meters"), "r") as handle:
        assert list(handle.keys()) == ["dataset"]
        assert handle["dataset"].compression == "gzip" and handle["dataset"].compression_opts == 9
    with h5py.File(layout.mesh_dir(frame.scene) / "mesh_objects_si.hdf5", "r") as handle:
        assert handle["dataset"].dtype == np.int64 and handle["dataset"].shape[1] == 1


def test_recasting_the_stored_meshes_reproduces_depth_meters(layout, recast):
    for frame, (distance_m, _) in recast.items():
        stored = read_geometry(layout, frame, "depth_meters")
        np.testing.assert_array_equal(np.isnan(stored), np.isnan(distance_m), err_msg=str(frame))
        np.testing.assert_array_equal(stored, distance_m.astype(np.float16), err_msg=str(frame))


def test_nan_and_ids_exactly_where_the_ray_misses_and_misses_are_the_window(layout, recast):
    for frame, (distance_m, _) in recast.items():
        miss = np.isnan(distance_m)
        assert 0 < miss.sum() < miss.size / 3, frame
        for modality in ("position", "normal_world", "normal_cam", "normal_bump_world", "normal_bump_cam"):
            np.testing.assert_array_equal(np.isnan(read_geometry(layout, frame, modality)).all(axis=-1), miss)
        for modality in ("render_entity_id", "semantic", "semantic_instance"):
            assert np.all(read_geometry(layout, frame, modality)[miss] == -1), modality
        assert np.all(read_geometry(layout, frame, "render_entity_id")[~miss] >= 1)
        _assert_misses_leave_through_the_window(layout, frame, miss)


def _assert_misses_leave_through_the_window(layout, frame, miss):
    """Every miss ray crosses the back wall's plane inside the wall's hole."""
    mesh = read_mesh_geometry(layout, frame.scene)
    names = read_mesh_annotations(layout, frame.scene).object_names
    wall = mesh.vertices_asset[np.unique(mesh.faces_vi[mesh.faces_oi == names.index("room_wall_back")])]
    outer = np.isclose(wall[:, 0], wall[:, 0].min()) | np.isclose(wall[:, 0], wall[:, 0].max())
    outer |= np.isclose(wall[:, 2], wall[:, 2].min()) | np.isclose(wall[:, 2], wall[:, 2].max())
    hole = wall[~outer]
    camera = read_camera_parameters(layout.camera_parameters_csv).camera(frame.scene)
    R, position = read_camera_trajectory(layout, frame.scene, frame.camera).pose(frame.frame)
    directions = camera_rays(camera.M_cam_from_uv, camera.height, camera.width)[miss] @ R.T
    crossing = position + directions * ((wall[0, 1] - position[1]) / directions[:, 1])[:, None]
    assert np.all(directions[:, 1] > 0)
    assert np.all((crossing[:, [0, 2]] > hole[:, [0, 2]].min(axis=0)) & (crossing[:, [0, 2]] < hole[:, [0, 2]].max(
        axis=0)))


def test_ids_and_semantics_follow_the_tables(layout, recast):
    for frame, (_, object_id) in recast.items():
        nodes = read_metadata_nodes(layout, frame.scene)
        annotations = read_mesh_annotations(layout, frame.scene)
        node_to_object = dict(zip(nodes["node_id"], nodes["object_id"], strict=True))
        entity = read_geometry(layout, frame, "render_entity_id").astype(np.int64)
        hit = entity >= 1
        object_from_ids = np.vectorize(node_to_object.get)(entity[hit])
        np.testing.assert_array_equal(object_from_ids, object_id[hit])
        np.testing.assert_array_equal(read_geometry(layout, frame, "semantic")[hit],
                                      annotations.object_semantic[object_from_ids])
        np.testing.assert_array_equal(read_geometry(layout, frame, "semantic_instance")[hit],
                                      annotations.object_instance[object_from_ids])
        semantic = read_geometry(layout, frame, "semantic")
        instance = read_geometry(layout, frame, "semantic_instance")
        assert np.all(instance[np.isin(semantic, [1, 2, 22])] == -1)
        assert {1, 2}.issubset(np.unique(semantic)) and len(np.unique(instance[instance >= 1])) >= 5


def test_normals_positions_and_final_images_are_consistent(layout):
    table = read_camera_parameters(layout.camera_parameters_csv)
    for frame in iter_frames(layout.root):
        camera = table.camera(frame.scene)
        R, position = read_camera_trajectory(layout, frame.scene, frame.camera).pose(frame.frame)
        rays = camera_rays(camera.M_cam_from_uv, camera.height, camera.width)
        geometry = read_frame_geometry(layout, frame, modalities=("depth_meters", "normal_cam", "render_entity_id"))
        valid = geometry.valid_mask
        normal_world = read_geometry(layout, frame, "normal_world").astype(np.float32)
        np.testing.assert_allclose(geometry.normal_cam[valid], normal_world[valid] @ R, atol=3e-3)
        np.testing.assert_allclose(np.linalg.norm(normal_world[valid], axis=-1), 1.0, atol=2e-3)
        facing = np.einsum("...c,...c->...", geometry.normal_cam, rays) < 0
        objects = read_metadata_nodes(layout, frame.scene).set_index("node_id")["object_name"]
        poster = valid & np.isin(geometry.render_entity_id, objects.index[objects == "poster"])
        assert poster.sum() > 50 and not facing[poster].any()  # the poster's artist normals point inwards
        assert facing[valid & ~poster].mean() > 0.99
        position_asset = read_geometry(layout, frame, "position").astype(np.float64)
        expected = position + (geometry.distance_m[..., None] / camera.meters_per_asset_unit) * (rays @ R.T)
        np.testing.assert_allclose(position_asset[valid], expected[valid], rtol=2e-3, atol=0.5)
        final = {m: read_final(layout, frame, m).astype(np.float32) for m in FINAL_MODALITIES}
        np.testing.assert_allclose(final["color"], final["diffuse_reflectance"] * final["diffuse_illumination"]
                                   + final["residual"], rtol=5e-3, atol=1e-3)
        difference = read_tonemap(layout, frame).astype(np.float64) - tonemap(final["color"], valid)
        assert np.median(np.abs(difference)) <= 3 and abs(difference.mean()) < 1  # JPEG noise, no bias


def test_tilt_shift_scene_has_a_real_tilt_shift_camera(layout):
    table = read_camera_parameters(layout.camera_parameters_csv)
    standard, tilted = table.camera(SYNTHETIC_SCENES[0]), table.camera(SYNTHETIC_SCENES[1])
    assert standard.is_standard() and not tilted.is_standard()
    np.testing.assert_array_equal(tilted.M_cam_from_uv, TILT_SHIFT_M_CAM_FROM_UV)
    np.testing.assert_allclose(standard.M_cam_from_uv, standard_M_cam_from_uv(*SYNTHETIC_SHAPE_HW))
    assert pinhole_equivalent(tilted.M_cam_from_uv, *tilted.shape_hw).rotation_deg > 7.5
    angle = np.degrees(np.arccos(np.clip(np.einsum(
        "...c,...c->...", camera_rays(tilted.M_cam_from_uv, *tilted.shape_hw),
        camera_rays(standard.M_cam_from_uv, *standard.shape_hw)), -1, 1)))
    assert angle.min() > 1.0 and angle.max() > 8.0


def test_same_seed_gives_byte_identical_files(tmp_path):
    def digest(root):
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    kwargs = dict(scenes=2, frames=1, cameras=1, seed=3, height=24, width=32)
    make_synthetic_dataset(tmp_path / "a", **kwargs)
    make_synthetic_dataset(tmp_path / "b", **kwargs)
    first, second = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert first == second and len(first) > 40
    assert any(name.endswith("occlusion.npz") for name in first)
    make_synthetic_dataset(tmp_path / "c", **{**kwargs, "seed": 4})
    assert digest(tmp_path / "c") != first


def test_names_splits_and_bad_arguments(tmp_path):
    assert [synthetic_scene_name(k) for k in (0, 1, 998, 999)] == ["ai_900_001", "ai_900_002", "ai_900_999",
                                                                     "ai_901_001"]
    with pytest.raises(ValueError):
        synthetic_scene_name(-1)
    names = [synthetic_scene_name(k) for k in range(12)]
    rows = split_rows(names, ["cam_00"], 2, seed=0)
    partition = {row[0]: row[5] for row in rows}
    assert sorted(partition.values()).count("test") == 1 and sorted(partition.values()).count("val") == 1
    assert split_rows(names[:3], ["cam_00"], 1, seed=0) != [] and {r[5] for r in split_rows(
        names[:3], ["cam_00"], 1, seed=0)} == {"train", "val", "test"}
    assert {r[5] for r in split_rows(names[:1], ["cam_00"], 1, seed=0)} == {"train"}
    with pytest.raises(ValueError, match="frames"):
        make_synthetic_dataset(tmp_path, frames=0)
    with pytest.raises(ValueError, match="camera_models"):
        make_synthetic_dataset(tmp_path, camera_models=("fisheye",))

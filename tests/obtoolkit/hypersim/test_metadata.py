from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.hypersim import (
    HypersimLayout,
    read_mesh_annotations,
    read_mesh_geometry,
    read_metadata_cameras,
    read_metadata_nodes,
    read_meters_per_asset_unit,
    read_split_csv,
)
from obtoolkit.synth.writer import HypersimWriter


def test_real_split_csv(shared_fixtures):
    table = read_split_csv(shared_fixtures / "hypersim" / "metadata_images_split_scene_v1.csv")
    assert len(table) == 82_900
    public = table[table["included_in_public_release"]]
    assert len(public) == 74_619
    assert public["split_partition_name"].value_counts().to_dict() == {"train": 59_543, "test": 7_690, "val": 7_386}
    assert table.loc[~table["included_in_public_release"], "split_partition_name"].isna().all()


def test_split_csv_errors(tmp_path):
    path = tmp_path / "split.csv"
    path.write_text("scene_name,camera_name\n")
    with pytest.raises(FormatError, match="columns"):
        read_split_csv(path)
    header = "scene_name,camera_name,frame_id,included_in_public_release,exclude_reason,split_partition_name\n"
    path.write_text(header + "ai_001_001,cam_00,0,True,,holdout\n")
    with pytest.raises(FormatError, match="train/val/test"):
        read_split_csv(path)
    path.write_text(header + "ai_001_001,cam_00,x,True,,train\n")
    with pytest.raises(FormatError, match="frame_id"):
        read_split_csv(path)


def test_real_mesh_annotations(shared_fixtures):
    annotations = read_mesh_annotations(HypersimLayout(shared_fixtures / "hypersim"), "ai_037_002")
    assert annotations.object_semantic.shape == (985,)
    assert annotations.object_instance.max() == 969
    assert annotations.instance_colors.shape == (970, 3) and annotations.semantic_colors.shape == (41, 3)
    assert len(annotations.object_names) == 985


def test_scene_detail_round_trip(tmp_path):
    writer = HypersimWriter(tmp_path)
    scene = "ai_001_001"
    writer.write_scene_metadata(scene, 0.0254, ["cam_00", "cam_01"])
    writer.write_nodes(scene, [(1, "wall_node", 0, "wall"), (2, "none", -1, "_NULL_OBJECT")])
    writer.write_mesh_geometry(scene, np.eye(3), np.array([[0, 1, 2]]), np.array([0]))
    layout = writer.layout
    assert read_meters_per_asset_unit(layout, scene) == 0.0254
    assert read_metadata_cameras(layout, scene) == ["cam_00", "cam_01"]
    nodes = read_metadata_nodes(layout, scene)
    assert nodes["object_id"].tolist() == [0, -1] and nodes["object_name"].tolist() == ["wall", "_NULL_OBJECT"]
    mesh = read_mesh_geometry(layout, scene)
    assert mesh.faces_vi.shape == (1, 3) and mesh.faces_oi.tolist() == [0]


def test_mesh_geometry_errors(tmp_path):
    writer = HypersimWriter(tmp_path)
    scene = "ai_001_001"
    with pytest.raises(MissingFileError, match="mesh_vertices.hdf5"):
        read_mesh_geometry(writer.layout, scene)
    writer.write_mesh_geometry(scene, np.eye(3), np.array([[0, 1, 3]]), np.array([0]))
    with pytest.raises(FormatError, match="vertex indices"):
        read_mesh_geometry(writer.layout, scene)
    writer.write_mesh_geometry(scene, np.eye(3), np.array([[0, 1, 2]]), np.array([0, 0]))
    with pytest.raises(FormatError, match="one per face"):
        read_mesh_geometry(writer.layout, scene)

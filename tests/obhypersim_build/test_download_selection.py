"""Member selection: modalities, cameras, frames and the `_detail/` sets, on hand-written archive listings."""

from __future__ import annotations

from pathlib import Path

import pytest

from obh.cmd_download import DETAIL_CHOICES
from obhypersim_build.download.selection import (
    BUILD_DETAIL_FILES,
    DETAIL_SETS,
    Selection,
    expected_member_name,
    member_frame,
    select_members,
    split_frames,
)
from obhypersim_build.download.zipindex import ZipMember
from obtoolkit.hypersim import FrameId, HypersimLayout, read_split_csv
from obtoolkit.synth.writer import HypersimWriter

S = "ai_001_001"
FRAME_FILES = [
    f"{S}/images/scene_{cam}_geometry_hdf5/frame.{i:04d}.{kind}.hdf5"
    for cam in ("cam_00", "cam_01") for i in (0, 1)
    for kind in ("depth_meters", "normal_cam", "normal_world", "position", "render_entity_id", "semantic",
                 "semantic_instance")
] + [
    f"{S}/images/scene_{cam}_final_preview/frame.{i:04d}.{kind}.jpg"
    for cam in ("cam_00", "cam_01") for i in (0, 1) for kind in ("tonemap", "color", "gamma")
] + [
    f"{S}/images/scene_{cam}_final_hdf5/frame.{i:04d}.{kind}.hdf5"
    for cam in ("cam_00", "cam_01") for i in (0, 1) for kind in ("color", "diffuse_reflectance")
] + [f"{S}/images/scene_cam_00_geometry_preview/frame.0000.depth_meters.png"]
DETAIL_FILES = [
    f"{S}/_detail/metadata_scene.csv", f"{S}/_detail/metadata_cameras.csv", f"{S}/_detail/metadata_nodes.csv",
    f"{S}/_detail/metadata_node_strings.csv",
    f"{S}/_detail/cam_00/camera_keyframe_positions.hdf5", f"{S}/_detail/cam_00/camera_keyframe_orientations.hdf5",
    f"{S}/_detail/cam_00/metadata_camera.csv", f"{S}/_detail/cam_01/camera_keyframe_positions.hdf5",
    f"{S}/_detail/mesh/mesh_objects_si.hdf5", f"{S}/_detail/mesh/mesh_objects_sii.hdf5",
    f"{S}/_detail/mesh/metadata_objects.csv", f"{S}/_detail/mesh/metadata_semantic_colors.hdf5",
    f"{S}/_detail/mesh/metadata_semantic_instance_colors.hdf5",
    f"{S}/_detail/mesh/metadata_semantic_instance_bounding_box_object_aligned_2d_extents.hdf5",
]
ODD = [f"{S}/", f"{S}/images/", f"{S}/_detail/", "ai_001_002/_detail/metadata_scene.csv",
       f"{S}/_detail/../../../etc/passwd", f"{S}/images/scene_cam_00_geometry_hdf5/frame.0000.depth_meters.png",
       f"{S}/images/scene_cam_00_geometry_hdf5/frame.0000.tonemap.hdf5", f"{S}/images/scene_cam_00_final_preview/"
       "frame.0000.depth_meters.jpg", f"{S}/images/scene_cam_00_geometry_hdf5/frame.00000.depth_meters.hdf5",
       "readme.txt"]


def members(names) -> list[ZipMember]:
    return [ZipMember(n, 0, 0, 0, 1, 1, i * 100, n.encode(), 0) for i, n in enumerate(names)]


def chosen(selection: Selection, frame_filter=None) -> list[str]:
    listing = members(FRAME_FILES + DETAIL_FILES + ODD)
    return [m.name for m in select_members(S, listing, selection, frame_filter)]


def test_default_selection_is_what_a_build_reads():
    names = chosen(Selection())
    frames = [n for n in names if "/images/" in n]
    assert len(frames) == 2 * 2 * 6  # cameras x frames x (5 geometry modalities + tonemap)
    assert {n.split(".")[-2] for n in frames} == {"depth_meters", "normal_cam", "render_entity_id", "semantic",
                                                  "semantic_instance", "tonemap"}
    details = [n for n in names if "/_detail/" in n]
    assert details == [n for n in DETAIL_FILES if "node_strings" not in n and "bounding_box" not in n]
    assert not set(names) & set(ODD)


def test_cameras_modalities_and_detail_sets():
    names = chosen(Selection(modalities=("position", "color"), cameras=("cam_01",), detail="none"))
    assert names == [n for n in FRAME_FILES if "cam_01" in n and (".position." in n or "final_hdf5" in n
                                                                  and ".color." in n)]
    everything = chosen(Selection(modalities=("depth_meters",), cameras=("cam_00",), detail="all"))
    assert [n for n in everything if "/_detail/" in n] == [n for n in DETAIL_FILES if "cam_01" not in n]


def test_frame_filter_keeps_only_the_frames_it_accepts():
    names = chosen(Selection(detail="none"), lambda frame: frame == FrameId(S, "cam_00", 1))
    assert names and all("scene_cam_00_" in n and "frame.0001." in n for n in names)


def test_member_names_are_the_layout_paths():
    layout = HypersimLayout(Path("/root"))
    frame = FrameId(S, "cam_03", 42)
    for modality, path in [("depth_meters", layout.geometry_path(frame, "depth_meters")),
                           ("diffuse_illumination", layout.final_path(frame, "diffuse_illumination")),
                           ("tonemap", layout.tonemap_path(frame))]:
        name = expected_member_name(frame, modality)
        assert Path("/root") / name == path
        assert member_frame(name) == (frame, modality)
    assert expected_member_name(frame, "gamma") is None and member_frame(ODD[5]) is None


def test_bad_selections_are_errors():
    with pytest.raises(ValueError, match="unknown modality depth"):
        Selection(modalities=("depth",))
    with pytest.raises(ValueError, match="cam_00"):
        Selection(cameras=("0",))
    with pytest.raises(ValueError, match="detail set"):
        Selection(detail="some")
    with pytest.raises(ValueError, match="ai_001_001"):
        select_members("scene", [], Selection())


def test_cli_detail_choices_match_the_library():
    assert set(DETAIL_CHOICES) == set(DETAIL_SETS) and DETAIL_SETS["build"] == BUILD_DETAIL_FILES


def test_split_frames_takes_public_frames_of_the_splits(tmp_path):
    path = HypersimWriter(tmp_path).write_split([
        [S, "cam_00", 0, True, "", "train"], [S, "cam_00", 1, False, "CONTENT FLAGGED FOR REMOVAL", ""],
        [S, "cam_01", 0, True, "", "train"], ["ai_001_002", "cam_00", 0, True, "", "test"],
        ["ai_001_003", "cam_00", 0, True, "", "val"],
    ])
    table = read_split_csv(path)
    assert split_frames(table, ["train"]) == {S: {("cam_00", 0), ("cam_01", 0)}}
    assert split_frames(table, ["test", "val"]) == {"ai_001_002": {("cam_00", 0)}, "ai_001_003": {("cam_00", 0)}}

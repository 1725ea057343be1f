from __future__ import annotations

import pytest

from obtoolkit.hypersim import FrameId, HypersimLayout, iter_frames, list_cameras, list_frames, list_scenes
from obtoolkit.hypersim.layout import parse_frame_id


def test_paths_follow_the_official_layout(tmp_path):
    layout = HypersimLayout(tmp_path)
    frame = FrameId("ai_001_002", "cam_03", 7)
    assert layout.geometry_path(frame, "depth_meters").relative_to(tmp_path).as_posix() == (
        "ai_001_002/images/scene_cam_03_geometry_hdf5/frame.0007.depth_meters.hdf5")
    assert layout.final_path(frame, "color").relative_to(tmp_path).as_posix() == (
        "ai_001_002/images/scene_cam_03_final_hdf5/frame.0007.color.hdf5")
    assert layout.tonemap_path(frame).relative_to(tmp_path).as_posix() == (
        "ai_001_002/images/scene_cam_03_final_preview/frame.0007.tonemap.jpg")
    assert layout.mesh_dir("ai_001_002").relative_to(tmp_path).as_posix() == "ai_001_002/_detail/mesh"
    assert str(frame) == "ai_001_002/cam_03/frame.0007"


def test_discovery(small_root, tmp_path):
    (tmp_path / "not_a_scene").mkdir()
    (tmp_path / "ai_009_009").mkdir()  # a scene folder without images
    assert list_scenes(tmp_path) == ["ai_001_001", "ai_002_003", "ai_009_009"]
    assert list_cameras(tmp_path, "ai_001_001") == ["cam_00", "cam_01"]
    assert list_cameras(tmp_path, "ai_009_009") == []
    assert [f.frame for f in list_frames(tmp_path, "ai_001_001", "cam_01")] == [0, 1, 3]
    frames = list(iter_frames(tmp_path, scenes=["ai_002_003"]))
    assert frames == [FrameId("ai_002_003", "cam_00", i) for i in (0, 1, 3)]
    assert len(list(iter_frames(tmp_path))) == 9


def test_frame_with_only_a_tonemap_is_still_listed(small_root, tmp_path):
    layout = small_root.layout
    for path in layout.images_dir("ai_002_003", "cam_00", "geometry_hdf5").glob("frame.0003.*"):
        path.unlink()
    assert FrameId("ai_002_003", "cam_00", 3) in list_frames(tmp_path, "ai_002_003", "cam_00")


def test_missing_root_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_scenes(tmp_path / "nope")


@pytest.mark.parametrize("text", ["ai_001_001/cam_00/frame.0007", "ai_001_001/cam_00/7", "ai_001_001 cam_00 0007"])
def test_parse_frame_id(text):
    assert parse_frame_id(text) == FrameId("ai_001_001", "cam_00", 7)


def test_parse_frame_id_rejects_garbage():
    with pytest.raises(ValueError, match="expected a frame"):
        parse_frame_id("scene/cam/x")

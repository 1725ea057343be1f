from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.hypersim import HypersimLayout, read_camera_parameters, read_camera_trajectory
from obtoolkit.synth.writer import HypersimWriter


def test_real_camera_csv(shared_fixtures):
    table = read_camera_parameters(shared_fixtures / "hypersim" / "metadata_camera_parameters.csv")
    assert len(table) == 482
    camera = table.camera("ai_037_002")
    assert camera.shape_hw == (768, 1024)
    assert camera.meters_per_asset_unit == pytest.approx(0.01)
    assert camera.M_cam_from_uv[2, 1] == pytest.approx(0.004054126980668954)
    assert camera.M_proj is not None and camera.M_proj.shape == (4, 4)
    assert table.camera("ai_001_001").is_standard()


def test_scene_missing_from_csv_names_the_csv(small_root):
    table = read_camera_parameters(small_root.layout.camera_parameters_csv)
    with pytest.raises(KeyError, match="metadata_camera_parameters.csv.*ai_999_999"):
        table.camera("ai_999_999")


def test_malformed_camera_csv(tmp_path):
    path = tmp_path / "cams.csv"
    with pytest.raises(MissingFileError):
        read_camera_parameters(path)
    path.write_text("scene_name,foo\nai_001_001,1\n")
    with pytest.raises(FormatError, match="columns"):
        read_camera_parameters(path)
    columns = ["scene_name", "settings_output_img_height", "settings_output_img_width",
               "settings_units_info_meters_scale"] + [f"M_cam_from_uv_{r}{c}" for r in range(3) for c in range(3)]
    path.write_text(",".join(columns) + "\nai_001_001,768,1024,0.01,x,0,0,0,1,0,0,0,-1\n")
    with pytest.raises(FormatError, match="line 2"):
        read_camera_parameters(path).camera("ai_001_001")  # a bad row fails its scene when asked for
    path.write_text(",".join(columns) + "\nai_001_001,768,1024,0.01,0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(FormatError, match="invertible"):
        read_camera_parameters(path).camera("ai_001_001")


def test_real_trajectory(shared_fixtures):
    trajectory = read_camera_trajectory(HypersimLayout(shared_fixtures / "hypersim"), "ai_037_002", "cam_00")
    assert trajectory.positions_asset.shape == (100, 3)
    R, c = trajectory.pose(0)
    np.testing.assert_allclose(R, [[1, 0, 0], [0, 0.00933, -0.99996], [0, 0.99996, 0.00933]], atol=1e-5)
    with pytest.raises(KeyError):
        trajectory.pose(100)


def test_bad_rotation_is_rejected(tmp_path):
    writer = HypersimWriter(tmp_path)
    rotations = np.tile(np.eye(3), (2, 1, 1))
    rotations[1, 0, 0] = 2.0
    writer.write_camera_trajectory("ai_001_001", "cam_00", np.zeros((2, 3)), rotations, np.ones((2, 3)))
    with pytest.raises(FormatError, match="orthonormal"):
        read_camera_trajectory(writer.layout, "ai_001_001", "cam_00")


def test_bad_rows_fail_only_their_scene_and_unrequested_rows_are_not_parsed(tmp_path):
    columns = ["scene_name", "settings_output_img_height", "settings_output_img_width",
               "settings_units_info_meters_scale"] + [f"M_cam_from_uv_{r}{c}" for r in range(3) for c in range(3)]
    good = "768,1024,0.01,1,0,0,0,1,0,0,0,-1"
    rows = [f"ai_001_001,{good}", "ai_001_002,768,1024,0.01,nan,0,0,0,1,0,0,0,-1", "ai_001_003,768,1024",
            f"ai_001_004,{good},7", f"ai_001_005,{good}", f"ai_001_005,{good}",
            "ai_001_006,100000,100000,0.01,1,0,0,0,1,0,0,0,-1"]
    path = tmp_path / "cams.csv"
    path.write_text("\n".join([",".join(columns), *rows]) + "\n")
    table = read_camera_parameters(path)
    assert table.scenes == ["ai_001_001"]
    assert table.bad_scenes == ["ai_001_002", "ai_001_003", "ai_001_004", "ai_001_005", "ai_001_006"]
    for scene, message in [("ai_001_002", "finite invertible.*line 3"), ("ai_001_003", "13 columns on line 4"),
                           ("ai_001_004", "13 columns on line 5.*found 14"), ("ai_001_005", "lines 6 and 7"),
                           ("ai_001_006", "at most 67108864 pixels.*line 8")]:
        with pytest.raises(FormatError, match=message):
            table.camera(scene)
    only = read_camera_parameters(path, scenes=["ai_001_001"])
    assert only.scenes == ["ai_001_001"] and only.bad_scenes == []
    assert read_camera_parameters(path, scenes=["ai_001_006"], max_pixels=10**10).camera("ai_001_006").width == 100000

from __future__ import annotations

import pytest

from obtoolkit.datasets import FORMATS, SPLIT_ALL, LayoutError, UnknownDatasetError, format_names, get_format
from obtoolkit.datasets.base import EvalPreset, check_relative_id
from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.metrics.depth import DEPTH_PRESETS


def _one_line(error: Exception) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_registry_names_and_unknown_name():
    assert format_names() == ("diode", "ibims", "nyudmt", "ob_diode", "ob_entityseg", "ob_future")
    assert all(FORMATS[name].name == name for name in format_names())
    with pytest.raises(UnknownDatasetError) as caught:
        get_format("nyud_mt")
    message = _one_line(caught.value)
    assert "'nyud_mt'" in message and "nyudmt" in message and "ob_future" in message


@pytest.mark.parametrize("name", format_names())
def test_wrong_layout_names_the_path(name, tmp_path):
    fmt = get_format(name)
    with pytest.raises(LayoutError) as caught:
        fmt.frames(tmp_path / "absent")
    assert str(tmp_path / "absent") in _one_line(caught.value)
    if fmt.required_dirs():  # an empty folder lacks the first required folder
        with pytest.raises(LayoutError, match=fmt.required_dirs()[0]):
            fmt.frames(tmp_path)
    else:  # no frame anywhere
        with pytest.raises(LayoutError, match="found none"):
            fmt.frames(tmp_path)


@pytest.mark.parametrize("name", format_names())
def test_missing_split_file_names_the_file(name, trees, tmp_path):
    fmt = get_format(name)
    split = next(iter(fmt.split_files))
    absent = tmp_path / "no_such_list.txt"
    with pytest.raises(MissingFileError) as caught:
        fmt.frames(trees[name].root, split, split_file=absent)
    assert str(absent) in _one_line(caught.value) and fmt.title in str(caught.value)
    with pytest.raises(ValueError, match=f"unknown split 'nope'; known: .*{SPLIT_ALL}"):
        fmt.frames(trees[name].root, "nope")


def test_bad_split_line_names_file_and_line(trees, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("00000\n\nabc\n")
    with pytest.raises(FormatError) as caught:
        get_format("nyudmt").frames(trees["nyudmt"].root, "test", split_file=listing)
    assert str(listing) in _one_line(caught.value) and "line 3" in str(caught.value) and "'abc'" in str(caught.value)
    listing.write_text("\n\n")
    with pytest.raises(FormatError, match="an empty list"):
        get_format("nyudmt").frames(trees["nyudmt"].root, "test", split_file=listing)


def test_listed_frame_without_files_names_the_file(trees, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("00041\n")  # file 0042 does not exist
    root = trees["nyudmt"].root
    with pytest.raises(MissingFileError) as caught:
        get_format("nyudmt").frames(root, "test", split_file=listing)
    assert str(root / "NYUDv2/images/0042.png") in _one_line(caught.value)
    assert get_format("nyudmt").frames(root, "test", split_file=listing, check_files=False)[0].frame_id == "0042"


def test_frame_files_paths_and_relative_ids():
    files = get_format("ob_future", orientation=True).frame_files("00052")
    assert files.paths() == {"image": "00052/rgb_1.png", "depth": "00052/bdepth.png",
                             "boundary": "00052/dis_fOB.png", "orientation": "00052/dis_fOO.png"}
    assert "orientation" not in get_format("ob_future").frame_files("00052").paths()
    assert check_relative_id("val/indoors/a_1.x") == "val/indoors/a_1.x"
    for bad in ("/etc/passwd", "../up", "a/../b", "a b", "a//b", ""):
        with pytest.raises(ValueError):
            check_relative_id(bad)


def test_presets_follow_the_official_protocols():
    presets = {name: get_format(name).preset for name in format_names()}
    assert presets["nyudmt"].depth == DEPTH_PRESETS["nyudmt"] and presets["nyudmt"].extra_max_dists == (0.011,)
    assert presets["nyudmt"].nms and not presets["nyudmt"].thin and presets["nyudmt"].official_fixed_threshold == 0.7
    assert not presets["ob_future"].nms and presets["ob_future"].depth.clamp_min == 0.0392  # IOBE: no NMS
    assert presets["ibims"].dbe_references == ("depth_edges", "boundary")
    assert presets["ibims"].zero_shot_max_depth == 52.0 and presets["ibims"].official_fixed_threshold == 0.5
    assert presets["diode"].zero_shot_max_depth == 350.0 and presets["diode"].depth.clamp_max == 350.0
    assert presets["ob_entityseg"].depth is None and presets["ob_entityseg"].zero_shot_max_depth == 10.0
    options = presets["nyudmt"].boundary_options(0.011)
    assert options.max_dist == 0.011 and options.protocol == "occlusion"
    with pytest.raises(ValueError, match="depth_unit_m"):
        EvalPreset(depth=None, depth_unit_m=0.0)
    with pytest.raises(ValueError, match="dbe_references"):
        EvalPreset(depth=None, dbe_references=("boundary",))

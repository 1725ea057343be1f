"""Every reader on its synthetic tree, and the format-specific decodings on hand-made files."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from PIL import Image

from obtoolkit.datasets import SPLIT_ALL, format_names, get_format
from obtoolkit.datasets.ob_future import decode_depth, decode_iobe_orientation
from obtoolkit.errors import FormatError

FIELDS = ("image_rgb", "depth_m", "depth_valid", "boundary", "boundary_valid", "orientation_rad", "depth_edges")


def _options(name):
    return {"orientation": True} if name == "ob_future" else {}


@pytest.mark.parametrize("name", format_names())
def test_reader_decodes_what_was_written(name, trees):
    tree, fmt = trees[name], get_format(name, **_options(name))
    for split, ids in tree.splits.items():
        assert tuple(f.frame_id for f in fmt.frames(tree.root, split)) == ids
    everything = fmt.frames(tree.root, SPLIT_ALL)
    assert [f.frame_id for f in everything] == sorted(tree.truth)
    for files in everything:
        arrays, truth = fmt.read_frame(tree.root, files), tree.truth[files.frame_id]
        assert arrays.frame_id == files.frame_id
        for field in FIELDS:
            got, want = getattr(arrays, field), getattr(truth, field)
            assert (got is None) == (want is None), field
            if got is not None:
                assert got.dtype == want.dtype and got.shape == want.shape, field
                assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f"), field
        if arrays.depth_m is not None:  # NaN exactly where invalid
            assert np.array_equal(np.isnan(arrays.depth_m), ~arrays.depth_valid)
        filled = {f for f in FIELDS if getattr(arrays, f) is not None}
        assert filled <= fmt.modalities


def test_nyudmt_ids_and_labels(trees, tmp_path):
    fmt = get_format("nyudmt")
    assert fmt.frame_id_from_line("00000") == "0001" and fmt.frame_id_from_line("01448") == "1449"
    assert fmt.frame_id_from_line("") is None
    for bad in ("x1", "-1", "09999"):
        with pytest.raises(ValueError):
            fmt.frame_id_from_line(bad)
    root = trees["nyudmt"].root
    edge = np.array(Image.open(root / "NYUDv2/edge/0001.png"))
    edge[0, :3] = (0, 128, 255)
    copy = tmp_path / "edge.png"
    Image.fromarray(edge).save(copy)
    files = fmt.frame_files("0001")
    arrays = fmt.read_frame(root, dataclasses.replace(files, boundary=str(copy)))
    assert arrays.boundary[0, :3].tolist() == [False, False, True]
    assert arrays.boundary_valid[0, :3].tolist() == [True, False, True]  # 128: not a label


def test_ob_future_drops_the_official_test_ids(trees):
    listed = (trees["ob_future"].root / "19186_occ_1p.txt").read_text().split()
    assert "01219" in listed
    assert "01219" not in get_format("ob_future").read_split(trees["ob_future"].root, "test")


def test_ob_future_depth_codes():
    code = np.array([[0, 1, 47, 254, 255]], np.uint8)
    depth_m, valid = decode_depth(code)
    assert valid.tolist() == [[False, True, True, True, False]]  # the official 0 < depth < 10 m
    assert depth_m[0, 1:4].tolist() == pytest.approx([1 / 25.5, 47 / 25.5, 254 / 25.5])
    assert depth_m.dtype == np.float32 and np.isnan(depth_m[0, [0, 4]]).all()


def test_iobe_orientation_codes_by_hand():
    # code -> floor(code * 360 / 255) -> (+1 for 224, 269, 314) -> -90 -> wrap above 180
    cases = {0: -90, 32: -45, 64: 0, 96: 45, 128: 90, 159: 135, 191: 180, 223: -135, 255: -90, 112: 68, 1: -89}
    code = np.array([list(cases)], np.uint8)
    theta = decode_iobe_orientation(code, np.ones(code.shape, bool))
    assert theta[0].tolist() == pytest.approx([math.radians(d) for d in cases.values()], abs=1e-6)
    assert np.isnan(decode_iobe_orientation(code, np.zeros(code.shape, bool))).all()


def test_ibims_valid_mask_is_the_product_of_its_masks(trees):
    tree = trees["ibims"]
    arrays = get_format("ibims").read_frame(tree.root, get_format("ibims").frame_files("room_00"))
    assert not arrays.depth_valid[:6, :8].any()  # the synthetic window (mask_transp = 0)
    assert arrays.depth_valid.sum() < arrays.depth_valid.size - 48  # plus mask_invalid and zero depth


def test_ibims_unreadable_mat_names_the_file(trees, tmp_path):
    import shutil
    root = tmp_path / "ibims"
    shutil.copytree(trees["ibims"].root, root)
    path = root / "gt_depth/room_01.mat"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))  # not a v5 file (an HDF5 signature)
    fmt = get_format("ibims")
    with pytest.raises(FormatError) as caught:
        fmt.read_frame(root, fmt.frame_files("room_01"))
    assert str(path) in str(caught.value) and "MATLAB" in str(caught.value)


def test_colour_coded_ob_any_channel(tmp_path):
    from obtoolkit.datasets.ob_diode import read_colour_coded_boundary
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (0, 0, 5, 255)  # blue only: boundary (cv2 reads it as channel 0)
    rgba[0, 1] = (7, 0, 0, 0)  # red with zero alpha: boundary (cv2 drops alpha)
    rgba[0, 2] = (0, 0, 0, 255)  # black, opaque: not
    Image.fromarray(rgba).save(tmp_path / "gt.png")
    boundary = read_colour_coded_boundary(tmp_path / "gt.png", what="OB", shape_hw=(2, 3))
    assert boundary.tolist() == [[True, True, False], [False, False, False]]
    Image.fromarray(np.zeros((2, 3), np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(FormatError, match="8-bit"):
        read_colour_coded_boundary(tmp_path / "deep.png", what="OB", shape_hw=(2, 3))


def test_split_line_formats():
    assert get_format("ob_diode").frame_id_from_line("imgs/00001_00010_indoors_080_020.png") == \
        "00001_00010_indoors_080_020"
    assert get_format("ob_entityseg").frame_id_from_line("imgs/laion_00_00030_000301597") == \
        "laion_00_00030_000301597"
    assert get_format("diode").frame_id_from_line("val/indoors/s/a.png") == "val/indoors/s/a"
    assert get_format("ob_future").frame_id_from_line("01219") == "01219"
    for name, bad in (("ob_diode", "gt/x.png"), ("ob_diode", "imgs/a/b.png"), ("ob_entityseg", "imgs/"),
                      ("diode", "val/a.jpg"), ("diode", "../a.png"), ("ob_future", "1219"), ("ibims", "a b")):
        with pytest.raises(ValueError):
            get_format(name).frame_id_from_line(bad)

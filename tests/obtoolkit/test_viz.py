from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from obtoolkit import viz


def test_depth_to_rgb_shows_invalid_pixels_grey():
    distance = np.linspace(1.0, 5.0, 12, dtype=np.float32).reshape(3, 4)
    distance[0, 0] = np.nan
    valid = np.ones((3, 4), bool)
    valid[2, 3] = False
    rgb = viz.depth_to_rgb(distance, valid)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 4, 3)
    assert tuple(rgb[0, 0]) == viz.INVALID_RGB and tuple(rgb[2, 3]) == viz.INVALID_RGB
    near, far = rgb[0, 1].astype(int), rgb[2, 2].astype(int)
    assert near.sum() < far.sum()  # viridis: near dark, far bright
    assert (viz.depth_to_rgb(np.full((2, 2), np.nan)) == viz.INVALID_RGB).all()
    with pytest.raises(ValueError, match="distance_m"):
        viz.depth_to_rgb(np.zeros((2, 2, 2)))


def test_normals_to_rgb():
    normals = np.zeros((2, 2, 3), np.float16)
    normals[..., 2] = 1
    normals[1, 1] = np.nan
    rgb = viz.normals_to_rgb(normals)
    assert tuple(rgb[0, 0]) == (128, 128, 255) and tuple(rgb[1, 1]) == viz.INVALID_RGB


def test_ids_get_distinct_deterministic_colours():
    ids = np.arange(-1, 63).reshape(8, 8)
    rgb = viz.ids_to_rgb(ids, invalid_below=1)
    assert tuple(rgb[0, 0]) == (0, 0, 0) and tuple(rgb[0, 1]) == (0, 0, 0)  # -1 and 0
    colours = {tuple(c) for c in rgb.reshape(-1, 3)[2:]}
    assert len(colours) == 62
    np.testing.assert_array_equal(rgb, viz.ids_to_rgb(ids, invalid_below=1))
    neighbours = viz.id_colors(np.array([5, 6])).astype(int)
    assert np.abs(neighbours[0] - neighbours[1]).sum() > 60


def test_boundary_overlay_paints_classes_over_a_dimmed_picture():
    rgb = np.full((2, 3, 3), 200, np.uint8)
    classes = np.array([[0, 1, 2], [3, 0, 9]])
    out = viz.boundary_overlay(rgb, classes)
    assert tuple(out[0, 0]) == (100, 100, 100) and tuple(out[1, 2]) == (100, 100, 100)
    for (r, c), value in {(0, 1): 1, (0, 2): 2, (1, 0): 3}.items():
        assert tuple(out[r, c]) == viz.BOUNDARY_CLASS_RGB[value]
    with pytest.raises(ValueError, match="class_map"):
        viz.boundary_overlay(rgb, classes[:1])


def test_contact_sheet_and_png(tmp_path):
    a = np.zeros((10, 16, 3), np.uint8)
    b = np.full((5, 8, 3), 255, np.uint8)  # resized to a's size
    sheet = viz.contact_sheet([("a", a), ("b", b), ("c", a)], columns=2, caption_px=12, gap_px=2)
    assert sheet.shape == (2 * (12 + 10 + 2), 2 * (16 + 2), 3)
    assert (sheet[12:22, 18:34] == 255).all()
    path = viz.save_png(tmp_path / "out" / "sheet.png", sheet)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), sheet)
    with pytest.raises(ValueError, match="at least one tile"):
        viz.contact_sheet([], columns=2)


def test_orientation_wheel_colours_by_angle_and_marks_undefined():
    from obtoolkit.viz import orientation_to_rgb

    theta = np.full((60, 60), np.nan)
    boundary = np.zeros((60, 60), bool)
    boundary[30, 10:50] = True
    theta[30, 10:30] = -np.pi / 2
    theta[30, 30:40] = np.pi / 2
    picture = orientation_to_rgb(theta, boundary, legend=False)
    assert (picture[30, 15] == picture[30, 25]).all() and (picture[30, 15] != picture[30, 35]).any()
    assert (picture[30, 45] == 255).all()  # undefined orientation: white
    assert not picture[0].any()  # off the boundary: background
    assert orientation_to_rgb(theta, boundary).shape == (60, 60, 3)


def test_orientation_arrows_point_from_occluder_to_occluded():
    from obtoolkit.viz import orientation_arrows

    rgb = np.zeros((40, 40, 3), np.uint8)
    theta = np.full((40, 40), np.nan)
    boundary = np.zeros((40, 40), bool)
    boundary[20, 20] = True
    theta[20, 20] = -np.pi / 2  # occluder on the left: the occluded side is to the right (+column)
    picture = orientation_arrows(rgb, theta, boundary, length_px=8)
    yellow = np.all(picture == (255, 255, 0), axis=-1)
    columns = np.nonzero(yellow)[1]
    assert columns.min() >= 20 and columns.max() >= 26


def _hand_made_labels():
    from obtoolkit.boundaries import OcclusionLabels

    h, w = 20, 24
    ob = np.zeros((h, w), bool)
    ob[5, 3:9] = True  # inter-object
    ob[12, 10:16] = True  # self-occlusion
    ob_class = np.where(ob, 0, 0).astype(np.uint8)
    ob_class[5, 3:9], ob_class[12, 10:16] = 2, 3
    contour = np.zeros((h, w), bool)
    contour[5, 3:9] = True
    theta = np.where(ob, 0.5, np.nan)
    valid = np.ones((h, w), bool)
    valid[:, -2:] = False
    zeros = np.zeros((h, w), np.uint8)
    return OcclusionLabels(order=np.zeros((h, w, 9), np.int8), relation_class=np.zeros((h, w, 9), np.uint8), ob=ob,
                           ob_background=np.zeros_like(ob), ob_class=ob_class, instance_contour=contour,
                           target=ob | contour, theta=theta, ori8=zeros, ori16=zeros.astype(np.uint16),
                           normal_source=zeros, ignore_mask=np.zeros_like(ob), valid_mask=valid, n_ties=0)


def test_labels_picture_panels_and_repr_png():
    import io

    from PIL import Image

    from obtoolkit.viz import BOUNDARY_CLASS_RGB, INVALID_RGB, labels_picture

    labels = _hand_made_labels()
    picture = labels_picture(labels.ob_class, labels.instance_contour, labels.theta, labels.ob, labels.valid_mask)
    caption, gap, w = 14, 4, 24
    assert picture.shape == (caption + 20 + gap, 3 * (w + gap), 3) and picture.dtype == np.uint8
    first = picture[caption:caption + 20, :w]
    assert tuple(first[5, 4]) == BOUNDARY_CLASS_RGB[2] and tuple(first[12, 11]) == BOUNDARY_CLASS_RGB[3]
    assert tuple(first[0, -1]) == tuple(v // 2 for v in INVALID_RGB)  # the background, dimmed by half
    assert tuple(first[0, 0]) == (100, 100, 100)
    second = picture[caption:caption + 20, w + gap:2 * w + gap]
    assert tuple(second[5, 4]) == (255, 255, 255) and tuple(second[12, 11]) != (255, 255, 255)
    with Image.open(io.BytesIO(labels._repr_png_())) as image:
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), picture)

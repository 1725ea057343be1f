"""Which frames the pictures show, and the rows drawn for them."""

from __future__ import annotations

import numpy as np

from training.evaluate import FramePicture
from training.pictures import (
    DEPTH_ERROR_LIMIT,
    depth_range_du,
    frame_row,
    frames_sheet,
    relative_depth_error,
    varied_positions,
)


def names(scenes: int, frames: int) -> list[str]:
    return [f"ai_{s:03d}_001/cam_00/{f:04d}" for s in range(scenes) for f in range(frames)]


def test_varied_positions_take_different_scenes_spread_over_the_set():
    chosen = varied_positions(names(10, 5), 3)
    scenes = [names(10, 5)[p].split("/")[0] for p in chosen]
    assert len(set(scenes)) == 3  # three scenes, not three consecutive frames
    assert chosen == sorted(chosen) and min(np.diff(chosen)) > 5
    assert chosen == [7, 27, 42]  # scenes 1, 5, 8 (centred), each its middle frame


def test_varied_positions_with_more_frames_than_scenes_spread_within_scenes():
    chosen = varied_positions(names(2, 10), 4)
    assert chosen == [2, 7, 12, 17]
    assert varied_positions(names(2, 3), 10) == list(range(6))
    assert varied_positions(names(2, 3), 0) == []
    assert varied_positions(100, 4) == [12, 37, 62, 87]  # no names: evenly spaced


def test_varied_positions_take_different_cameras_of_one_scene():
    listed = [f"ai_001_001/cam_{c:02d}/{f:04d}" for c in range(2) for f in range(4)]
    chosen = [listed[p] for p in varied_positions(listed, 3)]
    assert chosen == ["ai_001_001/cam_00/0001", "ai_001_001/cam_00/0003", "ai_001_001/cam_01/0002"]


def test_varied_positions_match_a_plain_scene_balanced_choice():
    """Reference: every scene gets ceil/floor of count / scenes, in scene order, when count >= scenes."""
    from training.data import scene_balanced_subset

    class Record:
        def __init__(self, name):
            self.scene = name.split("/")[0]

    listed = names(4, 7)
    assert varied_positions(listed, 9) == scene_balanced_subset([Record(n) for n in listed], 9)


def picture(name="a/cam_00/0000", h=20, w=30, seed=0) -> FramePicture:
    rng = np.random.default_rng(seed)
    gt = rng.uniform(1, 5, (h, w)).astype(np.float32)
    valid = np.ones((h, w), bool)
    valid[0] = False
    return FramePicture(name, rng.integers(0, 255, (h, w, 3), dtype=np.uint8), rng.random((h, w)) > 0.9,
                        rng.random((h, w)).astype(np.float32), gt, valid, gt * 1.25)


def test_relative_error_is_signed_and_nan_outside_the_valid_pixels():
    p = picture()
    error = relative_depth_error(p.pred_depth_du, p.gt_depth_du, p.valid)
    assert np.isnan(error[0]).all() and np.allclose(error[1:], 0.25)
    unusable = relative_depth_error(np.array([[np.nan, 1.0]]), np.array([[1.0, 0.0]]), np.ones((1, 2), bool))
    assert np.isnan(unusable).all()
    assert DEPTH_ERROR_LIMIT > 0.25


def test_rows_and_sheet_have_six_tiles_per_frame_and_the_colour_bars():
    pictures = [picture(seed=0), picture("b/cam_00/0003", seed=1)]
    low, high = depth_range_du(pictures)
    assert low == 0.0 and 4.5 < high <= 5.0
    row = frame_row(pictures[0], (low, high))
    assert row.dtype == np.uint8 and row.shape[1] == 6 * (30 + 4)
    sheet = frames_sheet(pictures)
    assert sheet.shape[1] == row.shape[1] and sheet.shape[0] > 2 * row.shape[0]  # two rows and the colour bars

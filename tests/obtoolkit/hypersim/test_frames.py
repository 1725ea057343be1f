from __future__ import annotations

import h5py
import numpy as np
import pytest

from obtoolkit.errors import EmptyFrameError, FormatError, MissingFileError
from obtoolkit.hypersim import FrameId, read_final, read_frame_geometry, read_geometry, read_tonemap
from obtoolkit.synth.writer import write_hdf5_dataset

from .conftest import H, W

FRAME = FrameId("ai_001_001", "cam_00", 1)


def test_reads_every_geometry_modality_in_stored_dtype(small_root):
    layout = small_root.layout
    depth = read_geometry(layout, FRAME, "depth_meters", shape_hw=(H, W))
    assert depth.dtype == np.float16 and depth.shape == (H, W)
    ids = read_geometry(layout, FRAME, "render_entity_id")
    assert ids.dtype == np.int16
    assert read_geometry(layout, FRAME, "normal_cam").shape == (H, W, 3)
    assert read_tonemap(layout, FRAME, shape_hw=(H, W)).dtype == np.uint8


def test_final_modalities(small_root):
    layout = small_root.layout
    small_root.write_final(FRAME, "color", np.ones((H, W, 3), np.float16))
    assert read_final(layout, FRAME, "color").shape == (H, W, 3)
    with pytest.raises(ValueError, match="unknown final modality"):
        read_final(layout, FRAME, "depth_meters")


def test_frame_geometry_valid_mask_and_dtypes(small_root):
    geometry = read_frame_geometry(small_root.layout, FRAME)
    assert geometry.distance_m.dtype == np.float32 and geometry.render_entity_id.dtype == np.int32
    assert not geometry.valid_mask[0, :3].any() and geometry.valid_mask[1:].all()
    assert np.isnan(geometry.distance_m[~geometry.valid_mask]).all()
    assert geometry.valid_fraction == pytest.approx(1 - 3 / (H * W))


def test_zero_entity_id_is_invalid(small_root):
    layout = small_root.layout
    ids = read_geometry(layout, FRAME, "render_entity_id").copy()
    ids[5, 5] = 0
    small_root.write_geometry(FRAME, "render_entity_id", ids)
    assert not read_frame_geometry(layout, FRAME).valid_mask[5, 5]


def test_missing_file_names_path(small_root):
    layout = small_root.layout
    path = layout.geometry_path(FRAME, "normal_cam")
    path.unlink()
    with pytest.raises(MissingFileError, match=str(path)):
        read_frame_geometry(layout, FRAME)


def test_truncated_hdf5_is_a_clear_error(small_root):
    path = small_root.layout.geometry_path(FRAME, "depth_meters")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="HDF5|truncated") as info:
        read_geometry(small_root.layout, FRAME, "depth_meters")
    assert str(path) in str(info.value)


def test_corrupt_chunk_is_a_clear_error(small_root, tmp_path):
    path = tmp_path / "big.hdf5"
    write_hdf5_dataset(path, np.random.default_rng(0).uniform(1, 5, (200, 300)).astype(np.float16))
    data = bytearray(path.read_bytes())
    data[-3000:-2000] = bytes(1000)  # zero out part of the last compressed chunk
    path.write_bytes(bytes(data))
    from obtoolkit.hypersim import read_hdf5_dataset

    with pytest.raises(FormatError, match=str(path)):
        read_hdf5_dataset(path, what="depth", kind="f")


def test_wrong_key_wrong_dtype_wrong_shape(small_root):
    layout = small_root.layout
    path = layout.geometry_path(FRAME, "depth_meters")
    with h5py.File(path, "w") as handle:
        handle.create_dataset("depth", data=np.ones((H, W), np.float16))
    with pytest.raises(FormatError, match="single dataset named 'dataset'"):
        read_geometry(layout, FRAME, "depth_meters")
    write_hdf5_dataset(path, np.ones((H, W), np.int16))
    with pytest.raises(FormatError, match="floating"):
        read_geometry(layout, FRAME, "depth_meters")
    write_hdf5_dataset(path, np.ones((H, W + 1), np.float16))
    with pytest.raises(FormatError, match=r"shape \(12, 16\)"):
        read_geometry(layout, FRAME, "depth_meters", shape_hw=(H, W))
    with pytest.raises(FormatError, match="size"):
        read_frame_geometry(layout, FRAME)  # depth (12, 17) vs ids (12, 16)


def test_all_nan_frame_raises_or_flags(small_root):
    layout = small_root.layout
    small_root.write_geometry(FRAME, "depth_meters", np.full((H, W), np.nan, np.float16))
    with pytest.raises(EmptyFrameError, match="no valid pixel"):
        read_frame_geometry(layout, FRAME)
    geometry = read_frame_geometry(layout, FRAME, allow_empty=True)
    assert geometry.valid_fraction == 0.0


def test_unreadable_tonemap(small_root):
    path = small_root.layout.tonemap_path(FRAME)
    path.write_bytes(b"not a jpeg")
    with pytest.raises(FormatError, match="readable image"):
        read_tonemap(small_root.layout, FRAME)


def test_frame_geometry_read_by_name_equals_the_layout_reader(small_root, tmp_path):
    from obtoolkit.geometry import standard_M_cam_from_uv
    from obtoolkit.hypersim import FrameGeometry, read_camera_parameters

    geometry = FrameGeometry.read(small_root.layout.root, "ai_002_003", "cam_00", 3)
    camera = read_camera_parameters(small_root.layout.camera_parameters_csv).camera("ai_002_003")
    expected = read_frame_geometry(small_root.layout, FrameId("ai_002_003", "cam_00", 3), camera=camera)
    assert geometry.frame == FrameId("ai_002_003", "cam_00", 3)
    np.testing.assert_array_equal(geometry.M_cam_from_uv, standard_M_cam_from_uv(H, W))
    for name in ("distance_m", "valid_mask", "normal_cam", "semantic", "semantic_instance", "render_entity_id"):
        np.testing.assert_array_equal(getattr(geometry, name), getattr(expected, name), err_msg=name)
    moved = tmp_path / "elsewhere.csv"
    moved.write_bytes(small_root.layout.camera_parameters_csv.read_bytes())
    small_root.layout.camera_parameters_csv.unlink()
    with pytest.raises(MissingFileError, match="metadata_camera_parameters.csv"):
        FrameGeometry.read(small_root.layout.root, "ai_002_003", "cam_00", 3)
    assert FrameGeometry.read(small_root.layout.root, "ai_002_003", "cam_00", 3, camera_csv=moved).shape_hw == (H, W)
    with pytest.raises(MissingFileError, match="frame.0002.depth_meters"):
        FrameGeometry.read(small_root.layout.root, "ai_002_003", "cam_00", 2, camera_csv=moved)

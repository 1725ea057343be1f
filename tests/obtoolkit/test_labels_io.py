from __future__ import annotations

import hashlib

import numpy as np
import pytest

from obtoolkit.boundaries import compute_labels
from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.hypersim import FrameId
from obtoolkit.labels_io import (
    LabelArrays,
    array_hash,
    copy_input,
    product_relpath,
    read_label_files,
    write_label_files,
    write_png,
)

from .boundaries.scenes import layered_frame

FRAME = FrameId("ai_001_002", "cam_01", 7)


@pytest.fixture
def labels():
    return LabelArrays.from_labels(compute_labels(layered_frame()))


def test_layout_is_modots():
    assert product_relpath(FRAME, "ob") == "hypersim/ai_001_002/cam_01/ob/0007.png"
    assert product_relpath(FRAME, "tonemap") == "hypersim/ai_001_002/cam_01/tonemap/0007.jpg"
    assert product_relpath(FRAME, "depth_hdf5") == "hypersim/ai_001_002/cam_01/depth_hdf5/0007.hdf5"
    with pytest.raises(ValueError):
        product_relpath(FRAME, "edge")


def test_round_trip_is_lossless(tmp_path, labels):
    paths = write_label_files(tmp_path, FRAME, labels)
    assert set(paths) == {"ob", "instance_contour", "ori", "ori16", "order", "ob_class", "valid"}
    back = read_label_files(tmp_path, FRAME)
    for name in ("ob", "instance_contour", "ori8", "ori16", "order", "relation_class", "ob_class", "valid"):
        np.testing.assert_array_equal(getattr(back, name), getattr(labels, name))
    assert back.content_hashes() == labels.content_hashes()
    assert set(np.unique(np.asarray(__import__("PIL.Image").Image.open(tmp_path / paths["ob"])))) <= {0, 255}


def test_writes_are_deterministic(tmp_path, labels):
    write_label_files(tmp_path / "a", FRAME, labels)
    write_label_files(tmp_path / "b", FRAME, labels)
    for path in sorted((tmp_path / "a").rglob("*.*")):
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(twin.read_bytes()).digest(), path


def test_hash_depends_on_dtype_shape_and_content():
    a = np.zeros((2, 3), np.uint8)
    assert array_hash(a) != array_hash(a.astype(np.uint16))
    assert array_hash(a) != array_hash(a.reshape(3, 2))
    b = a.copy()
    b[0, 0] = 1
    assert array_hash(a) != array_hash(b)


def test_bad_files_are_named(tmp_path, labels):
    paths = write_label_files(tmp_path, FRAME, labels)
    write_png(tmp_path / paths["ob"], np.full(labels.ob.shape, 7, np.uint8))
    with pytest.raises(FormatError, match="0/255"):
        read_label_files(tmp_path, FRAME)
    (tmp_path / paths["ob"]).unlink()
    with pytest.raises(MissingFileError, match="ob/0007.png"):
        read_label_files(tmp_path, FRAME)
    write_png(tmp_path / paths["ob"], labels.ob.astype(np.uint8) * 255)
    (tmp_path / paths["order"]).write_bytes(b"garbage")
    with pytest.raises(FormatError, match="npz"):
        read_label_files(tmp_path, FRAME)


def test_copy_input(tmp_path):
    source = tmp_path / "frame.0007.tonemap.jpg"
    source.write_bytes(b"jpeg bytes")
    relpath = copy_input(source, tmp_path / "out", FRAME, "tonemap")
    assert (tmp_path / "out" / relpath).read_bytes() == b"jpeg bytes"
    with pytest.raises(MissingFileError):
        copy_input(tmp_path / "nope.jpg", tmp_path / "out", FRAME, "tonemap")

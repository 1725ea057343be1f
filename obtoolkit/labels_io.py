"""The only module that writes (and reads back) OB-Hypersim label files; every write is atomic and deterministic.

Layout, relative to a dataset root (MoDOT's loader reads the products marked *):
  hypersim/ai_VVV_NNN/cam_XX/
    tonemap/IIII.jpg*          copy of Hypersim's frame.IIII.tonemap.jpg
    depth_hdf5/IIII.hdf5*      copy of Hypersim's frame.IIII.depth_meters.hdf5 (dataset "dataset", metres, distance)
    ob/IIII.png*               occluder-side boundary, uint8 0/255
    instance_contour/IIII.png* instance contours, uint8 0/255
    ori/IIII.png               orientation, P2ORM's 8-bit encoding (127 = none)
    ori16/IIII.png             orientation, precise 16-bit encoding (0 = none)
    order/IIII.npz             "order": int8 (H, W, 9) pixel-pair occlusion order (P2ORM layout), and
                               "relation_class": uint8 (H, W, 9) the class of each relation (as ob_class)
    ob_class/IIII.png          uint8 0 none / 1 void / 2 inter-object / 3 self-occlusion
    stats/IIII.json            the frame's manifest row: provenance, parameters hash, statistics, content hashes;
                               written last, so its presence marks a finished frame
Content hashes are taken on decoded arrays (dtype, shape and bytes), so they do not depend on PNG encoder versions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from obtoolkit.boundaries import OcclusionLabels
from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.fileio import atomic_path, atomic_write_text
from obtoolkit.hypersim.layout import FrameId
from obtoolkit.limits import open_image

DATASET_DIR = "hypersim"
LABEL_PRODUCTS = ("ob", "instance_contour", "ori", "ori16", "order", "ob_class")
INPUT_PRODUCTS = ("tonemap", "depth_hdf5")
EXTENSIONS = {"tonemap": "jpg", "depth_hdf5": "hdf5", "ob": "png", "instance_contour": "png", "ori": "png",
              "ori16": "png", "order": "npz", "ob_class": "png", "stats": "json"}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# zlib levels, chosen for generation speed (measured on 1024x768 frames: the order archive takes 29 ms at level 1
# and 80 ms at level 6, 193 vs 93 KiB; the five PNGs 27 ms at level 1 and 41 ms at level 6, 99 vs 66 KiB).
PNG_COMPRESS_LEVEL = 3
NPZ_COMPRESS_LEVEL = 1


def product_relpath(frame: FrameId, product: str) -> str:
    """Path of one product of a frame relative to the dataset root, e.g. hypersim/ai_001_001/cam_00/ob/0007.png."""
    if product not in EXTENSIONS:
        raise ValueError(f"unknown product {product!r}; known: {sorted(EXTENSIONS)}")
    return f"{DATASET_DIR}/{frame.scene}/{frame.camera}/{product}/{frame.frame:04d}.{EXTENSIONS[product]}"


@dataclass(frozen=True, eq=False)
class LabelArrays:
    """Decoded label files of one frame (what is on disk, not the generator's in-memory extras).

    ob, instance_contour: bool (H, W); ori8: uint8 (H, W); ori16: uint16 (H, W); order: int8 (H, W, 9);
    relation_class: uint8 (H, W, 9); ob_class: uint8 (H, W).
    """

    ob: np.ndarray
    instance_contour: np.ndarray
    ori8: np.ndarray
    ori16: np.ndarray
    order: np.ndarray
    relation_class: np.ndarray
    ob_class: np.ndarray

    @classmethod
    def from_labels(cls, labels: OcclusionLabels) -> LabelArrays:
        return cls(labels.ob, labels.instance_contour, labels.ori8, labels.ori16, labels.order,
                   labels.relation_class, labels.ob_class)

    @property
    def target(self) -> np.ndarray:
        """MoDOT's training target: ob | instance_contour."""
        return self.ob | self.instance_contour

    def content_hashes(self) -> dict[str, str]:
        """blake2b-128 hex digests of each decoded array (dtype, shape, bytes)."""
        return {name: array_hash(getattr(self, field)) for name, field in _PRODUCT_FIELDS.items()}


_PRODUCT_FIELDS = {"ob": "ob", "instance_contour": "instance_contour", "ori": "ori8", "ori16": "ori16",
                   "order": "order", "relation_class": "relation_class", "ob_class": "ob_class"}


def array_hash(array: np.ndarray) -> str:
    """Hex digest of an array's dtype, shape and contents (independent of any file encoding)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{np.dtype(array.dtype).str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 (L) or uint16 (I;16) single-channel PNG atomically."""
    if array.dtype not in (np.uint8, np.uint16) or array.ndim != 2:
        raise ValueError(f"{path}: PNG labels must be 2-D uint8 or uint16, got {array.dtype} {array.shape}")
    with atomic_path(path) as tmp:
        # mode L or I;16 from the dtype
        Image.fromarray(np.ascontiguousarray(array)).save(tmp, "PNG", compress_level=PNG_COMPRESS_LEVEL)


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """np.load-compatible .npz, compressed, with fixed timestamps so that equal arrays give equal bytes."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED,
                                                   compresslevel=NPZ_COMPRESS_LEVEL) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=NPZ_COMPRESS_LEVEL)


def write_label_files(root: str | Path, frame: FrameId, labels: LabelArrays) -> dict[str, str]:
    """Write every label product of a frame under `root`; returns product -> relative path."""
    root = Path(root)
    paths = {p: product_relpath(frame, p) for p in LABEL_PRODUCTS}
    write_png(root / paths["ob"], labels.ob.astype(np.uint8) * 255)
    write_png(root / paths["instance_contour"], labels.instance_contour.astype(np.uint8) * 255)
    write_png(root / paths["ori"], labels.ori8)
    write_png(root / paths["ori16"], labels.ori16)
    write_npz(root / paths["order"], order=labels.order, relation_class=labels.relation_class)
    write_png(root / paths["ob_class"], labels.ob_class)
    return paths


def copy_input(source: str | Path, root: str | Path, frame: FrameId, product: str) -> str:
    """Copy an input file (tonemap or depth HDF5) into the layout atomically; returns its relative path."""
    if product not in INPUT_PRODUCTS:
        raise ValueError(f"{product!r} is not an input product ({INPUT_PRODUCTS})")
    relpath = product_relpath(frame, product)
    source = Path(source)
    if not source.is_file():
        raise MissingFileError(source, f"{product} input of {frame}")
    with atomic_path(Path(root) / relpath) as tmp:
        shutil.copyfile(source, tmp)
    return relpath


def link_or_copy_input(source: str | Path, root: str | Path, frame: FrameId, product: str, mode: str) -> str:
    """Put an input file into the layout by "copy", "hardlink" or "symlink" (absolute); returns the relative path."""
    if mode == "copy":
        return copy_input(source, root, frame, product)
    relpath = product_relpath(frame, product)
    source, target = Path(source).resolve(), Path(root) / relpath
    if not source.is_file():
        raise MissingFileError(source, f"{product} input of {frame}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.unlink(missing_ok=True)
        if mode == "hardlink":
            os.link(source, tmp)
        elif mode == "symlink":
            os.symlink(source, tmp)
        else:
            raise ValueError(f"input mode must be copy, hardlink or symlink, got {mode!r}")
    return relpath


def write_stats_json(root: str | Path, frame: FrameId, record: dict) -> str:
    """Write the frame's record as stats/IIII.json (sorted keys, atomic); returns its relative path."""
    relpath = product_relpath(frame, "stats")
    atomic_write_text(Path(root) / relpath, json.dumps(record, sort_keys=True, indent=1) + "\n")
    return relpath


def read_stats_json(root: str | Path, frame: FrameId) -> dict | None:
    """The frame's recorded stats JSON, or None when absent or unreadable (an unfinished frame)."""
    path = Path(root) / product_relpath(frame, "stats")
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def read_png(path: Path, *, what: str, dtype: np.dtype) -> np.ndarray:
    """Read a single-channel PNG as `dtype` with errors that name the file."""
    with open_image(path, what=what) as image:  # the header's size checked before decoding
        array = np.asarray(image)
    if array.ndim != 2:
        raise FormatError(path, f"a single-channel image ({what})", f"shape {array.shape}")
    if np.dtype(dtype) == np.uint16 and array.dtype != np.uint16:
        array = array.astype(np.int64)
        if array.max(initial=0) > 65535 or array.min(initial=0) < 0:
            raise FormatError(path, f"16-bit values ({what})", f"range [{array.min()}, {array.max()}]")
    elif array.dtype != np.dtype(dtype):
        raise FormatError(path, f"{np.dtype(dtype)} pixels ({what})", str(array.dtype))
    return array.astype(dtype)


def _binary(path: Path, what: str) -> np.ndarray:
    array = read_png(path, what=what, dtype=np.uint8)
    if not np.isin(array, (0, 255)).all():
        raise FormatError(path, f"values 0/255 ({what})", f"values {np.unique(array)[:8].tolist()}")
    return array == 255


def read_order(path: Path, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The order map int8 (H, W, 9) and relation classes uint8 (H, W, 9) of an order .npz.

    Files written by P2ORM hold only "order"; their relation classes come back as zeros.
    """
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "order" not in archive.files:
                raise FormatError(path, f"an array named 'order' ({what})", f"keys {archive.files}")
            order = archive["order"]
            classes = archive["relation_class"] if "relation_class" in archive.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise FormatError(path, f"a readable .npz ({what})", f"unreadable: {error}") from error
    if order.dtype != np.int8 or order.ndim != 3 or order.shape[2] != 9:
        raise FormatError(path, f"int8 (H, W, 9) ({what})", f"{order.dtype} {order.shape}")
    if classes is None:
        classes = np.zeros(order.shape, np.uint8)
    elif classes.dtype != np.uint8 or classes.shape != order.shape:
        raise FormatError(path, f"relation_class uint8 {order.shape} ({what})", f"{classes.dtype} {classes.shape}")
    return order, classes


def read_label_files(root: str | Path, frame: FrameId) -> LabelArrays:
    """Read and decode every label product of a frame, checking formats and that all share one size."""
    root = Path(root)
    path = {p: root / product_relpath(frame, p) for p in LABEL_PRODUCTS}
    order, relation_class = read_order(path["order"], what=f"occlusion order of {frame}")
    labels = LabelArrays(
        ob=_binary(path["ob"], f"ob of {frame}"),
        instance_contour=_binary(path["instance_contour"], f"instance contour of {frame}"),
        ori8=read_png(path["ori"], what=f"orientation of {frame}", dtype=np.uint8),
        ori16=read_png(path["ori16"], what=f"16-bit orientation of {frame}", dtype=np.uint16),
        order=order,
        relation_class=relation_class,
        ob_class=read_png(path["ob_class"], what=f"OB classes of {frame}", dtype=np.uint8),
    )
    shape = labels.ob.shape
    for product, field in _PRODUCT_FIELDS.items():
        if getattr(labels, field).shape[:2] != shape:
            raise FormatError(path.get(product, path["order"]), f"size {shape} like ob",
                              str(getattr(labels, field).shape))
    return labels

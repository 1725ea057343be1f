"""The only module that writes (and reads back) OB-Hypersim label files; every write is atomic and deterministic.

Which files a frame has, and how each is stored, is the product table `obtoolkit.products.PRODUCTS`. Layout,
relative to a dataset root (MoDOT's loader reads the products marked *):
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
    valid/IIII.png             uint8 0/255: the pixels labels were computed on (finite depth > 0 and a render
                               entity); training masks its losses with it
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from obtoolkit.boundaries import OcclusionLabels
from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.fileio import atomic_path, atomic_write_text
from obtoolkit.hypersim.layout import FrameId
from obtoolkit.limits import open_image
from obtoolkit.products import DATASET_DIR, Product, product, products

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# zlib levels, chosen for generation speed (measured on 1024x768 frames: the order archive takes 29 ms at level 1
# and 80 ms at level 6, 193 vs 93 KiB; the five PNGs 27 ms at level 1 and 41 ms at level 6, 99 vs 66 KiB).
PNG_COMPRESS_LEVEL = 3
NPZ_COMPRESS_LEVEL = 1
__all__ = ["DATASET_DIR", "LabelArrays", "array_hash", "copy_input", "link_or_copy_input", "product_relpath",
           "read_label_files", "read_label_product", "read_png", "read_stats_json", "read_valid_mask",
           "write_label_files", "write_npz", "write_png", "write_stats_json"]


def product_relpath(frame: FrameId, name: str) -> str:
    """Path of one product of a frame relative to the dataset root, e.g. hypersim/ai_001_001/cam_00/ob/0007.png."""
    return f"{DATASET_DIR}/{frame.scene}/{frame.camera}/{name}/{frame.frame:04d}.{product(name).extension}"


@dataclass(frozen=True, eq=False)
class LabelArrays:
    """Decoded label files of one frame (what is on disk, not the generator's in-memory extras), by the fields of
    the product table: ob, instance_contour, valid bool (H, W); ori8, ob_class uint8 (H, W); ori16 uint16 (H, W);
    order int8 (H, W, 9); relation_class uint8 (H, W, 9); and any product added to the table. Read them as
    attributes (labels.ob)."""

    arrays: Mapping[str, np.ndarray]

    def __getattr__(self, name: str) -> np.ndarray:
        if name != "arrays" and name in self.__dict__.get("arrays", {}):
            return self.arrays[name]
        raise AttributeError(f"LabelArrays has no array {name!r}")

    @classmethod
    def from_labels(cls, labels: OcclusionLabels) -> LabelArrays:
        """Every label product's arrays, computed from the generator's output by the table's `compute`."""
        arrays: dict[str, np.ndarray] = {}
        for entry in products("label"):
            arrays.update(entry.compute(labels))
        return cls(arrays)

    def replace(self, **arrays: np.ndarray) -> LabelArrays:
        return LabelArrays({**self.arrays, **arrays})

    @property
    def target(self) -> np.ndarray:
        """MoDOT's training target: ob | instance_contour."""
        return self.ob | self.instance_contour

    def content_hashes(self) -> dict[str, str]:
        """blake2b-128 hex digests of each hashed product's decoded arrays (dtype, shape, bytes), by hash key."""
        return {key: array_hash(self.arrays[field]) for entry in products("label") if entry.hashed
                for key, field, _ in entry.arrays if field in self.arrays}


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
    """Write every label product of a frame under `root`; returns product name -> relative path."""
    paths = {}
    for entry in products("label"):
        paths[entry.name] = product_relpath(frame, entry.name)
        _write_product(Path(root) / paths[entry.name], entry, labels)
    return paths


def _write_product(path: Path, entry: Product, labels: LabelArrays) -> None:
    arrays = [labels.arrays[field] for _, field, _ in entry.arrays]
    if entry.codec == "png_bool":
        write_png(path, arrays[0].astype(np.uint8) * 255)
    elif entry.codec in ("png_u8", "png_u16"):
        write_png(path, arrays[0])
    elif entry.codec == "npz":
        write_npz(path, **{field: labels.arrays[field] for _, field, _ in entry.arrays})
    else:
        raise ValueError(f"product {entry.name}: no writer for codec {entry.codec!r}")


def copy_input(source: str | Path, root: str | Path, frame: FrameId, product: str) -> str:
    """Copy an input file (tonemap or depth HDF5) into the layout atomically; returns its relative path."""
    inputs = [entry.name for entry in products("input")]
    if product not in inputs:
        raise ValueError(f"{product!r} is not an input product ({inputs})")
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


def read_valid_mask(path: str | Path, *, what: str = "valid mask") -> np.ndarray:
    """A frame's valid-mask product (valid/IIII.png) as bool (H, W): the pixels its labels were computed on."""
    return _binary(Path(path), what)


def read_npz_arrays(path: Path, names: tuple[str, ...], *, what: str) -> dict[str, np.ndarray]:
    """The named arrays of an .npz label file (no pickles), with errors that name the file."""
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise FormatError(path, f"arrays {', '.join(names)} ({what})", f"keys {archive.files}")
            return {name: archive[name] for name in names}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise FormatError(path, f"a readable .npz ({what})", f"unreadable: {error}") from error


def _read_product(path: Path, entry: Product, what: str) -> dict[str, np.ndarray]:
    """{field: decoded array} of one label product's file, checked against the table's dtypes."""
    if entry.codec == "png_bool":
        return {entry.arrays[0][1]: _binary(path, what)}
    if entry.codec in ("png_u8", "png_u16"):
        return {entry.arrays[0][1]: read_png(path, what=what, dtype=np.dtype(entry.arrays[0][2]))}
    if entry.codec == "npz":
        arrays = read_npz_arrays(path, tuple(field for _, field, _ in entry.arrays), what=what)
        for _, field, dtype in entry.arrays:
            if arrays[field].dtype != np.dtype(dtype) or arrays[field].ndim < 2:
                raise FormatError(path, f"{field}: {dtype} (H, W, ...) ({what})",
                                  f"{arrays[field].dtype} {arrays[field].shape}")
        return arrays
    raise ValueError(f"product {entry.name}: no reader for codec {entry.codec!r}")


def read_label_product(root: str | Path, frame: FrameId, entry: Product) -> dict[str, np.ndarray]:
    """{field: decoded array} of one label product of a frame (errors name the file)."""
    return _read_product(Path(root) / product_relpath(frame, entry.name), entry, f"{entry.name} of {frame}")


def read_label_files(root: str | Path, frame: FrameId) -> LabelArrays:
    """Read and decode every label product of a frame, checking formats and that all share one size."""
    root = Path(root)
    arrays: dict[str, np.ndarray] = {}
    sizes: dict[str, Path] = {}
    for entry in products("label"):
        path = root / product_relpath(frame, entry.name)
        decoded = _read_product(path, entry, f"{entry.name} of {frame}")
        arrays.update(decoded)
        sizes.update({field: path for field in decoded})
    shape = arrays["ob"].shape[:2]
    for field, array in arrays.items():
        if array.shape[:2] != shape:
            raise FormatError(sizes[field], f"size {shape} like ob", str(array.shape))
    if arrays["order"].shape[2:] != (9,) or arrays["relation_class"].shape != arrays["order"].shape:
        raise FormatError(sizes["order"], "order and relation_class (H, W, 9)",
                          f"{arrays['order'].shape}, {arrays['relation_class'].shape}")
    return LabelArrays(arrays)

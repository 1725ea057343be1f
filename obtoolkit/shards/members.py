"""One exported sample: its key, its members (the frame's files), how they decode and how they are checked.

A sample is one manifest row plus the files its `*_path` columns name. Each file becomes a member named
`<product>.<ext>`, where product is the column without `_path` (`rgb_path` -> `rgb.jpg`, `depth_path` ->
`depth.hdf5`, `ob_path` -> `ob.png`, `order_path` -> `order.npz`, ...), its bytes as they are, so a label product
added to the manifest flows through without code changes. The row itself is the member `json`.

Decoding returns what the manifest path's readers return: JPEG -> uint8 (H, W, 3) RGB like
`obtoolkit.hypersim.read_rgb_image`; HDF5 -> the stored array of its dataset "dataset" like `read_hdf5_dataset`
(depth: float16 metres along the ray, NaN kept); PNG -> the stored array (uint8 or uint16 (H, W)) like
`labels_io.read_png`; `.npy` -> the array; `.npz` -> one array per entry (`order`, `relation_class`).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, UnidentifiedImageError

from obtoolkit.errors import FormatError
from obtoolkit.hypersim.h5 import DATASET_KEY
from obtoolkit.labels_io import array_hash

ROW_MEMBER = "json"
PATH_SUFFIX, HASH_SUFFIX = "_path", "_hash"
RGB_PRODUCT, DEPTH_PRODUCT = "rgb", "depth"
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png")
HDF5_EXTENSIONS = ("hdf5", "h5")


def sample_key(scene: str, camera: str, frame: int) -> str:
    """The sample's key, `<scene>-<camera>-<IIII>` (webdataset keys may not hold dots or slashes)."""
    key = f"{scene}-{camera}-{frame:04d}"
    if any(c in key for c in "./\\") or not key.isprintable():
        raise ValueError(f"cannot make a webdataset key of {scene!r}, {camera!r}, {frame!r}: {key!r}")
    return key


def member_name(path_column: str, source: str) -> str:
    """`<product>.<ext>` for a `*_path` column and the file it names (`depth_path`, `.../0007.hdf5` -> `depth.hdf5`)."""
    extension = Path(source).suffix.lower().lstrip(".")
    if not extension:
        raise ValueError(f"{source}: a product file needs an extension ({path_column})")
    return f"{path_column.removesuffix(PATH_SUFFIX)}.{extension}"


def split_member(name: str) -> tuple[str, str]:
    """(product, extension) of a member name; the row member `json` gives ("", "json")."""
    product, _, extension = name.rpartition(".")
    return product, extension


def seeded_order(keys: list[str], *seed: object) -> list[str]:
    """`keys` sorted by blake2b(seed parts, key): a shuffle that any language reproduces, stable across versions."""
    prefix = ":".join(str(part) for part in seed).encode() + b":"
    return sorted(keys, key=lambda key: hashlib.blake2b(prefix + key.encode(), digest_size=8).digest())


def member_digest(value: bytes | np.ndarray) -> str:
    """blake2b-128 of a member's bytes, or of an array member's dtype, shape and data (Parquet depth)."""
    if isinstance(value, np.ndarray):
        return array_hash(value)
    return hashlib.blake2b(value, digest_size=16).hexdigest()


@dataclass(frozen=True, eq=False)
class ShardSample:
    """A decoded sample.

    Attributes:
        key: `<scene>-<camera>-<IIII>`.
        record: the manifest row (column -> value; JSON types, nulls as None).
        arrays: product -> array: "rgb" uint8 (H, W, 3); "depth" as stored in its HDF5 (float16 (H, W) metres
            along the ray, NaN where Hypersim has no geometry); PNG labels as stored ("ob", "instance_contour", "valid"
            uint8 0/255, "ori" uint8, "ori16" uint16, "ob_class" uint8); `.npz` entries by their own names ("order" int8
            (H, W, 9), "relation_class" uint8 (H, W, 9)).
        documents: other JSON members by product ("stats": the frame's stats JSON).
    """

    key: str
    record: dict
    arrays: dict[str, np.ndarray]
    documents: dict[str, dict]

    @property
    def rgb(self) -> np.ndarray:
        """uint8 (H, W, 3), as `read_rgb_image` returns it."""
        return self.arrays[RGB_PRODUCT]

    @property
    def distance_m(self) -> np.ndarray:
        """Depth as stored (Hypersim: float16 (H, W) metres along the ray, NaN where invalid)."""
        return self.arrays[DEPTH_PRODUCT]


def decode_member(name: str, value: bytes | np.ndarray, *, where: str | Path) -> tuple[str, object]:
    """Decode one member; returns ("row" | "document" | "arrays", value). `where` names the shard in errors."""
    product, extension = split_member(name)
    try:
        if isinstance(value, np.ndarray):
            return "arrays", {product: value}
        if name == ROW_MEMBER:
            return "row", json.loads(value)
        if extension == "json":
            return "document", json.loads(value)
        if extension in ("jpg", "jpeg"):
            return "arrays", {product: _decode_image(value, rgb=True)}
        if extension == "png":
            return "arrays", {product: _decode_image(value, rgb=False)}
        if extension in HDF5_EXTENSIONS:
            return "arrays", {product: _decode_hdf5(value)}
        if extension == "npy":
            return "arrays", {product: np.load(io.BytesIO(value), allow_pickle=False)}
        if extension == "npz":
            with np.load(io.BytesIO(value), allow_pickle=False) as archive:
                return "arrays", {entry: archive[entry] for entry in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, UnidentifiedImageError) as error:
        raise FormatError(where, f"a decodable member {name}", f"{type(error).__name__}: {error}") from error
    raise FormatError(where, "members .json, .jpg, .png, .hdf5, .npy or .npz", f"member {name}")


def _decode_image(data: bytes, *, rgb: bool) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB") if rgb else image)


def _decode_hdf5(data: bytes) -> np.ndarray:
    """The array of a Hypersim-style HDF5 file held in memory (its single dataset "dataset")."""
    with h5py.File(io.BytesIO(data), "r") as handle:
        keys = sorted(handle.keys())
        if keys != [DATASET_KEY]:
            raise ValueError(f"expected a single dataset {DATASET_KEY!r}, found keys {keys}")
        return handle[DATASET_KEY][()]


def decode_sample(key: str, members: Mapping[str, bytes | np.ndarray], *, where: str | Path,
                  record: dict | None = None) -> ShardSample:
    """Decode every member of a sample; the row comes from the `json` member unless `record` is given."""
    arrays: dict[str, np.ndarray] = {}
    documents: dict[str, dict] = {}
    for name, value in members.items():
        kind, decoded = decode_member(name, value, where=f"{where} (sample {key})")
        if kind == "row":
            record = decoded
        elif kind == "document":
            documents[split_member(name)[0]] = decoded
        else:
            clash = set(decoded) & set(arrays)
            if clash:
                raise FormatError(where, f"one array per product in sample {key}", f"{sorted(clash)} twice")
            arrays.update(decoded)
    if record is None:
        raise FormatError(where, f"the manifest row (member {ROW_MEMBER}) of sample {key}", "none")
    return ShardSample(key, record, arrays, documents)


def hash_matches(array: np.ndarray, expected: str) -> bool:
    """Whether a decoded label matches its manifest hash: the hash of the array, or for a 0/255 mask that of the
    boolean mask (labels_io hashes binary products as bool)."""
    if array_hash(array) == expected:
        return True
    return array.dtype.kind in "ui" and array_hash(array > 0) == expected


def sample_problems(sample: ShardSample) -> list[str]:
    """What disagrees with the sample's manifest row: array sizes vs height and width, label hashes vs `*_hash`
    columns (every column whose product is an array of the sample), a key that does not name the row's frame."""
    record, problems = sample.record, []
    try:
        if sample_key(record["scene"], record["camera"], int(record["frame"])) != sample.key:
            problems.append(f"{sample.key}: the row is that of {record['scene']}/{record['camera']}/"
                            f"{record['frame']}")
    except (KeyError, TypeError, ValueError) as error:
        problems.append(f"{sample.key}: the row has no usable scene, camera and frame ({error})")
    size = (record.get("height"), record.get("width"))
    for product, array in sample.arrays.items():
        if None not in size and tuple(array.shape[:2]) != size:
            problems.append(f"{sample.key}: {product} is {array.shape}, the manifest says {size[0]}x{size[1]}")
    for column, expected in record.items():
        product = column.removesuffix(HASH_SUFFIX)
        if column.endswith(HASH_SUFFIX) and expected is not None and product in sample.arrays:
            if not hash_matches(sample.arrays[product], expected):
                problems.append(f"{sample.key}: {product} does not match the manifest's {column}")
    return problems

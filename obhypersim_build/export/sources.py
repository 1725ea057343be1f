"""The one module of the export that reads source files: member sizes for the plan, member bytes for the writers.

Files are taken as they are (JPEG, PNG, .npz, JSON bytes unchanged); an HDF5 source (the depth) is decoded with
`obtoolkit.hypersim.read_hdf5_dataset`, exactly as training reads it, and travels as its array: the webdataset
writer stores it as `.npy`, the Parquet writer as nested lists of its dtype.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import h5py
import numpy as np

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.hypersim import read_hdf5_dataset
from obtoolkit.hypersim.h5 import DATASET_KEY
from obtoolkit.shards.members import ARRAY_EXTENSIONS, ROW_MEMBER, split_member


def is_array_source(source: str) -> bool:
    return Path(source).suffix.lower().lstrip(".") in ARRAY_EXTENSIONS


def row_bytes(row: dict) -> bytes:
    """The `json` member: the manifest row as compact JSON with sorted keys."""
    return json.dumps(row, sort_keys=True, separators=(",", ":")).encode()


def npy_bytes(array: np.ndarray) -> bytes:
    """The array as a version 1.0 `.npy` file (what np.save writes; np.load reads it)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), version=(1, 0), allow_pickle=False)
    return buffer.getvalue()


def npy_size(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Bytes of `npy_bytes` for an array of this shape and dtype, without the array."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": tuple(shape)})
    return header.tell() + math.prod(shape) * np.dtype(dtype).itemsize


def source_info(path: Path, product: str, what: str) -> tuple[int, tuple[tuple[str, str, int], ...]]:
    """(member size in bytes, the arrays it holds as (name, dtype, ndim)) of one source file, from its headers: an
    HDF5 source holds one array named after its product; other files travel as they are and hold none."""
    if not path.is_file():
        raise MissingFileError(path, what)
    if not is_array_source(path.name):
        return path.stat().st_size, ()
    try:
        with h5py.File(path, "r") as handle:
            dataset = handle[DATASET_KEY]
            return npy_size(dataset.shape, dataset.dtype), ((product, dataset.dtype.str, dataset.ndim),)
    except (OSError, KeyError, TypeError) as error:
        raise FormatError(path, f"an HDF5 file with a dataset {DATASET_KEY!r} ({what})", str(error)) from error


def read_members(root: Path, key: str, sources: dict[str, str], row: dict) -> dict[str, bytes | np.ndarray]:
    """Member name -> bytes (files as they are, the row as JSON) or array (HDF5 sources), in the given order."""
    members: dict[str, bytes | np.ndarray] = {}
    for name, source in sources.items():
        path = root / source
        what = f"{split_member(name)[0]} of {key}"
        if is_array_source(source):
            members[name] = read_hdf5_dataset(path, what=what)
        elif not path.is_file():
            raise MissingFileError(path, what)
        else:
            members[name] = path.read_bytes()
    members[ROW_MEMBER] = row_bytes(row)
    return members

"""The one module of the export that reads source files: member sizes for the plan, member values for the writers.

Files travel as they are (JPEG, PNG, HDF5, .npz and JSON bytes unchanged) into webdataset shards. The Parquet writer
needs the depth as an array (`datasets` cannot decode HDF5): there an HDF5 source is decoded with
`obtoolkit.hypersim.read_hdf5_dataset`, exactly as training reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.hypersim import read_hdf5_dataset
from obtoolkit.hypersim.h5 import DATASET_KEY
from obtoolkit.shards.members import HDF5_EXTENSIONS, ROW_MEMBER, split_member


def is_hdf5(source: str) -> bool:
    return Path(source).suffix.lower().lstrip(".") in HDF5_EXTENSIONS


def row_bytes(row: dict) -> bytes:
    """The `json` member: the manifest row as compact JSON with sorted keys."""
    return json.dumps(row, sort_keys=True, separators=(",", ":")).encode()


def source_info(path: Path, what: str, *, array: bool) -> tuple[int, tuple[str, int] | None]:
    """(size in bytes, and with `array` the (dtype, ndim) of an HDF5 source's array) of one source file, reading no
    pixel data; other files, or `array` False, give None."""
    if not path.is_file():
        raise MissingFileError(path, what)
    size = path.stat().st_size
    if not (array and is_hdf5(path.name)):
        return size, None
    try:
        with h5py.File(path, "r") as handle:
            dataset = handle[DATASET_KEY]
            return size, (dataset.dtype.str, dataset.ndim)
    except (OSError, KeyError, TypeError) as error:
        raise FormatError(path, f"an HDF5 file with a dataset {DATASET_KEY!r} ({what})", str(error)) from error


def read_members(root: Path, key: str, sources: dict[str, str], row: dict, *,
                 decode_hdf5: bool = False) -> dict[str, bytes | np.ndarray]:
    """Member name -> the file's bytes (or, with `decode_hdf5`, an HDF5 source's array), then the row as JSON."""
    members: dict[str, bytes | np.ndarray] = {}
    for name, source in sources.items():
        path = root / source
        what = f"{split_member(name)[0]} of {key}"
        if decode_hdf5 and is_hdf5(source):
            members[name] = read_hdf5_dataset(path, what=what)
        elif not path.is_file():
            raise MissingFileError(path, what)
        else:
            members[name] = path.read_bytes()
    members[ROW_MEMBER] = row_bytes(row)
    return members

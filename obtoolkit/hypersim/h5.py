"""Reading Hypersim's single-dataset HDF5 files with checks of key, dtype and shape."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from obtoolkit.errors import FormatError, MissingFileError

DATASET_KEY = "dataset"


def read_hdf5_dataset(
    path: str | Path,
    *,
    what: str,
    kind: str | None = None,
    shape: Sequence[int | None] | None = None,
) -> np.ndarray:
    """Read the array stored under the single key `"dataset"` of a Hypersim HDF5 file.

    Args:
        path: the file.
        what: a short description used in error messages (e.g. "depth_meters frame").
        kind: allowed dtype kinds, e.g. "f" (floating) or "i" (signed integers); None accepts any.
        shape: expected shape, `None` entries match any size; None accepts any shape.

    Returns:
        The stored array, in its stored dtype.

    Raises:
        MissingFileError: the file does not exist.
        FormatError: the file is not readable HDF5 (e.g. truncated), has other keys than "dataset", or the dtype or
            shape differ from what was asked; the message names the file and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise FormatError(path, f"a readable HDF5 file ({what})", f"unreadable: {error}") from error
    with handle:
        keys = sorted(handle.keys())
        if keys != [DATASET_KEY]:
            raise FormatError(path, f"a single dataset named {DATASET_KEY!r} ({what})", f"keys {keys}")
        dataset = handle[DATASET_KEY]
        if not isinstance(dataset, h5py.Dataset):
            raise FormatError(path, f"{DATASET_KEY!r} to be a dataset ({what})", f"a {type(dataset).__name__}")
        _check_dtype_and_shape(path, what, dataset.dtype, dataset.shape, kind, shape)
        try:
            return dataset[()]
        except OSError as error:
            raise FormatError(path, f"complete data ({what})", f"a truncated or corrupt chunk: {error}") from error


def _check_dtype_and_shape(path, what, dtype, stored_shape, kind, shape) -> None:
    if kind is not None and dtype.kind not in kind:
        names = {"f": "floating", "i": "signed integer", "u": "unsigned integer", "b": "bool"}
        wanted = " or ".join(names.get(k, k) for k in kind)
        raise FormatError(path, f"{wanted} values ({what})", f"dtype {dtype}")
    if shape is not None:
        ok = len(stored_shape) == len(shape) and all(e is None or e == s for e, s in zip(shape, stored_shape,
                                                                                            strict=False))
        if not ok:
            expected = "(" + ", ".join("*" if e is None else str(e) for e in shape) + ")"
            raise FormatError(path, f"shape {expected} ({what})", f"shape {tuple(stored_shape)}")

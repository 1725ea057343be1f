"""File readers shared by the dataset modules: PNG/JPEG, .npy and MATLAB v5 .mat, each checked, each error naming the
file and what was expected. Nothing here runs code from a file (.npy without pickle, .mat through scipy's parser)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, UnidentifiedImageError
from scipy.io.matlab import MatReadError

from obtoolkit.errors import FormatError, MissingFileError

_EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA")

def _open_8bit(path: Path, what: str, mode: str) -> np.ndarray:
    """The image converted by Pillow to `mode` ("L" or "RGB"), refusing files that are not 8-bit."""
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        with Image.open(path) as image:
            if image.mode not in _EIGHT_BIT_MODES:
                raise FormatError(path, f"an 8-bit image ({what})", f"mode {image.mode}")
            return np.asarray(image.convert(mode))
    except (UnidentifiedImageError, OSError) as error:
        raise FormatError(path, f"a readable image ({what})", f"unreadable: {error}") from error


def read_grey_u8(path: str | Path, *, what: str) -> np.ndarray:
    """uint8 (H, W): an 8-bit image as Pillow's convert("L") gives it (what the official loaders do)."""
    return _open_8bit(Path(path), what, "L")


def read_rgb_u8(path: str | Path, *, what: str) -> np.ndarray:
    """uint8 (H, W, 3): an 8-bit image as RGB (alpha dropped, palettes expanded, grey repeated)."""
    return _open_8bit(Path(path), what, "RGB")


def read_npy(path: str | Path, *, what: str, kind: str = "f") -> np.ndarray:
    """A .npy array (pickled objects refused), squeezed of a trailing channel of 1, of dtype kind `kind`."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise FormatError(path, f"a .npy array ({what})", f"unreadable: {error}") from error
    if not isinstance(array, np.ndarray):
        raise FormatError(path, f"a single .npy array ({what})", type(array).__name__)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 or array.dtype.kind not in kind:
        raise FormatError(path, f"a 2-D array of dtype kind {kind!r} ({what})", f"{array.dtype} {array.shape}")
    return array


def read_mat_struct(path: str | Path, *, what: str, variable: str, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named fields of the 1x1 struct `variable` in a MATLAB v5/v7 .mat file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        contents = scipy.io.loadmat(path, variable_names=[variable])
    except (OSError, ValueError, TypeError, NotImplementedError, MatReadError) as error:
        raise FormatError(path, f"a MATLAB v5/v7 .mat file ({what})", f"unreadable: {error}") from error
    struct = contents.get(variable)
    names = () if struct is None or struct.dtype.names is None else struct.dtype.names
    missing = [f for f in fields if f not in names]
    if missing or struct.size != 1:
        found = f"variables {sorted(k for k in contents if not k.startswith('__'))}" if struct is None else \
            f"struct {struct.shape} with fields {list(names)}"
        raise FormatError(path, f"a 1x1 struct {variable!r} with fields {list(fields)} ({what})", found)
    return {f: np.asarray(struct[f].reshape(-1)[0]) for f in fields}


def check_size(path: str | Path, array: np.ndarray, shape_hw: tuple[int, int], what: str) -> np.ndarray:
    """`array` if its first two dimensions are `shape_hw`, else a FormatError naming the file."""
    if array.shape[:2] != tuple(shape_hw):
        raise FormatError(path, f"size {shape_hw[1]}x{shape_hw[0]} like the image ({what})",
                          f"{array.shape[1] if array.ndim > 1 else '?'}x{array.shape[0]}")
    return array

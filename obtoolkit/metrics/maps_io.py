"""Reading boundary maps made by any method: predicted PNGs and ground truth (PNG or BSDS `.mat`).

Errors name the file and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from obtoolkit.errors import FormatError, MissingFileError

GT_SUFFIXES = (".png", ".mat")


def _open_png(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise FormatError(path, f"a readable PNG ({what})", str(error)) from error


def read_prediction_png(path: str | Path, *, invert: bool = False) -> np.ndarray:
    """(H, W) float64 boundary probability in [0, 1] from a single-channel 8- or 16-bit PNG.

    8-bit values are divided by 255, 16-bit by 65535. `invert=True` reads MoDOT/IOBE's `(1 - p) * 255` maps.
    """
    path = Path(path)
    array = _open_png(path, "predicted boundary map")
    if array.ndim == 3 and array.shape[2] in (2, 4):  # grey + alpha, or RGBA with equal channels: drop alpha
        array = array[..., :-1]
    if array.ndim == 3 and array.shape[2] == 3 and (array == array[..., :1]).all():
        array = array[..., 0]
    if array.ndim != 2:
        raise FormatError(path, "a single-channel (grey) PNG", f"shape {array.shape}")
    if array.dtype == np.uint8:
        prob = array.astype(np.float64) / 255.0
    elif array.dtype in (np.uint16, np.int32) and array.max() <= 65535:
        prob = array.astype(np.float64) / 65535.0
    elif array.dtype == bool:
        prob = array.astype(np.float64)
    else:
        raise FormatError(path, "an 8- or 16-bit PNG", f"dtype {array.dtype}")
    return 1.0 - prob if invert else prob


def read_ground_truth(path: str | Path) -> list[np.ndarray]:
    """Annotations of one image as a list of (H, W) bool maps.

    A PNG holds one annotation (nonzero = boundary). A BSDS `.mat` holds a cell array `groundTruth{k}.Boundaries`.
    """
    path = Path(path)
    if path.suffix.lower() == ".mat":
        return _read_bsds_mat(path)
    array = _open_png(path, "ground-truth boundary map")
    if array.ndim == 3:
        array = array[..., :3].max(axis=2)
    return [array != 0]


def _read_bsds_mat(path: Path) -> list[np.ndarray]:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    if not path.is_file():
        raise MissingFileError(path, "ground-truth .mat")
    try:
        data = loadmat(path, simplify_cells=True)
    except (MatReadError, ValueError, OSError, NotImplementedError) as error:
        raise FormatError(path, "a MATLAB .mat file", str(error)) from error
    if "groundTruth" not in data:
        raise FormatError(path, "a variable 'groundTruth' (BSDS format)", f"variables {sorted(data)}")
    cells = data["groundTruth"]
    cells = [cells] if isinstance(cells, dict) else list(cells)
    try:
        maps = [np.asarray(cell["Boundaries"]) != 0 for cell in cells]
    except (KeyError, TypeError, IndexError) as error:
        raise FormatError(path, "groundTruth{k}.Boundaries in every cell", str(error)) from error
    if not maps or any(m.ndim != 2 or m.shape != maps[0].shape for m in maps):
        raise FormatError(path, "one or more 2-D Boundaries maps of one size", f"{[m.shape for m in maps]}")
    return maps


def read_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 picture (any format Pillow reads)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "RGB image")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise FormatError(path, "a readable image", str(error)) from error


def pair_files(pred_dir: str | Path, gt_dir: str | Path, pred_suffix: str = ".png") -> list[tuple[str, Path, Path]]:
    """(name, prediction path, GT path) for every GT file, sorted by name.

    Raises MissingFileError naming the GT file whose prediction `<name><pred_suffix>` is absent, and
    FormatError when the GT folder holds no GT file.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    for folder, what in ((pred_dir, "prediction folder"), (gt_dir, "ground-truth folder")):
        if not folder.is_dir():
            raise MissingFileError(folder, what)
    gt_files = sorted(p for p in gt_dir.iterdir() if p.is_file() and p.suffix.lower() in GT_SUFFIXES)
    if not gt_files:
        raise FormatError(gt_dir, f"ground-truth files ({', '.join(GT_SUFFIXES)})", "none")
    pairs = []
    for gt in gt_files:
        pred = pred_dir / f"{gt.stem}{pred_suffix}"
        if not pred.is_file():
            raise MissingFileError(pred, f"prediction for ground truth {gt}")
        pairs.append((gt.stem, pred, gt))
    return pairs

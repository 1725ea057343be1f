"""Reading boundary maps made by any method: predicted PNGs and ground truth (PNG or BSDS `.mat`).

Errors name the file and what was expected. Every image's size is checked from its header against `max_pixels`
before it is decoded (evaluation needs tens of bytes per pixel: a small PNG claiming 10000x8900 pixels would take
gigabytes); a larger map is a `SizeLimitError` naming the file and the setting that raises the limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.limits import check_pixels, open_image

GT_SUFFIXES = (".png", ".mat")
# 16 Mi pixels (4096 x 4096): 21 Hypersim frames, 108 BSDS images; the evaluation of such a map takes about 1 GiB.
MAX_MAP_PIXELS = 1 << 24
_SETTING = "--max-pixels"


def _open_png(path: Path, what: str, max_pixels: int) -> np.ndarray:
    with open_image(path, what=what, max_pixels=max_pixels, setting=_SETTING) as image:
        image.load()
        return np.asarray(image)


def read_prediction_png(path: str | Path, *, invert: bool = False, max_pixels: int = MAX_MAP_PIXELS) -> np.ndarray:
    """(H, W) float64 boundary probability in [0, 1] from a single-channel 8- or 16-bit PNG.

    8-bit values are divided by 255, 16-bit by 65535. `invert=True` reads MoDOT/IOBE's `(1 - p) * 255` maps.
    """
    path = Path(path)
    array = _open_png(path, "predicted boundary map", max_pixels)
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


def read_ground_truth(path: str | Path, *, max_pixels: int = MAX_MAP_PIXELS) -> list[np.ndarray]:
    """Annotations of one image as a list of (H, W) bool maps.

    A PNG holds one annotation (nonzero = boundary). A BSDS `.mat` holds a cell array `groundTruth{k}.Boundaries`
    (its size is checked after reading: MATLAB files have no header to check first).
    """
    path = Path(path)
    if path.suffix.lower() == ".mat":
        maps = _read_bsds_mat(path)
        height, width = maps[0].shape
        check_pixels(path, width, height, max_pixels, what="ground-truth boundary map", setting=_SETTING)
        return maps
    array = _open_png(path, "ground-truth boundary map", max_pixels)
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


def read_map_pair(pred_path: str | Path, gt_path: str | Path, *, invert: bool = False,
                  max_pixels: int = MAX_MAP_PIXELS) -> tuple[np.ndarray, list[np.ndarray]]:
    """A prediction (`read_prediction_png`) and its ground truth (`read_ground_truth`), which must share one size.

    Raises:
        FormatError: the sizes differ (naming both files and both sizes).
    """
    pred = read_prediction_png(pred_path, invert=invert, max_pixels=max_pixels)
    gts = read_ground_truth(gt_path, max_pixels=max_pixels)
    if gts[0].shape != pred.shape:
        raise FormatError(pred_path, f"the size of its ground truth {gt_path}, {gts[0].shape[1]}x{gts[0].shape[0]} "
                          "(predict at the ground-truth resolution)", f"{pred.shape[1]}x{pred.shape[0]}")
    return pred, gts


def read_rgb(path: str | Path, *, max_pixels: int = MAX_MAP_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 picture (any format Pillow reads)."""
    with open_image(path, what="RGB image", max_pixels=max_pixels, setting=_SETTING) as image:
        return np.asarray(image.convert("RGB"))


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

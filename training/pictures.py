"""Pictures of predictions for people: which frames to show, and one row per frame on fixed colour scales.

The frames are chosen once (`varied_positions`: different scenes, spread over the set, never consecutive frames of
one camera) and the same ones are drawn at every validation (TensorBoard, val/step_N/predictions.png), by
`obh evaluate` and by the demo report. A frame's row: RGB, ground-truth and predicted boundaries, ground-truth and
predicted depth (`obtoolkit.viz.DEPTH_CMAP` over one fixed range), and the signed relative depth error
(p - g) / g (`SIGNED_ERROR_CMAP`, clipped to +-`DEPTH_ERROR_LIMIT`; blue: predicted too near, red: too far).
Invalid pixels are grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from torch.utils.data import Dataset, Subset

from obtoolkit.viz import DEPTH_CMAP, SIGNED_ERROR_CMAP, colorbar, contact_sheet, gray_to_rgb, scalar_to_rgb

if TYPE_CHECKING:
    from training.evaluate import FramePicture

DEPTH_ERROR_LIMIT = 0.5  # the error picture's range: (p - g) / g in [-0.5, 0.5]
ROW_CAPTIONS = ("RGB", "ground-truth OB", "predicted OB probability", "ground-truth depth", "predicted depth",
                "depth error (p-g)/g")


def frame_names(dataset: Dataset) -> list[str] | None:
    """The `scene/camera/frame` names of a dataset's items in order, without loading them (an ObHypersimDataset or
    a Subset of one); None for datasets that do not list their frames."""
    from training.data import frame_name

    if isinstance(dataset, Subset):
        names = frame_names(dataset.dataset)
        return None if names is None else [names[i] for i in dataset.indices]
    records = getattr(dataset, "records", None)
    return None if records is None else [frame_name(record) for record in records]


def varied_positions(names: Sequence[str] | int, count: int) -> list[int]:
    """Positions of `count` frames that look different: sorted, deterministic (no RNG).

    names: the frames' `scene/camera/frame` names in dataset order, or just the number of frames (then evenly spaced
    positions). Scenes (the name's first part, in order of first appearance) are taken evenly spaced over the
    scenes, one frame each; with more frames than scenes, every scene gives more in turn. Within a scene its cameras
    are chosen the same way, and within a camera the frames are evenly spaced over its own positions (centred: the
    middle frame when one).
    """
    total = names if isinstance(names, int) else len(names)
    if count <= 0:
        return []
    if count >= total:
        return list(range(total))
    if isinstance(names, int):
        return sorted({int((i + 0.5) * total / count) for i in range(count)})
    return sorted(_spread([(tuple(name.split("/")), position) for position, name in enumerate(names)], count))


def _spread(items: list[tuple[tuple[str, ...], int]], count: int) -> list[int]:
    """`count` positions of (name parts, position) items: groups by the first part taken in turn, recursively."""
    if count >= len(items):
        return [position for _, position in items]
    if len(items[0][0]) <= 1:  # the frame level: evenly spaced
        return [items[int((i + 0.5) * len(items) / count)][1] for i in range(count)]
    groups: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for parts, position in items:
        groups.setdefault(parts[0], []).append((parts[1:], position))
    keys = list(groups)
    if count < len(keys):
        keys = [keys[int((i + 0.5) * len(keys) / count)] for i in range(count)]
    quota, chosen = dict.fromkeys(keys, 0), 0
    while chosen < count:
        for key in keys:
            if chosen < count and quota[key] < len(groups[key]):
                quota[key] += 1
                chosen += 1
    return [position for key, k in quota.items() for position in _spread(groups[key], k)]


def dataset_picture_positions(dataset: Dataset, count: int) -> list[int]:
    """`varied_positions` of a dataset (by its frame names when it lists them, else evenly spaced)."""
    names = frame_names(dataset)
    return varied_positions(len(dataset) if names is None else names, count)


def depth_range_du(pictures: Sequence[FramePicture]) -> tuple[float, float]:
    """One depth range for all `pictures`: 0 to the largest 99th percentile of their valid ground truth (network
    units; 1.0 when no frame has a valid pixel)."""
    highs = [float(np.percentile(p.gt_depth_du[p.valid], 99)) for p in pictures if p.valid.any()]
    high = max(highs, default=1.0)
    return 0.0, high if high > 0 else 1.0


def relative_depth_error(pred_depth_du: np.ndarray, gt_depth_du: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Signed relative error (p - g) / g per pixel: float64 (H, W), NaN where the ground truth is not valid (or not
    positive) or the prediction not finite."""
    gt = np.asarray(gt_depth_du, np.float64)
    pred = np.asarray(pred_depth_du, np.float64)
    usable = np.asarray(valid, bool) & np.isfinite(gt) & (gt > 0) & np.isfinite(pred)
    error = np.full(gt.shape, np.nan)
    error[usable] = (pred[usable] - gt[usable]) / gt[usable]
    return error


ABSENT_GREY = 96  # the tile of a prediction the model does not make (single-task models)


def row_tiles(picture: FramePicture, depth_range: tuple[float, float], *,
              max_width_px: int = 256) -> list[tuple[str, np.ndarray]]:
    """The six captioned tiles of one frame (`ROW_CAPTIONS`; the first caption is the frame's name), subsampled to
    at most `max_width_px` pixels wide."""
    step = -(-picture.rgb.shape[1] // max_width_px)
    sub = lambda a: a[::step, ::step]  # noqa: E731
    valid = sub(picture.valid)
    low, high = depth_range
    absent = np.full((*valid.shape, 3), ABSENT_GREY, np.uint8)  # a prediction the model does not make
    if picture.pred_depth_du is None:
        depth = error = absent
    else:
        depth = scalar_to_rgb(sub(picture.pred_depth_du), None, cmap=DEPTH_CMAP, vmin=low, vmax=high)
        error = scalar_to_rgb(relative_depth_error(sub(picture.pred_depth_du), sub(picture.gt_depth_du), valid),
                              None, cmap=SIGNED_ERROR_CMAP, vmin=-DEPTH_ERROR_LIMIT, vmax=DEPTH_ERROR_LIMIT)
    probability = absent if picture.probability is None else gray_to_rgb(sub(picture.probability))
    pictures = (sub(picture.rgb), gray_to_rgb(sub(picture.gt_boundary).astype(np.float32)), probability,
                scalar_to_rgb(sub(picture.gt_depth_du), valid, cmap=DEPTH_CMAP, vmin=low, vmax=high), depth, error)
    return list(zip((picture.name, *ROW_CAPTIONS[1:]), pictures, strict=True))


def frame_row(picture: FramePicture, depth_range: tuple[float, float], *, max_width_px: int = 256) -> np.ndarray:
    """One frame's row (`row_tiles`) as a single uint8 (h, w, 3) picture."""
    tiles = row_tiles(picture, depth_range, max_width_px=max_width_px)
    return contact_sheet(tiles, columns=len(tiles))


def frames_sheet(pictures: Sequence[FramePicture], depth_range: tuple[float, float] | None = None, *,
                 depth_unit_m: float = 1.0, max_width_px: int = 256) -> np.ndarray:
    """All frames' rows (one depth range in network units: `depth_range_du` of the pictures unless given) with the
    two colour bars under them (depth in metres: depth_unit_m per network unit): uint8 (h, w, 3)."""
    if not pictures:
        raise ValueError("frames_sheet: no pictures")
    depth_range = depth_range_du(pictures) if depth_range is None else depth_range
    tiles = [tile for p in pictures for tile in row_tiles(p, depth_range, max_width_px=max_width_px)]
    sheet = contact_sheet(tiles, columns=len(ROW_CAPTIONS))
    bars = colour_bars(depth_range, depth_unit_m=depth_unit_m, width_px=min(sheet.shape[1] // 2, 400))
    canvas = np.full((sheet.shape[0] + bars.shape[0], sheet.shape[1], 3), 255, np.uint8)
    canvas[:sheet.shape[0]] = sheet
    canvas[sheet.shape[0]:, :bars.shape[1]] = bars
    return canvas


def colour_bars(depth_range: tuple[float, float], *, depth_unit_m: float = 1.0, width_px: int = 300) -> np.ndarray:
    """The depth (labelled in metres) and depth-error colour bars side by side: uint8 (h, 2 * width_px, 3)."""
    low, high = (value * depth_unit_m for value in depth_range)
    depth = colorbar(DEPTH_CMAP, low, high, label=f"depth (m), {DEPTH_CMAP}", width_px=width_px)
    error = colorbar(SIGNED_ERROR_CMAP, -DEPTH_ERROR_LIMIT, DEPTH_ERROR_LIMIT,
                     label="(p-g)/g: blue too near, red too far", width_px=width_px)
    return np.concatenate([depth, error], axis=1)

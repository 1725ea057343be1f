"""`obh viz`: pictures of generated labels, one PNG per frame.

Each picture is one row: the RGB, the boundaries over it coloured by class (inter-object red, self-occlusion green,
void yellow; instance contours that are not occluder-side boundary pixels blue), the orientation as a colour wheel,
sparse occluder->occluded arrows, and the depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from tqdm import tqdm

from obhypersim_build.validate_tree import discover_label_frames
from obtoolkit.boundaries.orientation import decode_ori16
from obtoolkit.errors import is_disk_full
from obtoolkit.hypersim import FrameId, read_hdf5_dataset, read_rgb_image
from obtoolkit.labels_io import product_relpath, read_label_files
from obtoolkit.treelock import lock_tree
from obtoolkit.viz import (
    BOUNDARY_CLASS_RGB,
    boundary_overlay,
    contact_sheet,
    depth_to_rgb,
    orientation_arrows,
    orientation_to_rgb,
    save_png,
)

CONTOUR_ONLY = 4
LABEL_COLORS = {**BOUNDARY_CLASS_RGB, CONTOUR_ONLY: (40, 120, 255)}
# What each colour of LABEL_COLORS means (for legends beside the pictures).
LABEL_NAMES = {2: "inter-object occlusion boundary", 3: "self-occlusion boundary",
               1: "void boundary (the other side has no geometry)",
               CONTOUR_ONLY: "instance contour that is not an occluder-side boundary pixel"}


def frame_tiles(label_root: Path, frame: FrameId) -> list[tuple[str, np.ndarray]]:
    """The captioned pictures of one labelled frame."""
    labels = read_label_files(label_root, frame)
    rgb = read_rgb_image(label_root / product_relpath(frame, "tonemap"), what=f"tonemap of {frame}",
                         shape_hw=labels.ob.shape)
    distance = read_hdf5_dataset(label_root / product_relpath(frame, "depth_hdf5"), what=f"depth of {frame}",
                                 kind="f").astype(np.float32)
    classes = labels.ob_class.copy()
    classes[labels.instance_contour & ~labels.ob] = CONTOUR_ONLY
    theta = decode_ori16(labels.ori16)
    return [
        (f"{frame}", rgb),
        ("OB: inter/self/void, contour", boundary_overlay(rgb, classes, colors=LABEL_COLORS)),
        ("orientation (hue)", orientation_to_rgb(theta, labels.ob, rgb)),
        ("occluder -> occluded", orientation_arrows(rgb, theta, labels.ob, step=max(8, rgb.shape[1] // 40))),
        ("depth_meters", depth_to_rgb(distance)),
    ]


def picture_path(out_dir: Path, frame: FrameId) -> Path:
    return out_dir / frame.scene / frame.camera / f"{frame.frame:04d}.png"


def write_frame_picture(label_root: Path, frame: FrameId, out_dir: Path) -> Path:
    tiles = frame_tiles(label_root, frame)
    return save_png(picture_path(out_dir, frame), contact_sheet(tiles, columns=len(tiles)))


@dataclass(frozen=True)
class VizSummary:
    """The pictures written, and the frames whose picture could not be made (frame, error naming the file)."""

    paths: tuple[Path, ...]
    failures: tuple[tuple[FrameId, str], ...]


def try_frame_picture(label_root: Path, frame: FrameId, out_dir: Path) -> Path | tuple[FrameId, str]:
    """`write_frame_picture`, or (frame, error) when its files cannot be read; a full disk stops the run."""
    try:
        return write_frame_picture(label_root, frame, out_dir)
    except Exception as error:  # one bad frame is recorded and skipped
        if is_disk_full(error):
            raise
        return frame, f"{type(error).__name__}: {error}"


def viz_tree(label_root: str | Path, out_dir: str | Path, *, frames: Sequence[FrameId] | None = None,
             limit: int | None = None, jobs: int = 1, progress: bool = True) -> VizSummary:
    """Write one picture per labelled frame (all, the given ones, or the first `limit`), holding `out_dir`'s lock;
    a frame whose files cannot be read is recorded in the summary and skipped."""
    label_root, out_dir = Path(label_root), Path(out_dir)
    frames = list(frames) if frames is not None else discover_label_frames(label_root)
    frames = frames[:limit] if limit else frames
    with lock_tree(out_dir):
        calls = (joblib.delayed(try_frame_picture)(label_root, frame, out_dir) for frame in frames)
        results = joblib.Parallel(n_jobs=jobs, return_as="generator")(calls)
        results = list(tqdm(results, total=len(frames), unit="frame", disable=not progress, desc="viz"))
    return VizSummary(tuple(r for r in results if isinstance(r, Path)),
                      tuple(r for r in results if not isinstance(r, Path)))

"""NYUD-MT: the 795 / 654 NYUDv2 multi-task split, in the layout MoDOT's `nyudmt` loader reads.

Layout (root = the config's `dataset_dir`, e.g. `nyu_depth_v2/`):
  NYUDv2/images/NNNN.png   RGB, 480 x 640
  NYUDv2/edge/NNNN.png     8-bit, 255 = boundary, 0 = background (the loader divides by 255)
  NYUDv2/depth/NNNN.npy    float depth in metres
  multi/train_list.txt, multi/val_list.txt   one 0-based 5-digit id per line; file NNNN = id + 1, 4 digits
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from obtoolkit.datasets._io import check_size, read_grey_u8, read_npy, read_rgb_u8
from obtoolkit.datasets.base import DatasetFormat, EvalPreset, FrameArrays, FrameFiles
from obtoolkit.metrics.depth import DEPTH_PRESETS

_FILE_ID = re.compile(r"^\d{4}$")


def valid_depth(depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float32 depth with NaN where invalid, bool valid): a measurement is a finite depth > 0."""
    depth_m = np.asarray(depth_m, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(depth_m) & (depth_m > 0)
    return np.where(valid, depth_m, np.float32(np.nan)), valid


@dataclasses.dataclass(frozen=True)
class NyudMtFormat(DatasetFormat):
    """NYUD-MT (MoDOT's `nyudmt`)."""

    name = "nyudmt"
    title = "NYUD-MT"
    layout = "NYUDv2/{images,edge,depth}/NNNN.{png,png,npy}; multi/{train,val}_list.txt"
    split_files = {"train": "multi/train_list.txt", "test": "multi/val_list.txt"}
    modalities = frozenset({"image_rgb", "depth_m", "depth_valid", "boundary", "boundary_valid"})
    preset = EvalPreset(
        depth=DEPTH_PRESETS["nyudmt"],
        max_dist=0.0075,  # IOBE's EvaluateOcclusion path for `nyudmt`; 0.011 is the NYUD edge convention
        extra_max_dists=(0.011,),
        official_fixed_threshold=0.7,
        dbe_references=("boundary",),
    )

    subdir: str = "NYUDv2"

    def required_dirs(self) -> tuple[str, ...]:
        return tuple(f"{self.subdir}/{d}" for d in ("images", "edge", "depth"))

    def frame_id_from_line(self, line: str) -> str | None:
        if not line:
            return None
        if not line.isdigit():
            raise ValueError("expected a 0-based numeric id such as 00000")
        number = int(line) + 1
        if number > 9999:
            raise ValueError("expected an id below 9999 (files are numbered with 4 digits)")
        return f"{number:04d}"

    def frame_files(self, frame_id: str) -> FrameFiles:
        base = f"{self.subdir}/{{}}/{frame_id}"
        return FrameFiles(frame_id=frame_id, image=base.format("images") + ".png",
                          boundary=base.format("edge") + ".png", depth=base.format("depth") + ".npy")

    def discover(self, root: Path) -> list[str]:
        return sorted(p.stem for p in (root / self.subdir / "images").glob("*.png") if _FILE_ID.match(p.stem))

    def read_frame(self, root: str | Path, files: FrameFiles) -> FrameArrays:
        root, frame = Path(root), files.frame_id
        image = read_rgb_u8(root / files.image, what=f"image of {self.title} {frame}")
        shape = image.shape[:2]
        edge = read_grey_u8(root / files.boundary, what=f"edge of {self.title} {frame}")
        check_size(root / files.boundary, edge, shape, "edge")
        raw_depth = read_npy(root / files.depth, what=f"depth of {self.title} {frame}", kind="fiu")
        depth_m, valid = valid_depth(check_size(root / files.depth, raw_depth, shape, "depth"))
        # 255 = boundary, 0 = background; any other value is a label the loss weights 0 and sklearn would refuse
        return FrameArrays(frame_id=frame, image_rgb=image, depth_m=depth_m, depth_valid=valid,
                           boundary=edge == 255, boundary_valid=(edge == 0) | (edge == 255))

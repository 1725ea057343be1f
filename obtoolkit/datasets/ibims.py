"""iBims-1 (zero-shot), in P2ORM's `iBims1_OR` packaging as MoDOT's `ibims` loader reads it.

Layout (root = `iBims1_OR/`):
  imgs/NAME.png       RGB, 480 x 640
  ob/NAME.png         8-bit OB annotation (P2ORM's), 255 = boundary (the loader divides by 255)
  gt_depth/NAME.mat   MATLAB v5 struct `data` with fields depth (metres, 0 = missing), mask_invalid and
                      mask_transp (1 = usable), edges (the hand-annotated distinct depth edges), and more
  imagelist.txt       one NAME per line
Valid depth = mask_transp x mask_invalid x (depth != 0), as in the official code.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from obtoolkit.datasets._io import check_size, read_grey_u8, read_mat_struct, read_rgb_u8
from obtoolkit.datasets.base import DatasetFormat, EvalPreset, FrameArrays, FrameFiles, check_relative_id
from obtoolkit.errors import FormatError
from obtoolkit.metrics.depth import DEPTH_PRESETS

MAT_VARIABLE = "data"
MAT_FIELDS = ("depth", "mask_invalid", "mask_transp", "edges")


def decode_ibims_mat(path: Path, fields: dict[str, np.ndarray], shape_hw: tuple[int, int]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float32 metres with NaN where invalid, bool valid, bool depth edges) from the struct's fields."""
    for name in MAT_FIELDS:
        array = fields[name]
        if array.ndim != 2 or array.dtype.kind not in "biuf":
            raise FormatError(path, f"a numeric 2-D data.{name}", f"{array.dtype} {array.shape}")
        check_size(path, array, shape_hw, f"data.{name}")
    depth_m = fields["depth"].astype(np.float32)
    with np.errstate(invalid="ignore"):
        valid = (fields["mask_transp"] != 0) & (fields["mask_invalid"] != 0) & (depth_m != 0) & np.isfinite(depth_m)
    return np.where(valid, depth_m, np.float32(np.nan)), valid, fields["edges"] != 0


@dataclasses.dataclass(frozen=True)
class IbimsFormat(DatasetFormat):
    """iBims-1 as `iBims1_OR` (depth, OB, the dataset's own depth edges)."""

    name = "ibims"
    title = "iBims-1"
    layout = "imgs/NAME.png, ob/NAME.png, gt_depth/NAME.mat; imagelist.txt"
    split_files = {"test": "imagelist.txt"}
    modalities = frozenset({"image_rgb", "depth_m", "depth_valid", "boundary", "depth_edges"})
    preset = EvalPreset(
        depth=DEPTH_PRESETS["ibims"],
        max_dist=0.0075,
        official_fixed_threshold=0.5,
        dbe_references=("depth_edges", "boundary"),
        zero_shot_max_depth=52.0,
    )

    def required_dirs(self) -> tuple[str, ...]:
        return ("imgs", "ob", "gt_depth")

    def frame_id_from_line(self, line: str) -> str | None:
        return check_relative_id(line) if line else None

    def frame_files(self, frame_id: str) -> FrameFiles:
        return FrameFiles(frame_id=frame_id, image=f"imgs/{frame_id}.png", boundary=f"ob/{frame_id}.png",
                          depth=f"gt_depth/{frame_id}.mat")

    def discover(self, root: Path) -> list[str]:
        return sorted(p.stem for p in (root / "imgs").glob("*.png") if (root / "gt_depth" / f"{p.stem}.mat").is_file())

    def read_frame(self, root: str | Path, files: FrameFiles) -> FrameArrays:
        root, frame = Path(root), files.frame_id
        image = read_rgb_u8(root / files.image, what=f"image of {self.title} {frame}")
        shape = image.shape[:2]
        ob = read_grey_u8(root / files.boundary, what=f"OB of {self.title} {frame}")
        check_size(root / files.boundary, ob, shape, "OB")
        path = root / files.depth
        fields = read_mat_struct(path, what=f"depth of {self.title} {frame}", variable=MAT_VARIABLE,
                                 fields=MAT_FIELDS)
        depth_m, valid, edges = decode_ibims_mat(path, fields, shape)
        return FrameArrays(frame_id=frame, image_rgb=image, depth_m=depth_m, depth_valid=valid,
                           boundary=ob != 0, depth_edges=edges)

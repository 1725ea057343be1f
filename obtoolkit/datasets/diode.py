"""DIODE depth (zero-shot), the official DIODE val layout that MoDOT's `diode_da` loader reads.

Layout (root = the DIODE `val` parent, e.g. `DIODE_val/`):
  val/indoors/scene_NNNNN/scan_NNNNN/NAME.png             RGB, 768 x 1024
  val/indoors/scene_NNNNN/scan_NNNNN/NAME_depth.npy       float32 (H, W, 1) depth in metres
  val/indoors/scene_NNNNN/scan_NNNNN/NAME_depth_mask.npy  float32 (H, W), 1 = valid
  diode_indoor_eval.txt, diode_outdoor_eval.txt            one image path (relative to the root) per line
The frame id is the image path without ".png". DIODE has no OB ground truth (see `ob_diode` for OB-DIODE).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from obtoolkit.datasets._io import check_size, read_npy, read_rgb_u8
from obtoolkit.datasets.base import DatasetFormat, EvalPreset, FrameArrays, FrameFiles, check_relative_id
from obtoolkit.metrics.depth import DEPTH_PRESETS

_DEPTH_SUFFIX = "_depth.npy"
_MASK_SUFFIX = "_depth_mask.npy"


@dataclasses.dataclass(frozen=True)
class DiodeFormat(DatasetFormat):
    """DIODE depth (MoDOT's `diode_indoor` / `diode_da`)."""

    name = "diode"
    title = "DIODE"
    layout = "**/NAME.png with NAME_depth.npy and NAME_depth_mask.npy; diode_{indoor,outdoor}_eval.txt"
    split_files = {"indoor": "diode_indoor_eval.txt", "outdoor": "diode_outdoor_eval.txt"}
    modalities = frozenset({"image_rgb", "depth_m", "depth_valid"})
    preset = EvalPreset(depth=DEPTH_PRESETS["diode"], zero_shot_max_depth=350.0)

    def frame_id_from_line(self, line: str) -> str | None:
        if not line:
            return None
        if not line.endswith(".png"):
            raise ValueError("expected an image path ending in .png")
        return check_relative_id(line[: -len(".png")])

    def frame_files(self, frame_id: str) -> FrameFiles:
        return FrameFiles(frame_id=frame_id, image=f"{frame_id}.png", depth=frame_id + _DEPTH_SUFFIX,
                          depth_mask=frame_id + _MASK_SUFFIX)

    def discover(self, root: Path) -> list[str]:
        ids = []
        for depth in root.rglob(f"*{_DEPTH_SUFFIX}"):
            stem = depth.name[: -len(_DEPTH_SUFFIX)]
            if (depth.parent / f"{stem}.png").is_file():
                ids.append(depth.parent.relative_to(root).joinpath(stem).as_posix())
        return sorted(ids)

    def read_frame(self, root: str | Path, files: FrameFiles) -> FrameArrays:
        root, frame = Path(root), files.frame_id
        image = read_rgb_u8(root / files.image, what=f"image of {self.title} {frame}")
        shape = image.shape[:2]
        depth_m = read_npy(root / files.depth, what=f"depth of {self.title} {frame}", kind="f")
        mask = read_npy(root / files.depth_mask, what=f"depth mask of {self.title} {frame}", kind="biuf")
        depth_m = check_size(root / files.depth, depth_m, shape, "depth").astype(np.float32)
        check_size(root / files.depth_mask, mask, shape, "depth mask")
        with np.errstate(invalid="ignore"):
            valid = (mask != 0) & np.isfinite(depth_m) & (depth_m > 0)
        return FrameArrays(frame_id=frame, image_rgb=image, depth_m=np.where(valid, depth_m, np.float32(np.nan)),
                           depth_valid=valid)

"""OB-FUTURE (MoDOT's `synocc`; IOBE's synthetic 3D-FUTURE scenes rendered at 1080 x 1080).

Layout (root = the config's `dataset_dir`, e.g. `synocc/`):
  NNNNN/rgb_1.png     RGB image
  NNNNN/dis_fOB.png   filtered OB map; boundary = Pillow's convert("L") value != 0
  NNNNN/bdepth.png    8-bit depth: metres = value / 25.5 (0.0392 m steps); 255 (10 m) = background / invalid
  NNNNN/dis_fOO.png   orientation codes (IOBE): boundary pixels hold round(angle * 255 / 360), others 112
  19186_occ_9p.txt (train, 17,267 ids), 19186_occ_1p.txt (test, 1,869 ids, 4 dropped), one 5-digit id per line
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np

from obtoolkit.datasets._io import check_size, read_grey_u8, read_rgb_u8
from obtoolkit.datasets.base import DatasetFormat, EvalPreset, FrameArrays, FrameFiles
from obtoolkit.metrics.depth import DEPTH_PRESETS

DEPTH_CODE_PER_M = 25.5  # bdepth.png value per metre (the official `dvd_value`)
DEPTH_CODE_INVALID = 255  # 10 m: background, no depth
ORIENTATION_CODE_NONE = 112  # dis_fOO.png value off the boundary
OFFICIAL_DROPPED_TEST_IDS = ("01219", "05695", "11118", "17595")  # removed from 19186_occ_1p.txt by synocc.py
_SCENE_ID = re.compile(r"^\d{5}$")


def decode_iobe_orientation(code: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """float32 (H, W) orientation in radians, NaN off `boundary`, decoded as IOBE's `transfer_label` does.

    angle = floor(code * 360 / 255) degrees; 224, 269 and 314 (rounding losses of 225, 270, 315) get +1; then the
    left rule subtracts 90 and angles above 180 wrap by -360, giving (-180, 180] degrees.
    """
    degrees = (code.astype(np.int64) * 360) // 255
    degrees = np.where(np.isin(degrees, (224, 269, 314)), degrees + 1, degrees) - 90
    degrees = np.where(degrees > 180, degrees - 360, degrees)
    return np.where(boundary, degrees * math.pi / 180, np.nan).astype(np.float32)


def decode_depth(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float32 metres with NaN where invalid, bool valid) of bdepth.png values; valid = 0 < value < 255, which is
    the official evaluation's 0 < depth < 10 m."""
    valid = (code > 0) & (code < DEPTH_CODE_INVALID)
    depth_m = (code / DEPTH_CODE_PER_M).astype(np.float32)
    return np.where(valid, depth_m, np.float32(np.nan)), valid


@dataclasses.dataclass(frozen=True)
class ObFutureFormat(DatasetFormat):
    """OB-FUTURE; `orientation=True` also reads dis_fOO.png (MoDOT does not; IOBE does)."""

    name = "ob_future"
    title = "OB-FUTURE"
    layout = "NNNNN/{rgb_1,dis_fOB,bdepth[,dis_fOO]}.png; 19186_occ_{9p,1p}.txt"
    split_files = {"train": "19186_occ_9p.txt", "test": "19186_occ_1p.txt"}
    modalities = frozenset({"image_rgb", "depth_m", "depth_valid", "boundary", "orientation_rad"})
    preset = EvalPreset(
        depth=DEPTH_PRESETS["ob_future"],
        max_dist=0.0075,
        apply_nms=False,  # IOBE's EvaluateSingle skips NMS for synocc_test
        official_fixed_threshold=0.7,
        dbe_references=("boundary",),
    )

    orientation: bool = False

    def frame_id_from_line(self, line: str) -> str | None:
        if not line:
            return None
        if not _SCENE_ID.match(line):
            raise ValueError("expected a 5-digit scene id such as 00052")
        return line

    def drop_from_split(self, split: str, frame_ids: list[str]) -> list[str]:
        return [i for i in frame_ids if i not in OFFICIAL_DROPPED_TEST_IDS] if split == "test" else frame_ids

    def frame_files(self, frame_id: str) -> FrameFiles:
        return FrameFiles(frame_id=frame_id, image=f"{frame_id}/rgb_1.png", boundary=f"{frame_id}/dis_fOB.png",
                          depth=f"{frame_id}/bdepth.png",
                          orientation=f"{frame_id}/dis_fOO.png" if self.orientation else None)

    def discover(self, root: Path) -> list[str]:
        return sorted(p.name for p in root.iterdir() if _SCENE_ID.match(p.name) and (p / "rgb_1.png").is_file())

    def read_frame(self, root: str | Path, files: FrameFiles) -> FrameArrays:
        root, frame = Path(root), files.frame_id
        image = read_rgb_u8(root / files.image, what=f"image of {self.title} {frame}")
        shape = image.shape[:2]
        boundary = read_grey_u8(root / files.boundary, what=f"OB of {self.title} {frame}") != 0
        check_size(root / files.boundary, boundary, shape, "OB")
        code = read_grey_u8(root / files.depth, what=f"8-bit depth of {self.title} {frame}")
        depth_m, valid = decode_depth(check_size(root / files.depth, code, shape, "depth"))
        orientation = None
        if files.orientation is not None:
            path = root / files.orientation
            blue = read_rgb_u8(path, what=f"orientation of {self.title} {frame}")[:, :, 2]  # cv2's channel 0
            orientation = decode_iobe_orientation(check_size(path, blue, shape, "orientation"), boundary)
        return FrameArrays(frame_id=frame, image_rgb=image, depth_m=depth_m, depth_valid=valid, boundary=boundary,
                           orientation_rad=orientation)

"""OB-DIODE (zero-shot OB): 50 DIODE indoor validation images annotated with occlusion boundaries by the IOBE authors.

Layout (root = `OB-DIODE/`, as IOBE's `init_gt_files("diode")` and `Evaluate.m` read it):
  imgs/NAME.png      RGB, 768 x 1024
  gt/NAME.png        colour-coded OB: a pixel is boundary when any colour channel is non-zero (IOBE's
                     `transfer_label`, on cv2's BGR reading; orientation codes would sit in the blue channel, but IOBE
                     states that OB-DIODE has no orientation annotation, so none is read)
  diode_val50.txt    one "imgs/NAME.png" per line
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from obtoolkit.datasets._io import check_size, read_rgb_u8
from obtoolkit.datasets.base import DatasetFormat, EvalPreset, FrameArrays, FrameFiles, check_relative_id


def read_colour_coded_boundary(path: Path, *, what: str, shape_hw: tuple[int, int]) -> np.ndarray:
    """bool (H, W): IOBE's colour-coded OB ground truth, boundary where any of R, G, B is non-zero (alpha ignored,
    as cv2.imread in colour mode does)."""
    colour = check_size(path, read_rgb_u8(path, what=what), shape_hw, what)
    return np.any(colour != 0, axis=2)


def image_name_from_line(line: str, prefix: str, suffix: str) -> str | None:
    """NAME of a split line "<prefix>NAME<suffix>" (None for a blank line), or ValueError."""
    if not line:
        return None
    if not (line.startswith(prefix) and line.endswith(suffix)) or len(line) <= len(prefix) + len(suffix):
        raise ValueError(f"expected {prefix}NAME{suffix}")
    name = line[len(prefix): len(line) - len(suffix)]
    if "/" in name:
        raise ValueError(f"expected a file name after {prefix!r}, without '/'")
    return check_relative_id(name)


@dataclasses.dataclass(frozen=True)
class ObDiodeFormat(DatasetFormat):
    """OB-DIODE (IOBE's `diode`; MoDOT's `diode` evaluation set)."""

    name = "ob_diode"
    title = "OB-DIODE"
    layout = "imgs/NAME.png, gt/NAME.png (colour-coded OB); diode_val50.txt"
    split_files = {"test": "diode_val50.txt"}
    modalities = frozenset({"image_rgb", "boundary"})
    preset = EvalPreset(depth=None, max_dist=0.0075, official_fixed_threshold=0.5, zero_shot_max_depth=350.0)
    image_suffix = ".png"

    def required_dirs(self) -> tuple[str, ...]:
        return ("imgs", "gt")

    def frame_id_from_line(self, line: str) -> str | None:
        return image_name_from_line(line, "imgs/", ".png")

    def frame_files(self, frame_id: str) -> FrameFiles:
        return FrameFiles(frame_id=frame_id, image=f"imgs/{frame_id}{self.image_suffix}", boundary=f"gt/{frame_id}.png")

    def discover(self, root: Path) -> list[str]:
        images = (root / "imgs").glob(f"*{self.image_suffix}")
        return sorted(p.stem for p in images if (root / "gt" / f"{p.stem}.png").is_file())

    def read_frame(self, root: str | Path, files: FrameFiles) -> FrameArrays:
        root, frame = Path(root), files.frame_id
        image = read_rgb_u8(root / files.image, what=f"image of {self.title} {frame}")
        boundary = read_colour_coded_boundary(root / files.boundary, what=f"OB of {self.title} {frame}",
                                              shape_hw=image.shape[:2])
        return FrameArrays(frame_id=frame, image_rgb=image, boundary=boundary)

"""OB-EntitySeg (zero-shot OB): 70 EntitySeg validation images annotated with occlusion boundaries (IOBE).

Layout (root = `OB-EntitySeg/`, as IOBE's `init_gt_files("entityseg")` and MoDOT's `diode.py` read it):
  imgs/NAME.jpg          RGB, sizes vary (the loader does not resize)
  gt/NAME.png            colour-coded OB, decoded as OB-DIODE's (any non-zero colour channel)
  entityseg_val70.txt    one "imgs/NAME" per line (no extension)
OB only: no depth ground truth.
"""

from __future__ import annotations

import dataclasses

from obtoolkit.datasets.base import EvalPreset
from obtoolkit.datasets.ob_diode import ObDiodeFormat, image_name_from_line


@dataclasses.dataclass(frozen=True)
class ObEntitySegFormat(ObDiodeFormat):
    """OB-EntitySeg (IOBE's and MoDOT's `entityseg`): OB-DIODE's layout with JPEG images and extension-less lists."""

    name = "ob_entityseg"
    title = "OB-EntitySeg"
    layout = "imgs/NAME.jpg, gt/NAME.png (colour-coded OB); entityseg_val70.txt"
    split_files = {"test": "entityseg_val70.txt"}
    preset = EvalPreset(depth=None, max_dist=0.0075, official_fixed_threshold=0.5, zero_shot_max_depth=10.0)
    image_suffix = ".jpg"

    def frame_id_from_line(self, line: str) -> str | None:
        return image_name_from_line(line, "imgs/", "")

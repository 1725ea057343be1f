"""OB-Hypersim's evaluation preset, beside the other datasets' (its frames are read from manifest rows by
`training.data.ObHypersimDataset`).

MoDOT evaluates OB-Hypersim in its depth units of 3.05 m (the official loader divides Hypersim's distances in metres
by 3.05): GT finite and > 0, predictions clamped to [0.06, 100] units = [0.183, 305] m, no crop. Boundaries: the
occlusion protocol (NMS once, no thinning) at max_dist 0.0075; the official script prints pixel-wise P/R/F at 0.7.
DBE against the OB ground truth (the official, disabled call passes the OB GT).
"""

from __future__ import annotations

from obtoolkit.datasets.base import EvalPreset
from obtoolkit.metrics.depth import DEPTH_PRESETS

NAME = "ob_hypersim"
TITLE = "OB-Hypersim"
MODOT_DEPTH_UNIT_M = 3.05  # the official loader's `dvd_value`: network units of 3.05 m
PRESET = EvalPreset(
    depth=DEPTH_PRESETS["hypersim"],
    depth_unit_m=MODOT_DEPTH_UNIT_M,
    max_dist=0.0075,
    official_fixed_threshold=0.7,
    dbe_references=("boundary",),
)

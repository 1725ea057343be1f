"""Per-frame label statistics, as recorded in manifests and reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from obtoolkit.boundaries.generator import OcclusionLabels
from obtoolkit.boundaries.kernels import CLASS_INTER, CLASS_SELF, CLASS_VOID
from obtoolkit.geometry import NORMAL_FROM_DEPTH


@dataclass(frozen=True)
class LabelStats:
    """Fractions are of all pixels unless said otherwise.

    Attributes:
        height, width: frame size.
        nan_fraction: pixels without valid geometry (NaN depth or no render entity).
        ob_fraction: occluder-side boundary pixels; ob_void_fraction / ob_inter_fraction / ob_self_fraction split it
            by class.
        contour_fraction: instance-contour pixels. target_fraction: MoDOT target (ob | contour) pixels.
        undefined_orientation_fraction: of boundary pixels, those whose orientation is undefined.
        depth_normal_fraction: of valid pixels, those whose normal came from depth (Hypersim's was unusable).
        n_ties: inter-object pairs closer than the tie threshold.
    """

    height: int
    width: int
    nan_fraction: float
    ob_fraction: float
    ob_void_fraction: float
    ob_inter_fraction: float
    ob_self_fraction: float
    contour_fraction: float
    target_fraction: float
    undefined_orientation_fraction: float
    depth_normal_fraction: float
    n_ties: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def label_stats(labels: OcclusionLabels) -> LabelStats:
    """Statistics of one frame's labels."""
    height, width = labels.ob.shape
    pixels = float(height * width)
    n_ob = int(labels.ob.sum())
    n_valid = int(labels.valid_mask.sum())
    undefined = int((labels.ob & np.isnan(labels.theta)).sum())
    return LabelStats(
        height=height, width=width,
        nan_fraction=1.0 - n_valid / pixels,
        ob_fraction=n_ob / pixels,
        ob_void_fraction=int((labels.ob_class == CLASS_VOID).sum()) / pixels,
        ob_inter_fraction=int((labels.ob_class == CLASS_INTER).sum()) / pixels,
        ob_self_fraction=int((labels.ob_class == CLASS_SELF).sum()) / pixels,
        contour_fraction=int(labels.instance_contour.sum()) / pixels,
        target_fraction=int(labels.target.sum()) / pixels,
        undefined_orientation_fraction=undefined / n_ob if n_ob else 0.0,
        depth_normal_fraction=int((labels.normal_source == NORMAL_FROM_DEPTH).sum()) / n_valid if n_valid else 0.0,
        n_ties=labels.n_ties,
    )

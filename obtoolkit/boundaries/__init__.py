"""Occlusion-boundary labels: pure functions from one frame's geometry (+ a frozen LabelParams) to OcclusionLabels.

- `obtoolkit.boundaries.p2orm`: P2ORM-compatible relations, boundaries and orientation, quirks included.
- `compute_labels`: the default generator (spec §6) on a frame record (`obtoolkit.hypersim.FrameGeometry`): exact
  rays, object keys, inter-object rule with depth order and ties, self-occlusion by the geometric test, void policy,
  relative threshold, sanitised normals, exact antisymmetry.
"""

from obtoolkit.boundaries.generator import FrameRays, OcclusionLabels, compute_labels
from obtoolkit.boundaries.kernels import CLASS_INTER, CLASS_NONE, CLASS_SELF, CLASS_VOID
from obtoolkit.boundaries.params import P2ORM_COMPAT, LabelParams

__all__ = [
    "CLASS_INTER", "CLASS_NONE", "CLASS_SELF", "CLASS_VOID", "P2ORM_COMPAT", "FrameRays",
    "LabelParams", "OcclusionLabels", "compute_labels",
]

"""Synthetic Hypersim-format scenes (open3d ray casting) for the demo and the tests.

`make_synthetic_dataset` writes scenes in Hypersim's exact layout and formats, with reference occlusion boundaries
computed from the meshes (`read_reference`). See docs/synthetic_scenes.md. open3d is imported only when casting.
"""

from obtoolkit.synth.generate import make_synthetic_dataset, synthetic_scene_name
from obtoolkit.synth.reference import ReferenceBoundaries, ReferenceParams, read_reference, reference_path

__all__ = [
    "ReferenceBoundaries", "ReferenceParams", "make_synthetic_dataset", "read_reference", "reference_path",
    "synthetic_scene_name",
]

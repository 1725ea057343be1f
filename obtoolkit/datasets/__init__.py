"""Other datasets than OB-Hypersim: one small module per on-disk format, one protocol, one registry.

Formats: `nyudmt` (NYUD-MT), `ob_future` (OB-FUTURE), `ibims` (iBims-1 as `iBims1_OR`), `diode` (DIODE depth),
`ob_diode` (OB-DIODE), `ob_entityseg` (OB-EntitySeg). Each finds frames in the dataset's real layout, reads its split
lists, decodes image / depth in metres with its valid mask / OB ground truth / orientation / depth edges, and carries
its evaluation preset (`EvalPreset`). `synthetic` writes tiny trees in each exact format for tests and demos.

This package lives in obtoolkit, not in training/, because both sides need it: the build side
(`obh manifest index --format NAME`) indexes these layouts and training reads and evaluates them, and
`obhypersim_build` and `training` never import each other.

    fmt = get_format("nyudmt")
    for files in fmt.frames(root, "test"):            # [FrameFiles], files checked to exist
        arrays = fmt.read_frame(root, files)            # FrameArrays
    fmt.preset.depth, fmt.preset.boundary_options()      # DepthEvalOptions, BoundaryEvalOptions
"""

from obtoolkit.datasets.base import (
    SPLIT_ALL,
    DatasetFormat,
    EvalPreset,
    FrameArrays,
    FrameFiles,
    LayoutError,
    UnknownDatasetError,
    UnknownSplitError,
)
from obtoolkit.datasets.registry import FORMATS, dataset_names, eval_preset, format_names, get_format

__all__ = [
    "FORMATS", "SPLIT_ALL", "DatasetFormat", "EvalPreset", "FrameArrays", "FrameFiles", "LayoutError",
    "UnknownDatasetError", "UnknownSplitError", "dataset_names", "eval_preset", "format_names", "get_format",
]

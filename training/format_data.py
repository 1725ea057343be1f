"""Training samples from any format of `obtoolkit.datasets` (NYUD-MT, OB-FUTURE, iBims-1, DIODE, OB-DIODE,
OB-EntitySeg): the same `Sample` the OB-Hypersim dataset yields.

Frames come from a dataset manifest (`obh manifest index ROOT --format NAME`, rows with status ok of one split) or
straight from the layout's split file (`DatasetFormat.frames`). Depth is the format's metres divided by
`depth_scale` (the network's unit), NaN and invalid outside the format's own depth mask; the boundary target is the
format's OB ground truth (0/1), defined where `boundary_valid` says. A dataset without depth ground truth
(OB-DIODE, OB-EntitySeg) yields an all-invalid depth, one without OB ground truth (DIODE) an all-undefined boundary:
`tasks` says which ground truths the dataset has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from obtoolkit.datasets import FrameFiles, get_format
from obtoolkit.datasets.manifest import read_dataset_manifest
from training.augment import AugmentConfig
from training.data import FrameDataset

TASKS = ("depth", "boundary")


@dataclass(frozen=True)
class FormatDataConfig:
    """Where a dataset of another format is and what a sample holds.

    Attributes:
        format: a registered format name (`obtoolkit.datasets.format_names()`).
        root: the dataset root (the format's layout).
        split: a split of the format (`DatasetFormat.split_files`, e.g. "train", "test"), "val" when the manifest
            holds one, or "all" (every frame the layout holds).
        split_list: a list in the format's own line format instead of the split's default file.
        manifest: a dataset manifest (`obtoolkit.datasets.manifest`): frames are its ok rows of `split` (None: the
            layout's split file).
        depth_scale: network depth unit in metres: depth = metres / depth_scale.
        on_error: "raise" or "skip" (see `training.data.DataConfig`).
        augment: training augmentations (None for evaluation).
    """

    format: str
    root: Path
    split: str = "train"
    split_list: Path | None = None
    manifest: Path | None = None
    depth_scale: float = 1.0
    on_error: Literal["raise", "skip"] = "raise"
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)


def select_frames(config: FormatDataConfig) -> list[FrameFiles]:
    """The frames of the configured split: the manifest's ok rows, or the layout's split file (files checked)."""
    if config.manifest is not None:
        if config.split_list is not None:
            raise ValueError("give either a manifest or a split list, not both")
        return read_dataset_manifest(config.manifest, expect_format=config.format).frames(config.split)
    return get_format(config.format).frames(config.root, config.split, config.split_list)


class FormatDataset(FrameDataset):
    """Samples of one split of a dataset format (see `FrameDataset`); `frames[i].frame_id` is sample i's name."""

    def __init__(self, config: FormatDataConfig, frames: Sequence[FrameFiles] | None = None, seed: int = 0):
        super().__init__(augment=config.augment, on_error=config.on_error, seed=seed)
        if not config.depth_scale > 0:
            raise ValueError(f"depth_scale: expected > 0, got {config.depth_scale}")
        self.config = config
        self.root = Path(config.root)
        self.format = get_format(config.format)
        self.frames = list(frames) if frames is not None else select_frames(config)
        self.tasks = tuple(t for t, field_ in zip(TASKS, ("depth_m", "boundary"), strict=True)
                           if field_ in self.format.modalities)

    def __len__(self) -> int:
        return len(self.frames)

    def frame_name(self, position: int) -> str:
        return self.frames[position].frame_id

    def frame_groups(self) -> list[str]:
        """The group (folder) of each frame, for scene-balanced subsets: DIODE's scan folders, one group elsewhere."""
        return [f.frame_id.rpartition("/")[0] for f in self.frames]

    def frame_arrays(self, position: int) -> dict[str, np.ndarray]:
        arrays = self.format.read_frame(self.root, self.frames[position])
        shape = arrays.image_rgb.shape[:2]
        out = {"image": arrays.image_rgb.astype(np.float32)}
        if arrays.depth_m is None:
            out["depth"], out["valid"] = np.full(shape, np.nan, np.float32), np.zeros(shape, bool)
        else:
            out["depth"] = arrays.depth_m / self.config.depth_scale
            out["valid"] = arrays.depth_valid
        if arrays.boundary is None:
            out["boundary"], out["boundary_valid"] = np.zeros(shape, np.float32), np.zeros(shape, bool)
        else:
            out["boundary"] = arrays.boundary.astype(np.float32)
            if arrays.boundary_valid is not None:
                out["boundary_valid"] = arrays.boundary_valid
        if arrays.depth_edges is not None:
            out["depth_edges"] = arrays.depth_edges
        if arrays.orientation_rad is not None:
            out["theta"] = arrays.orientation_rad
        return out

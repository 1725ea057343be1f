"""`from_pretrained`: a trained MoDOT, ready for inference, from a checkpoint, an exported model or a run folder.

    from training import from_pretrained
    pretrained = from_pretrained("model.safetensors")      # or runs/demo_cpu/checkpoints/last.pt, or runs/demo_cpu
    prediction = pretrained.predict(rgb_hwc)               # depth in metres and boundary probability, (H, W) each
    pretrained.model, pretrained.info.variant, pretrained.info.depth_unit_m, pretrained.config

Everything is read without running code from the file (`torch.load(weights_only=True)` or safetensors). `obh predict`,
`obh evaluate` and `hubconf.py` load their models here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
from torch import nn

from obtoolkit.errors import MissingFileError
from training.checkpoints import CheckpointInfo, load_model_checkpoint
from training.config import TrainConfig, recorded_config

if TYPE_CHECKING:
    from training.predict import Prediction

RUN_CHECKPOINT = Path("checkpoints") / "last.pt"  # what a run folder stands for


def run_config(info: CheckpointInfo) -> TrainConfig | None:
    """The recorded config of the run that wrote a checkpoint (None for converted official checkpoints); keys of an
    older version that this one dropped are ignored."""
    config = info.extra.get("config")
    if config is None:
        return None
    return recorded_config(json.loads(config), source=f"{info.path}: the run config")[0]


class PretrainedModel(NamedTuple):
    """A loaded model (eval mode, on its device) and its settings (variant, max_depth, depth unit, run metadata)."""

    model: nn.Module
    info: CheckpointInfo

    @property
    def config(self) -> TrainConfig | None:
        """The training config of the run that wrote the weights, or None (converted official checkpoints)."""
        return run_config(self.info)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def predict(self, rgb_hwc: np.ndarray, *, flip_tta: bool = False) -> Prediction:
        """Depth (metres) and boundary probability of one uint8 RGB (H, W, 3) image; see `predict_image`."""
        from training.predict import predict_image

        return predict_image(self.model, rgb_hwc, depth_unit_m=self.info.depth_unit_m, flip_tta=flip_tta)


def checkpoint_path(path: str | Path) -> Path:
    """`path` itself for a file; a run folder's `checkpoints/last.pt` for a folder (MissingFileError: none there)."""
    path = Path(path)
    if path.is_dir():
        if not (path / RUN_CHECKPOINT).is_file():
            raise MissingFileError(path / RUN_CHECKPOINT, "a run folder's last checkpoint")
        return path / RUN_CHECKPOINT
    if not path.is_file():
        raise MissingFileError(path, "a checkpoint, an exported .safetensors model or a run folder")
    return path


def from_pretrained(path: str | Path, *, device: str | torch.device = "cpu", **options: Any) -> PretrainedModel:
    """Load one of our checkpoints, an exported `.safetensors` model (`obh export-model`, any stored dtype) or a run
    folder's last checkpoint; the model is built for the recorded variant, loaded strictly and put in eval mode.

    Args:
        path: the file, or a run folder (its `checkpoints/last.pt`).
        device: where the model goes (`"cpu"`, `"cuda"`, a `torch.device`); weights stay float32.
        options: keyword options of `build_modot` (e.g. `side_head_relu=False`).

    Raises:
        MissingFileError: no such file, or a folder without `checkpoints/last.pt`.
        FormatError: not one of our checkpoints, or weights that do not fit the recorded variant.
    """
    model, info = load_model_checkpoint(checkpoint_path(path), map_location=torch.device(device), **options)
    return PretrainedModel(model.eval(), info)

"""What a run shows in TensorBoard, as people use it (`tensorboard --logdir RUN_DIR/tensorboard`).

- Scalars: the `train`, `val` and `val_exact` records of the run log, as `kind/name` (bookkeeping records such as
  `start`, `end` and `ranks` stay in log.jsonl only).
- Text `config`: the resolved configuration (YAML), written when the run starts (again at each resume).
- Images `val_frames/<i>`: at each validation, one row per fixed frame (`training.pictures`): RGB, ground-truth and
  predicted boundaries, ground-truth and predicted depth on one fixed range, signed relative depth error; and
  `val_frames/colour_bars` once, with the depth range in metres.
- PR curves: `val/boundary_tolerance` (the monitor's tolerance counts at every validation) and `val_exact/boundary`
  (the exact benchmark's counts, when it finishes), as raw counts (`add_pr_curve_raw`): TP = matched predicted
  pixels, FP = unmatched predicted pixels, FN = missed ground-truth pixels, TN = 0 (not defined for boundaries);
  precision and recall are the benchmark's own. TensorBoard draws the K thresholds as evenly spaced in [0, 1];
  ours are linspace(1/(K+1), 1 - 1/(K+1), K), so its threshold read-out is off by at most 1/(K+1).
- HParams: the flattened configuration with the last `val` and `val_exact` numbers, at the end of the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

if TYPE_CHECKING:
    from training.evaluate import FramePicture

SCALAR_KINDS = ("train", "val", "val_exact")  # the log records that are time series; others are bookkeeping
MAX_PR_THRESHOLDS = 127


class TensorBoardView:
    """A SummaryWriter on `log_dir` with the run's pictures, PR data, config and hparams (see the module docstring).

    Raises ImportError when the `tensorboard` package is missing (a declared dependency; a stripped install)."""

    def __init__(self, log_dir: Path, *, resumed_step: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        # a resumed run replays the steps after its checkpoint: TensorBoard drops what an earlier try logged there
        self.writer = SummaryWriter(str(log_dir), purge_step=resumed_step + 1 if resumed_step else None)
        self._bars_written = False

    def scalars(self, kind: str, step: int, numbers: Mapping[str, float]) -> None:
        """The numbers of one log record, as `kind/name`, if `kind` is a time series (`SCALAR_KINDS`)."""
        if kind in SCALAR_KINDS:
            for name, value in numbers.items():
                self.writer.add_scalar(f"{kind}/{name}", value, step)

    def config(self, mapping: Mapping[str, Any], step: int) -> None:
        """The resolved configuration as YAML text (a Markdown code block: indented by four spaces)."""
        text = yaml.safe_dump(dict(mapping), sort_keys=False)
        self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()), step)

    def frames(self, step: int, pictures: Sequence[FramePicture], depth_range: tuple[float, float], *,
               depth_unit_m: float) -> None:
        """One image per frame (`training.pictures.frame_row`), tagged by its place in the fixed set; the colour
        bars once."""
        from training.pictures import colour_bars, frame_row

        for index, picture in enumerate(pictures):
            self.writer.add_image(f"val_frames/{index}", frame_row(picture, depth_range), step, dataformats="HWC")
        if pictures and not self._bars_written:
            bars = colour_bars(depth_range, depth_unit_m=depth_unit_m)
            self.writer.add_image("val_frames/colour_bars", bars, step, dataformats="HWC")
            self._bars_written = True

    def boundary_pr(self, tag: str, step: int, totals: np.ndarray) -> None:
        """A PR curve from summed boundary counts: int (4, K) rows cnt_r, sum_r, cnt_p, sum_p at increasing
        thresholds (`obtoolkit.metrics.BoundaryMetric.totals`)."""
        from obtoolkit.metrics.pr_curve import recall_precision_f

        totals = np.asarray(totals, np.int64)
        if totals.shape[1] > MAX_PR_THRESHOLDS:  # the PR plugin's protobuf holds at most 127 thresholds
            totals = totals[:, np.round(np.linspace(0, totals.shape[1] - 1, MAX_PR_THRESHOLDS)).astype(int)]
        cnt_r, sum_r, cnt_p, sum_p = totals
        recall, precision, _ = recall_precision_f(cnt_r, sum_r, cnt_p, sum_p)
        self.writer.add_pr_curve_raw(
            tag, true_positive_counts=cnt_p, false_positive_counts=sum_p - cnt_p,
            true_negative_counts=np.zeros_like(cnt_p), false_negative_counts=sum_r - cnt_r,
            precision=np.asarray(precision, np.float64), recall=np.asarray(recall, np.float64), global_step=step,
            num_thresholds=len(cnt_r))

    def hparams(self, config: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        """The HParams plugin's record: the flattened config and the final metrics (tags of existing scalars)."""
        from torch.utils.tensorboard.summary import hparams

        experiment, start, end = hparams(flat_hparams(config), dict(metrics))
        file_writer = self.writer._get_file_writer()
        for summary in (experiment, start, end):
            file_writer.add_summary(summary)

    def close(self) -> None:
        self.writer.close()


def flat_hparams(config: Mapping[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """`section.key: value` for every setting; values that are not numbers, strings or bools become strings."""
    flat: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_hparams(value, prefix=f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat

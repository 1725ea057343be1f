"""What a run records: JSON lines (always), TensorBoard (optional: `training.tensorboard`), Weights & Biases
(optional, never required). Every record goes to log.jsonl; only the time series (`SCALAR_KINDS`: train, val,
val_exact) go to TensorBoard and W&B, bookkeeping (start, end, ranks) stays in the JSONL log."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from obtoolkit.fileio import atomic_write_text
from training.tensorboard import SCALAR_KINDS, TensorBoardView


class RunLog:
    """Append-only records of scalars per step; only the main process writes. resumed_step: the checkpoint's step
    when the run resumes (its later steps, logged by the interrupted try, are replayed: `drop_records_after` removes
    them from log.jsonl, TensorBoard purges them)."""

    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True,
                 wandb_project: str | None = None, config: dict | None = None, resumed_step: int = 0):
        self.enabled = enabled
        self.path = Path(run_dir) / "log.jsonl"
        self.config = config
        self.tensorboard: TensorBoardView | None = None
        self._wandb = None
        self.latest: dict[str, dict[str, float]] = {}  # the numbers of the last record of each kind
        if not enabled:
            return
        if tensorboard:
            try:
                self.tensorboard = TensorBoardView(Path(run_dir) / "tensorboard", resumed_step=resumed_step)
            except ImportError:  # tensorboard is a declared dependency; a stripped install just loses the view
                self.tensorboard = None
        if wandb_project:
            import wandb  # optional: only when asked for

            self._wandb = wandb.init(project=wandb_project, config=config, dir=str(run_dir))

    def write(self, kind: str, step: int, values: dict[str, Any]) -> None:
        """One record: {"kind": ..., "step": ..., **values}; numbers also go to TensorBoard as kind/name."""
        if not self.enabled:
            return
        record = {"kind": kind, "step": step, **{k: _plain(v) for k, v in values.items()}}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        numbers = {k: v for k, v in record.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"}
        self.latest[kind] = numbers
        if self.tensorboard is not None:
            self.tensorboard.scalars(kind, step, numbers)
        if self._wandb is not None and kind in SCALAR_KINDS:
            self._wandb.log({f"{kind}/{k}": v for k, v in numbers.items()}, step=step)

    def write_config(self, step: int) -> None:
        """The resolved config as text in TensorBoard (the JSONL log has it in config.yaml beside it)."""
        if self.tensorboard is not None and self.config is not None:
            self.tensorboard.config(self.config, step)

    def write_hparams(self) -> None:
        """End of a run: the config with the last validation numbers (`val/...`, `val_exact/...`) as hparams."""
        metrics = {f"{kind}/{name}": value for kind in ("val", "val_exact") for name, value in
                   self.latest.get(kind, {}).items()}
        if self.tensorboard is not None and self.config is not None and metrics:
            self.tensorboard.hparams(self.config, metrics)

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def read_log(run_dir: str | Path, kind: str | None = None) -> list[dict]:
    """The records of a run's log.jsonl (optionally of one kind)."""
    lines = Path(run_dir, "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records if kind is None or r["kind"] == kind]


def drop_records_after(run_dir: str | Path, step: int) -> int:
    """Remove from a run's log.jsonl the records of steps after `step` (and a line cut short by a kill), so that a
    run resumed at `step` logs each step it replays once; rewritten atomically, only when something goes. Returns
    how many lines went."""
    path = Path(run_dir, "log.jsonl")
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    kept = [line for line in lines if _step_of(line) is not None and _step_of(line) <= step]
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def _step_of(line: str) -> int | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record.get("step") if isinstance(record, dict) and isinstance(record.get("step"), int) else None

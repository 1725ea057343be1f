"""What a run records: JSON lines (always), TensorBoard (optional), Weights & Biases (optional, never required)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from obtoolkit.fileio import atomic_write_text


class RunLog:
    """Append-only records of scalars per step; only the main process writes."""

    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True,
                 wandb_project: str | None = None, config: dict | None = None):
        self.enabled = enabled
        self.path = Path(run_dir) / "log.jsonl"
        self._tb = self._wandb = None
        if not enabled:
            return
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:  # tensorboard is a declared dependency; a stripped install just loses the view
                self._tb = None
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
        numbers = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
        if self._tb is not None:
            for name, value in numbers.items():
                self._tb.add_scalar(f"{kind}/{name}", value, step)
        if self._wandb is not None:
            self._wandb.log({f"{kind}/{k}": v for k, v in numbers.items()}, step=step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
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

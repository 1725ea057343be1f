"""Validation during training: the monitor at once, the exact benchmark in a background process that never blocks."""

from __future__ import annotations

import time

import pytest
import torch
from torch.utils.data import Subset

from obtoolkit.metrics import DEPTH_PRESETS, BoundaryEvalOptions
from training.config import ValidationSection
from training.data import DataConfig, ObHypersimDataset
from training.models import build_modot
from training.run_log import RunLog, read_log
from training.scoring import boundary_counts
from training.validation import Validator

from .test_train import dataset  # noqa: F401  (the module-scoped dataset fixture)


def slow_boundary_counts(*args):
    """The exact counts after a long pause: a benchmark that costs more than training will wait for."""
    time.sleep(60)
    return boundary_counts(*args)


def failing_boundary_counts(options, name, *args):
    raise ValueError(f"{name}: no good")


def make_validator(root, run_dir, **section) -> Validator:
    frames = ObHypersimDataset(DataConfig(root=root, split="val", augment=None))
    return Validator(Subset(frames, range(2)), section=ValidationSection(**section), device=torch.device("cpu"),
                     amp="none", depth=DEPTH_PRESETS["hypersim"], boundary=BoundaryEvalOptions(n_thresholds=9),
                     depth_unit_m=1.0, out_dir=run_dir / "val", log=RunLog(run_dir, tensorboard=False))


@pytest.fixture
def model(toy_variants):
    torch.manual_seed(0)
    return build_modot(toy_variants[0], max_depth=10.0)


def test_background_benchmark_is_collected_without_waiting(dataset, model, tmp_path):  # noqa: F811
    validator = make_validator(dataset, tmp_path, exact="background", exact_workers=1, pictures=1)
    model.train()
    values = validator.run(model, step=5)
    assert model.training and "boundary_tolerance/ods_f" in values and values["depth/n_images"] == 2
    assert (tmp_path / "val" / "step_0000005" / "monitor.json").is_file()
    deadline = time.monotonic() + 120
    while not validator.poll():
        assert time.monotonic() < deadline, "the background benchmark never finished"
        time.sleep(0.05)
    exact = read_log(tmp_path, "val_exact")
    assert [r["step"] for r in exact] == [5] and exact[0]["frames"] == 2 and 0 <= exact[0]["boundary/ods_f"] <= 1
    assert (tmp_path / "val" / "step_0000005" / "metrics.json").is_file()
    validator.finish(model, step=5)


def test_a_newer_validation_supersedes_and_the_end_waits_boundedly(dataset, model, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr("training.validation.boundary_counts", slow_boundary_counts)
    validator = make_validator(dataset, tmp_path, exact="background", exact_workers=1, exact_wait_s=0.5)
    started = time.monotonic()
    validator.run(model, step=1)
    validator.run(model, step=2)
    assert not validator.poll()  # still running, and nobody waited for it
    validator.finish(model, step=2)
    assert time.monotonic() - started < 30  # a minute of benchmark per frame did not hold anything up
    records = read_log(tmp_path, "val_exact")
    assert records[0]["step"] == 1 and records[0]["superseded_by_step"] == 2
    assert records[1]["step"] == 2 and records[1]["unfinished_after_s"] == 0.5 and "obh evaluate" in records[1]["hint"]
    assert [r["step"] for r in read_log(tmp_path, "val")] == [1, 2]


def test_a_failing_benchmark_is_recorded_and_training_goes_on(dataset, model, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr("training.validation.boundary_counts", failing_boundary_counts)
    validator = make_validator(dataset, tmp_path, exact="background", exact_workers=1, exact_wait_s=60)
    validator.run(model, step=4)
    validator.finish(model, step=4)
    record = read_log(tmp_path, "val_exact")[0]
    assert record["step"] == 4 and "ValueError" in record["error"] and "no good" in record["error"]

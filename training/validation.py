"""Validation during training that costs almost nothing: the monitor now, the exact benchmark apart.

Each validation predicts a deterministic, scene-balanced subset of the validation split (`scene_balanced_subset`)
and reads the monitor (`training.monitor`: depth metrics and a tolerance-based boundary F, on the device) with a
single host transfer; it writes `val/step_N/monitor.json` and a predictions picture of a fixed set of varied frames
(`training.pictures`), and shows those frames and the PR curve in TensorBoard (`training.tensorboard`). The exact
ODS/OIS/AP (`obtoolkit.metrics`) costs up to a minute per frame on the near-uniform maps of an untrained network, so
it never runs in the training loop:
- "background": the validation's boundary maps go to worker processes; `poll()` (called by the trainer at log
  steps) collects a finished job without waiting and writes `val/step_N/metrics.json`, per_image.csv, pr_curve.png
  and a `val_exact` log record. A validation that finds the previous job unfinished stops it (recorded as
  superseded): the newest model matters most. At the end of the run `finish` waits at most `exact_wait_s` seconds.
- "end": `finish` runs it once on the final model (`training.evaluate.evaluate_model`);
- "never": `obh evaluate` gives it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from obtoolkit.fileio import atomic_write_text
from obtoolkit.metrics import BoundaryEvalOptions, DepthEvalOptions
from obtoolkit.viz import save_png
from training.config import ValidationSection
from training.data import Sample
from training.evaluate import (
    EvalOptions,
    FramePicture,
    batches,
    eval_loader,
    evaluate_model,
    frames_of,
    picture_of,
    write_boundary_reports,
    write_evaluation,
)
from training.inference import Amp, copy_to_host, one_behind, predict_batch
from training.monitor import ValidationMonitor
from training.pictures import dataset_picture_positions, depth_range_du, frames_sheet
from training.run_log import RunLog
from training.scoring import BoundaryBenchmark, MetricPool, boundary_counts
from training.threads import ThreadGovernor


@dataclass
class ExactJob:
    """The exact benchmark of one validation, running in the metric workers."""

    step: int
    names: list[str]
    pending: list
    started_s: float

    def ready(self) -> bool:
        return all(p.ready() for p in self.pending)


class Validator:
    """Validates a model on `dataset` (the subset) for the trainer; see the module docstring.

    Args:
        dataset: the frames to validate (yields `training.data.Sample`); section: the config's `validation`;
        device, amp: where and in which precision the model runs; depth, boundary: the benchmarks' options (the
        dataset preset's; depth None: no depth metrics); depth_unit_m: metres per network depth unit (of the data
        and the model); eval_unit_m: metres per unit of the depth options (None: the network's), into which depth
        is converted; out_dir: the run's `val/` folder; log: the run's log; governor: keeps the thread count right
        while validation runs.
    """

    def __init__(self, dataset: Dataset, *, section: ValidationSection, device: torch.device, amp: Amp,
                 depth: DepthEvalOptions | None, boundary: BoundaryEvalOptions, depth_unit_m: float, out_dir: Path,
                 log: RunLog, eval_unit_m: float | None = None, governor: ThreadGovernor | None = None):
        self.dataset, self.section, self.device, self.amp = dataset, section, device, amp
        self.depth, self.boundary, self.depth_unit_m = depth, boundary, depth_unit_m
        self.eval_unit_m = eval_unit_m or depth_unit_m
        self.out_dir, self.log, self.governor = Path(out_dir), log, governor
        self.loader = eval_loader(dataset, batch_size=section.batch_size, workers=section.num_workers, device=device,
                                  persistent=True)
        self.monitor = ValidationMonitor(depth, depth_unit_m=self.eval_unit_m,
                                         depth_factor=depth_unit_m / self.eval_unit_m, max_dist=boundary.max_dist,
                                         n_thresholds=boundary.n_thresholds)
        self.pool = MetricPool(section.exact_workers)
        if section.exact == "background":
            self.pool.start()  # now, not in the first validation
        self.job: ExactJob | None = None
        self.picture_positions = set(dataset_picture_positions(dataset, section.pictures))  # chosen once
        self.depth_range: tuple[float, float] | None = None  # of the pictures, fixed at the first validation

    def run(self, model: nn.Module, step: int) -> dict[str, float]:
        """Validate `model` at `step`: the monitor's numbers (also logged as `val`), reports in val/step_N/."""
        started = time.perf_counter()
        was_training = model.training
        model.eval()
        self.monitor.reset()
        maps, pictures = [], []
        keep_maps = self.section.exact == "background"
        start = lambda b: self._start(model, b)  # noqa: E731
        position = 0
        for batch, (device_batch, prediction, host) in one_behind(batches(self.loader), start):
            self.monitor.update(batch.name, prediction.depth, prediction.probability, device_batch.depth,
                                device_batch.valid, device_batch.boundary, device_batch.boundary_valid)
            depth, probability = host.wait()
            for i, frame in enumerate(frames_of(batch, depth, probability)):
                if keep_maps and frame.probability is not None:
                    maps.append((frame.name, frame.probability, frame.gt_boundary, frame.boundary_valid))
                if position in self.picture_positions:
                    pictures.append(picture_of(batch.image[i], frame))
                position += 1
            if self.governor is not None:
                self.governor.poll()
        values, rows = self.monitor.compute()
        model.train(was_training)
        values["seconds"] = time.perf_counter() - started
        self._write(step, values, rows, pictures)
        self.log.write("val", step, values)
        if keep_maps and maps:
            self._submit(step, maps)
        return values

    def _start(self, model: nn.Module, batch: Sample):
        device_batch = batch.tensors_to(self.device)
        prediction = predict_batch(model, device_batch.image, amp=self.amp)
        return device_batch, prediction, copy_to_host(prediction.depth, prediction.probability)

    def _write(self, step: int, values: dict, rows: list[dict], pictures: list[FramePicture]) -> None:
        folder = self.out_dir / f"step_{step:07d}"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "monitor.json", json.dumps({"step": step, "monitor": values, "per_image_depth":
                                                              rows}, indent=1, default=float) + "\n")
        tensorboard = self.log.tensorboard
        if tensorboard is not None:
            tensorboard.boundary_pr("val/boundary_tolerance", step, self.monitor.pr_totals)
        if not pictures:
            return
        if self.depth_range is None:
            self.depth_range = depth_range_du(pictures)
        save_png(folder / "predictions.png", frames_sheet(pictures, self.depth_range, depth_unit_m=self.depth_unit_m))
        if tensorboard is not None:
            tensorboard.frames(step, pictures, self.depth_range, depth_unit_m=self.depth_unit_m)

    def _submit(self, step: int, maps: list) -> None:
        if self.job is not None:  # unfinished: the newer model matters more
            self.log.write("val_exact", self.job.step, {"superseded_by_step": step})
            self.pool.terminate()
        pending = [self.pool.submit(boundary_counts, self.boundary, *frame) for frame in maps]
        self.job = ExactJob(step, [frame[0] for frame in maps], pending, time.perf_counter())
        self.poll()

    def poll(self) -> bool:
        """Record the background job if it has finished (never waits); True when one was recorded."""
        if self.job is None or not self.job.ready():
            return False
        job, self.job = self.job, None
        benchmark = BoundaryBenchmark(self.boundary)
        try:
            for name, pending in zip(job.names, job.pending, strict=True):
                benchmark.add(name, pending.get())
        except Exception as error:  # the benchmark failing must not stop training: recorded instead
            self.log.write("val_exact", job.step, {"error": f"{type(error).__name__}: {error}"})
            return True
        values = {**benchmark.results(), "frames": len(job.names), "seconds": time.perf_counter() - job.started_s}
        evaluation = benchmark.evaluation()
        write_boundary_reports(self.out_dir / f"step_{job.step:07d}", evaluation,
                               extra={"step": job.step, "summary": values})
        self.log.write("val_exact", job.step, values)
        self._exact_pr(job.step, evaluation.boundary.totals)
        return True

    def finish(self, model: nn.Module, step: int) -> None:
        """End of the run: wait (bounded) for the background job, or run the exact benchmark ("end")."""
        if self.section.exact == "end":
            self._exact_now(model, step)
        deadline = time.perf_counter() + self.section.exact_wait_s
        while self.job is not None and not self.poll() and time.perf_counter() < deadline:
            time.sleep(0.1)
        if self.job is not None:
            self.log.write("val_exact", self.job.step, {
                "unfinished_after_s": self.section.exact_wait_s,
                "hint": "the exact benchmark did not finish in validation.exact_wait_s; run `obh evaluate` on the "
                        "checkpoint of this step"})
            self.job = None
        self.close()

    def _exact_now(self, model: nn.Module, step: int) -> None:
        options = EvalOptions(boundary=self.boundary, depth=self.depth, depth_unit_m=self.eval_unit_m,
                              batch_size=self.section.batch_size,
                              loader_workers=self.section.num_workers, metric_workers=self.section.exact_workers,
                              amp=self.amp, pictures=self.section.pictures)
        result = evaluate_model(model, self.dataset, device=self.device, depth_unit_m=self.depth_unit_m,
                                options=options)
        write_evaluation(result, self.out_dir / f"step_{step:07d}", extra={"step": step})
        self.log.write("val_exact", step, {**result.summary(), "frames": len(result.names),
                                           "seconds": result.seconds})
        self._exact_pr(step, result.boundary.boundary.totals)

    def _exact_pr(self, step: int, totals) -> None:
        if self.log.tensorboard is not None:
            self.log.tensorboard.boundary_pr("val_exact/boundary", step, totals)

    def close(self) -> None:
        """Stop the metric workers (abandoning any unfinished job) and the loader's workers."""
        self.pool.terminate()
        self.loader = None

"""The evaluation driver: a model on a dataset, built for throughput, with exact benchmark numbers.

Used by `obh evaluate CHECKPOINT`, the demo and the end-of-run benchmark of training. Frames come through a
DataLoader (workers, pinned memory on CUDA) in batches of one size, the model runs on its device (bf16 or fp16
autocast when asked, flip TTA when asked; `training.inference`), and each frame's metric work (the exact boundary
counts of `obtoolkit.metrics` and the depth metrics) runs in a pool of worker processes while the next batches are
predicted. Depth is compared in the units of the depth options (`EvalOptions.depth_unit_m`: a dataset's preset
unit, e.g. MoDOT's 3.05 m on OB-Hypersim; by default the network's), into which prediction and ground truth (the
dataset returns metres / depth_scale) are converted; `rmse_m` restates RMSE in metres. Boundaries are scored on the
final logit map's sigmoid. Only the tasks both the model predicts and the dataset has ground truth for are scored
(`evaluated_tasks`): a depth-only model gets no boundary numbers, OB-DIODE no depth numbers.

With batch_size 1 the numbers equal a plain loop over the frames exactly (tests/training/test_evaluate.py); larger
batches change the network's floating-point summation order (results agree to ~1e-6 in depth).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, default_collate
from tqdm import tqdm

from obtoolkit.datasets import EvalPreset
from obtoolkit.metrics import DEPTH_PRESETS, BoundaryEvalOptions, DepthEvalOptions
from obtoolkit.metrics.dbe import DbeMode
from obtoolkit.metrics.depth import SCALE_POLICIES, ScalePolicy, official_zero_shot_factor
from obtoolkit.metrics.evaluators import BoundaryEvaluation
from training.augment import denormalize_image
from training.data import Sample
from training.inference import Amp, copy_to_host, one_behind, predict_batch
from training.pictures import dataset_picture_positions
from training.scoring import (
    BoundaryBenchmark,
    DepthBenchmark,
    DepthScoring,
    Evaluators,
    FixedThresholdBenchmark,
    FrameArrays,
    MetricPool,
)

TASKS = ("depth", "boundary")


@dataclass(frozen=True)
class EvalOptions:
    """flip_tta: fuse with the mirrored prediction; boundary, depth: the benchmarks' options (depth None: no depth
    metrics); depth_unit_m: metres per unit of the depth options (None: the network's unit); scale_policies: depth
    scale policies reported side by side ("none" first); official_factor: the "official" policy's factor on the
    prediction; dbe_references, dbe_modes: depth-boundary errors against the OB ground truth ("boundary") and / or
    the dataset's own depth edges ("depth_edges"), in our and / or the official mode; fixed_thresholds: pixel-wise
    P/R/F1/accuracy at these thresholds, and the tolerance-matched P/R/F read from the benchmark's curve there;
    extra_max_dists: the boundary benchmark again at these matching radii (`boundary@0.011/ods_f`, ...);
    max_frames: the first N frames only; batch_size: frames per forward pass; loader_workers: DataLoader processes;
    metric_workers: metric processes (0: in this process, after each batch); amp: autocast on CUDA ("none", "bf16",
    "fp16"); pictures: frames kept for the predictions picture (varied: `training.pictures.varied_positions`).
    `preset_options` builds them from a dataset's evaluation preset."""

    flip_tta: bool = False
    boundary: BoundaryEvalOptions = field(default_factory=BoundaryEvalOptions)
    depth: DepthEvalOptions | None = field(default_factory=lambda: DEPTH_PRESETS["hypersim"])
    depth_unit_m: float | None = None
    scale_policies: tuple[ScalePolicy, ...] = ("none",)
    official_factor: float | None = None
    dbe_references: tuple[str, ...] = ()
    dbe_modes: tuple[DbeMode, ...] = ("ours", "official")
    fixed_thresholds: tuple[float, ...] = ()
    extra_max_dists: tuple[float, ...] = ()
    max_frames: int | None = None
    batch_size: int = 1
    loader_workers: int = 0
    metric_workers: int = 0
    amp: Amp = "none"
    pictures: int = 3


@dataclass(frozen=True)
class FramePicture:
    """What the predictions picture shows of one frame (host arrays, (H, W) unless said; a prediction the model
    does not make is None)."""

    name: str
    rgb: np.ndarray  # uint8 (H, W, 3)
    gt_boundary: np.ndarray
    probability: np.ndarray | None
    gt_depth_du: np.ndarray
    valid: np.ndarray
    pred_depth_du: np.ndarray | None


@dataclass(frozen=True)
class EvalResult:
    """metrics: every evaluator's numbers (`depth/...`, `boundary/...`, `boundary_pixel/...`); depth: the depth
    means ({} when depth was not scored); boundary: curve, per-image rows (None when boundaries were not scored);
    depth_rows: per-image depth metrics; names: frames in order; seconds: wall time."""

    metrics: dict[str, float]
    depth: dict[str, float]
    boundary: BoundaryEvaluation | None
    depth_rows: list[dict]
    names: list[str]
    pictures: list[FramePicture]
    seconds: float

    def summary(self) -> dict[str, float]:
        """The headline numbers: every evaluator's (depth metrics under each scale policy and the depth-boundary
        errors; ODS/OIS/AP/R50, the tolerance-matched P/R/F and the pixel-wise P/R/F1 at the fixed thresholds)."""
        return dict(self.metrics)


def eval_loader(dataset: Dataset, *, batch_size: int, workers: int, device: torch.device,
                persistent: bool = False) -> DataLoader:
    """Frames in order, `batch_size` at a time (a batch holds frames of one size: see `collate_by_size`). The loader
    has its own generator, so that evaluating never moves the global RNG (training's drop-path draws from it)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                      pin_memory=device.type == "cuda", persistent_workers=persistent and workers > 0,
                      collate_fn=collate_by_size, worker_init_fn=one_thread, generator=torch.Generator())


def collate_by_size(samples: Sequence[Sample]) -> list[Sample]:
    """Consecutive samples of one image size collated together: a list of batches (one when all sizes agree)."""
    groups: list[list[Sample]] = []
    for sample in samples:
        if groups and groups[-1][0].image.shape == sample.image.shape:
            groups[-1].append(sample)
        else:
            groups.append([sample])
    return [default_collate(group) for group in groups]


def one_thread(_: int) -> None:
    """DataLoader worker start: one intra-op thread (loading is numpy; cores go to the model)."""
    torch.set_num_threads(1)


def batches(loader: DataLoader) -> Iterator[Sample]:
    """The batches of an `eval_loader` (each of its items is a list of one-size batches)."""
    for group in loader:
        yield from group


def preset_options(preset: EvalPreset, *, checkpoint_max_depth: float, checkpoint_unit_m: float,
                   max_dist: float | None = None, **runtime) -> EvalOptions:
    """The evaluation options of a dataset's preset: its depth options and unit, every scale policy (the official
    one where the preset has a zero-shot max_depth: its factor follows from the checkpoint's max_depth and unit),
    its DBE references in both modes, its boundary protocol (at `max_dist`, default the preset's; the preset's
    further radii beside it unless `max_dist` is given) and its fixed thresholds. `runtime`: the other EvalOptions
    fields (flip_tta, batch_size, workers, ...)."""
    official = None
    if preset.zero_shot_max_depth is not None:
        official = official_zero_shot_factor(max_depth_eval=preset.zero_shot_max_depth,
                                             checkpoint_max_depth=checkpoint_max_depth,
                                             checkpoint_unit_m=checkpoint_unit_m)
    policies = tuple(p for p in SCALE_POLICIES if p != "official" or official is not None)
    return EvalOptions(boundary=preset.boundary_options(max_dist), depth=preset.depth,
                       depth_unit_m=preset.depth_unit_m, scale_policies=policies, official_factor=official,
                       dbe_references=preset.dbe_references, fixed_thresholds=preset.fixed_thresholds,
                       extra_max_dists=preset.extra_max_dists if max_dist is None else (), **runtime)


def evaluated_tasks(model: nn.Module, dataset: Dataset, options: EvalOptions) -> tuple[str, ...]:
    """The tasks scored: predicted by the model (`model.tasks`), with ground truth in the dataset (`dataset.tasks`)
    and, for depth, depth options to score it with."""
    inner = dataset.dataset if isinstance(dataset, Subset) else dataset
    have = set(getattr(model, "tasks", TASKS)) & set(getattr(inner, "tasks", TASKS))
    if options.depth is None:
        have.discard("depth")
    return tuple(t for t in TASKS if t in have)


def build_evaluators(tasks: Sequence[str], options: EvalOptions, depth_unit_m: float) -> list:
    """The evaluators of the scored tasks (boundary benchmark, fixed-threshold P/R/F, depth under every policy)."""
    evaluators: list = []
    if "boundary" in tasks:
        evaluators.append(BoundaryBenchmark(options.boundary, options.fixed_thresholds))
        evaluators += [BoundaryBenchmark(dataclasses.replace(options.boundary, max_dist=radius),
                                         options.fixed_thresholds, prefix=f"boundary@{radius:g}")
                       for radius in options.extra_max_dists if radius != options.boundary.max_dist]
        if options.fixed_thresholds:
            evaluators.append(FixedThresholdBenchmark(options.fixed_thresholds))
    if "depth" in tasks:
        scoring = DepthScoring(options.depth, options.scale_policies, options.official_factor,
                               options.dbe_references, options.dbe_modes)
        evaluators.append(DepthBenchmark(scoring, options.depth_unit_m or depth_unit_m))
    return evaluators


def evaluate_model(model: nn.Module, dataset: Dataset, *, device: torch.device, depth_unit_m: float,
                   options: EvalOptions | None = None, progress: bool = False) -> EvalResult:
    """Predict every frame of `dataset` (full size) and score it with the exact benchmarks; the model is left in its
    previous train/eval mode. depth_unit_m: metres per unit of the dataset's depth and of the model's output."""
    options = EvalOptions() if options is None else options
    started = time.perf_counter()
    if options.max_frames is not None:
        dataset = Subset(dataset, range(min(len(dataset), options.max_frames)))
    tasks = evaluated_tasks(model, dataset, options)
    evaluators = build_evaluators(tasks, options, depth_unit_m)
    scoring = Evaluators(evaluators)
    to_eval_units = depth_unit_m / (options.depth_unit_m or depth_unit_m)
    loader = eval_loader(dataset, batch_size=options.batch_size, workers=options.loader_workers, device=device)
    names, pictures = [], []
    picture_positions = set(dataset_picture_positions(dataset, options.pictures))
    was_training = model.training
    model.eval()
    with MetricPool(options.metric_workers) as pool, tqdm(total=len(dataset), disable=not progress, unit="frame",
                                                          desc="evaluate") as bar:
        in_flight: deque = deque()
        for batch, host in one_behind(batches(loader), lambda b: _start(model, b, device, options)):
            for i, frame in enumerate(frames_of(batch, *host.wait(), depth_factor=to_eval_units)):
                if len(names) in picture_positions:
                    pictures.append(picture_of(batch.image[i], frame))
                names.append(frame.name)
                in_flight.append((frame.name, pool.submit(scoring.job, frame)))
            while len(in_flight) > 2 * max(options.metric_workers, 1) + options.batch_size:
                scoring.add(*_result(in_flight.popleft()))  # back-pressure: bounded memory
            bar.update(len(batch.name))
        while in_flight:
            scoring.add(*_result(in_flight.popleft()))
    model.train(was_training)
    depth = next((e for e in evaluators if isinstance(e, DepthBenchmark)), None)
    boundary = next((e for e in evaluators if isinstance(e, BoundaryBenchmark)), None)  # the preset's radius
    return EvalResult(scoring.results(), depth.means() if depth else {},
                      boundary.evaluation() if boundary else None, depth.rows if depth else [], names, pictures,
                      time.perf_counter() - started)


def _start(model: nn.Module, batch: Sample, device: torch.device, options: EvalOptions):
    prediction = predict_batch(model, batch.image.to(device, non_blocking=True), flip_tta=options.flip_tta,
                               amp=options.amp)
    return copy_to_host(prediction.depth, prediction.probability)


def frames_of(batch: Sample, depth: torch.Tensor | None, probability: torch.Tensor | None, *,
              depth_factor: float = 1.0) -> Iterator[FrameArrays]:
    """The frames of a host batch with their predictions (depth, probability: host (B, 1, H, W), or None for a
    task the model does not predict); predicted and GT depth multiplied by `depth_factor` (into the evaluation's
    units, in float64; 1.0 leaves them untouched)."""

    def depth_units(array: np.ndarray) -> np.ndarray:
        return array if depth_factor == 1.0 else array.astype(np.float64) * depth_factor

    for i, name in enumerate(batch.name):
        yield FrameArrays(name=name, pred_depth_du=None if depth is None else depth_units(depth[i, 0].numpy()),
                          probability=None if probability is None else probability[i, 0].numpy(),
                          gt_depth_du=depth_units(batch.depth[i, 0].numpy()), valid=batch.valid[i, 0].numpy(),
                          gt_boundary=batch.boundary[i, 0].numpy() > 0.5,
                          boundary_valid=_unless_all(batch.boundary_valid[i, 0].numpy()),
                          depth_edges=batch.depth_edges[i, 0].numpy())


def _unless_all(mask: np.ndarray) -> np.ndarray | None:
    """None for a mask that keeps everything (the scorers then skip the masking), else the mask."""
    return None if mask.all() else mask


def _result(entry) -> tuple:
    name, pending = entry
    return name, pending.get()


def picture_of(image: torch.Tensor, frame: FrameArrays) -> FramePicture:
    """What the predictions picture shows of `frame` (image: its normalised (3, H, W) input)."""
    return FramePicture(frame.name, denormalize_image(image.numpy()), frame.gt_boundary, frame.probability,
                        frame.gt_depth_du, frame.valid, frame.pred_depth_du)


def prediction_sheet(pictures: Sequence[FramePicture], *, max_width_px: int = 512) -> np.ndarray:
    """A contact sheet, one row per frame: RGB, ground-truth OB, predicted OB probability, ground-truth and predicted
    depth (one colour scale per frame: its largest valid ground-truth depth); tiles subsampled to at most
    `max_width_px` pixels wide."""
    from obtoolkit.viz import contact_sheet, depth_to_rgb, gray_to_rgb

    tiles = []
    for picture in pictures:
        step = -(-picture.rgb.shape[1] // max_width_px)
        arrays = (getattr(picture, f.name) for f in dataclasses.fields(picture)[1:])  # astuple would copy them
        p = FramePicture(picture.name, *(None if a is None else a[::step, ::step] for a in arrays))
        blank = np.full((*p.rgb.shape[:2], 3), 128, np.uint8)
        scale = float(p.gt_depth_du[p.valid].max()) if p.valid.any() else \
            float(np.nanmax(p.pred_depth_du)) if p.pred_depth_du is not None else 1.0
        tiles += [(p.name, p.rgb), ("ground-truth OB", gray_to_rgb(p.gt_boundary.astype(np.float32))),
                  ("predicted OB probability", blank if p.probability is None else gray_to_rgb(p.probability)),
                  ("ground-truth depth", depth_to_rgb(p.gt_depth_du, p.valid, vmax=scale)),
                  ("predicted depth", blank if p.pred_depth_du is None else
                   depth_to_rgb(p.pred_depth_du, None, vmax=scale))]
    return contact_sheet(tiles, columns=5)


def write_boundary_reports(out_dir: Path, evaluation: BoundaryEvaluation, extra: dict) -> list[Path]:
    """metrics.json (the boundary numbers and curve, plus `extra`), per_image.csv and pr_curve.png under `out_dir`."""
    from obtoolkit.metrics.report import plot_pr_curve, write_metrics_json, write_per_image_csv

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_metrics_json(out_dir / "metrics.json", evaluation, extra=extra)
    write_per_image_csv(out_dir / "per_image.csv", evaluation.per_image)
    curve = evaluation.boundary
    plot_pr_curve(out_dir / "pr_curve.png", {"model": curve.curve}, {"model": (curve.ods.recall, curve.ods.precision)})
    return [out_dir / n for n in ("metrics.json", "per_image.csv", "pr_curve.png")]


def write_evaluation(result: EvalResult, out_dir: Path, extra: dict | None = None) -> list[Path]:
    """metrics.json, per_image.csv and pr_curve.png (when boundaries were scored), per_image_depth.json (when depth
    was) and, when frames were kept for it, predictions.png under `out_dir`."""
    from obtoolkit.fileio import atomic_write_text
    from obtoolkit.viz import save_png

    extra = {**(extra or {}), "depth": result.depth, "summary": result.summary(), "seconds": result.seconds}
    out_dir = Path(out_dir)
    if result.boundary is not None:
        written = write_boundary_reports(out_dir, result.boundary, extra)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "metrics.json", json.dumps(extra, indent=2, default=float) + "\n")
        written = [out_dir / "metrics.json"]
    if result.depth:  # depth was scored
        atomic_write_text(out_dir / "per_image_depth.json", json.dumps(result.depth_rows, indent=1, default=float))
        written.insert(min(2, len(written)), out_dir / "per_image_depth.json")
    if result.pictures:
        written.append(save_png(Path(out_dir) / "predictions.png", prediction_sheet(result.pictures)))
    return written

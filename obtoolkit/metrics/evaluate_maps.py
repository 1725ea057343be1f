"""Score a folder of predicted boundary PNGs against a folder of ground truth, and write the outputs.

The driver behind `obh evaluate-maps`: pairs files by name, computes per-image counts in worker processes (joblib
loky, one thread per worker; the counts are integers, so the result equals the serial one bit for bit), accumulates
them in a BoundaryEvaluator and writes `metrics.json`, `per_image.csv`, `pr_curve.png` and `report.html` (worst and
best images) under the output folder.
Beside ODS / OIS / AP: precision, recall and F at fixed thresholds (0.5 and 0.7 by default), tolerance-matched (read
from the benchmark's summed curve, where the threshold is one of its thresholds) and pixel-wise as the official
MoDOT scripts compute them (against the union of the annotators for a multi-annotator BSDS `.mat`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_config
from tqdm import tqdm

from obtoolkit.metrics import maps_io, report
from obtoolkit.metrics.boundary import BoundaryCounts, BoundaryEvalOptions, image_boundary_counts
from obtoolkit.metrics.evaluators import BoundaryEvaluation, BoundaryEvaluator
from obtoolkit.metrics.fixed_threshold import (
    FIXED_THRESHOLDS,
    FixedThresholdMetric,
    fixed_threshold_counts,
    tolerance_scores_at,
)
from obtoolkit.provenance import git_sha, package_version
from obtoolkit.treelock import lock_tree


@dataclasses.dataclass(frozen=True)
class MapsJob:
    """Where the maps are and how to read them."""

    pred_dir: Path
    gt_dir: Path
    out_dir: Path
    invert: bool = False
    pred_suffix: str = ".png"
    rgb_dir: Path | None = None
    rgb_suffix: str = ".jpg"
    n_report_images: int = 3
    max_pixels: int = maps_io.MAX_MAP_PIXELS


@dataclasses.dataclass(frozen=True)
class MapsResult:
    """evaluation: the benchmark (ODS / OIS / AP, curve, per-image rows); fixed_threshold: `boundary/precision@0.5`,
    `boundary/recall@0.5`, `boundary/f@0.5` (tolerance-matched, for the thresholds on the curve) and
    `boundary_pixel/{precision,recall,f1,accuracy}@0.5` (pixel-wise, averaged over images), ... per threshold."""

    evaluation: BoundaryEvaluation
    fixed_threshold: dict[str, float]

    @property
    def boundary(self):
        return self.evaluation.boundary


def _image_counts(name: str, pred_path: Path, gt_path: Path, options: BoundaryEvalOptions, job: MapsJob,
                  thresholds: tuple[float, ...] = ()) -> tuple[BoundaryCounts, np.ndarray | None]:
    """The benchmark's counts of one image and its pixel-wise (K, 4) counts at `thresholds` (None without any)."""
    pred, gts = maps_io.read_map_pair(pred_path, gt_path, invert=job.invert, max_pixels=job.max_pixels)
    pixel = fixed_threshold_counts(pred, np.logical_or.reduce(gts), thresholds, where=name) if thresholds else None
    return image_boundary_counts(pred, gts, options, where=name), pixel


def evaluate_maps(job: MapsJob, options: BoundaryEvalOptions, *, n_jobs: int = 1,
                  progress: bool = False,
                  fixed_thresholds: tuple[float, ...] = FIXED_THRESHOLDS) -> MapsResult:
    """Evaluate every GT file of `job.gt_dir` against its prediction and write the outputs to `job.out_dir`.

    n_jobs: worker processes (1: in this process; -1: one per core), each single-threaded. progress: show a bar.
    """
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs: expected -1 (one process per core) or a positive count, got {n_jobs}")
    pairs = maps_io.pair_files(job.pred_dir, job.gt_dir, job.pred_suffix)
    with lock_tree(job.out_dir):  # one evaluation per output folder at a time (TreeLockedError names the other)
        return _evaluate_pairs(job, options, pairs, n_jobs, progress, fixed_thresholds)


def _evaluate_pairs(job: MapsJob, options: BoundaryEvalOptions, pairs: list[tuple[str, Path, Path]], n_jobs: int,
                    progress: bool, fixed_thresholds: tuple[float, ...]) -> MapsResult:
    thresholds = tuple(float(t) for t in fixed_thresholds)
    all_counts = _all_counts(pairs, options, job, thresholds, n_jobs, progress)
    evaluator = BoundaryEvaluator(options)
    pixel = FixedThresholdMetric(thresholds) if thresholds else None
    for (name, _, _), (counts, pixel_counts) in zip(pairs, all_counts, strict=True):
        evaluator.add_counts(name, counts)
        if pixel is not None:
            pixel.add_counts(pixel_counts)
    evaluation = evaluator.evaluate()
    result = MapsResult(evaluation, fixed_threshold_scores(evaluation, thresholds, pixel))
    write_outputs(job, evaluation, {name: (pred, gt) for name, pred, gt in pairs}, result.fixed_threshold)
    return result


def _all_counts(pairs: list[tuple[str, Path, Path]], options: BoundaryEvalOptions, job: MapsJob,
                thresholds: tuple[float, ...], n_jobs: int,
                progress: bool) -> list[tuple[BoundaryCounts, np.ndarray | None]]:
    """Counts of every pair, in order; images are independent, so they are spread over processes."""
    bar = {"total": len(pairs), "unit": "image", "desc": "evaluate-maps", "disable": not progress}
    if n_jobs == 1 or len(pairs) <= 1:
        return list(tqdm((_image_counts(name, pred, gt, options, job, thresholds) for name, pred, gt in pairs),
                         **bar))
    calls = (delayed(_image_counts)(name, pred, gt, options, job, thresholds) for name, pred, gt in pairs)
    with parallel_config(backend="loky", inner_max_num_threads=1):
        return list(tqdm(Parallel(n_jobs=n_jobs, return_as="generator")(calls), **bar))


def fixed_threshold_scores(evaluation: BoundaryEvaluation, thresholds: tuple[float, ...],
                           pixel: FixedThresholdMetric | None) -> dict[str, float]:
    """The tolerance-matched P/R/F at the thresholds the curve has, and the pixel-wise scores (see `MapsResult`)."""
    curve = evaluation.boundary.curve
    on_curve = [t for t in thresholds if np.any(np.abs(curve[:, 0] - t) <= 1e-9)]
    out = {f"boundary/{name}@{t:g}": value for t, scores in tolerance_scores_at(curve, on_curve).items()
           for name, value in scores.items()}
    if pixel is not None:
        out.update({f"boundary_pixel/{k}": float(v) for k, v in pixel.compute().items() if k != "n_images"})
    return out


def write_outputs(job: MapsJob, evaluation: BoundaryEvaluation, files: dict[str, tuple[Path, Path]],
                  fixed_threshold: dict[str, float] | None = None) -> None:
    """metrics.json, per_image.csv, pr_curve.png and report.html (with pictures) under `job.out_dir`."""
    out = Path(job.out_dir)
    extra = {"provenance": {"package_version": package_version(), "git_sha": git_sha(),
                            "pred_dir": str(job.pred_dir), "gt_dir": str(job.gt_dir), "invert": job.invert}}
    if fixed_threshold:
        extra["fixed_threshold"] = {k: v if math.isfinite(v) else None for k, v in fixed_threshold.items()}
    report.write_metrics_json(out / "metrics.json", evaluation, extra)
    report.write_per_image_csv(out / "per_image.csv", evaluation.per_image)
    curves = {"boundary": evaluation.boundary.curve}
    ods = {"boundary": (evaluation.boundary.ods.recall, evaluation.boundary.ods.precision)}
    if evaluation.opr is not None:
        curves["OPR"] = evaluation.opr.curve
        ods["OPR"] = (evaluation.opr.ods.recall, evaluation.opr.ods.precision)
    report.plot_pr_curve(out / "pr_curve.png", curves, ods)
    names = report.worst_and_best(evaluation.per_image, job.n_report_images)
    rows = {row.name: row for row in evaluation.per_image}
    worst = min(job.n_report_images, len(names))
    pictures = [dataclasses.replace(_pictures(job, name, *files[name], rows[name].best_threshold, evaluation.options),
                                    reason="worst F" if i < worst else "best F") for i, name in enumerate(names)]
    report.write_html_report(out, evaluation, pictures)


def _pictures(job: MapsJob, name: str, pred_path: Path, gt_path: Path, threshold: float,
              options: BoundaryEvalOptions) -> report.ImagePictures:
    pred, gts = maps_io.read_map_pair(pred_path, gt_path, invert=job.invert, max_pixels=job.max_pixels)
    gt_any = np.logical_or.reduce(gts)
    picture = report.match_picture(pred, gts[0], threshold, options)
    rgb = None
    if job.rgb_dir is not None:
        rgb_path = Path(job.rgb_dir) / f"{name}{job.rgb_suffix}"
        rgb = maps_io.read_rgb(rgb_path, max_pixels=job.max_pixels) if rgb_path.is_file() else None
    return report.ImagePictures(name, report.gray_picture(pred), report.gray_picture(gt_any), picture, rgb)

"""Score a folder of predicted boundary PNGs against a folder of ground truth, and write the outputs.

The driver behind `obh evaluate-maps`: pairs files by name, computes per-image counts in parallel (joblib, one
thread per worker; the result equals the serial one), accumulates them in a BoundaryEvaluator and writes
`metrics.json`, `per_image.csv`, `pr_curve.png` and `report.html` (worst and best images) under the output folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from obtoolkit.metrics import maps_io, report
from obtoolkit.metrics.boundary import BoundaryCounts, BoundaryEvalOptions, image_boundary_counts
from obtoolkit.metrics.evaluators import BoundaryEvaluation, BoundaryEvaluator
from obtoolkit.provenance import git_sha, package_version


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


def _image_counts(name: str, pred_path: Path, gt_path: Path, options: BoundaryEvalOptions,
                  job: MapsJob) -> BoundaryCounts:
    pred, gts = maps_io.read_map_pair(pred_path, gt_path, invert=job.invert, max_pixels=job.max_pixels)
    return image_boundary_counts(pred, gts, options, where=name)


def evaluate_maps(job: MapsJob, options: BoundaryEvalOptions, *, n_jobs: int = 1) -> BoundaryEvaluation:
    """Evaluate every GT file of `job.gt_dir` against its prediction and write the outputs to `job.out_dir`."""
    pairs = maps_io.pair_files(job.pred_dir, job.gt_dir, job.pred_suffix)
    tasks = (delayed(_image_counts)(name, pred, gt, options, job) for name, pred, gt in pairs)
    all_counts = Parallel(n_jobs=n_jobs, backend="loky")(tasks) if n_jobs != 1 else [
        _image_counts(name, pred, gt, options, job) for name, pred, gt in pairs]
    evaluator = BoundaryEvaluator(options)
    for (name, _, _), counts in zip(pairs, all_counts, strict=True):
        evaluator.add_counts(name, counts)
    evaluation = evaluator.evaluate()
    write_outputs(job, evaluation, {name: (pred, gt) for name, pred, gt in pairs})
    return evaluation


def write_outputs(job: MapsJob, evaluation: BoundaryEvaluation, files: dict[str, tuple[Path, Path]]) -> None:
    """metrics.json, per_image.csv, pr_curve.png and report.html (with pictures) under `job.out_dir`."""
    out = Path(job.out_dir)
    provenance = {"provenance": {"package_version": package_version(), "git_sha": git_sha(),
                                 "pred_dir": str(job.pred_dir), "gt_dir": str(job.gt_dir), "invert": job.invert}}
    report.write_metrics_json(out / "metrics.json", evaluation, provenance)
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

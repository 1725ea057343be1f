"""HTML reports of a model's evaluation and of a training run, for people.

`write_evaluation_report` (used by `obh evaluate` and the demo) writes `report/index.html` beside the metrics: the
headline numbers, the PR curve, the per-frame table (sortable by F, AbsRel, ...) and the worst and best frames, each
with its matched / false-positive / missed boundary pixels at its own best threshold and its depth and depth error
maps, on one depth range with colour bars. The page is the one `obh evaluate-maps` writes
(`obtoolkit.metrics.report.write_html_report`), given depth columns and depth pictures. Without a boundary benchmark
(a depth-only model, a dataset without boundary ground truth such as DIODE) the page holds the depth numbers, the
per-frame depth table and the worst and best frames by AbsRel (RGB, the predicted boundaries when the model makes
them, GT depth, predicted depth, depth error); with boundaries but no depth (a boundary-only model) the depth
columns are left out and the frames are picked by F.

The frames shown are predicted again, alone, after the evaluation (their scores are only known at its end; keeping
every frame's maps would not fit in memory on a real split). With batch_size 1 the pictures are exactly the
evaluated predictions; with larger batches they agree to floating-point summation order.

`plot_training_curves` draws a run's losses and validation numbers from its log.jsonl (the demo report).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from obtoolkit.fileio import atomic_path
from obtoolkit.metrics import report
from training.augment import denormalize_image
from training.evaluate import EvalOptions, EvalResult, FramePicture
from training.inference import predict_batch
from training.pictures import colour_bars, depth_range_du, row_tiles

REPORT_DIR = "report"

log = logging.getLogger(__name__)


def report_frames(result: EvalResult, n: int) -> list[tuple[str, str]]:
    """(reason, frame name) of the n worst and n best frames by boundary F (when boundaries were scored), then by
    AbsRel, without repeats."""
    chosen: dict[str, str] = {}
    scored = result.boundary.per_image if result.boundary is not None else ()
    by_f = sorted(scored, key=lambda row: (row.best_f, row.name))
    depth = sorted((row for row in result.depth_rows if np.isfinite(row["abs_rel"])),
                   key=lambda row: (-row["abs_rel"], row["name"]))
    for reason, rows in (("worst F", [r.name for r in by_f[:n]]), ("best F", [r.name for r in by_f[::-1][:n]]),
                         ("worst AbsRel", [str(r["name"]) for r in depth[:n]]),
                         ("best AbsRel", [str(r["name"]) for r in depth[::-1][:n]])):
        for name in rows:
            chosen.setdefault(name, reason)
    return [(reason, name) for name, reason in chosen.items()]


def predict_frame(model: nn.Module, dataset: Dataset, index: int, *, device: torch.device,
                  options: EvalOptions) -> FramePicture:
    """One frame of `dataset` predicted alone (as `evaluate_model` runs it), as a FramePicture of host arrays."""
    sample = dataset[index]
    was_training = model.training
    model.eval()
    prediction = predict_batch(model, sample.image[None].to(device), flip_tta=options.flip_tta, amp=options.amp)
    model.train(was_training)
    host = lambda t: None if t is None else t[0, 0].float().cpu().numpy()  # noqa: E731
    return FramePicture(sample.name, denormalize_image(sample.image.numpy()), sample.boundary[0].numpy() > 0.5,
                        host(prediction.probability), sample.depth[0].numpy(), sample.valid[0].numpy(),
                        host(prediction.depth))


def write_evaluation_report(model: nn.Module, dataset: Dataset, result: EvalResult, out_dir: Path, *,
                            device: torch.device, options: EvalOptions, depth_unit_m: float, title: str,
                            n_frames: int = 3) -> Path | None:
    """`out_dir/report/index.html` with its pictures and PR curve (see the module docstring); returns its path.

    dataset: the evaluated dataset (result.names[i] is its item i); options: the evaluation's options (flip TTA,
    amp, boundary protocol); n_frames: worst and best frames shown per criterion. Without a boundary benchmark (a
    depth-only model, or a dataset without OB ground truth) the page shows depth only (module docstring); None
    (no page) only when neither boundaries nor depth were scored.
    """
    if result.boundary is None and not result.depth_rows:
        log.info("no HTML report: neither boundaries nor depth were scored")
        return None
    folder = Path(out_dir) / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    position = {name: i for i, name in enumerate(result.names)}
    chosen = report_frames(result, n_frames)
    frames = [predict_frame(model, dataset, position[name], device=device, options=options) for _, name in chosen]
    depth_range = depth_range_du(frames) if frames else (0.0, 1.0)
    if result.boundary is None:
        pictures = [_depth_pictures(frame, reason, depth_range) for (reason, _), frame in zip(chosen, frames,
                                                                                              strict=True)]
        legends = [("depth and depth-error colour bars", colour_bars(depth_range, depth_unit_m=depth_unit_m))]
        return report.write_html_report(folder, None, pictures, title=title, depth_rows=result.depth_rows,
                                        summary=result.summary(), legends=legends, file_name="index.html",
                                        image_dir="images")
    rows = {row.name: row for row in result.boundary.per_image}
    pictures = [_report_pictures(frame, reason, rows[frame.name].best_threshold if frame.name in rows else 0.5,
                                 depth_range, options) for (reason, _), frame in zip(chosen, frames, strict=True)]
    curve = result.boundary.boundary
    report.plot_pr_curve(folder / "pr_curve.png", {"model": curve.curve}, {"model": (curve.ods.recall,
                                                                                   curve.ods.precision)})
    legends = [("depth and depth-error colour bars", colour_bars(depth_range, depth_unit_m=depth_unit_m))]
    return report.write_html_report(folder, result.boundary, pictures, title=title, depth_rows=result.depth_rows,
                                    summary=result.summary(), legends=legends, file_name="index.html",
                                    image_dir="images")


def _report_pictures(frame: FramePicture, reason: str, threshold: float, depth_range: tuple[float, float],
                     options: EvalOptions) -> report.ImagePictures:
    """The report's pictures of one frame: RGB, probability, GT, matches, then GT depth, depth, depth error."""
    depth_tiles = _depth_tiles(frame, depth_range)
    matches = report.match_picture(frame.probability, frame.gt_boundary, threshold, options.boundary)
    return report.ImagePictures(frame.name, report.gray_picture(frame.probability),
                                report.gray_picture(frame.gt_boundary), matches, frame.rgb, depth_tiles, reason)


def _depth_tiles(frame: FramePicture, depth_range: tuple[float, float]) -> tuple[tuple[str, np.ndarray], ...]:
    """GT depth, predicted depth and depth error of one frame, full size, captioned."""
    tiles = dict(row_tiles(frame, depth_range, max_width_px=frame.rgb.shape[1]))
    return tuple((caption, tiles[caption]) for caption in ("ground-truth depth", "predicted depth",
                                                           "depth error (p-g)/g"))


def _depth_pictures(frame: FramePicture, reason: str, depth_range: tuple[float, float]) -> report.ImagePictures:
    """The pictures of one frame of a report without a boundary benchmark: RGB, the predicted boundary probability
    (when the model makes one; there is no ground truth to match it with), GT depth, depth, depth error."""
    depth_tiles = _depth_tiles(frame, depth_range)
    probability = None if frame.probability is None else report.gray_picture(frame.probability)
    return report.ImagePictures(frame.name, probability, None, None, frame.rgb, depth_tiles, reason)


# ------------------------------------------------------------------------------------------------ training curves

TRAIN_CURVES = ("loss", "loss_depth", "loss_boundary")
VAL_CURVES = (("val", "depth/abs_rel", "AbsRel (monitor)"), ("val", "boundary_tolerance/ods_f", "ODS F (tolerance)"),
              ("val_exact", "boundary/ods_f", "ODS F (exact)"))


def plot_training_curves(records: Sequence[Mapping], path: Path) -> Path:
    """Losses (left) and validation numbers (right) against the step, from a run's log records; a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.6), dpi=100)
    losses, metrics = figure.subplots(1, 2, sharex=True)
    train = [r for r in records if r["kind"] == "train"]
    for key in TRAIN_CURVES:
        points = [(r["step"], r[key]) for r in train if isinstance(r.get(key), (int, float))]
        if points:
            losses.plot(*zip(*points, strict=True), label=key, linewidth=1.2)
    losses.set(xlabel="step", ylabel="loss", title="training losses")
    for kind, key, label in VAL_CURVES:
        points = [(r["step"], r[key]) for r in records if r["kind"] == kind and isinstance(r.get(key), (int, float))]
        if points:
            metrics.plot(*zip(*points, strict=True), "o-", label=label, linewidth=1.2)
    metrics.set(xlabel="step", ylim=(0, 1), title="validation")
    for axes in (losses, metrics):
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return Path(path)

"""`obh evaluate CHECKPOINT`: load one of our checkpoints, exported models or run folders (`from_pretrained`) and
evaluate it on a dataset (OB-Hypersim manifest rows, or any format of `obtoolkit.datasets`) with that dataset's
evaluation preset, with reports and a predictions picture."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from obtoolkit.datasets import EvalPreset, eval_preset
from obtoolkit.datasets.ob_hypersim import NAME as OB_HYPERSIM
from obtoolkit.errors import ConfigError
from obtoolkit.metrics.boundary import Protocol
from obtoolkit.metrics.depth import METRIC_NAMES, SCALE_POLICIES, policy_table
from obtoolkit.treelock import lock_tree
from training.build import data_config, preset_with_depth
from training.checkpoints import CheckpointInfo
from training.config import TrainConfig
from training.data import DataConfig, FrameDataset, ObHypersimDataset
from training.evaluate import EvalResult, evaluate_model, preset_options, write_evaluation
from training.format_data import FormatDataConfig, FormatDataset
from training.inference import Amp
from training.predict import resolve_device
from training.pretrained import from_pretrained, run_config
from training.report import write_evaluation_report
from training.threads import default_threads, usable_cores


@dataclasses.dataclass(frozen=True)
class EvalData:
    """What to evaluate on: the dataset (`ob_hypersim` or a format name; None: the checkpoint's run's, else
    OB-Hypersim), its root, the split (or a list file in the dataset's line format) and, optionally, a manifest."""

    root: Path
    dataset: str | None = None
    split: str = "test"
    split_list: Path | None = None
    manifest: Path | None = None


def checkpoint_run_config(info: CheckpointInfo) -> TrainConfig | None:
    """The recorded config of the run that wrote a checkpoint (None for converted official checkpoints)."""
    return run_config(info)


def checkpoint_data_config(run: TrainConfig | None, **where) -> DataConfig:
    """The OB-Hypersim evaluation data of a run (depth kind, target, camera CSV from its config; defaults without
    one), at `where` (root, manifest, split, split_list, depth_scale)."""
    if run is None or run.data.format != OB_HYPERSIM:
        return DataConfig(**where, augment=None)
    return dataclasses.replace(data_config(run, train=False), on_error="raise", **where)


def evaluation_dataset(data: EvalData, name: str, run: TrainConfig | None, depth_scale: float) -> FrameDataset:
    """The frames of `data` read as dataset `name`, in network units of `depth_scale` metres."""
    where = {"root": data.root, "manifest": data.manifest, "split": data.split, "split_list": data.split_list}
    if name == OB_HYPERSIM:
        return ObHypersimDataset(checkpoint_data_config(run, depth_scale=depth_scale, **where))
    return FormatDataset(FormatDataConfig(format=name, depth_scale=depth_scale, augment=None, **where))


def depth_override(name: str, run: TrainConfig | None, depth_preset: str | None) -> str | None:
    """The depth options replacing the dataset preset's: `depth_preset`, else the run's `data.depth_eval` when the
    run trained on this dataset (None: the preset's own)."""
    if depth_preset is None and run is not None and run.data.format == name:
        return run.data.depth_eval
    return depth_preset


def dataset_preset(name: str, depth_preset: str | None, protocol: Protocol | None) -> EvalPreset:
    """The dataset's preset, its depth options replaced by DEPTH_PRESETS[depth_preset] and its boundary protocol by
    `protocol` when given."""
    preset = preset_with_depth(eval_preset(name), depth_preset)
    return preset if protocol is None else dataclasses.replace(preset, boundary_protocol=protocol)


def default_metric_workers() -> int:
    """All usable cores but one (which runs the model, or feeds the GPU)."""
    return max(1, len(usable_cores()) - 1)


def share_cpu_with_metric_workers(metric_workers: int) -> int:
    """Run torch on the cores the metric workers leave (at most OMP_NUM_THREADS), so that no core is oversubscribed
    (oversubscribed OpenMP threads wait for each other: docs/benchmarks.md); returns the thread count."""
    threads = min(default_threads(), max(1, len(usable_cores()) - metric_workers))
    torch.set_num_threads(threads)
    return threads


def evaluate_checkpoint(checkpoint: Path, data: EvalData, *, out_dir: Path, depth_scale: float | None = None,
                        flip_tta: bool = False, protocol: Protocol | None = None, max_dist: float | None = None,
                        max_frames: int | None = None, depth_preset: str | None = None, device: str = "auto",
                        batch_size: int = 1, loader_workers: int = 2, metric_workers: int | None = None,
                        amp: Amp = "none", pictures: int = 4) -> EvalResult:
    """Evaluate `checkpoint` on `data` with the dataset's preset (depth under every scale policy, DBE, boundary
    benchmark, fixed-threshold P/R/F); writes metrics.json, per_image.csv, per_image_depth.json, pr_curve.png,
    predictions.png and the HTML report (report/index.html: `training.report`) into `out_dir` and returns the
    result. The OB-Hypersim data settings and the depth options are
    the run's (from the checkpoint) unless given; protocol and max_dist override the preset's boundary protocol.
    On the CPU the model runs on the cores the metric workers leave (`metric_workers`, default: all usable cores
    but one)."""
    _check_options(depth_scale=depth_scale, max_frames=max_frames, max_dist=max_dist)
    device = resolve_device(device)
    metric_workers = default_metric_workers() if metric_workers is None else metric_workers
    if device.type == "cpu":
        share_cpu_with_metric_workers(metric_workers)
    model, info = from_pretrained(checkpoint, device=device)
    scale = info.depth_unit_m if depth_scale is None else depth_scale
    run = checkpoint_run_config(info)
    name = data.dataset or (run.data.format if run is not None else OB_HYPERSIM)
    depth_preset = depth_override(name, run, depth_preset)
    preset = dataset_preset(name, depth_preset, protocol)
    dataset = evaluation_dataset(data, name, run, scale)
    options = preset_options(preset, checkpoint_max_depth=info.max_depth, checkpoint_unit_m=scale,
                             max_dist=max_dist, flip_tta=flip_tta, max_frames=max_frames, batch_size=batch_size,
                             loader_workers=loader_workers, metric_workers=metric_workers, amp=amp, pictures=pictures)
    with lock_tree(out_dir):  # one evaluation per output folder at a time (TreeLockedError names the other)
        result = evaluate_model(model, dataset, device=device, depth_unit_m=scale, options=options, progress=True)
        extra = {"checkpoint": str(checkpoint), "variant": info.variant, "dataset": name,
                 "depth_preset": depth_preset or name,
                 "split": str(data.split_list or data.split), "flip_tta": flip_tta, "frames": len(result.names),
                 "depth_unit_m": preset.depth_unit_m, "scale_policies": list(options.scale_policies),
                 "official_factor": options.official_factor, "boundary_options": dataclasses.asdict(options.boundary),
                 "extra_max_dists": list(options.extra_max_dists),
                 "device": str(device), "amp": amp, "batch_size": batch_size}
        if name == OB_HYPERSIM:
            extra.update({"depth_kind": dataset.config.depth, "target": dataset.config.target})
        if result.depth:
            extra["depth_by_policy"] = depth_by_policy(result.depth)
        write_evaluation(result, out_dir, extra=extra)
        write_evaluation_report(model, dataset, result, out_dir, device=device, options=options, depth_unit_m=scale,
                                title=f"{checkpoint} on {name} {data.split_list or data.split}")
        return result


def depth_by_policy(depth: dict[str, float]) -> dict[str, dict[str, float]]:
    """The depth means per scale policy, side by side: {policy: {metric: value}} (the fitted `scale` and `shift`
    means beside the metrics of every policy but "none")."""
    policies = [p for p in SCALE_POLICIES if p == "none" or f"{p}/abs_rel" in depth]
    names = (*METRIC_NAMES, "rmse_m")
    return {p: {m: depth.get(m if p == "none" else f"{p}/{m}", math.nan)
                for m in (names if p == "none" else (*names, "scale", "shift"))} for p in policies}


def report_lines(result: EvalResult) -> list[str]:
    """The evaluation as text: the depth metrics under each scale policy side by side, the depth-boundary errors,
    the boundary benchmark and the fixed-threshold P/R/F."""
    lines = []
    depth = result.depth
    if depth:
        lines += [f"depth ({depth.get('n_images', 0)} frames, {depth.get('n_skipped', 0)} without valid depth):",
                  policy_table(depth_by_policy(depth), (*METRIC_NAMES, "rmse_m"))]
        lines += [f"{key:>32}: {value:.4f}" for key, value in depth.items() if key.startswith("dbe/")]
    metrics = result.metrics
    lines += [f"{key:>32}: {value:.4f}" for key, value in metrics.items() if key.startswith("boundary")]
    return lines


def _check_options(*, depth_scale: float | None, max_frames: int | None, max_dist: float | None) -> None:
    """Values that would give NaN or empty metrics are refused, naming the option."""
    if depth_scale is not None and not (math.isfinite(depth_scale) and depth_scale > 0):
        raise ConfigError(f"depth_scale: expected a finite number > 0 (metres per network depth unit), "
                          f"got {depth_scale!r}")
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"max_frames: expected an integer >= 1 (or none: every frame), got {max_frames!r}")
    if max_dist is not None and not (math.isfinite(max_dist) and max_dist > 0):
        raise ConfigError(f"max_dist: expected a finite number > 0 (a fraction of the diagonal), got {max_dist!r}")

"""Commands of the training pipeline: train and evaluate."""

from __future__ import annotations

import math
from pathlib import Path

import click

from obh.options import DATASET_NAMES, config_overrides, emit, json_option, out_option

_EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


class _PositiveFinite(click.ParamType):
    """A finite number > 0 (click's FloatRange lets nan and inf through)."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not (math.isfinite(number) and number > 0):
            self.fail(f"{value!r} is not a finite number > 0.", param, ctx)
        return number


_POSITIVE = _PositiveFinite()


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--config", "config_path", type=_EXISTING_FILE, help="Training config (configs/*.yaml).")
@config_overrides
def train(config_path, overrides):
    """Train MoDOT from a manifest (resumable: rerun the same command to continue). Distributed: run it under
    `torchrun --nproc_per_node=N -m obh train ...`."""
    from training.config import load_train_config
    from training.train import train as run_train

    config = load_train_config(config_path, list(overrides))
    run_dir = run_train(config)
    click.echo(f"run folder: {run_dir}")




@click.command()
@click.argument("checkpoint", type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", type=click.Choice(DATASET_NAMES),
              help="Dataset format of --root (default: the checkpoint's run's, else ob_hypersim); its evaluation "
                   "preset applies (docs/datasets/).")
@click.option("--root", "data_root", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Dataset root (its own layout; a manifest's paths are relative to it).")
@click.option("--manifest", type=_EXISTING_FILE,
              help="Manifest (OB-Hypersim: default ROOT/manifest.parquet; other datasets: `obh manifest index "
                   "--format`, default: the split files of the layout).")
@click.option("--split", default="test", show_default=True,
              help="Split to evaluate: OB-Hypersim's official ones; the dataset's (e.g. test, indoor), or all.")
@click.option("--split-list", type=_EXISTING_FILE, help="A list of frames in the dataset's own line format.")
@click.option("--depth-scale", type=_POSITIVE, help="Metres per network depth unit (default: the checkpoint's).")
@click.option("--flip-tta", is_flag=True, help="Average with the horizontally flipped prediction.")
@click.option("--protocol", type=click.Choice(["occlusion", "bsds"]), help="Boundary protocol (default: the "
              "dataset's preset).")
@click.option("--max-dist", type=_POSITIVE, help="Boundary matching tolerance (default: the dataset's preset).")
@click.option("--max-frames", type=click.IntRange(min=1), help="Evaluate the first N frames only.")
@click.option("--depth-preset", type=click.Choice(["hypersim", "nyudmt", "nyud", "ob_future", "ibims", "diode"]),
              help="Depth options (valid range, clamp, crop) instead of the dataset preset's (default: the run's "
                   "data.depth_eval on its own dataset).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--amp", type=click.Choice(["none", "bf16", "fp16"]), default="none", show_default=True,
              help="Autocast precision of the network on CUDA.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Frames per forward pass (1 reproduces frame-by-frame numbers exactly).")
@click.option("--workers", "loader_workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Processes reading frames.")
@click.option("--metric-workers", type=click.IntRange(min=0),
              help="Processes scoring frames while the next ones are predicted (default: usable cores - 1).")
@click.option("--pictures", type=click.IntRange(min=0), default=4, show_default=True,
              help="Frames drawn in predictions.png.")
@out_option(required=True, param="out_dir", help="Folder for metrics.json, the reports and predictions.png.")
@json_option
def evaluate(checkpoint, dataset, data_root, manifest, split, split_list, depth_scale, flip_tta, protocol, max_dist,
             max_frames, depth_preset, device, amp, batch_size, loader_workers, metric_workers, pictures, out_dir):
    """Evaluate a checkpoint, exported model or run folder on a dataset with its protocol: depth under every scale
    policy, depth-boundary errors, the boundary benchmark (ODS/OIS/AP) and fixed-threshold P/R/F, with reports and a
    predictions picture."""
    from training.evaluate_run import EvalData, evaluate_checkpoint, report_lines

    data = EvalData(root=data_root, dataset=dataset, split=split, split_list=split_list, manifest=manifest)
    result = evaluate_checkpoint(checkpoint, data, out_dir=out_dir, depth_scale=depth_scale, flip_tta=flip_tta,
                                 protocol=protocol, max_dist=max_dist, max_frames=max_frames,
                                 depth_preset=depth_preset, device=device, amp=amp, batch_size=batch_size,
                                 loader_workers=loader_workers, metric_workers=metric_workers, pictures=pictures)
    report = out_dir / "report" / "index.html"
    report = report if report.is_file() else None  # no page when nothing was scored
    emit({**result.summary(), "out": out_dir, "report": report},
         lambda: "\n".join([*report_lines(result), f"reports: {out_dir}" + (f"; open {report}" if report else "")]))


COMMANDS = [train, evaluate]

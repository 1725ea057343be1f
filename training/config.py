"""The training configuration: frozen dataclasses loaded from YAML (configs/*.yaml) with key=value overrides.

Every option that the official recipe parses is either used or absent here: nothing is parsed and ignored. Options
that reproduce a quirk of the official code say so in their comment (see configs/ob_hypersim_paper.yaml).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from obtoolkit.config import from_mapping, load_config


@dataclass(frozen=True)
class ModelConfig:
    """variant: a full registry name (`modot_swin_large_w7`, `modot_ssr_swin_large_w7`, ...); max_depth: the depth
    head's range in network units; pretrained: local ImageNet Swin checkpoint (.pth / .safetensors); stage1: the
    stage-1 checkpoint an SSR (stage 2) model refines; drop_path: stochastic depth of the encoder (None: variant's).

    Switches of the network (`training.models.Modot`; every one is stored in the checkpoints, and an SSR model's
    stage-1 switches must equal its stage-1 checkpoint's):
    tasks: what the model predicts: [depth, boundary] (MoDOT), [depth] (the depth-only baseline, NeWCRFs) or
        [boundary] (the OB-only baseline); a single-task model builds only its own path (casm must be false).
    casm: the Cross-Attention Strip Modules between the two paths (false: the "without CASM" ablation).
    side_head_relu, ppm_groupnorm_all_branches: quirks of the official network, kept by default (docs/model.md).
    crf_window: the NeWCRF attention window (7, as the official code, whatever the encoder's window).
    stage1_mode: SSR only: "eval" keeps the frozen stage 1 in eval mode (our default); "train" reproduces the
        official code, whose frozen stage 1 still updates BatchNorm statistics and applies drop-path while SSR trains.
    """

    variant: str = "modot_swin_large_w7"
    max_depth: float = 10.0
    pretrained: Path | None = None
    stage1: Path | None = None
    drop_path: float | None = None
    tasks: tuple[Literal["depth", "boundary"], ...] = ("depth", "boundary")
    casm: bool = True
    side_head_relu: bool = True
    ppm_groupnorm_all_branches: bool = True
    crf_window: int = 7
    stage1_mode: Literal["eval", "train"] = "eval"


@dataclass(frozen=True)
class DataSection:
    """Where the data is and how samples are made.

    format: the dataset's format: "ob_hypersim" (manifest rows of an OB-Hypersim tree) or a format of
        `obtoolkit.datasets` ("nyudmt", "ob_future", "ibims", "diode", "ob_diode", "ob_entityseg"); it gives the
        layout, the depth unit it is read in (metres) and the evaluation preset of validation and `obh evaluate`.
    root: the dataset root (paths in a manifest are relative to it). manifest: OB-Hypersim: the manifest (default
        root/manifest.parquet); other formats: a dataset manifest (`obh manifest index ROOT --format NAME`), or None
        to read the layout's split files. train_split, val_split: splits of the manifest or of the format ("val" is
        a split the manifest holds out of "train": `--val-frames`). train_list, val_list: list files in the
        format's own line format instead of the splits.
    depth, target, camera_csv: OB-Hypersim only (distance or planar depth, the boundary target, the camera CSV of
        planar depth).
    depth_scale: network depth unit in metres: depth = metres / depth_scale.
    num_workers: loader processes making training batches (started once for the whole run).
    depth_eval: None (the format's preset) or a name of `obtoolkit.metrics.DEPTH_PRESETS` overriding the preset's
        depth options (valid range, prediction clamp, crop), read in the format preset's depth unit.
    """

    format: str = "ob_hypersim"
    root: Path = Path("data")
    manifest: Path | None = None
    shards: Path | None = None  # an `obh export webdataset` folder to read the frames from instead of root's files
    train_split: str = "train"
    train_list: Path | None = None
    val_split: str = "val"
    val_list: Path | None = None
    depth: Literal["distance", "planar"] = "distance"
    depth_scale: float = 1.0
    target: Literal["boundary_or_contour", "boundary"] = "boundary_or_contour"
    camera_csv: Path | None = None
    crop_hw: tuple[int, int] | None = (320, 320)
    hflip: float = 0.5
    photometric: bool = True
    on_error: Literal["raise", "skip"] = "raise"
    num_workers: int = 2
    depth_eval: Literal["hypersim", "nyudmt", "nyud", "ob_future", "ibims", "diode"] | None = None


@dataclass(frozen=True)
class LossSection:
    """Weights and options of the three loss terms (spec modot.md §2)."""

    depth_weight: float = 1.2
    variance_focus: float = 0.85
    boundary_weight: float = 1.0
    boundary_map_weights: tuple[float, ...] = (0.1, 0.3, 0.3, 0.5, 2.3)
    negative_scale: float = 1.1
    boundary_mask_invalid: bool = False
    obdcl: bool = True
    obdcl_start_step: int = 20_000
    obdcl_weight: float = 0.1
    obdcl_smooth_weight: float = 0.0
    obdcl_margin: float = 1.0
    obdcl_combine: Literal["min", "max"] = "min"
    obdcl_padding: Literal["zeros", "replicate"] = "zeros"


@dataclass(frozen=True)
class OptimSection:
    """optimizer "adam" (the recipe: no weight decay, eps 1e-8) or "adamw"; polynomial decay from lr to
    end_lr_ratio * lr over schedule_steps; gradient clipping at grad_clip (clip_with_amp_only: the official code clips
    only on its AMP branch)."""

    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 3e-5
    end_lr_ratio: float = 0.1
    power: float = 0.9
    weight_decay: float = 0.0
    eps: float = 1e-8
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 100.0
    clip_with_amp_only: bool = False


@dataclass(frozen=True)
class ScheduleSection:
    """batch_size is per process; max_steps ends the run; schedule_steps sizes the learning-rate decay (None: equal
    to max_steps); intervals are in optimizer steps."""

    batch_size: int = 8
    max_steps: int = 50_000
    schedule_steps: int | None = None
    val_every: int = 2_000
    checkpoint_every: int = 2_000
    log_every: int = 50
    keep_checkpoints: int = 3


@dataclass(frozen=True)
class ValidationSection:
    """Validation during training (every `schedule.val_every` steps, on `data.val_split`, never the test split).

    frames: size of the deterministic scene-balanced subset validated (None: the whole split); batch_size,
    num_workers: its forward passes and loader processes. Each validation computes the monitor on the device (depth
    metrics and a tolerance-based boundary F: `training.monitor`). exact: when the exact ODS/OIS/AP benchmark runs:
    "background" (each validation's maps go to `exact_workers` processes; training never waits for them, a newer
    validation supersedes an unfinished one, and the end of the run waits at most `exact_wait_s` seconds),
    "end" (once, on the final model, after the last checkpoint) or "never" (`obh evaluate` gives it; not "off",
    which YAML reads as false). pictures: frames of each validation drawn in val/step_N/predictions.png."""

    frames: int | None = 64
    batch_size: int = 1
    num_workers: int = 0
    exact: Literal["background", "end", "never"] = "background"
    exact_workers: int = 1
    exact_wait_s: float = 30.0
    pictures: int = 3


@dataclass(frozen=True)
class RuntimeSection:
    """threads: the most torch intra-op threads (None: OMP_NUM_THREADS when set, else this process's share of the cores
    it may use, `os.sched_getaffinity`); adapt_threads: use fewer while other processes keep cores busy, and more
    again when they stop (never in deterministic mode: the thread count changes floating-point results); amp: "none",
    "fp16" (with a gradient scaler) or "bf16" (CUDA only); deterministic: torch deterministic algorithms (exact resume
    on CPU);
    max_nonfinite: consecutive non-finite losses that stop the run; sync_batchnorm: BatchNorm statistics over all
    processes of a distributed CUDA run (small per-GPU batches); CPU runs keep per-process BatchNorm, as torch's
    SyncBatchNorm has no CPU implementation."""

    device: str = "auto"
    threads: int | None = None
    adapt_threads: bool = True
    amp: Literal["none", "fp16", "bf16"] = "none"
    channels_last: bool = False
    sync_batchnorm: bool = False
    deterministic: bool = False
    seed: int = 0
    max_nonfinite: int = 20
    tensorboard: bool = True
    wandb_project: str | None = None
    progress: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """A training run: `obh train --config CONFIG [section.key=value ...]`."""

    name: str = "modot"
    run_dir: Path = Path("runs")
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataSection = field(default_factory=DataSection)
    loss: LossSection = field(default_factory=LossSection)
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    validation: ValidationSection = field(default_factory=ValidationSection)
    runtime: RuntimeSection = field(default_factory=RuntimeSection)

    @property
    def output_dir(self) -> Path:
        return Path(self.run_dir) / self.name


def load_train_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """The config of `path` with `overrides`, every value range-checked (`training.config_checks`)."""
    from training.config_checks import check_train_config  # it imports this module

    config = load_config(TrainConfig, path, overrides)
    check_train_config(config)
    return config


def recorded_config(mapping: Mapping[str, Any], *, source: str) -> tuple[TrainConfig, list[str]]:
    """A run's recorded config (e.g. from a checkpoint), and the keys it has that this version no longer knows
    (dropped; e.g. `data.val_max_frames`, now `validation.frames`). Every other key is checked as usual."""
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    kept, dropped = {}, []
    for name, value in mapping.items():
        if name not in known:
            dropped.append(name)
        elif isinstance(value, Mapping) and dataclasses.is_dataclass(known[name].default_factory):
            section = {f.name for f in dataclasses.fields(known[name].default_factory)}
            dropped += [f"{name}.{key}" for key in value if key not in section]
            kept[name] = {key: v for key, v in value.items() if key in section}
        else:
            kept[name] = value
    return from_mapping(TrainConfig, kept, source=source), dropped

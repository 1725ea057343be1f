"""From the training config to the objects of a run: data, model, loss, optimizer, schedule, validation.

Every class takes explicit keyword arguments; these functions are the only place that reads the config for them.
Dataset-specific choices (where frames are, the depth unit, the evaluation preset) come from the `data` section
only, through `frame_dataset`, `validation_dataset` and `eval_preset`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from obtoolkit.datasets import EvalPreset, dataset_names
from obtoolkit.datasets import eval_preset as dataset_preset
from obtoolkit.datasets.ob_hypersim import NAME as OB_HYPERSIM
from obtoolkit.errors import ConfigError
from obtoolkit.metrics import DEPTH_PRESETS
from training.augment import AugmentConfig
from training.checkpoints import read_model_checkpoint
from training.config import ModelConfig, TrainConfig
from training.data import DataConfig, FrameDataset, ObHypersimDataset, balanced_subset
from training.format_data import FormatDataConfig, FormatDataset
from training.losses import OBDCL, BoundaryLoss, ModotLoss, SILogLoss
from training.models import build_modot, get_variant
from training.models.modot import check_tasks
from training.shard_data import ShardDataset


def data_config(config: TrainConfig, *, train: bool) -> DataConfig:
    """OB-Hypersim: the training split with the recipe's augmentations, or the validation split without any."""
    section = config.data
    return DataConfig(
        root=section.root, manifest=section.manifest, split=section.train_split if train else section.val_split,
        split_list=section.train_list if train else section.val_list, depth=section.depth,
        depth_scale=section.depth_scale, target=section.target, camera_csv=section.camera_csv,
        on_error=section.on_error, augment=_augment(config) if train else None,
    )


def format_data_config(config: TrainConfig, *, train: bool) -> FormatDataConfig:
    """Another format (`data.format`): the training split with augmentations, or the validation split."""
    section = config.data
    return FormatDataConfig(
        format=section.format, root=section.root, split=section.train_split if train else section.val_split,
        split_list=section.train_list if train else section.val_list, manifest=section.manifest,
        depth_scale=section.depth_scale, on_error=section.on_error, augment=_augment(config) if train else None,
    )


def _augment(config: TrainConfig) -> AugmentConfig:
    section = config.data
    return AugmentConfig(crop_hw=section.crop_hw, hflip=section.hflip, photometric=section.photometric)


def frame_dataset(config: TrainConfig, *, train: bool, seed: int = 0) -> FrameDataset:
    """The training (or validation) frames of the run's dataset: OB-Hypersim manifest rows or another format."""
    if config.data.format not in dataset_names():
        raise ConfigError(f"data.format: unknown dataset {config.data.format!r}; known: {', '.join(dataset_names())}")
    if config.data.shards is not None and config.data.format != OB_HYPERSIM:
        raise ConfigError(f"data.shards: shards of `obh export` hold OB-Hypersim frames, not {config.data.format}")
    if config.data.shards is not None:  # the same frames, read from `obh export webdataset` shards
        return ShardDataset(data_config(config, train=train), config.data.shards, seed=seed)
    if config.data.format == OB_HYPERSIM:
        return ObHypersimDataset(data_config(config, train=train), seed=seed)
    return FormatDataset(format_data_config(config, train=train), seed=seed)


def frame_groups(dataset: FrameDataset) -> list[str]:
    """The group of each frame for a scene-balanced subset: OB-Hypersim scenes, the folders of other formats."""
    if isinstance(dataset, ObHypersimDataset):
        return [record.scene for record in dataset.records]
    return dataset.frame_groups()


def validation_dataset(config: TrainConfig) -> Subset:
    """The scene-balanced subset of `validation.frames` frames of the validation split (ValueError: none there)."""
    dataset = frame_dataset(config, train=False)
    return Subset(dataset, balanced_subset(frame_groups(dataset), config.validation.frames))


def eval_preset(config: TrainConfig) -> EvalPreset:
    """The evaluation preset of the run's dataset (`data.format`), its depth options replaced by `data.depth_eval`
    when set (read in the preset's depth unit)."""
    return preset_with_depth(dataset_preset(config.data.format), config.data.depth_eval)


def preset_with_depth(preset: EvalPreset, depth_eval: str | None) -> EvalPreset:
    """`preset` with the depth options of DEPTH_PRESETS[depth_eval] (unchanged for None)."""
    if depth_eval is None:
        return preset
    return dataclasses.replace(preset, depth=DEPTH_PRESETS[depth_eval])


def model_options(section: ModelConfig) -> dict[str, Any]:
    """The network switches of the `model` section as `build_modot` options (`stage1_mode` for SSR variants only:
    anywhere else it would be a setting that does nothing, a ConfigError)."""
    options: dict[str, Any] = {
        "tasks": check_tasks(section.tasks), "casm": section.casm, "side_head_relu": section.side_head_relu,
        "ppm_groupnorm_all_branches": section.ppm_groupnorm_all_branches, "crf_window": section.crf_window}
    if get_variant(section.variant).ssr:
        options["stage1_mode"] = section.stage1_mode
    elif section.stage1_mode != "eval":
        raise ConfigError(f"model.stage1_mode: {section.stage1_mode!r} applies to SSR variants only, not "
                          f"{section.variant}")
    return options


def build_model(config: TrainConfig) -> nn.Module:
    """The configured variant and switches, with ImageNet encoder weights, or (SSR) the stage-1 checkpoint under it."""
    section = config.model
    options = model_options(section)
    if section.drop_path is not None:
        options["drop_path_rate"] = section.drop_path
    variant = get_variant(section.variant)
    if not variant.ssr:
        return build_modot(variant.name, max_depth=section.max_depth, encoder_weights=section.pretrained, **options)
    if section.stage1 is None:
        raise ValueError(f"{variant.name} refines a trained stage 1: set model.stage1 to its checkpoint")
    model = build_modot(variant.name, max_depth=section.max_depth, **options)
    payload = read_model_checkpoint(section.stage1)
    _check_stage1_options(section, payload.get("model_options", {}))
    try:
        model.stage1.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise ValueError(f"{section.stage1}: not a stage-1 checkpoint of {variant.name}: {error}") from error
    return model


def _check_stage1_options(section: ModelConfig, stored: dict[str, Any]) -> None:
    """The SSR model's stage-1 switches must be those its stage-1 checkpoint was trained with."""
    ours = {k: v for k, v in model_options(section).items() if k != "stage1_mode"}
    differ = [f"model.{k}: {ours[k]!r} here, {stored.get(k, ours[k])!r} in the checkpoint" for k in ours
              if _plain(stored.get(k, ours[k])) != _plain(ours[k])]
    if differ:
        raise ConfigError(f"{section.stage1}: the stage-1 checkpoint was built with other switches "
                          f"({'; '.join(differ)})")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value


def build_loss(config: TrainConfig) -> ModotLoss:
    """SILog + deep-supervised class-balanced BCE (+ OBDCL); SSR's single OB map gets weight 1 (BoundaryLoss). A
    single-task model (`model.tasks`) gets only its own term; OBDCL shapes the predicted depth, so it needs the
    depth task (a boundary-only model with `loss.obdcl` true is a ConfigError)."""
    section, tasks = config.loss, check_tasks(config.model.tasks)
    if section.obdcl and "depth" not in tasks:
        raise ConfigError("loss.obdcl: OBDCL constrains the predicted depth; a boundary-only model "
                          "(model.tasks [boundary]) has none: set loss.obdcl to false")
    obdcl = None
    if section.obdcl:
        obdcl = OBDCL(disc_weight=section.obdcl_weight, smooth_weight=section.obdcl_smooth_weight,
                      start_step=section.obdcl_start_step, margin=section.obdcl_margin,
                      combine=section.obdcl_combine, padding=section.obdcl_padding)
    depth = SILogLoss(section.variance_focus, section.depth_weight) if "depth" in tasks else None
    boundary = BoundaryLoss(section.boundary_map_weights, section.negative_scale, section.boundary_weight,
                            mask_invalid=section.boundary_mask_invalid) if "boundary" in tasks else None
    return ModotLoss(depth, boundary, obdcl)


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW over the trainable parameters, fused: one kernel per step, and a skipped step (non-finite
    loss or gradients) decided on the device (`found_inf`) rather than by the host."""
    section = config.optim
    parameters = [p for p in model.parameters() if p.requires_grad]
    kind = torch.optim.AdamW if section.optimizer == "adamw" else torch.optim.Adam
    return kind(parameters, lr=section.lr, betas=section.betas, eps=section.eps, weight_decay=section.weight_decay,
                fused=True)


def poly_lr_factor(step: int, total_steps: int, power: float, end_ratio: float) -> float:
    """Polynomial decay from 1 to end_ratio over total_steps (then flat): the recipe's schedule, as a factor."""
    progress = min(step, total_steps) / max(total_steps, 1)
    return (1.0 - end_ratio) * (1.0 - progress) ** power + end_ratio


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    total_steps = config.schedule.schedule_steps or config.schedule.max_steps
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: poly_lr_factor(
        step, total_steps, config.optim.power, config.optim.end_lr_ratio))

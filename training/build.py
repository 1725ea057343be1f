"""From the training config to the objects of a run: data, model, loss, optimizer, schedule, validation.

Every class takes explicit keyword arguments; these functions are the only place that reads the config for them.
Dataset-specific choices (where frames are, the depth unit, the evaluation preset) come from the `data` section
only, through `data_config`, `validation_dataset` and `depth_eval_options`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from obtoolkit.metrics import DEPTH_PRESETS, DepthEvalOptions
from training.augment import AugmentConfig
from training.checkpoints import read_model_checkpoint
from training.config import TrainConfig
from training.data import DataConfig, ObHypersimDataset, scene_balanced_subset
from training.losses import OBDCL, BoundaryLoss, ModotLoss, SILogLoss
from training.models import build_modot, get_variant
from training.shard_data import ShardDataset


def data_config(config: TrainConfig, *, train: bool) -> DataConfig:
    """The training split with the recipe's augmentations, or the validation split without any."""
    section = config.data
    augment = AugmentConfig(crop_hw=section.crop_hw, hflip=section.hflip, photometric=section.photometric) \
        if train else None
    return DataConfig(
        root=section.root, manifest=section.manifest, split=section.train_split if train else section.val_split,
        split_list=section.train_list if train else section.val_list, depth=section.depth,
        depth_scale=section.depth_scale, target=section.target, camera_csv=section.camera_csv,
        on_error=section.on_error, augment=augment,
    )


def build_dataset(config: TrainConfig, *, train: bool, seed: int = 0) -> ObHypersimDataset:
    """The training or validation split, read from the tree (`data.root`) or from exported shards (`data.shards`)."""
    section = data_config(config, train=train)
    if config.data.shards is not None:
        return ShardDataset(section, config.data.shards, seed=seed)
    return ObHypersimDataset(section, seed=seed)


def validation_dataset(config: TrainConfig) -> Dataset:
    """The scene-balanced subset of `validation.frames` frames of the validation split (ValueError: none there)."""
    dataset = build_dataset(config, train=False)
    return Subset(dataset, scene_balanced_subset(dataset.records, config.validation.frames))


def depth_eval_options(config: TrainConfig) -> DepthEvalOptions:
    """The depth-metric preset of the run's dataset (`data.depth_eval`)."""
    return DEPTH_PRESETS[config.data.depth_eval]


def build_model(config: TrainConfig) -> nn.Module:
    """The configured variant, with ImageNet encoder weights, or (SSR) the stage-1 checkpoint under it."""
    options = {} if config.model.drop_path is None else {"drop_path_rate": config.model.drop_path}
    variant = get_variant(config.model.variant)
    if not variant.ssr:
        return build_modot(variant.name, max_depth=config.model.max_depth, encoder_weights=config.model.pretrained,
                           **options)
    if config.model.stage1 is None:
        raise ValueError(f"{variant.name} refines a trained stage 1: set model.stage1 to its checkpoint")
    model = build_modot(variant.name, max_depth=config.model.max_depth)
    payload = read_model_checkpoint(config.model.stage1)
    try:
        model.stage1.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise ValueError(f"{config.model.stage1}: not a stage-1 checkpoint of {variant.name}: {error}") from error
    return model


def build_loss(config: TrainConfig) -> ModotLoss:
    """SILog + deep-supervised class-balanced BCE (+ OBDCL); SSR's single OB map gets weight 1 (BoundaryLoss)."""
    section = config.loss
    obdcl = None
    if section.obdcl:
        obdcl = OBDCL(disc_weight=section.obdcl_weight, smooth_weight=section.obdcl_smooth_weight,
                      start_step=section.obdcl_start_step, margin=section.obdcl_margin,
                      combine=section.obdcl_combine, padding=section.obdcl_padding)
    boundary = BoundaryLoss(section.boundary_map_weights, section.negative_scale, section.boundary_weight,
                            mask_invalid=section.boundary_mask_invalid)
    return ModotLoss(SILogLoss(section.variance_focus, section.depth_weight), boundary, obdcl)


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

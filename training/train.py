"""`obh train`: the MoDOT recipe as one readable loop (setup, train, validate, save), resumable and distributed.

A run lives in `<run_dir>/<name>/`: the resolved config, provenance (package version, git commit), `log.jsonl`
(and TensorBoard), `checkpoints/last.pt` plus the latest numbered ones, and `val/` reports. A checkpoint holds all that
resuming needs (model, optimizer, scheduler, scaler, step, RNG states, config), so rerunning the same command continues
exactly where the last checkpoint left off; on CPU in deterministic mode the loss trace is the uninterrupted one's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from obtoolkit.config import dump_yaml, to_mapping
from obtoolkit.errors import ConfigError
from obtoolkit.fileio import atomic_path, atomic_write_text
from obtoolkit.metrics import DEPTH_PRESETS
from obtoolkit.provenance import git_sha, package_version
from training import distributed
from training.augment import AugmentConfig
from training.checkpoints import CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION, read_model_checkpoint
from training.config import TrainConfig
from training.data import DataConfig, ObHypersimDataset, Sample
from training.evaluate import EvalOptions, evaluate_model, write_evaluation
from training.losses import OBDCL, BoundaryLoss, ModotLoss, SILogLoss
from training.models import build_modot, get_variant
from training.run_log import RunLog
from training.sampler import EpochSampler

LAST = "last.pt"


@dataclasses.dataclass
class TrainState:
    step: int = 0
    nonfinite_total: int = 0
    nonfinite_streak: int = 0
    overflow_total: int = 0
    skipped_samples: int = 0


def poly_lr_factor(step: int, total_steps: int, power: float, end_ratio: float) -> float:
    """Polynomial decay from 1 to end_ratio over total_steps (then flat): the recipe's schedule, as a factor."""
    progress = min(step, total_steps) / max(total_steps, 1)
    return (1.0 - end_ratio) * (1.0 - progress) ** power + end_ratio


# ---------------------------------------------------------------------------------------------------------- building


def data_config(config: TrainConfig, *, train: bool) -> DataConfig:
    section = config.data
    augment = AugmentConfig(crop_hw=section.crop_hw, hflip=section.hflip, photometric=section.photometric) \
        if train else None
    return DataConfig(
        root=section.root, manifest=section.manifest, split=section.train_split if train else section.val_split,
        split_list=section.train_list if train else section.val_list, depth=section.depth,
        depth_scale=section.depth_scale, target=section.target, camera_csv=section.camera_csv,
        on_error=section.on_error, augment=augment,
    )


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


def build_loss(config: TrainConfig, ssr: bool) -> ModotLoss:
    section = config.loss
    obdcl = None
    if section.obdcl:
        obdcl = OBDCL(disc_weight=section.obdcl_weight, smooth_weight=section.obdcl_smooth_weight,
                      start_step=section.obdcl_start_step, margin=section.obdcl_margin,
                      combine=section.obdcl_combine, padding=section.obdcl_padding)
    boundary = BoundaryLoss(section.boundary_map_weights, section.negative_scale, section.boundary_weight,
                            mask_invalid=section.boundary_mask_invalid)
    del ssr  # SSR has one OB map: BoundaryLoss weighs a single map with 1, as the official code
    return ModotLoss(SILogLoss(section.variance_focus, section.depth_weight), boundary, obdcl)


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    section = config.optim
    parameters = [p for p in model.parameters() if p.requires_grad]
    kind = torch.optim.AdamW if section.optimizer == "adamw" else torch.optim.Adam
    return kind(parameters, lr=section.lr, betas=section.betas, eps=section.eps, weight_decay=section.weight_decay)


# ------------------------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, model: nn.Module, optimizer, scheduler, scaler, state: TrainState,
                    config: TrainConfig) -> Path:
    """Everything resuming needs, in our model-checkpoint format (loadable by `load_model_checkpoint`)."""
    payload = {
        "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION,
        "variant": config.model.variant, "max_depth": float(config.model.max_depth),
        "depth_unit_m": float(config.data.depth_scale), "model": _unwrap(model).state_dict(),
        "extra": {"step": state.step, "config": json.dumps(to_mapping(config)), "package_version": package_version()},
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
        "train_state": dataclasses.asdict(state), "rng": _rng_states(),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def config_changes(path: Path, payload: dict, config: TrainConfig) -> list[str]:
    """`section.key: old -> new` for each setting that differs from the checkpoint's run.

    A resumed run may change how it runs (more steps, other intervals, threads, a moved data root), not what it
    trains: a different `model` section is an error naming the checkpoint.
    """
    stored = json.loads(payload["extra"]["config"])
    current = to_mapping(config)
    changes = [f"{section}.{key}: {old!r} -> {current[section].get(key)!r}"
               for section, values in stored.items() if isinstance(values, dict)
               for key, old in values.items() if current.get(section, {}).get(key) != old]
    model_changes = [change for change in changes if change.startswith("model.")]
    if model_changes:
        raise ConfigError(f"{path}: this run's checkpoint was trained with another model ({'; '.join(model_changes)});"
                          " resume with its settings or start a new run (another `name` or `run_dir`)")
    return changes


def load_checkpoint(path: Path, model: nn.Module, optimizer, scheduler, scaler,
                    config: TrainConfig | None = None) -> tuple[TrainState, list[str]]:
    """Restore a run from `path`; returns its state and the settings changed since (see `config_changes`)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    changes = config_changes(path, payload, config) if config is not None else []
    _unwrap(model).load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    torch.set_rng_state(payload["rng"]["torch"])
    if "cuda" in payload["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng"]["cuda"])
    return TrainState(**payload["train_state"]), changes


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def parameter_digest(model: nn.Module) -> str:
    """A hash of every parameter (to check that distributed processes agree). Buffers are left out: BatchNorm
    running statistics follow each process's own batches between DDP's broadcasts at the start of each forward."""
    digest = hashlib.blake2b(digest_size=12)
    for name, tensor in sorted(_unwrap(model).named_parameters()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------- the run


def train(config: TrainConfig) -> Path:
    """Train (or resume) the configured run; returns its folder."""
    dist = distributed.setup(config.runtime.device)
    try:
        return _train(config, dist)
    finally:
        distributed.teardown(dist)


def _train(config: TrainConfig, dist: distributed.Distributed) -> Path:
    runtime, schedule = config.runtime, config.schedule
    torch.manual_seed(runtime.seed)
    if runtime.threads is not None:
        torch.set_num_threads(runtime.threads)
    if runtime.deterministic:
        torch.use_deterministic_algorithms(True)
    run_dir = config.output_dir

    train_set = ObHypersimDataset(data_config(config, train=True), seed=runtime.seed)
    sampler = EpochSampler(len(train_set), schedule.batch_size, seed=runtime.seed, rank=dist.rank,
                           world_size=dist.world_size)
    # The loader gets its own generator: starting an iterator draws a seed, which must not move the global RNG that
    # drop-path uses (a resumed run starts one more iterator than an uninterrupted one).
    loader = DataLoader(train_set, batch_size=schedule.batch_size, sampler=sampler, drop_last=True,
                        num_workers=config.data.num_workers, worker_init_fn=_one_thread,
                        pin_memory=dist.device.type == "cuda",
                        generator=torch.Generator().manual_seed(runtime.seed))
    model = build_model(config).to(dist.device)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ssr = get_variant(config.model.variant).ssr
    loss_fn = build_loss(config, ssr)
    optimizer = build_optimizer(model, config)
    total_steps = schedule.schedule_steps or schedule.max_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: poly_lr_factor(
        step, total_steps, config.optim.power, config.optim.end_lr_ratio))
    use_fp16 = runtime.amp == "fp16" and dist.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_fp16)
    state, changes = TrainState(), []
    last = run_dir / "checkpoints" / LAST
    if last.is_file():
        state, changes = load_checkpoint(last, model, optimizer, scheduler, scaler, config)
    if dist.is_main:  # after the checkpoint check, so that a refused resume leaves the run's files as they were
        _write_run_files(run_dir, config)
    distributed.barrier(dist)
    if dist.enabled:
        if runtime.sync_batchnorm and dist.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif runtime.sync_batchnorm and dist.is_main:
            tqdm.write("runtime.sync_batchnorm: SyncBatchNorm needs CUDA; BatchNorm stays per process on the CPU")
        model = DistributedDataParallel(model, device_ids=[dist.local_rank] if dist.device.type == "cuda" else None)
    log = RunLog(run_dir, enabled=dist.is_main, tensorboard=runtime.tensorboard, wandb_project=runtime.wandb_project,
                 config=to_mapping(config))
    if dist.is_main:
        log.write("start", state.step, {"world_size": dist.world_size, "device": str(dist.device),
                                        "train_frames": len(train_set), "resumed": state.step > 0,
                                        "changed_since_checkpoint": "; ".join(changes)})
        if changes:
            tqdm.write(f"resuming {last} at step {state.step} with changed settings: {'; '.join(changes)}")
    _loop(config, dist, model, loss_fn, optimizer, scheduler, scaler, state, loader, sampler, train_set, log)
    digest = parameter_digest(model)
    log.write("end", state.step, {"rank": dist.rank, "parameters": digest, "nonfinite": state.nonfinite_total})
    if dist.enabled:  # every process records its parameter digest: they must agree
        gathered = [None] * dist.world_size
        torch.distributed.all_gather_object(gathered, digest)
        log.write("ranks", state.step, {"digests": ",".join(gathered), "agree": len(set(gathered)) == 1})
    log.close()
    return run_dir


def _loop(config, dist, model, loss_fn, optimizer, scheduler, scaler, state, loader, sampler, train_set, log):
    runtime, schedule = config.runtime, config.schedule
    epoch, batch_in_epoch = divmod(state.step, sampler.batches_per_epoch)
    bar = tqdm(total=schedule.max_steps, initial=state.step, unit="step", desc="train",
               disable=not (runtime.progress and dist.is_main))
    autocast_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(runtime.amp)
    use_autocast = autocast_dtype is not None and dist.device.type == "cuda"
    started = time.perf_counter()
    while state.step < schedule.max_steps:
        sampler.set_position(epoch, batch_in_epoch)
        train_set.set_epoch(epoch)
        for batch in loader:
            batch = Sample(*(t.to(dist.device, non_blocking=True) for t in batch))
            state.skipped_samples += int(batch.skipped.sum())
            images = batch.image.to(memory_format=torch.channels_last) if runtime.channels_last else batch.image
            with torch.autocast(dist.device.type, dtype=autocast_dtype or torch.float32, enabled=use_autocast):
                out = model(images)
            terms = loss_fn(out.depth, out.boundary_logits, batch.depth, batch.valid, batch.boundary, state.step)
            total = sum(terms.values())
            terms = {k: v.detach() for k, v in terms.items()}
            grad_norm = _optimizer_step(config, dist, model, optimizer, scaler, total, state)
            scheduler.step()
            state.step += 1
            bar.update(1)
            if state.step % schedule.log_every == 0 or state.step == schedule.max_steps:
                rate = schedule.batch_size * dist.world_size * schedule.log_every / (time.perf_counter() - started)
                started = time.perf_counter()
                log.write("train", state.step, {"loss": total.detach(), **{f"loss_{k}": v for k, v in terms.items()},
                                                "lr": scheduler.get_last_lr()[0], "grad_norm": grad_norm,
                                                "images_per_s": rate, "nonfinite_total": state.nonfinite_total,
                                                "overflow_total": state.overflow_total,
                                                "skipped_samples": state.skipped_samples})
                bar.set_postfix(loss=f"{float(total.detach()):.4f}")
            if state.step % schedule.val_every == 0 or state.step == schedule.max_steps:
                _validate(config, dist, model, state, log)
            if state.step % schedule.checkpoint_every == 0 or state.step == schedule.max_steps:
                _checkpoint(config, dist, model, optimizer, scheduler, scaler, state)
            if state.step >= schedule.max_steps:
                break
        epoch, batch_in_epoch = epoch + 1, 0
    bar.close()


def _optimizer_step(config, dist, model, optimizer, scaler, total, state: TrainState) -> float:
    """Backward and update, or skip the batch (on every process) when the loss is not finite somewhere."""
    optimizer.zero_grad(set_to_none=True)
    if not distributed.all_true(bool(torch.isfinite(total.detach()).item()), dist):
        state.nonfinite_total += 1
        state.nonfinite_streak += 1
        if state.nonfinite_streak >= config.runtime.max_nonfinite:
            raise RuntimeError(f"step {state.step}: {state.nonfinite_streak} consecutive non-finite losses; stopping "
                               "(lower the learning rate, check the data, or raise runtime.max_nonfinite)")
        return float("nan")
    state.nonfinite_streak = 0
    scaler.scale(total).backward()
    grad_norm = float("nan")
    clip = config.optim.grad_clip
    if clip is not None and (config.runtime.amp != "none" or not config.optim.clip_with_amp_only):
        scaler.unscale_(optimizer)
        parameters = [p for p in model.parameters() if p.grad is not None]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(parameters, clip))
    scale = scaler.get_scale() if scaler.is_enabled() else None
    scaler.step(optimizer)
    scaler.update()
    if scale is not None and scaler.get_scale() < scale:
        state.overflow_total += 1  # fp16 overflow: the scaler skipped this update
    return grad_norm


def _validate(config, dist, model, state, log) -> None:
    """Metrics on the validation split (never the test split), on the main process."""
    if dist.is_main:
        try:
            val_set = ObHypersimDataset(data_config(config, train=False))
        except ValueError as error:  # no validation frames in this manifest
            log.write("val", state.step, {"skipped": str(error)})
        else:
            result = evaluate_model(_unwrap(model), val_set, device=dist.device,
                                    depth_unit_m=config.data.depth_scale,
                                    options=EvalOptions(depth=DEPTH_PRESETS[config.data.depth_eval],
                                                        max_frames=config.data.val_max_frames))
            log.write("val", state.step, result.summary())
            write_evaluation(result, config.output_dir / "val" / f"step_{state.step:07d}")
    distributed.barrier(dist)


def _checkpoint(config, dist, model, optimizer, scheduler, scaler, state) -> None:
    if dist.is_main:
        folder = config.output_dir / "checkpoints"
        numbered = save_checkpoint(folder / f"step_{state.step:07d}.pt", model, optimizer, scheduler, scaler,
                                   state, config)
        with atomic_path(folder / LAST) as tmp:
            tmp.write_bytes(numbered.read_bytes())
        for old in sorted(folder.glob("step_*.pt"))[: -config.schedule.keep_checkpoints]:
            old.unlink()
    distributed.barrier(dist)


def _write_run_files(run_dir: Path, config: TrainConfig) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_yaml(config))
    provenance = {"package_version": package_version(), "git_sha": git_sha(), "torch": torch.__version__}
    atomic_write_text(run_dir / "provenance.json", json.dumps(provenance, indent=1) + "\n")


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)

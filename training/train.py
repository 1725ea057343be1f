"""`obh train`: the MoDOT recipe as one object (setup, train, validate, save), resumable and distributed.

A run lives in `<run_dir>/<name>/`: the resolved config, provenance (package version, git commit), `log.jsonl`
(and TensorBoard), `checkpoints/last.pt` (a hard link to the newest numbered one) plus the latest numbered ones, and
`val/` reports. A checkpoint holds all that resuming needs (model, optimizer, scheduler, scaler, step, counters, RNG
states, config), so rerunning the same command continues exactly where the last checkpoint left off; on CPU in
deterministic mode the parameters are bit-identical to an uninterrupted run's.

The device is never waited for between log steps: batches arrive from loader workers that live for the whole run
(pinned memory, asynchronous copies), the finite-loss check and the counters stay on the device, and a step with a
non-finite loss or gradients is skipped by the fused optimizer itself. Validation reads the device once
(`training.validation`); the exact boundary benchmark never runs in the loop.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from obtoolkit.config import dump_yaml, to_mapping
from obtoolkit.errors import ConfigError
from obtoolkit.fileio import atomic_write_text, remove_stale_temporaries
from obtoolkit.provenance import git_sha, package_version
from training import distributed
from training.build import (
    build_loss,
    build_model,
    build_optimizer,
    build_scheduler,
    eval_preset,
    frame_dataset,
    model_options,
    validation_dataset,
)
from training.checkpoints import find_resume_checkpoint, link_checkpoint, read_resume_checkpoint, write_checkpoint
from training.config import TrainConfig
from training.config_checks import check_train_config, check_train_frames
from training.data import Sample
from training.evaluate import one_thread
from training.inference import autocast
from training.run_log import RunLog, drop_records_after
from training.sampler import EpochSampler
from training.threads import ThreadGovernor, default_threads
from training.validation import Validator

LAST = "last.pt"


@dataclasses.dataclass
class TrainState:
    """What the trainer counts (saved in checkpoints): optimizer steps taken, losses that were not finite (in all,
    and in a row now), updates skipped for non-finite gradients with a finite loss (fp16 overflow), and data
    samples replaced by the next good one."""

    step: int = 0
    nonfinite_total: int = 0
    nonfinite_streak: int = 0
    overflow_total: int = 0
    skipped_samples: int = 0


class DeviceCounters:
    """The per-step counters of `TrainState`, kept on the device between log steps (read once per log step)."""

    def __init__(self, state: TrainState, device: torch.device):
        def tensor(value: int) -> torch.Tensor:
            return torch.tensor(value, dtype=torch.int64, device=device)

        self.nonfinite_total, self.overflow_total = tensor(state.nonfinite_total), tensor(state.overflow_total)
        self.streak, self.worst_streak = tensor(state.nonfinite_streak), tensor(state.nonfinite_streak)

    def update(self, loss_bad: torch.Tensor, grads_bad: torch.Tensor) -> None:
        """One step: loss_bad, grads_bad are bool scalars on the device."""
        self.nonfinite_total += loss_bad
        self.overflow_total += grads_bad & ~loss_bad
        self.streak = (self.streak + 1) * loss_bad
        self.worst_streak = torch.maximum(self.worst_streak, self.streak)


class TrainRecipe:
    """The MoDOT training recipe: `setup()`, then `train()` (which validates and saves on schedule), `cleanup()`.

    Its state lives on the object: the distributed context, data, model, loss, optimizer, scheduler, scaler, the
    counters (`state`), the run log and the validator.
    """

    def __init__(self, config: TrainConfig):
        self.config = config
        self.run_dir = config.output_dir
        self.validator: Validator | None = None
        self.log: RunLog | None = None

    # ------------------------------------------------------------------------------------------------------ setup

    def setup(self) -> None:
        config, runtime = self.config, self.config.runtime
        check_train_config(config)  # before anything is read, built or written
        self.dist = distributed.setup(runtime.device)
        self.device = self.dist.device
        torch.manual_seed(runtime.seed)
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        self.governor = ThreadGovernor(runtime.threads or default_threads(local_processes),
                                       adapt=runtime.adapt_threads and not runtime.deterministic)
        if runtime.deterministic:
            torch.use_deterministic_algorithms(True)
        self.train_set = frame_dataset(config, train=True, seed=runtime.seed)
        check_train_frames(config, self.train_set, self.dist.world_size)
        _check_training_data(self.train_set, config)
        self.sampler = EpochSampler(len(self.train_set), config.schedule.batch_size, seed=runtime.seed,
                                    rank=self.dist.rank, world_size=self.dist.world_size)
        self.model = build_model(config).to(self.device)
        if runtime.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_fn = build_loss(config)
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=runtime.amp == "fp16" and self.device.type == "cuda")
        self.state, changes = TrainState(), []
        if self.dist.is_main and (self.run_dir / "checkpoints").is_dir():
            remove_stale_temporaries(self.run_dir / "checkpoints")  # a killed writer's, never anyone else's
        resume = find_resume_checkpoint(self.run_dir / "checkpoints", LAST)
        if resume is not None:
            changes = self.load_checkpoint(resume.path, resume.payload)
        if self.dist.is_main:  # after the checkpoint check: a refused resume leaves the run's files as they were
            _write_run_files(self.run_dir, config)
            drop_records_after(self.run_dir, self.state.step)  # steps replayed from here are logged once
        distributed.barrier(self.dist)
        self._wrap_distributed()
        self.log = RunLog(self.run_dir, enabled=self.dist.is_main, tensorboard=runtime.tensorboard,
                          wandb_project=runtime.wandb_project, config=to_mapping(config), resumed_step=self.state.step)
        self.log.write_config(self.state.step)
        self._setup_validation()
        self.loader = self._train_loader()
        if self.dist.is_main:
            self.log.write("start", self.state.step, {
                "world_size": self.dist.world_size, "device": str(self.device), "threads": self.governor.threads,
                "train_frames": len(self.train_set), "resumed": self.state.step > 0,
                "changed_since_checkpoint": "; ".join(changes),
                "unreadable_checkpoints": "; ".join(resume.unreadable if resume else [])})
            if resume is not None and resume.path.name != LAST:
                what = f"{'; '.join(resume.unreadable)} unreadable" if resume.unreadable else f"no {LAST}"
                tqdm.write(f"{resume.path.parent}: {what}; resuming from {resume.path.name} (step {self.state.step})")
            if changes:
                tqdm.write(f"resuming {resume.path} at step {self.state.step} with changed settings: "
                           f"{'; '.join(changes)}")

    def _wrap_distributed(self) -> None:
        if not self.dist.enabled:
            return
        if self.config.runtime.sync_batchnorm and self.device.type == "cuda":
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        elif self.config.runtime.sync_batchnorm and self.dist.is_main:
            tqdm.write("runtime.sync_batchnorm: SyncBatchNorm needs CUDA; BatchNorm stays per process on the CPU")
        device_ids = [self.dist.local_rank] if self.device.type == "cuda" else None
        self.model = DistributedDataParallel(self.model, device_ids=device_ids)

    def _setup_validation(self) -> None:
        """The validator (main process only), or the reason there is none (no validation frames)."""
        self.no_validation = None
        if not self.dist.is_main:
            return
        try:
            dataset = validation_dataset(self.config)
        except ValueError as error:  # no validation frames in this manifest
            self.no_validation = str(error)
            return
        preset = eval_preset(self.config)
        self.validator = Validator(
            dataset, section=self.config.validation, device=self.device, amp=self.config.runtime.amp,
            depth=preset.depth, boundary=preset.boundary_options(), depth_unit_m=self.config.data.depth_scale,
            eval_unit_m=preset.depth_unit_m, out_dir=self.run_dir / "val", log=self.log, governor=self.governor)

    def _train_loader(self) -> DataLoader:
        """One loader for the whole run, starting at the resume position: its workers start once and prefetch
        across epochs. It has its own generator: starting it must not move the global RNG that drop-path uses."""
        self.sampler.set_position(*divmod(self.state.step, self.sampler.batches_per_epoch))
        workers = self.config.data.num_workers
        return DataLoader(self.train_set, batch_size=self.config.schedule.batch_size, sampler=self.sampler,
                          drop_last=True, num_workers=workers, worker_init_fn=one_thread,
                          pin_memory=self.device.type == "cuda", persistent_workers=workers > 0,
                          generator=torch.Generator().manual_seed(self.config.runtime.seed))

    # ------------------------------------------------------------------------------------------------------ train

    def train(self) -> None:
        """Steps until `schedule.max_steps`, logging, validating and saving on schedule; then the end records."""
        schedule = self.config.schedule
        counters = DeviceCounters(self.state, self.device)
        bar = tqdm(total=schedule.max_steps, initial=self.state.step, unit="step", desc="train",
                   disable=not (self.config.runtime.progress and self.dist.is_main))
        window = (time.perf_counter(), self.state.step)
        batches = iter(self.loader)
        self.governor.poll()  # measured over the set-up: the first steps already run on the free cores
        while self.state.step < schedule.max_steps:
            batch = next(batches)
            self.state.skipped_samples += int(batch.skipped.sum())  # a CPU tensor: no device synchronisation
            total, terms, grad_norm = self._step(batch.tensors_to(self.device), counters)
            self.state.step += 1
            bar.update(1)
            self.governor.poll()
            step = self.state.step
            last = step == schedule.max_steps
            if step % schedule.log_every == 0 or last:
                window = self._log_step(total, terms, grad_norm, counters, window, bar)
            if step % schedule.val_every == 0 or last:
                self.validate()
            if step % schedule.checkpoint_every == 0 or last:
                self.save_checkpoint(counters)
        bar.close()
        if self.validator is not None:
            self.validator.finish(self._unwrapped(), self.state.step)
        self._end_records()

    def _step(self, batch: Sample, counters: DeviceCounters) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Forward, loss, backward and update; a non-finite loss or gradient skips the update on the device."""
        runtime = self.config.runtime
        images = batch.image.to(memory_format=torch.channels_last) if runtime.channels_last else batch.image
        with autocast(self.device, runtime.amp):
            out = self.model(images)
        terms = self.loss_fn(out.depth, out.boundary_logits, batch.depth, batch.valid, batch.boundary,
                             self.state.step, boundary_valid=batch.boundary_valid)
        total = sum(terms.values())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        grad_norm = self._unscale_and_clip()
        loss_bad, grads_bad = ~torch.isfinite(total.detach()), ~torch.isfinite(grad_norm)
        found_inf = (loss_bad | grads_bad).float()
        if self.dist.enabled:  # every process skips the same steps
            torch.distributed.all_reduce(found_inf, op=torch.distributed.ReduceOp.MAX)
        if self.scaler.is_enabled():
            self.scaler.step(self.optimizer)  # hands its own found_inf to the fused optimizer
            self.scaler.update()
        else:
            self.optimizer.found_inf, self.optimizer.grad_scale = found_inf, None  # read by fused Adam(W).step
            self.optimizer.step()
            del self.optimizer.found_inf, self.optimizer.grad_scale
        self.scheduler.step()
        counters.update(loss_bad, grads_bad)
        return total.detach(), {k: v.detach() for k, v in terms.items()}, grad_norm

    def _unscale_and_clip(self) -> torch.Tensor:
        """The gradients' global norm (unscaled), after clipping them when the recipe says so."""
        parameters = [p for p in self.model.parameters() if p.grad is not None]
        if self.scaler.is_enabled():
            self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
        optim = self.config.optim
        if optim.grad_clip is not None and (self.config.runtime.amp != "none" or not optim.clip_with_amp_only):
            torch.nn.utils.clip_grads_with_norm_(parameters, optim.grad_clip, norm)
        return norm

    def _log_step(self, total, terms, grad_norm, counters: DeviceCounters, window, bar) -> tuple[float, int]:
        """The `train` record: one transfer from the device. Stops the run after too many non-finite losses."""
        values = torch.stack([total.double(), *(t.double() for t in terms.values()), grad_norm.double(),
                              *(c.double() for c in (counters.nonfinite_total, counters.overflow_total,
                                                     counters.streak, counters.worst_streak))]).tolist()
        loss, *term_values, norm, nonfinite, overflow, streak, worst = values
        self.state.nonfinite_total, self.state.overflow_total = int(nonfinite), int(overflow)
        self.state.nonfinite_streak = int(streak)
        counters.worst_streak = counters.streak.clone()
        step, (started, first_step) = self.state.step, window
        rate = ((step - first_step) * self.config.schedule.batch_size * self.dist.world_size /
                (time.perf_counter() - started))
        self.log.write("train", step, {
            "loss": loss, **{f"loss_{k}": v for k, v in zip(terms, term_values, strict=True)},
            "lr": self.scheduler.get_last_lr()[0], "grad_norm": norm, "images_per_s": rate,
            "nonfinite_total": self.state.nonfinite_total, "overflow_total": self.state.overflow_total,
            "skipped_samples": self.state.skipped_samples, "threads": self.governor.threads})
        bar.set_postfix(loss=f"{loss:.4f}")
        if worst >= self.config.runtime.max_nonfinite:
            raise RuntimeError(f"step {step}: {int(worst)} consecutive non-finite losses; stopping (lower the learning "
                               "rate, check the data, or raise runtime.max_nonfinite)")
        if self.validator is not None:
            self.validator.poll()
        return time.perf_counter(), step

    # --------------------------------------------------------------------------------------------------- validate

    def validate(self) -> None:
        """The monitor on the validation subset (main process; the others wait), never the test split."""
        if self.validator is not None:
            self.validator.run(self._unwrapped(), self.state.step)
        elif self.no_validation is not None:
            self.log.write("val", self.state.step, {"skipped": self.no_validation})
        distributed.barrier(self.dist)

    # ------------------------------------------------------------------------------------------------------- save

    def save_checkpoint(self, counters: DeviceCounters) -> None:
        """checkpoints/step_N.pt with all that resuming needs, `last.pt` linked to it, older ones pruned."""
        self.state.nonfinite_total = int(counters.nonfinite_total)
        self.state.overflow_total = int(counters.overflow_total)
        self.state.nonfinite_streak = int(counters.streak)
        if self.dist.is_main:
            folder = self.run_dir / "checkpoints"
            config = self.config
            resume = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                      "scaler": self.scaler.state_dict(), "train_state": dataclasses.asdict(self.state),
                      "rng": _rng_states()}
            numbered = write_checkpoint(
                folder / f"step_{self.state.step:07d}.pt", self._unwrapped().state_dict(),
                variant=config.model.variant, max_depth=config.model.max_depth, depth_unit_m=config.data.depth_scale,
                model_options=model_options(config.model), resume=resume,
                extra={"step": self.state.step, "config": json.dumps(to_mapping(config)),
                       "package_version": package_version()})
            link_checkpoint(numbered, folder / LAST)
            for old in sorted(folder.glob("step_*.pt"))[: -config.schedule.keep_checkpoints]:
                old.unlink()
        distributed.barrier(self.dist)

    def load_checkpoint(self, path: Path, payload: dict | None = None) -> list[str]:
        """Restore the run from `path` (already read: `payload`); returns the settings changed since (see
        `config_changes`)."""
        payload = read_resume_checkpoint(path) if payload is None else payload
        changes = config_changes(path, payload, self.config)
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        torch.set_rng_state(payload["rng"]["torch"])
        if "cuda" in payload["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(payload["rng"]["cuda"])
        self.state = TrainState(**payload["train_state"])
        return changes

    # -------------------------------------------------------------------------------------------------------- end

    def _end_records(self) -> None:
        digest = parameter_digest(self.model)
        self.log.write("end", self.state.step, {"rank": self.dist.rank, "parameters": digest,
                                                "nonfinite": self.state.nonfinite_total,
                                                "thread_changes": self.governor.changes})
        if self.dist.enabled:  # every process records its parameter digest: they must agree
            gathered = [None] * self.dist.world_size
            torch.distributed.all_gather_object(gathered, digest)
            self.log.write("ranks", self.state.step, {"digests": ",".join(gathered), "agree": len(set(gathered)) == 1})
        self.log.write_hparams()

    def cleanup(self) -> None:
        """Stop background workers, close the log, leave the process group (also after an error)."""
        if self.validator is not None:
            self.validator.close()
        if self.log is not None:
            self.log.close()
        if hasattr(self, "dist"):
            distributed.teardown(self.dist)

    def _unwrapped(self) -> nn.Module:
        return _unwrap(self.model)


def train(config: TrainConfig) -> Path:
    """Train (or resume) the configured run; returns its folder."""
    recipe = TrainRecipe(config)
    try:
        recipe.setup()
        recipe.train()
    finally:
        recipe.cleanup()
    return recipe.run_dir


def _check_training_data(dataset, config: TrainConfig) -> None:
    """Every task the model learns needs its ground truth in the training data (DIODE has no OB, OB-DIODE no depth).
    (The frame count and sizes: `training.config_checks.check_train_frames`.)"""
    missing = [task for task in config.model.tasks if task not in getattr(dataset, "tasks", ("depth", "boundary"))]
    if missing:
        raise ConfigError(f"data.format {config.data.format!r} has no {' or '.join(missing)} ground truth to train "
                          f"model.tasks {list(config.model.tasks)} on")


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


def parameter_digest(model: nn.Module) -> str:
    """A hash of every parameter (to check that distributed processes agree). Buffers are left out: BatchNorm
    running statistics follow each process's own batches between DDP's broadcasts at the start of each forward."""
    digest = hashlib.blake2b(digest_size=12)
    for name, tensor in sorted(_unwrap(model).named_parameters()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _write_run_files(run_dir: Path, config: TrainConfig) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_yaml(config))
    provenance = {"package_version": package_version(), "git_sha": git_sha(), "torch": torch.__version__}
    atomic_write_text(run_dir / "provenance.json", json.dumps(provenance, indent=1) + "\n")

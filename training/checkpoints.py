"""Our checkpoints: one payload builder (`checkpoint_payload`) and one reader (`read_model_checkpoint`), used by
model checkpoints, the trainer's resume checkpoints and exported models alike.

A checkpoint is a dict written atomically with `torch.save`:

    format          "ob-hypersim/modot"
    format_version  1
    variant         a key of training.models.MODOT_VARIANTS
    max_depth       depth output scale, in network depth units
    depth_unit_m    metres per network depth unit (3.05 for the paper's Hypersim recipe, 1.0 for metres)
    model_options   the network switches `build_modot` needs besides the variant (tasks, casm, ...; absent in
                    checkpoints written before they existed: the defaults)
    model           the state dict
    extra           optional metadata (plain Python values; a run's checkpoints hold step, config, package version)

A run's resume checkpoint adds what resuming needs (`RESUME_KEYS`): optimizer, scheduler, gradient scaler, the
trainer's counters and the RNG states. `load_model_checkpoint` ignores them.

An exported model (`export_model`, `obh export-model`) is a safetensors file: the weights only (no pickle: nothing in
it can run code), with the other entries as strings in its header metadata; `read_model_checkpoint` reads it too.
Official checkpoints of the authors' code convert with `training.official_checkpoints`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.fileio import atomic_path
from training.models.registry import MODOT_VARIANTS, build_modot, get_variant

CHECKPOINT_FORMAT = "ob-hypersim/modot"
CHECKPOINT_FORMAT_VERSION = 1
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "train_state", "rng")
EXPORT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class CheckpointInfo:
    """Metadata of one of our checkpoints (everything but the weights)."""

    path: Path
    variant: str
    max_depth: float
    depth_unit_m: float
    format_version: int
    extra: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)


def checkpoint_payload(state_dict: Mapping[str, torch.Tensor], *, variant: str, max_depth: float,
                       depth_unit_m: float, extra: Mapping[str, Any] | None = None,
                       resume: Mapping[str, Any] | None = None,
                       model_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The dict of a checkpoint (weights moved to the CPU); `resume` adds a run's `RESUME_KEYS` entries;
    `model_options` are plain values (tuples become lists)."""
    get_variant(variant)
    if not max_depth > 0:
        raise ValueError(f"max_depth must be positive, got {max_depth}")
    if not depth_unit_m > 0:
        raise ValueError(f"depth_unit_m must be positive, got {depth_unit_m}")
    if resume is not None and sorted(resume) != sorted(RESUME_KEYS):
        raise ValueError(f"a resume checkpoint holds exactly {', '.join(RESUME_KEYS)}; got {', '.join(resume)}")
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "variant": variant,
        "max_depth": float(max_depth),
        "depth_unit_m": float(depth_unit_m),
        "model_options": {k: list(v) if isinstance(v, tuple) else v for k, v in (model_options or {}).items()},
        "model": {k: v.detach().cpu() for k, v in state_dict.items()},
        "extra": dict(extra or {}),
        **(resume or {}),
    }


def write_checkpoint(path: str | Path, state_dict: Mapping[str, torch.Tensor], *, variant: str, max_depth: float,
                     depth_unit_m: float, extra: Mapping[str, Any] | None = None,
                     resume: Mapping[str, Any] | None = None, model_options: Mapping[str, Any] | None = None) -> Path:
    """Write `checkpoint_payload(...)` to `path` atomically; returns the path."""
    payload = checkpoint_payload(state_dict, variant=variant, max_depth=max_depth, depth_unit_m=depth_unit_m,
                                 extra=extra, resume=resume, model_options=model_options)
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            with open(tmp, "wb") as handle:  # a Python file: a failed write keeps its errno (ENOSPC) in the chain
                torch.save(payload, handle)
        except (OSError, RuntimeError) as error:
            failure = _write_failure(path, error)
            if failure is None:
                raise
            raise failure from error
    return path


class CheckpointWriteError(OBToolkitError, OSError):
    """torch could not finish writing a checkpoint and did not say why (its "unexpected pos" check)."""


def _write_failure(path: Path, error: BaseException) -> BaseException | None:
    """What to raise for a failed checkpoint write, naming the checkpoint (not its temporary): the OSError behind
    it (ENOSPC from a full disk, EDQUOT, EIO, ...), or a CheckpointWriteError for torch's own failed-write checks;
    None for anything else (a bug: re-raised as it is)."""
    cause: BaseException | None = error
    while cause is not None and not (isinstance(cause, OSError) and cause.errno is not None):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return OSError(cause.errno, cause.strerror or str(cause), str(path))
    if isinstance(error, RuntimeError) and any(text in str(error) for text in ("unexpected pos", "write failed")):
        torch_says = " ".join(str(error).split())[:200]
        return CheckpointWriteError(f"{path}: writing the checkpoint failed (torch: {torch_says}); the disk is "
                                    "probably full: free some space and run the command again, it resumes from the "
                                    "last checkpoint written")
    return None


def save_model_checkpoint(path: str | Path, model: nn.Module, *, variant: str, max_depth: float,
                          depth_unit_m: float, extra: Mapping[str, Any] | None = None,
                          model_options: Mapping[str, Any] | None = None) -> Path:
    """Write `model` in our checkpoint format, atomically; returns the path.

    `max_depth` must equal `model.max_depth`; `depth_unit_m` is metres per network depth unit (> 0).
    `extra` must hold plain Python values (it is read back with `weights_only=True`).
    """
    if getattr(model, "max_depth", max_depth) != max_depth:
        raise ValueError(f"max_depth {max_depth} differs from the model's {model.max_depth}")
    return write_checkpoint(path, model.state_dict(), variant=variant, max_depth=max_depth,
                            depth_unit_m=depth_unit_m, extra=extra, model_options=model_options)


def link_checkpoint(source: Path, alias: Path) -> Path:
    """Make `alias` (e.g. `last.pt`) the same file as `source`, atomically: a hard link (no copy, no extra disk),
    or a copy where the file system has no hard links."""
    with atomic_path(alias) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
    return alias


def read_model_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The dict of one of our checkpoints or exported models, checked for format and required keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    payload = _read_safetensors(path, map_location) if _is_safetensors(path) else _read_torch(path, map_location)
    if payload.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        raise FormatError(path, f"format_version {CHECKPOINT_FORMAT_VERSION}", repr(payload.get("format_version")))
    absent = [k for k in ("variant", "max_depth", "depth_unit_m", "model") if k not in payload]
    if absent:
        raise FormatError(path, "keys variant, max_depth, depth_unit_m and model", f"{', '.join(absent)} missing")
    if payload["variant"] not in MODOT_VARIANTS:
        raise FormatError(path, "a known MoDOT variant", repr(payload["variant"]))
    return payload


def read_resume_checkpoint(path: str | Path) -> dict[str, Any]:
    """A run's resume checkpoint (`read_model_checkpoint` plus every `RESUME_KEYS` entry), on the CPU."""
    payload = read_model_checkpoint(path)
    absent = [k for k in RESUME_KEYS if k not in payload]
    if absent or "config" not in payload["extra"]:
        raise FormatError(path, "a run's resume checkpoint (model, optimizer, scheduler, scaler, counters, RNG, "
                                "config)", f"{', '.join(absent or ['extra.config'])} missing")
    return payload


def find_resume_checkpoint(folder: str | Path, last: str = "last.pt") -> ResumePoint | None:
    """The checkpoint a run resumes from: `last` when it reads, else the newest numbered one (`step_*.pt`) that
    reads; None when the folder holds none of them (a new run).

    A file that does not read (truncated by a full disk, damaged, not a resume checkpoint) is skipped and named in
    `ResumePoint.unreadable`; a file that is the same as one already refused (`last` is a hard link to a numbered
    one) is not read twice.

    Raises:
        FormatError: there are checkpoints, but none reads; the message names each file and why.
    """
    folder = Path(folder)
    candidates = [folder / last] if (folder / last).is_file() else []
    candidates += sorted(folder.glob("step_*.pt"), reverse=True)
    refused: dict[Path, tuple[list[str], str]] = {}  # first path of a file -> (its names, why it did not read)
    for path in candidates:
        same = next((other for other in refused if path.samefile(other)), None)
        if same is not None:
            refused[same][0].append(path.name)
            continue
        try:
            payload = read_resume_checkpoint(path)
        except FormatError as error:
            refused[path] = ([path.name], error.found or error.expected)
            continue
        return ResumePoint(path, payload, [f"{' = '.join(names)} ({why})" for names, why in refused.values()])
    if refused:
        named = "; ".join(f"{' = '.join(names)} ({why})" for names, why in refused.values())
        raise FormatError(folder, "a readable checkpoint to resume from (move this folder away to start the run "
                                  "afresh)", f"no readable checkpoint: {named}")
    return None


@dataclass(frozen=True)
class ResumePoint:
    """path: the checkpoint resumed from; payload: its contents (`read_resume_checkpoint`); unreadable: the newer
    files skipped, `name (why)` each."""

    path: Path
    payload: dict[str, Any]
    unreadable: list[str]


def _read_torch(path: Path, map_location) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # re-raised with the file name
        raise FormatError(path, f"a {CHECKPOINT_FORMAT} checkpoint (torch.save file)", _one_line(error)) from error
    if not isinstance(payload, Mapping) or payload.get("format") != CHECKPOINT_FORMAT:
        found = f"keys {sorted(payload)[:8]}" if isinstance(payload, Mapping) else type(payload).__name__
        hint = " (an official MoDOT checkpoint? convert it with `obh convert-checkpoint`)" \
            if isinstance(payload, Mapping) and "model" in payload and "format" not in payload else ""
        raise FormatError(path, f"format {CHECKPOINT_FORMAT!r}", found + hint)
    return dict(payload)


def _one_line(error: BaseException) -> str:
    """`Type: first line of the message` (torch's messages run over many lines), at most 200 characters."""
    text = str(error).strip().splitlines()
    message = f"{type(error).__name__}: {text[0].split('. ')[0]}" if text else type(error).__name__
    return message if len(message) <= 200 else message[:197] + "..."


def _is_safetensors(path: Path) -> bool:
    """safetensors files start with an 8-byte header length and a JSON header; torch.save files are zip archives."""
    with open(path, "rb") as handle:
        return handle.read(9)[8:] == b"{"


def _read_safetensors(path: Path, map_location) -> dict[str, Any]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            model = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise FormatError(path, "a safetensors file", str(error)) from error
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise FormatError(path, f"safetensors metadata format {CHECKPOINT_FORMAT!r}", repr(metadata.get("format")))
    try:
        return {"format": CHECKPOINT_FORMAT, "format_version": int(metadata["format_version"]),
                "variant": metadata["variant"], "max_depth": float(metadata["max_depth"]),
                "depth_unit_m": float(metadata["depth_unit_m"]), "extra": json.loads(metadata.get("extra", "{}")),
                "model_options": json.loads(metadata.get("model_options", "{}")),
                "model": {k: v.to(map_location) for k, v in model.items()}}
    except (KeyError, ValueError) as error:
        raise FormatError(path, "metadata format_version, variant, max_depth, depth_unit_m, extra",
                          f"{type(error).__name__}: {error}") from error


def export_model(checkpoint: str | Path, out: str | Path, *, dtype: str = "float32") -> Path:
    """Write the weights of one of our checkpoints (e.g. a run's `last.pt`) as a safetensors file with its metadata
    (variant, max_depth, depth_unit_m, extra); floating-point weights are stored in `dtype`. Loadable wherever a
    checkpoint is (`load_model_checkpoint`, `obh predict`, `obh evaluate`)."""
    from safetensors.torch import save_file

    if dtype not in EXPORT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(EXPORT_DTYPES)}, got {dtype!r}")
    payload = read_model_checkpoint(checkpoint)
    weights = {k: (v.to(EXPORT_DTYPES[dtype]) if v.is_floating_point() else v).contiguous()
               for k, v in payload["model"].items()}
    metadata = {"format": CHECKPOINT_FORMAT, "format_version": str(CHECKPOINT_FORMAT_VERSION),
                "variant": payload["variant"], "max_depth": repr(payload["max_depth"]),
                "depth_unit_m": repr(payload["depth_unit_m"]),
                "model_options": json.dumps(payload.get("model_options") or {}),
                "extra": json.dumps({**payload["extra"], "exported_from": str(checkpoint), "dtype": dtype})}
    out = Path(out)
    with atomic_path(out) as tmp:
        save_file(weights, str(tmp), metadata=metadata)
        os.chmod(tmp, 0o666 & ~_umask())  # safetensors creates the file private (0600); a model is for sharing
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_model_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                          **options: Any) -> tuple[nn.Module, CheckpointInfo]:
    """Build the checkpoint's variant, load its weights strictly and return (model, info).

    The network is built with the checkpoint's `model_options`; `options` go to `build_modot` on top of them (e.g.
    `side_head_relu=False`). Keys of the file other than ours are ignored.
    """
    path = Path(path)
    payload = read_model_checkpoint(path, map_location)
    stored = dict(payload.get("model_options") or {})
    model = build_modot(payload["variant"], max_depth=payload["max_depth"], **{**stored, **options})
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise FormatError(path, f"weights of {payload['variant']}", str(error)) from error
    info = CheckpointInfo(path=path, variant=payload["variant"], max_depth=float(payload["max_depth"]),
                          depth_unit_m=float(payload["depth_unit_m"]), format_version=payload["format_version"],
                          extra=dict(payload.get("extra") or {}), model_options=stored)
    return model.to(map_location), info

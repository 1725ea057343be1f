"""Range checks of a training config, before anything runs: every value, then what the data must allow.

`from_mapping` checks keys and types; these checks add what a type cannot say (a depth scale must be positive, an
interval at least one step, a probability in [0, 1]) and what depends on the data (the crop must fit in the frames,
the split must fill one batch). Each problem is named by its key, what was expected and what was given; all the
problems of a config are reported at once, on one line, as a `ConfigError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sized
from typing import Any

from obtoolkit.errors import ConfigError
from training.config import TrainConfig

# (key, test, what was expected); None values are allowed wherever the field's type allows None.
Check = tuple[str, Callable[[Any], bool], str]


def _positive(x: Any) -> bool:
    return math.isfinite(x) and x > 0


def _non_negative(x: Any) -> bool:
    return math.isfinite(x) and x >= 0


def _unit(x: Any) -> bool:
    return math.isfinite(x) and 0 <= x <= 1


def _at_least(minimum: int) -> Callable[[Any], bool]:
    return lambda x: x >= minimum


POSITIVE, NON_NEGATIVE, UNIT = "a finite number > 0", "a finite number >= 0", "a number in [0, 1]"
CHECKS: tuple[Check, ...] = (
    ("model.max_depth", _positive, POSITIVE),
    ("model.drop_path", lambda x: math.isfinite(x) and 0 <= x < 1, "a number in [0, 1)"),
    ("model.tasks", lambda xs: 0 < len(xs) == len(set(xs)), "depth, boundary or both, each once"),
    ("model.crf_window", _at_least(1), "an integer >= 1"),
    ("data.depth_scale", _positive, POSITIVE + " (metres per network depth unit)"),
    ("data.hflip", _unit, UNIT + " (a flip probability)"),
    ("data.num_workers", _at_least(0), "an integer >= 0 (0: load in the training process)"),
    ("loss.depth_weight", _non_negative, NON_NEGATIVE),
    ("loss.variance_focus", _unit, UNIT),
    ("loss.boundary_weight", _non_negative, NON_NEGATIVE),
    ("loss.boundary_map_weights", lambda xs: len(xs) > 0 and all(_non_negative(x) for x in xs),
     "a non-empty list of finite numbers >= 0"),
    ("loss.negative_scale", _positive, POSITIVE),
    ("loss.obdcl_start_step", _at_least(0), "an integer >= 0"),
    ("loss.obdcl_weight", _non_negative, NON_NEGATIVE),
    ("loss.obdcl_smooth_weight", _non_negative, NON_NEGATIVE),
    ("loss.obdcl_margin", _non_negative, NON_NEGATIVE),
    ("optim.lr", _positive, POSITIVE),
    ("optim.end_lr_ratio", _unit, UNIT),
    ("optim.power", _non_negative, NON_NEGATIVE),
    ("optim.weight_decay", _non_negative, NON_NEGATIVE),
    ("optim.eps", _positive, POSITIVE),
    ("optim.betas", lambda xs: all(math.isfinite(x) and 0 <= x < 1 for x in xs), "two numbers in [0, 1)"),
    ("optim.grad_clip", _positive, POSITIVE + " (or null: no clipping)"),
    ("schedule.batch_size", _at_least(1), "an integer >= 1"),
    ("schedule.max_steps", _at_least(1), "an integer >= 1 (the run's last step)"),
    ("schedule.schedule_steps", _at_least(1), "an integer >= 1 (or null: max_steps)"),
    ("schedule.val_every", _at_least(1), "an integer >= 1 (steps between validations)"),
    ("schedule.checkpoint_every", _at_least(1), "an integer >= 1 (steps between checkpoints)"),
    ("schedule.log_every", _at_least(1), "an integer >= 1 (steps between log records)"),
    ("schedule.keep_checkpoints", _at_least(1), "an integer >= 1 (numbered checkpoints kept)"),
    ("validation.frames", _at_least(1), "an integer >= 1 (or null: the whole split)"),
    ("validation.batch_size", _at_least(1), "an integer >= 1"),
    ("validation.num_workers", _at_least(0), "an integer >= 0"),
    ("validation.exact_workers", _at_least(0), "an integer >= 0"),
    ("validation.exact_wait_s", _non_negative, NON_NEGATIVE + " (seconds)"),
    ("validation.pictures", _at_least(0), "an integer >= 0"),
    ("runtime.threads", _at_least(1), "an integer >= 1 (or null: this process's share of the cores)"),
    ("runtime.seed", lambda x: 0 <= x < 2**63, "an integer in [0, 2**63)"),
    ("runtime.max_nonfinite", _at_least(1), "an integer >= 1"),
)


def config_problems(config: TrainConfig) -> list[str]:
    """`key: expected ..., got ...` for every value of `config` out of its range (empty when all are fine)."""
    problems = []
    for key, test, expected in CHECKS:
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value is not None and not test(value):
            problems.append(f"{key}: expected {expected}, got {value!r}")
    crop = config.data.crop_hw
    if crop is not None and min(crop) < 1:
        problems.append(f"data.crop_hw: expected two integers >= 1 (height, width) or null, got {list(crop)!r}")
    device = config.runtime.device
    if device not in ("auto", "cpu", "cuda") and not (device.startswith("cuda:") and device[5:].isdigit()):
        problems.append(f"runtime.device: expected auto, cpu, cuda or cuda:N, got {device!r}")
    return problems


def check_train_config(config: TrainConfig) -> None:
    """Raise one ConfigError naming every out-of-range value of `config` (nothing is read or built)."""
    problems = config_problems(config)
    if problems:
        raise ConfigError(f"training config: {'; '.join(problems)}")


def check_train_frames(config: TrainConfig, dataset: Sized, world_size: int) -> None:
    """What the training frames of `dataset` must allow: one batch per process (batches are whole: the loader drops
    the last partial one) and, with `data.crop_hw`, frames at least as large as the crop (sizes from the manifest's
    width and height columns, `dataset.records`; rows without them, and datasets without manifest records, are not
    checked here: their first sample is).

    Raises:
        ConfigError: naming the split, the counts or the smallest frame, and the keys involved.
    """
    batch = config.schedule.batch_size
    where = f"data.train_split {config.data.train_split!r} of {config.data.root}"
    if config.data.train_list is not None:
        where = f"the frames of data.train_list {config.data.train_list}"
    if len(dataset) < batch * world_size:
        raise ConfigError(f"{where} holds {len(dataset)} frame(s): too few for one batch of schedule.batch_size "
                          f"{batch} on {world_size} process(es) (each step needs {batch * world_size})")
    if config.data.crop_hw is None:
        return
    crop_h, crop_w = config.data.crop_hw
    small = [r for r in _sized(getattr(dataset, "records", ())) if r.height < crop_h or r.width < crop_w]
    if small:
        first = min(small, key=lambda r: (r.height * r.width, r.scene, r.camera, r.frame))
        raise ConfigError(f"data.crop_hw {[crop_h, crop_w]} is larger than {len(small)} frame(s) of {where} "
                          f"(the smallest: {first.scene}/{first.camera}/{first.frame:04d}, {first.height}x"
                          f"{first.width} (height x width)); expected a crop no larger than every frame")


def _sized(records: Iterable[Any]) -> Iterable[Any]:
    return (r for r in records if getattr(r, "height", None) is not None and getattr(r, "width", None) is not None)

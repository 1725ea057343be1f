"""The training config's range checks: every checked key exists, the defaults and the shipped configs pass, and
the boundaries of each range are where the messages say."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from obtoolkit.errors import ConfigError
from training.config import TrainConfig, load_train_config
from training.config_checks import CHECKS, check_train_config, config_problems

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.yaml"))


def with_value(key: str, value) -> TrainConfig:
    section, name = key.split(".")
    config = TrainConfig()
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **{name: value})})


def test_every_checked_key_is_a_field_of_the_config():
    for key, _, _ in CHECKS:
        section, name = key.split(".")
        assert name in {f.name for f in dataclasses.fields(getattr(TrainConfig(), section))}, key


def test_the_defaults_pass():
    assert config_problems(TrainConfig()) == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_shipped_configs_pass(path):
    load_train_config(path)  # range-checked when built


@pytest.mark.parametrize(("key", "good", "bad"), [
    ("data.hflip", [0.0, 1.0], [-0.01, 1.01, float("nan")]),
    ("data.depth_scale", [1e-6, 3.05], [0.0, -1.0, float("inf")]),
    ("schedule.max_steps", [1], [0, -5]),
    ("schedule.keep_checkpoints", [1], [0]),
    ("data.num_workers", [0], [-1]),
    ("runtime.threads", [1, None], [0]),
    ("optim.betas", [(0.0, 0.999)], [(0.9, 1.0)]),
    ("model.drop_path", [0.0, None], [1.0]),
    ("model.tasks", [("depth",), ("depth", "boundary")], [(), ("depth", "depth")]),
])
def test_range_boundaries(key, good, bad):
    for value in good:
        assert config_problems(with_value(key, value)) == [], (key, value)
    for value in bad:
        problems = config_problems(with_value(key, value))
        assert len(problems) == 1 and problems[0].startswith(f"{key}: expected"), (key, value, problems)


def test_crop_and_device_are_checked():
    config = dataclasses.replace(TrainConfig(), data=dataclasses.replace(TrainConfig().data, crop_hw=(0, 32)),
                                 runtime=dataclasses.replace(TrainConfig().runtime, device="gpu"))
    with pytest.raises(ConfigError, match=r"data\.crop_hw: .*; runtime\.device: expected auto, cpu, cuda or cuda:N"):
        check_train_config(config)


def test_overrides_are_checked_when_the_config_is_loaded():
    with pytest.raises(ConfigError, match=r"schedule\.checkpoint_every: expected an integer >= 1"):
        load_train_config(None, ["schedule.checkpoint_every=0"])

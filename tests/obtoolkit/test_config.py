from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import pytest

from obtoolkit.config import config_hash, dump_yaml, from_mapping, load_config, parse_overrides, to_mapping
from obtoolkit.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Inner:
    tau_m: float = 0.025
    mode: Literal["strict", "zero_order"] = "strict"
    classes: frozenset[int] = frozenset({1, 2, 22})


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str
    steps: int = 10
    weights: tuple[float, ...] = (0.1, 0.3)
    out: Path | None = None
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_defaults_and_nested_values():
    cfg = from_mapping(Outer, {"name": "a", "inner": {"tau_m": 1, "classes": [3]}})
    assert cfg.inner.tau_m == 1.0 and isinstance(cfg.inner.tau_m, float)
    assert cfg.inner.classes == frozenset({3})
    assert cfg.weights == (0.1, 0.3)


def test_unknown_key_is_an_error_naming_the_path():
    with pytest.raises(ConfigError, match="inner.tua_m"):
        from_mapping(Outer, {"name": "a", "inner": {"tua_m": 1}}, source="x.yaml")


def test_missing_required_key():
    with pytest.raises(ConfigError, match="missing required key name"):
        from_mapping(Outer, {})


@pytest.mark.parametrize(
    "data",
    [{"name": 3}, {"name": "a", "steps": 1.5}, {"name": "a", "steps": True}, {"name": "a", "inner": {"mode": "x"}}],
)
def test_wrong_types_are_errors(data):
    with pytest.raises(ConfigError):
        from_mapping(Outer, data)


def test_overrides_and_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: run\ninner:\n  mode: zero_order\n")
    cfg = load_config(Outer, path, ["inner.tau_m=0.5", "weights=[1, 2, 3]", "out=/x"])
    assert cfg.inner.mode == "zero_order" and cfg.inner.tau_m == 0.5
    assert cfg.weights == (1.0, 2.0, 3.0) and cfg.out == Path("/x")
    again = from_mapping(Outer, to_mapping(cfg))
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)
    assert "zero_order" in dump_yaml(cfg)


def test_override_syntax_errors():
    with pytest.raises(ConfigError):
        parse_overrides(["noequals"])
    with pytest.raises(ConfigError):
        load_config(Outer, None, ["name=a", "bogus.key=1"])


def test_hash_depends_on_values():
    assert config_hash(Outer(name="a")) != config_hash(Outer(name="b"))


def test_float_literals_without_a_dot_are_floats():
    cfg = load_config(Inner, None, ["tau_m=1e-4"])
    assert cfg.tau_m == 1e-4
    with pytest.raises(ConfigError, match="tau_m"):
        load_config(Inner, None, ["tau_m=abc"])

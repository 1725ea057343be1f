"""Frozen-dataclass configuration loaded from YAML, with `section.key=value` overrides.

An unknown key, a missing required key or a value of the wrong type is a `ConfigError` that names the source
(file or override) and the key path. Nothing here rewrites a value the user gave.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from obtoolkit.errors import ConfigError

T = TypeVar("T")


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, *, source: str = "<config>", prefix: str = "") -> T:
    """Build the frozen dataclass `cls` from a mapping, checking keys and types recursively."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {prefix or 'top level'} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"valid keys{' under ' + prefix.rstrip('.') if prefix else ''}: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        key = prefix + name
        if name in data:
            values[name] = _convert(hints[name], data[name], source=source, key=key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            if dataclasses.is_dataclass(hints[name]):
                values[name] = from_mapping(hints[name], {}, source=source, prefix=key + ".")
            else:
                raise ConfigError(f"{source}: missing required key {key}")
    return cls(**values)


def _convert(tp: Any, value: Any, *, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, source=source, key=key)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: {key}: {value!r} matches none of {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{source}: {key}: expected one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, source=source, prefix=key + ".")
    if origin in (tuple, frozenset, list):
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise ConfigError(f"{source}: {key}: expected a list, got {value!r}")
        items = list(value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(items) != len(args):
                raise ConfigError(f"{source}: {key}: expected {len(args)} items, got {len(items)}")
            pairs = enumerate(zip(args, items, strict=True))
            converted = [_convert(a, v, source=source, key=f"{key}[{i}]") for i, (a, v) in pairs]
        else:
            item_type = args[0] if args else Any
            converted = [_convert(item_type, v, source=source, key=f"{key}[{i}]") for i, v in enumerate(items)]
        return frozenset(converted) if origin is frozenset else tuple(converted) if origin is tuple else converted
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key}: expected a mapping, got {value!r}")
        key_type, value_type = args or (Any, Any)
        return {
            _convert(key_type, k, source=source, key=key): _convert(value_type, v, source=source, key=f"{key}.{k}")
            for k, v in value.items()
        }
    return _convert_scalar(tp, value, source=source, key=key)


def _convert_scalar(tp: Any, value: Any, *, source: str, key: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
    else:
        raise ConfigError(f"{source}: {key}: unsupported field type {tp}")
    raise ConfigError(f"{source}: {key}: expected {tp.__name__}, got {value!r}")


def to_mapping(obj: Any) -> Any:
    """A plain, YAML- and JSON-friendly copy of a (nested) dataclass: tuples become lists, paths strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(to_mapping(v) for v in obj)
    if isinstance(obj, Mapping):
        return {str(k): to_mapping(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def config_hash(obj: Any, length: int = 16) -> str:
    """A stable hex digest of a config (dataclass or mapping), independent of key order."""
    canonical = json.dumps(to_mapping(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=length // 2).hexdigest()


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """Turn ["a.b=3", "c=[1, 2]"] into a nested mapping; values are parsed as YAML scalars or lists."""
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        dotted, raw = item.split("=", 1)
        parts = dotted.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override {item!r}: empty key")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is both a value and a section")
        node[parts[-1]] = _override_value(item, raw)
    return nested


def _override_value(item: str, raw: str) -> Any:
    """The value of one override, parsed as a YAML scalar or flow list/mapping (empty text: the empty string)."""
    if not raw.strip():
        return ""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as error:
        detail = str(error).splitlines()[0]
        raise ConfigError(f"override {item!r}: expected a YAML value after '=' (a number, a word, [a, list] or "
                          f"{{a: mapping}}), got {raw!r} ({detail})") from None


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: `update` merged into `base`, recursively for nested mappings."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: config file not found") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = ()) -> T:
    """Load `cls` from an optional YAML file plus `section.key=value` overrides."""
    data = read_yaml(path) if path is not None else {}
    overrides = list(overrides)
    if overrides:
        data = deep_merge(data, parse_overrides(overrides))
    source = str(path) if path is not None else "<defaults>"
    if overrides:
        source += " + overrides"
    return from_mapping(cls, data, source=source)


def dump_yaml(obj: Any) -> str:
    """The YAML text of a (nested) dataclass, keys in field order."""
    return yaml.safe_dump(to_mapping(obj), sort_keys=False)

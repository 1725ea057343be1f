"""The options every `obh` command spells the same way, and the logging set-up of the `obh` group.

- `-j/--jobs N`: parallel workers; -1 means every usable core (`os.sched_getaffinity`), 0 and values below -1 are
  usage errors. Commands receive the resolved positive count.
- `-o/--out PATH`: where a command writes. Commands whose output used to be a positional argument
  (`obh generate HYPERSIM_ROOT OUT_ROOT`) still take it there: that older spelling keeps working.
- Config overrides `SECTION.KEY=VALUE`, positional or as `--set SECTION.KEY=VALUE`, on every command that reads a
  config; parsed later by `obtoolkit.config.parse_overrides` (a malformed one is a ConfigError naming it).
- `--json`: the command's result as one JSON document on stdout; text for people otherwise.
- `obh -q/-v`: the level of this project's loggers (INFO by default), on stderr. Progress bars (tqdm, on stderr)
  are not log messages and stay; commands that have one take their own switch (`download --no-progress`).

Decorators here wrap a command's function only to merge two spellings of one value before it runs; the command
body sees plain keyword arguments.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import click

ALL_CORES = -1
OVERRIDE_PATTERN = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)*=")
PROJECT_LOGGERS = ("obh", "obtoolkit", "obhypersim_build", "training")
_JSON_KEY = "obh.json"


def usable_core_count() -> int:
    """The number of CPUs this process may run on (every CPU where the platform cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class JobCount(click.ParamType):
    """A worker count: a positive number, or -1 for every usable core (converted to that number)."""

    name = "jobs"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            if isinstance(value, (bool, float)):
                raise ValueError(value)
            count = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a whole number of workers", param, ctx)
        if count == ALL_CORES:
            return usable_core_count()
        if count < 1:
            self.fail(f"{count} workers: expected a positive number, or -1 for every usable core "
                      f"({usable_core_count()} here)", param, ctx)
        return count


JOBS = JobCount()


def jobs_option(default: int = 1, help: str = "Worker processes.", param: str = "jobs") -> Callable:
    """`-j/--jobs N` (N >= 1, or -1: every usable core); the command receives the count as `param`."""
    return click.option("-j", "--jobs", param, type=JOBS, default=default, show_default=True, metavar="N",
                        help=f"{help} -1: every usable core.")


def is_override(text: str) -> bool:
    """Whether a positional argument reads as a `SECTION.KEY=VALUE` config override rather than a path."""
    return bool(OVERRIDE_PATTERN.match(text))


def out_option(*, help: str, file: bool = False, required: bool = False, param: str = "out",
               positional: str | None = None, aliases: tuple[str, ...] = (), default: Path | None = None) -> Callable:
    """`-o/--out PATH`, received as `param` (a Path; `default`, or None, when optional and not given).

    file: the output is a file (else a folder). positional: the metavar of the older spelling, a positional argument
    after the command's own, still accepted (not both). aliases: older option names kept working (`--report`).
    Put it above `config_overrides` so that the older positional comes before the overrides.
    """
    path_type = click.Path(dir_okay=not file, file_okay=file, path_type=Path)
    option = click.option("-o", "--out", *aliases, param, type=path_type, required=required and positional is None,
                          default=default, show_default=default is not None, metavar="FILE" if file else "DIR",
                          help=help)
    if positional is None:
        return option
    legacy = f"legacy_{param}"
    argument = click.argument(legacy, required=False, type=path_type, metavar=f"[{positional}]",
                              help="The older spelling of -o/--out.")

    def resolve(kwargs: dict) -> None:
        given, old = kwargs[param], kwargs.pop(legacy)
        if old is not None and "overrides" in kwargs and is_override(str(old)):
            kwargs["overrides"], old = (str(old), *kwargs["overrides"]), None
        if old is not None and given is not None and Path(old) != Path(given):
            raise click.UsageError(f"the output is given twice ({old} and -o {given}); give it once, with -o/--out")
        kwargs[param] = given if given is not None else old
        if kwargs[param] is None and required:
            raise click.UsageError("Missing option '-o' / '--out'.")

    return lambda command: argument(option(_merging(command, resolve)))


def config_overrides(command: Callable) -> Callable:
    """Config overrides as positional `SECTION.KEY=VALUE` arguments and as `--set SECTION.KEY=VALUE`; the command
    receives them together as `overrides` (positional ones first, so a `--set` of the same key wins)."""

    def merge(kwargs: dict) -> None:
        kwargs["overrides"] = (*kwargs["overrides"], *kwargs.pop("set_overrides"))

    command = _merging(command, merge)
    command = click.option("--set", "set_overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                           help="Override a config value (repeatable); the same as a positional SECTION.KEY=VALUE, "
                                "applied after those.")(command)
    return click.argument("overrides", nargs=-1, metavar="[SECTION.KEY=VALUE]...")(command)


def _merging(command: Callable, transform: Callable[[dict], None]) -> Callable:
    """`command` called with its keyword arguments passed through `transform` first (click's parameters attached
    to `command` so far travel with the wrapper)."""

    @functools.wraps(command)
    def wrapper(**kwargs):
        transform(kwargs)
        return command(**kwargs)

    return wrapper


def json_option(command: Callable) -> Callable:
    """`--json`: `emit` then prints its data as JSON instead of its text."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        ctx.meta[_JSON_KEY] = value
        return value

    return click.option("--json", "as_json", is_flag=True, expose_value=False, callback=remember,
                        help="Print the result as one JSON document on stdout (text otherwise).")(command)


def wants_json() -> bool:
    """Whether the running command was given `--json`."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(_JSON_KEY))


def emit(data: Any, text: str | Callable[[], str]) -> None:
    """Print a command's result: `data` as JSON with `--json`, else `text` (or what it returns)."""
    if wants_json():
        print_json(data)
    else:
        click.echo(text() if callable(text) else text)


def print_json(data: Any) -> None:
    """`data` as one JSON document on stdout (see `jsonable`)."""
    click.echo(json.dumps(jsonable(data), indent=2, allow_nan=False))


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types: dataclasses and mappings as objects, paths as strings, NaN and inf as null,
    numpy scalars as numbers, DataFrames as lists of row objects."""
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item) for item in value]
    if hasattr(value, "to_json") and hasattr(value, "columns"):  # a pandas DataFrame
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar or 0-d array
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def configure_logging(verbosity: int) -> Callable[[], None]:
    """Show this project's log messages on stderr: -2 errors, -1 warnings, 0 info, 1 debug, 2 debug of every
    library too. Returns the function that puts logging back as it was.

    Only a handler of our own on the root logger is added; other libraries stay at WARNING below verbosity 2.
    """
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(max(verbosity, -2), logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in PROJECT_LOGGERS]
    before = (root.level, [logger.level for logger in loggers])
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    for logger in loggers:
        logger.setLevel(level)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(before[0])
        for logger, old in zip(loggers, before[1], strict=True):
            logger.setLevel(old)

    return restore


# The datasets of `--format` / `--dataset`: OB-Hypersim (the default) and the formats of obtoolkit.datasets, listed
# here rather than imported (importing the datasets package costs every `obh` start-up about half a second); a test
# checks that the list agrees with the registry.
OB_HYPERSIM = "ob_hypersim"
DATASET_NAMES = (OB_HYPERSIM, "nyudmt", "ob_future", "ibims", "diode", "ob_diode", "ob_entityseg")

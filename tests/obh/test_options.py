"""One CLI grammar (obh/options.py): -j/--jobs, -o/--out, config overrides, --json, -q/-v, manifest show."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import obhypersim_build.pictures
import obhypersim_build.run
import obhypersim_build.validate_tree
import training.train
from obh.cli import main
from obh.options import JOBS, jsonable, usable_core_count
from obhypersim_build.manifest_tools import SHOW_COLUMNS
from obhypersim_build.pictures import VizSummary
from obhypersim_build.run import GenerateSummary
from obhypersim_build.validate_tree import ValidationSummary
from obtoolkit.hypersim import FrameId
from obtoolkit.manifest import SCHEMA, FrameRecord, records_to_table, write_table
from obtoolkit.validation import CheckResult, FrameReport

from ..conftest import REPO_ROOT


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def all_commands(group: click.Group = main, prefix: str = "") -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(all_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def option(command: click.Command, name: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and name in p.opts), None)


# --- the grammar, checked on every command ---

def test_every_jobs_option_is_the_shared_one():
    with_jobs = {name: option(c, "--jobs") for name, c in all_commands().items() if option(c, "--jobs")}
    assert {"generate", "validate", "viz", "manifest index", "download", "evaluate-maps", "export webdataset",
            "export hf"} <= set(with_jobs)
    for name, param in with_jobs.items():
        assert param.type is JOBS and "-j" in param.opts, name


def test_every_out_option_is_spelled_o_out():
    with_out = {name for name, c in all_commands().items() if option(c, "--out")}
    assert {"synth", "demo", "download", "generate", "validate", "viz", "manifest index", "manifest merge",
            "export-splits", "evaluate", "evaluate-maps", "convert-checkpoint", "predict", "export-model",
            "export webdataset", "export hf"} <= with_out
    for name in with_out:
        assert "-o" in option(all_commands()[name], "--out").opts, name


def test_every_command_with_a_config_takes_both_override_spellings():
    with_config = {name: c for name, c in all_commands().items() if option(c, "--config")}
    assert set(with_config) == {"generate", "train"}
    for name, command in with_config.items():
        assert option(command, "--set") is not None, name
        assert any(isinstance(p, click.Argument) and p.name == "overrides" for p in command.params), name


def documented_command_lines() -> list[tuple[str, str]]:
    """(file, line) for every `obh ...` line in the code blocks of the README and docs; continuation lines joined,
    comments and optional `[...]` parts removed."""
    found = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md")),
                 REPO_ROOT / "manifests" / "README.md"]:
        in_block, pending = False, ""
        for line in path.read_text().splitlines():
            if line.startswith("```"):
                in_block = not in_block
                continue
            line = pending + line.split(" # ")[0].rstrip()
            pending = line[:-1] + " " if in_block and line.endswith("\\") else ""
            if in_block and not pending and line.strip().startswith("obh "):
                while re.search(r"\[[^\[\]]*\]", line):
                    line = re.sub(r"\s*\[[^\[\]]*\]", "", line)
                found.append((path.name, line.strip()))
    return found


def parse_command_line(args: list[str]) -> click.Context:
    """The context `obh ARGS` parses to, down to the leaf command (nothing runs)."""
    command, ctx = main, main.make_context("obh", args)
    while isinstance(command, click.Group):
        protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
        name, command, rest = command.resolve_command(ctx, [*protected, *ctx.args])
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def test_every_documented_command_line_parses_in_the_one_grammar(monkeypatch):
    monkeypatch.setattr(click.Path, "convert", lambda self, value, param, ctx: Path(value))  # paths need not exist
    lines = documented_command_lines()
    assert len(lines) > 30 and any("obh generate" in line for _, line in lines)
    for where, line in lines:
        try:
            ctx = parse_command_line(shlex.split(line)[1:])
        except click.UsageError as error:
            pytest.fail(f"{where}: {line!r}: {error.format_message()}")
        older = {key: value for key, value in ctx.params.items() if key.startswith("legacy_") and value is not None}
        assert not older, f"{where}: {line!r} uses the older positional output {older}; document -o"


def test_the_documented_command_check_refuses_bad_lines(monkeypatch):
    monkeypatch.setattr(click.Path, "convert", lambda self, value, param, ctx: Path(value))
    for bad in (["synth", "--bogus", "1"], ["manifest", "show", "x", "y"], ["viz", "a", "--out"]):
        with pytest.raises(click.UsageError):
            parse_command_line(bad)
    assert parse_command_line(["generate", "a", "b"]).params["legacy_out_root"] == Path("b")


# --- -j/--jobs ---

def test_jobs_minus_one_is_every_usable_core_and_zero_or_below_minus_one_is_refused():
    assert JOBS.convert("-1", None, None) == usable_core_count() >= 1
    assert JOBS.convert("3", None, None) == 3 and JOBS.convert(2, None, None) == 2
    for bad in ("0", "-2", "-10", "two", "1.5", 1.5, True):
        with pytest.raises(click.BadParameter):
            JOBS.convert(bad, None, None)


@pytest.fixture
def viz_calls(monkeypatch):
    calls = []

    def fake_viz_tree(label_root, out_dir, *, frames, limit, jobs):
        calls.append(jobs)
        return VizSummary((), ())

    monkeypatch.setattr(obhypersim_build.pictures, "viz_tree", fake_viz_tree)
    return calls


def test_a_command_receives_minus_one_as_the_core_count(tmp_path, viz_calls):
    assert invoke("viz", tmp_path, "-j", "-1").exit_code == 0
    assert invoke("viz", tmp_path, "--jobs", "2").exit_code == 0
    assert viz_calls == [usable_core_count(), 2]


@pytest.mark.parametrize("value", ["0", "-2"])
def test_a_command_refuses_zero_and_below_minus_one_saying_what_is_expected(tmp_path, viz_calls, value):
    result = invoke("viz", tmp_path, "-j", value)
    assert result.exit_code == 2 and viz_calls == []
    assert "Invalid value for '-j' / '--jobs'" in result.output and "-1 for every usable core" in result.output


# --- config overrides and -o/--out (generate and train, their libraries replaced by recorders) ---

@pytest.fixture
def generate_calls(monkeypatch, tmp_path):
    calls = []

    def fake_generate(hypersim_root, out_root, config, **kwargs):
        calls.append((out_root, config, kwargs))
        return GenerateSummary(2, 2, 0, 1.0, out_root / "manifest.parquet")

    monkeypatch.setattr(obhypersim_build.run, "generate", fake_generate)
    return calls


@pytest.mark.parametrize("args", [
    ["-o", "{out}", "labels.tau_rel=0.25", "max_image_pixels=1000"],
    ["-o", "{out}", "--set", "labels.tau_rel=0.25", "--set", "max_image_pixels=1000"],
    ["{out}", "labels.tau_rel=0.25", "--set", "max_image_pixels=1000"],  # the older positional output
    ["labels.tau_rel=0.25", "--out", "{out}", "--set", "max_image_pixels=1000"],
])
def test_generate_overrides_and_output_in_every_spelling_give_the_same_run(tmp_path, generate_calls, args):
    out = tmp_path / "ob"
    result = invoke("generate", tmp_path, *[a.format(out=out) for a in args])
    assert result.exit_code == 0, result.output
    (out_root, config, _), = generate_calls
    assert out_root == out
    assert config.labels.tau_rel == 0.25 and config.max_image_pixels == 1000


def test_generate_config_is_the_same_whichever_override_spelling(tmp_path, generate_calls):
    invoke("generate", tmp_path, "-o", tmp_path / "ob", "labels.tau_rel=0.25")
    invoke("generate", tmp_path, "-o", tmp_path / "ob", "--set", "labels.tau_rel=0.25")
    invoke("generate", tmp_path, "-o", tmp_path / "ob")
    (_, positional, _), (_, with_set, _), (_, default, _) = generate_calls
    assert positional == with_set != default


def test_the_output_given_twice_or_never_is_a_usage_error(tmp_path, generate_calls):
    twice = invoke("generate", tmp_path, tmp_path / "a", "-o", tmp_path / "b")
    assert twice.exit_code == 2 and "given twice" in twice.output
    never = invoke("generate", tmp_path)
    assert never.exit_code == 2 and "Missing option '-o' / '--out'" in never.output
    same = invoke("generate", tmp_path, tmp_path / "a", "-o", tmp_path / "a")
    assert same.exit_code == 0 and generate_calls[0][0] == tmp_path / "a"


@pytest.fixture
def train_configs(monkeypatch, tmp_path):
    configs = []

    def fake_train(config):
        configs.append(config)
        return tmp_path / "run"

    monkeypatch.setattr(training.train, "train", fake_train)
    return configs


def test_train_overrides_positional_and_with_set_give_the_same_config(train_configs):
    demo = REPO_ROOT / "configs" / "demo_cpu.yaml"
    overrides = ["schedule.max_steps=7", "optim.lr=0.5", "data.crop_hw=[32, 48]"]
    assert invoke("train", "--config", demo, *overrides).exit_code == 0
    assert invoke("train", "--config", demo, *[a for o in overrides for a in ("--set", o)]).exit_code == 0
    assert invoke("train", "--config", demo, overrides[0], "--set", overrides[1], overrides[2]).exit_code == 0
    assert invoke("train", "--config", demo).exit_code == 0
    first, second, mixed, default = train_configs
    assert first == second == mixed != default
    assert first.schedule.max_steps == 7 and first.optim.lr == 0.5 and tuple(first.data.crop_hw) == (32, 48)


def test_set_is_applied_after_the_positional_overrides(train_configs):
    assert invoke("train", "--set", "schedule.max_steps=9", "schedule.max_steps=7").exit_code == 0
    assert train_configs[0].schedule.max_steps == 9


@pytest.mark.parametrize("args", [["schedule.max_steps=[1"], ["--set", "schedule.max_steps=[1"], ["max_steps"]])
def test_a_malformed_override_in_either_spelling_is_one_line_naming_it(train_configs, args):
    result = invoke("train", *args)
    assert result.exit_code == 1 and "override" in result.output and args[-1] in result.output
    assert "Traceback" not in result.output and train_configs == []


# --- -q / -v: logging of the library ---

def write_part(path: Path, n: int = 3, failed: int = 0) -> Path:
    records = [FrameRecord("ai_001_001", "cam_00", i, split="train", height=48, width=64, ob_fraction=0.1 * i,
                           paths={"rgb_path": f"hypersim/ai_001_001/cam_00/tonemap/{i:04d}.jpg"})
               for i in range(n - failed)]
    records += [FrameRecord("ai_001_002", "cam_00", i, split="test", status="error", error=f"bad input {i}")
                for i in range(failed)]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(path, records_to_table(records))
    return path


def test_library_info_messages_show_by_default_and_q_v_change_the_level(tmp_path):
    part = write_part(tmp_path / "parts" / "part-0.parquet")
    info, debug = "rows merged from 1 manifest parts", "manifest rows read"
    default = invoke("manifest", "merge", part, "-o", tmp_path / "m.parquet")
    assert default.exit_code == 0, default.output
    assert info in default.stderr and "INFO obtoolkit.manifest" in default.stderr and debug not in default.stderr
    verbose = invoke("-v", "manifest", "merge", part, "-o", tmp_path / "m.parquet")
    assert info in verbose.stderr and debug in verbose.stderr and "DEBUG obtoolkit.manifest" in verbose.stderr
    quiet = invoke("-q", "manifest", "merge", part, "-o", tmp_path / "m.parquet")
    assert quiet.exit_code == 0 and quiet.stderr == "" and "3 rows from 1 parts" in quiet.stdout


def test_logging_is_put_back_after_the_command():
    import logging

    before = (logging.getLogger().handlers[:], logging.getLogger("obtoolkit").level)
    invoke("-v", "manifest", "--help")
    assert (logging.getLogger().handlers, logging.getLogger("obtoolkit").level) == before


# --- --json and failure counts ---

def test_json_results_parse_and_keep_stdout_for_the_document(tmp_path):
    manifest = write_part(tmp_path / "manifest.parquet", n=4, failed=1)
    stats = invoke("manifest", "stats", manifest, "--json")
    assert stats.exit_code == 0, stats.output
    data = json.loads(stats.stdout)
    assert {row["split"]: row["frames"] for row in data["by_split"]} == {"train": 3, "test": 1}
    assert data["failures"] == [{"scene": "ai_001_002", "camera": "cam_00", "frame": 0, "error": "bad input 0"}]
    merged = json.loads(invoke("manifest", "merge", manifest, "-o", tmp_path / "m.parquet", "--json").stdout)
    assert merged == {"rows": 4, "parts": 1, "manifest": str(tmp_path / "m.parquet")}


def test_generate_json_lists_the_failures_and_the_exit_status_counts_them(tmp_path, monkeypatch):
    failed = FrameRecord("ai_001_001", "cam_00", 3, status="error", error="x.jpg: not a JPEG")

    def fake_generate(hypersim_root, out_root, config, **kwargs):
        return GenerateSummary(5, 4, 1, 2.0, out_root / "manifest.parquet", (failed,))

    monkeypatch.setattr(obhypersim_build.run, "generate", fake_generate)
    result = invoke("generate", tmp_path, "-o", tmp_path / "ob", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["frames"] == 5 and data["failed"] == 1
    assert data["failures"] == [{"frame": "ai_001_001/cam_00/0003", "error": "x.jpg: not a JPEG"}]
    assert "1 of 5 frames failed" in result.stderr


def test_validate_exits_1_with_the_count_in_text_and_json(tmp_path, monkeypatch):
    reports = [FrameReport("ai_001_001/cam_00/0000", (CheckResult("ob_nonempty", True, "error", 0.1),)),
               FrameReport("ai_001_001/cam_00/0001", (CheckResult("ob_nonempty", False, "error", 0.0),))]
    monkeypatch.setattr(obhypersim_build.validate_tree, "validate_tree",
                        lambda *args, **kwargs: ValidationSummary(reports, "defaults"))
    text = invoke("validate", tmp_path)
    assert text.exit_code == 1 and "2 frames, 1 failed" in text.stdout
    as_json = invoke("validate", tmp_path, "--json", "-o", tmp_path / "report.json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["failed"] == 1 and data["failed_frames"] == ["ai_001_001/cam_00/0001"]
    assert data["report"] == str(tmp_path / "report.json") and (tmp_path / "report.json").is_file()


def test_viz_json_counts_failed_frames_and_exits_1(tmp_path, monkeypatch):
    summary = VizSummary((tmp_path / "a.png",), ((FrameId("ai_001_001", "cam_00", 2), "ob.png: truncated"),))
    monkeypatch.setattr(obhypersim_build.pictures, "viz_tree", lambda *args, **kwargs: summary)
    result = invoke("viz", tmp_path, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["failed"] == 1 and data["failures"][0]["error"] == "ob.png: truncated"


def test_evaluate_maps_json(tmp_path):
    import numpy as np
    from PIL import Image

    for folder, seed in (("pred", 1), ("gt", 0)):
        (tmp_path / folder).mkdir()
        maps = np.random.default_rng(seed).random((16, 16))
        Image.fromarray(((maps > 0.8) * 255 if folder == "gt" else maps * 255).astype(np.uint8)).save(
            tmp_path / folder / "a.png")
    result = invoke("evaluate-maps", tmp_path / "pred", tmp_path / "gt", "-o", tmp_path / "eval", "--thresholds", "3",
                    "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["images"] == 1 and 0 <= data["ods"]["f"] <= 1 and data["out"] == str(tmp_path / "eval")
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert data["ap"] == pytest.approx(written["boundary"]["ap"])


def test_jsonable_turns_nan_paths_and_numpy_into_json():
    import numpy as np

    assert jsonable({"a": float("nan"), "b": Path("x/y"), "c": np.float32(0.5), "d": (np.int64(3),)}) == {
        "a": None, "b": "x/y", "c": 0.5, "d": [3]}


# --- manifest show ---

def test_manifest_show_prints_a_few_columns_by_default(tmp_path):
    assert set(SHOW_COLUMNS) <= set(SCHEMA.names)
    manifest = write_part(tmp_path / "manifest.parquet", n=3)
    result = invoke("manifest", "show", manifest)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "3 rows" and lines[1].split() == list(SHOW_COLUMNS) and len(lines) == 2 + 3
    with_failures = write_part(tmp_path / "failed.parquet", n=3, failed=1)
    header = invoke("manifest", "show", with_failures).stdout.splitlines()[1].split()
    assert header == [*SHOW_COLUMNS, "error"]


def test_manifest_show_columns_and_all(tmp_path):
    manifest = write_part(tmp_path / "manifest.parquet", n=3)
    chosen = invoke("manifest", "show", manifest, "--columns", "frame, rgb_path", "--rows", "2")
    lines = chosen.stdout.splitlines()
    assert lines[0] == "3 rows, the first 2 shown" and lines[1].split() == ["frame", "rgb_path"] and len(lines) == 4
    every = invoke("manifest", "show", manifest, "--columns", "all").stdout.splitlines()[1].split()
    assert "ob_hash" in every and "package_version" in every and len(every) > len(SHOW_COLUMNS) + 20
    data = json.loads(invoke("manifest", "show", manifest, "--columns", "scene,frame", "--json").stdout)
    assert data == {"rows": 3, "shown": [{"scene": "ai_001_001", "frame": i} for i in range(3)]}


def test_manifest_show_unknown_column_names_it_and_lists_the_available_ones(tmp_path):
    manifest = write_part(tmp_path / "manifest.parquet")
    result = invoke("manifest", "show", manifest, "--columns", "scene,nope,frmae")
    assert result.exit_code == 2
    assert "unknown columns nope, frmae" in result.output and "ob_fraction" in result.output

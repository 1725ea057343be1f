"""`obh manifest index ROOT --format NAME`: every dataset format's synthetic tree indexed from the CLI (the same
manifest as the library call), trained on for one step with the shipped config, and its errors; the OB-Hypersim
default unchanged."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from obh import options
from obh.cli import main
from obhypersim_build.manifest_tools import index_release
from obhypersim_build.run import generate
from obtoolkit.datasets import dataset_names, format_names
from obtoolkit.datasets.manifest import index_dataset, read_dataset_manifest
from obtoolkit.datasets.synthetic import write_synthetic_tree

from ..obhypersim_build.conftest import write_layered_tree
from ..training.test_dataset_runs import STAGE1, toy_registry, train_run  # noqa: F401 (a fixture)


def obh(*args) -> object:
    return CliRunner().invoke(main, ["manifest", "index", *[str(a) for a in args]])


def test_the_cli_lists_every_registered_format():
    assert sorted(options.DATASET_NAMES) == sorted(dataset_names())  # listed, not imported, in obh (start-up time)
    help_text = " ".join(obh("--help").output.split())
    assert all(name in help_text for name in dataset_names())


@pytest.mark.parametrize("name", format_names())
def test_index_writes_the_library_manifest(name, tmp_path):
    tree = write_synthetic_tree(name, tmp_path / name, n_frames=4, shape_hw=(24, 32))
    result = obh(tree.root, "--format", name)
    assert result.exit_code == 0, result.output
    written = read_dataset_manifest(tree.root / "manifest.parquet", expect_format=name)  # default ROOT/manifest
    index_dataset(name, tree.root, tmp_path / "reference.parquet", progress=False)
    reference = read_dataset_manifest(tmp_path / "reference.parquet")
    assert written.rows == reference.rows and written.options == reference.options == {}
    assert written.splits() == {split: len(ids) for split, ids in tree.splits.items()}
    assert f"{len(written.rows)} frames ({len(written.rows)} ok" in result.output


@pytest.mark.parametrize("name", list(STAGE1))
def test_index_with_val_frames_then_train_one_step(name, tmp_path, toy_registry):  # noqa: F811
    tree = write_synthetic_tree(name, tmp_path / name, n_frames=7, shape_hw=(40, 48))
    out = tmp_path / "elsewhere" / "indexed.parquet"
    result = obh(tree.root, "--format", name, "--val-frames", "1", "-o", out, "-j", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["manifest"] == str(out) and summary["failed"] == 0 and summary["splits"]["val"] == 1
    assert not (tree.root / "manifest.parquet").exists() and [p.name for p in out.parent.iterdir()] == [out.name]
    manifest = read_dataset_manifest(out)
    assert manifest.splits() == {"train": len(tree.splits["train"]) - 1, "val": 1, "test": len(tree.splits["test"])}
    run = train_run(f"{STAGE1[name]}.yaml", tree.root, tmp_path / "runs", f"data.manifest={out}",
                    "data.crop_hw=[32,32]")
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    (start,) = [r for r in records if r["kind"] == "start"]
    assert start["train_frames"] == manifest.splits()["train"]
    (val,) = [r for r in records if r["kind"] == "val"]
    assert "skipped" not in val  # validated on the held-out frame


def one_error_line(result, exit_code: int, *needles: str) -> str:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert all(needle in line for needle in needles), (needles, line)
    return line


def test_errors_are_one_line(tmp_path):
    nyud = write_synthetic_tree("nyudmt", tmp_path / "nyud", n_frames=4, shape_hw=(24, 32)).root
    split_csv = tmp_path / "split.csv"
    split_csv.write_text("scene_name\n")
    one_error_line(obh(nyud, "--format", "kitti"), 2, "'kitti'", "known: " + ", ".join(dataset_names()))
    one_error_line(obh(nyud, "--format", "ob_future"), 1, str(nyud), "OB-FUTURE")  # not that format's layout
    one_error_line(obh(nyud), 1, str(nyud), "OB-Hypersim", "--format")  # forgot --format: says so
    one_error_line(obh(nyud, "--format", "nyudmt", "--val-frames", "9"), 1, str(nyud), "cannot hold out 9")
    one_error_line(obh(nyud, "--format", "nyudmt", "--split-csv", split_csv), 2,
                   "--split-csv")
    one_error_line(obh(nyud, "--val-frames", "1"), 2, "--val-frames")
    ibims = write_synthetic_tree("ibims", tmp_path / "ibims", n_frames=2, shape_hw=(24, 32)).root
    one_error_line(obh(ibims, "--format", "ibims", "--val-frames", "1"), 1, "need a 'train' split")
    assert not list(tmp_path.rglob("*.parquet"))  # nothing written by a failed command


def test_ob_hypersim_default_unchanged(tmp_path):
    out = tmp_path / "ob"
    generate(write_layered_tree(tmp_path / "hypersim").layout.root, out, progress=False)
    index_release(out, tmp_path / "library.parquet", progress=False)
    for args in ((), ("--format", "ob_hypersim")):
        (out / "manifest.parquet").unlink()
        result = obh(out, *args)
        assert result.exit_code == 0 and "6 frames (6 ok) -> " in result.output, result.output
        assert (out / "manifest.parquet").read_bytes() == (tmp_path / "library.parquet").read_bytes()

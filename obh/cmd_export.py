"""`obh export`: OB-Hypersim to webdataset shards or a HuggingFace `datasets` folder, and `obh export verify`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from obh.options import emit, jobs_option, json_option, out_option

_EXISTING_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


def _export_options(command):
    options = [
        click.argument("root", type=_EXISTING_DIR),
        out_option(required=True, param="out_dir",
                   help="Output folder (new or empty; or an unfinished export of the same settings, to resume)."),
        click.option("--manifest", type=click.Path(exists=True, path_type=Path),
                     help="Manifest (default: ROOT/manifest.parquet); its paths are relative to ROOT."),
        click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
                     help="Only rows of this official split (repeatable)."),
        click.option("--max-samples", type=click.IntRange(min=1), help="Most samples per shard/file."),
        click.option("--max-mb", type=click.FloatRange(min=1e-3), default=1000.0, show_default=True,
                     help="Most megabytes (1e6 bytes) per shard/file."),
        click.option("--shuffle/--no-shuffle", default=True, show_default=True,
                     help="Seeded order across shards, or manifest order."),
        click.option("--seed", type=int, default=0, show_default=True),
        jobs_option(help="Shards/files written in parallel processes."),
        json_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _export(kind, root, out_dir, manifest, splits, max_samples, max_mb, shuffle, seed, jobs) -> None:
    from obhypersim_build.export import ExportSettings, export_dataset

    settings = ExportSettings(kind=kind, max_samples=max_samples, max_bytes=round(max_mb * 1e6), shuffle=shuffle,
                              seed=seed, splits=tuple(splits) or None)
    summary = export_dataset(root, out_dir, settings, manifest=manifest, jobs=jobs)
    emit({**vars(summary), "samples_per_second": summary.samples_per_second, "index": out_dir / "index.json"},
         f"{summary.n_samples} samples in {summary.n_parts} {'files' if kind == 'hf' else 'shards'} "
         f"({summary.n_kept} kept from an earlier run), {summary.n_failed} failed; wrote "
         f"{summary.bytes_written / 1e6:.1f} MB in {summary.seconds:.1f} s ({summary.samples_per_second:.1f} "
         f"samples/s, {summary.mb_per_second:.1f} MB/s); index: {out_dir / 'index.json'}")
    if summary.n_failed:
        click.echo(f"{summary.n_failed} frames failed and were left out: see 'failed' in {out_dir / 'index.json'}",
                   err=True)
        sys.exit(1)


@click.group()
def export():
    """Export OB-Hypersim to the formats training clusters and the hub use (docs/export.md)."""


@export.command("webdataset")
@_export_options
def export_webdataset(**options):
    """webdataset tar shards (shard-NNNNNN.tar) with index.json and samples.parquet, from ROOT's manifest."""
    _export("webdataset", **options)


@export.command("hf")
@_export_options
def export_hf(**options):
    """A HuggingFace `datasets` folder (data/<split>-NNNNN-of-MMMMM.parquet, README.md card), from ROOT's manifest."""
    _export("hf", **options)


@export.command("verify")
@click.argument("folder", type=_EXISTING_DIR)
@json_option
def export_verify(folder):
    """Check an export: every shard's size and sha256, every sample decoded against its manifest row."""
    from obtoolkit.shards import ShardReader, read_index, verify_parquet_folder

    index = read_index(folder)
    checks = verify_parquet_folder(folder) if index["kind"] == "hf" else ShardReader(folder).verify()
    n_checked, problems = 0, []
    for _, found in checks:
        n_checked += 1
        problems += found
    for problem in problems:
        click.echo(problem, err=True)
    emit({"kind": index["kind"], "folder": folder, "samples": index["samples"], "parts": len(index["shards"]),
          "problems": problems}, f"{index['kind']} export {folder}: {index['samples']} samples, "
                                 f"{len(index['shards'])} parts, {len(problems)} problems")
    if problems:
        sys.exit(1)


COMMANDS = [export]

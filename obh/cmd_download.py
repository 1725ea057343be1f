"""`obh download`: fetch the Hypersim files a build needs (partial, resumable, verified)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from obh.options import emit, jobs_option, json_option, out_option, print_json, wants_json

# The library is imported inside the command: importing obtoolkit.hypersim (pandas, h5py) would slow every `obh`.
DETAIL_CHOICES = ("build", "all", "none")  # obhypersim_build.download.selection.DETAIL_SETS (checked by a test)


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeatable options that also take comma-separated lists."""
    return tuple(dict.fromkeys(v.strip() for item in values for v in item.split(",") if v.strip()))


@click.command()
@out_option(required=True, param="out_root", positional="OUT_ROOT",
            help="The local Hypersim root the files go to (official layout).")
@click.option("--scenes", multiple=True, help="Scene names, e.g. ai_001_001 (repeatable, or comma-separated).")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
              help="Public frames of this official split (repeatable); alone, every scene of the split.")
@click.option("--modalities", multiple=True, metavar="NAMES",
              help="Per-frame files, comma-separated: geometry and final HDF5 modalities by Hypersim's names, and "
                   "tonemap [default: what `obh generate` reads: depth_meters, normal_cam, render_entity_id, "
                   "semantic, semantic_instance, tonemap].")
@click.option("--cameras", multiple=True, help="Only these trajectories, e.g. cam_00 (repeatable, comma-separated).")
@click.option("--detail", type=click.Choice(DETAIL_CHOICES), default="build", show_default=True,
              help="Which _detail/ files: build = scene/camera/node tables, camera poses, mesh annotations.")
@jobs_option(default=4, help="Parallel downloads (threads).")
@click.option("--list", "list_files", is_flag=True, help="Print the selected files, their sizes and local state.")
@click.option("--dry-run", is_flag=True, help="Print totals (files, bytes to fetch, bytes verified); fetch nothing.")
@click.option("--retries", default=5, show_default=True, type=click.IntRange(min=0),
              help="Failed attempts in a row before a file fails.")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Socket timeout, seconds.")
@click.option("--backoff", "backoff_s", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="First wait before a retry, seconds (doubles per failure, with jitter).")
@click.option("--base-url", help="Folder of the <scene>.zip archives, e.g. a mirror [default: Apple's Hypersim v1 "
                                 "scenes folder on docs-assets.developer.apple.com].")
@click.option("--metadata-url", help="Raw root of the apple/ml-hypersim repository, for the camera-parameter and "
                                     "split CSVs [default: its main branch on raw.githubusercontent.com].")
@click.option("--rehash", is_flag=True, help="Re-hash existing files even when the verification cache vouches.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar in bytes.")
@json_option
def download(out_root, scenes, splits, modalities, cameras, detail, jobs, list_files, dry_run, retries, timeout_s,
             backoff_s, base_url, metadata_url, rehash, progress):
    """Fetch the selected Hypersim files into OUT_ROOT (official layout; rerun to resume; exit 1 on failures)."""
    from obhypersim_build.download import (
        DEFAULT_BASE_URL,
        DEFAULT_METADATA_URL,
        DEFAULT_MODALITIES,
        DownloadError,
        DownloadRequest,
        RetryPolicy,
        Selection,
    )
    from obhypersim_build.download import download as run_download

    try:
        selection = Selection(modalities=_names(modalities) or DEFAULT_MODALITIES, cameras=_names(cameras),
                              detail=detail)
        request = DownloadRequest(out_root, scenes=_names(scenes), splits=tuple(splits), selection=selection,
                                  base_url=base_url or DEFAULT_BASE_URL,
                                  metadata_url=metadata_url or DEFAULT_METADATA_URL)
        policy = RetryPolicy(retries=retries, timeout_s=timeout_s, backoff_s=backoff_s)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    try:
        if list_files or dry_run:
            _preview(request, policy, jobs, rehash, list_files=list_files, dry_run=dry_run)
            return
        report = run_download(request, policy=policy, jobs=jobs, progress=progress, rehash=rehash)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    except DownloadError as error:
        raise click.ClickException(str(error)) from error
    _summarise(report, out_root)


def _preview(request, policy, jobs: int, rehash: bool, *, list_files: bool, dry_run: bool) -> None:
    from obhypersim_build.download import METADATA_FILES, metadata_state, preview

    plan = preview(request, policy=policy, jobs=jobs, rehash=rehash)
    if wants_json():
        _preview_json(request, plan, list_files=list_files)
    elif list_files:
        click.echo(f"{'state':9} {'compressed':>12} {'size':>12}  name")
        for name, state in metadata_state(request).items():
            click.echo(f"{state:9} {'-':>12} {'-':>12}  {name}  ({request.metadata_file_url(name)})")
        for planned in plan.files:
            member = planned.task.member
            click.echo(f"{planned.state:9} {member.compressed_size:>12} {member.uncompressed_size:>12}  {member.name}")
    totals = plan.totals()
    if dry_run and not wants_json():
        missing_csvs = sum(state == "missing" for state in metadata_state(request).values())
        click.echo(f"{totals['files']} files: {totals['files_to_fetch']} to fetch "
                   f"({_size(totals['bytes_to_fetch'])}, {_size(totals['bytes_partial'])} already in partial files), "
                   f"{totals['files_verified']} verified locally ({_size(totals['bytes_verified'])}); "
                   f"{missing_csvs} of {len(METADATA_FILES)} metadata CSVs to fetch")
    for failure in plan.failures:
        click.echo(f"FAILED {failure.name}: {failure.error}", err=True)
    if plan.failures:
        sys.exit(1)


def _preview_json(request, plan, *, list_files: bool) -> None:
    from obhypersim_build.download import METADATA_FILES, metadata_state

    metadata = metadata_state(request)
    data = {**plan.totals(), "metadata_csvs": len(METADATA_FILES),
            "metadata_csvs_to_fetch": sum(state == "missing" for state in metadata.values()),
            "archive_failures": [{"name": f.name, "error": f.error} for f in plan.failures]}
    if list_files:
        data["metadata"] = [{"name": name, "state": state, "url": request.metadata_file_url(name)}
                            for name, state in metadata.items()]
        data["files"] = [{"name": p.task.member.name, "state": p.state, "size": p.task.member.uncompressed_size,
                          "compressed_size": p.task.member.compressed_size} for p in plan.files]
    print_json(data)


def _summarise(report, out_root: Path) -> None:
    from obhypersim_build.download.driver import REPORT_NAME, format_failures

    transfer = report.transfer
    summary = report.as_dict()
    summary.pop("settings")
    emit({**summary, "report": out_root / REPORT_NAME},
         f"{report.count('ok')} ok, {report.count('skipped')} skipped (already verified), "
         f"{report.count('failed')} failed; {_size(transfer['bytes_received'])} received in "
         f"{report.seconds:.1f} s ({transfer['requests']} requests, {transfer['retries']} retries); "
         f"report: {out_root / REPORT_NAME}")
    if report.failed:
        click.echo(format_failures(report.failed), err=True)
        sys.exit(1)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"


COMMANDS = [download]

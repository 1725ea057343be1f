"""Commands of the generation stage: generate, validate, manifest, export-splits."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from obh.options import (
    DATASET_NAMES,
    OB_HYPERSIM,
    config_overrides,
    emit,
    jobs_option,
    json_option,
    out_option,
)

_EXISTING_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
FAILURES_SHOWN = 10


@click.command()
@click.argument("hypersim_root", type=_EXISTING_DIR)
@out_option(required=True, param="out_root", positional="OUT_ROOT",
            help="Output root: labels in MoDOT's layout and manifest.parquet.")
@config_overrides
@click.option("--config", "config_path", type=_EXISTING_FILE, help="build.yaml (labels, validation, inputs, ...).")
@click.option("--scenes", multiple=True, help="Only these scenes (repeatable, or comma-separated).")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
              help="Only frames of this official split (needs the split CSV; repeatable).")
@jobs_option(help="Local worker processes (joblib).")
@click.option("--dask-scheduler", metavar="ADDRESS", help="Run the tasks on an existing Dask cluster.")
@json_option
def generate(hypersim_root, out_root, config_path, overrides, scenes, splits, jobs, dask_scheduler):
    """Turn a Hypersim tree into labelled OB-Hypersim (resumable; reruns skip finished frames; exit 1 when any
    frame failed)."""
    from obhypersim_build.config import load_build_config
    from obhypersim_build.run import generate as run_generate

    config = load_build_config(config_path, overrides)
    scenes = [s for item in scenes for s in item.split(",") if s]
    summary = run_generate(hypersim_root, out_root, config, scenes=scenes or None, splits=list(splits) or None,
                           jobs=jobs, dask_scheduler=dask_scheduler)
    failures = [{"frame": f"{r.scene}/{r.camera}/{r.frame:04d}", "error": r.error} for r in summary.failures]
    emit({"frames": summary.n_frames, "ok": summary.n_ok, "failed": summary.n_failed, "seconds": summary.seconds,
          "frames_per_second": summary.frames_per_second, "manifest": summary.manifest_path, "failures": failures},
         f"{summary.n_frames} frames: {summary.n_ok} ok, {summary.n_failed} failed "
         f"({summary.frames_per_second:.2f} frames/s); manifest: {summary.manifest_path}")
    if summary.n_failed:
        for record in summary.failures[:FAILURES_SHOWN]:
            click.echo(f"FAILED {record.scene}/{record.camera}/{record.frame:04d}: {record.error}", err=True)
        more = summary.n_failed - min(summary.n_failed, FAILURES_SHOWN)
        click.echo((f"... and {more} more; " if more else "") + f"{summary.n_failed} of {summary.n_frames} frames "
                   f"failed; see them all with: obh manifest stats {summary.manifest_path}", err=True)
        sys.exit(1)


@click.command()
@click.argument("label_root", type=_EXISTING_DIR)
@click.option("--hypersim-root", type=_EXISTING_DIR, help="Also run the checks that need normals and instance ids.")
@click.option("--camera-csv", type=_EXISTING_FILE, help="Camera-parameter CSV (default: at the Hypersim root).")
@out_option(file=True, param="report_path", aliases=("--report",),
            help="JSON report (default: LABEL_ROOT/validation_report.json).")
@jobs_option()
@json_option
def validate(label_root, hypersim_root, camera_csv, report_path, jobs):
    """Check every labelled frame (exit status 1 when any frame fails)."""
    import pandas as pd

    from obhypersim_build.validate_tree import validate_tree, write_report

    summary = validate_tree(label_root, hypersim_root=hypersim_root, camera_csv=camera_csv, jobs=jobs)
    report_path = report_path or label_root / "validation_report.json"
    write_report(summary, report_path)
    def text() -> str:
        with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 140):
            table = pd.DataFrame(summary.table()).to_string(index=False)
        return f"{table}\n{len(summary.reports)} frames, {summary.n_failed} failed; report: {report_path}"

    emit({"frames": len(summary.reports), "failed": summary.n_failed, "report": report_path,
          "checks": summary.table(), "failed_frames": [r.frame for r in summary.reports if r.failed]}, text)
    if summary.n_failed:
        sys.exit(1)


@click.group()
def manifest():
    """Inspect, build and merge manifests."""


@manifest.command("show")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--rows", default=20, show_default=True, type=click.IntRange(min=0), help="Rows shown (0: all).")
@click.option("--columns", metavar="A,B,C|all",
              help="Comma-separated columns, or all [default: scene, camera, frame, split, status, height, width, "
                   "ob_fraction, target_fraction, invalid_fraction, and error when a shown row failed].")
@click.option("--status", type=click.Choice(["ok", "error"]), help="Only rows of this status.")
@json_option
def manifest_show(path, rows, columns, status):
    """Print the first rows of a manifest, a few columns by default."""
    from obhypersim_build.manifest_tools import UnknownColumnsError, format_shown, show_frame

    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    try:
        shown, total = show_frame(path, rows=rows, columns=names, status=status)
    except UnknownColumnsError as error:
        raise click.BadParameter(str(error), param_hint="'--columns'") from error
    emit({"rows": total, "shown": shown}, lambda: format_shown(shown, total))


@manifest.command("stats")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@json_option
def manifest_stats(path):
    """Per split and per scene: frames, failures and label statistics; then the failed frames with their errors."""
    from obhypersim_build.manifest_tools import format_stats, manifest_frame, stats_tables

    tables = stats_tables(manifest_frame(path))
    emit({"by_split": tables["by_split"].reset_index(), "by_scene": tables["by_scene"].reset_index(),
          "failures": tables["failures"]}, lambda: format_stats(tables))


@manifest.command("index")
@click.argument("root", type=_EXISTING_DIR)
@click.option("--format", "dataset", metavar="NAME", default=OB_HYPERSIM, show_default=True,
              help=f"The dataset's on-disk format: {', '.join(DATASET_NAMES)} (docs/datasets/).")
@click.option("--val-frames", type=click.IntRange(min=0), default=0, show_default=True,
              help="Other formats: hold this many train frames out as split \"val\" (evenly spaced).")
@out_option(file=True, param="out_path", help="Output manifest (default: ROOT/manifest.parquet).")
@click.option("--split-csv", type=_EXISTING_FILE, help="Hypersim's split CSV, to fill split and public columns.")
@jobs_option()
@json_option
def manifest_index(root, dataset, val_frames, out_path, split_csv, jobs):
    """Build a manifest for a dataset folder: OB-Hypersim in MoDOT's layout (e.g. the authors' release), or NYUD-MT,
    OB-FUTURE, iBims-1, DIODE, OB-DIODE, OB-EntitySeg in their own layouts (--format)."""
    out_path = out_path or root / "manifest.parquet"
    if dataset == OB_HYPERSIM:
        if val_frames:
            raise click.BadParameter("OB-Hypersim takes its splits from --split-csv", param_hint="--val-frames")
        from obhypersim_build.manifest_tools import index_release
        from obtoolkit.errors import FormatError

        try:
            frame = index_release(root, out_path, split_csv=split_csv, jobs=jobs)
        except FormatError as error:
            if error.path != root:
                raise
            others = ", ".join(DATASET_NAMES[1:])
            raise click.ClickException(f"{error} (another dataset? pass --format, one of {others})") from error
        n_ok = int((frame["status"] == "ok").sum())
        emit({"frames": len(frame), "ok": n_ok, "failed": len(frame) - n_ok, "manifest": out_path},
             f"{len(frame)} frames ({n_ok} ok) -> {out_path}")
        return
    from obtoolkit.datasets import dataset_names
    from obtoolkit.datasets.manifest import index_dataset

    if dataset not in dataset_names():
        raise click.BadParameter(f"unknown format {dataset!r}; known: {', '.join(dataset_names())}",
                                 param_hint="--format")
    if split_csv is not None:
        raise click.BadParameter(f"only for OB-Hypersim ({dataset} reads its own split files)",
                                 param_hint="--split-csv")
    indexed = index_dataset(dataset, root, out_path, val_frames=val_frames, jobs=jobs)
    failures = [{"frame": row["frame_id"], "error": row["error"]} for row in indexed.rows if row["status"] != "ok"]
    n_ok = len(indexed.rows) - len(failures)
    counts = ", ".join(f"{split} {n}" for split, n in indexed.splits().items()) or "none"
    emit({"frames": len(indexed.rows), "ok": n_ok, "failed": len(failures), "splits": indexed.splits(),
          "manifest": out_path, "failures": failures},
         f"{len(indexed.rows)} frames ({n_ok} ok: {counts}) -> {out_path}")
    for failure in failures[:FAILURES_SHOWN]:
        click.echo(f"FAILED {failure['frame']}: {failure['error']}", err=True)


@manifest.command("merge")
@click.argument("parts", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@out_option(file=True, required=True, param="out_path", help="The merged manifest.")
@json_option
def manifest_merge(parts, out_path):
    """Merge manifest parts (files or folders of part-*.parquet) into one sorted manifest."""
    from obtoolkit.manifest import merge_parts

    files = [p for path in parts for p in (sorted(path.glob("*.parquet")) if path.is_dir() else [path])]
    table = merge_parts(files, out_path)
    emit({"rows": table.num_rows, "parts": len(files), "manifest": out_path},
         f"{table.num_rows} rows from {len(files)} parts -> {out_path}")


@click.command("export-splits")
@out_option(required=True, param="out_dir", positional="OUT_DIR", help="Folder for the split lists.")
@click.option("--preset", required=True, type=click.Choice(["hypersim-v1", "modot"]))
@click.option("--split-csv", type=_EXISTING_FILE, help="Hypersim's metadata_images_split_scene_v1.csv (hypersim-v1).")
@click.option("--modot-lists", help="Folder or base URL of MoDOT's hypersim_filtered_{train,test}.txt "
                                    "(default: the public GitHub URL).")
@click.option("--manifest", "manifest_path", type=_EXISTING_FILE, help="Manifest whose statistics the filters use.")
@click.option("--max-nan-fraction", type=click.FloatRange(0, 1))
@click.option("--min-ob-fraction", type=click.FloatRange(0, 1))
@click.option("--split", "splits", multiple=True, help="Only these splits (repeatable).")
@json_option
def export_splits(out_dir, preset, split_csv, modot_lists, manifest_path, max_nan_fraction, min_ob_fraction, splits):
    """Write split lists in MoDOT's format (one `hypersim/ai_VVV_NNN/cam_XX/tonemap/IIII` per line) and Parquet/CSV."""
    from obhypersim_build.splits import SplitFilters
    from obhypersim_build.splits import export_splits as run_export

    filters = SplitFilters(max_nan_fraction=max_nan_fraction, min_ob_fraction=min_ob_fraction)
    counts = run_export(out_dir, preset, split_csv=split_csv, modot_lists=modot_lists, manifest=manifest_path,
                        filters=filters, splits=list(splits) or None)
    dropped = json.loads((Path(out_dir) / "splits.json").read_text())["dropped"]
    emit({"counts": counts, "dropped": dropped, "out": out_dir},
         ", ".join(f"{name}: {n}" for name, n in counts.items()) + f" -> {out_dir}"
         + (f" ({dropped} frames dropped by the manifest filters)" if dropped else ""))


@click.command()
@click.argument("label_root", type=_EXISTING_DIR)
@out_option(param="out_dir", help="Where to write the pictures (default: LABEL_ROOT/pictures).")
@click.option("--frame", "frames", multiple=True, metavar="ai_VVV_NNN/cam_XX/IIII", help="Only these frames.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many frames.")
@jobs_option()
@json_option
def viz(label_root, out_dir, frames, limit, jobs):
    """Pictures of labels: boundaries by class, orientation wheel and arrows, depth (one PNG per frame; a frame
    that cannot be read is reported and skipped, and the exit status is then 1)."""
    from obhypersim_build.pictures import viz_tree
    from obtoolkit.hypersim import parse_frame_id

    out_dir = out_dir or label_root / "pictures"
    summary = viz_tree(label_root, out_dir, frames=[parse_frame_id(f) for f in frames] or None, limit=limit,
                       jobs=jobs)
    for frame, error in summary.failures[:FAILURES_SHOWN]:
        click.echo(f"FAILED {frame}: {error}", err=True)
    emit({"pictures": summary.paths, "failed": len(summary.failures), "out": out_dir,
          "failures": [{"frame": str(frame), "error": error} for frame, error in summary.failures]},
         f"{len(summary.paths)} pictures under {out_dir}"
         + (f"; {len(summary.failures)} frames failed" if summary.failures else ""))
    if summary.failures:
        sys.exit(1)


COMMANDS = [generate, validate, viz, manifest, export_splits]

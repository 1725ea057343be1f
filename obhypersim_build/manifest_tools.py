"""`obh manifest`: readable views of a manifest, and manifests for existing OB-Hypersim folders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from tqdm import tqdm

from obtoolkit.boundaries.stats import frame_statistics
from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.hypersim import FrameId, read_hdf5_dataset, read_split_csv
from obtoolkit.labels_io import DATASET_DIR, LabelArrays, product_relpath, read_label_product
from obtoolkit.manifest import STATUS_ERROR, STATUS_OK, FrameRecord, read_manifest, records_to_table, write_table
from obtoolkit.products import products
from obtoolkit.provenance import package_version

INDEXED_PARAMS_HASH = "external"
SHOW_COLUMNS = ("scene", "camera", "frame", "split", "status", "height", "width", "ob_fraction", "target_fraction",
                "invalid_fraction")


class UnknownColumnsError(OBToolkitError, ValueError):
    """Columns asked of a manifest that it does not have."""


def manifest_frame(path: str | Path) -> pd.DataFrame:
    """The manifest as a pandas DataFrame (for analysis and reports)."""
    frame = read_manifest(path).to_pandas()
    for column in ("scene", "camera", "split", "status"):
        frame[column] = frame[column].astype("string")
    return frame


def stats_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per split and per scene: frames, ok, failed, mean label statistics; and the failed frames with errors."""
    frame = frame.assign(split=frame["split"].fillna("(none)"), ok=frame["status"] == STATUS_OK,
                         failed=frame["status"] == STATUS_ERROR)
    aggregations = {"frames": ("frame", "size"), "ok": ("ok", "sum"), "failed": ("failed", "sum"),
                    "ob_fraction": ("ob_fraction", "mean"), "self_fraction": ("ob_self_fraction", "mean"),
                    "inter_fraction": ("ob_inter_fraction", "mean"), "contour_fraction": ("contour_fraction", "mean"),
                    "invalid_fraction": ("invalid_fraction", "mean"),
                    "depth_nan_fraction": ("depth_nan_fraction", "mean"),
                    "undefined_ori": ("undefined_orientation_fraction", "mean")}
    by_split = frame.groupby("split", dropna=False).agg(**aggregations)
    by_scene = frame.groupby("scene", dropna=False).agg(**aggregations)
    failures = frame.loc[frame["failed"], ["scene", "camera", "frame", "error"]]
    return {"by_split": by_split, "by_scene": by_scene, "failures": failures}


def format_stats(tables: dict[str, pd.DataFrame], max_failures: int = 20) -> str:
    """The stats tables as text a person can read."""
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 140,
                           "display.max_columns", 20, "display.max_colwidth", 100):
        parts = ["Per split:", tables["by_split"].to_string(), "", "Per scene:", tables["by_scene"].to_string()]
        failures = tables["failures"]
        if len(failures):
            parts += ["", f"Failed frames ({len(failures)}):", failures.head(max_failures).to_string(index=False)]
            if len(failures) > max_failures:
                parts.append(f"... and {len(failures) - max_failures} more")
    return "\n".join(parts)


def discover_release_frames(ob_root: Path) -> list[FrameId]:
    """Frames of a MoDOT-layout folder: every hypersim/<scene>/<camera>/tonemap/IIII.jpg."""
    return [FrameId(p.parents[2].name, p.parents[1].name, int(p.stem))
            for p in sorted((ob_root / DATASET_DIR).glob("ai_*/cam_*/tonemap/*.jpg"))]


def index_frame(ob_root: Path, frame: FrameId, meta: tuple[str | None, bool | None]) -> FrameRecord:
    """A manifest row for one frame of an existing folder: the products of the table present, statistics
    (`frame_statistics`, as generation records them) and the content hashes of the hashed products present.
    A frame without a required product fails, naming the file."""
    fields: dict = {"scene": frame.scene, "camera": frame.camera, "frame": frame.frame, "split": meta[0],
                    "public": meta[1], "params_hash": INDEXED_PARAMS_HASH, "package_version": package_version()}
    present = {entry.name: product_relpath(frame, entry.name) for entry in products()
               if (ob_root / product_relpath(frame, entry.name)).is_file()}
    fields.update({entry.column: present.get(entry.name) for entry in products()})
    try:
        for entry in products():
            if entry.required and entry.name not in present:
                raise FileNotFoundError(f"{ob_root / product_relpath(frame, entry.name)}: missing ({entry.name} of "
                                        f"{frame})")
        fields.update(_indexed_statistics(ob_root, frame, present))
    except (OBToolkitError, OSError) as error:
        return FrameRecord.from_dict({**fields, "status": STATUS_ERROR, "error": f"{type(error).__name__}: {error}"})
    return FrameRecord.from_dict(fields)


def _indexed_statistics(ob_root: Path, frame: FrameId, present: dict[str, str]) -> dict:
    depth = read_hdf5_dataset(ob_root / present["depth_hdf5"], what=f"depth of {frame}", kind="f")
    arrays = {}
    for entry in products("label"):
        if entry.name in present:
            arrays.update(read_label_product(ob_root, frame, entry))
    labels = LabelArrays(arrays)
    stats = frame_statistics(arrays, np.isfinite(depth))
    stats.update({f"{key}_hash": digest for key, digest in labels.content_hashes().items()})
    return stats


def index_release(ob_root: str | Path, out_path: str | Path, *, split_csv: Path | None = None, jobs: int = 1,
                  progress: bool = True) -> pd.DataFrame:
    """Build a manifest for an existing MoDOT-layout OB-Hypersim folder (e.g. the authors' release)."""
    ob_root = Path(ob_root)
    frames = discover_release_frames(ob_root)
    if not frames:
        raise FormatError(ob_root, f"OB-Hypersim frames in MoDOT's layout ({DATASET_DIR}/ai_*/cam_*/tonemap/*.jpg)",
                          "none")
    lookup = {}
    if split_csv is not None:
        table = read_split_csv(split_csv)
        lookup = {(s, c, int(f)): (None if pd.isna(p) else p, bool(pub)) for s, c, f, pub, p in zip(
            table["scene_name"], table["camera_name"], table["frame_id"], table["included_in_public_release"],
            table["split_partition_name"], strict=True)}
    calls = (joblib.delayed(index_frame)(ob_root, f, lookup.get(tuple(f), (None, None))) for f in frames)
    records = list(tqdm(joblib.Parallel(n_jobs=jobs, return_as="generator")(calls), total=len(frames),
                        unit="frame", disable=not progress, desc="index"))
    table = records_to_table(records)
    write_table(out_path, table)
    return table.to_pandas()


def show_frame(path: str | Path, *, rows: int = 20, columns: Sequence[str] | None = None,
               status: str | None = None) -> tuple[pd.DataFrame, int]:
    """The first `rows` rows (0: all) of a manifest with `columns` (None: `SHOW_COLUMNS`, plus `error` when a
    shown row failed; ["all"]: every column), and the number of rows that matched `status`.

    Raises UnknownColumnsError naming the unknown columns and listing the available ones.
    """
    frame = manifest_frame(path)
    if status is not None:
        frame = frame[frame["status"] == status]
    total = len(frame)
    if rows:
        frame = frame.head(rows)
    return frame[show_columns(frame, columns)], total


def show_columns(frame: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    """The columns `manifest show` prints (see `show_frame`)."""
    available = list(frame.columns)
    if columns is None:
        failed = "error" in available and bool(frame["error"].notna().any())
        return [c for c in SHOW_COLUMNS if c in available] + (["error"] if failed else [])
    if list(columns) == ["all"]:
        return available
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise UnknownColumnsError(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                                  f"the manifest has: {', '.join(available)} (or all)")
    return list(columns)


def format_shown(shown: pd.DataFrame, total: int) -> str:
    """`show_frame`'s rows as text, under a line that counts them."""
    more = f", the first {len(shown)} shown" if len(shown) < total else ""
    with pd.option_context("display.width", 160, "display.max_colwidth", 60, "display.float_format",
                           "{:.4f}".format):
        return f"{total} rows{more}\n" + shown.to_string(index=False)

"""Manifests of datasets in other formats (NYUD-MT, OB-FUTURE, iBims-1, DIODE, OB-DIODE, OB-EntitySeg): the contract
between `obh manifest index ROOT --format NAME` and training / evaluation.

One Parquet file, one row per frame of a split, every frame decoded once while indexing (a frame that fails is a
row with status "failed" and its error, never a dead run). Paths are relative to the dataset root given at run
time. Schema metadata: the manifest version, the format's name and options.

| column | type | meaning |
|---|---|---|
| frame_id | string | the format's frame id (`FrameFiles.frame_id`) |
| split | string | the format's split ("train", "test", "indoor", ...), "val" for frames held out of "train", or "all" |
| image, depth, depth_mask, boundary, orientation, instance_contour | string (null: none) | `FrameFiles` paths |
| status | string | "ok" or "failed" |
| error | string (null) | why the frame failed (names the file) |
| height, width | int32 (null when failed) | image size |
| depth_valid_fraction | float32 (null: no depth GT or failed) | fraction of pixels with valid depth |
| boundary_fraction | float32 (null: no OB GT or failed) | fraction of boundary pixels |
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from obtoolkit.datasets.base import SPLIT_ALL, DatasetFormat, FrameFiles, LayoutError, check_relative_id
from obtoolkit.datasets.registry import get_format
from obtoolkit.errors import ConfigError, FormatError, MissingFileError, OBToolkitError
from obtoolkit.fileio import atomic_path

MANIFEST_VERSION = "dataset-1"
VAL_SPLIT = "val"
STATUS_OK, STATUS_FAILED = "ok", "failed"
_ROLES = ("image", "depth", "depth_mask", "boundary", "orientation", "instance_contour")
SCHEMA = pa.schema(
    [pa.field("frame_id", pa.string(), nullable=False), pa.field("split", pa.string(), nullable=False)]
    + [pa.field(role, pa.string()) for role in _ROLES]
    + [pa.field("status", pa.string(), nullable=False), pa.field("error", pa.string()),
       pa.field("height", pa.int32()), pa.field("width", pa.int32()),
       pa.field("depth_valid_fraction", pa.float32()), pa.field("boundary_fraction", pa.float32())]
)
_KEY_VERSION, _KEY_FORMAT, _KEY_OPTIONS = b"obh_dataset_manifest_version", b"obh_dataset_format", b"obh_format_options"


@dataclasses.dataclass(frozen=True)
class DatasetManifest:
    """A read manifest: the format's name and options, and its rows (dicts with the schema's columns)."""

    path: Path
    format: str
    options: dict
    rows: list[dict]

    def splits(self) -> dict[str, int]:
        """{split: frames with status ok}."""
        counts: dict[str, int] = {}
        for row in self.rows:
            if row["status"] == STATUS_OK:
                counts[row["split"]] = counts.get(row["split"], 0) + 1
        return counts

    def frames(self, split: str) -> list[FrameFiles]:
        """The ok frames of `split`, in manifest order; an error naming the manifest and its splits if none."""
        frames = [FrameFiles(frame_id=row["frame_id"], **{role: row[role] for role in _ROLES})
                  for row in self.rows if row["split"] == split and row["status"] == STATUS_OK]
        if not frames:
            known = ", ".join(f"{name} ({n})" for name, n in sorted(self.splits().items())) or "none"
            raise FormatError(self.path, f"usable (status ok) frames of split {split!r}", f"splits {known}")
        return frames


# -- indexing ----------------------------------------------------------------------------------------------------


def official_splits(fmt: DatasetFormat, root: Path) -> dict[str, list[str]]:
    """{split: frame ids} of every split whose list file exists under `root` (official removals applied); with no
    list file, every frame the layout holds as split "all". A frame listed in two splits is an error."""
    splits = {name: fmt.read_split(root, name) for name, relative in fmt.split_files.items()
              if (root / relative).is_file()}
    if not splits:
        ids = fmt.discover(root)
        if not ids:
            raise LayoutError(root, f"{fmt.title} frames ({fmt.layout})", "none")
        return {SPLIT_ALL: ids}
    seen: dict[str, str] = {}
    for name, ids in splits.items():
        for frame_id in ids:
            if seen.setdefault(frame_id, name) != name:
                raise FormatError(root / fmt.split_files[name], f"splits without common frames ({fmt.title})",
                                  f"frame {frame_id} also in split {seen[frame_id]!r}")
    return splits


def hold_out(splits: dict[str, list[str]], count: int, source: str = "train") -> dict[str, list[str]]:
    """Move `count` frames of `source`, evenly spaced over its list (deterministic), into split "val"."""
    if count == 0:
        return splits
    if source not in splits or VAL_SPLIT in splits:
        raise ConfigError(f"cannot hold out {count} frames: need a {source!r} split and no {VAL_SPLIT!r} split, "
                          f"found splits {sorted(splits)}")
    ids = splits[source]
    if not 0 < count < len(ids):
        raise ConfigError(f"cannot hold out {count} of the {len(ids)} {source!r} frames (keep at least one)")
    chosen = {int((i + 0.5) * len(ids) / count) for i in range(count)}
    return {**splits, source: [f for i, f in enumerate(ids) if i not in chosen],
            VAL_SPLIT: [f for i, f in enumerate(ids) if i in chosen]}


def index_frame(fmt: DatasetFormat, root: Path, files: FrameFiles, split: str) -> dict:
    """One manifest row: the frame decoded (status ok, sizes, fractions) or its error (status failed)."""
    row = {"frame_id": files.frame_id, "split": split, **{role: getattr(files, role) for role in _ROLES},
           "status": STATUS_OK, "error": None, "height": None, "width": None, "depth_valid_fraction": None,
           "boundary_fraction": None}
    try:
        arrays = fmt.read_frame(root, files)
    except (OBToolkitError, OSError, ValueError) as error:
        return {**row, "status": STATUS_FAILED, "error": str(error)}
    row["height"], row["width"] = arrays.image_rgb.shape[:2]
    if arrays.depth_valid is not None:
        row["depth_valid_fraction"] = float(np.mean(arrays.depth_valid))
    if arrays.boundary is not None:
        row["boundary_fraction"] = float(np.mean(arrays.boundary))
    return row


def index_dataset(name: str, root: str | Path, out_path: str | Path, *, val_frames: int = 0, jobs: int = 1,
                  options: dict | None = None, progress: bool = True) -> DatasetManifest:
    """Index a dataset tree of format `name` into a manifest at `out_path` (written atomically).

    Args:
        name: a registered format name; options: its options (e.g. {"orientation": True} for ob_future).
        root: the dataset root, in the format's layout.
        out_path: the manifest to write.
        val_frames: frames of "train" held out as split "val" (evenly spaced; 0: none). NYUD-MT and OB-FUTURE have
            no official validation split; validating on "test" would tune on the test set.
        jobs: worker processes decoding frames (joblib).
    """
    options = dict(options or {})
    fmt = get_format(name, **options)
    root = fmt.check_layout(root)
    splits = official_splits(fmt, root)
    try:
        splits = hold_out(splits, val_frames)
    except ConfigError as error:
        raise ConfigError(f"{root} ({fmt.title}): {error}") from None
    work = [(fmt.frame_files(frame_id), split) for split, ids in splits.items() for frame_id in ids]
    calls = (joblib.delayed(index_frame)(fmt, root, files, split) for files, split in work)
    rows = list(tqdm(joblib.Parallel(n_jobs=jobs, return_as="generator")(calls), total=len(work), unit="frame",
                     desc=f"index {name}", disable=not progress))
    metadata = {_KEY_VERSION: MANIFEST_VERSION.encode(), _KEY_FORMAT: name.encode(),
                _KEY_OPTIONS: json.dumps(options, sort_keys=True).encode()}
    table = pa.Table.from_pylist(rows, schema=SCHEMA).replace_schema_metadata(metadata)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return DatasetManifest(out_path, name, options, rows)


# -- reading -----------------------------------------------------------------------------------------------------


def read_dataset_manifest(path: str | Path, *, expect_format: str | None = None) -> DatasetManifest:
    """Read a dataset manifest (checked: version, schema, safe relative paths; `expect_format` if given)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "a dataset manifest (obh manifest index ROOT --format NAME)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise FormatError(path, "a Parquet dataset manifest", f"unreadable: {error}") from error
    metadata = table.schema.metadata or {}
    version = metadata.get(_KEY_VERSION, b"").decode()
    if version != MANIFEST_VERSION:
        hint = " (an OB-Hypersim manifest? use data.format ob_hypersim)" if not version else ""
        raise FormatError(path, f"dataset manifest version {MANIFEST_VERSION}", f"version {version or 'none'}{hint}")
    name = metadata.get(_KEY_FORMAT, b"").decode()
    if expect_format is not None and name != expect_format:
        raise FormatError(path, f"a manifest of format {expect_format!r}", f"format {name!r}")
    missing = [f.name for f in SCHEMA if f.name not in table.column_names]
    if missing:
        raise FormatError(path, f"columns {[f.name for f in SCHEMA]}", f"{', '.join(missing)} missing")
    rows = table.select([f.name for f in SCHEMA]).to_pylist()
    _check_paths(path, rows)
    options = json.loads(metadata.get(_KEY_OPTIONS, b"{}"))
    return DatasetManifest(path, name, options, rows)


def _check_paths(path: Path, rows: Sequence[dict]) -> None:
    """Every path of every row relative and inside the root (no absolute path, no '..'), else a FormatError."""
    for number, row in enumerate(rows):
        for role in _ROLES:
            if row[role] is not None:
                try:
                    check_relative_id(row[role])
                except ValueError as error:
                    raise FormatError(path, f"a relative path in column {role} (row {number}, frame "
                                            f"{row['frame_id']})", str(error)) from None

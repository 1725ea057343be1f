"""The manifest: one row per frame, the contract between the generation stage and training.

An explicit, versioned pyarrow schema. Workers write `manifest.parts/part-*.parquet`; a merge writes one sorted,
zstd-compressed `manifest.parquet` whose schema metadata holds the manifest version and the resolved build config.
Readers always pass the schema (a dataset inferred from its first file silently drops columns other files have).
Paths in rows are relative to a dataset root given at run time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.fileio import atomic_path

MANIFEST_VERSION = "1"
METADATA_VERSION_KEY = b"ob_hypersim.manifest_version"
METADATA_CONFIG_KEY = b"ob_hypersim.build_config"
PRODUCT_PATH_COLUMNS = ("rgb_path", "depth_path", "ob_path", "instance_contour_path", "ori_path", "ori16_path",
                        "order_path", "ob_class_path", "stats_path")
HASH_COLUMNS = ("ob_hash", "instance_contour_hash", "ori_hash", "ori16_hash", "order_hash", "relation_class_hash",
                "ob_class_hash")
STAT_COLUMNS = ("nan_fraction", "ob_fraction", "ob_void_fraction", "ob_inter_fraction", "ob_self_fraction",
                "contour_fraction", "target_fraction", "undefined_orientation_fraction", "depth_normal_fraction")
STATUS_OK, STATUS_ERROR = "ok", "error"
logger = logging.getLogger(__name__)

_DICT8 = pa.dictionary(pa.int8(), pa.string())
SCHEMA = pa.schema(
    [
        pa.field("scene", pa.dictionary(pa.int16(), pa.string()), nullable=False),
        pa.field("camera", _DICT8, nullable=False),
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("split", _DICT8),
        pa.field("public", pa.bool_()),
        pa.field("status", _DICT8, nullable=False),
        pa.field("error", pa.string()),
        *[pa.field(name, pa.string()) for name in PRODUCT_PATH_COLUMNS],
        pa.field("height", pa.int16()),
        pa.field("width", pa.int16()),
        *[pa.field(name, pa.float32()) for name in STAT_COLUMNS],
        pa.field("n_ties", pa.int32()),
        pa.field("validation_failed", pa.bool_()),
        pa.field("validation_warnings", pa.string()),
        pa.field("params_hash", pa.string()),
        *[pa.field(name, pa.string()) for name in HASH_COLUMNS],
        pa.field("package_version", pa.string()),
    ],
    metadata={METADATA_VERSION_KEY: MANIFEST_VERSION.encode()},
)


@dataclass(frozen=True)
class FrameRecord:
    """One manifest row. Field names and order follow SCHEMA; None is a null."""

    scene: str
    camera: str
    frame: int
    split: str | None = None
    public: bool | None = None
    status: str = STATUS_OK
    error: str | None = None
    rgb_path: str | None = None
    depth_path: str | None = None
    ob_path: str | None = None
    instance_contour_path: str | None = None
    ori_path: str | None = None
    ori16_path: str | None = None
    order_path: str | None = None
    ob_class_path: str | None = None
    stats_path: str | None = None
    height: int | None = None
    width: int | None = None
    nan_fraction: float | None = None
    ob_fraction: float | None = None
    ob_void_fraction: float | None = None
    ob_inter_fraction: float | None = None
    ob_self_fraction: float | None = None
    contour_fraction: float | None = None
    target_fraction: float | None = None
    undefined_orientation_fraction: float | None = None
    depth_normal_fraction: float | None = None
    n_ties: int | None = None
    validation_failed: bool | None = None
    validation_warnings: str | None = None
    params_hash: str | None = None
    ob_hash: str | None = None
    instance_contour_hash: str | None = None
    ori_hash: str | None = None
    ori16_hash: str | None = None
    order_hash: str | None = None
    relation_class_hash: str | None = None
    ob_class_hash: str | None = None
    package_version: str | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> FrameRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(row) - names
        if unknown:
            raise ValueError(f"unknown manifest fields: {sorted(unknown)}")
        return cls(**row)


assert [f.name for f in dataclasses.fields(FrameRecord)] == SCHEMA.names, "FrameRecord and SCHEMA disagree"


def records_to_table(records: Iterable[FrameRecord], metadata: dict[bytes, bytes] | None = None) -> pa.Table:
    """A table with exactly SCHEMA (plus `metadata`), sorted by (scene, camera, frame)."""
    rows = [r.as_dict() for r in sorted(records, key=lambda r: (r.scene, r.camera, r.frame))]
    table = pa.Table.from_pylist(rows, schema=SCHEMA) if rows else SCHEMA.empty_table()
    if metadata:
        table = table.replace_schema_metadata({**(SCHEMA.metadata or {}), **metadata})
    return table


def table_to_records(table: pa.Table) -> list[FrameRecord]:
    return [FrameRecord.from_dict(row) for row in table.to_pylist()]


def write_table(path: str | Path, table: pa.Table) -> None:
    """Write a manifest table atomically: zstd, 16k-row groups."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=16_384)


def build_metadata(build_config: dict | None) -> dict[bytes, bytes]:
    """Schema metadata: the manifest version and the resolved build config (JSON)."""
    metadata = {METADATA_VERSION_KEY: MANIFEST_VERSION.encode()}
    if build_config is not None:
        metadata[METADATA_CONFIG_KEY] = json.dumps(build_config, sort_keys=True).encode()
    return metadata


def read_manifest(path: str | Path, *, columns: Sequence[str] | None = None, filter=None) -> pa.Table:
    """Read a manifest file or a folder of parts, always with SCHEMA; checks the manifest version."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(path, "manifest (.parquet file or folder of parts)")
    if path.is_file():
        _check_version(path)
    try:
        dataset = ds.dataset(str(path), schema=SCHEMA, format="parquet")
        table = dataset.to_table(columns=list(columns) if columns else None, filter=filter)
    except (pa.ArrowInvalid, OSError) as error:
        raise FormatError(path, "a manifest readable with the OB-Hypersim schema", str(error)) from error
    check_relative_paths(table, path)
    logger.debug("%s: %d manifest rows read", path, table.num_rows)
    return table


# An absolute path (POSIX or Windows), a `..` component or a backslash: a path that can leave the dataset root.
_ESCAPING_PATH = r"^/|^[A-Za-z]:|\\|(^|/)\.\.(/|$)"


def check_relative_paths(table: pa.Table, source: str | Path) -> None:
    """Raise a FormatError naming the row unless every product path of `table` is relative and stays inside the
    dataset root (no absolute path, no `..` component): a manifest is data, and must not make a reader open files
    elsewhere."""
    for column in PRODUCT_PATH_COLUMNS:
        if column not in table.column_names:
            continue
        escaping = pc.fill_null(pc.match_substring_regex(table[column], _ESCAPING_PATH), False)
        if pc.any(escaping).as_py():
            row = pc.index(escaping, True).as_py()
            names = [c for c in ("scene", "camera", "frame") if c in table.column_names]
            frame = "/".join(str(table[c][row].as_py()) for c in names)
            raise FormatError(source, f"{column} relative to the dataset root, without '..'",
                              f"{table[column][row].as_py()!r} in row {row}" + (f" ({frame})" if frame else ""))


def _check_version(path: Path) -> None:
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as error:
        raise FormatError(path, "a Parquet manifest", str(error)) from error
    version = metadata.get(METADATA_VERSION_KEY, b"").decode()
    if version != MANIFEST_VERSION:
        raise FormatError(path, f"manifest version {MANIFEST_VERSION}", f"version {version or 'none'}")


def manifest_config(path: str | Path) -> dict | None:
    """The resolved build config stored in a manifest's metadata (None if absent)."""
    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(METADATA_CONFIG_KEY)
    return None if raw is None else json.loads(raw)


def merge_parts(parts: Sequence[str | Path], out_path: str | Path, build_config: dict | None = None) -> pa.Table:
    """Concatenate manifest parts, keep the last row for each (scene, camera, frame), sort, write atomically."""
    latest: dict[tuple[str, str, int], FrameRecord] = {}
    for part in parts:
        for record in table_to_records(read_manifest(part)):
            latest[(record.scene, record.camera, record.frame)] = record
    table = records_to_table(latest.values(), build_metadata(build_config))
    write_table(out_path, table)
    logger.info("%s: %d rows merged from %d manifest parts", out_path, table.num_rows, len(parts))
    return table

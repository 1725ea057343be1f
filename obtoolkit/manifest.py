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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.fileio import atomic_path
from obtoolkit.products import hash_columns, path_columns

MANIFEST_VERSION = "2"
READABLE_VERSIONS = ("1", "2")
METADATA_VERSION_KEY = b"ob_hypersim.manifest_version"
METADATA_CONFIG_KEY = b"ob_hypersim.build_config"
STAT_COLUMNS = ("invalid_fraction", "depth_nan_fraction", "ob_fraction", "ob_void_fraction", "ob_inter_fraction",
                "ob_self_fraction", "contour_fraction", "target_fraction", "undefined_orientation_fraction",
                "depth_normal_fraction")
STATUS_OK, STATUS_ERROR = "ok", "error"
logger = logging.getLogger(__name__)

_DICT8 = pa.dictionary(pa.int8(), pa.string())
_HEAD = [
    pa.field("scene", pa.dictionary(pa.int16(), pa.string()), nullable=False),
    pa.field("camera", _DICT8, nullable=False),
    pa.field("frame", pa.int32(), nullable=False),
    pa.field("split", _DICT8),
    pa.field("public", pa.bool_()),
    pa.field("status", _DICT8, nullable=False),
    pa.field("error", pa.string()),
]
_BODY = [
    pa.field("height", pa.int16()),
    pa.field("width", pa.int16()),
    *[pa.field(name, pa.float32()) for name in STAT_COLUMNS],
    pa.field("n_ties", pa.int32()),
    pa.field("validation_failed", pa.bool_()),
    pa.field("validation_warnings", pa.string()),
    pa.field("params_hash", pa.string()),
]


def manifest_schema() -> pa.Schema:
    """The manifest's schema: fixed columns, then a path column per product and a hash column per hashed array of
    the product table (`obtoolkit.products`, read at call time)."""
    return pa.schema(
        [*_HEAD, *[pa.field(name, pa.string()) for name in path_columns()], *_BODY,
         *[pa.field(name, pa.string()) for name in hash_columns()], pa.field("package_version", pa.string())],
        metadata={METADATA_VERSION_KEY: MANIFEST_VERSION.encode()},
    )


SCHEMA = manifest_schema()  # of the shipped product table


@dataclass(frozen=True)
class FrameRecord:
    """One manifest row; None is a null. Path and hash columns live in `paths` and `hashes` (column name ->
    value) and read as attributes: record.ob_path, record.ob_hash (None when absent).

    Statistics (`obtoolkit.boundaries.stats.frame_statistics`; one meaning in generated and indexed manifests):
    invalid_fraction is the fraction of pixels outside the valid-mask product (null without one), depth_nan_fraction
    the fraction of non-finite depth; depth_normal_fraction and n_ties exist for generated frames only.
    """

    scene: str
    camera: str
    frame: int
    split: str | None = None
    public: bool | None = None
    status: str = STATUS_OK
    error: str | None = None
    height: int | None = None
    width: int | None = None
    invalid_fraction: float | None = None
    depth_nan_fraction: float | None = None
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
    package_version: str | None = None
    paths: Mapping[str, str | None] = field(default_factory=dict, compare=True)
    hashes: Mapping[str, str | None] = field(default_factory=dict, compare=True)

    def __getattr__(self, name: str):
        if name in ("paths", "hashes"):
            raise AttributeError(name)
        if name in path_columns():
            return self.paths.get(name)
        if name in hash_columns():
            return self.hashes.get(name)
        raise AttributeError(f"FrameRecord has no field {name!r}")

    def as_dict(self) -> dict:
        """The row as {column: value}, in the schema's column order."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("paths", "hashes")}
        values.update({name: self.paths.get(name) for name in path_columns()})
        values.update({name: self.hashes.get(name) for name in hash_columns()})
        return {name: values[name] for name in manifest_schema().names}

    @classmethod
    def from_dict(cls, row: Mapping) -> FrameRecord:
        """A record from {column: value} (a manifest row or a stats JSON); unknown columns are an error."""
        paths, hashes, names = set(path_columns()), set(hash_columns()), {f.name for f in dataclasses.fields(cls)}
        unknown = set(row) - paths - hashes - (names - {"paths", "hashes"})
        if unknown:
            raise ValueError(f"unknown manifest fields: {sorted(unknown)}")
        return cls(**{k: v for k, v in row.items() if k in names},
                   paths={k: v for k, v in row.items() if k in paths},
                   hashes={k: v for k, v in row.items() if k in hashes})

    def replace(self, **changes) -> FrameRecord:
        """A copy with columns changed (path and hash columns included)."""
        return FrameRecord.from_dict({**self.as_dict(), **changes})


def records_to_table(records: Iterable[FrameRecord], metadata: dict[bytes, bytes] | None = None) -> pa.Table:
    """A table with exactly the manifest schema (plus `metadata`), sorted by (scene, camera, frame)."""
    schema = manifest_schema()
    rows = [r.as_dict() for r in sorted(records, key=lambda r: (r.scene, r.camera, r.frame))]
    table = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
    if metadata:
        table = table.replace_schema_metadata({**(schema.metadata or {}), **metadata})
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
    """Read a manifest file or a folder of parts, always with the current schema; checks the manifest version.

    A version-1 file is converted on reading (`_from_version_1`); a folder of parts is read as the current version.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(path, "manifest (.parquet file or folder of parts)")
    version = _check_version(path) if path.is_file() else MANIFEST_VERSION
    try:
        if version == "1":
            table = _from_version_1(pq.read_table(path))
            if filter is not None:
                table = table.filter(filter)
            table = table.select(list(columns)) if columns else table
        else:
            dataset = ds.dataset(str(path), schema=manifest_schema(), format="parquet")
            table = dataset.to_table(columns=list(columns) if columns else None, filter=filter)
    except (pa.ArrowInvalid, OSError, KeyError) as error:
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
    for column in path_columns():
        if column not in table.column_names:
            continue
        escaping = pc.fill_null(pc.match_substring_regex(table[column], _ESCAPING_PATH), False)
        if pc.any(escaping).as_py():
            row = pc.index(escaping, True).as_py()
            names = [c for c in ("scene", "camera", "frame") if c in table.column_names]
            frame = "/".join(str(table[c][row].as_py()) for c in names)
            raise FormatError(source, f"{column} relative to the dataset root, without '..'",
                              f"{table[column][row].as_py()!r} in row {row}" + (f" ({frame})" if frame else ""))


def _check_version(path: Path) -> str:
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as error:
        raise FormatError(path, "a Parquet manifest", str(error)) from error
    version = metadata.get(METADATA_VERSION_KEY, b"").decode()
    if version not in READABLE_VERSIONS:
        raise FormatError(path, f"manifest version {' or '.join(READABLE_VERSIONS)}", f"version {version or 'none'}")
    return version


def _from_version_1(table: pa.Table) -> pa.Table:
    """A version-1 manifest in the current schema. Version 1's `nan_fraction` meant "1 - valid" in generated
    manifests and "non-finite depth" in indexed ones (params_hash "external"): it becomes invalid_fraction or
    depth_nan_fraction accordingly; columns version 1 did not have are null."""
    rows = table.to_pylist()
    for row in rows:
        nan_fraction = row.pop("nan_fraction", None)
        indexed = row.get("params_hash") == "external"
        row["depth_nan_fraction" if indexed else "invalid_fraction"] = nan_fraction
    known = set(manifest_schema().names)
    records = [FrameRecord.from_dict({k: v for k, v in row.items() if k in known}) for row in rows]
    converted = records_to_table(records)
    metadata = {**(table.schema.metadata or {}), METADATA_VERSION_KEY: MANIFEST_VERSION.encode()}
    return converted.replace_schema_metadata(metadata)


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

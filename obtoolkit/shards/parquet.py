"""Reading the Parquet files of a HuggingFace `datasets` folder written by `obh export hf`, without `datasets`.

Each file `data/<split>-NNNNN-of-MMMMM.parquet` has a `key` column, one column per member and the manifest columns.
Member columns, listed in the schema metadata `ob_hypersim.members` (column -> member name), are laid out as
`datasets` expects: images (JPEG, PNG) as {"bytes", "path"} structs (the `Image` feature); depth as nested lists of
its stored dtype (float16 (H, W) metres along the ray), given as the decoded member `depth.hdf5`; other files (the
`.npz` order labels) as binary; JSON members as strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from obtoolkit.errors import FormatError
from obtoolkit.shards.index import read_index, shard_problems
from obtoolkit.shards.members import ShardSample, decode_sample, sample_problems

MEMBERS_METADATA_KEY = b"ob_hypersim.members"
KEY_COLUMN = "key"
DATA_DIR = "data"


def member_columns(schema: pa.Schema, where: Path) -> dict[str, str]:
    """Column -> member name, from a file's schema metadata."""
    raw = (schema.metadata or {}).get(MEMBERS_METADATA_KEY)
    if raw is None:
        raise FormatError(where, f"schema metadata {MEMBERS_METADATA_KEY.decode()} (written by obh export hf)", "none")
    columns = json.loads(raw)
    missing = [c for c in (KEY_COLUMN, *columns) if c not in schema.names]
    if missing:
        raise FormatError(where, "the columns its metadata lists", f"no {missing}")
    return columns


def iter_parquet_samples(path: str | Path, *, batch_rows: int = 8) -> Iterator[tuple[ShardSample, dict]]:
    """(decoded sample, member name -> bytes or array) for every row of one file, read `batch_rows` at a time."""
    path = Path(path)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise FormatError(path, "a Parquet file", str(error)) from error
    columns = member_columns(parquet.schema_arrow, path)
    manifest_columns = [c for c in parquet.schema_arrow.names if c != KEY_COLUMN and c not in columns]
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            records = batch.select(manifest_columns).to_pylist()
            keys = batch.column(KEY_COLUMN).to_pylist()
            for row, (key, record) in enumerate(zip(keys, records, strict=True)):
                members = {name: value for column, name in columns.items()
                           if (value := _cell(batch.column(column), row)) is not None}
                yield decode_sample(key, members, where=path, record=record), members
    except (pa.ArrowInvalid, OSError) as error:
        raise FormatError(path, "a readable Parquet file", str(error)) from error


def _cell(column: pa.Array, row: int) -> bytes | np.ndarray | None:
    """One member of one row as bytes (images, binary, JSON) or an array (nested lists); None when null."""
    if not column[row].is_valid:
        return None
    if pa.types.is_list(column.type):
        values, shape = column.slice(row, 1), []
        while pa.types.is_list(values.type):
            count = len(values)
            values = values.flatten()
            shape.append(len(values) // count if count else 0)
        return values.to_numpy(zero_copy_only=False).reshape(shape)
    if pa.types.is_struct(column.type):
        return column.field("bytes")[row].as_py()
    value = column[row].as_py()
    return value.encode() if isinstance(value, str) else value


def verify_parquet_folder(folder: str | Path) -> Iterator[tuple[str, list[str]]]:
    """Check every file of a HuggingFace export (size, sha256) and every row (decodes, matches its manifest row);
    yields (what, problems) per file and per sample, problems naming the file."""
    folder = Path(folder)
    for entry in read_index(folder, "hf")["shards"]:
        path = folder / entry["name"]
        problems = shard_problems(folder, entry)
        yield entry["name"], problems
        if problems:
            continue
        try:
            for sample, _ in iter_parquet_samples(path):
                yield sample.key, [f"{path}: {p}" for p in sample_problems(sample)]
        except FormatError as error:
            yield entry["name"], [str(error)]

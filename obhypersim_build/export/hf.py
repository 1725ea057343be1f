"""Writing one Parquet file of a HuggingFace `datasets` folder, without the `datasets` library.

Columns: `key`; the member columns: images as {"bytes", "path"} structs, which the schema metadata `huggingface`
declares as the `Image` feature; depth as nested lists of its stored dtype (H lists of W float16); other files (the
`.npz` order labels) as binary, their bytes as they are; JSON members as strings; then the manifest columns. Every
file of an export has the same schema (`hf_schema`). A file is written under a temporary name, read back with
`obtoolkit.shards.iter_parquet_samples` and checked (members equal to what was written, labels equal to the manifest's
hashes), then renamed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.shards import iter_parquet_samples, sample_problems
from obtoolkit.shards.members import IMAGE_EXTENSIONS, member_digest, split_member
from obtoolkit.shards.parquet import KEY_COLUMN, MEMBERS_METADATA_KEY

from .plan import ExportPlan, Part, PlannedMember, PlannedSample
from .verified import BadSamples, loaded_samples, write_verified

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
ROWS_PER_GROUP = 32
BYTES_PER_GROUP = 64 << 20


def hf_schema(plan: ExportPlan) -> pa.Schema:
    """One schema for every file: key, the member columns (one type each across the export), manifest columns."""
    columns: dict[str, tuple[str, pa.DataType]] = {}
    for part in plan.parts:
        for sample in part.samples:
            for member in sample.members:
                for column, found in _member_columns(member).items():
                    if columns.setdefault(column, found) != found:
                        raise ValueError(f"column {column}: {columns[column]} and {found} (sample {sample.key}); a "
                                         f"Parquet column holds one kind of member")
    manifest_schema = plan.table.schema.remove_metadata()
    clash = sorted(({KEY_COLUMN} | set(columns)) & set(manifest_schema.names))
    if clash:
        raise ValueError(f"member columns {clash} collide with manifest columns")
    fields = [pa.field(KEY_COLUMN, pa.string(), nullable=False)]
    fields += [pa.field(column, column_type) for column, (_, column_type) in columns.items()]
    features = {column: {"_type": "Image"} for column, (_, column_type) in columns.items()
                if column_type == IMAGE_TYPE}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode(),
                MEMBERS_METADATA_KEY: json.dumps({c: name for c, (name, _) in columns.items()}).encode()}
    return pa.schema(fields + list(manifest_schema), metadata=metadata)


def _member_columns(member: PlannedMember) -> dict[str, tuple[str, pa.DataType]]:
    """Column (the product) -> (member name, Arrow type) of one planned member; none for the row."""
    if member.source is None:
        return {}
    product, extension = split_member(member.name)
    if member.array is not None:
        return {product: (member.name, _nested_type(*member.array))}
    if extension in IMAGE_EXTENSIONS:
        return {product: (member.name, IMAGE_TYPE)}
    return {product: (member.name, pa.string() if extension == "json" else pa.binary())}


def _nested_type(dtype: str, ndim: int) -> pa.DataType:
    column_type = pa.from_numpy_dtype(np.dtype(dtype))
    if column_type == pa.float16() and int(pa.__version__.split(".")[0]) < 15:  # Parquet's FLOAT16 came in pyarrow 15
        raise OBToolkitError(f"obh export hf writes the float16 depth to Parquet, which needs pyarrow >= 15; found "
                             f"pyarrow {pa.__version__}")
    for _ in range(ndim):
        column_type = pa.list_(column_type)
    return column_type


def _column_values(sample: PlannedSample, members: dict[str, bytes | np.ndarray]) -> dict[str, object]:
    """Column -> value of one sample: files as bytes, HDF5 sources as their arrays."""
    return {split_member(member.name)[0]: members[member.name] for member in sample.members
            if member.source is not None}


def write_hf_file(root: Path, out_dir: Path, part: Part, rows: list[dict], *, schema: pa.Schema) -> dict:
    """Write, read back and check one Parquet file (`write_verified`); its record lists each sample's key and member
    digests."""
    path = out_dir / part.name

    def write(tmp: Path, excluded: dict[str, str]) -> tuple[list[dict], list[dict]]:
        written, failed = _write_parquet(tmp, root, part, rows, schema, excluded)
        _read_back(tmp, path, written)
        return written, failed

    return write_verified(path, part, write)


def _write_parquet(tmp: Path, root: Path, part: Part, rows: list[dict], schema: pa.Schema,
                   excluded: dict[str, str]) -> tuple[list[dict], list[dict]]:
    names = json.loads(schema.metadata[MEMBERS_METADATA_KEY])
    written, failed, group = [], [], []
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for sample, row, members in loaded_samples(root, part, rows, excluded, failed, decode_hdf5=True):
            values = _column_values(sample, members)
            group.append((sample, row, values))
            written.append({"key": sample.key, "members": {names[c]: member_digest(v) for c, v in values.items()}})
            if len(group) == ROWS_PER_GROUP or sum(s.payload_bytes for s, _, _ in group) >= BYTES_PER_GROUP:
                writer.write_table(_group_table(group, schema, names))
                group = []
        if group:
            writer.write_table(_group_table(group, schema, names))
    return written, failed


def _group_table(group: list[tuple], schema: pa.Schema, names: dict[str, str]) -> pa.Table:
    columns = [pa.array([sample.key for sample, _, _ in group], pa.string())]
    for column in names:
        values = [found.get(column) for _, _, found in group]
        sources = [sample.sources.get(names[column]) for sample, _, _ in group]
        columns.append(_member_column(values, sources, schema.field(column).type))
    manifest_schema = pa.schema([schema.field(name) for name in schema.names[1 + len(names):]])
    manifest = pa.Table.from_pylist([row for _, row, _ in group], schema=manifest_schema)
    return pa.Table.from_arrays(columns + manifest.columns, schema=schema)


def _member_column(values: list, sources: list[str | None], column_type: pa.DataType) -> pa.Array:
    if column_type == IMAGE_TYPE:
        return pa.array([None if v is None else {"bytes": v, "path": s} for v, s in zip(values, sources,
                                                                                        strict=True)], IMAGE_TYPE)
    if pa.types.is_list(column_type):
        return _nested_lists(values, column_type)
    if column_type == pa.string():
        return pa.array([None if v is None else v.decode() for v in values], pa.string())
    return pa.array(values, pa.binary())


def _nested_lists(arrays: list[np.ndarray | None], column_type: pa.DataType) -> pa.Array:
    """N-D arrays (or None) as a list<...list<T>> column of N levels: row i is shape[0] lists of shape[1] ..."""
    ndim, value_type = 0, column_type
    while pa.types.is_list(value_type):
        ndim, value_type = ndim + 1, value_type.value_type
    offsets: list[list[np.ndarray]] = [[np.zeros(1, np.int64)] for _ in range(ndim)]
    flat, nulls = [], []
    for array in arrays:
        nulls.append(array is None)
        if array is None:
            offsets[0].append(offsets[0][-1][-1:])
            continue
        if array.ndim != ndim:
            raise ValueError(f"expected a {ndim}-D array for a {column_type} column, got shape {array.shape}")
        for level in range(ndim):  # level j adds prod(shape[:j]) lists of shape[j] items each
            count = math.prod(array.shape[:level])
            offsets[level].append(offsets[level][-1][-1] + array.shape[level] * np.arange(1, count + 1))
        flat.append(np.ascontiguousarray(array).ravel())
    values = pa.array(np.concatenate(flat), value_type) if flat else pa.array([], value_type)
    for level in reversed(range(ndim)):
        mask = pa.array(nulls, pa.bool_()) if level == 0 else None
        values = pa.ListArray.from_arrays(pa.array(np.concatenate(offsets[level]), pa.int32()), values, mask=mask)
    return values


def _read_back(tmp: Path, path: Path, written: list[dict]) -> None:
    """Read the written file as a reader would: the same keys and member digests (else FormatError), labels equal to
    the manifest's hashes (else BadSamples)."""
    samples, bad = iter_parquet_samples(tmp), {}
    for expected in written:
        try:
            sample, members = next(samples)
        except StopIteration:
            raise FormatError(path, f"{len(written)} rows as written", "fewer") from None
        except FormatError as error:
            raise FormatError(path, "a file that reads back as written", str(error)) from error
        digests = {name: member_digest(value) for name, value in members.items()}
        if sample.key != expected["key"] or digests != expected["members"]:
            raise FormatError(path, f"sample {expected['key']} as written", f"{sample.key} with other bytes")
        problems = sample_problems(sample)
        if problems:
            bad[sample.key] = "; ".join(problems)
    if next(samples, None) is not None:
        raise FormatError(path, f"{len(written)} rows as written", "more")
    if bad:
        raise BadSamples(bad)

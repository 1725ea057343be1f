"""Writing one Parquet file of a HuggingFace `datasets` folder, without the `datasets` library.

Columns: `key`; one column per member (images as {"bytes", "path"} structs, which the schema metadata `huggingface`
declares as the `Image` feature; depth as nested lists (H of W) of its stored dtype; `.npz` labels as binary; JSON
members as strings); then the manifest columns. Every file of an export has the same schema (`hf_schema`). A file
is written under a temporary name, read back with `obtoolkit.shards.iter_parquet_samples` and checked (members equal
to what was written, labels equal to the manifest's hashes), then renamed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.fileio import atomic_path
from obtoolkit.shards import file_sha256, iter_parquet_samples, sample_problems
from obtoolkit.shards.members import IMAGE_EXTENSIONS, ROW_MEMBER, member_digest, split_member
from obtoolkit.shards.parquet import KEY_COLUMN, MEMBERS_METADATA_KEY

from .plan import ExportPlan, Part
from .sources import read_members
from .webdataset import BadSamples

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
ROWS_PER_GROUP = 32
BYTES_PER_GROUP = 64 << 20


def hf_schema(plan: ExportPlan) -> pa.Schema:
    """One schema for every file: key, a column per member product (one name and dtype each), manifest columns."""
    members: dict[str, tuple[str, str | None]] = {}
    for part in plan.parts:
        for sample in part.samples:
            for member in sample.members:
                if member.source is None:
                    continue
                product = split_member(member.name)[0]
                if members.setdefault(product, (member.name, member.dtype)) != (member.name, member.dtype):
                    raise ValueError(f"{product}: members {members[product]} and {(member.name, member.dtype)} in one "
                                     f"export; a Parquet column holds one kind (sample {sample.key})")
    manifest_schema = plan.table.schema.remove_metadata()
    clash = sorted(({KEY_COLUMN} | set(members)) & set(manifest_schema.names))
    if clash:
        raise ValueError(f"member columns {clash} collide with manifest columns")
    fields = [pa.field(KEY_COLUMN, pa.string(), nullable=False)]
    fields += [pa.field(product, _column_type(name, dtype)) for product, (name, dtype) in members.items()]
    features = {product: {"_type": "Image"} for product, (name, _) in members.items()
                if split_member(name)[1] in IMAGE_EXTENSIONS}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode(),
                MEMBERS_METADATA_KEY: json.dumps({p: name for p, (name, _) in members.items()}).encode()}
    return pa.schema(fields + list(manifest_schema), metadata=metadata)


def _column_type(name: str, dtype: str | None) -> pa.DataType:
    extension = split_member(name)[1]
    if extension in IMAGE_EXTENSIONS:
        return IMAGE_TYPE
    if dtype is not None:
        return pa.list_(pa.list_(pa.from_numpy_dtype(np.dtype(dtype))))
    return pa.string() if extension == "json" else pa.binary()


def write_hf_file(root: Path, out_dir: Path, part: Part, rows: list[dict], *, schema: pa.Schema) -> dict:
    """Write, read back and check one Parquet file; returns its record: name, digest, bytes, sha256, the samples
    written (key, member blake2b) and those left out with why."""
    path = out_dir / part.name
    excluded: dict[str, str] = {}
    for _ in range(2):  # a second pass leaves out the samples the first read-back found wrong
        try:
            with atomic_path(path) as tmp:
                written, failed = _write_parquet(tmp, root, part, rows, schema, excluded)
                _read_back(tmp, path, written)
                record = {"name": part.name, "digest": part.digest(), "bytes": tmp.stat().st_size,
                          "sha256": file_sha256(tmp), "samples": written, "failed": failed}
            return record
        except BadSamples as bad:
            excluded.update(bad.problems)
    raise FormatError(path, "samples that read back as they were written", f"other disagreements: {excluded}")


def _write_parquet(tmp: Path, root: Path, part: Part, rows: list[dict], schema: pa.Schema,
                   excluded: dict[str, str]) -> tuple[list[dict], list[dict]]:
    written, failed, group = [], [], []
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for sample, row in zip(part.samples, rows, strict=True):
            if sample.key in excluded:
                failed.append({"key": sample.key, "error": excluded[sample.key]})
                continue
            try:
                members = read_members(root, sample.key, sample.sources, row)
            except (OBToolkitError, OSError) as error:
                failed.append({"key": sample.key, "error": f"{type(error).__name__}: {error}"})
                continue
            members.pop(ROW_MEMBER)
            group.append((sample, row, members))
            written.append({"key": sample.key, "members": {n: member_digest(v) for n, v in members.items()}})
            if len(group) == ROWS_PER_GROUP or sum(s.payload_bytes for s, _, _ in group) >= BYTES_PER_GROUP:
                writer.write_table(_group_table(group, schema))
                group = []
        if group:
            writer.write_table(_group_table(group, schema))
    return written, failed


def _group_table(group: list[tuple], schema: pa.Schema) -> pa.Table:
    names = json.loads(schema.metadata[MEMBERS_METADATA_KEY])
    columns = [pa.array([sample.key for sample, _, _ in group], pa.string())]
    for product, name in names.items():
        field = schema.field(product)
        values = [members.get(name) for _, _, members in group]
        sources = [sample.sources.get(name) for sample, _, _ in group]
        columns.append(_member_column(values, sources, field.type))
    manifest_fields = schema.names[1 + len(names):]
    manifest = pa.Table.from_pylist([row for _, row, _ in group], schema=pa.schema(
        [schema.field(n) for n in manifest_fields]))
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
    """(H, W) arrays (or None) as a list<list<T>> column: row i is H lists of W values."""
    value_type = column_type.value_type.value_type
    outer, inner, values, nulls = [0], [0], [], []
    for array in arrays:
        nulls.append(array is None)
        if array is None:
            outer.append(outer[-1])
            continue
        if array.ndim != 2:
            raise ValueError(f"a depth array must be (H, W), got {array.shape}")
        height, width = array.shape
        inner.extend((inner[-1] + width * np.arange(1, height + 1)).tolist())
        outer.append(outer[-1] + height)
        values.append(np.ascontiguousarray(array).ravel())
    flat = pa.array(np.concatenate(values), value_type) if values else pa.array([], value_type)
    rows = pa.ListArray.from_arrays(pa.array(inner, pa.int32()), flat)
    return pa.ListArray.from_arrays(pa.array(outer, pa.int32()), rows, mask=pa.array(nulls, pa.bool_()))


def _read_back(tmp: Path, path: Path, written: list[dict]) -> None:
    """Read the written file as a reader would: the same keys and member digests (else FormatError), labels equal to
    the manifest's hashes (else BadSamples)."""
    bad, keys = {}, []
    try:
        for (sample, members), expected in zip(iter_parquet_samples(tmp), written, strict=False):
            keys.append(sample.key)
            digests = {name: member_digest(value) for name, value in members.items()}
            if sample.key != expected["key"] or digests != expected["members"]:
                raise FormatError(path, f"sample {expected['key']} as written", f"{sample.key}, other bytes")
            problems = sample_problems(sample)
            if problems:
                bad[sample.key] = "; ".join(problems)
    except FormatError as error:
        raise FormatError(path, "a file that reads back as written", str(error)) from error
    if len(keys) != len(written):
        raise FormatError(path, f"{len(written)} rows", f"{len(keys)}")
    if bad:
        raise BadSamples(bad)

"""What an export writes, decided before anything is written: the selected manifest rows, each sample's members with
their exact sizes, and the packing of samples into shards (webdataset) or files (HuggingFace).

The plan is a pure function of the manifest, the files' sizes and the settings, so a rerun after a crash finds the
same shards, keeps those already written and verified, and redoes the others. Samples are in manifest order, or
with `shuffle` in the order of `seeded_order(keys, seed)` (sorted by a keyed blake2b: reproducible anywhere).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.manifest import STATUS_OK, read_manifest
from obtoolkit.shards import FORMAT_VERSION, SHARD_NAME, file_sha256, member_name, sample_key, seeded_order
from obtoolkit.shards.members import PATH_SUFFIX, ROW_MEMBER
from obtoolkit.shards.parquet import DATA_DIR
from obtoolkit.shards.reader import TAR_BLOCK, padded

from .sources import row_bytes, source_info

KINDS = ("webdataset", "hf")
# HuggingFace's split names for the manifest's; rows without a split are "train", HF's name for unsplit data
HF_SPLITS = {"train": "train", "val": "validation", "test": "test", None: "train"}
TAR_RECORD = 20 * TAR_BLOCK  # tarfile pads an archive to whole records of 10240 bytes
_ROWS_PER_BATCH = 4096


@dataclass(frozen=True)
class ExportSettings:
    """How to export (recorded in index.json; a rerun into the same folder must use the same settings).

    Attributes:
        kind: "webdataset" (tar shards) or "hf" (HuggingFace `datasets` Parquet folder).
        max_samples: most samples per shard or file (None: no limit).
        max_bytes: most bytes per shard (the tar file's size) or per Parquet file (its payload: image, label and
            depth bytes; Parquet's own overhead comes on top). A single sample larger than this gets a shard alone.
        shuffle: samples in a seeded order (False: manifest order, sorted by scene, camera, frame).
        seed: the seed of that order.
        splits: export only rows of these official splits (None: every row with status ok).
    """

    kind: str
    max_samples: int | None = None
    max_bytes: int | None = 1_000_000_000
    shuffle: bool = True
    seed: int = 0
    splits: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"export kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("max_samples", "max_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class PlannedMember:
    """One member: its name, source file (None for the row), size in bytes, and for HF exports the (dtype, ndim) of
    an HDF5 source's array (the depth, a nested-list column there; None for other files)."""

    name: str
    source: str | None
    size: int
    array: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class PlannedSample:
    key: str
    position: int  # row of ExportPlan.table
    split: str | None
    members: tuple[PlannedMember, ...]

    @property
    def sources(self) -> dict[str, str]:
        return {m.name: m.source for m in self.members if m.source is not None}

    @property
    def tar_bytes(self) -> int:
        return sum(TAR_BLOCK + padded(m.size) for m in self.members)

    @property
    def payload_bytes(self) -> int:
        return sum(m.size for m in self.members if m.source is not None)


@dataclass(frozen=True)
class Part:
    """One shard (webdataset) or Parquet file (HF) and the samples it holds, in order."""

    name: str
    samples: tuple[PlannedSample, ...]

    def digest(self) -> str:
        """Changes when anything about the part's content would: keys, members, sizes, dtypes, the format."""
        content = [FORMAT_VERSION, self.name, [(s.key, [dataclasses.astuple(m) for m in s.members])
                                               for s in self.samples]]
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()


@dataclass(frozen=True)
class ExportPlan:
    settings: ExportSettings
    table: pa.Table  # the selected manifest rows, dictionary columns decoded to strings
    parts: tuple[Part, ...]
    failed: tuple[dict, ...]  # {"key", "error"} of rows whose files could not be found or read
    source: dict  # manifest path and sha256, dataset root, row counts

    @property
    def n_samples(self) -> int:
        return sum(len(part.samples) for part in self.parts)


def plan_export(root: str | Path, manifest: str | Path, settings: ExportSettings, *,
                progress: bool = True) -> ExportPlan:
    """Select the rows (status ok, the asked splits), size every member, and pack the samples into parts."""
    root, manifest = Path(root), Path(manifest)
    table = _decoded(read_manifest(manifest))
    n_rows = table.num_rows
    table = _selected(table, settings.splits)
    samples, failed = [], []
    with tqdm(total=table.num_rows, unit="frame", desc="plan", disable=not progress) as bar:
        for position, row in _rows(table):
            key = sample_key(row["scene"], row["camera"], int(row["frame"]))
            try:
                samples.append(PlannedSample(key, position, row["split"],
                                             _members(root, key, row, hf=settings.kind == "hf")))
            except (OBToolkitError, OSError, ValueError) as error:
                failed.append({"key": key, "error": f"{type(error).__name__}: {error}"})
            bar.update()
    _check_unique(manifest, [s.key for s in samples])
    parts = _hf_parts(samples, settings) if settings.kind == "hf" else _tar_parts(samples, settings)
    source = {"manifest": str(manifest.resolve()), "manifest_sha256": _manifest_sha256(manifest),
              "root": str(root.resolve()), "manifest_rows": n_rows, "selected_rows": table.num_rows}
    return ExportPlan(settings, table, tuple(parts), tuple(failed), source)


def _decoded(table: pa.Table) -> pa.Table:
    """The manifest with dictionary columns as plain strings, sorted by (scene, camera, frame)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name, table[field.name].cast(field.type.value_type))
    return table.sort_by([("scene", "ascending"), ("camera", "ascending"), ("frame", "ascending")])


def _selected(table: pa.Table, splits: Sequence[str] | None) -> pa.Table:
    table = table.filter(pc.equal(table["status"], STATUS_OK))
    if splits is not None:
        table = table.filter(pc.is_in(table["split"], pa.array(list(splits), pa.string())))
    return table


def _rows(table: pa.Table) -> Iterator[tuple[int, dict]]:
    for start in range(0, table.num_rows, _ROWS_PER_BATCH):
        for offset, row in enumerate(table.slice(start, _ROWS_PER_BATCH).to_pylist()):
            yield start + offset, row


def _members(root: Path, key: str, row: dict, *, hf: bool) -> tuple[PlannedMember, ...]:
    """Every file the row's `*_path` columns name, in column order, then the row itself; `hf`: with the HDF5
    sources' dtype and ndim (for the Parquet schema)."""
    members = []
    for column, source in row.items():
        if column.endswith(PATH_SUFFIX) and source is not None:
            name = member_name(column, source)
            size, array = source_info(root / source, f"{name} of {key}", array=hf)
            members.append(PlannedMember(name, source, size, array))
    members.append(PlannedMember(ROW_MEMBER, None, len(row_bytes(row))))
    return tuple(members)


def _check_unique(manifest: Path, keys: list[str]) -> None:
    twice = sorted(key for key, count in Counter(keys).items() if count > 1)
    if twice:
        raise FormatError(manifest, "one row per frame", f"several rows for {twice[:5]}")


def _ordered(samples: list[PlannedSample], settings: ExportSettings) -> list[PlannedSample]:
    if not settings.shuffle:
        return samples
    by_key = {s.key: s for s in samples}
    return [by_key[key] for key in seeded_order(list(by_key), settings.seed)]


def _pack(samples: list[PlannedSample], settings: ExportSettings, sample_bytes: Callable[[PlannedSample], int],
          part_bytes: Callable[[int], int]) -> list[list[PlannedSample]]:
    """Greedy: fill a part until the next sample would pass max_samples or max_bytes."""
    groups: list[list[PlannedSample]] = []
    current: list[PlannedSample] = []
    total = 0
    for sample in samples:
        size = sample_bytes(sample)
        full = current and ((settings.max_samples is not None and len(current) >= settings.max_samples)
                            or (settings.max_bytes is not None and part_bytes(total + size) > settings.max_bytes))
        if full:
            groups.append(current)
            current, total = [], 0
        current.append(sample)
        total += size
    return groups + [current] if current else groups


def tar_file_bytes(member_bytes: int) -> int:
    """Size of a tar file holding members of `member_bytes` (headers and padded data): two zero blocks end it and
    it is padded to whole 10240-byte records."""
    return -(-(member_bytes + 2 * TAR_BLOCK) // TAR_RECORD) * TAR_RECORD


def _tar_parts(samples: list[PlannedSample], settings: ExportSettings) -> list[Part]:
    groups = _pack(_ordered(samples, settings), settings, lambda s: s.tar_bytes, tar_file_bytes)
    return [Part(SHARD_NAME.format(i), tuple(group)) for i, group in enumerate(groups)]


def _hf_parts(samples: list[PlannedSample], settings: ExportSettings) -> list[Part]:
    unnamed = sorted({s.split for s in samples if s.split not in HF_SPLITS})
    if unnamed:
        raise ValueError(f"splits {unnamed} have no HuggingFace name (known: {sorted(k for k in HF_SPLITS if k)})")
    parts = []
    for split in dict.fromkeys(HF_SPLITS.values()):
        chosen = [s for s in samples if HF_SPLITS[s.split] == split]
        groups = _pack(_ordered(chosen, settings), settings, lambda s: s.payload_bytes, lambda total: total)
        parts += [Part(f"{DATA_DIR}/{split}-{i:05d}-of-{len(groups):05d}.parquet", tuple(group))
                  for i, group in enumerate(groups)]
    return parts


def _manifest_sha256(manifest: Path) -> str:
    """sha256 of the manifest file, or of its parts' digests for a folder of parts."""
    if manifest.is_file():
        return file_sha256(manifest)
    digests = [f"{p.relative_to(manifest)}:{file_sha256(p)}" for p in sorted(manifest.rglob("*.parquet"))]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()

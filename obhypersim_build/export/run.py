"""`obh export`: plan, write the missing shards or files (in parallel, each read back and checked), write the index.

Resumption. The folder keeps its state in `OUT/.export/`: the settings' fingerprint (the export settings and the
manifest's sha256) and one record per finished part (its plan digest, size, sha256, samples). A rerun with the same
settings keeps every part whose record matches its plan and whose file still has the recorded size and sha256, and
redoes the others; temporaries of killed writers are removed. Other settings, another manifest or foreign files in
the folder are refused with a message naming it. `index.json` is written last, when every part is done.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from obtoolkit.errors import FormatError
from obtoolkit.fileio import atomic_path, atomic_write_text, remove_stale_temporaries
from obtoolkit.provenance import git_sha, package_version
from obtoolkit.shards import FORMAT_VERSION, INDEX_NAME, SAMPLES_NAME
from obtoolkit.shards.index import FORMAT_NAME, shard_problems
from obtoolkit.shards.reader import LOCATION_COLUMNS
from obtoolkit.treelock import LOCK_NAME, lock_tree

from .card import dataset_card
from .hf import hf_schema, write_hf_file
from .plan import ExportPlan, ExportSettings, Part, plan_export
from .webdataset import write_shard

STATE_DIR = ".export"
_PART_FILE = re.compile(r"^(shard-\d{6}\.tar|data/\w+-\d{5}-of-\d{5}\.parquet)$")
_MEMBERS_TYPE = pa.list_(pa.struct([("name", pa.string()), ("size", pa.int64()), ("blake2b", pa.string())]))


@dataclass(frozen=True)
class ExportSummary:
    out_dir: Path
    kind: str
    n_samples: int
    n_parts: int
    n_kept: int  # parts found finished (and verified) from an earlier run
    n_failed: int
    bytes_written: int
    seconds: float

    @property
    def samples_per_second(self) -> float:
        return self.n_samples / self.seconds if self.seconds > 0 else float("nan")

    @property
    def mb_per_second(self) -> float:
        return self.bytes_written / 1e6 / self.seconds if self.seconds > 0 else float("nan")


def export_dataset(root: str | Path, out_dir: str | Path, settings: ExportSettings, *,
                   manifest: str | Path | None = None, jobs: int = 1, progress: bool = True) -> ExportSummary:
    """Export the status-ok rows of `manifest` (default ROOT/manifest.parquet) to `out_dir`; see the module doc."""
    start = time.perf_counter()
    root, out_dir = Path(root), Path(out_dir)
    plan = plan_export(root, manifest or root / "manifest.parquet", settings, progress=progress)
    with lock_tree(out_dir):  # one export per folder at a time (TreeLockedError names the other)
        return _export(plan, root, out_dir, settings, jobs=jobs, progress=progress, start=start)


def _export(plan: ExportPlan, root: Path, out_dir: Path, settings: ExportSettings, *, jobs: int, progress: bool,
            start: float) -> ExportSummary:
    state = _State(out_dir, _fingerprint(plan))
    remove_stale_temporaries(out_dir)
    records = {part.name: state.finished(part) for part in plan.parts}
    state.remove_unplanned(plan)
    todo = [part for part in plan.parts if records[part.name] is None]
    write = _writer(plan, root, out_dir)
    written = 0
    kept_samples = sum(len(p.samples) for p in plan.parts if records[p.name] is not None)
    with tqdm(total=plan.n_samples, initial=kept_samples, unit="sample", desc=f"export {settings.kind}",
              disable=not progress) as bar:
        for record in _run(write, plan, todo, jobs):
            state.save(record)
            records[record["name"]] = record
            written += record["bytes"]
            bar.update(len(record["samples"]) + len(record["failed"]))
            bar.set_postfix_str(f"{written / 1e6 / max(bar.format_dict['elapsed'], 1e-9):.1f} MB/s")
    ordered = [records[part.name] for part in plan.parts]
    index = _write_outputs(plan, out_dir, ordered)
    return ExportSummary(out_dir, settings.kind, index["samples"], len(plan.parts), len(plan.parts) - len(todo),
                         len(index["failed"]), written, time.perf_counter() - start)


def _writer(plan: ExportPlan, root: Path, out_dir: Path) -> Callable[[Part, list[dict]], dict]:
    if plan.settings.kind == "hf":
        return functools.partial(write_hf_file, root, out_dir, schema=hf_schema(plan))
    return functools.partial(write_shard, root, out_dir)


def _run(write: Callable, plan: ExportPlan, todo: list[Part], jobs: int) -> Iterator[dict]:
    """Records of the parts in `todo`, as they finish; the rows of a part are taken only when it is dispatched."""
    calls = (joblib.delayed(write)(part, _part_rows(plan, part)) for part in todo)
    yield from joblib.Parallel(n_jobs=jobs, return_as="generator_unordered")(calls)


def _part_rows(plan: ExportPlan, part: Part) -> list[dict]:
    return plan.table.take([sample.position for sample in part.samples]).to_pylist()


def _fingerprint(plan: ExportPlan) -> dict:
    return {"format_version": FORMAT_VERSION, "settings": plan.settings.as_dict(),
            "manifest_sha256": plan.source["manifest_sha256"]}


class _State:
    """OUT/.export/: settings.json (the fingerprint) and parts/<part>.json (one record per finished part)."""

    def __init__(self, out_dir: Path, fingerprint: dict):
        self.out_dir, self.dir = out_dir, out_dir / STATE_DIR
        settings = self.dir / "settings.json"
        if settings.is_file():
            found = json.loads(settings.read_text())
            if found != fingerprint:
                raise FormatError(settings, f"an export of the same manifest with the same settings {fingerprint}",
                                  f"{found}; export into another folder, or delete this one")
        elif out_dir.is_dir() and any(p.name not in (STATE_DIR, LOCK_NAME) for p in out_dir.iterdir()):
            raise FormatError(out_dir, "an empty folder (or an unfinished export to resume)", "other files")
        atomic_write_text(settings, json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")

    def _record_path(self, name: str) -> Path:
        return self.dir / "parts" / (name.replace("/", "__") + ".json")

    def finished(self, part: Part) -> dict | None:
        """The part's record if it was finished for this plan and its file still matches (size and sha256)."""
        try:
            record = json.loads(self._record_path(part.name).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if record.get("digest") != part.digest() or shard_problems(self.out_dir, record):
            return None
        return record

    def save(self, record: dict) -> None:
        atomic_write_text(self._record_path(record["name"]), json.dumps(record) + "\n")

    def remove_unplanned(self, plan: ExportPlan) -> None:
        """Delete part files (and records) of this export that the plan no longer has, e.g. after sources shrank."""
        planned = {part.name for part in plan.parts}
        for path in [*self.out_dir.glob("shard-*.tar"), *self.out_dir.glob("data/*.parquet")]:
            name = path.relative_to(self.out_dir).as_posix()
            if _PART_FILE.match(name) and name not in planned:
                path.unlink()
                self._record_path(name).unlink(missing_ok=True)


def _write_outputs(plan: ExportPlan, out_dir: Path, records: list[dict]) -> dict:
    """samples.parquet (webdataset) or README.md (hf), then index.json, last."""
    index = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": plan.settings.kind,
        "package_version": package_version(), "git_sha": git_sha(), "source": plan.source,
        "settings": plan.settings.as_dict(), "samples": sum(len(r["samples"]) for r in records),
        "bytes": sum(r["bytes"] for r in records),
        "failed": list(plan.failed) + [f for r in records for f in r["failed"]],
        "shards": [{"name": r["name"], "samples": len(r["samples"]), "bytes": r["bytes"], "sha256": r["sha256"],
                    "keys": [s["key"] for s in r["samples"]]} for r in records],
    }
    if plan.settings.kind == "webdataset":
        _write_samples_table(plan, out_dir / SAMPLES_NAME, records)
    else:
        atomic_write_text(out_dir / "README.md", dataset_card(index, hf_schema(plan)))
    atomic_write_text(out_dir / INDEX_NAME, json.dumps(index, indent=1) + "\n")
    return index


def _write_samples_table(plan: ExportPlan, path: Path, records: list[dict]) -> None:
    """One row per written sample: where it is (shard, offset, length, members), then its manifest columns."""
    position = {s.key: s.position for part in plan.parts for s in part.samples}
    manifest_schema = plan.table.schema.remove_metadata()
    schema = pa.schema([pa.field("key", pa.string()), pa.field("shard", pa.int32()), pa.field("offset", pa.int64()),
                        pa.field("length", pa.int64()), pa.field("members", _MEMBERS_TYPE), *manifest_schema])
    assert tuple(schema.names[:len(LOCATION_COLUMNS)]) == LOCATION_COLUMNS
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for shard, record in enumerate(records):
            entries = record["samples"]
            manifest = plan.table.take([position[e["key"]] for e in entries])
            location = [pa.array([e[c] for e in entries], schema.field(c).type) if c != "shard" else
                        pa.array([shard] * len(entries), pa.int32()) for c in LOCATION_COLUMNS]
            writer.write_table(pa.Table.from_arrays(location + manifest.columns, schema=schema))

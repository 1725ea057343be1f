"""Writing one webdataset shard: the samples' members streamed into a POSIX (ustar) tar under a temporary name, read
back and checked (every member's bytes, every sample decoded against its manifest row), then renamed.

Members are `<key>.<product>.<ext>` (see `obtoolkit.shards.members`); headers carry mtime 0, mode 0444 and no owner,
so a shard's bytes are a function of its samples alone. A sample whose files are missing or whose labels do not
match the manifest's hashes is left out and recorded; any other read-back difference stops the export.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.fileio import atomic_path
from obtoolkit.shards import file_sha256, sample_problems
from obtoolkit.shards.members import member_digest
from obtoolkit.shards.reader import read_sample_at

from .plan import Part
from .sources import read_members


class BadSamples(Exception):
    """Samples that decoded but disagree with their manifest rows: key -> what disagrees."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(f"{len(problems)} samples disagree with the manifest")
        self.problems = problems


def write_shard(root: Path, out_dir: Path, part: Part, rows: list[dict]) -> dict:
    """Write, read back and check one shard; returns its record: name, digest, bytes, sha256, the samples' offsets,
    lengths and members (name, size, blake2b), and the samples left out with why."""
    path = out_dir / part.name
    excluded: dict[str, str] = {}
    for _ in range(2):  # a second pass leaves out the samples the first read-back found wrong
        try:
            with atomic_path(path) as tmp:
                entries, failed = _write_tar(tmp, root, part, rows, excluded)
                _read_back(tmp, path, entries)
                record = {"name": part.name, "digest": part.digest(), "bytes": tmp.stat().st_size,
                          "sha256": file_sha256(tmp), "samples": entries, "failed": failed}
            return record
        except BadSamples as bad:
            excluded.update(bad.problems)
    raise FormatError(path, "samples that read back as they were written", f"other disagreements: {excluded}")


def _write_tar(tmp: Path, root: Path, part: Part, rows: list[dict],
               excluded: dict[str, str]) -> tuple[list[dict], list[dict]]:
    entries, failed = [], []
    with open(tmp, "wb") as handle, tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for sample, row in zip(part.samples, rows, strict=True):
            if sample.key in excluded:
                failed.append({"key": sample.key, "error": excluded[sample.key]})
                continue
            try:
                members = read_members(root, sample.key, sample.sources, row)
            except (OBToolkitError, OSError) as error:
                failed.append({"key": sample.key, "error": f"{type(error).__name__}: {error}"})
                continue
            offset, listed = tar.offset, []
            for name, data in members.items():
                tar.addfile(_tar_info(f"{sample.key}.{name}", len(data)), io.BytesIO(data))
                listed.append({"name": name, "size": len(data), "blake2b": member_digest(data)})
            entries.append({"key": sample.key, "offset": offset, "length": tar.offset - offset, "members": listed})
    return entries, failed


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = size, 0, 0o444, "", ""
    return info


def _read_back(tmp: Path, path: Path, entries: list[dict]) -> None:
    """Read every sample of the written shard as a reader would; raise BadSamples for samples whose labels disagree
    with the manifest (their source files are wrong), FormatError for bytes that differ from those written."""
    bad = {}
    with open(tmp, "rb") as handle:
        for entry in entries:
            sample = read_sample_at(handle, entry["key"], entry["offset"], entry["length"], entry["members"],
                                    where=path)
            problems = sample_problems(sample)
            if problems:
                bad[entry["key"]] = "; ".join(problems)
    if bad:
        raise BadSamples(bad)

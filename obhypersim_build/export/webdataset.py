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

from obtoolkit.shards import sample_problems
from obtoolkit.shards.members import member_digest
from obtoolkit.shards.reader import read_sample_at

from .plan import Part
from .verified import BadSamples, loaded_samples, write_verified


def write_shard(root: Path, out_dir: Path, part: Part, rows: list[dict]) -> dict:
    """Write, read back and check one shard (`write_verified`); its record lists each sample's offset, length and
    members (name, size, blake2b)."""
    path = out_dir / part.name

    def write(tmp: Path, excluded: dict[str, str]) -> tuple[list[dict], list[dict]]:
        entries, failed = _write_tar(tmp, root, part, rows, excluded)
        _read_back(tmp, path, entries)
        return entries, failed

    return write_verified(path, part, write)


def _write_tar(tmp: Path, root: Path, part: Part, rows: list[dict],
               excluded: dict[str, str]) -> tuple[list[dict], list[dict]]:
    entries, failed = [], []
    with open(tmp, "wb") as handle, tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for sample, _, members in loaded_samples(root, part, rows, excluded, failed):
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

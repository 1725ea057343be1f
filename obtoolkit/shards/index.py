"""The index of an exported folder (`index.json`): format, settings, provenance and one entry per shard or file.

    {"format": "ob-hypersim-export", "format_version": 1, "kind": "webdataset" | "hf",
     "package_version": ..., "git_sha": ..., "source": {"manifest", "manifest_sha256", "root", ...},
     "settings": {...}, "samples": N, "bytes": B, "failed": [{"key", "error"}],
     "shards": [{"name", "samples", "bytes", "sha256", "keys": [...]}, ...]}

It is written last, when every shard is written and verified: its presence marks a finished export.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from obtoolkit.errors import FormatError, MissingFileError

FORMAT_NAME = "ob-hypersim-export"
FORMAT_VERSION = 1
INDEX_NAME = "index.json"
KINDS = ("webdataset", "hf")
_CHUNK_BYTES = 1 << 20


def read_index(folder: str | Path, kind: str | None = None) -> dict:
    """The index of an export folder (of `kind`, or of any kind), with errors naming the file and what was expected."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        raise MissingFileError(path, "index of an export (written when `obh export` finishes)")
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(path, "a JSON export index", str(error)) from error
    found = (index.get("format"), index.get("format_version"), index.get("kind")) if isinstance(index, dict) else ()
    kinds = KINDS if kind is None else (kind,)
    if found not in [(FORMAT_NAME, FORMAT_VERSION, k) for k in kinds]:
        raise FormatError(path, f"format {FORMAT_NAME} version {FORMAT_VERSION}, kind {' or '.join(kinds)}",
                          str(found))
    return index


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def shard_problems(folder: Path, entry: dict) -> list[str]:
    """Why a shard or file listed in the index is not the one written: missing, other size, other sha256."""
    path = folder / entry["name"]
    if not path.is_file():
        return [f"{path}: missing ({entry['samples']} samples)"]
    size = path.stat().st_size
    if size != entry["bytes"]:
        return [f"{path}: expected {entry['bytes']} bytes, found {size} (truncated or replaced)"]
    if file_sha256(path) != entry["sha256"]:
        return [f"{path}: expected sha256 {entry['sha256']}, found other content (corrupt)"]
    return []

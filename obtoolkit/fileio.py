"""Atomic file writes: a crash or a SIGKILL never leaves a half-written file under its final name.

Writers produce `<dir>/.<name>.tmp.<pid>.<n>`, flush and fsync it, then `os.replace` it onto the final name.
Leftover temporary files from killed processes are hidden (dot-prefixed) and removed by `remove_stale_temporaries`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

_counter = itertools.count()


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp.{os.getpid()}.{next(_counter)}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success, fsync it and rename it onto `path`.

    Use it with writers that want a file name (h5py, Pillow, numpy, pyarrow). On an exception the temporary file
    is removed and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        yield tmp
        if not tmp.is_symlink():
            descriptor = os.open(tmp, os.O_RDONLY)  # read-only: also works for hard links to read-only inputs
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        os.replace(tmp, path)
    finally:
        if tmp.is_symlink() or tmp.exists():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(directory: str | Path) -> int:
    """Remove temporary files left by killed writers under `directory` (recursively); return how many."""
    removed = 0
    for tmp in Path(directory).rglob(".*.tmp.*"):
        if tmp.is_file():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
    return removed

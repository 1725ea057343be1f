"""Atomic file writes: a crash or a SIGKILL never leaves a half-written file under its final name.

Writers produce `<dir>/.<name>.obh-tmp.<pid>@<host>.<n>`, flush and fsync it, then `os.replace` it onto the final
name. The `obh-tmp` marker, the pid and the host name make a leftover recognisable as this tool's own and tell
whose it was: `remove_stale_temporaries` removes only those whose writer has ended, and never touches any other
file (a user's `.thesis.tmp.tex` included).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

from obtoolkit.processes import this_host, writer_gone

TEMPORARY_MARKER = "obh-tmp"
_TEMPORARY = re.compile(rf"^\.(?P<name>.*)\.{TEMPORARY_MARKER}\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)\.\d+$")
_MAX_NAME_BYTES = 255
_counter = itertools.count()


def temporary_name(path: Path) -> Path:
    """A fresh temporary path beside `path`, named after it, this process and this host.

    The final name is shortened inside the temporary name when needed, so that a name the file system accepts
    also gets a temporary it accepts.
    """
    suffix = f".{TEMPORARY_MARKER}.{os.getpid()}@{this_host()}.{next(_counter)}"
    room = _MAX_NAME_BYTES - 1 - len(suffix.encode())
    name = path.name.encode()[:room].decode(errors="ignore")
    return path.with_name(f".{name}{suffix}")


def is_temporary(path: Path) -> bool:
    """Whether `path` is named like a temporary file of this tool."""
    return _TEMPORARY.match(path.name) is not None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success, fsync it and rename it onto `path`.

    Use it with writers that want a file name (h5py, Pillow, numpy, pyarrow). On an exception the temporary file
    is removed and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
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
    """Remove this tool's temporary files under `directory` (recursively) whose writer has ended; return how many.

    Only names of the form `.<name>.obh-tmp.<pid>@<host>.<n>` are considered, and only those written on this host
    by a process that no longer runs (`obtoolkit.processes.writer_gone`). Symbolic links are not followed.
    """
    removed = 0
    for tmp in Path(directory).rglob(f".*.{TEMPORARY_MARKER}.*"):
        match = _TEMPORARY.match(tmp.name)
        if match is None:
            continue
        try:
            stat = tmp.lstat()
        except FileNotFoundError:
            continue
        if writer_gone(int(match["pid"]), match["host"], stat.st_mtime):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
    return removed

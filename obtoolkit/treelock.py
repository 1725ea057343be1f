"""One lock per output tree: a command that writes a tree (generate, download, viz, synth) holds it while it runs.

The lock is an exclusive `flock` on `<root>/.obh.lock`. The kernel drops it when its holder ends, however it ends
(SIGKILL included), so a dead run never leaves a stale lock behind; the file itself stays (deleting it would let two
runs lock two different files). While a run holds the lock, the file records who it is (pid, host, command, start
time and a random token), so that a second run can say whom it is waiting for, and so that a task running on a
cluster can tell whether the run that started it is still alive (`holder_alive`).

`flock` needs a local file system or NFS with working locks (Linux NFS clients lock through the server).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from obtoolkit.errors import OBToolkitError
from obtoolkit.processes import pid_alive, this_host

LOCK_NAME = ".obh.lock"
_ATTEMPTS = 5  # a probe by a task (`holder_alive`) holds the lock for microseconds: retry briefly before refusing
_RETRY_S = 0.05


@dataclass(frozen=True)
class LockHolder:
    """Who holds a tree's lock.

    Attributes:
        pid / host: the holding process and its machine.
        command: its command line (program name and arguments).
        since: when it took the lock (ISO 8601, UTC).
        token: random; tells two holders with the same pid apart.
    """

    pid: int
    host: str
    command: str
    since: str
    token: str

    def describe(self) -> str:
        state = "" if self.host != this_host() or pid_alive(self.pid) else (
            " (that process has ended; a process it started still holds the lock)")
        return f"pid {self.pid} on {self.host}, running `{self.command}` since {self.since}{state}"


class TreeLockedError(OBToolkitError):
    """Another run holds the output tree's lock."""

    def __init__(self, root: Path, holder: LockHolder | None):
        self.root, self.holder = root, holder
        who = holder.describe() if holder else "a process that has not yet recorded itself"
        super().__init__(f"{root}: another obh command is writing here ({who}); wait for it to finish or stop it "
                         f"(lock file {root / LOCK_NAME})")


def lock_path(root: str | Path) -> Path:
    return Path(root) / LOCK_NAME


def current_command() -> str:
    """This process's command line, with the program reduced to its file name."""
    argv = list(sys.argv) or ["python"]
    return shlex.join([Path(argv[0]).name, *argv[1:]])


@contextlib.contextmanager
def lock_tree(root: str | Path, command: str | None = None) -> Iterator[LockHolder]:
    """Hold the exclusive lock of the tree `root` (created if needed) for the body; yields this run's record.

    Raises:
        TreeLockedError: another process holds it; the message names that process.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = lock_path(root)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _acquire(descriptor):
            raise TreeLockedError(root, read_holder(root))
        holder = LockHolder(os.getpid(), this_host(), command or current_command(),
                            datetime.now(timezone.utc).isoformat(timespec="seconds"), secrets.token_hex(8))
        _record(descriptor, holder)
        try:
            yield holder
        finally:
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock


def _acquire(descriptor: int) -> bool:
    for attempt in range(_ATTEMPTS):
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < _ATTEMPTS:
                time.sleep(_RETRY_S)
    return False


def _record(descriptor: int, holder: LockHolder) -> None:
    data = (json.dumps(asdict(holder), sort_keys=True) + "\n").encode()
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, data, 0)
    os.fsync(descriptor)


def read_holder(root: str | Path) -> LockHolder | None:
    """The record of the lock's current (or last) holder; None when the file is missing, empty or being written."""
    try:
        data = json.loads(lock_path(root).read_text())
        return LockHolder(**data)
    except (OSError, ValueError, TypeError):
        return None


def holder_alive(root: str | Path, holder: LockHolder) -> bool:
    """Whether the run `holder` still holds the lock of `root` (asked by the tasks it started).

    False when another run's record is in the file, or when the lock is free. On the holder's host the pid is
    checked; elsewhere the lock itself is probed (a shared lock, dropped at once).
    """
    current = read_holder(root)
    if current is None or current.token != holder.token:
        return False
    if holder.host == this_host():
        return pid_alive(holder.pid)
    descriptor = os.open(lock_path(root), os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False

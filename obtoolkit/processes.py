"""Which process wrote a file or holds a lock, and whether it is still running.

Temporary files and lock records carry the writer's host name and pid. A writer is known to be gone only on its
own host: when no process has its pid, or when the process with that pid started after the file was last written
(the pid was reused). On another host nothing can be known from here, so nothing is assumed.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def this_host() -> str:
    """This machine's host name, reduced to letters, digits and '-' (safe inside file names), at most 63 chars."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "localhost"


def pid_alive(pid: int) -> bool:
    """Whether a running process with this pid exists on this host (a pid we may not signal exists too; a zombie,
    which has ended but not been reaped yet, does not count)."""
    if pid <= 0:
        return True  # not a real pid: never conclude that its owner is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def process_start_time_s(pid: int) -> float | None:
    """When the process started, as a Unix time in seconds (Linux /proc); None when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot_s = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                      if line.startswith("btime "))
    except (OSError, IndexError, StopIteration, ValueError):
        return None
    return boot_s + int(fields[19]) / _CLOCK_TICKS_PER_S  # field 22 of /proc/PID/stat: start time in clock ticks


def writer_gone(pid: int, host: str, written_s: float) -> bool:
    """Whether the process `pid` on `host`, which last wrote something at Unix time `written_s`, has ended.

    True only on this host, when no process has that pid or when the one that has it started (by more than the
    1 s resolution of the boot time) after the write, so it cannot be the writer.
    """
    if host != this_host():
        return False
    if not pid_alive(pid):
        return True
    started_s = process_start_time_s(pid)
    return started_s is not None and started_s > written_s + 1.0

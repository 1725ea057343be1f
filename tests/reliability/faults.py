"""Fault injection for the reliability tests: kill at chosen or random points, fill a small disk or inject ENOSPC,
corrupt a file, run two writers at once.

Built for any command of the project (generate and download now, train later):

- `Run` starts a command in its own session, so that every process it starts (loky workers, resource trackers,
  DataLoader workers) can be found (`Run.processes`) and waited for after the parent is killed (`Run.wait_gone`).
  `Run.kill_when(condition)` kills it at a chosen point (a file appeared, a log line, a count of requests);
  `kill_at_random_point` at a seeded random point of its progress (a random count of finished items, then a
  random pause: a point in time alone is missed by a run that is fast on a quiet machine).
- `DiskBudget` makes the disk under a folder "full" once the files there hold `budget_bytes`: every later opening
  of a file for writing under it fails with ENOSPC. It works in this process (`inject`) and, through `env()`, in a
  child process and all its worker processes (a `sitecustomize` on PYTHONPATH installs it at start-up), so that no
  root or mount is needed. It sees writes made through Python's `open`/`os.open` (Pillow, numpy, zipfile, json,
  shutil, torch.save); writers in C++ (HDF5, Arrow) are not intercepted.
- `small_disk_command` runs a command with a real tmpfs of a few KiB mounted over a folder (user and mount
  namespaces; skipped with the reason where the kernel or the CI does not allow them).
- `corrupt` truncates, empties, zeroes, randomises or flips one byte of a file; `png_claiming` makes a tiny PNG
  whose header claims any size.
- two writers on one tree: start one `Run`, `wait_for` it to hold the tree, start the other.
"""

from __future__ import annotations

import errno
import os
import random
import shlex
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INJECT_DIR = Path(__file__).resolve().parent / "inject"
BUDGET_ENV = "OBH_TEST_DISK_BUDGET"  # "<bytes>:<folder>"


def obh_command(*args: str | Path) -> list[str]:
    """`python -m obh ARGS` with this interpreter."""
    return [sys.executable, "-m", "obh", *map(str, args)]


@dataclass
class Run:
    """A command running in its own session (process group = session id = its pid)."""

    command: Sequence[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen = field(init=False)

    def __post_init__(self) -> None:
        env = {**os.environ, **(self.env or {})}
        self.process = subprocess.Popen(list(self.command), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def processes(self) -> list[int]:
        """Pids of every live process of the run's session (the parent, its workers, their helpers)."""
        return session_processes(self.pid)

    def wait_for(self, condition: Callable[[], bool], *, timeout_s: float = 120.0) -> None:
        """Return as soon as `condition()` holds; fails the test when the command ends first or after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"{shlex.join(self.command)} ended (status {self.process.returncode}) before the awaited "
                            f"point:\n{self.process.stdout.read()}")
            if time.monotonic() > deadline:
                self.kill(group=True)
                pytest.fail(f"awaited point not reached within {timeout_s} s: {shlex.join(self.command)}")
            time.sleep(0.01)

    def kill_when(self, condition: Callable[[], bool], *, timeout_s: float = 120.0, group: bool = False) -> None:
        """SIGKILL the parent (or, with `group`, every process of the session) as soon as `condition()` holds."""
        self.wait_for(condition, timeout_s=timeout_s)
        self.kill(group=group)

    def kill(self, *, group: bool = False) -> None:
        if group:
            with _gone_ok():
                os.killpg(self.pid, signal.SIGKILL)
        else:
            with _gone_ok():
                self.process.kill()
        self.process.wait()

    def wait_gone(self, timeout_s: float) -> list[int]:
        """Wait up to `timeout_s` for the session to have no process left; returns those still there (then kills
        them, so that a failing test leaves nothing behind)."""
        deadline = time.monotonic() + timeout_s
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in left:
            with _gone_ok():
                os.kill(pid, signal.SIGKILL)
        return left

    def finish(self, timeout_s: float = 300.0) -> tuple[int, str]:
        """Wait for the command to end; (exit status, its output)."""
        try:
            output, _ = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(group=True)
            raise
        return self.process.returncode, output


def session_processes(session_id: int) -> list[int]:
    """Live (not zombie) processes whose session id is `session_id` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, session = fields[0], int(fields[3])
        if session == session_id and state != "Z":
            pids.append(int(entry.name))
    return sorted(pids)


@contextmanager
def _gone_ok() -> Iterator[None]:
    try:
        yield
    except ProcessLookupError:
        pass


def kill_at_random_point(command: Sequence[str], rng: random.Random, progress: Callable[[], int], *,
                         more: tuple[int, int], max_pause_s: float = 0.3, env: dict[str, str] | None = None,
                         group: bool = False) -> Run:
    """Start `command` and SIGKILL it (the parent only, unless `group`) once `progress()` (e.g. finished frames) has
    grown by a seeded random count in `more` (inclusive) and a seeded random pause of up to `max_pause_s` has passed;
    returns the killed run (e.g. to check that its workers are gone). `more` must stay below what the run has left,
    or it may end before the kill (the run then fails the test)."""
    target = progress() + rng.randint(*more)
    pause_s = rng.uniform(0.0, max_pause_s)

    def reached() -> bool:
        if progress() < target:
            return False
        time.sleep(pause_s)
        return True

    run = Run(command, env)
    run.kill_when(reached, group=group)
    return run


def corrupt(path: Path, how: str, rng: random.Random | None = None) -> None:
    """Damage a file: "empty" (0 bytes), "truncate" (keep the first half), "zero" (same size, all zeros), "random"
    (same size, random bytes) or "flip" (one byte inverted in the middle)."""
    rng = rng or random.Random(0)
    data = path.read_bytes()
    if how == "empty":
        damaged = b""
    elif how == "truncate":
        damaged = data[: len(data) // 2]
    elif how == "zero":
        damaged = bytes(len(data))
    elif how == "random":
        damaged = rng.randbytes(len(data))
    elif how == "flip":
        middle = len(data) // 2
        damaged = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
    else:
        raise ValueError(f"unknown corruption {how!r}")
    path.write_bytes(damaged)


@dataclass(frozen=True)
class DiskBudget:
    """A disk that is full once the files under `folder` hold `budget_bytes` (see the module docstring)."""

    folder: Path
    budget_bytes: int

    def env(self) -> dict[str, str]:
        """Environment for a child process (and its workers) to see this disk."""
        path = os.pathsep.join(p for p in (str(INJECT_DIR), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return {BUDGET_ENV: f"{self.budget_bytes}:{self.folder}", "PYTHONPATH": path}

    @contextmanager
    def inject(self) -> Iterator[None]:
        """See this disk in this process for the body."""
        previous = _active.budget
        install_audit_hook()
        _active.budget = self
        try:
            yield
        finally:
            _active.budget = previous

    def check_open(self, path: object, mode: object, flags: object) -> None:
        """The audit hook's test: raise ENOSPC when `path` is opened for writing under the full folder."""
        if not _opens_for_writing(mode, flags) or isinstance(path, int):
            return
        try:
            target = Path(os.fsdecode(path)).absolute()
        except TypeError:
            return
        if self.folder not in target.parents:
            return
        if folder_bytes(self.folder) >= self.budget_bytes:
            raise OSError(errno.ENOSPC, "No space left on device (injected)", str(target))


def folder_bytes(folder: Path) -> int:
    """Bytes held by the regular files under `folder` (not following links)."""
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _opens_for_writing(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    if isinstance(flags, int):
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    return False


class _Active:
    budget: DiskBudget | None = None
    installed = False


_active = _Active()


def install_audit_hook() -> None:
    """Install (once per process; audit hooks cannot be removed) the hook that consults the active DiskBudget."""
    if _active.installed:
        return

    def hook(event: str, args: tuple) -> None:
        if event == "open" and _active.budget is not None:
            _active.budget.check_open(*args[:3])

    sys.addaudithook(hook)
    _active.installed = True


def install_from_env() -> None:
    """Called by `inject/sitecustomize.py` in child processes: activate the budget named in the environment."""
    value = os.environ.get(BUDGET_ENV)
    if not value:
        return
    budget, folder = value.split(":", 1)
    install_audit_hook()
    _active.budget = DiskBudget(Path(folder), int(budget))


def small_disk_command(command: Sequence[str], mountpoint: Path, size_kib: int) -> list[str]:
    """`command` run with a tmpfs of `size_kib` KiB mounted on `mountpoint` (a real full disk: ENOSPC comes from
    the kernel, inside any writer). The mount lives only as long as the command: afterwards the files left on it are
    listed after a line `FILES LEFT` ("<size> <relative path>" per line). Keeps the command's exit status. Skips the
    test, with the reason, where user and mount namespaces are not allowed (CI without them, non-Linux)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"a real small disk needs unprivileged user and mount namespaces (unshare: "
                    f"{probe.stderr.strip() or probe.returncode}); ENOSPC is covered by injection instead")
    target = shlex.quote(str(mountpoint))
    script = (f"mount -t tmpfs -o size={size_kib}k obh-test {target} || exit 97; \"$@\"; status=$?; "
              f"echo FILES LEFT; find {target} -type f -printf '%s %P\\n'; exit $status")
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", *command]


def files_left(output: str) -> dict[str, int]:
    """{relative path: size} from the listing that `small_disk_command` prints after the command."""
    listing = output.split("FILES LEFT\n", 1)[1] if "FILES LEFT\n" in output else ""
    return {line.split(" ", 1)[1]: int(line.split(" ", 1)[0]) for line in listing.splitlines() if " " in line}


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, valid-looking grey PNG whose header claims `width` x `height` pixels (its data hold one row): what a
    decompression bomb or a hostile file looks like to a reader that trusts the header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(1 + min(width, 64))))
            + chunk(b"IEND", b""))


def invoke(*args) -> object:
    """`obh ARGS` in this process (CliRunner); an uncaught exception stays in `result.exception` (a traceback for
    the user)."""
    from click.testing import CliRunner

    from obh.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_clear_line(result, *needles: str) -> None:
    """Exit status 1, no traceback (only click's SystemExit), and the message names what it must."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    for needle in needles:
        assert needle in result.output, (needle, result.output)

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from obtoolkit.fileio import (
    atomic_path,
    atomic_write_text,
    is_temporary,
    remove_stale_temporaries,
    temporary_name,
)
from obtoolkit.processes import this_host


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def ended_pid() -> int:
    """The pid of a process that has ended."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)


def test_only_own_temporaries_of_ended_writers_are_removed(tmp_path):
    host = this_host()
    dead = tmp_path / "sub" / f".a.png.obh-tmp.{ended_pid()}@{host}.0"
    alive = tmp_path / f".b.png.obh-tmp.{os.getpid()}@{host}.0"
    elsewhere = tmp_path / f".c.png.obh-tmp.{ended_pid()}@not-{host}.0"
    foreign = [tmp_path / ".a.png.tmp.123.0", tmp_path / ".thesis.tmp.tex", tmp_path / "a.png"]
    for path in (dead, alive, elsewhere, *foreign):
        path.parent.mkdir(exist_ok=True)
        path.write_text("x")
    assert remove_stale_temporaries(tmp_path) == 1
    assert not dead.exists() and all(p.exists() for p in (alive, elsewhere, *foreign))


def test_temporary_names_fit_the_file_system(tmp_path):
    target = tmp_path / ("n" * 255)
    atomic_write_text(target, "long")
    assert target.read_text() == "long"
    assert is_temporary(temporary_name(target)) and len(temporary_name(target).name.encode()) <= 255

"""`obh download` under faults: foreign files, a member name the file system refuses, a full disk, two writers.
Each test names the finding of issue 16 it keeps fixed."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.obhypersim_build.archive_server import METADATA_PATH, SCENES_PATH, ArchiveServer, served_files, zip_scene
from tests.obhypersim_build.conftest import write_layered_tree

from .faults import DiskBudget, Run, invoke, obh_command

SCENE = "ai_001_001"
LONG_NAME = f"{SCENE}/_detail/{'n' * 300}.csv"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return write_layered_tree(tmp_path_factory.mktemp("source") / "hypersim").layout.root


@pytest.fixture(scope="module")
def files(source) -> dict[str, bytes]:
    """What the server serves: one scene archive (plus a member whose name no file system takes) and the CSVs."""
    buffer = io.BytesIO(zip_scene(source, SCENE))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(LONG_NAME, b"a,b\n1,2\n")
    return served_files(source, {SCENE: buffer.getvalue()})


def download_args(server: ArchiveServer, out: Path, *extra: str) -> list[str]:
    return ["download", str(out), "--scenes", SCENE, "--base-url", server.url + SCENES_PATH, "--metadata-url",
            server.url + METADATA_PATH, "--backoff", "0.001", "--retries", "2", "--no-progress", *extra]



def fetched(out: Path) -> list[Path]:
    return sorted(p for p in (out / SCENE).rglob("*") if p.is_file() and not p.name.startswith("."))


# Finding 1: start-up cleaning deleted every `.*.tmp.*` file under the output folder.
def test_download_leaves_foreign_temporary_looking_files_alone(files, tmp_path):
    out = tmp_path / "hypersim"
    foreign = [out / ".thesis.tmp.tex", out / SCENE / ".x.tmp.y"]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("user data")
    with ArchiveServer(files) as server:
        invoke(*download_args(server, out))
    assert all(p.read_text() == "user data" for p in foreign)
    assert fetched(out)


# Finding 9: an archive member name over 255 bytes made every later download of that root crash in planning.
def test_a_member_name_the_file_system_refuses_is_one_failed_row_and_reruns_still_work(files, source, tmp_path):
    out = tmp_path / "hypersim"
    with ArchiveServer(files) as server:
        first = invoke(*download_args(server, out, "--detail", "all"))
        second = invoke(*download_args(server, out, "--detail", "all"))
    for result in (first, second):
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert "1 failed" in result.output and f"FAILED {LONG_NAME}" in result.output
        assert "File name too long" in result.output
    assert "0 ok" in second.output  # everything else was verified by the first run
    report = json.loads((out / "download_report.json").read_text())
    assert [f["name"] for f in report["failures"]] == [LONG_NAME]
    assert [p.relative_to(out).as_posix() for p in fetched(out)] == sorted(
        p.relative_to(source).as_posix() for p in (source / SCENE).rglob("*") if p.is_file())


# Finding 10: a full disk failed every file one by one (or gave a traceback) instead of stopping with one line.
def test_a_full_disk_stops_the_download_with_one_line_and_the_rerun_completes(files, source, tmp_path):
    out = tmp_path / "hypersim"
    with ArchiveServer(files) as server:
        with DiskBudget(out, 40_000).inject():
            full = invoke(*download_args(server, out))
        assert full.exit_code == 1 and isinstance(full.exception, SystemExit), full.output
        assert "the disk is full" in full.output and "FAILED" not in full.output, full.output
        rerun = invoke(*download_args(server, out))
    assert rerun.exit_code == 0, rerun.output
    for path in fetched(out):
        assert path.read_bytes() == (source / path.relative_to(out)).read_bytes()


# Finding 3 (one lock for every writer): a second download names the one that holds the root.
def test_a_second_download_on_the_same_root_refuses_naming_the_first(files, tmp_path):
    out = tmp_path / "hypersim"
    with ArchiveServer(files, chunk_delay_s=0.05) as server:
        first = Run(obh_command(*download_args(server, out)))
        try:
            first.wait_for(lambda: any(entry.path.endswith(".zip") for entry in server.log))
            second = invoke(*download_args(server, out))
        finally:
            first.kill(group=True)
    assert second.exit_code == 1 and isinstance(second.exception, SystemExit), second.output
    assert "another obh command is writing here" in second.output and f"pid {first.pid}" in second.output

"""`obh download` end to end against a loopback server serving Hypersim-layout archives of synthetic scenes."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from obh.cli import main
from obhypersim_build.download import DownloadRequest, RetryPolicy, download, partial_path
from obhypersim_build.run import generate
from obtoolkit.fileio import is_temporary
from obtoolkit.hypersim import FrameId
from obtoolkit.synth.writer import HypersimWriter

from .archive_server import (
    METADATA_PATH,
    SCENES_PATH,
    ArchiveServer,
    ScriptedFault,
    data_offset,
    member_spans,
    requests_per_member,
    served_files,
    zip_scene,
)
from .conftest import SCENES, write_layered_tree

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(retries=6, timeout_s=5, backoff_s=0.001, backoff_max_s=0.01)
FRAME_MODALITIES = ("depth_meters", "normal_cam", "render_entity_id", "semantic", "semantic_instance", "tonemap")
THIRD_SCENE = "ai_001_003"


def write_details_and_extras(writer: HypersimWriter, scene: str) -> None:
    """The `_detail/` tables a build set takes, plus files the default selection must leave on the server."""
    writer.write_scene_metadata(scene, 0.01, ["cam_00"])
    positions = np.arange(9, dtype=np.float64).reshape(3, 3)
    writer.write_camera_trajectory(scene, "cam_00", positions, np.repeat(np.eye(3)[None], 3, axis=0), positions + 1)
    writer.write_nodes(scene, [(1, "wall", 0, "wall_0"), (2, "box", 1, "box_0")])
    writer.write_mesh_annotations(scene, ["wall_0", "box_0"], np.array([1, 5]), np.array([-1, 1]),
                                  np.zeros((41, 3), np.int64), np.zeros((2, 3), np.int64))
    frame = FrameId(scene, "cam_00", 0)
    writer.write_geometry(frame, "position", np.zeros((24, 32, 3), np.float16))
    writer.write_final(frame, "color", np.ones((24, 32, 3), np.float16))
    detail = writer.layout.detail_dir(scene)
    (detail / "metadata_node_strings.csv").write_text("node_id,path,string\n1,a,b\n")
    preview_dir = writer.layout.images_dir(scene, "cam_00", "geometry_preview")
    preview_dir.mkdir(parents=True)
    (preview_dir / "frame.0000.depth_meters.png").write_bytes(os.urandom(600))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A Hypersim tree of two scenes with known boundaries, `_detail/` tables and files nobody asked for."""
    root = tmp_path_factory.mktemp("source") / "hypersim"
    writer = write_layered_tree(root)
    for scene in SCENES:
        write_details_and_extras(writer, scene)
    return root


@pytest.fixture(scope="module")
def archives(source) -> dict[str, bytes]:
    """One archive per scene (stored and deflated members; ai_001_002 is ZIP64) and a third, unrequested one."""
    return {"ai_001_001": zip_scene(source, "ai_001_001"),
            "ai_001_002": zip_scene(source, "ai_001_002", zip64=True),
            THIRD_SCENE: zip_scene(source, THIRD_SCENE, source_scene="ai_001_001")}


def expected_members(archive: bytes, modalities=FRAME_MODALITIES) -> list[str]:
    """What the default selection should take, decided independently of the selection code: the per-frame files of
    the given modalities (not previews) and every `_detail/` file but metadata_node_strings.csv."""
    keep = []
    for name in zipfile.ZipFile(io.BytesIO(archive)).namelist():
        parts = name.split("/")
        if parts[1] == "images":
            modality = parts[3].split(".")[2]
            if modality in modalities and not parts[2].endswith("_geometry_preview"):
                keep.append(name)
        elif not name.endswith("metadata_node_strings.csv"):
            keep.append(name)
    return sorted(keep)


def request_for(server: ArchiveServer, out: Path, scenes=tuple(SCENES), **kwargs) -> DownloadRequest:
    return DownloadRequest(out, scenes=tuple(scenes), base_url=server.url + SCENES_PATH,
                           metadata_url=server.url + METADATA_PATH, **kwargs)


def assert_identical(out: Path, source: Path, names) -> None:
    for name in names:
        assert (out / name).read_bytes() == (source / name).read_bytes(), name


def downloaded_files(out: Path) -> list[str]:
    """Files under out, except the downloader's own state, lock and report."""
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".obh_download" not in
                  p.parts and p.name not in ("download_report.json", ".obh.lock"))


def test_download_is_complete_identical_and_feeds_generate(source, archives, tmp_path):
    out = tmp_path / "hypersim"
    with ArchiveServer(served_files(source, archives)) as server:
        report = download(request_for(server, out), policy=FAST, jobs=2, progress=False)
    wanted = sorted(expected_members(archives["ai_001_001"]) + expected_members(archives["ai_001_002"]))
    assert len(wanted) == 2 * (3 * 6 + 13)
    assert downloaded_files(out) == sorted([*wanted, "metadata_camera_parameters.csv",
                                            "metadata_images_split_scene_v1.csv"])
    assert_identical(out, source, downloaded_files(out))
    assert (report.count("ok"), report.count("failed")) == (len(wanted) + 2, 0)
    saved = json.loads((out / "download_report.json").read_text())
    assert saved["ok"] == len(wanted) + 2 and saved["failed"] == 0 and saved["failures"] == []
    assert saved["settings"]["request"]["scenes"] == list(SCENES) and saved["settings"]["package_version"]
    assert not any(p.name.endswith(".part") or is_temporary(p) for p in out.rglob("*"))
    summary = generate(out, tmp_path / "labels", progress=False)
    assert (summary.n_frames, summary.n_ok, summary.n_failed) == (6, 6, 0)


def test_faults_on_a_third_of_requests_still_give_identical_files(source, archives, tmp_path):
    out = tmp_path / "hypersim"
    with ArchiveServer(served_files(source, archives), fault_rate=1 / 3, seed=2024) as server:
        report = download(request_for(server, out), policy=FAST, jobs=3, progress=False)
        log = server.log
    assert report.count("failed") == 0, report.failed
    assert_identical(out, source, downloaded_files(out))
    faults = [e.fault for e in log if e.fault]
    assert {"drop", "truncate", "503", "flip"} <= set(faults)
    assert 0.2 < len(faults) / len(log) < 0.5
    assert report.transfer["retries"] > 0 and report.transfer["requests"] == len(log)
    assert not any(e.path.endswith(f"{THIRD_SCENE}.zip") for e in log)  # only the two scenes asked for
    assert not any(p.name.endswith(".part") for p in out.rglob("*"))


def test_rerun_fetches_nothing_that_is_verified(source, archives, tmp_path):
    out = tmp_path / "hypersim"
    with ArchiveServer(served_files(source, archives)) as server:
        download(request_for(server, out), policy=FAST, jobs=2, progress=False)
        victim = out / expected_members(archives["ai_001_001"])[0]
        victim.write_bytes(victim.read_bytes()[:-1] + b"!")  # same size, wrong content: must be refetched
        os.utime(victim, ns=(1, 1))
        server.clear_log()
        report = download(request_for(server, out), policy=FAST, jobs=2, progress=False, rehash=True)
        counts = {scene: requests_per_member(server.log, f"{SCENES_PATH}/{scene}.zip", member_spans(archives[scene]))
                  for scene in SCENES}
    relative = victim.relative_to(out).as_posix()
    assert counts["ai_001_001"] == {relative: 1} and not counts["ai_001_002"]
    assert report.count("ok") == 1 and report.count("failed") == 0
    assert_identical(out, source, downloaded_files(out))


def test_partial_files_resume_with_a_range_from_their_size(source, archives, tmp_path):
    out = tmp_path / "hypersim"
    scene, archive = "ai_001_001", archives["ai_001_001"]
    infos = {i.filename: i for i in zipfile.ZipFile(io.BytesIO(archive)).infolist()}
    name = next(n for n in expected_members(archive) if infos[n].compress_size > 1000)
    offset = data_offset(archive, name)
    have = infos[name].compress_size // 3
    part = partial_path(out / name)
    part.parent.mkdir(parents=True)
    part.write_bytes(archive[offset:offset + have])  # as a killed run would have left it
    # A dropped body mid-member in this run must also continue where it stopped.
    other = next(n for n in expected_members(archive) if n != name and infos[n].compress_size > 1000)
    other_span = member_spans(archive)[other]
    script = [ScriptedFault(lambda p, s, e: p.endswith(f"{scene}.zip") and s == other_span[0], "truncate", cut=700)]
    with ArchiveServer(served_files(source, archives), script=script) as server:
        report = download(request_for(server, out, scenes=[scene]), policy=FAST, jobs=1, progress=False)
        log = [e for e in server.log if e.path.endswith(f"{scene}.zip") and not e.suffix]
    assert report.count("failed") == 0
    assert_identical(out, source, [name, other])
    name_requests = [(e.start, e.end) for e in log if e.start < member_spans(archive)[name][1]
                     and e.end >= member_spans(archive)[name][0]]
    assert (offset + have, offset + infos[name].compress_size - 1) in name_requests
    # Only the local header (before `offset`) and the missing bytes were asked for, never what the partial held.
    assert not any(start < offset + have and end >= offset for start, end in name_requests)
    cut_index = next(i for i, e in enumerate(log) if e.fault == "truncate")
    assert log[cut_index].sent == 700 and log[cut_index + 1].start == log[cut_index].start + 700


def test_a_corrupt_member_is_reported_and_never_written(source, archives, tmp_path):
    scene, archive = "ai_001_001", bytearray(archives["ai_001_001"])
    infos = {i.filename: i for i in zipfile.ZipFile(io.BytesIO(bytes(archive))).infolist()}
    stored = next(n for n in expected_members(bytes(archive)) if infos[n].compress_type == zipfile.ZIP_STORED)
    deflated = next(n for n in expected_members(bytes(archive)) if infos[n].compress_type == zipfile.ZIP_DEFLATED
                    and infos[n].compress_size > 50)
    for name in (stored, deflated):
        archive[data_offset(bytes(archive), name) + 20] ^= 0x01
    out = tmp_path / "hypersim"
    with ArchiveServer(served_files(source, {scene: bytes(archive)})) as server:
        result = CliRunner().invoke(main, [
            "download", str(out), "--scenes", scene, "--base-url", server.url + SCENES_PATH, "--metadata-url",
            server.url + METADATA_PATH, "--retries", "2", "--backoff", "0", "--no-progress"])
    assert result.exit_code == 1, result.output
    report = json.loads((out / "download_report.json").read_text())
    assert {f["name"] for f in report["failures"]} == {stored, deflated}
    assert all(f["url"].endswith(f"{scene}.zip") for f in report["failures"])
    assert any("CRC-32" in f["error"] for f in report["failures"])
    assert f"FAILED {stored}" in result.output
    for name in (stored, deflated):
        assert not (out / name).exists() and not partial_path(out / name).exists()
    assert report["ok"] == len(expected_members(bytes(archive))) - 2 + 2  # members but the two, and the two CSVs


def test_metadata_tables_survive_a_corrupted_reply(source, archives, tmp_path):
    """The CSVs have no checksum: they are read until two reads agree, so one flipped byte cannot slip through."""
    script = [ScriptedFault(lambda p, s, e: p.startswith(METADATA_PATH), "flip"),
              ScriptedFault(lambda p, s, e: p.endswith("split_scene_v1.csv"), "flip")]
    out = tmp_path / "hypersim"
    with ArchiveServer(served_files(source, archives), script=script) as server:
        report = download(request_for(server, out, scenes=["ai_001_001"]), policy=FAST, progress=False)
        flipped = [e.path for e in server.log if e.fault == "flip"]
    assert len(flipped) == 2 and report.count("failed") == 0
    assert report.transfer["retry_kinds"]["disagreement"] >= 1
    assert_identical(out, source, ["metadata_camera_parameters.csv", "metadata_images_split_scene_v1.csv"])


def test_server_errors_are_clear_failures(source, archives, tmp_path):
    files = served_files(source, archives)
    with ArchiveServer(files, ignore_ranges=True) as server:
        report = download(request_for(server, tmp_path / "a", scenes=["ai_001_001", "ai_009_009"]), policy=FAST,
                          progress=False)
    errors = {r.name: r.error for r in report.failed}
    assert "ignored the Range header" in errors["ai_001_001.zip"]
    assert "404" in errors["ai_009_009.zip"] and "ai_009_009.zip" in errors["ai_009_009.zip"]
    with ArchiveServer(files, fault_rate=1.0, faults=("503",)) as server:
        report = download(request_for(server, tmp_path / "b", scenes=["ai_001_001"]),
                          policy=RetryPolicy(retries=2, backoff_s=0), progress=False)
    assert report.count("ok") == 0 and all("503" in r.error and "gave up after 3" in r.error for r in report.failed)


def test_a_stalled_reply_times_out_and_is_retried(source, archives, tmp_path):
    script = [ScriptedFault(lambda p, s, e: p.endswith(".zip") and s is not None, "stall")]
    with ArchiveServer(served_files(source, archives), script=script, stall_s=2.0) as server:
        report = download(request_for(server, tmp_path / "out", scenes=["ai_001_001"]),
                          policy=RetryPolicy(retries=3, timeout_s=0.3, backoff_s=0), progress=False)
    assert report.count("failed") == 0
    assert report.transfer["retry_kinds"].get("timeout", 0) >= 1


def test_split_takes_the_public_frames_of_its_scenes(source, archives, tmp_path):
    """ai_001_001 is train, ai_001_002 test (conftest); frame 1 of ai_001_001 is made non-public here."""
    root = tmp_path / "src"
    split = (source / "metadata_images_split_scene_v1.csv").read_text().splitlines()
    split = [line.replace("ai_001_001,cam_00,1,True,,train", "ai_001_001,cam_00,1,False,FLAGGED,")
             for line in split]
    root.mkdir()
    (root / "metadata_images_split_scene_v1.csv").write_text("\n".join(split) + "\n")
    (root / "metadata_camera_parameters.csv").write_bytes((source / "metadata_camera_parameters.csv").read_bytes())
    out = tmp_path / "hypersim"
    with ArchiveServer(served_files(root, archives)) as server:
        report = download(DownloadRequest(out, splits=("train",), base_url=server.url + SCENES_PATH,
                                          metadata_url=server.url + METADATA_PATH), policy=FAST, progress=False)
    frames = {p.name.split(".")[1] for p in (out / "ai_001_001/images").rglob("frame.*")}
    assert report.count("failed") == 0
    assert frames == {"0000", "0002"} and not (out / "ai_001_002").exists()
    assert (out / "ai_001_001/_detail/metadata_nodes.csv").is_file()


def test_list_and_dry_run_show_what_would_be_fetched(source, archives, tmp_path):
    out = tmp_path / "hypersim"
    with ArchiveServer(served_files(source, archives)) as server:
        args = ["download", str(out), "--scenes", "ai_001_001", "--base-url", server.url + SCENES_PATH,
                "--metadata-url", server.url + METADATA_PATH, "--modalities", "depth_meters,tonemap",
                "--detail", "none", "--no-progress"]
        listed = CliRunner().invoke(main, [*args, "--list"])
        dry = CliRunner().invoke(main, [*args, "--dry-run"])
        assert not out.exists()  # neither writes anything
        fetched = CliRunner().invoke(main, [*args, "--cameras", "cam_00"])
        dry_after = CliRunner().invoke(main, [*args, "--dry-run"])
    assert listed.exit_code == 0 and dry.exit_code == 0 and fetched.exit_code == 0, listed.output + dry.output
    rows = [line.split() for line in listed.output.splitlines()[1:] if line.startswith("missing") and "ai_" in line]
    infos = {i.filename: i for i in zipfile.ZipFile(io.BytesIO(archives["ai_001_001"])).infolist()}
    assert len(rows) == 6
    for _state, compressed, size, name in rows:
        assert (int(compressed), int(size)) == (infos[name].compress_size, infos[name].file_size)
    assert "metadata_camera_parameters.csv" in listed.output
    total = sum(infos[row[3]].compress_size for row in rows)
    assert f"6 files: 6 to fetch ({total / 1024:.1f} KiB" in dry.output
    assert "0 verified locally" in dry.output and "2 of 2 metadata CSVs to fetch" in dry.output
    assert "6 verified locally" in dry_after.output and "0 to fetch" in dry_after.output


def test_bad_arguments_are_usage_errors(tmp_path):
    for extra in (["--scenes", "scene1"], ["--modalities", "depth"], ["--cameras", "camera0"], []):
        result = CliRunner().invoke(main, ["download", str(tmp_path / "o"), *extra])
        assert result.exit_code == 2, (extra, result.output)


def test_killed_download_resumes_without_refetching_verified_files(source, archives, tmp_path):
    """SIGKILL `python -m obh download` at a random moment, then rerun it to completion.

    Files verified before the kill get no request at all in the rerun; partial files continue after their bytes
    (no "flip" faults here: a corrupted partial file is rightly fetched again from its start).
    """
    out = tmp_path / "hypersim"
    rng = random.Random()
    kill_after, extra_delay_s = rng.randrange(10, 40), rng.uniform(0.0, 0.08)
    moment = f"killed after {kill_after} member requests + {extra_delay_s:.3f} s"
    with ArchiveServer(served_files(source, archives), chunk_delay_s=0.02, fault_rate=0.15,
                       faults=("drop", "truncate", "503"), seed=5) as server:
        command = [sys.executable, "-m", "obh", "download", str(out), "--scenes", ",".join(SCENES),
                   "--base-url", server.url + SCENES_PATH, "--metadata-url", server.url + METADATA_PATH,
                   "--jobs", "2", "--backoff", "0.01", "--no-progress"]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while sum(not e.suffix and e.path.endswith(".zip") for e in server.log) < kill_after:
            assert process.poll() is None and time.monotonic() < deadline, f"the download ended first ({moment})"
            time.sleep(0.002)
        time.sleep(extra_delay_s)
        process.send_signal(signal.SIGKILL)
        process.wait()
        verified = {p.relative_to(out).as_posix() for p in out.rglob("*")
                    if p.is_file() and not p.name.startswith(".") and p.relative_to(out).parts[0] in SCENES}
        partials = {(p.parent / p.name[1:-len(".part")]).relative_to(out).as_posix(): p.stat().st_size
                    for p in out.rglob(".*.part")}
        server.clear_log()
        server.state.chunk_delay_s = 0.0
        rerun = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        log = server.log
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert verified, f"nothing had been verified before the kill ({moment})"
    for scene in SCENES:
        path = f"{SCENES_PATH}/{scene}.zip"
        refetched = set(requests_per_member(log, path, member_spans(archives[scene])))
        assert not verified & refetched, moment
        for name, size in partials.items():
            if name.startswith(scene) and size:
                begin = data_offset(archives[scene], name)
                assert not any(e.path == path and not e.suffix and e.start < begin + size and e.end >= begin
                               for e in log), f"{name}: partial bytes fetched again ({moment})"
    assert_identical(out, source, downloaded_files(out))
    assert len(downloaded_files(out)) == 2 * 31 + 2
    assert not any(p.name.endswith(".part") for p in out.rglob("*"))
    print(moment, f"{len(verified)} verified, partial sizes {sorted(partials.values())}")

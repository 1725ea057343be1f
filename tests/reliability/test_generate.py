"""`obh generate` under faults: foreign files, kills, two writers, garbage inputs, bad camera rows, huge claims,
a full disk. Each test names the finding of issue 16 it keeps fixed."""

from __future__ import annotations

import random
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from obhypersim_build.run import generate
from obtoolkit.hypersim import FrameId, HypersimLayout
from obtoolkit.labels_io import product_relpath
from tests.obhypersim_build.conftest import write_layered_tree

from .conftest import clean_digest, manifest_rows, stats_files, tree_digest
from .faults import (
    DiskBudget,
    Run,
    assert_one_clear_line,
    corrupt,
    files_left,
    folder_bytes,
    invoke,
    kill_at_random_point,
    obh_command,
    png_claiming,
    small_disk_command,
)

FRAME = FrameId("ai_001_001", "cam_00", 1)
ORPHAN_LIMIT_S = 5.0

# These tests compare the bytes of separate runs' outputs; manifest.parquet records the checkout's git state.
pytestmark = pytest.mark.usefixtures("frozen_git_state")




def edit_camera_row(root, scene: str, edit) -> None:
    """Rewrite the camera CSV line of `scene` with `edit(list of values) -> list of values`."""
    path = root / "metadata_camera_parameters.csv"
    lines = path.read_text().splitlines()
    lines = [",".join(edit(line.split(","))) if line.startswith(scene + ",") else line for line in lines]
    path.write_text("\n".join(lines) + "\n")


# Finding 1: start-up cleaning deleted every `.*.tmp.*` file under the output folder.
def test_foreign_temporary_looking_files_are_left_alone(hypersim, tmp_path):
    out = tmp_path / "out"
    foreign = [out / ".thesis.tmp.tex", out / ".x.tmp.y", out / "notes" / ".draft.md.tmp.123.0",
               out / "hypersim" / ".mine.png.tmp.1.2"]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("user data")
    generate(hypersim, out, progress=False)
    assert all(p.read_text() == "user data" for p in foreign)


# Finding 2: after SIGKILL of `obh generate -j 2` its workers went on writing and lingered.
def test_killing_generate_leaves_no_process_within_5_s_and_the_rerun_is_identical(tmp_path):
    hypersim = write_layered_tree(tmp_path / "hypersim", frames_per_camera=12).layout.root
    out = tmp_path / "out"
    run = Run(obh_command("generate", hypersim, out, "-j", "2"))
    run.kill_when(lambda: stats_files(out) >= 2)  # both workers are in the middle of their task
    assert run.wait_gone(ORPHAN_LIMIT_S) == [], "worker processes outlived the killed parent"
    generate(hypersim, out, progress=False)
    assert tree_digest(out) == clean_digest(hypersim, tmp_path / "clean")


def test_generate_killed_at_random_points_leaves_nothing_running_and_resumes(tmp_path):
    # Random points in the run's progress, not in time: a quiet machine labels this tree faster than any fixed delay.
    hypersim = write_layered_tree(tmp_path / "hypersim", frames_per_camera=40).layout.root
    rng = random.Random(16)
    out = tmp_path / "out"
    for _ in range(2):  # 1 to 30 more frames of 80 finished (about 30 a second here when quiet), then a moment
        run = kill_at_random_point(obh_command("generate", hypersim, out, "-j", "2"), rng, lambda: stats_files(out),
                                   more=(1, 30), max_pause_s=0.05)
        assert run.wait_gone(ORPHAN_LIMIT_S) == []
    generate(hypersim, out, progress=False)
    assert tree_digest(out) == clean_digest(hypersim, tmp_path / "clean")


# Finding 3: two runs on one output folder deleted each other's temporaries; no lock in generate.
def test_a_second_generate_on_the_same_root_refuses_naming_the_first(tmp_path):
    hypersim = write_layered_tree(tmp_path / "hypersim", frames_per_camera=20).layout.root
    out = tmp_path / "out"
    first = Run(obh_command("generate", hypersim, out))
    try:
        first.wait_for(lambda: stats_files(out) >= 1)  # it holds the lock, and has 39 frames to go
        second = invoke("generate", hypersim, out)
    finally:
        first.kill(group=True)
    assert_one_clear_line(second, "another obh command is writing here", f"pid {first.pid}", "generate", str(out))
    assert stats_files(out) < 40, "the first run finished before the second started: the test proves nothing"


def test_the_lock_of_a_killed_run_is_recovered(hypersim, tmp_path):
    out = tmp_path / "out"
    run = Run(obh_command("generate", hypersim, out))
    run.kill_when(lambda: stats_files(out) >= 1, group=True)
    assert (out / ".obh.lock").read_text()  # the dead run's record is still in the file
    result = invoke("generate", hypersim, out)
    assert result.exit_code == 0, result.output
    assert tree_digest(out) == clean_digest(hypersim, tmp_path / "clean")


# Finding 4: a random or empty tonemap JPEG was copied without decoding and the frame was ok.
@pytest.mark.parametrize("damage", ["empty", "random", "truncate"])
def test_a_garbage_tonemap_fails_its_frame_naming_the_file(hypersim, tmp_path, damage):
    bad = HypersimLayout(hypersim).tonemap_path(FRAME)
    corrupt(bad, damage)
    out = tmp_path / "out"
    result = invoke("generate", hypersim, out)
    assert result.exit_code == 1 and "1 of 6 frames failed" in result.output, result.output
    failed = [r for r in manifest_rows(out / "manifest.parquet") if r["status"] != "ok"]
    assert [(r["scene"], r["frame"]) for r in failed] == [(FRAME.scene, FRAME.frame)]
    assert str(bad) in failed[0]["error"]
    assert not (out / product_relpath(FRAME, "tonemap")).exists()


def test_a_tonemap_claiming_a_huge_size_fails_before_decoding(hypersim, tmp_path):
    bad = HypersimLayout(hypersim).tonemap_path(FRAME)
    bad.write_bytes(png_claiming(100_000, 100_000))
    summary = generate(hypersim, tmp_path / "out", progress=False)
    assert summary.n_failed == 1
    assert str(bad) in summary.failures[0].error and "max_image_pixels" in summary.failures[0].error


# Finding 4: a rerun skipped a frame whose source had been fixed (the skip check hashed only the settings).
def test_changing_a_source_file_redoes_its_frame(hypersim, tmp_path):
    out = tmp_path / "out"
    generate(hypersim, out, progress=False)
    layout = HypersimLayout(hypersim)
    source = layout.tonemap_path(FRAME)
    pixels = 255 - np.asarray(Image.open(source))
    Image.fromarray(pixels).save(source, "JPEG")  # a fixed (here: different) picture
    other = FrameId(FRAME.scene, FRAME.camera, 2)
    shutil.copyfile(layout.geometry_path(other, "depth_meters"), layout.geometry_path(FRAME, "depth_meters"))
    before = {r["frame"]: r["ob_hash"] for r in manifest_rows(out / "manifest.parquet") if r["scene"] == FRAME.scene}
    generate(hypersim, out, progress=False)
    after = {r["frame"]: r["ob_hash"] for r in manifest_rows(out / "manifest.parquet") if r["scene"] == FRAME.scene}
    assert (out / product_relpath(FRAME, "tonemap")).read_bytes() == source.read_bytes()
    assert after[FRAME.frame] == before[2] != before[FRAME.frame]
    assert after[0] == before[0]


# Finding 5: one bad camera-CSV row failed every frame of every scene; generate exited 0 anyway.
def test_a_bad_camera_row_of_a_scene_not_asked_for_changes_nothing(hypersim, tmp_path):
    edit_camera_row(hypersim, "ai_001_002", lambda values: [*values[:-1], "nan"])
    result = invoke("generate", hypersim, tmp_path / "out", "--scenes", "ai_001_001")
    assert result.exit_code == 0 and "3 ok, 0 failed" in result.output, result.output


@pytest.mark.parametrize("edit", [lambda v: [*v[:-1], "nan"], lambda v: v[:-2], lambda v: [*v, "1"]],
                         ids=["nan", "short_row", "long_row"])
def test_a_bad_camera_row_fails_only_its_scene_and_generate_exits_1(hypersim, tmp_path, edit):
    edit_camera_row(hypersim, "ai_001_002", edit)
    out = tmp_path / "out"
    result = invoke("generate", hypersim, out)
    assert result.exit_code == 1, result.output
    assert "3 ok, 3 failed" in result.output and "3 of 6 frames failed" in result.output
    rows = manifest_rows(out / "manifest.parquet")
    assert {r["scene"] for r in rows if r["status"] == "ok"} == {"ai_001_001"}
    errors = {r["error"] for r in rows if r["status"] != "ok"}
    assert len(errors) == 1 and "metadata_camera_parameters.csv" in errors.pop()


# Finding 6: a camera CSV claiming 100000x100000 pixels ended in `MemoryError: 224 GiB`.
def test_a_camera_row_claiming_a_huge_frame_fails_its_scene_with_the_limit_named(hypersim, tmp_path):
    columns = (hypersim / "metadata_camera_parameters.csv").read_text().splitlines()[0].split(",")
    sizes = [columns.index("settings_output_img_height"), columns.index("settings_output_img_width")]
    edit_camera_row(hypersim, "ai_001_002", lambda v: [("100000" if i in sizes else x) for i, x in enumerate(v)])
    summary = generate(hypersim, tmp_path / "out", progress=False)
    assert (summary.n_ok, summary.n_failed) == (3, 3)
    assert all("max_image_pixels" in r.error and "100000x100000" in r.error for r in summary.failures)


# Finding 10: a full disk gave a traceback (and failed frames one by one).
def test_a_full_disk_is_one_clear_line_and_the_rerun_completes(hypersim, tmp_path):
    out = tmp_path / "out"
    with DiskBudget(out, 30_000).inject():
        result = invoke("generate", hypersim, out)
    assert_one_clear_line(result, "the disk is full", "No space left on device", str(out))
    assert not any(r["status"] != "ok" for r in manifest_rows_or_empty(out)), "a full disk must not fail frames"
    for png in out.rglob("*.png"):
        Image.open(png).load()  # nothing half-written under a final name
    result = invoke("generate", hypersim, out)
    assert result.exit_code == 0, result.output
    assert tree_digest(out) == clean_digest(hypersim, tmp_path / "clean")


def test_a_full_disk_in_worker_processes_is_one_clear_line(hypersim, tmp_path):
    out = tmp_path / "out"
    run = Run(obh_command("generate", hypersim, out, "-j", "2"), env=DiskBudget(out, 30_000).env())
    status, output = run.finish()
    assert status == 1 and "the disk is full" in output and "Traceback" not in output, output
    assert folder_bytes(out) < 60_000


def test_a_real_small_disk_is_one_clear_line_with_nothing_half_written(hypersim, tmp_path):
    out = tmp_path / "small_disk"
    command = small_disk_command(obh_command("generate", hypersim, out), out, size_kib=48)
    status, output = Run(command).finish()
    assert status == 1 and "the disk is full" in output and "Traceback" not in output, output
    left = files_left(output)
    assert left and not any(".obh-tmp." in name for name in left), left
    assert all(size > 0 for name, size in left.items() if name.endswith(".png")), left


def manifest_rows_or_empty(out) -> list[dict]:
    return manifest_rows(out / "manifest.parquet") if (out / "manifest.parquet").exists() else []


# Finding 2, on a cluster: Dask tasks went on after the run that submitted them was killed. Slow (a local cluster
# and a subprocess: 15-30 s under load); run with -m slow.
@pytest.mark.slow
def test_dask_tasks_stop_when_the_run_that_submitted_them_is_killed(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    hypersim = write_layered_tree(tmp_path / "hypersim", frames_per_camera=40).layout.root
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        run = Run(obh_command("generate", hypersim, out, "--dask-scheduler", cluster.scheduler_address))
        run.kill_when(lambda: stats_files(out) >= 4)
        finished = settled(lambda: stats_files(out), quiet_s=2.0)
        assert finished < 40, f"{finished} frames: a task of 40 went on to its end after its run was killed"
        with distributed.Client(cluster) as client:
            assert client.submit(sum, [1, 2]).result(timeout=30) == 3, "the Dask worker itself must live on"


# Finding 4: `obh validate` passed a frame whose RGB does not decode.
def test_validate_fails_a_frame_whose_rgb_copy_does_not_decode(hypersim, tmp_path):
    out = tmp_path / "out"
    generate(hypersim, out, progress=False)
    copy = out / product_relpath(FRAME, "tonemap")
    corrupt(copy, "truncate")
    result = invoke("validate", out)
    assert result.exit_code == 1 and "6 frames, 1 failed" in result.output, result.output
    report = (out / "validation_report.json").read_text()
    assert str(copy) in report


def settled(count, *, quiet_s: float, timeout_s: float = 60.0) -> int:
    """`count()` once it has not changed for `quiet_s` seconds."""
    value, since, deadline = count(), time.monotonic(), time.monotonic() + timeout_s
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.05)
        if (now := count()) != value:
            value, since = now, time.monotonic()
    return value

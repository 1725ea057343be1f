from __future__ import annotations

import hashlib
import random
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from obh.cli import main
from obhypersim_build.run import generate
from obtoolkit.hypersim import FrameId
from obtoolkit.labels_io import read_label_files
from obtoolkit.manifest import read_manifest, table_to_records
from tests.reliability.faults import kill_at_random_point

from .conftest import write_layered_tree

# These tests compare the bytes of separate runs' outputs; manifest.parquet records the checkout's git state.
pytestmark = pytest.mark.usefixtures("frozen_git_state")


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every output file except the run's own config echo and validation report."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in ("build_config.yaml",)}


def manifest_rows(path: Path) -> list[dict]:
    return [r.as_dict() for r in table_to_records(read_manifest(path))]


def test_generate_writes_modots_layout_and_a_manifest(layered_tree, tmp_path):
    out = tmp_path / "out"
    summary = generate(layered_tree, out, progress=False)
    assert (summary.n_frames, summary.n_ok, summary.n_failed) == (6, 6, 0)
    rows = manifest_rows(out / "manifest.parquet")
    assert [(r["scene"], r["frame"]) for r in rows][:3] == [("ai_001_001", 0), ("ai_001_001", 1), ("ai_001_001", 2)]
    first = rows[0]
    assert first["split"] == "train" and first["public"] is True and first["validation_failed"] is False
    for column in ("rgb_path", "depth_path", "ob_path", "instance_contour_path", "ori_path", "ori16_path",
                   "order_path", "ob_class_path", "stats_path"):
        assert (out / first[column]).is_file(), column
    assert first["ob_path"] == "hypersim/ai_001_001/cam_00/ob/0000.png"
    labels = read_label_files(out, FrameId("ai_001_001", "cam_00", 0))
    assert labels.content_hashes()["ob"] == first["ob_hash"]
    assert first["ob_fraction"] > 0 and first["ob_inter_fraction"] == pytest.approx(first["ob_fraction"])


def test_rerun_skips_and_parallel_equals_serial(layered_tree, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    generate(layered_tree, serial, progress=False)
    before = {p: p.stat().st_mtime_ns for p in serial.rglob("*.png")}
    time.sleep(0.01)
    generate(layered_tree, serial, progress=False)
    assert before == {p: p.stat().st_mtime_ns for p in serial.rglob("*.png")}  # nothing rewritten
    generate(layered_tree, parallel, jobs=2, progress=False)
    assert tree_digest(serial) == tree_digest(parallel)


def test_changed_parameters_regenerate(layered_tree, tmp_path):
    from obhypersim_build.config import load_build_config

    out = tmp_path / "out"
    generate(layered_tree, out, progress=False)
    first = manifest_rows(out / "manifest.parquet")[0]["params_hash"]
    generate(layered_tree, out, load_build_config(None, ["labels.remove_isolated_pixels=false"]), progress=False)
    assert manifest_rows(out / "manifest.parquet")[0]["params_hash"] != first


def test_corrupt_input_fails_only_its_frame(layered_tree, tmp_path):
    bad = layered_tree / "ai_001_002/images/scene_cam_00_geometry_hdf5/frame.0001.depth_meters.hdf5"
    bad.write_bytes(bad.read_bytes()[:100])
    out = tmp_path / "out"
    summary = generate(layered_tree, out, progress=False)
    assert (summary.n_ok, summary.n_failed) == (5, 1)
    failed = [r for r in manifest_rows(out / "manifest.parquet") if r["status"] == "error"]
    assert len(failed) == 1 and failed[0]["frame"] == 1 and str(bad) in failed[0]["error"]
    result = CliRunner().invoke(main, ["manifest", "stats", str(out / "manifest.parquet")])
    assert result.exit_code == 0 and "Failed frames (1)" in result.output and "depth_meters.hdf5" in result.output


def test_scene_missing_from_camera_csv_fails_its_frames(layered_tree, tmp_path):
    import shutil

    shutil.copytree(layered_tree / "ai_001_001", layered_tree / "ai_003_001")
    summary = generate(layered_tree, tmp_path / "out", progress=False)
    assert summary.n_failed == 3
    errors = {r["error"] for r in manifest_rows(tmp_path / "out/manifest.parquet") if r["status"] == "error"}
    assert len(errors) == 1 and "ai_003_001" in errors.pop()


def test_a_resume_after_the_checkout_changed_differs_only_in_the_manifest_provenance(layered_tree, tmp_path,
                                                                                   monkeypatch):
    """Why this module freezes the git state: a run killed during the final merge (every frame and part written,
    manifest.parquet not yet) resumed after a commit in the checkout writes a manifest with the same rows whose
    metadata names the new commit (a one-off failure of the SIGKILL test below in a long suite run, manifest bytes
    different and rows equal, fits a checkout that moved meanwhile)."""
    import json

    import pyarrow.parquet as pq

    import obhypersim_build.run as run_module

    monkeypatch.setattr(run_module, "git_sha", lambda: "1111111")
    generate(layered_tree, tmp_path / "clean", progress=False)
    killed = tmp_path / "killed"
    generate(layered_tree, killed, progress=False)
    (killed / "manifest.parquet").unlink()  # the state a SIGKILL during the merge leaves
    monkeypatch.setattr(run_module, "git_sha", lambda: "2222222-dirty")
    generate(layered_tree, killed, progress=False)
    clean, resumed = tree_digest(tmp_path / "clean"), tree_digest(killed)
    assert [name for name in clean if clean[name] != resumed[name]] == ["manifest.parquet"]
    assert manifest_rows(killed / "manifest.parquet") == manifest_rows(tmp_path / "clean/manifest.parquet")
    shas = [json.loads(pq.read_schema(root / "manifest.parquet").metadata[b"ob_hypersim.build_config"])
            ["provenance"]["git_sha"] for root in (tmp_path / "clean", killed)]
    assert shas == ["1111111", "2222222-dirty"]


def test_frozen_git_state_reaches_the_processes_a_test_starts():
    """The module's fixture holds for `obh generate` run as a command too (the SIGKILL tests start it)."""
    import subprocess

    from obtoolkit.provenance import git_sha

    assert git_sha() is None
    child = subprocess.run([sys.executable, "-c", "from obtoolkit.provenance import git_sha; print(git_sha())"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "None"


def test_sigkill_at_random_moments_then_resume_is_byte_identical(tmp_path):
    hypersim = write_layered_tree(tmp_path / "hypersim", frames_per_camera=20).layout.root
    clean = tmp_path / "clean"
    generate(hypersim, clean, progress=False)
    expected, expected_rows = tree_digest(clean), manifest_rows(clean / "manifest.parquet")
    rng = random.Random(0)
    command = [sys.executable, "-m", "obh", "generate", str(hypersim)]
    for trial in range(3):
        out = tmp_path / f"killed{trial}"
        finished = lambda out=out: len(list(out.glob("hypersim/*/*/stats/*.json")))  # noqa: E731
        for _ in range(2):  # at random points of the run's progress (a quiet machine outruns any fixed delay)
            kill_at_random_point(command + [str(out)], rng, finished, more=(1, 18), max_pause_s=0.05, group=True)
        generate(hypersim, out, progress=False)
        assert tree_digest(out) == expected
        assert manifest_rows(out / "manifest.parquet") == expected_rows


def test_dask_cluster_gives_the_same_manifest(layered_tree, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    local = tmp_path / "local"
    generate(layered_tree, local, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        generate(layered_tree, tmp_path / "dask", dask_scheduler=cluster.scheduler_address, progress=False)
    assert manifest_rows(local / "manifest.parquet") == manifest_rows(tmp_path / "dask/manifest.parquet")
    assert tree_digest(local) == tree_digest(tmp_path / "dask")


def test_cli_generate_validate_and_edit_detection(layered_tree, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["generate", str(layered_tree), str(out), "--set", "labels.tau_rel=0.001"])
    assert result.exit_code == 0, result.output
    assert "6 ok" in result.output
    result = runner.invoke(main, ["validate", str(out), "--hypersim-root", str(layered_tree)])
    assert result.exit_code == 0, result.output
    edited = out / "hypersim/ai_001_001/cam_00/instance_contour/0001.png"
    from PIL import Image

    pixels = np.asarray(Image.open(edited)).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(edited)
    result = runner.invoke(main, ["validate", str(out)])
    assert result.exit_code == 1
    assert "1 failed" in result.output and "content_hashes" in result.output

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from obh.cli import main
from obtoolkit._open3d import open3d_available
from obtoolkit.manifest import read_manifest
from training.run_log import read_log

from ..conftest import REPO_ROOT

needs_open3d = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "demo" in result.output and "synth" in result.output


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "obh" in result.output


@needs_open3d
def test_synth_writes_a_hypersim_root(tmp_path):
    from obtoolkit.hypersim import iter_frames, read_camera_parameters
    from obtoolkit.synth.reference import read_reference

    result = CliRunner().invoke(main, ["synth", str(tmp_path), "--scenes", "1", "--frames", "2", "--cameras", "1",
                                       "--width", "32", "--height", "24", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "ai_900_001" in result.output
    frames = list(iter_frames(tmp_path))
    assert [str(f) for f in frames] == ["ai_900_001/cam_00/frame.0000", "ai_900_001/cam_00/frame.0001"]
    assert read_camera_parameters(tmp_path / "metadata_camera_parameters.csv").camera("ai_900_001").width == 32
    assert read_reference(tmp_path, frames[1]).shape_hw == (24, 32)


def test_synth_rejects_bad_sizes(tmp_path):
    result = CliRunner().invoke(main, ["synth", str(tmp_path), "--frames", "0"])
    assert result.exit_code != 0 and "frames" in result.output


@needs_open3d
def test_commands_end_to_end_synth_generate_train_evaluate_export_predict(tmp_path):
    """The whole path on a few tiny frames, through the CLI as a user runs it (`obh demo` is the long version)."""
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.output

    run("synth", tmp_path / "hs", "--scenes", "3", "--frames", "2", "--cameras", "1", "--width", "64", "--height",
        "48", "--seed", "2")
    run("generate", tmp_path / "hs", tmp_path / "ob")
    run("train", "--config", REPO_ROOT / "configs" / "demo_cpu.yaml", f"data.root={tmp_path / 'ob'}",
        f"run_dir={tmp_path / 'runs'}", "data.crop_hw=[48,64]", "schedule.batch_size=2", "schedule.max_steps=2",
        "schedule.val_every=2", "schedule.checkpoint_every=2", "runtime.threads=1", "runtime.progress=false",
        "runtime.tensorboard=false", "validation.exact_wait_s=120")
    run_dir = tmp_path / "runs" / "demo_cpu"
    assert [r["step"] for r in read_log(run_dir, "val_exact")] == [2]
    assert (run_dir / "checkpoints" / "last.pt").samefile(run_dir / "checkpoints" / "step_0000002.pt")
    output = run("export-model", run_dir, tmp_path / "model.safetensors")
    assert "model.safetensors" in output
    run("evaluate", tmp_path / "model.safetensors", "--root", tmp_path / "ob", "--split", "test", "--metric-workers",
        "1", "--pictures", "1", "--out", tmp_path / "eval")
    assert (tmp_path / "eval" / "predictions.png").is_file() and (tmp_path / "eval" / "metrics.json").is_file()
    frame = next((tmp_path / "hs").rglob("*.tonemap.jpg"))
    run("predict", tmp_path / "model.safetensors", frame, "--out", tmp_path / "pred", "--device", "cpu")
    assert (tmp_path / "pred" / f"{frame.stem}_depth.png").is_file()


@pytest.mark.slow
@needs_open3d
def test_demo_writes_a_contact_sheet(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--train-steps", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "index.html").is_file() and "index.html" in result.output
    for picture in ("labels.png", "predictions.png", "pr_curves.png", "training_curves.png", "trained/metrics.json",
                    "trained/report/index.html", "untrained/report/index.html"):
        assert (tmp_path / "report" / picture).is_file(), picture
    page = (tmp_path / "report" / "index.html").read_text()
    assert "inter-object occlusion boundary" in page and "viridis" in page  # the label legend, the colour map
    assert (tmp_path / "hypersim" / "ai_900_001").is_dir()
    assert (tmp_path / "ob_hypersim" / "manifest.parquet").is_file()
    assert (tmp_path / "ob_hypersim" / "validation_report.json").is_file()
    assert "0 failed" in result.output and "labels vs mesh reference" in result.output
    # the bundled manifest is this dataset's (statistics and hashes may differ across CPU families: Embree)
    columns = ["scene", "camera", "frame", "split", "status", "ob_path", "depth_path", "height", "width"]
    written = read_manifest(tmp_path / "ob_hypersim" / "manifest.parquet").to_pandas()[columns]
    bundled = read_manifest(REPO_ROOT / "manifests" / "demo_manifest.parquet").to_pandas()[columns]
    pd.testing.assert_frame_equal(written, bundled)


def test_library_errors_are_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["train", "optim.lrr=1"])
    assert result.exit_code != 0 and "unknown key" in result.output and "Traceback" not in result.output

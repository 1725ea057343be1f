"""The training benchmark's CPU path, on tiny frames (slow: about a minute on 2 cores)."""

from __future__ import annotations

import json

import pytest

from obtoolkit._open3d import open3d_available


@pytest.mark.slow
@pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) makes the synthetic frames")
def test_bench_train_prints_step_end_to_end_and_contention_figures(tmp_path, monkeypatch, capsys):
    from bench import bench_train

    tiny = {**bench_train.PRESETS["cpu-demo"], "frames_hw": (64, 80), "steps": 4, "val_every": 2,
            "checkpoint_every": 2}
    monkeypatch.setitem(bench_train.PRESETS, "cpu-demo", tiny)
    bench_train.main(["--work", str(tmp_path), "--repeats", "1", "--contention-budget-s", "3",
                      "--override", "data.crop_hw=[48,64]", "--json", str(tmp_path / "figures.json")])
    output = capsys.readouterr().out
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["step"]["ours/fp32"] > 0 and "| ours | fp32 |" in output
    e2e = figures["e2e"]
    assert e2e["validations"] == 2 and e2e["images_per_s"] < e2e["train_images_per_s"]
    assert 0 < e2e["validation_share"] + e2e["checkpoint_share"] < 1 and "images/s end to end" in output
    assert set(figures["contention"]) == {f"{kind}/{busy}" for kind in ("fixed", "adaptive") for busy in (0, 1, 2)}

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from obh.cli import main


def test_evaluate_maps_command(tmp_path):
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    gt = np.zeros((30, 40), np.uint8)
    gt[15, 5:35] = 255
    Image.fromarray(gt).save(tmp_path / "gt" / "a.png")
    Image.fromarray(255 - gt).save(tmp_path / "pred" / "a.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["evaluate-maps", str(tmp_path / "pred"), str(tmp_path / "gt"), "--out",
                                       str(out), "--protocol", "bsds", "--thresholds", "5", "--invert"])
    assert result.exit_code == 0, result.output
    assert "ODS F 1.0000" in result.output and (out / "report.html").is_file()


def test_evaluate_maps_reports_missing_prediction(tmp_path):
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "gt" / "b.png")
    result = CliRunner().invoke(main, ["evaluate-maps", str(tmp_path / "pred"), str(tmp_path / "gt")])
    assert result.exit_code != 0 and "b.png" in result.output and "Traceback" not in result.output


def test_evaluate_maps_fixed_thresholds_by_hand(tmp_path):
    """A 30-pixel boundary row predicted at 0.6 (its left half at 0.8) and a far row of 30 false pixels at 0.6:
    at 0.5 P 1/2, R 1, F 2/3; at 0.7 P 1, R 1/2, F 2/3, both pixel-wise and tolerance-matched (exact positions)."""
    import json

    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    gt = np.zeros((30, 40), np.uint8)
    gt[15, 5:35] = 255
    pred = np.zeros((30, 40), np.uint8)
    pred[15, 5:35], pred[15, 5:20], pred[3, 5:35] = 153, 204, 153  # 0.6, 0.8
    Image.fromarray(gt).save(tmp_path / "gt" / "a.png")
    Image.fromarray(pred).save(tmp_path / "pred" / "a.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["evaluate-maps", str(tmp_path / "pred"), str(tmp_path / "gt"), "--out",
                                       str(out), "--protocol", "bsds", "--thresholds", "9"])
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "metrics.json").read_text())["fixed_threshold"]
    expected = {"precision@0.5": 0.5, "recall@0.5": 1.0, "precision@0.7": 1.0, "recall@0.7": 0.5}
    for key, value in expected.items():
        assert scores[f"boundary/{key}"] == value and scores[f"boundary_pixel/{key}"] == value, key
    assert scores["boundary/f@0.5"] == scores["boundary_pixel/f1@0.7"] == 2 / 3
    assert "t 0.7: tolerance P 1.0000 R 0.5000 F 0.6667  pixel-wise P 1.0000 R 0.5000 F1 0.6667" in result.output

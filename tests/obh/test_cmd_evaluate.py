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

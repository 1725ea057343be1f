from __future__ import annotations

import json

from click.testing import CliRunner

from obh.cli import main
from training.train import train

from .test_train import dataset, make_config  # noqa: F401  (the module-scoped dataset fixture)


def test_evaluate_command_writes_reports(dataset, tmp_path, toy_variants):  # noqa: F811
    run = train(make_config(dataset, tmp_path / "run", schedule={"max_steps": 2}, data={"target": "boundary"}))
    out = tmp_path / "eval"
    result = CliRunner().invoke(main, ["evaluate", str(run / "checkpoints" / "last.pt"), "--root", str(dataset),
                                       "--split", "test", "--flip-tta", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["frames"] > 0 and 0 <= metrics["summary"]["boundary/ods_f"] <= 1 and "abs_rel" in metrics["depth"]
    assert (out / "pr_curve.png").is_file() and (out / "per_image.csv").is_file()
    assert "abs_rel" in result.output
    # the run's data settings, not defaults
    assert (metrics["target"], metrics["depth_kind"], metrics["dataset"]) == ("boundary", "distance", "ob_hypersim")

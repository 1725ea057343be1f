"""The HTML report of `obh evaluate-maps`: image names are escaped wherever they reach HTML."""

from __future__ import annotations

import numpy as np

HOSTILE = "<script>alert(1)<script>"  # a file name cannot hold "/"


def test_evaluate_maps_escapes_image_names(tmp_path):
    from PIL import Image

    from obtoolkit.metrics.boundary import BoundaryEvalOptions
    from obtoolkit.metrics.evaluate_maps import MapsJob, evaluate_maps

    rng = np.random.default_rng(0)
    for folder in ("pred", "gt"):
        (tmp_path / folder).mkdir()
    gt = np.zeros((32, 32), np.uint8)
    gt[16, 4:28] = 255
    Image.fromarray(gt).save(tmp_path / "gt" / f"{HOSTILE}.png")
    Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(tmp_path / "pred" / f"{HOSTILE}.png")
    job = MapsJob(tmp_path / "pred", tmp_path / "gt", tmp_path / "out")
    evaluate_maps(job, BoundaryEvalOptions(n_thresholds=9))
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;" in page

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.metrics.boundary import BoundaryEvalOptions
from obtoolkit.metrics.evaluate_maps import MapsJob, evaluate_maps
from obtoolkit.metrics.maps_io import read_ground_truth, read_prediction_png
from obtoolkit.treelock import TreeLockedError, lock_tree

from .conftest import soft_map_and_gt


def _write_dataset(root, n=3, invert=False):
    rng = np.random.default_rng(0)
    (root / "pred").mkdir()
    (root / "gt").mkdir()
    for k in range(n):
        pred, gt = soft_map_and_gt(rng, 32, 40)
        values = 1.0 - pred if invert else pred
        Image.fromarray(np.round(values * 255).astype(np.uint8)).save(root / "pred" / f"im{k}.png")
        Image.fromarray(gt.astype(np.uint8) * 255).save(root / "gt" / f"im{k}.png")


def test_writes_every_output_and_parallel_equals_serial(tmp_path):
    _write_dataset(tmp_path)
    options = BoundaryEvalOptions(protocol="bsds", n_thresholds=9, max_dist=0.03)
    serial = evaluate_maps(MapsJob(tmp_path / "pred", tmp_path / "gt", tmp_path / "out1"), options)
    parallel = evaluate_maps(MapsJob(tmp_path / "pred", tmp_path / "gt", tmp_path / "out2"), options, n_jobs=2)
    assert serial.boundary.as_dict() == parallel.boundary.as_dict()
    for name in ("metrics.json", "per_image.csv", "pr_curve.png", "report.html"):
        assert (tmp_path / "out1" / name).is_file()
    data = json.loads((tmp_path / "out1" / "metrics.json").read_text())
    assert data["boundary"]["n_images"] == 3 and data["options"]["protocol"] == "bsds"
    assert len((tmp_path / "out1" / "per_image.csv").read_text().splitlines()) == 4
    assert "im0" in (tmp_path / "out1" / "report.html").read_text()
    assert list((tmp_path / "out1" / "report_images").glob("*_matches.png"))


def test_invert_reads_modot_convention(tmp_path):
    _write_dataset(tmp_path, n=1, invert=True)
    inverted = read_prediction_png(tmp_path / "pred" / "im0.png", invert=True)
    plain = read_prediction_png(tmp_path / "pred" / "im0.png")
    assert np.allclose(inverted, 1.0 - plain)


def test_errors_name_the_file(tmp_path):
    _write_dataset(tmp_path, n=2)
    (tmp_path / "pred" / "im1.png").unlink()
    with pytest.raises(MissingFileError, match="im1.png"):
        evaluate_maps(MapsJob(tmp_path / "pred", tmp_path / "gt", tmp_path / "out"), BoundaryEvalOptions())
    (tmp_path / "pred" / "im1.png").write_bytes(b"not a png")
    with pytest.raises(FormatError, match="im1.png"):
        read_prediction_png(tmp_path / "pred" / "im1.png")
    (tmp_path / "bad.mat").write_bytes(b"nonsense")
    with pytest.raises(FormatError, match="bad.mat"):
        read_ground_truth(tmp_path / "bad.mat")


def test_reads_bsds_mat(shared_fixtures):
    gts = read_ground_truth(shared_fixtures / "bsds500_bench" / "groundTruth" / "3063.mat")
    assert len(gts) == 6 and gts[0].dtype == bool and gts[0].shape == (321, 481)


def test_a_second_evaluation_into_one_folder_is_refused_naming_the_first(tmp_path):
    _write_dataset(tmp_path, n=1)
    job = MapsJob(tmp_path / "pred", tmp_path / "gt", tmp_path / "out")
    with lock_tree(tmp_path / "out", command="obh evaluate-maps pred gt -o out"):
        with pytest.raises(TreeLockedError, match="obh evaluate-maps pred gt -o out"):
            evaluate_maps(job, BoundaryEvalOptions(n_thresholds=5))
        assert not (tmp_path / "out" / "metrics.json").exists()
    evaluate_maps(job, BoundaryEvalOptions(n_thresholds=5))  # free again once the first has ended
    assert (tmp_path / "out" / "metrics.json").is_file()

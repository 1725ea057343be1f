"""HTML reports: `obh evaluate`'s report/index.html, names escaped wherever they reach HTML, training curves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import torch
from click.testing import CliRunner
from torch.utils.data import Dataset

from obh.cli import main
from training.data import DataConfig, ObHypersimDataset
from training.evaluate import EvalOptions, evaluate_model
from training.models import build_modot
from training.report import plot_training_curves, report_frames, write_evaluation_report
from training.train import train

from .test_train import dataset, make_config  # noqa: F401  (the module-scoped dataset fixture)

EVIL = "<script>alert(1)</script>"


def test_evaluate_writes_a_sortable_report_with_worst_and_best_frames(dataset, tmp_path, toy_variants):  # noqa: F811
    run = train(make_config(dataset, tmp_path / "run", schedule={"max_steps": 2}))
    out = tmp_path / "eval"
    result = CliRunner().invoke(main, ["evaluate", str(run / "checkpoints" / "last.pt"), "--root", str(dataset),
                                       "--split", "test", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report" / "index.html").read_text()
    assert "function sortBy" in page and page.count("onclick='sortBy(this)'") == 9  # frame, F, R, P, t, px, 3 depth
    assert "AbsRel" in page and "worst F" in page and "best F" in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # no external assets
    images = re.findall(r"src='([^']+)'", page)
    assert all((out / "report" / src).is_file() for src in images)
    assert any(src.endswith("_matches.png") for src in images)
    assert any("depth_error" in src for src in images) and "pr_curve.png" in images
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is not None:  # the sorting script, run by a real browser: click AbsRel twice (descending)
        column = sorted_in_browser(browser, out / "report" / "index.html", tmp_path / "clicked.html", column=6)
        assert len(column) > 1 and column == sorted(column, reverse=True)


def sorted_in_browser(browser: str, page: Path, copy: Path, column: int) -> list[float]:
    """The per-frame table's `column` after two clicks on its header, as headless Chromium renders the page."""
    clicks = f"<script>const h = document.querySelectorAll('th.sort'); sortBy(h[{column}]); sortBy(h[{column}]);"
    clicks += "</script>"
    copy.write_text(page.read_text().replace("</body>", clicks + "</body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", copy.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    body = dom.split("<tbody>")[-1].split("</tbody>")[0]
    return [float(re.findall(r'data-v="([^"]+)"', row)[column]) for row in re.findall(r"<tr>(.*?)</tr>", body)]


class Renamed(Dataset):
    """Frames of a real dataset under hostile names (a scene called <script>...)."""

    def __init__(self, frames: Dataset):
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int):
        return self.frames[index]._replace(name=f"{EVIL}/cam_00/{index:04d}")


def test_names_reaching_html_are_escaped_and_file_names_safe(dataset, tmp_path, toy_variants):  # noqa: F811
    frames = Renamed(ObHypersimDataset(DataConfig(root=dataset, split="test", augment=None)))
    torch.manual_seed(0)
    model = build_modot(toy_variants[0], max_depth=10.0)
    options = EvalOptions(pictures=2)
    result = evaluate_model(model, frames, device=torch.device("cpu"), depth_unit_m=1.0, options=options)
    assert EVIL in result.names[0]
    page_path = write_evaluation_report(model, frames, result, tmp_path, device=torch.device("cpu"), options=options,
                                        depth_unit_m=1.0, title=f"title {EVIL}")
    page = page_path.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    written = [p.name for p in (tmp_path / "report" / "images").iterdir()]
    assert written and not [name for name in written if set(name) & set("<>/'\"")]


def single_task_report(dataset, tmp_path, toy_variants, tasks):  # noqa: F811
    """The report of a one-task toy model on frames under hostile names: (page text, written image files)."""
    frames = Renamed(ObHypersimDataset(DataConfig(root=dataset, split="test", augment=None)))
    torch.manual_seed(0)
    model = build_modot(toy_variants[0], max_depth=10.0, tasks=tasks, casm=False)
    options = EvalOptions(pictures=1)
    result = evaluate_model(model, frames, device=torch.device("cpu"), depth_unit_m=1.0, options=options)
    assert (result.boundary is None) == (tasks == ("depth",)) and bool(result.depth_rows) == ("depth" in tasks)
    page_path = write_evaluation_report(model, frames, result, tmp_path, device=torch.device("cpu"),
                                        options=options, depth_unit_m=1.0, title=f"title {EVIL}", n_frames=1)
    assert page_path == tmp_path / "report" / "index.html"
    page = page_path.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    images = re.findall(r"src='([^']+)'", page)
    assert all((tmp_path / "report" / src).is_file() for src in images)
    return page, images


def test_a_depth_only_model_gets_a_depth_report(dataset, tmp_path, toy_variants):  # noqa: F811
    page, images = single_task_report(dataset, tmp_path, toy_variants, ("depth",))
    headers = re.findall(r"onclick='sortBy\(this\)'>([^<]+)<", page)
    assert headers == ["frame", "AbsRel", "RMSE", "&delta;1"]
    assert "Per frame (4;" in page and "worst AbsRel" in page and "best AbsRel" in page and "worst F" not in page
    assert "pr_curve.png" not in images and "Options:" not in page and "boundary/ods_f" not in page
    assert "depth/abs_rel" in page
    assert not [src for src in images if src.endswith(("_matches.png", "_ground_truth.png", "_prediction.png"))]
    assert any(src.endswith("_rgb.png") for src in images) and any("depth_error" in src for src in images)
    assert any(src.endswith("_predicted_depth.png") for src in images)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is not None:  # sorting the depth table by AbsRel in a real browser
        column = sorted_in_browser(browser, tmp_path / "report" / "index.html", tmp_path / "clicked.html", column=1)
        assert len(column) == 4 and column == sorted(column, reverse=True)


def test_a_boundary_only_model_gets_a_boundary_report(dataset, tmp_path, toy_variants):  # noqa: F811
    page, images = single_task_report(dataset, tmp_path, toy_variants, ("boundary",))
    headers = re.findall(r"onclick='sortBy\(this\)'>([^<]+)<", page)
    assert headers == ["frame", "F", "R", "P", "threshold", "GT px"]  # no depth columns
    assert "worst F" in page and "AbsRel" not in page and "Options:" in page and "pr_curve.png" in images
    assert any(src.endswith("_matches.png") for src in images)


def test_html_report_without_a_boundary_evaluation(tmp_path):
    import numpy as np

    from obtoolkit.metrics.report import ImagePictures, write_html_report

    rows = [{"name": f"{EVIL}/{i}", "abs_rel": a, "rmse": 1.0, "delta1": 0.5} for i, a in enumerate([0.3, 0.1])]
    rows.append({"name": "no depth", "abs_rel": float("nan"), "rmse": float("nan"), "delta1": float("nan")})
    tile = np.zeros((4, 5, 3), np.uint8)
    pictures = [ImagePictures(rows[0]["name"], None, None, None, tile, (("predicted depth", tile),), EVIL)]
    page = write_html_report(tmp_path, None, pictures, title=EVIL, depth_rows=rows,
                             summary={EVIL: 1.0, "depth/abs_rel": 0.2}).read_text()
    assert "<script>alert" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    assert "Per frame (3;" in page and "data-v='NaN'" in page and "Options:" not in page and "PR curve" not in page
    assert sorted(p.name.rsplit("_", 2)[-1] for p in (tmp_path / "report_images").iterdir()) == ["depth.png", "rgb.png"]


def test_report_frames_pick_worst_and_best_without_repeats():
    from obtoolkit.metrics.evaluators import BoundaryEvaluation, ImageBoundaryRow

    rows = [ImageBoundaryRow(f"f{i}", 0.5, 0.5, 0.5, f, 10, 10) for i, f in enumerate([0.1, 0.9, 0.5, 0.3])]

    class Result:
        boundary = BoundaryEvaluation(None, None, rows, None)
        depth_rows = [{"name": f"f{i}", "abs_rel": a} for i, a in enumerate([0.2, 0.05, 0.9, float("nan")])]

    chosen = report_frames(Result, 1)
    assert chosen == [("worst F", "f0"), ("best F", "f1"), ("worst AbsRel", "f2")]  # best AbsRel f1: shown


def test_training_curves_from_log_records(tmp_path):
    records = [{"kind": "train", "step": s, "loss": 1.0 / s, "loss_depth": 0.5 / s} for s in range(1, 5)]
    records += [{"kind": "val", "step": 4, "depth/abs_rel": 0.3, "boundary_tolerance/ods_f": 0.4},
                {"kind": "start", "step": 0, "world_size": 1}]
    path = plot_training_curves(records, tmp_path / "curves.png")
    from PIL import Image

    assert Image.open(path).size == (1000, 360)


def test_report_frames_by_abs_rel_without_a_boundary_benchmark():
    class Result:
        boundary = None
        depth_rows = [{"name": f"f{i}", "abs_rel": a} for i, a in enumerate([0.2, 0.05, 0.9, float("nan")])]

    assert report_frames(Result, 1) == [("worst AbsRel", "f2"), ("best AbsRel", "f1")]
    assert report_frames(Result, 5) == [("worst AbsRel", "f2"), ("worst AbsRel", "f0"), ("worst AbsRel", "f1")]

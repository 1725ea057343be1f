"""docs/tutorial.py (jupytext percent format) runs from start to end, as a notebook would, in a scratch folder."""

from __future__ import annotations

import runpy

import pytest

from obtoolkit._open3d import open3d_available

from .conftest import REPO_ROOT

TUTORIAL = REPO_ROOT / "docs" / "tutorial.py"


def test_tutorial_is_in_jupytext_percent_format():
    lines = TUTORIAL.read_text().splitlines()
    cells = [line for line in lines if line.startswith("# %%")]
    assert lines[0] == "# ---" and "py:percent" in TUTORIAL.read_text().split("# ---")[1]
    assert len(cells) >= 10 and all(c in ("# %%", "# %% [markdown]") for c in cells)
    first_cell = lines.index(cells[0])
    assert all(line.startswith("#") for line in lines[:first_cell] if line.strip())


@pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) makes the tutorial's scene")
def test_tutorial_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = runpy.run_path(str(TUTORIAL), run_name="__main__")
    out = tmp_path / "tutorial_output"
    for name in ("labels.png", "prediction.png", "nano.pt", "ob_hypersim/manifest.parquet"):
        assert (out / name).is_file(), name
    assert names["labels"].ob.shape == (96, 128) and names["labels"]._repr_png_().startswith(b"\x89PNG")
    assert names["prediction"].depth_m.shape == (96, 128) and names["prediction"]._repr_png_().startswith(b"\x89PNG")
    assert tuple(names["batch"].image.shape) == (2, 3, 64, 96)
    assert not names["pretrained"].model.training

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from obh.cli import main
from obhypersim_build.run import generate


def test_viz_writes_one_picture_per_frame(layered_tree, tmp_path):
    out = tmp_path / "out"
    generate(layered_tree, out, progress=False)
    result = CliRunner().invoke(main, ["viz", str(out), "--out", str(tmp_path / "pictures"), "--limit", "3"])
    assert result.exit_code == 0, result.output
    pictures = sorted((tmp_path / "pictures").rglob("*.png"))
    assert len(pictures) == 3
    picture = np.asarray(Image.open(pictures[0]))
    assert picture.shape[1] > 5 * 32  # five panels side by side
    red = np.all(picture == (255, 40, 40), axis=-1)  # inter-object boundary pixels are drawn
    assert red.sum() > 10
    one = CliRunner().invoke(main, ["viz", str(out), "--out", str(tmp_path / "one"), "--frame",
                                    "ai_001_002/cam_00/0001"])
    assert one.exit_code == 0 and (tmp_path / "one/ai_001_002/cam_00/0001.png").is_file()

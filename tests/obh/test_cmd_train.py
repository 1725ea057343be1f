"""`obh train` through the CLI: a weights file that does not fit the encoder stops the run with one line."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from obh.cli import main
from obtoolkit._open3d import open3d_available

from ..conftest import REPO_ROOT


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from obhypersim_build.run import generate
    from obtoolkit.synth import make_synthetic_dataset

    if not open3d_available():
        pytest.skip("open3d (the raycast extra) is needed to make synthetic scenes")
    root = tmp_path_factory.mktemp("cmd_train")
    make_synthetic_dataset(root / "hs", scenes=3, frames=2, cameras=1, seed=1, height=48, width=64)
    generate(root / "hs", root / "ob", progress=False)
    return root / "ob"


def test_pretrained_weights_without_matching_keys_are_refused_in_one_line(dataset, tmp_path):
    from safetensors.torch import save_file

    save_file({"backbone.conv1.weight": torch.ones(8, 3, 7, 7), "fc.weight": torch.ones(10, 8)},
              str(tmp_path / "wrong.safetensors"))
    result = CliRunner().invoke(main, [
        "train", "--config", str(REPO_ROOT / "configs" / "demo_cpu.yaml"), f"data.root={dataset}",
        f"run_dir={tmp_path / 'runs'}", f"model.pretrained={tmp_path / 'wrong.safetensors'}", "schedule.max_steps=1",
        "schedule.batch_size=2", "data.crop_hw=[48,64]",
        "runtime.progress=false", "runtime.tensorboard=false"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "wrong.safetensors: expected Swin weights for this encoder" in result.output
    assert "found 0 matching" in result.output

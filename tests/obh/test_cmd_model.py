from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from obh.cli import main
from tests.training.conftest import TOY_DECODER, TOY_SWIN
from tests.training.official_names import official_toy_checkpoint
from training.checkpoints import load_model_checkpoint
from training.models import registry, swin
from training.models.registry import ModotVariant


@pytest.fixture
def toy_variant(monkeypatch) -> str:
    monkeypatch.setitem(swin.SWIN_VARIANTS, "swin_toy_w7", TOY_SWIN)
    variant = ModotVariant(name="modot_toy", encoder="swin_toy_w7", ssr=False, official_encoder=None, **TOY_DECODER)
    monkeypatch.setitem(registry.MODOT_VARIANTS, "modot_toy", variant)
    return "modot_toy"


def test_help_lists_the_model_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert "convert-checkpoint" in result.output and "predict" in result.output


def test_convert_then_predict(tmp_path, toy_variant):
    official = tmp_path / "official.pth"
    model = official_toy_checkpoint(official, toy_variant)
    ours = tmp_path / "ours.pt"
    runner = CliRunner()
    result = runner.invoke(main, ["convert-checkpoint", str(official), str(ours), "--variant", toy_variant,
                                  "--max-depth", "100", "--depth-unit-m", "3.05"])
    assert result.exit_code == 0, result.output
    loaded, info = load_model_checkpoint(ours)
    assert info.max_depth == 100.0 and info.depth_unit_m == 3.05
    assert torch.equal(loaded.state_dict()["casms.0.fuse.weight"], model.state_dict()["casms.0.fuse.weight"])

    Image.fromarray(np.zeros((20, 28, 3), dtype=np.uint8)).save(tmp_path / "frame.jpg")
    result = runner.invoke(main, ["predict", str(ours), str(tmp_path / "frame.jpg"), "--out", str(tmp_path / "out"),
                                  "--save-raw", "--flip-tta", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "out" / "frame_depth_m.npy").shape == (20, 28)


def test_convert_reports_problems(tmp_path, toy_variant):
    torch.save({"model": {"bogus.weight": torch.zeros(2)}}, tmp_path / "bad.pth")
    result = CliRunner().invoke(main, ["convert-checkpoint", str(tmp_path / "bad.pth"), str(tmp_path / "o.pt"),
                                       "--variant", toy_variant, "--max-depth", "10", "--depth-unit-m", "1"])
    assert result.exit_code != 0 and "bogus.weight" in result.output
    result = CliRunner().invoke(main, ["convert-checkpoint", str(tmp_path / "bad.pth"), str(tmp_path / "o.pt"),
                                       "--variant", "modot_nope", "--max-depth", "10", "--depth-unit-m", "1"])
    assert result.exit_code != 0 and "modot_nope" in result.output
    assert not (tmp_path / "o.pt").exists()

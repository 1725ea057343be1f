"""Training the demo configuration learns (slow: about three minutes on 2 cores)."""

from __future__ import annotations

import pytest
import torch

from training.checkpoints import load_model_checkpoint
from training.config import load_train_config
from training.data import DataConfig, ObHypersimDataset
from training.evaluate import evaluate_model
from training.models import build_modot
from training.run_log import read_log
from training.train import train

from ..conftest import REPO_ROOT


@pytest.mark.slow
def test_demo_cpu_lowers_losses_and_beats_an_untrained_model(tmp_path):
    from obhypersim_build.run import generate
    from obtoolkit.synth import make_synthetic_dataset

    make_synthetic_dataset(tmp_path / "hypersim", scenes=4, frames=3, seed=0, height=192, width=256)
    generate(tmp_path / "hypersim", tmp_path / "ob", progress=False)
    config = load_train_config(REPO_ROOT / "configs" / "demo_cpu.yaml", [
        f"data.root={tmp_path / 'ob'}", f"run_dir={tmp_path / 'runs'}", "schedule.max_steps=150",
        "schedule.val_every=150", "schedule.checkpoint_every=150", "runtime.progress=false"])
    run = train(config)
    records = read_log(run, "train")
    first = {k: sum(r[k] for r in records[:2]) / 2 for k in ("loss_depth", "loss_boundary")}
    last = {k: sum(r[k] for r in records[-2:]) / 2 for k in ("loss_depth", "loss_boundary")}
    assert last["loss_depth"] < 0.5 * first["loss_depth"], (first, last)
    assert last["loss_boundary"] < 0.8 * first["loss_boundary"], (first, last)

    trained, info = load_model_checkpoint(run / "checkpoints" / "last.pt")
    torch.manual_seed(0)
    untrained = build_modot(info.variant, max_depth=info.max_depth)
    val = ObHypersimDataset(DataConfig(root=tmp_path / "ob", split="val", augment=None))
    after = evaluate_model(trained, val, device=torch.device("cpu"), depth_unit_m=1.0).summary()
    before = evaluate_model(untrained, val, device=torch.device("cpu"), depth_unit_m=1.0).summary()
    assert after["depth/abs_rel"] < before["depth/abs_rel"]
    assert after["boundary/ods_f"] > before["boundary/ods_f"]

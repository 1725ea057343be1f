"""The trainer on tiny synthetic data: exact resume, non-finite losses, skipped samples, SSR, DDP."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest
import torch

from obtoolkit.config import from_mapping, to_mapping
from obtoolkit.errors import ConfigError
from training.config import TrainConfig
from training.run_log import read_log
from training.train import train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from obhypersim_build.run import generate
    from obtoolkit._open3d import open3d_available
    from obtoolkit.synth import make_synthetic_dataset

    if not open3d_available():
        pytest.skip("open3d (the raycast extra) is needed to make synthetic scenes")
    root = tmp_path_factory.mktemp("train_data")
    make_synthetic_dataset(root / "hypersim", scenes=3, frames=2, seed=1, height=64, width=80)
    generate(root / "hypersim", root / "ob", progress=False)
    return root / "ob"


def make_config(dataset, run_dir, variant="modot_toy", **changes) -> TrainConfig:
    base = {
        "name": "run", "run_dir": str(run_dir),
        "model": {"variant": variant, "max_depth": 10.0},
        "data": {"root": str(dataset), "crop_hw": [48, 64], "num_workers": 0},
        "validation": {"frames": 2, "exact_workers": 0, "pictures": 1},
        "loss": {"obdcl_start_step": 2},
        "optim": {"lr": 1e-3},
        "schedule": {"batch_size": 2, "max_steps": 6, "schedule_steps": 6, "val_every": 100, "checkpoint_every": 3,
                     "log_every": 1},
        "runtime": {"deterministic": True, "progress": False, "tensorboard": False},
    }
    for section, values in changes.items():
        base[section] = {**base.get(section, {}), **values} if isinstance(values, dict) else values
    return from_mapping(TrainConfig, base)


def losses(run_dir) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_log(run_dir, "train")]


def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(dataset, tmp_path, toy_variants):
    whole = train(make_config(dataset, tmp_path / "whole"))
    assert [s for s, _ in losses(whole)] == [1, 2, 3, 4, 5, 6]
    stopped = make_config(dataset, tmp_path / "parts", schedule={"max_steps": 3})
    parts = train(stopped)
    assert [s for s, _ in losses(parts)] == [1, 2, 3]
    train(make_config(dataset, tmp_path / "parts"))  # the same run, longer: resumes from checkpoints/last.pt
    assert losses(parts) == losses(whole)
    assert read_log(parts, "end")[-1]["parameters"] == read_log(whole, "end")[0]["parameters"]
    start = read_log(parts, "start")[-1]
    assert start["resumed"] is True and start["changed_since_checkpoint"] == "schedule.max_steps: 3 -> 6"
    assert (parts / "config.yaml").is_file() and (parts / "provenance.json").is_file()
    checkpoints = parts / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.pt", "step_0000003.pt", "step_0000006.pt"]
    assert (checkpoints / "last.pt").samefile(checkpoints / "step_0000006.pt")  # a link, not a copy


def test_a_killed_run_resumes_bit_for_bit(dataset, tmp_path):
    """`obh train` killed (SIGKILL) after a checkpoint, then rerun: the parameters of an uninterrupted run."""
    import signal
    import time

    schedule = {"max_steps": 1000, "schedule_steps": 1000, "checkpoint_every": 2, "log_every": 1}
    killed = make_config(dataset, tmp_path / "killed", variant="modot_swin_nano_w7", schedule=schedule,
                         data={"crop_hw": [32, 32]})
    command = [sys.executable, "-m", "obh", "train", *_overrides(killed)]
    process = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    last = killed.output_dir / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 240
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    killed_at = torch.load(last, weights_only=True)["extra"]["step"]
    steps = {**schedule, "max_steps": killed_at + 3}
    resumed = train(make_config(dataset, tmp_path / "killed", variant="modot_swin_nano_w7", schedule=steps,
                                data={"crop_hw": [32, 32]}))
    whole = train(make_config(dataset, tmp_path / "whole", variant="modot_swin_nano_w7", schedule=steps,
                              data={"crop_hw": [32, 32]}))
    assert read_log(resumed, "start")[-1]["resumed"] is True
    assert read_log(resumed, "end")[-1]["parameters"] == read_log(whole, "end")[0]["parameters"]


def _overrides(config: TrainConfig) -> list[str]:
    import json

    return [f"{section}.{key}={json.dumps(value)}" if isinstance(values, dict) else f"{section}={values}"
            for section, values in to_mapping(config).items()
            for key, value in (values.items() if isinstance(values, dict) else [(None, values)])
            if value is not None]


def test_resume_refuses_another_model_and_keeps_the_run_files(dataset, tmp_path, toy_variants):
    run = train(make_config(dataset, tmp_path, schedule={"max_steps": 3}))
    config_text = (run / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"last\.pt.*model\.max_depth: 10\.0 -> 20\.0"):
        train(make_config(dataset, tmp_path, model={"max_depth": 20.0}))
    assert (run / "config.yaml").read_text() == config_text


def test_checkpoint_loads_as_a_model(dataset, tmp_path, toy_variants):
    from training.checkpoints import load_model_checkpoint

    run = train(make_config(dataset, tmp_path, schedule={"max_steps": 3}))
    model, info = load_model_checkpoint(run / "checkpoints" / "last.pt")
    assert info.variant == "modot_toy" and info.extra["step"] == 3
    config = from_mapping(TrainConfig, __import__("json").loads(info.extra["config"]))
    assert config.model.variant == "modot_toy"
    assert model.eval()(torch.zeros(1, 3, 32, 32)).depth.shape == (1, 1, 32, 32)


def test_validation_runs_on_the_val_split_and_writes_reports(dataset, tmp_path, toy_variants):
    run = train(make_config(dataset, tmp_path, schedule={"val_every": 3}))
    records = read_log(run, "val")
    assert [r["step"] for r in records] == [3, 6]
    assert 0 <= records[-1]["boundary_tolerance/ods_f"] <= 1 and records[-1]["depth/abs_rel"] > 0
    assert records[-1]["depth/n_images"] == 2  # validation.frames
    exact = read_log(run, "val_exact")
    assert [r["step"] for r in exact] == [3, 6] and 0 <= exact[-1]["boundary/ods_f"] <= exact[-1]["frames"] == 2
    for name in ("monitor.json", "predictions.png", "metrics.json", "per_image.csv", "pr_curve.png"):
        assert (run / "val" / "step_0000006" / name).is_file(), name


def test_validation_exact_at_the_end_or_never(dataset, tmp_path, toy_variants):
    run = train(make_config(dataset, tmp_path / "end", schedule={"val_every": 3},
                            validation={"exact": "end", "exact_workers": 1}))
    assert [r["step"] for r in read_log(run, "val_exact")] == [6] and len(read_log(run, "val")) == 2
    assert (run / "val" / "step_0000006" / "metrics.json").is_file()
    assert not (run / "val" / "step_0000003" / "metrics.json").exists()
    run = train(make_config(dataset, tmp_path / "off", validation={"exact": "never"}))
    assert read_log(run, "val_exact") == [] and len(read_log(run, "val")) == 1


def test_nonfinite_losses_are_skipped_counted_and_bounded(dataset, tmp_path, toy_variants, monkeypatch):
    import training.train as trainer

    original = trainer.build_loss

    def poisoned(config):
        loss = original(config)
        forward = loss.forward

        def forward_with_nan(*args, **kwargs):
            terms = forward(*args, **kwargs)
            step = args[-1]
            if step in (1, 2):  # steps 2 and 3 (0-based 1 and 2) go wrong
                terms["depth"] = terms["depth"] * float("nan")
            return terms

        loss.forward = forward_with_nan
        return loss

    monkeypatch.setattr(trainer, "build_loss", poisoned)
    run = train(make_config(dataset, tmp_path))
    records = read_log(run, "train")
    assert records[-1]["nonfinite_total"] == 2 and len(records) == 6
    assert records[-1]["overflow_total"] == 0  # logged; no fp16 scaler on the CPU
    assert read_log(run, "end")[0]["nonfinite"] == 2
    with pytest.raises(RuntimeError, match="consecutive non-finite"):
        train(make_config(dataset, tmp_path / "stops", runtime={"max_nonfinite": 2}))


def test_corrupt_samples_stop_or_are_skipped_and_counted(dataset, tmp_path, toy_variants):
    import shutil

    import pandas as pd

    root = tmp_path / "data"
    shutil.copytree(dataset, root)
    manifest = pd.read_parquet(root / "manifest.parquet")
    broken = root / manifest.loc[manifest["split"] == "train", "depth_path"].iloc[0]
    broken.write_bytes(broken.read_bytes()[:40])  # one training frame's depth is truncated
    with pytest.raises(RuntimeError, match="depth_hdf5"):
        train(make_config(root, tmp_path / "raise", schedule={"max_steps": 4}))
    run = train(make_config(root, tmp_path / "skip", data={"on_error": "skip"}, schedule={"max_steps": 4}))
    assert read_log(run, "train")[-1]["skipped_samples"] >= 1


def test_ssr_trains_on_a_frozen_stage_one(dataset, tmp_path, toy_variants):
    stage1 = train(make_config(dataset, tmp_path / "s1", schedule={"max_steps": 3}))
    config = make_config(dataset, tmp_path / "s2", variant="modot_ssr_toy", schedule={"max_steps": 3},
                         loss={"boundary_map_weights": [1.0], "obdcl_start_step": 0})
    config = from_mapping(TrainConfig, {**to_mapping(config), "model": {
        "variant": "modot_ssr_toy", "max_depth": 10.0, "stage1": str(stage1 / "checkpoints" / "last.pt")}})
    run = train(config)
    assert len(read_log(run, "train")) == 3
    before = torch.load(stage1 / "checkpoints" / "last.pt", weights_only=True)["model"]
    after = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]
    frozen = [k for k in before if not k.endswith("num_batches_tracked")]
    assert all(torch.equal(before[k], after[f"stage1.{k}"]) for k in frozen)  # stage 1 untouched, BN stats too
    with pytest.raises(ValueError, match="model.stage1"):
        train(make_config(dataset, tmp_path / "s3", variant="modot_ssr_toy"))


def test_torchrun_two_processes_on_cpu_keep_identical_parameters(dataset, tmp_path):
    """DDP with the gloo backend: both processes end with the same parameters (nano variant, tiny crops)."""
    run_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "obh",
               "train", "name=ddp", f"run_dir={run_dir}", "model.variant=modot_swin_nano_w7", f"data.root={dataset}",
               "data.crop_hw=[64,64]", "data.num_workers=0", "schedule.batch_size=1", "schedule.max_steps=2",
               "schedule.val_every=100", "schedule.checkpoint_every=2", "runtime.progress=false",
               "runtime.tensorboard=false", "runtime.sync_batchnorm=true"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = read_log(run_dir / "ddp", "ranks")
    assert ranks and ranks[0]["agree"] is True and len(ranks[0]["digests"].split(",")) == 2
    assert read_log(run_dir / "ddp", "start")[0]["world_size"] == 2
    assert "SyncBatchNorm needs CUDA" in result.stdout + result.stderr  # asked for on the CPU: said, not applied


class HostReadError(AssertionError):
    pass


@contextlib.contextmanager
def no_host_reads():
    """Make every way Python reads a tensor's value (what waits for a GPU) an error."""
    def refuse(name):
        def method(*args, **kwargs):
            raise HostReadError(f"Tensor.{name} between log steps")
        return method

    saved = {name: getattr(torch.Tensor, name) for name in ("item", "tolist", "numpy", "__bool__", "__int__",
                                                             "__float__", "__index__", "nonzero")}
    original_getitem = torch.Tensor.__getitem__

    def getitem(self, index):
        if isinstance(index, torch.Tensor) and index.dtype == torch.bool:
            raise HostReadError("boolean-mask indexing between log steps")
        return original_getitem(self, index)

    try:
        for name in saved:
            setattr(torch.Tensor, name, refuse(name))
        torch.Tensor.__getitem__ = getitem
        yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)
        torch.Tensor.__getitem__ = original_getitem


def test_steps_between_log_steps_never_read_the_device(dataset, tmp_path, toy_variants, monkeypatch):
    """What the GPU script checks with torch.cuda.set_sync_debug_mode, checked on the CPU: a training step reads no
    tensor value on the host (finite-loss check, counters, gradient norm, loss terms stay on the device)."""
    import training.train as trainer

    step = trainer.TrainRecipe._step

    def trapped(self, batch, counters):
        with no_host_reads():
            return step(self, batch, counters)

    monkeypatch.setattr(trainer.TrainRecipe, "_step", trapped)
    run = train(make_config(dataset, tmp_path, schedule={"max_steps": 4, "log_every": 2, "checkpoint_every": 100},
                            runtime={"amp": "bf16"}))
    assert [r["step"] for r in read_log(run, "train")] == [2, 4]
    with pytest.raises(HostReadError), no_host_reads():
        torch.ones(2)[torch.tensor([True, False])]

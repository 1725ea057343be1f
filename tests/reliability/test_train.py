"""Reliability of `obh train`: wrong settings refused before any step, a corrupt `last.pt` and a full disk met with
one clear line, a resumed run's log without repeated steps."""

from __future__ import annotations

import contextlib
import os
import random

import pytest
import torch
from click.testing import CliRunner

from obh.cli import main
from obtoolkit.errors import ConfigError, FormatError
from tests.reliability.faults import (
    DiskBudget,
    Run,
    corrupt,
    files_left,
    obh_command,
    png_claiming,
    small_disk_command,
)
from tests.training.test_train import _overrides, make_config
from training.checkpoints import find_resume_checkpoint, read_resume_checkpoint
from training.run_log import read_log
from training.train import train

# (override, what the message must say); each of these trained, crashed later or exited 0 before.
OUT_OF_RANGE = [
    ({"data": {"depth_scale": -1.0}}, r"data\.depth_scale: expected a finite number > 0.*got -1\.0"),
    ({"data": {"depth_scale": 0.0}}, r"data\.depth_scale: expected a finite number > 0"),
    ({"schedule": {"max_steps": 0}}, r"schedule\.max_steps: expected an integer >= 1.*got 0"),
    ({"data": {"hflip": 2.0}}, r"data\.hflip: expected a number in \[0, 1\].*got 2\.0"),
    ({"schedule": {"keep_checkpoints": 0}}, r"schedule\.keep_checkpoints: expected an integer >= 1"),
    ({"schedule": {"val_every": 0}}, r"schedule\.val_every: expected an integer >= 1"),
    ({"schedule": {"checkpoint_every": 0}}, r"schedule\.checkpoint_every: expected an integer >= 1"),
    ({"schedule": {"log_every": -2}}, r"schedule\.log_every: expected an integer >= 1"),
    ({"schedule": {"batch_size": 0}}, r"schedule\.batch_size: expected an integer >= 1"),
    ({"optim": {"lr": -1e-4}}, r"optim\.lr: expected a finite number > 0"),
    ({"optim": {"lr": float("nan")}}, r"optim\.lr: expected a finite number > 0.*got nan"),
    ({"optim": {"lr": float("inf")}}, r"optim\.lr: expected a finite number > 0.*got inf"),
    ({"runtime": {"threads": 0}}, r"runtime\.threads: expected an integer >= 1"),
    ({"data": {"num_workers": -1}}, r"data\.num_workers: expected an integer >= 0"),
    ({"validation": {"num_workers": -3}}, r"validation\.num_workers: expected an integer >= 0"),
    ({"validation": {"batch_size": 0}}, r"validation\.batch_size: expected an integer >= 1"),
]


@pytest.mark.parametrize(("changes", "message"), OUT_OF_RANGE, ids=[m.split(":")[0].replace("\\", "")
                                                                    for _, m in OUT_OF_RANGE])
def test_out_of_range_values_are_refused_before_anything_runs(tmp_path, changes, message, toy_variants):
    config = make_config(tmp_path / "no_data_needed", tmp_path / "runs", **changes)
    with pytest.raises(ConfigError, match=message):
        train(config)
    assert not (tmp_path / "runs").exists()  # refused before the run folder was made


def test_every_bad_value_is_named_in_one_line(tmp_path, toy_variants):
    config = make_config(tmp_path, tmp_path / "runs", data={"depth_scale": -1.0, "hflip": 2.0},
                         schedule={"max_steps": 0})
    with pytest.raises(ConfigError) as raised:
        train(config)
    text = str(raised.value)
    assert "\n" not in text
    assert all(key in text for key in ("data.depth_scale", "data.hflip", "schedule.max_steps"))


def test_a_crop_larger_than_the_frames_is_refused_at_setup_naming_a_frame(train_data, tmp_path, toy_variants):
    with pytest.raises(ConfigError, match=r"data\.crop_hw \[64, 96\] is larger than 4 frame\(s\).*64x80"):
        train(make_config(train_data, tmp_path, data={"crop_hw": [64, 96]}))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_too_few_frames_for_one_batch_is_refused_at_setup(train_data, tmp_path, toy_variants):
    with pytest.raises(ConfigError, match=r"holds 4 frame\(s\): too few for one batch of schedule\.batch_size 5"):
        train(make_config(train_data, tmp_path, schedule={"batch_size": 5}))


def test_the_cli_prints_a_bad_value_as_one_line(train_data, tmp_path):
    config = make_config(train_data, tmp_path)
    overrides = [o for o in _overrides(config) if not o.startswith("model.variant")]
    run = Run(obh_command("train", *overrides, "model.variant=modot_swin_nano_w7", "schedule.max_steps=0"))
    status, output = run.finish(120)
    assert status == 1, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "schedule.max_steps: expected an integer >= 1" in lines[0], output


@pytest.mark.parametrize("reader", ["rgb", "label"])
def test_training_image_readers_check_the_claimed_size_before_decoding(tmp_path, reader):
    import numpy as np

    from obtoolkit.hypersim import read_rgb_image
    from obtoolkit.labels_io import read_png
    from obtoolkit.limits import SizeLimitError

    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(10_000, 8_000))
    with pytest.raises(SizeLimitError, match=r"huge\.png: expected at most \d+ pixels.*10000x8000"):
        if reader == "rgb":
            read_rgb_image(path, what="RGB of a frame")
        else:
            read_png(path, what="ob of a frame", dtype=np.uint8)


def _train_steps(run) -> list[int]:
    return [r["step"] for r in read_log(run, "train")]


_WHOLE: dict[tuple, str] = {}


def _whole(train_data, tmp_path, max_steps: int) -> str:
    """The final parameter digest of an uninterrupted run of `max_steps` steps (run once per data set)."""
    if (train_data, max_steps) not in _WHOLE:
        run = train(make_config(train_data, tmp_path / "whole", schedule=_schedule(max_steps)))
        _WHOLE[train_data, max_steps] = read_log(run, "end")[-1]["parameters"]
    return _WHOLE[train_data, max_steps]


def _schedule(max_steps: int, **changes) -> dict:
    return {"max_steps": max_steps, "schedule_steps": 8, "checkpoint_every": 2, "log_every": 1, **changes}


# Finding 10: a truncated last.pt at resume was a traceback naming no file, with no fall-back.
@pytest.mark.parametrize("how", ["truncate", "zero"])
def test_a_corrupt_last_pt_falls_back_to_the_newest_readable_checkpoint(train_data, tmp_path, toy_variants, how,
                                                                        capsys):
    run = train(make_config(train_data, tmp_path / "run", schedule=_schedule(6)))
    checkpoints = run / "checkpoints"
    corrupt(checkpoints / "last.pt", how)  # a hard link: step_0000006.pt is damaged with it
    capsys.readouterr()
    train(make_config(train_data, tmp_path / "run", schedule=_schedule(8)))
    said = [line for line in capsys.readouterr().out.splitlines() if "last.pt" in line]
    assert len(said) == 1 and "step_0000004.pt" in said[0] and "unreadable" in said[0], said
    start = read_log(run, "start")[-1]
    assert start["step"] == 4 and "last.pt" in start["unreadable_checkpoints"]
    assert read_log(run, "end")[-1]["parameters"] == _whole(train_data, tmp_path, 8)
    assert _train_steps(run) == list(range(1, 9))  # the steps replayed after the fall-back are logged once
    assert (checkpoints / "last.pt").samefile(checkpoints / "step_0000008.pt")


def test_no_readable_checkpoint_is_one_error_naming_each_file(train_data, tmp_path, toy_variants):
    run = train(make_config(train_data, tmp_path / "run", schedule=_schedule(4)))
    checkpoints = run / "checkpoints"
    for path in checkpoints.glob("step_*.pt"):
        corrupt(path, "truncate")
    log = (run / "log.jsonl").read_text()
    with pytest.raises(FormatError) as raised:
        train(make_config(train_data, tmp_path / "run", schedule=_schedule(6)))
    text = str(raised.value)
    assert "\n" not in text and str(checkpoints) in text and "no readable checkpoint" in text
    assert all(name in text for name in ("last.pt", "step_0000004.pt", "step_0000002.pt")), text
    assert (run / "log.jsonl").read_text() == log  # nothing of the run changed


# Smaller finding: log.jsonl repeated the steps replayed after a resume.
def test_the_log_holds_each_step_once_after_a_resume(train_data, tmp_path, toy_variants):
    config = lambda: make_config(train_data, tmp_path / "run", schedule=_schedule(4),  # noqa: E731
                                 runtime={"tensorboard": True})
    run = train(config())
    checkpoints = run / "checkpoints"
    (checkpoints / "step_0000004.pt").unlink()  # as if killed after step 4 was logged, before its checkpoint
    (checkpoints / "last.pt").unlink()
    (checkpoints / "last.pt").hardlink_to(checkpoints / "step_0000002.pt")
    with open(run / "log.jsonl", "a") as log:
        log.write('{"kind": "train", "step": 5, "lo')  # and killed in the middle of a line
    train(config())
    assert _train_steps(run) == [1, 2, 3, 4]
    assert [r["step"] for r in read_log(run, "start")] == [0, 2]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    assert [event.step for event in events.Scalars("train/loss")] == [1, 2, 3, 4]  # TensorBoard purged 3, 4


def _invoke_train(config) -> object:
    """`obh train` in this process (the toy variants registered by the fixture are seen)."""
    return CliRunner().invoke(main, ["train", *_overrides(config)])


def _assert_previous_checkpoint_intact(checkpoints, step: int) -> None:
    names = sorted(p.name for p in checkpoints.iterdir())
    assert names == ["last.pt", f"step_{step:07d}.pt"], names  # no temporary, no half-written file
    assert (checkpoints / "last.pt").samefile(checkpoints / f"step_{step:07d}.pt")
    assert read_resume_checkpoint(checkpoints / "last.pt")["extra"]["step"] == step


# Finding 10: a full disk during a checkpoint (ENOSPC, or torch's "unexpected pos") was a traceback.
def test_a_full_disk_at_a_checkpoint_is_one_line_and_the_previous_checkpoint_survives(train_data, tmp_path,
                                                                                        toy_variants):
    config = make_config(train_data, tmp_path, schedule=_schedule(4))
    checkpoints = config.output_dir / "checkpoints"
    with DiskBudget(checkpoints, 1).inject():  # the first checkpoint fits, the disk is full for the second
        result = _invoke_train(config)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "step_0000004.pt: the disk is full" in result.output and "Traceback" not in result.output, result.output
    _assert_previous_checkpoint_intact(checkpoints, 2)
    result = _invoke_train(config)  # room again: the rerun resumes from step 2 and finishes
    assert result.exit_code == 0, result.output
    assert _train_steps(config.output_dir) == [1, 2, 3, 4]


def test_torch_failing_in_the_middle_of_a_checkpoint_write_is_one_line(train_data, tmp_path, toy_variants,
                                                                         monkeypatch):
    config = make_config(train_data, tmp_path, schedule=_schedule(4))
    checkpoints = config.output_dir / "checkpoints"
    real_save = torch.save

    def failing_save(payload, handle, *args, **kwargs):
        if payload["extra"]["step"] < 4:
            return real_save(payload, handle, *args, **kwargs)
        with contextlib.ExitStack() as stack:
            if isinstance(handle, (str, os.PathLike)):  # torch.save takes a path or a file
                handle = stack.enter_context(open(handle, "wb"))
            handle.write(b"PK\x03\x04 half a zip")  # what a writer that lost its disk leaves behind
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", failing_save)
    result = _invoke_train(config)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "step_0000004.pt" in lines[0] and "unexpected pos" in lines[0], result.output
    assert "disk" in lines[0]
    _assert_previous_checkpoint_intact(checkpoints, 2)


# The same on a real full disk (a tmpfs of a few MiB under the checkpoints): ENOSPC comes from the kernel, inside
# torch's writer. A subprocess with the smallest real variant: 20-40 s under load, so marked slow.
@pytest.mark.slow
def test_a_real_small_disk_under_the_checkpoints_is_one_line(train_data, tmp_path):
    config = make_config(train_data, tmp_path, variant="modot_swin_nano_w7", schedule=_schedule(4),
                         data={"crop_hw": [32, 32]})
    checkpoints = config.output_dir / "checkpoints"
    probe = make_config(train_data, tmp_path / "probe", variant="modot_swin_nano_w7", schedule=_schedule(2),
                        data={"crop_hw": [32, 32]})
    size = (train(probe) / "checkpoints" / "step_0000002.pt").stat().st_size
    command = small_disk_command(obh_command("train", *_overrides(config)), checkpoints, size_kib=size * 3 // 2048)
    status, output = Run(command, env={"OMP_NUM_THREADS": "1"}).finish(600)
    assert status == 1 and "step_0000004.pt: the disk is full" in output and "Traceback" not in output, output
    assert files_left(output) == {"last.pt": size, "step_0000002.pt": size}, output


def _nano(train_data, folder, max_steps: int, **schedule):
    return make_config(train_data, folder, variant="modot_swin_nano_w7", data={"crop_hw": [32, 32]},
                       schedule=_schedule(max_steps, schedule_steps=1000, **schedule))


def _writing_a_checkpoint(checkpoints) -> bool:
    return checkpoints.is_dir() and any(".obh-tmp." in p.name for p in checkpoints.iterdir())


def _logged_steps(run_dir) -> int:
    path = run_dir / "log.jsonl"
    return path.read_text().count('"kind": "train"') if path.is_file() else 0


# Kills of `obh train` at random points (seeded), in the middle of a checkpoint write among them: the rerun resumes
# from the newest checkpoint that reads, removes the killed writer's temporary, logs each step once and ends with
# the parameters of an uninterrupted run. Subprocesses with the smallest real variant: marked slow.
@pytest.mark.slow
@pytest.mark.parametrize("when", ["during_a_checkpoint_write", "seed_0", "seed_1"])
def test_train_killed_at_random_points_resumes_bit_for_bit(train_data, tmp_path, when):
    killed = _nano(train_data, tmp_path / "killed", 1000, checkpoint_every=1 if "write" in when else 2)
    checkpoints = killed.output_dir / "checkpoints"
    run = Run(obh_command("train", *_overrides(killed)), env={"OMP_NUM_THREADS": "1"})
    if when == "during_a_checkpoint_write":
        run.kill_when(lambda: _writing_a_checkpoint(checkpoints), timeout_s=300)
    else:
        steps = random.Random(int(when[-1])).randint(3, 9)
        run.kill_when(lambda: _logged_steps(killed.output_dir) >= steps, timeout_s=300)
    assert run.wait_gone(5.0) == []
    point = find_resume_checkpoint(checkpoints)
    resumed_at = 0 if point is None else point.payload["extra"]["step"]
    total = resumed_at + 3
    resumed = train(_nano(train_data, tmp_path / "killed", total))
    whole = train(_nano(train_data, tmp_path / "whole", total))
    assert read_log(resumed, "end")[-1]["parameters"] == read_log(whole, "end")[0]["parameters"]
    assert _train_steps(resumed) == list(range(1, total + 1))
    assert not any(".obh-tmp." in p.name for p in checkpoints.iterdir())

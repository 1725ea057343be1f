"""TensorBoard as people use it: a short run's event files hold the frames, the PR data, the config and hparams."""

from __future__ import annotations

import json

import numpy as np

from training.run_log import read_log
from training.tensorboard import flat_hparams
from training.train import train

from .test_train import dataset, make_config  # noqa: F401  (the module-scoped dataset fixture)


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def test_a_short_run_shows_frames_pr_curves_config_and_hparams(dataset, tmp_path, toy_variants):  # noqa: F811
    config = make_config(dataset, tmp_path, schedule={"max_steps": 4, "val_every": 2},
                         validation={"frames": 3, "pictures": 2, "exact": "end", "exact_workers": 0},
                         runtime={"tensorboard": True})
    run = train(config)
    events = read_events(run / "tensorboard")
    tags = events.Tags()

    frames = [t for t in tags["images"] if t.startswith("val_frames/") and t != "val_frames/colour_bars"]
    assert sorted(frames) == ["val_frames/0", "val_frames/1"]
    shown = events.Images("val_frames/0")
    assert [image.step for image in shown] == [2, 4]  # the same frame at each validation
    assert shown[0].width == 6 * (80 + 4) and "val_frames/colour_bars" in tags["images"]  # six tiles of 80 px

    assert {"val/boundary_tolerance", "val_exact/boundary", "config/text_summary"} <= set(tags["tensors"])
    plugins = {tag: events.SummaryMetadata(tag).plugin_data.plugin_name for tag in tags["tensors"]}
    assert plugins["val/boundary_tolerance"] == "pr_curves" and plugins["config/text_summary"] == "text"
    curve = [event for event in events.Tensors("val_exact/boundary")][-1]
    data = np.frombuffer(curve.tensor_proto.tensor_content, np.float32) if curve.tensor_proto.tensor_content \
        else np.asarray(curve.tensor_proto.float_val, np.float32)
    tp, fp, _, fn, precision, recall = data.reshape(6, -1)
    written = json.loads((run / "val" / "step_0000004" / "metrics.json").read_text())["curve"]
    assert np.allclose(recall, written["recall"], atol=1e-6) and np.allclose(precision, written["precision"], atol=1e-6)
    assert (tp >= 0).all() and (fp >= 0).all() and (fn >= 0).all() and (tp + fn).max() > 0
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "modot_toy" in text and "val_every: 2" in text

    assert any(t.startswith("train/loss") for t in tags["scalars"])
    assert "val/depth/abs_rel" in tags["scalars"]
    assert not [t for t in tags["scalars"] if t.split("/")[0] in ("start", "end", "ranks")]  # bookkeeping: JSONL
    assert read_log(run, "start") and read_log(run, "end")
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    hparams = events.PluginTagToContent("hparams")
    experiment = HParamsPluginData.FromString(hparams["_hparams_/experiment"]).experiment
    assert "val/depth/abs_rel" in {m.name.tag for m in experiment.metric_infos}
    session = HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert session.hparams["model.variant"].string_value == "modot_toy"
    assert session.hparams["schedule.max_steps"].number_value == 4


def test_flat_hparams_keeps_numbers_and_strings():
    flat = flat_hparams({"a": {"b": 1, "c": [1, 2], "d": None}, "e": "x", "f": True})
    assert flat == {"a.b": 1, "a.c": "[1, 2]", "a.d": "None", "e": "x", "f": True}

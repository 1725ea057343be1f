from __future__ import annotations

import pytest

from obhypersim_build.config import BuildConfig, load_build_config
from obhypersim_build.plan import count_frames, plan_tasks
from obtoolkit.errors import ConfigError


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "build.yaml"
    path.write_text("labels:\n  tau_rel: 0.0\n  stuff_classes: [1, 2]\ninputs: hardlink\n")
    config = load_build_config(path, ["labels.void_policy=occluder"])
    assert config.labels.tau_rel == 0.0 and config.labels.stuff_classes == frozenset({1, 2})
    assert config.labels.void_policy == "occluder" and config.inputs == "hardlink"
    with pytest.raises(ConfigError, match="labels.tua_rel"):
        load_build_config(path, ["labels.tua_rel=1"])


def test_params_hash_tracks_what_changes_outputs():
    base = BuildConfig()
    assert base.params_hash() == BuildConfig().params_hash()
    assert base.params_hash() != load_build_config(None, ["labels.tau_abs_m=0.03"]).params_hash()
    assert base.params_hash() == load_build_config(None, ["inputs=symlink"]).params_hash()


def test_plan_filters(layered_tree):
    config = BuildConfig().resolved(layered_tree)
    tasks = plan_tasks(layered_tree, split_csv=config.split_csv)
    assert [t.name for t in tasks] == ["ai_001_001-cam_00", "ai_001_002-cam_00"] and count_frames(tasks) == 6
    assert tasks[0].meta[0].split == "train" and tasks[0].meta[0].public is True
    only_test = plan_tasks(layered_tree, splits=["test"], split_csv=config.split_csv)
    assert [t.scene for t in only_test] == ["ai_001_002"]
    assert [t.scene for t in plan_tasks(layered_tree, scenes=["ai_001_002"])] == ["ai_001_002"]
    with pytest.raises(FileNotFoundError, match="ai_009_009"):
        plan_tasks(layered_tree, scenes=["ai_009_009"])
    with pytest.raises(ValueError, match="split CSV"):
        plan_tasks(layered_tree, splits=["train"])

"""Every shipped training config loads, and the paper config says what the official recipe does (spec modot.md §3)."""

from __future__ import annotations

import pytest

from obtoolkit.metrics import DEPTH_PRESETS
from training.build import eval_preset
from training.config import load_train_config
from training.models import get_variant

from ..conftest import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs").glob("**/*.yaml"))


def test_the_configs_folder_is_found():
    assert {p.name for p in CONFIGS} >= {"ob_hypersim_paper.yaml", "ob_hypersim.yaml", "ob_hypersim_ssr.yaml",
                                         "nyud_mt.yaml", "demo_cpu.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO_ROOT / "configs")))
def test_config_loads_with_a_known_variant(path):
    config = load_train_config(path)
    variant = get_variant(config.model.variant)
    assert variant.ssr == (config.model.stage1 is not None)
    assert len(config.loss.boundary_map_weights) == (1 if variant.ssr else 5)
    assert config.data.val_split != "test"  # never tune on test


def test_paper_config_is_the_official_recipe():
    config = load_train_config(REPO_ROOT / "configs" / "ob_hypersim_paper.yaml")
    assert config.model.variant == "modot_swin_large_w7" and config.model.max_depth == 100.0
    assert config.data.depth == "distance" and config.data.depth_scale == 3.05
    assert config.data.crop_hw == (320, 320) and config.data.target == "boundary_or_contour"
    assert config.loss.depth_weight == 1.2 and config.loss.variance_focus == 0.85
    assert config.loss.boundary_map_weights == (0.1, 0.3, 0.3, 0.5, 2.3) and config.loss.negative_scale == 1.1
    assert config.loss.obdcl and config.loss.obdcl_start_step == 20_000 and config.loss.obdcl_weight == 0.1
    assert (config.optim.optimizer, config.optim.lr, config.optim.weight_decay, config.optim.eps) == \
        ("adam", 3e-5, 0.0, 1e-8)
    assert config.optim.end_lr_ratio == 0.1 and config.optim.power == 0.9
    assert config.optim.grad_clip == 100.0 and config.optim.clip_with_amp_only
    assert (config.schedule.batch_size, config.schedule.max_steps, config.schedule.schedule_steps) == \
        (8, 50_000, 68_840)
    assert config.runtime.amp == "fp16" and config.data.format == "ob_hypersim" and config.data.depth_eval is None
    preset = eval_preset(config)  # the dataset's: MoDOT's depth units of 3.05 m, clamp [0.06, 100] of them
    assert preset.depth == DEPTH_PRESETS["hypersim"] and preset.depth_unit_m == 3.05


@pytest.mark.parametrize(("name", "depth"), [("nyud_mt", "nyudmt"), ("nyud_mt_ssr", "nyudmt"),
                                             ("ob_future", "ob_future"), ("ob_future_ssr", "ob_future")])
def test_other_datasets_are_scored_with_their_preset(name, depth):
    config = load_train_config(REPO_ROOT / "configs" / f"{name}.yaml")
    assert config.data.format == depth and config.data.depth_eval is None  # the format's preset
    assert eval_preset(config).depth == DEPTH_PRESETS[depth] and eval_preset(config).depth_unit_m == 1.0


def test_nyud_and_ob_future_configs_are_the_official_recipes():
    """configs/{modot,ssr}/{nyudmt,ob-future}_train.txt and update_config (spec modot.md §3.2)."""
    nyud, nyud_ssr = (load_train_config(REPO_ROOT / "configs" / f"{n}.yaml") for n in ("nyud_mt", "nyud_mt_ssr"))
    assert (nyud.schedule.batch_size, nyud.optim.lr, nyud.data.crop_hw, nyud.model.max_depth) == (4, 3e-5, None, 10.0)
    assert (nyud.loss.boundary_weight, nyud.loss.negative_scale, nyud.loss.obdcl_start_step) == (5.0, 1.1, 9000)
    assert nyud.loss.boundary_map_weights == (0.1, 0.3, 0.3, 0.5, 1.0) and nyud.loss.obdcl_smooth_weight == 0.1
    assert (nyud_ssr.optim.lr, nyud_ssr.loss.obdcl_start_step, nyud_ssr.loss.boundary_map_weights) == (3e-3, 0, (1.0,))
    future, future_ssr = (load_train_config(REPO_ROOT / "configs" / f"{n}.yaml")
                          for n in ("ob_future", "ob_future_ssr"))
    assert (future.schedule.batch_size, future.data.crop_hw, future.loss.negative_scale) == (8, (320, 320), 1.7)
    assert future.loss.obdcl_start_step == 0 and future.loss.obdcl_smooth_weight == 0.1
    assert (future_ssr.optim.lr, future_ssr.schedule.batch_size, future_ssr.data.crop_hw) == (5e-5, 4, None)


def test_recorded_configs_of_older_runs_still_load():
    from obtoolkit.config import to_mapping
    from obtoolkit.errors import ConfigError
    from training.config import TrainConfig, recorded_config

    stored = to_mapping(TrainConfig())
    stored["data"]["val_max_frames"] = 8  # moved to validation.frames in this version
    stored["removed_section"] = {"x": 1}
    config, dropped = recorded_config(stored, source="checkpoint")
    assert dropped == ["data.val_max_frames", "removed_section"] and config == TrainConfig()
    stored["data"]["depth_scale"] = "not a number"
    with pytest.raises(ConfigError, match="depth_scale"):
        recorded_config(stored, source="checkpoint")

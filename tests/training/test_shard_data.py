"""Training from `obh export webdataset` shards: the arrays and the losses of the manifest path, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from obh.cli import main
from obh.demo import DEMO_FRAMES, DEMO_HEIGHT, DEMO_SCENES, DEMO_SEED, DEMO_WIDTH
from obtoolkit._open3d import open3d_available
from obtoolkit.config import from_mapping
from training.config import TrainConfig, load_train_config
from training.data import DataConfig, ObHypersimDataset
from training.run_log import read_log
from training.shard_data import ShardDataset
from training.train import train

from ..conftest import REPO_ROOT


def _export(root, *, scenes, frames, height, width, seed, max_samples):
    """A synthetic tree under root/hs, its labels under root/ob and their shuffled webdataset export (several
    shards) under root/shards, through the CLI."""
    from obhypersim_build.run import generate
    from obtoolkit.synth import make_synthetic_dataset

    if not open3d_available():
        pytest.skip("open3d (the raycast extra) is needed to make synthetic scenes")
    make_synthetic_dataset(root / "hs", scenes=scenes, frames=frames, seed=seed, height=height, width=width)
    generate(root / "hs", root / "ob", progress=False)
    result = CliRunner().invoke(main, ["export", "webdataset", str(root / "ob"), "--out", str(root / "shards"),
                                       "--max-samples", str(max_samples)])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small tree (12 frames of 64x80) and its export: for the default test run."""
    return _export(tmp_path_factory.mktemp("shards"), scenes=3, frames=2, height=64, width=80, seed=1, max_samples=3)


@pytest.fixture(scope="module")
def exported_demo(tmp_path_factory):
    """`obh demo`'s tree (its scenes, frames, size and seed: 32 frames of 192x256) and its export."""
    return _export(tmp_path_factory.mktemp("demo_shards"), scenes=DEMO_SCENES, frames=DEMO_FRAMES,
                   height=DEMO_HEIGHT, width=DEMO_WIDTH, seed=DEMO_SEED, max_samples=5)


@pytest.mark.parametrize("options", [
    {"split": "train"},
    {"split": "val", "depth": "planar", "orientation": True, "depth_scale": 3.05, "target": "boundary"},
])
def test_shard_arrays_equal_the_tree_arrays(exported, options):
    config = DataConfig(root=exported / "ob", camera_csv=exported / "hs" / "metadata_camera_parameters.csv",
                        augment=None, **options)
    tree, shards = ObHypersimDataset(config), ShardDataset(config, exported / "shards")
    assert shards.records == tree.records and len(tree) > 1
    for record in tree.records:
        expected, got = tree.read_arrays(record), shards.read_arrays(record)
        assert sorted(got) == sorted(expected)
        for name, array in expected.items():
            assert got[name].dtype == array.dtype
            np.testing.assert_array_equal(got[name], array, err_msg=name)
    for position in range(len(tree)):  # whole samples, augmentation included
        config_sample, shard_sample = tree[position], shards[position]
        assert config_sample.name == shard_sample.name


def _demo_config(exported, run_dir, *extra) -> TrainConfig:
    return load_train_config(REPO_ROOT / "configs" / "demo_cpu.yaml", [
        f"data.root={exported / 'ob'}", f"run_dir={run_dir}", "schedule.max_steps=4", "schedule.val_every=4",
        "schedule.checkpoint_every=4", "schedule.log_every=1", "validation.exact=never", "runtime.progress=false",
        "runtime.tensorboard=false", "runtime.threads=1", *extra])


def _assert_shards_train_like_the_tree(exported, run_root, *extra) -> None:
    """The demo model and config, 4 steps and one validation, from the tree and from the shards: same seed, same
    order, identical losses, parameters and validation numbers."""
    from_tree = train(_demo_config(exported, run_root / "tree", *extra))
    from_shards = train(_demo_config(exported, run_root / "shards", f"data.shards={exported / 'shards'}", *extra))
    tree_losses = [(r["step"], r["loss"], r["loss_depth"], r["loss_boundary"]) for r in read_log(from_tree, "train")]
    shard_losses = [(r["step"], r["loss"], r["loss_depth"], r["loss_boundary"])
                    for r in read_log(from_shards, "train")]
    assert [s for s, *_ in tree_losses] == [1, 2, 3, 4]
    assert shard_losses == tree_losses
    assert read_log(from_shards, "end")[-1]["parameters"] == read_log(from_tree, "end")[-1]["parameters"]
    tree_val, shard_val = read_log(from_tree, "val"), read_log(from_shards, "val")
    assert len(tree_val) == 1 and [{k: v for k, v in r.items() if k != "seconds"} for r in shard_val] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in tree_val]


def test_training_from_shards_gives_the_losses_of_the_manifest_path(exported, tmp_path):
    _assert_shards_train_like_the_tree(exported, tmp_path, "data.crop_hw=[48,64]", "schedule.batch_size=2")


@pytest.mark.slow
def test_demo_training_from_shards_gives_the_losses_of_the_manifest_path(exported_demo, tmp_path):
    """The acceptance run: obh demo's tree exported to shards, the demo model and config as they are."""
    _assert_shards_train_like_the_tree(exported_demo, tmp_path)


def test_shards_config_key_and_errors(exported, tmp_path):
    config = from_mapping(TrainConfig, {"data": {"shards": str(exported / "shards")}})
    assert config.data.shards == exported / "shards"
    with pytest.raises(ValueError, match="no exported .* split 'nope'"):
        ShardDataset(DataConfig(root=tmp_path, split="nope", augment=None), exported / "shards")
    with pytest.raises(FileNotFoundError):
        ShardDataset(DataConfig(root=tmp_path, augment=None), tmp_path / "no_shards")
    from obtoolkit.errors import ConfigError
    from training.build import frame_dataset

    other = from_mapping(TrainConfig, {"data": {"format": "nyudmt", "shards": str(exported / "shards")}})
    with pytest.raises(ConfigError, match="data.shards: .*OB-Hypersim frames, not nyudmt"):
        frame_dataset(other, train=True)
    assert isinstance(frame_dataset(config, train=True), ShardDataset)

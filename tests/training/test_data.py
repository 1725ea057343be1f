from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from obhypersim_build.run import generate
from training.augment import AugmentConfig, flip_orientation, normalize_image
from training.data import DataConfig, ObHypersimDataset, SampleKey, read_split_list, scene_balanced_subset

from ..obhypersim_build.conftest import write_layered_tree


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    hypersim = write_layered_tree(root / "hypersim").layout.root
    generate(hypersim, root / "out", progress=False)
    return hypersim, root / "out"


def config(labelled, **changes) -> DataConfig:
    return dataclasses.replace(DataConfig(root=labelled[1], split="train", augment=None), **changes)


def test_sample_layout_units_and_target(labelled):
    dataset = ObHypersimDataset(config(labelled))
    assert len(dataset) == 3
    sample = dataset[0]
    assert sample.image.shape == (3, 24, 32) and sample.image.dtype == torch.float32
    assert sample.depth.shape == sample.valid.shape == sample.boundary.shape == (1, 24, 32)
    assert sample.valid.all() and set(sample.boundary.unique().tolist()) == {0.0, 1.0}
    raw = dataset.read_arrays(dataset.records[0])
    np.testing.assert_allclose(sample.depth[0].numpy(), raw["depth"], rtol=1e-6)
    assert sample.depth.max() < 4  # metres: the wall of the layered frames is 3 m away
    scaled = ObHypersimDataset(config(labelled, depth_scale=3.05))[0]
    torch.testing.assert_close(scaled.depth * 3.05, sample.depth, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sample.image.numpy(), normalize_image(raw["image"]), rtol=1e-6)


def test_target_union_and_boundary_only(labelled):
    from obtoolkit.hypersim import FrameId
    from obtoolkit.labels_io import read_label_files

    files = read_label_files(labelled[1], FrameId("ai_001_001", "cam_00", 0))
    union = ObHypersimDataset(config(labelled))[0].boundary[0].numpy()
    only = ObHypersimDataset(config(labelled, target="boundary"))[0].boundary[0].numpy()
    np.testing.assert_array_equal(union, files.ob | files.instance_contour)
    np.testing.assert_array_equal(only, files.ob)


def test_planar_depth_uses_the_exact_rays(labelled):
    hypersim, _ = labelled
    planar = ObHypersimDataset(config(labelled, depth="planar",
                                      camera_csv=hypersim / "metadata_camera_parameters.csv"))[0].depth
    distance = ObHypersimDataset(config(labelled))[0].depth
    assert (planar < distance + 1e-6).all()
    np.testing.assert_allclose(planar[0, :, 8:16].numpy(), 2.5, rtol=2e-3)  # the box face: a frontal plane at 2.5 m
    with pytest.raises(ValueError, match="camera-parameter CSV"):
        ObHypersimDataset(config(labelled, depth="planar"))


def test_split_list_selection(labelled, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("hypersim/ai_001_002/cam_00/tonemap/0002\nhypersim/ai_001_001/cam_00/tonemap/0000\n")
    dataset = ObHypersimDataset(config(labelled, split_list=listing))
    assert [(r.scene, r.frame) for r in dataset.records] == [("ai_001_001", 0), ("ai_001_002", 2)]
    listing.write_text("ai_001_001 cam_00 0\n")
    with pytest.raises(Exception, match="line 1"):
        read_split_list(listing)
    with pytest.raises(ValueError, match="no usable"):
        ObHypersimDataset(config(labelled, split="val"))


def test_augmentation_is_a_function_of_seed_epoch_and_index(labelled):
    augment = AugmentConfig(crop_hw=(16, 20))
    dataset = ObHypersimDataset(config(labelled, augment=augment), seed=7)
    first, again = dataset[1], dataset[1]
    for a, b in zip(first[:-1], again[:-1], strict=True):
        torch.testing.assert_close(a, b, equal_nan=True)
    assert first.image.shape == (3, 16, 20) and first.name == "ai_001_001/cam_00/0001"
    torch.testing.assert_close(dataset[SampleKey(0, 1)].image, first.image)  # an int index is epoch 0
    assert not torch.equal(dataset[SampleKey(1, 1)].image, first.image)
    other_seed = ObHypersimDataset(config(labelled, augment=augment), seed=8)[1]
    assert not torch.equal(other_seed.image, first.image)


def test_flip_keeps_targets_aligned_and_negates_orientation(labelled):
    flip_only = AugmentConfig(crop_hw=None, hflip=1.0, photometric=False)
    base = ObHypersimDataset(config(labelled, orientation=True))
    flipped = ObHypersimDataset(config(labelled, orientation=True, augment=flip_only))
    a, b = base[0], flipped[0]
    torch.testing.assert_close(b.depth, a.depth.flip(-1))
    torch.testing.assert_close(b.boundary, a.boundary.flip(-1))
    torch.testing.assert_close(b.image, a.image.flip(-1))
    torch.testing.assert_close(b.theta, -a.theta.flip(-1), equal_nan=True)
    assert torch.isfinite(a.theta).any()
    theta = np.array([-np.pi / 2])  # occluder on the left -> after mirroring it is on the right: +pi/2
    np.testing.assert_allclose(flip_orientation(theta), [np.pi / 2])


def test_photometric_distortion_changes_only_the_image(labelled):
    distort = AugmentConfig(crop_hw=None, hflip=0.0, photometric=True)
    dataset = ObHypersimDataset(config(labelled, augment=distort), seed=3)
    plain = ObHypersimDataset(config(labelled))
    changed = [not torch.equal(dataset[i].image, plain[i].image) for i in range(3)]
    assert any(changed)
    for i in range(3):
        torch.testing.assert_close(dataset[i].depth, plain[i].depth)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:50])


def _nan_only(path):
    import h5py

    with h5py.File(path, "r+") as f:
        f["dataset"][...] = np.nan


BROKEN = {
    "truncated depth": ("depth_hdf5/0001.hdf5", _truncate, "depth_hdf5/0001.hdf5"),
    "NaN-only depth": ("depth_hdf5/0001.hdf5", _nan_only, "depth_hdf5/0001.hdf5.*no finite depth"),
    "missing boundary file": ("ob/0001.png", lambda path: path.unlink(), "ob/0001.png"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_sample_names_its_files_or_is_skipped(labelled, tmp_path, kind):
    import shutil

    relpath, breaker, message = BROKEN[kind]
    root = tmp_path / "copy"
    shutil.copytree(labelled[1], root)
    breaker(root / "hypersim/ai_001_001/cam_00" / relpath)
    strict = ObHypersimDataset(config(labelled, root=root))
    with pytest.raises(RuntimeError, match=f"ai_001_001/cam_00/0001.*{message}"):
        strict[1]
    lenient = ObHypersimDataset(config(labelled, root=root, on_error="skip"))
    sample = lenient[1]
    assert sample.index.item() == 2 and sample.name == "ai_001_001/cam_00/0002"  # the frame actually loaded
    assert len(lenient.failures) == 1 and relpath.split("/")[-1] in lenient.failures[0]


def _records(frames_per_scene: dict[str, int]):
    from obtoolkit.manifest import FrameRecord

    return [FrameRecord(scene=scene, camera="cam_00", frame=i) for scene, n in frames_per_scene.items()
            for i in range(n)]


def test_scene_balanced_subset_spreads_over_scenes_deterministically():
    records = _records({"ai_001_001": 10, "ai_001_002": 2, "ai_001_003": 30})
    picked = scene_balanced_subset(records, 9)
    scenes = [records[p].scene for p in picked]
    assert picked == sorted(picked) and len(set(picked)) == 9
    # turns in scene order: 3 + 3 (ai_001_002 is then exhausted) + 2 + 1
    assert [scenes.count(s) for s in ("ai_001_001", "ai_001_002", "ai_001_003")] == [4, 2, 3]
    assert [records[p].frame for p in picked if records[p].scene == "ai_001_003"] == [5, 15, 25]  # spread out
    assert [records[p].frame for p in picked if records[p].scene == "ai_001_001"] == [1, 3, 6, 8]
    assert scene_balanced_subset(records, 9) == picked
    assert scene_balanced_subset(records, None) == list(range(42)) == scene_balanced_subset(records, 100)
    with pytest.raises(ValueError, match="at least one"):
        scene_balanced_subset(records, 0)


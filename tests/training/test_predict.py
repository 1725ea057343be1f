from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from obtoolkit.errors import FormatError, MissingFileError
from training.augment import normalize_image
from training.checkpoints import save_model_checkpoint
from training.inference import fuse_flipped_depth, predict_batch
from training.models import build_modot
from training.predict import find_images, run_predict


@pytest.fixture
def toy_checkpoint(tmp_path, toy_variants):
    variant, _ = toy_variants
    model = build_modot(variant, max_depth=10.0).eval()
    path = save_model_checkpoint(tmp_path / "toy.pt", model, variant=variant, max_depth=10.0, depth_unit_m=3.05)
    return path, model


def _write_images(folder, sizes):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_predict_writes_pictures_and_raw_arrays(tmp_path, toy_checkpoint):
    checkpoint, model = toy_checkpoint
    images = _write_images(tmp_path / "images", [(40, 52), (33, 47)])
    written = run_predict(checkpoint, images, tmp_path / "out", flip_tta=True, save_raw=True, progress=False).written
    names = sorted(p.name for p in written)
    assert names == sorted(f"img{i}_{kind}" for i in (0, 1) for kind in
                           ("depth.png", "boundary.png", "overlay.png", "depth_m.npy", "boundary.npy"))
    depth_m = np.load(tmp_path / "out" / "img1_depth_m.npy")
    probability = np.load(tmp_path / "out" / "img1_boundary.npy")
    assert depth_m.shape == probability.shape == (33, 47) and depth_m.dtype == np.float32
    rgb = np.asarray(Image.open(images / "img1.png"))
    image = torch.from_numpy(normalize_image(rgb.astype(np.float32)))[None]
    depth, expected_probability = predict_batch(model, image, flip_tta=True)
    np.testing.assert_allclose(depth_m, depth[0, 0].numpy() * 3.05, rtol=1e-6)
    np.testing.assert_allclose(probability, expected_probability[0, 0].numpy(), rtol=1e-6)
    grey = np.asarray(Image.open(tmp_path / "out" / "img1_boundary.png"))
    assert grey.shape == (33, 47) and abs(int(grey[5, 5]) - round(probability[5, 5] * 255)) <= 1
    assert np.asarray(Image.open(tmp_path / "out" / "img0_depth.png")).shape == (40, 52, 3)


def test_predict_single_image_without_extras(tmp_path, toy_checkpoint):
    checkpoint, _ = toy_checkpoint
    images = _write_images(tmp_path / "images", [(24, 30)])
    written = run_predict(checkpoint, images / "img0.png", tmp_path / "out", progress=False).written
    assert sorted(p.name for p in written) == ["img0_boundary.png", "img0_depth.png", "img0_overlay.png"]


def test_flip_fusion_uses_each_prediction_at_its_border():
    plain, mirrored_back = torch.full((1, 1, 2, 101), 2.0), torch.full((1, 1, 2, 101), 4.0)
    fused = fuse_flipped_depth(plain, mirrored_back)[0, 0, 0]
    assert fused[0] == 4.0 and fused[-1] == 2.0 and fused[50] == 3.0


def test_batched_prediction_of_same_size_images_matches_one_by_one(tmp_path, toy_checkpoint):
    checkpoint, _ = toy_checkpoint
    images = _write_images(tmp_path / "images", [(24, 30), (24, 30), (20, 36)])
    one = run_predict(checkpoint, images, tmp_path / "one", save_raw=True, progress=False).written
    batched = run_predict(checkpoint, images, tmp_path / "batched", save_raw=True, progress=False, batch_size=3,
                          workers=1).written
    assert [p.name for p in one] == [p.name for p in batched]
    for path in (p for p in one if p.suffix == ".npy"):
        np.testing.assert_allclose(np.load(tmp_path / "batched" / path.name), np.load(path), rtol=1e-5, atol=1e-6)


def test_find_images_errors(tmp_path):
    with pytest.raises(MissingFileError, match="nowhere"):
        find_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match="empty"):
        find_images(tmp_path / "empty")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(FormatError, match="a.txt"):
        find_images(tmp_path / "a.txt")
    twins = tmp_path / "twins"
    twins.mkdir()
    for suffix in (".png", ".jpg"):
        Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(twins / f"a{suffix}")
    with pytest.raises(FormatError, match="several files named a"):
        find_images(twins)

"""Reliability of `obh evaluate` and `obh predict`: options out of range refused instead of NaN metrics; an
unreadable image fails alone (recorded, counted, exit 1 at the end); 16-bit images scaled to 8 bits, not clipped."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from obtoolkit.errors import ConfigError
from training.checkpoints import save_model_checkpoint
from training.models import build_modot
from training.predict import read_image_rgb, run_predict

from .faults import corrupt, invoke, png_claiming


@pytest.fixture
def toy_checkpoint(tmp_path, toy_variants):
    variant, _ = toy_variants
    model = build_modot(variant, max_depth=10.0).eval()
    return save_model_checkpoint(tmp_path / "toy.pt", model, variant=variant, max_depth=10.0, depth_unit_m=3.05)


# Finding 7: `evaluate --max-frames -1` or `--depth-scale 0` exited 0 with NaN metrics.
@pytest.mark.parametrize("option", [["--max-frames", "-1"], ["--max-frames", "0"], ["--depth-scale", "0"],
                                    ["--depth-scale", "-3.05"], ["--depth-scale", "nan"], ["--depth-scale", "inf"],
                                    ["--max-dist", "0"]], ids=" ".join)
def test_evaluate_refuses_out_of_range_options(tmp_path, toy_checkpoint, option):
    result = invoke("evaluate", toy_checkpoint, "--root", tmp_path, "--out", tmp_path / "eval", *option)
    assert result.exit_code == 2 and "Invalid value" in result.output and option[0] in result.output, result.output
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize(("keyword", "value"), [("max_frames", -1), ("depth_scale", 0.0),
                                               ("depth_scale", float("nan")), ("max_dist", 0.0)])
def test_evaluate_checkpoint_refuses_out_of_range_values(tmp_path, toy_checkpoint, keyword, value):
    from training.evaluate_run import EvalData, evaluate_checkpoint

    with pytest.raises(ConfigError, match=keyword):
        evaluate_checkpoint(toy_checkpoint, EvalData(root=tmp_path), out_dir=tmp_path / "eval", **{keyword: value})


def _images(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a_good", "c_good"):
        Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(folder / "b_truncated.jpg")
    corrupt(folder / "b_truncated.jpg", "truncate")
    (folder / "d_random.png").write_bytes(rng.bytes(3000))
    (folder / "e_bomb.png").write_bytes(png_claiming(10_000, 8_000))
    return folder


# Finding 9: `obh predict DIR` stopped at the first unreadable image.
@pytest.mark.parametrize("workers", [0, 2])
def test_predict_records_and_skips_unreadable_images_and_exits_1(tmp_path, toy_checkpoint, workers):
    images = _images(tmp_path / "images")
    result = invoke("predict", toy_checkpoint, images, "--out", tmp_path / "out", "--workers", workers,
                    "--batch-size", 2)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert "3 of 5 images failed" in result.output, result.output
    for name in ("b_truncated.jpg", "d_random.png", "e_bomb.png"):
        assert name in result.output
    assert "10000x8000" in result.output  # the size limit, named
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(f"{n}_{kind}.png" for n in ("a_good", "c_good") for kind in ("depth", "boundary",
                                                                                              "overlay"))


def test_predict_with_every_image_good_exits_0(tmp_path, toy_checkpoint):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((40, 52, 3), np.uint8)).save(images / "x.png")
    result = invoke("predict", toy_checkpoint, images, "--out", tmp_path / "out")
    assert result.exit_code == 0 and "failed" not in result.output, result.output


# Smaller finding: 16-bit PNGs were clipped to 8 bits in `predict` without a word.
def test_a_16_bit_png_is_scaled_to_8_bits_with_a_warning(tmp_path, toy_checkpoint):
    values = np.linspace(0, 65535, 40 * 52).reshape(40, 52).astype(np.uint16)
    path = tmp_path / "images" / "deep.png"
    path.parent.mkdir()
    Image.fromarray(values).save(path)
    notes: list[str] = []
    rgb = read_image_rgb(path, notes=notes)
    expected = np.round(values / 257.0).astype(np.uint8)
    assert rgb.dtype == np.uint8 and rgb.shape == (40, 52, 3)
    assert np.array_equal(rgb[..., 0], expected) and np.array_equal(rgb[..., 2], expected)
    assert rgb.max() == 255 and len(np.unique(rgb)) > 200  # not clipped: the whole range survives
    assert len(notes) == 1 and "16-bit" in notes[0] and "deep.png" in notes[0]
    result = invoke("predict", toy_checkpoint, path.parent, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "deep.png" in result.output and "16-bit" in result.output and "scaled to 8 bits" in result.output


def test_a_float_image_is_refused_naming_its_mode(tmp_path, toy_checkpoint):
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(path)
    result = run_predict(toy_checkpoint, path, tmp_path / "out", progress=False)
    assert result.written == [] and len(result.failed) == 1 and "mode F" in result.failed[0], result.failed

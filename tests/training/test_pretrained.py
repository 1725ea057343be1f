"""`from_pretrained`: checkpoints, exported models and run folders load as eval-mode models with their settings;
`predict_image` equals `obh predict`'s arrays; `hubconf.py` loads local files through torch.hub."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from obtoolkit.errors import FormatError, MissingFileError
from training.checkpoints import export_model, save_model_checkpoint
from training.models import build_modot
from training.predict import Prediction, run_predict

from ..conftest import REPO_ROOT


@pytest.fixture
def toy_run(tmp_path, toy_variants):
    """A run folder whose last checkpoint records a config, and the model in it."""
    variant, _ = toy_variants
    torch.manual_seed(3)
    model = build_modot(variant, max_depth=10.0).eval()
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    config = {"name": "toy", "model": {"variant": variant, "max_depth": 10.0}, "data": {"root": "somewhere"}}
    save_model_checkpoint(checkpoints / "last.pt", model, variant=variant, max_depth=10.0, depth_unit_m=3.05,
                          extra={"step": 4, "config": json.dumps(config)})
    return tmp_path / "run", model


def _assert_same_weights(loaded: torch.nn.Module, model: torch.nn.Module) -> None:
    state = loaded.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key


def test_checkpoint_run_folder_and_export_load_in_eval_mode(toy_run, tmp_path, toy_variants):
    from training import from_pretrained  # the package-level name

    run, model = toy_run
    exported = export_model(run / "checkpoints" / "last.pt", tmp_path / "model.safetensors")
    for path in (run / "checkpoints" / "last.pt", run, exported):
        pretrained = from_pretrained(path)
        assert not pretrained.model.training and all(not m.training for m in pretrained.model.modules())
        _assert_same_weights(pretrained.model, model)
        assert type(pretrained.model) is type(model)
        assert (pretrained.info.variant, pretrained.info.max_depth, pretrained.info.depth_unit_m) == \
            (toy_variants[0], 10.0, 3.05)
        assert pretrained.config.name == "toy" and pretrained.config.model.variant == pretrained.info.variant
        assert pretrained.device == torch.device("cpu")
        model_, info = pretrained  # unpacks like load_model_checkpoint
        assert model_ is pretrained.model and info.extra["step"] == 4


def test_bfloat16_export_loads_into_float32_weights(toy_run, tmp_path):
    from training.pretrained import from_pretrained

    run, model = toy_run
    exported = export_model(run / "checkpoints" / "last.pt", tmp_path / "bf16.safetensors", dtype="bfloat16")
    loaded = from_pretrained(exported).model
    for key, value in model.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == value.dtype, key
        if value.is_floating_point():
            assert torch.equal(got, value.to(torch.bfloat16).to(value.dtype)), key


def test_errors_name_the_path(tmp_path):
    from training.pretrained import from_pretrained

    with pytest.raises(MissingFileError, match="nothing.pt"):
        from_pretrained(tmp_path / "nothing.pt")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(MissingFileError, match="empty_run/checkpoints/last.pt"):
        from_pretrained(tmp_path / "empty_run")
    (tmp_path / "notes.safetensors").write_text("hello")
    with pytest.raises(FormatError, match="notes.safetensors"):
        from_pretrained(tmp_path / "notes.safetensors")


def test_predict_image_matches_obh_predict_and_draws_itself(toy_run, tmp_path):
    from training.pretrained import from_pretrained

    run, _ = toy_run
    rgb = np.random.default_rng(1).integers(0, 255, (30, 41, 3), dtype=np.uint8)
    (tmp_path / "images").mkdir()
    Image.fromarray(rgb).save(tmp_path / "images" / "a.png")
    run_predict(run, tmp_path / "images", tmp_path / "out", save_raw=True, progress=False)  # a run folder works
    prediction = from_pretrained(run).predict(rgb)
    assert isinstance(prediction, Prediction) and prediction.depth_m.shape == (30, 41)
    np.testing.assert_array_equal(prediction.depth_m, np.load(tmp_path / "out" / "a_depth_m.npy"))
    np.testing.assert_array_equal(prediction.boundary_probability, np.load(tmp_path / "out" / "a_boundary.npy"))
    with Image.open(io.BytesIO(prediction._repr_png_())) as picture:
        assert picture.size == (2 * 41 + 4, 30) and picture.mode == "RGB"
    with pytest.raises(ValueError, match="uint8 RGB"):
        from_pretrained(run).predict(rgb.astype(np.float32))


def test_hubconf_loads_a_local_file_through_torch_hub(toy_run, tmp_path):
    run, model = toy_run
    exported = export_model(run / "checkpoints" / "last.pt", tmp_path / "model.safetensors")
    loaded = torch.hub.load(str(REPO_ROOT), "modot", source="local", path=str(exported), trust_repo=True)
    assert not loaded.training
    _assert_same_weights(loaded, model)

"""Our checkpoint format: one payload builder and one reader, resume checkpoints, `last` links, exported models."""

from __future__ import annotations

import pytest
import torch

from obtoolkit.errors import FormatError
from training.checkpoints import (
    CHECKPOINT_FORMAT,
    export_model,
    link_checkpoint,
    load_model_checkpoint,
    read_model_checkpoint,
    read_resume_checkpoint,
    save_model_checkpoint,
    write_checkpoint,
)
from training.models import build_modot


def test_save_and_load_round_trip(tmp_path, toy_variants):
    variant, ssr_variant = toy_variants
    for name in (variant, ssr_variant):
        model = build_modot(name, max_depth=7.5)
        path = save_model_checkpoint(tmp_path / f"{name}.pt", model, variant=name, max_depth=7.5, depth_unit_m=3.05,
                                     extra={"step": 12, "note": "test"})
        loaded, info = load_model_checkpoint(path)
        assert type(loaded) is type(model) and loaded.max_depth == 7.5
        assert (info.variant, info.max_depth, info.depth_unit_m, info.extra) == (name, 7.5, 3.05, {"step": 12,
                                                                                                  "note": "test"})
        loaded_state = loaded.state_dict()
        for key, value in model.state_dict().items():
            assert torch.equal(loaded_state[key], value), key


def test_load_ignores_other_keys_and_checks_the_format(tmp_path, toy_variants):
    variant, _ = toy_variants
    model = build_modot(variant, max_depth=10.0)
    path = save_model_checkpoint(tmp_path / "a.pt", model, variant=variant, max_depth=10.0, depth_unit_m=1.0)
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, "optimizer": {"state": {}, "param_groups": []}, "step": 3}, tmp_path / "b.pt")
    load_model_checkpoint(tmp_path / "b.pt")
    torch.save({"model": model.state_dict()}, tmp_path / "official.pt")
    with pytest.raises(FormatError, match=r"official.pt.*convert-checkpoint"):
        load_model_checkpoint(tmp_path / "official.pt")
    torch.save({**payload, "format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(FormatError, match="future.pt.*format_version"):
        load_model_checkpoint(tmp_path / "future.pt")
    torch.save({**payload, "variant": "modot_unknown"}, tmp_path / "unknown.pt")
    with pytest.raises(FormatError, match="unknown.pt.*modot_unknown"):
        load_model_checkpoint(tmp_path / "unknown.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(FormatError, match="text.pt"):
        load_model_checkpoint(tmp_path / "text.pt")
    assert payload["format"] == CHECKPOINT_FORMAT


def test_save_checks_its_arguments(tmp_path, toy_variants):
    variant, _ = toy_variants
    model = build_modot(variant, max_depth=10.0)
    with pytest.raises(ValueError, match="max_depth"):
        save_model_checkpoint(tmp_path / "a.pt", model, variant=variant, max_depth=5.0, depth_unit_m=1.0)
    with pytest.raises(ValueError, match="depth_unit_m"):
        save_model_checkpoint(tmp_path / "a.pt", model, variant=variant, max_depth=10.0, depth_unit_m=0.0)
    with pytest.raises(KeyError, match="modot_nope"):
        save_model_checkpoint(tmp_path / "a.pt", model, variant="modot_nope", max_depth=10.0, depth_unit_m=1.0)
    assert not list(tmp_path.iterdir())


def test_resume_checkpoints_hold_what_resuming_needs(tmp_path, toy_variants):
    variant, _ = toy_variants
    model = build_modot(variant, max_depth=10.0)
    optimizer = torch.optim.Adam(model.parameters())
    resume = {"optimizer": optimizer.state_dict(), "scheduler": {}, "scaler": {}, "train_state": {"step": 3},
              "rng": {"torch": torch.get_rng_state()}}
    path = write_checkpoint(tmp_path / "step.pt", model.state_dict(), variant=variant, max_depth=10.0,
                            depth_unit_m=1.0, extra={"config": "{}"}, resume=resume)
    payload = read_resume_checkpoint(path)
    assert payload["train_state"] == {"step": 3} and torch.equal(payload["rng"]["torch"], torch.get_rng_state())
    with pytest.raises(ValueError, match="exactly optimizer"):
        write_checkpoint(tmp_path / "bad.pt", model.state_dict(), variant=variant, max_depth=10.0, depth_unit_m=1.0,
                         resume={"optimizer": {}})
    plain = save_model_checkpoint(tmp_path / "plain.pt", model, variant=variant, max_depth=10.0, depth_unit_m=1.0)
    with pytest.raises(FormatError, match="plain.pt.*resume checkpoint.*optimizer"):
        read_resume_checkpoint(plain)
    assert read_model_checkpoint(path)["variant"] == variant  # a resume checkpoint is a model checkpoint too


def test_last_is_a_link_not_a_copy(tmp_path, toy_variants):
    variant, _ = toy_variants
    model = build_modot(variant, max_depth=10.0)
    first = save_model_checkpoint(tmp_path / "step_1.pt", model, variant=variant, max_depth=10.0, depth_unit_m=1.0)
    second = save_model_checkpoint(tmp_path / "step_2.pt", model, variant=variant, max_depth=10.0, depth_unit_m=1.0,
                                   extra={"step": 2})
    last = link_checkpoint(first, tmp_path / "last.pt")
    last = link_checkpoint(second, tmp_path / "last.pt")  # replaced atomically
    assert last.samefile(second) and last.stat().st_nlink == 2
    second.unlink()  # pruning the numbered file keeps last readable
    assert load_model_checkpoint(last)[1].extra == {"step": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step_1.pt"]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_export_writes_weights_only_safetensors_that_load_like_checkpoints(tmp_path, toy_variants, dtype):
    from safetensors import safe_open

    variant, _ = toy_variants
    model = build_modot(variant, max_depth=7.5).eval()
    checkpoint = write_checkpoint(tmp_path / "run.pt", model.state_dict(), variant=variant, max_depth=7.5,
                                  depth_unit_m=3.05, extra={"step": 9, "config": '{"name": "x"}'},
                                  resume={"optimizer": {}, "scheduler": {}, "scaler": {}, "train_state": {},
                                          "rng": {}})
    out = export_model(checkpoint, tmp_path / "model.safetensors", dtype=dtype)
    with safe_open(str(out), framework="pt") as handle:
        metadata = handle.metadata()
        assert metadata["variant"] == variant and float(metadata["max_depth"]) == 7.5
        assert float(metadata["depth_unit_m"]) == 3.05 and "optimizer" not in metadata
    loaded, info = load_model_checkpoint(out)
    assert (info.variant, info.max_depth, info.depth_unit_m) == (variant, 7.5, 3.05)
    assert info.extra["step"] == 9 and info.extra["config"] == '{"name": "x"}' and info.extra["dtype"] == dtype
    images = torch.randn(1, 3, 32, 40)
    with torch.no_grad():
        expected, got = model(images), loaded.eval()(images)
    tolerance = 0 if dtype == "float32" else 0.05
    torch.testing.assert_close(got.depth, expected.depth, atol=tolerance * 10, rtol=tolerance)
    assert out.stat().st_size < checkpoint.stat().st_size
    assert out.stat().st_mode & 0o777 == checkpoint.stat().st_mode & 0o777  # as readable as a checkpoint


def test_exported_files_are_checked(tmp_path, toy_variants):
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(2)}, str(tmp_path / "other.safetensors"), metadata={"format": "something else"})
    with pytest.raises(FormatError, match="other.safetensors.*ob-hypersim/modot"):
        load_model_checkpoint(tmp_path / "other.safetensors")
    save_file({"a": torch.zeros(2)}, str(tmp_path / "partial.safetensors"), metadata={"format": CHECKPOINT_FORMAT})
    with pytest.raises(FormatError, match="partial.safetensors.*format_version"):
        load_model_checkpoint(tmp_path / "partial.safetensors")
    with pytest.raises(ValueError, match="dtype"):
        export_model(tmp_path / "partial.safetensors", tmp_path / "x.safetensors", dtype="int8")

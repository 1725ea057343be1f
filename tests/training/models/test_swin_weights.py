"""ImageNet Swin weights: Microsoft's release layout and timm's layout load exactly; wrong files are refused."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
import torch.nn.functional as F

from obtoolkit.errors import FormatError
from tests.training.conftest import TOY_SWIN
from training.models.swin import SWIN_VARIANTS, SwinTransformer
from training.models.swin_weights import (
    MIN_MATCHED_FRACTION,
    is_timm_layout,
    load_pretrained_swin,
    resize_relative_position_table,
    timm_to_microsoft_key,
)


def _official_style_checkpoint(encoder: SwinTransformer) -> dict[str, torch.Tensor]:
    """An ImageNet-classification state dict in the MS layout: no output norms, a head, derived buffers."""
    state = {k: v.clone() for k, v in encoder.state_dict().items() if not k.startswith("out_norms")}
    for name, module in encoder.named_modules():
        if name.endswith(".attn"):
            state[f"{name}.relative_position_index"] = module.relative_position_index.clone()
    state["layers.0.blocks.1.attn_mask"] = torch.zeros(4, 49, 49)
    state["norm.weight"] = torch.ones(encoder.out_channels[-1])
    state["head.weight"] = torch.randn(10, encoder.out_channels[-1])
    return state


def _timm_name(key: str, *, features_only: bool) -> str:
    """How timm names one of our (Microsoft-layout) keys, written out by hand from timm's module tree: PatchMerging
    opens the next stage, the classifier is `head.fc`, and a features_only model flattens `layers.N` to `layers_N`."""
    match = re.match(r"^layers\.(\d+)\.downsample\.(.+)$", key)
    if match:
        key = f"layers.{int(match[1]) + 1}.downsample.{match[2]}"
    if key.startswith("head."):
        key = "head.fc." + key[len("head."):]
    if features_only:
        key = re.sub(r"^layers\.(\d+)\.", r"layers_\1.", key)
    return key


def _timm_checkpoint(encoder: SwinTransformer, *, features_only: bool = False) -> dict[str, torch.Tensor]:
    return {_timm_name(k, features_only=features_only): v.contiguous()
            for k, v in _official_style_checkpoint(encoder).items()}


def _assert_encoder_equal(target: SwinTransformer, source: SwinTransformer) -> None:
    target_state = target.state_dict()
    for key, value in source.state_dict().items():
        if not key.startswith("out_norms"):
            assert torch.equal(target_state[key], value), key


def test_load_pretrained_swin_pth_same_window(tmp_path):
    source = SwinTransformer.from_config(TOY_SWIN)
    path = tmp_path / "swin.pth"
    torch.save({"model": {"module." + k: v for k, v in _official_style_checkpoint(source).items()}}, path)
    target = SwinTransformer.from_config(TOY_SWIN)
    report = load_pretrained_swin(target, path)
    assert report.layout == "microsoft"
    assert report.missing == tuple(sorted(k for k in target.state_dict() if k.startswith("out_norms")))
    assert {"head.weight", "norm.weight", "layers.0.blocks.1.attn_mask"} <= set(report.unexpected)
    assert not report.resized and not report.skipped
    _assert_encoder_equal(target, source)


def test_load_pretrained_swin_safetensors_resizes_tables(tmp_path):
    from safetensors.torch import save_file

    source = SwinTransformer.from_config(TOY_SWIN)
    path = tmp_path / "swin.safetensors"
    save_file({k: v.contiguous() for k, v in _official_style_checkpoint(source).items()}, str(path))
    target = SwinTransformer.from_config(dataclasses.replace(TOY_SWIN, window_size=12))
    report = load_pretrained_swin(target, path)
    key = "layers.0.blocks.0.attn.relative_position_bias_table"
    assert key in report.resized and len(report.resized) == 8
    table = source.state_dict()[key]
    grid = table.T.reshape(1, 1, 13, 13)
    expected = F.interpolate(grid, size=(23, 23), mode="bicubic").reshape(1, 529).T
    torch.testing.assert_close(target.state_dict()[key], expected)
    assert torch.equal(target.state_dict()["layers.1.blocks.0.mlp.fc1.weight"],
                       source.state_dict()["layers.1.blocks.0.mlp.fc1.weight"])


def test_resize_relative_position_table_identity():
    table = torch.randn(169, 3)
    torch.testing.assert_close(resize_relative_position_table(table, 169), table)


def test_timm_layout_swin_tiny_safetensors_matches_ours_exactly(tmp_path, caplog):
    """Our Swin-T saved under timm's names (as the hub serves it) loads into a fresh Swin-T tensor for tensor."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    source = SwinTransformer.from_config(SWIN_VARIANTS["swin_tiny_w7"])
    timm_state = _timm_checkpoint(source)
    assert "layers.3.downsample.reduction.weight" in timm_state and "head.fc.weight" in timm_state
    save_file(timm_state, str(tmp_path / "model.safetensors"))
    target = SwinTransformer.from_config(SWIN_VARIANTS["swin_tiny_w7"])
    with caplog.at_level("INFO", logger="training.models.swin_weights"):
        report = load_pretrained_swin(target, tmp_path / "model.safetensors")
    _assert_encoder_equal(target, source)
    assert report.layout == "timm" and report.expected == 169 and not report.skipped
    assert len([k for k in report.loaded if not k.startswith("out_norms")]) == 169
    assert report.missing == tuple(sorted(k for k in target.state_dict() if k.startswith("out_norms")))
    assert "matched 169 of 169 encoder tensors (timm layout" in caplog.text


def test_timm_features_only_pth_with_a_model_wrapper(tmp_path):
    source = SwinTransformer.from_config(TOY_SWIN)
    state = {"model." + k: v for k, v in _timm_checkpoint(source, features_only=True).items()}
    assert "model.layers_1.downsample.norm.weight" in state
    torch.save({"state_dict": state}, tmp_path / "timm.pth")
    target = SwinTransformer.from_config(TOY_SWIN)
    assert load_pretrained_swin(target, tmp_path / "timm.pth").layout == "timm"
    _assert_encoder_equal(target, source)


def test_layout_detection_and_key_renaming():
    assert timm_to_microsoft_key("layers.2.downsample.reduction.weight") == "layers.1.downsample.reduction.weight"
    assert timm_to_microsoft_key("layers_3.blocks.0.attn.qkv.bias") == "layers.3.blocks.0.attn.qkv.bias"
    assert timm_to_microsoft_key("head.fc.weight") == "head.weight"
    assert timm_to_microsoft_key("patch_embed.proj.weight") == "patch_embed.proj.weight"
    assert is_timm_layout(["layers.1.downsample.norm.weight", "layers.3.downsample.norm.weight"])
    assert not is_timm_layout(["layers.0.downsample.norm.weight", "layers.2.downsample.norm.weight"])
    assert is_timm_layout(["patch_embed.proj.weight", "head.fc.weight"])
    assert not is_timm_layout(["patch_embed.proj.weight", "head.weight"])


def test_a_file_without_matching_keys_is_refused_and_loads_nothing(tmp_path):
    from safetensors.torch import save_file

    save_file({"decoder.conv.weight": torch.ones(3, 3), "fc.bias": torch.zeros(3)}, str(tmp_path / "wrong.safetensors"))
    encoder = SwinTransformer.from_config(TOY_SWIN)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    with pytest.raises(FormatError, match=r"wrong\.safetensors: expected Swin weights .* found 0 matching") as info:
        load_pretrained_swin(encoder, tmp_path / "wrong.safetensors")
    assert "\n" not in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())


def test_a_shallower_swin_is_refused_below_the_threshold(tmp_path):
    """A Swin-T-like file for a Swin-S-like encoder (deeper third stage) supplies too few tensors."""
    source = SwinTransformer.from_config(TOY_SWIN)
    torch.save(_official_style_checkpoint(source), tmp_path / "shallow.pth")
    deeper = SwinTransformer.from_config(dataclasses.replace(TOY_SWIN, depths=(2, 2, 10, 2)))
    expected = sum(1 for k in deeper.state_dict() if not k.startswith("out_norms"))
    matched = sum(1 for k in source.state_dict() if not k.startswith("out_norms"))
    assert matched < MIN_MATCHED_FRACTION * expected
    with pytest.raises(FormatError, match=f"found {matched} matching"):
        load_pretrained_swin(deeper, tmp_path / "shallow.pth")


def test_unreadable_and_missing_files_name_the_file(tmp_path):
    encoder = SwinTransformer.from_config(TOY_SWIN)
    torch.save({"model": {"a": 1}}, tmp_path / "bad.pth")
    with pytest.raises(FormatError, match="bad.pth"):
        load_pretrained_swin(encoder, tmp_path / "bad.pth")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(FormatError, match="bad.safetensors"):
        load_pretrained_swin(encoder, tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_pretrained_swin(encoder, tmp_path / "missing.pth")

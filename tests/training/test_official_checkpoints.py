from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from obtoolkit.errors import FormatError
from tests.training.official_names import official_toy_checkpoint, to_official_name
from training.checkpoints import load_model_checkpoint
from training.models import build_modot
from training.official_checkpoints import (
    ConversionError,
    convert_official_checkpoint,
    convert_official_state_dict,
    read_official_checkpoint,
    rename_official_key,
)


def read_tsv(path: Path) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    entries = {}
    for line in path.read_text().splitlines():
        name, shape, dtype = line.split("\t")
        dims = () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))
        entries[name] = (dims, getattr(torch, dtype))
    return entries


def tsv_state(path: Path, device: str) -> dict[str, torch.Tensor]:
    """A state dict with every entry of the TSV: arbitrary values (meta tensors when device == 'meta')."""
    state = {}
    for name, (shape, dtype) in read_tsv(path).items():
        if device == "meta":
            state[name] = torch.empty(shape, dtype=dtype, device="meta")
        elif dtype.is_floating_point:
            state[name] = torch.randn(shape, dtype=dtype)
        else:
            state[name] = torch.randint(0, 100, shape, dtype=dtype)
    return state


@pytest.fixture(scope="module")
def official_tsv(shared_fixtures) -> dict[str, Path]:
    folder = shared_fixtures / "modot_official"
    return {"large07": folder / "official_keys_large07.tsv", "tiny07": folder / "official_keys_tiny07.tsv"}


@pytest.mark.parametrize("encoder", ["large07", "tiny07"])
def test_every_official_key_has_a_name_and_the_names_invert(official_tsv, encoder):
    names, buffers = {}, 0
    for key in read_tsv(official_tsv[encoder]):
        if key.endswith("relative_position_index"):
            buffers += 1
            continue
        name = rename_official_key(key, ssr=False)
        assert name is not None, key
        assert to_official_name(name) == key
        names[name] = key
    assert len(names) == len(read_tsv(official_tsv[encoder])) - buffers  # every other entry has its own name
    assert buffers == {"large07": 32, "tiny07": 20}[encoder]  # one per Swin and NeWCRF block


def test_large07_converts_and_loads_strictly_on_meta(official_tsv):
    converted = convert_official_state_dict(tsv_state(official_tsv["large07"], "meta"), "modot_swin_large_w7")
    with torch.device("meta"):
        model = build_modot("modot_swin_large_w7", max_depth=10.0)
    assert list(converted) == list(model.state_dict())
    model.load_state_dict(converted, strict=True)


def test_tiny07_needs_the_lateral_fix(official_tsv):
    official = tsv_state(official_tsv["tiny07"], "meta")
    with pytest.raises(ConversionError, match="reinit_untrained_laterals") as error:
        convert_official_state_dict(official, "modot_swin_tiny_w7")
    assert "ob_laterals.3.conv.weight (256, 1536, 1, 1) != (256, 768, 1, 1)" in str(error.value)


def test_tiny07_real_tensors_load_strictly(official_tsv):
    official = tsv_state(official_tsv["tiny07"], "cpu")
    converted = convert_official_state_dict(official, "modot_swin_tiny_w7", reinit_untrained_laterals=True)
    model = build_modot("modot_swin_tiny_w7", max_depth=10.0)
    model.load_state_dict(converted, strict=True)
    state = model.state_dict()
    pairs = [("backbone.layers.2.blocks.5.attn.qkv.weight", "encoder.layers.2.blocks.5.attn.qkv.weight"),
             ("backbone.norm3.bias", "encoder.out_norms.3.bias"),
             ("feats_cross1.sa.conv_end.bn.running_var", "casms.3.strips.project.bn.running_var"),
             ("skip_feat4.bn.weight", "ob_laterals.0.bn.weight"),
             ("ob_decoder.decoder_upsamples.2.0.weight", "ob_decoder.transitions.2.weight"),
             ("decoder.psp_modules.3.1.gn.bias", "ppm.branches.3.norm.bias")]
    for official_name, ours in pairs:
        assert torch.equal(state[ours], official[official_name]), ours
    assert state["ob_laterals.3.conv.weight"].shape == (256, 768, 1, 1)


@pytest.mark.slow
def test_large07_real_tensors_load_strictly(official_tsv):
    official = tsv_state(official_tsv["large07"], "cpu")
    model = build_modot("modot_swin_large_w7", max_depth=100.0)
    model.load_state_dict(convert_official_state_dict(official, "modot_swin_large_w7"), strict=True)
    assert torch.equal(model.state_dict()["casms.0.fuse.weight"], official["feats_cross4.fuse_layer.weight"])


def test_module_prefix_unknown_and_missing_keys(official_tsv):
    official = {"module." + k: v for k, v in tsv_state(official_tsv["large07"], "meta").items()}
    convert_official_state_dict(official, "modot_swin_large_w7")
    official["module.extra_head.weight"] = torch.empty(3, device="meta")
    del official["module.crf2.norm_crf.weight"]
    with pytest.raises(ConversionError) as error:
        convert_official_state_dict(official, "modot_swin_large_w7")
    message = str(error.value)
    assert "extra_head.weight" in message
    assert "depth_decoders.2.norm.weight" in message
    with pytest.raises(ConversionError, match="shape mismatch"):
        convert_official_state_dict(tsv_state(official_tsv["large07"], "meta"), "modot_swin_base_w7")


def _official_ssr_state(official_tsv) -> dict[str, torch.Tensor]:
    """MoDOT_SSR keys: stage 1 under `init_model.module.`, the refiner's modules, all under DataParallel."""
    stage1 = tsv_state(official_tsv["large07"], "meta")
    state = {f"init_model.module.{k}": v for k, v in stage1.items()}
    state.update({k.replace("feats_cross3.", "feats_cross_final."): v for k, v in stage1.items()
                  if k.startswith("feats_cross3.")})  # CASM(64), like feats_cross3

    def conv_bn(prefix: str, out_channels: int, in_channels: int, kernel: int) -> None:
        state[f"{prefix}.conv.weight"] = torch.empty(out_channels, in_channels, kernel, kernel, device="meta")
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            state[f"{prefix}.bn.{suffix}"] = torch.empty(out_channels, device="meta")
        state[f"{prefix}.bn.num_batches_tracked"] = torch.empty((), dtype=torch.int64, device="meta")

    def bottleneck(prefix: str) -> None:
        for i, shape in ((1, (16, 64, 1, 1)), (2, (16, 16, 3, 3)), (3, (64, 16, 1, 1))):
            state[f"{prefix}.conv{i}.weight"] = torch.empty(shape, device="meta")
            for suffix in ("weight", "bias", "running_mean", "running_var"):
                state[f"{prefix}.bn{i}.{suffix}"] = torch.empty(shape[0], device="meta")
            state[f"{prefix}.bn{i}.num_batches_tracked"] = torch.empty((), dtype=torch.int64, device="meta")

    conv_bn("double_ob.0", 64, 64, 3)
    conv_bn("double_ob.1", 64, 64, 1)
    bottleneck("heads.depth.0")
    bottleneck("ob_bottleneck")
    for head in ("heads.depth.1", "ob_conv_out_"):
        state[f"{head}.weight"] = torch.empty(1, 64, 1, 1, device="meta")
        state[f"{head}.bias"] = torch.empty(1, device="meta")
    state["conv_down.weight"] = torch.empty(64, 128, 1, 1, device="meta")
    state["conv_down.bias"] = torch.empty(64, device="meta")
    return {f"module.{k}": v for k, v in state.items()}


def test_ssr_conversion(official_tsv):
    converted = convert_official_state_dict(_official_ssr_state(official_tsv), "modot_ssr_swin_large_w7")
    with torch.device("meta"):
        model = build_modot("modot_ssr_swin_large_w7", max_depth=100.0)
    model.load_state_dict(converted, strict=True)
    assert "stage1.casms.0.fuse.weight" in converted and "boundary_head.bottleneck.conv2.weight" in converted


def test_convert_official_checkpoint_file(tmp_path, toy_variants):
    variant, _ = toy_variants
    model = official_toy_checkpoint(tmp_path / "official.pth", variant)
    out = convert_official_checkpoint(tmp_path / "official.pth", tmp_path / "ours.pt", variant=variant,
                                      max_depth=100.0, depth_unit_m=3.05)
    loaded, info = load_model_checkpoint(out)
    assert info.max_depth == 100.0 and info.extra["converted_from"].endswith("official.pth")
    loaded_state = loaded.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded_state[key], value), key


def test_read_official_checkpoint_with_pickled_objects(tmp_path, toy_variants):
    variant, _ = toy_variants
    official_toy_checkpoint(tmp_path / "plain.pth", variant)
    payload = torch.load(tmp_path / "plain.pth", weights_only=True)
    torch.save({**payload, "args": argparse.Namespace(lr=1e-4)}, tmp_path / "pickled.pth")
    with pytest.raises(FormatError, match="trust_pickle"):
        read_official_checkpoint(tmp_path / "pickled.pth")
    assert len(read_official_checkpoint(tmp_path / "pickled.pth", trust_pickle=True)) == len(payload["model"])

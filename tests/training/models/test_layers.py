from __future__ import annotations

import itertools

import pytest
import torch

from training.models.layers import (
    ChannelGate,
    ConvBNReLU,
    DropPath,
    ResidualBottleneck,
    SpatialGate,
    center_crop_or_pad,
    check_image_batch,
)


def _official_crop(data1: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The official `crop(data1, data2)`, written out step by step (the slow reference)."""
    h1, w1 = data1.shape[-2:]
    if (h1, w1) == (height, width):
        return data1
    if h1 < height or w1 < width:
        pad_h = max((height - h1) // 2 + 1, 0)
        pad_w = max((width - w1) // 2 + 1, 0)
        data1 = torch.nn.ConstantPad2d((pad_w, pad_w, pad_h, pad_h), 0)(data1)
        h1, w1 = data1.shape[-2:]
    top, left = (h1 - height) // 2, (w1 - width) // 2
    return data1[:, :, top:top + height, left:left + width]


@pytest.mark.parametrize(("h_in", "w_in"), [(5, 5), (6, 7), (8, 3)])
def test_center_crop_or_pad_reproduces_the_official_crop(h_in, w_in):
    x = torch.randn(2, 3, h_in, w_in)
    for height, width in itertools.product(range(1, 11), range(1, 11)):
        assert torch.equal(center_crop_or_pad(x, height, width), _official_crop(x, height, width)), (height, width)


def test_center_crop_returns_a_view_when_only_cropping():
    x = torch.randn(1, 1, 8, 8)
    out = center_crop_or_pad(x, 5, 6)
    assert out.data_ptr() != 0 and out._base is x


def test_conv_bn_relu_shapes_and_activation():
    block = ConvBNReLU(4, 6, 3, stride=2)
    out = block(torch.randn(2, 4, 9, 10))
    assert out.shape == (2, 6, 5, 5) and (out >= 0).all()
    no_relu = ConvBNReLU(4, 6, 1, relu=False)
    assert (no_relu(torch.randn(2, 4, 5, 5)) < 0).any()
    assert set(no_relu.state_dict()) >= {"conv.weight", "bn.weight", "bn.running_mean"}


def test_gates_shapes_and_ranges():
    x = torch.randn(2, 32, 7, 9)
    channel = ChannelGate(32, 4)(x)
    spatial = SpatialGate(5)(x)
    assert channel.shape == (2, 32, 1, 1) and spatial.shape == (2, 1, 7, 9)
    for weights in (channel, spatial):
        assert ((weights > 0) & (weights < 1)).all()


def test_channel_gate_is_cbam():
    gate = ChannelGate(8, 2)
    x = torch.randn(3, 8, 4, 5)
    mlp = gate.mlp
    expected = torch.sigmoid(mlp(x.amax(dim=(2, 3), keepdim=True)) + mlp(x.mean(dim=(2, 3), keepdim=True)))
    torch.testing.assert_close(gate(x), expected)


def test_residual_bottleneck():
    block = ResidualBottleneck(64, 16)
    assert block(torch.randn(2, 64, 5, 5)).shape == (2, 64, 5, 5)
    assert sum(p.numel() for p in block.parameters()) == 4544  # the official Bottleneck(64, 16)
    with pytest.raises(ValueError, match="width"):
        ResidualBottleneck(64, 8)


def test_drop_path():
    x = torch.ones(1000, 3)
    drop = DropPath(0.25)
    assert torch.equal(drop.eval()(x), x)
    out = drop.train()(x)
    kept = out[:, 0] != 0
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.75))
    assert 0.6 < kept.float().mean() < 0.9
    assert torch.equal(DropPath(0.0).train()(x), x)


@pytest.mark.parametrize(("images", "message"), [
    (torch.zeros(3, 8, 8), "shape"),
    (torch.zeros(1, 4, 8, 8), "shape"),
    (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "floating"),
])
def test_check_image_batch_rejects(images, message):
    with pytest.raises(ValueError, match=message):
        check_image_batch(images)

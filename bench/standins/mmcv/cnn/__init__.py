"""`ConvModule` as the official MoDOT network uses it: conv -> optional BN / GN -> optional ReLU."""

from __future__ import annotations

from torch import nn


class ConvModule(nn.Module):
    """Conv2d, then the norm of `norm_cfg` (`{"type": "BN"}` or `{"type": "GN", "num_groups": G}`, attribute `bn` or
    `gn`), then ReLU (`act_cfg` None: none); the conv has a bias only when no norm follows (mmcv's bias="auto")."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias="auto", conv_cfg=None, norm_cfg=None, act_cfg={"type": "ReLU"}, inplace=True, **_):  # noqa: B006
        super().__init__()
        with_norm = norm_cfg is not None
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                              bias=(not with_norm) if bias == "auto" else bias)
        self.norm_name = None
        if with_norm:
            if norm_cfg["type"] == "GN":
                self.norm_name, norm = "gn", nn.GroupNorm(norm_cfg["num_groups"], out_channels)
            else:
                self.norm_name, norm = "bn", nn.BatchNorm2d(out_channels)
            self.add_module(self.norm_name, norm)
        self.activate = nn.ReLU(inplace=inplace) if act_cfg is not None else None

    def forward(self, x):
        x = self.conv(x)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        return x if self.activate is None else self.activate(x)

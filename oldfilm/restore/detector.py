"""BOPBTL's scratch-detector U-Net (restore-spec §2), parameterised by size.

Published configuration (``Global/checkpoints/detection/FT_Epoch_latest.pt``): in_channels=1,
out_channels=1, depth=4, conv_num=2, wf=6 -> 37,626,177 parameters. BatchNorm (running stats in
eval), LeakyReLU 0.2, BlurPool downsampling, bilinear upsampling, reflect padding everywhere.
Eval-mode output depends only on a bounded neighbourhood, so it tiles exactly away from borders.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

PUBLISHED_DETECTOR = {"in_channels": 1, "out_channels": 1, "depth": 4, "conv_num": 2, "wf": 6}


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: depthwise [1,2,1]^T[1,2,1]/16, reflect pad 1.

    The filter is a buffer named ``filt`` because the published state_dict holds it.
    """

    def __init__(self, channels: int):
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        filt = a[:, None] * a[None, :]
        self.register_buffer("filt", (filt / filt.sum())[None, None].repeat(channels, 1, 1, 1))
        self.pad = nn.ReflectionPad2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.pad(x), self.filt, stride=2, groups=x.shape[1])


class ConvBlock(nn.Module):
    """conv_num x (ReflPad1, Conv3x3, BN, LReLU 0.2); keys ``block.{1,2,5,6}``."""

    def __init__(self, conv_num: int, cin: int, cout: int):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(conv_num):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
            cin = cout
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class UpBlock(nn.Module):
    def __init__(self, conv_num: int, cin: int, cout: int):
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3))
        self.conv_block = ConvBlock(conv_num, cin, cout)

    def forward(self, x: torch.Tensor, bridge: torch.Tensor) -> torch.Tensor:
        up = self.up(x)
        dy = (bridge.shape[2] - up.shape[2]) // 2
        dx = (bridge.shape[3] - up.shape[3]) // 2
        bridge = bridge[:, :, dy:dy + up.shape[2], dx:dx + up.shape[3]]
        return self.conv_block(torch.cat([up, bridge], 1))


class ScratchDetector(nn.Module):
    """``forward``: float32 N x in_channels x H x W grey in [-1, 1], H, W multiples of 2**depth
    -> N x out_channels x H x W logits (scratch probability = sigmoid; mask = p >= 0.4)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, depth: int = 4, conv_num: int = 2, wf: int = 6):
        super().__init__()
        self.config = {"in_channels": in_channels, "out_channels": out_channels, "depth": depth,
                       "conv_num": conv_num, "wf": wf}
        self.multiple = 2**depth
        self.first = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_channels, 2**wf, 7), nn.LeakyReLU(0.2, True))
        prev = 2**wf
        self.down_sample = nn.ModuleList()
        self.down_path = nn.ModuleList()
        for i in range(depth):
            self.down_sample.append(nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(prev, prev, 3), nn.BatchNorm2d(prev),
                                                  nn.LeakyReLU(0.2, True), BlurPool(prev)))
            self.down_path.append(ConvBlock(conv_num, prev, 2 ** (wf + i + 1)))
            prev = 2 ** (wf + i + 1)
        self.up_path = nn.ModuleList()
        for i in reversed(range(depth)):
            self.up_path.append(UpBlock(conv_num, prev, 2 ** (wf + i)))
            prev = 2 ** (wf + i)
        self.last = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(prev, out_channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        skips = []
        for down, block in zip(self.down_sample, self.down_path):
            skips.append(x)
            x = block(down(x))
        for i, up in enumerate(self.up_path):
            x = up(x, skips[-i - 1])
        return self.last(x)


def build_detector(config: dict) -> ScratchDetector:
    """``config`` keys: in_channels, out_channels, depth, conv_num, wf (all optional)."""
    return ScratchDetector(**{**PUBLISHED_DETECTOR, **config})


def deepen_state_dict(state: dict[str, torch.Tensor], depth: int, new_depth: int) -> dict[str, torch.Tensor]:
    """A ``depth``-level detector's weights laid out for ``new_depth`` >= ``depth`` levels (same wf
    and conv_num): the first ``depth`` down levels, the stem and the head keep their weights; the
    up blocks move down the list (the deepest up block comes first), so each keeps its resolution
    and channels. The new deepest levels are left out, for a warm start to initialise fresh."""
    if new_depth < depth:
        raise ValueError(f"cannot deepen a {depth}-level detector to {new_depth} levels")
    shift = new_depth - depth
    out = {}
    for k, v in state.items():
        if k.startswith("up_path."):
            i, rest = k[len("up_path."):].split(".", 1)
            k = f"up_path.{int(i) + shift}.{rest}"
        out[k] = v
    return out

"""The DeOldify-compatible colorizer generator family: one implementation, several sizes.

``DynamicUnetDeep`` (Artistic: resnet34, nf_factor 1.5) and ``DynamicUnetWide`` (Stable/Video:
resnet101, nf_factor 2) are the same U-Net with a different decoder block; our light default is
this code with a smaller encoder and narrower decoder. The module tree reproduces the published
state_dict keys exactly (``layers.N....``; colorize-spec.md §1–§2).

Forward: float32 N×3×H×W ImageNet-normalised gray (3 equal channels) in, ImageNet-normalised RGB
N×3×H×W in (−3, 3) out. H and W need not be multiples of 32 (skips are matched by nearest resize).

Config keys (a JSON-able dict; stored in our safetensors metadata, so they never change):

* ``unet``: ``"deep"`` (two convs per decoder block) or ``"wide"`` (one wide conv per block);
* ``encoder``: ``resnet18|resnet34|resnet50|resnet101`` (torchvision layout, untrained);
* ``nf_factor``: float, deep: conv width = channels-in × nf_factor; wide: width = ``wide_base`` × nf_factor;
* ``wide_base``: int, 512 in DeOldify (wide only);
* ``middle_mult``: int, the bottleneck's widening (2 in DeOldify);
* ``self_attention``: bool, SA at 1/8 resolution in the second decoder block;
* ``n_classes``: 3;
* ``chroma_gain``: float, 1 in DeOldify. Scales the output's chroma (OpenCV's YUV U and V, the
  channels the colorizer keeps) by this factor, lightness unchanged: a model's calibrated
  colourfulness, for weight averages whose colours come out muted (oldfilm.colorize.soup). A
  fixed affine map of the output, with no weights, so the state_dict keys do not change.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from oldfilm.nn.conv_blocks import ResBlock, sn_conv_bn
from oldfilm.nn.norm_conv import SpectralNormConv
from oldfilm.nn.pixel_shuffle import PixelShuffleICNR
from oldfilm.nn.resnet_encoder import SKIP_INDICES, resnet_trunk, trunk_channels

from .render import IMAGENET_MEAN, IMAGENET_STD  # the output's normalisation

ARCH_NAME = "deoldify-unet"

DEFAULT_CONFIG: dict = {
    "unet": "wide",
    "encoder": "resnet34",
    "nf_factor": 1.0,
    "wide_base": 512,
    "middle_mult": 2,
    "self_attention": True,
    "n_classes": 3,
    "chroma_gain": 1.0,
}
ARTISTIC_CONFIG: dict = {**DEFAULT_CONFIG, "unet": "deep", "encoder": "resnet34", "nf_factor": 1.5}
STABLE_CONFIG: dict = {**DEFAULT_CONFIG, "unet": "wide", "encoder": "resnet101", "nf_factor": 2}
# A laptop-sized member of the family (16.2 M parameters, 11.2 M of them the resnet18): the
# config of our trained default (oldfilm.colorize.train GEN_PRESETS["default"]).
LIGHT_CONFIG: dict = {
    **DEFAULT_CONFIG, "unet": "wide", "encoder": "resnet18", "nf_factor": 0.125, "middle_mult": 1,
}

Y_RANGE = (-3.0, 3.0)
LUMA = (0.299, 0.587, 0.114)              # OpenCV's RGB2YUV Y (ITU-R 601)


def chroma_gain_affine(gain: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(A 3×3, b 3): y ↦ A y + b on ImageNet-normalised RGB that scales its U and V by ``gain``.

    In RGB in [0, 1], rgb' = Y + gain·(rgb − Y) with Y = LUMA·rgb keeps Y and scales U = 0.492(B − Y)
    and V = 0.877(R − Y) by ``gain``; conjugated by the normalisation rgb = std·y + mean."""
    w = torch.tensor(LUMA, dtype=torch.float64)
    m = gain * torch.eye(3, dtype=torch.float64) + (1 - gain) * torch.ones(3, 1, dtype=torch.float64) * w[None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64)
    a = m * std[None] / std[:, None]
    b = ((m - torch.eye(3, dtype=torch.float64)) @ mean) / std
    return a.float(), b.float()


def generator_config(config: dict) -> dict:
    """The full config: ``config`` over DEFAULT_CONFIG, validated (unknown keys are an error)."""
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError(f"unknown generator config keys: {', '.join(sorted(unknown))}")
    full = {**DEFAULT_CONFIG, **config}
    if full["unet"] not in ("deep", "wide"):
        raise ValueError(f"unet must be 'deep' or 'wide', not {full['unet']!r}")
    trunk_channels(full["encoder"])  # validates the name
    if float(full["nf_factor"]) <= 0 or int(full["middle_mult"]) < 1 or int(full["wide_base"]) < 8:
        raise ValueError("nf_factor must be > 0, middle_mult >= 1, wide_base >= 8")
    if not 0 <= float(full["chroma_gain"]) <= 4:
        raise ValueError(f"chroma_gain must be in [0, 4], not {full['chroma_gain']}")
    return full


class UnetBlockDeep(nn.Module):
    """Upsample ``up_in``, concat with BN(skip), two SN convs (DeOldify ``UnetBlockDeep``)."""

    def __init__(self, up_in: int, skip_in: int, final_div: bool, self_attention: bool, nf_factor: float):
        super().__init__()
        self.shuf = PixelShuffleICNR(up_in, up_in // 2)
        self.bn = nn.BatchNorm2d(skip_in)
        ni = up_in // 2 + skip_in
        nf = int((ni if final_div else ni // 2) * nf_factor)
        self.conv1 = sn_conv_bn(ni, nf)
        self.conv2 = sn_conv_bn(nf, nf, self_attention=self_attention)
        self.out_channels = nf

    def forward(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(_merge(self.shuf(up_in), self.bn(skip))))


class UnetBlockWide(nn.Module):
    """Upsample ``up_in``, concat with BN(skip), one SN conv (DeOldify ``UnetBlockWide``)."""

    def __init__(self, up_in: int, skip_in: int, n_out: int, self_attention: bool):
        super().__init__()
        up_out = x_out = n_out // 2
        self.shuf = PixelShuffleICNR(up_in, up_out)
        self.bn = nn.BatchNorm2d(skip_in)
        self.conv = sn_conv_bn(up_out + skip_in, x_out, self_attention=self_attention)
        self.out_channels = x_out

    def forward(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(_merge(self.shuf(up_in), self.bn(skip)))


def _merge(up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    # Odd render sizes leave the upsampled map one pixel off the skip; legacy 'nearest' as fastai.
    if up.shape[-2:] != skip.shape[-2:]:
        up = F.interpolate(up, skip.shape[-2:], mode="nearest")
    return F.relu(torch.cat([up, skip], dim=1))


class _Passthrough(nn.Module):
    """Parameter-free placeholder for the Sequential slots whose work the parent forward does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - never called
        return x


class DeOldifyUnet(nn.Module):
    """The U-Net of colorize-spec §1. ``self.layers`` indices match the published keys:

    0 encoder trunk · 1 BN · 2 ReLU · 3 middle · 4–7 decoder blocks · 8 final shuffle (weight
    norm) · 9 cat with input · 10 res block · 11 1×1 SN conv · 12 sigmoid range (forward only).
    """

    def __init__(self, config: dict):
        super().__init__()
        cfg = generator_config(config)
        self.config = cfg
        # plain tensors, not buffers: the map follows from the config and adds no state_dict keys
        gain = float(cfg["chroma_gain"])
        self.chroma_gain = None if gain == 1.0 else chroma_gain_affine(gain)
        enc_ch, skip_chs = trunk_channels(cfg["encoder"])
        mid = enc_ch * int(cfg["middle_mult"])
        n_in = 3
        layers: list[nn.Module] = [
            resnet_trunk(cfg["encoder"]),
            _batchnorm(enc_ch),
            nn.ReLU(),
            nn.Sequential(sn_conv_bn(enc_ch, mid), sn_conv_bn(mid, enc_ch)),
        ]
        up_in = enc_ch
        n_blocks = len(SKIP_INDICES)
        for i, skip_in in enumerate(skip_chs):
            final = i == n_blocks - 1
            sa = bool(cfg["self_attention"]) and i == n_blocks - 3
            if cfg["unet"] == "deep":
                block: nn.Module = UnetBlockDeep(up_in, skip_in, not final, sa, float(cfg["nf_factor"]))
            else:
                nf = int(int(cfg["wide_base"]) * float(cfg["nf_factor"]))
                block = UnetBlockWide(up_in, skip_in, nf // 2 if final else nf, sa)
            layers.append(block)
            up_in = block.out_channels
        layers.append(PixelShuffleICNR(up_in, up_in, norm="weight"))
        layers.append(_Passthrough())  # 9: MergeLayer(dense) — concatenates the model input
        head_ch = up_in + n_in
        layers.append(ResBlock(head_ch))
        layers.append(nn.Sequential(SpectralNormConv(head_ch, int(cfg["n_classes"]), 1, bias=True)))
        layers.append(_Passthrough())  # 12: SigmoidRange(-3, 3)
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x, None)[0]

    def forward_with_features(self, x: torch.Tensor, trunk_index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(output, the encoder trunk's output at ``trunk_index``) from one pass: features for
        matching frames to reference colours (oldfilm.colorize.reference) at no extra cost."""
        if not 0 <= trunk_index < len(self.layers[0]):
            raise ValueError(f"trunk_index {trunk_index}: the trunk has {len(self.layers[0])} layers")
        y, feats = self._forward(x, trunk_index)
        assert feats is not None
        return y, feats

    def _forward(self, x: torch.Tensor, keep: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        trunk = self.layers[0]
        skips: dict[int, torch.Tensor] = {}
        kept: torch.Tensor | None = None
        h = x
        for idx, layer in enumerate(trunk):
            h = layer(h)
            if idx in SKIP_INDICES:
                skips[idx] = h
            if idx == keep:
                kept = h
        h = self.layers[3](self.layers[2](self.layers[1](h)))
        for block, idx in zip(self.layers[4:8], SKIP_INDICES):
            h = block(h, skips[idx])
        skips.clear()
        h = self.layers[8](h)
        h = torch.cat([h, x], dim=1)
        h = self.layers[11](self.layers[10](h))
        lo, hi = Y_RANGE
        y = torch.sigmoid(h) * (hi - lo) + lo
        if self.chroma_gain is not None:
            a, b = self.chroma_gain
            y = F.conv2d(y, a.to(y)[:, :, None, None], b.to(y))
        return y, kept


def _batchnorm(nf: int) -> nn.BatchNorm2d:
    # fastai batchnorm_2d init: weight 1, bias 1e-3.
    bn = nn.BatchNorm2d(nf)
    with torch.no_grad():
        bn.bias.fill_(1e-3)
        bn.weight.fill_(1.0)
    return bn


def build_generator(config: dict) -> DeOldifyUnet:
    """A freshly initialised generator (train mode, float32) for ``config`` (see module doc)."""
    return DeOldifyUnet(config)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

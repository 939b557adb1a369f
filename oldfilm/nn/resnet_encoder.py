"""torchvision ResNet trunks (children[:-2]) used as U-Net encoders, with their skip points."""
from __future__ import annotations

import torchvision
from torch import nn

ENCODERS = ("resnet18", "resnet34", "resnet50", "resnet101")

# Indices in the trunk whose outputs feed the decoder, deepest first: layer3, layer2, layer1 and
# the stem ReLU (½ resolution); fastai found them where a probe's spatial size changes.
SKIP_INDICES = (6, 5, 4, 2)


def resnet_trunk(name: str) -> nn.Sequential:
    """conv1, bn1, relu, maxpool, layer1..4 of an untrained torchvision ResNet (keys ``0..7``)."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r} (expected one of {', '.join(ENCODERS)})")
    net = getattr(torchvision.models, name)(weights=None)
    return nn.Sequential(*list(net.children())[:-2])


def trunk_channels(name: str) -> tuple[int, tuple[int, ...]]:
    """(output channels, skip channels in SKIP_INDICES order) of a trunk."""
    if name in ("resnet18", "resnet34"):
        return 512, (256, 128, 64, 64)
    if name in ("resnet50", "resnet101"):
        return 2048, (1024, 512, 256, 64)
    raise ValueError(f"unknown encoder {name!r} (expected one of {', '.join(ENCODERS)})")

"""BOPBTL's three latent mapping networks (restore-spec §3.3-3.5), parameterised by size.

Published configuration: nc=64 (latent channels), mc=512, n_up=4, and
* ``quality`` (Mapping_Model, 36,135,232 params): keys ``model.{0,3,6,9,12..17,18,21,24,27}``;
* ``scratch`` (Mapping_Model_with_mask, partial non-local, 51,344,704): ``before_NL``, ``NL``,
  ``after_NL``;
* ``patch_attention`` (Mapping_Model_with_mask_2, HR, 73,904,448): ``before_NL``,
  ``NL_scale_{1,2,3}``, ``res_block_{1,2}``, ``after_NL``.
All map N x nc x h x w latents to the same shape; the masked ones also take the scratch mask at
IMAGE resolution (N x 1 x 4h x 4w, 1 = scratch) and resize it themselves.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import PartialNonLocal, PatchAttention
from .resblock import ResnetBlock, conv_in_relu

MAPPING_KINDS = ("quality", "scratch", "patch_attention")
PUBLISHED_MAPPING = {"nc": 64, "mc": 512, "n_up": 4, "n_blocks": 6, "nl_blocks": 3, "patch_sizes": [8, 4, 2]}


def _widths(nc: int, mc: int, n_up: int) -> list[int]:
    return [min(nc * 2**i, mc) for i in range(n_up + 1)]


def _down_layers(w: list[int], norm: str = "instance") -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(len(w) - 1):
        layers += conv_in_relu(w[i], w[i + 1], norm)
    return layers


def _up_layers(w: list[int], norm: str = "instance") -> list[nn.Module]:
    n_up = len(w) - 1
    layers: list[nn.Module] = []
    for i in range(n_up - 1):
        layers += conv_in_relu(w[n_up - i], w[n_up - 1 - i], norm)
    layers.append(nn.Conv2d(w[1], w[0], 3, 1, 1))
    return layers


class QualityMapping(nn.Module):
    needs_mask = False

    def __init__(self, nc: int = 64, mc: int = 512, n_up: int = 4, n_blocks: int = 6, norm: str = "instance"):
        super().__init__()
        w = _widths(nc, mc, n_up)
        self.model = nn.Sequential(*_down_layers(w, norm), *[ResnetBlock(w[-1], norm=norm) for _ in range(n_blocks)],
                                   *_up_layers(w, norm))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z)


class ScratchMapping(nn.Module):
    needs_mask = True

    def __init__(self, nc: int = 64, mc: int = 512, n_up: int = 4, n_blocks: int = 6, nl_blocks: int = 3,
                 max_keys: int = 128 * 128, norm: str = "instance"):
        super().__init__()
        w = _widths(nc, mc, n_up)
        self.before_NL = nn.Sequential(*_down_layers(w, norm))
        self.NL = PartialNonLocal(w[-1], w[-1], n_res=nl_blocks, max_keys=max_keys, norm=norm)
        self.after_NL = nn.Sequential(*[ResnetBlock(w[-1], norm=norm) for _ in range(n_blocks)], *_up_layers(w, norm))

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.after_NL(self.NL(self.before_NL(z), mask))


class PatchAttentionMapping(nn.Module):
    needs_mask = True

    def __init__(self, nc: int = 64, mc: int = 512, n_up: int = 4, n_res: int = 2,
                 patch_sizes: tuple[int, ...] | list[int] = (8, 4, 2)):
        super().__init__()
        if len(patch_sizes) != 3:
            raise ValueError("patch_attention mapping has exactly three scales")
        w = _widths(nc, mc, n_up)
        c = w[-1]
        self.patch_sizes = tuple(patch_sizes)
        self.before_NL = nn.Sequential(*_down_layers(w), *[ResnetBlock(c) for _ in range(n_res)])
        self.NL_scale_1 = PatchAttention(c, patch_sizes[0])
        self.res_block_1 = nn.Sequential(*[ResnetBlock(c) for _ in range(n_res)])
        self.NL_scale_2 = PatchAttention(c, patch_sizes[1])
        self.res_block_2 = nn.Sequential(*[ResnetBlock(c) for _ in range(n_res)])
        self.NL_scale_3 = PatchAttention(c, patch_sizes[2])
        self.after_NL = nn.Sequential(*[ResnetBlock(c) for _ in range(n_res)], *_up_layers(w))

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.NL_scale_1(self.before_NL(z), mask)
        x = self.NL_scale_2(self.res_block_1(x), mask)
        x = self.NL_scale_3(self.res_block_2(x), mask)
        return self.after_NL(x)


def build_mapping(config: dict) -> nn.Module:
    """``config["kind"]`` in quality|scratch|patch_attention; other keys: nc, mc, n_up, n_blocks
    (quality, scratch), nl_blocks and max_keys (scratch), n_res and patch_sizes (patch_attention),
    norm (quality, scratch: "instance" as published, or "none", context_norm.make_norm)."""
    cfg = {**PUBLISHED_MAPPING, **config}
    kind = cfg.get("kind", "quality")
    common = {"nc": cfg["nc"], "mc": cfg["mc"], "n_up": cfg["n_up"]}
    if kind in ("quality", "scratch"):
        common["norm"] = cfg.get("norm", "instance")
    elif cfg.get("norm", "instance") != "instance":
        raise ValueError("the patch_attention mapping exists only with BOPBTL's instance norm")
    if kind == "quality":
        return QualityMapping(**common, n_blocks=cfg["n_blocks"])
    if kind == "scratch":
        return ScratchMapping(**common, n_blocks=cfg["n_blocks"], nl_blocks=cfg["nl_blocks"],
                              **({"max_keys": cfg["max_keys"]} if "max_keys" in cfg else {}))
    if kind == "patch_attention":
        return PatchAttentionMapping(**common, n_res=cfg.get("n_res", 2), patch_sizes=cfg["patch_sizes"])
    raise ValueError(f"unknown mapping kind {kind!r} (expected one of {', '.join(MAPPING_KINDS)})")

"""BOPBTL's VAE, ``GlobalGenerator_DCDCv2`` (restore-spec §3.2), parameterised by size.

Published configuration (VAE_A_quality, VAE_B_quality, VAE_B_scratch): ngf=64, mc=64,
n_down=2, n_res=4 -> 872,131 parameters; latent = ``latent_channels`` x H/4 x W/4.
Keys: ``encoder.{1,4,7,10..13}``, ``decoder.{0..3,4,7,11}`` for those values.
"""
from __future__ import annotations

import torch
from torch import nn

from .context_norm import make_norm
from .resblock import ResnetBlock

PUBLISHED_VAE = {"ngf": 64, "mc": 64, "n_down": 2, "n_res": 4, "in_channels": 3, "out_channels": 3}


class VAE(nn.Module):
    """Encoder image -> latent, decoder latent -> image (tanh).

    ``encode``: float32 N x in_channels x H x W in [-1, 1], H and W multiples of 2**n_down,
    -> N x latent_channels x H/2**n_down x W/2**n_down (unbounded).
    ``decode``: latent -> N x out_channels x H x W in (-1, 1).
    ``forward(x) = decode(encode(x))`` (the training path adds noise itself).
    """

    def __init__(self, ngf: int = 64, mc: int = 64, n_down: int = 2, n_res: int = 4,
                 in_channels: int = 3, out_channels: int = 3, norm: str = "instance"):
        super().__init__()
        self.config = {"ngf": ngf, "mc": mc, "n_down": n_down, "n_res": n_res,
                       "in_channels": in_channels, "out_channels": out_channels}
        if norm != "instance":
            self.config["norm"] = norm
        widths = [min(ngf * 2**i, mc) for i in range(n_down + 1)]
        self.latent_channels = widths[-1]
        self.scale = 2**n_down
        enc: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, widths[0], 7),
                                make_norm(widths[0], norm), nn.ReLU(True)]
        for i in range(n_down):
            enc += [nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1), make_norm(widths[i + 1], norm), nn.ReLU(True)]
        enc += [ResnetBlock(widths[-1], norm=norm) for _ in range(n_res)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [ResnetBlock(widths[-1], norm=norm) for _ in range(n_res)]
        for i in reversed(range(n_down)):
            dec += [nn.ConvTranspose2d(widths[i + 1], widths[i], 4, 2, 1), make_norm(widths[i], norm),
                    nn.ReLU(True)]
        dec += [nn.ReflectionPad2d(3), nn.Conv2d(widths[0], out_channels, 7), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def build_vae(config: dict) -> VAE:
    """``config`` keys: ngf, mc, n_down, n_res, in_channels, out_channels, norm (all optional;
    norm "instance" as published, or "none": context_norm.make_norm)."""
    return VAE(**{**PUBLISHED_VAE, **config})

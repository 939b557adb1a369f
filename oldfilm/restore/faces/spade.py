"""The SPADE face-enhancement generator of BOPBTL (``Face_Enhancement``), in plain PyTorch.

Compatible key for key with the published ``Setting_9_epoch_100`` (256) and ``FaceSR_512``
checkpoints (restore-spec.md §5; manifests ``bopbtl-face-spade-256/512``). The published files
are :data:`PUBLISHED_CONFIG`; our light default is the same code with smaller widths.

Why the original's 18-channel label map is gone: BOPBTL runs with ``no_parsing_map=True``. With
that flag ``SPADEGenerator.forward`` feeds ``fc`` the degraded face (not the label map), and every
``SPADE.forward`` resizes the label map but then feeds ``mlp_shared`` only the degraded face, so
the label tensor reaches no computation. It is all zeros anyway (``face_dataset.py``). Dropping it
changes no output bit.

Layout (``ngf`` = nf, ``n_up`` = 5 for the published "normal" setting)::

    face -> bilinear to (H/2^n_up, W/2^n_up) -> fc 3->16nf
    head_0 16nf@s -> up -> G_middle_0, G_middle_1 16nf -> up -> up_0 16nf->8nf -> up -> up_1 8nf->4nf
    -> up -> up_2 4nf->2nf -> up -> up_3 2nf->nf -> LeakyReLU(0.2) -> conv_img nf->3 -> tanh

Every block is modulated by the degraded face (SPADE, ``injection_layer=all``). The published
generator is fully convolutional: its start size follows the input size (``load_size / 32``),
so a 256 input runs the 256 model exactly as the original and a 512 input the 512 model.

``residual=True`` (ours, off in the published config): the output is the input face plus
``tanh(conv_img(...))``, clamped to [-1, 1], and ``conv_img`` starts at zero, so an untrained
generator is the identity. Inside ``oldfilm restore`` the face stage gets the global restorer's
already cleaned output; a light generator that must redraw the whole face from it loses detail
it was given (docs/training-restore.md §11), one that adds a correction cannot start below it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import OldfilmError

ARCH_NAME = "bopbtl-spade-face"


@dataclass(frozen=True)
class SpadeFaceConfig:
    """Sizes of one SPADE face generator. Keys are stable: builtin checkpoints store them.

    ngf: base width nf (published 64; channels run 16nf ... nf).
    spade_hidden: hidden width of each SPADE modulation MLP (published 128).
    spectral_norm: spectral norm on the residual convs (published True; legacy key layout).
    param_free_norm: "batch" (published: SyncBatchNorm, running stats at inference) or "instance".
    n_up: number of 2x upsamplings (published 5, "normal"); the input side must divide by 2**n_up.
    residual: output = input + correction (ours; the published generator redraws the face).
    """

    ngf: int = 64
    spade_hidden: int = 128
    spectral_norm: bool = True
    param_free_norm: str = "batch"
    n_up: int = 5
    residual: bool = False

    @classmethod
    def from_dict(cls, config: dict) -> "SpadeFaceConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:
            raise OldfilmError(f"unknown SPADE face generator config keys: {', '.join(sorted(unknown))}")
        cfg = cls(**config)
        if cfg.param_free_norm not in ("batch", "instance"):
            raise OldfilmError(f"param_free_norm {cfg.param_free_norm!r}: expected batch or instance")
        if cfg.n_up != 5:
            # up_0..up_3 plus the head/middle upsamplings are fixed at 5 in this layout.
            raise OldfilmError(f"n_up {cfg.n_up}: only 5 (BOPBTL 'normal') is supported")
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)


PUBLISHED_CONFIG = SpadeFaceConfig()
# Our shipped default (`oldfilm train faces --config light-residual`, face-default): same layout,
# 1/8 the width and 1/8 the SPADE hidden width, adding a correction to its input.
LIGHT_CONFIG = SpadeFaceConfig(ngf=8, spade_hidden=16, residual=True)


class SPADE(nn.Module):
    """Param-free norm of x, then a per-pixel affine predicted from the degraded face.

    x: float32 NxCxhxw features; face: float32 Nx3xHxW in [-1, 1] (resized here to h x w, bilinear,
    align_corners=False, as the original's F.interpolate default).
    """

    def __init__(self, channels: int, hidden: int, norm: str = "batch"):
        super().__init__()
        if norm == "batch":
            self.param_free_norm: nn.Module = nn.BatchNorm2d(channels, affine=False)
        else:
            self.param_free_norm = nn.InstanceNorm2d(channels, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(3, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        normalized = self.param_free_norm(x)
        face = F.interpolate(face, size=x.shape[2:], mode="bilinear", align_corners=False)
        actv = self.mlp_shared(face)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


def _maybe_sn(conv: nn.Conv2d, enabled: bool) -> nn.Module:
    # The legacy hook keeps the published key layout (weight_orig, weight_u, weight_v); in eval it
    # uses the stored u, v (sigma = u^T W v) exactly as the original does.
    if not enabled:
        return conv
    conv = nn.utils.spectral_norm(conv)
    # The legacy hook starts from random u, v and only iterates in training forwards, so a fresh
    # network in eval mode would divide by a meaningless sigma. Converge u, v now (as the newer
    # parametrization does at registration); loading a checkpoint overwrites them anyway.
    with torch.no_grad():
        w = conv.weight_orig.reshape(conv.weight_orig.shape[0], -1)
        u, v = conv.weight_u, conv.weight_v
        for _ in range(15):
            v.copy_(F.normalize(w.t() @ u, dim=0, eps=1e-12))
            u.copy_(F.normalize(w @ v, dim=0, eps=1e-12))
    return conv


class SPADEResnetBlock(nn.Module):
    """SPADE -> LReLU -> conv_0 -> SPADE -> LReLU -> conv_1, plus a (learned when fin != fout) shortcut."""

    def __init__(self, fin: int, fout: int, cfg: SpadeFaceConfig):
        super().__init__()
        self.learned_shortcut = fin != fout
        fmid = min(fin, fout)
        self.conv_0 = _maybe_sn(nn.Conv2d(fin, fmid, 3, padding=1), cfg.spectral_norm)
        self.conv_1 = _maybe_sn(nn.Conv2d(fmid, fout, 3, padding=1), cfg.spectral_norm)
        if self.learned_shortcut:
            self.conv_s = _maybe_sn(nn.Conv2d(fin, fout, 1, bias=False), cfg.spectral_norm)
        self.norm_0 = SPADE(fin, cfg.spade_hidden, cfg.param_free_norm)
        self.norm_1 = SPADE(fmid, cfg.spade_hidden, cfg.param_free_norm)
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, cfg.spade_hidden, cfg.param_free_norm)

    def forward(self, x: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        x_s = self.conv_s(self.norm_s(x, face)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, face), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, face), 0.2))
        return x_s + dx


class SpadeFaceGenerator(nn.Module):
    """Degraded face in, enhanced face out: float32 Nx3xHxW in [-1, 1] -> Nx3xHxW in (-1, 1).

    H and W must be multiples of 2**n_up (32); the published models expect 256 (Setting_9) or 512
    (FaceSR_512) squares.
    """

    def __init__(self, config: SpadeFaceConfig | dict | None = None):
        super().__init__()
        cfg = config if isinstance(config, SpadeFaceConfig) else SpadeFaceConfig.from_dict(config or {})
        self.config = cfg
        nf = cfg.ngf
        self.fc = nn.Conv2d(3, 16 * nf, 3, padding=1)
        self.head_0 = SPADEResnetBlock(16 * nf, 16 * nf, cfg)
        self.G_middle_0 = SPADEResnetBlock(16 * nf, 16 * nf, cfg)
        self.G_middle_1 = SPADEResnetBlock(16 * nf, 16 * nf, cfg)
        self.up_0 = SPADEResnetBlock(16 * nf, 8 * nf, cfg)
        self.up_1 = SPADEResnetBlock(8 * nf, 4 * nf, cfg)
        self.up_2 = SPADEResnetBlock(4 * nf, 2 * nf, cfg)
        self.up_3 = SPADEResnetBlock(2 * nf, 1 * nf, cfg)
        self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)
        if cfg.residual:
            nn.init.zeros_(self.conv_img.weight)
            nn.init.zeros_(self.conv_img.bias)

    @property
    def multiple(self) -> int:
        return 2 ** self.config.n_up

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        n, c, h, w = face.shape
        m = self.multiple
        if c != 3 or h % m or w % m:
            raise ValueError(f"SPADE face generator needs Nx3xHxW with H, W multiples of {m}; got {tuple(face.shape)}")
        x = F.interpolate(face, size=(h // m, w // m), mode="bilinear", align_corners=False)
        x = self.fc(x)
        x = self.head_0(x, face)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.G_middle_0(x, face)
        x = self.G_middle_1(x, face)
        for block in (self.up_0, self.up_1, self.up_2, self.up_3):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(x, face)
        x = self.conv_img(F.leaky_relu(x, 0.2))
        if self.config.residual:
            return (face + torch.tanh(x)).clamp(-1.0, 1.0)
        return torch.tanh(x)


def build_face_generator(config: SpadeFaceConfig | dict | None = None) -> SpadeFaceGenerator:
    """A fresh (untrained) generator for ``config`` (a SpadeFaceConfig or its dict; None = published)."""
    return SpadeFaceGenerator(config)

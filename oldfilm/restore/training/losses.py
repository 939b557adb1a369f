"""Losses for the restoration trainers. Images are float NCHW in [-1,1]; masks Nx1xHxW in {0,1}."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _gauss_window(channels: int, size: int = 11, sigma: float = 1.5, device=None) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (Gaussian 11x11, sigma 1.5, as skimage/metrics.md), images in [-1,1]."""
    c = x.shape[1]
    w = _gauss_window(c, device=x.device).to(x.dtype)
    x, y = (x + 1) / 2, (y + 1) / 2
    pad = 5
    x, y = F.pad(x, [pad] * 4, mode="reflect"), F.pad(y, [pad] * 4, mode="reflect")
    mx, my = F.conv2d(x, w, groups=c), F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mx**2
    syy = F.conv2d(y * y, w, groups=c) - my**2
    sxy = F.conv2d(x * y, w, groups=c) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return 1 - s.mean()


def image_loss(x: torch.Tensor, y: torch.Tensor, ssim_weight: float = 0.5) -> torch.Tensor:
    """L1 plus an SSIM term: the reconstruction loss used until a perceptual loss is decided."""
    return F.l1_loss(x, y) + ssim_weight * ssim_loss(x, y)


def kl_reduced(h: torch.Tensor) -> torch.Tensor:
    """BOPBTL's "reduced VAE" KL term: mean(h^2) (spec §8)."""
    return (h**2).mean()


def focal_bce(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, pos_weight: float = 1.0) -> torch.Tensor:
    """Binary focal loss on logits (gamma 0 = weighted BCE)."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none",
                                             pos_weight=torch.tensor(pos_weight, device=logits.device))
    if gamma:
        p = torch.sigmoid(logits)
        pt = p * target + (1 - p) * (1 - target)
        bce = bce * (1 - pt).pow(gamma)
    return bce.mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    den = p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    return (1 - (2 * inter + eps) / (den + eps)).mean()

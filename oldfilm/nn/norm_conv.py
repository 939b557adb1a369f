"""Convolutions with spectral or weight normalisation in torch's *legacy* state_dict layout.

DeOldify checkpoints were written with ``torch.nn.utils.spectral_norm`` / ``weight_norm`` (the
hook versions), whose keys are ``weight_orig``, ``weight_u``, ``weight_v`` (spectral) and
``weight_g``, ``weight_v`` (weight norm). The newer parametrizations use other key names, so these
modules hold exactly the legacy attributes and do the same arithmetic (colorize-spec.md §2, §7).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_EPS = 1e-12


class SpectralNormConv(nn.Module):
    """Conv1d/Conv2d whose weight is ``weight_orig / sigma`` (legacy spectral norm, dim 0).

    sigma = u · (W v) with W = weight_orig viewed as (out, in·k·k). In training mode one power
    iteration updates the ``weight_u``/``weight_v`` buffers first (as torch's hook did); in eval
    mode the stored u and v are used unchanged, which is what published inference computes.
    """

    def __init__(self, ni: int, nf: int, ks: int = 1, padding: int = 0, bias: bool = True, ndim: int = 2):
        super().__init__()
        if ndim not in (1, 2):
            raise ValueError("ndim must be 1 or 2")
        self.ndim = ndim
        self.padding = padding
        kshape = (ks,) * ndim
        # Registration order gives the published key order: bias, weight_orig, weight_u, weight_v.
        self.bias = nn.Parameter(torch.zeros(nf)) if bias else None
        w = torch.empty(nf, ni, *kshape)
        nn.init.kaiming_normal_(w)
        self.weight_orig = nn.Parameter(w)
        self.register_buffer("weight_u", F.normalize(torch.randn(nf), dim=0, eps=_EPS))
        self.register_buffer("weight_v", F.normalize(torch.randn(ni * ks**ndim), dim=0, eps=_EPS))
        # Start from a converged u, v so a freshly built net is well scaled in eval mode too
        # (the keys and the forward are unaffected).
        self.power_iteration(15)

    @torch.no_grad()
    def power_iteration(self, steps: int = 1) -> None:
        w = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
        u, v = self.weight_u, self.weight_v
        for _ in range(steps):
            v = F.normalize(torch.mv(w.t(), u), dim=0, eps=_EPS, out=v)
            u = F.normalize(torch.mv(w, v), dim=0, eps=_EPS, out=u)

    def normalized_weight(self) -> torch.Tensor:
        if self.training:
            self.power_iteration(1)
            # Clones keep autograd from seeing the in-place buffer updates of the next step.
            u, v = self.weight_u.clone(memory_format=torch.contiguous_format), self.weight_v.clone(
                memory_format=torch.contiguous_format
            )
        else:
            u, v = self.weight_u, self.weight_v
        w = self.weight_orig
        sigma = torch.dot(u, torch.mv(w.reshape(w.shape[0], -1), v))
        return w / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.normalized_weight()
        if self.ndim == 2:
            return F.conv2d(x, w, self.bias, 1, self.padding)
        return F.conv1d(x, w, self.bias, 1, self.padding)


class WeightNormConv2d(nn.Module):
    """Conv2d with bias whose weight is ``weight_g * weight_v / ||weight_v||`` (legacy weight_norm, dim 0)."""

    def __init__(self, ni: int, nf: int, ks: int = 1, padding: int = 0):
        super().__init__()
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(nf))
        v = torch.empty(nf, ni, ks, ks)
        nn.init.kaiming_normal_(v)
        self.weight_g = nn.Parameter(torch.linalg.vector_norm(v, dim=(1, 2, 3), keepdim=True))
        self.weight_v = nn.Parameter(v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # torch._weight_norm is the op the legacy hook used: bit-identical to the original.
        w = torch._weight_norm(self.weight_v, self.weight_g, 0)
        return F.conv2d(x, w, self.bias, 1, self.padding)


def solve_legacy_spectral_v(weight_orig: torch.Tensor, weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``weight_v`` for a pre-1.1 spectral-norm entry that stored ``weight`` instead of ``weight_v``.

    Like torch's SpectralNormLoadStateDictPreHook, v is rescaled so that u·(W v) equals the stored
    sigma, which makes the eval-mode weight ``weight_orig / sigma`` equal the stored ``weight``
    whatever v's direction. Two deliberate differences: sigma is the least-squares ratio of
    ``weight_orig`` to ``weight`` (torch's element-wise mean is NaN wherever both are 0), and v's
    direction is Wᵀu (a power-iteration step; equal to torch's pinv(W)u when u is converged)
    instead of a pseudo-inverse, which is minutes of SVD for the Stable bottleneck.
    """
    w = weight_orig.double().reshape(weight_orig.shape[0], -1)
    stored = weight.double().reshape_as(w)
    sigma = (w * stored).sum() / (stored * stored).sum()
    u64 = u.double()
    v = torch.mv(w.t(), u64)
    v = v * (sigma / torch.dot(u64, torch.mv(w, v)))
    return v.to(weight_orig.dtype)

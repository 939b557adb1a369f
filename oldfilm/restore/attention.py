"""BOPBTL's two attention blocks, memory-bounded.

* :class:`PartialNonLocal` = ``NonLocalBlock2D_with_mask_Res`` ("combine", renorm, T=1): every
  latent position attends to the *clean* positions only, and clean positions pass through
  (restore-spec §3.4). The original builds N x N matrices (N = latent area: 124 GiB for a
  2 Mpx photo). Here queries are processed in chunks (memory ``chunk x keys``), and the keys are
  capped at ``max_keys`` positions (area-pooled latent when larger). For tiled inference the
  keys/values come from a *bank* recorded on a whole-frame pass (mode ``record``). Attention is
  computed only for positions whose output can reach a hole: always in a tile (mode ``apply``),
  and on a whole frame when no norm pools over the frame (our norm-"none" defaults). A sparse
  scratch mask then costs a fraction of the full attention (90 -> 22 ms for the default's block at
  640x480), with the same output.
* :class:`PatchAttention` = ``Patch_Attention_4`` (HR mode, §3.5): hole patches (mask mean > 0.6)
  are replaced by their most cosine-similar clean patch (hard argmax), then a 3x3 conv fuses
  [z, composed, mask]. Computed as the original ``inference_forward`` (hole x clean only), with
  query chunks.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .context_norm import context_modules
from .resblock import ResnetBlock


def clean_positions(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Latent-resolution validity (1 = clean) from an image-resolution mask (1 = scratch).

    As the original: holes = bilinear-resized mask > 0 (dilates by about one latent pixel), and
    also excluded where the nearest-resized mask is a hole. N x 1 x h x w float {0, 1}.
    """
    mask = mask.float()
    bil = (F.interpolate(mask, size, mode="bilinear", align_corners=False) > 0).float()
    near = F.interpolate(1 - mask, size, mode="nearest")
    return (1 - bil) * near


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor | None,
            temperature: float, chunk: int) -> torch.Tensor:
    """Rows of softmax(q k^T / T) restricted to valid keys (L1 renormalised), times v.

    q: Nq x C, k: Nk x C, v: Nk x C, valid: Nk or None. Memory: chunk x Nk per step.
    """
    out = q.new_empty(q.shape[0], v.shape[1])
    for s in range(0, q.shape[0], chunk):
        f = (q[s:s + chunk] @ k.t()) / temperature
        f = F.softmax(f, dim=1)
        if valid is not None:
            f = f * valid
        f = F.normalize(f, p=1, dim=1)
        out[s:s + chunk] = f @ v
    return out


class PartialNonLocal(nn.Module):
    """Keys ``g, theta, phi, W`` (1x1 convs) and ``res_block.{0..n-1}``; forward(x, mask) with
    x: N x C x h x w latent features, mask: N x 1 x H x W at image resolution (1 = scratch)."""

    def __init__(self, channels: int = 512, inter_channels: int | None = None, n_res: int = 3,
                 temperature: float = 1.0, max_keys: int = 128 * 128, chunk: int = 2048, norm: str = "instance"):
        super().__init__()
        inter = inter_channels or channels
        self.inter_channels = inter
        self.g = nn.Conv2d(channels, inter, 1)
        self.W = nn.Conv2d(inter, channels, 1)
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Conv2d(channels, inter, 1)
        self.res_block = nn.Sequential(*[ResnetBlock(inter, norm=norm) for _ in range(n_res)])
        self.reach = 2 * n_res  # 3x3 convs after the attention: how far a hole's output looks
        self.temperature = temperature
        self.max_keys = max_keys
        self.chunk = chunk
        self.mode = "instance"
        self.stats: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # per sample: keys, values

    def _bank(self, x: torch.Tensor, valid: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per sample (clean keys Nk x C, values Nk x C), at most ``max_keys`` positions."""
        h, w = x.shape[2:]
        if h * w > self.max_keys:
            f = (self.max_keys / (h * w)) ** 0.5
            size = (max(1, int(h * f)), max(1, int(w * f)))
            x = F.adaptive_avg_pool2d(x, size)
            valid = 1 - F.adaptive_max_pool2d(1 - valid, size)  # a pooled key is clean only if all were
        k = self.phi(x).flatten(2).transpose(1, 2)
        v = self.g(x).flatten(2).transpose(1, 2)
        bank = []
        for i in range(x.shape[0]):
            sel = valid[i].flatten() > 0
            bank.append((k[i][sel], v[i][sel]))
        return bank

    def _queries(self, valid: torch.Tensor) -> list[torch.Tensor | None]:
        """Per sample, the flat positions whose attention output can reach a hole's result (None: all).

        Only holes keep the block's output and the res blocks see ``reach`` positions around each,
        so attention elsewhere is wasted; with a sparse scratch mask that is nearly all of it. Without
        norms that pool over the frame (our norm-"none" defaults, or the apply pass) skipping it is
        exact; instance norms (the published files) see every position, so they get all."""
        if self.mode != "apply" and context_modules(self.res_block):
            return [None] * valid.shape[0]
        need = F.max_pool2d(1 - valid, 2 * self.reach + 1, stride=1, padding=self.reach) > 0
        return [need[i].flatten().nonzero().squeeze(1) for i in range(valid.shape[0])]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        valid = clean_positions(mask, (h, w))
        theta = self.theta(x).flatten(2).transpose(1, 2)  # n x hw x C
        y = x.new_zeros(n, h * w, self.inter_channels)
        queries = self._queries(valid)
        if self.mode == "apply":
            if self.stats is None:
                raise RuntimeError("PartialNonLocal in apply mode without a recorded bank")
            banks = [self.stats[min(i, len(self.stats) - 1)] for i in range(n)]
            banks = [(k.to(x.dtype), v.to(x.dtype)) for k, v in banks]
            key_valid: list[torch.Tensor | None] = [None] * n
        elif h * w <= self.max_keys:
            # the original computation, row-chunked (identical per row)
            k = self.phi(x).flatten(2).transpose(1, 2)
            v = self.g(x).flatten(2).transpose(1, 2)
            banks = [(k[i], v[i]) for i in range(n)]
            key_valid = [valid[i].flatten() for i in range(n)]
        else:
            banks = self._bank(x, valid)
            key_valid = [None] * n
        for i, ((keys, values), idx) in enumerate(zip(banks, queries)):
            if not keys.shape[0] or (idx is not None and not idx.numel()):
                continue
            if idx is None:
                y[i] = _attend(theta[i], keys, values, key_valid[i], self.temperature, self.chunk)
            else:
                y[i, idx] = _attend(theta[i, idx], keys, values, key_valid[i], self.temperature, self.chunk)
        if self.mode == "record":
            self.stats = self._bank(x, valid)
        y = y.transpose(1, 2).reshape(n, self.inter_channels, h, w)
        w_y = self.res_block(self.W(y))
        return valid * x + (1 - valid) * w_y


class PatchAttention(nn.Module):
    """Keys ``F_Combine`` (Conv3x3 2C+1 -> C) and ``res_block.0``; forward(z, mask) as above."""

    def __init__(self, channels: int = 512, patch: int = 8, chunk: int = 4096):
        super().__init__()
        self.patch = patch
        self.chunk = chunk
        self.F_Combine = nn.Conv2d(2 * channels + 1, channels, 3, 1, 1)
        self.res_block = nn.Sequential(ResnetBlock(channels))

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.res_block(z)
        n, c, h, w = x.shape
        p = self.patch
        m = (F.interpolate(mask.float(), (h, w), mode="bilinear", align_corners=False) > 0).to(x.dtype)
        hole = F.unfold(m, p, stride=p).mean(dim=1) > 0.6          # n x L
        cols = F.unfold(x, p, stride=p)                            # n x C*p*p x L
        for i in range(n):
            qi = hole[i].nonzero().squeeze(1)
            ki = (~hole[i]).nonzero().squeeze(1)
            if qi.numel() == 0 or ki.numel() == 0:
                continue
            keys = cols[i][:, ki]                                  # Cp2 x K
            keys_n = F.normalize(keys, dim=0)
            queries = F.normalize(cols[i][:, qi].t(), dim=1)       # Q x Cp2
            best = torch.empty(qi.numel(), dtype=torch.long, device=x.device)
            for s in range(0, qi.numel(), self.chunk):
                best[s:s + self.chunk] = (queries[s:s + self.chunk] @ keys_n).argmax(dim=1)
            cols[i][:, qi] = keys[:, best]
        composed = F.fold(cols, (h, w), p, stride=p)
        return self.F_Combine(torch.cat([z, composed, m], dim=1))

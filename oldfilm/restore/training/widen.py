"""Function-preserving widening: a trained network's weights laid into a wider copy of itself.

A warm start for a larger configuration of the same family (more channels per layer) that begins
exactly where the trained network is, instead of from scratch. Every old channel keeps its index
within its tensor (within each part of a channel concatenation), and every weight by which an old
channel would read a new channel is zero. New channels keep the wide network's fresh init, so
they compute something, and they still learn: their outgoing weights get gradients at once.

Holds for the operations of our restoration networks: convolutions and transposed convolutions
(groups 1), per-channel norms (BatchNorm, instance norm, none), element-wise activations,
residual sums, and channel-wise masking. An attention's keys must start *silent* (new key
channels zero), or the new channels would add to every query-key product.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def _conv_dims(module: nn.Module) -> tuple[int, int] | None:
    """(output dim, input dim) of a convolution's weight; None for other modules."""
    if isinstance(module, nn.ConvTranspose2d):
        return 1, 0
    if isinstance(module, nn.Conv2d):
        return 0, 1
    return None


def widen_state_dict(state: dict[str, torch.Tensor], wide: nn.Module, *,
                     parts: Callable[[str], int] = lambda key: 1,
                     silent: tuple[str, ...] = (),
                     fixed: Callable[[str], bool] = lambda key: False) -> dict[str, torch.Tensor]:
    """``state`` (a narrower network's weights) laid out for ``wide``, computing what it computed.

    parts(key): into how many equal concatenated parts a conv weight's input channels fall (e.g. 2
    for a U-Net's [upsampled, skip]); each part keeps its old channels first.
    silent: module names whose new output channels start at zero (weights and bias): an attention's
    keys. fixed(key): tensors whose values do not come from training (a blur filter buffer): the
    wide network's own are used. Only the keys of ``state`` are returned.
    """
    template = wide.state_dict()
    modules = dict(wide.named_modules())
    out: dict[str, torch.Tensor] = {}
    for key, old in state.items():
        new = template[key]
        if old.shape == new.shape:
            out[key] = old.clone()
            continue
        if fixed(key):
            out[key] = new.clone()
            continue
        if old.dim() != new.dim() or any(o > n for o, n in zip(old.shape, new.shape)):
            raise ValueError(f"{key}: {tuple(old.shape)} does not fit in {tuple(new.shape)}")
        name, _, leaf = key.rpartition(".")
        module = modules.get(name)
        w = new.clone()
        dims = _conv_dims(module) if leaf == "weight" else None
        if dims is not None:
            o_dim, i_dim = dims
            n_out, n_parts = old.shape[o_dim], parts(key)
            keep = [slice(None)] * w.dim()
            keep[o_dim] = slice(0, n_out)
            w[tuple(keep)] = 0                       # old outputs read no new input
            seg_old, seg_new = old.shape[i_dim] // n_parts, w.shape[i_dim] // n_parts
            for h in range(n_parts):
                dst, src = list(keep), [slice(None)] * w.dim()
                dst[i_dim] = slice(h * seg_new, h * seg_new + seg_old)
                src[i_dim] = slice(h * seg_old, (h + 1) * seg_old)
                w[tuple(dst)] = old[tuple(src)]
            if name in silent:
                fresh = [slice(None)] * w.dim()
                fresh[o_dim] = slice(n_out, None)
                w[tuple(fresh)] = 0
        elif old.dim() == 1:                         # biases, norm weights and running statistics
            w[: old.shape[0]] = old
            if name in silent and leaf == "bias":
                w[old.shape[0]:] = 0
        else:
            raise ValueError(f"{key}: no rule to widen a {old.dim()}-d tensor of {type(module).__name__}")
        out[key] = w
    return out


__all__ = ["widen_state_dict"]

"""Weight averages ("model soups") of colorizer generators fine-tuned from one checkpoint.

Fine-tunes that start from the same weights stay in one basin of the loss, so their average is a
network of its own, often better than each of them (Wortsman et al. 2022, "Model soups").
Two details of DeOldify's generator make a plain average of state dicts wrong:

- Spectral-norm convolutions divide ``weight_orig`` by sigma = u·(W v), with u and v stored
  buffers that one power-iteration step per training forward keeps converged. An average of the
  ingredients' u and v is not the singular pair of the averaged W, so sigma (and every such
  layer's scale) would be off. :func:`refresh_spectral_norms` converges them on the soup's own W.
- Integer buffers (BatchNorm's ``num_batches_tracked``) are counters, not weights: the first
  ingredient's are kept.

Pure tensors in, tensors out; loading runs and files stays with the callers.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..nn.norm_conv import SpectralNormConv


def average_state_dicts(states: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """Σ wᵢ·stateᵢ for floating tensors (float32), the first state's tensor otherwise.

    ``weights`` must be positive and are normalised to sum to 1; all states must have the same
    keys and shapes."""
    if not states or len(states) != len(weights):
        raise ValueError(f"{len(states)} states for {len(weights)} weights")
    if any(w <= 0 for w in weights):
        raise ValueError(f"soup weights must be positive: {list(weights)}")
    total = float(sum(weights))
    first = states[0]
    for i, s in enumerate(states[1:], 1):
        if set(s) != set(first):
            raise ValueError(f"ingredient {i} has other keys than ingredient 0: {sorted(set(s) ^ set(first))[:3]}")
    out: dict[str, torch.Tensor] = {}
    for k, t in first.items():
        if any(s[k].shape != t.shape for s in states):
            raise ValueError(f"{k}: shapes differ between ingredients")
        if t.is_floating_point():
            out[k] = sum(float(w) / total * s[k].float() for s, w in zip(states, weights))
        else:
            out[k] = t.clone()
    return out


@torch.no_grad()
def refresh_spectral_norms(net: nn.Module, steps: int = 100) -> nn.Module:
    """Converge every spectral-norm conv's stored u, v on its current ``weight_orig`` (in place)."""
    for m in net.modules():
        if isinstance(m, SpectralNormConv):
            m.power_iteration(steps)
    return net


def soup(net: nn.Module, states: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]) -> nn.Module:
    """``net`` (any generator of the ingredients' config) loaded with their weighted average, its
    spectral norms refreshed; in eval mode."""
    net.load_state_dict(average_state_dicts(states, weights))
    return refresh_spectral_norms(net).eval()

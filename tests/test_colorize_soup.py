"""Weight averages of colorizer generators (oldfilm.colorize.soup)."""
from __future__ import annotations

import pytest
import torch

from oldfilm.colorize.generator import LIGHT_CONFIG, build_generator
from oldfilm.colorize.soup import average_state_dicts, refresh_spectral_norms, soup
from oldfilm.nn.norm_conv import SpectralNormConv


def _perturbed(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = build_generator(LIGHT_CONFIG)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * p.abs().mean() * torch.randn(p.shape, generator=g))
    refresh_spectral_norms(net, 500)     # as training keeps them: converged on its own weights
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_average_is_weighted_and_keeps_counters():
    a, b = _perturbed(1), _perturbed(2)
    b = {k: (v + 5 if not v.is_floating_point() else v) for k, v in b.items()}
    avg = average_state_dicts([a, b], [3, 1])
    k = "layers.0.0.weight"
    torch.testing.assert_close(avg[k], 0.75 * a[k] + 0.25 * b[k])
    counters = [k for k, v in a.items() if not v.is_floating_point()]
    assert counters and all(torch.equal(avg[k], a[k]) for k in counters)


def test_average_rejects_bad_weights_and_other_shapes():
    a = _perturbed(1)
    with pytest.raises(ValueError, match="positive"):
        average_state_dicts([a, a], [1, 0])
    other = dict(a, **{"layers.0.0.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="shapes"):
        average_state_dicts([a, other], [1, 1])


def test_soup_of_one_is_the_network_itself():
    a = _perturbed(1)
    net = build_generator(LIGHT_CONFIG)
    net.load_state_dict(a)
    net.eval()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(soup(build_generator(LIGHT_CONFIG), [a], [1.0])(x), net(x), atol=1e-4, rtol=1e-4)


def test_soup_refreshes_spectral_norms_on_the_averaged_weights():
    """Averaged u, v are not the averaged weight's singular pair; the soup's sigma must be."""
    a, b = _perturbed(1), _perturbed(2)
    naive = build_generator(LIGHT_CONFIG)
    naive.load_state_dict(average_state_dicts([a, b], [1, 1]))
    net = soup(build_generator(LIGHT_CONFIG), [a, b], [1, 1])

    def sigma_errors(n: torch.nn.Module) -> torch.Tensor:
        errs = []
        for m in n.modules():
            if isinstance(m, SpectralNormConv):
                w = m.weight_orig.detach().reshape(m.weight_orig.shape[0], -1)
                sigma = torch.dot(m.weight_u, torch.mv(w, m.weight_v))
                errs.append(1 - sigma / torch.linalg.matrix_norm(w, ord=2))
        return torch.stack(errs)

    # Power iteration converges slowly where the top singular values are close (random weights):
    # within 1 % here; a trained net's are converged by thousands of steps.
    assert sigma_errors(net).abs().max() < 0.01
    assert sigma_errors(naive).abs().max() > 0.05

"""The restoration networks' norm switch: BOPBTL's instance norm, or none (our light defaults)."""
from __future__ import annotations

import pytest
import torch

from oldfilm.restore.mapping import build_mapping
from oldfilm.restore.vae import build_vae

VAE = {"ngf": 4, "mc": 8, "n_down": 2, "n_res": 1}


def test_instance_norm_vae_cannot_see_global_brightness_and_none_can():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32) * 0.5 - 0.5
    brighter = x + 0.4
    inst, plain = build_vae(VAE).eval(), build_vae({**VAE, "norm": "none"}).eval()
    def rel_change(net):
        with torch.no_grad():
            a, b = net.encode(x), net.encode(brighter)
        return float((a - b).abs().mean() / a.abs().mean())

    # the first conv adds a constant per channel, which instance norm removes: the same latent
    assert rel_change(inst) < 1e-3
    assert rel_change(plain) > 0.05


def test_norm_none_keeps_the_published_key_layout():
    for build, cfg in ((build_vae, VAE),
                       (build_mapping, {"kind": "quality", "nc": 8, "mc": 16, "n_up": 1, "n_blocks": 1}),
                       (build_mapping, {"kind": "scratch", "nc": 8, "mc": 16, "n_up": 1, "n_blocks": 1, "nl_blocks": 1})):
        a, b = build(cfg).state_dict(), build({**cfg, "norm": "none"}).state_dict()
        assert list(a) == list(b)
        assert [v.shape for v in a.values()] == [v.shape for v in b.values()]


def test_norm_is_recorded_in_the_vae_config_only_when_not_published():
    assert "norm" not in build_vae(VAE).config
    assert build_vae({**VAE, "norm": "none"}).config["norm"] == "none"


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="norm"):
        build_vae({**VAE, "norm": "batch"})
    with pytest.raises(ValueError, match="instance norm"):
        build_mapping({"kind": "patch_attention", "nc": 8, "mc": 16, "n_up": 1, "norm": "none"})

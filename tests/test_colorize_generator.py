"""The DeOldify generator family: key layout, sizes, forward contract, train/eval behaviour."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from oldfilm.colorize.generator import (
    ARTISTIC_CONFIG,
    LIGHT_CONFIG,
    STABLE_CONFIG,
    build_generator,
    count_parameters,
    generator_config,
)
from oldfilm.colorize.published import from_legacy_spectral_layout
from oldfilm.nn.norm_conv import SpectralNormConv
from tests.conftest import need_reference


@pytest.fixture(scope="module")
def light():
    torch.manual_seed(0)
    return build_generator(LIGHT_CONFIG)


def test_artistic_keys_shapes_and_order_match_published_manifest():
    manifest = json.loads((need_reference() / "manifests" / "deoldify-artistic.json").read_text())
    net = build_generator(ARTISTIC_CONFIG)
    ours = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert ours == [(e["key"], e["shape"]) for e in manifest["keys"]]
    assert count_parameters(net) == manifest["num_parameters"]


def test_stable_keys_match_published_manifest_without_allocating():
    manifest = json.loads((need_reference() / "manifests" / "deoldify-stable.json").read_text())
    with torch.device("meta"):  # 218 M parameters: shapes only
        net = build_generator(STABLE_CONFIG)
    ours = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert ours == [(e["key"], e["shape"]) for e in manifest["keys"]]


@pytest.mark.parametrize("size", [64, 80, 48])
def test_forward_contract_any_size(light, size):
    light.eval()
    x = torch.randn(2, 3, size, size + 16)
    with torch.inference_mode():
        y = light(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert y.min() > -3 and y.max() < 3


def test_output_depends_on_input_pixels(light):
    light.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        a, b = light(x), light(x.flip(-1))
    assert (a - b).abs().max() > 1e-4


def test_train_mode_updates_spectral_state_and_eval_does_not(light):
    sn = light.layers[11][0]
    assert isinstance(sn, SpectralNormConv)
    x = torch.randn(2, 3, 64, 64)
    light.eval()
    u0 = sn.weight_u.clone()
    with torch.no_grad():
        light(x)
    assert torch.equal(sn.weight_u, u0)
    light.train()
    with torch.no_grad():
        sn.weight_orig.add_(torch.randn_like(sn.weight_orig))  # u is no longer the fixed point
    loss = light(x).mean()
    loss.backward()
    assert not torch.equal(sn.weight_u, u0)
    assert sn.weight_orig.grad is not None and sn.weight_orig.grad.abs().sum() > 0
    light.eval()


def test_deep_and_wide_light_sizes_build():
    deep = build_generator({"unet": "deep", "encoder": "resnet18", "nf_factor": 0.25, "middle_mult": 1})
    wide = build_generator({"unet": "wide", "encoder": "resnet18", "nf_factor": 0.25, "middle_mult": 1})
    assert count_parameters(deep) < 20e6 and count_parameters(wide) < 20e6
    # Decoder widths follow nf_factor: deep = (512/2 + 256 skip) * 0.25, wide = 512 * 0.25 / 2.
    assert deep.layers[4].conv1[0].weight_orig.shape[0] == 128
    assert wide.layers[4].conv[0].weight_orig.shape[0] == 64
    assert "layers.5.conv2.3.gamma" in deep.state_dict() and "layers.5.conv.3.gamma" in wide.state_dict()


@pytest.mark.parametrize(
    "bad", [{"unet": "narrow"}, {"encoder": "vgg16"}, {"nf_factor": 0}, {"middle_mult": 0}, {"blur": False}]
)
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        generator_config(bad)


def test_config_is_completed_with_defaults():
    full = generator_config({"encoder": "resnet50"})
    assert full["encoder"] == "resnet50" and full["unet"] == "wide" and full["self_attention"] is True


def test_legacy_spectral_layout_is_solved_back():
    """torch<1.1 stored the normalised ``weight`` instead of ``weight_v``: the solved v gives the
    same normalised weight, as torch's SpectralNormLoadStateDictPreHook did."""
    torch.manual_seed(1)
    conv = SpectralNormConv(16, 8, 3, padding=1).eval()
    conv.power_iteration(3)
    w = conv.weight_orig.detach()
    expected = conv.normalized_weight().detach()
    legacy = {"c.bias": conv.bias.detach(), "c.weight_orig": w, "c.weight_u": conv.weight_u.clone(), "c.weight": expected}
    fixed = from_legacy_spectral_layout(legacy)
    assert set(fixed) == {"c.bias", "c.weight_orig", "c.weight_u", "c.weight_v"}
    conv.weight_v.copy_(fixed["c.weight_v"])
    torch.testing.assert_close(conv.normalized_weight().detach(), expected, atol=1e-6, rtol=1e-5)


def test_chroma_gain_scales_u_and_v_and_keeps_y_and_the_keys():
    """``chroma_gain`` multiplies the output's U and V (what the colorizer keeps) and nothing else."""
    import cv2

    from oldfilm.colorize.generator import LIGHT_CONFIG, build_generator
    from oldfilm.colorize.render import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(0)
    plain = build_generator(LIGHT_CONFIG).eval()
    bold = build_generator({**LIGHT_CONFIG, "chroma_gain": 1.5}).eval()
    assert set(bold.state_dict()) == set(plain.state_dict())
    bold.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def yuv(net):
        with torch.no_grad():
            rgb = (net(x)[0] * std + mean).permute(1, 2, 0).numpy()
        return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2YUV)

    a, b = yuv(plain), yuv(bold)
    assert np.abs(a[..., 1:] - 0.5).mean() > 0.01            # the random net does output colour
    np.testing.assert_allclose(b[..., 0], a[..., 0], atol=1e-5)
    np.testing.assert_allclose(b[..., 1:] - 0.5, 1.5 * (a[..., 1:] - 0.5), atol=1e-5)
    with pytest.raises(ValueError, match="chroma_gain"):
        generator_config({"chroma_gain": -1})

"""The SPADE face generator: published key layout, sizes, training, builtin checkpoints."""
from __future__ import annotations

import json

import pytest
import torch

from oldfilm.errors import OldfilmError
from oldfilm.restore.faces.spade import (
    ARCH_NAME,
    LIGHT_CONFIG,
    PUBLISHED_CONFIG,
    SpadeFaceConfig,
    build_face_generator,
)
from oldfilm.weights import load_builtin, save_builtin

from conftest import need_reference

TINY = {"ngf": 4, "spade_hidden": 8}


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_face_generator(TINY).eval()


def test_forward_keeps_size_and_range(tiny):
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    with torch.inference_mode():
        y = tiny(x)
    assert y.shape == x.shape
    assert y.abs().max() < 1
    assert not torch.allclose(y[0], y[1])        # the face modulates the output


def test_rejects_sizes_not_multiple_of_32(tiny):
    with pytest.raises(ValueError, match="multiples of 32"):
        tiny(torch.zeros(1, 3, 60, 64))


def test_legacy_spectral_norm_and_batchnorm_keys(tiny):
    keys = set(tiny.state_dict())
    for block in ("head_0", "up_3"):
        for conv in ("conv_0", "conv_1"):
            assert {f"{block}.{conv}.weight_orig", f"{block}.{conv}.weight_u", f"{block}.{conv}.weight_v"} <= keys
            assert f"{block}.{conv}.weight" not in keys
    assert "up_0.conv_s.weight_orig" in keys and "up_0.conv_s.bias" not in keys
    assert "head_0.conv_s.weight_orig" not in keys                   # fin == fout: identity shortcut
    assert "G_middle_0.norm_1.param_free_norm.num_batches_tracked" in keys
    no_sn = build_face_generator({**TINY, "spectral_norm": False})
    assert "head_0.conv_0.weight" in no_sn.state_dict()


@pytest.mark.parametrize("manifest", ["bopbtl-face-spade-256", "bopbtl-face-spade-512"])
def test_published_config_has_the_manifest_keys_and_shapes(manifest):
    ref = need_reference()
    entries = json.loads((ref / "manifests" / f"{manifest}.json").read_text())["keys"]
    with torch.device("meta"):
        sd = build_face_generator(PUBLISHED_CONFIG).state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == {e["key"]: tuple(e["shape"]) for e in entries}
    assert {k: str(v.dtype).replace("torch.", "") for k, v in sd.items()} == {
        e["key"]: e["dtype"].replace("torch.", "") for e in entries
    }


def test_light_config_is_the_same_layout_smaller():
    with torch.device("meta"):
        light = build_face_generator(LIGHT_CONFIG).state_dict()
        big = build_face_generator(PUBLISHED_CONFIG).state_dict()
    assert light.keys() == big.keys()
    assert sum(v.numel() for v in light.values()) < sum(v.numel() for v in big.values()) / 10


def test_config_roundtrip_and_errors():
    assert SpadeFaceConfig.from_dict(LIGHT_CONFIG.to_dict()) == LIGHT_CONFIG
    with pytest.raises(OldfilmError, match="unknown"):
        SpadeFaceConfig.from_dict({"ngf": 8, "width": 3})
    with pytest.raises(OldfilmError, match="param_free_norm"):
        SpadeFaceConfig.from_dict({"param_free_norm": "group"})


def test_one_training_step_updates_weights_and_sn_vectors():
    torch.manual_seed(1)
    net = build_face_generator(TINY).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    loss = (net(x) - x).abs().mean()
    loss.backward()
    opt.step()
    after = net.state_dict()
    assert torch.isfinite(loss)
    assert not torch.equal(before["up_3.conv_1.weight_orig"], after["up_3.conv_1.weight_orig"])
    assert not torch.equal(before["up_3.conv_1.weight_u"], after["up_3.conv_1.weight_u"])   # power iteration
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    assert after["head_0.norm_0.param_free_norm.num_batches_tracked"] == 1


def test_instance_norm_variant_builds_and_runs():
    net = build_face_generator({**TINY, "param_free_norm": "instance"}).eval()
    assert not any("running_mean" in k for k in net.state_dict())
    with torch.inference_mode():
        assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_builtin_checkpoint_roundtrip(tiny, tmp_path):
    path = tmp_path / "face-tiny.safetensors"
    save_builtin(tiny, ARCH_NAME, SpadeFaceConfig(**TINY).to_dict(), path, extra={"crop_size": 64})
    loaded = load_builtin(path)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        assert torch.allclose(loaded(x), tiny(x), atol=2e-2)    # fp16 storage
    assert loaded.config == SpadeFaceConfig(**TINY)


def test_residual_variant_starts_as_the_identity_and_learns_a_correction(tiny):
    """Same keys as the published layout; untrained it returns its input exactly; after a step
    towards a brighter target it moves the face, and never leaves [-1, 1]."""
    torch.manual_seed(2)
    net = build_face_generator({**TINY, "residual": True}).train()
    assert net.state_dict().keys() == tiny.state_dict().keys()
    x = torch.rand(2, 3, 64, 64) * 1.6 - 0.8
    assert torch.equal(net(x), x)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(3):
        loss = (net(x) - (x + 0.1)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    y = net.eval()(torch.cat([x, torch.ones(1, 3, 64, 64)]))
    assert (y[:2] - x).mean() > 0.01 and y.abs().max() <= 1


def test_warm_start_into_the_residual_variant_keeps_features_and_zeroes_the_last_layer(tiny, tmp_path):
    from oldfilm.restore.faces.train import warm_start

    path = tmp_path / "face-tiny.safetensors"
    save_builtin(tiny, ARCH_NAME, SpadeFaceConfig(**TINY).to_dict(), path, extra={"crop_size": 256})
    net = build_face_generator({**TINY, "residual": True})
    warm_start(net, str(path))
    assert torch.allclose(net.fc.weight, tiny.fc.weight, atol=1e-2)          # fp16 storage
    assert not net.conv_img.weight.any() and not net.conv_img.bias.any()
    plain = build_face_generator(TINY)
    warm_start(plain, str(path))
    assert plain.conv_img.weight.any()

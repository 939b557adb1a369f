"""Parity with the published BOPBTL networks (reference/README.md), through load_published.

Each test writes the recipe state_dict to a file in the published container format and loads it
with the normal loader (recognised by keys, strict), then compares with the golden within
meta['tolerance'] on CPU float32. Face excepted (the face family owns it).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from oldfilm import weights
from oldfilm.restore.detector import ScratchDetector
from oldfilm.restore.mapping import PatchAttentionMapping, QualityMapping, ScratchMapping
from oldfilm.restore.vae import VAE

from conftest import load_golden, recipe_state_dict

pytestmark = pytest.mark.parity

VAE_FOLDERS = {"bopbtl-vae-a": "VAE_A_quality", "bopbtl-vae-b-quality": "VAE_B_quality",
               "bopbtl-vae-b-scratch": "VAE_B_scratch"}
MAPPING_FOLDERS = {"bopbtl-mapping-quality": "mapping_quality", "bopbtl-mapping-scratch": "mapping_scratch",
                   "bopbtl-mapping-patch-attention": "mapping_Patch_Attention"}


def _tol(meta: dict) -> tuple[float, float]:
    t = meta["tolerance"]
    if isinstance(t, dict):
        return float(t.get("atol", t.get("rtol"))), float(t.get("rtol", t.get("atol")))
    return float(t), float(t)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, meta: dict, what: str = "output") -> None:
    atol, rtol = _tol(meta)
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    diff = (actual - expected).abs()
    bound = atol + rtol * expected.abs()
    assert bool((diff <= bound).all()), f"{what}: max |diff| {diff.max():.3g} exceeds atol={atol} rtol={rtol}"


def save_published(sd: dict, manifest: str, root: Path) -> Path:
    """Write ``sd`` where and how the original release stores it (restore-spec §3.6)."""
    if manifest == "bopbtl-scratch-detector":
        path = root / "detection" / "FT_Epoch_latest.pt"
        obj: dict = {"model_state": sd, "epoch": 1}
    elif manifest in VAE_FOLDERS:
        path, obj = root / "restoration" / VAE_FOLDERS[manifest] / "latest_net_G.pth", sd
    else:
        path, obj = root / "restoration" / MAPPING_FOLDERS[manifest] / "latest_net_mapping_net.pth", sd
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


EXPECTED_SLOT = {"bopbtl-scratch-detector": "bopbtl-detector", "bopbtl-vae-a": "bopbtl-vae-a",
                 "bopbtl-vae-b-quality": "bopbtl-vae-b-quality", "bopbtl-vae-b-scratch": "bopbtl-vae-b-scratch",
                 "bopbtl-mapping-quality": "bopbtl-mapping-quality", "bopbtl-mapping-scratch": "bopbtl-mapping-scratch",
                 "bopbtl-mapping-patch-attention": "bopbtl-mapping-hr"}


def published_net(manifest: str, meta: dict, tmp: Path, gains: dict | None = None) -> torch.nn.Module:
    sd = recipe_state_dict(manifest, meta, gains)
    path = save_published(sd, manifest, tmp)
    rec = weights.recognize(weights.read_state_dict(path), path)   # what `weights import` files it as
    slot = rec.slot_from_path(path) if rec.slot_from_path else rec.slots[0]
    assert slot == EXPECTED_SLOT[manifest]
    return weights.load_published(path)


@pytest.fixture(autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)


def test_detector(tmp_path):
    g = load_golden("bopbtl-scratch-detector")
    net = published_net(g["meta"]["manifest"], g["meta"], tmp_path)
    assert isinstance(net, ScratchDetector) and not net.training
    with torch.inference_mode():
        assert_close(net(g["input"]), g["output"], g["meta"])


def test_vae_a_encode(tmp_path):
    g = load_golden("bopbtl-vae-a-encode")
    net = published_net(g["meta"]["manifest"], g["meta"], tmp_path)
    assert isinstance(net, VAE)
    with torch.inference_mode():
        assert_close(net.encode(g["input"]), g["output"], g["meta"])


@pytest.mark.parametrize("which", ["quality", "scratch"])
def test_vae_b_decode(tmp_path, which):
    g = load_golden(f"bopbtl-vae-b-{which}-decode")
    net = published_net(g["meta"]["manifest"], g["meta"], tmp_path)
    with torch.inference_mode():
        assert_close(net.decode(g["input"]), g["output"], g["meta"])


def test_mapping_quality(tmp_path):
    g = load_golden("bopbtl-mapping-quality")
    net = published_net(g["meta"]["manifest"], g["meta"], tmp_path)
    assert isinstance(net, QualityMapping)
    with torch.inference_mode():
        assert_close(net(g["input"]), g["output"], g["meta"])


def test_mapping_scratch(tmp_path):
    g = load_golden("bopbtl-mapping-scratch")
    net = published_net(g["meta"]["manifest"], g["meta"], tmp_path)
    assert isinstance(net, ScratchMapping)
    with torch.inference_mode():
        assert_close(net(g["input"], g["mask"]), g["output"], g["meta"])


def test_mapping_patch_attention(tmp_path):
    g = load_golden("bopbtl-mapping-patch-attention")
    net = published_net(g["meta"]["manifest"], g["meta"], tmp_path)
    assert isinstance(net, PatchAttentionMapping)
    with torch.inference_mode():
        assert_close(net(g["input"], g["mask"]), g["output"], g["meta"])


def _pipeline(name: str, tmp_path: Path, with_mask: bool) -> None:
    g = load_golden(name)
    meta = g["meta"]
    nets = {role: published_net(m, meta, tmp_path / role, meta["gains"][m]) for role, m in meta["manifest"].items()}
    img = torch.from_numpy(g["image_uint8"].numpy() if isinstance(g["image_uint8"], torch.Tensor) else g["image_uint8"])
    x = img.permute(2, 0, 1)[None].float()
    if with_mask:
        x = torch.where(g["mask"][:, :1] > 0, torch.full_like(x, 255.0), x)
    x = (x / 255.0 - 0.5) / 0.5
    assert_close(x, g["input"], meta, "input")
    with torch.inference_mode():
        z = nets["encoder"].encode(x)
        assert_close(z, g["latent"], meta, "latent")
        z2 = nets["mapping"](z, g["mask"]) if with_mask else nets["mapping"](z)
        assert_close(z2, g["mapped_latent"], meta, "mapped_latent")
        assert_close(nets["decoder"].decode(z2), g["output"], meta)


def test_pipeline_quality(tmp_path):
    _pipeline("bopbtl-pipeline-quality", tmp_path, with_mask=False)


def test_pipeline_scratch(tmp_path):
    _pipeline("bopbtl-pipeline-scratch", tmp_path, with_mask=True)


def test_vae_slot_from_folder_and_import(tmp_path):
    """`weights import` stores each VAE under the slot its release folder names."""
    g = load_golden("bopbtl-vae-b-scratch-decode")
    path = save_published(recipe_state_dict(g["meta"]["manifest"], g["meta"]), "bopbtl-vae-b-scratch", tmp_path)
    assert weights.import_file(path).slot == "bopbtl-vae-b-scratch"
    loose = tmp_path / "vae.pth"
    loose.write_bytes(path.read_bytes())
    with pytest.raises(weights.WeightsFormatError, match="--as"):
        weights.import_file(loose)
    assert weights.import_file(loose, slot="bopbtl-vae-a").slot == "bopbtl-vae-a"

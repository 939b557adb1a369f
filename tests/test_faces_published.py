"""Published BOPBTL face generators: recognition, slots, registry rows, and the parity golden."""
from __future__ import annotations

import gc

import pytest
import torch

from oldfilm import weights as W
from oldfilm.errors import NoWeightsError, WeightsFormatError
from oldfilm.restore.faces.published import SLOT_256, SLOT_512, config_from_state_dict
from oldfilm.restore.faces.spade import SpadeFaceConfig, build_face_generator
from oldfilm.restore.faces.stage import load_face_generator

from conftest import load_golden, recipe_state_dict

TINY = SpadeFaceConfig(ngf=4, spade_hidden=8)


def _tiny_sd() -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    return build_face_generator(TINY).state_dict()


def _save(sd, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return path


def test_registry_rows():
    names = {m.name: m for m in W.models("face")}
    assert set(names) >= {"bopbtl", "bopbtl-hr", "default"}
    assert names["bopbtl"].slots == (SLOT_256,) and names["bopbtl-hr"].slots == (SLOT_512,)
    assert names["default"].builtin_files == {"face": "face-default.safetensors"}
    assert names["default-alone"].builtin_files == {"face": "face-default-alone.safetensors"}


def test_slot_comes_from_the_checkpoint_folder(tmp_path):
    sd = _tiny_sd()
    hr = W.import_file(_save(sd, tmp_path / "FaceSR_512" / "latest_net_G.pth"))
    lo = W.import_file(_save(sd, tmp_path / "Setting_9_epoch_100" / "latest_net_G.pth"))
    assert (hr.slot, lo.slot) == (SLOT_512, SLOT_256)
    assert hr.kind == "bopbtl-face-spade"
    net, crop = load_face_generator("bopbtl-hr")
    assert crop == 512 and net.config == TINY
    assert load_face_generator("bopbtl")[1] == 256


def test_unknown_folder_asks_for_as(tmp_path):
    path = _save(_tiny_sd(), tmp_path / "mine.pth")
    with pytest.raises(WeightsFormatError, match="--as"):
        W.import_file(path)
    assert W.import_file(path, slot=SLOT_512).slot == SLOT_512


def test_wrong_shapes_and_missing_keys_are_one_line(tmp_path):
    sd = _tiny_sd()
    sd["up_1.conv_0.bias"] = torch.zeros(7)
    with pytest.raises(WeightsFormatError, match="wrong shapes") as e:
        W.load_published(_save(sd, tmp_path / "a" / "latest_net_G.pth"))
    assert "\n" not in str(e.value)
    sd = _tiny_sd()
    del sd["up_2.norm_s.mlp_beta.bias"]
    with pytest.raises(WeightsFormatError, match="missing"):
        W.load_published(_save(sd, tmp_path / "b" / "latest_net_G.pth"))


def test_config_is_inferred_from_shapes():
    assert config_from_state_dict(_tiny_sd()) == TINY


def test_missing_model_says_how_to_import():
    with pytest.raises(NoWeightsError, match="weights import"):
        W.load_model("face", "bopbtl")


@pytest.mark.parity
def test_face_spade_256_golden(tmp_path):
    golden = load_golden("bopbtl-face-spade-256")
    meta = golden["meta"]
    sd = recipe_state_dict(meta["manifest"], meta)
    path = _save(sd, tmp_path / "Face_Enhancement" / "checkpoints" / "Setting_9_epoch_100" / "latest_net_G.pth")
    del sd
    gc.collect()
    net = W.load_published(path)
    with torch.inference_mode():
        out = net(golden["input"])
    tol = meta["tolerance"]
    assert out.shape == golden["output"].shape
    assert torch.allclose(out, golden["output"], atol=tol["atol"], rtol=tol["rtol"]), (
        (out - golden["output"]).abs().max()
    )
    assert W.import_file(path).slot == SLOT_256


@pytest.mark.parity
def test_face_spade_512_recipe_loads_strictly(tmp_path):
    golden = load_golden("bopbtl-face-spade-256")          # the 512 file has no golden; same recipe rules
    meta = dict(golden["meta"], gains={})
    sd = recipe_state_dict("bopbtl-face-spade-512", meta)
    path = _save(sd, tmp_path / "FaceSR_512" / "latest_net_G.pth")
    net = W.load_published(path)
    assert net.config == SpadeFaceConfig()
    assert torch.equal(net.state_dict()["up_3.conv_1.weight_u"], sd["up_3.conv_1.weight_u"])
    assert W.import_file(path).slot == SLOT_512

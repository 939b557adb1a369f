"""`oldfilm weights list|import|verify`: listing, refusing junk without running it, sha checks."""
from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import pytest
import torch

from oldfilm import weights as W
from oldfilm import weights_cli
from oldfilm.colorize.generator import ARCH_NAME, build_generator
from oldfilm.errors import WeightsFormatError

TINY = {"unet": "wide", "encoder": "resnet18", "nf_factor": 0.125, "middle_mult": 1}


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    weights_cli.add_arguments(parser)
    return weights_cli.run(parser.parse_args(argv))


class _MakesAFile:
    """Unpickling this would create ``marker``: a loader that executes code would be caught."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def checkpoints(monkeypatch, tmp_path):
    d = tmp_path / "checkpoints"
    d.mkdir()
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(d))
    return d


def test_list_shows_every_model_missing(checkpoints, capsys):
    assert _run(["list"]) == 0
    out = capsys.readouterr().out
    for entry in W.models():
        line = next(l for l in out.splitlines() if f" {entry.name} " in f" {l} " and l.startswith(entry.task))
        assert "missing" in line
        if entry.card:
            assert entry.card in line
    assert any(e.name == "artistic" for e in W.models("colorize"))


def test_list_and_verify_builtin_then_detect_modification(checkpoints, capsys):
    torch.manual_seed(0)
    path = checkpoints / "colorize-default.safetensors"
    digest = W.save_builtin(build_generator(TINY).eval(), ARCH_NAME, TINY, path)
    W.record_builtin_sha(path)
    assert _run(["list"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("colorize") and " default " in l)
    assert "installed" in line and digest[:16] in line
    assert _run(["verify"]) == 0
    assert "ok" in capsys.readouterr().out
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))
    assert _run(["verify"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "colorize/default" in captured.out
    assert "do not match" in captured.err


def test_builtin_checkpoint_loads_as_the_same_network(checkpoints):
    torch.manual_seed(0)
    net = build_generator(TINY).eval()
    path = checkpoints / "colorize-default.safetensors"
    W.save_builtin(net, ARCH_NAME, TINY, path)
    loaded = W.load_model("colorize", "default")["colorizer"]
    assert not loaded.training
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert (loaded(x) - net(x)).abs().max() < 0.05  # fp16 storage


@pytest.mark.parametrize("junk", ["text", "random_tensors", "empty", "tensor_list"])
def test_import_refuses_junk_with_one_line(tmp_path, junk):
    path = tmp_path / f"{junk}.pth"
    if junk == "text":
        path.write_text("this is not a checkpoint\n" * 20)
    elif junk == "random_tensors":
        torch.save({"a.weight": torch.randn(3, 3), "b.bias": torch.randn(3)}, path)
    elif junk == "empty":
        path.write_bytes(b"")
    else:
        torch.save([torch.randn(2)], path)
    with pytest.raises(WeightsFormatError) as e:
        _run(["import", str(path)])
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    assert not (W.store_dir() / "index.json").exists()


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_import_never_executes_code_from_a_pickle(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "ColorizeArtistic_gen.pth"
    payload = {"model": {"layers.0.0.weight": _MakesAFile(marker)}}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    # Sanity: the payload really does create the file when unpickled by an unsafe loader.
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_MakesAFile(probe)))
    assert probe.exists()
    with pytest.raises(WeightsFormatError) as e:
        _run(["import", str(path)])
    assert not marker.exists()
    assert "\n" not in str(e.value) and "weights-only" in str(e.value)


def test_import_missing_file_is_one_line(tmp_path):
    with pytest.raises(WeightsFormatError, match="no such file"):
        _run(["import", str(tmp_path / "nope.pth")])


def test_import_refuses_a_deoldify_file_with_a_wrong_shape(tmp_path):
    """Recognised by its keys, refused by the strict shape check (tiny: meta-device shapes)."""
    from oldfilm.colorize.generator import ARTISTIC_CONFIG
    from oldfilm.colorize.published import _match_artistic

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in build_generator(ARTISTIC_CONFIG).state_dict().items()}
    sd = {k: torch.zeros(s) for k, s in shapes.items() if "layers.0." not in k}  # no encoder
    sd["layers.0.0.weight"] = torch.zeros(64, 1, 7, 7)  # 1-channel stem: wrong shape
    sd["layers.3.0.0.weight_orig"] = torch.zeros(1024, 512, 3, 3)
    assert _match_artistic(sd)
    path = tmp_path / "ColorizeArtistic_gen.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsFormatError) as e:
        _run(["import", str(path)])
    assert "missing keys" in str(e.value) and "wrong shapes" in str(e.value) and "\n" not in str(e.value)

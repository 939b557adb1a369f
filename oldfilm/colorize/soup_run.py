"""``oldfilm train colorizer --soup ING[:W]... --out DIR``: a run folder holding a weight average.

The ingredients are fine-tunes of one generator: training run folders (their latest
``generator.pt``) or our exported ``.safetensors`` checkpoints. DIR gets what ``--export`` reads
from a run (``run.json`` of the first run ingredient, so the same data and held-out split;
``state.json``; ``generator.pt``) and ``soup.json``, the recipe, which the model card lists in
place of a training schedule. No fastai here.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .. import weights as W
from ..errors import OldfilmError
from .generator import build_generator, generator_config
from .soup import soup


def parse_ingredient(text: str) -> tuple[Path, float]:
    """``PATH[:W]`` -> (PATH, W); W defaults to 1 and must be positive."""
    path, sep, w = text.rpartition(":")
    if not sep or "/" in w or not path:
        path, w = text, "1"
    try:
        weight = float(w)
    except ValueError:
        weight = -1.0
    if weight <= 0:
        raise OldfilmError(f"--soup {text}: expected PATH or PATH:WEIGHT with a positive weight")
    return Path(path), weight


def _load(path: Path) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(state_dict, generator config, facts for the recipe) of one ingredient."""
    from .export import _run_info, load_run_generator

    if path.is_dir():
        cfg, st = _run_info(path)
        net, full = load_run_generator(path)
        facts = {"kind": "run", "source": str(path), "sha256": W.sha256_file(path / "generator.pt"),
                 "iters_done": st["iters_done"], "hours": round(sum(st["seconds"].values()) / 3600, 3),
                 "size": cfg["size"], "batch_size": cfg["batch_size"], "feature_loss": cfg["feature_loss"],
                 "shift_consistency": cfg.get("shift_consistency", 0.0), "lr_gen": cfg["lr_gen"],
                 "init_gen": cfg.get("init_gen"), "seed": cfg["seed"]}
        return net.state_dict(), full, facts
    if path.suffix == ".safetensors" and path.is_file():
        meta = W.read_builtin_meta(path)
        if meta.get("oldfilm.arch") != "deoldify-unet":
            raise OldfilmError(f"--soup {path}: not a colorizer checkpoint (architecture {meta.get('oldfilm.arch')!r})")
        full = generator_config(json.loads(meta["oldfilm.config"]))
        net = W.load_builtin(path).float()
        facts = {"kind": "checkpoint", "source": str(path), "sha256": W.sha256_file(path),
                 **{k: meta[f"oldfilm.{k}"] for k in ("iters", "hours", "feature_loss") if f"oldfilm.{k}" in meta}}
        return net.state_dict(), full, facts
    raise OldfilmError(f"--soup {path}: neither a colorizer training run folder nor a .safetensors checkpoint")


def write_soup_run(ingredients: list[tuple[Path, float]], out: Path, chroma_gain: float = 1.0) -> Path:
    """Average ``ingredients`` into the run folder ``out`` (created; must not hold a run yet)."""
    from .train import _atomic_torch_save, _atomic_write_text

    if not ingredients:
        raise OldfilmError("--soup: name at least one ingredient")
    runs = [p for p, _ in ingredients if p.is_dir()]
    if not runs:
        raise OldfilmError("--soup: at least one ingredient must be a training run folder "
                           "(its run.json names the data and the held-out split)")
    if (out / "run.json").exists():
        raise OldfilmError(f"{out}: already holds a run (run.json); choose a new --out")
    loaded = [_load(p) for p, _ in ingredients]
    base = {k: v for k, v in loaded[0][1].items() if k != "chroma_gain"}
    for (p, _), (_, full, _) in zip(ingredients, loaded):
        if {k: v for k, v in full.items() if k != "chroma_gain"} != base:
            raise OldfilmError(f"--soup {p}: its generator config differs from {ingredients[0][0]}'s; "
                               "only fine-tunes of one generator can be averaged")
    full = {**base, "chroma_gain": float(chroma_gain)}
    net = soup(build_generator(full), [sd for sd, _, _ in loaded], [w for _, w in ingredients])

    cfg = json.loads((runs[0] / "run.json").read_text())
    cfg["out"] = str(out.resolve())
    cfg["gen_config"] = full
    total = sum(w for _, w in ingredients)
    seconds = sum(f["hours"] for _, _, f in loaded if f["kind"] == "run") * 3600
    out.mkdir(parents=True, exist_ok=True)
    _atomic_torch_save(net.state_dict(), out / "generator.pt")
    _atomic_write_text(out / "soup.json", json.dumps({
        "chroma_gain": float(chroma_gain),
        "ingredients": [{**f, "weight": w / total} for (_, w), (_, _, f) in zip(ingredients, loaded)],
    }, indent=2))
    _atomic_write_text(out / "state.json", json.dumps({
        "phase": "done", "epoch": 0, "seconds": {"gen": seconds, "crit": 0.0, "gan": 0.0},
        "iters_done": {"gen": sum(f["iters_done"]["gen"] for _, _, f in loaded if f["kind"] == "run"), "crit": 0, "gan": 0},
        "hardware": ["weight average of the ingredients in soup.json (their training hardware)"],
    }, indent=2))
    _atomic_write_text(out / "run.json", json.dumps(cfg, indent=2))   # last: marks the folder complete
    return out

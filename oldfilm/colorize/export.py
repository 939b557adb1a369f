"""Export a colorizer training run: fp16 safetensors checkpoint, sha pin, held-out figures, model card.

``oldfilm train colorizer --export RUN`` (see :func:`export_run`). The figures come from
``oldfilm.evaluate.evaluate_colorize`` on the run's own held-out split (same content-hash rule,
same folders), so they are on photos the model never trained on. No fastai here.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .. import weights as W
from ..errors import OldfilmError

DEFAULT_FILE = "colorize-default.safetensors"
SHEET_NAME = "colorize-default-contact.jpg"
FIGURES_DOC = "colorize-default-quality.md"
QUALITY_RF = 21        # the video default, and what the speed target is stated at
PAN_FRAMES = 24


def _run_info(run: Path) -> tuple[dict, dict]:
    cfg_p, st_p = run / "run.json", run / "state.json"
    if not cfg_p.is_file() or not st_p.is_file():
        raise OldfilmError(f"{run}: not a colorizer training run (run.json/state.json missing)")
    return json.loads(cfg_p.read_text()), json.loads(st_p.read_text())


def load_run_generator(run: Path) -> tuple[torch.nn.Module, dict]:
    """The run's latest generator (eval, float32, CPU) and its full config."""
    from .generator import build_generator, generator_config

    cfg, _ = _run_info(run)
    gp = run / "generator.pt"
    if not gp.is_file():
        raise OldfilmError(f"{run}: no generator checkpoint yet (generator.pt is written at the first checkpoint)")
    full = generator_config(cfg["gen_config"])
    net = build_generator(full)
    try:
        net.load_state_dict(torch.load(gp, map_location="cpu", weights_only=True))
    except RuntimeError as e:
        raise OldfilmError(f"{gp}: does not fit the run's generator config ({str(e).splitlines()[0]})") from e
    return net.float().eval(), full


def _fmt(v: float, p: int = 2) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{p}f}"


def quality_figures(net: torch.nn.Module, data: list[str], val_pct: float, limit: int) -> dict:
    """Held-out photo scores (ours, grayscale, sepia) and pan-clip flicker at render factor 21."""
    from ..evaluate import evaluate_colorize, load_references, pan_clip
    from ..metrics import flicker_index
    from .render import colorize_frames

    from . import data as cdata

    # ``limit`` held-out photos in content-hash order: a deterministic sample across all folders
    # (the first ``limit`` by path would be mostly one folder).
    held_out = cdata.split_files(cdata.list_images(data), val_pct)[1]
    chosen = sorted(str(f.path) for f in sorted(held_out, key=lambda f: f.digest)[:limit])
    photos = evaluate_colorize(chosen, net, render_factor=QUALITY_RF, max_side=384)
    # Pan over the largest of them: colorizing each crop on its own (what a clip without a
    # temporal model gets) vs colorizing the still once and cropping the same windows (stable).
    refs = load_references(chosen, max_side=None)
    name, still = max(refs, key=lambda r: r[1].shape[0] * r[1].shape[1])
    pan = evaluate_colorize([still], net, render_factor=QUALITY_RF, pan=PAN_FRAMES, max_side=None)
    gray_still = np.repeat((still @ np.array([0.299, 0.587, 0.114])).round().clip(0, 255).astype(np.uint8)[..., None], 3, 2)
    once = colorize_frames([gray_still], net, QUALITY_RF)[0]
    once_crops = pan_clip(once, PAN_FRAMES)
    f_once = flicker_index(once_crops)
    return {"photos": photos, "pan": pan, "pan_source": name, "pan_once_flicker": {"L": f_once.L, "ab": f_once.ab}}


def _run_name(cfg: dict) -> str:
    """The run folder as the user would type it: relative to the repository when inside it."""
    out = Path(cfg["out"])
    try:
        return str(out.resolve().relative_to(W.REPO_ROOT.resolve()))
    except ValueError:
        return str(out)


def _soup_lines(recipe: dict) -> list[str]:
    """The card's account of a weight average (oldfilm.colorize.soup_run) instead of a schedule."""
    lines = ["## Recipe: a weight average of fine-tunes (`oldfilm train colorizer --soup`)",
             ("The weighted mean of these generators' weights (spectral norms refreshed; oldfilm.colorize.soup), "
              f"output chroma × {recipe['chroma_gain']:g}:")]
    for ing in recipe["ingredients"]:
        if ing["kind"] == "run":
            what = (f"{ing['iters_done']['gen']} iterations, {ing['hours']:.2f} h, {ing['size']} px crops, batch "
                    f"{ing['batch_size']}, lr_max {ing['lr_gen']}, loss `{ing['feature_loss']}`, shift term "
                    f"{ing['shift_consistency']:g}, seed {ing['seed']}"
                    + (f", fine-tuned from `{Path(*Path(ing['init_gen']).parts[-2:])}`" if ing.get("init_gen") else ""))
        else:
            what = f"exported checkpoint (its recorded run: iterations {ing.get('iters', '?')}, {ing.get('hours', '?')} h)"
        lines.append(f"- weight {ing['weight']:.3f}: `{Path(*Path(ing['source']).parts[-2:])}` (sha256 "
                     f"`{ing['sha256'][:16]}…`): {what};")
    return lines


def _card(full_cfg: dict, cfg: dict, st: dict, fig: dict, sha: str, size_mb: float, n_params: int, dest: Path,
          soup_recipe: dict | None = None) -> str:
    from ..evaluate import format_table

    m = fig["photos"]["methods"]
    ours, gray, sep = m["ours"], m["grayscale"], m["sepia"]
    ref_cf = fig["photos"]["reference"]["colourfulness"]
    t = fig["pan"]["temporal"]
    hours = sum(st["seconds"].values()) / 3600
    mins = cfg.get("minutes")

    def of(phase: str, i: int, iters_key: str) -> str:
        done = f"{st['iters_done'][phase]} iterations"
        if mins:
            return f"{done} in {st['seconds'][phase] / 60:.0f} of {mins[i]:g} planned minutes"
        return f"{done} of {cfg[iters_key]}"

    de_gain = ours["deltaE00"] / gray["deltaE00"] - 1.0
    lines = [
        "# colorize/default — oldfilm's light colorizer",
        "",
        f"File: `checkpoints/{dest.name}` (fp16 safetensors, {size_mb:.1f} MB, sha256 `{sha}`, pinned in",
        "`checkpoints/SHA256SUMS`). Exported " + _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        + " by `oldfilm train colorizer --export <run>`.",
        "",
        "## Architecture",
        f"`deoldify-unet` (oldfilm.colorize.generator), config `{json.dumps(full_cfg, sort_keys=True)}`:",
        f"DeOldify's U-Net family at a laptop size, {n_params / 1e6:.1f} M parameters. The resnet18 encoder",
        "started from random weights (no ImageNet weights can be downloaded here). Input: gray photo",
        "stretched to render_factor×16 square; output chroma under the original luminance (colorize-spec §4).",
        "",
        "## Training data and licences",
        f"Folders: {', '.join('`' + Path(d).name + '`' for d in cfg['data'])} (../shared/data/photos). Held out: "
        f"{cfg['val_pct']}% by file content hash (`oldfilm.colorize.data.is_validation`).",
        "`clothing_cc0` capped at 30% of each batch. **Most of this data is for research / non-commercial",
        "use only** (ImageNet samples: ImageNet terms; BSDS500, Urban100, SUN/Hays, Set5/Set14: research use;",
        "faces_hires: mixed, research use); the rest is CC0, CC-BY-SA, GPL or MIT. Like the published",
        "DeOldify and BOPBTL weights (trained on ImageNet / Pascal VOC), treat this checkpoint as",
        "**research-only**.",
        "",
        *(_soup_lines(soup_recipe) if soup_recipe else [
            "## Schedule (NoGAN, colorize-spec §6 scaled to a CPU budget)",
            f"- generator pretraining: {of('gen', 0, 'iters_gen')}, "
            f"{cfg['size']} px crops, batch {cfg['batch_size']}, one-cycle lr_max {cfg['lr_gen']}, "
            f"loss `{cfg['feature_loss']}` (docs/feature-loss.md)"
            + (f", fine-tuned from `{Path(*Path(cfg['init_gen']).parts[-2:])}`" if cfg.get("init_gen") else "") + ";",
            f"- critic pretraining: {of('crit', 1, 'iters_crit')} "
            f"(patch critic nf {cfg['critic_nf']}, generated vs real, lr {cfg['lr_crit']});",
            f"- GAN: {of('gan', 2, 'iters_gan')}, AdaptiveGANSwitcher "
            f"(critic_thresh {cfg['critic_thresh']}), weights_gen {tuple(cfg['weights_gen'])}, lr {cfg['lr_gan']} (critic ×5);",
            f"- run state at export: phase `{st['phase']}`"
            + ("" if st["phase"] == "done" else " (**interim export of a run still in progress**)")
            + f"; {hours:.2f} hours of training.",
            f"- hardware: {'; '.join(st.get('hardware', []))} (shared by other jobs: wall time overstates the compute).",
        ]),
        "",
        f"## Quality on the held-out split ({fig['photos']['images']} photos sampled by content hash from all "
        f"folders, render factor {QUALITY_RF})",
        "",
        "```",
        format_table(fig["photos"]),
        "```",
        "",
        f"- mean CIEDE2000 to ground truth: ours {_fmt(ours['deltaE00'])}, grayscale {_fmt(gray['deltaE00'])}, "
        f"sepia {_fmt(sep['deltaE00'])} → ours is {_fmt(100 * abs(de_gain), 1)}% {'below' if de_gain < 0 else 'above'} "
        f"grayscale (target ≥ 15% below: "
        f"{'met' if de_gain <= -0.15 else 'not met'}).",
        f"- colourfulness: ours {_fmt(ours['colourfulness'])}, ground truth {_fmt(ref_cf)} → ratio "
        f"{_fmt(ours['cf_ratio'])} (target ≥ 0.60: {'met' if ours['cf_ratio'] >= 0.6 else 'not met'}); "
        f"sepia {_fmt(sep['colourfulness'])}.",
        f"- contact sheet (input, ours, sepia, ground truth): `docs/{SHEET_NAME}`.",
        "",
        f"## Flicker on a panning clip ({PAN_FRAMES} frames of `{fig['pan_source']}`, 4 px/frame)",
        f"- colorizing each crop independently: flicker_ab {_fmt(t['ours']['flicker_ab'], 3)}, "
        f"ground-truth crops {_fmt(t['ours']['flicker_ab_reference'], 3)} (ratio {_fmt(t['ours']['flicker_ab_ratio_reference'])});",
        f"- colorizing the still once, then cropping: flicker_ab {_fmt(fig['pan_once_flicker']['ab'], 3)};",
        f"- sepia baseline: flicker_ab {_fmt(t['sepia']['flicker_ab'], 3)}; CDC ours {_fmt(t['ours']['cdc'], 4)}.",
        "",
        f"Regenerate: `oldfilm train colorizer --export {_run_name(cfg)}` (writes this card, the checkpoint,",
        f"`docs/{FIGURES_DOC}` and the contact sheet).",
    ]
    return "\n".join(lines) + "\n"


def export_run(run: Path, dest: Path | None = None, eval_items: int = 60, docs: Path | None = None) -> int:
    """Checkpoint + sha pin + figures + card for the run in ``run``; returns 0."""
    from ..evaluate import format_table, report_sheet
    from .generator import ARCH_NAME, count_parameters

    cfg, st = _run_info(run)
    net, full = load_run_generator(run)
    shipped = W.checkpoints_dir() / DEFAULT_FILE
    dest = dest or shipped
    # an export elsewhere (to score a run) keeps its figures and sheet beside it, not over the shipped docs
    docs = docs or (W.REPO_ROOT / "docs" if dest.resolve() == shipped.resolve() else dest.parent)
    t0 = time.time()
    sha = W.save_builtin(net, ARCH_NAME, full, dest, extra={
        "iters": json.dumps(st["iters_done"]), "phase": st["phase"],
        "hours": f"{sum(st['seconds'].values()) / 3600:.3f}", "feature_loss": cfg["feature_loss"],
    })
    if dest.parent.resolve() == W.checkpoints_dir().resolve():
        W.record_builtin_sha(dest)
    net = W.load_builtin(dest)     # score what ships: the fp16 round trip
    size_mb = dest.stat().st_size / 1e6
    fig = quality_figures(net, cfg["data"], cfg["val_pct"], eval_items)
    docs.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.fromarray(report_sheet(fig["photos"], cell=160)).save(docs / SHEET_NAME, quality=88)
    recipe = json.loads((run / "soup.json").read_text()) if (run / "soup.json").is_file() else None
    card = _card(full, cfg, st, fig, sha, size_mb, count_parameters(net), dest, recipe)
    dest.with_suffix(".md").write_text(card)
    (docs / FIGURES_DOC).write_text(
        "# Quality of the shipped default colorizer\n\n"
        f"Produced by `oldfilm train colorizer --export {_run_name(cfg)}` (oldfilm/colorize/export.py), on the\n"
        "training run's held-out split. Same text as the figures in checkpoints/colorize-default.md.\n\n"
        + "## Quality" + card.split("## Quality", 1)[1]
        + "\n### Pan clip, all methods\n\n```\n" + format_table(fig["pan"]) + "\n```\n"
    )
    m = fig["photos"]["methods"]
    print(f"exported {dest} ({size_mb:.1f} MB, sha256 {sha[:16]}…) in {time.time() - t0:.0f} s; held-out ΔE00 "
          f"ours {m['ours']['deltaE00']:.2f} / gray {m['grayscale']['deltaE00']:.2f}, colourfulness ratio "
          f"{m['ours']['cf_ratio']:.2f}; card {dest.with_suffix('.md')}")
    return 0

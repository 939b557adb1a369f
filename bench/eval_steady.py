"""Steady colours (`--steady-colors`, oldfilm/colorize/steady.py): how much colour flicker the
flow-guided chroma filter takes out, and what it costs in colour accuracy.

Every clip is colour footage made gray, colorized frame by frame by the default colorizer (render
factor 21, as for video), then filtered at several strengths (0 = the colorizer alone). Scores
against the clip's true colours:

- ``de00``: mean CIEDE2000 to the truth (every third frame), lower is better;
- ``f_ab``: the flicker index F_ab (metrics.md: frame-to-frame jumps of the mean a*, b*), beside
  the truth's own;
- ``ewarp_ab``: the local flicker: the mean squared a*, b* change (CIELAB units²) of each pixel
  from frame to frame along the *true* clip's flow, outside occlusions, less the truth's own
  (what remains is flicker the colorizer added; below 0 where the output's colours are flatter
  than the truth's, as a colorizer's are).

Clips:

1. ``shots``: the colour fixture clips (Big Buck Bunny, the rabbit), split at cuts: real motion,
   a walking rabbit, a moving camera, new things coming into view;
2. ``weave``: held-out photos of the colorizer's split, each made into a 24-frame clip that pans
   across the photo with a film gate's weave (a seeded random jitter of up to 2 px per frame);
3. ``... grain``: the same clips with fresh film grain in every frame of the gray input (Gaussian,
   sd 6 levels, blurred over a pixel), as old film has: the colorizer then sees a different
   input in every frame even where nothing moves.

    .venv/bin/python bench/eval_steady.py --threads 2 --limit 16 --cache runs/steady_cache --strengths 0,0.5,0.9,0.95 --json docs/eval/steady_colours.json --sheet docs/steady-colours.jpg

Also ``wake``: a synthetic disc sliding over still ground (``wake_case``), the error on the
ground it uncovered: a filter that smears colour along the flow leaves a trail there.
Write-up: docs/steady-colours.md.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from eval_reference import reel_shots  # noqa: E402
from oldfilm.colorize import steady as S  # noqa: E402
from oldfilm.colorize.adjust import cielab, cielab_to_rgb8  # noqa: E402
from oldfilm.options import STEADY_DEFAULT  # noqa: E402
from oldfilm.colorize.render import colorize_frames  # noqa: E402
from oldfilm.contact_sheet import contact_sheet  # noqa: E402
from oldfilm.evaluate import grayscale, load_references  # noqa: E402
from oldfilm.metrics.color import mean_ciede2000, rgb_to_lab  # noqa: E402
from oldfilm.metrics.temporal import flicker_index, occlusion_mask, optical_flow, warp  # noqa: E402
from oldfilm.weights import load_model  # noqa: E402

DATA = REPO.parent / "shared/data/photos"
RF = 21
SHOWN = STEADY_DEFAULT     # the strength the contact sheet and the wake case show


def weave_clip(rgb: np.ndarray, rng: np.random.Generator, n: int = 24, step: float = 3.0,
               crop: float = 0.7, jitter: float = 2.0) -> list[np.ndarray]:
    """``n`` crops of ``crop`` of the photo, panning ``step`` px a frame with a gate weave of up to
    ``jitter`` px (subpixel, bilinear)."""
    h, w = rgb.shape[:2]
    ch, cw = int(h * crop) // 2 * 2, int(w * crop) // 2 * 2
    step = min(step, (w - cw - 2 * jitter - 2) / max(1, n - 1))
    out = []
    for t in range(n):
        x = jitter + 1 + t * step + rng.uniform(-jitter, jitter)
        y = (h - ch) / 2 + rng.uniform(-jitter, jitter)
        m = np.float32([[1, 0, -x], [0, 1, -y]])
        out.append(cv2.warpAffine(rgb, m, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def add_grain(gray_rgb: np.ndarray, rng: np.random.Generator, sd: float = 6.0) -> np.ndarray:
    g = rng.normal(0, sd, gray_rgb.shape[:2]).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 0.7) * 1.6
    y = gray_rgb[..., 0].astype(np.float32) + g
    return np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def ab_warp_error(out: list[np.ndarray], flows: list[np.ndarray], keeps: list[np.ndarray]) -> float:
    """Mean squared a*, b* change along the forward flows (CIELAB units²), where ``keeps`` (the
    pairs' non-occluded pixels) is True."""
    total = []
    labs = [rgb_to_lab(o)[..., 1:].astype(np.float32) for o in out]
    for t in range(1, len(out)):
        fw, keep = flows[t - 1], keeps[t - 1]
        d = ((warp(labs[t], fw) - labs[t - 1]) ** 2).sum(-1)
        total.append(float(d[keep].mean()) if keep.any() else float(d.mean()))
    return float(np.mean(total))


def clips(limit: int, seed: int) -> list[tuple[str, str, list[np.ndarray]]]:
    """(case, name, true colour frames)."""
    out = [("shots", name, frames) for name, frames in reel_shots()]
    rng = np.random.default_rng(seed)
    for name, rgb in load_references([DATA], max_side=640, limit=limit, holdout=5, holdout_task="colorize"):
        out.append(("weave", name, weave_clip(rgb, rng)))
    return out


def wake_case(speed: float, lighter: float, strength: float, seed: int = 0) -> tuple[float, float]:
    """A purple disc (r 40 px) slides ``speed`` px a frame over a still warm ground ``lighter``
    levels darker than it, on a 320x240 frame, each frame's chroma jittered (sd 3 YUV units) as
    a colorizer's flickers. The wake is the ground the disc covered in the last 6 frames, clear of
    its edge. Returns (mean |U|+|V| error there, filtered; the same, unfiltered)."""
    rng = np.random.default_rng(seed)

    def texture() -> np.ndarray:
        t = cv2.resize(rng.random((30, 40), np.float32), (320, 240), interpolation=cv2.INTER_CUBIC)
        return 80 + 68 * (t - t.min()) / (t.max() - t.min())

    ground, disc = texture(), texture() + lighter
    yy, xx = np.mgrid[0:240, 0:320]
    state, masks, err, raw_err = None, [], [], []
    for t in range(20):
        inside = (xx - 50 - speed * t) ** 2 + (yy - 120) ** 2 < 40**2
        luma = np.clip(np.where(inside, disc, ground), 0, 255).astype(np.uint8)
        uv = np.stack([np.where(inside, -25.0, 10.0), np.where(inside, 25.0, -5.0)], -1)

        def rgb(chroma: np.ndarray) -> np.ndarray:
            yuv = np.concatenate([luma[..., None], 128 + chroma], -1)
            return cv2.cvtColor(np.clip(np.rint(yuv), 0, 255).astype(np.uint8), cv2.COLOR_YUV2RGB)

        raw, truth = rgb(uv + rng.normal(0, 3, 2)), rgb(uv)
        out, state, _ = S.steady_frame(np.repeat(luma[..., None], 3, 2), raw, state, strength)
        if t >= 8:
            wake = np.any(masks[-6:], axis=0) & ~cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            yuv_t = cv2.cvtColor(truth, cv2.COLOR_RGB2YUV)[wake][:, 1:].astype(np.float32)
            for img, acc in ((out, err), (raw, raw_err)):
                acc.append(np.abs(cv2.cvtColor(img, cv2.COLOR_RGB2YUV)[wake][:, 1:] - yuv_t).sum(-1).mean())
        masks.append(inside)
    return float(np.mean(err)), float(np.mean(raw_err))


def x_t_slice(frames: list[np.ndarray], min_rows: int = 96) -> np.ndarray:
    """The middle row of every frame, stacked top to bottom in time, as its colour alone: CIELAB
    a*, b* three times stronger under an even lightness (L* 65), so that colour flicker shows as
    horizontal streaks and the lightness's detail does not hide it (uint8 RGB T×W×3, rows
    repeated up to ``min_rows``)."""
    rows = np.stack([f[f.shape[0] // 2] for f in frames])
    lab = cielab(rows)
    lab[..., 0] = 65.0
    lab[..., 1:] *= 3.0
    return np.repeat(cielab_to_rgb8(lab), max(1, -(-min_rows // len(frames))), axis=0)


def colorized(grays: list[np.ndarray], net: torch.nn.Module, cache: Path | None) -> list[np.ndarray]:
    if cache is not None and cache.exists():
        return list(np.load(cache)["raw"])
    raw = colorize_frames(grays, net, RF)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, raw=np.stack(raw))
    return raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=16, help="held-out photos for the weave clips")
    ap.add_argument("--strengths", default="0,0.5,0.7,0.8,0.9")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None,
                    help="write x-t slices (the middle row of every frame, stacked in time) of a few clips here")
    ap.add_argument("--match-levels", type=float, default=S.MATCH_LEVELS)
    ap.add_argument("--match-blur", type=float, default=S.MATCH_BLUR)
    ap.add_argument("--chroma-sigma", type=float, default=S.CHROMA_SIGMA)
    ap.add_argument("--work-side", type=int, default=S.WORK_SIDE)
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep the colorizer's outputs here (npz per clip), for runs that change only the filter")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    S.MATCH_LEVELS, S.MATCH_BLUR, S.WORK_SIDE = args.match_levels, args.match_blur, args.work_side
    S.CHROMA_SIGMA = args.chroma_sigma
    strengths = [float(s) for s in args.strengths.split(",")]
    net = next(iter(load_model("colorize", "default").values())).eval()
    t0 = time.time()
    rows: dict[str, dict[str, dict[str, list]]] = collections.defaultdict(
        lambda: collections.defaultdict(lambda: collections.defaultdict(list)))
    truth_f: dict[str, list] = collections.defaultdict(list)
    filter_s: list[float] = []
    sheet: list[tuple[str, list[np.ndarray]]] = []
    rng = np.random.default_rng(args.seed + 1)
    for case, name, truth in clips(args.limit, args.seed):
        pairs = [(optical_flow(truth[t - 1], truth[t]), optical_flow(truth[t], truth[t - 1])) for t in range(1, len(truth))]
        flows, keeps = [fw for fw, _ in pairs], [~occlusion_mask(fw, bw) for fw, bw in pairs]
        truth_ab = ab_warp_error(truth, flows, keeps)
        for grain in (False, True):
            cname = case + (" grain" if grain else "")
            grays = [grayscale(f) for f in truth]
            if grain:
                grays = [add_grain(g, rng) for g in grays]
            raw = colorized(grays, net, args.cache and args.cache / f"{cname} {name}.npz")
            truth_f[cname].append(flicker_index(truth).ab)
            line = {}
            for a in strengths:
                t1 = time.perf_counter()
                out = S.steady_clip(grays, raw, a)
                if a > 0:
                    filter_s.append((time.perf_counter() - t1) / len(out) * (640 * 480) / out[0][..., 0].size)
                r = rows[cname][f"{a:g}"]
                r["de00"].append(float(np.mean([mean_ciede2000(o, g) for o, g in zip(out[::3], truth[::3])])))
                r["f_ab"].append(flicker_index(out).ab)
                r["ewarp_ab"].append(ab_warp_error(out, flows, keeps) - truth_ab)
                line[f"{a:g}"] = (round(r["de00"][-1], 2), round(r["f_ab"][-1], 3), round(r["ewarp_ab"][-1], 2))
            shown = SHOWN if SHOWN in strengths else max(strengths)
            if args.sheet and (case == "shots" or case == "weave" and len(sheet) < 6) and not grain:
                sheet.append((f"{cname}: {name}", [x_t_slice(raw), x_t_slice(S.steady_clip(grays, raw, shown)),
                                                   x_t_slice(truth)]))
            print(cname, name, len(truth), "truth f_ab", round(truth_f[cname][-1], 3), json.dumps(line), flush=True)
    res: dict = {"render_factor": RF, "work_side": S.WORK_SIDE, "match_levels": S.MATCH_LEVELS,
                 "match_blur": S.MATCH_BLUR, "chroma_sigma": S.CHROMA_SIGMA, "cases": {}}
    for cname, by_a in rows.items():
        res["cases"][cname] = {"clips": len(truth_f[cname]), "truth_f_ab": round(float(np.mean(truth_f[cname])), 4)}
        for a, r in by_a.items():
            res["cases"][cname][a] = {k: round(float(np.mean(v)), 4) for k, v in r.items()}
    shown = SHOWN if SHOWN in strengths else max(strengths)
    res["wake"] = {f"speed {sp:g}, {d:g} levels lighter": dict(zip(("filtered", "colorizer"), map(
        lambda x: round(x, 3), wake_case(sp, d, shown)))) for sp in (2, 4, 8) for d in (10, 25)}
    res["wake"]["strength"] = shown
    print("wake", json.dumps(res["wake"]), flush=True)
    res["filter_seconds_per_640x480_frame"] = round(float(np.median(filter_s)), 4)
    res["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(res, indent=1))
    if args.sheet:
        shown = SHOWN if SHOWN in strengths else max(strengths)
        img = contact_sheet([r for _, r in sheet], ["colorizer alone", f"--steady-colors {shown:g}", "truth"],
                            [n for n, _ in sheet], cell=320)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()

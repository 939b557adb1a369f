"""How the constants of `--reference` were chosen (oldfilm/colorize/reference.py): the lightness
weight and the background gate's bounds.

Tuning cases (a subset of bench/eval_reference.py's; the photo figures there are on all 157):
the first 30 held-out photos of the colorizer's split as ``shift`` and ``zoom`` views (the
reference shows the same scene), with one (``unrelated``) or three (``unrel3``) other held-out
photos as references (it shows nothing of it); the first three photos of each Deep Exemplar
reference set against the rest of their set (``exemplar``); every 12th frame of the colour fixture
clips against their first frame. Every case is scored by mean CIEDE2000 to the truth.

Variants: the lightness weight (0, or 5 per (ΔL*/100)²); no gate (``always``); the gate on the
match share with the bundled background photos, with the share counted on the match score
(lightness included, as shipped) or on cosine similarity alone, at several bounds. Also the
median match share of each case.

Then the weight of the reference selection (SELECT_WEIGHT: 0 (none), 1, 2, 4) where several references are
given: every 6th frame of the fixture clips' shots with every shot's first frame as references
(``pooled keyframes``; the clips are two excerpts of one film, so the other keyframe resembles the
frame), the Deep Exemplar sets as above, and the first 20 held-out photos with two references,
its left and its right 60 % (``two halves``: both show part of the frame).

    .venv/bin/python bench/reference_tuning.py --threads 2 --json docs/eval/reference_tuning.json
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import eval_reference as E  # noqa: E402
from oldfilm.colorize import reference as R  # noqa: E402
from oldfilm.colorize.render import finish, model_input, model_rgb  # noqa: E402
from oldfilm.compare import read_rgb8  # noqa: E402
from oldfilm.evaluate import load_references  # noqa: E402
from oldfilm.metrics.color import mean_ciede2000  # noqa: E402

WEIGHTS = (0.0, 5.0)
BOUNDS = ((0.1, 0.3), (0.15, 0.35), (0.2, 0.4))


def cases() -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    out = []
    photos = load_references([E.DATA], holdout=5.0, holdout_task="colorize", max_side=384, limit=30)
    for i, (_, img) in enumerate(photos):
        for kind in ("shift", "zoom"):
            ref, tgt = E.views(img, kind)
            out.append((kind, tgt, [ref]))
        out.append(("unrelated", img, [photos[(i + 15) % 30][1]]))
        out.append(("unrel3", img, [photos[(i + k) % 30][1] for k in (5, 10, 15)]))
    sets: dict[str, list[Path]] = collections.defaultdict(list)
    for f in sorted((E.DATA / "dexemplar_refs").glob("v*.jpg")):
        sets[f.name[:3]].append(f)
    for files in sets.values():
        if len(files) > 1:
            imgs = [read_rgb8(f) for f in files]
            out += [("exemplar", t, imgs[:i] + imgs[i + 1:]) for i, t in enumerate(imgs[:3])]
    for path in E.CLIPS:
        frames = E.clip_frames(path)
        if np.mean([R.chroma_level(f) for f in frames[::10]]) >= R.MIN_CHROMA:
            out += [(path.stem[:12], frames[t], [frames[0]]) for t in range(6, len(frames), 12)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    col = E.Colorizer()
    rows: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    shares: dict[str, list[float]] = collections.defaultdict(list)
    saved = R.LIGHTNESS_WEIGHT

    def encode(images: list[np.ndarray], lw: float, background: list[np.ndarray] = ()) -> R.References:
        R.LIGHTNESS_WEIGHT = lw
        try:
            return R.encode_references(col.net, images, E.RF, background=background)
        finally:
            R.LIGHTNESS_WEIGHT = saved

    banks = {}
    for lw in WEIGHTS:     # the background's keys do not depend on the references: once per weight
        banks[lw] = encode(col.background[:1], lw, col.background).background
    for name, tgt, refs_img in cases():
        g = E.gray(tgt)
        y, feats = R.run_network_features(col.net, model_input(g, E.RF)[None])
        square, feats = model_rgb(y[0]), R.centred_unit(feats)
        h, w = feats.shape[-2:]
        light = torch.from_numpy(R.grid_lab(g, h, w)[..., 0])[None]
        queries = R.frame_queries(feats, light)
        rows[(name, "net")].append(mean_ciede2000(finish(g, square)[1], tgt))
        pure_best = pure_bg = None
        for lw in WEIGHTS:
            refs = dataclasses.replace(encode(refs_img, lw), background=banks[lw])
            ab, best = R.match_references(queries, refs)
            ab = ab.reshape(h, w, 2).numpy()
            share = float(R.match_share(queries, best, refs.background)[0])
            if lw == 0:
                pure_best, pure_bg = best, refs.background
            else:
                shares[name].append(share)

            def emit(label: str, weight: float) -> None:
                out = finish(g, R.fuse_square(square, ab, weight))[1]
                rows[(name, f"lightness {lw:g}, {label}")].append(mean_ciede2000(out, tgt))

            emit("always", 1.0)
            for lo, hi in BOUNDS:
                emit(f"gate {lo}-{hi}", float(R.share_weight(torch.tensor(share), lo, hi)))
            if lw:
                pure = float(R.match_share(queries, pure_best, pure_bg)[0])
                for lo, hi in BOUNDS:
                    emit(f"gate on similarity {lo}-{hi}", float(R.share_weight(torch.tensor(pure), lo, hi)))
    names = list(dict.fromkeys(k[0] for k in rows))
    variants = list(dict.fromkeys(k[1] for k in rows))
    table = {v: {n: round(float(np.mean(rows[(n, v)])), 3) for n in names} for v in variants}
    print("variant".ljust(44) + "".join(n[:10].rjust(11) for n in names))
    for v in variants:
        print(v.ljust(44) + "".join(f"{table[v][n]:11.2f}" for n in names))
    share_pct = {n: np.round(np.percentile(v, [10, 50, 90]), 3).tolist() for n, v in shares.items()}
    print("match share p10/p50/p90:", json.dumps(share_pct))
    select = select_weights(col)
    if a.json:
        a.json.write_text(json.dumps({"de00": table, "match_share_p10_p50_p90": share_pct,
                                      "cases": {n: len(rows[(n, "net")]) for n in names},
                                      "select_weight_de00": select}, indent=1) + "\n")


def select_weights(col: E.Colorizer) -> dict:
    shots = E.reel_shots()
    keys = [frames[0] for _, frames in shots]
    pooled = col.encode(keys)
    sets: dict[str, list[Path]] = collections.defaultdict(list)
    for f in sorted((E.DATA / "dexemplar_refs").glob("v*.jpg")):
        sets[f.name[:3]].append(f)
    exemplar = []
    for files in sets.values():
        if len(files) > 1:
            imgs = [read_rgb8(f) for f in files]
            exemplar += [(t, col.encode(imgs[:i] + imgs[i + 1:])) for i, t in enumerate(imgs[:3])]
    halves = []
    for _, img in load_references([E.DATA], holdout=5.0, holdout_task="colorize", max_side=384, limit=20):
        w = img.shape[1]
        halves.append((img, col.encode([img[:, : int(w * .6)], img[:, w - int(w * .6):]])))
    cases = {"pooled keyframes": [(f, pooled) for _, frames in shots for f in frames[3::6]],
             "exemplar": exemplar, "two halves": halves}
    saved, out = R.SELECT_WEIGHT, {}
    try:
        for sw in (0.0, 1.0, 2.0, 4.0):
            R.SELECT_WEIGHT = sw
            out[f"{sw:g}"] = {k: round(float(np.mean([mean_ciede2000(col.ours(t, refs)[0], t) for t, refs in v])), 3)
                              for k, v in cases.items()}
            print("select weight", sw, json.dumps(out[f"{sw:g}"]), flush=True)
    finally:
        R.SELECT_WEIGHT = saved
    return out


if __name__ == "__main__":
    main()

"""The installed restorer's three modes on the 137 whole held-out photos, degraded and not degraded.

    OLDFILM_CHECKPOINTS=DIR .venv/bin/python bench/restore_paths_whole.py [--thresholds 0.6 0.85] [--grow 1 2] [--detector-sides 224 native] [--auto-cuts 0 0.01] [--true-mask] [--json OUT]

Degraded: exactly as ``oldfilm eval ../shared/data/photos --holdout 5 --task restore --recipe photo
--overlays ../shared/data/overlays --seed 0 --size 384 --no-faces`` degrades them (photo i with
rng([0, i])), so the `on` and `auto` columns agree with that command. Not degraded: the clean
photo is the input and the target, which shows what each path costs on a good print.
Columns: `off` (the quality path), `on` (the scratch path on the detector's mask), `auto` (the
default), `on` with the detector marking at other thresholds (``--thresholds``), its mask dilated
by N px (``--grow``), or the detector run on a copy with another short side than its 256 px
(``--detector-sides``; ``native``: the photo's own size), `on` with the degradation model's own
damage mask (``--true-mask``: what a perfect detector would give; undamaged photos then have an
empty mask), `on` with the detector's mask plus every pixel it missed or minus every pixel it
marked wrongly (``--mask-errors``: which of its two kinds of error costs the dB), and `auto` with
other cuts (``--auto-cuts``: the share of marked pixels above which `auto` takes the scratch path;
the restorer's scratch mapping saves its own, chosen at export on training photos). Mean PSNR, dB.
One thread, so two runs can go side by side.
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


RECIPE, OVERLAYS = "photo", "../shared/data/overlays"     # what `oldfilm eval --task restore` is run with


def held_out_photos(limit: int | None = None):
    """(photos, degrade): the restoration trainers' held-out photos at a 384 px long side and the
    degradation ``oldfilm eval --task restore --recipe photo --seed 0`` gives them (photo i: rng([0, i]))."""
    from oldfilm.evaluate import default_degrader, load_references

    named = load_references(["../shared/data/photos"], max_side=384, holdout=5, holdout_task="restore")[:limit]
    return named, default_degrader(RECIPE, OVERLAYS, seed=0)


def detector_side(text: str) -> str:
    """``--detector-sides`` value: a number of pixels or ``native``."""
    if text != "native" and not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a short side in px or 'native'")
    return text


def main(argv: list[str] | None = None) -> int:
    from oldfilm.evaluate import build_pipeline_stage
    from oldfilm.restore import stage as restore_stage
    from oldfilm.restore.restorer import detector_threshold, scratch_probability
    from oldfilm.restore.stage import RestoreStage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thresholds", type=float, nargs="*", default=[], help="extra `on` columns at these thresholds")
    ap.add_argument("--grow", type=int, nargs="*", default=[], help="extra `on` columns with the mask dilated by N px")
    ap.add_argument("--detector-sides", type=detector_side, nargs="*", default=[], metavar="PX|native",
                    help="extra `on` columns with the detector run at this short side")
    ap.add_argument("--auto-cuts", type=float, nargs="*", default=[], help="extra `auto` columns with these cuts")
    ap.add_argument("--true-mask", action="store_true", help="an extra `on` column with the true damage mask")
    ap.add_argument("--mask-errors", action="store_true",
                    help="`on` columns with the detector's mask cleared of its misses (det|truth) or of its false "
                         "marks (det&truth): what each kind of mask error costs")
    ap.add_argument("--limit", type=int, help="only the first N photos")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    named, degrade = held_out_photos(args.limit)
    plain = restore_stage.detect_scratches
    stages = {m: build_pipeline_stage("restore", model="default", faces=False, scratches=s)
              for m, s in (("off", "off"), ("on", "on"), ("auto", "auto"))}
    variants = {f"on@{t:g}": (lambda det, x, dev="cpu", t=t: scratch_probability(det, x, dev) >= t)
                for t in args.thresholds}
    for side in args.detector_sides:
        variants[f"on@{side}" + ("" if side == "native" else "px")] = (
            lambda det, x, dev="cpu", side=side: scratch_probability(
                det, x, dev, short_side=min(x.shape[:2]) if side == "native" else int(side)) >= detector_threshold(det))
    for g in args.grow:
        kernel = np.ones((2 * g + 1, 2 * g + 1), np.uint8)
        variants[f"on+{g}px"] = (lambda det, x, dev="cpu", k=kernel:
                                 cv2.dilate(plain(det, x, dev).astype(np.uint8), k).astype(bool))
    truth: list[np.ndarray] = []          # the current photo's damage mask, for `on@truth`
    if args.true_mask or args.mask_errors:
        variants["on@truth"] = lambda det, x, dev="cpu": truth[0] > 0
    if args.mask_errors:
        variants["on@det|truth"] = lambda det, x, dev="cpu": plain(det, x, dev) | (truth[0] > 0)
        variants["on@det&truth"] = lambda det, x, dev="cpu": plain(det, x, dev) & (truth[0] > 0)
    for cut in args.auto_cuts:
        stages[f"auto@{cut:g}"] = chain = build_pipeline_stage("restore", model="default", faces=False,
                                                                scratches="auto")
        (restore,) = [st for st in chain.stages if isinstance(st, RestoreStage)]
        restore._auto_min_marked = cut
    scores: dict[str, dict[str, list[float]]] = {"degraded": {}, "undamaged": {}}
    for i, (_, rgb) in enumerate(named):
        target, degraded, mask = degrade(rgb, np.random.default_rng([0, i]))
        for case, (src, tgt) in {"degraded": (degraded, target), "undamaged": (rgb, rgb)}.items():
            truth[:] = [mask if case == "degraded" else np.zeros_like(mask)]
            row = scores[case]
            if case == "degraded":          # an undamaged input equals its target
                row.setdefault("input", []).append(psnr(src, tgt))
            for mode, st in stages.items():
                row.setdefault(mode, []).append(psnr(st([src])[0], tgt))
            for name, detect in variants.items():
                restore_stage.detect_scratches = detect
                try:
                    row.setdefault(name, []).append(psnr(stages["on"]([src])[0], tgt))
                finally:
                    restore_stage.detect_scratches = plain
    means = {case: {k: float(np.mean(v)) for k, v in row.items()} for case, row in scores.items()}
    cols = list(means["degraded"])
    print(f"{len(named)} held-out photos, PSNR dB")
    print("| photos | " + " | ".join(cols) + " |")
    print("| --- |" + " ---: |" * len(cols))
    for case, row in means.items():
        print(f"| {case} | " + " | ".join(f"{row[c]:.2f}" if c in row else "–" for c in cols) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"photos": len(named), "psnr": means}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

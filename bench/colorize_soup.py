"""Do weight averages of our colorizer's fine-tunes beat each of them? ΔE00 and colourfulness.

    .venv/bin/python bench/colorize_soup.py --set train|holdout --soup NAME=ING:W[,ING:W...] ...
        [--gains 1 1.1 1.2] [--pan PHOTO...] [--threads 2] [--json OUT]

An ingredient ING is ``default`` (the installed checkpoint) or a training run folder (its latest
generator). Every ingredient must be a fine-tune of one lineage (same config). Each soup is the
weighted average of its ingredients (``oldfilm.colorize.soup``: spectral norms refreshed), scored
at render factor 21 like ``bench/colorize_render_factor.py``, once for each ``--gains`` a: the
generator config's ``chroma_gain`` (U and V of the output scaled by a; what a soup ships with).
Comparing soups at equal colourfulness (a gain each) separates better hues from mere muting.

``--set train`` is the seeded 160-photo sample of the training split (choose there); ``holdout``
is the 157-photo held-out split (check there). ``--pan PHOTO...`` instead scores flicker (F_ab) on
the 24-frame pan clips of ``oldfilm eval PHOTO --task colorize --pan 24 --size 512``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import colorize_render_factor as crf

from oldfilm import metrics
from oldfilm.colorize.generator import build_generator
from oldfilm.colorize.soup import soup
from oldfilm.colorize.soup_run import parse_ingredient
from oldfilm.evaluate import grayscale, load_references


def parse_soup(text: str) -> tuple[str, list[tuple[str, float]]]:
    """``NAME=ING:W,ING:W`` -> (NAME, [(ING, W), ...]); a bare ING weighs 1."""
    name, _, spec = text.partition("=")
    if not spec:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=ING:W[,ING:W...]")
    return name, [(str(p), w) for p, w in map(parse_ingredient, spec.split(","))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soup", type=parse_soup, nargs="+", required=True, metavar="NAME=ING:W,...")
    ap.add_argument("--set", choices=["train", "holdout"])
    ap.add_argument("--pan", nargs="+", metavar="PHOTO")
    ap.add_argument("--gains", type=float, nargs="+", default=[1.0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    if bool(args.set) == bool(args.pan):
        ap.error("give --set or --pan")
    torch.set_num_threads(args.threads)
    cache: dict[str, dict[str, torch.Tensor]] = {}

    def state(ing: str) -> dict[str, torch.Tensor]:
        if ing not in cache:
            cache[ing] = crf.generator(None if ing == "default" else ing).state_dict()
        return cache[ing]

    if args.set == "train":
        refs = crf.training_sample(160, 384)
    elif args.set == "holdout":
        refs = load_references([crf.PHOTOS], max_side=384, holdout=5)
    out: dict = {"set": args.set, "pan": args.pan, "soups": {}}
    config = crf.generator(None).config
    if not args.pan:
        cf_gt = float(np.mean([metrics.colourfulness(t) for _, t in refs]))
    for name, parts in args.soup:
        row: dict = {"ingredients": parts}
        t0 = time.perf_counter()
        # averaged (and its spectral norms refreshed) once; each gain only rebuilds the output map
        mixed = soup(build_generator(config), [state(i) for i, _ in parts], [w for _, w in parts]).state_dict()
        for a in args.gains:
            net = build_generator({**config, "chroma_gain": a})
            net.load_state_dict(mixed)
            net.eval()
            if args.pan:
                from oldfilm.evaluate import evaluate_colorize

                row[str(a)] = {p: evaluate_colorize([p], net, render_factor=21, pan=24, max_side=512,
                                                    baselines=False)["temporal"]["ours"]["flicker_ab"] for p in args.pan}
                print(f"{name:24s} gain {a:g}: F_ab " + "  ".join(f"{row[str(a)][p]:.3f}" for p in args.pan), flush=True)
                continue
            outs = [crf.colorize(net, grayscale(rgb), 21, False) for _, rgb in refs]
            row[str(a)] = {"deltaE00": float(np.mean([metrics.mean_ciede2000(o, t) for o, (_, t) in zip(outs, refs)])),
                           "cf_ratio": float(np.mean([metrics.colourfulness(o) for o in outs])) / cf_gt}
        if not args.pan:
            print(f"{name:24s} " + "  ".join(f"gain {a:g}: {row[str(a)]['deltaE00']:.3f} at {row[str(a)]['cf_ratio']:.3f}"
                                           for a in args.gains) + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        out["soups"][name] = row
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

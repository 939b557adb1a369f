"""Which render factor suits our colorizer? ΔE00 and colourfulness against the render factor.

    .venv/bin/python bench/colorize_render_factor.py --set train|holdout|PATH... [--factors 10 14 17 21 25 28 35]
        [--limit 160] [--max-side 384] [--run RUN] [--threads 1] [--json OUT]

Each photo is made grey and colorized by the generator at each render factor (the whole photo
squeezed to a render_factor·16 square, as ``oldfilm colorize`` does), then scored like ``oldfilm
eval --task colorize``. DeOldify's photo default, 35, was chosen for its own generator, which was
trained at up to 256 px; ours saw 64–128 px views of photos at most ~384 px wide, so the square
that suits it is measured here rather than assumed.

Sets: ``train`` is a seeded sample of ``--limit`` photos of the colorizer's *training* split of
../shared/data/photos (where a default is chosen); ``holdout`` is its 5 % validation split (where
the choice is checked, as ``oldfilm eval --holdout 5``); or files/folders given by path.

``--pan PHOTO...`` instead scores colour flicker (F_ab, metrics.md) on a 24-frame pan over each
photo at each factor, each crop colorized on its own, as ``oldfilm eval PHOTO --task colorize --pan
24 --size 512`` does.

``--flip`` averages the network's output over the photo and its mirror image (test-time
augmentation; twice the work), to see whether a cheap ensemble beats one view.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from oldfilm import metrics
from oldfilm.colorize.render import finish, model_input, model_rgb, run_network
from oldfilm.evaluate import _resize_max, grayscale, is_held_out_for, load_references

PHOTOS = Path("../shared/data/photos")


def training_sample(limit: int, max_side: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """``limit`` photos of the colorizer's training split (never its held-out 5 %), seeded."""
    from oldfilm.compare import read_rgb8
    from oldfilm.images import IMAGE_EXTENSIONS

    files = sorted(f for f in PHOTOS.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file())
    files = [f for f in files if not is_held_out_for("colorize", f, 5)]
    pick = np.random.default_rng(seed).choice(len(files), size=min(limit, len(files)), replace=False)
    return [(files[i].name, _resize_max(read_rgb8(files[i]), max_side)) for i in sorted(pick)]


def colorize(net: torch.nn.Module, gray: np.ndarray, rf: int, flip: bool) -> np.ndarray:
    """uint8 RGB HxWx3: ``gray`` (uint8 RGB, equal channels) colorized at ``rf``; with ``flip`` the
    network outputs for the view and its mirror are averaged before the usual truncation."""
    x = model_input(gray, rf)[None]
    y = run_network(net, x)[0]
    if flip:
        y = (y + run_network(net, torch.flip(x, dims=[3]))[0].flip(dims=[2])) / 2
    return finish(gray, model_rgb(y))[1]


def generator(run: str | None) -> torch.nn.Module:
    if run is None:
        from oldfilm import weights

        return next(iter(weights.load_model("colorize", "default").values())).float().eval()
    from oldfilm.colorize.export import load_run_generator

    return load_run_generator(Path(run))[0].eval()


def pan_flicker(net: torch.nn.Module, photos: list[str], factors: list[int], json_out: str | None) -> int:
    from oldfilm.evaluate import evaluate_colorize

    out: dict = {}
    for rf in factors:
        for photo in photos:
            r = evaluate_colorize([photo], net, render_factor=rf, pan=24, max_side=512, baselines=False)
            out.setdefault(str(rf), {})[photo] = r["temporal"]["ours"]["flicker_ab"]
            print(f"render factor {rf:3d}: F_ab {out[str(rf)][photo]:.3f}  {photo}", flush=True)
    if json_out:
        Path(json_out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", nargs="+", help="train, holdout, or photo files/folders")
    ap.add_argument("--pan", nargs="+", metavar="PHOTO", help="flicker on pan clips over these photos instead")
    ap.add_argument("--factors", type=int, nargs="+", default=[10, 14, 17, 21, 25, 28, 35])
    ap.add_argument("--limit", type=int, default=160, help="train: photos in the sample")
    ap.add_argument("--max-side", type=int, default=384, help="photos scaled down to this long side (0: as they are)")
    ap.add_argument("--run", help="a training run's generator instead of the installed default")
    ap.add_argument("--flip", action="store_true", help="average each output with its mirror image's")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if bool(args.set) == bool(args.pan):
        ap.error("give --set or --pan")
    if args.pan:
        return pan_flicker(generator(args.run), args.pan, args.factors, args.json)
    side = args.max_side or None
    if args.set == ["train"]:
        refs = training_sample(args.limit, side)
    elif args.set == ["holdout"]:
        refs = load_references([PHOTOS], max_side=side, holdout=5)
    else:
        refs = load_references(args.set, max_side=side)
    net = generator(args.run)
    cf_gt = float(np.mean([metrics.colourfulness(t) for _, t in refs]))
    out: dict = {"set": args.set, "photos": len(refs), "max_side": args.max_side, "run": args.run, "flip": args.flip,
                 "colourfulness_gt": cf_gt, "factors": {}}
    for rf in args.factors:
        t0 = time.perf_counter()
        de, cf = [], []
        for _, rgb in refs:
            g = grayscale(rgb)
            o = colorize(net, g, rf, args.flip)
            de.append(metrics.mean_ciede2000(o, rgb))
            cf.append(metrics.colourfulness(o))
        row = {"deltaE00": float(np.mean(de)), "cf_ratio": float(np.mean(cf)) / cf_gt,
               "seconds_per_photo": (time.perf_counter() - t0) / len(refs)}
        out["factors"][str(rf)] = row
        print(f"render factor {rf:3d}: ΔE00 {row['deltaE00']:.3f}  CF/GT {row['cf_ratio']:.3f}  "
              f"{row['seconds_per_photo']:.3f} s/photo", flush=True)
    gray = float(np.mean([metrics.mean_ciede2000(grayscale(t), t) for _, t in refs]))
    out["grayscale_deltaE00"] = gray
    print(f"grayscale input: ΔE00 {gray:.3f}  ({len(refs)} photos)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What `--strength` does to fidelity, on held-out photos degraded four ways, and what it costs.

For each held-out photo (long side 384 px, degradation seed 0, no faces, `--scratches auto`, or `on`) the
default restoration runs once (`RestoreStage.restore_and_marks`), then `apply_strength` keeps
0, 0.25, 0.5, 0.75 and all of it, which is what the stage returns at each `--strength` (tested
in tests/test_restore_strength.py). PSNR (capped at 50 dB: an unchanged clean photo scores
infinite) and SSIM to the clean photo; the share of pixels strength 0 changes. Recipes: `photo`
(our full old-photo model), `film`, `bopbtl` (BOPBTL's four scan operations only: blur, noise,
low resolution, JPEG) and `clean` (the photo itself, no degradation: what restoring a good scan
costs). Then the two real old photos of the fixtures at 0, 0.5 and 1 in a contact sheet, and the
time `apply_strength` adds to a 640x480 frame with a scratch mask.

    .venv/bin/python bench/restore_strength.py --limit 60 --json docs/eval/restore_strength.json --sheet docs/strength-contact.jpg
    .venv/bin/python bench/restore_strength.py --limit 60 --scratches on --recipes photo bopbtl clean --json docs/eval/restore_strength_scratches_on.json
    .venv/bin/python bench/restore_strength.py --cost-only --json docs/eval/restore_strength_cost.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.contact_sheet import contact_sheet  # noqa: E402
from oldfilm.evaluate import build_pipeline_stage, default_degrader, load_references, score_restore  # noqa: E402
from oldfilm.images import read_image  # noqa: E402
from oldfilm.restore.strength import apply_strength  # noqa: E402

DATA = REPO.parent / "shared" / "data"
OLD = REPO.parent / "shared" / "fixtures" / "old_photos"
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
RECIPES = ("photo", "film", "bopbtl", "clean")
PSNR_CAP = 50.0
CROP = 96                                                      # px of detail shown enlarged
CROP_AT = {"David Hilbert": (0.45, 0.5), "Old Tom Morris": (0.2, 0.45)}   # (y, x) fractions: face centres


def _scores(out: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    s = score_restore(out, target)
    return min(float(s["psnr"]), PSNR_CAP), float(s["ssim"])


def fidelity(stage, named, recipe: str) -> dict:
    degrade = None if recipe == "clean" else default_degrader(recipe, DATA / "overlays", seed=0)
    rows = []
    for i, (_, rgb) in enumerate(named):
        target, degraded = (rgb, rgb) if degrade is None else degrade(rgb, np.random.default_rng([0, i]))[:2]
        restored, damage = stage.restore_and_marks(degraded)
        row = dict(zip(("input psnr", "input ssim"), _scores(degraded, target)))
        row["repaired photos"] = float(damage is not None)
        for s in STRENGTHS:
            out = apply_strength(degraded, restored, s, damage)
            row[f"psnr {s:g}"], row[f"ssim {s:g}"] = _scores(out, target)
        out0 = apply_strength(degraded, restored, 0.0, damage)
        row["pixels changed at 0 (%)"] = 100.0 * float(np.any(out0 != degraded, axis=2).mean())
        rows.append(row)
    return {k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0]}


def sheet(stage, path: Path) -> None:
    rows, names = [], []
    for f in sorted(OLD.glob("*.png")):
        rgb = read_image(f)[0]
        if rgb.dtype != np.uint8:
            rgb = (rgb // 257).astype(np.uint8)
        restored, damage = stage.restore_and_marks(rgb)
        row = [rgb] + [apply_strength(rgb, restored, s, damage) for s in (0.0, 0.5, 1.0)]
        name = f.stem.replace("rni6_", "").replace("_", " ")
        h, w = rgb.shape[:2]
        y = min(max(int(h * CROP_AT[name][0]) - CROP // 2, 0), h - CROP)
        x = min(max(int(w * CROP_AT[name][1]) - CROP // 2, 0), w - CROP)
        rows += [row, [a[y:y + CROP, x:x + CROP] for a in row]]     # the whole photo, then a detail enlarged
        names += [name, "detail, enlarged"]
    img = contact_sheet(rows, ["original", "strength 0", "strength 0.5", "strength 1 (default)"], names, cell=320)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


def cost(repeats: int = 5) -> dict:
    """Seconds (best of ``repeats``) and, for a 6000x4000 scan, the peak of Python-tracked memory
    (numpy and OpenCV arrays) that apply_strength adds, its output included."""
    import tracemalloc

    out = {}
    for (h, w), reps in (((480, 640), repeats), ((4000, 6000), 2)):
        rng = np.random.default_rng(0)
        o = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        r = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        damage = np.zeros((h, w), bool)
        damage[:, w // 6:w // 6 + 3] = True
        damage[h // 2:h // 2 + h // 8, w // 2:w // 2 + w // 16] = True
        for label, d in (("no marks", None), ("with marks", damage)):
            best = min(_timed(lambda: apply_strength(o, r, 0.5, d)) for _ in range(reps))
            out[f"apply_strength 0.5, {w}x{h}, {label} (ms)"] = round(best * 1000, 2)
            if h > 1000:
                tracemalloc.start()
                apply_strength(o, r, 0.5, d)
                out[f"apply_strength 0.5, {w}x{h}, {label}, peak MB"] = round(tracemalloc.get_traced_memory()[1] / 2**20)
                tracemalloc.stop()
    return out


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    ap.add_argument("--scratches", choices=("auto", "on"), default="auto", help="the restore stage's --scratches")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--cost-only", action="store_true", help="only the time and memory of apply_strength")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if args.cost_only:
        result = {"command": " ".join([".venv/bin/python bench/restore_strength.py", *sys.argv[1:]]), "cost": cost()}
        print(json.dumps(result, indent=1))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
        return
    named = load_references([DATA / "photos"], max_side=384, holdout=5, holdout_task="restore")[: args.limit]
    stage = build_pipeline_stage("restore", faces=False, scratches=args.scratches).stages[0]
    t0 = time.time()
    result: dict = {"command": " ".join([".venv/bin/python bench/restore_strength.py", *sys.argv[1:]]),
                    "photos": len(named), "scratches": args.scratches, "psnr_cap_db": PSNR_CAP, "recipes": {}}
    with torch.inference_mode():
        for recipe in args.recipes:
            result["recipes"][recipe] = fidelity(stage, named, recipe)
            print(recipe, json.dumps(result["recipes"][recipe]), flush=True)
        if args.sheet:
            sheet(stage, args.sheet)
    result["cost"] = cost()
    result["seconds"] = round(time.time() - t0)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Training-free ways to sharpen a scratch detector's mask, measured (docs/training-restore.md §9, §10).

    OLDFILM_CHECKPOINTS=DIR .venv/bin/python bench/scratch_mask_ideas.py gate    # DIR: restorer + detector
    .venv/bin/python bench/scratch_mask_ideas.py tta DETECTOR.safetensors [--run runs/scratch6]
    .venv/bin/python bench/scratch_mask_ideas.py hysteresis DETECTOR.safetensors [--run runs/scratch6]
    .venv/bin/python bench/scratch_mask_ideas.py hysteresis-photos HIGH LOW   # installed checkpoints

* ``gate``: keep a marked connected component only where the quality path (restorer without a
  mask) changes the photo by more than tau grey levels on average. Idea: the quality path
  removes much of the damage it sees, and leaves picture content (a golf club) alone.
* ``tta``: average the detector's probabilities over flips (test-time augmentation), with the
  threshold recalibrated for each variant as ``oldfilm train scratch --export`` does.
* ``hysteresis``: Canny-style two thresholds. A pixel above ``low`` is marked when its
  8-connected region of pixels above ``low`` holds one above ``high``; then an optional dilation
  by ``grow`` px. Idea: a scratch line is long, and its faint stretches hang off confident ones.
  (high, low) per ``grow`` are chosen on the calibration crops, then scored like ``tta``.
  ``hysteresis-photos`` runs the installed restore stage with ``--scratches on`` over the 157
  whole held-out photos (``oldfilm eval --holdout 5 --recipe photo --seed 0 --size 384``), its
  detector marking with (HIGH, LOW) instead of its single saved threshold.

``gate``, ``tta`` and ``hysteresis`` score the export's protocol: 32 held-out 256 px crops
degraded with seed 1234 (threshold calibrated on seed 4321), the same crops undamaged and with thin
content drawn in, and (gate, hysteresis) the real old photographs of the fixtures.
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch

from oldfilm.restore.restorer import (
    detector_threshold,
    restore_image,
    scratch_probability,
)
from oldfilm.restore.train_scratch import evaluation_sets, probability_fn
from oldfilm.restore.training import data as D
from oldfilm.restore.training.loop import default_photo_dirs
from oldfilm.restore.training.quality import F1Counts, best_threshold, flagged_fraction
from oldfilm.restore.training.run_dir import RunDir

N = 32
TAUS = (0, 3, 5, 8, 12, 16, 24)


def eval_sets(run: str) -> dict[str, list]:
    """The export's held-out sets (``train_scratch.evaluation_sets``) for ``run``'s recipe and split."""
    margs = argparse.Namespace(**RunDir(run).meta()["args"])
    images = D.ImageSet.from_folders(margs.data or default_photo_dirs(), margs.val_fraction)
    return evaluation_sets(images.val, margs, N)


def gate(marked: np.ndarray, change: np.ndarray, tau: float) -> np.ndarray:
    """Keep the 8-connected components of ``marked`` whose mean ``change`` exceeds ``tau``."""
    if tau <= 0:
        return marked
    n, lab = cv2.connectedComponents(marked.astype(np.uint8), connectivity=8)
    if n <= 1:
        return marked
    mean = np.bincount(lab.ravel(), weights=change.ravel(), minlength=n) / np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
    keep = mean > tau
    keep[0] = False
    return keep[lab]


def run_gate(args) -> dict:
    from oldfilm import weights
    from oldfilm.restore.stage import load_paths

    quality, _ = load_paths("default")
    det = next(iter(weights.load_model("scratch", "default").values())).eval()
    thr = detector_threshold(det)
    prob = probability_fn(det, torch.device("cpu"))
    def grey(x: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)

    def parts(rgb, p):
        with torch.inference_mode():
            return p >= thr, np.abs(grey(restore_image(quality, rgb)) - grey(rgb))

    sets = eval_sets(args.run)
    out: dict = {"threshold": thr}
    dmg = [(parts(d, prob(d)), m) for _, d, m in sets["damaged"]]
    clean = {k: [parts(d, prob(d)) for d in sets[k]] for k in ("undamaged", "thin")}
    real = [parts(x, scratch_probability(det, x)) for x in (D.read_rgb(p) for p in D.real_old_photos())]
    for tau in TAUS:
        c = F1Counts()
        for (mk, ch), m in dmg:
            c.add(gate(mk, ch, tau).astype(np.uint8) * 255, m)
        row = {"f1": c.f1, "precision": c.precision, "recall": c.recall}
        for k, items in (*clean.items(), ("real_old_photos", real)):
            row[k] = sum(int(gate(mk, ch, tau).sum()) for mk, ch in items) / sum(mk.size for mk, _ in items)
        out[f"tau{tau}"] = row
        print(f"tau {tau:>2}: F1 {c.f1:.3f} (P {c.precision:.3f} R {c.recall:.3f})  marked: undamaged {row['undamaged']:.2%}"
              f"  thin {row['thin']:.2%}  real {row['real_old_photos']:.2%}", flush=True)
    return out


def run_tta(args) -> dict:
    from oldfilm.weights import load_builtin

    det = load_builtin(args.detector).eval()
    p1 = probability_fn(det, torch.device("cpu"))
    variants = {
        "plain": p1,
        "hflip": lambda x: 0.5 * (p1(x) + p1(x[:, ::-1].copy())[:, ::-1]),
    }
    variants["hvflip"] = lambda x: 0.5 * (variants["hflip"](x) + variants["hflip"](x[::-1].copy())[::-1])
    sets = eval_sets(args.run)
    out = {}
    for name, pf in variants.items():
        t, _ = best_threshold([pf(d) for _, d, _ in sets["calib"]], [m for _, _, m in sets["calib"]])
        c = F1Counts()
        for _, d, m in sets["damaged"]:
            c.add(((pf(d) >= t) * 255).astype(np.uint8), m)
        fp = flagged_fraction(sets["undamaged"], lambda x, pf=pf, t=t: ((pf(x) >= t) * 255).astype(np.uint8))["flagged"]
        out[name] = {"threshold": t, "f1": c.f1, "precision": c.precision, "recall": c.recall, "undamaged": fp}
        print(f"{name:>7}: threshold {t:g}  F1 {c.f1:.3f} (P {c.precision:.3f} R {c.recall:.3f})  undamaged {fp:.2%}", flush=True)
    return out


def hysteresis_mask(prob: np.ndarray, high: float, low: float, grow: int = 0) -> np.ndarray:
    """bool HxW from float HxW probabilities in [0, 1]: the 8-connected regions of ``prob >= low``
    that reach ``high`` somewhere, dilated by ``grow`` px (3x3 cross steps)."""
    weak = prob >= min(low, high)
    n, lab = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    strong = np.zeros(n, bool)
    strong[lab[prob >= high]] = True
    strong[0] = False
    m = strong[lab]
    if grow > 0:
        k = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        m = cv2.dilate(m.astype(np.uint8), k, iterations=grow).astype(bool)
    return m


HIGHS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
LOWS = (0.3, 0.4, 0.5, 0.6, 0.7)


def run_hysteresis(args) -> dict:
    from oldfilm.weights import load_builtin

    det = load_builtin(args.detector).eval()
    pf = probability_fn(det, torch.device("cpu"))
    sets = eval_sets(args.run)
    probs = {k: [pf(d) for _, d, _ in sets[k]] for k in ("calib", "damaged")}
    masks = {k: [m for _, _, m in sets[k]] for k in ("calib", "damaged")}
    probs.update({k: [pf(d) for d in sets[k]] for k in ("undamaged", "thin")})
    probs["real_old_photos"] = [scratch_probability(det, D.read_rgb(p)) for p in D.real_old_photos()]

    def f1(split: str, h: float, lo: float, g: int) -> F1Counts:
        c = F1Counts()
        for p, m in zip(probs[split], masks[split]):
            c.add(hysteresis_mask(p, h, lo, g).astype(np.uint8) * 255, m)
        return c

    def marked(split: str, h: float, lo: float, g: int) -> float:
        return sum(int(hysteresis_mask(p, h, lo, g).sum()) for p in probs[split]) / sum(p.size for p in probs[split])

    def row(h: float, lo: float, g: int) -> dict:
        c = f1("damaged", h, lo, g)
        r = {"high": h, "low": lo, "grow": g, "f1": c.f1, "precision": c.precision, "recall": c.recall}
        r.update({k: marked(k, h, lo, g) for k in ("undamaged", "thin", "real_old_photos")})
        print(f"high {h:g} low {lo:g} grow {g}: F1 {c.f1:.3f} (P {c.precision:.3f} R {c.recall:.3f})  marked: undamaged "
              f"{r['undamaged']:.2%}  thin {r['thin']:.2%}  real {r['real_old_photos']:.2%}", flush=True)
        return r

    out: dict = {"single": {}, "best": {}}
    t1, _ = best_threshold(probs["calib"], masks["calib"])
    out["single"] = row(t1, t1, 0)
    for g in (0, 1):
        cands = [(h, lo) for h in HIGHS for lo in LOWS if lo <= h]
        scores = {(h, lo): f1("calib", h, lo, g).f1 for h, lo in cands}
        h, lo = max(scores, key=lambda k: (scores[k], k[0], k[1]))
        out["best"][f"grow{g}"] = row(h, lo, g)
    return out


def run_hysteresis_photos(args) -> dict:
    from oldfilm.evaluate import build_pipeline_stage, evaluate_restore
    from oldfilm.restore import stage as restore_stage

    def detect(detector, rgb, device="cpu"):
        return hysteresis_mask(scratch_probability(detector, rgb, device), args.high, args.low)

    restore_stage.detect_scratches = detect    # the stage looks the name up at call time
    stage = build_pipeline_stage("restore", model="default", faces=False, scratches="on")
    rep = evaluate_restore(["../shared/data/photos"], stage, name=f"hysteresis {args.high:g}/{args.low:g}",
                           recipe="photo", overlays="../shared/data/overlays", seed=0, max_side=384,
                           holdout=5, baselines=False)
    m = next(iter(rep["methods"].values()))
    print(f"hysteresis {args.high:g}/{args.low:g}, --scratches on, {len(rep['per_image'])} photos: "
          f"PSNR {m['psnr']:.2f}  SSIM {m['ssim']:.3f}  ΔE00 {m['deltaE00']:.2f}", flush=True)
    return rep["methods"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    g = sub.add_parser("gate")
    t = sub.add_parser("tta")
    t.add_argument("detector")
    hy = sub.add_parser("hysteresis")
    hy.add_argument("detector")
    hp = sub.add_parser("hysteresis-photos")
    hp.add_argument("high", type=float)
    hp.add_argument("low", type=float)
    for p in (g, t, hy, hp):
        p.add_argument("--run", default="runs/scratch6", help="detector run whose recipe and split to score on")
        p.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = {"gate": run_gate, "tta": run_tta, "hysteresis": run_hysteresis,
           "hysteresis-photos": run_hysteresis_photos}[args.what](args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

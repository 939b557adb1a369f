"""Two training-free ways to sharpen a scratch detector's mask, measured (docs/training-restore.md §9).

    OLDFILM_CHECKPOINTS=DIR .venv/bin/python bench/scratch_mask_ideas.py gate    # DIR: restorer + detector
    .venv/bin/python bench/scratch_mask_ideas.py tta DETECTOR.safetensors [--run runs/scratch6]

* ``gate``: keep a marked connected component only where the quality path (restorer without a
  mask) changes the photo by more than tau grey levels on average. Idea: the quality path
  removes much of the damage it sees, and leaves picture content (a golf club) alone.
* ``tta``: average the detector's probabilities over flips (test-time augmentation), with the
  threshold recalibrated for each variant as ``oldfilm train scratch --export`` does.

Both score the export's protocol: 32 held-out 256 px crops degraded with seed 1234 (threshold
calibrated on seed 4321), the same crops undamaged and with thin content drawn in, and (gate) the
real old photographs of the fixtures.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    g = sub.add_parser("gate")
    t = sub.add_parser("tta")
    t.add_argument("detector")
    for p in (g, t):
        p.add_argument("--run", default="runs/scratch6", help="detector run whose recipe and split to score on")
        p.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = run_gate(args) if args.what == "gate" else run_tta(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

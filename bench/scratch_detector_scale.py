"""Does the scratch detector's working size suit frames larger than our training photos?

    .venv/bin/python bench/scratch_detector_scale.py --recipe film|photo [--long-side 640] [--sides 192 256 320 384]

``oldfilm restore`` runs the detector on a grey copy with a 256 px short side (BOPBTL's
``scale_256``), whatever the frame's size. Our photos are at most 384 px long, so the held-out
figures never test a larger frame: a 640x480 video frame is shrunk 1.9 times, and a thin scratch
with it. Here the 13 colour photos of ../shared/fixtures/photos (none of them training photos of
the detector) are scaled to ``--long-side``, degraded twice each at that size (seeded), and the
installed detector marks them at each short side with its saved threshold. Printed: pixel F1
against the true damage masks, pooled over all photos.
"""
from __future__ import annotations

import argparse
import glob
import json

import cv2
import numpy as np
import torch

from oldfilm import weights
from oldfilm.compare import read_rgb8
from oldfilm.evaluate import default_degrader
from oldfilm.restore.restorer import detector_threshold, scratch_probability


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="film", help="degradation recipe: film or photo")
    ap.add_argument("--long-side", type=int, default=640)
    ap.add_argument("--sides", type=int, nargs="+", default=[192, 256, 320, 384])
    ap.add_argument("--repeats", type=int, default=2, help="degradations per photo")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    det = next(iter(weights.load_model("scratch", "default").values())).float().eval()
    thr = detector_threshold(det)
    degrade = default_degrader(args.recipe, "../shared/data/overlays", seed=0)
    counts = {s: np.zeros(3, np.int64) for s in args.sides}      # tp, fp, fn
    for i, f in enumerate(sorted(glob.glob("../shared/fixtures/photos/*.jpg"))):
        rgb = read_rgb8(f)
        s = args.long_side / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        for rep in range(args.repeats):
            _, degraded, mask = degrade(rgb, np.random.default_rng([0, i, rep]))
            truth = mask > 0
            for side in args.sides:
                marked = scratch_probability(det, degraded, short_side=side) >= thr
                counts[side] += [(marked & truth).sum(), (marked & ~truth).sum(), (~marked & truth).sum()]
    f1 = {str(s): float(2 * c[0] / max(1, 2 * c[0] + c[1] + c[2])) for s, c in counts.items()}
    print(f"{args.recipe} at {args.long_side} px: F1 by detector short side {json.dumps({k: round(v, 3) for k, v in f1.items()})}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"recipe": args.recipe, "long_side": args.long_side, "f1": f1}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

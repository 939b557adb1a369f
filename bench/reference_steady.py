"""`--reference` with `--steady-colors`: the keyframe case of bench/eval_reference.py (the colour
fixture clips split into shots; each shot's first frame, in colour, is its keyframe) colorized
from its own keyframe (``own``) and from the other shots' keyframes only (``others``: a shot
nobody coloured, which borrows colours where it resembles them), with the colour filter off and
at its default 0.9. Per shot: mean CIEDE2000 to the truth (every third frame) and the flicker
index F_ab (metrics.md). Figures: docs/steady-colours.md.

    .venv/bin/python bench/reference_steady.py --threads 2
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from eval_reference import Colorizer, gray, reel_shots  # noqa: E402
from oldfilm.colorize import steady as S  # noqa: E402
from oldfilm.metrics.color import mean_ciede2000  # noqa: E402
from oldfilm.metrics.temporal import flicker_index  # noqa: E402
from oldfilm.options import STEADY_DEFAULT  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    col = Colorizer()
    shots = reel_shots()
    keys = [frames[0] for _, frames in shots]
    res = {}
    for i, (name, frames) in enumerate(shots):
        for variant, imgs in (("own", [keys[i]]), ("others", keys[:i] + keys[i + 1:])):
            if not imgs:
                continue
            refs = col.encode(imgs)
            truth = frames[1:]
            outs = [col.ours(f, refs)[0] for f in truth]
            steady = S.steady_clip([gray(f) for f in truth], outs, STEADY_DEFAULT)
            res[f"{name}, {variant}"] = {
                label: {"de00": round(float(np.mean([mean_ciede2000(o, t) for o, t in zip(v[::3], truth[::3])])), 3),
                        "f_ab": round(flicker_index(v).ab, 4)}
                for label, v in (("filter off", outs), (f"--steady-colors {STEADY_DEFAULT:g}", steady))}
            res[f"{name}, {variant}"]["truth f_ab"] = round(flicker_index(truth).ab, 4)
            print(name, variant, json.dumps(res[f"{name}, {variant}"]), flush=True)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

"""Is the colorizer too bold or too timid? ΔE00 and colourfulness against a chroma gain.

    .venv/bin/python bench/colorize_chroma_gain.py [--run RUN [--blend RUN2 T]] [--gains 0.7 0.85 1 1.15 1.3 1.5]

Each of the 157 held-out photos (``oldfilm eval --holdout 5 --size 384``) is made grey and
colorized once by a generator at render factor 35 (as ``oldfilm eval --model default`` colorizes
photos). Then, for each gain a, the output goes through ``--saturation a``
(``oldfilm.colorize.adjust.adjust_colors``: CIELAB a*, b* scaled by a, lightness kept) and is
scored like ``oldfilm eval``. a = 1 is what ships. A gain below 1 that lowers ΔE00 means the colours the model guesses are right on
average but too confident.

Generator: the installed default, or a training run's latest (``--run``); ``--blend RUN2 T`` takes
the weights (1 - T) * RUN + T * RUN2 (two fine-tunes of one lineage; ``oldfilm.colorize.soup``,
0 < T < 1).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from oldfilm import metrics
from oldfilm.colorize.adjust import adjust_colors
from oldfilm.colorize.render import finish, model_input, model_rgb, run_network
from oldfilm.evaluate import grayscale, load_references


def generator(run: str | None, blend: tuple[str, str] | None) -> torch.nn.Module:
    if run is None:
        from oldfilm import weights

        return next(iter(weights.load_model("colorize", "default").values())).float().eval()
    from oldfilm.colorize.export import load_run_generator

    net, _ = load_run_generator(Path(run))
    if blend:
        from oldfilm.colorize.soup import soup

        t = float(blend[1])
        # spectral norms refreshed on the blend (a linear blend of their u, v buffers is wrong)
        return soup(net, [net.state_dict(), load_run_generator(Path(blend[0]))[0].state_dict()], [1 - t, t])
    return net.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run")
    ap.add_argument("--blend", nargs=2, metavar=("RUN2", "T"))
    ap.add_argument("--gains", type=float, nargs="+", default=[0.7, 0.85, 1.0, 1.15, 1.3, 1.5])
    ap.add_argument("--render-factor", type=int, default=35)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    net = generator(args.run, args.blend)
    refs = load_references(["../shared/data/photos"], max_side=384, holdout=5)
    renders = []
    for _, rgb in refs:
        g = grayscale(rgb)
        renders.append(finish(g, model_rgb(run_network(net, model_input(g, args.render_factor)[None])[0]))[1])
    cf_gt = [metrics.colourfulness(t) for _, t in refs]
    out = {}
    for a in args.gains:
        outs = [adjust_colors(out, a) for out in renders]
        de = float(np.mean([metrics.mean_ciede2000(o, t) for o, (_, t) in zip(outs, refs)]))
        cf = float(np.mean([metrics.colourfulness(o) for o in outs]))
        out[str(a)] = {"deltaE00": de, "colourfulness": cf, "cf_ratio": cf / float(np.mean(cf_gt))}
        print(f"gain {a:g}: ΔE00 {de:.3f}  colourfulness {cf:.2f}  CF/GT {out[str(a)]['cf_ratio']:.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

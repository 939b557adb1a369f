"""`--reference` under bf16 autocast (the CPU default here) against fp32: mean CIEDE2000 on the
first 20 held-out photos, shift view (bench/eval_reference.py), the same background keys for both.

    .venv/bin/python bench/reference_precision.py --threads 2
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_reference as E  # noqa: E402

from oldfilm.colorize import reference as R  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    col = E.Colorizer()
    photos = E.load_references([E.DATA], holdout=5.0, holdout_task="colorize", max_side=384, limit=a.limit)
    res: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _, img in photos:
        ref, tgt = E.views(img, "shift")
        for name, autocast in (("fp32", None), ("bf16", torch.bfloat16)):
            refs = dataclasses.replace(R.encode_references(col.net, [ref], E.RF, autocast=autocast), background=col.bank)
            out, _ = R.colorize_frames_with_references([E.gray(tgt)], col.net, refs, autocast=autocast)
            res[name].append(E.mean_ciede2000(out[0], tgt))
    print({k: round(float(np.mean(v)), 3) for k, v in res.items()})


if __name__ == "__main__":
    main()

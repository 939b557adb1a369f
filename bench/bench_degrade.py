"""Milliseconds per 256x256 image of the degradation model (on-the-fly training batches).

    .venv/bin/python bench/bench_degrade.py --overlays ../shared/data/overlays
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import skimage.data

from oldfilm.restore.degrade import RECIPES, degrade


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--overlays")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    img = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    for name in ("bopbtl", "photo", "film"):
        r = RECIPES[name]().with_overlays(a.overlays)
        rng = np.random.default_rng(0)
        for _ in range(20):                   # warm the overlay cache
            degrade(img, rng, r)
        best = float("inf")
        for _ in range(a.repeats):
            t = time.perf_counter()
            for _ in range(a.n):
                degrade(img, rng, r)
            best = min(best, (time.perf_counter() - t) / a.n)
        print(f"recipe {name:6s}: {best * 1000:.1f} ms per 256x256 image (best of {a.repeats} x {a.n}, 1 process)")


if __name__ == "__main__":
    main()

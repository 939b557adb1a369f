"""Time and memory of one restorer path at one frame size and tile side (docs/bench-restore.md).

    for t in 512 1024; do .venv/bin/python bench/restore_tile_sizes.py --size 640x480 --tile $t --path scratch; done
    .venv/bin/python bench/restore_tile_sizes.py --size 3000x4000 --path stage --repeats 1    # tile: the default

One configuration per process, so the peak RSS is its own; alternate the runs to compare. The
frame is the Old Tom Morris photo of the fixtures resized (cubic). ``--path quality`` or
``scratch`` runs `restore_image` on the installed default's path (scratch: one vertical and one
horizontal line marked); ``stage`` runs `oldfilm restore --scratches on`'s restore stage, detector
included. Best of ``--repeats``, 2 threads.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import cv2
import numpy as np
import torch

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "old_photos" / "rni6_Old_Tom_Morris.png"


def main(argv: list[str] | None = None) -> int:
    from oldfilm.options import RestoreOptions, RunOptions
    from oldfilm.restore.restorer import TileSettings, restore_image
    from oldfilm.restore.stage import build_restore_stage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480", help="WxH")
    ap.add_argument("--tile", type=int, help="tile side in px (default: the nets' default_tile)")
    ap.add_argument("--path", choices=("quality", "scratch", "stage"), default="scratch")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.split("x"))
    img = cv2.resize(cv2.imread(str(PHOTO))[:, :, ::-1], (w, h), interpolation=cv2.INTER_CUBIC)
    stage = build_restore_stage(RestoreOptions(scratches="on", tile=args.tile), RunOptions(device="cpu"))
    mask = np.zeros((h, w), bool)
    mask[:, w // 3:w // 3 + 3] = True
    mask[h // 2, :] = True
    settings = TileSettings(tile=stage.settings.tile)
    run = {"stage": lambda: stage([img]),
           "quality": lambda: restore_image(stage.quality, img, None, settings),
           "scratch": lambda: restore_image(stage.scratch, img, mask, settings)}[args.path]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        with torch.inference_mode():
            run()
        best = min(best, time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{w}x{h} {args.path} tile {settings.tile}: best of {args.repeats} {best * 1000:.0f} ms, "
          f"peak RSS {peak / 2**20:.2f} GiB (+{(peak - base) / 2**10:.0f} MB during the runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

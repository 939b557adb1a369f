"""What `--steady-colors` costs: the colorize stage's frames per second with the colour-flicker
filter off and on, side by side in one run (alternating, best of N), on a panning 854x480 clip
made from a fixture photo (consecutive frames of one shot, so the filter computes its flow on
every frame; unrelated frames would be cuts and cost almost nothing). Default colorizer, render
factor 21 (video), bf16 autocast as `auto` picks on this CPU.

    .venv/bin/python bench/bench_steady.py --threads 2
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

from oldfilm.colorize.stage import ColorizeStage, choose_autocast  # noqa: E402
from oldfilm.weights import load_model  # noqa: E402


def panning_clip(n: int, w: int = 854, h: int = 480) -> list[np.ndarray]:
    photo = sorted((REPO.parent / "shared/fixtures/photos").glob("*.jpg"))[0]
    rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    big = cv2.resize(rgb, (w + 3 * n, h), interpolation=cv2.INTER_AREA)
    return [np.ascontiguousarray(big[:, 3 * t:3 * t + w]) for t in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    net = next(iter(load_model("colorize", "default").values())).eval()
    device = torch.device("cpu")
    autocast = choose_autocast(device, "auto")
    stages = {s: ColorizeStage(net, 21, device, autocast=autocast, steady=s) for s in (0.0, 0.9)}
    clip = panning_clip(args.frames)
    best = {s: float("inf") for s in stages}
    for _ in range(args.repeats):
        for s, stage in stages.items():
            stage.reset()
            stage(clip[:1])                      # warm-up; its state is reset below
            stage.reset()
            t0 = time.perf_counter()
            for i in range(0, len(clip), 4):
                stage(clip[i:i + 4])
            best[s] = min(best[s], time.perf_counter() - t0)
    res = {"frames": len(clip), "size": "854x480", "precision": str(autocast), "threads": args.threads,
           "fps": {f"steady {s:g}": round(len(clip) / t, 2) for s, t in best.items()},
           "ms_per_frame": {f"steady {s:g}": round(t / len(clip) * 1e3, 1) for s, t in best.items()},
           "steadied_frames": stages[0.9].report()["steadied_frames"]}
    res["filter_ms_per_frame"] = round(res["ms_per_frame"]["steady 0.9"] - res["ms_per_frame"]["steady 0"], 1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

"""Choose the light `default` colorizer config: colorize-only fps at render factor 21 on 480p.

Runs ``ColorizeStage`` (the real inference path: resize, gray, network, chroma transfer) on
854x480 uint8 frames, batch 4, 2 torch threads, bf16 autocast where the CPU has native bf16
(the stage's ``auto`` precision) and fp32, for each candidate generator config (random weights:
speed does not depend on them). Best of ``--repeats`` runs of ``--frames`` frames.

The shared 2-core box is usually oversubscribed by other jobs, so wall-clock fps understates a
dedicated machine badly; the table also gives **CPU seconds per frame with 1 thread**
(``time.process_time``: no OpenMP spin-waiting, little affected by other processes) and the
2-core estimate 2 / that (ideal 2-thread scaling; an upper bound).

    .venv/bin/python bench/colorize_default_speed.py [--repeats 3] [--frames 16]

Prints a Markdown table; results are in docs/training-colorize.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CANDIDATES = {
    "r18 wide nf0.5 mid1 (generator.LIGHT_CONFIG)": {"unet": "wide", "encoder": "resnet18", "nf_factor": 0.5, "middle_mult": 1},
    "r18 wide nf0.25 mid1": {"unet": "wide", "encoder": "resnet18", "nf_factor": 0.25, "middle_mult": 1},
    "r18 wide nf0.125 mid1": {"unet": "wide", "encoder": "resnet18", "nf_factor": 0.125, "middle_mult": 1},
}


def main() -> None:
    import numpy as np
    import torch

    from oldfilm.colorize.generator import build_generator, count_parameters
    from oldfilm.colorize.stage import ColorizeStage
    from oldfilm.device import cpu_has_bf16
    from torch.utils.flop_counter import FlopCounterMode

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="candidate name substrings")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (480, 854, 3), dtype=np.uint8) for _ in range(args.frames)]
    dtypes = [torch.bfloat16, None] if cpu_has_bf16() else [None]
    print(f"| config | params (M) | fp16 MB | GFLOP/frame | precision | wall fps ({args.threads} threads, best of {args.repeats}) "
          "| CPU s/frame (1 thread) | 2-core fps estimate |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for name, cfg in CANDIDATES.items():
        if args.only and not any(s in name for s in args.only):
            continue
        torch.manual_seed(0)
        net = build_generator(cfg).eval()
        n = count_parameters(net)
        fc = FlopCounterMode(display=False)
        with torch.no_grad(), fc:
            net(torch.zeros(1, 3, 336, 336))
        gflop = fc.get_total_flops() / 1e9
        for dt in dtypes:
            stage = ColorizeStage(net, 21, torch.device("cpu"), autocast=dt, batch_size=4)
            torch.set_num_threads(args.threads)
            stage(frames[:4])  # warm-up (oneDNN primitive cache)
            best = 0.0
            for _ in range(args.repeats):
                t = time.perf_counter()
                stage(frames)
                best = max(best, len(frames) / (time.perf_counter() - t))
            torch.set_num_threads(1)
            stage(frames[:4])
            cpu = float("inf")
            for _ in range(args.repeats):
                t = time.process_time()
                stage(frames)
                cpu = min(cpu, (time.process_time() - t) / len(frames))
            prec = "fp32" if dt is None else "bf16"
            print(f"| {name} | {n / 1e6:.1f} | {2 * n / 1e6:.0f} | {gflop:.1f} | {prec} | {best:.1f} | {cpu:.3f} | {2 / cpu:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()

"""How often `--scratches auto` switches paths inside a clip, and what a switch costs in flicker.

    .venv/bin/python bench/restore_path_switches.py [CLIP ...] [--recipes film photo] [--frames 96] [--json OUT]

Each clip (default: the four fixture videos) is degraded as ``oldfilm eval CLIP --task restore
--recipe R --overlays ../shared/data/overlays --seed 0`` degrades it (one film-scratch track through
all frames, frame i with rng([0, i]), long side 320 px) and every frame is restored by both paths,
the quality path (`off`) and the scratch path on the detector's mask (`on`). Since frames are
restored independently, any per-frame choice of path is one of these two outputs, so each rule
below is scored from the same two restorations:

- `off`, `on`: one path for every frame;
- `auto/frame`: the scratch path when the frame's marked share exceeds the cut saved with the
  scratch mapping (the per-frame rule);
- `auto/clip`: a clip-level rule, tried on 2026-11-27 and not adopted (docs/training-restore.md
  §21): the first frame by its own share, then an exponential moving average of the share
  (half-life 12 frames) with hysteresis (into the scratch path above 1.5x the cut, out below
  cut / 1.5), so frames near the cut do not switch path back and forth.

Per rule: mean PSNR against the clean target, the number of path switches, warp error (the clean
clip's flow) and the flicker index F_L, F_ab (CIELAB units per frame step; the target clip's own in each table's
heading). One thread.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

HALF_LIFE_FRAMES, BAND = 12.0, 1.5


def clip_rule(shares: list[float], cut: float) -> list[bool]:
    """The tried clip-level `auto`: per frame, whether it takes the scratch path."""
    alpha = 1.0 - 0.5 ** (1.0 / HALF_LIFE_FRAMES)
    estimate, scratch, out = shares[0], shares[0] > cut, []
    for i, share in enumerate(shares):
        if i:
            estimate += alpha * (share - estimate)
            if scratch and estimate < cut / BAND:
                scratch = False
            elif not scratch and estimate > cut * BAND:
                scratch = True
        out.append(scratch)
    return out


FIXTURES = ["../shared/fixtures/video/chaplin_bw_mp3_10s.mp4", "../shared/fixtures/video/rabbit320_aac_8s.mp4",
            "../shared/fixtures/video/bbb_720p_aac51_5s.mp4", "../shared/fixtures/video/example3_mp3_2s.mp4"]


def main(argv: list[str] | None = None) -> int:
    from oldfilm import metrics
    from oldfilm.evaluate import build_pipeline_stage, default_degrader, load_clip, reference_flows
    from oldfilm.restore.restorer import detect_scratches
    from oldfilm.restore.stage import RestoreStage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", default=FIXTURES)
    ap.add_argument("--recipes", nargs="+", default=["film", "photo"])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    paths = {m: build_pipeline_stage("restore", model="default", faces=False, scratches=m) for m in ("off", "on")}
    (restore,) = [s for s in paths["on"].stages if isinstance(s, RestoreStage)]
    cut = restore._auto_min_marked
    results = []
    for clip in args.clips:
        ref = load_clip(clip, max_side=args.size, max_frames=args.frames)
        flows = reference_flows(ref)
        for recipe in args.recipes:
            degrade = default_degrader(recipe, "../shared/data/overlays", clip_size=ref[0].shape[:2], seed=0)
            cases = [degrade(rgb, np.random.default_rng([0, i])) for i, rgb in enumerate(ref)]
            targets = [c[0] for c in cases]
            inputs = [c[1] for c in cases]
            with torch.inference_mode():
                shares = [float(detect_scratches(restore.detector, x, "cpu").mean()) for x in inputs]
            outs = {m: [st([x])[0] for x in inputs] for m, st in paths.items()}
            rules = {"off": [False] * len(inputs), "on": [True] * len(inputs),
                     "auto/frame": [s > cut for s in shares],
                     "auto/clip": clip_rule(shares, cut)}
            row = {"clip": Path(clip).name, "recipe": recipe, "frames": len(ref), "cut": cut,
                   "marked_share": {"min": min(shares), "median": float(np.median(shares)), "max": max(shares)},
                   "rules": {}}
            for name, use in rules.items():
                out = [outs["on"][i] if u else outs["off"][i] for i, u in enumerate(use)]
                fl = metrics.flicker_index(out)
                row["rules"][name] = {
                    "psnr": float(np.mean([metrics.psnr(o, t) for o, t in zip(out, targets)])),
                    "switches": int(sum(a != b for a, b in itertools.pairwise(use))),
                    "scratch_frames": int(sum(use)),
                    "warp_error": metrics.warp_error(out, flows=flows),
                    "flicker_L": fl.L, "flicker_ab": fl.ab}
            ft = metrics.flicker_index(targets)
            row["target_flicker"] = {"L": ft.L, "ab": ft.ab}
            results.append(row)
            print(f"\n{row['clip']} ({recipe}, {len(ref)} frames, cut {cut:g}; marked share median "
                  f"{row['marked_share']['median']:.4f}, range {min(shares):.4f}-{max(shares):.4f}); "
                  f"target F_L {ft.L:.3f} F_ab {ft.ab:.3f}")
            print("| rule | PSNR | switches | scratch frames | warp error | F_L | F_ab |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            for name, r in row["rules"].items():
                print(f"| {name} | {r['psnr']:.2f} | {r['switches']} | {r['scratch_frames']} | "
                      f"{r['warp_error']:.5f} | {r['flicker_L']:.3f} | {r['flicker_ab']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

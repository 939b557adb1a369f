"""Which kinds of damage the installed scratch detector misses, and what each miss costs in dB.

    OLDFILM_CHECKPOINTS=DIR .venv/bin/python bench/scratch_misses_by_kind.py [--limit N] [--json OUT]

The 137 whole held-out photos, degraded exactly as ``bench/restore_paths_whole.py`` and ``oldfilm
eval ../shared/data/photos --holdout 5 --task restore --recipe photo --overlays
../shared/data/overlays --seed 0 --size 384`` degrade them (photo i with rng([0, i])). The damage
model reports each layer's marked pixels apart (``degrade_pair(..., layers=...)``): the overlay
kinds (the subfolders of ../shared/data/overlays), the Bezier scratches (``curves``) and the
vertical film lines (``lines``); their union is the mask the detector is scored against.

Per kind: its share of all marked pixels, the detector's recall on it, and the `on` mode's PSNR with
the detector's mask plus that kind's missed pixels (what finding that kind alone is worth). A pixel
marked by two layers counts for each. Then how the detector's probability is spread over the
damaged and the undamaged pixels (does a lower threshold find the misses?). One thread.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from restore_paths_whole import (  # bench/ is on the path of a bench script
    OVERLAYS,
    RECIPE,
    held_out_photos,
    psnr,
)

from oldfilm.restore import degrade as deg


def main(argv: list[str] | None = None) -> int:
    from oldfilm.evaluate import build_pipeline_stage
    from oldfilm.restore import stage as restore_stage
    from oldfilm.restore.restorer import scratch_probability
    from oldfilm.restore.stage import RestoreStage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="only the first N photos")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    named, _ = held_out_photos(args.limit)
    recipe = deg.recipe_by_name(RECIPE, OVERLAYS)       # as held_out_photos' degrader
    on = build_pipeline_stage("restore", model="default", faces=False, scratches="on")
    (restorer,) = [st for st in on.stages if isinstance(st, RestoreStage)]
    bins = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0 + 1e-6]
    spread = {"damaged": np.zeros(len(bins) - 1), "undamaged": np.zeros(len(bins) - 1)}
    plain = restore_stage.detect_scratches
    kinds: dict[str, dict[str, float]] = {}
    base: list[float] = []
    for i, (_, rgb) in enumerate(named):
        layers: list[tuple[str, np.ndarray]] = []
        target, degraded, mask = deg.degrade_pair(rgb, np.random.default_rng([0, i]), recipe, layers=layers)
        seen: list[np.ndarray] = []

        def detect(det, x, dev="cpu", seen=seen):
            m = plain(det, x, dev)
            seen[:] = [m]
            return m

        restore_stage.detect_scratches = detect
        try:
            base.append(psnr(on([degraded])[0], target))
        finally:
            restore_stage.detect_scratches = plain
        det = seen[0]
        p = scratch_probability(restorer.detector, degraded, "cpu")
        spread["damaged"] += np.histogram(p[mask > 0], bins)[0]
        spread["undamaged"] += np.histogram(p[mask == 0], bins)[0]
        if det.shape != mask.shape:
            raise SystemExit(f"photo {i}: detector mask {det.shape} against damage mask {mask.shape}")
        for kind in sorted({k for k, _ in layers}):
            v = np.zeros(mask.shape, bool)
            for k, layer in layers:
                if k == kind:
                    v |= layer
            if not v.any():
                continue
            row = kinds.setdefault(kind, {"photos": 0, "pixels": 0, "found": 0, "psnr_on": 0.0, "psnr_fixed": 0.0})
            row["photos"] += 1
            row["pixels"] += int(v.sum())
            row["found"] += int((v & det).sum())
            restore_stage.detect_scratches = lambda d, x, dev="cpu", v=v, det=det: det | v
            try:
                row["psnr_fixed"] += psnr(on([degraded])[0], target)
            finally:
                restore_stage.detect_scratches = plain
            row["psnr_on"] += base[-1]
        print(f"{i + 1}/{len(named)}", flush=True)
    total = sum(r["pixels"] for r in kinds.values())
    out = {"photos": len(named), "psnr_on": float(np.mean(base)), "kinds": {}}
    print(f"{len(named)} held-out photos; `on` {out['psnr_on']:.2f} dB")
    print("| kind | photos with it | share of marked pixels | recall | `on` on those photos | with its misses added | gain per photo | gain over all photos |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind, r in sorted(kinds.items(), key=lambda kv: -kv[1]["pixels"]):
        n = r["photos"]
        row = {"photos": n, "share": r["pixels"] / total, "recall": r["found"] / r["pixels"],
               "psnr_on": r["psnr_on"] / n, "psnr_fixed": r["psnr_fixed"] / n,
               "gain_all_photos": (r["psnr_fixed"] - r["psnr_on"]) / len(named)}
        out["kinds"][kind] = row
        print(f"| {kind} | {n} | {row['share']:.1%} | {row['recall']:.2f} | {row['psnr_on']:.2f} | {row['psnr_fixed']:.2f} "
              f"| {row['psnr_fixed'] - row['psnr_on']:+.2f} | {row['gain_all_photos']:+.3f} |")
    out["probability_bins"] = bins
    print("share of pixels by detector probability, bins " + " ".join(f"{b:g}" for b in bins[:-1]) + " 1")
    for name, h in spread.items():
        out[f"probability_{name}"] = (h / h.sum()).tolist()
        out[f"pixels_{name}"] = int(h.sum())
        print(f"| {name} ({int(h.sum())} pixels) | " + " | ".join(f"{v:.1%}" for v in h / h.sum()) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the face stage adds after the global restorer, face by face (docs/quality.md, face regions).

    .venv/bin/python bench/face_stage_effect.py [--limit N] [--out docs/eval/face-stage-effect.json]

Each photo of ``../shared/data/photos/faces_hires`` is degraded as ``oldfilm eval --recipe photo
--seed 0 --size 384`` degrades it (image i with rng([0, i])) and restored by the installed default
pipeline twice, with and without the face stage. In every face dlib's HOG finds on the clean photo
(box grown 15 % per side, as ``--face-metrics``), it reports PSNR and SSIM of both outputs against
the clean photo, the mean and standard deviation the face stage changed, and the face's size, and
then sums them up by face size. Faces the stage left untouched (mean change < 0.5 grey levels:
the detector did not find them in the degraded photo) are counted apart.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from oldfilm import metrics
from oldfilm.evaluate import (
    build_pipeline_stage,
    default_degrader,
    detect_faces_hog,
    load_references,
)

SIZE_BINS = ((0, 100), (100, 200), (200, 10_000))


def face_rows(limit: int | None) -> list[dict]:
    refs = load_references(["../shared/data/photos/faces_hires"], max_side=384)[:limit]
    degrade = default_degrader("photo", "../shared/data/overlays", seed=0)
    with_faces = build_pipeline_stage("restore", model="default", faces=True)
    without = build_pipeline_stage("restore", model="default", faces=False)
    rows = []
    for i, (name, rgb) in enumerate(refs):
        target, degraded, _ = degrade(rgb, np.random.default_rng([0, i]))
        with_faces.reset()
        without.reset()
        a, b = with_faces([degraded])[0], without([degraded])[0]
        for x0, y0, x1, y1 in detect_faces_hog(target):
            g = int(0.15 * (x1 - x0))
            sl = np.s_[max(0, y0 - g):y1 + g, max(0, x0 - g):x1 + g]
            fa, fb, ft = (im[sl].astype(np.float32) for im in (a, b, target))
            rows.append({
                "image": name, "side": int(x1 - x0),
                "touched": bool(np.abs(fa - fb).mean() >= 0.5),
                "psnr_faces": metrics.psnr(a[sl], target[sl]), "psnr_no_faces": metrics.psnr(b[sl], target[sl]),
                "ssim_faces": metrics.ssim(a[sl], target[sl]), "ssim_no_faces": metrics.ssim(b[sl], target[sl]),
                "mean_change": float(fa.mean() - fb.mean()), "std_change": float(fa.std() - fb.std()),
                "std_gap_no_faces": float(fb.std() - ft.std()),
            })
            r = rows[-1]
            print(f"{name} face {r['side']} px{'' if r['touched'] else ' (untouched)'}: PSNR {r['psnr_no_faces']:.2f} -> "
                  f"{r['psnr_faces']:.2f}, mean {r['mean_change']:+.2f}, std {r['std_change']:+.2f}", flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    out = {"faces": len(rows), "untouched": sum(not r["touched"] for r in rows)}
    for lo, hi in SIZE_BINS:
        rs = [r for r in rows if r["touched"] and lo <= r["side"] < hi]
        if not rs:
            continue
        d = np.array([r["psnr_faces"] - r["psnr_no_faces"] for r in rs])
        out[f"{lo}-{hi}px"] = {
            "n": len(rs), "psnr_gain": float(d.mean()), "better": int((d > 0.05).sum()), "worse": int((d < -0.05).sum()),
            "ssim_gain": float(np.mean([r["ssim_faces"] - r["ssim_no_faces"] for r in rs])),
            "mean_change": float(np.mean([r["mean_change"] for r in rs])),
            "std_change": float(np.mean([r["std_change"] for r in rs])),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N photos only")
    ap.add_argument("--out", help="write rows and summary here (JSON)")
    args = ap.parse_args(argv)
    rows = face_rows(args.limit)
    s = summary(rows)
    print(json.dumps(s, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"summary": s, "faces": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

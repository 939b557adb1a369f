"""Restoration speed and memory: seconds per megapixel and peak RSS, quality and scratch paths.

Each case runs in its own subprocess so its peak RSS (ru_maxrss) is its own. Weights are seeded
random (speed and memory do not depend on their values) in the published BOPBTL size or our light
default size (the configs `oldfilm train restorer` uses).

    nice .venv/bin/python bench/bench_restore.py --config light --path quality scratch --mp 1 4 12 24
    nice .venv/bin/python bench/bench_restore.py --config light --path scratch --size 6000x4000 --repeat 1
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Same sizes as oldfilm/restore/train_restorer.py and train_scratch.py CONFIGS (light, published).
CONFIGS = {
    "light": {
        "vae": {"ngf": 8, "mc": 32, "n_down": 2, "n_res": 2},
        "quality": {"kind": "quality", "nc": 32, "mc": 32, "n_up": 1, "n_blocks": 2},
        "scratch": {"kind": "scratch", "nc": 32, "mc": 32, "n_up": 1, "n_blocks": 1, "nl_blocks": 1, "max_keys": 1024},
        "detector": {"in_channels": 1, "out_channels": 1, "depth": 4, "conv_num": 1, "wf": 3},
    },
    "published": {
        "vae": {},
        "quality": {"kind": "quality"},
        "scratch": {"kind": "scratch"},
        "detector": {},
    },
}


def synthetic_scan(w: int, h: int):
    """A smooth gradient photo with noise and a few long vertical scratches (uint8 RGB, bool mask)."""
    import numpy as np

    rng = np.random.default_rng(0)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    g = (60 + 120 * xx + 50 * yy).astype(np.float32)
    img = np.empty((h, w, 3), np.uint8)
    for c, k in enumerate((1.0, 0.95, 0.85)):
        img[..., c] = np.clip(g * k + rng.normal(0, 6, (h, w)).astype(np.float32), 0, 255)
    mask = np.zeros((h, w), bool)
    for x in rng.integers(0, w - 3, 6):
        mask[:, x:x + 2] = True
    img[mask] = 235
    return img, mask


def one_case(config: str, path: str, w: int, h: int, repeat: int, tile: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from oldfilm.restore import build_detector, build_mapping, build_vae
    from oldfilm.restore.restorer import RestorerNets, TileSettings, detect_scratches, restore_image

    cfg = CONFIGS[config]
    torch.manual_seed(0)
    nets = RestorerNets(build_vae(cfg["vae"]).eval(), build_mapping(cfg[path]).eval(), build_vae(cfg["vae"]).eval())
    det = build_detector(cfg["detector"]).eval() if path == "scratch" else None
    img, mask = synthetic_scan(w, h)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with torch.inference_mode():
            m = detect_scratches(det, img) | mask if det is not None else None
            out = restore_image(nets, img, m, TileSettings(tile=tile))
        times.append(time.perf_counter() - t0)
        assert out.shape == img.shape
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB -> GiB
    mp = w * h / 1e6
    return {"config": config, "path": path, "size": f"{w}x{h}", "mp": round(mp, 2), "best_s": round(min(times), 1),
            "s_per_mp": round(min(times) / mp, 2), "peak_rss_gib": round(rss, 2), "repeat": repeat, "tile": tile,
            "threads": threads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", nargs="+", default=["light"], choices=sorted(CONFIGS))
    ap.add_argument("--path", nargs="+", default=["quality", "scratch"], choices=["quality", "scratch"])
    ap.add_argument("--mp", nargs="*", type=float, default=[1, 4, 12, 24], help="megapixels (4:3 frames)")
    ap.add_argument("--size", nargs="*", default=[], help="explicit WxH sizes, e.g. 6000x4000")
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs per case")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.case:
        print(json.dumps(one_case(**json.loads(a.case))))
        return
    sizes = [(int(round((mp * 1e6 * 4 / 3) ** 0.5)), int(round((mp * 1e6 * 3 / 4) ** 0.5))) for mp in a.mp]
    sizes += [tuple(int(v) for v in s.split("x")) for s in a.size]
    print("| config | path | size | MP | best s | s/MP | peak RSS GiB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for config in a.config:
        for path in a.path:
            for w, h in sizes:
                case = {"config": config, "path": path, "w": w, "h": h, "repeat": a.repeat, "tile": a.tile,
                        "threads": a.threads}
                r = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True)
                if r.returncode:
                    print(f"| {config} | {path} | {w}x{h} | failed: {r.stderr.strip().splitlines()[-1:]} |", flush=True)
                    continue
                d = json.loads(r.stdout.strip().splitlines()[-1])
                print(f"| {config} | {path} | {d['size']} | {d['mp']} | {d['best_s']} | {d['s_per_mp']} | "
                      f"{d['peak_rss_gib']} |", flush=True)


if __name__ == "__main__":
    main()

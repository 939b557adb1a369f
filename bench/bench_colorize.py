"""Colorize-only speed and reduced-precision accuracy of the colorizer networks.

For each model (artistic and stable with the parity recipe weights from ../shared/reference,
``light`` = generator.LIGHT_CONFIG freshly initialised, ``default`` = checkpoints/ when present):

* accuracy: mean / max absolute uint8 difference of the colorized output, bf16 autocast vs fp32,
  on real photos (../shared/fixtures/photos) at render factor 35 (the photo default);
* speed: frames per second of ``ColorizeStage`` on 480p (854x480) and 1080p (1920x1080) frames at
  render factor 21 (the video default), fp32 and bf16, batch 4, best of N;
* peak RSS of the process (each model runs in its own subprocess).

    .venv/bin/python bench/bench_colorize.py [--models artistic stable light] [--repeats 2]

``--device cuda`` times the stage on the GPU in fp32, bf16 and fp16 autocast, and measures each
against the exact fp32 path *on the CPU* (cuDNN runs fp32 convolutions in TF32 by default, so the
GPU's own fp32 is not the reference). On a device machine without ../shared, point
``OLDFILM_SHARED`` at a folder holding a copy of ``fixtures/photos`` and use ``light`` and
``default`` (the published models' recipe weights come from ../shared/reference).

Prints one Markdown table row per (model, precision); paste into docs/bench-colorize.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OLDFILM_SHARED", REPO.parent / "shared"))
sys.path.insert(0, str(REPO))


def _network(model: str):
    import torch

    from oldfilm.colorize.generator import ARTISTIC_CONFIG, LIGHT_CONFIG, STABLE_CONFIG, build_generator

    if model == "light":
        torch.manual_seed(0)
        return build_generator(LIGHT_CONFIG).eval()
    if model == "default":
        from oldfilm.weights import checkpoints_dir, load_builtin

        return load_builtin(checkpoints_dir() / "colorize-default.safetensors")
    sys.path.insert(0, str(SHARED / "reference"))
    import recipe  # type: ignore[import-not-found]

    golden = torch.load(SHARED / "reference" / "golden" / f"deoldify-{model}-net.pt", weights_only=True)
    meta = golden["meta"]
    net = build_generator(ARTISTIC_CONFIG if model == "artistic" else STABLE_CONFIG)
    sd = recipe.make_state_dict(recipe.load_manifest(meta["manifest"]), salt=meta["salt"], gains=meta["gains"])
    net.load_state_dict(sd, strict=True)
    del sd
    return net.eval()


def _photos(n: int):
    import numpy as np
    from PIL import Image

    files = sorted((SHARED / "fixtures" / "photos").glob("*.jpg"))[:n]
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def _frames(w: int, h: int, n: int):
    """Real content at video size: photos stretched to w x h."""
    import numpy as np
    from PIL import Image

    return [np.asarray(Image.fromarray(p).resize((w, h), Image.Resampling.BILINEAR)) for p in _photos(n)]


def run_one(model: str, repeats: int, photos: int, frames: int, threads: int, device: str = "cpu") -> list[dict]:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from oldfilm.colorize.render import colorize_frames
    from oldfilm.colorize.stage import ColorizeStage

    net = _network(model)
    params = sum(p.numel() for p in net.parameters())
    precisions = [("fp32", None), ("bf16", torch.bfloat16)]
    if device != "cpu":
        precisions.append(("fp16", torch.float16))
    # Accuracy: fp32 in the exact (parity) layout on the CPU vs the stage's channels_last path on
    # the device, per precision.
    imgs = _photos(photos)
    ref = colorize_frames(imgs, net, 35, batch_size=1)
    net = net.to(device)
    acc = {}
    for label, dtype in precisions:
        got = colorize_frames(imgs, net, 35, batch_size=1, autocast=dtype, channels_last=True)
        diffs = [np.abs(a.astype(np.int16) - b.astype(np.int16)) for a, b in zip(got, ref)]
        acc[label] = (float(np.mean([d.mean() for d in diffs])), int(max(d.max() for d in diffs)))
    rows = []
    for label, dtype in precisions:
        stage = ColorizeStage(net, 21, torch.device(device), autocast=dtype, batch_size=4, model_name=model)
        if device != "cpu":
            torch.cuda.reset_peak_memory_stats()
        fps = {}
        for name, (w, h) in (("480p", (854, 480)), ("1080p", (1920, 1080))):
            batch = _frames(w, h, frames)
            stage(batch[:1])  # warm-up (oneDNN primitive creation)
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                stage(batch)
                best = min(best, time.perf_counter() - t0)
            fps[name] = len(batch) / best
        rows.append(
            {
                "model": model,
                "params_M": round(params / 1e6, 1),
                "precision": label,
                "fps_480p": round(fps["480p"], 3),
                "fps_1080p": round(fps["1080p"], 3),
                "mean_abs_vs_fp32": round(acc[label][0], 3),
                "max_abs_vs_fp32": acc[label][1],
                "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "peak_gpu_MiB": round(torch.cuda.max_memory_allocated() / 2**20) if device != "cpu" else 0,
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["light", "artistic", "stable"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--photos", type=int, default=6, help="real photos for the accuracy check")
    ap.add_argument("--frames", type=int, default=4, help="frames per timed batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.repeats, args.photos, args.frames, args.threads, args.device)))
        return 0
    import torch

    from oldfilm.device import cpu_has_bf16

    gpu = f"; {torch.cuda.get_device_name()}, torch {torch.__version__}" if args.device != "cpu" else ""
    print(f"cpu bf16: {cpu_has_bf16()}; threads {args.threads}; load average before: {os.getloadavg()[0]:.1f}{gpu}")
    cols = ["model", "params_M", "precision", "fps_480p", "fps_1080p", "mean_abs_vs_fp32", "max_abs_vs_fp32", "peak_rss_MiB"]
    if args.device != "cpu":
        cols.append("peak_gpu_MiB")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for model in args.models:
        cmd = [sys.executable, __file__, "--one", model, "--repeats", str(args.repeats),
               "--photos", str(args.photos), "--frames", str(args.frames), "--threads", str(args.threads),
               "--device", args.device]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for row in json.loads(out.strip().splitlines()[-1]):
            print("| " + " | ".join(str(row[c]) for c in cols) + " |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

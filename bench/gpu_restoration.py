"""A prepared scratch-detector or restorer training run for a session that is lent a GPU (issue 7).

A session gets at most 15 minutes of device time, one command of at most 10 minutes, a working
tree of at most 64 MiB, and files of at most 16 MiB back; ../shared and our venv do not travel.
The restoration trainers read 90 MB of photos and 49 MB of damage overlays, and the tracked tree
is 53.8 MB (2026-11-27), so the run is prepared here:

1. Here, once per session (about a minute):

       .venv/bin/python bench/gpu_restoration.py pack

   writes ``gpu_restore_kit/`` (git-ignored), about 10 MB:

   - a share (``--keep``, by content hash) of the *training* photos of every default photo folder
     (the restoration trainers' held-out split, ``is_held_out`` at 5 %, is never packed), short
     side 256 px (the training crop) as JPEG; ``clothing_cc0`` is cut to ``--clothing`` photos
     (its draws are capped at 30 % anyway);
   - ``--overlays-per-kind`` damage overlays of each of the 10 kinds (kinds are drawn uniformly),
     at 320 px (they are scaled to 0.6-1.6x the crop) with 32 grey levels, as PNG.

   It prints the kit's size with the tracked tree's, and stops if the sum passes 64 MiB.

2. On the device, one ``run`` call with ``carry=["gpu_restore_kit"]`` and ``timeout_s`` about 600:

       PYTHONPATH=$PWD PYTHONUNBUFFERED=1 python3 bench/gpu_restoration.py device scratch --minutes 8 --out $OUT -- --init-from checkpoints/scratch-default.safetensors --config '{"in_channels": 1, "out_channels": 1, "depth": 5, "conv_num": 1, "wf": 4}' --iters 20000 --lr 5e-5 --crop 256 --batch 16 --seed 7

   (the shipped detector is wf 4, the largest width within issue 7's 2 fps budget, trained on 48,000
   CPU crops. From 24,000 to 48,000 crops it gained on whole photos where wf 3 had not moved, so
   this run tests an order of magnitude more; docs/training-restore.md §24, §25)

   runs ``oldfilm train scratch`` (or ``restorer``) on the kit with the arguments after ``--``,
   plus ``--workers 14 --device cuda --val-fraction 0 --max-minutes M``: 14 processes make the
   degraded batches, and the run stops at a checkpoint after M minutes. It writes the run's
   run.json, log.jsonl and latest checkpoint (without optimiser state, so it fits the 16 MiB a file
   limit; with fp16 weights when even that is too large, as for the detector at wf 4) to $OUT.
   Choose ``--iters`` for the minutes (the schedule halves the rate half way): the log's seconds
   per iteration on a first run tell.

3. Here again:

       .venv/bin/python bench/gpu_restoration.py unpack /work/.device/... --run runs/scratch-gpu1

   rebuilds a run folder whose data, overlays and held-out split point back to ../shared, so
   ``oldfilm train scratch --export runs/scratch-gpu1 --dest DIR`` scores the true held-out photos,
   and ``--resume`` continues it here (with a fresh optimiser state).

``device scratch --device cpu --workers 2 --minutes 0.2 -- --config tiny --iters 50 --crop 64 --batch 2``
checks the kit on this machine, and ``rate`` times one loader worker on the kit (ms a crop for each
trainer's recipe; on 2026-11-27 here: 8.7 for the detector, 5.5 for the restorer, 256 px).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "gpu_restore_kit"
LIMIT_BYTES = 64 * 1024 * 1024
FILE_LIMIT_BYTES = 15 * 1024 * 1024
SHARED = ROOT.parent / "shared" / "data"


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _tracked_bytes() -> int:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / f.decode()).stat().st_size for f in files if f and (ROOT / f.decode()).is_file())


def _share(data: bytes) -> float:
    """A second content-hash number in [0, 1), independent of the held-out split's (bytes 0-3)."""
    return int.from_bytes(hashlib.sha1(data).digest()[4:8], "big") / 2**32


def pack(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from oldfilm.restore.training.data import is_held_out, list_images
    from oldfilm.restore.training.loop import default_photo_dirs

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    kept: dict[str, int] = {}
    held = 0
    for folder in map(Path, default_photo_dirs()):
        files = list_images(folder)
        train = [p for p in files if not is_held_out(p, args.val_fraction)]
        held += len(files) - len(train)
        if folder.name == "clothing_cc0":
            chosen = sorted(train, key=lambda p: _share(p.read_bytes()))[: args.clothing]
        else:
            chosen = [p for p in train if _share(p.read_bytes()) < args.keep] or train[:1]
        for p in chosen:
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
            h, w = bgr.shape[:2]
            s = args.short / min(h, w)
            if s < 1:
                bgr = cv2.resize(bgr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            dst = out / "photos" / folder.name / f"{hashlib.sha1(p.read_bytes()).hexdigest()[:16]}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst), bgr, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        kept[folder.name] = len(chosen)
    overlays = Path(args.overlays)
    n_overlays = 0
    levels = args.overlay_levels - 1
    for kind in sorted(d for d in overlays.iterdir() if d.is_dir()):
        files = sorted(kind.glob("*.png"), key=lambda p: _share(p.read_bytes()))[: args.overlays_per_kind]
        for p in files:
            a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            if a.ndim == 3:   # the bank reads alpha, else luma: keep what it would read
                a = a[..., 3] if a.shape[2] == 4 else cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)
            f = args.overlay_side / max(a.shape[:2])
            if f < 1:
                a = cv2.resize(a, (round(a.shape[1] * f), round(a.shape[0] * f)), interpolation=cv2.INTER_AREA)
            a = (np.round(a.astype(np.float32) / 255 * levels) * (255 / levels)).astype(np.uint8)
            dst = out / "overlays" / kind.name / p.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst), a, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            n_overlays += 1
    photos_b, overlays_b, tree_b = _bytes(out / "photos"), _bytes(out / "overlays"), _tracked_bytes()
    total = photos_b + overlays_b + tree_b
    print(f"{sum(kept.values())} training photos ({held} held out, never packed): "
          + ", ".join(f"{k} {v}" for k, v in kept.items()))
    print(f"{n_overlays} overlays. {out}: photos {photos_b / 1e6:.1f} MB, overlays {overlays_b / 1e6:.1f} MB; "
          f"with the tracked tree ({tree_b / 1e6:.1f} MB) {total / 2**20:.1f} MiB of the 64 MiB a device call carries")
    if total > LIMIT_BYTES:
        print("too large for the device: lower --keep, --clothing or --overlays-per-kind", file=sys.stderr)
        return 1
    return 0


def half_weights(models: dict[str, dict]) -> dict[str, dict]:
    """Each network's state dict with its floating-point tensors as fp16 (counters stay integers)."""
    return {name: {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
            for name, state in models.items()}


def device(args: argparse.Namespace) -> int:
    import torch

    kit = Path(args.kit)
    run = Path(args.run)
    photo_dirs = sorted(str(d) for d in (kit / "photos").iterdir() if d.is_dir())
    train = [sys.executable, "-m", "oldfilm.cli", "train", args.trainer, "--out", str(run), "--no-progress",
             "--workers", str(args.workers), "--device", args.device, "--threads", "2",
             "--max-minutes", str(args.minutes)]
    if (run / "run.json").is_file():     # a rerun on a still-warm machine goes on from the checkpoint
        cmd = [*train, "--resume"]
    else:
        cmd = [*train, "--data", *photo_dirs, "--overlays", str(kit / "overlays"), "--val-fraction", "0",
               "--save-every", str(args.save_every), "--log-every", "50", *args.train_args]
    t0 = time.time()
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    print(f"trained in {time.time() - t0:.0f} s", flush=True)
    ckpts = sorted(run.glob("ckpt-*.pt"))
    if not ckpts:
        raise SystemExit(f"{run}: no checkpoint written")
    ckpt = torch.load(ckpts[-1], map_location="cpu", weights_only=False)
    ckpt["optims"] = {}                  # Adam's moments would double the file; export needs the weights
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dest = out / ckpts[-1].name
    torch.save(ckpt, dest)
    if dest.stat().st_size > FILE_LIMIT_BYTES:
        # e.g. the detector widened to wf 4 (5.5 M parameters, 22 MB in fp32): the export writes fp16
        # anyway, and a resume here loads fp16 into the fp32 networks
        ckpt["models"] = half_weights(ckpt["models"])
        torch.save(ckpt, dest)
        print(f"{dest.name}: weights stored as fp16 to fit what a device call returns", flush=True)
    if dest.stat().st_size > FILE_LIMIT_BYTES:
        raise SystemExit(f"{dest}: {dest.stat().st_size / 2**20:.1f} MiB, over what a device call returns")
    for name in ("run.json", "log.jsonl"):
        if (run / name).is_file():
            shutil.copy2(run / name, out / name)
    print(f"wrote {dest.name} (step {ckpt['step']}, {dest.stat().st_size / 1e6:.1f} MB), run.json, log.jsonl "
          f"to {out}", flush=True)
    return 0


def rate(args: argparse.Namespace) -> int:
    """Milliseconds a crop for one loader worker (one thread) on the kit's photos and overlays,
    with each trainer's recipe: 14 workers make about 14,000 / ms crops a second."""
    import cv2
    import numpy as np
    import torch

    from oldfilm.restore.train_scratch import scratch_recipe
    from oldfilm.restore.training import data as D
    from oldfilm.restore.training.loop import recipe_from_args

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    kit = Path(args.kit)
    images = D.ImageSet.from_folders(sorted(str(d) for d in (kit / "photos").iterdir() if d.is_dir()), 0.0)
    base = argparse.Namespace(recipe="photo", overlays=str(kit / "overlays"), p_content=args.p_content)
    for trainer, recipe in (("scratch", scratch_recipe(base)), ("restorer", recipe_from_args(base))):
        rng = np.random.default_rng(0)
        D.degraded_batch(images, args.batch, args.crop, rng, recipe)        # warm the overlay cache
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            for _ in range(args.batches):
                D.degraded_batch(images, args.batch, args.crop, rng, recipe)
            best = min(best, (time.perf_counter() - t) / (args.batches * args.batch))
        print(f"{trainer}: {best * 1000:.1f} ms a {args.crop} px crop on one worker (best of {args.repeats} x "
              f"{args.batches} batches of {args.batch}): 14 workers make about {14 / best:.0f} crops a second")
    return 0


def unpack(args: argparse.Namespace) -> int:
    src, run = Path(args.src), Path(args.run)
    ckpts = sorted(src.glob("ckpt-*.pt"))
    if not ckpts or not (src / "run.json").is_file():
        raise SystemExit(f"{src}: expected ckpt-*.pt and run.json from `device`")
    if run.exists():
        raise SystemExit(f"{run}: already exists; pick another --run")
    run.mkdir(parents=True)
    meta = json.loads((src / "run.json").read_text())
    back = {"data": None, "overlays": str((SHARED / "overlays").resolve()), "val_fraction": 0.05,
            "workers": 0, "max_minutes": None, "device": "auto", "out": str(run)}
    for record in [meta.get("args", {}), *(s.get("args", {}) for s in meta.get("sessions", []))]:
        # what the device trained on stays on record beside the paths the export needs
        record["device_kit"] = {k: record.get(k) for k in ("data", "overlays", "val_fraction", "workers", "device")}
        record.update(back)
    (run / "run.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    shutil.copy2(ckpts[-1], run / ckpts[-1].name)
    if (src / "log.jsonl").is_file():
        shutil.copy2(src / "log.jsonl", run / "log.jsonl")
    print(f"{run}: {ckpts[-1].name} of a {meta.get('trainer')} run; data and held-out split back on ../shared. "
          f"Export with: oldfilm train {meta.get('trainer')} --export {run} --dest DIR")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--out", default=str(KIT))
    p.add_argument("--overlays", default=str(SHARED / "overlays"))
    p.add_argument("--val-fraction", type=float, default=0.05, help="the trainers' held-out share (never packed)")
    p.add_argument("--keep", type=float, default=0.35, help="share of each folder's training photos packed")
    p.add_argument("--clothing", type=int, default=90, help="clothing_cc0 photos packed")
    p.add_argument("--short", type=int, default=256, help="short side of the packed photos, px")
    p.add_argument("--quality", type=int, default=70, help="JPEG quality of the packed photos")
    p.add_argument("--overlays-per-kind", type=int, default=25)
    p.add_argument("--overlay-side", type=int, default=320)
    p.add_argument("--overlay-levels", type=int, default=32)
    d = sub.add_parser("device")
    d.add_argument("trainer", choices=["scratch", "restorer"])
    d.add_argument("--out", required=True, help="$OUT on the device")
    d.add_argument("--kit", default=str(KIT))
    d.add_argument("--run", default="/tmp/restoration-gpu")
    d.add_argument("--minutes", type=float, default=8.0)
    d.add_argument("--device", default="cuda")
    d.add_argument("--workers", type=int, default=14)
    d.add_argument("--save-every", type=int, default=500)
    r = sub.add_parser("rate", help="how fast one loader worker makes training crops from the kit")
    r.add_argument("--kit", default=str(KIT))
    r.add_argument("--crop", type=int, default=256)
    r.add_argument("--batch", type=int, default=16)
    r.add_argument("--batches", type=int, default=5)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--p-content", type=float, default=0.6, help="the detector's share of drawn thin content")
    u = sub.add_parser("unpack")
    u.add_argument("src", help="the folder the device's files came back to")
    u.add_argument("--run", required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)     # after `--`: the trainer's own arguments
    args = ap.parse_args(argv[:cut])
    args.train_args = argv[cut + 1:]
    return {"pack": pack, "device": device, "rate": rate, "unpack": unpack}[args.what](args)


if __name__ == "__main__":
    raise SystemExit(main())

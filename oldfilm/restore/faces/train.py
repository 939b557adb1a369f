"""``oldfilm train faces``: the SPADE face enhancer on faces degraded by the synthetic model.

Data: aligned face crops (default ../shared/data/faces/utkface, 200x200) resized to the crop side
the face stage uses (256, BOPBTL's template), degraded by ``oldfilm.restore.degrade`` with little
physical damage (global restoration runs first in the pipeline, so the face enhancer sees mostly
blur, noise, low resolution, JPEG, grain and fading). Training uses random ``--crop`` windows of
the 256 faces (same pixel scale as inference, 4x cheaper); evaluation uses whole 256 faces.
Loss: L1 + 0.5 (1 - SSIM). BOPBTL did not release its face training code (paper: FFHQ, GAN).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from ...errors import OldfilmError
from ..training import data as D
from ..training.export import DATA_LICENCES, export_module, run_summary, schedule_text, write_card
from ..training.loop import (Phase, start_single_net, add_common_arguments, parse_config, recipe_from_args,
                             run_phases, set_lr, setup_torch)
from ..training.losses import image_loss
from ..training.quality import classical_restore
from ..training.registry import arch_name_for, builtin_file
from ..training.run_dir import RunDir
from ...metrics import psnr, ssim
from .spade import build_face_generator

TRAINER = "faces"
FACE_SIZE = 256
CONFIGS = {
    # light default: sized for >= 2 fps restore (with faces) at 640x480 on 2 CPU cores (bench/restore_macs.py)
    "light": {"ngf": 8, "spade_hidden": 16, "spectral_norm": True, "param_free_norm": "batch", "n_up": 5},
    "tiny": {"ngf": 2, "spade_hidden": 4, "spectral_norm": True, "param_free_norm": "batch", "n_up": 5},
    "published": {"ngf": 64, "spade_hidden": 128, "spectral_norm": True, "param_free_norm": "batch", "n_up": 5},
}
FACE_BOX = (0.15, 0.85)   # central part of the aligned crop scored as "face region"


def face_recipe(args: argparse.Namespace):
    return replace(recipe_from_args(args), p_overlay=0.2, overlay_count=(1, 1), p_curves=0.1, p_lines=0.05)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, crop=128, batch=6, data_help="aligned face folders (default: ../shared/data/faces/utkface)")
    p.add_argument("--iters", type=int, default=6000)


def face_dirs(args: argparse.Namespace) -> list[str]:
    return args.data or [str(D.SHARED_DATA / "faces" / "utkface")]


def load_face(path: Path) -> np.ndarray:
    rgb = D.read_rgb(path)
    if rgb.shape[:2] != (FACE_SIZE, FACE_SIZE):
        rgb = cv2.resize(rgb, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_CUBIC)
    return rgb


def face_batch(images: D.ImageSet, n: int, crop: int, rng: np.random.Generator, recipe) -> tuple[torch.Tensor, torch.Tensor]:
    """(degraded, target) Nx3xcropxcrop in [-1,1]: degraded at full face size, then the same window."""
    from ..degrade import degrade_pair

    xs, ys = [], []
    for _ in range(n):
        face = load_face(images.sample(rng))
        if rng.random() < 0.5:
            face = np.ascontiguousarray(face[:, ::-1])
        tgt, deg, _ = degrade_pair(face, rng, recipe)
        y0, x0 = (int(rng.integers(FACE_SIZE - crop + 1)) for _ in range(2))
        xs.append(deg[y0 : y0 + crop, x0 : x0 + crop])
        ys.append(tgt[y0 : y0 + crop, x0 : x0 + crop])
    return D.to_tensor(xs), D.to_tensor(ys)


def run(args: argparse.Namespace) -> int:
    if args.export:
        return export(args)
    if not args.out:
        raise OldfilmError("oldfilm train faces: give --out RUN_DIR (or --export RUN_DIR)")
    if args.crop % 32:
        raise OldfilmError(f"--crop {args.crop}: the SPADE generator needs a multiple of 32")
    device = setup_torch(args)
    run_dir = RunDir(args.out)
    r = start_single_net(args, run_dir, TRAINER, "face", parse_config(args.config, CONFIGS), build_face_generator, device)
    net, opt = r.net, r.opt
    images = D.ImageSet.from_folders(face_dirs(args), args.val_fraction)
    recipe = face_recipe(args)

    def step(rng: np.random.Generator, f: float) -> dict[str, float]:
        set_lr(opt, args.lr, f)
        x, y = face_batch(images, args.batch, args.crop, rng, recipe)
        x, y = x.to(device), y.to(device)
        out = net(x)
        loss = image_loss(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "l1": (out - y).abs().mean().item()}

    run_phases(args, run_dir, [Phase("face", args.iters, step)], r.models, r.optims, r.rng, r.state)
    print(f"oldfilm train faces: finished in {run_dir.path}; export with `oldfilm train faces --export {run_dir.path}`")
    return 0


def face_scores(net: torch.nn.Module, pairs) -> dict[str, float]:
    """Face-region (central box) PSNR/SSIM of input, output and the classical baseline vs target."""
    a, b = (int(FACE_SIZE * f) for f in FACE_BOX)
    rows = []
    for target, degraded, _ in pairs:
        with torch.inference_mode():
            out = D.to_uint8(net(D.to_tensor([degraded])))[0]
        base = classical_restore(degraded)
        t = target[a:b, a:b]
        rows.append({"psnr_in": psnr(degraded[a:b, a:b], t), "ssim_in": ssim(degraded[a:b, a:b], t),
                     "psnr_out": psnr(out[a:b, a:b], t), "ssim_out": ssim(out[a:b, a:b], t),
                     "psnr_base": psnr(base[a:b, a:b], t), "ssim_base": ssim(base[a:b, a:b], t)})
    res = {k: float(np.mean([min(r[k], 99.0) for r in rows])) for k in rows[0]}
    res["n"] = len(rows)
    return res


def export(args: argparse.Namespace) -> int:
    run_dir = RunDir(args.export)
    meta = run_dir.meta()
    if meta.get("trainer") != TRAINER:
        raise OldfilmError(f"{run_dir.path}: is a {meta.get('trainer')} run, not {TRAINER}")
    ckpt = run_dir.load()
    cfg = meta["configs"]["face"]
    net = build_face_generator(cfg)
    net.load_state_dict(ckpt["models"]["face"])
    net.eval()
    torch.set_num_threads(max(1, args.threads))
    margs = argparse.Namespace(**{**vars(args), **{k: meta["args"][k] for k in ("overlays", "recipe", "val_fraction", "data") if k in meta["args"]}})
    images = D.ImageSet.from_folders(face_dirs(margs), margs.val_fraction)
    rng = np.random.default_rng(1234)
    recipe = face_recipe(margs)
    from ..degrade import degrade_pair

    if not images.val:
        raise OldfilmError("no held-out faces to score (raise --val-fraction or add images)")
    pairs = [degrade_pair(load_face(p), rng, recipe) for p in images.val[: args.eval_images]]
    scores = face_scores(net, pairs)
    dest = Path(args.dest) if args.dest else Path(__file__).resolve().parents[3] / "checkpoints"
    name, card = builtin_file("face", None, fallback="face-default.safetensors")
    summary = run_summary(run_dir, ckpt) | {"trainer": TRAINER}
    path, digest = export_module(net, arch_name_for(build_face_generator), cfg, dest, name,
                                 extra={"step": summary["step"], "crop_size": FACE_SIZE})
    n_params = sum(p.numel() for p in net.parameters())
    s = scores
    write_card(dest / Path(card).name, f"Face enhancer, oldfilm default (`{name}`)", [
        ("Architecture", f"BOPBTL's SPADE face generator (`oldfilm/restore/faces/spade.py`, restore-spec §5) at a light "
                         f"size: `{json.dumps(cfg)}`; {n_params:,} parameters, fp16 safetensors, sha256 `{digest}`. "
                         f"Input: a {FACE_SIZE}x{FACE_SIZE} aligned face (BOPBTL 5-point template) in [-1,1]."),
        ("Training data and licences", "UTKFace aligned faces (200x200, resized to 256), 5% held out by file hash, "
         "degraded on the fly by `oldfilm/restore/degrade.py` (recipe `photo`, damage reduced: overlays p=0.2, "
         "Bezier scratches p=0.1, film lines p=0.05); the target keeps the input's toning. Only L1 + SSIM losses "
         "(no GAN, no perceptual loss: see docs/training-restore.md).\n\n" + DATA_LICENCES),
        ("Schedule and hardware", schedule_text(summary, [("face", int(summary["args"].get("iters", 0)))])),
        ("Quality (held-out)", f"{s['n']} held-out UTKFace faces at {FACE_SIZE}x{FACE_SIZE}, degraded with seed 1234, "
         f"scored on the central face region ({FACE_BOX[0]:.2f}-{FACE_BOX[1]:.2f} of the crop):\n\n"
         "| | PSNR (dB) | SSIM |\n| --- | --- | --- |\n"
         f"| degraded input | {s['psnr_in']:.2f} | {s['ssim_in']:.3f} |\n"
         f"| classical baseline (Telea + fastNlMeans) | {s['psnr_base']:.2f} | {s['ssim_base']:.3f} |\n"
         f"| this model | {s['psnr_out']:.2f} | {s['ssim_out']:.3f} |\n\n"
         f"Gain over input: {s['psnr_out'] - s['psnr_in']:+.2f} dB, SSIM {s['ssim_out'] - s['ssim_in']:+.3f}. "
         "Reproduce: `oldfilm train faces --export RUN --dest DIR`."),
    ])
    print(f"exported {path} (sha256 {digest[:16]}…, face PSNR {s['psnr_in']:.2f} -> {s['psnr_out']:.2f} dB, "
          f"baseline {s['psnr_base']:.2f})")
    return 0



if __name__ == "__main__":  # same parsing and one-line errors as `oldfilm`
    from oldfilm.cli import main

    sys.exit(main(['train', 'faces', *sys.argv[1:]]))

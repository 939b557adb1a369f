"""How well a restorer run's VAE_B reconstructs clean held-out photos, and how much of the error is
global tone (per-channel mean and spread): the check behind the light defaults' `norm: none`.

    .venv/bin/python bench/restore_vae_check.py runs/restorer3 [--images 16]

Prints PSNR of VAE_B(clean) vs clean, the same after matching each output's per-channel mean and
standard deviation to the target's, and a bilinear x4 down/up of the clean crop for scale (256 px
centre crops of the first N held-out photos).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    from oldfilm.metrics import psnr
    from oldfilm.restore.degrade import recipe_by_name
    from oldfilm.restore.train_restorer import load_run_nets
    from oldfilm.restore.training import data as D
    from oldfilm.restore.training.run_dir import RunDir

    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--images", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(1)
    nets, cfg, ckpt = load_run_nets(RunDir(a.run))
    images = D.ImageSet.from_folders([str(D.SHARED_DATA / d) for d in D.DEFAULT_PHOTO_DIRS], 0.05)
    pairs = D.held_out_pairs(images.val, a.images, 256, seed=1234, recipe=recipe_by_name("photo", D.SHARED_DATA / "overlays"))
    plain, matched, bilinear = [], [], []
    with torch.inference_mode():
        for target, _, _ in pairs:
            x = D.to_tensor([target])
            out = D.to_uint8(nets["vae_b"](x))[0]
            plain.append(psnr(out, target))
            o, t = out.astype(np.float32), target.astype(np.float32)
            o = (o - o.mean((0, 1))) / (o.std((0, 1)) + 1e-6) * t.std((0, 1)) + t.mean((0, 1))
            matched.append(psnr(np.clip(o, 0, 255).round().astype(np.uint8), target))
            small = torch.nn.functional.avg_pool2d(x, 4)
            bilinear.append(psnr(D.to_uint8(torch.nn.functional.interpolate(small, scale_factor=4, mode="bilinear"))[0], target))
    print(f"{a.run} step {ckpt['step']} vae {cfg['vae']}: VAE_B(clean) {np.mean(plain):.2f} dB, after global mean/std "
          f"match {np.mean(matched):.2f} dB, bilinear x4 down/up {np.mean(bilinear):.2f} dB ({len(pairs)} held-out crops)")


if __name__ == "__main__":
    main()

"""Where the restorer's remaining error comes from, on the held-out crops of the model cards.

    .venv/bin/python bench/restore_error_sources.py [--run RUN_DIR] [--detector FILE] [--images 32]

Without --run it scores the installed `default` restorer (OLDFILM_CHECKPOINTS picks another
folder); with --run, a training run's latest checkpoint. The detector is the installed `default`
one, or --detector FILE (one of our .safetensors detectors, with its saved operating points).

1. By degradation group: the 32 held-out 256 px crops (seed 1234, recipe `photo`) degraded with
   one group of operations switched off, or only one group on. PSNR of the input, of the quality
   path, of the restore stage with the detector (``--scratches on``: the scratch path with the
   detector's mask; ``auto``: what `oldfilm restore` does by default) and of the scratch path
   given the true damage mask. (Seeded draws shift when a
   probability is 0, so the groups are not the same photos' exact degradations: compare rows
   loosely. A row averages only the crops its operations changed.)
2. By frequency, on the full recipe: the quality path's PSNR; the same after the best per-channel
   affine colour fit to the target (an oracle: how much is global tone); the PSNR of Gaussian
   low-passed (sigma 2 px) output against low-passed target; and the output with its low
   frequencies replaced by the target's (how much is fine detail).
"""
from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np
import torch

GROUPS = {
    "ageing": {"p_fade": 0, "p_contrast": 0, "p_vignette": 0, "p_halftone": 0},
    "damage": {"p_overlay": 0, "p_curves": 0, "p_lines": 0},
    "scan": {"p_blur": 0, "p_noise": 0, "p_lowres": 0, "p_jpeg": 0, "p_grain": 0},
}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    from oldfilm.metrics import psnr

    return min(psnr(a, b), 99.0)        # capped as the cards' scores are: an untouched crop is not infinite


def _affine_fit(out: np.ndarray, target: np.ndarray) -> np.ndarray:
    o = out.reshape(-1, 3).astype(np.float64)
    a = np.concatenate([o, np.ones((len(o), 1))], 1)
    k = np.linalg.lstsq(a, target.reshape(-1, 3).astype(np.float64), rcond=None)[0]
    return np.clip(a @ k, 0, 255).reshape(out.shape)


def _low(a: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(a.astype(np.float32), (0, 0), 2.0)


def main() -> None:
    from oldfilm.restore.degrade import recipe_by_name
    from oldfilm.restore.restorer import restore_image
    from oldfilm.restore.training import data as D
    from oldfilm.restore.training.loop import default_photo_dirs

    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="a restorer training run (default: the installed `default` model)")
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--overlays", default="../shared/data/overlays")
    ap.add_argument("--detector", help="a .safetensors scratch detector (default: the installed `default`)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.run:
        from oldfilm.restore.restorer import RestorerNets
        from oldfilm.restore.train_restorer import load_run_nets
        from oldfilm.restore.training.run_dir import RunDir

        nets = load_run_nets(RunDir(a.run))[0]
        quality = RestorerNets(nets["vae_a"], nets["map_q"], nets["vae_b"])
        scratch = RestorerNets(nets["vae_a"], nets["map_s"], nets["vae_b"])
    else:
        from oldfilm.restore.stage import load_paths

        quality, scratch = load_paths("default")
    from oldfilm import weights
    from oldfilm.restore.stage import RestoreStage

    detector = (weights.load_builtin(a.detector) if a.detector
                else next(iter(weights.load_model("scratch", "default").values())))
    stage_on = RestoreStage(quality, scratch, detector, "on")
    stage_auto = RestoreStage(quality, scratch, detector, "auto")
    base = recipe_by_name("photo", a.overlays)
    images = D.ImageSet.from_folders(default_photo_dirs(), 0.05)
    everything_off = {k: v for g in GROUPS.values() for k, v in g.items()}
    variants = {"full recipe": {}}
    variants.update({f"without {g}": off for g, off in GROUPS.items()})
    variants.update({f"{g} only": {k: v for k, v in everything_off.items() if k not in off} for g, off in GROUPS.items()})
    variants["tone only (clean input)"] = everything_off
    print(f"{a.images} held-out 256 px crops, seed 1234; PSNR dB")
    print(f"{'degradation':28s} {'input':>7s} {'quality':>8s} {'on':>7s} {'auto':>7s} {'scratch, true mask':>19s}")
    full = None
    with torch.inference_mode():
        for name, off in variants.items():
            pairs = D.held_out_pairs(images.val, a.images, 256, seed=1234, recipe=dataclasses.replace(base, **off))
            outs = [restore_image(quality, d) for _, d, _ in pairs]
            r = np.array([[_psnr(d, c), _psnr(o, c), _psnr(stage_on([d])[0], c), _psnr(stage_auto([d])[0], c),
                           _psnr(restore_image(scratch, d, m > 127), c)]
                          for (c, d, m), o in zip(pairs, outs)])
            hit = np.array([not np.array_equal(c, d) for c, d, _ in pairs])
            if name != "tone only (clean input)":
                r = r[hit]          # crops the remaining operations all skipped would score the 99 dB cap
            print(f"{name:28s} {r[:, 0].mean():7.2f} {r[:, 1].mean():8.2f} {r[:, 2].mean():7.2f} {r[:, 3].mean():7.2f} "
                  f"{r[:, 4].mean():19.2f}   ({len(r)} crops)", flush=True)
            if full is None:
                full = [(c, o) for (c, _, _), o in zip(pairs, outs)]
    assert full is not None
    f = np.array([[_psnr(o, c), _psnr(_affine_fit(o, c), c), _psnr(_low(o), _low(c)), _psnr(o - _low(o) + _low(c), c)]
                  for c, o in full])
    print(f"\nfull recipe, quality path: {f[:, 0].mean():.2f}; with the oracle per-channel affine tone "
          f"{f[:, 1].mean():.2f}; low-passed (sigma 2) {f[:, 2].mean():.2f}; with the target's low frequencies "
          f"{f[:, 3].mean():.2f}")


if __name__ == "__main__":
    main()

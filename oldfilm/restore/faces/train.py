"""``oldfilm train faces``: the SPADE face enhancer on faces degraded by the synthetic model.

Data: aligned face crops (default ../shared/data/faces/utkface, 200x200) resized to the crop side
the face stage uses (256, BOPBTL's template), degraded by ``oldfilm.restore.degrade`` with little
physical damage (global restoration runs first in the pipeline, so the face enhancer sees mostly
blur, noise, low resolution, JPEG, grain and fading). Training uses random ``--crop`` windows of
the 256 faces (same pixel scale as inference, 4x cheaper); evaluation uses whole 256 faces.
Loss: L1 + 0.5 (1 - SSIM). BOPBTL did not release its face training code (paper: FFHQ, GAN).

``--after-restorer MODEL`` trains on what the face stage really gets inside ``oldfilm restore``:
the face is toned at 256, resized to its side in the frame (``--face-scale``, log-uniform),
degraded there, cleaned by the global restorer's quality path and warped back to 256 (bilinear,
as the aligner warps). A face model trained on raw degraded faces sees a different input in the
pipeline (already denoised, softened) and added nothing after the restorer (docs/quality.md).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from ...errors import OldfilmError
from ...metrics import psnr, ssim
from ..degrade import DegradeRecipe, degrade_pair, tone
from ..training import data as D
from ..training.export import DATA_LICENCES, export_module, run_summary, schedule_text, write_card
from ..training.loop import (Phase, start_single_net, add_common_arguments, parse_config, recipe_from_args,
                             run_phases, set_lr, setup_torch)
from ..training.losses import image_loss
from ..training.quality import classical_restore
from ..training.registry import arch_name_for, builtin_file
from ..training.run_dir import RunDir
from .spade import LIGHT_CONFIG, build_face_generator

TRAINER = "faces"
FACE_SIZE = 256
CONFIGS = {
    # light default: sized for >= 2 fps restore (with faces) at 640x480 on 2 CPU cores (bench/restore_macs.py)
    "light": {"ngf": 8, "spade_hidden": 16, "spectral_norm": True, "param_free_norm": "batch", "n_up": 5},
    # the same size adding a correction to its input: for --after-restorer (spade.py, docs/training-restore.md §11)
    "light-residual": LIGHT_CONFIG.to_dict(),
    "tiny": {"ngf": 2, "spade_hidden": 4, "spectral_norm": True, "param_free_norm": "batch", "n_up": 5},
    "published": {"ngf": 64, "spade_hidden": 128, "spectral_norm": True, "param_free_norm": "batch", "n_up": 5},
}
FACE_BOX = (0.15, 0.85)   # central part of the aligned crop scored as "face region"


def face_recipe(args: argparse.Namespace):
    return replace(recipe_from_args(args), p_overlay=0.2, overlay_count=(1, 1), p_curves=0.1, p_lines=0.05)


PIPELINE_SCALE = (64, 384)  # aligned-crop side in frame px with --after-restorer: faces of ~40-250 px


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, crop=128, batch=6, data_help="aligned face folders (default: ../shared/data/faces/utkface)")
    p.add_argument("--iters", type=int, default=6000)
    p.add_argument("--after-restorer", metavar="MODEL",
                   help="train on the face stage's input inside `oldfilm restore`: each face degraded at its size "
                        "in the frame, restored by this global restorer (e.g. default), warped to 256")
    p.add_argument("--face-scale", type=int, nargs=2, metavar=("MIN", "MAX"),
                   help="side in frame pixels of the aligned 256 crop, log-uniform (default 256 256; "
                        f"{PIPELINE_SCALE[0]} {PIPELINE_SCALE[1]} with --after-restorer)")
    p.add_argument("--init-from", metavar="RUN_DIR|MODEL",
                   help="start from a faces run's latest weights or an installed face model (e.g. default); same --config")


@dataclass(frozen=True)
class FaceInputs:
    """Makes (target, network input, degraded) from a clean aligned face, as the face stage meets it.

    scale: (min, max) side in frame pixels of the aligned crop; restore: the global restorer,
    uint8 RGB HxWx3 -> same, or None. With scale (256, 256) and no restorer this is the original
    recipe byte for byte: ``degrade_pair`` at 256.
    """

    recipe: DegradeRecipe
    scale: tuple[int, int] = (FACE_SIZE, FACE_SIZE)
    restore: Callable[[np.ndarray], np.ndarray] | None = None

    def side(self, rng: np.random.Generator) -> int:
        lo, hi = self.scale
        return lo if lo == hi else round(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    def __call__(self, face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """face: uint8 RGB 256x256x3. Returns three uint8 RGB 256x256x3: the toned clean face, what
        the generator gets, and the degraded face warped to 256 (the input when there is no restorer)."""
        if self.restore is None and self.scale == (FACE_SIZE, FACE_SIZE):
            target, degraded, _ = degrade_pair(face, rng, self.recipe)
            return target, degraded, degraded
        target = tone(face, rng, self.recipe)
        side = self.side(rng)
        small = target if side == FACE_SIZE else cv2.resize(
            target, (side, side), interpolation=cv2.INTER_AREA if side < FACE_SIZE else cv2.INTER_CUBIC)
        _, degraded, _ = degrade_pair(small, rng, replace(self.recipe, p_gray=0.0, p_sepia=0.0))
        restored = self.restore(degraded) if self.restore is not None else degraded

        def warp(x: np.ndarray) -> np.ndarray:
            return x if side == FACE_SIZE else cv2.resize(x, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR)
        return target, warp(restored), warp(degraded)


def restorer_fn(model: str, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """The installed global restorer as the face stage's predecessor: the restore stage of
    ``oldfilm restore --scratches off`` (its quality path, what ``auto`` takes on almost every photo)."""
    from ...options import RestoreOptions, RunOptions
    from ..stage import build_restore_stage

    stage = build_restore_stage(RestoreOptions(model=model, scratches="off"), RunOptions(device=str(device)))
    return lambda rgb: stage([rgb])[0]


def face_inputs(args: argparse.Namespace, device: torch.device) -> FaceInputs:
    after = getattr(args, "after_restorer", None)
    scale = getattr(args, "face_scale", None) or (PIPELINE_SCALE if after else (FACE_SIZE, FACE_SIZE))
    lo, hi = (int(v) for v in scale)
    if not 16 <= lo <= hi:
        raise OldfilmError(f"--face-scale {lo} {hi}: expected 16 <= MIN <= MAX")
    return FaceInputs(face_recipe(args), (lo, hi), restorer_fn(after, device) if after else None)


def warm_start(net: torch.nn.Module, source: str) -> None:
    """Load a faces run's latest generator, or an installed face model, into ``net``. Into a
    residual generator from one that redraws the face, every layer but the last comes over: the
    last starts at zero, so the new generator starts as the identity on the old one's features."""
    from .stage import load_face_generator

    path = Path(source)
    if (path / "run.json").is_file():
        run_dir = RunDir(path)
        if run_dir.meta().get("trainer") != TRAINER:
            raise OldfilmError(f"--init-from {source}: not a faces run")
        state = run_dir.load()["models"]["face"]
        residual = bool(run_dir.meta()["configs"]["face"].get("residual", False))
    else:
        generator, crop = load_face_generator(source)
        if crop != FACE_SIZE:
            raise OldfilmError(f"--init-from {source}: a {crop}x{crop} face model; this trainer makes {FACE_SIZE}x{FACE_SIZE} ones")
        state = generator.state_dict()
        residual = bool(getattr(getattr(generator, "config", None), "residual", False))
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError:
        raise OldfilmError(f"--init-from {source}: its face generator does not fit this run's --config") from None
    zeroed = net.config.residual and not residual
    if zeroed:
        torch.nn.init.zeros_(net.conv_img.weight)
        torch.nn.init.zeros_(net.conv_img.bias)
    print(f"oldfilm train faces: started from {source}" + (" (last layer zeroed: residual)" if zeroed else ""))


def face_dirs(args: argparse.Namespace) -> list[str]:
    return args.data or [str(D.SHARED_DATA / "faces" / "utkface")]


def load_face(path: Path) -> np.ndarray:
    rgb = D.read_rgb(path)
    if rgb.shape[:2] != (FACE_SIZE, FACE_SIZE):
        rgb = cv2.resize(rgb, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_CUBIC)
    return rgb


def face_batch(images: D.ImageSet, n: int, crop: int, rng: np.random.Generator,
               inputs: FaceInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """(network input, target) Nx3xcropxcrop in [-1,1]: made at full face size, then the same window."""
    xs, ys = [], []
    for _ in range(n):
        face = load_face(images.sample(rng))
        if rng.random() < 0.5:
            face = np.ascontiguousarray(face[:, ::-1])
        tgt, deg, _ = inputs(face, rng)
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
    if args.init_from and r.state.step == 0:
        warm_start(net, args.init_from)
    images = D.ImageSet.from_folders(face_dirs(args), args.val_fraction)
    inputs = face_inputs(args, device)

    def step(rng: np.random.Generator, f: float) -> dict[str, float]:
        set_lr(opt, args.lr, f)
        x, y = face_batch(images, args.batch, args.crop, rng, inputs)
        x, y = x.to(device), y.to(device)
        out = net(x)
        loss = image_loss(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "l1": (out - y).abs().mean().item()}

    if not run_phases(args, run_dir, [Phase("face", args.iters, step)], r.models, r.optims, r.rng, r.state):
        return 0
    print(f"oldfilm train faces: finished in {run_dir.path}; export with `oldfilm train faces --export {run_dir.path}`")
    return 0


def face_scores(net: torch.nn.Module, triples) -> dict[str, float]:
    """Face-region (central box) PSNR/SSIM against the target of: the degraded face (``in``), the
    network's input (``net_in``: the restorer's output with --after-restorer, else the degraded
    face), the network's output and the classical baseline on the degraded face.
    triples: (target, network input, degraded), uint8 RGB 256x256x3 each."""
    a, b = (int(FACE_SIZE * f) for f in FACE_BOX)
    rows = []
    for target, net_in, degraded in triples:
        with torch.inference_mode():
            out = D.to_uint8(net(D.to_tensor([net_in])))[0]
        base = classical_restore(degraded)
        t = target[a:b, a:b]
        rows.append({"psnr_in": psnr(degraded[a:b, a:b], t), "ssim_in": ssim(degraded[a:b, a:b], t),
                     "psnr_net_in": psnr(net_in[a:b, a:b], t), "ssim_net_in": ssim(net_in[a:b, a:b], t),
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
    keys = ("overlays", "recipe", "val_fraction", "data", "after_restorer", "face_scale")
    margs = argparse.Namespace(**{**vars(args), **{k: meta["args"][k] for k in keys if k in meta["args"]}})
    images = D.ImageSet.from_folders(face_dirs(margs), margs.val_fraction)
    rng = np.random.default_rng(1234)
    inputs = face_inputs(margs, torch.device("cpu"))
    if not images.val:
        raise OldfilmError("no held-out faces to score (raise --val-fraction or add images)")
    triples = [inputs(load_face(p), rng) for p in images.val[: args.eval_images]]
    scores = face_scores(net, triples)
    dest = Path(args.dest) if args.dest else Path(__file__).resolve().parents[3] / "checkpoints"
    # A run on the restorer's output is the default; one on raw degraded faces serves --no-restore.
    from .published import ALONE_FILE, ALONE_MODEL, DEFAULT_FILE

    after = getattr(margs, "after_restorer", None)
    name, card = (builtin_file("face", None, fallback=DEFAULT_FILE) if after
                  else builtin_file("face", None, fallback=ALONE_FILE, model=ALONE_MODEL))
    summary = run_summary(run_dir, ckpt) | {"trainer": TRAINER}
    path, digest = export_module(net, arch_name_for(build_face_generator), cfg, dest, name,
                                 extra={"step": summary["step"], "crop_size": FACE_SIZE})
    n_params = sum(p.numel() for p in net.parameters())
    s = scores
    lo, hi = inputs.scale
    native = (lo, hi) == (FACE_SIZE, FACE_SIZE)
    made = ("toned and degraded at 256" if native else
            f"toned at 256, resized to their side in the frame ({lo}-{hi} px for the aligned crop, log-uniform) "
            "and degraded there")
    made += f", cleaned by the `{after}` global restorer's quality path as in `oldfilm restore`" if after else ""
    made += "" if native else ", then warped back to 256 (bilinear, as the aligner warps)"
    restorer_row = (f"| `{after}` global restorer alone (this model's input) | {s['psnr_net_in']:.2f} | "
                    f"{s['ssim_net_in']:.3f} |\n" if after else "")
    gain_over = (f"Gain over the restorer's output: {s['psnr_out'] - s['psnr_net_in']:+.2f} dB, SSIM "
                 f"{s['ssim_out'] - s['ssim_net_in']:+.3f}; over the degraded input: " if after else "Gain over input: ")
    title = (f"Face enhancer, oldfilm default (`{name}`)" if after else
             f"Face enhancer for faces not restored first, oldfilm `{ALONE_MODEL}` (`{name}`; `--no-restore --faces`)")
    write_card(dest / Path(card).name, title, [
        ("Architecture", f"BOPBTL's SPADE face generator (`oldfilm/restore/faces/spade.py`, restore-spec §5) at a light "
                         f"size: `{json.dumps(cfg)}`; {n_params:,} parameters, fp16 safetensors, sha256 `{digest}`. "
                         f"Input: a {FACE_SIZE}x{FACE_SIZE} aligned face (BOPBTL 5-point template) in [-1,1]."),
        ("Training data and licences", "UTKFace aligned faces (200x200, resized to 256), 5% held out by file hash, "
         "degraded on the fly by `oldfilm/restore/degrade.py` (recipe `photo`, damage reduced: overlays p=0.2, "
         f"Bezier scratches p=0.1, film lines p=0.05): {made}; the target keeps the input's toning. Only L1 + SSIM losses "
         "(no GAN, no perceptual loss: see docs/training-restore.md).\n\n" + DATA_LICENCES),
        ("Schedule and hardware", schedule_text(summary, [("face", int(summary["args"].get("iters", 0)))])),
        ("Quality (held-out)", f"{s['n']} held-out UTKFace faces at {FACE_SIZE}x{FACE_SIZE}, made as in training with seed 1234, "
         f"scored on the central face region ({FACE_BOX[0]:.2f}-{FACE_BOX[1]:.2f} of the crop):\n\n"
         "| | PSNR (dB) | SSIM |\n| --- | --- | --- |\n"
         f"| degraded input | {s['psnr_in']:.2f} | {s['ssim_in']:.3f} |\n"
         f"| classical baseline (Telea + fastNlMeans) | {s['psnr_base']:.2f} | {s['ssim_base']:.3f} |\n"
         + restorer_row +
         f"| this model | {s['psnr_out']:.2f} | {s['ssim_out']:.3f} |\n\n"
         f"{gain_over}{s['psnr_out'] - s['psnr_in']:+.2f} dB, SSIM {s['ssim_out'] - s['ssim_in']:+.3f}. "
         "Reproduce: `oldfilm train faces --export RUN --dest DIR`."),
    ])
    print(f"exported {path} (sha256 {digest[:16]}…, face PSNR {s['psnr_in']:.2f} -> {s['psnr_out']:.2f} dB, "
          f"baseline {s['psnr_base']:.2f})")
    return 0



if __name__ == "__main__":  # same parsing and one-line errors as `oldfilm`
    from oldfilm.cli import main

    sys.exit(main(['train', 'faces', *sys.argv[1:]]))

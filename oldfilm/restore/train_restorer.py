"""``oldfilm train restorer``: BOPBTL's triplet-domain restorer (spec §8), adapted to our data.

Phase ``vae`` (both VAEs each iteration):
  * VAE_A on domain A: synthetic old photos (``oldfilm.restore.degrade``; with p=0.3 the damage
    is cut out as white holes, as the scratch path feeds it at inference), clean inputs with p=0.1,
    and real old photos with p=0.5 when ``--real-old DIR`` is given (BOPBTL's ratio);
  * VAE_B on domain B: the clean photos.
  BOPBTL's "reduced VAE": decode(h + sigma N(0,1)), KL = mean(h^2). Losses L1 + 0.5 (1-SSIM) until
  the perceptual-loss decision (docs/feature-loss.md); no GAN (CPU budget).
Phase ``mapping`` (VAEs frozen): the quality mapping on E_A(degraded) and the scratch mapping
(partial non-local) on E_A(degraded with damage -> white, mask); both to E_B(clean) with latent L1
x ``--feat-weight`` plus the image loss through the frozen decoder G_B.
Phase ``joint`` (not in BOPBTL): E_A, both mappings and G_B end to end on the image loss.
Phase ``scratch_tune`` (not in BOPBTL): only the scratch mapping learns, on the masks the installed
scratch detector makes (``--detector``), computed as ``oldfilm restore`` computes them. Trained on
the synthetic true masks alone, the scratch path never sees damage left unmarked nor content marked
by mistake, yet at inference that is what a detector with F1 0.6 hands it.
``--init-from`` starts every network from an installed restorer or another run.

What replaces BOPBTL's latent domain alignment (a latent discriminator pulling real-old latents onto
synthetic ones): we have almost no real old photos, so domain A is made as wide as real damage
instead (real film-damage overlays, fading, sepia, halftone, grain, film lines on top of BOPBTL's
four operations), and VAE_A also sees clean photos so clean content maps close to itself.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import NoWeightsError, OldfilmError
from .auto_cut import TOLERANCE_DB, choose_auto_cut, cut_table, path_records
from .degrade import DegradeRecipe
from .mapping import build_mapping
from .restorer import HOLE_FILLS, RestorerNets, detect_scratches, restore_image, saved_hole_fill
from .training import data as D
from .training.export import DATA_LICENCES, export_module, run_summary, schedule_text, write_card
from .training.feeder import BatchFeeder
from .training.loop import (Phase, add_common_arguments, args_record, default_photo_dirs, recipe_from_args,
                            run_phases, set_lr, setup_torch)
from .training.loop import parse_config as parse_sizes
from .training.losses import image_loss, kl_reduced
from .training.quality import restoration_scores
from .training.registry import arch_name_for
from .training.run_dir import RunDir, RunState
from .training.widen import widen_state_dict
from .vae import build_vae

TRAINER = "restorer"
CONFIGS = {
    # light default: sized for >= 2 fps restore at 640x480 on 2 CPU cores (bench/restore_macs.py)
    "light": {
        "vae": {"ngf": 8, "mc": 32, "n_down": 2, "n_res": 2, "norm": "none"},
        "mapping_quality": {"kind": "quality", "nc": 32, "mc": 64, "n_up": 1, "n_blocks": 2, "norm": "none"},
        "mapping_scratch": {"kind": "scratch", "nc": 32, "mc": 64, "n_up": 1, "n_blocks": 1, "nl_blocks": 1,
                            "max_keys": 1024, "norm": "none"},
    },
    "tiny": {
        "vae": {"ngf": 4, "mc": 8, "n_down": 2, "n_res": 1},
        "mapping_quality": {"kind": "quality", "nc": 8, "mc": 8, "n_up": 1, "n_blocks": 1},
        "mapping_scratch": {"kind": "scratch", "nc": 8, "mc": 8, "n_up": 1, "n_blocks": 1, "nl_blocks": 1,
                            "max_keys": 256},
    },
    "published": {
        "vae": {"ngf": 64, "mc": 64, "n_down": 2, "n_res": 4},
        "mapping_quality": {"kind": "quality", "nc": 64, "mc": 512, "n_up": 4, "n_blocks": 6},
        "mapping_scratch": {"kind": "scratch", "nc": 64, "mc": 512, "n_up": 4, "n_blocks": 6, "nl_blocks": 3},
    },
}
# registry slot -> (network in the run, config key); VAE_B is one network exported for both paths
EXPORTS = {
    "vae-a": ("vae_a", "vae"),
    "mapping-quality": ("map_q", "mapping_quality"),
    "vae-b-quality": ("vae_b", "vae"),
    "mapping-scratch": ("map_s", "mapping_scratch"),
    "vae-b-scratch": ("vae_b", "vae"),
}


def parse_config(text: str) -> dict:
    cfg = parse_sizes(text, CONFIGS)
    if not {"vae", "mapping_quality", "mapping_scratch"} <= set(cfg):
        raise OldfilmError(f"--config {text}: a JSON dict with keys vae, mapping_quality, mapping_scratch")
    return cfg


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, crop=128, batch=6)
    p.add_argument("--vae-iters", type=int, default=1500, help="iterations of the VAE phase (both VAEs)")
    p.add_argument("--map-iters", type=int, default=3000, help="iterations of the mapping phase (both mappings)")
    p.add_argument("--real-old", nargs="*", metavar="DIR", help="folders of real old photos for VAE_A (p=0.5)")
    p.add_argument("--latent-noise", type=float, default=0.2, help="sigma of the VAE latent noise (BOPBTL: 1)")
    p.add_argument("--kl-weight", type=float, default=0.01, help="weight of mean(h^2) (BOPBTL: 1)")
    p.add_argument("--feat-weight", type=float, default=10.0, help="latent L1 weight in the mapping phase (BOPBTL: 60)")
    p.add_argument("--joint-iters", type=int, default=0,
                   help="iterations of a final phase tuning E_A, both mappings and G_B end to end on the image loss "
                        "(not in BOPBTL; makes short CPU runs useful)")
    p.add_argument("--p-holes", type=float, default=0.3, help="share of VAE_A inputs with damage cut out white")
    p.add_argument("--scratch-tune-iters", type=int, default=0,
                   help="iterations of a last phase tuning only the scratch mapping on the detector's masks "
                        "(the quality path is unchanged)")
    p.add_argument("--detector", default="default", metavar="MODEL|FILE",
                   help="scratch detector whose masks the scratch_tune phase uses (default: the installed `default`)")
    p.add_argument("--scratch-fill", choices=HOLE_FILLS,
                   help="what the scratch path's encoder sees under the mask: white (BOPBTL: the marked pixels cut "
                        "out) or none (pixels kept; only the mapping is told where the damage is, so content the "
                        "detector marks by mistake survives). Saved with the exported scratch mapping. Default: "
                        "the resumed run's, else the --init-from source's, else white")
    p.add_argument("--auto-cut-photos", type=int, default=160, metavar="N",
                   help="export: training photos on which the `--scratches auto` cut is chosen (0: none saved)")
    p.add_argument("--init-from", metavar="RUN_DIR|MODEL",
                   help="start all networks from a restorer run's latest checkpoint or an installed restorer "
                        "(a model name such as `default`); its sizes replace --config, unless --config is given: then "
                        "a wider --config (larger ngf, mc, nc) starts computing what the source did")


def white_holes(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Damage pixels set to white (BOPBTL irregular_hole_synthesize). x [-1,1], mask {0,1}."""
    return torch.where(mask > 0.5, torch.ones_like(x), x)


def scratch_input(x: torch.Tensor, mask: torch.Tensor, fill: str) -> torch.Tensor:
    """What the scratch path encodes, as ``restore_image`` makes it for ``RestorerNets.hole_fill``."""
    return white_holes(x, mask) if fill == "white" else x


def _checkpoint_fill(ckpt: dict) -> str:
    """The scratch fill a run's checkpoint was trained with (runs from before the option: white)."""
    return ckpt.get("extra", {}).get("scratch_fill", "white")


def build_nets(cfg: dict) -> dict[str, torch.nn.Module]:
    return {"vae_a": build_vae(cfg["vae"]), "vae_b": build_vae(cfg["vae"]),
            "map_q": build_mapping(cfg["mapping_quality"]), "map_s": build_mapping(cfg["mapping_scratch"])}


def _source_nets(source: str) -> tuple[dict, dict[str, dict], str, str]:
    """(config, float32 state dict per run network, description, scratch fill) of a restorer run's
    latest checkpoint, or of an installed restorer (a model name)."""
    path = Path(source)
    if (path / "run.json").is_file():
        run_dir = RunDir(path)
        if run_dir.latest() is None:
            raise OldfilmError(f"--init-from {source}: the run has no checkpoint")
        nets, cfg, ckpt = load_run_nets(run_dir)
        fill = _checkpoint_fill(ckpt)
        return cfg, {k: m.state_dict() for k, m in nets.items()}, f"{source} step {ckpt['step']}", fill
    if path.exists():
        raise OldfilmError(f"--init-from {source}: not a restorer run folder (no run.json); "
                           "give a run folder or an installed restorer's name")
    from .. import weights

    slots = weights.load_model("restore", source)
    cfg, states = {}, {}
    for slot, (net_key, cfg_key) in EXPORTS.items():
        net = slots.get(slot)
        saved = (getattr(net, "oldfilm_meta", None) or {}).get("oldfilm.config")
        if net is None or saved is None:
            raise OldfilmError(f"--init-from {source}: not one of our restorers (slot {slot} missing or foreign)")
        cfg[cfg_key] = json.loads(saved)
        states[net_key] = {k: v.float() for k, v in net.state_dict().items()}
    return cfg, states, f"restorer {source!r}", saved_hole_fill(slots["mapping-scratch"])


# per config key: a run network built from it, and the sizes a wider --config may change from its
# --init-from source (everything else must match)
WIDTH_KEYS = {"vae": ("vae_a", ("ngf", "mc")), "mapping_quality": ("map_q", ("nc", "mc", "max_keys")),
              "mapping_scratch": ("map_s", ("nc", "mc", "max_keys"))}


def check_widening(source: dict, cfg: dict, states: dict[str, dict], nets: dict[str, torch.nn.Module],
                   what: str) -> None:
    """One clear error unless ``nets`` (built from ``cfg``) are the source's (weights ``states``,
    config ``source``) with only the WIDTH_KEYS sizes changed and no tensor smaller (training.widen)."""
    for cfg_key, (net_key, widths) in WIDTH_KEYS.items():
        old, new = source.get(cfg_key, {}), cfg.get(cfg_key, {})
        same = {k: v for k, v in old.items() if k not in widths} == {k: v for k, v in new.items() if k not in widths}
        template = nets[net_key].state_dict()
        fits = states[net_key].keys() == template.keys() and all(
            v.dim() == template[k].dim() and all(o <= n for o, n in zip(v.shape, template[k].shape))
            for k, v in states[net_key].items())
        if not same or not fits:
            raise OldfilmError(f"--init-from {what} with --config: its {cfg_key} {json.dumps(old)} cannot be widened "
                               f"to {json.dumps(new)} (only {', '.join(widths)} may change, and no layer may get narrower)")


def _fingerprint(net: torch.nn.Module) -> str:
    """A short digest of a network's weights: a resumed run checks it still tunes against the same detector."""
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def detector_masks(detector: torch.nn.Module, degraded: torch.Tensor) -> torch.Tensor:
    """Nx1xHxW {0,1} float: the masks ``oldfilm restore`` would use for these frames.
    ``degraded``: Nx3xHxW float in [-1, 1] (uint8 values, as degraded_batch makes them)."""
    device = next(detector.parameters()).device
    rgb = degraded.detach().cpu().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    masks = [torch.from_numpy(detect_scratches(detector, f, device)) for f in rgb]
    return torch.stack(masks)[:, None].float()


def run(args: argparse.Namespace) -> int:
    if args.export:
        return export(args)
    if not args.out:
        raise OldfilmError("oldfilm train restorer: give --out RUN_DIR (or --export RUN_DIR)")
    device = setup_torch(args)
    run_dir = RunDir(args.out)
    cfg = parse_config(args.config)
    source, source_fill, source_cfg = None, "white", cfg
    resuming = bool(args.resume) and run_dir.latest() is not None
    if resuming:
        cfg = run_dir.meta()["configs"]["restorer"]
    elif args.init_from:
        source_cfg, source_states, source, source_fill = _source_nets(args.init_from)
        if "config" not in getattr(args, "_typed", ()):
            cfg = source_cfg
    if args.crop % 8:
        raise OldfilmError(f"--crop {args.crop}: must be a multiple of 8")
    nets = {k: m.to(device).train() for k, m in build_nets(cfg).items()}
    widened = source is not None and cfg != source_cfg
    if widened:
        check_widening(source_cfg, cfg, source_states, nets, args.init_from)
    run_dir.init(TRAINER, {"restorer": cfg}, args_record(args), args.resume)
    images = D.ImageSet.from_folders(args.data or default_photo_dirs(), args.val_fraction)
    real_old = D.ImageSet.from_folders(args.real_old, 0.0) if args.real_old else None
    recipe = recipe_from_args(args)
    va, vb, mq, ms = nets["vae_a"], nets["vae_b"], nets["map_q"], nets["map_s"]
    betas = (0.5, 0.999)
    optims = {k: torch.optim.Adam(nets[k].parameters(), lr=args.lr, betas=betas) for k in nets}
    joint_params = [*va.encoder.parameters(), *mq.parameters(), *ms.parameters(), *vb.decoder.parameters()]
    optims["joint"] = torch.optim.Adam(joint_params, lr=args.lr, betas=betas)
    rng = np.random.default_rng(args.seed)
    optims["scratch_tune"] = torch.optim.Adam(ms.parameters(), lr=args.lr, betas=betas)
    state = RunState()
    if resuming:
        state = run_dir.restore(run_dir.load(), nets, optims, rng)
    elif source is not None:
        for k, m in nets.items():
            # the scratch mapping's attention keys start silent, so the old query-key products stay
            m.load_state_dict(widen_state_dict(source_states[k], m, silent=("NL.phi",)) if widened else source_states[k])
        print(f"oldfilm train restorer: started from {source}" + (", widened to --config" if widened else ""))
    # a run keeps its fill; a new run inherits its source's unless told otherwise
    fill = state.extra.setdefault("scratch_fill", args.scratch_fill or source_fill)
    if args.scratch_fill and fill != args.scratch_fill:
        raise OldfilmError(f"{run_dir.path}: its scratch path was trained with --scratch-fill {fill}; "
                           f"resume with that or start a new run")
    detector = None
    if args.scratch_tune_iters > 0:
        from .. import weights

        detector = next(iter(weights.load_model("scratch", args.detector).values())).to(device).eval()
        tag = _fingerprint(detector)
        seen = state.extra.setdefault("scratch_tune_detector", tag)
        if seen != tag:
            raise OldfilmError(f"{run_dir.path}: its scratch_tune phase used another detector (weights {seen}, "
                               f"now {tag} from --detector {args.detector}); pass that detector or start a new run")

    feeder = BatchFeeder(images, recipe, workers=args.workers, seed=args.seed, start_step=state.step,
                         pin_memory=device.type == "cuda")

    def vae_loss(vae: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = vae.encode(x)
        rec = vae.decode(h + args.latent_noise * torch.randn_like(h))
        img = image_loss(rec, x)
        return img + args.kl_weight * kl_reduced(h), img

    def vae_step(rng: np.random.Generator, f: float) -> dict[str, float]:
        for k in ("vae_a", "vae_b"):
            set_lr(optims[k], args.lr, f)
        b = feeder.batch(rng, args.batch, args.crop, p_clean=0.1)
        xa, y, m = b.degraded.to(device), b.clean.to(device), b.mask.to(device)
        holes = torch.from_numpy(rng.random(args.batch) < args.p_holes).to(device).view(-1, 1, 1, 1)
        xa = torch.where(holes, white_holes(xa, m), xa)
        if real_old is not None:
            use = rng.random(args.batch) < 0.5
            if use.any():
                crops = [D.random_crop(D.read_rgb(real_old.sample(rng)), args.crop, rng) for _ in range(int(use.sum()))]
                xa[torch.from_numpy(use).to(device)] = D.to_tensor(crops).to(device)
        la, ia = vae_loss(va, xa)
        lb, ib = vae_loss(vb, y)
        for k in ("vae_a", "vae_b"):
            optims[k].zero_grad(set_to_none=True)
        (la + lb).backward()
        optims["vae_a"].step()
        optims["vae_b"].step()
        return {"vae_a": ia.item(), "vae_b": ib.item()}

    def freeze_vaes() -> None:
        for v in (va, vb):
            v.eval()
            v.requires_grad_(False)

    def map_step(rng: np.random.Generator, f: float) -> dict[str, float]:
        for k in ("map_q", "map_s"):
            set_lr(optims[k], args.lr, f)
        b = feeder.batch(rng, args.batch, args.crop, p_clean=0.05)
        x, y, m = b.degraded.to(device), b.clean.to(device), b.mask.to(device)
        with torch.no_grad():
            za, zs, zb = va.encode(x), va.encode(scratch_input(x, m, fill)), vb.encode(y)
        q = mq(za)
        s = ms(zs, m)
        lq_feat, ls_feat = F.l1_loss(q, zb), F.l1_loss(s, zb)
        lq_img, ls_img = image_loss(vb.decode(q), y), image_loss(vb.decode(s), y)
        loss = args.feat_weight * (lq_feat + ls_feat) + lq_img + ls_img
        for k in ("map_q", "map_s"):
            optims[k].zero_grad(set_to_none=True)
        loss.backward()
        optims["map_q"].step()
        optims["map_s"].step()
        return {"q_feat": lq_feat.item(), "q_img": lq_img.item(), "s_feat": ls_feat.item(), "s_img": ls_img.item()}

    def unfreeze_path() -> None:
        # E_A, both mappings and G_B learn together; VAE_A's decoder and VAE_B's encoder are unused at inference
        for part in (va.encoder, vb.decoder):
            part.train()
            part.requires_grad_(True)

    def joint_step(rng: np.random.Generator, f: float) -> dict[str, float]:
        set_lr(optims["joint"], args.lr, f)
        b = feeder.batch(rng, args.batch, args.crop, p_clean=0.05)
        x, y, m = b.degraded.to(device), b.clean.to(device), b.mask.to(device)
        lq = image_loss(vb.decode(mq(va.encode(x))), y)
        ls = image_loss(vb.decode(ms(va.encode(scratch_input(x, m, fill)), m)), y)
        optims["joint"].zero_grad(set_to_none=True)
        (lq + ls).backward()
        optims["joint"].step()
        return {"q_img": lq.item(), "s_img": ls.item()}

    def freeze_all_but_scratch_mapping() -> None:
        for net in (va, vb, mq):
            net.eval()
            net.requires_grad_(False)
        ms.train()
        ms.requires_grad_(True)

    def scratch_tune_step(rng: np.random.Generator, f: float) -> dict[str, float]:
        set_lr(optims["scratch_tune"], args.lr, f)
        b = feeder.batch(rng, args.batch, args.crop, p_clean=0.05)
        x, y = b.degraded.to(device), b.clean.to(device)
        with torch.no_grad():
            m = detector_masks(detector, b.degraded).to(device)
            z = va.encode(scratch_input(x, m, fill))
        loss = image_loss(vb.decode(ms(z, m)), y)
        optims["scratch_tune"].zero_grad(set_to_none=True)
        loss.backward()
        optims["scratch_tune"].step()
        return {"s_img": loss.item(), "marked": m.mean().item(), "true_marked": b.mask.mean().item()}

    phases = [Phase("vae", args.vae_iters, vae_step), Phase("mapping", args.map_iters, map_step, on_enter=freeze_vaes),
              Phase("joint", args.joint_iters, joint_step, on_enter=unfreeze_path),
              Phase("scratch_tune", args.scratch_tune_iters, scratch_tune_step, on_enter=freeze_all_but_scratch_mapping)]
    try:
        complete = run_phases(args, run_dir, phases, nets, optims, rng, state)
    finally:
        feeder.close()      # also when a step fails: no worker processes left behind
    if not complete:
        return 0
    print(f"oldfilm train restorer: finished in {run_dir.path}; export with `oldfilm train restorer --export {run_dir.path}`")
    return 0


def load_run_nets(run_dir: RunDir) -> tuple[dict, dict, dict]:
    meta = run_dir.meta()
    if meta.get("trainer") != TRAINER:
        raise OldfilmError(f"{run_dir.path}: is a {meta.get('trainer')} run, not {TRAINER}")
    ckpt = run_dir.load()
    cfg = meta["configs"]["restorer"]
    nets = build_nets(cfg)
    for k, m in nets.items():
        m.load_state_dict(ckpt["models"][k])
        m.eval()
    return nets, cfg, ckpt


def _installed_detector(source: str) -> torch.nn.Module | None:
    """The installed scratch detector ``source`` (a model name or file), or None when it is not installed."""
    from .. import weights

    try:
        return next(iter(weights.load_model("scratch", source).values()))
    except NoWeightsError:
        return None


def _scores_with_detector(detector: torch.nn.Module, source: str, pairs: list, scratch: RestorerNets) -> tuple[dict, str]:
    """The scratch path's scores with the detector's masks, as ``--scratches on`` restores."""
    scores = restoration_scores(pairs, lambda rgb: restore_image(scratch, rgb, detect_scratches(detector, rgb)),
                                baseline=False)
    return scores, f"masks of the `{source}` detector"


AUTO_CUT_SEED = 4321


def _training_triplets(images: D.ImageSet, n: int, recipe: DegradeRecipe) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(target, degraded, clean) for ``n`` training photos (seeded sample), whole, long side at most
    384 px and degraded as ``oldfilm eval --task restore --size 384`` degrades its held-out photos."""
    from ..evaluate import load_references
    from .degrade import degrade_pair

    files = sorted(p for folder in images.train for p in folder)
    rng = np.random.default_rng(AUTO_CUT_SEED)
    picked = sorted(rng.choice(len(files), size=min(n, len(files)), replace=False)) if files else []
    photos = load_references([files[i] for i in picked], max_side=384) if picked else []
    return [(*degrade_pair(rgb, np.random.default_rng([AUTO_CUT_SEED, i]), recipe)[:2], rgb)
            for i, (_, rgb) in enumerate(photos)]


def _auto_cut_text(records: list, cut: float | None, detector_text: str) -> str:
    if cut is None:
        return ("No cut was measured (no detector installed, or `--auto-cut-photos 0`): `auto` follows the "
                "detector's saved share, or any marked pixel for a scratch path that keeps the pixels.")
    rows = "\n".join(f"| {'**' if c == cut else ''}{c:g}{'**' if c == cut else ''} | {a:.2f} | {d:.2f} | {u:.2f} |"
                     for c, a, d, u in cut_table(records))
    return (f"`auto` takes the scratch path when the detector marks more than **{cut:g}** of a frame's pixels "
            f"(saved as `oldfilm.auto_min_marked` in `restore-default-mapping-scratch.safetensors`). The cut was "
            f"chosen on {len(records) // 2} *training* photos (seed {AUTO_CUT_SEED}; the held-out split is never "
            f"used), each restored by both paths with the {detector_text} as a degraded copy (recipe as above, "
            f"whole photo, long side 384 px) and as the clean photo itself. Degraded copies first: of the cuts "
            f"within {TOLERANCE_DB:g} dB of the best mean on them, the best on the clean copies wins "
            f"(oldfilm/restore/auto_cut.py). Mean PSNR of `auto`, dB:\n\n"
            f"| cut (share of marked pixels) | all | degraded | clean |\n| --- | --- | --- | --- |\n{rows}")


def export(args: argparse.Namespace) -> int:
    from .published import DEFAULT_RESTORE_FILES

    run_dir = RunDir(args.export)
    nets, cfg, ckpt = load_run_nets(run_dir)
    meta = run_dir.meta()
    last_args = run_dir.last_args()
    vae_iters = int(last_args.get("vae_iters", 0))
    tune_iters = int(last_args.get("scratch_tune_iters", 0))
    if ckpt["phase"] not in ("mapping", "joint", "scratch_tune"):
        raise OldfilmError(f"{run_dir.path}: the mapping phase has not started yet (step {ckpt['step']} of "
                           f"{vae_iters} VAE iterations); exporting would write untrained mappings")
    torch.set_num_threads(max(1, args.threads))
    margs = argparse.Namespace(**{**vars(args), **{k: meta["args"][k] for k in ("overlays", "recipe", "val_fraction", "data") if k in meta["args"]}})
    images = D.ImageSet.from_folders(margs.data or default_photo_dirs(), margs.val_fraction)
    pairs = D.held_out_pairs(images.val, args.eval_images, 256, seed=1234, recipe=recipe_from_args(margs))
    quality = RestorerNets(nets["vae_a"], nets["map_q"], nets["vae_b"])
    fill = _checkpoint_fill(ckpt)
    scratch = RestorerNets(nets["vae_a"], nets["map_s"], nets["vae_b"], hole_fill=fill)
    with torch.inference_mode():
        sq = restoration_scores(pairs, lambda rgb: restore_image(quality, rgb))
        masks = {id(d): m > 127 for _, d, m in pairs}
        ss = restoration_scores(pairs, lambda rgb: restore_image(scratch, rgb, masks[id(rgb)]), baseline=False)
        detector = _installed_detector(args.detector)
        sd, detector_text = _scores_with_detector(detector, args.detector, pairs, scratch) if detector else (None, "")
        records = []
        if detector is not None and args.auto_cut_photos > 0:
            t0 = time.time()
            records = path_records(quality, scratch, detector,
                                   _training_triplets(images, args.auto_cut_photos, recipe_from_args(margs)))
            print(f"auto cut: {len(records) // 2} training photos restored both ways in {time.time() - t0:.0f} s")
    cut = choose_auto_cut(records) if records else None
    dest = Path(args.dest) if args.dest else Path(__file__).resolve().parents[2] / "checkpoints"
    summary = run_summary(run_dir, ckpt) | {"trainer": TRAINER}
    rows = []
    for slot, (net_key, cfg_key) in EXPORTS.items():
        name = DEFAULT_RESTORE_FILES[slot]
        arch = arch_name_for(build_vae if cfg_key == "vae" else build_mapping)
        extra = {"step": summary["step"]}
        if slot == "mapping-scratch":
            extra |= {"hole_fill": fill} | ({"auto_min_marked": f"{cut:g}"} if cut is not None else {})
        path, digest = export_module(nets[net_key], arch, cfg[cfg_key], dest, name, extra=extra)
        n = sum(p.numel() for p in nets[net_key].parameters())
        rows.append(f"| `{name}` | `{arch}` `{json.dumps(cfg[cfg_key])}` | {n:,} | `{digest[:16]}…` |")
    a = summary["args"]
    write_card(dest / "restore-default.md", "Restorer, oldfilm default (`restore-default-*.safetensors`)", [
        ("Architecture", "BOPBTL's triplet-domain translation (restore-spec §3) at a light size: VAE_A encoder -> "
         "latent mapping -> VAE_B decoder; the quality path (`mapping-quality`) and the scratch path "
         "(`mapping-scratch`, partial non-local attention over clean latents; "
         + ("damage pixels set white first). " if fill == "white" else
            "the marked pixels are not cut out (`hole_fill` `none` in the file's metadata, not BOPBTL): the encoder "
            "sees them and only the mapping is told where the damage is, so content marked by mistake survives). ")
         + "VAE_B is one network exported twice (`vae-b-quality` = `vae-b-scratch`). "
         + ("Besides width, one departure from BOPBTL: no instance norm (`\"norm\": \"none\"`). Instance norm "
            "without affine makes the networks blind to a photo's global brightness and contrast; a small VAE trained "
            "briefly with it reconstructed clean crops at 21.1 dB (26 dB once global mean and spread were matched), "
            "see docs/training-restore.md. " if cfg["vae"].get("norm") == "none" else "")
         + "fp16 safetensors:\n\n"
         "| file | architecture, config | parameters | sha256 |\n| --- | --- | --- | --- |\n" + "\n".join(rows)),
        ("Training data and licences", "Clean photos (5% held out by file hash) and the same photos degraded on "
         "the fly by `oldfilm/restore/degrade.py` (recipe `photo`: BOPBTL's blur/noise/low-res/JPEG plus real film "
         "damage overlays, Bezier scratches, film lines, grain, fading, sepia, contrast loss, halftone, "
         "vignetting). No real old photos were available "
         f"({'--real-old given' if a.get('real_old') else 'no --real-old'}), so BOPBTL's latent domain alignment "
         "(a latent discriminator on real-old vs synthetic latents) is replaced by a degradation model as wide as "
         "real damage and by clean photos in domain A (p=0.1).\n\n" + DATA_LICENCES),
        ("Schedule and hardware", schedule_text(summary, [("vae", vae_iters), ("mapping", int(last_args.get("map_iters", 0))),
                                                        ("joint", int(last_args.get("joint_iters", 0))),
                                                        ("scratch_tune", tune_iters)])
         + f"\n- reduced VAE: latent noise sigma {a.get('latent_noise')}, KL weight {a.get('kl_weight')} (BOPBTL: 1, 1); "
         f"mapping latent L1 x {a.get('feat_weight')} + image loss through frozen G_B; then (not in BOPBTL) a "
         f"`joint` phase tuning E_A, both mappings and G_B end to end on the image loss alone"
         + (f"; then a `scratch_tune` phase tuning only the scratch mapping on the masks of the scratch detector "
            f"(`{last_args.get('detector', 'default')}`), as `oldfilm restore` makes them" if tune_iters else "") + "\n"
         "- losses: L1 + 0.5 (1 - SSIM); no GAN and no perceptual loss: pixel loss under a CPU budget, the same "
         "decision as the shipped colorizer default (docs/feature-loss.md: CRAFT features cost 2.3x per step)"),
        ("Quality (held-out)", f"{sq['n']} held-out photos, 256x256 centre crops, degraded with seed 1234 (recipe "
         f"`{a.get('recipe')}`):\n\n| | PSNR (dB) | SSIM |\n| --- | --- | --- |\n"
         f"| degraded input | {sq['psnr_in']:.2f} | {sq['ssim_in']:.3f} |\n"
         f"| classical baseline (threshold mask, Telea, fastNlMeans) | {sq['psnr_base']:.2f} | {sq['ssim_base']:.3f} |\n"
         f"| quality path | {sq['psnr_out']:.2f} | {sq['ssim_out']:.3f} |\n"
         f"| scratch path, true damage mask | {ss['psnr_out']:.2f} | {ss['ssim_out']:.3f} |\n"
         + (f"| scratch path, {detector_text} (`--scratches on`) | {sd['psnr_out']:.2f} | {sd['ssim_out']:.3f} |\n"
            if sd else "") + "\n"
         + f"Gain over the input: quality path {sq['psnr_gain']:+.2f} dB / SSIM {sq['ssim_gain']:+.3f}; scratch path "
         f"{ss['psnr_gain']:+.2f} dB / {ss['ssim_gain']:+.3f}; baseline {sq['psnr_base'] - sq['psnr_in']:+.2f} dB. "
         "Target: >= +3 dB and ahead of the baseline. Reproduce: `oldfilm train restorer --export RUN --dest DIR`."),
        ("`--scratches auto`", _auto_cut_text(records, cut, detector_text)),
    ])
    print(f"exported restore-default-*.safetensors to {dest} (step {summary['step']}): PSNR in {sq['psnr_in']:.2f}, "
          f"quality {sq['psnr_out']:.2f}, scratch {ss['psnr_out']:.2f}"
          + (f" (detector masks {sd['psnr_out']:.2f})" if sd else "") + f", baseline {sq['psnr_base']:.2f} dB")
    return 0



if __name__ == "__main__":  # same parsing and one-line errors as `oldfilm`
    from oldfilm.cli import main

    sys.exit(main(['train', 'restorer', *sys.argv[1:]]))

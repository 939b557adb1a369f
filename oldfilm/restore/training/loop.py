"""The resumable training loop shared by ``oldfilm train restorer|scratch|faces``.

A trainer is a list of :class:`Phase` s run one after the other (the restorer: VAEs, then the
mapping). Each phase has an iteration count and a ``step(rng) -> {loss: value}`` function. The loop
owns everything around it: threads and device, the tqdm bar, the jsonl log, checkpoints with
optimizer and RNG state every ``--save-every`` iterations, and ``--resume``.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ...argtypes import count, minutes
from ...device import resolve_device
from ...errors import OldfilmError
from ..degrade import DegradeRecipe, recipe_by_name
from .data import DEFAULT_PHOTO_DIRS, SHARED_DATA
from .run_dir import RunDir, RunState


@dataclass
class Phase:
    name: str
    iters: int
    step: Callable[[np.random.Generator, float], dict[str, float]]   # (rng, lr factor) -> losses
    on_enter: Callable[[], None] | None = None                       # e.g. freeze the VAEs


def add_common_arguments(p: argparse.ArgumentParser, *, crop: int, batch: int, data_help: str = "") -> None:
    g = p.add_argument_group("run")
    g.add_argument("--out", metavar="RUN_DIR", help="run folder for checkpoints and log.jsonl (e.g. runs/scratch)")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    g.add_argument("--export", metavar="RUN_DIR",
                   help="export RUN_DIR's latest checkpoint to checkpoints/ (fp16 safetensors, SHA256SUMS, model card) and exit")
    g.add_argument("--dest", metavar="DIR", help="export destination folder (default: the repo's checkpoints/)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda")
    g.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: runs share the machine)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--save-every", type=int, default=100, metavar="N", help="checkpoint every N iterations")
    g.add_argument("--log-every", type=int, default=10, metavar="N")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bar (background runs)")
    g.add_argument("--workers", type=count, default=0, metavar="N",
                   help="make training batches in N worker processes (feeds a GPU; default 0: in the step, as before)")
    g.add_argument("--max-minutes", type=minutes, default=None, metavar="M",
                   help="stop after about M minutes of this session at a checkpoint; --resume continues")
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="+", metavar="DIR", help=data_help or "clean photo folders (default: ../shared/data/photos/*)")
    d.add_argument("--overlays", metavar="DIR", default=str(SHARED_DATA / "overlays"),
                   help="folder of film-damage masks (default ../shared/data/overlays; 'none' to use only procedural damage)")
    d.add_argument("--recipe", default="photo", help="degradation recipe: photo, film or bopbtl")
    d.add_argument("--val-fraction", type=float, default=0.05, help="held-out share, chosen by file hash")
    d.add_argument("--crop", type=int, default=crop, help=f"training crop side in px (default {crop})")
    d.add_argument("--batch", type=int, default=batch, help=f"batch size (default {batch})")
    d.add_argument("--eval-images", type=int, default=32, help="held-out images scored at export")
    p.add_argument("--config", default="light", help="network size: light (default), tiny (tests), published, light-residual (faces), or a JSON dict")
    p.add_argument("--lr", type=float, default=2e-4)


def parse_config(text: str, configs: dict[str, dict]) -> dict:
    """``--config``: a name in ``configs`` (a deep copy) or a JSON dict of network sizes."""
    if text in configs:
        return json.loads(json.dumps(configs[text]))
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError:
        raise OldfilmError(f"--config {text}: expected one of {', '.join(configs)} or a JSON dict") from None
    if not isinstance(cfg, dict):
        raise OldfilmError(f"--config {text}: expected a JSON dict")
    return cfg


def default_photo_dirs() -> list[str]:
    return [str(SHARED_DATA / d) for d in DEFAULT_PHOTO_DIRS if (SHARED_DATA / d).is_dir()]


def recipe_from_args(args: argparse.Namespace) -> DegradeRecipe:
    overlays = None if str(args.overlays).lower() == "none" else args.overlays
    if overlays is not None and not Path(overlays).is_dir():
        overlays = None     # procedural damage only; said in the run's log
    return recipe_by_name(args.recipe, overlays)


def args_record(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if not k.startswith("_") and isinstance(v, (int, float, str, bool, list, type(None)))}


def lr_factor(i: int, iters: int) -> float:
    """BOPBTL's schedule per phase: constant for the first half, then linear to 0."""
    half = iters // 2
    return 1.0 if i < half else max(0.0, 1.0 - (i - half) / max(1, iters - half))


def setup_torch(args: argparse.Namespace) -> torch.device:
    torch.set_num_threads(max(1, args.threads))
    import cv2

    cv2.setNumThreads(max(1, args.threads))     # the degradation model's OpenCV calls share the budget
    torch.manual_seed(args.seed)
    return resolve_device(args.device)


def run_phases(args: argparse.Namespace, run: RunDir, phases: list[Phase], models: dict, optims: dict,
               rng: np.random.Generator, state: RunState) -> bool:
    """Run (or continue) every phase; checkpoints every ``args.save_every`` and at the end.
    With ``args.max_minutes``, stops at a checkpoint once that much wall time has passed in this
    call. True when every phase is complete, False when stopped early (``--resume`` continues)."""
    total = sum(p.iters for p in phases)
    budget = getattr(args, "max_minutes", None)
    deadline = None if budget is None else time.monotonic() + 60.0 * budget
    bar = tqdm(total=total, initial=state.step, desc=run.path.name, unit="it", disable=args.no_progress,
               dynamic_ncols=True, smoothing=0.05)
    acc: dict[str, list[float]] = {}
    start = 0
    for phase in phases:
        end = start + phase.iters
        if state.step >= end:
            start = end
            continue
        if phase.on_enter:
            phase.on_enter()
        state.phase = phase.name
        while state.step < end:
            t0 = time.perf_counter()
            losses = phase.step(rng, lr_factor(state.step - start, phase.iters))
            state.seconds += time.perf_counter() - t0
            state.step += 1
            for k, v in losses.items():
                acc.setdefault(k, []).append(float(v))
            bar.update(1)
            out_of_time = deadline is not None and time.monotonic() > deadline
            if state.step % args.log_every == 0 or state.step == end or out_of_time:
                rec = {"step": state.step, "phase": phase.name, "seconds": round(state.seconds, 2),
                       "lr": args.lr * lr_factor(state.step - 1 - start, phase.iters), "time": time.time()}
                rec.update({k: round(float(np.mean(v)), 5) for k, v in acc.items()})
                run.log(rec)
                bar.set_postfix({k: f"{np.mean(v):.3f}" for k, v in list(acc.items())[:3]})
                acc = {}
            if state.step % args.save_every == 0 or state.step == end or out_of_time:
                run.save(state, models, optims, rng)
            if out_of_time and state.step < total:
                bar.close()
                print(f"oldfilm train: stopped at step {state.step} of {total} after --max-minutes {budget:g}; "
                      f"continue with --resume --out {run.path}")
                return False
        start = end
    bar.close()
    return True


def set_lr(opt: torch.optim.Optimizer, base: float, factor: float) -> None:
    for g in opt.param_groups:
        g["lr"] = base * factor


@dataclass
class SingleNetRun:
    """A one-network training run, fresh or resumed: what run_phases needs, plus net and optimiser."""

    net: torch.nn.Module
    opt: torch.optim.Optimizer
    rng: np.random.Generator
    state: RunState
    models: dict
    optims: dict


def start_single_net(args: argparse.Namespace, run: RunDir, trainer: str, key: str, cfg: dict,
                     build, device: torch.device) -> SingleNetRun:
    """Build (or resume) the run of one network ``key``: on resume the run's own config wins,
    then weights, optimiser, RNG and counters come back from its latest checkpoint."""
    resuming = bool(args.resume) and run.latest() is not None
    if resuming:
        cfg = run.meta()["configs"][key]
    run.init(trainer, {key: cfg}, args_record(args), args.resume)
    net = build(cfg).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(args.seed)
    models, optims = {key: net}, {key: opt}
    state = run.restore(run.load(), models, optims, rng) if resuming else RunState()
    return SingleNetRun(net, opt, rng, state, models, optims)

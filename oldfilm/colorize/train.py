"""`oldfilm train colorizer`: DeOldify's NoGAN schedule with fastai, resumable, on CPU or CUDA.

Phases (colorize-spec §6, scaled to a CPU budget; docs/training-colorize.md says how):

1. ``gen``: generator pretraining with a conventional loss (pixel L1 + optional feature term,
   :mod:`oldfilm.colorize.feature_loss`), one-cycle schedule.
2. ``crit``: critic pretraining on generated (label 0) vs real colour (label 1) images; the fakes
   are rendered on the fly by the frozen pretrained generator.
3. ``gan``: fastai ``GANLearner`` with ``AdaptiveGANSwitcher(critic_thresh=0.65)``, generator loss
   ``1·BCE + w·feature loss``, Adam(β=(0, 0.9)), critic lr ×5, constant lr.

A fastai "epoch" here is ``--ckpt-every`` iterations: each one ends with an atomic checkpoint
(model + optimiser) and a ``state.json`` update, so ``--resume`` continues from the last
finished checkpoint with the same one-cycle position (``fit(start_epoch=...)``). Logs go to
``OUT/log.jsonl``; progress bars are fastai's.

``--export RUN`` writes RUN's latest generator to ``checkpoints/colorize-default.safetensors``
(fp16, :func:`oldfilm.weights.save_builtin`), pins its sha256, evaluates it on the held-out split
and writes the model card (``checkpoints/colorize-default.md``) and a contact sheet.

fastai is imported only inside this module (training only).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import OldfilmError
from . import data as cdata
from .consistency import shift_consistency_loss
from .critic import patch_critic
from .feature_loss import FEATURE_LOSSES, build_feature_loss, train_selfsup_net

PHASES = ("gen", "crit", "gan", "done")
TIME_MODE_EPOCHS = 10**6     # "until the phase's time is spent"; a callback ends the fit
ARCH = "deoldify-unet"

# Generator configs of H3's family (oldfilm.colorize.generator.build_generator). ``default`` is
# the shipped light colorizer (chosen by bench/colorize_default_speed.py, docs/training-colorize.md);
# ``tiny`` is for tests.
GEN_PRESETS: dict[str, dict[str, Any]] = {
    "default": {"unet": "wide", "encoder": "resnet18", "nf_factor": 0.125, "middle_mult": 1, "self_attention": True},
    "tiny": {"unet": "wide", "encoder": "resnet18", "nf_factor": 0.25, "wide_base": 64, "middle_mult": 1,
             "self_attention": False},
}


# --------------------------------------------------------------------------- configuration


@dataclass
class TrainConfig:
    """Everything a run needs; saved as OUT/run.json so --resume needs only --out."""

    data: list[str]
    out: str
    gen_config: dict[str, Any]
    size: int = 96
    batch_size: int = 8
    iters_gen: int = 3000
    iters_crit: int = 300
    iters_gan: int = 600
    # Wall-clock budget per phase in minutes (GEN, CRIT, GAN); when set it replaces the iteration
    # counts: a phase ends once it has trained that long (summed over resumes) and its one-cycle
    # schedule runs on the fraction of that time, so a run on a busy or unknown machine still
    # anneals properly by a known hour.
    minutes: tuple[float, float, float] | None = None
    ckpt_every: int = 100
    lr_gen: float = 1e-3
    lr_crit: float = 1e-3
    lr_gan: float = 2e-5
    wd: float = 1e-3
    pct_start: float = 0.3
    feature_loss: str = "l1"
    feature_net: str | None = None
    shift_consistency: float = 0.0      # weight of the shift-consistency term (consistency.py); 0: off
    shift_margin: int = 32
    init_gen: str | None = None         # start the generator from these weights (fine-tuning)
    weights_gen: tuple[float, float] = (1.0, 1.5)
    critic_nf: int = 64
    critic_thresh: float = 0.65
    val_pct: float = 5.0
    val_items: int = 32
    caps: dict[str, float] = field(default_factory=lambda: dict(cdata.DEFAULT_CAPS))
    seed: int = 0
    threads: int | None = 1
    workers: int = 0                    # data-loading processes (0: in the training process)
    device: str = "auto"
    bf16: bool = False
    log_every: int = 10

    def n_epochs(self, phase: str) -> int:
        if self.minutes is not None:
            return TIME_MODE_EPOCHS if self.phase_seconds(phase) > 0 else 0
        iters = {"gen": self.iters_gen, "crit": self.iters_crit, "gan": self.iters_gan}[phase]
        return max(0, math.ceil(iters / self.ckpt_every))

    def phase_seconds(self, phase: str) -> float:
        assert self.minutes is not None
        return 60.0 * float(self.minutes[PHASES.index(phase)])


@dataclass
class RunState:
    phase: str = "gen"
    epoch: int = 0                      # finished checkpoints in this phase
    seconds: dict[str, float] = field(default_factory=lambda: {p: 0.0 for p in PHASES[:3]})
    iters_done: dict[str, int] = field(default_factory=lambda: {p: 0 for p in PHASES[:3]})
    hardware: list[str] = field(default_factory=list)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_state(out: Path) -> RunState:
    p = out / "state.json"
    if not p.is_file():
        return RunState()
    d = json.loads(p.read_text())
    return RunState(**d)


def save_state(out: Path, st: RunState) -> None:
    _atomic_write_text(out / "state.json", json.dumps(asdict(st), indent=2))


def hardware_line(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU {cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


# --------------------------------------------------------------------------- generator


def build_generator(config: dict[str, Any]) -> nn.Module:
    """H3's generator family (one implementation; light configs are other sizes)."""
    from .generator import build_generator as _build

    return _build(config)


def resolve_gen_config(text: str) -> dict[str, Any]:
    if text in GEN_PRESETS:
        return dict(GEN_PRESETS[text])
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise OldfilmError(f"--gen-config {text!r}: expected {', '.join(GEN_PRESETS)} or a JSON object ({e})") from e
    if not isinstance(cfg, dict):
        raise OldfilmError(f"--gen-config {text!r}: expected a JSON object")
    return cfg


# --------------------------------------------------------------------------- data


def make_datasets(cfg: TrainConfig) -> tuple[list[cdata.ImageFile], list[cdata.ImageFile]]:
    files = cdata.list_images(cfg.data)
    return cdata.split_files(files, cfg.val_pct)


def make_dls(cfg: TrainConfig, train_files, val_files, device: torch.device, epoch_seed: int = 0):
    """fastai DataLoaders: an endless capped-group sampler cut into --ckpt-every batch 'epochs'."""
    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader

    n = cfg.ckpt_every * cfg.batch_size
    caps = cfg.caps
    rng = random.Random(cfg.seed * 1_000_003 + epoch_seed)

    class CappedDL(DataLoader):
        def get_idxs(self):
            return cdata.capped_indices(train_files, n, cfg.batch_size, caps, rng)

    train_ds = cdata.ColorizePairs(train_files, cfg.size, train=True, seed=cfg.seed + epoch_seed)
    val_subset = sorted(val_files, key=lambda f: f.digest)[: cfg.val_items] or train_files[: cfg.val_items]
    val_ds = cdata.ColorizePairs(val_subset, cfg.size, train=False)
    # workers pay off where the trainer waits for data (a GPU); on a small CPU they take its cores
    train_dl = CappedDL(train_ds, bs=cfg.batch_size, n=n, drop_last=True, num_workers=cfg.workers, device=device)
    val_dl = DataLoader(val_ds, bs=cfg.batch_size, shuffle=False, num_workers=0, device=device)
    return DataLoaders(train_dl, val_dl, device=device)


# --------------------------------------------------------------------------- callbacks


def _callbacks():
    """fastai callback classes, defined lazily so importing this module does not import fastai."""
    from fastai.callback.core import Callback

    class CpuBF16(Callback):
        """bf16 autocast for the forward and the loss (CPU with native bf16, or CUDA)."""

        order = 10

        def __init__(self, device_type: str):
            self.device_type = device_type

        def before_batch(self):
            self.ctx = torch.autocast(self.device_type, dtype=torch.bfloat16)
            self.ctx.__enter__()

        def after_pred(self):
            if isinstance(self.learn.pred, torch.Tensor):
                self.learn.pred = self.learn.pred.float()

        def after_loss(self):
            self.ctx.__exit__(None, None, None)

        def after_cancel_batch(self):
            self.ctx.__exit__(None, None, None)

    class ShiftConsistency(Callback):
        """--shift-consistency: adds ``weight`` x :func:`shift_consistency_loss` to each training
        batch's loss (inside the bf16 autocast, which CpuBF16 closes at order 10), and logs it
        beside the feature loss's parts."""

        order = 8

        def __init__(self, weight: float, margin: int, loss_parts: nn.Module, seed: int = 0):
            self.weight, self.margin, self.loss_parts = weight, margin, loss_parts
            self.rng = torch.Generator().manual_seed(seed)

        def after_loss(self):
            if not self.training:
                return
            term = shift_consistency_loss(self.learn.model, self.learn.xb[0], self.learn.pred, self.margin, self.rng)
            self.learn.loss_grad = self.learn.loss_grad + self.weight * term
            self.learn.loss = self.learn.loss_grad.clone()
            # every generator loss keeps a fresh last_parts dict per batch (feature_loss.py)
            self.loss_parts.last_parts["shift_de76"] = float(term.detach()) * 10

    class FakesForCritic(Callback):
        """Critic pretraining batches: half generated from the gray inputs (0), half real (1)."""

        order = 5

        def __init__(self, generator: nn.Module):
            self.generator = generator

        def before_batch(self):
            x, y = self.learn.xb[0], self.learn.yb[0]
            h = max(1, x.shape[0] // 2)
            was = self.generator.training
            self.generator.eval()
            with torch.no_grad():
                fake = self.generator(x[:h]).float()
            self.generator.train(was)
            real = y[h:] if y.shape[0] > h else y[:h]
            self.learn.xb = (torch.cat([fake, real]),)
            self.learn.yb = (torch.cat([fake.new_zeros(fake.shape[0]), real.new_ones(real.shape[0])]),)

    class Checkpoint(Callback):
        """After every trained 'epoch' (= --ckpt-every iterations): atomic model+opt save,
        generator weights, state.json. Skipped epochs of a resumed fit save nothing."""

        order = 90

        def __init__(self, out: Path, phase: str, state: RunState, generator: nn.Module, budget: "Budget"):
            self.out, self.phase, self.state, self.generator, self.budget = out, phase, state, generator, budget
            # Set here too: a resumed fit's skipped epochs raise before this callback's before_epoch.
            self.trained, self.t0 = 0, time.time()

        def before_epoch(self):
            self.trained, self.t0 = 0, time.time()

        def after_batch(self):
            if self.training:
                self.trained += 1

        def after_epoch(self):
            if not self.trained:
                self.t0 = time.time()
                return
            from fastai.learner import save_model

            fd, tmp = tempfile.mkstemp(dir=self.out, prefix=f".{self.phase}.", suffix=".tmp")
            os.close(fd)
            save_model(tmp, self.learn.model, self.learn.opt, with_opt=True)
            os.replace(tmp, self.out / f"{self.phase}.pth")
            _atomic_torch_save(self.generator.state_dict(), self.out / "generator.pt")
            self.state.phase, self.state.epoch = self.phase, self.epoch + 1
            self.state.seconds[self.phase] += time.time() - self.t0
            self.state.iters_done[self.phase] += self.trained
            save_state(self.out, self.state)
            if self.budget.spent():
                from fastai.callback.core import CancelFitException

                self.budget.stopped = True
                raise CancelFitException()

    class TimeBudget(Callback):
        """--minutes mode: lr (and momentum) follow a one-cycle schedule over the phase's time
        fraction instead of its iteration fraction; the fit ends at the checkpoint after the
        time is spent."""

        order = 92    # after Checkpoint, so the last epoch is saved first

        def __init__(self, state: RunState, phase: str, budget_s: float, lr_max: float, one_cycle: bool,
                     pct_start: float = 0.3, div: float = 25.0, div_final: float = 25e4):
            from fastai.callback.schedule import combined_cos

            self.state, self.phase, self.budget_s = state, phase, budget_s
            self.lr_max, self.one_cycle = lr_max, one_cycle
            self.lr_sched = combined_cos(pct_start, lr_max / div, lr_max, lr_max / div_final)
            self.mom_sched = combined_cos(pct_start, 0.95, 0.85, 0.95)

        def before_fit(self):
            self.base, self.t0 = self.state.seconds[self.phase], time.time()

        def pct(self) -> float:
            return min(1.0, (self.base + time.time() - self.t0) / self.budget_s)

        def before_batch(self):
            if self.training and self.one_cycle:
                p = self.pct()
                self.opt.set_hyper("lr", self.lr_sched(p))
                self.opt.set_hyper("mom", self.mom_sched(p))

        def after_epoch(self):
            # Checkpoint has just added this epoch's seconds to the state
            if self.state.seconds[self.phase] >= self.budget_s:
                from fastai.callback.core import CancelFitException

                raise CancelFitException()

    class JsonlLog(Callback):
        order = 95

        def __init__(self, path: Path, phase: str, every: int, loss_parts=None):
            self.path, self.phase, self.every, self.loss_parts = path, phase, every, loss_parts
            self.t0 = time.time()

        def _write(self, rec: dict) -> None:
            rec = {"time": round(time.time(), 1), "phase": self.phase, **rec}
            with open(self.path, "a") as f:
                f.write(json.dumps(rec) + "\n")

        def after_batch(self):
            if not self.training or self.train_iter % self.every:
                return
            rec = {"epoch": self.epoch, "iter": self.epoch * self.n_iter + self.iter,
                   "loss": round(float(self.loss.detach()), 5), "lr": float(self.opt.hypers[-1]["lr"])}
            trainer = getattr(self.learn, "gan_trainer", None)
            if trainer is not None:
                rec["mode"] = "gen" if trainer.gen_mode else "crit"
            if self.loss_parts is not None and getattr(self.loss_parts, "last_parts", None):
                rec["parts"] = {k: round(v, 5) for k, v in self.loss_parts.last_parts.items()}
            self._write(rec)

        def after_epoch(self):
            vals = [v for v in (self.recorder.values[-1] if self.recorder.values else [])]
            self._write({"epoch": self.epoch, "end_of_epoch": True,
                         "metrics": dict(zip(self.recorder.metric_names[1:-1], map(float, vals)))})

    return CpuBF16, FakesForCritic, Checkpoint, JsonlLog, TimeBudget, ShiftConsistency


# --------------------------------------------------------------------------- the run


@dataclass
class Budget:
    """Stop cleanly at the first checkpoint after ``minutes`` (None: never); resume continues."""

    minutes: float | None = None
    t0: float = field(default_factory=time.time)
    stopped: bool = False

    def spent(self) -> bool:
        return self.minutes is not None and time.time() - self.t0 >= 60 * self.minutes


@contextlib.contextmanager
def _quiet_gan_attr_warnings():
    # fastai's GANTrainer stores generator/critic/gen_mode on itself, which Learner also
    # exposes through its model; fastai warns about the shadowing on every GAN fit.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are shadowing an attribute", category=UserWarning)
        yield


def _load_into(path: Path, model: nn.Module, opt) -> None:
    from fastai.learner import load_model

    load_model(path, model, opt, with_opt=opt is not None, device="cpu")


def read_generator_weights(path: Path) -> dict[str, torch.Tensor]:
    """A generator state_dict from a run's ``generator*.pt`` or a builtin colorizer ``.safetensors``
    (fp16 there: cast to fp32 for training)."""
    if not path.is_file():
        raise OldfilmError(f"--init-gen {path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file: one line, not a traceback
        raise OldfilmError(f"--init-gen {path}: not a generator checkpoint ({type(e).__name__})") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, budget: Budget | None = None) -> RunState:
    """Run (or continue) all three phases; returns the final state."""
    from fastai.learner import Learner
    from fastai.optimizer import Adam
    from fastai.vision.gan import (
        AdaptiveGANSwitcher,
        AdaptiveLoss,
        GANDiscriminativeLR,
        GANLearner,
        accuracy_thresh_expand,
    )

    from ..device import resolve_device

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = budget or Budget()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        # every batch has the same shapes (crop, shift sub-crop, validation), so cuDNN's
        # autotuned kernels are picked once and reused
        torch.backends.cudnn.benchmark = True
    state = load_state(out) if resume else RunState()
    hw = hardware_line(device)
    if hw not in state.hardware:
        state.hardware.append(hw)
    if state.phase == "done":
        return state

    CpuBF16, FakesForCritic, Checkpoint, JsonlLog, TimeBudget, ShiftConsistency = _callbacks()
    extra_cbs = [CpuBF16(device.type)] if cfg.bf16 else []
    log_path = out / "log.jsonl"

    train_files, val_files = make_datasets(cfg)
    shares = cdata.group_shares(train_files, cdata.capped_indices(
        train_files, 50 * cfg.batch_size, cfg.batch_size, cfg.caps, random.Random(1)))
    with open(log_path, "a") as f:
        f.write(json.dumps({"time": round(time.time(), 1), "event": "start", "resume": resume,
                            "phase": state.phase, "epoch": state.epoch, "train_files": len(train_files),
                            "val_files": len(val_files), "batch_group_shares": shares, "hardware": hw}) + "\n")

    generator = build_generator(cfg.gen_config)
    if resume and (out / "generator.pt").is_file():
        generator.load_state_dict(torch.load(out / "generator.pt", map_location="cpu", weights_only=True))
    elif cfg.init_gen:
        generator.load_state_dict(read_generator_weights(Path(cfg.init_gen)))
    loss = build_feature_loss(cfg.feature_loss, cfg.feature_net)
    dls = make_dls(cfg, train_files, val_files, device, epoch_seed=state.iters_done["gen"] + state.iters_done["crit"] + state.iters_done["gan"])
    loss.to(device)

    gen_learn = Learner(dls, generator, loss_func=loss, opt_func=Adam, wd=cfg.wd)
    if not progress:
        gen_learn.remove_cbs(gen_learn.cbs.filter(lambda c: type(c).__name__ == "ProgressCallback"))

    # ---- phase 1: generator pretraining
    if state.phase == "gen":
        start = state.epoch
        if resume and start and (out / "gen.pth").is_file():
            gen_learn.create_opt()
            _load_into(out / "gen.pth", gen_learn.model, gen_learn.opt)
        n = cfg.n_epochs("gen")
        if start < n:
            cbs = [*extra_cbs, Checkpoint(out, "gen", state, generator, budget), JsonlLog(log_path, "gen", cfg.log_every, loss)]
            if cfg.shift_consistency > 0:
                cbs.append(ShiftConsistency(cfg.shift_consistency, cfg.shift_margin, loss,
                                            seed=cfg.seed * 7919 + state.iters_done["gen"]))
            if cfg.minutes is None:
                gen_learn.fit_one_cycle(n, lr_max=cfg.lr_gen, pct_start=cfg.pct_start, div=25.0, div_final=25e4,
                                        start_epoch=start, cbs=cbs)
            else:
                gen_learn.fit(n, cfg.lr_gen, start_epoch=start, cbs=[*cbs, TimeBudget(
                    state, "gen", cfg.phase_seconds("gen"), cfg.lr_gen, True, cfg.pct_start)])
            if budget.stopped:
                return state
        _atomic_torch_save(generator.state_dict(), out / "generator_pretrained.pt")
        state.phase, state.epoch = "crit", 0
        save_state(out, state)

    # ---- phase 2: critic pretraining on generated vs real
    critic = patch_critic(cfg.critic_nf)
    crit_learn = Learner(dls, critic, loss_func=AdaptiveLoss(nn.BCEWithLogitsLoss()), opt_func=Adam, wd=cfg.wd,
                         metrics=accuracy_thresh_expand)
    if not progress:
        crit_learn.remove_cbs(crit_learn.cbs.filter(lambda c: type(c).__name__ == "ProgressCallback"))
    if state.phase == "crit":
        start = state.epoch
        if start and (out / "crit.pth").is_file():
            crit_learn.create_opt()
            _load_into(out / "crit.pth", crit_learn.model, crit_learn.opt)
        n = cfg.n_epochs("crit")
        if start < n:
            cbs = [FakesForCritic(generator), *extra_cbs, Checkpoint(out, "crit", state, generator, budget),
                   JsonlLog(log_path, "crit", cfg.log_every)]
            if cfg.minutes is None:
                crit_learn.fit_one_cycle(n, lr_max=cfg.lr_crit, start_epoch=start, cbs=cbs)
            else:
                crit_learn.fit(n, cfg.lr_crit, start_epoch=start, cbs=[*cbs, TimeBudget(
                    state, "crit", cfg.phase_seconds("crit"), cfg.lr_crit, True)])
            if budget.stopped:
                return state
        _atomic_torch_save(critic.state_dict(), out / "critic_pretrained.pt")
        state.phase, state.epoch = "gan", 0
        save_state(out, state)
    elif (out / "critic_pretrained.pt").is_file():
        critic.load_state_dict(torch.load(out / "critic_pretrained.pt", map_location="cpu", weights_only=True))

    # ---- phase 3: GAN with the adaptive switcher
    if state.phase == "gan":
        gan = GANLearner.from_learners(
            gen_learn, crit_learn, switcher=AdaptiveGANSwitcher(critic_thresh=cfg.critic_thresh),
            weights_gen=tuple(cfg.weights_gen), show_img=False, switch_eval=True,
            opt_func=partial(Adam, mom=0.0, sqr_mom=0.9), wd=cfg.wd, cbs=[GANDiscriminativeLR(mult_lr=5.0)],
        )
        if not progress:
            gan.remove_cbs(gan.cbs.filter(lambda c: type(c).__name__ == "ProgressCallback"))
        start = state.epoch
        if start and (out / "gan.pth").is_file():
            gan.create_opt()
            _load_into(out / "gan.pth", gan.model, gan.opt)
        n = cfg.n_epochs("gan")
        if start < n:
            cbs = [*extra_cbs, Checkpoint(out, "gan", state, generator, budget), JsonlLog(log_path, "gan", cfg.log_every, loss)]
            if cfg.minutes is not None:   # constant lr, as DeOldify; only the end is timed
                cbs.append(TimeBudget(state, "gan", cfg.phase_seconds("gan"), cfg.lr_gan, False))
            with _quiet_gan_attr_warnings():
                gan.fit(n, cfg.lr_gan, start_epoch=start, cbs=cbs)
            if budget.stopped:
                return state
        state.phase, state.epoch = "done", 0
        save_state(out, state)
    _atomic_torch_save(generator.state_dict(), out / "generator.pt")
    with open(log_path, "a") as f:
        f.write(json.dumps({"time": round(time.time(), 1), "event": "done", "seconds": state.seconds}) + "\n")
    return state


# --------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", nargs="+", metavar="DIR", help="folders of colour images (recursive)")
    p.add_argument("--out", metavar="DIR", help="run folder: checkpoints, state.json, log.jsonl")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--size", type=int, default=96, help="training crop side in px (default 96)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--iters", default="3000,300,600", metavar="GEN,CRIT,GAN",
                   help="iterations of generator pretraining, critic pretraining and GAN (default 3000,300,600)")
    p.add_argument("--minutes", metavar="GEN,CRIT,GAN",
                   help="train each phase for this many minutes instead of --iters (schedules follow the time); "
                        "with --resume, the new budget of a run started with --minutes")
    p.add_argument("--ckpt-every", type=int, default=100, metavar="N", help="checkpoint every N iterations")
    p.add_argument("--gen-config", default="default", help=f"generator config: {', '.join(GEN_PRESETS)} or JSON")
    p.add_argument("--feature-loss", choices=FEATURE_LOSSES, default="l1")
    p.add_argument("--feature-net", metavar="FILE", help="self-trained feature net for --feature-loss selfsup")
    p.add_argument("--shift-consistency", type=float, default=0.0, metavar="W",
                   help="weight of a term that asks for the same chroma on a shifted sub-crop (steadier colour "
                        "when the camera pans; generator phase; default 0: off)")
    p.add_argument("--shift-margin", type=int, default=32, metavar="PX",
                   help="the sub-crop is PX smaller than the training crop and shifted by up to PX (multiple of 16)")
    p.add_argument("--init-gen", metavar="FILE",
                   help="start the generator from these weights (a run's generator_pretrained.pt or a colorizer "
                        ".safetensors with the same --gen-config): fine-tuning")
    p.add_argument("--train-feature-net", type=int, metavar="ITERS",
                   help="first train a self-supervised feature net for ITERS iterations into OUT/featnet.pt")
    p.add_argument("--lr", type=float, nargs=3, metavar=("GEN", "CRIT", "GAN"), default=(1e-3, 1e-3, 2e-5))
    p.add_argument("--gan-weight", type=float, default=1.5, help="weight of the feature loss in the GAN phase")
    p.add_argument("--critic-nf", type=int, default=64, help="critic width (DeOldify: 256)")
    p.add_argument("--cap", action="append", default=[], metavar="GROUP=SHARE",
                   help="limit a data sub-folder's share of each batch (default clothing_cc0=0.3)")
    p.add_argument("--val-pct", type=float, default=5.0, help="held-out share, chosen by file hash")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch default)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="data-loading worker processes (default 0: none; on a GPU, about the CPU cores)")
    p.add_argument("--device", default="auto")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with avx512_bf16/AMX, or CUDA)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--max-minutes", type=float, metavar="M",
                   help="stop cleanly at the first checkpoint after M minutes (continue later with --resume)")
    p.add_argument("--export", metavar="RUN", help="export RUN's latest generator to checkpoints/ with its model card")
    p.add_argument("--export-to", metavar="FILE", help="export destination (default checkpoints/colorize-default.safetensors)")
    p.add_argument("--eval-items", type=int, default=60, help="held-out images scored by --export")
    p.add_argument("--soup", nargs="+", metavar="ING[:W]",
                   help="write to --out a run holding the weighted average of these fine-tunes of one generator "
                        "(run folders or our .safetensors; weight 1 unless given); then --export it")
    p.add_argument("--chroma-gain", type=float, default=1.0, metavar="G",
                   help="with --soup: scale the soup's output chroma by G (its calibrated colourfulness)")


def _parse_caps(items: list[str]) -> dict[str, float]:
    caps = dict(cdata.DEFAULT_CAPS)
    for it in items:
        g, sep, v = it.partition("=")
        try:
            share = float(v)
        except ValueError:
            share = -1.0
        if not sep or not 0 < share <= 1:
            raise OldfilmError(f"--cap {it}: expected GROUP=SHARE with SHARE in (0,1]")
        caps[g] = share
    return caps


def _parse_minutes(text: str) -> tuple[float, float, float]:
    try:
        minutes = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        minutes = ()
    if len(minutes) != 3 or any(m < 0 for m in minutes):
        raise OldfilmError(f"--minutes {text}: expected GEN,CRIT,GAN minutes, e.g. 60,5,15")
    return minutes   # type: ignore[return-value]


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    try:
        gi, ci, ai = (int(v) for v in str(args.iters).split(","))
    except ValueError:
        raise OldfilmError(f"--iters {args.iters}: expected GEN,CRIT,GAN iteration counts, e.g. 3000,300,600") from None
    minutes = _parse_minutes(args.minutes) if args.minutes else None
    if not args.data:
        raise OldfilmError("oldfilm train colorizer: --data DIR... is required (folders of colour images)")
    if args.size < 32 or args.size % 16:
        raise OldfilmError(f"--size {args.size}: expected a multiple of 16, at least 32")
    if args.shift_consistency < 0:
        raise OldfilmError(f"--shift-consistency {args.shift_consistency}: expected 0 or more")
    if args.shift_consistency and (args.shift_margin <= 0 or args.shift_margin % 16 or args.shift_margin >= args.size):
        raise OldfilmError(f"--shift-margin {args.shift_margin}: expected a positive multiple of 16 below --size {args.size}")
    return TrainConfig(
        data=[str(Path(d).resolve()) for d in args.data], out=str(Path(args.out).resolve()),
        gen_config=resolve_gen_config(args.gen_config), size=args.size, batch_size=args.batch_size,
        iters_gen=gi, iters_crit=ci, iters_gan=ai, minutes=minutes, ckpt_every=args.ckpt_every,
        lr_gen=args.lr[0], lr_crit=args.lr[1], lr_gan=args.lr[2], feature_loss=args.feature_loss,
        feature_net=args.feature_net, shift_consistency=args.shift_consistency, shift_margin=args.shift_margin,
        init_gen=str(Path(args.init_gen).resolve()) if args.init_gen else None,
        weights_gen=(1.0, args.gan_weight), critic_nf=args.critic_nf,
        val_pct=args.val_pct, caps=_parse_caps(args.cap), seed=args.seed, threads=args.threads or None,
        workers=_workers(args.workers), device=args.device, bf16=args.bf16,
    )


def _workers(n: int | None) -> int:
    if n is not None and n < 0:
        raise OldfilmError(f"--workers {n}: expected 0 or more")
    return n or 0


def read_config(out: Path) -> TrainConfig:
    p = out / "run.json"
    if not p.is_file():
        raise OldfilmError(f"{out}: not a colorizer training run (no run.json)")
    d = json.loads(p.read_text())
    d["weights_gen"] = tuple(d["weights_gen"])
    if d.get("minutes") is not None:
        d["minutes"] = tuple(d["minutes"])
    return TrainConfig(**d)


def _selfsup_batches(cfg: TrainConfig):
    train_files, _ = make_datasets(cfg)
    ds = cdata.ColorizePairs(train_files, cfg.size, train=True, seed=cfg.seed)
    rng = random.Random(cfg.seed)

    def batch() -> torch.Tensor:
        idx = cdata.capped_indices(train_files, cfg.batch_size, cfg.batch_size, cfg.caps, rng)
        return torch.stack([ds[i][1] for i in idx])

    return batch


def run(args: argparse.Namespace) -> int:
    if args.export:
        from .export import export_run

        return export_run(Path(args.export), Path(args.export_to) if args.export_to else None, args.eval_items)
    if not args.out:
        raise OldfilmError("oldfilm train colorizer: --out DIR is required")
    out = Path(args.out)
    if args.soup:
        from .soup_run import parse_ingredient, write_soup_run

        write_soup_run([parse_ingredient(t) for t in args.soup], out, args.chroma_gain)
        print(f"wrote the soup run {out}; export it with: oldfilm train colorizer --export {out}")
        return 0
    if args.resume:
        cfg = read_config(out)
        if args.threads:
            cfg.threads = args.threads
        if args.workers is not None:
            cfg.workers = _workers(args.workers)
        if args.minutes:
            # a longer (or shorter) time budget for a run in progress: the schedules follow the
            # new total from the time already spent, so a run can be stretched while it learns
            if cfg.minutes is None:
                raise OldfilmError(f"{out}: this run counts iterations (--iters); --minutes cannot change it on --resume")
            cfg.minutes = _parse_minutes(args.minutes)
            _atomic_write_text(out / "run.json", json.dumps(asdict(cfg), indent=2))
    else:
        if (out / "state.json").is_file():
            raise OldfilmError(f"{out}: already holds a run; add --resume to continue it or pick another --out")
        cfg = config_from_args(args)
        out.mkdir(parents=True, exist_ok=True)
        if args.train_feature_net:
            if cfg.threads:
                torch.set_num_threads(cfg.threads)
            net_path = out / "featnet.pt"
            log = out / "log.jsonl"

            def write(rec: dict) -> None:
                with open(log, "a") as f:
                    f.write(json.dumps(rec) + "\n")

            train_selfsup_net(_selfsup_batches(cfg), net_path, args.train_feature_net, log=write)
            cfg.feature_net = str(net_path)
        _atomic_write_text(out / "run.json", json.dumps(asdict(cfg), indent=2))
    st = train(cfg, resume=args.resume, progress=not args.no_progress, budget=Budget(args.max_minutes))
    print(f"colorizer training: phase {st.phase}; iterations {st.iters_done}; "
          f"hours {sum(st.seconds.values()) / 3600:.2f}; generator {out / 'generator.pt'}")
    return 0



if __name__ == "__main__":  # same parsing and one-line errors as `oldfilm`
    from oldfilm.cli import main

    sys.exit(main(['train', 'colorizer', *sys.argv[1:]]))

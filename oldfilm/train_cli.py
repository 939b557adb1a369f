"""`oldfilm train colorizer|restorer|scratch|faces`: dispatch to each family's training module.

Training code is imported only here, so fastai never enters the inference import path.
"""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

TRAINERS = {
    "colorizer": ("oldfilm.colorize.train", "NoGAN training of a colorizer (generator, critic, GAN phase)"),
    "restorer": ("oldfilm.restore.train_restorer", "triplet-domain VAE_A, VAE_B and latent mapping"),
    "scratch": ("oldfilm.restore.train_scratch", "scratch-detector U-Net on synthetic masks"),
    "faces": ("oldfilm.restore.faces.train", "SPADE face enhancer on degraded faces"),
}


# Trainers whose runs keep each session's arguments in RUN/run.json (training/run_dir.py); the
# colorizer keeps its own and already resumes from --out alone.
RUN_DIR_TRAINERS = ("restorer", "scratch", "faces")
# Options about this invocation or this machine, never taken over from the run on --resume.
NOT_RESUMED = {"out", "resume", "export", "dest", "device", "threads", "no_progress", "workers", "max_minutes"}


class _Default:
    """A parser default, marked so that a resumed run can tell it from a value typed on the command line."""

    def __init__(self, value: object):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="trainer", required=True, metavar="{" + ",".join(TRAINERS) + "}")
    for name, (module, help_) in TRAINERS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        try:
            importlib.import_module(module).add_arguments(p)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            p.set_defaults(_missing=module)
            continue
        if name in RUN_DIR_TRAINERS:
            for action in p._actions:
                if action.dest not in NOT_RESUMED and action.default is not argparse.SUPPRESS:
                    action.default = _Default(action.default)


def resolve_defaults(args: argparse.Namespace) -> list[str]:
    """Options left at their parser default take the run's last session's values on ``--resume``
    (so ``--out RUN --resume`` continues the same schedule, data and sizes), else the default.

    Returns, for a resumed run, ``"name VALUE (was OLD)"`` for each option typed now with another
    value than the last session's, so a resume that changes the data or sizes says so. Sets
    ``args._typed``: the names of the options given on the command line."""
    recorded: dict = {}
    if getattr(args, "resume", False) and getattr(args, "out", None) and (Path(args.out) / "run.json").is_file():
        from .restore.training.run_dir import RunDir

        recorded = RunDir(args.out).last_args()
    changed = []
    typed = set()
    for key, value in vars(args).items():
        if isinstance(value, _Default):
            setattr(args, key, recorded.get(key, value.value))
            continue
        typed.add(key)
        if key in recorded and key not in NOT_RESUMED and recorded[key] != value:
            # run.json keeps only plain values (args_record), so a recorded key compares as typed
            changed.append(f"--{key.replace('_', '-')} {value} (was {recorded[key]})")
    args._typed = typed    # what this command line gave, for options whose meaning depends on it
    return changed


def run(args: argparse.Namespace) -> int:
    module, _ = TRAINERS[args.trainer]
    if getattr(args, "_missing", None):
        print(f"oldfilm train {args.trainer}: not available in this build ({module} missing)")
        return 2
    changed = resolve_defaults(args)
    if changed:
        # a resume that trains on other data or sizes than the run so far is allowed (a schedule's
        # tail, a longer run), but it should never pass unnoticed
        print(f"oldfilm train {args.trainer}: resuming {args.out} with settings changed from its last session: "
              + ", ".join(changed))
    return int(importlib.import_module(module).run(args) or 0)

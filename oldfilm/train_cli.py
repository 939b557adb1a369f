"""`oldfilm train colorizer|restorer|scratch|faces`: dispatch to each family's training module.

Training code is imported only here, so fastai never enters the inference import path.
"""
from __future__ import annotations

import argparse
import importlib

TRAINERS = {
    "colorizer": ("oldfilm.colorize.train", "NoGAN training of a colorizer (generator, critic, GAN phase)"),
    "restorer": ("oldfilm.restore.train_restorer", "triplet-domain VAE_A, VAE_B and latent mapping"),
    "scratch": ("oldfilm.restore.train_scratch", "scratch-detector U-Net on synthetic masks"),
    "faces": ("oldfilm.restore.faces.train", "SPADE face enhancer on degraded faces"),
}


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


def run(args: argparse.Namespace) -> int:
    module, _ = TRAINERS[args.trainer]
    if getattr(args, "_missing", None):
        print(f"oldfilm train {args.trainer}: not available in this build ({module} missing)")
        return 2
    return int(importlib.import_module(module).run(args) or 0)

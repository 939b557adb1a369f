"""Instance norm whose statistics can come from another (whole-frame) pass.

BOPBTL's networks use ``InstanceNorm2d(affine=False)``: per-image mean and variance over all
positions. That makes a tile's output depend on which pixels the tile holds (tiles disagree, and
video flickers with content). :class:`ContextInstanceNorm` computes exactly the same thing by
default, but can also *record* the statistics of one pass (a downscaled copy of the whole frame)
and later *apply* those recorded statistics to every tile of the full-resolution frame, so all
tiles are normalised alike. It has no parameters or buffers, so state_dict keys are unchanged.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

EPS = 1e-5  # InstanceNorm2d default


class ContextInstanceNorm(nn.Module):
    """InstanceNorm2d(affine=False, eps=1e-5) with record/apply modes for tiled inference.

    mode ``"instance"``: per-sample stats of the input (identical to InstanceNorm2d).
    mode ``"record"``: as ``"instance"`` and keeps (mean, var) of this call.
    mode ``"apply"``: uses the kept (mean, var) instead of the input's own.
    """

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features
        self.mode = "instance"
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "apply":
            if self.stats is None:
                raise RuntimeError("ContextInstanceNorm in apply mode without recorded statistics")
            mean, var = self.stats
            return (x - mean.to(x.dtype)) * torch.rsqrt(var.to(x.dtype) + EPS)
        if self.mode == "record":
            var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, unbiased=False)
            self.stats = (mean, var)
        return nn.functional.instance_norm(x, eps=EPS)

    def extra_repr(self) -> str:
        return f"{self.num_features}, mode={self.mode}"


def context_modules(model: nn.Module) -> list[nn.Module]:
    """Every module of ``model`` that takes part in record/apply (norms, non-local banks)."""
    return [m for m in model.modules() if hasattr(m, "mode") and hasattr(m, "stats")]


def set_mode(models: list[nn.Module], mode: str) -> None:
    for model in models:
        for m in context_modules(model):
            m.mode = mode
            if mode == "instance":
                m.stats = None


@contextlib.contextmanager
def recording(*models: nn.Module) -> Iterator[None]:
    """Inside: every context module keeps the statistics of the pass it sees."""
    set_mode(list(models), "record")
    try:
        yield
    finally:
        for model in models:
            for m in context_modules(model):
                m.mode = "instance"


@contextlib.contextmanager
def applying(*models: nn.Module) -> Iterator[None]:
    """Inside: every context module uses what was recorded; afterwards the records are dropped."""
    set_mode(list(models), "apply")
    try:
        yield
    finally:
        set_mode(list(models), "instance")


NORMS = ("instance", "none")


def make_norm(num_features: int, norm: str = "instance") -> nn.Module:
    """The normalisation layer of the restoration networks.

    ``"instance"``: BOPBTL's (every published checkpoint). ``"none"``: our light defaults. Instance
    norm without affine makes a network blind to the input's global brightness and contrast, so a
    small network trained briefly cannot give a photo its own tone back (the run-1 VAE reconstructed
    clean crops at 21 dB, 26 dB after matching global mean and spread). Identity keeps the
    state_dict keys of the instance-norm layout (neither has parameters).
    """
    if norm == "instance":
        return ContextInstanceNorm(num_features)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r} (expected one of {', '.join(NORMS)})")

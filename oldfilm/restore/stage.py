"""The restoration stage: ``oldfilm restore`` runs it on every photo and video frame.

``build_restore_stage(opts, run)`` loads the named restorer (``--restorer``, default ``default``)
and, unless ``--scratches off``, the scratch detector, and returns a Stage. Per frame:
detect scratches (auto/on) -> pick the path: the scratch path (hole filling + masked mapping)
always with ``on``; with ``auto`` when the detector marks a larger share of the frame than the cut
saved with the scratch mapping (chosen at export on training photos, auto_cut.py), else the
quality path -> restore. Files without that cut fall back to the older rules: the share saved
with our detector for a scratch path that cuts the marked pixels out, any marked pixel for one
that keeps them (``hole_fill`` "none").
Then ``--strength`` below 1 blends the result with the frame it came from, the marked damage
repaired at any strength (strength.py).
Missing weights stop it with one NoWeightsError line; never random weights.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..device import resolve_device
from ..errors import NoWeightsError, OldfilmError
from ..options import RestoreOptions, RunOptions
from ..stage import StageBase
from .. import weights
from .published import HR_SLOT, SLOT_ROLES
from .restorer import (RestorerNets, TileSettings, default_tile, detect_scratches, detector_auto_min_marked, restore_image,
                       dilate, saved_auto_cut, saved_hole_fill)
from .strength import apply_strength


def load_paths(model: str) -> tuple[RestorerNets | None, RestorerNets | None]:
    """(quality path, scratch path) of a registered restorer; either may be None."""
    if model.endswith((".pth", ".pt", ".safetensors")):
        raise OldfilmError(
            f"--restorer {model}: a restorer is several files (VAE A, mapping, VAE B); import them with "
            f"`oldfilm weights import FILE` and pick a model by name (see `oldfilm weights list`)")
    slots = weights.load_model("restore", model)
    roles = {SLOT_ROLES[s]: net for s, net in slots.items() if s in SLOT_ROLES}
    enc = roles.get("encoder")
    if enc is None:
        raise OldfilmError(f"restore model {model!r} has no encoder (VAE A) slot")
    quality = scratch = None
    if "mapping-quality" in roles and "decoder-quality" in roles:
        quality = RestorerNets(enc, roles["mapping-quality"], roles["decoder-quality"])
    if "mapping-scratch" in roles and "decoder-scratch" in roles:
        scratch = RestorerNets(enc, roles["mapping-scratch"], roles["decoder-scratch"],
                               mask_dilation=3 if HR_SLOT in slots else 0,
                               hole_fill=saved_hole_fill(roles["mapping-scratch"]),
                               auto_min_marked=saved_auto_cut(roles["mapping-scratch"]))
    if quality is None and scratch is None:
        raise OldfilmError(f"restore model {model!r} has no complete mapping + decoder pair")
    return quality, scratch


class RestoreStage(StageBase):
    name = "restore"

    def __init__(self, quality: RestorerNets | None, scratch: RestorerNets | None, detector: torch.nn.Module | None,
                 scratches: str = "auto", device: torch.device | str = "cpu",
                 settings: TileSettings | None = None, strength: float = 1.0):
        super().__init__()
        self.quality, self.scratch, self.detector = quality, scratch, detector
        self.scratches = scratches
        self.strength = float(strength)
        self.device = torch.device(device)
        self.settings = settings or TileSettings(tile=default_tile(quality, scratch))
        self._auto_min_marked = self._auto_cut(scratch, detector)
        self._scratch_frames = 0

    @staticmethod
    def _auto_cut(scratch: RestorerNets | None, detector: torch.nn.Module | None) -> float:
        """The share of marked pixels above which `auto` takes the scratch path."""
        if scratch is not None and scratch.auto_min_marked is not None:
            return scratch.auto_min_marked      # measured for this restorer at export (auto_cut.py)
        # older files: the detector's share guards against cutting content out; a path that keeps
        # the pixels needs no guard
        cuts_out = scratch is None or scratch.hole_fill == "white"
        return detector_auto_min_marked(detector) if detector is not None and cuts_out else 0.0

    def restore_and_marks(self, frame: np.ndarray, need_output: bool = True
                          ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(the restorer's output at full strength, the damage it repaired: bool HxW, or None).
        frame: uint8 RGB HxWx3. With ``need_output`` False and nothing marked, the restorer is
        not run: (None, None)."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise OldfilmError(f"restore stage: expected uint8 RGB HxWx3 frames, got {frame.dtype} {frame.shape}")
        mask = None
        if self.detector is not None and self.scratches != "off":
            mask = detect_scratches(self.detector, frame, self.device)
        scratched = mask is not None and float(mask.mean()) > self._auto_min_marked   # min >= 0: some pixel marked
        use_scratch = self.scratch is not None and (self.scratches == "on" or scratched or self.quality is None)
        nets = self.scratch if use_scratch else self.quality
        assert nets is not None
        damage = dilate(mask, nets.mask_dilation) if use_scratch and mask is not None and mask.any() else None
        if damage is not None:
            self._scratch_frames += 1
        if not need_output and damage is None:
            return None, None
        return restore_image(nets, frame, mask if use_scratch else None, self.settings, self.device), damage

    def _restore(self, frame: np.ndarray) -> np.ndarray:
        out, damage = self.restore_and_marks(frame, need_output=self.strength > 0.0)
        if out is None:
            return frame.copy()       # nothing marked to repair, and none of the rest kept: the restorer is skipped
        return apply_strength(frame, out, self.strength, damage)

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        with torch.inference_mode():
            return [self._restore(f) for f in frames]

    def reset(self) -> None:
        self._scratch_frames = 0

    def report(self) -> dict:
        return {"scratch_frames": self._scratch_frames}


def build_restore_stage(opts: RestoreOptions, run: RunOptions) -> RestoreStage:
    """The stage ``opts`` asks for; NoWeightsError (one line) when a needed checkpoint is missing."""
    device = resolve_device(run.device)
    quality, scratch = load_paths(opts.model)
    detector = None
    warn = None
    if opts.scratches != "off" and scratch is not None:
        try:
            detector = next(iter(weights.load_model("scratch", opts.scratch_model).values()))
        except NoWeightsError:
            if opts.scratches == "on":
                raise
            warn = "no scratch detector installed: scratches are not removed (import or train one)"
    elif opts.scratches == "on" and scratch is None:
        raise OldfilmError(f"--scratches on: restore model {opts.model!r} has no scratch path")
    nets = [n for p in (quality, scratch) if p for n in (p.encoder, p.mapping, p.decoder)]
    for m in nets + ([detector] if detector is not None else []):
        m.to(device).eval()
    stage = RestoreStage(quality, scratch, detector, opts.scratches, device,
                         TileSettings(tile=max(64, int(opts.tile))) if opts.tile else None, opts.strength)
    if warn:
        stage.warn(warn)
    return stage

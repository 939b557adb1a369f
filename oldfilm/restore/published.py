"""Registers the restoration architectures, published BOPBTL recognisers and named models.

Published files (restore-spec §3.6), recognised by their keys:

* detector ``FT_Epoch_latest.pt`` (``{'model_state': sd}``)            -> slot bopbtl-detector
* ``VAE_{A_quality,B_quality,B_scratch}/latest_net_G.pth`` (identical keys; the slot comes from
  the folder name, else ``--as``)      -> bopbtl-vae-a / bopbtl-vae-b-quality / bopbtl-vae-b-scratch
* ``mapping_quality``, ``mapping_scratch``, ``mapping_Patch_Attention`` ``latest_net_mapping_net.pth``
                                       -> bopbtl-mapping-quality / -scratch / -hr

Our builtin checkpoints (trained by ``oldfilm train restorer|scratch``, fp16 safetensors in
checkpoints/) use the architectures ``bopbtl-vae``, ``bopbtl-mapping`` (config ``kind``) and
``bopbtl-detector`` with these file names (the training exporter must write exactly these):

    restore-default-vae-a.safetensors            restore-default-mapping-quality.safetensors
    restore-default-vae-b-quality.safetensors    restore-default-mapping-scratch.safetensors
    restore-default-vae-b-scratch.safetensors    scratch-default.safetensors
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from ..weights import Architecture, ModelEntry, Recognizer, StateDict, register_architecture, register_model, \
    register_recognizer, strict_load
from .detector import build_detector
from .mapping import build_mapping
from .vae import build_vae

# Role of each slot in the restorer: encoder (VAE A), decoder-* (VAE B), mapping-*.
SLOT_ROLES = {
    "bopbtl-vae-a": "encoder",
    "bopbtl-vae-b-quality": "decoder-quality",
    "bopbtl-vae-b-scratch": "decoder-scratch",
    "bopbtl-mapping-quality": "mapping-quality",
    "bopbtl-mapping-scratch": "mapping-scratch",
    "bopbtl-mapping-hr": "mapping-scratch",
    "vae-a": "encoder",
    "vae-b-quality": "decoder-quality",
    "vae-b-scratch": "decoder-scratch",
    "mapping-quality": "mapping-quality",
    "mapping-scratch": "mapping-scratch",
}
DEFAULT_RESTORE_FILES = {
    "vae-a": "restore-default-vae-a.safetensors",
    "mapping-quality": "restore-default-mapping-quality.safetensors",
    "vae-b-quality": "restore-default-vae-b-quality.safetensors",
    "mapping-scratch": "restore-default-mapping-scratch.safetensors",
    "vae-b-scratch": "restore-default-vae-b-scratch.safetensors",
}
DEFAULT_SCRATCH_FILES = {"detector": "scratch-default.safetensors"}
HR_SLOT = "bopbtl-mapping-hr"

_VAE_FOLDERS = {"vae_a_quality": "bopbtl-vae-a", "vae_b_quality": "bopbtl-vae-b-quality",
                "vae_b_scratch": "bopbtl-vae-b-scratch"}


def _vae_slot_from_path(path: Path) -> str | None:
    for part in reversed(Path(path).resolve().parts[:-1]):
        slot = _VAE_FOLDERS.get(part.lower())
        if slot:
            return slot
    return None


def _is_vae(sd: StateDict) -> bool:
    return "encoder.1.weight" in sd and "decoder.11.weight" in sd and all(
        k.startswith(("encoder.", "decoder.")) for k in sd)


def _is_detector(sd: StateDict) -> bool:
    return "first.1.weight" in sd and "down_sample.0.4.filt" in sd and "last.1.weight" in sd


def _is_mapping_quality(sd: StateDict) -> bool:
    return "model.0.weight" in sd and "model.12.conv_block.1.weight" in sd and all(k.startswith("model.") for k in sd)


def _is_mapping_scratch(sd: StateDict) -> bool:
    return "NL.theta.weight" in sd and "before_NL.0.weight" in sd


def _is_mapping_hr(sd: StateDict) -> bool:
    return "NL_scale_1.F_Combine.weight" in sd and "before_NL.0.weight" in sd


def _builder(build, config: dict):
    def build_loaded(sd: StateDict) -> nn.Module:
        return strict_load(build(config), sd)
    return build_loaded


register_architecture(Architecture("bopbtl-detector", build_detector))
register_architecture(Architecture("bopbtl-vae", build_vae))
register_architecture(Architecture("bopbtl-mapping", build_mapping))

register_recognizer(Recognizer(
    "bopbtl-detector", _is_detector, _builder(build_detector, {}), ("bopbtl-detector",),
    description="BOPBTL scratch detector U-Net (FT_Epoch_latest.pt)"))
register_recognizer(Recognizer(
    "bopbtl-vae", _is_vae, _builder(build_vae, {}), ("bopbtl-vae-a", "bopbtl-vae-b-quality", "bopbtl-vae-b-scratch"),
    slot_from_path=_vae_slot_from_path, description="BOPBTL VAE (GlobalGenerator_DCDCv2, latest_net_G.pth)"))
register_recognizer(Recognizer(
    "bopbtl-mapping-quality", _is_mapping_quality, _builder(build_mapping, {"kind": "quality"}),
    ("bopbtl-mapping-quality",), description="BOPBTL quality mapping (mapping_quality)"))
register_recognizer(Recognizer(
    "bopbtl-mapping-scratch", _is_mapping_scratch, _builder(build_mapping, {"kind": "scratch"}),
    ("bopbtl-mapping-scratch",), description="BOPBTL scratch mapping with partial non-local (mapping_scratch)"))
register_recognizer(Recognizer(
    "bopbtl-mapping-hr", _is_mapping_hr, _builder(build_mapping, {"kind": "patch_attention"}),
    (HR_SLOT,), description="BOPBTL HR patch-attention mapping (mapping_Patch_Attention)"))

_A, _BQ, _BS = "bopbtl-vae-a", "bopbtl-vae-b-quality", "bopbtl-vae-b-scratch"
register_model(ModelEntry("restore", "bopbtl-quality", (_A, "bopbtl-mapping-quality", _BQ),
                          "BOPBTL global restoration, quality path (no scratches)"))
register_model(ModelEntry("restore", "bopbtl-scratch", (_A, "bopbtl-mapping-scratch", _BS),
                          "BOPBTL global restoration with scratch inpainting (partial non-local)"))
register_model(ModelEntry("restore", "bopbtl-hr", (_A, HR_SLOT, _BS),
                          "BOPBTL global restoration with scratches, HR patch attention"))
register_model(ModelEntry("restore", "bopbtl", (_A, "bopbtl-mapping-quality", _BQ, "bopbtl-mapping-scratch", _BS),
                          "BOPBTL global restoration, quality path and scratch path (chosen per frame)"))
register_model(ModelEntry("restore", "default", tuple(DEFAULT_RESTORE_FILES),
                          "oldfilm's light restorer (same BOPBTL architecture, smaller), quality + scratch paths",
                          builtin_files=DEFAULT_RESTORE_FILES, card="checkpoints/restore-default.md"))
register_model(ModelEntry("scratch", "bopbtl", ("bopbtl-detector",), "BOPBTL scratch detector"))
register_model(ModelEntry("scratch", "default", tuple(DEFAULT_SCRATCH_FILES),
                          "oldfilm's light scratch detector (same U-Net, smaller)",
                          builtin_files=DEFAULT_SCRATCH_FILES, card="checkpoints/scratch-default.md"))

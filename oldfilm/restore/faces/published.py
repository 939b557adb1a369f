"""Registers the face-generator architectures, published BOPBTL face recognisers and named models.

Published files: ``Face_Enhancement/checkpoints/Setting_9_epoch_100/latest_net_G.pth`` (256 crops)
and ``.../FaceSR_512/latest_net_G.pth`` (512 crops), bare state_dicts with identical keys and
shapes. The keys cannot tell them apart, so the slot comes from the path (the checkpoint folder
name) or from ``oldfilm weights import FILE --as bopbtl-face-256|bopbtl-face-512``.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from ... import weights as W
from .spade import ARCH_NAME, SpadeFaceConfig, build_face_generator

SLOT_256 = "bopbtl-face-256"
SLOT_512 = "bopbtl-face-512"
DEFAULT_FILE = "face-default.safetensors"
DEFAULT_SLOT = "face"
# The face stage without the global restorer (`--no-restore --faces`) meets raw degraded faces; the
# default learnt on the restorer's output. This model learnt on raw degraded faces.
ALONE_MODEL = "default-alone"
ALONE_FILE = "face-default-alone.safetensors"

# Keys every SPADE face generator has, whatever its widths (cheap recognition).
_SIGNATURE = (
    "fc.weight",
    "head_0.conv_0.weight_orig",
    "head_0.norm_0.mlp_shared.0.weight",
    "G_middle_1.norm_1.param_free_norm.running_var",
    "up_3.conv_s.weight_orig",
    "conv_img.weight",
)


def _match(sd: W.StateDict) -> bool:
    return all(k in sd for k in _SIGNATURE)


def config_from_state_dict(sd: W.StateDict) -> SpadeFaceConfig:
    """The widths a SPADE face state_dict was made with (published: ngf 64, hidden 128)."""
    return SpadeFaceConfig(
        ngf=int(sd["fc.weight"].shape[0]) // 16,
        spade_hidden=int(sd["head_0.norm_0.mlp_shared.0.weight"].shape[0]),
    )


def _build(sd: W.StateDict) -> nn.Module:
    # Strict load checks every remaining key and shape against the inferred widths.
    return W.strict_load(build_face_generator(config_from_state_dict(sd)), sd)


def slot_from_path(path: Path) -> str | None:
    """Setting_9_epoch_100 -> 256 crops, FaceSR_512 -> 512 crops; anything else: ask for --as."""
    text = str(path)
    if "FaceSR_512" in text:
        return SLOT_512
    if "Setting_9_epoch_100" in text:
        return SLOT_256
    return None


def crop_size_for_slot(slot: str) -> int:
    """Aligned crop side the generator in ``slot`` was trained on (builtin default: 256)."""
    return 512 if slot == SLOT_512 else 256


W.register_architecture(W.Architecture(ARCH_NAME, build_face_generator))
W.register_recognizer(
    W.Recognizer(
        kind="bopbtl-face-spade",
        match=_match,
        build=_build,
        slots=(SLOT_256, SLOT_512),
        slot_from_path=slot_from_path,
        description="BOPBTL Face_Enhancement SPADE generator (Setting_9_epoch_100 = 256, FaceSR_512 = 512)",
    )
)
W.register_model(
    W.ModelEntry(
        task="face",
        name="bopbtl",
        slots=(SLOT_256,),
        description="BOPBTL face enhancement, 256 px crops (Setting_9_epoch_100/latest_net_G.pth)",
    )
)
W.register_model(
    W.ModelEntry(
        task="face",
        name="bopbtl-hr",
        slots=(SLOT_512,),
        description="BOPBTL face enhancement, 512 px crops for HR scans (FaceSR_512/latest_net_G.pth)",
    )
)
W.register_model(
    W.ModelEntry(
        task="face",
        name="default",
        slots=(DEFAULT_SLOT,),
        description="oldfilm's light SPADE face generator (256 px crops), trained on the global restorer's output from ../shared/data (mostly research-only licences; see its card)",
        builtin_files={DEFAULT_SLOT: DEFAULT_FILE},
        card="checkpoints/face-default.md",
    )
)
W.register_model(
    W.ModelEntry(
        task="face",
        name=ALONE_MODEL,
        slots=(DEFAULT_SLOT,),
        description="oldfilm's light SPADE face generator for faces not restored first (--no-restore --faces picks it for 'default')",
        builtin_files={DEFAULT_SLOT: ALONE_FILE},
        card="checkpoints/face-default-alone.md",
    )
)

"""Registers the colorizer architecture, the published DeOldify recognisers and named models.

Published files: ``ColorizeArtistic_gen.pth`` (DynamicUnetDeep, resnet34) and
``ColorizeStable_gen.pth`` / ``ColorizeVideo_gen.pth`` (DynamicUnetWide, resnet101; same keys,
so the slot comes from the file name or ``oldfilm weights import FILE --as deoldify-video``).
Containers: a bare state_dict or ``{'model': sd, 'opt': ...}`` (unwrapped by
``weights.read_state_dict``), in the torch>=1.1 spectral-norm layout or the legacy one (a plain
``weight`` instead of ``weight_v``; converted here as torch's load hook did).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .. import weights as W
from ..nn.norm_conv import solve_legacy_spectral_v
from .generator import ARCH_NAME, ARTISTIC_CONFIG, STABLE_CONFIG, build_generator

SLOT_ARTISTIC = "deoldify-artistic"
SLOT_STABLE = "deoldify-stable"
SLOT_VIDEO = "deoldify-video"
DEFAULT_FILE = "colorize-default.safetensors"
DEFAULT_SLOT = "colorizer"
PUBLISHED_CARD = "docs/models/deoldify.md"
# The render factor a photo gets when the user names none. DeOldify's 35 suits its generators
# (trained up to 256 px). Ours (`oldfilm train colorizer`) see 64-128 px views of photos at most
# ~384 px wide, and colour a 336 px square more accurately than a 560 px one (held-out ΔE00 10.67
# against 10.92), so a photo gets the video's 21; docs/training-colorize.md, "render factor".
DEOLDIFY_PHOTO_RENDER_FACTOR = 35
OURS_PHOTO_RENDER_FACTOR = 21

# Keys present in both spectral-norm layouts; the bottleneck width tells resnet34 from resnet101.
_ARTISTIC_SIGNATURE = ("layers.0.0.weight", "layers.5.conv2.3.gamma", "layers.8.conv.0.weight_g", "layers.11.0.weight_orig")
_STABLE_SIGNATURE = ("layers.0.0.weight", "layers.5.conv.3.gamma", "layers.8.conv.0.weight_g", "layers.11.0.weight_orig")


def _bottleneck_in(sd: W.StateDict) -> int | None:
    w = sd.get("layers.3.0.0.weight_orig")
    return int(w.shape[1]) if isinstance(w, torch.Tensor) and w.dim() == 4 else None


def _match_artistic(sd: W.StateDict) -> bool:
    return all(k in sd for k in _ARTISTIC_SIGNATURE) and _bottleneck_in(sd) == 512


def _match_stable(sd: W.StateDict) -> bool:
    return all(k in sd for k in _STABLE_SIGNATURE) and _bottleneck_in(sd) == 2048


def from_legacy_spectral_layout(sd: W.StateDict) -> dict[str, torch.Tensor]:
    """Convert pre-torch-1.1 spectral-norm entries (``X.weight`` + ``X.weight_orig`` + ``X.weight_u``,
    no ``X.weight_v``) to the current layout; other entries pass through unchanged."""
    out = dict(sd)
    for key in list(sd):
        if not key.endswith(".weight_orig"):
            continue
        prefix = key[: -len("_orig")]  # "X.weight"
        if prefix + "_v" in sd or prefix not in sd or prefix + "_u" not in sd:
            continue
        weight = out.pop(prefix)
        out[prefix + "_v"] = solve_legacy_spectral_v(sd[key], weight, sd[prefix + "_u"])
    return out


def _builder(config: dict):
    def build(sd: W.StateDict) -> nn.Module:
        return W.strict_load(build_generator(config), from_legacy_spectral_layout(sd))

    return build


def slot_from_path(path: Path) -> str | None:
    """ColorizeVideo* -> the video slot; any other Stable-shaped file -> the stable slot."""
    return SLOT_VIDEO if Path(path).name.lower().startswith("colorizevideo") else SLOT_STABLE


W.register_architecture(W.Architecture(ARCH_NAME, build_generator))
W.register_recognizer(
    W.Recognizer(
        kind="deoldify-artistic",
        match=_match_artistic,
        build=_builder(ARTISTIC_CONFIG),
        slots=(SLOT_ARTISTIC,),
        description="DeOldify ColorizeArtistic_gen.pth (DynamicUnetDeep, resnet34)",
    )
)
W.register_recognizer(
    W.Recognizer(
        kind="deoldify-stable",
        match=_match_stable,
        build=_builder(STABLE_CONFIG),
        slots=(SLOT_STABLE, SLOT_VIDEO),
        slot_from_path=slot_from_path,
        description="DeOldify ColorizeStable_gen.pth / ColorizeVideo_gen.pth (DynamicUnetWide, resnet101)",
    )
)
for _name, _slot, _file, _what in (
    ("artistic", SLOT_ARTISTIC, "ColorizeArtistic_gen.pth", "vivid colours, more detail; less stable"),
    ("stable", SLOT_STABLE, "ColorizeStable_gen.pth", "conservative colours, best for portraits and landscapes"),
    ("video", SLOT_VIDEO, "ColorizeVideo_gen.pth", "Stable tuned for flicker-free video"),
):
    W.register_model(
        W.ModelEntry(
            task="colorize",
            name=_name,
            slots=(_slot,),
            description=f"DeOldify {_name.capitalize()} ({_file}): {_what}",
            card=PUBLISHED_CARD,
        )
    )
W.register_model(
    W.ModelEntry(
        task="colorize",
        name="default",
        slots=(DEFAULT_SLOT,),
        description="oldfilm's light DeOldify-style colorizer, trained on ../shared/data (mostly research-only licences; see its card)",
        builtin_files={DEFAULT_SLOT: DEFAULT_FILE},
        card="checkpoints/colorize-default.md",
        photo_render_factor=OURS_PHOTO_RENDER_FACTOR,
    )
)

"""The colorize stage: a DeOldify-style generator over batches of frames (colorize-spec §4).

Precision (``RunOptions.precision``): ``auto`` uses bf16 autocast on CPUs with native bf16,
measured in docs/bench-colorize.md to stay within 1 uint8 level (mean absolute) of fp32. On CUDA
``auto`` stays fp32: on an H200, fp16 was as accurate but no faster at the video render factor
(the stage is bound by its CPU-side resize and chroma transfer), and the published models were
not measured there (docs/bench-colorize.md, "GPU").
An explicit ``--precision bf16|fp16`` is honoured as asked.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from torch import nn

from ..device import autocast_dtype, resolve_device
from ..errors import BadInputError, OldfilmError
from ..options import ColorizeOptions, RunOptions
from ..stage import StageBase
from ..weights import get_model, is_checkpoint_path, load_model
from .adjust import ColorMap, adjust_colors
from .published import DEOLDIFY_PHOTO_RENDER_FACTOR, OURS_PHOTO_RENDER_FACTOR
from .reference import MIN_CHROMA, References, chroma_level, colorize_frames_with_references, encode_references
from .render import colorize_frames
from .steady import SteadyState, steady_frame

BACKGROUND_DIR = Path(__file__).resolve().parent / "background"   # unrelated photos for the match share

# Activation memory grows with render_factor²; the batch shrinks so one call never holds more
# than REFERENCE_BATCH frames at REFERENCE_FACTOR's size (about 1.5 GB fp32 for Stable).
REFERENCE_FACTOR = 35
REFERENCE_BATCH = 4

# Reduced precisions measured to keep the colorized output within 1 uint8 level of fp32, per
# device type (bench/bench_colorize.py; docs/bench-colorize.md).
MEASURED_AUTO = {"cpu": torch.bfloat16}


def choose_autocast(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype to use, or None for fp32."""
    wanted = autocast_dtype(device, precision)  # validates ``precision``
    if precision == "auto" and wanted is not None and MEASURED_AUTO.get(device.type) != wanted:
        return None
    return wanted


def batch_limit(render_factor: int, requested: int) -> int:
    """Frames per network call: ``requested``, lowered for large render factors (memory bound)."""
    budget = REFERENCE_BATCH * REFERENCE_FACTOR**2
    return max(1, min(int(requested), budget // (int(render_factor) ** 2)))


class ColorizeStage(StageBase):
    """uint8 RGB frames in, colorized uint8 RGB frames of the same sizes out."""

    name = "colorize"

    def __init__(
        self,
        network: nn.Module,
        render_factor: int,
        device: torch.device,
        autocast: torch.dtype | None = None,
        batch_size: int = 4,
        model_name: str = "",
        saturation: float = 1.0,
        color_maps: Sequence[ColorMap] = (),
        references: References | None = None,
        steady: float = 0.0,
    ):
        super().__init__()
        self.device = device
        self.autocast = autocast
        self.render_factor = int(render_factor)
        self.batch_size = batch_limit(render_factor, batch_size)
        # channels_last lets oneDNN/cuDNN pick their fast NHWC kernels.
        self.channels_last = True
        self.network = network.eval().to(device=device, memory_format=torch.channels_last)
        self.model_name = model_name
        self.saturation = float(saturation)
        self.color_maps = tuple(color_maps)
        if references is not None and references.render_factor != self.render_factor:
            raise ValueError(f"references encoded at render factor {references.render_factor}, "
                             f"the stage runs at {self.render_factor}")
        self.references = references
        if not 0 <= steady < 1:
            raise ValueError(f"steady {steady}: expected 0 <= steady < 1")
        self.steady = float(steady)
        self._steady_state: SteadyState | None = None
        self.frames = 0
        self.reference_frames = 0
        self.steadied_frames = 0

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.references is not None:
            out, shares = colorize_frames_with_references(
                frames, self.network, self.references, batch_size=self.batch_size,
                autocast=self.autocast, channels_last=self.channels_last,
            )
            self.reference_frames += sum(1 for w in shares if w > 0)
        else:
            out = colorize_frames(
                frames,
                self.network,
                self.render_factor,
                batch_size=self.batch_size,
                autocast=self.autocast,
                channels_last=self.channels_last,
            )
        if self.steady > 0:
            out = [self._steady_one(f, o) for f, o in zip(frames, out)]
        if self.saturation != 1.0 or self.color_maps:
            out = [adjust_colors(f, self.saturation, self.color_maps) for f in out]
        self.frames += len(out)
        return out

    @property
    def warm_start(self) -> bool:
        """The colour filter's running average starts cold at a segment otherwise (a colour jump
        2-3 times any other frame pair's: docs/steady-colours.md)."""
        return self.steady > 0

    def _steady_one(self, frame: np.ndarray, colorized: np.ndarray) -> np.ndarray:
        out, self._steady_state, held = steady_frame(frame, colorized, self._steady_state, self.steady)
        self.steadied_frames += held > 0
        return out

    def reset(self) -> None:
        self.frames = 0
        self.reference_frames = 0
        self.steadied_frames = 0
        self._steady_state = None     # a new file or segment: no colour crosses it

    def report(self) -> dict:
        return {
            "colorized_frames": self.frames,
            "colorizer": self.model_name,
            "render_factor": self.render_factor,
            "precision": "fp32" if self.autocast is None else str(self.autocast).removeprefix("torch."),
            **({"saturation": self.saturation} if self.saturation != 1.0 else {}),
            **({"color_maps": [f"#{bytes(m.source).hex()}=#{bytes(m.target).hex()}:{m.width:g}" for m in self.color_maps]}
               if self.color_maps else {}),
            # frames that took colours from the references (the others showed nothing of them)
            **({"references": list(self.references.names), "reference_frames": self.reference_frames}
               if self.references is not None else {}),
            # frames whose colours took part of the previous frames' (the rest began a shot or segment)
            **({"steady_colors": self.steady, "steadied_frames": self.steadied_frames} if self.steady > 0 else {}),
        }


def photo_render_factor(model: str) -> int:
    """The render factor photos get from ``model`` (a registry name or a checkpoint path) when the
    user names none: the registry entry's own; for a file, 21 for ours (safetensors from
    ``oldfilm train colorizer``) and DeOldify's 35 for its published ``.pth`` files."""
    if is_checkpoint_path(model):
        return OURS_PHOTO_RENDER_FACTOR if Path(model).suffix == ".safetensors" else DEOLDIFY_PHOTO_RENDER_FACTOR
    return get_model("colorize", model).photo_render_factor or DEOLDIFY_PHOTO_RENDER_FACTOR


def build_colorize_stage(opts: ColorizeOptions, run: RunOptions, is_video: bool) -> ColorizeStage:
    """The stage for ``opts.model`` (a registry name or a checkpoint path).

    Raises NoWeightsError (one line saying how to import or train) when the model is not installed;
    never falls back to random weights.
    """
    device = resolve_device(run.device)
    autocast = choose_autocast(device, run.precision)
    networks = load_model("colorize", opts.model)
    network = next(iter(networks.values())).eval().to(device)
    render_factor = opts.factor_for(is_video, photo_render_factor(opts.model))
    references = None
    if opts.references:
        references = encode_references(network, [read_reference(r) for r in opts.references], render_factor,
                                       [Path(r).name for r in opts.references], background=background_photos(),
                                       autocast=autocast)
    return ColorizeStage(
        network,
        render_factor,
        device,
        autocast=autocast,
        batch_size=run.batch_size,
        model_name=opts.model,
        saturation=opts.saturation,
        color_maps=tuple(ColorMap.parse(spec) for spec in opts.color_maps),
        references=references,
        steady=opts.steady_for(is_video),
    )


def background_photos() -> list[np.ndarray]:
    """The bundled background photos (colorize/background/, gray, uint8 RGB), sorted by name."""
    files = sorted(BACKGROUND_DIR.glob("*.jpg"))
    if not files:
        raise OldfilmError(f"{BACKGROUND_DIR}: the background photos for --reference are missing (reinstall oldfilm)")
    return [cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2RGB) for f in files]


def read_reference(path: str | Path) -> np.ndarray:
    """uint8 RGB HxWx3 of a reference image; one-line BadInputError when it cannot be read or has
    no colour to give (a black-and-white image)."""
    from ..images import read_image, to_uint8

    rgb, _ = read_image(path)
    if rgb.dtype == np.uint16:
        rgb = to_uint8(rgb)
    level = chroma_level(rgb)
    if level < MIN_CHROMA:
        raise BadInputError(path, f"no colour to take (chroma {level:.1f}, black-and-white): a reference must be "
                                  "a colour image")
    return rgb

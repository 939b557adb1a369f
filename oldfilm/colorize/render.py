"""Still-image and frame colorization with a DeOldify-style generator (colorize-spec §4, exact).

Steps: PIL BILINEAR stretch to a render_factor·16 square (aspect ignored, as DeOldify does), PIL
``'LA'`` → ``'RGB'`` gray, ImageNet normalisation, the network, denormalise, clamp, *truncate* to
uint8, PIL BILINEAR back to the input size, then the chroma of that under the full-resolution
luminance of the input (``chroma.transfer_chroma``). No watermark.

Colour and sepia inputs are colorized from their luminance: the gray conversion drops their
colour before the network sees them, and only the network's chroma reaches the output.
The network always runs at the fixed square size, so its memory does not depend on the input size.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from .chroma import transfer_chroma

RENDER_BASE = 16
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def render_size(render_factor: int) -> int:
    """Side in pixels of the square the network sees."""
    if not 1 <= int(render_factor) <= 128:
        raise ValueError(f"render_factor {render_factor}: expected 1..128")
    return int(render_factor) * RENDER_BASE


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB HxWx3 image, got shape {image.shape}")
    return np.ascontiguousarray(image)


def model_input(image: np.ndarray, render_factor: int) -> torch.Tensor:
    """float32 3×S×S ImageNet-normalised gray (3 equal channels) for uint8 RGB HxWx3 ``image``."""
    sz = render_size(render_factor)
    small = Image.fromarray(_as_rgb_uint8(image)).resize((sz, sz), Image.Resampling.BILINEAR)
    gray = np.asarray(small.convert("LA").convert("RGB"), dtype=np.float32)
    x = torch.from_numpy(gray).permute(2, 0, 1) / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std).contiguous()


def model_rgb(output: torch.Tensor) -> np.ndarray:
    """uint8 S×S×3 from one network output (3×S×S, ImageNet-normalised): denorm, clamp, truncate."""
    y = output.detach().float().cpu()
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    rgb = (y * std + mean).clamp(0, 1) * 255
    # DeOldify truncates (astype) rather than rounds; keep it for bit-exactness.
    return rgb.permute(1, 2, 0).numpy().astype(np.uint8)


def finish(image: np.ndarray, rgb_square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(raw_color, output): the render stretched back to ``image``'s size, and its chroma under
    ``image``'s luminance. Both uint8 RGB HxWx3."""
    image = _as_rgb_uint8(image)
    h, w = image.shape[:2]
    raw = np.asarray(Image.fromarray(rgb_square).resize((w, h), Image.Resampling.BILINEAR))
    return raw, transfer_chroma(image, raw)


def _network_device(network: nn.Module) -> torch.device:
    p = next(network.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def run_network(
    network: nn.Module,
    batch: torch.Tensor,
    autocast: torch.dtype | None = None,
    channels_last: bool = False,
    trunk_index: int | None = None,
):
    """Network outputs (float32, CPU) for an N×3×S×S input batch, under inference_mode. With
    ``trunk_index``: (outputs, the encoder trunk's output there), from the same pass
    (``DeOldifyUnet.forward_with_features``)."""
    device = _network_device(network)
    x = batch.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ctx = torch.autocast(device.type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        if trunk_index is None:
            return network(x).float().cpu()
        y, feats = network.forward_with_features(x, trunk_index)
        return y.float().cpu(), feats.float().cpu().contiguous()


def colorize_frames(
    frames: Sequence[np.ndarray],
    network: nn.Module,
    render_factor: int,
    batch_size: int = 4,
    autocast: torch.dtype | None = None,
    channels_last: bool = False,
) -> list[np.ndarray]:
    """Colorize uint8 RGB HxWx3 frames (any sizes) in batches of ``batch_size`` network calls.

    ``network`` must be in eval mode (train mode would update its spectral-norm state).
    """
    if network.training:
        raise ValueError("network is in train mode; call .eval() first")
    out: list[np.ndarray] = []
    for start in range(0, len(frames), max(1, int(batch_size))):
        chunk = [_as_rgb_uint8(f) for f in frames[start : start + max(1, int(batch_size))]]
        batch = torch.stack([model_input(f, render_factor) for f in chunk])
        y = run_network(network, batch, autocast=autocast, channels_last=channels_last)
        for frame, yi in zip(chunk, y):
            out.append(finish(frame, model_rgb(yi))[1])
    return out


def colorize_array(image: np.ndarray, network: nn.Module, render_factor: int) -> np.ndarray:
    """Colorize one uint8 RGB HxWx3 image (float32, exactly DeOldify's still path without watermark)."""
    return colorize_frames([image], network, render_factor, batch_size=1)[0]

"""Quality metrics as pure functions: fidelity (PSNR, SSIM), colour (CIEDE2000, colourfulness) and
temporal stability (CDC, warp error, flicker index, MABD). Definitions: docs/quality.md."""
from .color import ciede2000, colourfulness, mean_ciede2000, psnr_ab, rgb_to_lab
from .psnr_ssim import mse, psnr, ssim
from .temporal import (
    Flicker,
    cdc,
    flicker_index,
    flicker_ratio,
    mabd,
    mabd_mse,
    occlusion_mask,
    optical_flow,
    warp,
    warp_error,
)

__all__ = [
    "Flicker", "cdc", "ciede2000", "colourfulness", "flicker_index", "flicker_ratio", "mabd",
    "mabd_mse", "mean_ciede2000", "mse", "occlusion_mask", "optical_flow", "psnr", "psnr_ab",
    "rgb_to_lab", "ssim", "warp", "warp_error",
]

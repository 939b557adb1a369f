"""Chroma transfer: keep the full-resolution luminance, take colour from a low-resolution render.

DeOldify's post-process (colorize-spec §4 step 8): OpenCV uint8 ``RGB2YUV`` of both images, Y from
the original, U and V from the colorized render, then ``YUV2RGB``. 8-bit fixed point throughout,
bit-exact with the original. O(H·W) time and memory per frame.
"""
from __future__ import annotations

import cv2
import numpy as np


def transfer_chroma(luma_source: np.ndarray, chroma_source: np.ndarray) -> np.ndarray:
    """uint8 RGB HxWx3 with Y of ``luma_source`` and U,V of ``chroma_source`` (same HxW)."""
    if luma_source.shape != chroma_source.shape:
        raise ValueError(f"shape mismatch: {luma_source.shape} vs {chroma_source.shape}")
    yuv = cv2.cvtColor(np.ascontiguousarray(luma_source), cv2.COLOR_RGB2YUV)
    yuv[..., 1:] = cv2.cvtColor(np.ascontiguousarray(chroma_source), cv2.COLOR_RGB2YUV)[..., 1:]
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)

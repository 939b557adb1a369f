"""DeOldify-compatible colorization: generator family, published weights, the colorize stage.

Public API: :func:`colorize_array` (one uint8 RGB image) and :func:`colorize_frames` (batched).
Training code (``oldfilm.colorize.train``) is never imported from here.
"""
from .render import colorize_array, colorize_frames

__all__ = ["colorize_array", "colorize_frames"]

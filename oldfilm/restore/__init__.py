"""Global restoration (BOPBTL-compatible): scratch detector, VAEs, latent mapping, tiled restorer.

Networks: :mod:`.detector`, :mod:`.vae`, :mod:`.mapping` (with :mod:`.attention`);
builders ``build_detector``, ``build_vae``, ``build_mapping`` take JSON-able config dicts.
Registry entries live in :mod:`.published`; the stage in :mod:`.stage`.
"""
from .detector import ScratchDetector, build_detector
from .mapping import PatchAttentionMapping, QualityMapping, ScratchMapping, build_mapping
from .vae import VAE, build_vae

__all__ = ["ScratchDetector", "build_detector", "VAE", "build_vae", "QualityMapping", "ScratchMapping",
           "PatchAttentionMapping", "build_mapping"]

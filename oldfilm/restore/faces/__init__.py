"""Face stage: detect, align, enhance with a BOPBTL-compatible SPADE generator, blend back.

Import-light on purpose: the registry imports ``published`` (torch only); dlib and OpenCV load
only when the stage is built (``oldfilm.restore.faces.stage.build_face_stage``).
"""
from .spade import LIGHT_CONFIG, PUBLISHED_CONFIG, SpadeFaceConfig, SpadeFaceGenerator, build_face_generator

__all__ = ["LIGHT_CONFIG", "PUBLISHED_CONFIG", "SpadeFaceConfig", "SpadeFaceGenerator", "build_face_generator"]

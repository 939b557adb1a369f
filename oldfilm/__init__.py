"""oldfilm: restore and colorize old film and photographs, keeping the original sound.

Public API (imported lazily, so ``import oldfilm`` and ``oldfilm --help`` stay fast)::

    from oldfilm import Pipeline, PipelineOptions
    Pipeline(PipelineOptions()).run_photo("scan.jpg", "scan_restored.jpg")

``restore_image``, ``restore_file`` and ``colorize_file`` are one-call shortcuts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Pipeline": "oldfilm.pipeline",
    "RunResult": "oldfilm.pipeline",
    "StageChain": "oldfilm.pipeline",
    "PipelineOptions": "oldfilm.options",
    "RestoreOptions": "oldfilm.options",
    "FaceOptions": "oldfilm.options",
    "ColorizeOptions": "oldfilm.options",
    "RunOptions": "oldfilm.options",
    "EncodeOptions": "oldfilm.options",
    "JobOptions": "oldfilm.options",
    "Stage": "oldfilm.stage",
    "StageBase": "oldfilm.stage",
    "IdentityStage": "oldfilm.stage",
    "OldfilmError": "oldfilm.errors",
    "BadInputError": "oldfilm.errors",
    "OutputError": "oldfilm.errors",
    "NoWeightsError": "oldfilm.errors",
}

__all__ = sorted([*_LAZY, "restore_image", "restore_file", "colorize_file", "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from .errors import BadInputError, NoWeightsError, OldfilmError, OutputError
    from .options import (
        ColorizeOptions, EncodeOptions, FaceOptions, JobOptions, PipelineOptions, RestoreOptions, RunOptions,
    )
    from .pipeline import Pipeline, RunResult, StageChain
    from .stage import IdentityStage, Stage, StageBase


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'oldfilm' has no attribute {name!r}")


def restore_image(rgb, options=None, *, colorize: bool = False):
    """uint8/uint16 RGB HxWx3 -> restored (and optionally colorized) array of the same dtype."""
    from .options import PipelineOptions
    from .pipeline import Pipeline

    opts = options or PipelineOptions()
    if colorize:
        opts.colorize.enabled = True
    return Pipeline(opts).run_array(rgb)


def restore_file(src, dst=None, options=None, *, colorize: bool = False):
    """Restore one photo or video file to ``dst`` (default ``<stem>_restored.<ext>`` beside it)."""
    return _run_file(src, dst, options, "_restored", colorize=colorize, restore=True)


def colorize_file(src, dst=None, options=None):
    """Colorize one photo or video file to ``dst`` (default ``<stem>_colorized.<ext>`` beside it).

    A file already in colour is left alone: the result has ``skipped == "already in colour"`` and
    no output, unless ``options.colorize.recolor``."""
    return _run_file(src, dst, options, "_colorized", colorize=True, restore=False)


def _run_file(src, dst, options, suffix: str, *, colorize: bool, restore: bool):
    from pathlib import Path

    from .errors import OutputError
    from .jobs import discover
    from .options import PipelineOptions
    from .pipeline import Pipeline

    from .errors import BadInputError

    opts = options or PipelineOptions()
    opts.colorize.enabled = opts.colorize.enabled or colorize
    if not restore:
        opts.restore.enabled = False
        opts.faces.enabled = False
    if Path(src).is_dir():
        raise BadInputError(src, "a folder; use the `oldfilm` command or Pipeline for batches")
    job = discover([src], suffix=suffix)[0]
    if job.error is not None:
        raise job.error
    out = Path(dst) if dst is not None else job.dst
    if out.resolve() == Path(src).resolve() or (out.exists() and out.samefile(src)):
        raise OutputError(src, "output path is the input file itself; refusing")
    p = Pipeline(opts)
    return p.run_video(src, out) if job.kind == "video" else p.run_photo(src, out)

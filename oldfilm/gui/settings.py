"""The page's settings form (a JSON object) -> the options dataclasses the CLI also fills in.

Pure: no files are read here except what the options' own validation reads (reference images).
Every bad value raises OldfilmError with one line naming the setting, as the CLI would."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import OldfilmError
from ..options import (
    DEINTERLACE, ColorizeOptions, EncodeOptions, FaceOptions, PipelineOptions, RestoreOptions, RunOptions,
)

MODES = {"restore": "_restored", "colorize": "_colorized"}


@dataclass(frozen=True)
class JobSettings:
    """Where and how a task writes: the CLI's -o, --overwrite, --compare and the mode's suffix."""

    mode: str = "restore"               # restore or colorize
    suffix: str = "_restored"
    output_dir: Path | None = None
    overwrite: bool = False
    compare: bool = False
    segment_seconds: float = 30.0
    trial: object | None = None         # video.excerpt.Span: only that span of each video (--trial)

    @property
    def output_suffix(self) -> str:
        from ..jobs import trial_suffix

        return self.suffix + (trial_suffix(self.trial) if self.trial is not None else "")


def _bool(form: dict, key: str, default: bool | None) -> bool | None:
    v = form.get(key, default)
    if v is None or isinstance(v, bool):
        return v
    raise OldfilmError(f"setting {key}: expected true or false, got {v!r}")


def _number(form: dict, key: str, default, kind=float):
    v = form.get(key, default)
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        raise OldfilmError(f"setting {key}: expected a number, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise OldfilmError(f"setting {key}: expected a number, got {v!r}") from None
    if kind is int:
        if x != int(x):
            raise OldfilmError(f"setting {key}: expected a whole number, got {v!r}")
        return int(x)
    return x


def _strings(form: dict, key: str) -> tuple[str, ...]:
    v = form.get(key) or []
    if isinstance(v, str):
        v = v.splitlines()
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise OldfilmError(f"setting {key}: expected a list of text lines")
    return tuple(s.strip() for s in v if s.strip())


def _choice(form: dict, key: str, default: str, choices) -> str:
    v = form.get(key, default)
    if v not in choices:
        raise OldfilmError(f"setting {key}: expected one of {', '.join(choices)}, got {v!r}")
    return v


def options_from_form(form: dict[str, Any], run: RunOptions | None = None) -> tuple[PipelineOptions, JobSettings]:
    """The page's settings -> (PipelineOptions, JobSettings). ``run``: device, threads and batch
    size, which the server's own command line sets once for every task."""
    if not isinstance(form, dict):
        raise OldfilmError("settings: expected a JSON object")
    mode = _choice(form, "mode", "restore", tuple(MODES))
    colorize_only = mode == "colorize"
    colorize = True if colorize_only else bool(_bool(form, "colorize", False))
    steady = _number(form, "steady", None)
    restoring = not colorize_only and bool(_bool(form, "restore", True))
    options = PipelineOptions(
        restore=RestoreOptions(enabled=restoring,
                               scratches=_choice(form, "scratches", "auto", ("auto", "on", "off")),
                               strength=_number(form, "strength", 1.0) if restoring else 1.0),
        faces=FaceOptions(enabled=False if colorize_only else _bool(form, "faces", None),
                          strength=1.0 if colorize_only or _bool(form, "faces", None) is False
                          else _number(form, "face_strength", 1.0)),
        colorize=ColorizeOptions(
            enabled=colorize, render_factor=_number(form, "render_factor", None, int),
            saturation=_number(form, "saturation", 1.0) if colorize else 1.0,
            color_maps=_strings(form, "color_maps") if colorize else (),
            references=_strings(form, "references") if colorize else (),
            steady=steady if colorize else None,
            recolor=bool(_bool(form, "recolor", False))),
        run=replace(run or RunOptions(), deflicker=bool(_bool(form, "deflicker", False))),
        encode=EncodeOptions(codec=_choice(form, "codec", "h264", ("h264", "h265", "ffv1", "prores")),
                             crf=_number(form, "crf", 17, int),
                             deinterlace=_choice(form, "deinterlace", "auto", DEINTERLACE)),
    )
    out = form.get("output_dir") or None
    if out is not None and not isinstance(out, str):
        raise OldfilmError("setting output_dir: expected a folder path")
    trial = form.get("trial")
    if trial is not None:
        from ..video.excerpt import Span

        if not isinstance(trial, dict):
            raise OldfilmError("setting trial: expected {start, seconds}")
        start, seconds = _number(trial, "start", 0.0), _number(trial, "seconds", 10.0)
        if not (start >= 0 and seconds > 0):
            raise OldfilmError(f"setting trial: expected start >= 0 and seconds > 0, got {start:g}, {seconds:g}")
        trial = Span(start, seconds)
    job = JobSettings(mode=mode, suffix=MODES[mode], trial=trial, output_dir=Path(out).expanduser() if out else None,
                      overwrite=bool(_bool(form, "overwrite", False)), compare=bool(_bool(form, "compare", False)))
    return options, job


def preview_key(options: PipelineOptions) -> str:
    """What decides a preview's stages: the same key means the same loaded networks can serve it.
    Encoding and deflicker (whole-video steps) do not change one frame's stages."""
    o = replace(options, encode=EncodeOptions(), run=replace(options.run, deflicker=False))
    return repr(o)


def split_options(options: PipelineOptions) -> tuple[PipelineOptions | None, PipelineOptions | None]:
    """(restoration part: restore and faces, colour part: the colorizer alone), each None when
    it has nothing on. Run one after the other they are the whole chain (restore -> faces ->
    colorize), so the preview can keep the first's result while colours are tried."""
    upstream = None
    if options.restore.enabled or options.faces.enabled is not False:
        upstream = replace(options, colorize=ColorizeOptions())
    colour = None
    if options.colorize.enabled:
        colour = replace(options, restore=replace(options.restore, enabled=False, strength=1.0),
                         faces=replace(options.faces, enabled=False, strength=1.0))
    return upstream, colour

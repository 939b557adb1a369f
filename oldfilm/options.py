"""Every user-facing knob, validated, in dataclasses. The CLI only fills these in."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import BadInputError, OldfilmError

CODECS = ("h264", "h265", "ffv1", "prores")
DEINTERLACE = ("auto", "on", "off", "match", "ivtc")


@dataclass
class EncodeOptions:
    """How video is written. Audio and subtitles are always copied packet for packet."""

    codec: str = "h264"
    crf: int = 17                      # h264/h265 only
    bit_depth: int | None = None       # None: 8; 10 keeps 10-bit sources 10-bit (--bit-depth 10)
    preset: str = "medium"             # x264/x265 preset
    # auto: bwdif on frames flagged interlaced; on: on every frame; off: frames as decoded;
    # match: field matching, whole film frames from any pulldown, frame count and timestamps kept;
    # ivtc: match, then 3:2 pulldown undone: the film's own frames at 23.976 fps (video/ivtc.py)
    deinterlace: Literal["auto", "on", "off", "match", "ivtc"] = "auto"
    # B-frames (h264/h265). The runner turns them off for containers that store no presentation
    # times (AVI): there, reordered pictures come back with wrong, non-monotonic timestamps.
    reorder: bool = True

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise OldfilmError(f"--codec {self.codec}: expected one of {', '.join(CODECS)}")
        if not 0 <= self.crf <= 51:
            raise OldfilmError(f"--crf {self.crf}: expected 0..51")
        if self.bit_depth not in (None, 8, 10):
            raise OldfilmError(f"--bit-depth {self.bit_depth}: expected 8 or 10")
        if self.deinterlace not in DEINTERLACE:
            raise OldfilmError(f"--deinterlace {self.deinterlace}: expected one of {', '.join(DEINTERLACE)}")


@dataclass
class RestoreOptions:
    enabled: bool = True
    model: str = "default"                                  # registry name or checkpoint path
    scratches: Literal["auto", "on", "off"] = "auto"
    scratch_model: str = "default"
    tile: int | None = None        # tile side in px for the conv parts; None: 1024 for norm-free nets, 512 for published ones
    # share of the global restoration kept (restore/strength.py): 1 the restorer's output, 0 the
    # original with only the marked scratches repaired
    strength: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise OldfilmError(f"--strength {self.strength:g}: expected 0..1 (1 keeps the whole restoration, "
                               f"0 repairs only the marked scratches)")
        if self.strength < 1.0 and not self.enabled:
            raise OldfilmError("--strength sets how much of the restoration to keep: drop --no-restore")
        if self.strength == 0.0 and self.scratches == "off":
            raise OldfilmError("--strength 0 keeps only the scratch repairs, and --scratches off makes none: "
                               "nothing would change")


@dataclass
class FaceOptions:
    enabled: bool | None = None          # None: on when a face generator is installed
    model: str = "default"
    landmarks: Literal[5, 68] = 5        # 68 is iBUG 300-W: non-commercial licence
    min_face: int = 24                   # px; smaller faces are skipped
    # auto: cnn for photos; track for video (hog every second frame, cnn on keyframes, tracking between)
    detector: Literal["auto", "hog", "cnn", "track"] = "auto"
    keyframe_every: int = 48             # track: frames from one cnn search to the next (2 s at 24 fps)
    strength: float = 1.0                # share of the face generator's change kept (0 < S <= 1)

    def __post_init__(self) -> None:
        if not 0.0 < self.strength <= 1.0:
            raise OldfilmError(f"--face-strength {self.strength:g}: expected above 0 and at most 1 (1 keeps the whole "
                               f"enhancement; for none, use --no-faces)")
        if self.strength < 1.0 and self.enabled is False:
            raise OldfilmError("--face-strength sets how much the faces change: drop --no-faces")

    def detector_for(self, is_video: bool) -> str:
        if self.detector != "auto":
            return self.detector
        return "track" if is_video else "cnn"


# Colour-flicker filter strength for video (colorize/steady.py; docs/steady-colours.md): the share
# of a tracked pixel's colour that comes from its history. 1 would freeze a shot's first colours.
STEADY_DEFAULT = 0.9
STEADY_MAX = 0.98


@dataclass
class ColorizeOptions:
    enabled: bool = False
    model: str = "default"               # 'default', 'artistic', 'stable', 'video', or a path
    render_factor: int | None = None     # None: 21 for video; for photos the model's own (default 21, DeOldify's 35)
    recolor: bool = False                # also colorize inputs already in colour (default: leave them as they are)
    saturation: float = 1.0              # chroma of the result x this (0 grey, 1 as the model paints it)
    color_maps: tuple[str, ...] = ()     # 'FROM=TO[:WIDTH]' hue maps, in order (oldfilm/colorize/adjust.py)
    references: tuple[str, ...] = ()     # colour images (or folders of them) whose colours frames take where they match
    steady: float | None = None          # video: weight of a pixel's colour history along the motion (None: STEADY_DEFAULT; 0 off)

    def steady_for(self, is_video: bool) -> float:
        """The strength of the colour-flicker filter (colorize/steady.py): the user's, else
        STEADY_DEFAULT, for video; photos have no neighbouring frames (0)."""
        if not is_video:
            return 0.0
        return STEADY_DEFAULT if self.steady is None else float(self.steady)

    def factor_for(self, is_video: bool, photo_default: int = 35) -> int:
        """The render factor to run: the user's, else 21 for video (DeOldify's video factor), else
        ``photo_default`` (the model's own photo factor: registry entry, DeOldify's 35 by default)."""
        if self.render_factor is not None:
            return self.render_factor
        return 21 if is_video else photo_default

    def __post_init__(self) -> None:
        if self.render_factor is not None and not 1 <= self.render_factor <= 128:
            raise OldfilmError(f"--render-factor {self.render_factor}: expected 1..128")
        if not 0 <= self.saturation <= 4:
            raise OldfilmError(f"--saturation {self.saturation:g}: expected 0..4 (1 keeps the colorizer's colours)")
        if self.steady is not None and not 0 <= self.steady <= STEADY_MAX:
            raise OldfilmError(f"--steady-colors {self.steady:g}: expected 0..{STEADY_MAX:g} (0 off, default {STEADY_DEFAULT:g})")
        self.color_maps = tuple(self.color_maps)
        self.references = tuple(str(r) for r in self.references)
        if not self.enabled and (self.saturation != 1.0 or self.color_maps):
            raise OldfilmError("--saturation and --map-color change the colorizer's colours: add --colorize")
        if not self.enabled and self.steady is not None:
            raise OldfilmError("--steady-colors steadies the colorizer's colours: add --colorize")
        if not self.enabled and self.references:
            raise OldfilmError("--reference gives the colorizer its colours: add --colorize")
        self.references = expand_references(self.references)
        if self.color_maps:   # fail on a bad map before any file is opened
            from .colorize.adjust import ColorMap

            for spec in self.color_maps:
                ColorMap.parse(spec)


def expand_references(paths: tuple[str, ...]) -> tuple[str, ...]:
    """--reference values as image files: a folder gives its images (sorted, not recursive). A
    missing file or a folder without images stops the batch before any job, with its name."""
    from .images import IMAGE_EXTENSIONS

    files: list[str] = []
    for ref in paths:
        p = Path(ref)
        if p.is_dir():
            found = sorted(str(f) for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                           and not f.name.startswith("."))
            if not found:
                raise BadInputError(ref, "no reference images in this folder")
            files += found
        elif p.is_file():
            files.append(str(ref))
        else:
            raise BadInputError(ref, "no such reference image")
    return tuple(dict.fromkeys(files))


@dataclass
class RunOptions:
    device: str = "auto"                 # auto|cpu|cuda
    precision: str = "auto"              # auto|fp32|bf16|fp16
    batch_size: int = 4
    threads: int | None = None           # torch intra-op threads; None = torch default
    reuse_repeats: bool = True           # a video frame repeating the last processed one reuses its output
    deflicker: bool = False              # video: take out exposure flicker before the stages (video/deflicker.py)
    workers: int = 1                     # processes at once: a video's segments (video/workers.py), a batch's photos (photo_workers.py)


@dataclass
class JobOptions:
    output_dir: Path | None = None       # -o DIR: mirror the input tree under it
    suffix: str = "_restored"
    overwrite: bool = False
    segment_seconds: float = 30.0        # resumable video segments, cut at keyframes
    json: bool = False                   # one JSON summary line per job on stdout
    compare: bool = False                # also write <stem>_compare.<ext>
    progress: bool = True


@dataclass
class PipelineOptions:
    restore: RestoreOptions = field(default_factory=RestoreOptions)
    faces: FaceOptions = field(default_factory=FaceOptions)
    colorize: ColorizeOptions = field(default_factory=ColorizeOptions)
    run: RunOptions = field(default_factory=RunOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)

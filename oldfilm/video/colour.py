"""Which YUV<->RGB matrix and range a video uses, so decoding and encoding agree.

swscale defaults to BT.601; HD footage (>= 720 lines) and anything tagged BT.709 must use BT.709
in both directions or colours shift. The values are FFmpeg's AVColorSpace / AVColorRange ints.
"""
from __future__ import annotations

from dataclasses import dataclass

from av.video.reformatter import ColorRange, Colorspace

# AVColorSpace -> name (libavutil/pixfmt.h)
SPACE_NAMES = {0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
               8: "ycgco", 9: "bt2020nc", 10: "bt2020c"}
RANGE_NAMES = {1: "tv", 2: "pc"}


def space_name(value: int | None) -> str | None:
    return SPACE_NAMES.get(int(value)) if value is not None else None


def range_name(value: int | None) -> str | None:
    return RANGE_NAMES.get(int(value)) if value is not None else None


@dataclass(frozen=True)
class ColourPlan:
    """The matrix/range used for both RGB conversions of one video, and the tags to write."""

    matrix: Colorspace          # swscale matrix for YUV<->RGB
    range: ColorRange           # MPEG (tv, 16-235) or JPEG (pc, 0-255)
    colorspace_tag: int         # AVColorSpace written to the output
    range_tag: int              # AVColorRange written to the output
    primaries_tag: int          # copied from the input (2 = unspecified)
    trc_tag: int                # copied from the input (2 = unspecified)


def plan_colour(width: int, height: int, colorspace: int | None, color_range: int | None,
                primaries: int | None = None, trc: int | None = None, pix_fmt: str = "") -> ColourPlan:
    """Pick the matrix: the tag when the input has one, else BT.709 for HD (>= 720 lines, or
    >= 1280 wide for letterboxed HD; either orientation, so portrait phone video counts) and
    BT.601 below."""
    cs = int(colorspace) if colorspace is not None else 2
    if cs == 1:
        matrix = Colorspace.ITU709
    elif cs in (5, 6):
        matrix = Colorspace.ITU601
    elif cs == 7:
        matrix = Colorspace.SMPTE240M
    elif cs in (9, 10):
        matrix = Colorspace.BT2020
    else:
        hd = min(width, height) >= 720 or max(width, height) >= 1280
        matrix = Colorspace.ITU709 if hd else Colorspace.ITU601
        cs = 1 if matrix == Colorspace.ITU709 else 6   # tag what we used, so players agree
    rng = int(color_range) if color_range is not None else 0
    if rng not in (1, 2):
        rng = 2 if pix_fmt.startswith("yuvj") else 1
    return ColourPlan(matrix=matrix, range=ColorRange.JPEG if rng == 2 else ColorRange.MPEG,
                      colorspace_tag=cs, range_tag=rng, primaries_tag=int(primaries or 2),
                      trc_tag=int(trc or 2))


def plan_for(info) -> ColourPlan:
    """The plan of a probed video (``probe.VideoInfo``): its coded size, tags and pixel format."""
    space, rng, prim, trc = info.colour_tags
    return plan_colour(info.coded_width, info.coded_height, space, rng, prim, trc, info.pix_fmt)

"""Which metadata of a photo travels to its restored copy, and how it is written where the image
writer cannot: pure functions on bytes and values (images.py does the reading and writing).

- A TIFF's "EXIF", as Pillow reads it, is its first directory, which also says how the source's
  pixels were stored; only the tags that describe the picture travel (TIFF_DESCRIPTIVE_TAGS).
- An ICC profile travels only onto pixels of its own colour space (a grey scan's profile does not
  describe the colorized RGB pixels).
- The resolution (dpi) of a scan travels.
- OpenCV writes 16-bit PNG pixels only: the resolution, profile and EXIF are added as PNG chunks.
"""
from __future__ import annotations

import struct
import zlib

from PIL import Image

# TIFF tags that describe the picture rather than how its pixels are stored (TIFF 6.0, EXIF 2.3);
# the resolution goes separately, as ImageMeta.dpi, and the ICC profile as ImageMeta.icc.
TIFF_DESCRIPTIVE_TAGS = frozenset({
    11,     # ProcessingSoftware (oldfilm's own line, provenance.py)
    269,    # DocumentName
    270,    # ImageDescription
    271,    # Make
    272,    # Model
    274,    # Orientation
    285,    # PageName
    305,    # Software
    306,    # DateTime
    315,    # Artist
    316,    # HostComputer
    700,    # XMP
    33432,  # Copyright
    33723,  # IPTC
    34665,  # Exif IFD
    34853,  # GPS IFD
})


def dpi_of(value) -> tuple[float, float] | None:
    """Pillow's info["dpi"] as two positive floats, or None."""
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def icc_fits(icc: bytes, mode: str) -> bool:
    """Whether an ICC profile describes pixels of this Pillow mode: a CMYK source's profile does
    not fit the RGB pixels written, nor a gray scan's the colorized ones (its header's colour space)."""
    space = icc[16:20] if len(icc) >= 20 else b""
    if mode in ("L", "LA", "I;16"):
        return space == b"GRAY"
    return space == b"RGB "


def ascii_tags(exif: bytes | None) -> dict[int, str]:
    """The descriptive text tags of EXIF bytes (artist, copyright, ProcessingSoftware...)."""
    if not exif:
        return {}
    e = Image.Exif()
    try:
        e.load(exif)
    except (SyntaxError, ValueError, OSError):
        return {}
    return {t: v for t, v in e.items() if t in TIFF_DESCRIPTIVE_TAGS and isinstance(v, str) and v.isascii()}


def png_with_metadata(png: bytes, *, dpi: tuple[float, float] | None = None, exif: bytes | None = None,
                      icc: bytes | None = None) -> bytes:
    """PNG bytes with pHYs (resolution), iCCP (ICC profile) and eXIf chunks added after IHDR.
    ``exif``: as Pillow's Exif.tobytes() gives it (an "Exif\\0\\0" prefix is dropped)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not PNG bytes")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunks = b""
    if dpi:
        ppm = [max(1, round(v / 0.0254)) for v in dpi]
        chunks += _png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    if icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if exif:
        body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        chunks += _png_chunk(b"eXIf", body)
    return png[:ihdr_end] + chunks + png[ihdr_end:]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)



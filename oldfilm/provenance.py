"""What oldfilm did to a file, written into the file: a restored or colorized copy says so.

Archives keep masters and derivatives apart; a derivative that does not say what made it can be
taken for a master years later. So every output carries one line, e.g.

    oldfilm 0.1.0: restore (default, scratches auto, strength 0.5); faces (default); colorize (default, render factor 35)

in a photo's EXIF ProcessingSoftware tag (IFD0 0x000B, TIFF/EP and EXIF 2.3: "the software used to
post-process the picture", beside the scanner's own Software tag, which stays) and in a video's
container comment (after the source's own comment, if it had one). `oldfilm info` shows it, and a
job on a file that already carries it warns. Pure functions; the I/O is in images.py, video/mux.py.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import __version__

PREFIX = "oldfilm "
EXIF_TAG = 0x000B            # ProcessingSoftware


def summary(options, stages: Sequence[str], is_video: bool = False) -> str:
    """One line naming oldfilm's version and each stage that ran, with the options that shape its
    output. ``options``: a PipelineOptions; ``stages``: the names of the stages that ran; for a
    video also the whole-video steps that change frames or their timing (deflicker, field
    matching and inverse telecine)."""
    parts = []
    if is_video:
        if options.run.deflicker:
            parts.append("deflicker")
        if options.encode.deinterlace != "auto":
            parts.append(f"deinterlace {options.encode.deinterlace}")
    for name in stages:
        if name == "restore":
            r = options.restore
            bits = [r.model, f"scratches {r.scratches}"]
            if r.strength != 1.0:
                bits.append(f"strength {r.strength:g}")
            parts.append(f"restore ({', '.join(bits)})")
        elif name == "faces":
            f = options.faces
            parts.append(f"faces ({f.model}" + (f", strength {f.strength:g})" if f.strength != 1.0 else ")"))
        elif name == "colorize":
            c = options.colorize
            bits = [c.model]
            if c.render_factor is not None:
                bits.append(f"render factor {c.render_factor}")
            if c.saturation != 1.0:
                bits.append(f"saturation {c.saturation:g}")
            bits += [f"map {m}" for m in c.color_maps]
            if c.references:
                bits.append(f"{len(c.references)} reference image{'s' if len(c.references) > 1 else ''}")
            parts.append(f"colorize ({', '.join(bits)})")
        else:
            parts.append(name)
    return f"{PREFIX}{__version__}: " + "; ".join(parts)


def stamp_exif(exif: bytes | None, text: str) -> bytes:
    """EXIF bytes (as Pillow writes them) with ProcessingSoftware set to ``text``; every other tag
    of ``exif`` kept."""
    from PIL import Image

    e = Image.Exif()
    if exif:
        e.load(exif)
    e[EXIF_TAG] = text
    return e.tobytes()


def read_exif(exif: bytes | None) -> str | None:
    """The oldfilm line in EXIF bytes, or None."""
    if not exif:
        return None
    from PIL import Image

    e = Image.Exif()
    try:
        e.load(exif)
    except (SyntaxError, ValueError, OSError):
        return None
    v = e.get(EXIF_TAG)
    return v if isinstance(v, str) and v.startswith(PREFIX) else None


def stamp_comment(existing: str | None, text: str) -> str:
    """A container comment: the source's own (kept first), then the oldfilm line."""
    kept = [line for line in (existing or "").splitlines() if line.strip()]
    return "\n".join([*kept, text])


def read_comment(metadata: Mapping[str, str]) -> str | None:
    """The last oldfilm line of a container's comment (any case of the key), or None."""
    for k, v in metadata.items():
        if k.lower() == "comment":
            lines = [line for line in str(v).splitlines() if line.startswith(PREFIX)]
            if lines:
                return lines[-1]
    return None

"""Tiny test clips generated with PyAV (no fixture files): VFR + AAC, odd sizes, rotation,
10-bit, interlaced, in MKV/MP4/MOV. Shared by the tests/test_video_*.py files."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

TB = Fraction(1, 12288)
# Variable frame rate: irregular gaps, in TB ticks (24 fps would be 512 each).
VFR_PTS = [0, 512, 1024, 2048, 2560, 3072, 4608, 5120, 5632, 6144, 7680, 8192, 8704, 9216,
           10240, 10752, 11264, 11776, 12800, 13312, 13824, 14336, 15360, 15872]


def pattern(i: int, w: int, h: int) -> np.ndarray:
    """A moving, colourful uint8 RGB HxWx3 frame (smooth, so H.264 keeps it recognisable)."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1) + i * 8) % 256
    g = (y * 255 // max(h - 1, 1)) % 256
    b = np.full_like(x, (i * 23) % 256)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def make_clip(path: Path, *, w: int = 64, h: int = 48, pts: list[int] | None = None,
              tb: Fraction = TB, audio: str | None = "aac", gop: int = 6, rotation: int = 0,
              pix_fmt: str = "yuv420p", interlaced: bool = False, codec: str = "libx264",
              frames: list[np.ndarray] | None = None, matrix: str | None = None,
              sar: Fraction | None = None) -> Path:
    """Write a small clip. `pts` in `tb` ticks (VFR allowed); `gop` frames per keyframe."""
    pts = list(VFR_PTS if pts is None else pts)
    c = av.open(str(path), "w")
    vs = c.add_stream(codec, rate=24)
    vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
    vs.codec_context.time_base = tb
    vs.time_base = tb
    opts = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "2"}
    if interlaced:
        opts["x264-params"] = "interlaced=1:tff=1"
        vs.codec_context.flags |= av.codec.context.Flags.interlaced_dct
        vs.codec_context.flags |= av.codec.context.Flags.interlaced_me
    vs.options = opts
    if sar:
        vs.codec_context.sample_aspect_ratio = sar
    if rotation:
        vs.set_display_rotation(rotation)
    a = None
    if audio:
        a = c.add_stream(audio, rate=48000)
        a.layout = "mono"
    end = float((pts[-1] + 512) * tb)
    for i, p in enumerate(pts):
        img = frames[i] if frames is not None else pattern(i, w, h)
        fmt = "rgb48le" if img.dtype == np.uint16 else "rgb24"
        f = av.VideoFrame.from_ndarray(img, format=fmt)
        if matrix:   # convert here with an explicit matrix (PyAV's implicit one is BT.601)
            f = f.reformat(format=pix_fmt, dst_colorspace=matrix)
        f.pts, f.time_base, f.duration = p, tb, 512
        c.mux(vs.encode(f))
    c.mux(vs.encode(None))
    if a is not None:
        _write_tone(c, a, end)
    c.close()
    return path


def _write_tone(c, a, end: float) -> None:
    """A 440 Hz tone on audio stream `a` of container `c`, from 0 to `end` seconds."""
    n = int(end * 48000)
    t = np.arange(n) / 48000
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    fmt = a.codec_context.format.name if a.codec_context.format else "fltp"
    for k in range(0, n, 1024):
        af = av.AudioFrame.from_ndarray(samples[:, k:k + 1024].astype(np.float32) if fmt == "fltp"
                                        else (samples[:, k:k + 1024] * 32767).astype(np.int16),
                                        format=fmt if fmt in ("fltp", "s16") else "fltp", layout="mono")
        af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
        c.mux(a.encode(af))
    c.mux(a.encode(None))


def film_frames(n: int, w: int = 96, h: int = 64, seed: int = 3) -> list[np.ndarray]:
    """`n` distinct film frames (uint8 RGB): a camera panning 5 px right and 2 px down a frame
    over a smooth random scene, with a tint that changes every frame, so that moving edges
    comb wherever two frames' fields meet and each frame can be told from its neighbours."""
    rng = np.random.default_rng(seed)
    big_h, big_w = h + 2 * n + 8, w + 5 * n + 8
    coarse = rng.integers(0, 256, (big_h // 8 + 2, big_w // 8 + 2, 3)).astype(np.float32)
    scene = np.kron(coarse, np.ones((8, 8, 1), np.float32))[:big_h, :big_w]
    # a 3x3 box blur twice: soft edges, as a lens gives, but still plenty to comb
    for _ in range(2):
        pad = np.pad(scene, ((1, 1), (1, 1), (0, 0)), mode="edge")
        scene = sum(pad[dy:dy + big_h, dx:dx + big_w] for dy in range(3) for dx in range(3)) / 9
    out = []
    for i in range(n):
        img = scene[2 * i:2 * i + h, 5 * i:5 * i + w].copy()
        img[..., 2] = img[..., 2] * 0.6 + (i * 13) % 100
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


NTSC_TB = Fraction(1, 30000)     # 29.97 fps: one frame is 1001 ticks


def telecined_clip(path: Path, film: list[np.ndarray], *, gop: int = 15, audio: str | None = "aac",
                   interlaced: bool = True, crf: int = 10) -> Path:
    """Film frames at 23.976 fps telecined to 29.97 fps by 3:2 pulldown (FFmpeg's telecine
    filter, top field first) and encoded as interlaced H.264 (flagged interlaced unless
    `interlaced` is False: a progressive encode of the combed frames), with a tone."""
    from oldfilm.video.ivtc import telecine

    h, w = film[0].shape[:2]
    fields = list(telecine(film))
    c = av.open(str(path), "w")
    vs = c.add_stream("libx264", rate=Fraction(30000, 1001))
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
    vs.codec_context.time_base = vs.time_base = NTSC_TB
    opts = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "2", "crf": str(crf)}
    if interlaced:
        opts["x264-params"] = "interlaced=1:tff=1"
        vs.codec_context.flags |= av.codec.context.Flags.interlaced_dct
        vs.codec_context.flags |= av.codec.context.Flags.interlaced_me
    vs.options = opts
    a = c.add_stream(audio, rate=48000) if audio else None
    if a is not None:
        a.layout = "mono"
    for i, f in enumerate(fields):     # yuv as telecined: each field keeps its own chroma lines
        f.pts, f.time_base, f.duration = i * 1001, NTSC_TB, 1001
        c.mux(vs.encode(f))
    c.mux(vs.encode(None))
    if a is not None:
        _write_tone(c, a, float(len(fields) * 1001 * NTSC_TB))
    c.close()
    return path


def video_packets(path: Path, kind: str = "audio") -> list[tuple]:
    """(pts, dts, bytes) of every packet of the first stream of that kind."""
    with av.open(str(path)) as c:
        s = getattr(c.streams, kind)[0]
        return [(p.pts, p.dts, bytes(p)) for p in c.demux(s) if p.size]


def lossless_clip(path: Path, frames: list[np.ndarray], gop: int = 6) -> Path:
    """An FFV1 clip (RGB, lossless, no audio) of uint8 RGB `frames`, 24 fps, a keyframe every `gop`."""
    h, w = frames[0].shape[:2]
    return make_clip(path, frames=frames, codec="ffv1", pix_fmt="bgr0", audio=None, w=w, h=h, gop=gop,
                     pts=[i * 512 for i in range(len(frames))])


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame of the first video stream as uint8 RGB."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def frame_pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)]


def frame_seconds(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [float(f.pts * s.time_base) for f in c.decode(s)]

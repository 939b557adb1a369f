"""Containers and codecs people bring: each made as a small black-and-white clip with sound (a
moving bar, a 440 Hz tone), run through `oldfilm colorize`, and checked: every frame out, times
kept, the sound's packets copied, and the video start against the sound's start before and after
(for H.264 in AVI and WMV by the stored times, which FFmpeg reads one picture late, in the input
as in the output: `segments.times_are_slots`).

    .venv/bin/python bench/format_sweep.py --json docs/eval/format_sweep.json
    .venv/bin/python bench/format_sweep.py --photos --json docs/eval/format_sweep_photos.json

Writes a markdown table to stdout (docs/formats.md has it). `--photos`: 15 kinds of image file
(grey and 16-bit TIFF masters, bilevel, CMYK, palette, alpha, EXIF-rotated, multi-page...) through
`oldfilm restore --colorize --no-faces`: each output must open in Pillow with the source's size
(upright), resolution and bit depth.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.video.segments import times_are_slots  # noqa: E402
OLDFILM = [sys.executable, "-m", "oldfilm.cli"]

# name, muxer, video codec, size, fps, pixel format, audio codec, audio rate, layout, frames
CASES = [
    ("dv_pal.avi", "avi", "dvvideo", (720, 576), 25, "yuv420p", "pcm_s16le", 48000, "stereo", 25),
    ("dv_ntsc.dv", "dv", "dvvideo", (720, 480), Fraction(30000, 1001), "yuv411p", "pcm_s16le", 48000, "stereo", 30),
    ("mjpeg_capture.avi", "avi", "mjpeg", (128, 96), 16, "yuvj420p", "pcm_u8", 22050, "mono", 32),
    ("divx_mp3.avi", "avi", "mpeg4", (128, 96), 15, "yuv420p", "libmp3lame", 48000, "stereo", 30),
    ("h264_mp3.avi", "avi", "libx264", (128, 96), 24, "yuv420p", "libmp3lame", 48000, "stereo", 48),
    ("utvideo_pcm.avi", "avi", "utvideo", (128, 96), 24, "gbrp", "pcm_s16le", 48000, "stereo", 24),
    ("mpeg2_mp2.ts", "mpegts", "mpeg2video", (128, 96), 25, "yuv420p", "mp2", 48000, "stereo", 50),
    ("mpeg2_ac3.mpg", "mpeg", "mpeg2video", (128, 96), 25, "yuv420p", "ac3", 48000, "stereo", 50),
    ("mpeg1_mp2.mpg", "mpeg", "mpeg1video", (128, 96), 25, "yuv420p", "mp2", 48000, "stereo", 50),
    ("vp9_opus.webm", "webm", "libvpx-vp9", (128, 96), 24, "yuv420p", "libopus", 48000, "stereo", 48),
    ("prores_pcm24.mov", "mov", "prores_ks", (128, 96), 24, "yuv422p10le", "pcm_s24le", 48000, "stereo", 24),
    ("qtrle.mov", "mov", "qtrle", (128, 96), 24, "rgb24", None, 0, None, 24),
    ("ffv1_flac_odd.mkv", "matroska", "ffv1", (99, 67), 18, "yuv444p", "flac", 48000, "stereo", 36),
    ("h264_aac.mkv", "matroska", "libx264", (128, 96), 24, "yuv420p", "aac", 48000, "stereo", 48),
    ("hevc10_aac.mp4", "mp4", "libx265", (128, 96), 24, "yuv420p10le", "aac", 48000, "stereo", 48),
    ("h264_alac.m4v", "mp4", "libx264", (128, 96), 30, "yuv420p", "alac", 48000, "stereo", 60),
    ("flv1_mp3.flv", "flv", "flv1", (128, 96), 25, "yuv420p", "libmp3lame", 44100, "stereo", 50),
    ("wmv2_mp3.wmv", "asf", "wmv2", (128, 96), 25, "yuv420p", "libmp3lame", 44100, "stereo", 50),
    ("gif_anim.gif", "gif", "gif", (96, 64), 10, "rgb8", None, 0, None, 20),
]


def make(path: Path, fmt, vcodec, size, fps, pix, acodec, arate, layout, n) -> None:
    w, h = size
    with av.open(str(path), "w", format=fmt) as c:
        vs = c.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, pix
        a = c.add_stream(acodec, rate=arate, layout=layout) if acodec else None
        tb = 1 / Fraction(fps)
        for i in range(n):
            y = np.full((h, w), 20 + (i * 7) % 200, np.uint8)
            y[:, (i * 3) % w:(i * 3) % w + 5] = 250
            f = av.VideoFrame.from_ndarray(np.repeat(y[..., None], 3, 2), format="rgb24").reformat(format=pix)
            f.pts, f.time_base = i, tb
            c.mux(vs.encode(f))
        c.mux(vs.encode(None))
        if a is not None:
            cc = a.codec_context
            fs, total, t = cc.frame_size or 1024, int(arate * n / float(fps)), 0
            fmtname, nch = cc.format.name, cc.layout.nb_channels
            while t < total:
                k = min(fs, total - t)
                x = np.sin(2 * np.pi * 440 * np.arange(t, t + k) / arate) * 0.3
                base = fmtname.rstrip("p")
                x = {"s16": lambda v: (v * 32767).astype(np.int16), "s32": lambda v: (v * 2**31 * 0.99).astype(np.int32),
                     "u8": lambda v: ((v + 1) * 127).astype(np.uint8), "dbl": lambda v: v.astype(np.float64)
                     }.get(base, lambda v: v.astype(np.float32))(x)
                arr = np.stack([x] * nch) if fmtname.endswith("p") else np.repeat(x[None, :], nch, 0).T.reshape(1, -1)
                af = av.AudioFrame.from_ndarray(arr, format=fmtname, layout=cc.layout.name)
                af.sample_rate, af.pts, af.time_base = arate, t, Fraction(1, arate)
                c.mux(a.encode(af))
                t += k
            c.mux(a.encode(None))


def describe(path: Path) -> dict:
    """Frames, video start (s) and sound start (s) as stored; sound packets' bytes."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        slots = times_are_slots(c.format.name, v.codec_context.name)
        packets = [p for p in c.demux(v) if p.size]
        times = [(p.dts if slots else p.pts) for p in packets]
        times = [t for t in times if t is not None]
        start = float(min(times) * v.time_base) if times else None
        codec = v.codec_context.name
    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    sound, sound_start, acodec = [], None, None
    with av.open(str(path)) as c:
        if c.streams.audio:
            s = c.streams.audio[0]
            acodec = s.codec_context.name
            for p in c.demux(s):
                if p.size:
                    sound.append(bytes(p))
                    if sound_start is None and p.pts is not None:
                        sound_start = float(p.pts * p.time_base)
    return {"container": path.suffix.lstrip("."), "video": codec, "audio": acodec, "frames": frames,
            "video_start": start, "sound_start": sound_start, "sound": sound}


def make_photos(d: Path) -> None:
    from PIL import Image

    g = (np.linspace(0, 255, 96)[None, :] * np.ones((72, 1))).astype(np.uint8)
    g[30:34, :] = 255
    rgb = np.repeat(g[..., None], 3, 2)
    g16 = Image.frombytes("I;16", (96, 72), (g.astype(np.uint16) * 257).astype("<u2").tobytes())
    dpi = {"dpi": (600, 600)}
    Image.fromarray(g, "L").save(d / "grey_lzw.tif", compression="tiff_lzw", **dpi)
    g16.save(d / "grey16_master.tif", **dpi)
    g16.save(d / "grey16.png", **dpi)
    Image.fromarray(g, "L").convert("1").save(d / "bilevel.tif", **dpi)
    Image.fromarray(g, "L").save(d / "grey.jpg", **dpi)
    Image.fromarray(rgb).convert("CMYK").save(d / "cmyk.jpg", **dpi)
    Image.fromarray(rgb).save(d / "progressive.jpg", progressive=True)
    Image.fromarray(rgb).convert("P").save(d / "palette.png")
    Image.fromarray(g, "L").convert("LA").save(d / "grey_alpha.png")
    Image.fromarray(np.dstack([rgb, np.full((72, 96), 200, np.uint8)]), "RGBA").save(d / "rgba.webp")
    Image.fromarray(rgb).save(d / "plain.bmp")
    im = Image.fromarray(rgb)
    ex = im.getexif()
    ex[0x0112] = 6
    im.save(d / "rotated.jpg", exif=ex.tobytes())
    Image.fromarray(rgb).save(d / "two_pages.tif", save_all=True, append_images=[Image.fromarray(255 - rgb)])
    Image.fromarray(rgb[:5, :7]).save(d / "five_by_seven.png")
    Image.fromarray(rgb).save(d / "animated.webp", save_all=True, append_images=[Image.fromarray(255 - rgb)])


def _floats(v):
    return None if v is None else [float(x) for x in v]


def photo_rows(tmp: Path) -> list[dict]:
    from PIL import Image, ImageOps

    src_dir, out_dir = tmp / "photos", tmp / "photos_out"
    src_dir.mkdir()
    make_photos(src_dir)
    r = subprocess.run([*OLDFILM, "restore", str(src_dir), "-o", str(out_dir), "--colorize", "--no-faces",
                        "--json", "-q"], capture_output=True, text=True, cwd=REPO)
    recs = {Path(json.loads(line)["input"]).name: json.loads(line) for line in r.stdout.splitlines() if line.strip()}
    rows = []
    for f in sorted(src_dir.iterdir()):
        rec = recs.get(f.name, {})
        with Image.open(f) as a:
            upright = ImageOps.exif_transpose(a).size
            row = {"input": f.name, "mode": a.mode, "size": list(upright), "dpi": _floats(a.info.get("dpi")),
                   "pages": getattr(a, "n_frames", 1), "status": rec.get("status"), "warnings": rec.get("warnings")}
        try:
            with Image.open(rec["output"]) as b:
                b.load()
                row.update(out_mode=b.mode, out_size=list(b.size), out_dpi=_floats(b.info.get("dpi")),
                           out_pages=getattr(b, "n_frames", 1), readable=True)
        except Exception as e:          # noqa: BLE001 - any failure to open is the finding
            row.update(readable=False, error=f"{type(e).__name__}: {e}")
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", action="store_true", help="image files instead of videos")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.photos:
        with tempfile.TemporaryDirectory() as tmp:
            rows = photo_rows(Path(tmp))
        print("| input | mode, size, dpi, pages | output opens | output mode, size, dpi, pages | note |")
        print("| --- | --- | --- | --- | --- |")
        for r in rows:
            dpi = "–" if r["dpi"] is None else f"{round(float(r['dpi'][0]))}"
            odpi = "–" if r.get("out_dpi") is None else f"{round(float(r['out_dpi'][0]))}"
            out = (f"{r['out_mode']}, {r['out_size'][0]}x{r['out_size'][1]}, {odpi}, {r['out_pages']}"
                   if r["readable"] else r["error"])
            print(f"| {r['input']} | {r['mode']}, {r['size'][0]}x{r['size'][1]}, {dpi}, {r['pages']} | "
                  f"{'yes' if r['readable'] else '**no**'} | {out} | {'; '.join(r['warnings'] or [])} |")
        if args.json:
            args.json.write_text(json.dumps({"command": "bench/format_sweep.py --photos", "rows": rows}, indent=1) + "\n")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, *spec in CASES:
            src = tmp / name
            make(src, *spec)
            r = subprocess.run([*OLDFILM, "colorize", str(src), "--recolor", "-o", str(tmp / "out"), "--json", "-q"],
                               capture_output=True, text=True, cwd=REPO)
            row = {"input": name, "exit": r.returncode}
            a = describe(src)
            row.update(in_video=a["video"], in_audio=a["audio"], in_frames=a["frames"])
            if r.returncode == 0:
                rec = json.loads(r.stdout.strip().splitlines()[-1])
                b = describe(Path(rec["output"]))
                offset = None
                if a["sound_start"] is not None and b["sound_start"] is not None:
                    before = a["video_start"] - a["sound_start"]
                    after = b["video_start"] - b["sound_start"]
                    offset = round((after - before) * 1000, 1)
                row.update(output=Path(rec["output"]).name, out_video=b["video"], out_frames=b["frames"],
                           sound_copied=a["sound"] == b["sound"], av_offset_change_ms=offset,
                           warnings=rec.get("warnings", []))
            else:
                row["error"] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| input | video, audio | output | frames in → out | sound packets copied | A/V offset change | note |")
    print("| --- | --- | --- | --- | --- | ---: | --- |")
    for r in rows:
        if r["exit"] != 0:
            print(f"| {r['input']} | {r['in_video']}, {r['in_audio'] or '–'} | failed | | | | {r.get('error', '')} |")
            continue
        note = "; ".join(r["warnings"])
        sound = "–" if r["in_audio"] is None else ("yes" if r["sound_copied"] else "**no**")
        off = "–" if r["av_offset_change_ms"] is None else f"{r['av_offset_change_ms']:g} ms"
        print(f"| {r['input']} | {r['in_video']}, {r['in_audio'] or '–'} | {r['output']} ({r['out_video']}) | "
              f"{r['in_frames']} → {r['out_frames']} | {sound} | {off} | {note} |")
    if args.json:
        args.json.write_text(json.dumps({"command": "bench/format_sweep.py", "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

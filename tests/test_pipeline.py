"""oldfilm.Pipeline: stage order, arrays (8 and 16 bit), photos, videos, progress bars."""
from __future__ import annotations

import io
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import oldfilm
from oldfilm.errors import OldfilmError
from oldfilm.options import FaceOptions, PipelineOptions
from oldfilm.pipeline import Pipeline, StageChain, build_stages
from oldfilm.progress import Progress
from oldfilm.stage import IdentityStage, StageBase


class AddStage(StageBase):
    """Adds ``k`` (saturating), and records the order it ran in."""

    def __init__(self, k: int, log: list | None = None, name: str = "add"):
        super().__init__()
        self.k, self.log, self.name = k, log, name
        self.frames_seen = 0

    def __call__(self, frames):
        if self.log is not None:
            self.log.append(self.name)
        self.frames_seen += len(frames)
        return [np.clip(f.astype(np.int16) + self.k, 0, 255).astype(np.uint8) for f in frames]

    def reset(self):
        self.frames_seen = 0

    def report(self):
        return {f"{self.name}_frames": self.frames_seen}


def test_public_api_is_lazy_and_complete():
    assert oldfilm.Pipeline is Pipeline
    assert oldfilm.PipelineOptions is PipelineOptions
    for name in ("restore_image", "restore_file", "colorize_file", "IdentityStage", "OldfilmError"):
        assert hasattr(oldfilm, name)


def test_run_array_uint8_and_gray():
    p = Pipeline(stages=[AddStage(3)])
    rgb = np.random.default_rng(0).integers(0, 250, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(p.run_array(rgb), rgb + 3)
    gray = rgb[..., 0]
    out = p.run_array(gray)
    assert out.shape == (5, 7, 3) and np.array_equal(out[..., 1], gray + 3)


def test_run_array_uint16_keeps_precision_and_carries_the_change():
    rgb16 = np.random.default_rng(1).integers(0, 60000, (6, 4, 3), dtype=np.uint16)
    assert np.array_equal(Pipeline(stages=[IdentityStage()]).run_array(rgb16), rgb16)   # bit-exact
    out = Pipeline(stages=[AddStage(2)]).run_array(rgb16)
    assert out.dtype == np.uint16 and np.array_equal(out.astype(np.int64), rgb16.astype(np.int64) + 2 * 257)


def test_run_array_rejects_other_shapes_and_types():
    p = Pipeline(stages=[IdentityStage()])
    with pytest.raises(OldfilmError, match="HxWx3"):
        p.run_array(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(OldfilmError, match="float32"):
        p.run_array(np.zeros((4, 4, 3), np.float32))


def test_chain_runs_in_order_and_sums_reports_across_resets():
    log: list = []
    chain = StageChain([AddStage(1, log, "restore"), AddStage(1, log, "faces"), AddStage(1, log, "colorize")])
    chain.start_job()
    chain([np.zeros((2, 2, 3), np.uint8)] * 3)
    chain.reset()                        # the runner resets at every segment
    chain([np.zeros((2, 2, 3), np.uint8)] * 2)
    assert log == ["restore", "faces", "colorize"] * 2
    names = ("restore", "faces", "colorize")      # report "<name>_frames": counters
    assert chain.report() == {f"{n}_frames": 2 for n in names}     # per reset, as the Stage protocol says
    assert chain.job_report() == {f"{n}_frames": 5 for n in names}
    chain.start_job()
    assert chain.job_report() == {f"{n}_frames": 0 for n in names}


def test_settings_in_reports_are_not_summed_over_segments():
    class Reports(StageBase):
        name = "colorize"

        def report(self):
            return {"colorized_frames": 4, "render_factor": 21, "colorizer": "default", "faces": 1}

        def __call__(self, frames):
            return list(frames)

    chain = StageChain([Reports()])
    chain.start_job()
    chain.reset()
    chain.reset()
    assert chain.job_report() == {"colorized_frames": 12, "render_factor": 21, "colorizer": "default", "faces": 3}


@pytest.fixture
def fake_stage_modules(monkeypatch):
    """Stand-in builder modules with the contracted signatures; records each call."""
    calls: list = []

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)

    module("oldfilm.restore.stage",
           build_restore_stage=lambda opts, run: calls.append(("restore", opts.scratches)) or AddStage(1, name="restore"))
    state = {"face": True}
    module("oldfilm.restore.faces.stage",
           build_face_stage=lambda opts, run, is_video, after_restorer: calls.append(("faces", opts.enabled, is_video, after_restorer))
           or (AddStage(1, name="faces") if state["face"] else None))
    module("oldfilm.colorize.stage",
           build_colorize_stage=lambda opts, run, is_video: calls.append(("colorize", is_video)) or AddStage(1, name="colorize"))
    return calls, state


def test_build_stages_order_and_switches(fake_stage_modules):
    calls, state = fake_stage_modules
    o = PipelineOptions()
    o.colorize.enabled = True
    assert [s.name for s in build_stages(o, True)] == ["restore", "faces", "colorize"]
    assert calls == [("restore", "auto"), ("faces", None, True, True), ("colorize", True)]
    state["face"] = False                # no face generator installed: silently no face stage
    assert [s.name for s in build_stages(o, False)] == ["restore", "colorize"]
    o.restore.enabled = False            # the face stage is told it gets unrestored frames
    calls.clear()
    assert [s.name for s in build_stages(o, False)] == ["colorize"]
    assert calls == [("faces", None, False, False), ("colorize", False)]
    o.restore.enabled = True
    o.faces = FaceOptions(enabled=False)
    o.restore.enabled = False
    calls.clear()
    assert [s.name for s in build_stages(o, False)] == ["colorize"]
    assert calls == [("colorize", False)]


def test_photo_and_video_get_their_own_chain(fake_stage_modules):
    calls, _ = fake_stage_modules
    o = PipelineOptions()
    o.restore.enabled = False
    o.faces.enabled = False
    o.colorize.enabled = True
    p = Pipeline(o)
    p.prepare(photos=True, videos=True)
    p.chain(False), p.chain(True)
    assert calls == [("colorize", False), ("colorize", True)]          # built once each


def test_nothing_to_do_is_one_line():
    o = PipelineOptions()
    o.restore.enabled = False
    o.faces.enabled = False
    with pytest.raises(OldfilmError, match="nothing to do"):
        Pipeline(o).run_array(np.zeros((2, 2, 3), np.uint8))


def test_missing_stage_module_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "oldfilm.colorize.stage", None)     # import of it fails
    o = PipelineOptions()
    o.restore.enabled = False
    o.faces.enabled = False
    o.colorize.enabled = True
    with pytest.raises((OldfilmError, ImportError)):
        build_stages(o, False)


def test_run_photo_16bit_png_round_trip(tmp_path):
    import cv2

    rgb16 = np.random.default_rng(2).integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    src = tmp_path / "scan.png"
    cv2.imwrite(str(src), rgb16[..., ::-1])
    res = Pipeline(stages=[IdentityStage()]).run_photo(src, tmp_path / "scan_restored.png")
    assert res.frames == 1 and res.output == tmp_path / "scan_restored.png"
    back = cv2.imread(str(res.output), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert back.dtype == np.uint16 and np.array_equal(back, rgb16)


def test_run_photo_keeps_format_and_size(tmp_path):
    src = tmp_path / "p.jpg"
    Image.fromarray(np.full((13, 17, 3), 100, np.uint8)).save(src)
    res = Pipeline(stages=[AddStage(50)]).run_photo(src, tmp_path / "p_restored.jpg")
    with Image.open(res.output) as im:
        assert im.format == "JPEG" and im.size == (17, 13)
        assert abs(float(np.asarray(im).mean()) - 150) < 2


def test_progress_bar_shows_frames_fps_and_eta():
    buf = io.StringIO()
    bars = Progress(2, enabled=True, stream=buf, mininterval=0)
    bars.start_job("reel.mp4")
    for done in (10, 20, 40):
        bars.frames(done, 40)
    bars.end_job()
    bars.close()
    text = buf.getvalue()
    assert "[1/2] reel.mp4" in text and "40/40" in text and "frame/s" in text and "<" in text   # rate, ETA


def test_progress_off_prints_nothing():
    buf = io.StringIO()
    bars = Progress(1, enabled=False, stream=buf)
    bars.start_job("x")
    bars.frames(5, 10)
    bars.end_job()
    bars.close()
    assert buf.getvalue() == ""


# -- video through the real runner ---------------------------------------------------------------

def make_clip(path: Path, frames: int = 12, size=(64, 48), fps: int = 12, audio: bool = True,
              grey: bool = False) -> Path:
    """A tiny H.264 clip (moving gradient, red-green or grey) with an AAC tone, written with PyAV."""
    import av

    w, h = size
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"preset": "ultrafast", "g": "4"}
        a = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        for i in range(frames):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = (np.arange(w) * 4 + i * 9) % 256
            img[..., 1] = img[..., 0] if grey else 80
            if grey:
                img[..., 2] = img[..., 0]
            for pkt in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in v.encode():
            out.mux(pkt)
        if a is not None:
            n = int(16000 * frames / fps)
            t = np.arange(n) / 16000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            for start in range(0, n, 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]), format="fltp",
                                                layout="mono")
                fr.sample_rate = 16000
                for pkt in a.encode(fr):
                    out.mux(pkt)
            for pkt in a.encode():
                out.mux(pkt)
    return path


def test_run_video_through_the_runner(tmp_path):
    import av

    src = make_clip(tmp_path / "clip.mp4")
    seen: list = []
    stage = AddStage(0)
    res = Pipeline(stages=[stage]).run_video(src, tmp_path / "clip_restored.mp4", on_progress=lambda d, t: seen.append(d))
    assert res.frames == 12 and Path(res.output).is_file()
    assert seen and seen[-1] == 12
    assert not (tmp_path / ".clip_restored.mp4.oldfilm").exists()       # work dir gone once complete
    with av.open(str(res.output)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]


@pytest.fixture(scope="module")
def tiny_colorizer(tmp_path_factory) -> Path:
    """A small member of the colorizer family with seeded random weights: plumbing only, never shipped."""
    import torch

    from oldfilm import weights as W
    from oldfilm.colorize.generator import ARCH_NAME, build_generator

    torch.manual_seed(0)
    cfg = {"unet": "wide", "encoder": "resnet18", "nf_factor": 0.25, "wide_base": 64, "middle_mult": 1}
    path = tmp_path_factory.mktemp("ckpt") / "tiny-colorizer.safetensors"
    W.save_builtin(build_generator(cfg), ARCH_NAME, cfg, path)
    return path


def test_real_colorize_stage_through_the_cli(tmp_path, tiny_colorizer, capsys):
    """The real builder and stage, wired by the CLI: a photo and a clip with audio."""
    import json

    import av

    from oldfilm.cli import main

    photo = tmp_path / "old.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (24, 40), dtype=np.uint8)).convert("RGB").save(photo)
    clip = make_clip(tmp_path / "old.mp4", frames=4, grey=True)
    code = main(["colorize", str(photo), str(clip), "--colorizer", str(tiny_colorizer), "--render-factor", "2",
                 "--device", "cpu", "--json", "-q"])
    recs = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert code == 0, recs
    assert [r["status"] for r in recs] == ["done", "done"]
    assert recs[0]["stages"]["colorized_frames"] == 1 and recs[1]["stages"]["colorized_frames"] == 4
    with Image.open(tmp_path / "old_colorized.png") as im:
        assert im.size == (40, 24)
    def audio_bytes_and_video_pts(path):
        with av.open(str(path)) as c:
            audio = [bytes(p) for p in c.demux(audio=0) if p.size]
        with av.open(str(path)) as c:
            pts = sorted(f.pts * f.time_base for f in c.decode(video=0))
        return audio, pts

    with av.open(str(tmp_path / "old_colorized.mp4")) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
    a_in, pts_in = audio_bytes_and_video_pts(clip)
    a_out, pts_out = audio_bytes_and_video_pts(tmp_path / "old_colorized.mp4")
    assert a_out == a_in and len(a_in) > 0          # audio copied bit-exact
    assert pts_out == pts_in and len(pts_in) == 4   # same frames, same timestamps


def test_one_call_api(tmp_path, monkeypatch):
    import oldfilm.pipeline as pipeline_mod
    from oldfilm.errors import OutputError

    seen = []
    monkeypatch.setattr(pipeline_mod, "build_stages", lambda o, v: seen.append(o) or [AddStage(1)])
    src = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(src)
    res = oldfilm.colorize_file(src)
    assert res.output == tmp_path / "a_colorized.png" and seen[-1].colorize.enabled and not seen[-1].restore.enabled
    assert np.asarray(Image.open(res.output)).max() == 1
    assert oldfilm.restore_file(src).output == tmp_path / "a_restored.png"
    with pytest.raises(OutputError):
        oldfilm.restore_file(src, src)
    assert oldfilm.restore_image(np.zeros((2, 2, 3), np.uint8)).max() == 1


# -- colour inputs keep their colours -----------------------------------------------------------

def _colour_photo() -> np.ndarray:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, :16] = (200, 40, 40)
    rgb[:, 16:32] = (40, 180, 60)
    rgb[:, 32:] = (50, 70, 210)
    return rgb


def _sepia_photo() -> np.ndarray:
    g = np.tile(np.linspace(20, 230, 48, dtype=np.float32), (32, 1))
    return np.clip(np.stack([g * 1.0, g * 0.85, g * 0.65], -1), 0, 255).astype(np.uint8)


def test_colour_photo_is_restored_but_not_colorized(tmp_path):
    from oldfilm.pipeline import NOT_COLORIZED

    log: list = []
    stages = [AddStage(1, log, "restore"), AddStage(1, log, "colorize")]
    for name, rgb, expect in (("colour", _colour_photo(), ["restore"]), ("sepia", _sepia_photo(), ["restore", "colorize"])):
        src = tmp_path / f"{name}.png"
        Image.fromarray(rgb).save(src)
        log.clear()
        res = Pipeline(stages=stages).run_photo(src, tmp_path / f"{name}_out.png")
        assert log == expect and res.stages == expect
        assert (NOT_COLORIZED in res.warnings) == (name == "colour")
        out = np.asarray(Image.open(res.output))
        assert np.array_equal(out.astype(int), np.clip(rgb.astype(int) + len(expect), 0, 255))


def test_recolor_colorizes_a_colour_photo_and_colorize_only_skips_it(tmp_path):
    from oldfilm.options import ColorizeOptions

    src = tmp_path / "colour.png"
    Image.fromarray(_colour_photo()).save(src)
    log: list = []
    opts = PipelineOptions(colorize=ColorizeOptions(recolor=True))
    res = Pipeline(opts, stages=[AddStage(1, log, "colorize")]).run_photo(src, tmp_path / "a.png")
    assert log == ["colorize"] and res.skipped is None and not res.warnings

    log.clear()
    res = Pipeline(stages=[AddStage(1, log, "colorize")]).run_photo(src, tmp_path / "b.png")
    assert log == [] and res.skipped == "already in colour" and res.output is None
    assert not (tmp_path / "b.png").exists()


def test_colour_video_is_not_colorized_and_a_grey_one_is(tmp_path):
    log: list = []
    p = Pipeline(stages=[AddStage(0, log, "colorize")])
    res = p.run_video(make_clip(tmp_path / "colour.mp4", frames=4), tmp_path / "colour_out.mp4")
    assert res.skipped == "already in colour" and log == [] and not (tmp_path / "colour_out.mp4").exists()
    res = p.run_video(make_clip(tmp_path / "grey.mp4", frames=4, grey=True), tmp_path / "grey_out.mp4")
    assert res.skipped is None and res.frames == 4 and log


def test_cli_reports_a_colour_file_as_skipped_with_the_reason(tmp_path, tiny_colorizer, capsys):
    import json

    from oldfilm.cli import main

    Image.fromarray(_colour_photo()).save(tmp_path / "colour.png")
    Image.fromarray(_sepia_photo()).save(tmp_path / "sepia.png")
    args = ["colorize", str(tmp_path / "colour.png"), str(tmp_path / "sepia.png"), "--colorizer", str(tiny_colorizer),
            "--render-factor", "2", "--device", "cpu"]
    assert main([*args, "--json", "-q"]) == 0
    recs = {Path(r["input"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert recs["colour.png"]["status"] == "skipped" and recs["colour.png"]["reason"] == "already in colour"
    assert recs["colour.png"]["output"] is None and recs["sepia.png"]["status"] == "done"
    assert not (tmp_path / "colour_colorized.png").exists()

    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"skipped: already in colour: {tmp_path / 'colour.png'} (--recolor colorizes it anyway)" in out
    assert "skipped: exists" in out                                   # sepia's output from the first run
    assert main([*args, "--recolor", "-q"]) == 0
    assert (tmp_path / "colour_colorized.png").exists()

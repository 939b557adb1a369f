"""`oldfilm gui`: settings -> options, the preview frame, the task queue (cancel, resume, skip,
failures) and the HTTP API's guards, with stub stages on 64 px files."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from oldfilm.errors import OldfilmError
from oldfilm.gui.preview import Previewer, crop_around, fit_within
from oldfilm.gui.server import App, make_server
from oldfilm.gui.settings import JobSettings, options_from_form, preview_key
from oldfilm.gui.tasks import TaskQueue
from oldfilm.options import RunOptions
from oldfilm.pipeline import Pipeline
from oldfilm.stage import StageBase
from oldfilm.video.decode import timed_frames
from oldfilm.video.still import frame_at

from video_clips import decoded, make_clip


class AddStage(StageBase):
    """Adds 40 (saturating); optionally slow, so a task can be cancelled part way."""

    name = "add"

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.delay = delay

    def __call__(self, frames):
        time.sleep(self.delay)
        return [np.clip(f.astype(np.int16) + 40, 0, 255).astype(np.uint8) for f in frames]


def _photo(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 3, y * 4, np.full_like(x, 90 + seed)], -1).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


# -- settings ----------------------------------------------------------------------------------

def test_settings_map_onto_the_cli_options():
    o, job = options_from_form({}, RunOptions(threads=2))
    assert o.restore.enabled and not o.colorize.enabled and o.faces.enabled is None
    assert o.run.threads == 2 and job.suffix == "_restored" and job.output_dir is None
    o, job = options_from_form({"mode": "colorize", "saturation": 1.3, "render_factor": 18, "steady": 0.5,
                                "color_maps": ["blue=red", " "], "faces": True, "output_dir": "~/out"})
    assert not o.restore.enabled and o.faces.enabled is False and o.colorize.enabled
    assert (o.colorize.saturation, o.colorize.render_factor, o.colorize.steady) == (1.3, 18, 0.5)
    assert o.colorize.color_maps == ("blue=red",) and job.suffix == "_colorized" and job.mode == "colorize"
    assert job.output_dir == Path("~/out").expanduser()
    # Colour settings left over in the form do not matter while colorizing is off.
    o, _ = options_from_form({"mode": "restore", "colorize": False, "saturation": 2, "references": ["/nope.png"]})
    assert not o.colorize.enabled and o.colorize.saturation == 1.0 and o.colorize.references == ()
    o, _ = options_from_form({"deinterlace": "ivtc", "codec": "ffv1"})
    assert (o.encode.deinterlace, o.encode.codec) == ("ivtc", "ffv1")


@pytest.mark.parametrize("form, words", [
    ({"mode": "paint"}, "setting mode"),
    ({"mode": "colorize", "saturation": 9}, "--saturation 9"),
    ({"mode": "colorize", "render_factor": "many"}, "setting render_factor"),
    ({"mode": "colorize", "render_factor": 20.5}, "whole number"),
    ({"mode": "colorize", "color_maps": ["blue=nocolour"]}, "nocolour"),
    ({"mode": "colorize", "references": ["/no/such/ref.png"]}, "/no/such/ref.png"),
    ({"scratches": "sometimes"}, "setting scratches"),
    ({"faces": "yes"}, "setting faces"),
    ({"crf": 99}, "--crf 99"),
    ({"deinterlace": "weave"}, "setting deinterlace"),
])
def test_bad_settings_are_one_line(form, words):
    with pytest.raises(OldfilmError) as e:
        options_from_form(form)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_preview_key_ignores_whole_video_steps():
    a, _ = options_from_form({"codec": "h264"})
    b, _ = options_from_form({"codec": "ffv1", "crf": 3, "deflicker": True})
    c, _ = options_from_form({"scratches": "on"})
    assert preview_key(a) == preview_key(b) != preview_key(c)


# -- the preview frame --------------------------------------------------------------------------

def test_frame_at_gives_the_frame_shown_at_that_time(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", audio=None, gop=4)
    times = [t for t, _ in timed_frames(clip)]
    frames = decoded(clip)
    t0 = times[0]
    for k in (0, 5, len(times) - 1):
        for dt in (0.0, 0.3 * (times[min(k + 1, len(times) - 1)] - times[k])):
            shown, rgb = frame_at(clip, times[k] - t0 + dt)
            assert shown == pytest.approx(times[k] - t0) and np.array_equal(rgb, frames[k])
    shown, rgb = frame_at(clip, 1e6)        # past the end: the last frame
    assert np.array_equal(rgb, frames[-1])


def test_crop_around_stays_inside_the_frame():
    a = np.arange(100 * 300 * 3, dtype=np.int32).reshape(100, 300, 3)
    win, box = crop_around(a, 0.5, 0.5, 64)
    assert box == (118, 18, 182, 82) and np.array_equal(win, a[18:82, 118:182])
    assert crop_around(a, 1.0, 0.0, 64)[1] == (236, 0, 300, 64)
    assert crop_around(a, 0.2, 0.9, 500)[1] == (0, 0, 300, 100)


class CountingStage(StageBase):
    def __init__(self, name: str, k: int, calls: dict):
        super().__init__()
        self.name, self.k, self.calls = name, k, calls

    def __call__(self, frames):
        self.calls[self.name] = self.calls.get(self.name, 0) + 1
        return [np.clip(f.astype(np.int16) + self.k, 0, 255).astype(np.uint8) for f in frames]


def test_a_colour_change_does_not_restore_again(tmp_path):
    """Restoration and colour run as two pipelines; the restored frame is kept, so a colour
    setting re-runs only the colorizer, and the result is the whole chain's."""
    calls: dict = {}

    def pipeline(options):
        if options.colorize.enabled:
            assert not options.restore.enabled and options.faces.enabled is False
            return Pipeline(options, stages=[CountingStage("colorize", 10, calls)])
        return Pipeline(options, stages=[CountingStage("restore", 40, calls)])

    gray = np.repeat(np.linspace(20, 180, 48 * 64).reshape(48, 64, 1), 3, 2).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    pv = Previewer(pipeline, max_side=64)
    a = pv.render(tmp_path / "g.png", options_from_form({"colorize": True})[0])
    assert a.stages == ["restore", "colorize"] and np.array_equal(a.after, np.clip(gray.astype(int) + 50, 0, 255))
    pv.render(tmp_path / "g.png", options_from_form({"colorize": True, "saturation": 1.3})[0])
    pv.render(tmp_path / "g.png", options_from_form({"colorize": True, "render_factor": 12})[0])
    assert calls == {"restore": 1, "colorize": 3}
    pv.render(tmp_path / "g.png", options_from_form({"colorize": True, "scratches": "on"})[0])
    assert calls == {"restore": 2, "colorize": 4}
    # A colour photo is not colorized, as in a job, and says so.
    _photo(tmp_path / "c.png")
    c = pv.render(tmp_path / "c.png", options_from_form({"colorize": True})[0])
    assert c.stages == ["restore"] and c.warnings and calls["colorize"] == 4
    c = pv.render(tmp_path / "c.png", options_from_form({"colorize": True, "recolor": True})[0])
    assert c.stages == ["restore", "colorize"]
    c = pv.render(tmp_path / "c.png", options_from_form({"mode": "colorize"})[0])
    assert c.stages == [] and "a job skips this file" in c.warnings[0] and np.array_equal(c.after, c.before)


def test_fit_within_scales_only_down():
    a = np.zeros((100, 300, 3), np.uint8)
    assert fit_within(a, 150).shape == (50, 150, 3)
    assert fit_within(a, 400) is a


# -- the server --------------------------------------------------------------------------------

@pytest.fixture
def gui(tmp_path):
    """A running server with stub stages: (base url, token, app, start folder)."""
    root = tmp_path / "box"
    root.mkdir()
    made = []

    def pipeline(options):
        made.append(options)
        return Pipeline(options, stages=[AddStage(getattr(pipeline, "delay", 0.0))])

    app = App(token="t0ken", root=root, run=RunOptions(), previewer=Previewer(pipeline, max_side=32),
              queue=TaskQueue(pipeline))
    server = make_server(app, "127.0.0.1", 0)
    th = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, app, root, pipeline
    server.shutdown()
    server.server_close()
    app.queue.close(timeout=10)


def call(base, path, body=None, token="t0ken", headers=None, raw=False):
    h = {"X-Oldfilm-Token": token} if token else {}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    req = urllib.request.Request(base + path, data=data, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            payload = r.read()
            return r.status, payload if raw else json.loads(payload)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_task(base, tid, until=("done", "failed", "cancelled"), timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        _, tasks = call(base, "/api/tasks")
        t = next(t for t in tasks if t["id"] == tid)
        if t["state"] in until:
            return t
        time.sleep(0.05)
    raise AssertionError(f"task {tid} still {t['state']}")


def test_guards_token_host_and_content_type(gui):
    base, *_ = gui
    status, page = call(base, "/", token=None, raw=True)
    assert status == 200 and b"<title>oldfilm</title>" in page
    assert call(base, "/api/state", token=None)[0] == 403
    assert call(base, "/api/state", token="guess")[0] == 403
    status, body = call(base, "/api/state", headers={"Host": "attacker.example:80"})
    assert status == 403 and "this machine" in body["error"]
    status, body = call(base, "/api/tasks", body=b"inputs=x", headers={"Content-Type": "text/plain"})
    assert status == 415
    assert call(base, "/api/nothing")[0] == 404
    status, state = call(base, "/api/state")
    assert status == 200 and state["tasks"] == [] and "restore" in state["modes"]


def test_browse_lists_folders_photos_videos_and_marks_outputs(gui):
    base, _, root, _ = gui
    _photo(root / "a.png")
    _photo(root / "a_restored.png")
    _photo(root / ".hidden.png")
    (root / "notes.txt").write_text("x")
    (root / "reel").mkdir()
    make_clip(root / "reel" / "r.mp4", audio=None)
    status, d = call(base, "/api/browse")
    assert status == 200 and d["path"] == str(root.resolve()) and d["dirs"] == ["reel"]
    assert [(f["name"], f["kind"], f["output"]) for f in d["files"]] == [("a.png", "photo", False),
                                                                       ("a_restored.png", "photo", True)]
    status, d = call(base, "/api/browse?path=" + str(root / "reel"))
    assert d["files"][0]["kind"] == "video" and d["parent"] == str(root.resolve())
    status, err = call(base, "/api/browse?path=" + str(root / "gone"))
    assert status == 404 and "gone" in err["error"]


def test_preview_of_a_photo_and_a_video_frame(gui):
    base, _, root, _ = gui
    src = _photo(root / "a.png")
    status, d = call(base, "/api/preview", {"path": str(src), "settings": {}})
    assert status == 200 and d["size"] == [64, 48] and d["preview_size"] == [32, 24] and d["stages"] == ["add"]
    jpeg = [cv2.imdecode(np.frombuffer(call(base, d[k] + "?token=t0ken", token=None, raw=True)[1], np.uint8), 1)
            for k in ("before", "after")]
    assert jpeg[0].shape == (24, 32, 3)
    assert 30 < float(jpeg[1].astype(int).mean() - jpeg[0].astype(int).mean()) < 45   # the stage's +40
    clip = make_clip(root / "c.mp4", audio=None)
    status, d = call(base, "/api/preview", {"path": str(clip), "seconds": 0.5, "settings": {}})
    assert status == 200 and d["is_video"] and d["duration"] > 0.5 and d["seconds"] <= 0.5
    # A 1:1 window: full-resolution pixels where asked, the stage's +40 on them.
    status, d = call(base, "/api/preview", {"path": str(src), "crop": [1.0, 1.0], "settings": {}})
    assert status == 200 and d["box"] == [32, 16, 64, 48] and d["preview_size"] == [32, 32]
    before = cv2.imdecode(np.frombuffer(call(base, d["before"] + "?token=t0ken", token=None, raw=True)[1], np.uint8), 1)
    full = np.asarray(Image.open(src))[16:48, 32:64, ::-1]
    assert np.abs(before.astype(int) - full).mean() < 3
    assert call(base, "/api/preview", {"path": str(src), "crop": [2, 0], "settings": {}})[0] == 400
    status, err = call(base, "/api/preview", {"path": str(src), "settings": {"mode": "colorize", "saturation": -1}})
    assert status == 400 and "--saturation" in err["error"]
    status, err = call(base, "/api/preview", {"path": str(root / "missing.png"), "settings": {}})
    assert status == 400 and "missing.png" in err["error"]
    assert call(base, "/api/image/nothing/after.jpg")[0] == 404


def test_a_folder_task_writes_outputs_then_skips_them(gui):
    base, _, root, _ = gui
    _photo(root / "a.png")
    (root / "sub").mkdir()
    make_clip(root / "sub" / "c.mp4", audio="aac")
    status, t = call(base, "/api/tasks", {"inputs": [str(root)], "settings": {}})
    assert status == 201 and t["files_total"] == 2
    t = wait_task(base, t["id"])
    assert t["state"] == "done" and t["summary"] == "2 done, 0 skipped, 0 failed"
    outs = sorted(Path(r["output"]).name for r in t["records"])
    assert outs == ["a_restored.png", "c_restored.mp4"]
    assert len(decoded(root / "sub" / "c_restored.mp4")) == len(decoded(root / "sub" / "c.mp4"))
    status, t = call(base, "/api/tasks", {"inputs": [str(root / "a.png")], "settings": {}})
    t = wait_task(base, t["id"])
    assert [r["status"] for r in t["records"]] == ["skipped"] and t["records"][0]["reason"] == "exists"
    # The output is viewable, and its stage added 40.
    status, jpg = call(base, "/api/still?path=" + str(root / "a_restored.png"), raw=True)
    assert status == 200 and jpg[:2] == b"\xff\xd8"
    status, p = call(base, "/api/probe?path=" + str(root / "sub" / "c_restored.mp4"))
    assert status == 200 and p["is_video"] and p["duration"] > 0.5
    status, jpg = call(base, "/api/still?path=" + str(root / "sub" / "c_restored.mp4") + "&seconds=0.5", raw=True)
    assert status == 200 and jpg[:2] == b"\xff\xd8"
    assert call(base, "/api/still?path=" + str(root / "sub" / "c.mp4") + "&seconds=soon")[0] == 400
    assert call(base, "/api/probe?path=" + str(root / "a.png"))[1]["is_video"] is False


def test_a_trial_task_makes_the_trial_output(gui):
    base, _, root, _ = gui
    make_clip(root / "c.mp4", audio="aac", gop=6, pts=[512 * i for i in range(48)])
    status, t = call(base, "/api/tasks", {"inputs": [str(root / "c.mp4")], "settings": {"trial": {"start": 1.0, "seconds": 0.4}}})
    assert status == 201 and t["mode"] == "restore (trial 1s-0.4s)"
    t = wait_task(base, t["id"])
    assert t["state"] == "done" and t["records"][0]["output"].endswith("c_restored_trial-1s-0.4s.mp4")
    assert 10 <= t["records"][0]["frames"] <= 15
    status, err = call(base, "/api/tasks", {"inputs": [str(root / "c.mp4")], "settings": {"trial": {"start": -1}}})
    assert status == 400 and "trial" in err["error"]


def test_bad_inputs_fail_with_one_line_and_the_batch_goes_on(gui):
    base, _, root, _ = gui
    _photo(root / "good.png")
    (root / "broken.mp4").write_bytes(b"not a video at all")
    status, t = call(base, "/api/tasks", {"inputs": [str(root)], "settings": {}})
    t = wait_task(base, t["id"])
    assert t["state"] == "failed" and t["error"] == "1 of 2 files failed"
    by_name = {Path(r["input"]).name: r for r in t["records"]}
    assert by_name["good.png"]["status"] == "done"
    assert by_name["broken.mp4"]["status"] == "failed" and "broken.mp4" in by_name["broken.mp4"]["error"]
    status, err = call(base, "/api/tasks", {"inputs": [str(root / "nothing-here")], "settings": {}})
    assert status == 400 and "nothing-here" in err["error"]
    status, err = call(base, "/api/tasks", {"inputs": [], "settings": {}})
    assert status == 400 and "choose" in err["error"]


def test_cancel_keeps_finished_segments_and_a_new_task_resumes(tmp_path):
    """The queue directly, with short segments: a cancelled video keeps its finished segments
    and the same task again continues from them, to the same frames as one uninterrupted run."""
    frames = [np.full((48, 64, 3), 10 + 5 * i, np.uint8) for i in range(30)]
    clip = make_clip(tmp_path / "c.mp4", audio="aac", gop=4, pts=[512 * i for i in range(30)], frames=frames)
    seen = []

    def pipeline(options):
        return Pipeline(options, stages=[AddStage(delay=0.15)])

    q = TaskQueue(pipeline)
    try:
        options, _ = options_from_form({})
        settings = JobSettings(segment_seconds=0.3)
        task = q.submit([str(clip)], options, settings)
        while task.frames_done < 12 and task.state in ("queued", "running"):
            time.sleep(0.01)
        q.cancel(task.id)
        while task.state == "running":
            seen.append(task.frames_done)
            time.sleep(0.01)
        assert task.state == "cancelled" and "resume" in task.summary
        work = tmp_path / ".c_restored.mp4.oldfilm"
        assert work.is_dir() and list(work.glob("seg_*")) and not (tmp_path / "c_restored.mp4").exists()
        again = q.submit([str(clip)], options, settings)
        while again.state in ("queued", "running"):
            time.sleep(0.01)
        assert again.state == "done", again.error
        assert again.file_frames0 >= 8          # its first progress report counted the kept segments
    finally:
        q.close(timeout=10)
    out = decoded(tmp_path / "c_restored.mp4")
    want = [np.clip(f.astype(int) + 40, 0, 255) for f in decoded(clip)]
    assert len(out) == 30 and max(np.abs(o.astype(int) - w).max() for o, w in zip(out, want)) <= 3
    assert not work.exists()


def test_a_huge_batch_shows_its_failures_and_last_records():
    from oldfilm.gui.tasks import SHOWN_RECORDS, _shown

    recs = [{"status": "failed" if i in (3, 4000) else "done", "i": i} for i in range(5000)]
    shown = _shown(recs)
    assert len(shown) == SHOWN_RECORDS and [r["i"] for r in shown[:2]] == [3, 4000]
    assert [r["i"] for r in shown[2:]] == list(range(5000 - SHOWN_RECORDS + 2, 5000))
    assert _shown(recs[:10]) == recs[:10]


def test_the_gui_command_refuses_a_missing_folder(capsys):
    from oldfilm.cli import main

    assert main(["gui", "/no/such/folder", "--no-browser"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/no/such/folder" in err[0]

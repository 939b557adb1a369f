"""The `oldfilm` command end to end on photos, with the identity stage standing in for the models."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import oldfilm.pipeline as pipeline_mod
from oldfilm.cli import main, options_from_args, build_parser
from oldfilm.errors import NoWeightsError
from oldfilm.stage import StageBase

REPO = Path(__file__).resolve().parent.parent


class InvertStage(StageBase):
    """255 - x: a visible change, so outputs provably went through the stages."""

    name = "invert"

    def __call__(self, frames):
        return [255 - f for f in frames]


class InterruptAfter(StageBase):
    """Raises KeyboardInterrupt (a Ctrl-C) on call number ``n``."""

    name = "interrupt"

    def __init__(self, n: int):
        super().__init__()
        self.calls = 0
        self.n = n

    def __call__(self, frames):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return [255 - f for f in frames]


@pytest.fixture
def stages(monkeypatch):
    """Replace the model stages with ``stages.use(...)``; records the options each build saw."""

    class Recorder:
        def __init__(self):
            self.built: list = []
            self.current: list = [InvertStage()]

        def use(self, *s):
            self.current = list(s)

    rec = Recorder()

    def fake_build(options, is_video):
        rec.built.append((options, is_video))
        return rec.current

    monkeypatch.setattr(pipeline_mod, "build_stages", fake_build)
    return rec


def _photo(path: Path, seed: int = 0, size=(10, 14)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_help_runs_from_the_checkout_without_torch():
    r = subprocess.run([sys.executable, "cli.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for cmd in ("restore", "colorize", "info", "weights", "compare", "eval", "train"):
        assert cmd in r.stdout
    probe = "import sys; from oldfilm.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr


def test_restore_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["restore", "--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--colorize", "--no-restore", "--scratches", "--faces", "--no-faces", "--landmarks", "--face-detector", "--render-factor",
                "--saturation", "--map-color", "--reference", "--colorizer", "--restorer", "--crf", "--codec", "--bit-depth", "--device", "--precision",
                "--batch-size", "--segment-seconds", "--overwrite", "--json", "--compare", "--quiet", "-o"):
        assert opt in out, opt


def test_flags_fill_the_option_dataclasses():
    args = build_parser("restore").parse_args(
        ["restore", "x.jpg", "--colorize", "--no-restore", "--scratches", "on", "--no-faces", "--landmarks", "68", "--face-detector", "hog",
         "--render-factor", "12", "--colorizer", "stable", "--restorer", "r.pth", "--crf", "20", "--codec", "ffv1",
         "--bit-depth", "10", "--device", "cpu", "--precision", "fp32", "--batch-size", "2"])
    o = options_from_args(args)
    assert (o.restore.enabled, o.restore.scratches, o.restore.model) == (False, "on", "r.pth")
    assert (o.faces.enabled, o.faces.landmarks, o.faces.detector) == (False, 68, "hog")
    assert (o.colorize.enabled, o.colorize.model, o.colorize.render_factor) == (True, "stable", 12)
    assert (o.encode.codec, o.encode.crf, o.encode.bit_depth) == ("ffv1", 20, 10)
    assert (o.run.device, o.run.precision, o.run.batch_size) == ("cpu", "fp32", 2)
    dflt = options_from_args(build_parser("restore").parse_args(["restore", "x.jpg"]))
    assert dflt.restore.enabled and dflt.faces.enabled is None and not dflt.colorize.enabled
    assert dflt.faces.detector == "auto"


def test_batch_goes_on_past_a_corrupt_photo(tmp_path, stages, capsys):
    good = [_photo(tmp_path / f"p{i}.png", i) for i in range(3)]
    bad = tmp_path / "p1_broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    code = main(["restore", str(tmp_path), "-q"])
    cap = capsys.readouterr()
    assert code == 1
    for p in good:
        out = p.with_name(p.stem + "_restored.png")
        assert np.array_equal(_pixels(out), 255 - _pixels(p))
    err_lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(err_lines) == 1 and str(bad) in err_lines[0] and "Traceback" not in cap.err
    assert cap.out.strip().splitlines()[-1] == "3 done, 0 skipped, 1 failed"
    assert not bad.with_name("p1_broken_restored.jpg").exists()


def test_json_lines(tmp_path, stages, capsys):
    a = _photo(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"")
    assert main(["restore", str(tmp_path), "--json"]) == 1
    cap = capsys.readouterr()
    recs = [json.loads(ln) for ln in cap.out.splitlines()]
    assert [r["status"] for r in recs] == ["done", "failed"]
    done, failed = recs
    assert done["input"] == str(a) and done["output"] == str(tmp_path / "a_restored.png")
    assert done["frames"] == 1 and done["seconds"] >= 0 and done["fps"] >= 0
    assert done["warnings"] == [] and done["error"] is None and "faces" not in done
    assert "b.png" in failed["error"] and "empty" in failed["error"]
    assert "0 skipped" in cap.err        # the summary stays off stdout under --json
    assert main(["restore", str(tmp_path), "--json"]) == 1
    again = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert again[0]["status"] == "skipped" and again[0]["output"] == done["output"]


def test_json_reports_faces_summed_over_the_job(tmp_path, stages, capsys):
    class FaceCounter(StageBase):
        name = "faces"

        def __init__(self):
            super().__init__()
            self.n = 0

        def __call__(self, frames):
            self.n += 2
            return list(frames)

        def reset(self):
            self.n = 0

        def report(self):
            return {"faces": self.n}

    stages.use(FaceCounter())
    _photo(tmp_path / "a.png")
    main(["restore", str(tmp_path / "a.png"), "--json", "-q"])
    (rec,) = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert rec["faces"] == 2


def test_output_dir_mirrors_and_inputs_stay_untouched(tmp_path, stages, capsys):
    src = tmp_path / "in"
    a = _photo(src / "a.png", 1)
    b = _photo(src / "x" / "y" / "b.jpg", 2)
    before = {p: p.read_bytes() for p in (a, b)}
    assert main(["restore", str(src), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert (tmp_path / "out" / "a_restored.png").is_file()
    assert (tmp_path / "out" / "x" / "y" / "b_restored.jpg").is_file()
    assert {p: p.read_bytes() for p in (a, b)} == before
    assert sorted(p.name for p in src.rglob("*")) == ["a.png", "b.jpg", "x", "y"]


def test_never_overwrites_an_input_even_with_overwrite(tmp_path, stages, capsys):
    a = _photo(tmp_path / "a.png", 1)
    b = _photo(tmp_path / "a_restored.png", 2)
    b_bytes = b.read_bytes()
    assert main(["restore", str(a), str(b), "--overwrite", "-q"]) == 1
    err = capsys.readouterr().err
    assert b.read_bytes() == b_bytes
    assert "would overwrite an input" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "a_restored_restored.png").is_file()


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path, stages, capsys):
    a = _photo(tmp_path / "a.png")
    out = tmp_path / "a_restored.png"
    out.write_bytes(b"something the user made")
    assert main(["restore", str(a)]) == 0
    assert f"skipped: exists: {out}" in capsys.readouterr().out
    assert out.read_bytes() == b"something the user made"
    assert main(["restore", str(a), "--overwrite", "-q"]) == 0
    assert np.array_equal(_pixels(out), 255 - _pixels(a))


def test_colorize_command_is_colorize_only_with_its_own_suffix(tmp_path, stages, capsys):
    a = _photo(tmp_path / "a.png")
    assert main(["colorize", str(a), "--render-factor", "10", "-q"]) == 0
    assert (tmp_path / "a_colorized.png").is_file()
    opts, is_video = stages.built[-1]
    assert opts.colorize.enabled and opts.colorize.render_factor == 10 and not is_video
    assert not opts.restore.enabled and opts.faces.enabled is False


def test_interrupted_batch_resumes_without_redoing_finished_outputs(tmp_path, stages, capsys):
    photos = [_photo(tmp_path / f"p{i}.png", i) for i in range(5)]
    stages.use(InterruptAfter(3))
    assert main(["restore", str(tmp_path), "-q"]) == 130
    done = sorted(tmp_path.glob("*_restored.png"))
    assert [p.name for p in done] == ["p0_restored.png", "p1_restored.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temp left behind
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in done}
    time.sleep(0.01)
    stages.use(InvertStage())
    assert main(["restore", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped: exists") == 2 and out.strip().splitlines()[-1] == "3 done, 2 skipped, 0 failed"
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in done} == snapshot
    for p in photos:
        assert np.array_equal(_pixels(p.with_name(p.stem + "_restored.png")), 255 - _pixels(p))


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_kill_in_a_real_process_then_rerun(tmp_path, sig, code):
    """Signal a running batch (a slow stage), then rerun: finished outputs are kept as they were."""
    photos = [_photo(tmp_path / "in" / f"p{i}.png", i) for i in range(6)]
    # A shell starts background jobs with SIGINT ignored and children inherit it (a CI launched
    # with `&`): restore Python's Ctrl-C handler, as an oldfilm started from a terminal has it.
    script = textwrap.dedent(f"""
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import oldfilm.pipeline as P
        from oldfilm.stage import StageBase
        class Slow(StageBase):
            name = "slow"
            def __call__(self, frames):
                time.sleep(float(sys.argv[1]))
                return [255 - f for f in frames]
        P.build_stages = lambda options, is_video: [Slow()]
        from oldfilm.cli import main
        sys.exit(main(["restore", {str(tmp_path / "in")!r}, "-q"]))
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # 1 s a photo: the batch must still be running when the signal comes, even on a loaded CI box
    proc = subprocess.Popen([sys.executable, "-c", script, "1.0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "in").glob("*_restored.png")) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "interrupted" in err and "Traceback" not in err
    done = sorted((tmp_path / "in").glob("*_restored.png"))
    assert 1 <= len(done) < len(photos)
    assert not [p for p in (tmp_path / "in").iterdir() if "oldfilm-tmp" in p.name]     # no half file left
    if sig == signal.SIGTERM:
        return                        # the rerun is the same as after SIGINT; spare CI a torch start-up
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in done}
    r = subprocess.run([sys.executable, "-c", script, "0"], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in done} == snapshot
    assert len(list((tmp_path / "in").glob("*_restored.png"))) == len(photos)


def test_missing_weights_stop_the_batch_with_one_line(tmp_path, monkeypatch, capsys):
    def no_weights(options, is_video):
        raise NoWeightsError("no weights installed for the colorize model 'default'; train or import one")

    monkeypatch.setattr(pipeline_mod, "build_stages", no_weights)
    a = _photo(tmp_path / "a.png")
    assert main(["restore", str(a), "--colorize", "-q"]) == NoWeightsError.exit_code
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: no weights installed for the colorize model 'default'; train or import one"]
    assert not (tmp_path / "a_restored.png").exists()
    # Nothing left to do: no weights needed, every output is already there.
    (tmp_path / "a_restored.png").write_bytes(b"done before")
    assert main(["restore", str(a), "--colorize", "-q"]) == 0


def test_bad_option_values_are_one_line(tmp_path, stages, capsys):
    a = _photo(tmp_path / "a.png")
    assert main(["restore", str(a), "--crf", "99"]) != 0
    assert capsys.readouterr().err.strip() == "error: --crf 99: expected 0..51"
    import torch

    if not torch.cuda.is_available():
        assert main(["restore", str(a), "--device", "cuda"]) != 0
        assert "no CUDA GPU" in capsys.readouterr().err


def test_nothing_found_is_an_error(tmp_path, stages, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["restore", str(tmp_path / "empty")]) == 1
    assert "no photos or videos found" in capsys.readouterr().err


def test_external_subcommands_are_wired(tmp_path, capsys):
    with pytest.raises(SystemExit) as ei:
        main(["train", "--help"])
    assert ei.value.code == 0
    assert "colorizer" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    assert "colorize" in capsys.readouterr().out
    with pytest.raises(SystemExit) as ei:
        main(["eval", "--help"])
    assert ei.value.code == 0 and "--task" in capsys.readouterr().out
    a, b = _photo(tmp_path / "a.png", 1), _photo(tmp_path / "b.png", 2)
    assert main(["compare", str(a), str(b), "-o", str(tmp_path / "ab.png")]) == 0
    assert (tmp_path / "ab.png").is_file()


def test_info_prints_streams_and_goes_on_past_a_bad_file(tmp_path, capsys):
    from test_pipeline import make_clip

    clip = make_clip(tmp_path / "c.mp4", frames=6)
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["info", str(clip), str(tmp_path / "empty.mp4")]) == 1
    cap = capsys.readouterr()
    assert "h264" in cap.out and "aac" in cap.out and "12.000 fps" in cap.out
    assert cap.err.strip().splitlines() == [f"error: {tmp_path / 'empty.mp4'}: empty file (0 bytes)"]
    assert main(["info", str(clip), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["width"], d["height"], d["frames"]) == (64, 48, 6)
    assert [s["type"] for s in d["streams"]] == ["video", "audio"]


class CountingInvert(StageBase):
    name = "count"

    def __init__(self, stop_after: int | None = None):
        super().__init__()
        self.frames = 0
        self.calls = 0
        self.stop_after = stop_after

    def __call__(self, frames):
        self.calls += 1
        if self.stop_after is not None and self.calls > self.stop_after:
            raise KeyboardInterrupt
        self.frames += len(frames)
        return [255 - f for f in frames]


def test_interrupted_video_resumes_from_its_last_segment(tmp_path, stages, capsys):
    from test_pipeline import make_clip

    clip = make_clip(tmp_path / "reel.mp4", frames=12)        # keyframe every 4 frames at 12 fps
    common = ["restore", str(clip), "-q", "--segment-seconds", "0.3", "--batch-size", "2"]
    first = CountingInvert(stop_after=5)
    stages.use(first)
    assert main(common) == 130
    work = tmp_path / ".reel_restored.mp4.oldfilm"
    assert work.is_dir() and not (tmp_path / "reel_restored.mp4").exists()
    assert "interrupted" in capsys.readouterr().err
    second = CountingInvert()
    stages.use(second)
    assert main(common + ["--json"]) == 0
    (rec,) = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert rec["status"] == "done" and rec["frames"] == 12
    assert second.frames < 12                                   # the finished segment was not redone
    assert not work.exists()
    import av

    with av.open(rec["output"]) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12


def test_compare_writes_a_side_by_side_beside_the_output(tmp_path, stages, capsys):
    a = _photo(tmp_path / "a.png", size=(20, 30))
    assert main(["restore", str(a), "--compare", "-q"]) == 0
    (cmp_,) = [p for p in tmp_path.iterdir() if "_compare" in p.stem]
    with Image.open(cmp_) as im:
        assert im.width >= 2 * 30          # before and after side by side
    # A rerun neither feeds the comparison back in as an input nor redoes anything.
    assert main(["restore", str(tmp_path), "-q"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "0 done, 1 skipped, 0 failed"


@pytest.mark.parametrize("pytest_exit, ci_exit", [(0, 0), (1, 1), (5, 1)])
def test_ci_script_fails_when_tests_fail_or_none_are_collected(tmp_path, pytest_exit, ci_exit):
    """.ci/run against stand-in pip/python, so the real suite is not run twice."""
    repo = tmp_path / "clone"
    (repo / ".ci").mkdir(parents=True)
    (repo / ".ci" / "run").write_text((REPO / ".ci" / "run").read_text())
    bin_ = repo / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "pip").write_text("#!/bin/sh\nexit 0\n")
    (bin_ / "python").write_text('#!/bin/sh\necho "python $*" >> "$0.log"\nexit $FAKE_PYTEST_EXIT\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    r = subprocess.run(["bash", str(repo / ".ci" / "run")], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "FAKE_PYTEST_EXIT": str(pytest_exit)})
    assert r.returncode == ci_exit, r.stdout + r.stderr
    assert (bin_ / "python.log").read_text() == "python -m pytest -q\n"
    if pytest_exit == 5:
        assert "no tests" in r.stderr


def test_readme_opens_with_the_two_commands_the_ci_runs():
    readme = (REPO / "README.md").read_text()
    blocks = [b.strip() for b in readme.split("```")[1::2]]
    first = [ln for ln in blocks[0].splitlines() if ln.strip() and not ln.startswith(("sh", "bash"))]
    assert first == [
        'python3.11 -m venv .venv && .venv/bin/pip install -e ".[dev]" && '
        ".venv/bin/oldfilm restore examples/chaplin_bw_mp3_10s.mp4 --colorize",
        ".venv/bin/python -m pytest -q",
    ]
    assert (REPO / "examples" / "chaplin_bw_mp3_10s.mp4").is_file()
    assert ".venv/bin/python -m pytest -q" in (REPO / ".ci" / "run").read_text()

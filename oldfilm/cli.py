"""The `oldfilm` command. Thin: parse -> options dataclasses -> pipeline -> jobs.

Nothing torch-heavy is imported at module level, so `oldfilm --help` is instant; subcommands
implemented elsewhere (weights, compare, eval, train) are imported only when selected.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from .argtypes import positive_float, positive_int, trial_span
from .errors import OldfilmError
from .options import (
    CODECS, DEINTERLACE, ColorizeOptions, EncodeOptions, FaceOptions, PipelineOptions, RestoreOptions, RunOptions,
)

# Subcommands that live in their own modules: name -> (module, one-line help).
EXTERNAL = {
    "weights": ("oldfilm.weights_cli", "list, import and verify model weights"),
    "compare": ("oldfilm.compare", "side-by-side comparison of two files (before | after)"),
    "eval": ("oldfilm.evaluate", "degrade references, run a pipeline, report quality metrics"),
    "train": ("oldfilm.train_cli", "train our models: colorizer, restorer, scratch, faces"),
    "gui": ("oldfilm.gui.server", "a local web page: browse files, preview settings before | after, run jobs"),
}

EXIT_INTERRUPTED = 130     # 128 + SIGINT, what shells report for Ctrl-C


class Terminated(KeyboardInterrupt):
    """SIGTERM (a kill from a scheduler or `kill PID`): stopped as cleanly as Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated


def _on_sigterm_stop_cleanly():
    """Install the SIGTERM handler; returns a function that puts the previous one back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _add_job_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photos, videos and folders (walked recursively)")
    p.add_argument("-o", "--output-dir", type=Path, metavar="DIR",
                   help="write outputs here, mirroring the tree below each input (default: beside each input)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never inputs)")
    p.add_argument("--json", action="store_true", help="one JSON summary line per job on stdout")
    p.add_argument("--compare", action="store_true", help="also write <stem>_compare.<ext>: before | after")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-file lines; errors still print")
    p.add_argument("--trial", type=trial_span, default=None, metavar="START[+SECONDS]",
                   help="video: try the settings on SECONDS (default 10) from START (seconds or [h:]m:s) of each "
                        "video, with its sound, into <stem>_restored_trial-<START>-<SECONDS>.<ext>; cut at keyframes "
                        "(no re-encoding); photos are skipped")
    p.add_argument("--deflicker", action="store_true",
                   help="video: take out exposure flicker (brightness jumping from frame to frame within a shot) "
                        "before the other stages; cuts, fades and lasting changes of light are kept; one extra "
                        "decoding pass")
    g = p.add_argument_group("video encoding")
    g.add_argument("--codec", choices=CODECS, default="h264", help="video codec (default h264)")
    g.add_argument("--crf", type=int, default=17, help="quality for h264/h265, 0..51, lower is better (default 17)")
    g.add_argument("--bit-depth", type=int, choices=(8, 10), default=None,
                   help="10 keeps 10-bit sources 10-bit (default 8)")
    g.add_argument("--deinterlace", choices=DEINTERLACE, default="auto",
                   help="auto (default): bwdif on frames flagged interlaced; on: on every frame; off: never; "
                        "match: film transferred to video (telecined, any pulldown) as whole film frames, "
                        "frame count and timestamps kept (a repeat is restored once); ivtc: match, and 3:2 "
                        "pulldown undone: the film's own frames at 23.976 fps from 29.97, same duration and "
                        "sound; auto says when a video looks telecined")
    g.add_argument("--segment-seconds", type=positive_float, default=30.0, metavar="S",
                   help="resumable video segments of about S seconds, cut at keyframes (default 30)")
    g = p.add_argument_group("compute")
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default auto")
    g.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto: bf16 on CPUs with native bf16, fp16 on CUDA, where measured safe")
    g.add_argument("--batch-size", type=positive_int, default=4, metavar="N", help="frames per batch (default 4)")
    g.add_argument("--threads", type=positive_int, default=None, metavar="N", help="CPU threads for torch")
    g.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="N processes at once, on different segments of a video or different photos of a batch, "
                        "each with its own copy of the models and 1/N of the threads (faster on most CPUs; "
                        "default 1)")
    g.add_argument("--every-frame", action="store_true",
                   help="run the stages on every video frame; by default a frame that repeats the previous one "
                        "up to codec noise (film transferred with doubled frames) reuses its output")


def _add_colorize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--render-factor", type=int, default=None, metavar="N",
                   help="colorizer resolution = N*16 px (default 21; DeOldify's models 35 on photos); lower if colours wash out")
    p.add_argument("--colorizer", default="default", metavar="NAME|PATH",
                   help="default, artistic, stable, video, or a checkpoint file")
    p.add_argument("--saturation", type=float, default=1.0, metavar="S",
                   help="scale the colorizer's colours: 0 grey, 1 as painted (default), 1.3 bolder")
    p.add_argument("--map-color", dest="color_maps", action="append", default=[], metavar="FROM=TO[:WIDTH]",
                   help="make colours near FROM come out as TO (names such as red, blue, skin, or #RRGGBB; "
                        "WIDTH: hue degrees, default 25), e.g. --map-color blue=green --map-color yellow=#E8C547; "
                        "repeatable, applied in order")
    p.add_argument("--reference", dest="references", action="append", default=[], metavar="IMAGE|FOLDER",
                   help="a colour image (or a folder of them) to take colours from wherever a frame shows what it "
                        "shows: a colour photo of the same scene or person, or frames of the film coloured by hand, "
                        "one per shot; repeatable, all are searched; a frame that shows none of them keeps the "
                        "colorizer's own colours")
    p.add_argument("--steady-colors", dest="steady", type=float, default=None, metavar="S",
                   help="video: hold each surface's colour from frame to frame, following the motion, so colours "
                        "do not flicker: S is the share of a tracked pixel's colour taken from the frames before "
                        "(default 0.9; 0 off: every frame keeps the colorizer's own colours); new content and a new "
                        "shot take fresh colours at once")
    p.add_argument("--recolor", action="store_true",
                   help="colorize files that are already in colour too, replacing their colours (default: a colour "
                        "file is not colorized; black-and-white, sepia and toned files are)")


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. Only the ``selected`` external subcommand imports its module."""
    parser = argparse.ArgumentParser(
        prog="oldfilm",
        description="Restore and colorize old film and photographs; keeps the original sound.",
        epilog="Set OLDFILM_DEBUG=1 to see tracebacks. Docs: docs/ARCHITECTURE.md",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"oldfilm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("restore", help="remove scratches, dust, noise and blur; enhance faces; optionally colorize",
                       description="Restore photos and videos: outputs <stem>_restored.<ext>.")
    _add_job_arguments(p)
    p.add_argument("--colorize", action="store_true", help="colorize after restoring")
    p.add_argument("--no-restore", action="store_true", help="skip the global restoration stage")
    p.add_argument("--scratches", choices=("auto", "on", "off"), default="auto",
                   help="scratch detection and inpainting (default auto: for a frame the detector marks more than it "
                        "marks undamaged photos, or for any mark when the restorer keeps the marked pixels, as our "
                        "default does; on: always)")
    p.add_argument("--strength", type=float, default=1.0, metavar="S",
                   help="how much of the restoration to keep, 0..1: 1 all of it (default); lower keeps more of the "
                        "original's grain, sharpness and tone; marked scratches are repaired at any strength, so 0 "
                        "repairs only them and leaves every other pixel as it was (the face stage is separate: "
                        "--no-faces)")
    p.add_argument("--faces", dest="faces", action="store_true", default=None,
                   help="enhance faces (default: on when a face model is installed)")
    p.add_argument("--no-faces", dest="faces", action="store_false", help="do not enhance faces")
    p.add_argument("--landmarks", type=int, choices=(5, 68), default=5,
                   help="5 (default) or 68; the 68-point model is licensed for non-commercial use only")
    p.add_argument("--face-detector", choices=("auto", "hog", "cnn", "track"), default="auto",
                   help="dlib detector for --faces: cnn finds faded and low-contrast old faces but costs seconds "
                        "a frame on a CPU; hog is fast but misses most old faces; track runs hog on every second frame, "
                        "cnn on keyframes and follows faces between them (default auto: cnn for photos, track "
                        "for videos)")
    p.add_argument("--face-keyframes", type=int, default=48, metavar="N",
                   help="with track: frames from one cnn search to the next (default 48, 2 s at 24 fps)")
    p.add_argument("--face-strength", type=float, default=1.0, metavar="W",
                   help="how much of the face enhancement to keep, above 0 up to 1 (default 1); lower keeps more "
                        "of each face as it was, for faces the model makes look like someone else")
    p.add_argument("--restorer", default="default", metavar="NAME|PATH", help="restoration model or checkpoint")
    _add_colorize_arguments(p)
    p.set_defaults(handler=_cmd_restore, suffix="_restored")

    p = sub.add_parser("colorize", help="colorize photos and videos (no restoration)",
                       description="Colorize photos and videos: outputs <stem>_colorized.<ext>.")
    _add_job_arguments(p)
    _add_colorize_arguments(p)
    p.set_defaults(handler=_cmd_restore, suffix="_colorized", colorize=True, no_restore=True, faces=False,
                   scratches="auto", landmarks=5, restorer="default", face_detector="auto",
                   face_keyframes=48, strength=1.0, face_strength=1.0)

    p = sub.add_parser("info", help="streams, codecs, fps, duration, size, rotation, bit depth, black-and-white",
                       description="Describe media files.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(handler=_cmd_info)

    for name, (module, help_) in EXTERNAL.items():
        p = sub.add_parser(name, help=help_, description=help_, add_help=name == selected)
        p.set_defaults(handler=_cmd_external, module=module)
        if name == selected:
            importlib.import_module(module).add_arguments(p)
        # Not selected: its module (torch, fastai) stays unimported, so --help is instant.
    return parser


def _selected_command(argv: list[str]) -> str | None:
    for a in argv:
        if not a.startswith("-"):
            return a
    return None


def options_from_args(args: argparse.Namespace) -> PipelineOptions:
    return PipelineOptions(
        restore=RestoreOptions(enabled=not args.no_restore, model=args.restorer, scratches=args.scratches,
                               strength=args.strength),
        faces=FaceOptions(enabled=args.faces, landmarks=args.landmarks, detector=args.face_detector,
                          keyframe_every=args.face_keyframes, strength=args.face_strength),
        colorize=ColorizeOptions(enabled=bool(args.colorize), model=args.colorizer, render_factor=args.render_factor,
                                 recolor=args.recolor, saturation=args.saturation, color_maps=tuple(args.color_maps),
                                 references=tuple(args.references), steady=args.steady),
        run=RunOptions(device=args.device, precision=args.precision, batch_size=args.batch_size, threads=args.threads,
                       reuse_repeats=not args.every_frame, deflicker=args.deflicker, workers=args.workers),
        encode=EncodeOptions(codec=args.codec, crf=args.crf, bit_depth=args.bit_depth,
                             deinterlace=args.deinterlace),
    )


def _cmd_restore(args: argparse.Namespace) -> int:
    from .jobs import discover, run_batch
    from .pipeline import Pipeline

    options = options_from_args(args)
    if options.faces.landmarks == 68 and not args.quiet:
        print("note: --landmarks 68 uses a model trained on iBUG 300-W: non-commercial use only",
              file=sys.stderr)
    from .jobs import trial_suffix

    suffix = args.suffix + (trial_suffix(args.trial) if args.trial else "")
    jobs = discover(args.inputs, suffix=suffix, output_dir=args.output_dir)
    if not jobs:
        raise OldfilmError(f"no photos or videos found in {', '.join(args.inputs)}")
    pipeline = Pipeline(options)
    summary = run_batch(
        jobs, pipeline, overwrite=args.overwrite, segment_seconds=args.segment_seconds,
        json_lines=args.json, verbose=not args.quiet, progress=not args.quiet, compare=args.compare,
        trial=args.trial,
    )
    print(summary.line(), file=sys.stderr if args.json else sys.stdout, flush=True)
    return 1 if summary.failed else 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .video.info import describe, format_info

    failed = 0
    for f in args.files:
        try:
            d = describe(Path(f))
        except OldfilmError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        except OSError as e:
            print(f"error: {f}: {e.strerror or e}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps(d, default=str))
        else:
            print(format_info(d))
    return 1 if failed else 0


def _cmd_external(args: argparse.Namespace) -> int:
    return int(importlib.import_module(args.module).run(args) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("OLDFILM_DEBUG") == "1"
    restore_sigterm = _on_sigterm_stop_cleanly()
    try:
        parser = build_parser(_selected_command(argv))
        args = parser.parse_args(argv)
        return args.handler(args)
    except KeyboardInterrupt as e:
        print("interrupted: finished outputs are kept; run the same command again to resume",
              file=sys.stderr)
        return 143 if isinstance(e, Terminated) else EXIT_INTERRUPTED
    except OldfilmError as e:
        if debug:
            raise
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        return 1
    finally:
        restore_sigterm()


if __name__ == "__main__":
    sys.exit(main())

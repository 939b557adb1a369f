"""`oldfilm gui`: the local web page's HTTP server and its JSON API.

Local by design: it listens on 127.0.0.1, every API call needs the random token printed in the
page's address (a header, or ``token=`` on image links), and requests whose Host is not this
machine are refused, so other web pages open in the same browser cannot drive it (CSRF, DNS
rebinding). Work runs in the process: previews on request threads (one at a time), jobs on the
task queue's worker.

Routes (all JSON unless said):
  GET  /                     the page (HTML)
  GET  /api/state            version, device, start folder, defaults, tasks
  GET  /api/browse?path=D    D's subfolders and photos/videos
  POST /api/preview          {path, seconds, settings, crop} -> before/after image links and notes
                             (crop: [x, y] fractions: a 1:1 window there instead of the whole frame)
  GET  /api/image/ID/before.jpg | after.jpg   a preview's images (JPEG)
  GET  /api/still?path=F&seconds=T   a photo or a video's frame at T scaled to 720 px (JPEG): outputs
  GET  /api/probe?path=F     {is_video, duration}
  GET  /api/tasks            every task with its progress
  POST /api/tasks            {inputs, settings} -> the queued task
  POST /api/tasks/ID/cancel  stop it; finished outputs and video segments are kept
"""
from __future__ import annotations

import argparse
import errno
import hmac
import json
import secrets
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import OldfilmError
from ..options import RunOptions

DEFAULT_PORT = 8765
KEEP_PREVIEWS = 8
MAX_BODY = 1 << 20          # bytes; settings are small
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass
class App:
    """What the request handlers share."""

    token: str
    root: Path
    run: RunOptions
    previewer: object
    queue: object
    check_host: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        self._previews: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def keep_preview(self, before: bytes, after: bytes) -> str:
        pid = secrets.token_hex(8)
        with self._lock:
            self._previews[pid] = (before, after)
            while len(self._previews) > KEEP_PREVIEWS:
                self._previews.popitem(last=False)
        return pid

    def preview_image(self, pid: str, which: str) -> bytes | None:
        with self._lock:
            pair = self._previews.get(pid)
        if pair is None:
            return None
        return pair[0] if which == "before" else pair[1]


class _Problem(Exception):
    """An API error: HTTP status and one line for the page."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def browse(folder: Path) -> dict:
    """A folder's subfolders and photos/videos (hidden entries and our own work dirs left out)."""
    from ..jobs import is_hidden, is_own_output, media_extensions

    folder = folder.expanduser()
    try:
        folder = folder.resolve(strict=True)
    except OSError:
        raise _Problem(HTTPStatus.NOT_FOUND, f"{folder}: no such folder") from None
    if not folder.is_dir():
        raise _Problem(HTTPStatus.BAD_REQUEST, f"{folder}: not a folder")
    images, videos = media_extensions()
    dirs, files = [], []
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name.lower())
    except OSError as e:
        raise _Problem(HTTPStatus.FORBIDDEN, f"{folder}: {e.strerror or e}") from None
    for p in entries:
        if is_hidden(p.name):
            continue
        try:
            if p.is_dir():
                dirs.append(p.name)
                continue
            ext = p.suffix.lower()
            if ext in images or ext in videos:
                files.append({"name": p.name, "kind": "photo" if ext in images else "video",
                              "size": p.stat().st_size, "output": is_own_output(p)})
        except OSError:
            continue     # a broken link or a file gone meanwhile: not listed
    parent = str(folder.parent) if folder.parent != folder else None
    return {"path": str(folder), "parent": parent, "dirs": dirs, "files": files}


def make_handler(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "oldfilm"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:   # noqa: A002 - the base class's name
            pass    # the terminal shows the address and errors, not every poll

        # -- plumbing ------------------------------------------------------------------------
        def _send(self, status: HTTPStatus, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj, status: HTTPStatus = HTTPStatus.OK) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json")

        def _host_ok(self) -> bool:
            if not app.check_host:
                return True
            host = (self.headers.get("Host") or "").strip().lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            return name in LOCAL_HOSTS

        def _token_ok(self, query: dict) -> bool:
            given = self.headers.get("X-Oldfilm-Token") or (query.get("token") or [""])[0]
            return hmac.compare_digest(given.encode(), app.token.encode())

        def _body(self) -> dict:
            if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
                raise _Problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected application/json")
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                n = -1
            if not 0 <= n <= MAX_BODY:
                raise _Problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
            try:
                data = json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                raise _Problem(HTTPStatus.BAD_REQUEST, "the request is not valid JSON") from None
            if not isinstance(data, dict):
                raise _Problem(HTTPStatus.BAD_REQUEST, "expected a JSON object")
            return data

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                if not self._host_ok():
                    raise _Problem(HTTPStatus.FORBIDDEN, "oldfilm gui answers only requests to this machine")
                if method == "GET" and url.path in ("/", "/index.html"):
                    return self._send(HTTPStatus.OK, _page(), "text/html; charset=utf-8")
                if not url.path.startswith("/api/"):
                    raise _Problem(HTTPStatus.NOT_FOUND, f"{url.path}: not found")
                if not self._token_ok(query):
                    raise _Problem(HTTPStatus.FORBIDDEN, "missing or wrong token: open the address oldfilm gui printed")
                route = getattr(self, f"_{method.lower()}_{url.path[5:].split('/')[0]}", None)
                if route is None:
                    raise _Problem(HTTPStatus.NOT_FOUND, f"{url.path}: not found")
                route(url.path[5:].split("/")[1:], query)
            except _Problem as p:
                self._json({"error": str(p)}, p.status)
            except OldfilmError as e:
                self._json({"error": " ".join(str(e).split())}, HTTPStatus.BAD_REQUEST)
            except (BrokenPipeError, ConnectionResetError):
                pass
            except Exception as e:  # noqa: BLE001 - one line to the page; the server goes on
                self._json({"error": f"unexpected {type(e).__name__}: {' '.join(str(e).split())}"},
                           HTTPStatus.INTERNAL_SERVER_ERROR)

        def do_GET(self) -> None:   # noqa: N802 - the base class's name
            self._dispatch("GET")

        def do_POST(self) -> None:   # noqa: N802
            self._dispatch("POST")

        # -- routes --------------------------------------------------------------------------
        def _get_state(self, rest, query) -> None:
            from .. import __version__
            from .settings import MODES

            self._json({"version": __version__, "device": app.device, "root": str(app.root),
                        "modes": list(MODES), "tasks": [t.to_json() for t in app.queue.all()]})

        def _get_browse(self, rest, query) -> None:
            self._json(browse(Path((query.get("path") or [str(app.root)])[0])))

        def _post_preview(self, rest, query) -> None:
            from .preview import encode_jpeg
            from .settings import options_from_form

            body = self._body()
            path = body.get("path")
            if not isinstance(path, str) or not path:
                raise _Problem(HTTPStatus.BAD_REQUEST, "choose a photo or a video first")
            options, _ = options_from_form(body.get("settings") or {}, app.run)
            seconds = body.get("seconds") or 0
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
                raise _Problem(HTTPStatus.BAD_REQUEST, "seconds: expected a number")
            crop = body.get("crop")
            if crop is not None and not (isinstance(crop, list) and len(crop) == 2 and all(
                    isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1 for c in crop)):
                raise _Problem(HTTPStatus.BAD_REQUEST, "crop: expected [x, y] fractions of the frame")
            pv = app.previewer.render(path, options, float(seconds), tuple(crop) if crop else None)
            pid = app.keep_preview(encode_jpeg(pv.before), encode_jpeg(pv.after))
            self._json({
                "before": f"/api/image/{pid}/before.jpg", "after": f"/api/image/{pid}/after.jpg",
                "is_video": pv.is_video, "seconds": pv.seconds, "duration": pv.duration,
                "size": list(pv.size), "preview_size": [pv.before.shape[1], pv.before.shape[0]],
                "stages": pv.stages, "warnings": pv.warnings, "elapsed": round(pv.elapsed, 2),
                "box": list(pv.box) if pv.box else None,
            })

        def _get_image(self, rest, query) -> None:
            if len(rest) != 2 or rest[1] not in ("before.jpg", "after.jpg"):
                raise _Problem(HTTPStatus.NOT_FOUND, "no such image")
            data = app.preview_image(rest[0], rest[1].split(".")[0])
            if data is None:
                raise _Problem(HTTPStatus.NOT_FOUND, "this preview is gone: make it again")
            self._send(HTTPStatus.OK, data, "image/jpeg")

        def _get_still(self, rest, query) -> None:
            from ..jobs import media_extensions
            from .preview import PREVIEW_SIDE, encode_jpeg, fit_within, read_still

            path = Path((query.get("path") or [""])[0])
            images, videos = media_extensions()
            if path.suffix.lower() not in images | videos:
                raise _Problem(HTTPStatus.BAD_REQUEST, f"{path}: not a photo or video")
            try:
                seconds = float((query.get("seconds") or ["0"])[0])
            except ValueError:
                raise _Problem(HTTPStatus.BAD_REQUEST, "seconds: expected a number") from None
            rgb = fit_within(read_still(path, seconds)[0], PREVIEW_SIDE)
            self._send(HTTPStatus.OK, encode_jpeg(rgb), "image/jpeg")

        def _get_probe(self, rest, query) -> None:
            from ..video.probe import is_video, probe

            path = Path((query.get("path") or [""])[0])
            if not path.is_file():
                raise _Problem(HTTPStatus.NOT_FOUND, f"{path}: no such file")
            if not is_video(path):
                return self._json({"is_video": False, "duration": None})
            self._json({"is_video": True, "duration": probe(path).duration})

        def _get_tasks(self, rest, query) -> None:
            self._json([t.to_json() for t in app.queue.all()])

        def _post_tasks(self, rest, query) -> None:
            from .settings import options_from_form

            if rest:
                return self._post_task_action(rest)
            body = self._body()
            inputs = body.get("inputs")
            if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
                raise _Problem(HTTPStatus.BAD_REQUEST, "inputs: expected a list of paths")
            options, settings = options_from_form(body.get("settings") or {}, app.run)
            task = app.queue.submit(inputs, options, settings)
            self._json(task.to_json(), HTTPStatus.CREATED)

        def _post_task_action(self, rest) -> None:
            if len(rest) != 2 or rest[1] != "cancel" or not rest[0].isdigit():
                raise _Problem(HTTPStatus.NOT_FOUND, "no such action")
            try:
                task = app.queue.cancel(int(rest[0]))
            except KeyError:
                raise _Problem(HTTPStatus.NOT_FOUND, f"no task {rest[0]}") from None
            self._json(task.to_json())

    return Handler


def _page() -> bytes:
    return resources.files("oldfilm.gui").joinpath("page.html").read_bytes()


def make_server(app: App, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """Bind; a busy default port falls back to any free one."""
    handler = make_handler(app)
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        if e.errno != errno.EADDRINUSE or port == 0:
            raise OldfilmError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    return server


def address(server: ThreadingHTTPServer, token: str) -> str:
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host in ("127.0.0.1", "0.0.0.0") else host
    return f"http://{shown}:{port}/?token={token}"


# -- the command -------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", nargs="?", type=Path, default=Path.cwd(), metavar="FOLDER",
                   help="where the file browser starts (default: the current folder)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on (default {DEFAULT_PORT}; another free one if it is taken)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; another address lets "
                        "anyone with the printed address run jobs on this machine)")
    p.add_argument("--no-browser", action="store_true", help="print the address but do not open a browser")
    g = p.add_argument_group("compute")
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default auto")
    g.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    g.add_argument("--batch-size", type=int, default=4, metavar="N", help="frames per batch (default 4)")
    g.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads for torch")


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from .preview import Previewer
    from .tasks import TaskQueue

    if not args.folder.is_dir():
        raise OldfilmError(f"{args.folder}: no such folder")
    run_opts = RunOptions(device=args.device, precision=args.precision, batch_size=args.batch_size,
                          threads=args.threads)
    device = resolve_device(run_opts.device)
    if run_opts.threads:
        import torch

        torch.set_num_threads(run_opts.threads)
    token = secrets.token_urlsafe(18)
    queue = TaskQueue()
    app = App(token=token, root=args.folder.resolve(), run=run_opts, previewer=Previewer(), queue=queue,
              check_host=args.host in ("127.0.0.1", "localhost", "::1"), device=str(device))
    server = make_server(app, args.host, args.port)
    url = address(server, token)
    print(f"oldfilm gui: {url}", flush=True)
    print("Ctrl-C stops it; a video being processed keeps its finished segments for a resume", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who has the address above can run jobs here",
              file=sys.stderr, flush=True)
    if not args.no_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print("stopping: cancelling the running task", file=sys.stderr, flush=True)
        raise
    finally:
        server.server_close()
        queue.close(timeout=30)
    return 0

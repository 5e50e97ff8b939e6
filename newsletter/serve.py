"""`preview`: serve an issue's build folder on localhost and rebuild it when its sources change."""

from __future__ import annotations

import errno
import functools
import threading
from collections.abc import Callable, Iterable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from newsletter.errors import NewsletterError


def _stamp(paths: Iterable[Path]) -> tuple:
    """A fingerprint of the watched files' modification times (folders: every file inside)."""
    stamps: list[tuple[str, int | None]] = []
    for path in paths:
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in sorted(files):
            try:
                stamps.append((str(file), file.stat().st_mtime_ns))
            except FileNotFoundError:
                stamps.append((str(file), None))
    return tuple(stamps)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the terminal shows what the editor asked for, not every request
        pass

    def send_error(self, code, message=None, explain=None):
        """A missing page gets the folder's own 404.html (the archive writes one, in Norwegian, as static
        hosts serve it), not the library's English page; otherwise the library's answer."""
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _listen(folder: Path, port: int) -> ThreadingHTTPServer:
    """A server for `folder` bound to 127.0.0.1:`port`; a port in use is a NewsletterError saying what to do."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise NewsletterError(
                f"port {port} on 127.0.0.1 is busy (another preview?); pass --port 0 to pick a free one"
            ) from exc
        raise NewsletterError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
    server.daemon_threads = True
    return server


def serve(
    folder: Path,
    rebuild: Callable[[], None],
    watched: list[Path],
    port: int = 8000,
    announce: Callable[[str], None] = print,
    on_error: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    interval: float = 0.5,
) -> None:
    # announce() is told the address once ready, then "rebuilt" after each rebuild.
    """Build, then serve `folder` on 127.0.0.1:`port` until Ctrl-C (or `stop`), rebuilding on changes.

    A rebuild that fails (the editor is mid-edit and the YAML is broken) is
    reported and the last good build keeps being served.
    """
    stop = stop or threading.Event()
    folder.mkdir(parents=True, exist_ok=True)
    server = _listen(folder, port)  # before the build, so a busy port is said at once
    try:
        rebuild()
    except BaseException:
        server.server_close()
        raise

    def watch() -> None:
        last = _stamp(watched)
        while not stop.wait(interval):
            current = _stamp(watched)
            if current != last:
                last = current
                try:
                    rebuild()
                    announce("rebuilt")
                except NewsletterError as exc:
                    on_error(str(exc))
                except Exception as exc:  # whatever a half-saved file does, the preview keeps watching
                    on_error(f"rebuild failed: {type(exc).__name__}: {exc}")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    announce(f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        server.server_close()

"""A real HTTP server on 127.0.0.1 (port 0) that serves test copies of sources and misbehaves on request.

Routes map a path (or `host/path` when the server is used as an HTTP proxy) to
a `Route`: a body with headers, or a fault: a status, a redirect, a hang, a
body cut short, a gzip bomb. Conditional GET is answered from the route's
ETag/Last-Modified. Every request is logged, so tests can assert what was (or
was not) fetched.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    redirect: str | None = None  # Location for a 3xx status
    hang: float = 0.0  # seconds to sleep before answering
    truncate: bool = False  # promise the full Content-Length, send half, close
    gzip: bool = False  # send the body gzip-compressed (Content-Encoding: gzip)
    delay: float = 0.0  # latency added to every answer
    streamed: int = 0  # send this many bytes of zeros in chunks instead of `body`


@dataclass
class Logged:
    method: str
    path: str
    host: str
    headers: dict[str, str]
    port: int = 0  # the client's port: requests that share it came over one connection


class LocalServer:
    """Serves `routes` until stopped; use as a context manager or via the pytest fixture."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Logged] = []
        # Requests being answered per Host, and the most ever at once (for per-host limits).
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.peak_total = 0  # the most requests being answered at once, all hosts together
        self._count = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm the body then waits
            # for the client's delayed ACK (40 ms on Linux) on a reused connection, which real servers
            # do not make their clients wait.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                target = urlsplit(self.path)
                host = target.hostname or (self.headers.get("Host") or "").split(":")[0]
                with server._count:
                    server.in_flight[host] = server.in_flight.get(host, 0) + 1
                    server.peak[host] = max(server.peak.get(host, 0), server.in_flight[host])
                    server.peak_total = max(server.peak_total, sum(server.in_flight.values()))
                try:
                    self._answer(target, host)
                finally:
                    with server._count:
                        server.in_flight[host] -= 1

            def _answer(self, target, host):
                path = target.path + (f"?{target.query}" if target.query else "")
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.log.append(Logged(self.command, path, host, headers, self.client_address[1]))
                route = server.routes.get(f"{host}{path}") or server.routes.get(path)
                if route is None:
                    return self._send(404, b"not found", "text/plain")
                if route.delay:
                    time.sleep(route.delay)
                if route.hang:
                    time.sleep(route.hang)
                    return
                if route.redirect:
                    return self._send(
                        route.status if route.status in (301, 302, 303, 307, 308) else 302,
                        b"",
                        "text/plain",
                        {"Location": route.redirect},
                    )
                validators = {}
                if route.etag:
                    validators["ETag"] = route.etag
                if route.last_modified:
                    validators["Last-Modified"] = route.last_modified
                if route.status == 200 and (
                    (route.etag and self.headers.get("If-None-Match") == route.etag)
                    or (route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified)
                ):
                    return self._send(304, b"", None, validators)
                if route.streamed:
                    return self._stream_zeros(route)
                body = route.body
                headers = {**validators, **route.headers}
                if route.gzip:
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                if route.truncate:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(route.status, body, route.content_type, headers)

            def _stream_zeros(self, route: Route):
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"0" * 65536
                sent = 0
                try:
                    while sent < route.streamed:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        sent += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _send(self, status, body, content_type, headers=None):
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

        class QuietServer(ThreadingHTTPServer):
            # socketserver's default backlog is 5: 16 clients connecting at once overflow it and wait out
            # a 1 s SYN retransmit. Real web servers queue far more.
            request_queue_size = 128

            def handle_error(self, request, client_address):
                pass  # a client that gives up mid-answer (timeouts, size caps) is what tests provoke

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> LocalServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_to(self, path: str) -> list[Logged]:
        """Logged requests for a path."""
        return [entry for entry in self.log if entry.path == path]

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SocketServer:
    """A bare TCP server on 127.0.0.1 for what an HTTP server cannot be made to do (a body that
    drips or stalls, a CONNECT tunnel): each accepted connection goes to `handle` in a thread."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()

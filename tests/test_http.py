"""The fetcher against a real local server: parsing, conditional GET, errors and retries,
timeouts, size limits (also after decompression), redirects, per-host politeness and
proxies from the environment.

Nothing here reaches the internet: an autouse fixture makes every name other than
localhost fail to resolve (and records the lookups), and every server listens on 127.0.0.1.
Every server is therefore inside the network, so the fetcher here is the one an intranet
source gets (`allow_private: true`); the destination policy has its tests in
test_destinations.py.
"""

from __future__ import annotations

import dataclasses
import gzip
import socket
import threading
import time
import tracemalloc

import pytest

from newsletter import net
from newsletter.errors import FetchError
from newsletter.models import Limits
from newsletter.net import Response
from tests.server import LocalServer, Route, SocketServer

UA = "newsletter-tests/1.0 (+https://example.invalid/contact)"
LOCAL_NAMES = {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------- helpers


class Fetcher(net.Fetcher):
    """The fetcher as an intranet source (`allow_private: true`) uses it: these tests are about HTTP
    itself, against servers on 127.0.0.1, which the destination policy would refuse."""

    def get(self, url, etag=None, last_modified=None, **policy):
        return super().get(url, etag, last_modified, **{"allow_private": True, **policy})


@pytest.fixture(autouse=True)
def dns_lookups(monkeypatch) -> list[str]:
    """Names other than localhost fail to resolve in these tests; every name looked up is recorded.

    This keeps DNS queries for test names (feeds.example.test) off the network and lets
    a test prove whether the client resolved a name itself (direct) or left it to a proxy.
    """
    real = socket.getaddrinfo
    asked: list[str] = []

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        asked.append(name)
        if name not in LOCAL_NAMES:
            raise socket.gaierror(socket.EAI_NONAME, f"{name} is not resolved in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return asked


class ScriptedRoutes(dict):
    """A routes dict for LocalServer that records when each request arrived and can
    answer one path differently on successive requests (the last answer then sticks)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scripts: dict[str, list[Route]] = {}
        self.arrivals: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def get(self, key, default=None):
        # The server looks up "host/path" first, then "/path": record the path lookup only.
        if isinstance(key, str) and key.startswith("/"):
            with self._lock:
                self.arrivals.append((key, time.monotonic()))
                script = self.scripts.get(key)
                if script:
                    return script.pop(0) if len(script) > 1 else script[0]
        return super().get(key, default)

    def times(self, path: str) -> list[float]:
        return sorted(t for p, t in self.arrivals if p == path)


@pytest.fixture
def routes(server) -> ScriptedRoutes:
    """The server's routes, replaced by a ScriptedRoutes."""
    server.routes = ScriptedRoutes()
    return server.routes


class RawServer(SocketServer):
    """A TCP server on 127.0.0.1 whose answers are written by hand, for faults a Route cannot make
    (a body that drips, a stall in the middle of the body, a huge Content-Length that is never sent)."""

    def __init__(self, respond):
        self.respond = respond
        self.requests: list[bytes] = []
        super().__init__()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def handle(self, conn):
        with conn:
            conn.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                self.requests.append(head)
                self.respond(conn, self._stop)
            except OSError:
                pass


@pytest.fixture
def raw_server():
    """Factory for RawServers; all are stopped after the test."""
    made: list[RawServer] = []

    def make(respond) -> RawServer:
        made.append(RawServer(respond))
        return made[-1]

    yield make
    for srv in made:
        srv.stop()


def fast_stopping(local: LocalServer) -> LocalServer:
    """Make a not yet started LocalServer poll for shutdown every 20 ms instead of
    serve_forever's default 0.5 s, which would otherwise add 0.5 s to every test's teardown."""
    local.thread = threading.Thread(target=local.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    return local


@pytest.fixture
def server():
    """Overrides conftest's `server`: the same started LocalServer, stopped without the 0.5 s wait."""
    with fast_stopping(LocalServer()) as local:
        yield local


def limits(base: Limits, **changes) -> Limits:
    return dataclasses.replace(base, **changes)


def fetch_error(fetcher: Fetcher, url: str, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetcher.get(url, **kwargs)
    error = info.value
    assert url in str(error), f"the message must name the URL: {error}"
    assert error.url == url
    return error


# --------------------------------------------------------------------------- plain answers


def test_ok_body_headers_content_type_and_charset(server, fast_limits):
    server.routes["/feed"] = Route(
        body=b"<rss>\xe6\xf8\xe5</rss>",
        content_type='text/XML; charset="ISO-8859-1"',
        headers={"X-Source": "regjeringen"},
        etag='"v1"',
        last_modified="Mon, 20 Jun 2022 10:00:00 GMT",
    )
    response = Fetcher(UA, fast_limits).get(server.url("/feed"))
    assert response.status == 200
    assert response.url == server.url("/feed")
    assert response.body == b"<rss>\xe6\xf8\xe5</rss>"
    assert response.headers["x-source"] == "regjeringen"  # header names are lower-cased
    assert response.content_type == "text/xml"
    assert response.charset == "iso-8859-1"
    assert response.etag == '"v1"'
    assert response.last_modified == "Mon, 20 Jun 2022 10:00:00 GMT"
    assert not response.not_modified


def test_response_properties_when_headers_are_absent():
    """No Content-Type, no charset, no validators: empty/None rather than errors."""
    bare = Response(url="http://x/", status=200, body=b"")
    assert bare.content_type == ""
    assert bare.charset is None
    assert bare.etag is None and bare.last_modified is None
    assert Response("http://x/", 200, headers={"content-type": "text/html"}).charset is None
    assert Response("http://x/", 304).not_modified


def test_user_agent_and_accept_encoding_are_sent(server, fast_limits):
    server.routes["/ua"] = Route(body=b"ok")
    Fetcher(UA, fast_limits).get(server.url("/ua"))
    (request,) = server.requests_to("/ua")
    assert request.headers["user-agent"] == UA
    assert "gzip" in request.headers["accept-encoding"]
    assert "if-none-match" not in request.headers and "if-modified-since" not in request.headers


# --------------------------------------------------------------------------- conditional GET


def test_conditional_get_with_etag(server, fast_limits):
    server.routes["/feed"] = Route(body=b"<rss/>", etag='"abc"')
    fetcher = Fetcher(UA, fast_limits)
    first = fetcher.get(server.url("/feed"))
    assert first.status == 200 and first.etag == '"abc"'

    second = fetcher.get(server.url("/feed"), etag=first.etag)
    assert second.not_modified and second.status == 304
    assert second.body == b""
    assert second.etag == '"abc"'
    logged = server.requests_to("/feed")
    assert "if-none-match" not in logged[0].headers
    assert logged[1].headers["if-none-match"] == '"abc"'
    assert "if-modified-since" not in logged[1].headers


def test_conditional_get_with_last_modified(server, fast_limits):
    stamp = "Wed, 01 Jun 2022 09:00:00 GMT"
    server.routes["/feed"] = Route(body=b"<rss/>", last_modified=stamp)
    fetcher = Fetcher(UA, fast_limits)
    first = fetcher.get(server.url("/feed"))
    assert first.last_modified == stamp

    second = fetcher.get(server.url("/feed"), last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    logged = server.requests_to("/feed")
    assert logged[1].headers["if-modified-since"] == stamp
    assert "if-none-match" not in logged[1].headers


def test_stale_validator_gets_the_full_body(server, fast_limits):
    server.routes["/feed"] = Route(body=b"<rss>new</rss>", etag='"v2"')
    response = Fetcher(UA, fast_limits).get(server.url("/feed"), etag='"v1"')
    assert response.status == 200 and not response.not_modified
    assert response.body == b"<rss>new</rss>" and response.etag == '"v2"'


def test_conditional_headers_follow_a_redirect(server, fast_limits):
    """A feed that moved still answers 304 at its new address to the validators of the old."""
    server.routes["/old"] = Route(status=301, redirect="/new")
    server.routes["/new"] = Route(body=b"<rss/>", etag='"n1"')
    response = Fetcher(UA, fast_limits).get(server.url("/old"), etag='"n1"')
    assert response.not_modified
    assert response.url == server.url("/new")
    assert server.requests_to("/new")[0].headers["if-none-match"] == '"n1"'


# --------------------------------------------------------------------------- statuses and retries


def test_404_fails_naming_url_and_status_without_retry(server, fast_limits):
    url = server.url("/missing")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "404" in str(error)
    assert error.retryable is False
    assert len(server.requests_to("/missing")) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_status_is_retried_then_fails(server, fast_limits, status):
    server.routes["/down"] = Route(body=b"down", status=status)
    url = server.url("/down")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert str(status) in str(error)
    assert error.retryable is True
    assert len(server.requests_to("/down")) == fast_limits.retries + 1


def test_retries_follow_limits(server, fast_limits):
    server.routes["/down"] = Route(body=b"down", status=503)
    with pytest.raises(FetchError):
        # host_failures above the attempts: the breaker (it counts failed requests) stays out of it
        Fetcher(UA, limits(fast_limits, retries=3, backoff=0.001, host_failures=10)).get(server.url("/down"))
    assert len(server.requests_to("/down")) == 4
    with pytest.raises(FetchError):
        Fetcher(UA, limits(fast_limits, retries=0)).get(server.url("/down"))
    assert len(server.requests_to("/down")) == 5


def test_transient_failure_then_success(routes, server, fast_limits):
    routes.scripts["/flaky"] = [Route(body=b"oops", status=503), Route(body=b"<rss>ok</rss>")]
    response = Fetcher(UA, fast_limits).get(server.url("/flaky"))
    assert response.status == 200 and response.body == b"<rss>ok</rss>"
    assert len(server.requests_to("/flaky")) == 2


def test_broken_connection_then_success(routes, server, fast_limits):
    """A body cut short is retried like a 5xx, on a fresh connection."""
    routes.scripts["/flaky"] = [Route(body=b"x" * 10_000, truncate=True), Route(body=b"whole")]
    response = Fetcher(UA, fast_limits).get(server.url("/flaky"))
    assert response.body == b"whole"
    assert len(server.requests_to("/flaky")) == 2


def test_backoff_waits_between_attempts(routes, server, fast_limits):
    routes.scripts["/flaky"] = [Route(status=503), Route(status=503), Route(body=b"ok")]
    fetcher = Fetcher(UA, limits(fast_limits, retries=2, backoff=0.1))
    assert fetcher.get(server.url("/flaky")).body == b"ok"
    first, second, third = routes.times("/flaky")
    assert second - first >= 0.1  # backoff
    assert third - second >= 0.2  # doubled


# --------------------------------------------------------------------------- timeouts and broken bodies


def test_hanging_server_times_out_quickly(server, fast_limits):
    server.routes["/hang"] = Route(hang=5)
    url = server.url("/hang")
    started = time.monotonic()
    error = fetch_error(Fetcher(UA, fast_limits), url)
    elapsed = time.monotonic() - started
    assert "timed out" in str(error)
    assert error.retryable is True
    assert len(server.requests_to("/hang")) == fast_limits.retries + 1
    # (retries + 1) read timeouts of 0.5 s plus a tiny backoff; the server would hang 5 s.
    assert elapsed < 4
    assert elapsed >= fast_limits.read_timeout * (fast_limits.retries + 1) * 0.9


def _stall_after_part_of_body(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    stop.wait(3)


def test_stall_in_the_middle_of_the_body_times_out(raw_server, fast_limits):
    srv = raw_server(_stall_after_part_of_body)
    url = srv.url("/stall")
    started = time.monotonic()
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert time.monotonic() - started < 2.5
    assert "timed out" in str(error)
    assert error.retryable is True
    assert len(srv.requests) == fast_limits.retries + 1


def test_stall_in_the_middle_of_the_body_says_which_timeout(raw_server, fast_limits):
    srv = raw_server(_stall_after_part_of_body)
    error = fetch_error(Fetcher(UA, limits(fast_limits, retries=0)), srv.url("/stall"))
    assert "timed out after 0.5s while reading" in str(error)


def test_truncated_body_is_an_error(server, fast_limits):
    server.routes["/cut"] = Route(body=b"<rss>" + b"x" * 20_000, truncate=True)
    url = server.url("/cut")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "truncated body" in str(error)
    assert error.retryable is True
    assert len(server.requests_to("/cut")) == fast_limits.retries + 1


def test_body_that_cannot_be_decompressed(server, fast_limits):
    server.routes["/bad-gzip"] = Route(body=b"this is not gzip at all", headers={"Content-Encoding": "gzip"})
    url = server.url("/bad-gzip")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "cannot be decompressed" in str(error)
    assert error.retryable is False
    assert len(server.requests_to("/bad-gzip")) == 1


def test_redirect_without_location(server, fast_limits):
    server.routes["/nowhere"] = Route(status=302)
    url = server.url("/nowhere")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "302" in str(error) and "Location" in str(error)


def test_invalid_url_is_an_error_not_a_crash(fast_limits):
    error = fetch_error(Fetcher(UA, fast_limits), "http:///no-host")
    assert error.retryable is False


# --------------------------------------------------------------------------- size limits


def test_huge_streamed_body_stops_at_the_limit(server, fast_limits):
    """60 MB of chunked zeros (no Content-Length): the client stops reading just past 2 MB."""
    server.routes["/huge"] = Route(streamed=60 * 1024 * 1024)
    url = server.url("/huge")
    started = time.monotonic()
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert time.monotonic() - started < 3
    assert "limit" in str(error) and "2 MB" in str(error)
    assert error.retryable is False
    assert len(server.requests_to("/huge")) == 1


def _declare_50_mb_and_stall(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 52428800\r\n\r\n")
    stop.wait(3)


def test_declared_content_length_over_the_limit_is_refused_before_reading(raw_server, fast_limits):
    """The server announces 50 MB and sends nothing: refusing on the header alone is immediate,
    whereas reading would wait for the read timeout."""
    srv = raw_server(_declare_50_mb_and_stall)
    url = srv.url("/big")
    started = time.monotonic()
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert time.monotonic() - started < fast_limits.read_timeout
    assert "52 MB is over the 2 MB limit" in str(error)
    assert error.retryable is False
    assert len(srv.requests) == 1


def test_body_just_under_the_limit_is_accepted(server, fast_limits):
    body = b"a" * (fast_limits.max_bytes - 1)
    server.routes["/big"] = Route(body=body)
    assert Fetcher(UA, fast_limits).get(server.url("/big")).body == body


def test_gzip_bomb_is_stopped_after_decompression(server, fast_limits):
    """50 MB of zeros gzip to ~50 KB (under the limit on the wire); the cap counts decompressed bytes,
    and the decompressed body is never held in memory."""
    server.routes["/bomb"] = Route(body=b"0" * (50 * 1024 * 1024), gzip=True)
    url = server.url("/bomb")
    fetcher = Fetcher(UA, fast_limits)
    started = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as info:
            fetcher.get(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5
    assert url in str(info.value)
    assert "after decompression" in str(info.value) and "limit" in str(info.value)
    assert info.value.retryable is False
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB while refusing a gzip bomb"


def test_small_gzipped_body_is_decompressed(server, fast_limits):
    text = b"<rss><title>Menneskehandel</title></rss>" * 200
    server.routes["/gz"] = Route(body=text, gzip=True)
    response = Fetcher(UA, fast_limits).get(server.url("/gz"))
    assert response.body == text
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(gzip.compress(text))


# --------------------------------------------------------------------------- redirects


def test_redirect_chain_within_the_limit_is_followed(server, fast_limits):
    """Three hops (the limit), absolute and relative Locations; the Response names the last hop."""
    server.routes["/r1"] = Route(status=301, redirect=server.url("/r2"))
    server.routes["/r2"] = Route(status=302, redirect="/r3")
    server.routes["/r3"] = Route(status=307, redirect="final")
    server.routes["/final"] = Route(body=b"<rss>moved</rss>")
    response = Fetcher(UA, fast_limits).get(server.url("/r1"))
    assert response.status == 200
    assert response.body == b"<rss>moved</rss>"
    assert response.url == server.url("/final")
    assert [entry.path for entry in server.log] == ["/r1", "/r2", "/r3", "/final"]


def test_redirect_chain_over_the_limit(server, fast_limits):
    for hop in range(1, 5):
        server.routes[f"/r{hop}"] = Route(status=302, redirect=f"/r{hop + 1}")
    server.routes["/r5"] = Route(body=b"too far")
    url = server.url("/r1")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "more than 3 redirects" in str(error)
    assert error.retryable is False
    assert not server.requests_to("/r5")
    assert len(server.log) == fast_limits.max_redirects + 1


def test_redirect_loop(server, fast_limits):
    server.routes["/a"] = Route(status=302, redirect="/b")
    server.routes["/b"] = Route(status=302, redirect="/a")
    url = server.url("/a")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "redirects" in str(error)
    assert len(server.log) == fast_limits.max_redirects + 1  # stopped, and not retried


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://ftp.example.test/feed.xml", "gopher://127.0.0.1/1"])
def test_redirect_to_another_scheme_is_refused(server, fast_limits, dns_lookups, target):
    server.routes["/jump"] = Route(status=302, redirect=target)
    url = server.url("/jump")
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "only http and https" in str(error)
    assert target in str(error)  # "(redirected to ...)"
    assert error.retryable is False
    assert len(server.log) == 1
    assert "ftp.example.test" not in dns_lookups


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd", "127.0.0.1/feed"])
def test_url_with_another_scheme_is_refused(url, fast_limits):
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "only http and https" in str(error)
    assert error.retryable is False


def test_scheme_check_is_case_insensitive(server, fast_limits):
    server.routes["/feed"] = Route(body=b"ok")
    url = server.url("/feed").replace("http://", "HTTP://")
    assert Fetcher(UA, fast_limits).get(url).body == b"ok"


# --------------------------------------------------------------------------- per-host politeness


def _get_concurrently(fetcher: Fetcher, urls: list[str]) -> list[Response | Exception]:
    results: list[Response | Exception] = [None] * len(urls)  # type: ignore[list-item]

    def run(index: int, url: str):
        try:
            results[index] = fetcher.get(url)
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, u)) for i, u in enumerate(urls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_one_request_in_flight_per_host(routes, server, fast_limits):
    """per_host=1: each request starts only after the previous one (0.3 s at the server) ended,
    even though the start interval alone (0.1 s) would allow more."""
    routes["/slow"] = Route(body=b"ok", delay=0.3)
    fetcher = Fetcher(UA, limits(fast_limits, per_host=1, host_interval=0.1, read_timeout=2))
    results = _get_concurrently(fetcher, [server.url("/slow")] * 3)
    assert all(isinstance(r, Response) and r.body == b"ok" for r in results), results
    starts = routes.times("/slow")
    assert len(starts) == 3
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.27, gaps


def test_interval_between_starts_on_one_host(routes, server, fast_limits):
    """per_host=3 allows all three at once, but host_interval spaces their starts 0.3 s apart."""
    routes["/quick"] = Route(body=b"ok")
    fetcher = Fetcher(UA, limits(fast_limits, per_host=3, host_interval=0.3))
    results = _get_concurrently(fetcher, [server.url("/quick")] * 3)
    assert all(isinstance(r, Response) for r in results), results
    starts = routes.times("/quick")
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.2, gaps  # without the interval they would all start at once


def test_different_hosts_do_not_wait_for_each_other(routes, server, fast_limits):
    """127.0.0.1 and localhost reach the same server but are different hosts to the gate."""
    routes["/slow"] = Route(body=b"ok", delay=0.3)
    fetcher = Fetcher(UA, limits(fast_limits, per_host=1, host_interval=0.5, read_timeout=2))
    urls = [server.url("/slow"), f"http://localhost:{server.port}/slow"]
    started = time.monotonic()
    results = _get_concurrently(fetcher, urls)
    elapsed = time.monotonic() - started
    assert all(isinstance(r, Response) for r in results), results
    assert {entry.host for entry in server.log} == {"127.0.0.1", "localhost"}
    first, second = routes.times("/slow")
    assert second - first < 0.4  # overlapping, not queued 0.5 s apart
    assert elapsed < 0.75  # one host would take at least 0.5 + 0.3 s


def test_politeness_wait_does_not_count_against_the_body_deadline(server, fast_limits):
    """The second of two sequential gets waits 0.6 s at the gate (host_interval); the server then
    answers at once, so the 0.5 s deadline for the body must not have run out."""
    server.routes["/feed"] = Route(body=b"<rss/>")
    fetcher = Fetcher(UA, limits(fast_limits, per_host=1, host_interval=0.6, total_timeout=0.5, retries=0))
    assert fetcher.get(server.url("/feed")).body == b"<rss/>"
    assert fetcher.get(server.url("/feed")).body == b"<rss/>"


def _drip(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 15\r\n\r\n")
    for _ in range(15):
        if stop.wait(0.1):
            return
        conn.sendall(b"x")


def test_total_timeout_stops_a_dripping_body(raw_server, fast_limits):
    """15 bytes, one every 0.1 s (each well within the 1 s read timeout): the 0.4 s deadline for the
    whole body must end the fetch long before the 1.5 s the drip takes."""
    srv = raw_server(_drip)
    fetcher = Fetcher(UA, limits(fast_limits, read_timeout=1.0, total_timeout=0.4, retries=0))
    started = time.monotonic()
    error = fetch_error(fetcher, srv.url("/drip"))
    elapsed = time.monotonic() - started
    assert "not complete after 0.4s" in str(error)
    assert elapsed < 1.0, f"gave up after {elapsed:.1f}s"


# --------------------------------------------------------------------------- proxies


@pytest.fixture
def proxy():
    """A second LocalServer acting as a plain-HTTP proxy."""
    with fast_stopping(LocalServer()) as local:
        yield local


def _no_no_proxy(monkeypatch):
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_proxy_from_the_environment(monkeypatch, proxy, dns_lookups, fast_limits, variable):
    _no_no_proxy(monkeypatch)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.port}")
    proxy.routes["feeds.example.test/rss"] = Route(body=b"<rss>via proxy</rss>")
    response = Fetcher(UA, fast_limits).get("http://feeds.example.test/rss")
    assert response.body == b"<rss>via proxy</rss>"
    assert response.url == "http://feeds.example.test/rss"
    (entry,) = proxy.log
    assert (entry.host, entry.path) == ("feeds.example.test", "/rss")
    assert entry.headers["user-agent"] == UA
    assert "feeds.example.test" not in dns_lookups  # the proxy resolves, not the client


def test_no_proxy_bypasses_the_proxy(monkeypatch, proxy, dns_lookups, fast_limits):
    """With NO_PROXY naming the host the client connects directly: here the name cannot be
    resolved, so the fetch fails, and the proxy never saw it."""
    _no_no_proxy(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "other.example.test,feeds.example.test")
    proxy.routes["feeds.example.test/rss"] = Route(body=b"<rss>via proxy</rss>")
    url = "http://feeds.example.test/rss"
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "host not found: feeds.example.test" in str(error)
    assert proxy.log == []
    assert "feeds.example.test" in dns_lookups


def test_no_proxy_host_is_fetched_directly(monkeypatch, server, proxy, fast_limits):
    """NO_PROXY=localhost: a localhost URL goes to the server itself; other hosts still use the proxy."""
    _no_no_proxy(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "localhost")
    server.routes["/rss"] = Route(body=b"direct")
    proxy.routes["/rss"] = Route(body=b"proxied")
    fetcher = Fetcher(UA, fast_limits)
    assert fetcher.get(f"http://localhost:{server.port}/rss").body == b"direct"
    assert proxy.log == []
    assert fetcher.get("http://feeds.example.test/rss").body == b"proxied"
    assert [(e.host, e.path) for e in proxy.log] == [("feeds.example.test", "/rss")]


def test_proxy_without_no_proxy_carries_localhost_too(monkeypatch, server, proxy, fast_limits):
    """Control for the test above: without NO_PROXY the same localhost URL goes through the proxy."""
    _no_no_proxy(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    server.routes["/rss"] = Route(body=b"direct")
    proxy.routes["/rss"] = Route(body=b"proxied")
    assert Fetcher(UA, fast_limits).get(f"http://localhost:{server.port}/rss").body == b"proxied"
    assert server.log == []
    assert [(e.host, e.path) for e in proxy.log] == [("localhost", "/rss")]


def test_unreachable_proxy_is_a_retryable_error(monkeypatch, fast_limits):
    _no_no_proxy(monkeypatch)
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    url = "http://feeds.example.test/rss"
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert "cannot reach the proxy (connection refused)" in str(error)
    assert error.retryable is True


# --------------------------------------------------------------------------- connections and failing hosts


def test_connection_reused_after_404_304_and_redirect(server, fast_limits):
    """An error page, a 304 and a redirect are read to their end, so their connection serves the next
    request: five requests to one host come over one connection (before, each 404, 304 and redirect
    closed its connection unread, and the next request paid a new handshake)."""
    server.routes["/feed"] = Route(body=b"<rss/>", etag='"v1"')
    server.routes["/gone"] = Route(body=b"not here " * 200, status=404, content_type="text/html")
    server.routes["/moved"] = Route(status=301, redirect="/feed")
    fetcher = Fetcher(UA, limits(fast_limits, per_host=1, retries=0))
    fetch_error(fetcher, server.url("/gone"))
    assert fetcher.get(server.url("/feed"), etag='"v1"').not_modified
    assert fetcher.get(server.url("/moved")).body == b"<rss/>"
    fetch_error(fetcher, server.url("/gone"))
    assert len(server.log) == 5
    assert len({entry.port for entry in server.log}) == 1, [(e.path, e.port) for e in server.log]


def test_a_failing_host_is_skipped_after_a_few_failed_requests(server, fast_limits):
    """host_failures=3 counts failed requests, not URLs that used up their retries: with no retries,
    three 503s and the host's other URLs are skipped without a request."""
    for n in range(4):
        server.routes[f"/down{n}"] = Route(status=503, body=b"busy")
    fetcher = Fetcher(UA, limits(fast_limits, host_failures=3, retries=0))
    for n in range(3):
        fetch_error(fetcher, server.url(f"/down{n}"))
    error = fetch_error(fetcher, server.url("/down3"))
    assert error.skipped and "failed 3 times in a row" in str(error)
    assert len(server.log) == 3


def test_retries_zero_asks_once(server, fast_limits):
    """`retries=0` (article pages) asks once, and never sleeps before a retry."""
    server.routes["/down"] = Route(status=503, body=b"busy")
    fetcher = Fetcher(UA, limits(fast_limits, retries=2, backoff=5.0, host_failures=10))
    started = time.monotonic()
    fetch_error(fetcher, server.url("/down"), retries=0)
    assert time.monotonic() - started < 1.0
    assert len(server.log) == 1


def test_host_queues_start_other_hosts_work_while_one_host_is_full():
    """per_host=1, 3 workers: a slow host with 5 tasks holds one worker; the other host's tasks start
    at once instead of queueing behind it, and no host ever runs two at once."""
    running: dict[str, int] = {"slow": 0, "quick": 0}
    peak = dict(running)
    started: dict[str, float] = {}
    lock = threading.Lock()

    def task(host: str, name: str, seconds: float):
        with lock:
            running[host] += 1
            peak[host] = max(peak[host], running[host])
            started[name] = time.monotonic()
        time.sleep(seconds)
        with lock:
            running[host] -= 1
        return name

    begin = time.monotonic()
    with net.HostQueues(workers=3, per_host=1) as queues:
        slow = [queues.submit("slow", lambda n=n: task("slow", f"s{n}", 0.2)) for n in range(5)]
        quick = [queues.submit("quick", lambda n=n: task("quick", f"q{n}", 0.01)) for n in range(3)]
        assert [f.result(5) for f in slow + quick] == [f"s{n}" for n in range(5)] + [f"q{n}" for n in range(3)]
    assert peak == {"slow": 1, "quick": 1}
    assert max(started[f"q{n}"] for n in range(3)) - begin < 0.5  # not behind the slow host (1 s)

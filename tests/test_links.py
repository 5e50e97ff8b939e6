"""The link checker against real local servers: states and errors, HEAD refused, timeouts,
redirects and loops, one result per distinct URL with all its uses, per-host politeness,
and the destination policy (links into the network are refused, unless an intranet source
in feeds.yaml names their host)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsletter.curate import links
from newsletter.curate.links import LinkResult, LinkUse, issue_links
from newsletter.models import Entry, Issue, Limits
from tests.server import Route

UA = "newsletter-tests/1.0 (+https://example.invalid/contact)"


# --------------------------------------------------------------------------- helpers


class HeadRefusingServer:
    """A server that answers HEAD differently from GET (tests/server.py answers both alike),
    and records when each request started and ended.

    /head405, /head501, /head403: HEAD gets that status, GET gets 200.
    /head405-gone: HEAD gets 405, GET gets 404.
    /slow/*: 200 after 0.2 s, for both methods.
    """

    def __init__(self) -> None:
        # [method, path, started, ended]: logged on arrival (the checker may be done before the
        # answer's body is written), `ended` filled in once the answer is written.
        self.log: list[list] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._answer()

            def do_GET(self):
                self._answer()

            def _answer(self):
                record = [self.command, self.path, time.monotonic(), None]
                with outer._lock:
                    outer.log.append(record)
                status = 404
                if self.path.startswith("/slow/"):
                    time.sleep(0.2)
                    status = 200
                elif self.path in ("/head405", "/head501", "/head403"):
                    status = int(self.path[-3:]) if self.command == "HEAD" else 200
                elif self.path == "/head405-gone":
                    status = 405 if self.command == "HEAD" else 404
                body = b"x" * 1000
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                record[3] = time.monotonic()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *args: None
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def methods(self, path: str) -> list[str]:
        return [method for method, logged, _, _ in self.log if logged == path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def refusing():
    local = HeadRefusingServer()
    yield local
    local.stop()


# Every server here listens on 127.0.0.1: the checks of HTTP behaviour run as for the host of an
# intranet source (`allow_private: true` in feeds.yaml); the policy's own tests pass no such host.
INTRANET = frozenset({"127.0.0.1"})


def check_links(uses, limits, user_agent, private_hosts=INTRANET):
    return links.check_links(uses, limits, user_agent, private_hosts)


def entry(heading: str, title: str, *urls: str) -> Entry:
    return Entry(heading=heading, title=title, text=" ".join(f"Les mer [se her]({url})." for url in urls))


def uses_of(*urls: str) -> list[LinkUse]:
    return [LinkUse(url, f"norway:{n}", f"Entry {n}") for n, url in enumerate(urls, 1)]


def by_url(results: list[LinkResult]) -> dict[str, LinkResult]:
    return {result.url: result for result in results}


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# --------------------------------------------------------------------------- issue_links


def test_issue_links_in_order_with_refs_and_titles_mailto_skipped():
    issue = Issue(
        id="2024-q1",
        title="T",
        period="1. kvartal 2024",
        sections={
            "highlights": [entry("Stortinget", "Ny lov", "https://a.example/1", "mailto:post@example.no")],
            "norway": [
                entry("Politiske tiltak", "", "https://b.example/2"),  # no title: the heading stands in
                Entry(
                    heading="Høringer",
                    title="Høring",
                    text="[a](https://a.example/1) og <https://c.example/3> "
                    "og `[ikke](https://code.example/)` og [js](javascript:alert(1))",
                ),
            ],
        },
    )
    uses = issue_links(issue)
    assert uses == [
        LinkUse("https://a.example/1", "highlights:1", "Ny lov"),
        LinkUse("https://b.example/2", "norway:1", "Politiske tiltak"),
        LinkUse("https://a.example/1", "norway:2", "Høring"),
        LinkUse("https://c.example/3", "norway:2", "Høring"),
        LinkUse("javascript:alert(1)", "norway:2", "Høring"),
    ]


def test_issue_without_links_checks_nothing(fast_limits):
    issue = Issue(id="2024-q1", title="T", period="p", sections={"norway": [Entry("X", "Y", "Ingen lenker.")]})
    assert issue_links(issue) == []
    assert check_links([], fast_limits, UA) == []


# --------------------------------------------------------------------------- check_links


def test_an_issue_of_good_broken_redirected_hanging_and_refusing_links(server, refusing, fast_limits):
    server.routes.update(
        {
            "/good": Route(b"<html>ok</html>", content_type="text/html"),
            "/missing": Route(b"gone", status=404),
            "/error": Route(b"oops", status=500),
            "/moved": Route(status=301, redirect="/good"),
            "/loop": Route(status=301, redirect="/loop"),
            "/hang": Route(b"late", hang=3),
        }
    )
    good, missing, error = server.url("/good"), server.url("/missing"), server.url("/error")
    moved, loop, hang = server.url("/moved"), server.url("/loop"), server.url("/hang")
    head405 = refusing.url("/head405")
    issue = Issue(
        id="2024-q2",
        title="T",
        period="2. kvartal 2024",
        sections={
            "highlights": [entry("KOM", "Rapport", good, "mailto:kom@example.no")],
            "norway": [
                entry("Stortinget", "Lov", missing, error),
                entry("Politiske tiltak", "Plan", moved, good),  # good again: one result, two uses
                entry("Høringer", "Høring", loop, hang),
            ],
            "international": [entry("UNODC", "World Drug Report", head405, "javascript:alert(1)")],
        },
    )

    started = time.monotonic()
    results = check_links(issue_links(issue), fast_limits, UA)
    elapsed = time.monotonic() - started

    # Each distinct URL once, in first-use order; mailto is not checked.
    assert [r.url for r in results] == [good, missing, error, moved, loop, hang, head405, "javascript:alert(1)"]
    got = by_url(results)

    assert got[good].state == "ok" and got[good].status == 200 and got[good].final_url == good
    assert got[good].error is None
    assert got[good].uses == [LinkUse(good, "highlights:1", "Rapport"), LinkUse(good, "norway:2", "Plan")]

    assert (got[missing].state, got[missing].status, got[missing].error) == ("broken", 404, "HTTP 404 Not Found")
    assert got[missing].uses == [LinkUse(missing, "norway:1", "Lov")]
    assert (got[error].state, got[error].status, got[error].error) == ("broken", 500, "HTTP 500 Internal Server Error")

    assert got[moved].state == "redirected" and got[moved].status == 200
    assert got[moved].final_url == good and got[moved].error is None

    assert got[loop].state == "broken" and got[loop].error.startswith("more than 3 redirects")
    assert got[loop].status is None

    # HEAD and the GET fallback each time out after the 0.5 s read timeout; the server would hang 3 s.
    assert got[hang].state == "broken" and got[hang].status is None and got[hang].final_url is None
    assert got[hang].error == "timed out after 0.5s"
    assert 0.9 <= got[hang].seconds < 2.0
    assert [e.method for e in server.requests_to("/hang")] == ["HEAD", "GET"]

    assert got[head405].state == "ok" and got[head405].status == 200 and got[head405].final_url == head405
    assert refusing.methods("/head405") == ["HEAD", "GET"]

    js = got["javascript:alert(1)"]
    assert (js.state, js.status, js.error) == ("broken", None, "not an http(s) link")
    assert js.uses == [LinkUse("javascript:alert(1)", "international:1", "World Drug Report")]

    # A good link costs one HEAD (/good is asked twice: directly and at the end of /moved), with
    # our User-Agent; the checks ran side by side.
    assert [e.method for e in server.requests_to("/good")] == ["HEAD", "HEAD"]
    assert [e.method for e in server.requests_to("/moved")] == ["HEAD"]
    assert all(e.headers["user-agent"] == UA for e in server.log)
    assert elapsed < 2.0

    as_json = got[moved].to_json()
    assert as_json == {
        "url": moved,
        "state": "redirected",
        "status": 200,
        "final_url": good,
        "error": None,
        "seconds": as_json["seconds"],
        "uses": [{"ref": "norway:2", "title": "Plan"}],
    }
    assert isinstance(as_json["seconds"], float)


@pytest.mark.parametrize("path", ["/head405", "/head501", "/head403"])
def test_head_refused_falls_back_to_get(refusing, fast_limits, path):
    [result] = check_links(uses_of(refusing.url(path)), fast_limits, UA)
    assert (result.state, result.status, result.error) == ("ok", 200, None)
    assert refusing.methods(path) == ["HEAD", "GET"]


def test_get_fallback_decides_the_result(refusing, fast_limits):
    [result] = check_links(uses_of(refusing.url("/head405-gone")), fast_limits, UA)
    assert (result.state, result.status, result.error) == ("broken", 404, "HTTP 404 Not Found")


def test_a_404_on_head_is_not_asked_again(server, fast_limits):
    check_links(uses_of(server.url("/nothing-here")), fast_limits, UA)
    assert [e.method for e in server.requests_to("/nothing-here")] == ["HEAD"]


def test_redirect_limit_counts_hops(server, fast_limits):
    # /r1 → /r2 → /r3 → /end is three redirects: allowed with max_redirects=3; /r0 adds a fourth.
    server.routes.update(
        {
            "/r0": Route(status=302, redirect="/r1"),
            "/r1": Route(status=302, redirect="/r2"),
            "/r2": Route(status=307, redirect="/r3"),
            "/r3": Route(status=308, redirect="/end"),
            "/end": Route(b"done"),
        }
    )
    three, four = server.url("/r1"), server.url("/r0")
    got = by_url(check_links(uses_of(three, four), fast_limits, UA))
    assert got[three].state == "redirected" and got[three].final_url == server.url("/end")
    assert got[four].state == "broken" and got[four].error.startswith("more than 3 redirects")


def test_redirect_to_the_same_url_or_a_fragment_is_ok(server, fast_limits):
    server.routes.update({"/page": Route(b"page")})
    with_fragment = server.url("/page#avsnitt-2")
    [result] = check_links(uses_of(with_fragment), fast_limits, UA)
    assert result.state == "ok" and result.status == 200


def test_redirect_to_another_scheme_is_broken(server, fast_limits):
    server.routes.update({"/ftp": Route(status=302, redirect="ftp://files.example/report.pdf")})
    [result] = check_links(uses_of(server.url("/ftp")), fast_limits, UA)
    assert result.state == "broken" and "non-http(s)" in result.error


def test_no_server_is_broken_not_raised(fast_limits):
    refused = f"http://127.0.0.1:{closed_port()}/x"
    results = check_links(
        uses_of(refused, "ftp://files.example/a", "http:///no-host", "relative/page"), fast_limits, UA
    )
    assert [r.state for r in results] == ["broken"] * 4
    assert results[0].error.startswith("connection refused by 127.0.0.1") and results[0].status is None
    assert results[1].error == "not an http(s) link"
    assert results[2].error.startswith("invalid URL")
    assert results[3].error == "not an http(s) link"


def test_one_host_is_asked_politely(refusing):
    limits = dataclasses.replace(
        Limits(), connect_timeout=1.0, read_timeout=1.0, per_host=1, host_interval=0.2, workers=8
    )
    urls = [refusing.url(f"/slow/{n}") for n in range(3)]
    started = time.monotonic()
    results = check_links(uses_of(*urls), limits, UA)
    elapsed = time.monotonic() - started
    assert [r.state for r in results] == ["ok"] * 3
    assert elapsed >= 0.4
    log = sorted(refusing.log, key=lambda row: row[2])
    assert len(log) == 3
    for (_, _, start, _), (_, _, next_start, _) in zip(log, log[1:]):
        assert next_start - start >= 0.18  # spaced by host_interval
    for (_, _, _, end), (_, _, next_start, _) in zip(log, log[1:]):
        assert next_start >= end - 0.01  # never two in flight


def test_hosts_and_slots_run_concurrently(refusing, fast_limits):
    # per_host=4, no interval: four 0.2 s answers take about 0.2 s, not 0.8 s.
    urls = [refusing.url(f"/slow/{n}") for n in range(4)]
    started = time.monotonic()
    results = check_links(uses_of(*urls), fast_limits, UA)
    assert [r.state for r in results] == ["ok"] * 4
    assert time.monotonic() - started < 0.6

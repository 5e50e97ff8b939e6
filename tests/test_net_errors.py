"""Network failures in plain words, from the one place that reads requests' and urllib3's exceptions
(`net.connection_error`): host not found, connection refused, the proxy refused or cannot be reached,
connection reset, TLS certificate not trusted. Each keeps the URL, and none shows Python's exception text.

Every server is on 127.0.0.1; other names fail in the resolver stand-in of test_http (`dns_lookups`,
autouse here too), so `no-such-host.invalid` never reaches a DNS server.
"""

from __future__ import annotations

import socket
import struct

from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.curate.links import check_links
from tests.conftest import write_workspace
from tests.server import SocketServer
from tests.test_http import UA, Fetcher, _no_no_proxy, dns_lookups, fetch_error  # noqa: F401
from tests.test_links import closed_port, uses_of

UNKNOWN = "https://no-such-host.invalid/feed"

# What must never reach the editor: Python's exception names and repr text.
JARGON = ("Error(", "HTTPSConnection", "HTTPConnection", "Errno", "Max retries", "Caused by")


def plain(message: str) -> str:
    for word in JARGON:
        assert word not in message, message
    return message


class RefusingProxy(SocketServer):
    """A proxy that answers every CONNECT with 502 Bad Gateway, as one does for a host it cannot reach."""

    def handle(self, client: socket.socket) -> None:
        with client:
            client.recv(4096)
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")


class ResettingServer(SocketServer):
    """Accepts a connection and resets it (RST) as soon as the request arrives."""

    def handle(self, client: socket.socket) -> None:
        client.recv(4096)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()


def test_unknown_host_is_host_not_found(fast_limits, dns_lookups):  # noqa: F811
    error = fetch_error(Fetcher(UA, fast_limits), UNKNOWN)
    assert str(error) == (
        f"{UNKNOWN}: host not found: no-such-host.invalid has no DNS address "
        "(check the spelling, or whether the site moved)"
    )
    assert "no-such-host.invalid" in dns_lookups  # the stand-in answered, not the network


def test_closed_port_is_connection_refused(fast_limits):
    url = f"http://127.0.0.1:{closed_port()}/feed"
    error = fetch_error(Fetcher(UA, fast_limits), url)
    assert str(error) == f"{url}: connection refused by 127.0.0.1 (nothing listens there, or a firewall says no)"


def test_proxy_refusing_the_tunnel_gives_its_status(monkeypatch, fast_limits):
    _no_no_proxy(monkeypatch)
    proxy = RefusingProxy()
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        error = fetch_error(Fetcher(UA, fast_limits), UNKNOWN)
    finally:
        proxy.stop()
    assert str(error) == f"{UNKNOWN}: the proxy refused the connection to no-such-host.invalid (502 Bad Gateway)"


def test_unreachable_proxy_says_so(monkeypatch, fast_limits):
    _no_no_proxy(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    error = fetch_error(Fetcher(UA, fast_limits), UNKNOWN)
    assert str(error) == f"{UNKNOWN}: cannot reach the proxy (connection refused); check HTTPS_PROXY and HTTP_PROXY"


def test_reset_connection_says_reset(fast_limits):
    server = ResettingServer()
    try:
        url = f"http://127.0.0.1:{server.port}/feed"
        error = fetch_error(Fetcher(UA, fast_limits), url)
    finally:
        server.stop()
    assert str(error) == f"{url}: connection reset by the server"


def test_collect_names_an_unknown_host_in_plain_words(tmp_path):
    root = write_workspace(
        tmp_path,
        f"""
    sources:
      - key: y
        name: Unknown host
        kind: rss
        url: {UNKNOWN}
        section: norway
        heading: X
    """,
    )
    result = CliRunner().invoke(cli, ["--workspace", str(root), "collect"])
    assert result.exit_code == 1
    assert plain(result.stderr).strip() == (
        f"error: y: {UNKNOWN}: host not found: no-such-host.invalid has no DNS address "
        "(check the spelling, or whether the site moved)"
    )


def test_sources_check_names_a_refused_connection_in_plain_words(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/feed"
    root = write_workspace(
        tmp_path,
        f"""
    sources:
      - key: y
        name: Closed port
        kind: rss
        url: {url}
        allow_private: true
        section: norway
        heading: X
    """,
    )
    result = CliRunner().invoke(cli, ["--workspace", str(root), "sources", "check", "--json"])
    assert '"error": "' + url + ": connection refused by 127.0.0.1" in plain(result.stdout)


def test_links_names_an_unknown_host_and_a_refused_port_in_plain_words(fast_limits):
    refused = f"http://127.0.0.1:{closed_port()}/x"
    unknown, closed = check_links(uses_of(UNKNOWN, refused), fast_limits, UA, private_hosts=frozenset({"127.0.0.1"}))
    assert plain(unknown.error).startswith("host not found: no-such-host.invalid")
    assert plain(closed.error).startswith("connection refused by 127.0.0.1")

"""HTTPS with a CA of one's own, as behind a government proxy that re-signs traffic: the fetcher
trusts it only through REQUESTS_CA_BUNDLE (or SSL_CERT_FILE when that is unset), says how to fix
a TLS failure, and reaches HTTPS sites through HTTPS_PROXY with a CONNECT tunnel.

Certificates come from `trustme`; every server listens on 127.0.0.1 and other names do not
resolve (the `dns_lookups` fixture of test_http), so nothing reaches the internet.
"""

from __future__ import annotations

import select
import socket
import ssl

import pytest
import trustme  # noqa: E402 (a test dependency: missing, these tests fail rather than skip)

from newsletter.errors import FetchError  # noqa: E402
from tests.server import LocalServer, Route, SocketServer  # noqa: E402

# dns_lookups is an autouse fixture; server is the fast-stopping override of conftest's.
# Fetcher is test_http's: the intranet source's fetcher, since every server here is on 127.0.0.1.
from tests.test_http import UA, Fetcher, dns_lookups, fast_stopping, server  # noqa: E402,F401

HOSTS = ("localhost", "127.0.0.1", "feeds.example.test")


@pytest.fixture(scope="module")
def other_ca_file(tmp_path_factory) -> str:
    """A valid CA bundle that did not sign the server's certificate."""
    path = tmp_path_factory.mktemp("other") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def https_server(ca):
    """A LocalServer speaking TLS with a certificate for localhost, 127.0.0.1 and feeds.example.test."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*HOSTS).configure_cert(context)
    local = fast_stopping(LocalServer())
    local.httpd.socket = context.wrap_socket(local.httpd.socket, server_side=True)
    with local:
        yield local


def https_url(server: LocalServer, path: str, host: str = "localhost") -> str:
    return f"https://{host}:{server.port}{path}"


class ConnectProxy(SocketServer):
    """An HTTPS proxy: answers CONNECT by tunnelling to one local port, whatever host was asked for."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.requests: list[str] = []
        super().__init__()

    def handle(self, client: socket.socket):
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.requests.append(line)
            if not line.startswith("CONNECT "):
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                peers = {client: upstream, upstream: client}
                while not self._stop.is_set():
                    readable, _, _ = select.select(list(peers), [], [], 0.05)
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            return
                        peers[sock].sendall(data)


def test_unknown_ca_fails_with_a_hint(https_server, fast_limits):
    """Without the CA the handshake fails; the message says TLS and names REQUESTS_CA_BUNDLE."""
    https_server.routes["/rss"] = Route(body=b"<rss/>")
    url = https_url(https_server, "/rss")
    with pytest.raises(FetchError) as info:
        Fetcher(UA, fast_limits).get(url)
    message = str(info.value)
    assert url in message
    assert "TLS certificate not trusted (unable to get local issuer certificate)" in message
    assert "REQUESTS_CA_BUNDLE" in message and "SSLError" not in message
    assert info.value.retryable is False
    assert https_server.log == []


def test_requests_ca_bundle_is_trusted(monkeypatch, https_server, ca_file, fast_limits):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
    https_server.routes["/rss"] = Route(body=b"<rss>secure</rss>", etag='"t1"')
    fetcher = Fetcher(UA, fast_limits)
    response = fetcher.get(https_url(https_server, "/rss"))
    assert response.status == 200 and response.body == b"<rss>secure</rss>"
    assert fetcher.get(https_url(https_server, "/rss", host="127.0.0.1"), etag='"t1"').not_modified


def test_ssl_cert_file_alone_is_trusted(monkeypatch, https_server, ca_file, fast_limits):
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    https_server.routes["/rss"] = Route(body=b"<rss>secure</rss>")
    assert Fetcher(UA, fast_limits).get(https_url(https_server, "/rss")).body == b"<rss>secure</rss>"


def test_requests_ca_bundle_wins_over_ssl_cert_file(monkeypatch, https_server, ca_file, other_ca_file, fast_limits):
    """SSL_CERT_FILE is honoured only when REQUESTS_CA_BUNDLE is unset: a wrong REQUESTS_CA_BUNDLE fails."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_ca_file)
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    https_server.routes["/rss"] = Route(body=b"<rss/>")
    with pytest.raises(FetchError, match="TLS certificate not trusted"):
        Fetcher(UA, fast_limits).get(https_url(https_server, "/rss"))


def test_https_through_a_connect_proxy_with_its_ca(monkeypatch, https_server, ca_file, dns_lookups, fast_limits):
    """HTTPS_PROXY: the client asks the proxy to CONNECT feeds.example.test:443 (it never resolves
    the name itself) and verifies the certificate with REQUESTS_CA_BUNDLE."""
    proxy = ConnectProxy(https_server.port)
    try:
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
        https_server.routes["feeds.example.test/rss"] = Route(body=b"<rss>tunnelled</rss>")
        response = Fetcher(UA, fast_limits).get("https://feeds.example.test/rss")
    finally:
        proxy.stop()
    assert response.body == b"<rss>tunnelled</rss>"
    assert response.url == "https://feeds.example.test/rss"
    assert [line.rsplit(" ", 1)[0] for line in proxy.requests] == ["CONNECT feeds.example.test:443"]
    assert [(e.host, e.path) for e in https_server.log] == [("feeds.example.test", "/rss")]
    assert "feeds.example.test" not in dns_lookups


def test_https_proxy_is_not_used_for_http(monkeypatch, server, fast_limits):
    """HTTPS_PROXY alone leaves plain-http URLs direct (here to the local server)."""
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # would fail if used
    server.routes["/rss"] = Route(body=b"direct")
    assert Fetcher(UA, fast_limits).get(f"http://localhost:{server.port}/rss").body == b"direct"

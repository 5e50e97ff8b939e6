"""The destination policy (server-side request forgery): only feeds.yaml may point inside the network.

Every test runs against a LocalServer on 127.0.0.1 that logs every request it gets, so
"refused" is proved by the log: the address was never asked. The feeds.yaml sources here
are configured on 127.0.0.1 *without* `allow_private`: their own URL is trusted as written,
and everything found in them (item links, `next` pages, article pages) and every redirect
is held to the policy. Names resolve only as the `names` fixture says (a made-up public
name may be pointed at 127.0.0.1 to play a name that resolves, or is re-bound, inside);
any other name fails to resolve, so nothing reaches the internet.
"""

from __future__ import annotations

import socket

import pytest

from newsletter.collect.check import check_sources
from newsletter.collect.run import collect
from newsletter.config import Workspace
from newsletter.curate.links import LinkUse, check_links, intranet_hosts
from newsletter.errors import ConfigError, FetchError
from newsletter.net import Fetcher, literal_address, refusal
from newsletter.store import Store
from tests.conftest import FAST_LIMITS, write_workspace
from tests.server import LocalServer, Route
from tests.test_proxy_tls import https_server  # noqa: F401 (fixture: a TLS server on 127.0.0.1)

UA = "newsletter-tests/1.0 (+https://example.invalid/contact)"

# Hosts for "inside the network" in every spelling content could use; %d is the server's port.
INSIDE = [
    "http://127.0.0.1:%d/secret",
    "http://2130706433:%d/decimal",
    "http://0x7f000001:%d/hex",
    "http://0177.0.0.1:%d/octal",
    "http://127.1:%d/short",
    "http://[::1]:%d/ipv6",
    "http://[::ffff:127.0.0.1]:%d/mapped",
    "http://0.0.0.0:%d/unspecified",
    "http://localhost:%d/name",
    "http://printer.local:%d/mdns",
    "http://metadata.google.internal:%d/computeMetadata/v1/",
    "http://169.254.169.254:%d/latest/meta-data/",
    "http://10.0.0.1:%d/private",
    "http://192.168.1.1:%d/router",
]


class Names(dict):
    """Name → address for the names that resolve in a test (set items); `asked` records every lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []


@pytest.fixture(autouse=True)
def names(monkeypatch) -> Names:
    """Only literal addresses and the names a test adds resolve; every other name fails."""
    real = socket.getaddrinfo
    table = Names()

    def resolve(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        table.asked.append(name)
        if literal_address(name) is not None:
            return real(host, *args, **kwargs)
        if name in table:
            return real(table[name], *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"{name} is not resolved in tests")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return table


def inside(server: LocalServer) -> list[str]:
    return [url % server.port for url in INSIDE]


def paths(server: LocalServer) -> list[str]:
    return [entry.path for entry in server.log]


def rss(*items: tuple[str, str]) -> bytes:
    """An RSS feed of (title, link) items, each dated (so no article page is needed for a date)."""
    entries = "".join(
        f"<item><title>{title}</title><link>{link.replace('&', '&amp;')}</link>"
        "<pubDate>Mon, 20 Jun 2022 10:00:00 +0200</pubDate></item>"
        for title, link in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()


def workspace(tmp_path, server: LocalServer, extra: str = "", path: str = "/rss", kind: str = "rss", more: str = ""):
    return write_workspace(
        tmp_path,
        f"""
    sources:
      - key: src
        name: Source on 127.0.0.1
        kind: {kind}
        url: {server.url(path)}
        section: norway
        heading: X
        {extra}
        {more}
    """,
    )


def run(root):
    ws = Workspace(root)
    settings = ws.settings()
    with Store(ws.db_path) as store:
        report = collect(store, ws.feeds(settings), settings)
        stored = {item.url: item for item in store.iter_items()}
        pages = {url: store.get_page(url) for url in stored}
    return report, stored, pages


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    "url", [url % 8080 for url in INSIDE] + ["http://１２７.０.０.１/", "http://[fe80::1%25eth0]/"]
)
def test_every_spelling_of_an_inside_address_is_refused(url):
    assert refusal(url) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://www.regjeringen.no/no/aktuelt/",
        "http://8.8.8.8/",
        "http://[2001:4860:4860::8888]/",
        "https://local.example.org/",  # "local" as a label, not the .local domain
        "https://internal.no/",
        "https://bølgen.no/",
        "http:///no-host",  # no host: the fetcher's own error says so
    ],
)
def test_public_names_and_addresses_pass(url):
    assert refusal(url) is None


def test_the_reason_names_the_host_and_the_kind_of_address():
    assert refusal("http://2130706433/") == "2130706433 is a loopback address"
    assert refusal("http://169.254.169.254/latest/meta-data/") == "169.254.169.254 is a link-local address"
    assert refusal("http://[::ffff:10.0.0.1]/") == "::ffff:10.0.0.1 is an IPv4-mapped address (of 10.0.0.1)"
    assert refusal("http://intranett.local/") == "intranett.local is a local name"


# --------------------------------------------------------------------------- the fetcher


def test_a_url_found_in_content_is_refused_before_anything_is_sent(server):
    server.routes["/secret"] = Route(b"password=hunter2")
    fetcher = Fetcher(UA, FAST_LIMITS)
    for url in inside(server):
        with pytest.raises(FetchError) as caught:
            fetcher.get(url)
        assert "refused" in str(caught.value) and url in str(caught.value)
        assert caught.value.retryable is False
    assert server.log == []


def test_the_configured_url_is_trusted_as_written_but_not_its_redirects(server):
    server.routes["/rss"] = Route(status=302, redirect=server.url("/inside"))
    server.routes["/inside"] = Route(b"<rss/>")
    server.routes["/feed"] = Route(b"<rss>ok</rss>")
    fetcher = Fetcher(UA, FAST_LIMITS)
    assert fetcher.get(server.url("/feed"), configured=True).body == b"<rss>ok</rss>"
    with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1 is a loopback address \(redirected to"):
        fetcher.get(server.url("/rss"), configured=True)
    assert paths(server) == ["/feed", "/rss"]
    assert fetcher.get(server.url("/rss"), configured=True, allow_private=True).body == b"<rss/>"


def test_a_name_that_resolves_inside_is_refused_on_the_address_connected_to(server, names):
    """No proxy: the client resolves, and the check is on the socket's peer, so a public-looking
    name that resolves (or is re-bound) to 127.0.0.1 gets no further than the TCP handshake."""
    names["news.example.org"] = "127.0.0.1"
    server.routes["/article"] = Route(b"internal")
    url = f"http://news.example.org:{server.port}/article"
    with pytest.raises(FetchError) as caught:
        Fetcher(UA, FAST_LIMITS).get(url)
    assert "news.example.org resolved to 127.0.0.1, which is a loopback address" in str(caught.value)
    assert server.log == []
    assert Fetcher(UA, FAST_LIMITS).get(url, allow_private=True).body == b"internal"  # an intranet source's link


def test_a_connection_made_for_a_trusted_url_is_not_reused_for_one_found_in_content(server, names):
    names["intranett.example.org"] = "127.0.0.1"
    server.routes["/feed"] = Route(b"feed")
    server.routes["/page"] = Route(b"page")
    fetcher = Fetcher(UA, FAST_LIMITS)
    assert fetcher.get(f"http://intranett.example.org:{server.port}/feed", configured=True).body == b"feed"
    with pytest.raises(FetchError, match="refused"):
        fetcher.get(f"http://intranett.example.org:{server.port}/page")
    assert paths(server) == ["/feed"]


@pytest.fixture
def proxy():
    """A LocalServer acting as the HTTP proxy of the environment (HTTP_PROXY, no NO_PROXY)."""
    with LocalServer() as local:
        yield local


def _behind(monkeypatch, proxy: LocalServer) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")


def test_behind_a_proxy_names_are_the_proxys_but_inside_addresses_are_still_refused(monkeypatch, proxy, names):
    _behind(monkeypatch, proxy)
    proxy.routes["feeds.example.test/rss"] = Route(b"<rss>via proxy</rss>")
    proxy.routes["feeds.example.test/moved"] = Route(status=302, redirect="http://169.254.169.254/latest/meta-data/")
    fetcher = Fetcher(UA, FAST_LIMITS)
    assert fetcher.get("http://feeds.example.test/rss").body == b"<rss>via proxy</rss>"
    assert "feeds.example.test" not in names.asked  # the proxy resolves, not the client
    with pytest.raises(FetchError, match="refused: 169.254.169.254 is a link-local address"):
        fetcher.get("http://feeds.example.test/moved")
    for url in inside(proxy):
        with pytest.raises(FetchError, match="refused"):
            fetcher.get(url)
    assert [(e.host, e.path) for e in proxy.log] == [("feeds.example.test", "/rss"), ("feeds.example.test", "/moved")]


# --------------------------------------------------------------------------- collect and sources check


def test_items_linking_inside_are_not_stored_and_the_source_names_them(server, tmp_path):
    links = inside(server)
    server.routes["/rss"] = Route(
        rss(("Offentlig sak", "https://www.example.org/sak"), *[(f"Lenke {n}", u) for n, u in enumerate(links)])
    )
    server.routes.update({f"/{u.rsplit('/', 1)[-1]}": Route(b"password=hunter2") for u in links})
    root = workspace(tmp_path, server, "relevance: all")
    report, stored, _pages = run(root)
    (result,) = report.results
    assert result.error is None
    assert list(stored) == ["https://www.example.org/sak"]
    (warning,) = [w for w in result.warnings if "inside the network" in w]
    assert warning.startswith(f"{len(links)} items not stored")
    assert "'Lenke 0' (http://127.0.0.1" in warning and "allow_private: true" in warning
    assert paths(server) == ["/rss"]


def test_a_feed_redirected_inside_is_refused_and_nothing_there_is_read(server, names, tmp_path):
    names["feeds.example.org"] = "127.0.0.1"
    server.routes["/rss"] = Route(status=301, redirect=f"http://feeds.example.org:{server.port}/moved")
    server.routes["/moved"] = Route(rss(("Sak", "https://www.example.org/sak")))
    root = workspace(tmp_path, server)
    report, stored, _pages = run(root)
    assert "refused: feeds.example.org resolved to 127.0.0.1" in report.results[0].error
    assert stored == {}
    assert paths(server) == ["/rss"]


def test_next_pages_and_article_pages_inside_are_never_requested(server, names, tmp_path):
    names["www.example.org"] = "127.0.0.1"  # a public name that resolves inside: the article page
    listing = f"""<html><body>
    <div class="item"><h3><a href="http://www.example.org:{server.port}/artikkel">Ny forskrift om informasjonsdeling</a></h3>
    <span class="date">20.06.2022</span></div>
    <div class="item"><h3><a href="/inne">Intern side</a></h3><span class="date">20.06.2022</span></div>
    <a class="next" href="{server.url("/liste?side=2")}">Neste</a></body></html>"""
    server.routes["/liste"] = Route(listing.encode(), content_type="text/html")
    server.routes["/liste?side=2"] = Route(listing.encode(), content_type="text/html")
    server.routes["/artikkel"] = Route(b"<main>menneskehandel tvangsarbeid</main>", content_type="text/html")
    server.routes["/inne"] = Route(b"<main>password=hunter2</main>", content_type="text/html")
    root = workspace(
        tmp_path,
        server,
        "selectors: {item: div.item, title: h3 a, link: h3 a, date: span.date, next: a.next}",
        path="/liste",
        kind="html",
    )
    report, stored, pages = run(root)
    (result,) = report.results
    assert list(stored) == [f"http://www.example.org:{server.port}/artikkel"]
    assert any("page 2:" in w and "refused: 127.0.0.1 is a loopback address" in w for w in result.warnings)
    assert any("'Intern side'" in w for w in result.warnings)
    # The item is stored (its name is public), its article page is asked for and refused at connect.
    assert report.articles_failed == 1
    (page,) = pages.values()
    assert "refused: www.example.org resolved to 127.0.0.1" in page.error
    assert paths(server) == ["/liste"]


def test_allow_private_lets_an_intranet_source_through(server, tmp_path):
    listing = f"""<html><body>
    <div class="item"><h3><a href="/artikkel">Ny forskrift om informasjonsdeling</a></h3><span class="date">20.06.2022</span></div>
    <a class="next" href="{server.url("/liste?side=2")}">Neste</a></body></html>"""
    page2 = """<html><body><div class="item"><h3><a href="/redirect">Ny rapport fra direktoratet</a></h3>
    <span class="date">21.06.2022</span></div></body></html>"""
    server.routes["/liste"] = Route(listing.encode(), content_type="text/html")
    server.routes["/liste?side=2"] = Route(page2.encode(), content_type="text/html")
    server.routes["/artikkel"] = Route(b"<main>tvangsarbeid</main>", content_type="text/html")
    server.routes["/redirect"] = Route(status=302, redirect=server.url("/artikkel"))
    root = workspace(
        tmp_path,
        server,
        "selectors: {item: div.item, title: h3 a, link: h3 a, date: span.date, next: a.next}",
        path="/liste",
        kind="html",
        more="allow_private: true",
    )
    report, stored, pages = run(root)
    assert report.results[0].warnings == []
    assert sorted(stored) == [server.url("/artikkel"), server.url("/redirect")]
    assert report.articles_failed == 0 and report.articles_fetched == 2
    assert sorted(set(paths(server))) == ["/artikkel", "/liste", "/liste?side=2", "/redirect"]


def test_sources_check_names_the_refused_links_too(server, tmp_path):
    server.routes["/rss"] = Route(rss(("Metadata", "http://169.254.169.254/latest/meta-data/")))
    root = workspace(tmp_path, server)
    ws = Workspace(root)
    settings = ws.settings()
    with Store(ws.db_path) as store:
        (check,) = check_sources(store, ws.feeds(settings), settings)
    assert check.items == 0
    assert any("169.254.169.254 is a link-local address" in w for w in check.warnings)
    assert paths(server) == ["/rss"]


def test_allow_private_must_be_true_or_false(server, tmp_path):
    root = workspace(tmp_path, server, "allow_private: yes please")
    with pytest.raises(ConfigError, match="allow_private: expected true or false"):
        Workspace(root).feeds()


# --------------------------------------------------------------------------- links


def test_links_inside_the_network_are_refused_not_asked(server, names, proxy, monkeypatch):
    names["www.example.org"] = "127.0.0.1"
    server.routes.update({f"/{u.rsplit('/', 1)[-1]}": Route(b"ok") for u in inside(server)})
    urls = [*inside(server), f"http://www.example.org:{server.port}/secret"]
    results = check_links([LinkUse(u, f"norway:{n}", "T") for n, u in enumerate(urls, 1)], FAST_LIMITS, UA)
    assert [r.state for r in results] == ["broken"] * len(urls)
    assert all(r.error and r.error.startswith("refused: ") for r in results), [r.error for r in results]
    assert server.log == []
    # A redirect into the network, behind a proxy (which resolves the first hop's name).
    _behind(monkeypatch, proxy)
    proxy.routes["www.example.net/flyttet"] = Route(status=301, redirect="http://2130706433/admin")
    (result,) = check_links([LinkUse("http://www.example.net/flyttet", "norway:1", "T")], FAST_LIMITS, UA)
    assert result.error == "refused: 2130706433 is a loopback address (redirected to http://2130706433/admin)"
    assert [(e.host, e.path) for e in proxy.log] == [("www.example.net", "/flyttet")]


def test_links_on_an_intranet_sources_host_are_checked(server, tmp_path):
    server.routes["/ok"] = Route(b"ok")
    root = workspace(tmp_path, server, "allow_private: true")
    hosts = intranet_hosts(Workspace(root).feeds())
    assert hosts == {"127.0.0.1"}
    (result,) = check_links([LinkUse(server.url("/ok"), "kom:1", "T")], FAST_LIMITS, UA, hosts)
    assert result.state == "ok"
    assert paths(server) in (["/ok"], ["/ok", "/ok"])  # HEAD, and GET only if HEAD is refused


def test_https_to_a_name_that_resolves_inside_is_refused_before_the_tls_handshake(https_server, names):  # noqa: F811
    names["secure.example.org"] = "127.0.0.1"
    https_server.routes["/rss"] = Route(b"<rss>internal</rss>")
    with pytest.raises(FetchError, match="refused: secure.example.org resolved to 127.0.0.1"):
        Fetcher(UA, FAST_LIMITS).get(f"https://secure.example.org:{https_server.port}/rss")
    assert https_server.log == []

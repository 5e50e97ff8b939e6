"""Collecting from a real local server: every source kind, de-duplication, idempotence,
relevance through article pages, and each bad input failing alone.

The server listens on 127.0.0.1, and its items link to pages on it: inside the network,
where only feeds.yaml may point. So the sources here are intranet sources, on purpose
(`allow_private: true`); test_destinations.py collects the same kind of feed without it
and proves those links are refused."""

from __future__ import annotations

import sqlite3

import pytest

from newsletter.collect.run import collect
from newsletter.config import Workspace
from newsletter.curate.inbox import InboxQuery, inbox
from newsletter.store import Store
from tests.conftest import DATA, one_source_workspace, write_workspace
from tests.server import Route

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Regjeringen.no</title><link>https://www.regjeringen.no/</link>
<description>Nyheter</description>
<item><title>Regjeringen styrker innsatsen mot menneskehandel</title>
<link>{base}/no/aktuelt/menneskehandel/id2900001/?utm_source=regjeringen.no&amp;utm_medium=rss</link>
<guid isPermaLink="false">2900001</guid><pubDate>Mon, 20 Jun 2022 10:00:00 +0200</pubDate>
<description>&lt;p&gt;Ny handlingsplan mot menneskehandel legges fram.&lt;/p&gt;</description></item>
<item><title>Ny forskrift om informasjonsdeling mellom etatene</title>
<link>{base}/no/aktuelt/forskrift/id2900002/?utm_source=regjeringen.no&amp;utm_medium=rss</link>
<guid isPermaLink="false">2900002</guid><pubDate>Fri, 24 Jun 2022 12:00:00 +0200</pubDate>
<description>&lt;p&gt;Etatene får klarere regler for å dele opplysninger.&lt;/p&gt;</description></item>
<item><title>Nye regler for jordbruksoppgjøret</title>
<link>{base}/no/aktuelt/jordbruk/id2900003/?utm_source=regjeringen.no&amp;utm_medium=rss</link>
<guid isPermaLink="false">2900003</guid><pubDate>Wed, 01 Jun 2022 09:00:00 +0200</pubDate>
<description>&lt;p&gt;Avtalen gir bøndene økte inntekter.&lt;/p&gt;</description></item>
<item><title>Høring om endringer i utlendingsforskriften</title>
<link>{base}/no/dokumenter/horing-utlending/id2900004/?utm_source=regjeringen.no&amp;utm_medium=rss</link>
<guid isPermaLink="false">2900004</guid><pubDate>Tue, 10 May 2022 08:00:00 +0200</pubDate>
<description>&lt;p&gt;Forslaget gjelder arbeidstillatelser for ofre for menneskehandel.&lt;/p&gt;</description></item>
</channel></rss>"""

ARTICLE_HARD = """<!doctype html><html lang="nb"><head><title>Forskrift</title></head><body>
<nav>Departementene Tema Aktuelt</nav><main><h1>Ny forskrift om informasjonsdeling</h1>
<p>Raskere informasjonsdeling gjør det lettere å avdekke grov utnyttelse av arbeidstakere, tvangsarbeid
og menneskehandel.</p></main><footer>Regjeringen.no</footer></body></html>"""

ARTICLE_OFF = """<!doctype html><html><body><main><h1>Jordbruksoppgjøret</h1>
<p>Avtalen gir bøndene økte inntekter og bedre velferdsordninger.</p></main></body></html>"""

ARTICLE_HEARING = """<!doctype html><html><body><main><h1>Høring</h1>
<div class="hearing-info"><dl><dt>Status</dt><dd>På høring</dd><dt>Høringsfrist</dt><dd>15.08.2022</dd></dl></div>
<p>Forslaget gjelder arbeidstillatelser.</p></main></body></html>"""

LISTING = """<!doctype html><html><body><div class="news">
<div class="item"><h3><a href="/nyheder/2022/ny-rapport">Ny rapport om tvangsarbejde i landbruget</a></h3>
<span class="date">18. maj 2022</span><p class="lead">Rapporten viser omfanget.</p></div>
<div class="item"><h3><a href="https://www.example-regjering.test/no/aktuelt/menneskehandel/id2900001/">Regeringen i Norge</a></h3>
<span class="date">20. juni 2022</span><p class="lead">Samme sak, lenket uten utm.</p></div>
<div class="item"><h3><a href="/nyheder/sommerlukket">Sommerlukket kontor</a></h3>
<span class="date">30. juni 2022</span><p class="lead">Vi holder lukket i juli.</p></div>
</div></body></html>"""

STORTINGET = """<?xml version="1.0" encoding="utf-8"?><saker_oversikt xmlns:i="http://www.w3.org/2001/XMLSchema-instance"
xmlns="http://data.stortinget.no"><saker_liste>
<sak><id>88001</id><tittel>Representantforslag om tiltak mot menneskehandel</tittel><korttittel>Tiltak mot menneskehandel</korttittel>
<henvisning>Dokument 8:100 S (2021–2022)</henvisning><sist_oppdatert_dato>2022-06-02T00:00:00</sist_oppdatert_dato>
<emne_liste><emne><navn>Kriminalitet</navn></emne></emne_liste><komite><id>JUSTIS</id><navn>Justiskomiteen</navn></komite></sak>
<sak><id>88002</id><tittel>Statsbudsjettet 2022</tittel><korttittel i:nil="true"/><henvisning i:nil="true"/>
<sist_oppdatert_dato>0001-01-01T00:00:00</sist_oppdatert_dato></sak>
</saker_liste></saker_oversikt>"""


def feeds_yaml(server, extra: str = "") -> str:
    return f"""
    sources:
      - key: regjeringen
        name: Regjeringen nyheter
        kind: rss
        url: {server.url("/rss")}
        allow_private: true
        section: norway
        heading: Politiske tiltak
        relevance: filter
      - key: cmm
        name: Center mod Menneskehandel
        kind: html
        url: {server.url("/nyheder")}
        allow_private: true
        section: international
        heading: Danmark
        language: da
        relevance: all
        selectors:
          item: div.item
          title: h3 a
          link: h3 a
          date: span.date
          summary: p.lead
      - key: stortinget
        name: Stortinget saker
        kind: stortinget
        url: {server.url("/eksport/saker?sesjonid=2021-2022")}
        allow_private: true
        section: norway
        heading: Stortinget
        relevance: filter
    {extra}"""


@pytest.fixture
def site(server):
    """The three healthy sources and their article pages."""
    base = server.url("")
    server.routes.update(
        {
            "/rss": Route(
                RSS.format(base=base).encode(), content_type="application/rss+xml; charset=utf-8", etag='"rss-1"'
            ),
            "/nyheder": Route(
                LISTING.replace("https://www.example-regjering.test", base).encode(),
                content_type="text/html; charset=utf-8",
                last_modified="Mon, 11 Jul 2022 08:00:00 GMT",
            ),
            "/eksport/saker?sesjonid=2021-2022": Route(
                STORTINGET.encode(), content_type="text/xml; charset=utf-8", etag='"st-1"'
            ),
            "/no/aktuelt/forskrift/id2900002/": Route(ARTICLE_HARD.encode(), content_type="text/html; charset=utf-8"),
            "/no/aktuelt/jordbruk/id2900003/": Route(ARTICLE_OFF.encode(), content_type="text/html; charset=utf-8"),
            "/no/dokumenter/horing-utlending/id2900004/": Route(
                ARTICLE_HEARING.encode(), content_type="text/html; charset=utf-8"
            ),
        }
    )
    return server


def run(root, **kwargs):
    workspace = Workspace(root)
    settings = workspace.settings()
    feeds = workspace.feeds(settings)
    with Store(workspace.db_path) as store:
        report = collect(store, feeds, settings, **kwargs)
        found = {i.url: i for i in store.iter_items()}
    return report, found


def candidates(root, **query):
    workspace = Workspace(root)
    settings = workspace.settings()
    with Store(workspace.db_path) as store:
        return inbox(store, workspace.feeds(settings), settings, InboxQuery(**query))


def test_collects_every_kind_canonicalises_and_deduplicates(site, tmp_path):
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, found = run(root)
    assert [r.error for r in report.results] == [None, None, None]
    base = site.url("")
    # utm_* gone; the listing's link to the same page is the same item, seen in two sources.
    shared = found[f"{base}/no/aktuelt/menneskehandel/id2900001/"]
    assert shared.sources == ("regjeringen", "cmm")
    assert shared.published.isoformat() == "2022-06-20"
    assert shared.summary == "Ny handlingsplan mot menneskehandel legges fram."
    assert len(found) == 4 + 2 + 2  # 4 feed items, 2 more from the listing, 2 cases
    assert found[f"{base}/nyheder/2022/ny-rapport"].published.isoformat() == "2022-05-18"
    case = found["https://www.stortinget.no/no/Saker-og-publikasjoner/Saker/Sak/?p=88001"]
    assert case.published.isoformat() == "2022-06-02" and "Justiskomiteen" in case.summary
    budget = found["https://www.stortinget.no/no/Saker-og-publikasjoner/Saker/Sak/?p=88002"]
    assert budget.published is None and budget.date_precision is None
    assert all(len(i.id) == 7 for i in found.values())
    assert report.results[0].new == 4 and report.results[1].new == 2 and report.results[1].unchanged == 1


def test_relevance_reads_article_pages_and_ranks(site, tmp_path):
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, found = run(root)
    base = site.url("")
    hard = found[f"{base}/no/aktuelt/forskrift/id2900002/"]
    off = found[f"{base}/no/aktuelt/jordbruk/id2900003/"]
    clear = found[f"{base}/no/aktuelt/menneskehandel/id2900001/"]
    assert "menneskehandel" in hard.terms and "tvangsarbeid" in hard.terms
    assert hard.score >= 3 > off.score
    assert clear.score > hard.score
    # The clearly relevant item needed no article page; the others did.
    assert site.requests_to("/no/aktuelt/menneskehandel/id2900001/") == []
    assert len(site.requests_to("/no/aktuelt/forskrift/id2900002/")) == 1
    assert report.articles_fetched >= 3
    ranked = candidates(root, since=None)
    urls = [i.url for i in ranked]
    assert off.url not in urls  # a filter source's off-topic item is not a candidate
    assert f"{base}/nyheder/sommerlukket" in urls  # every item of a `relevance: all` source is
    assert urls.index(clear.url) < urls.index(hard.url)
    assert ranked == sorted(ranked, key=lambda i: -i.score)
    everything = candidates(root, include_all=True)
    assert off.url in [i.url for i in everything]


def test_consultation_deadline_comes_from_its_page(site, tmp_path):
    extra = f"""
      - key: horinger
        name: Regjeringen høringer
        kind: rss
        url: {site.url("/rss")}
        allow_private: true
        section: norway
        heading: Høringer
        item_kind: consultation
        relevance: filter
    """
    root = write_workspace(tmp_path, feeds_yaml(site).replace("sources:", "sources:" + extra, 1))
    _, found = run(root, keys=["horinger"])
    hearing = found[f"{site.url('')}/no/dokumenter/horing-utlending/id2900004/"]
    assert hearing.kind == "consultation"
    assert hearing.deadline.isoformat() == "2022-08-15"


def test_second_collect_costs_one_conditional_request_and_keeps_decisions(site, tmp_path):
    root = write_workspace(tmp_path, feeds_yaml(site))
    _, found = run(root)
    picked = next(i for i in found.values() if "handlingsplan" in i.summary)
    with Store(Workspace(root).db_path) as store:
        store.set_status([picked.id], "skipped")
    before = len(site.log)
    report, again = run(root)
    assert [r.not_modified for r in report.results] == [True, True, True]
    new_requests = site.log[before:]
    assert len(new_requests) == 3  # one 304 per source, no article page fetched again
    assert new_requests[0].headers.get("if-none-match") or new_requests[0].headers.get("if-modified-since")
    assert {k: (v.id, v.title) for k, v in again.items()} == {k: (v.id, v.title) for k, v in found.items()}
    assert again[picked.url].status == "skipped"


def test_changed_item_is_updated_in_place_and_status_survives(site, tmp_path):
    root = write_workspace(tmp_path, feeds_yaml(site))
    _, found = run(root)
    target = next(i for i in found.values() if i.title == "Nye regler for jordbruksoppgjøret")
    with Store(Workspace(root).db_path) as store:
        store.set_status([target.id], "picked")
    route = site.routes["/rss"]
    route.body = route.body.replace(b"Nye regler for jordbruksoppgj\xc3\xb8ret", b"Endrede regler for jordbruket")
    route.etag = '"rss-2"'
    report, again = run(root, keys=["regjeringen"])
    assert (report.results[0].new, report.results[0].updated, report.results[0].unchanged) == (0, 1, 3)
    updated = again[target.url]
    assert updated.id == target.id and updated.title == "Endrede regler for jordbruket"
    assert updated.status == "picked"
    assert len(again) == len(found)


def test_since_skips_older_items(site, tmp_path):
    import datetime as dt

    root = write_workspace(tmp_path, feeds_yaml(site))
    _, found = run(root, keys=["regjeringen"], since=dt.date(2022, 6, 15))
    assert sorted(i.published.isoformat() for i in found.values()) == ["2022-06-20", "2022-06-24"]


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><link>http://x.test/a</link></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title><link>http://x.test/a</link>
<description>&xxe;</description></item></channel></rss>"""

BAD_SOURCES = {
    "http-500": (Route(b"oops", status=500, content_type="text/plain"), "HTTP 500"),
    "http-404": (Route(b"gone", status=404, content_type="text/plain"), "HTTP 404"),
    "hang": (Route(hang=3), "timed out"),
    "truncated": (Route(RSS.encode() * 3, truncate=True), "truncated"),
    "html-not-feed": (
        Route(
            b"<!doctype html><html><body><h1>Siden finnes ikke</h1></body></html>",
            content_type="text/html; charset=utf-8",
        ),
        "got an HTML page",
    ),
    "empty-200": (Route(b""), "empty response"),
    "billion-laughs": (Route(BILLION_LAUGHS), "declares XML entities"),
    "xxe": (Route(XXE), "declares XML entities"),
    "60-mb": (Route(streamed=60 * 1024 * 1024), "limit"),
    "gzip-bomb": (Route(b"<rss>" + b" " * (40 * 1024 * 1024), gzip=True), "after decompression"),
}


@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
def test_a_bad_source_fails_alone_and_loses_nothing(site, tmp_path, case):
    root = write_workspace(tmp_path, feeds_yaml(site))
    _, first = run(root)
    route, message = BAD_SOURCES[case]
    site.routes["/rss"] = route
    report, after = run(root)
    failed = {r.source: r.error for r in report.results if r.error}
    assert list(failed) == ["regjeringen"], failed
    error = failed["regjeringen"]
    assert message in error and site.url("/rss") in error and "\n" not in error
    assert "root:" not in error
    # The other sources were read, and everything stored before is still there.
    assert set(first) <= set(after)
    assert all(r.ok for r in report.results if r.source != "regjeringen")
    with Store(Workspace(root).db_path) as store:
        state = store.get_state("regjeringen")
        assert state.consecutive_failures == 1 and message in state.last_error
        assert "root:" not in " ".join(i.title + i.summary for i in store.iter_items())
    # The next run asks again (with the validators of the last body that parsed), and it recovers.
    site.routes["/rss"] = Route(RSS.format(base=site.url("")).encode(), etag='"rss-1"')
    before = len(site.log)
    report, _ = run(root, keys=["regjeringen"])
    assert report.results[0].ok
    assert [entry.path for entry in site.log[before:]] == ["/rss"]
    with Store(Workspace(root).db_path) as store:
        assert store.get_state("regjeringen").consecutive_failures == 0


def test_latin1_labelled_utf8_is_read_correctly(site, tmp_path):
    body = RSS.format(base=site.url("")).replace("jordbruksoppgjøret", "jordbruksoppgjøret på Ås").encode("latin-1")
    site.routes["/rss"] = Route(body, content_type="application/rss+xml; charset=utf-8")
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, found = run(root, keys=["regjeringen"])
    assert report.results[0].ok
    assert any(w.startswith("body is not valid utf-8") for w in report.results[0].warnings)
    assert "Nye regler for jordbruksoppgjøret på Ås" in {i.title for i in found.values()}


def test_hostile_markup_and_control_characters_are_gone(site, tmp_path):
    body = (
        RSS.format(base=site.url(""))
        .replace(
            "<title>Nye regler for jordbruksoppgjøret</title>",
            "<title>Nye regler&#13;&#10;Bcc: evil@example.test\tfor jordbruk</title>",
        )
        .replace(
            "&lt;p&gt;Avtalen gir bøndene økte inntekter.&lt;/p&gt;",
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
            "&lt;a href=&quot;javascript:alert(3)&quot;&gt;Avtalen&lt;/a&gt; gir inntekter.",
        )
    )
    site.routes["/rss"] = Route(body.encode(), content_type="application/rss+xml")
    root = write_workspace(tmp_path, feeds_yaml(site))
    _, found = run(root, keys=["regjeringen"])
    item = next(i for i in found.values() if i.url.endswith("/id2900003/"))
    assert item.title == "Nye regler Bcc: evil@example.test for jordbruk"
    assert item.summary == "Avtalen gir inntekter."
    stored = sqlite3.connect(Workspace(root).db_path).execute("SELECT group_concat(summary || title) FROM items")
    text = stored.fetchone()[0]
    for bad in ("<script", "alert(", "onerror", "javascript:", "\r", "\n"):
        assert bad not in text


def test_invisible_and_bidirectional_characters_never_reach_the_store(site, tmp_path):
    """A feed that hides text or reorders it ("Trojan Source") in titles and summaries, as characters and as
    character references: the store holds what a reader sees, with the joiners scripts need."""
    body = (
        RSS.format(base=site.url(""))
        .replace(
            "<title>Nye regler for jordbruksoppgjøret</title>",
            "<title>Nye\u200b regler&#x202E;tegnel.exe&#x202C; for &#x2066;jord\u2060bruk&#x2069;\ufeff "
            "&#xAD;og menneske&#xAD;handel</title>",
        )
        .replace(
            "&lt;p&gt;Avtalen gir bøndene økte inntekter.&lt;/p&gt;",
            "&lt;p&gt;Avtalen&amp;#x200F; gir&amp;#x200B; \u202ainntekter\u202c \U000e0041\U000e0042 "
            "(\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645).&lt;/p&gt;",
        )
    )
    site.routes["/rss"] = Route(body.encode(), content_type="application/rss+xml; charset=utf-8")
    root = write_workspace(tmp_path, feeds_yaml(site))
    _, found = run(root, keys=["regjeringen"])
    item = next(i for i in found.values() if i.url.endswith("/id2900003/"))
    assert item.title == "Nye reglertegnel.exe for jordbruk og menneskehandel"
    assert item.summary == "Avtalen gir inntekter (\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645)."  # ZWNJ kept


def test_selector_that_matches_nothing_is_a_failure_naming_the_source(site, tmp_path):
    site.routes["/nyheder"] = Route(
        b"<html><body><div class='redesigned'>Ny side</div></body></html>", content_type="text/html"
    )
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, _ = run(root, keys=["cmm"])
    error = report.results[0].error
    assert "selector 'div.item' matched 0 items" in error
    assert "source 'cmm' in feeds.yaml" in error
    assert error.count(site.url("/nyheder")) == 1, "the page is named once: it is the source's own address"


def test_gzip_encoded_feed_is_decompressed(site, tmp_path):
    site.routes["/rss"] = Route(RSS.format(base=site.url("")).encode(), gzip=True)
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, found = run(root, keys=["regjeringen"])
    assert report.results[0].ok and len(found) == 4


def test_pages_follow_next_links_up_to_max_pages(server, tmp_path):
    def page(n, next_link=True):
        more = f'<a class="next" href="/list?page={n + 1}">Neste</a>' if next_link else ""
        return (
            f'<html><body><div class="item"><h3><a href="/a{n}">Sak {n} om menneskehandel</a></h3>'
            f'<span class="date">{n}. juni 2022</span></div>{more}</body></html>'
        ).encode()

    server.routes.update({"/list": Route(page(1), content_type="text/html")})
    for n in range(2, 6):
        server.routes[f"/list?page={n}"] = Route(page(n), content_type="text/html")
    root = write_workspace(
        tmp_path,
        f"""
    sources:
      - key: paged
        name: Paged
        kind: html
        url: {server.url("/list")}
        allow_private: true
        section: international
        heading: Paged
        relevance: all
        max_pages: 3
        selectors: {{item: div.item, title: h3 a, link: h3 a, date: span.date, next: a.next}}
    """,
    )
    _, found = run(root)
    assert sorted(i.title for i in found.values()) == [
        "Sak 1 om menneskehandel",
        "Sak 2 om menneskehandel",
        "Sak 3 om menneskehandel",
    ]
    assert server.requests_to("/list?page=4") == []


def test_europol_style_feed_gets_dates_from_article_pages(server, tmp_path):
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Europol</title>
    <item><title>Human trafficking network dismantled</title><link>{server.url("/news/thb")}</link>
    <description>Officers arrested ten suspects...</description></item>
    <item><title>No page here</title><link>{server.url("/news/gone")}</link></item>
    </channel></rss>"""
    server.routes.update(
        {
            "/rss": Route(feed.encode()),
            "/news/thb": Route(
                b'<html><body><main><div class="news-date">08 Jun 2022</div><p>Victims of '
                b"trafficking were identified.</p></main></body></html>",
                content_type="text/html",
            ),
        }
    )
    root = write_workspace(
        tmp_path,
        f"""
    sources:
      - key: europol
        name: Europol
        kind: rss
        url: {server.url("/rss")}
        allow_private: true
        section: international
        heading: Europol
        language: en
    """,
    )
    report, found = run(root)
    assert any("no date" in w for w in report.results[0].warnings)
    assert found[server.url("/news/thb")].published.isoformat() == "2022-06-08"
    undated = found[server.url("/news/gone")]
    assert undated.published is None  # kept, and marked as having no date
    assert report.articles_failed == 1


# ---------------------------------------------------------------------- edge cases found in review


def test_an_unparsable_link_is_skipped_with_a_warning_not_a_crash(site, tmp_path):
    feed = RSS.format(base=site.url("")).replace(
        "<item><title>Nye regler",
        "<item><title>Broken</title><link>http://[::1/x</link></item><item><title>Nye regler",
        1,
    )
    site.routes["/rss"] = Route(feed.encode())
    listing = LISTING.replace('href="/nyheder/sommerlukket"', 'href="http://[::1/x"')
    site.routes["/nyheder"] = Route(
        listing.replace("https://www.example-regjering.test", site.url("")).encode(), content_type="text/html"
    )
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, found = run(root)
    assert all(r.ok for r in report.results)
    assert any("1 entry without a link skipped" in w for w in report.results[0].warnings)
    assert any("'link' selector found nothing in 1 of 3 items" in w for w in report.results[1].warnings)
    assert len([i for i in found.values() if "regjeringen" in i.sources]) == 4


def test_javascript_and_data_links_are_never_stored(site, tmp_path):
    listing = LISTING.replace('href="/nyheder/sommerlukket"', 'href=" JavaScript:alert(1)"').replace(
        'href="/nyheder/2022/ny-rapport"', 'href="data:text/html,<script>alert(1)</script>"'
    )
    site.routes["/nyheder"] = Route(
        listing.replace("https://www.example-regjering.test", site.url("")).encode(), content_type="text/html"
    )
    root = write_workspace(tmp_path, feeds_yaml(site))
    _, found = run(root, keys=["cmm"])
    assert all(url.startswith("http://127.0.0.1") for url in found)
    assert len(found) == 1


def test_a_changed_title_is_scored_again(site, tmp_path):
    root = write_workspace(tmp_path, feeds_yaml(site))
    _, found = run(root, keys=["regjeringen"])
    url = f"{site.url('')}/no/aktuelt/jordbruk/id2900003/"
    assert found[url].score < 3
    route = site.routes["/rss"]
    route.body = route.body.replace(
        "Nye regler for jordbruksoppgjøret".encode(), b"Tiltak mot menneskehandel og tvangsarbeid i landbruket"
    )
    route.etag = '"rss-2"'
    _, again = run(root, keys=["regjeringen"])
    assert again[url].score >= 3 and "menneskehandel" in again[url].terms


def test_since_does_not_leave_validators_that_would_hide_older_items(site, tmp_path):
    import datetime as dt

    root = write_workspace(tmp_path, feeds_yaml(site))
    _, first = run(root, keys=["regjeringen"], since=dt.date(2022, 6, 15))
    assert len(first) == 2
    report, after = run(root, keys=["regjeringen"])
    assert not report.results[0].not_modified
    assert len(after) == 4


def test_since_keeps_the_validators_for_a_run_with_the_same_since(site, tmp_path):
    """--since held items back: the ETag is kept with that date, so the next run with the same --since
    asks conditionally (304), and only a run that wants the older items downloads the feed in full."""
    import datetime as dt

    root = write_workspace(tmp_path, feeds_yaml(site))
    run(root, keys=["regjeringen"], since=dt.date(2022, 6, 15))
    report, _ = run(root, keys=["regjeringen"], since=dt.date(2022, 6, 15))
    assert report.results[0].not_modified
    assert site.requests_to("/rss")[-1].headers.get("if-none-match") == '"rss-1"'
    report, _ = run(root, keys=["regjeringen"], since=dt.date(2022, 6, 20))  # a later date wants no more
    assert report.results[0].not_modified
    report, after = run(root, keys=["regjeringen"], since=dt.date(2022, 1, 1))
    assert not report.results[0].not_modified
    assert "if-none-match" not in site.requests_to("/rss")[-1].headers
    assert len(after) == 4
    report, _ = run(root, keys=["regjeringen"])  # everything is stored now: conditional again
    assert report.results[0].not_modified


def test_a_warm_collect_asks_only_the_sources_conditionally_and_never_sleeps(site, tmp_path, monkeypatch):
    """Nothing changed: the second collect sends one conditional request per source and nothing else,
    not even for the article page that failed with a passing error on the first run, and never sleeps."""
    import time

    site.routes["/no/aktuelt/jordbruk/id2900003/"] = Route(b"busy", status=503, content_type="text/plain")
    root = write_workspace(tmp_path, feeds_yaml(site))
    first, _ = run(root)
    assert site.url("/no/aktuelt/jordbruk/id2900003/") in [url for url, _ in first.article_errors]
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    before = len(site.log)
    report, _ = run(root)
    asked = site.log[before:]
    assert sorted(e.path for e in asked) == sorted(["/rss", "/nyheder", "/eksport/saker?sesjonid=2021-2022"])
    assert all("if-none-match" in e.headers or "if-modified-since" in e.headers for e in asked), asked
    assert all(r.not_modified for r in report.results)
    assert report.articles_fetched == report.articles_failed == 0
    assert report.articles_waiting == first.articles_failed  # (www.stortinget.no is not resolved in tests)
    assert sleeps == []


@pytest.mark.parametrize(
    ("route", "too_soon", "due"),
    [
        (Route(b"busy", status=503, content_type="text/plain"), 0.5, 2),  # a passing failure: a later run
        (Route(b"gone", status=404, content_type="text/plain"), 24 * 6, 24 * 8),  # a lasting one: days
    ],
    ids=["503", "404"],
)
def test_a_failed_article_page_is_not_asked_again_before_its_retry_after(site, tmp_path, route, too_soon, due):
    """The page is asked once (no retries inside the run), not again before its retry-after, and once
    that has passed, asked and read; the item's score then includes the page."""
    import datetime as dt

    path = "/no/aktuelt/forskrift/id2900002/"
    page = site.routes[path]
    site.routes[path] = route
    root = write_workspace(tmp_path, feeds_yaml(site))
    start = dt.datetime(2022, 7, 12, 8, 0, tzinfo=dt.UTC)
    report, found = run(root, now=start)
    assert len(site.requests_to(path)) == 1
    assert site.url(path) in [url for url, _ in report.article_errors]
    hard = found[site.url(path)]
    assert "tvangsarbeid" not in hard.terms
    report, _ = run(root, now=start + dt.timedelta(hours=too_soon))
    assert len(site.requests_to(path)) == 1
    assert report.articles_waiting >= 1 and site.url(path) not in [url for url, _ in report.article_errors]
    site.routes[path] = page
    report, found = run(root, now=start + dt.timedelta(hours=due))
    assert len(site.requests_to(path)) == 2
    assert report.articles_fetched == 1
    assert "tvangsarbeid" in found[site.url(path)].terms
    run(root, now=start + dt.timedelta(hours=due + 1))
    assert len(site.requests_to(path)) == 2  # read: never asked again


def test_requests_in_flight_per_host_stay_within_the_limit(server, tmp_path):
    """per_host: 2 and 8 workers: 12 slow article pages on each of two hosts (127.0.0.1 and localhost
    reach one server) never have more than 2 requests in flight per host, and both hosts are busy at
    once (a worker never waits on a busy host while the other has work)."""
    items = "".join(
        f"<item><title>Sak {n}</title><link>http://{host}:{server.port}/art/{n}</link>"
        f"<pubDate>Mon, 20 Jun 2022 10:00:00 +0200</pubDate></item>"
        for n in range(24)
        for host in ["127.0.0.1" if n % 2 else "localhost"]
    )
    server.routes["/rss"] = Route(f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode())
    for n in range(24):
        server.routes[f"/art/{n}"] = Route(b"<p>tekst</p>", content_type="text/html", delay=0.1)
    root = one_source_workspace(tmp_path, server.url("/rss"), key="broad")
    settings = root / "newsletter.yaml"
    settings.write_text(settings.read_text().replace("per_host: 4", "per_host: 2"))
    report, _ = run(root)
    assert report.articles_fetched == 24
    assert server.peak == {"127.0.0.1": 2, "localhost": 2}
    assert server.peak_total >= 3  # both hosts served at once, not one after the other


def test_article_pages_past_the_limit_are_read_on_the_next_collect(site, tmp_path):
    root = write_workspace(
        tmp_path, feeds_yaml(site), "relevance:\n  article_limit: 1\n".replace("relevance:\n", "") if False else ""
    )
    settings = (root / "newsletter.yaml").read_text().replace("  clear: 6\n", "  clear: 6\n  article_limit: 1\n")
    (root / "newsletter.yaml").write_text(settings)
    report, _ = run(root, keys=["regjeringen"])
    assert report.articles_fetched + report.articles_failed == 1
    pages = lambda: {e.path for e in site.log if e.path.startswith("/no/")}  # noqa: E731
    first = pages()
    run(root, keys=["regjeringen"])
    second = pages()
    assert len(second) == len(first) + 1
    run(root, keys=["regjeringen"])
    _, found = run(root, keys=["regjeringen"])
    hard = found[f"{site.url('')}/no/aktuelt/forskrift/id2900002/"]
    assert "menneskehandel" in hard.terms  # reached in the end, not lost past the limit


def test_a_dead_host_is_given_up_on_for_the_rest_of_the_run(server, tmp_path):
    items = "".join(
        f"<item><title>Sak {n}</title><link>{server.url(f'/dead/{n}')}</link>"
        f"<pubDate>Mon, 20 Jun 2022 10:00:00 +0200</pubDate></item>"
        for n in range(20)
    )
    server.routes["/rss"] = Route(f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode())
    for n in range(20):
        server.routes[f"/dead/{n}"] = Route(b"down", status=503, content_type="text/plain")
    root = one_source_workspace(tmp_path, server.url("/rss"), key="broad")
    report, _ = run(root)
    tried = {e.path for e in server.log if e.path.startswith("/dead/")}
    # After 3 failures in a row the host's other pages wait for the next collect; those already
    # started when the third failure came (at most one per worker, 8 here) still run.
    assert len(tried) <= 8 + 3
    assert report.articles_failed == 20


def test_entities_hidden_behind_a_long_comment_are_still_refused(site, tmp_path):
    padding = "<!--" + "x" * 300_000 + "-->"
    site.routes["/rss"] = Route(BILLION_LAUGHS.replace(b"<!DOCTYPE", padding.encode() + b"<!DOCTYPE"))
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, _ = run(root, keys=["regjeringen"])
    assert "declares XML entities" in report.results[0].error


def test_utf8_labelled_latin1_is_read_as_utf8(site, tmp_path):
    body = RSS.format(base=site.url("")).replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("utf-8")
    site.routes["/rss"] = Route(body, content_type="application/rss+xml; charset=iso-8859-1")
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, found = run(root, keys=["regjeringen"])
    assert "Nye regler for jordbruksoppgjøret" in {i.title for i in found.values()}
    assert any("is UTF-8" in w for w in report.results[0].warnings)


def test_relative_rss_links_are_resolved_against_the_feed(server, tmp_path):
    server.routes["/feeds/rss"] = Route(
        b'<rss version="2.0"><channel><title>t</title><item><title>Menneskehandel'
        b"</title><link>/nyheter/sak-1</link></item></channel></rss>"
    )
    root = one_source_workspace(tmp_path, server.url("/feeds/rss"), key="rel")
    _, found = run(root)
    assert list(found) == [server.url("/nyheter/sak-1")]


def test_undated_items_belong_to_the_period_they_were_first_seen(server, tmp_path):
    server.routes["/rss"] = Route(
        b'<rss version="2.0"><channel><title>t</title><item><title>Menneskehandel i '
        b"Europa</title><link>http://127.0.0.1/a</link></item></channel></rss>"
    )
    root = one_source_workspace(tmp_path, server.url("/rss"), key="undated", extra="relevance: all")
    run(root)
    import datetime as dt

    today = dt.date.today()
    assert [i.title for i in candidates(root, since=today - dt.timedelta(days=1))] == ["Menneskehandel i Europa"]
    assert candidates(root, since=dt.date(2019, 1, 1), until=dt.date(2019, 3, 31)) == []


def test_an_item_first_seen_after_midnight_in_oslo_belongs_to_the_oslo_day(server, tmp_path, monkeypatch):
    """First seen at 00:30 in Oslo on 1 April 2024, still 31 March in UTC: stored as that UTC instant,
    listed in the second quarter (by date and by issue), not the first; the last collect is shown in Oslo time."""
    import datetime as dt
    import json

    from click.testing import CliRunner

    from newsletter import clock
    from newsletter.cli import cli

    server.routes["/rss"] = Route(
        b'<rss version="2.0"><channel><title>t</title><item><title>Menneskehandel i '
        b"Europa</title><link>http://127.0.0.1/a</link></item></channel></rss>"
    )
    root = one_source_workspace(tmp_path, server.url("/rss"), key="undated", extra="relevance: all")
    seen = dt.datetime(2024, 3, 31, 22, 30, tzinfo=dt.UTC)  # 00:30 CEST on 1 April
    monkeypatch.setattr(clock, "now", lambda: seen)
    _, found = run(root)
    assert [i.first_seen for i in found.values()] == [seen]
    assert [i.title for i in candidates(root, since=dt.date(2024, 4, 1), until=dt.date(2024, 6, 30))] == [
        "Menneskehandel i Europa"
    ]
    assert candidates(root, since=dt.date(2024, 1, 1), until=dt.date(2024, 3, 31)) == []

    def invoke(*args):
        result = CliRunner().invoke(cli, ["--workspace", str(root), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    assert [i["title"] for i in json.loads(invoke("items", "--issue", "2024-q2", "--json"))] == [
        "Menneskehandel i Europa"
    ]
    assert json.loads(invoke("items", "--issue", "2024-q1", "--json")) == []
    assert "2024-04-01 00:30" in invoke("sources", "check")


def test_one_document_in_two_spellings_is_one_item(server, tmp_path):
    """The feed escapes ø in lower case, the listing writes the letter itself: RFC 3986 §6.2.2 makes them
    one URL, so one item, seen in both sources (tests/data/feeds/percent_encoding_spellings.xml has
    every spelling)."""
    server.routes["/rss"] = Route(
        f"""<rss version="2.0"><channel><title>t</title><item><title>Høring om menneskehandel</title>
        <link>{server.url("/no/h%c3%b8ring-om-menneskehandel/")}</link>
        <pubDate>Mon, 20 Jun 2022 10:00:00 +0200</pubDate></item></channel></rss>""".encode()
    )
    server.routes["/liste"] = Route(
        '<html><body><div class="item"><h3><a href="/no/./høring-om-menneskehandel/">Høring</a></h3>'
        '<span class="date">20.06.2022</span></div></body></html>'.encode(),
        content_type="text/html; charset=utf-8",
    )
    root = write_workspace(
        tmp_path,
        f"""
    sources:
      - key: feed
        name: Feed
        kind: rss
        url: {server.url("/rss")}
        allow_private: true
        section: norway
        relevance: all
      - key: liste
        name: Liste
        kind: html
        url: {server.url("/liste")}
        allow_private: true
        section: norway
        relevance: all
        selectors: {{item: div.item, title: h3 a, link: h3 a, date: span.date}}
    """,
    )
    report, found = run(root)
    assert [(r.new, r.unchanged) for r in report.results] == [(1, 0), (0, 1)]
    (item,) = found.values()
    assert item.url == server.url("/no/h%C3%B8ring-om-menneskehandel/")
    assert item.sources == ("feed", "liste")


def _shared_link_feed(*guids: str) -> bytes:
    """tests/data/feeds/shared_link_guids.xml with only the entries of `guids` (all when none are named)."""
    text = (DATA / "feeds" / "shared_link_guids.xml").read_text(encoding="utf-8")
    head, *entries = text.split("<item>")
    entries[-1] = entries[-1].split("</channel>")[0]
    kept = [e for e in entries if not guids or any(f">{g}</guid>" in e for g in guids)]
    return (head + "".join("<item>" + e for e in kept) + "</channel></rss>").encode()


def stored(root) -> list:
    """Every stored item, by title (items sharing a link are several, so `run`'s URL map holds one)."""
    with Store(Workspace(root).db_path) as store:
        return sorted(store.iter_items(), key=lambda i: i.title)


def test_entries_sharing_a_link_are_kept_apart_by_their_guids(server, tmp_path):
    """tests/data/feeds/shared_link_guids.xml: two entries link to a listing page, two to one page by
    fragment. Each is its own item, found again by its guid on later collects, alone or not."""
    server.routes["/rss"] = Route(_shared_link_feed())
    root = one_source_workspace(tmp_path, server.url("/rss"), extra="relevance: all")
    report, _ = run(root)
    (result,) = report.results
    assert (result.new, result.updated, result.warnings) == (4, 0, [])
    items = stored(root)
    assert [(i.title, i.url) for i in items] == [
        ("Ny handlingsplan mot menneskehandel", "https://www.example.no/aktuelt/"),
        ("Seminar om arbeidslivskriminalitet", "https://www.example.no/kalender"),  # the page's item
        ("Seminar om menneskehandel", "https://www.example.no/kalender#seminar-2"),
        ("Tilskudd til tiltak mot tvangsarbeid", "https://www.example.no/aktuelt/"),
    ]
    ids = {i.title: i.id for i in items}
    assert len(set(ids.values())) == 4
    report, _ = run(root)
    assert (report.results[0].new, report.results[0].updated, report.results[0].unchanged) == (0, 0, 4)
    # The listing-page entry that was told apart comes alone: it is still its own item, not the other's.
    server.routes["/rss"] = Route(_shared_link_feed("urn:example:2022-102", "urn:example:2022-104"))
    report, _ = run(root)
    assert (report.results[0].new, report.results[0].updated, report.results[0].unchanged) == (0, 0, 2)
    assert {i.title: i.id for i in stored(root)} == ids


def test_an_entry_that_comes_to_share_a_link_keeps_its_item(server, tmp_path):
    """First collect: one entry links to the listing page, and is that page's item. Next: a second entry
    with another guid shares the link; the first keeps its item and id, the second is a new one."""
    server.routes["/rss"] = Route(_shared_link_feed("urn:example:2022-101"))
    root = one_source_workspace(tmp_path, server.url("/rss"), extra="relevance: all")
    run(root)
    ((first_id, first_title),) = [(i.id, i.title) for i in stored(root)]
    server.routes["/rss"] = Route(_shared_link_feed("urn:example:2022-102", "urn:example:2022-101"))
    report, _ = run(root)
    assert (report.results[0].new, report.results[0].updated, report.results[0].unchanged) == (1, 0, 1)
    assert {i.title: i.id for i in stored(root)}[first_title] == first_id


def test_listing_items_sharing_a_link_with_nothing_to_tell_them_apart_are_named(server, tmp_path):
    server.routes["/liste"] = Route(
        b'<html><body><div class="item"><h3><a href="/aktuelt/">Ny rapport om tvangsarbeid</a></h3>'
        b'<span class="date">20.06.2022</span></div><div class="item"><h3><a href="/aktuelt/">Nytt tilskudd</a>'
        b'</h3><span class="date">21.06.2022</span></div></body></html>',
        content_type="text/html",
    )
    root = one_source_workspace(
        tmp_path,
        server.url("/liste"),
        kind="html",
        extra="relevance: all\n        selectors: {item: div.item, title: h3 a, link: h3 a, date: span.date}",
    )
    report, found = run(root)
    (result,) = report.results
    assert (result.new, result.updated) == (1, 0)
    assert [i.title for i in found.values()] == ["Ny rapport om tvangsarbeid"]
    (warning,) = result.warnings
    assert "nothing to tell them apart" in warning
    assert "'Ny rapport om tvangsarbeid'" in warning and "'Nytt tilskudd'" in warning


def test_the_report_names_listings_whose_selectors_matched_nothing(site, tmp_path):
    """A listing whose layout changed is named in the report (and the source's error says which selector)."""
    site.routes["/nyheder"].body = b"<html><body><p>Ny layout</p></body></html>"
    root = write_workspace(tmp_path, feeds_yaml(site))
    report, _ = run(root)
    assert report.selectors_matched_nothing == ["cmm"]
    assert "matched 0 items" in next(r.error for r in report.results if r.source == "cmm")


# A feed without dates, as Europol's: collect reads the article pages for them.
UNDATED_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Europol</title><link>{base}/</link><description>News</description>
<item><title>Human trafficking network dismantled</title><link>{base}/news/one</link></item>
<item><title>Victims of trafficking identified</title><link>{base}/news/two</link></item>
</channel></rss>
"""


def dated_article(day: str) -> bytes:
    return (
        f'<!doctype html><html><head><meta property="article:published_time" content="{day}T10:00:00+02:00">'
        "</head><body><main><h1>News</h1><p>Human trafficking.</p></main></body></html>"
    ).encode()


def test_items_dated_from_their_article_pages_are_not_warned_about_and_count_as_newest(server, tmp_path):
    from click.testing import CliRunner

    from newsletter.cli import cli

    server.routes.update(
        {
            "/rss": Route(UNDATED_FEED.format(base=server.url("")).encode(), content_type="application/rss+xml"),
            "/news/one": Route(dated_article("2022-06-14"), content_type="text/html"),
            "/news/two": Route(dated_article("2022-05-02"), content_type="text/html"),
        }
    )
    root = one_source_workspace(tmp_path, server.url("/rss"), key="europol")
    result = CliRunner().invoke(cli, ["--workspace", str(root), "collect"])
    assert result.exit_code == 0, result.output
    assert "no date" not in result.stderr, result.stderr
    workspace = Workspace(root)
    with Store(workspace.db_path) as store:
        assert store.get_state("europol").warnings == ()
    checked = CliRunner().invoke(cli, ["--workspace", str(root), "sources", "check", "--json"])
    assert checked.exit_code == 0, checked.output
    assert '"newest": "2022-06-14"' in checked.stdout


def test_only_items_still_undated_after_their_article_pages_are_warned_about(server, tmp_path):
    server.routes.update(
        {
            "/rss": Route(UNDATED_FEED.format(base=server.url("")).encode(), content_type="application/rss+xml"),
            "/news/one": Route(dated_article("2022-06-14"), content_type="text/html"),
        }
    )  # /news/two: 404
    root = one_source_workspace(tmp_path, server.url("/rss"), key="europol")
    report, found = run(root)
    assert report.results[0].warnings == ["1 of 2 items have no date, neither in the feed nor on their article pages"]
    assert found[server.url("/news/one")].published.isoformat() == "2022-06-14"

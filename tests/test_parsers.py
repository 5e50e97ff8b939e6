"""Parsers against small data files: RSS/Atom feeds, Stortinget exports, HTML listings, article pages.

Every file under tests/data/{feeds,stortinget,listings,articles} opens with a comment
(after the XML declaration, if any) that says in words what the case shows, and holds
the expectations as one `Expect: {json}` line; listing files also hold their source
configuration as one `Source: {json}` line. One test per file reads that comment and
checks the parser's output against it, so adding a case means adding a file.

Item URLs are compared after `canonical_url`: a parser hands back the link it found
(regjeringen.no's utm_* parameters included) and canonicalisation is a later stage,
so the test checks that the item points at the right document, whichever stage drops
the tracking parameters. A direct test below pins that feeds keep the raw link.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from newsletter.collect.parsers.article import read_article
from newsletter.collect.parsers.feeds import parse_feed
from newsletter.collect.parsers.scrape import collect_listing, parse_listing
from newsletter.collect.parsers.stortinget import parse_stortinget
from newsletter.collect.urls import canonical_url
from newsletter.errors import FetchError, ParseError
from newsletter.models import Selectors, Source

DATA = Path(__file__).parent / "data"
FOLDERS = ("feeds", "stortinget", "listings", "articles")
# The case comment: first thing in the file, after an optional XML declaration.
_CASE_COMMENT = re.compile(r"\A\s*(?:<\?xml[^>]*\?>\s*)?<!--(.*?)-->", re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# ---------------------------------------------------------------- reading the cases


def _decoded(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # latin1_labelled_utf8.xml: its comment is ASCII


def case_comment(path: Path) -> str:
    match = _CASE_COMMENT.match(_decoded(path))
    assert match, f"{path.name}: does not open with a <!-- --> comment describing the case"
    return match.group(1)


def _json_line(comment: str, label: str, path: Path) -> dict | None:
    lines = [line.strip() for line in comment.splitlines() if line.strip().startswith(label + ":")]
    if not lines:
        return None
    assert len(lines) == 1, f"{path.name}: more than one '{label}:' line"
    value = json.loads(lines[0][len(label) + 1 :])
    assert isinstance(value, dict), f"{path.name}: '{label}:' is not a JSON object"
    return value


def expectations(path: Path) -> dict:
    expect = _json_line(case_comment(path), "Expect", path)
    assert expect is not None, f"{path.name}: the case comment has no 'Expect:' line"
    return expect


def source_config(path: Path) -> dict:
    config = _json_line(case_comment(path), "Source", path)
    assert config is not None, f"{path.name}: a listing case needs a 'Source:' line"
    return config


def data_files(folder: str) -> list[Path]:
    return sorted(p for p in (DATA / folder).iterdir() if p.is_file() and not p.name.startswith("."))


def cases(folder: str) -> list:
    return [pytest.param(path, id=path.stem) for path in data_files(folder)]


def make_source(kind: str, url: str = "https://www.example.org/feed", **extra) -> Source:
    return Source(key="test", name="Test", kind=kind, url=url, section="international", heading="Test", **extra)


def listing_source(config: dict) -> Source:
    return make_source(
        "html",
        url=config["page_url"],
        language=config.get("language", "nb"),
        selectors=Selectors(**config["selectors"]),
        date_format=config.get("date_format"),
        max_pages=config.get("max_pages", 3),
    )


# ---------------------------------------------------------------- checking results


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _find(items, wanted: dict, path: Path):
    if "url" in wanted:
        key = canonical_url(wanted["url"])
        found = [i for i in items if canonical_url(i.url) == key]
    else:
        found = [i for i in items if i.title == wanted["title"]]
    assert len(found) == 1, (
        f"{path.name}: expected exactly one item for {wanted.get('url') or wanted['title']!r}, "
        f"got {[(i.title, i.url) for i in items]}"
    )
    return found[0]


def check_items(items, warnings, expect: dict, path: Path) -> None:
    if "count" in expect:
        assert len(items) == expect["count"], f"{path.name}: {[(i.title, i.url) for i in items]}"
    for item in items:
        # What every parser owes every item, whatever the case.
        assert item.url.startswith(("http://", "https://")), item.url
        assert item.title and item.title == item.title.strip()
        assert not _CONTROL.search(item.title), repr(item.title)
        assert "  " not in item.title, repr(item.title)
        assert "<script" not in item.summary.lower()
        assert (item.published is None) == (item.date_precision is None)
    for wanted in expect.get("items", []):
        item = _find(items, wanted, path)
        if "title" in wanted:
            assert item.title == wanted["title"]
        if "guid" in wanted:
            assert item.guid == wanted["guid"]
        if "published" in wanted:
            assert _iso(item.published) == wanted["published"], f"{path.name}: {item.title}"
        if "precision" in wanted:
            assert item.date_precision == wanted["precision"], f"{path.name}: {item.title}"
        if "summary_contains" in wanted:
            assert wanted["summary_contains"] in item.summary, repr(item.summary)
        for bad in wanted.get("summary_excludes", []):
            assert bad not in item.summary, f"{bad!r} in summary {item.summary!r}"
            assert bad not in item.title, f"{bad!r} in title {item.title!r}"
    if "canonical_urls" in expect:  # how many documents the items are, whatever their links' spelling
        assert sorted({canonical_url(i.url) for i in items}) == expect["canonical_urls"], path.name
    for text in expect.get("warnings_contain", []):
        assert any(text in w for w in warnings), f"{path.name}: no warning with {text!r} in {warnings}"
    if "warnings_count" in expect:
        assert len(warnings) == expect["warnings_count"], f"{path.name}: {warnings}"


def run_case(parse, path: Path) -> None:
    """Run `parse()` and check it against the file's Expect line (an error or the items)."""
    expect = expectations(path)
    if "error" in expect:
        with pytest.raises(ParseError) as caught:
            parse()
        message = str(caught.value)
        assert expect["error"] in message
        for bad in expect.get("error_excludes", []):
            assert bad not in message
        return
    result = parse()
    items, warnings = result[0], result[1]
    check_items(items, warnings, expect, path)
    if "next_url" in expect:
        assert result[2] == expect["next_url"]


# ---------------------------------------------------------------- every data file has expectations


def test_every_data_file_states_its_expectations():
    """A new data file without a case comment and an Expect line fails here, not silently."""
    seen = 0
    for folder in FOLDERS:
        files = data_files(folder)
        assert files, f"tests/data/{folder} is empty"
        for path in files:
            comment = case_comment(path)
            # XML forbids "--" inside a comment; HTML forbids only "<!--", "-->" and "--!>" in it.
            forbidden = ("--",) if path.suffix == ".xml" else ("<!--", "--!>")
            assert not any(f in comment for f in forbidden), f"{path.name}: {forbidden} inside the comment"
            assert len(comment.split()) > 15, f"{path.name}: the comment should say in words what the case shows"
            expect = expectations(path)
            assert "error" in expect or "count" in expect or folder == "articles", path.name
            if folder == "listings":
                config = source_config(path)
                assert {"item", "title", "link"} <= set(config["selectors"]), path.name
                assert config["page_url"].startswith("https://"), path.name
            seen += 1
    assert seen >= 30


# ---------------------------------------------------------------- one test per data file


@pytest.mark.parametrize("path", cases("feeds"))
def test_feed_case(path):
    kind = "atom" if path.stem == "atom" else "rss"
    run_case(lambda: parse_feed(path.read_bytes(), make_source(kind)), path)


@pytest.mark.parametrize("path", cases("stortinget"))
def test_stortinget_case(path):
    source = make_source("stortinget", url="https://data.stortinget.no/eksport/saker?sesjonid=2021-2022")
    run_case(lambda: parse_stortinget(path.read_bytes(), source), path)


@pytest.mark.parametrize("path", cases("listings"))
def test_listing_case(path):
    config = source_config(path)
    source = listing_source(config)
    run_case(lambda: parse_listing(path.read_bytes(), source, config["page_url"]), path)


@pytest.mark.parametrize("path", cases("articles"))
def test_article_case(path):
    expect = expectations(path)
    article = read_article(path.read_bytes(), None)
    if "published" in expect:
        assert _iso(article.published.date if article.published else None) == expect["published"]
    if "precision" in expect:
        assert article.published is not None and article.published.precision == expect["precision"]
    if "deadline" in expect:
        assert _iso(article.deadline.date if article.deadline else None) == expect["deadline"]
    for text in expect.get("text_contains", []):
        assert text in article.text, f"{text!r} not in {article.text!r}"
    for text in expect.get("text_excludes", []):
        assert text not in article.text, f"{text!r} in {article.text!r}"
    assert not _CONTROL.search(article.text)


# ---------------------------------------------------------------- feeds: direct cases


@pytest.mark.parametrize("body", [b"", b"   \r\n\t  "], ids=["zero-bytes", "whitespace"])
@pytest.mark.parametrize(
    "parse",
    [
        lambda body: parse_feed(body, make_source("rss")),
        lambda body: parse_stortinget(body, make_source("stortinget")),
        lambda body: parse_listing(
            body, listing_source(source_config(DATA / "listings" / "cmm_danish.html")), "https://www.cmm.dk/nyheder"
        ),
    ],
    ids=["feed", "stortinget", "listing"],
)
def test_empty_body_is_a_parse_error(parse, body):
    with pytest.raises(ParseError, match="empty"):
        parse(body)


def test_feed_keeps_the_raw_link_and_canonicalisation_drops_tracking():
    items, _ = parse_feed((DATA / "feeds" / "regjeringen_rss.xml").read_bytes(), make_source("rss"))
    assert all("utm_source=rss" in item.url for item in items)  # parsers do not rewrite links
    assert all("utm_" not in canonical_url(item.url) for item in items)


@pytest.mark.parametrize("title", [b"Alarm\x07klokke\x1b[31m\x0brapport", b"Null\x00byte\x08tittel"])
def test_control_characters_in_a_title_are_rejected_or_removed(title):
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>'
        b"<item><title>" + title + b"</title><link>https://www.example.org/a</link>"
        b"<description>Tekst\x07 her</description></item></channel></rss>"
    )
    try:
        items, _warnings = parse_feed(body, make_source("rss"))
    except ParseError:
        return  # rejecting the malformed feed is acceptable
    assert items, "a parsed feed must not lose the item silently"
    for item in items:
        assert not _CONTROL.search(item.title), repr(item.title)
        assert not _CONTROL.search(item.summary), repr(item.summary)
        assert "klokke" in item.title or "byte" in item.title


def test_xxe_never_reads_local_files():
    body = (DATA / "feeds" / "xxe.xml").read_bytes()
    for parse in (
        lambda: parse_feed(body, make_source("rss")),
        lambda: parse_stortinget(body, make_source("stortinget")),
    ):
        with pytest.raises(ParseError) as caught:
            parse()
        assert "root:" not in str(caught.value)
        assert "/bin/" not in str(caught.value)


def test_external_doctype_is_not_fetched():
    """A DOCTYPE that points at a local file (no ENTITY needed) must not pull its text in."""
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "file:///etc/passwd">\n'
        b'<rss version="2.0"><channel><title>x</title><item><title>A</title>'
        b"<link>https://www.example.org/a</link></item></channel></rss>"
    )
    try:
        items, warnings = parse_feed(body, make_source("rss"))
    except ParseError as exc:
        assert "root:" not in str(exc)
        return
    everything = " ".join([*(i.title + i.summary for i in items), *warnings])
    assert "root:" not in everything
    assert [i.title for i in items] == ["A"]


def test_entity_declaration_after_padding_is_not_expanded():
    """Entities declared after 200 KB of comment must not be expanded either (no 'root:', no 'AAAA')."""
    pad = b"<!-- " + b"x" * 210_000 + b" -->\n"
    body = (
        b'<?xml version="1.0"?>\n'
        + pad
        + b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY a "AAAA">]>\n'
        b'<rss version="2.0"><channel><title>x</title><item><title>T &a; &xxe;</title>'
        b"<link>https://www.example.org/a</link><description>&xxe;</description></item></channel></rss>"
    )
    try:
        items, warnings = parse_feed(body, make_source("rss"))
    except ParseError:
        return
    everything = " ".join([*(i.title + i.summary for i in items), *warnings])
    assert "root:" not in everything
    assert "AAAA" not in everything


def test_billion_laughs_is_refused_by_the_stortinget_parser_too():
    with pytest.raises(ParseError, match="entities"):
        parse_stortinget((DATA / "feeds" / "billion_laughs.xml").read_bytes(), make_source("stortinget"))


def test_relative_item_link_never_comes_out_relative():
    """An RSS <link> that is a bare path is either resolved to an absolute URL or skipped with a warning."""
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        b"<link>https://www.example.org/</link>"
        b"<item><title>Relativ</title><link>/nyheter/relativ-sak/</link></item>"
        b"<item><title>Absolutt</title><link>https://www.example.org/nyheter/absolutt/</link></item>"
        b"</channel></rss>"
    )
    items, warnings = parse_feed(body, make_source("rss", url="https://www.example.org/feed"))
    assert all(i.url.startswith("https://") for i in items)
    assert "Absolutt" in [i.title for i in items]
    if len(items) == 1:
        assert any("without a link" in w for w in warnings)
    else:
        assert "https://www.example.org/nyheter/relativ-sak/" in [i.url for i in items]


def test_feed_served_as_text_html_without_doctype_is_refused():
    body = b"<div class='error'>Feed not found</div>"
    with pytest.raises(ParseError):
        parse_feed(body, make_source("rss"), content_type="text/html")


def test_feed_date_uses_the_configured_time_zone():
    body = (DATA / "feeds" / "oslo_midnight.xml").read_bytes()
    items, _ = parse_feed(body, make_source("rss"), tz="UTC")
    assert [_iso(i.published) for i in items] == ["2022-06-30", "2022-03-31", "2022-06-30"]


def test_stortinget_parser_refuses_an_rss_feed():
    with pytest.raises(ParseError, match="not a Stortinget export"):
        parse_stortinget((DATA / "feeds" / "oslo_midnight.xml").read_bytes(), make_source("stortinget"))


def test_stortinget_titles_and_summaries_are_clean_lines():
    items, _ = parse_stortinget((DATA / "stortinget" / "sporsmal.xml").read_bytes(), make_source("stortinget"))
    for item in items:
        assert not _CONTROL.search(item.summary)
        assert unicodedata.is_normalized("NFC", item.title)


# ---------------------------------------------------------------- listings: pagination


def _coe():
    first, second = DATA / "listings" / "coe_liferay.html", DATA / "listings" / "coe_liferay_page2.html"
    config = source_config(first)
    return first, second, config, expectations(first), expectations(second)


def test_collect_listing_follows_next_to_page_two():
    first, second, config, expect1, expect2 = _coe()
    calls = []

    def fetch_page(url):
        calls.append(url)
        assert url == expect1["next_url"]
        return second.read_bytes(), "utf-8"

    items, warnings = collect_listing(first.read_bytes(), listing_source(config), config["page_url"], None, fetch_page)
    assert calls == [expect1["next_url"]]
    assert len(items) == expect1["count"] + expect2["count"]
    wanted = [canonical_url(i["url"]) for i in expect1["items"] + expect2["items"]]
    assert [canonical_url(i.url) for i in items] == wanted
    assert warnings == []


def test_collect_listing_respects_max_pages():
    first, _second, config, expect1, _ = _coe()

    def fetch_page(url):
        raise AssertionError(f"max_pages=1 must not fetch {url}")

    source = listing_source({**config, "max_pages": 1})
    items, _ = collect_listing(first.read_bytes(), source, config["page_url"], None, fetch_page)
    assert len(items) == expect1["count"]


def test_collect_listing_stops_when_next_leads_to_a_page_already_read():
    """Page 2 answering with the same 'next' link as itself must not loop (and not exceed max_pages)."""
    first, _second, config, expect1, _ = _coe()
    calls = []

    def fetch_page(url):
        calls.append(url)
        return first.read_bytes(), None  # page 2 links to itself as "next"

    source = listing_source({**config, "max_pages": 10})
    items, _ = collect_listing(first.read_bytes(), source, config["page_url"], None, fetch_page)
    assert calls == [expect1["next_url"]]
    assert len(items) == 2 * expect1["count"]


def test_collect_listing_keeps_page_one_when_page_two_is_a_redesign():
    first, _second, config, expect1, _ = _coe()
    redesigned = (DATA / "listings" / "redesigned.html").read_bytes()
    items, warnings = collect_listing(
        first.read_bytes(), listing_source(config), config["page_url"], None, lambda url: (redesigned, None)
    )
    assert len(items) == expect1["count"]
    assert any(w.startswith("page 2:") and "matched 0 items" in w for w in warnings)


def test_collect_listing_keeps_page_one_when_page_two_cannot_be_fetched():
    first, _second, config, expect1, _ = _coe()

    def fetch_page(url):
        raise FetchError(url, "HTTP 503 Service Unavailable", retryable=True)

    items, warnings = collect_listing(first.read_bytes(), listing_source(config), config["page_url"], None, fetch_page)
    assert len(items) == expect1["count"]
    assert any("page 2" in w and "503" in w for w in warnings)


@pytest.mark.parametrize("href", ["javascript:;", "javascript:void(0)"])
def test_disabled_next_link_is_not_a_next_page(href):
    first, _second, config, _expect1, _ = _coe()
    body = first.read_bytes().replace(
        b'<li class="next"><a href="?p_p_id=101_INSTANCE_aBc123&amp;_101_INSTANCE_aBc123_cur=2">',
        b'<li class="next disabled"><a href="' + href.encode() + b'">',
    )
    assert href.encode() in body
    _items, _warnings, next_url = parse_listing(body, listing_source(config), config["page_url"])
    assert next_url is None


def test_listing_skips_script_and_mailto_links_with_a_warning():
    config = source_config(DATA / "listings" / "cmm_danish.html")
    body = (
        b'<div class="news-list">'
        b'<div class="news-item"><h3><a href="javascript:alert(1)">Skript</a></h3></div>'
        b'<div class="news-item"><h3><a href="mailto:cmm@example.dk">Post</a></h3></div>'
        b'<div class="news-item"><span class="news-date">3. marts 2025</span>'
        b'<h3><a href="/nyheder/ok">Gyldig</a></h3></div></div>'
    )
    items, warnings, _ = parse_listing(body, listing_source(config), config["page_url"])
    assert [(i.title, i.url) for i in items] == [("Gyldig", "https://www.cmm.dk/nyheder/ok")]
    assert any("'link' selector found nothing in 2 of 3 items" in w for w in warnings)


def test_listing_in_latin1_with_charset_from_http_header():
    config = source_config(DATA / "listings" / "cmm_danish.html")
    body = (
        '<div class="news-list"><div class="news-item"><span class="news-date">18. september 2025</span>'
        '<h3><a href="/nyheder/a">Særlig indsats på området</a></h3></div></div>'
    ).encode("iso-8859-1")
    items, _, _ = parse_listing(body, listing_source(config), config["page_url"], charset="iso-8859-1")
    assert items[0].title == "Særlig indsats på området"
    assert _iso(items[0].published) == "2025-09-18"


def test_feed_without_items_is_read_with_a_warning():
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Tom</title>'
        b"<link>https://www.example.org/</link><description>d</description></channel></rss>"
    )
    items, warnings = parse_feed(body, make_source("rss"))
    assert items == []
    assert any("no items" in w for w in warnings)


def test_rss_1_0_with_dc_date():
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://www.example.org/"><title>T</title><link>https://www.example.org/</link>
    <description>d</description></channel>
  <item rdf:about="https://www.example.org/a"><title>RDF-sak</title><link>https://www.example.org/a</link>
    <description>Tekst</description><dc:date>2022-06-30T23:30:00+00:00</dc:date></item>
</rdf:RDF>"""
    items, _ = parse_feed(body, make_source("rss"))
    assert [(i.title, i.url, _iso(i.published)) for i in items] == [
        ("RDF-sak", "https://www.example.org/a", "2022-07-01")
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><notafeed><x>1</x></notafeed>',
        b"this is plain text, not XML at all",
    ],
    ids=["other-xml", "plain-text"],
)
def test_body_that_is_no_feed_is_a_parse_error(body):
    with pytest.raises(ParseError, match="feed"):
        parse_feed(body, make_source("rss"))


def test_truncated_feed_keeps_what_could_be_read_and_says_so():
    body = (DATA / "feeds" / "oslo_midnight.xml").read_bytes()
    cut = body[: body.index(b"<title>Sent innlegg")]  # the download stopped inside the third item
    items, warnings = parse_feed(cut, make_source("rss"))
    assert [_iso(i.published) for i in items][:2] == ["2022-07-01", "2022-04-01"]
    assert any("not well-formed" in w for w in warnings)


# ---------------------------------------------------------------- articles: direct cases


def test_article_header_inside_the_article_keeps_its_date():
    body = (
        b'<html><body><header class="site">Nettstedets meny</header><main><article>'
        b'<header class="entry-header"><h1>GRETA-rapport om Norge</h1><div class="entry-meta">'
        b'<time class="entry-date published" datetime="2022-06-08T10:00:00+02:00">8. juni 2022</time></div></header>'
        b'<div class="entry-content"><p>Rapporten handler om menneskehandel.</p></div></article></main>'
        b"<footer>Bunntekst</footer></body></html>"
    )
    article = read_article(body, None)
    assert "Nettstedets meny" not in article.text
    assert article.published is not None and article.published.date.isoformat() == "2022-06-08"
    assert "GRETA-rapport om Norge" in article.text


def test_article_in_latin1_with_http_charset():
    body = "<html><body><main><p>Høringsfrist: 1. oktober 2022. Særlige tiltak.</p></main></body></html>"
    article = read_article(body.encode("iso-8859-1"), "iso-8859-1")
    assert "Særlige tiltak" in article.text
    assert article.deadline is not None and article.deadline.date.isoformat() == "2022-10-01"

"""The static web archive (`newsletter site build`): what is in it, that it holds together, and incremental builds.

The archive is built from tests/data/site/issues/ (2023-q3, 2023-q4 and 2024-q1 published, 2024-q3 a draft)
plus the repository's sample issue 2024-q2, with `site_url` set, and without PDFs except in one test. The
organisations are the sample newsletter.yaml's, with "KOM i JD" (2024-q1) as one of the unit's own headings;
"Tvangsarbeid" (2023-q4) is left to no organisation and no theme, so the build reports it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import textwrap
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.config import Workspace, load_settings
from newsletter.errors import NewsletterError
from newsletter.fsutil import safe_join
from newsletter.site.build import build_site
from newsletter.site.summaries import Unmapped, slug
from newsletter.textcodec import hidden_characters
from tests.conftest import SAMPLE, SAMPLE_ISSUE, SAMPLE_SETTINGS

DATA = Path(__file__).parent / "data" / "site" / "issues"
SITE_URL = "https://nyhetsbrev.example.no/arkiv"
BASE = SITE_URL + "/"
TODAY = dt.date(2024, 11, 22)

PUBLISHED = ["2023-q3", "2023-q4", "2024-q1", "2024-q2"]
DRAFT = "2024-q3"
PERIODS = {
    "2023-q3": "juli–september 2023",
    "2023-q4": "oktober–desember 2023",
    "2024-q1": "januar–mars 2024",
    "2024-q2": "april–juni 2024",
}
# Words that occur only in the draft, tests/data/site/issues/2024-q3.yaml.
DRAFT_WORDS = ["septembersamlingen", "Kladdeutgaven", "Utkast om svensk handlingsplan"]
DISTINCTIVE = "tvangsarbeidsrapporten"  # only in 2023-q4, under "Tvangsarbeid"


# ---------------------------------------------------------------------- helpers


def make_workspace(root: Path, issues: list[str] | None = None) -> Path:
    """A workspace: the sample newsletter.yaml plus `site_url` and an own heading, feeds.yaml, and the test issues
    (all by default)."""
    root.mkdir(parents=True, exist_ok=True)
    settings = SAMPLE_SETTINGS.read_text(encoding="utf-8")
    assert settings.count("  own_headings: []\n") == 1
    settings = settings.replace("  own_headings: []\n", "  own_headings: [KOM i JD]\n")
    (root / "newsletter.yaml").write_text(settings.rstrip("\n") + f"\nsite_url: {SITE_URL}\n", encoding="utf-8")
    shutil.copy(SAMPLE / "feeds.yaml", root / "feeds.yaml")
    (root / "issues").mkdir(exist_ok=True)
    sources = sorted(DATA.glob("*.yaml")) + [SAMPLE_ISSUE]
    for source in sources:
        if issues is None or source.stem in issues:
            shutil.copy(source, root / "issues" / source.name)
    return root


def build(ws: Path, out: Path | None = None, pdf: bool = False, today: dt.date = TODAY, built: bool = False):
    settings_path = ws / "newsletter.yaml"
    return build_site(
        ws / "issues",
        load_settings(settings_path),
        settings_path,
        out or ws / "site",
        workspace_templates=ws / "templates",
        build_dir=Workspace(ws).build_dir if built else None,
        pdf=pdf,
        today=today,
    )


def files_under(site: Path, hidden: bool = False) -> dict[str, Path]:
    """Relative path → file, for every file of the archive (the build's own .manifest.json only if `hidden`)."""
    found = {}
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site).as_posix()
        if path.is_file() and (hidden or not any(part.startswith(".") for part in relative.split("/"))):
            found[relative] = path
    return found


def snapshot(site: Path, search: bool = True) -> dict[str, bytes]:
    """Every file's bytes; without `search`, the search index (pagefind/) is left out.

    Pagefind writes the same records in an order of its own from one run to the next, so an index is
    compared by its records (`search_fragments`), not byte for byte.
    """
    return {
        relative: path.read_bytes()
        for relative, path in files_under(site).items()
        if search or not relative.startswith("pagefind/")
    }


def age_all(site: Path) -> dict[str, int]:
    """Set every file's mtime far into the past (so any rewrite shows), and return them."""
    for path in files_under(site, hidden=True).values():
        os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    return {relative: path.stat().st_mtime_ns for relative, path in files_under(site, hidden=True).items()}


def mtimes(site: Path) -> dict[str, int]:
    return {relative: path.stat().st_mtime_ns for relative, path in files_under(site, hidden=True).items()}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def fresh_build_matches(ws: Path, site: Path, tmp: Path, today: dt.date = TODAY, pdf: bool = False) -> None:
    """The incrementally updated archive is byte for byte what a build from scratch makes."""
    fresh = tmp / "fresh-site"
    shutil.rmtree(fresh, ignore_errors=True)
    build(ws, fresh, pdf=pdf, today=today)
    assert snapshot(site, search=False) == snapshot(fresh, search=False)
    assert sorted(map(json.dumps, search_fragments(site))) == sorted(map(json.dumps, search_fragments(fresh)))
    # The manifest names exactly the index files on disk, so the next build removes exactly the stale ones.
    outputs = json.loads((site / ".manifest.json").read_text(encoding="utf-8"))["outputs"]
    assert {f for f in outputs if f.startswith("pagefind/")} == {
        f for f in files_under(site) if f.startswith("pagefind/")
    }


class _Links(HTMLParser):
    """Every href/src/action of a page, and every id in it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "action") and value is not None:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def parse_links(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def resolve(site: Path, page: Path, link: str) -> tuple[Path, str] | None:
    """The file an internal link leads to and its fragment; None for external links."""
    if link.startswith(BASE) or link == SITE_URL:  # an absolute address inside the archive
        target, fragment = urlsplit(link[len(BASE) :]).path, urlsplit(link).fragment
        base_dir = site
    else:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:  # http(s)://, mailto:, anything else absolute
            return None
        target, fragment, base_dir = parts.path, parts.fragment, page.parent
        root = urlsplit(BASE).path  # "/arkiv/": a link from the site's root (the 404 page's)
        if target.startswith(root):
            target, base_dir = target[len(root) :], site
    if not target:
        return page, fragment
    path = (base_dir / unquote(target)).resolve()
    if target.endswith("/") or path.is_dir():
        path = path / "index.html"
    return path, fragment


def pages_only(paths: list[str]) -> list[str]:
    """The paths outside the search index (whose files Pagefind renames whenever an entry changes)."""
    return [p for p in paths if not p.startswith("pagefind/")]


def readable(path: Path) -> str:
    """A file's text: Pagefind's index files are gzip-compressed, and decompressed here."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def search_fragments(site: Path) -> list[dict]:
    """Every record of the Pagefind index: one per entry, with `content`, `meta` and `filters`."""
    records = []
    for path in sorted((site / "pagefind" / "fragment").glob("*.pf_fragment")):
        text = gzip.decompress(path.read_bytes())
        assert text.startswith(b"pagefind_dcd"), path
        records.append(json.loads(text[len(b"pagefind_dcd") :]))
    return records


def unfold(text: str) -> str:
    """Index text as the reader sees it: ø and Ø are written o/O + U+0338 in the index (see site/search.py)."""
    return text.replace("o\u0338", "ø").replace("O\u0338", "Ø")


def search_pages(site: Path) -> int:
    """How many records the index says it holds (pagefind-entry.json)."""
    entry = json.loads((site / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    return sum(language["page_count"] for language in entry["languages"].values())


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


# ---------------------------------------------------------------------- the archive as built once


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The archive of all test issues, built once on 2024-11-22 without PDFs (read-only for the tests)."""
    ws = make_workspace(tmp_path_factory.mktemp("archive"))
    report = build(ws)
    return ws, ws / "site", report


def test_report_names_published_issues_and_skips_the_draft(archive):
    _ws, site, report = archive
    assert report.issues == PUBLISHED
    assert report.skipped == [DRAFT]
    assert report.warnings == []
    assert report.unmapped == [Unmapped("Tvangsarbeid", ["2023-q4:highlights"])]
    assert report.removed == []
    assert sorted(report.written) == sorted(files_under(site))  # the first build writes every file once
    assert len(report.written) == len(set(report.written))


def test_index_lists_published_issues_newest_first_grouped_by_year(archive):
    _ws, site, _report = archive
    page = soup(site / "index.html")
    years = [h2.get_text(strip=True) for h2 in page.select("main section > h2")]
    assert years == ["2024", "2023"]
    listed = [a["href"] for a in page.select("main ul.issues h3 a")]
    assert listed == [f"{i}/index.html" for i in reversed(PUBLISHED)]
    titles = [a.get_text(strip=True) for a in page.select("main ul.issues h3 a")]
    assert titles == [f"Nyhetsbrev fra KOM – {PERIODS[i]}" for i in reversed(PUBLISHED)]
    # Grouped by the year an issue covers: 2023-q4 is 2023's, though it came out 10 January 2024.
    by_year = {
        section.h2.get_text(strip=True): [a["href"].split("/")[0] for a in section.select("h3 a")]
        for section in page.select("main section")
    }
    assert by_year == {"2024": ["2024-q2", "2024-q1"], "2023": ["2023-q4", "2023-q3"]}
    assert "Publisert 10. januar 2024" in page.get_text()
    assert not page.select('a[href$=".pdf"]')  # no PDF link in a build without PDFs


def test_index_and_feed_tell_each_issue_by_its_intro(archive):
    _ws, site, _report = archive
    teasers = [li.find_all("p")[-1].get_text() for li in soup(site / "index.html").select("main ul.issues > li")]
    assert teasers[2] == (
        "Godt nytt år! I denne utgaven: en ny rapport om tvangsarbeid, statsbudsjettet for 2024 og "
        "møtet i Østersjørådets arbeidsgruppe i Riga."
    )  # 2023-q4, whole: it is short
    # 2024-q2's intro (333 characters) is cut after its first sentence, not inside a word.
    assert teasers[0] == (
        "I denne utgaven forteller vi om utviklingsarbeidet i Justis- og beredskapsdepartementet, regjeringens "
        "beslutning om en ny strategi mot menneskehandel og KOMs tilstandsrapport for 2023, og vi samler det "
        "viktigste som har skjedd nasjonalt og internasjonalt fra april til juni."
    )
    text = soup(site / "index.html").get_text()
    assert "Kontakt oss" not in text and "Tvangsarbeid · " not in text  # no list of headings
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.entries[2].summary == teasers[2]
    assert feed.entries[0].summary.endswith("Vi ønsker alle samarbeidsaktørene våre en riktig god sommer!")
    assert all("Kontakt oss" not in e.summary for e in feed.entries)


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("Kort.", 300, "Kort."),
        ("Første setning er her. Andre setning er lengre enn grensen tillater.", 40, "Første setning er her."),
        ("Ett langt ord etter et annet uten punktum i det hele tatt", 30, "Ett langt ord etter et annet …"),
        ("Ja. Resten er en lang setning som ikke får plass innen grensen", 30, "Ja. Resten er en lang …"),
        ("  mange   mellomrom\n og linjeskift ", 300, "mange mellomrom og linjeskift"),
    ],
)
def test_shorten_keeps_sentences_and_words_whole(text, limit, expected):
    from newsletter.site.summaries import shorten

    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_the_draft_appears_nowhere(archive):
    _ws, site, _report = archive
    assert not (site / DRAFT).exists()
    assert all(not relative.startswith(DRAFT) for relative in files_under(site, hidden=True))
    for relative, path in files_under(site).items():
        text = readable(path)
        assert DRAFT not in text, relative
        for word in DRAFT_WORDS:
            assert word.lower() not in text.lower(), f"{word!r} from the draft in {relative}"
    assert all(record["meta"]["utgave"] != DRAFT for record in search_fragments(site))


def test_no_file_in_the_published_folder_holds_the_draft(archive):
    _ws, site, _report = archive
    for relative, path in files_under(site, hidden=True).items():
        text = readable(path).lower()
        for word in DRAFT_WORDS:
            assert word.lower() not in text, f"{word!r} from the draft in {relative}"


def test_every_internal_link_resolves(archive):
    _ws, site, _report = archive
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    ids = {page.resolve(): parse_links(page).ids for page in pages}
    checked, anchors, broken = 0, 0, []
    for page in pages:
        for link in parse_links(page).links:
            target = resolve(site, page, link)
            if target is None:
                continue
            path, fragment = target
            checked += 1
            where = f"{page.relative_to(site)}: {link}"
            if site.resolve() not in path.parents:
                broken.append(f"{where} (outside the archive)")
            elif not path.is_file():
                broken.append(f"{where} (no such file)")
            elif fragment:
                anchors += 1
                if path.suffix != ".html" or fragment not in ids.get(path, parse_links(path).ids):
                    broken.append(f"{where} (no id {fragment!r})")
    assert broken == []
    assert checked > 300 and anchors > 80  # navigation, table of contents, organisation pages → entries


def test_every_page_is_valid_html5(archive):
    import html5lib  # a test dependency: missing, this fails rather than skips

    _ws, site, _report = archive
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        parser = html5lib.HTMLParser(strict=True)
        try:
            parser.parse(page.read_text(encoding="utf-8"))
        except html5lib.html5parser.ParseError as exc:
            pytest.fail(f"{page.relative_to(site)}: {exc}")
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert html.lstrip().startswith("<!DOCTYPE html>"), page
        assert '<html lang="nb">' in html, page


def test_every_page_opens_with_a_link_past_the_masthead_and_navigation_to_its_main_content(archive):
    """WCAG 2.4.1: a keyboard user's first stop skips the archive's links (and, on an issue page, lands
    before its contents list)."""
    _ws, site, _report = archive
    pages = [p for p in sorted(site.rglob("*.html")) if "pagefind" not in p.parts]
    assert len(pages) > 5
    for page in pages:
        body = soup(page).body
        first = body.find(["a", "input", "button", "select"])
        assert first.name == "a" and first["href"] == "#main" and first.get_text() == "Hopp til innholdet", page
        assert body.find(id="main").name == "main", page


def test_a_missing_address_gets_the_archives_404_page_with_links_from_its_root(archive):
    """Static hosts serve 404.html for any address they lack, at any depth: its links start from the
    archive's root (site_url's path), and it is neither canonical nor indexed."""
    _ws, site, _report = archive
    page = soup(site / "404.html")
    assert page.find("h2").get_text() == "Fant ikke siden"
    links = [a["href"] for a in page.find("main").find_all("a")]
    assert links == ["/arkiv/index.html", "/arkiv/sok.html", "/arkiv/organisasjoner/index.html"]
    assert page.find("link", rel="canonical") is None and page.find("meta", attrs={"name": "robots"})
    assert "404.html" not in (site / "sitemap.xml").read_text(encoding="utf-8")


def test_site_serve_answers_a_missing_page_with_the_404_page(archive):
    import threading
    import time
    import urllib.error
    import urllib.request

    from newsletter.serve import serve

    _ws, site, _report = archive
    stop, urls = threading.Event(), []
    thread = threading.Thread(
        target=serve,
        args=(site, lambda: None, [], 0),
        kwargs={"announce": urls.append, "stop": stop, "interval": 0.05},
        daemon=True,
    )
    thread.start()
    try:
        for _ in range(200):
            if urls:
                break
            time.sleep(0.05)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(urls[0] + "2024-q2/finnes-ikke.html", timeout=5)
        assert missing.value.code == 404
        assert "Fant ikke siden" in missing.value.read().decode("utf-8")
    finally:
        stop.set()
        thread.join(5)


def test_issue_pages_navigate_to_neighbours_and_have_canonical_addresses(archive):
    _ws, site, _report = archive
    for index, issue_id in enumerate(PUBLISHED):
        page = soup(site / issue_id / "index.html")
        assert page.find("link", rel="canonical")["href"] == f"{BASE}{issue_id}/"
        previous, following = page.find("a", rel="prev"), page.find("a", rel="next")
        if index == 0:
            assert previous is None
        else:
            assert previous["href"] == f"../{PUBLISHED[index - 1]}/index.html"
            assert PERIODS[PUBLISHED[index - 1]] in previous.get_text()
        if index == len(PUBLISHED) - 1:
            assert following is None  # the draft 2024-q3 is not a neighbour
        else:
            assert following["href"] == f"../{PUBLISHED[index + 1]}/index.html"
        nav = [a["href"] for a in page.select("nav.archive a")]
        assert "../index.html" in nav and "../organisasjoner/index.html" in nav and "../sok.html" in nav
    assert soup(site / "index.html").find("link", rel="canonical")["href"] == f"{BASE}index.html"


def test_feed_is_atom_with_absolute_links(archive):
    _ws, site, _report = archive
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Nyhetsbrev fra KOM"
    assert len(feed.entries) == 4
    assert [e.link for e in feed.entries] == [f"{BASE}{i}/" for i in reversed(PUBLISHED)]
    assert [e.title for e in feed.entries] == [f"Nyhetsbrev fra KOM – {PERIODS[i]}" for i in reversed(PUBLISHED)]
    assert [e.published[:10] for e in feed.entries] == ["2024-07-01", "2024-04-08", "2024-01-10", "2023-10-05"]
    assert len({e.id for e in feed.entries}) == 4
    assert "Østersjørådets arbeidsgruppe" in feed.entries[2].summary  # æøå intact
    for entry in feed.entries:
        path, _ = resolve(site, site / "index.html", entry.link)
        assert path.is_file()


def test_sitemap_has_absolute_addresses_of_existing_pages(archive):
    _ws, site, _report = archive
    tree = ET.parse(site / "sitemap.xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [loc.text for loc in tree.getroot().findall("s:url/s:loc", ns)]
    assert locs and all(loc.startswith(BASE) for loc in locs)
    assert len(locs) == len(set(locs))
    for issue_id in PUBLISHED:
        assert f"{BASE}{issue_id}/" in locs
    assert not any(DRAFT in loc for loc in locs)
    assert f"{BASE}organisasjoner/sverige.html" in locs
    for loc in locs:
        path, _ = resolve(site, site / "index.html", loc)
        assert path.is_file(), loc
    # Every HTML page is in the sitemap but the page for a missing address.
    pages = {p.resolve() for p in site.rglob("*.html") if p.name != "404.html"}
    assert {resolve(site, site / "index.html", loc)[0] for loc in locs} == pages


def test_without_site_url_there_is_no_sitemap_and_the_build_asks_for_the_address(tmp_path):
    from newsletter.site.build import NO_SITE_URL

    ws = make_workspace(tmp_path / "ws")
    settings = ws / "newsletter.yaml"
    with_url = settings.read_text(encoding="utf-8")
    settings.write_text(with_url.replace(f"\nsite_url: {SITE_URL}\n", "\n"), encoding="utf-8")
    report = build(ws)
    assert report.warnings == [NO_SITE_URL]
    site = ws / "site"
    assert not (site / "sitemap.xml").exists()
    for page in site.rglob("*.html"):
        assert soup(page).find("link", rel="canonical") is None, page
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "site", "build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert f"warning: {NO_SITE_URL}" in result.output.splitlines()
    assert "site_url: https://" in NO_SITE_URL

    # Given the address, the sitemap appears with absolute addresses only; taken away again, it goes.
    settings.write_text(with_url, encoding="utf-8")
    report = build(ws)
    assert report.warnings == [] and "sitemap.xml" in report.written
    settings.write_text(with_url.replace(f"\nsite_url: {SITE_URL}\n", "\n"), encoding="utf-8")
    assert pages_only(build(ws).removed) == ["sitemap.xml"]
    fresh_build_matches(ws, site, tmp_path)


def test_the_shipped_newsletter_yaml_shows_where_site_url_goes():
    shipped = (Path(__file__).parent.parent / "newsletter.yaml").read_text(encoding="utf-8")
    assert re.search(r"^# site_url: https://\S+$", shipped, re.M)


def entries_on(site: Path, page_slug: str) -> list[tuple[str, str]]:
    """(issue id, anchor) of every entry an organisation page lists, in its order; each anchor exists."""
    found = []
    for a in soup(site / "organisasjoner" / f"{page_slug}.html").select("ul.hits h3 a"):
        match = re.fullmatch(r"\.\./(\d{4}-q\d)/index\.html#(sak-[a-z]+-\d+)", a["href"])
        assert match, a["href"]
        issue_id, anchor = match.groups()
        target = soup(site / issue_id / "index.html").find(id=anchor)
        assert target is not None and target.name == "article", a["href"]
        assert target.h4.get_text(strip=True) == a.get_text(strip=True)  # the anchor is the entry the link names
        found.append((issue_id, anchor))
    return found


def headings_of(site: Path, issue_id: str, anchors: list[str]) -> set[str]:
    """The headings the entries `anchors` of an issue page stand under."""
    page = soup(site / issue_id / "index.html")
    return {page.find(id=anchor).find_previous("h3").get_text(strip=True) for anchor in anchors}


def test_organisation_page_gathers_entries_from_several_issues(archive):
    _ws, site, _report = archive
    assert slug("Sverige") == "sverige"
    page = soup(site / "organisasjoner" / "sverige.html")
    assert page.h2.get_text(strip=True) == "Sverige"
    found = entries_on(site, "sverige")
    assert {issue_id for issue_id, _ in found} == set(PUBLISHED)  # never the draft
    order = [issue_id for issue_id, _ in found]
    assert order == sorted(order, reverse=True)  # newest issue first
    # The organisations index lists it with its count, and lists every organisation page there is.
    index = soup(site / "organisasjoner" / "index.html")
    entry = index.find("a", href="sverige.html")
    assert entry is not None and f"({len(found)})" in entry.parent.get_text()
    assert len(index.select("ul.topics a")) == len(list((site / "organisasjoner").glob("*.html"))) - 1


def test_organisation_pages_come_from_the_configured_list(archive):
    _ws, site, _report = archive
    pages = {p.stem for p in (site / "organisasjoner").glob("*.html")} - {"index"}
    configured = {slug(o.name) for o in load_settings(SAMPLE_SETTINGS).archive.organisations}
    assert pages <= configured
    assert {"stortinget", "europaradet-og-greta", "rvts-ost", "salto", "nkvts", "nova", "regjeringen"} <= pages
    # Aliases and headings merge: "RVTS Øst og SaLTo" (2024-q2) is on RVTS Øst's page beside "RVTS Øst",
    # and "Utviklingsarbeid i JD" (2023-q3, 2024-q2) and "Ny strategi mot menneskehandel" on Regjeringen's.
    rvts = entries_on(site, "rvts-ost")
    assert headings_of(site, "2024-q2", [a for i, a in rvts if i == "2024-q2"]) == {"RVTS Øst", "RVTS Øst og SaLTo"}
    assert "2023-q3" in {i for i, _ in rvts}
    salto = entries_on(site, "salto")
    assert headings_of(site, "2024-q2", [a for _, a in salto]) == {"RVTS Øst og SaLTo"}
    regjeringen = entries_on(site, "regjeringen")
    assert {"2023-q3", "2024-q2"} <= {i for i, _ in regjeringen}
    assert {"Utviklingsarbeid i JD", "Ny strategi mot menneskehandel", "Regjeringen"} <= headings_of(
        site, "2024-q2", [a for i, a in regjeringen if i == "2024-q2"]
    )
    # A heading two organisations claim is on both pages.
    assert entries_on(site, "nkvts") == entries_on(site, "nova") != []
    # The organisation's own site and its other names.
    greta = soup(site / "organisasjoner" / "europaradet-og-greta.html")
    assert greta.find("a", href="https://www.coe.int/en/web/anti-human-trafficking") is not None
    assert "Også omtalt som GRETA, Europarådet." in greta.get_text()


def test_the_units_own_headings_and_themes_get_no_page(archive):
    _ws, site, _report = archive
    pages = {p.stem for p in (site / "organisasjoner").glob("*.html")}
    listed = soup(site / "organisasjoner" / "index.html").get_text()
    # KOM's own section (2024-q2: "Kontakt oss", "Om KOM", "Tilstandsrapport 2023"), its own heading
    # elsewhere ("KOM i JD"), a theme ("Høringer") and the unreported "Tvangsarbeid".
    for heading in ("Kontakt oss", "Om KOM", "Tilstandsrapport 2023", "Publikasjoner fra KOM", "KOM i JD", "Høringer"):
        assert slug(heading) not in pages, heading
        assert heading not in listed, heading
    assert "tvangsarbeid" not in pages
    for path in (site / "organisasjoner").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "KOMs hovedaktiviteter" not in text, path.name  # no entry of the own section anywhere


def test_site_build_names_the_headings_no_organisation_claims(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "site", "build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert (
        "warning: heading 'Tvangsarbeid' (2023-q4:highlights) maps to no organisation: add it to an "
        "organisation's `headings` in newsletter.yaml, or to `archive.themes`"
    ) in result.output.splitlines()
    assert result.output.count("maps to no organisation") == 1


def test_search_index(archive):
    """A Pagefind record per entry: its words and title indexed (no addresses), where it is as metadata."""
    _ws, site, _report = archive
    records = search_fragments(site)
    assert search_pages(site) == len(records) == 7 + 7 + 7 + 73  # every entry of every published issue
    assert {r["meta"]["utgave"] for r in records} == set(PUBLISHED)
    hits = [r for r in records if DISTINCTIVE in r["content"].lower()]
    assert len(hits) == 1
    hit = hits[0]
    assert hit["meta"] == {
        "title": "Ny rapport om tvangsarbeid i Norge",
        "url": hit["meta"]["url"],
        "utgave": "2023-q4",
        "periode": "oktober–desember 2023",
        "seksjon": "Verdt å merke seg",
        "overskrift": "Tvangsarbeid",
    }
    issue_id, anchor = hit["meta"]["url"].split("/index.html#")
    assert issue_id == "2023-q4" and soup(site / issue_id / "index.html").find(id=anchor) is not None
    assert hit["filters"] == {"seksjon": ["Verdt å merke seg"], "år": ["2023"]}  # an unmapped heading: no organisation
    # No address is indexed, though nearly every entry links somewhere; the title is, at the start.
    assert not any(re.search(r"https?:|www\.|\.no/", r["content"]) for r in records)
    assert all(unfold(r["content"]).startswith(r["meta"]["title"]) for r in records)
    # ø is indexed as o + U+0338, so that Pagefind folds it to o; nothing else changes.
    cbss = [r for r in records if r["meta"]["overskrift"] == "Østersjørådet (CBSS)"]
    assert cbss and all(r["filters"]["organisasjon"] == ["Østersjørådet (CBSS)"] for r in cbss)
    assert any("O\u0338stersjo\u0338rådet" in r["content"] for r in records)
    assert not any(c in r["content"] for r in records for c in "øØ")
    assert any("rådgivning" in r["content"] for r in records if r["meta"]["utgave"] == "2023-q3")
    # Filters: the organisations a heading maps to, the section without its period, the year.
    by_url = {r["meta"]["url"]: r for r in records}
    nkvts = [r for r in records if r["meta"]["overskrift"] == "NKVTS og NOVA"]
    assert nkvts and all(r["filters"]["organisasjon"] == ["NKVTS", "NOVA"] for r in nkvts)
    assert {r["filters"]["seksjon"][0] for r in records if r["meta"]["url"].split("#")[1].startswith("sak-kom-")} == {
        "KOMs hovedaktiviteter"
    }
    assert "organisasjon" not in by_url[f"2024-q2/index.html#{'sak-kom-1'}"]["filters"]  # KOM's own news
    # The search page loads sok.js, which loads pagefind/pagefind.js; Pagefind's own UIs are not published.
    assert [s["src"] for s in soup(site / "sok.html").find_all("script")] == ["sok.js"]
    assert 'import("./pagefind/pagefind.js")' in (site / "sok.js").read_text(encoding="utf-8")
    published = {p.relative_to(site / "pagefind").as_posix() for p in (site / "pagefind").rglob("*") if p.is_file()}
    assert {"pagefind.js", "pagefind-entry.json", "wasm.nb.pagefind"} <= published
    assert not [name for name in published if "-ui" in name or "highlight" in name or "worker" in name]


def test_summaries_drop_words_that_only_pointed_at_a_link_and_keep_list_items_apart():
    """On an organisation page the entry's text has no links: "se her" would point at nothing, and a list's
    items ran together ("Tyskland, se her Finland, se her")."""
    from newsletter.render import markdown

    text = (
        "GRETA publiserte rapporter om fire land:\n\n- Tyskland, se [her](https://a.no/1)\n"
        "- Finland (se [her](https://a.no/2))\n\nMer om møtet finner du [her](https://a.no/3). "
        "Les [rapporten](https://a.no/4), eller [les mer](https://a.no/5)."
    )
    assert markdown.to_words(text) == (
        "GRETA publiserte rapporter om fire land: Tyskland; Finland. Mer om møtet finner du. Les rapporten."
    )
    # The words leading up to the link on the line before it, as a folded YAML text often has them.
    assert markdown.to_words("Regjeringen la fram budsjettet, se\n[her](https://a.no/6). Det gir mer.") == (
        "Regjeringen la fram budsjettet. Det gir mer."
    )


def test_search_documents_leave_addresses_out():
    """The records come from the entries' words (markdown.to_words): links as their text, bare addresses gone."""
    from newsletter.render import markdown

    assert markdown.to_words("Se [rapporten](https://www.fafo.no/r) og <https://a.no/b>, eller www.udi.no.") == (
        "Se rapporten og eller"
    )
    assert markdown.to_words("Skriv til [oss](mailto:kom@example.no).\n\n- ett\n- **to**") == "Skriv til oss. ett; to"
    # A soft hyphen would keep "menneskehandel" from finding the word; an invisible character is no word either.
    assert (
        markdown.to_words("Om menneske\u00adhandel\u200b og \u202e[tiltak](https://a.no)")
        == "Om menneskehandel og tiltak"
    )


# ---------------------------------------------------------------------- publication dates


def test_a_future_published_date_hides_the_issue_until_that_day(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    site = ws / "site"
    report = build(ws, today=dt.date(2024, 1, 1))
    assert report.issues == ["2023-q3"]
    assert report.skipped == ["2023-q4", "2024-q1", "2024-q2", "2024-q3"]
    assert sorted(p.name for p in site.iterdir() if p.is_dir()) == ["2023-q3", "organisasjoner", "pagefind"]
    index = soup(site / "index.html")
    assert [a["href"] for a in index.select("ul.issues h3 a")] == ["2023-q3/index.html"]
    assert soup(site / "2023-q3" / "index.html").find("a", rel="next") is None
    assert len(feedparser.parse((site / "feed.xml").read_bytes()).entries) == 1
    assert {r["meta"]["utgave"] for r in search_fragments(site)} == {"2023-q3"}
    for relative, path in files_under(site).items():
        assert DISTINCTIVE not in readable(path), relative

    # The day 2024-q1 is published (8 April 2024), it and 2023-q4 appear; 2024-q2 (1 July) still waits.
    report = build(ws, today=dt.date(2024, 4, 8))
    assert report.issues == ["2023-q3", "2023-q4", "2024-q1"]
    assert {"2023-q4/index.html", "2024-q1/index.html", "2023-q3/index.html"} <= set(report.written)
    assert soup(site / "2023-q3" / "index.html").find("a", rel="next")["href"] == "../2023-q4/index.html"
    fresh_build_matches(ws, site, tmp_path, today=dt.date(2024, 4, 8))


# ---------------------------------------------------------------------- incremental builds


@pytest.fixture
def built(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    build(ws)
    return ws, ws / "site"


def test_a_second_build_writes_nothing(built):
    ws, site = built
    before = age_all(site)
    report = build(ws)
    assert report.written == [] and report.removed == []
    assert report.issues == PUBLISHED
    assert mtimes(site) == before  # not even the manifest


def test_a_text_change_rewrites_that_issue_and_the_shared_pages_only(built, tmp_path):
    ws, site = built
    before = age_all(site)
    edit(ws / "issues" / "2024-q1.yaml", "publikasjoner fortsetter som før", "publikasjoner fortsetter i grønn drakt")
    report = build(ws)
    written = set(report.written)
    # The issue's page and the search index changed (the entry is under KOM's own "KOM i JD": on no page) …
    assert "2024-q1/index.html" in written and any(f.startswith("pagefind/fragment/") for f in written)
    assert "grønn drakt" in (site / "2024-q1" / "index.html").read_text(encoding="utf-8")
    assert any("grønn drakt" in unfold(r["content"]) for r in search_fragments(site))
    # … and no other issue's page, not even the neighbours' (their previous/next did not change).
    for other in ("2023-q3", "2023-q4", "2024-q2"):
        assert f"{other}/index.html" not in written
        assert mtimes(site)[f"{other}/index.html"] == before[f"{other}/index.html"]
    # Files whose bytes are the same are not rewritten (the index lists headings, not texts).
    for relative in pages_only(written):
        assert mtimes(site)[relative] != before[relative]
    assert set(pages_only(written)) == {"2024-q1/index.html"}
    assert report.removed and all(f.startswith("pagefind/") for f in report.removed)  # the index's old files
    fresh_build_matches(ws, site, tmp_path)


def test_a_heading_change_updates_index_and_organisations(built, tmp_path):
    ws, site = built
    edit(ws / "issues" / "2023-q4.yaml", "heading: Tvangsarbeid\n", "heading: Fafo\n")
    report = build(ws)
    assert report.unmapped == []
    assert (site / "organisasjoner" / "fafo.html").is_file()
    assert {"organisasjoner/fafo.html", "organisasjoner/index.html", "sitemap.xml", "2023-q4/index.html"} <= set(
        report.written
    )
    assert "2024-q1/index.html" not in report.written
    fresh_build_matches(ws, site, tmp_path)

    edit(ws / "issues" / "2023-q4.yaml", "heading: Fafo\n", "heading: Tvangsarbeid\n")
    report = build(ws)
    assert pages_only(report.removed) == ["organisasjoner/fafo.html"]
    assert [u.heading for u in report.unmapped] == ["Tvangsarbeid"]
    fresh_build_matches(ws, site, tmp_path)


def test_a_published_issue_made_draft_disappears(built, tmp_path):
    ws, site = built
    before = age_all(site)
    edit(ws / "issues" / "2024-q1.yaml", "published: 2024-04-08\n", "")
    report = build(ws)
    assert report.issues == ["2023-q3", "2023-q4", "2024-q2"]
    assert report.skipped == ["2024-q1", "2024-q3"]
    assert sorted(pages_only(report.removed)) == ["2024-q1/events.ics", "2024-q1/index.html"]  # its calendar too
    assert not (site / "2024-q1").exists()
    index = soup(site / "index.html")
    assert "2024-q1/index.html" not in [a["href"] for a in index.select("a")]
    assert "januar–mars 2024" not in index.get_text()
    assert "2024-q1" not in (site / "feed.xml").read_text(encoding="utf-8")
    assert "2024-q1" not in (site / "sitemap.xml").read_text(encoding="utf-8")
    assert all(r["meta"]["utgave"] != "2024-q1" for r in search_fragments(site))
    # Its neighbours now lead to each other; the issue further away is untouched.
    assert soup(site / "2023-q4" / "index.html").find("a", rel="next")["href"] == "../2024-q2/index.html"
    assert soup(site / "2024-q2" / "index.html").find("a", rel="prev")["href"] == "../2023-q4/index.html"
    assert mtimes(site)["2023-q3/index.html"] == before["2023-q3/index.html"]
    fresh_build_matches(ws, site, tmp_path)

    # Published again: it comes back.
    edit(
        ws / "issues" / "2024-q1.yaml",
        "period: januar–mars 2024\n",
        "period: januar–mars 2024\npublished: 2024-04-08\n",
    )
    report = build(ws)
    assert report.issues == PUBLISHED and (site / "2024-q1" / "index.html").is_file()
    fresh_build_matches(ws, site, tmp_path)


def test_a_deleted_issue_file_takes_its_pages_along(built, tmp_path):
    ws, site = built
    (ws / "issues" / "2023-q3.yaml").unlink()
    report = build(ws)
    assert report.removed[:2] == ["2023-q3/events.ics", "2023-q3/index.html"] and not (site / "2023-q3").exists()
    assert soup(site / "2023-q4" / "index.html").find("a", rel="prev") is None
    fresh_build_matches(ws, site, tmp_path)


def test_a_removed_output_file_is_written_again(built):
    ws, site = built
    (site / "2023-q4" / "index.html").unlink()
    (site / "organisasjoner" / "sverige.html").unlink()
    report = build(ws)
    assert sorted(pages_only(report.written)) == ["2023-q4/index.html", "organisasjoner/sverige.html"]


def test_paths_stay_inside_the_archive(tmp_path):
    for text in ("../../etc/passwd", "..", "/etc/passwd", "a/../../b", "..\\..\\windows"):
        name = slug(text)
        assert name and "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")
        assert safe_join(tmp_path, f"emner/{name}.html").parent == (tmp_path / "emner").resolve()
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("Østersjørådet (CBSS)") == "ostersjoradet-cbss"
    assert slug("Europarådet og GRETA") == "europaradet-og-greta"
    assert re.fullmatch(r"emne-[0-9a-f]{8}", slug("«»"))
    for bad in ("../x", "../../etc/passwd", "/etc/passwd", "emner/../../x"):
        with pytest.raises(NewsletterError):
            safe_join(tmp_path, bad)
    assert safe_join(tmp_path, "emner/../index.html") == (tmp_path / "index.html").resolve()


def test_an_organisation_named_index_does_not_replace_the_organisations_page(tmp_path):
    ws = make_workspace(tmp_path / "ws", issues=["2023-q4"])
    edit(ws / "newsletter.yaml", "organisations:\n", "organisations:\n  - name: Index\n    headings: [Tvangsarbeid]\n")
    report = build(ws)
    assert len(report.written) == len(set(report.written))
    assert "organisasjoner/index-organisasjon.html" in report.written
    index = soup(ws / "site" / "organisasjoner" / "index.html")
    assert index.h2.get_text(strip=True) == "Organisasjoner"
    assert index.find("a", href="sverige.html") is not None
    assert index.find("a", href="index-organisasjon.html") is not None


def test_a_build_over_an_older_archive_removes_what_it_no_longer_makes(built, tmp_path):
    """An archive from before organisation pages (manifest version 2, topic pages in emner/) loses emner/."""
    ws, site = built
    manifest = json.loads((site / ".manifest.json").read_text(encoding="utf-8"))
    (site / "emner").mkdir()
    (site / "emner" / "sverige.html").write_text("<!DOCTYPE html><p>gammel</p>", encoding="utf-8")
    manifest["version"] = 2
    manifest["outputs"]["emner/sverige.html"] = "0" * 20
    (site / ".manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    report = build(ws)
    assert pages_only(report.removed) == ["emner/sverige.html"]
    assert not (site / "emner").exists()
    fresh_build_matches(ws, site, tmp_path)


# ---------------------------------------------------------------------- PDFs


def test_pdfs_beside_the_pages(tmp_path):
    ws = make_workspace(tmp_path / "ws", issues=["2023-q3", "2023-q4"])
    site = ws / "site"
    # A PDF that `newsletter build` made, newer than the issue file, is used as it is.
    built_pdf = ws / "build" / "2023-q3" / "2023-q3.pdf"
    built_pdf.parent.mkdir(parents=True)
    built_pdf.write_bytes(b"%PDF-1.7 made by newsletter build\n%%EOF\n")
    report = build(ws, pdf=True, built=True)
    assert report.issues == ["2023-q3", "2023-q4"]
    assert (site / "2023-q3" / "2023-q3.pdf").read_bytes() == built_pdf.read_bytes()
    rendered = (site / "2023-q4" / "2023-q4.pdf").read_bytes()
    assert rendered.startswith(b"%PDF-") and len(rendered) > 5000
    index = soup(site / "index.html")
    for issue_id in ("2023-q3", "2023-q4"):
        assert soup(site / issue_id / "index.html").find("a", href=f"{issue_id}.pdf") is not None
        assert index.find("a", href=f"{issue_id}/{issue_id}.pdf") is not None
    assert build(ws, pdf=True, built=True).written == []

    # Without PDFs again: they go, and nothing links to them.
    report = build(ws, pdf=False)
    assert sorted(r for r in report.removed if r.endswith(".pdf")) == ["2023-q3/2023-q3.pdf", "2023-q4/2023-q4.pdf"]
    assert not list(site.rglob("*.pdf"))
    for page in site.rglob("*.html"):
        assert not [link for link in parse_links(page).links if link.endswith(".pdf") and resolve(site, page, link)]


# ---------------------------------------------------------------------- the command

FILES_WRITTEN = re.compile(r"(\d+) files? written, (\d+) removed")


def test_site_build_command(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    runner = CliRunner()
    result = runner.invoke(cli, ["--workspace", str(ws), "site", "build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert "4 published issues" in result.output
    written = int(FILES_WRITTEN.search(result.output).group(1))
    assert written == len(files_under(ws / "site")) > 20
    assert "not published yet: 2024-q3" in result.output
    assert not list((ws / "site").rglob("*.pdf"))

    result = runner.invoke(cli, ["--workspace", str(ws), "site", "build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert FILES_WRITTEN.search(result.output).groups() == ("0", "0")


def test_no_contact_data_in_the_archive(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "--workspace",
            str(ws),
            "contacts",
            "add",
            "person@example.org",
            "--name",
            "Hemmelig Navn",
            "--organisation",
            "Skjult Organisasjon",
        ],
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["--workspace", str(ws), "contacts", "list"])
    assert "person@example.org" in listed.output  # the contact really is in var/newsletter.db
    assert (ws / "var" / "newsletter.db").is_file()

    result = runner.invoke(cli, ["--workspace", str(ws), "site", "build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    files = files_under(ws / "site", hidden=True)
    assert len(files) > 20
    for relative, path in files.items():
        text = path.read_bytes().decode("utf-8", "replace").lower()
        for secret in ("person@example.org", "hemmelig navn", "skjult organisasjon"):
            assert secret not in text, f"{secret!r} in {relative}"


# ---------------------------------------------------------------------- site serve


def test_site_serve_leaves_the_built_archive_and_its_pdfs_as_they_were(tmp_path):
    """`site serve` previews in var/site-preview/: every file of site/ (PDFs too) keeps its bytes and mtime."""
    import signal
    import subprocess
    import sys
    import urllib.request

    ws = make_workspace(tmp_path / "ws")
    for issue_id in PUBLISHED:  # PDFs as `newsletter build` leaves them, newer than the issue files
        made = ws / "build" / issue_id / f"{issue_id}.pdf"
        made.parent.mkdir(parents=True)
        made.write_bytes(f"%PDF-1.7 {issue_id} made by newsletter build\n%%EOF\n".encode())
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "site", "build"])
    assert result.exit_code == 0, result.output
    site = ws / "site"
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*.pdf")) == [f"{i}/{i}.pdf" for i in PUBLISHED]
    before, stamps = snapshot(site), age_all(site)

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    command = [sys.executable, "-m", "newsletter", "--workspace", str(ws), "site", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"no address from site serve: {line!r} {process.stderr.read() if process.poll() else ''}"
        with urllib.request.urlopen(match[0] + "index.html", timeout=10) as response:
            served = response.read().decode("utf-8")
        assert "april–juni 2024" in served and ".pdf" not in served  # the preview, built without PDFs
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)

    assert (ws / "var" / "site-preview" / "index.html").is_file()
    assert snapshot(site) == before
    assert mtimes(site) == stamps
    # A later build finds the archive complete: nothing to write, nothing removed, the PDFs still linked.
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "site", "build"])
    assert FILES_WRITTEN.search(result.output).groups() == ("0", "0"), result.output
    assert soup(site / "index.html").find("a", href="2024-q2/2024-q2.pdf") is not None


# ---------------------------------------------------------------------- characters XML forbids


def test_a_control_character_in_an_intro_leaves_the_feed_valid_and_check_warns(tmp_path):
    """An intro with a form feed, U+0001 and a bell (as pasted from a PDF): every XML file stays well-formed."""
    ws = make_workspace(tmp_path / "ws", issues=["2023-q3", "2023-q4"])
    path = ws / "issues" / "2023-q4.yaml"
    text, count = re.subn(
        r"intro: >-\n(?:  .*\n)+",
        lambda _: 'intro: "Godt nytt år!\\f I denne utgaven\\x01: en rapport om tvangsarbeid.\\a"\n',
        path.read_text(encoding="utf-8"),
    )
    assert count == 1
    path.write_text(
        text.replace("title: Ny rapport om tvangsarbeid i Norge", 'title: "Ny rapport\\x0b om tvangsarbeid i Norge"'),
        encoding="utf-8",
    )
    assert build(ws).warnings == []
    site = ws / "site"
    raw = (site / "feed.xml").read_bytes()
    feed = feedparser.parse(raw)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries[0].summary == "Godt nytt år! I denne utgaven: en rapport om tvangsarbeid."
    for name in ("feed.xml", "sitemap.xml"):
        ET.parse(site / name)  # well-formed XML, or this raises
    for relative, file in files_under(site).items():
        if file.suffix in (".html", ".xml", ".js"):
            assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", file.read_text(encoding="utf-8")), relative

    result = CliRunner().invoke(cli, ["--workspace", str(ws), "issue", "check", "2023-q4"])
    lines = result.output.splitlines()
    intro_line = next(
        n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith("intro:")
    )
    assert (
        f"warning: {path}, line {intro_line}: intro: holds 3 invisible characters that can hide or reorder text "
        "(pasted in with the words, or from a PDF): delete the escape \\f (U+000C, a control character) at "
        "column 22 (a line or page break: replace it with a space), the escape \\x01 (U+0001, a control "
        "character) at column 40 and the escape \\a (U+0007, a control character) at column 73; every output "
        "leaves them out, a line or page break as a space"
    ) in lines, result.output
    assert any(
        line.startswith(f"warning: {path}, line ")
        and line.endswith(
            ": title: highlights:1 holds a line or page break that some programs show and others do not (pasted "
            "in with the words, or from a PDF): replace the escape \\x0b (U+000B, a control character) at column "
            "25 with a space; every output shows it as a space"
        )
        for line in lines
    ), result.output


def test_invisible_characters_reach_no_page_feed_or_search_record_of_the_archive(tmp_path):
    """A right-to-left override, isolates and zero-width spaces pasted into an issue's title, a heading, an
    entry's title and its text: no file of the archive, nor the search index, carries one."""
    ws = make_workspace(tmp_path / "ws", issues=["2023-q3", "2023-q4"])
    path = ws / "issues" / "2023-q4.yaml"
    text = path.read_text(encoding="utf-8")
    for before, after in (
        ("title: Nyhetsbrev fra KOM", "title: Nyhetsbrev\u202e fra KOM"),
        ("- heading: Tvangsarbeid", "- heading: Tvangs\u200barbeid"),
        ("title: Ny rapport om tvangsarbeid i Norge", "title: Ny rapport om \u2066tvangsarbeid\u2069 i Norge"),
        ("skrevet en rapport om", "skrevet en\u2060 rapport\ufeff om"),
    ):
        assert before in text
        text = text.replace(before, after, 1)
    path.write_text(text, encoding="utf-8")
    assert build(ws).warnings == []
    site = ws / "site"
    for relative, file in files_under(site).items():
        if file.suffix in (".html", ".xml", ".js", ".json"):  # Pagefind's other files are binary
            assert hidden_characters(file.read_text(encoding="utf-8")) == [], relative
    records = [r for r in search_fragments(site) if r["meta"]["utgave"] == "2023-q4"]
    assert hidden_characters(json.dumps(records, ensure_ascii=False)) == []
    record = next(r for r in records if "tvangsarbeidsrapporten" in r["content"])
    assert unfold(record["meta"]["title"]) == "Ny rapport om tvangsarbeid i Norge"
    assert "skrevet en rapport om" in record["content"]


# ---------------------------------------------------------------------- the two sample issues


def test_the_two_sample_issues_make_organisation_pages_from_the_configured_list(tmp_path):
    """2022-q2 and 2024-q2 with the sample newsletter.yaml: every heading placed, aliases merged across years."""
    ws = make_workspace(tmp_path / "ws", issues=["2024-q2"])
    shutil.copy(Path(__file__).parent / "data" / "site" / "2022-q2.yaml", ws / "issues" / "2022-q2.yaml")
    report = build(ws)
    assert report.issues == ["2022-q2", "2024-q2"] and report.unmapped == [] and report.warnings == []
    site = ws / "site"
    greta = entries_on(site, "europaradet-og-greta")
    assert [i for i, _ in greta] == ["2024-q2"] * 3 + ["2022-q2"] * 6
    assert headings_of(site, "2022-q2", [a for i, a in greta if i == "2022-q2"]) == {"GRETA"}
    assert headings_of(site, "2024-q2", [a for i, a in greta if i == "2024-q2"]) == {"Europarådet og GRETA"}
    osse = entries_on(site, "osse")
    assert headings_of(site, "2022-q2", [a for i, a in osse if i == "2022-q2"]) == {"OSCE"}
    assert {i for i, _ in entries_on(site, "stortinget")} == {"2022-q2", "2024-q2"}  # "Representantforslag" too
    pages = {p.stem for p in (site / "organisasjoner").glob("*.html")}
    for own in (
        "Kontakt oss",
        "Om KOM",
        "Tilstandsrapport 2023",
        "KOM tilstandsrapport 2021 publisert",
        "KOMs kontaktliste",
    ):
        assert slug(own) not in pages
    teasers = [li.find_all("p")[-1].get_text() for li in soup(site / "index.html").select("main ul.issues > li")]
    assert teasers[1].startswith("I denne utgaven presenterer vi KOMs tilstandsrapport for 2021")


def test_an_archive_with_nothing_published_has_no_search_index_until_an_issue_is(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    site = ws / "site"
    assert build(ws, today=dt.date(2020, 1, 1)).issues == []
    assert not (site / "pagefind").exists()
    assert build(ws, today=dt.date(2020, 1, 1)).written == []  # and nothing to do the second time
    assert build(ws, today=dt.date(2024, 1, 1)).issues == ["2023-q3"]
    assert search_pages(site) == 7
    report = build(ws, today=dt.date(2020, 1, 1))
    assert report.issues == [] and not (site / "pagefind").exists()
    assert "pagefind/pagefind.js" in report.removed


# ---------------------------------------------------------------------- dead links in the archive


def write_issue(ws: Path, issue_id: str, published: str | None, entries: list[str]) -> Path:
    """A small issue file: `entries` are YAML blocks for the `norway` section."""
    from newsletter.quarters import period_for

    body = "\n".join(textwrap.indent(textwrap.dedent(e).strip(), "    ") for e in entries)
    path = ws / "issues" / f"{issue_id}.yaml"
    path.write_text(
        f"id: {issue_id}\ntitle: Nyhetsbrev fra KOM\nperiod: {period_for(issue_id)}\n"
        + (f"published: {published}\n" if published else "")
        + f"intro: Utgaven.\nsections:\n  norway:\n{body}\n",
        encoding="utf-8",
    )
    return path


def test_links_archive_lists_the_dead_links_of_every_published_issue(tmp_path, server):
    from tests.conftest import FAST_FETCH_YAML, Route

    server.routes["/lever"] = Route(b"ok", content_type="text/plain")
    gone, moved, draft = server.url("/borte"), server.url("/flyttet"), server.url("/kladd")
    ws = make_workspace(tmp_path / "ws", issues=[])
    with (ws / "newsletter.yaml").open("a", encoding="utf-8") as settings:
        settings.write(FAST_FETCH_YAML)
    # The test server is on 127.0.0.1, inside the network: checked only as an intranet source's host.
    with (ws / "feeds.yaml").open("a", encoding="utf-8") as feeds:
        feeds.write(
            f"  - key: intranett\n    name: Intranett\n    kind: rss\n    url: {server.url('/rss')}\n"
            "    section: norway\n    allow_private: true\n"
        )
    copy = "https://web.archive.org/web/2023/https://www.regjeringen.no/flyttet"
    older = write_issue(
        ws,
        "2023-q3",
        "2023-10-05",
        [
            f"- heading: Stortinget\n  title: Lever\n  text: Se [her]({server.url('/lever')}).",
            f"- heading: Stortinget\n  title: Borte\n  text: Se [her]({gone}).",
        ],
    )
    newer = write_issue(
        ws,
        "2023-q4",
        "2024-01-10",
        [
            f"- heading: Politiet\n  title: Flyttet\n  text: Se [her]({moved}).\n  archived_url: {copy}",
            f"- heading: Politiet\n  title: Igjen\n  text: Se [rapporten]({gone}).",
        ],
    )
    write_issue(ws, "2024-q1", None, [f"- heading: Politiet\n  title: Kladd\n  text: Se [her]({draft})."])

    result = CliRunner().invoke(cli, ["--workspace", str(ws), "links", "--archive"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines == [
        f"2023-q3 ({older}): 1 dead of 2 links",
        f"  dead: {gone}  (norway:2 'Borte')  HTTP 404 Not Found",
        f"2023-q4 ({newer}): 2 dead of 2 links",
        f"  dead: {moved}  (norway:1 'Flyttet')  HTTP 404 Not Found; archived copy: {copy}",
        f"  dead: {gone}  (norway:2 'Igjen')  HTTP 404 Not Found",
        "2 published issues, 4 links: 3 dead, 2 without an archived copy; note a new address in the issue "
        "file, or an archived_url on the entry",
    ]
    asked = [entry.path for entry in server.log]
    assert "/kladd" not in asked  # the draft's links are not the archive's
    assert asked.count("/borte") == 1  # one URL, asked once, reported in both issues

    data = json.loads(CliRunner().invoke(cli, ["--workspace", str(ws), "links", "--archive", "--json"]).stdout)
    assert [(i["issue"], i["links"], [d["url"] for d in i["dead"]]) for i in data] == [
        ("2023-q3", 2, [gone]),
        ("2023-q4", 2, [moved, gone]),
    ]
    assert data[1]["dead"][0]["archived_url"] == copy and data[1]["dead"][0]["status"] == 404

    # Every dead link seen to (a new address, or a stored copy): exit 0.
    edit(newer, f"[rapporten]({gone})", f"[rapporten]({server.url('/lever')})")
    edit(older, f"      text: Se [her]({gone}).\n", f"      text: Se [her]({gone}).\n      archived_url: {copy}\n")
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "links", "--archive"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 published issues, 4 links: 2 dead, 0 without an archived copy"

    usage = CliRunner().invoke(cli, ["--workspace", str(ws), "links", "2023-q3", "--archive"])
    assert usage.exit_code == 2 and "give an issue ID or --archive, not both" in usage.output
    assert CliRunner().invoke(cli, ["--workspace", str(ws), "links"]).exit_code == 2


def test_the_archive_shows_an_entrys_archived_copy_beside_its_links(tmp_path):
    ws = make_workspace(tmp_path / "ws", issues=["2023-q4"])
    copy = "https://web.archive.org/web/2024/https://www.fafo.no/tvangsarbeid"
    edit(
        ws / "issues" / "2023-q4.yaml",
        "      title: Ny rapport om tvangsarbeid i Norge\n",
        f"      title: Ny rapport om tvangsarbeid i Norge\n      archived_url: {copy}\n",
    )
    build(ws)
    page = soup(ws / "site" / "2023-q4" / "index.html")
    article = page.find("a", href=copy).find_parent("article")
    assert article.h4.get_text(strip=True) == "Ny rapport om tvangsarbeid i Norge"
    assert article.find("p", class_="archived").get_text(" ", strip=True) == (
        "Lenken over virker ikke lenger. Se en arkivert kopi ."
    )
    # Only that entry: the others carry no copy.
    assert len(page.select("p.archived")) == 1
    bad = ws / "issues" / "2023-q4.yaml"
    edit(bad, f"archived_url: {copy}", "archived_url: web.archive.org/x")
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "issue", "check", "2023-q4"])
    assert (
        "archived_url: highlights:1 'web.archive.org/x' is not an http(s) address: give the stored copy's full "
        "https:// address, or delete the line\n"
    ) in result.output


def test_site_build_of_one_issue_says_issue_in_the_singular(tmp_path):
    ws = make_workspace(tmp_path / "ws", issues=["2024-q2"])
    result = CliRunner().invoke(cli, ["--workspace", str(ws), "site", "build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert f"1 published issue in {ws / 'site'};" in result.stdout


def test_an_issue_with_events_has_its_calendar_beside_its_page_and_a_link_to_it(archive):
    """The built issue offers `events.ics`; the archive's page of the same issue does too, not a dead link."""
    import icalendar

    ws, site, _report = archive
    with_events = sorted(p.parent.name for p in site.glob("*/events.ics"))
    assert "2024-q2" in with_events
    assert calendar_links(site / "2024-q2" / "index.html") == ["events.ics"]
    calendar = icalendar.Calendar.from_ical((site / "2024-q2" / "events.ics").read_bytes())
    summaries = {str(event["SUMMARY"]) for event in calendar.walk("VEVENT")}
    assert "ROSAs konferanse om menneskehandel" in summaries
    published = sorted(p.parent.name for p in site.glob("*/index.html") if p.parent.name[:2] == "20")
    assert with_events == published  # every test issue has an event (the one without is below)


def calendar_links(page: Path) -> list[str]:
    return [a["href"] for a in soup(page).select("nav a") if a.get_text() == "Kalender (ICS)"]


def test_an_issue_without_events_has_no_calendar_and_no_link_to_one(tmp_path):
    ws = make_workspace(tmp_path / "ws", issues=["2023-q3", "2023-q4"])
    path = ws / "issues" / "2023-q4.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("      event_date: 2024-02-08\n") == 1
    path.write_text(text.replace("      event_date: 2024-02-08\n", ""), encoding="utf-8")
    build(ws)
    site = ws / "site"
    assert (site / "2023-q3" / "events.ics").exists() and calendar_links(site / "2023-q3" / "index.html")
    assert not (site / "2023-q4" / "events.ics").exists()
    assert calendar_links(site / "2023-q4" / "index.html") == []

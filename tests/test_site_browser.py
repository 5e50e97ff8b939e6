"""The static web archive (`newsletter.site.build_site`) in a real browser: Debian's headless Chromium.

The archive is built from the sample workspace's issues (tests/data/workspace, pdf=False) into a
temporary folder, opened from disk, and served by a real HTTP server on 127.0.0.1 for the search
(Pagefind's pagefind.js fetches its index, which browsers refuse over file://). The Chromium harness of
tests/test_browser.py is reused: the binary lookup, the console pattern on stderr, `visit` (screenshot +
console) and the PNG decoding that tells a blank page.

- Loading: the index, the issue page and the search page with a query that has results show no console
  message and do not render blank.
- Search: `--dump-dom` after `--virtual-time-budget` gives the DOM once sok.js and Pagefind have run;
  #status says "N treff", #hits holds min(N, 20) <li>, and hits link to `2024-q2/index.html#sak-…`.
  "ostersjoradet" finds Østersjørådet, marked in the excerpt; "https" finds nothing; the filters
  (organisation, section, year) narrow the hits. A hostile query (markup, regex metacharacters,
  backslash, æøå) neither crashes the script nor injects an element.
- Accessibility: axe-core (from the npm registry) runs inside Chromium on a copy of each page placed next
  to it (so relative links still resolve) and writes its violations into <pre id="axe-result">; no
  violation may have impact "serious" or "critical". A control page (img without alt, input without a
  label) proves the check can fail.

axe-core is looked up at $AXE_CORE_JS, then .ci/node_modules/axe-core/axe.min.js (what .ci/run installs),
then in a cache outside the repository ($XDG_CACHE_HOME or ~/.cache, /newsletter-tests/axe), where it is
installed with `npm install --no-save --no-audit --no-fund --prefix <cache> axe-core@4` when missing. No
npm and no copy fails (it does not skip). A missing Chromium fails too.
"""

from __future__ import annotations

import functools
import html as html_lib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from newsletter.config import load_settings
from newsletter.site.build import build_site
from newsletter.site.summaries import slug
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS
from tests.test_browser import PRIMARY, assert_rendered, chromium_binary, run_chromium, visit

REPO = Path(__file__).parent.parent
SAMPLE_2022 = Path(__file__).parent / "data" / "site" / "2022-q2.yaml"  # test copy of issues/2022-q2.yaml

ISSUE = "2024-q2"
BLOCKING = ("serious", "critical")
HOSTILE = "<script>alert(1)</script> ( [ * \\ æøå"


# --- the archive ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The archive of the two sample issues (2022-q2, and 2024-q2 of tests/data/workspace), without PDFs."""
    chromium_binary()
    issues = tmp_path_factory.mktemp("issues")
    shutil.copy(SAMPLE_ISSUE, issues)
    shutil.copy(SAMPLE_2022, issues)
    out = tmp_path_factory.mktemp("archive")
    report = build_site(issues, load_settings(SAMPLE_SETTINGS), SAMPLE_SETTINGS, out, pdf=False)
    assert report.issues == ["2022-q2", ISSUE] and report.unmapped == [], report
    for page in ("index.html", f"{ISSUE}/index.html", "sok.html", "sok.js", "organisasjoner/index.html"):
        assert (out / page).is_file(), f"the build wrote no {page}"
    assert (out / "pagefind" / "pagefind.js").is_file(), "the build wrote no search index"
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the archive's folder; `/__wait` answers after 50 ms (see HOLD)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/__wait"):
            time.sleep(0.05)
            self.send_response(204)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            return
        super().do_GET()


# Chromium's --virtual-time-budget skips ahead whenever the page waits on nothing but its own work, and
# Pagefind compiles WebAssembly that way: under load the budget could run out before the hits are listed.
# Virtual time stands still while a request is pending, so the page under test keeps one pending (a
# 50 ms answer from the test server, again and again) until sok.js marks #hits aria-busy="false", for at
# most 20 s of real time.
HOLD = """<script>
(function hold(tries) {
  var hits = document.getElementById("hits");
  if ((hits && hits.getAttribute("aria-busy") === "false") || tries > 400) { return; }
  fetch("/__wait", {cache: "no-store"}).then(function () { hold(tries + 1); }, function () { hold(tries + 1); });
})(0);
</script>
"""


def held(markup: str) -> str:
    """A page's markup with HOLD before </body>."""
    end = markup.rfind("</body>")
    assert end >= 0
    return markup[:end] + HOLD + markup[end:]


@pytest.fixture(scope="module")
def served(site) -> str:
    """The archive served over HTTP on 127.0.0.1: its address, ending in "/".

    Beside sok.html, the server has sok-test.html: the same page holding virtual time until the search
    is done (HOLD), which the search tests load.
    """
    (site / "sok-test.html").write_text(held((site / "sok.html").read_text(encoding="utf-8")), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def organisation_page(site: Path) -> Path:
    page = site / "organisasjoner" / f"{slug('Østersjørådet (CBSS)')}.html"
    assert page.is_file(), sorted(p.name for p in (site / "organisasjoner").iterdir())
    return page


def dump_dom(url: str, work: Path, budget_ms: int = 5000) -> tuple[Node, list[str], str]:
    out, console, stderr = run_chromium(url, work, f"--virtual-time-budget={budget_ms}", "--dump-dom")
    assert "<html" in out.lower(), f"no DOM from {url}:\n{stderr[-2000:]}"
    return parse(out), console, stderr


def search_url(served: str, query: str = "", page: str = "sok-test.html", **filters: str) -> str:
    params = {"q": query, **filters} if query else filters
    return f"{served}{page}" + (f"?{urlencode(params, quote_via=quote)}" if params else "")


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None):
        for child in self.children:
            if isinstance(child, Node):
                if tag is None or child.tag == tag:
                    yield child
                yield from child.iter(tag)

    def by_id(self, element_id: str) -> Node | None:
        return next((n for n in self.iter() if n.attrs.get("id") == element_id), None)

    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}, self.stack[-1]))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(markup: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


def tags_outside(root: Node, element_id: str) -> list[str]:
    """Every element's tag name, in document order, leaving out the element `element_id`'s descendants."""
    found = []

    def walk(node: Node):
        for child in node.elements():
            found.append(child.tag)
            if child.attrs.get("id") != element_id:
                walk(child)

    walk(root)
    return found


# --- 1. pages load, render, and search works ------------------------------------------------------------


@pytest.mark.parametrize("page", ["index.html", f"{ISSUE}/index.html"])
def test_archive_page_loads_quietly_and_renders(site, tmp_path, page):
    result = visit(site / page, tmp_path)
    assert result.console == [], f"{page} wrote to the console: {result.console}"
    assert "Uncaught" not in result.stderr
    assert_rendered(result.screenshot, PRIMARY)


@pytest.mark.parametrize("query", ["østersjørådet", "menneskehandel"])
def test_search_page_with_results_loads_quietly_and_renders(served, tmp_path, query):
    shot = tmp_path / f"sok-{slug(query)}.png"
    _, console, stderr = run_chromium(
        search_url(served, query), tmp_path, "--virtual-time-budget=5000", f"--screenshot={shot}"
    )
    assert shot.exists(), stderr[-2000:]
    print(f"screenshot: {shot}")
    assert console == [], f"sok.html?q={query} wrote to the console: {console}"
    assert "Uncaught" not in stderr
    assert_rendered(shot, PRIMARY)


def search(served: str, work: Path, query: str = "", **filters: str) -> tuple[Node, int, list[Node]]:
    """Run the search page on `query` and `filters`: its DOM, the number of hits #status names, the <li> of #hits."""
    dom, console, stderr = dump_dom(search_url(served, query, **filters), work)
    assert console == [], console
    assert "Uncaught" not in stderr
    status, hits = dom.by_id("status"), dom.by_id("hits")
    assert status is not None and hits is not None
    text = status.text().strip()
    match = re.fullmatch(r"(\d+) treff(?:, viser (\d+))?", text)
    assert match or text == "Ingen treff.", f"#status for {query!r} {filters}: {text!r}"
    total = int(match[1]) if match else 0
    if match:  # "52 treff, viser 20" while there are more to show
        assert (match[2] is not None) == (total > 20) and int(match[2] or total) == min(total, 20), text
    items = hits.elements()
    assert all(item.tag == "li" for item in items), [item.tag for item in items]
    assert len(items) == min(total, 20), f"{total} treff but {len(items)} <li> in #hits"
    more = dom.by_id("more")
    assert more is not None and ("hidden" in more.attrs) == (total <= 20)
    return dom, total, items


def hit_parts(item: Node) -> tuple[str, str, str, list[str]]:
    """A hit's link, its line of where it stands, its excerpt, and the words marked in the excerpt."""
    link = next(item.iter("a"))
    paragraphs = list(item.iter("p"))
    assert len(paragraphs) == 2, item.text()
    where, excerpt = paragraphs
    return link.attrs.get("href", ""), where.text(), excerpt.text(), [m.text() for m in excerpt.iter("mark")]


@pytest.mark.parametrize("query", ["østersjørådet", "menneskehandel", "ØSTERSJØRÅDET", "handel"])
def test_search_lists_hits_that_link_into_the_issue(site, served, tmp_path, query):
    _dom, total, items = search(served, tmp_path, query)
    assert total > 0
    links = [hit_parts(item)[0] for item in items]
    assert all(re.fullmatch(r"20(22|24)-q2/index\.html#sak-[\w-]+", href) for href in links), links[:5]
    # Every anchor a hit points at exists on its issue's page.
    for href in links:
        page, anchor = href.split("#", 1)
        assert f'id="{anchor}"' in (site / page).read_text(encoding="utf-8"), f"{href}: no such anchor"
    # Each excerpt marks the word searched for, in the excerpt's own spelling.
    for item in items:
        _href, _where, excerpt, marked = hit_parts(item)
        assert marked, f"no <mark> in {excerpt!r}"
        assert all(m in excerpt for m in marked)


def test_search_folds_o_slash_so_ostersjoradet_finds_ostersjoradet(served, tmp_path):
    """Typed without ø and å, the name finds the entries that write it with them, and marks it as written."""
    _dom, folded, items = search(served, tmp_path, "ostersjoradet")
    _dom, exact, _ = search(served, tmp_path, "Østersjørådet")
    assert folded == exact > 0
    marked = [word for item in items for word in hit_parts(item)[3]]
    assert marked and all(word.rstrip(".,:;()") in ("Østersjørådet", "Østersjørådets") for word in marked), marked
    assert any("Østersjørådet" in hit_parts(item)[2] for item in items)
    assert not any("\u0338" in item.text() for item in items)  # the index's spelling never shows


def test_search_matches_words_not_addresses(served, tmp_path):
    for query in ("https", "http", "www"):
        _dom, total, _ = search(served, tmp_path, query)
        assert total == 0, f"{query!r} found {total} entries: addresses are not indexed"


def test_search_filters_by_organisation_section_and_year(served, tmp_path):
    # An organisation alone lists all its entries, newest issue first: "GRETA" (2022) and "Europarådet og
    # GRETA" (2024) are one organisation.
    dom, total, items = search(served, tmp_path, organisasjon="Europarådet og GRETA")
    assert total == 6 + 3
    periods = [hit_parts(item)[1].split(" · ")[0] for item in items]
    assert periods == ["april–juni 2024"] * 3 + ["april–juni 2022"] * 6
    assert {hit_parts(item)[1].rsplit(" · ", 1)[1] for item in items} == {"GRETA", "Europarådet og GRETA"}
    _dom, narrowed, items = search(served, tmp_path, "evalueringsrapport", organisasjon="Europarådet og GRETA")
    assert 0 < narrowed < total
    _dom, in_section, items = search(served, tmp_path, "menneskehandel", seksjon="KOMs hovedaktiviteter")
    assert in_section > 0 and all(" · KOMs hovedaktiviteter · " in hit_parts(item)[1] for item in items)
    _dom, all_years, _ = search(served, tmp_path, "menneskehandel")
    _dom, in_2022, items = search(served, tmp_path, "menneskehandel", ar="2022")
    assert 0 < in_2022 < all_years and all(hit_parts(item)[1].startswith("april–juni 2022") for item in items)
    dom, ignored, _ = search(served, tmp_path, "menneskehandel", ar="1999")  # not an option: no filter
    assert ignored == all_years


def test_search_survives_a_hostile_query_and_injects_nothing(served, tmp_path):
    baseline, console, _ = dump_dom(search_url(served), tmp_path)
    assert console == [], console
    assert baseline.by_id("status").text().strip().startswith("Skriv ett eller flere ord")

    dom, console, stderr = dump_dom(search_url(served, HOSTILE), tmp_path)
    assert console == [], f"the hostile query wrote to the console: {console}"
    assert "Uncaught" not in stderr
    status, hits = dom.by_id("status"), dom.by_id("hits")
    assert status is not None and hits is not None
    text = status.text().strip()
    assert text == "Ingen treff." or re.fullmatch(r"\d+ treff(, viser \d+)?", text), (
        f"#status after a hostile query: {text!r}"
    )
    # Nothing new outside the hit list; inside it, only the hit markup sok.js builds.
    assert tags_outside(dom, "hits") == tags_outside(baseline, "hits"), "the query changed elements outside #hits"
    assert {n.tag for n in hits.iter()} <= {"li", "h3", "a", "p", "mark"}
    assert not any("alert(1)" in s.text() for s in dom.iter("script"))
    assert not any(name.startswith("on") for n in dom.iter() for name in n.attrs)


# Once the first hits are listed: press "Vis flere treff" until it hides, noting after each batch what #status
# says and where the keyboard is; and how wide the page is. Written into #probe as JSON, for --dump-dom.
PROBE = """<script>
(function wait(tries) {
  var hits = document.getElementById("hits"), more = document.getElementById("more"), notes = [];
  if (hits.getAttribute("aria-busy") !== "false" && tries < 400) { setTimeout(function () { wait(tries + 1); }, 50); return; }
  function write() {
    var probe = document.createElement("pre");
    probe.id = "probe";
    probe.textContent = JSON.stringify({notes: notes, width: document.documentElement.scrollWidth,
                                        viewport: window.innerWidth});
    document.body.appendChild(probe);
  }
  function press() {
    if (more.hidden || notes.length > 10) { write(); return; }
    var before = hits.children.length;
    more.focus();
    more.click();
    (function settled(n) {
      if (hits.children.length === before && n < 200) { setTimeout(function () { settled(n + 1); }, 50); return; }
      setTimeout(function () {
        var active = document.activeElement;
        notes.push({status: document.getElementById("status").textContent, hits: hits.children.length,
                    active: active.tagName, inHits: hits.contains(active), hidden: more.hidden});
        press();
      }, 50);
    })(0);
  }
  press();
})(0);
</script>
"""


def probe(site: Path, served: str, work: Path, query: str, window: str) -> dict:
    page = site / "sok-probe.html"
    markup = held((site / "sok.html").read_text(encoding="utf-8"))
    end = markup.rfind("</body>")
    page.write_text(markup[:end] + PROBE + markup[end:], encoding="utf-8")
    out, console, stderr = run_chromium(
        search_url(served, query, page="sok-probe.html"),
        work,
        "--virtual-time-budget=30000",
        "--dump-dom",
        window=window,
    )
    assert console == [] and "Uncaught" not in stderr, (console, stderr[-2000:])
    found = parse(out).by_id("probe")
    assert found is not None, f"the probe wrote nothing:\n{stderr[-2000:]}"
    return json.loads(html_lib.unescape(found.text()))


def test_more_hits_keep_the_keyboard_on_the_new_hits_and_say_how_many_are_shown(site, served, tmp_path):
    """Each press of "Vis flere treff" moves the focus to the first new hit (the button hides after the last
    batch: focus on it would fall to <body>) and #status, which is aria-live, says how many are shown."""
    result = probe(site, served, tmp_path, "menneskehandel", "1280,1600")
    notes = result["notes"]
    assert notes, "no more than 20 hits for 'menneskehandel': the test needs a query with more"
    total = int(notes[0]["status"].split()[0])
    assert total > 20
    for n, note in enumerate(notes, 2):
        shown = min(total, 20 * n)
        assert note["hits"] == shown
        assert note["status"] == (f"{total} treff, viser {shown}" if shown < total else f"{total} treff")
        assert note["active"] == "A" and note["inHits"], note
    assert notes[-1]["hidden"]


# The search page in a frame 320 px wide (headless Chromium's window is at least 500 px): once its hits are
# listed, how wide its content is. Written into #frame-width, for --dump-dom.
FRAME = """<!DOCTYPE html><html lang="nb"><head><meta charset="utf-8"><title>frame</title></head><body>
<iframe id="frame" title="søk" src="{src}" style="width:320px;height:800px;border:0"></iframe>
<script>
(function wait(tries) {{
  var doc = document.getElementById("frame").contentDocument, hits = doc && doc.getElementById("hits");
  if ((!hits || hits.getAttribute("aria-busy") !== "false") && tries < 400) {{
    setTimeout(function () {{ wait(tries + 1); }}, 50); return;
  }}
  var out = document.createElement("pre");
  out.id = "frame-width";
  out.textContent = JSON.stringify({{width: doc.documentElement.scrollWidth, viewport: doc.documentElement.clientWidth}});
  document.body.appendChild(out);
}})(0);
</script></body></html>
"""


@pytest.mark.parametrize("query", ["", "menneskehandel"], ids=["empty", "hits"])
def test_search_page_does_not_scroll_sideways_on_a_phone(site, served, tmp_path, query):
    """At 320 px (a phone, or 1280 px zoomed to 400 %) the page is no wider than the screen (WCAG 1.4.10),
    though the section filter's longest option is wider."""
    src = search_url(served, query).removeprefix(served)
    (site / "sok-frame.html").write_text(FRAME.format(src=src), encoding="utf-8")
    dom, console, stderr = dump_dom(served + "sok-frame.html", tmp_path, budget_ms=15000)
    assert console == [] and "Uncaught" not in stderr, (console, stderr[-2000:])
    found = dom.by_id("frame-width")
    assert found is not None, f"the frame's width was not written:\n{stderr[-2000:]}"
    result = json.loads(html_lib.unescape(found.text()))
    assert result["width"] <= result["viewport"] == 320, result


# Every link, field and button focused in turn: its outline's colour against the background it stands on (the
# nearest ancestor's that is not transparent), as WCAG's contrast ratio. Written into #focus-contrast.
FOCUS = """<script>
(function () {
  function rgb(text) { var m = text.match(/[\\d.]+/g).map(Number); return m.length > 3 && m[3] === 0 ? null : m; }
  function luminance(c) {
    var v = c.slice(0, 3).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function background(node) {
    for (; node && node.nodeType === 1; node = node.parentNode) {
      var c = rgb(getComputedStyle(node).backgroundColor);
      if (c) { return c; }
    }
    return [255, 255, 255];
  }
  // :focus matches only while the headless window has the input focus, which it does not always get;
  // the page's own :focus rules are copied onto a class instead, so the probe reads them every time.
  var copied = [];
  Array.prototype.forEach.call(document.styleSheets, function (sheet) {
    Array.prototype.forEach.call(sheet.cssRules, function (rule) {
      if (rule.selectorText && /:focus(?![-\\w])/.test(rule.selectorText)) {
        copied.push(rule.cssText.replace(/:focus(?![-\\w])/g, ".probe-focus"));
      }
    });
  });
  var probe = document.createElement("style");
  probe.textContent = copied.join("\\n");
  document.head.appendChild(probe);
  var out = [];
  document.querySelectorAll("a[href], input, select, button").forEach(function (el) {
    if (el.tabIndex < 0 || el.disabled) { return; }
    el.classList.add("probe-focus");
    var style = getComputedStyle(el), ring = rgb(style.outlineColor), back = background(el.parentNode);
    var a = luminance(ring || back), b = luminance(back);
    out.push({what: el.tagName + " " + (el.textContent || el.id).trim().slice(0, 40), style: style.outlineStyle,
              ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)});
    el.classList.remove("probe-focus");
  });
  var pre = document.createElement("pre");
  pre.id = "focus-contrast";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


@pytest.mark.parametrize("page", ["index.html", "sok.html", "organisasjoner/index.html", f"{ISSUE}/index.html"])
def test_every_focus_ring_of_the_archive_stands_out_from_its_background(site, tmp_path, page):
    """WCAG 1.4.11: a focus indicator has 3:1 against what is next to it; the masthead's link sits on navy."""
    source = site / page
    copy = source.with_name(f"focus-{source.name}")
    markup = source.read_text(encoding="utf-8")
    end = markup.rfind("</body>")
    copy.write_text(markup[:end] + FOCUS + markup[end:], encoding="utf-8")
    dom, _console, stderr = dump_dom(copy.resolve().as_uri(), tmp_path)
    found = dom.by_id("focus-contrast")
    assert found is not None, stderr[-2000:]
    rings = json.loads(html_lib.unescape(found.text()))
    assert rings, "no focusable element"
    if page != f"{ISSUE}/index.html":  # the archive's own pages have the masthead's link, on navy
        assert any(r["what"].startswith("A Nyhetsbrev fra KOM") for r in rings), rings
    faint = [r for r in rings if r["style"] == "none" or r["ratio"] < 3]
    assert faint == [], faint


def test_search_page_from_disk_says_the_search_needs_a_web_server(site, tmp_path):
    """Opened as a file, the browser refuses to fetch the index: the page says so instead of failing silently."""
    dom, _console, stderr = dump_dom(site.joinpath("sok.html").resolve().as_uri() + "?q=menneskehandel", tmp_path)
    assert "Uncaught" not in stderr
    assert dom.by_id("status").text().strip().startswith("Søket kunne ikke lastes")


# --- 2. accessibility: axe-core inside Chromium ----------------------------------------------------------


def _axe_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "newsletter-tests" / "axe"


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """axe.min.js: $AXE_CORE_JS, the copy .ci/run installs, or one installed from npm into a cache folder."""
    configured = os.environ.get("AXE_CORE_JS")
    if configured:
        path = Path(configured)
        if not path.is_file():
            pytest.fail(f"AXE_CORE_JS={configured} is not a file", pytrace=False)
        return path.resolve()
    ci_copy = REPO / ".ci" / "node_modules" / "axe-core" / "axe.min.js"
    if ci_copy.is_file():
        return ci_copy.resolve()
    cache = _axe_cache()
    cached = cache / "node_modules" / "axe-core" / "axe.min.js"
    if cached.is_file():
        return cached
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "axe-core is needed for the accessibility tests and npm is not installed: install npm "
            "(apt-get install npm) or set AXE_CORE_JS to axe.min.js; CI installs it with "
            "`npm install --no-save --prefix .ci axe-core@4`",
            pytrace=False,
        )
    cache.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(cache), "axe-core@4"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(command)}` did not finish within 180 s", pytrace=False)
    if done.returncode != 0 or not cached.is_file():
        pytest.fail(f"`{' '.join(command)}` failed (exit {done.returncode}):\n{done.stderr[-2000:]}", pytrace=False)
    return cached


AXE_SCRIPT = """<script src="{src}"></script>
<script>
// Wait (at most 5 s) until the page is ready to be judged, e.g. until the search has listed its hits.
const ready = () => new Promise(done => {{
  let tries = 0;
  const check = () => ({ready}) || ++tries > 50 ? done() : setTimeout(check, 100);
  check();
}});
ready().then(() => axe.run(document, {{resultTypes: ["violations"]}})).then(r => {{
  const pre = document.createElement("pre"); pre.id = "axe-result";
  pre.textContent = JSON.stringify(r.violations.map(v => ({{id: v.id, impact: v.impact, nodes: v.nodes.length,
    help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}})));
  document.body.appendChild(pre);
}}, e => {{
  const pre = document.createElement("pre"); pre.id = "axe-result";
  pre.textContent = JSON.stringify({{error: String(e)}}); document.body.appendChild(pre);
}});
</script>
"""


def axe_violations(
    page: Path, axe: Path, work: Path, query: str | None = None, served: tuple[Path, str] | None = None
) -> list[dict]:
    """axe-core's violations on `page`, run on a copy next to it (relative links and scripts still resolve).

    With `served` (the folder an HTTP server serves, and its address), the copy and axe are loaded over
    HTTP, as the search needs; with a `query`, axe waits until the search has listed its hits.
    """
    markup = page.read_text(encoding="utf-8")
    end = markup.rfind("</body>")
    assert end >= 0, f"{page} has no </body>"
    copy = page.with_name(f"axe-{page.name}")
    src, ready = axe.as_uri(), "true"
    if served is not None:
        root, address = served
        shutil.copy(axe, root / "axe.min.js")
        src = address + "axe.min.js"
        ready = 'document.getElementById("hits").getAttribute("aria-busy") === "false"'
        markup = held(markup)
        end = markup.rfind("</body>")
    copy.write_text(markup[:end] + AXE_SCRIPT.format(src=src, ready=ready) + markup[end:], encoding="utf-8")
    if served is not None:
        url = served[1] + copy.relative_to(served[0]).as_posix()
    else:
        url = copy.resolve().as_uri()
    url += f"?q={quote(query, safe='')}" if query is not None else ""
    dom, console, stderr = dump_dom(url, work, budget_ms=15000)
    result = dom.by_id("axe-result")
    assert result is not None, f"axe wrote no result on {url}; console {console}:\n{stderr[-2000:]}"
    data = json.loads(html_lib.unescape(result.text()))
    assert isinstance(data, list), f"axe failed on {url}: {data}"
    print(f"axe on {url}: {[(v['id'], v['impact'], v['nodes']) for v in data]}")
    return data


def blocking(violations: list[dict], ignore: tuple[str, ...] = ()) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING and v["id"] not in ignore]


@pytest.fixture(scope="module")
def axe_on(site, served, axe_js, tmp_path_factory):
    """axe results per archive page, each page checked once per module (the search page over HTTP)."""
    work = tmp_path_factory.mktemp("axe")
    results: dict[tuple[str, str | None], list[dict]] = {}

    def check(page: str, query: str | None = None) -> list[dict]:
        if (page, query) not in results:
            over_http = (site, served) if page == "sok.html" else None
            results[page, query] = axe_violations(site / page, axe_js, work, query, over_http)
        return results[page, query]

    return check


@pytest.mark.parametrize(
    "page, query",
    [
        ("index.html", None),
        (f"{ISSUE}/index.html", None),
        ("organisasjoner/index.html", None),
        ("organisasjoner/ORGANISATION", None),
        ("sok.html", None),
        ("sok.html", "menneskehandel"),
    ],
    ids=["index", "issue", "organisations", "organisation", "search-empty", "search-hits"],
)
def test_archive_page_has_no_serious_accessibility_violations(site, axe_on, page, query):
    if page == "organisasjoner/ORGANISATION":
        page = organisation_page(site).relative_to(site).as_posix()
    found = blocking(axe_on(page, query))
    assert not found, (
        f"axe on {page}{'?q=' + query if query else ''}: {json.dumps(found, ensure_ascii=False, indent=1)}"
    )


def test_control_axe_reports_missing_alt_and_label(axe_js, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html lang="nb"><head><meta charset="utf-8"><title>Kontroll</title></head>'
        "<body><main><h1>Kontroll</h1>"
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40">'
        '<form><input type="text" name="navn"></form></main></body></html>',
        encoding="utf-8",
    )
    violations = axe_violations(page, axe_js, tmp_path)
    ids = {v["id"] for v in blocking(violations)}
    assert {"image-alt", "label"} <= ids, violations

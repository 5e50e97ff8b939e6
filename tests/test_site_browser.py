"""The static web archive (`newsletter.site.build_site`) in a real browser: Debian's headless Chromium.

The archive is built from the sample workspace's issues (tests/data/workspace, pdf=False) into a
temporary folder and opened from disk. The Chromium harness of tests/test_browser.py is reused: the binary lookup, the console
pattern on stderr, `visit` (screenshot + console) and the PNG decoding that tells a blank page.

- Loading: the index, the issue page and the search page with a query that has results show no console
  message and do not render blank.
- Search: `--dump-dom` after `--virtual-time-budget` gives the DOM once sok.js has run; #status says
  "N treff", #hits holds min(N, 50) <li>, and hits link to `2024-q2/index.html#sak-…`. A hostile query
  (markup, regex metacharacters, backslash, æøå) neither crashes the script nor injects an element.
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

import html as html_lib
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from newsletter.config import load_settings
from newsletter.site.build import build_site
from newsletter.site.summaries import slug
from tests.conftest import SAMPLE, SAMPLE_SETTINGS
from tests.test_browser import PRIMARY, assert_rendered, chromium_binary, run_chromium, visit

REPO = Path(__file__).parent.parent

ISSUE = "2024-q2"
BLOCKING = ("serious", "critical")
HOSTILE = "<script>alert(1)</script> ( [ * \\ æøå"


# --- the archive ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The archive of the sample workspace's issues (tests/data/workspace), without PDFs."""
    chromium_binary()
    out = tmp_path_factory.mktemp("archive")
    report = build_site(SAMPLE / "issues", load_settings(SAMPLE_SETTINGS), SAMPLE_SETTINGS, out, pdf=False)
    assert ISSUE in report.issues, report
    for page in (
        "index.html",
        f"{ISSUE}/index.html",
        "sok.html",
        "sok.js",
        "sok-indeks.js",
        "organisasjoner/index.html",
    ):
        assert (out / page).is_file(), f"the build wrote no {page}"
    return out


def organisation_page(site: Path) -> Path:
    page = site / "organisasjoner" / f"{slug('Østersjørådet (CBSS)')}.html"
    assert page.is_file(), sorted(p.name for p in (site / "organisasjoner").iterdir())
    return page


def dump_dom(url: str, work: Path, budget_ms: int = 5000) -> tuple[Node, list[str], str]:
    out, console, stderr = run_chromium(url, work, f"--virtual-time-budget={budget_ms}", "--dump-dom")
    assert "<html" in out.lower(), f"no DOM from {url}:\n{stderr[-2000:]}"
    return parse(out), console, stderr


def search_url(site: Path, query: str, page: str = "sok.html") -> str:
    return f"{(site / page).resolve().as_uri()}?q={quote(query, safe='')}"


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
def test_search_page_with_results_loads_quietly_and_renders(site, tmp_path, query):
    shot = tmp_path / f"sok-{slug(query)}.png"
    _, console, stderr = run_chromium(
        search_url(site, query), tmp_path, "--virtual-time-budget=5000", f"--screenshot={shot}"
    )
    assert shot.exists(), stderr[-2000:]
    print(f"screenshot: {shot}")
    assert console == [], f"sok.html?q={query} wrote to the console: {console}"
    assert "Uncaught" not in stderr
    assert_rendered(shot, PRIMARY)


@pytest.mark.parametrize("query", ["østersjørådet", "menneskehandel", "ØSTERSJØRÅDET", "i"])
def test_search_lists_hits_that_link_into_the_issue(site, tmp_path, query):
    dom, console, stderr = dump_dom(search_url(site, query), tmp_path)
    assert console == [], console
    status, hits = dom.by_id("status"), dom.by_id("hits")
    assert status is not None and hits is not None
    match = re.fullmatch(r"(\d+) treff( \(viser de 50 beste\))?", status.text().strip())
    assert match, f"#status for {query!r}: {status.text()!r}"
    total = int(match[1])
    assert total > 0
    assert bool(match[2]) == (total > 50), status.text()
    items = hits.elements()
    assert all(item.tag == "li" for item in items), [item.tag for item in items]
    assert len(items) == min(total, 50), f"{total} treff but {len(items)} <li> in #hits"
    links = [a.attrs.get("href", "") for a in hits.iter("a")]
    assert len(links) == len(items)
    assert all(re.fullmatch(rf"{ISSUE}/index\.html#sak-[\w-]+", href) for href in links), links[:5]
    # Every anchor a hit points at exists on the issue page.
    issue_ids = set(re.findall(r'\bid="([^"]+)"', (site / ISSUE / "index.html").read_text(encoding="utf-8")))
    missing = sorted({href.split("#", 1)[1] for href in links} - issue_ids)
    assert not missing, f"hits link to anchors the issue page lacks: {missing}"
    if query.lower() == "østersjørådet":
        assert any("Østersjørådet" in item.text() for item in items)


def test_search_survives_a_hostile_query_and_injects_nothing(site, tmp_path):
    baseline, console, _ = dump_dom(site.joinpath("sok.html").resolve().as_uri(), tmp_path)
    assert console == [], console
    assert baseline.by_id("status").text().strip() == "Skriv ett eller flere ord."

    dom, console, stderr = dump_dom(search_url(site, HOSTILE), tmp_path)
    assert console == [], f"the hostile query wrote to the console: {console}"
    assert "Uncaught" not in stderr
    status, hits = dom.by_id("status"), dom.by_id("hits")
    assert status is not None and hits is not None
    text = status.text().strip()
    assert text == "Ingen treff." or re.fullmatch(r"\d+ treff.*", text), f"#status after a hostile query: {text!r}"
    # Nothing new outside the hit list; inside it, only the hit markup sok.js builds.
    assert tags_outside(dom, "hits") == tags_outside(baseline, "hits"), "the query changed elements outside #hits"
    assert {n.tag for n in hits.iter()} <= {"li", "h3", "a", "p"}
    assert not any("alert(1)" in s.text() for s in dom.iter("script"))
    assert not any(name.startswith("on") for n in dom.iter() for name in n.attrs)


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
axe.run(document, {{resultTypes: ["violations"]}}).then(r => {{
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


def axe_violations(page: Path, axe: Path, work: Path, query: str | None = None) -> list[dict]:
    """axe-core's violations on `page`, run on a copy next to it (relative links and scripts still resolve)."""
    markup = page.read_text(encoding="utf-8")
    end = markup.rfind("</body>")
    assert end >= 0, f"{page} has no </body>"
    copy = page.with_name(f"axe-{page.name}")
    copy.write_text(markup[:end] + AXE_SCRIPT.format(src=axe.as_uri()) + markup[end:], encoding="utf-8")
    url = copy.resolve().as_uri() + (f"?q={quote(query, safe='')}" if query is not None else "")
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
def axe_on(site, axe_js, tmp_path_factory):
    """axe results per archive page, each page checked once per module."""
    work = tmp_path_factory.mktemp("axe")
    results: dict[tuple[str, str | None], list[dict]] = {}

    def check(page: str, query: str | None = None) -> list[dict]:
        if (page, query) not in results:
            results[page, query] = axe_violations(site / page, axe_js, work, query)
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

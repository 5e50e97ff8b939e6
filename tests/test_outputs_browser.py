"""The e-mail and the web page of the sample issue at phone, e-mail and desktop widths, light and dark.

Real tools, no mock: Debian's headless Chromium lays each page out at 375, 600 and 1280 px (below
500 px inside an iframe, as tests/test_browser.py explains) and reports the document's scroll width
and the width of the text column; axe-core (WCAG 2.1 AA rules, serious and critical findings) runs
inside it, once as the page comes and once with `--force-dark-mode`, which makes Chromium report
`prefers-color-scheme: dark`, so the e-mail's kept dark-mode rules are checked for contrast too.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

import pytest

from newsletter.config import load_settings
from newsletter.curate.issuefile import IssueDocument
from newsletter.render.build import build
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS
from tests.test_browser import chromium_binary, run_chromium
from tests.test_site_browser import AXE_SCRIPT, axe_js, blocking, parse  # noqa: F401 (axe_js is a fixture)

SETTINGS = load_settings(SAMPLE_SETTINGS)
# Where the text is: the e-mail's content cell, the web page's <main>.
COLUMN = {"email.html": "#content", "index.html": "main"}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    chromium_binary()
    issue = IssueDocument.load(SAMPLE_ISSUE).issue(SETTINGS)
    return build(issue, SETTINGS, tmp_path_factory.mktemp("outputs"), ("web", "email")).files


def measure(page: Path, width: int, work: Path, selector: str) -> tuple[int, int, int]:
    """(document scroll width, client width, text column width without padding) of `page` at `width` px."""
    work.mkdir(parents=True, exist_ok=True)
    script = (
        f"<script>var d = document.documentElement, c = document.querySelector({selector!r}), s = getComputedStyle(c);"
        'console.log("measure " + d.scrollWidth + " " + d.clientWidth + " " + Math.round(c.clientWidth'
        " - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)));</script>"
    )
    copy = work / f"measure-{width}-{page.name}"
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    target = copy
    if width < 500:  # headless Chromium never lays a window out narrower than 500 px: an iframe is the phone
        target = work / f"frame-{width}-{page.name}"
        target.write_text(
            f'<!DOCTYPE html><html><body style="margin:0"><iframe src="{copy.resolve().as_uri()}" '
            f'style="display:block;border:0;width:{width}px;height:1900px"></iframe></body></html>',
            encoding="utf-8",
        )
    _out, console, stderr = run_chromium(
        target.resolve().as_uri(), work, "--virtual-time-budget=3000", "--dump-dom", window=f"{max(width, 500)},1600"
    )
    found = [m for line in console if (m := re.search(r"measure (\d+) (\d+) (-?\d+)", line))]
    assert found, f"no measurement from {page.name} at {width} px: {console}\n{stderr[-1500:]}"
    return int(found[0][1]), int(found[0][2]), int(found[0][3])


@pytest.mark.parametrize("name", ["email.html", "index.html"])
@pytest.mark.parametrize("width", [375, 600, 1280])
def test_no_horizontal_scroll_and_a_wide_enough_column(pages, tmp_path, name, width):
    scroll, client, column = measure(pages[name], width, tmp_path, COLUMN[name])
    assert client <= width
    assert scroll <= client, f"{name} is {scroll} px wide in a {client} px viewport"
    if width == 375:
        assert column >= 320, f"{name}'s text column is {column} px at 375 px (under 320)"


@pytest.mark.parametrize("name", ["email.html", "index.html"])
def test_a_long_compound_breaks_rather_than_widen_the_page_on_a_phone(tmp_path, name):
    """Norwegian compounds run long ("Barnevernsinstitusjonskvalitetsforskriften", 42 letters): in a title,
    a heading or the contents list they must not make a 320 px phone scroll sideways (WCAG 1.4.10)."""
    from newsletter.models import Entry

    chromium_binary()
    issue = IssueDocument.load(SAMPLE_ISSUE).issue(SETTINGS)
    long = "Barnevernsinstitusjonskvalitetsforskriften"
    issue.sections["norway"].insert(
        0,
        Entry(
            heading=f"{long}s arbeidsgruppe",
            title=f"{long} endret",
            text=f"Arbeidslivskriminalitetssentrene og {long}.",
        ),
    )
    page = build(issue, SETTINGS, tmp_path / "out", ("web", "email")).files[name]
    scroll, client, _column = measure(page, 320, tmp_path / "measure", COLUMN[name])
    assert scroll <= client, f"{name} is {scroll} px wide in a {client} px viewport"


def axe_violations(page: Path, axe: Path, work: Path, *flags: str) -> list[dict]:
    """axe-core's violations on a copy of `page` next to it, in Chromium run with `flags`."""
    markup = page.read_text(encoding="utf-8")
    end = markup.rfind("</body>")
    copy = page.with_name(f"axe-{'-'.join(f.strip('-') for f in flags) or 'plain'}-{page.name}")
    copy.write_text(markup[:end] + AXE_SCRIPT.format(src=axe.as_uri(), ready="true") + markup[end:], encoding="utf-8")
    work.mkdir(parents=True, exist_ok=True)
    out, console, stderr = run_chromium(
        copy.resolve().as_uri(), work, "--virtual-time-budget=15000", "--dump-dom", *flags
    )
    result = parse(out).by_id("axe-result")
    assert result is not None, f"axe wrote no result on {copy}; console {console}:\n{stderr[-2000:]}"
    data = json.loads(html_lib.unescape(result.text()))
    assert isinstance(data, list), f"axe failed on {copy}: {data}"
    return data


@pytest.mark.parametrize("name", ["email.html", "index.html"])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_axe_finds_nothing_serious(pages, axe_js, tmp_path, name, dark):  # noqa: F811
    flags = ("--force-dark-mode",) if dark else ()
    found = blocking(axe_violations(pages[name], axe_js, tmp_path, *flags))
    assert not found, found


def test_forced_dark_mode_reaches_the_email_s_kept_rules(pages, tmp_path):
    """The dark run is not vacuous: with --force-dark-mode the content cell takes the kept dark background."""
    page = pages["email.html"]
    script = (
        '<script>console.log("bg " + getComputedStyle(document.getElementById("content")).backgroundColor);</script>'
    )
    copy = tmp_path / "dark-email.html"
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    backgrounds = {}
    for flags in ((), ("--force-dark-mode",)):
        _out, console, _err = run_chromium(copy.resolve().as_uri(), tmp_path, "--dump-dom", *flags)
        backgrounds[flags] = next(line for line in console if line.startswith('"bg '))
    assert "rgb(255, 255, 255)" in backgrounds[()]
    assert "rgb(26, 33, 43)" in backgrounds[("--force-dark-mode",)]  # #1a212b

"""An article page's main text, date and consultation deadline.

Used for relevance (an action plan whose title never says "trafficking" but
whose text does), for dates that only the page gives (Europol's feed has none),
and for consultation deadlines (regjeringen.no prints "Høringsfrist" only on
the consultation's own page). The main text is the page's <main>/<article>
with navigation, headers, footers and scripts removed: enough for scoring,
which needs the words, not the layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup

from newsletter.collect.dates import ParsedDate, parse_date
from newsletter.collect.parsers.scrape import element_date, soup_of
from newsletter.collect.sanitize import clean_line

TEXT_LIMIT = 60_000
_NOISE = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "button",
    "select",
)
_MAIN = ("main", "article", "[role=main]", "#mainContent", "#content", ".content", ".main-content")
_DATE_META = (
    ("property", "article:published_time"),
    ("name", "dcterms.date"),
    ("name", "DC.date"),
    ("name", "dc.date"),
    ("name", "date"),
    ("itemprop", "datePublished"),
    ("name", "pubdate"),
)
# "Høringsfrist: 08.08.2022", "Høringsfristen er 23. september 2022", "remisstid … 16 september 2025"
_DEADLINE = re.compile(
    r"(?:høringsfrist(?:en)?|høyringsfrist(?:a)?|remisstid(?:en)?|sista svarsdag|svarfrist(?:en)?|"
    r"deadline for (?:comments|submissions|responses))"
    r"\s*(?:er|är|is|:|var|utløper|går ut)?\s*(?:den|satt til|the)?\s*[:\-–]?\s*"
    r"(\d{1,2}\.\s*\w+\.?\s+\d{4}|\d{1,2}\.\d{1,2}\.\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}\s+\w+\s+\d{4})",
    re.I,
)


@dataclass(frozen=True)
class Article:
    """What was read off an article page."""

    text: str
    published: ParsedDate | None = None
    deadline: ParsedDate | None = None


def read_article(body: bytes, charset: str | None, tz: str = "Europe/Oslo") -> Article:
    """Main text, publication date and deadline of an article page."""
    soup, _warning = soup_of(body, charset)
    published = _meta_date(soup, tz)
    deadline = _dl_deadline(soup, tz)
    for name in _NOISE:
        for node in soup.find_all(name):
            # An article's own <header> holds its title and date: only the page's go.
            if name in ("header", "footer") and node.find_parent(("article", "main")):
                continue
            node.decompose()
    container = None
    for selector in _MAIN:
        container = soup.select_one(selector)
        if container is not None:
            break
    container = container or soup.body or soup
    text = clean_line(container.get_text(" ", strip=True))[:TEXT_LIMIT]
    if published is None:
        published = _visible_date(container, tz)
    if deadline is None:
        match = _DEADLINE.search(text)
        if match:
            deadline = parse_date(match.group(1), tz=tz)
    return Article(text=text, published=published, deadline=deadline)


def _meta_date(soup: BeautifulSoup, tz: str) -> ParsedDate | None:
    for attribute, value in _DATE_META:
        node = soup.find("meta", attrs={attribute: value, "content": True})
        if node:
            found = parse_date(str(node["content"]), tz=tz)
            if found:
                return found
    return None


def _visible_date(container, tz: str) -> ParsedDate | None:
    node = container.find("time", attrs={"datetime": True})
    if node:
        found = element_date(node, None, tz)
        if found:
            return found
    for node in container.select("[class*=date], [class*=Date], [class*=published], [class*=dato]"):
        found = element_date(node, None, tz)
        if found and found.precision == "day":
            return found
    return None


def _dl_deadline(soup: BeautifulSoup, tz: str) -> ParsedDate | None:
    for term in soup.find_all("dt"):
        if re.search(r"h[øo]y?ringsfrist|remisstid|deadline", term.get_text(" ", strip=True), re.I):
            value = term.find_next_sibling("dd")
            if value:
                found = parse_date(value.get_text(" ", strip=True), tz=tz)
                if found:
                    return found
    return None

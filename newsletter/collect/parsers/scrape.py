"""HTML listing pages read with Beautiful Soup and the source's CSS selectors."""

from __future__ import annotations

from collections.abc import Callable

from bs4 import BeautifulSoup, Tag

from newsletter.collect.dates import ParsedDate, date_from_url, parse_date
from newsletter.collect.decode import decode_body
from newsletter.collect.sanitize import html_to_text
from newsletter.collect.urls import resolve
from newsletter.errors import FetchError, ParseError
from newsletter.models import RawItem, Source


def soup_of(body: bytes, charset: str | None) -> tuple[BeautifulSoup, str | None]:
    """Parse an HTML body (decoded as `decode_body` does) into a soup."""
    text, warning = decode_body(body, charset)
    return BeautifulSoup(text, "lxml"), warning


def element_date(element: Tag | None, date_format: str | None, tz: str) -> ParsedDate | None:
    """The date an element shows: a `datetime` attribute (its own or a `<time>` inside), else its text."""
    if element is None:
        return None
    stamp = element.get("datetime")
    if not stamp:
        inner = element.find("time", attrs={"datetime": True})
        stamp = inner.get("datetime") if inner else None
    if stamp:
        found = parse_date(str(stamp), tz=tz)
        if found:
            return found
    return parse_date(element.get_text(" ", strip=True), date_format, tz)


def _href(element: Tag | None) -> str | None:
    """The link of an element: its own href, an <a href> inside it, or the <a> around it."""
    if element is None:
        return None
    if element.get("href"):
        return str(element["href"])
    inner = element.find("a", href=True)
    if inner:
        return str(inner["href"])
    outer = element.find_parent("a", href=True)
    return str(outer["href"]) if outer else None


def document_base(soup: BeautifulSoup, page_url: str) -> str:
    """The URL a page's relative links resolve against: its first `<base href>`, else the page's own URL.

    As the HTML Standard has it (§2.4.1 "document base URL"): the first base
    element with an href, itself resolved against the page URL. A base that
    is not an http(s) URL, or not a URL at all, is ignored.
    """
    tag = soup.find("base", href=True)
    if tag is None:
        return page_url
    try:
        base = resolve(page_url, str(tag["href"]))
    except ValueError:
        return page_url
    return base if base.lower().startswith(("http://", "https://")) else page_url


def parse_listing(
    body: bytes, source: Source, page_url: str, charset: str | None = None, tz: str = "Europe/Oslo"
) -> tuple[list[RawItem], list[str], str | None]:
    """Items of one listing page, warnings, and the next page's URL (if a `next` selector finds one).

    Relative item and `next` links resolve against the page's `<base href>` when it has one
    (`document_base`), else against `page_url`, as a browser resolves them.
    """
    if not body.strip():
        raise ParseError("empty response (HTTP 200 with no page)")
    sel = source.selectors
    if sel is None:  # config validation requires selectors for kind html; a caller bypassing it is a bug
        raise ValueError(f"source '{source.key}' has no selectors")
    soup, warning = soup_of(body, charset)
    warnings = [warning] if warning else []
    nodes = soup.select(sel.item)
    if not nodes:
        raise ParseError(
            # The message is printed after the source's own URL: name the page only when it is another
            # (a redirect's target).
            f"selector '{sel.item}' matched 0 items"
            + ("" if page_url == source.url else f" on {page_url}")
            + "; the page layout may have "
            f"changed: update 'selectors' of source '{source.key}' in feeds.yaml"
            + (f" (line {source.line})" if source.line else "")
        )
    base = document_base(soup, page_url)
    items: list[RawItem] = []
    missing = {"title": 0, "link": 0, "date": 0}
    for node in nodes:
        title_el = node.select_one(sel.title)
        href = _href(node.select_one(sel.link))
        if not href or href.strip().lower().startswith(("javascript:", "mailto:", "data:", "#")):
            missing["link"] += 1
            continue
        try:
            link = resolve(base, href)
        except ValueError:  # "http://[::1/x": not a URL at all
            missing["link"] += 1
            continue
        # decode_contents, then html_to_text: escaped markup in a title is text, never markup.
        title = html_to_text(title_el.decode_contents(), limit=500) if title_el else ""
        if not title:
            missing["title"] += 1
            title = link
        found = element_date(node.select_one(sel.date), source.date_format, tz) if sel.date else None
        found = found or date_from_url(link)
        if not found:
            missing["date"] += 1
        summary_el = node.select_one(sel.summary) if sel.summary else None
        items.append(
            RawItem(
                url=link,
                title=title,
                summary=html_to_text(summary_el.decode_contents()) if summary_el else "",
                published=found.date if found else None,
                date_precision=found.precision if found else None,
            )
        )
    for what, count in missing.items():
        if count:
            warnings.append(f"'{what}' selector found nothing in {count} of {len(nodes)} items on {page_url}")
    next_url = None
    if sel.next:
        next_href = _href(soup.select_one(sel.next))
        # A disabled "next" on the last page is often href="javascript:;" or "#".
        if next_href and not next_href.strip().lower().startswith(("javascript:", "#", "mailto:")):
            next_url = resolve(base, next_href)
    return items, warnings, next_url


def collect_listing(
    first_body: bytes,
    source: Source,
    first_url: str,
    charset: str | None,
    fetch_page: Callable[[str], tuple[bytes, str | None]],
    tz: str = "Europe/Oslo",
) -> tuple[list[RawItem], list[str]]:
    """Read a listing and follow its `next` links, up to the source's `max_pages`."""
    items, warnings, next_url = parse_listing(first_body, source, first_url, charset, tz)
    seen = {first_url}
    pages = 1
    while next_url and next_url not in seen and pages < source.max_pages:
        seen.add(next_url)
        try:
            body, page_charset = fetch_page(next_url)
            more, more_warnings, next_url = parse_listing(body, source, next_url, page_charset, tz)
        except (FetchError, ParseError) as exc:
            # Page 1 was read: keep its items and say what went wrong further down.
            warnings.append(f"page {pages + 1}: {exc}")
            break
        items.extend(more)
        warnings.extend(more_warnings)
        pages += 1
    return items, warnings

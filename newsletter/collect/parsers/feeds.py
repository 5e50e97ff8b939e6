"""RSS and Atom feeds, parsed with feedparser from bytes we fetched ourselves."""

from __future__ import annotations

import datetime as dt
import io
import re
from urllib.parse import urljoin

import feedparser

from newsletter.collect.dates import MAX_YEAR, MIN_YEAR, ParsedDate, date_from_url, parse_date, to_local_date
from newsletter.collect.decode import decode_body
from newsletter.collect.sanitize import clean_line, html_to_text
from newsletter.errors import ParseError
from newsletter.models import RawItem, Source

_ENTITY_DECL = re.compile(r"<!ENTITY", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_HTML_START = re.compile(r"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html)", re.I | re.S)


_ROOT_START = re.compile(r"<[A-Za-z_]")


def reject_hostile_xml(text: str, what: str = "feed") -> None:
    """Refuse XML that declares entities: no real feed needs them, and they are how
    billion-laughs expansion and XXE (reading local files) work.

    Declarations can only stand in the prolog, before the root element, however
    long a comment in front of them is: that whole prolog is searched.
    """
    root = _ROOT_START.search(text)
    prolog = text[: root.start()] if root else text
    if _ENTITY_DECL.search(prolog):
        raise ParseError(
            f"the {what} declares XML entities (<!ENTITY>); refused as a possible entity-expansion or XXE attack"
        )


def looks_like_html(text: str, content_type: str = "") -> bool:
    """True when a body meant to be XML is an HTML page (an error page or a moved feed)."""
    return bool(_HTML_START.match(text)) or (
        content_type == "text/html" and "<rss" not in text[:2000] and "<feed" not in text[:2000]
    )


def prepare_xml(body: bytes, charset: str | None, content_type: str, what: str) -> tuple[str, list[str]]:
    """Decoded, checked XML text for a parser; raises ParseError for empty, HTML or hostile bodies."""
    if not body.strip():
        raise ParseError(f"empty response (HTTP 200 with no {what})")
    text, warning = decode_body(body, charset)
    reject_hostile_xml(text, what)
    if looks_like_html(text, content_type):
        raise ParseError(
            f"expected an XML {what} but got an HTML page (Content-Type {content_type or 'none'}); "
            "check the URL in feeds.yaml"
        )
    return text, [warning] if warning else []


# The warning for feed entries without a date. Collect reads such items' article pages for a date and
# then replaces it with what is still undated (`NO_DATE_WARNING` recognises it there).
NO_DATE_WARNING = re.compile(r"^\d+ of \d+ items have no date in the feed$")


def no_date_warning(undated: int, total: int) -> str:
    """'2 of 12 items have no date in the feed'."""
    return f"{undated} of {total} items have no date in the feed"


def parse_feed(
    body: bytes,
    source: Source,
    charset: str | None = None,
    content_type: str = "",
    tz: str = "Europe/Oslo",
    base_url: str | None = None,
) -> tuple[list[RawItem], list[str]]:
    """Items of an RSS 2.0, RSS 1.0 or Atom feed, and warnings for what was odd about it.

    Relative links are resolved against `base_url` (the feed's own address).
    """
    text, warnings = prepare_xml(body, charset, content_type, "feed")
    # We decoded it; hand feedparser UTF-8 that says so. A file-like object, because
    # feedparser treats a bare string as a URL or a file name when it looks like one.
    utf8 = _XML_DECL.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1).encode("utf-8")
    headers = {"content-type": "application/xml; charset=utf-8", "content-location": base_url or source.url}
    parsed = feedparser.parse(
        io.BytesIO(utf8), response_headers=headers, sanitize_html=True, resolve_relative_uris=True
    )
    if parsed.bozo and not parsed.entries:
        reason = _bozo_reason(parsed.bozo_exception)
        raise ParseError(f"not a readable RSS/Atom feed ({reason})")
    if not parsed.version and not parsed.entries:
        raise ParseError("not an RSS/Atom feed (no <rss>, <feed> or <rdf:RDF> root)")
    if parsed.bozo:
        warnings.append(f"feed is not well-formed ({_bozo_reason(parsed.bozo_exception)}); read what could be read")
    items, undated, linkless = [], 0, 0
    for entry in parsed.entries:
        link = _entry_link(entry, base_url or source.url)
        if not link:
            linkless += 1
            continue
        title = clean_line(html_to_text(entry.get("title", ""), limit=500)) or link
        summary_html = entry.get("summary") or ""
        if not summary_html and entry.get("content"):
            summary_html = entry.content[0].get("value", "")
        found = entry_date(entry, tz) or date_from_url(link)
        if not found:
            undated += 1
        items.append(
            RawItem(
                url=link,
                title=title,
                summary=html_to_text(summary_html),
                published=found.date if found else None,
                date_precision=found.precision if found else None,
                guid=entry.get("id"),
            )
        )
    if linkless:
        warnings.append(f"{linkless} {'entry' if linkless == 1 else 'entries'} without a link skipped")
    if undated:
        warnings.append(no_date_warning(undated, len(items)))
    if not items:
        warnings.append("the feed has no items")
    return items, warnings


def entry_date(entry, tz: str = "Europe/Oslo") -> ParsedDate | None:
    """The Oslo day of a feed entry: its published, else updated, else created date; None when it has none.

    Each is read from the feed's text by `parse_date`, and where that finds
    no date, from what feedparser parsed of it (its `*_parsed` fields, UTC),
    which knows more rare formats. Ours comes first because feedparser gets
    some common ones wrong for an Oslo day: it reads `2022-06-30 23:30:00 UTC`
    as midnight, an unknown zone (`CEST`) as UTC, and a time without a zone
    as UTC where the source means its own local time.
    """
    for field in ("published", "updated", "created"):
        found = parse_date(entry.get(field), tz=tz)
        if found:
            return found
        parsed = entry.get(f"{field}_parsed")
        if parsed:
            try:
                year, month, day, hour, minute, second = parsed[:6]
                moment = dt.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=dt.UTC)
            except (TypeError, ValueError):
                continue
            if MIN_YEAR <= moment.year <= MAX_YEAR:
                return ParsedDate(to_local_date(moment, tz))
    return None


def _entry_link(entry, base: str) -> str | None:
    link = (entry.get("link") or "").strip()
    if link and not link.lower().startswith(("javascript:", "data:", "mailto:")):
        return urljoin(base, link)
    guid = (entry.get("id") or "").strip()
    if guid.lower().startswith(("http://", "https://")):
        return guid
    return None


def _bozo_reason(exc: Exception | None) -> str:
    if exc is None:
        return "unknown problem"
    text = str(getattr(exc, "getMessage", lambda: exc)())
    return text.splitlines()[0][:160] if text else type(exc).__name__

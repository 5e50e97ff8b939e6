"""Stortinget's open data API (data.stortinget.no/eksport/…).

The exports are XML in the namespace `http://data.stortinget.no`, with nulls
written as `i:nil="true"`, `0001-01-01T00:00:00` for "no date", and no links:
a record's web page is built from its id.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XMLParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from newsletter.collect.dates import parse_date
from newsletter.collect.parsers.feeds import prepare_xml
from newsletter.collect.sanitize import clean_line, html_to_text
from newsletter.errors import ParseError
from newsletter.models import RawItem, Source

NS = "{http://data.stortinget.no}"
NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
WEB = "https://www.stortinget.no/no/Saker-og-publikasjoner"

# Per record type: how its page is addressed, and which dates say when it was last news.
RECORDS = {
    "sak": (WEB + "/Saker/Sak/?p={id}", ("sist_oppdatert_dato",)),
    "sporsmal": (
        WEB + "/Sporsmal/Skriftlige-sporsmal-og-svar/Skriftlig-sporsmal/?qid={id}",
        ("besvart_dato", "datert_dato", "sendt_dato"),
    ),
    # Publications have no page address in the export; `_publication_url` builds one.
    "publikasjon": (
        "https://data.stortinget.no/eksport/publikasjon?publikasjonid={id}",
        ("dato", "tilgjengelig_dato", "publisert_dato", "sist_oppdatert_dato"),
    ),
}
# Where stortinget.no keeps each publication type, by session: "dok6-202122" is at
# …/Publikasjoner/Dokumentserien/2021-2022/dok6-202122/.
PUBLICATION_FOLDERS = {
    "dokumentserie": "Dokumentserien",
    "innstilling": "Innstillinger/Stortinget",
    "referat": "Referater/Stortinget",
}


def _publication_url(record: Element, ident: str, fallback: str) -> str:
    """The web page of a publication, built from its type and the session in its id."""
    folder = PUBLICATION_FOLDERS.get((_text(record, "type") or "").lower())
    match = re.search(r"-(\d{4})(\d{2})(?:\b|-)", ident)
    if not folder or not match:
        return fallback
    start = int(match.group(1))
    end = start - start % 100 + int(match.group(2))
    if end != start + 1:
        return fallback
    return f"{WEB}/Publikasjoner/{folder}/{start}-{end}/{ident}/"


def _text(record: Element, name: str) -> str | None:
    node = record.find(NS + name)
    if node is None or node.get(NIL) == "true":
        return None
    value = (node.text or "").strip()
    return value or None


def _names(record: Element, path: str) -> list[str]:
    return [clean_line(n.text) for n in record.iterfind(path) if n.text and n.get(NIL) != "true"]


def parse_stortinget(
    body: bytes, source: Source, charset: str | None = None, content_type: str = "", tz: str = "Europe/Oslo"
) -> tuple[list[RawItem], list[str]]:
    """Items of a Stortinget export (saker, skriftligesporsmal, publikasjoner)."""
    text, warnings = prepare_xml(body, charset, content_type, "Stortinget export")
    try:
        root = SafeET.fromstring(text.encode("utf-8"))
    except DefusedXmlException as exc:
        raise ParseError(f"the Stortinget export uses forbidden XML constructs ({exc})") from None
    except XMLParseError as exc:
        raise ParseError(f"not well-formed XML ({exc})") from None
    if not root.tag.startswith(NS):
        raise ParseError(f"not a Stortinget export (root element {root.tag}, expected namespace {NS[1:-1]})")
    items, undated = [], 0
    for tag, (link_template, date_fields) in RECORDS.items():
        for record in root.iter(NS + tag):
            ident = _text(record, "id")
            title = _text(record, "tittel") or _text(record, "korttittel")
            if not ident or not title:
                continue
            found = None
            for name in date_fields:
                value = _text(record, name)
                if value and not value.startswith("0001-01-01"):
                    found = parse_date(value, tz=tz)
                    if found:
                        break
            if not found:
                undated += 1
            url = link_template.format(id=ident)
            if tag == "publikasjon":
                url = _publication_url(record, ident, url)
            items.append(
                RawItem(
                    url=url,
                    title=html_to_text(title, limit=500),
                    summary=_summary(record),
                    published=found.date if found else None,
                    date_precision=found.precision if found else None,
                    guid=f"stortinget:{tag}:{ident}",
                )
            )
    if not items:
        warnings.append("the export lists no cases, questions or publications")
    if undated:
        warnings.append(f"{undated} records have no date (0001-01-01 or nil)")
    return items, warnings


def _summary(record: Element) -> str:
    """A one-line description from the record's metadata: the export has no summaries."""
    parts = []
    for name in ("henvisning", "korttittel", "dokumentgruppe", "status"):
        value = _text(record, name)
        if value:
            parts.append(clean_line(value))
    committee = _names(record, f"{NS}komite/{NS}navn")
    topics = _names(record, f"{NS}emne_liste/{NS}emne/{NS}navn")
    asker = [
        " ".join(filter(None, (_text(p, "fornavn"), _text(p, "etternavn"))))
        for p in record.iterfind(f"{NS}sporsmal_fra")
    ]
    minister = _text(record, "sporsmal_til_minister_tittel")
    if asker and asker[0]:
        parts.append(f"Spørsmål fra {asker[0]}" + (f" til {minister}" if minister else ""))
    parts.extend(committee)
    if topics:
        parts.append("Emner: " + ", ".join(topics))
    return " · ".join(dict.fromkeys(parts))

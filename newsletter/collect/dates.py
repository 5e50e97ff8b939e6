"""Dates in every form the sources print them, and Norwegian quarters.

Month names come from Babel's CLDR data for each language, not from tables
written here, so "16 september 2025" (Swedish), "18. september 2025" (Danish,
Norwegian), "6 June 2023" and "08 Jun 2022" are read alike. A date-time with a
zone is converted to the newsletter's zone (Europe/Oslo) before its day is
taken: `Fri, 01 Jul 2022 00:15:00 +0200` is 1 July in Oslo, 30 June in UTC.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import re
from dataclasses import dataclass

from babel.dates import get_month_names

from newsletter import clock
from newsletter.models import DatePrecision

DEFAULT_TZ = "Europe/Oslo"
# Languages whose month names are always tried, whatever the source's language:
# an English-language Finnish site still prints "June", a Norwegian one "juni".
MONTH_LANGUAGES = ("en", "nb", "nn", "sv", "da", "fi", "de", "fr")
MIN_YEAR, MAX_YEAR = 1990, 2100


@dataclass(frozen=True)
class ParsedDate:
    """A calendar date and how much of it the source gave (day, month or year)."""

    date: dt.date
    precision: DatePrecision = "day"


@functools.cache
def month_table() -> dict[str, int]:
    """Lower-case month names and abbreviations (dot-less) in every known language → month number."""
    table: dict[str, int] = {}
    for language in MONTH_LANGUAGES:
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in get_month_names(width, context, locale=language).items():
                    key = name.lower().rstrip(".")
                    if len(key) >= 3:
                        table.setdefault(key, number)
    # Common English abbreviations CLDR spells differently ("Sept").
    table.setdefault("sept", 9)
    return table


@functools.cache
def _month_pattern() -> str:
    names = sorted(month_table(), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(n) for n in names) + ")"


def _valid(year: int, month: int, day: int) -> dt.date | None:
    """The day these numbers name, None when there is no such day or its year is out of range (a typo)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def to_local_date(moment: dt.datetime, tz: str = DEFAULT_TZ) -> dt.date:
    """The calendar day of a date-time in the newsletter's zone (naive means local already, as a source prints it)."""
    if moment.tzinfo is None:
        return moment.date()
    return clock.local_date(moment, tz)


def _iso(text: str, tz: str) -> ParsedDate | None:
    match = re.search(
        r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?", text
    )
    if not match:
        return None
    if match.group(4) is None:
        date = _valid(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        return ParsedDate(date) if date else None
    stamp = match.group(0).replace(" ", "T", 1)
    stamp = re.sub(r"\s+", "", stamp)
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    return ParsedDate(to_local_date(moment, tz))


def _rfc822(text: str, tz: str) -> ParsedDate | None:
    if not re.search(r"\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}", text):
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    return ParsedDate(to_local_date(moment, tz))


def _numeric(text: str) -> ParsedDate | None:
    # 18.09.2025, 1.7.2025, 22.06.22, 01/07/2025: day first, as everywhere in Europe.
    match = re.search(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})(?![\d.]\d)", text)
    if not match:
        return None
    date = _valid(_year(match.group(3)), int(match.group(2)), int(match.group(1)))
    return ParsedDate(date) if date else None


def _named(text: str) -> ParsedDate | None:
    months = _month_pattern()
    lowered = text.lower()
    # "18. september 2025", "16 september 2025", "8 June 2022", "08 Jun 2022", "1er juin"
    match = re.search(
        rf"(?<!\d)(\d{{1,2}})(?:\.|er|st|nd|rd|th)?\s*(?:de\s+|of\s+)?({months})\.?,?\s+(\d{{4}})(?!\d)", lowered
    )
    if match:
        date = _valid(int(match.group(3)), month_table()[match.group(2)], int(match.group(1)))
        return ParsedDate(date) if date else None
    # "June 6, 2023", "Jun 6 2023"
    match = re.search(rf"(?<![a-zäöå])({months})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", lowered)
    if match:
        date = _valid(int(match.group(3)), month_table()[match.group(1)], int(match.group(2)))
        return ParsedDate(date) if date else None
    # "June 2022", "juni 2022": the month only
    match = re.search(rf"(?<![a-zäöå])({months})\.?,?\s+(\d{{4}})(?!\d)", lowered)
    if match:
        date = _valid(int(match.group(2)), month_table()[match.group(1)], 1)
        return ParsedDate(date, "month") if date else None
    return None


def _year_only(text: str) -> ParsedDate | None:
    # "Published in 2022", "2022": only when the text is short, so a stray year in a sentence is not a date.
    if len(text.split()) > 4:
        return None
    match = re.search(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", text)
    if not match or re.search(r"\d", text[: match.start()] + text[match.end() :]):
        return None  # other digits: an impossible full date ("31.02.2022"), not a year
    date = _valid(int(match.group(1)), 1, 1)
    return ParsedDate(date, "year") if date else None


def parse_date(text: str | None, date_format: str | None = None, tz: str = DEFAULT_TZ) -> ParsedDate | None:
    """Read a date from text as sources print it; None when there is none.

    `date_format` (strptime, with the literal text around the date) is tried
    first; then ISO 8601, RFC 822, day-first numeric dates and dates with month
    names in any supported language, then a month or year alone.
    """
    if not text:
        return None
    text = re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()
    if not text:
        return None
    if date_format:
        try:
            moment = dt.datetime.strptime(text, re.sub(r"\s+", " ", date_format).strip())
            if MIN_YEAR <= moment.year <= MAX_YEAR:
                return ParsedDate(to_local_date(moment, tz))
        except ValueError:
            pass
    for reader in (_rfc822, _iso):
        found = reader(text, tz)
        if found:
            return found
    return _numeric(text) or _named(text) or _year_only(text)


def exact_date(text: str) -> dt.date:
    """A text that must be a date and nothing else: `YYYY-MM-DD` or `DD.MM.YYYY` (one-digit day or month too).

    For a field a person filled in for the record (a contact's consent date in
    a CSV import), where a wrong guess is worse than a question. `parse_date`
    does another job, finding a date anywhere in a source's text in any form a
    site prints it; here nothing may stand around the date, the year has four
    digits, and `/` is refused (from a spreadsheet, 01/07/2025 may well be 7
    January). The calendar check is the one `parse_date` makes: a real day, in
    1990–2100. ValueError (with the text) for anything else.
    """
    text = text.strip()
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
        year, month, day = map(int, match.groups())
    elif match := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text):
        day, month, year = map(int, match.groups())
    else:
        raise ValueError(text)
    date = _valid(year, month, day)
    if date is None:
        raise ValueError(text)
    return date


def date_from_url(url: str) -> ParsedDate | None:
    """A date written into a URL path: /2022/06/30/, …-2022-05-11_en, /2022/June/, /2022/06/."""
    path = url.split("?", 1)[0]
    match = re.search(r"(?<!\d)(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?!\d)", path)
    if match:
        date = _valid(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if date:
            return ParsedDate(date)
    match = re.search(rf"/(\d{{4}})/({_month_pattern()})/", path.lower())
    if match:
        date = _valid(int(match.group(1)), month_table()[match.group(2)], 1)
        if date:
            return ParsedDate(date, "month")
    match = re.search(r"/(\d{4})/(\d{1,2})/", path)
    if match:
        date = _valid(int(match.group(1)), int(match.group(2)), 1)
        if date:
            return ParsedDate(date, "month")
    return None

"""Dates in every form the sources print them, and Norwegian quarters.

Month names come from Babel's CLDR data for each language, not from tables
written here, so "16 september 2025" (Swedish), "18. september 2025" (Danish,
Norwegian), "6 June 2023" and "08 Jun 2022" are read alike. A date-time with a
zone is converted to the newsletter's zone (Europe/Oslo) before its day is
taken: `Fri, 01 Jul 2022 00:15:00 +0200` is 1 July in Oslo, 30 June in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from babel.dates import get_month_names
from feedparser.datetimes.rfc822 import timezone_names as rfc822_zones

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


# A time of day (12-hour with AM/PM too), and the zone that may follow it: a numeric offset, or a name
# (RFC 822 §5.1's UT, GMT, EST …, and ISO 8601's Z). `_zone_offset` reads the zone; a name it does not
# know (CET, "Oslo") leaves the time local, as a time without a zone is.
_TIME = (
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?"
    r"(?:\s*(?P<ampm>[AaPp])\.?[Mm]\.?(?!\w))?"
)
_ZONE = r"(?P<zone>[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5})"
# ISO 8601, and the year-first form with slashes some CMSs print ("2022/06/30 23:30:00 +0000").
_ISO = re.compile(
    r"\b(?P<year>\d{4})(?P<sep>[-/])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})(?!\d)"
    rf"(?:[T ]{_TIME}(?:\s*{_ZONE}(?![\w:]))?)?"
)
_MONTH = r"(?P<month>[^\W\d_]{3,})\.?"
# RFC 822 / RFC 5322 §3.3 as feeds write it, and its variants in the wild: the weekday optional, the
# month abbreviated or in full ("30 June 2022"), a two-digit year (valid RFC 822, allowed by RSS 2.0),
# RFC 850's dashes ("30-Jun-22"), seconds optional, the zone optional.
_RFC822 = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}})\.?[\s-]+{_MONTH},?[\s-]+(?P<year>\d{{4}}|\d{{2}}),?\s+{_TIME}"
    rf"(?:\s*{_ZONE})?(?![\w:])"
)
# The same parts in asctime(3) order, as Twitter-era APIs write it: "Thu Jun 02 07:46:24 +0000 2022".
_ASCTIME = re.compile(rf"{_MONTH}\s+(?P<day>\d{{1,2}}),?\s+{_TIME}\s+(?:{_ZONE}\s+)?(?P<year>\d{{4}})(?!\d)")
# And in the American order: "June 30, 2022 11:30 PM GMT", "Jun 30 2022 at 23:30 UTC".
_AMERICAN = re.compile(
    rf"{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}}),?\s+(?:at\s+)?{_TIME}"
    rf"(?:\s*{_ZONE})?(?![\w:])"
)


def _zone_offset(zone: str | None) -> dt.timezone | None:
    """The UTC offset a zone stands for; None when there is none or it is a name RFC 822 does not define.

    `-0000` is UTC: RFC 5322 §3.3 says the time is in UTC and only the
    sender's own zone is unknown (Python's email.utils reads it as "no
    zone", which made 23:30 -0000 on 30 June a 30 June in Oslo). Names are
    RFC 822's (UT, GMT, Z, EST … PDT and the military letters), from
    feedparser's table, and UTC. Any other name (CET, CEST) leaves the time
    local, which for the Central European zones is what it is.
    """
    if not zone:
        return None
    numeric = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", zone)
    if numeric:
        hours, minutes = int(numeric.group(2)), int(numeric.group(3) or 0)
        if hours > 23 or minutes > 59:
            return None
        sign = -1 if numeric.group(1) == "-" else 1
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    named = {**rfc822_zones, "utc": 0}.get(zone.lower())
    return dt.timezone(dt.timedelta(hours=named)) if named is not None else None


def _moment(match: re.Match[str], year: int, month: int, tz: str) -> ParsedDate | None:
    """The Oslo day of a matched date with a time (and perhaps a zone); None when it is no real moment."""
    day, hour, minute = int(match.group("day")), int(match.group("hour")), int(match.group("minute"))
    second = min(int(match.group("second") or 0), 59)  # a leap second is still that day
    if match.group("ampm"):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match.group("ampm").lower() == "p" else 0)
    if _valid(year, month, day) is None or hour > 23 or minute > 59:
        return None
    moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=_zone_offset(match.group("zone")))
    return ParsedDate(to_local_date(moment, tz))


def _iso(text: str, tz: str) -> ParsedDate | None:
    match = _ISO.search(text)
    if not match:
        return None
    year, month = int(match.group("year")), int(match.group("month"))
    if match.group("hour") is None:
        date = _valid(year, month, int(match.group("day")))
        return ParsedDate(date) if date else None
    return _moment(match, year, month, tz)


def _rfc822(text: str, tz: str) -> ParsedDate | None:
    for pattern in (_RFC822, _ASCTIME, _AMERICAN):
        for match in pattern.finditer(text):
            month = month_table().get(match.group("month").lower())
            if month is None:
                continue
            year = int(match.group("year"))
            if year < 100:  # RFC 5322 §4.3: 00–49 are 2000–2049, 50–99 are 1950–1999
                year += 2000 if year < 50 else 1900
            return _moment(match, year, month, tz)
    return None


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
    first; then RFC 822 (and asctime order), ISO 8601, day-first numeric dates
    and dates with month names in any supported language, then a month or
    year alone. A time with a zone (an offset, `-0000`, `Z`, or a name RFC
    822 defines, after an RFC 822 or an ISO 8601 time alike) is taken to
    Oslo's day; a time without one is local already.
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

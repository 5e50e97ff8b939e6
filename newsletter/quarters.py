"""Issue ids and the quarters they name: `2024-q2` is April–June 2024, "april–juni 2024" in Norwegian."""

from __future__ import annotations

import datetime as dt
import functools
import re

from babel.dates import format_date, get_month_names

ISSUE_ID = re.compile(r"^(\d{4})-q([1-4])\Z")


def quarter_bounds(issue_id: str) -> tuple[dt.date, dt.date]:
    """First and last day of the quarter an issue id (`YYYY-qN`) names."""
    match = ISSUE_ID.match(issue_id.strip().lower())
    if not match:
        raise ValueError(f"'{issue_id}' is not an issue id like 2024-q2")
    year, quarter = int(match.group(1)), int(match.group(2))
    if not 1 <= year <= 9998:  # a quarter of year 0 or 9999-q4 runs off the calendar Python has
        raise ValueError(f"'{issue_id}' names year {year}; an issue id's year is 0001 to 9998")
    first = dt.date(year, 3 * quarter - 2, 1)
    last_month = 3 * quarter
    last = dt.date(year + (last_month == 12), last_month % 12 + 1, 1) - dt.timedelta(days=1)
    return first, last


def issue_id_for(day: dt.date) -> str:
    """The id of the issue whose quarter holds `day`: 2024-05-17 → `2024-q2`."""
    return f"{day.year}-q{(day.month - 1) // 3 + 1}"


def period_for(issue_id: str) -> str:
    """The quarter an id names, in Norwegian: `2024-q2` → "april–juni 2024" (month names from Babel)."""
    first, last = quarter_bounds(issue_id)
    start = format_date(first, "LLLL", locale="nb")
    end = format_date(last, "LLLL", locale="nb")
    return f"{start}–{end} {first.year}"


@functools.cache
def _norwegian_months() -> frozenset[str]:
    names: set[str] = set()
    for locale in ("nb", "nn"):
        for context in ("format", "stand-alone"):
            names.update(n.lower() for n in get_month_names("wide", context, locale=locale).values())
    return frozenset(names)


def period_is_valid(text: str) -> bool:
    """True for a Norwegian period: "april–juni 2024", "april - juni 2024", "juni 2024"."""
    months = _norwegian_months()
    match = re.fullmatch(r"\s*([a-zæøå]+)(?:\s*[-–—]\s*([a-zæøå]+))?\s+(\d{4})\s*", text.lower())
    if match is None:
        return False
    return match.group(1) in months and (match.group(2) is None or match.group(2) in months)

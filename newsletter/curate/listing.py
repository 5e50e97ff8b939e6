"""Finding and listing items for the editor: text search (`items --grep`) and how an item's date reads."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Iterable, Iterator

from babel.dates import format_date

from newsletter.models import Item
from newsletter.store import Store


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """ "1 error", "2 errors"; "1 entry", "2 entries" (with `plural`): a count as English says it."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def folded(text: str) -> str:
    """Text as search compares it: case-folded, accents removed ("Genève" and "GENEVE" are alike).

    Letters that Unicode does not decompose (ø, æ) stay as they are: "ø" never matches "o".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def grep_items(store: Store, items: Iterable[Item], text: str) -> Iterator[Item]:
    """The items whose title, summary or cached article text contains `text`, case- and accent-insensitively.

    Streams: each item's article page is read from the store only when its title and summary do
    not match. An item whose article page was never fetched is searched by title and summary.
    """
    needle = folded(text.strip())
    for item in items:
        if needle in folded(f"{item.title}\n{item.summary}"):
            yield item
            continue
        page = store.get_page(item.url)
        if page is not None and needle in folded(page.text):
            yield item


def date_label(day: dt.date | None, precision: str | None) -> str:
    """An item's date as precise as its source gave it: "2025-09-03", "sep. 2025" (month), "2025" (year)."""
    if day is None:
        return "(no date)"
    if precision == "month":
        return format_date(day, "MMM y", locale="nb")
    if precision == "year":
        return str(day.year)
    return day.isoformat()


SOURCE_COLUMN = 18  # characters of a source key shown in `items`: the title must start early on 80 columns


def percent(probability: float) -> str:
    """A probability (0–1) as whole percent, rounded down ("3%" for 0.0355): one form for the list,
    `show`, triage and `draft`, and never above the truth, so no item under the draft's 50% reads 50%."""
    # The nudge only undoes binary fractions (0.29 * 100 is 28.999…); 0.4999995 still reads 49%.
    return f"{math.floor(probability * 100 + 1e-9)}%"


TWIN_MARK = "↳ "  # before the title of an item listed right after its twin (`Item.goes_with`)


def twin_lines(items: list[Item]) -> list[bool]:
    """For each item of a list, whether it is listed right after the one it is one story with
    (`Item.goes_with`): only where that one is the line above (a filter such as --source may have
    left it out, and then nothing says it is)."""
    above = [None, *(item.id for item in items[:-1])]
    return [bool(item.goes_with) and item.goes_with == before for item, before in zip(items, above, strict=True)]


def item_lines(items: list[Item], learned: bool) -> list[str]:
    """The lines of `items`: id, probability or score, date, kind, deadline, source, title.

    An item listed right after the one it is one story with (`Item.goes_with`), out of the order
    of probability, has its title marked `TWIN_MARK` (only when that one is the line above).

    Columns are as wide as what they hold in this list (a deadline column only when an item has
    a deadline; a source key cut to `SOURCE_COLUMN` characters), so on an 80-column terminal the
    title starts by column 70 (50–60 without a deadline) rather than beyond the edge.
    """
    rows = []
    for item, twin_line in zip(items, twin_lines(items), strict=True):
        weight = percent(item.probability or 0.0).rjust(4) if learned else f"{item.score:5.1f}"
        date = date_label(item.published, item.date_precision)
        deadline = f"due {item.deadline.isoformat()}" if item.deadline else ""
        source = item.source if len(item.source) <= SOURCE_COLUMN else item.source[: SOURCE_COLUMN - 1] + "…"
        marks = "" if item.status == "new" else f" [{item.status}]"
        # Listed out of the order of probability, right after the item it is one story with: say so,
        # or the list reads as mis-sorted.
        twin = TWIN_MARK if twin_line else ""
        rows.append((item.id, weight, date, item.kind, deadline, source, twin + item.title + marks))
    widths = [max((len(row[n]) for row in rows), default=0) for n in range(6)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:6], widths, strict=True) if width), row[6]])
        for row in rows
    ]

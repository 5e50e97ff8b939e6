"""Finding and listing items for the editor: text search (`items --grep`) and how an item's date reads."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Iterator

from babel.dates import format_date

from newsletter.models import Item
from newsletter.store import Store


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

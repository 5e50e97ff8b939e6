"""The candidate inbox: which collected items are worth the editor's time, best first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from newsletter.models import FeedsConfig, Item, Settings
from newsletter.store import Store


@dataclass(frozen=True)
class InboxQuery:
    """Filters of `newsletter items`."""

    since: dt.date | None = None
    until: dt.date | None = None
    sources: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("new", "picked")
    min_score: float | None = None
    include_all: bool = False  # also items of filtered sources below the threshold


def place(item: Item, feeds: FeedsConfig, settings: Settings) -> Item:
    """Fill in the item's suggested section and heading, and whether it is a candidate."""
    sources = [feeds.by_key(k) for k in (item.sources or (item.source,))]
    sources = [s for s in sources if s is not None]
    if sources:
        item.section, item.heading = sources[0].section, sources[0].heading
    specialised = any(not s.filtered for s in sources)
    item.candidate = specialised or item.score >= settings.relevance.threshold
    return item


def inbox(store: Store, feeds: FeedsConfig, settings: Settings, query: InboxQuery) -> list[Item]:
    """Candidates matching the query, ranked by score (then newest first).

    An item with no date is listed for the period in which it was first seen:
    it may be new, and the editor should see it rather than lose it.
    """
    out = []
    for item in store.iter_items(query.since, query.until, query.sources or None, query.statuses or None):
        if (
            item.published is None
            and item.first_seen
            and not (
                (query.since is None or item.first_seen.date() >= query.since)
                and (query.until is None or item.first_seen.date() <= query.until)
            )
        ):
            continue  # undated: listed for the period in which it was first seen
        place(item, feeds, settings)
        if not (item.candidate or query.include_all):
            continue
        if query.sections and item.section not in query.sections:
            continue
        if query.min_score is not None and item.score < query.min_score:
            continue
        out.append(item)
    out.sort(key=lambda i: (-i.score, -(i.published or dt.date.min).toordinal(), i.id))
    return out


def statuses_from(values: Iterable[str]) -> tuple[str, ...]:
    """Normalise `--status` values (`all` means every status)."""
    values = tuple(v.lower() for v in values)
    if not values:
        return ("new", "picked")
    if "all" in values:
        return ()
    return values

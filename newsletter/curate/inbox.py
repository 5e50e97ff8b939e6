"""The candidate inbox: which collected items are worth the editor's time, best first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from newsletter.errors import UsageError
from newsletter.models import FeedsConfig, Item, Settings
from newsletter.quarters import quarter_bounds
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


def inbox_query(
    issue_id: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    sources: Iterable[str] = (),
    sections: Iterable[str] = (),
    statuses: Iterable[str] = (),
    min_score: float | None = None,
    include_all: bool = False,
) -> InboxQuery:
    """The query `newsletter items` asks: an issue's quarter or a date range, and the status rule.

    Without `statuses`, the inbox shows new and picked items, but for an issue only the undecided ones
    (new: neither picked nor skipped). Raises UsageError when both an issue and dates are given.
    """
    if issue_id:
        if since or until:
            raise UsageError("give either --issue or --since/--until, not both")
        since, until = quarter_bounds(issue_id)
    statuses = tuple(statuses)
    return InboxQuery(
        since=since,
        until=until,
        sources=tuple(sources),
        sections=tuple(sections),
        statuses=statuses_from(statuses) if statuses or not issue_id else ("new",),
        min_score=min_score,
        include_all=include_all,
    )


def place(item: Item, feeds: FeedsConfig, settings: Settings) -> Item:
    """Fill in the item's suggested section and heading, and whether it is a candidate."""
    sources = [s for k in (item.sources or (item.source,)) if (s := feeds.by_key(k)) is not None]
    if sources:
        item.section, item.heading = sources[0].section, sources[0].heading
    specialised = any(not s.filtered for s in sources)
    item.candidate = specialised or item.score >= settings.relevance.threshold
    return item


def inbox(store: Store, feeds: FeedsConfig, settings: Settings, query: InboxQuery) -> list[Item]:
    """Candidates matching the query, ranked by score (then newest first).

    An item with no date is listed for the period in which it was first seen:
    it may be new, and the editor should see it rather than lose it. Raises
    UsageError when the query names a source feeds.yaml does not have.
    """
    unknown = [key for key in query.sources if feeds.by_key(key) is None]
    if unknown:
        raise UsageError(f"no source '{unknown[0]}' in {feeds.path}")
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

"""The candidate inbox: which collected items are worth the editor's time, best first.

Without an issue, candidates are ordered by collection's keyword score. For an
issue (`items --issue`, triage, draft), the quarter's undecided items are
ordered by the editor's ranking (`curate/ranking.py`): learned from past
issues and every pick and skip, and re-computed on every call, so each
decision counts at once. When the ranking has learned something, every
undecided item of the quarter is a candidate (the ranking, not the keyword
threshold, decides what comes first, and the estimate of likely picks below
tells the editor when to stop); with nothing to learn from, the keyword
threshold applies as before.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter import clock
from newsletter.curate.decisions import Decided
from newsletter.curate.ranking import PastEntry, Ranking, configured_place, quoted, rank_quarter
from newsletter.errors import UsageError
from newsletter.models import FeedsConfig, Item, Settings, heading_key
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
    issue: str | None = None  # the issue whose quarter `ranked_inbox` ranks


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
    (new: neither picked nor skipped). Raises UsageError when both an issue and dates are given, or
    `since` is after `until`.
    """
    if issue_id:
        if since or until:
            raise UsageError("give either --issue or --since/--until, not both")
        since, until = quarter_bounds(issue_id)
    elif since and until and since > until:
        # Otherwise an empty list that says "run `newsletter collect`", for dates typed the wrong way round.
        raise UsageError(f"--since {since.isoformat()} is after --until {until.isoformat()}: swap them")
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


def listed_name(section: str, heading: str, settings: Settings) -> str:
    """The heading that section `section` lists in newsletter.yaml (its `headings`) for the organisation
    `heading` names by another of its names (`organisations`: name and aliases), or `heading` itself:
    when it is listed as written, names no organisation, or the section lists none of its names.
    "GRETA" in a section listing "Europarådet og GRETA" gives the latter."""
    key = heading_key(heading)
    config = next((c for c in settings.section_configs if c.key == section), None)
    if config is None or any(heading_key(h) == key for h in config.headings):
        return heading
    for organisation in settings.archive.organisations:
        names = organisation.names()
        if key in names and (listed := [h for h in config.headings if heading_key(h) in names]):
            return listed[0]
    return heading


def place(item: Item, feeds: FeedsConfig, settings: Settings) -> Item:
    """Fill in the item's suggested section and heading, and whether it is a candidate."""
    sources = [s for k in (item.sources or (item.source,)) if (s := feeds.by_key(k)) is not None]
    if (configured := configured_place(item, feeds)) is not None:
        item.section, item.heading = configured
    specialised = any(not s.filtered for s in sources)
    item.candidate = specialised or item.score >= settings.relevance.threshold
    return item


def _in_period(item: Item, since: dt.date | None, until: dt.date | None, tz: str) -> bool:
    """An item with no date is listed for the period in which it was first seen: it may be new.

    The day it was first seen is the day in the newsletter's zone `tz`: an item first seen at 00:30
    in Oslo on 1 April belongs to the second quarter, though it was still 31 March in UTC.
    """
    if item.published is not None or not item.first_seen:
        return True
    seen = clock.local_date(item.first_seen, tz)
    return (since is None or seen >= since) and (until is None or seen <= until)


def quarter_items(store: Store, settings: Settings, issue_id: str) -> list[Item]:
    """Every item of issue `issue_id`'s quarter, any status: published in it, or undated and first seen in it."""
    since, until = quarter_bounds(issue_id)
    return [i for i in store.iter_items(since, until) if _in_period(i, since, until, settings.timezone)]


def _check_filters(feeds: FeedsConfig, settings: Settings, query: InboxQuery) -> None:
    """UsageError for a --source or --section the configuration does not have: a typo would list nothing."""
    unknown = [key for key in query.sources if feeds.by_key(key) is None]
    if unknown:
        raise UsageError(f"no source '{unknown[0]}' in {feeds.path}")
    if unknown := [key for key in query.sections if key not in settings.sections]:
        raise UsageError(f"no section '{unknown[0]}' in newsletter.yaml (sections: {', '.join(settings.sections)})")


def _wanted(item: Item, query: InboxQuery) -> bool:
    if not (item.candidate or query.include_all):
        return False
    if query.sections and item.section not in query.sections:
        return False
    return query.min_score is None or item.score >= query.min_score


def iter_inbox(store: Store, feeds: FeedsConfig, settings: Settings, query: InboxQuery) -> Iterator[Item]:
    """Candidates matching the query, streamed in the keyword order (score, then newest, then id).

    The store sorts and filters by date, source and status; the candidate rule (which depends on
    feeds.yaml) is applied here item by item, so taking the first 20 of a 100,000-item store reads
    little more than 20. Raises UsageError when the query names a source feeds.yaml does not have, or a
    section newsletter.yaml does not have.
    """
    _check_filters(feeds, settings, query)
    rows = store.iter_items(query.since, query.until, query.sources or None, query.statuses or None, order="keyword")
    for item in rows:
        if _in_period(item, query.since, query.until, settings.timezone) and _wanted(
            place(item, feeds, settings), query
        ):
            yield item


def inbox(store: Store, feeds: FeedsConfig, settings: Settings, query: InboxQuery) -> list[Item]:
    """Every candidate of `iter_inbox`, as a list; see `ranked_inbox` for an issue's ranking."""
    return list(iter_inbox(store, feeds, settings, query))


def ranked_inbox(
    store: Store,
    feeds: FeedsConfig,
    settings: Settings,
    issues_dir: Path,
    query: InboxQuery,
    in_issue: tuple[str, ...] = (),
    learn_from_later: bool = False,
    elsewhere: tuple[str, ...] = (),
    records: Mapping[str, Sequence[Decided]] | None = None,
    unconfirmed: tuple[str, ...] = (),
    filed_here: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[list[Item], Ranking]:
    """The undecided items of `query.issue`'s quarter ranked by the editor's ranking, and the ranking.

    Each item carries its `probability` and `why`; where the ranking found a close past entry citing
    the same site, in a configured section, the item's suggested section and heading are that
    entry's (the newsletter files by organisation); otherwise its source's. `issues_dir` holds
    the issue files learned from; `in_issue` are the item ids already in the issue (picks, whatever
    their status says), `elsewhere` those later issues cite (never candidates; see `rank_quarter`),
    `records` the issues' decisions records when the caller has read them already, `unconfirmed`
    items of the issue neither learned from nor listed (see `rank_quarter`).
    `filed_here` ({item id: (section key, heading)}) are where the issue files its items: where one is
    filed elsewhere than its source and past entries would put it (a heading renamed this quarter, an
    organisation moved), an item close to it of the same site is suggested the same place, ahead of
    any past entry's (`ranking.rank_items`).
    Raises ValueError when the query names no issue.
    """
    if not query.issue:
        raise ValueError("ranked_inbox needs query.issue")
    _check_filters(feeds, settings, query)
    quarter = quarter_items(store, settings, query.issue)
    ranking = rank_quarter(
        store,
        feeds,
        settings,
        issues_dir,
        query.issue,
        quarter,
        in_issue,
        learn_from_later,
        elsewhere,
        records,
        unconfirmed,
        filed_here,
    )
    out = []
    for ranked in ranking.ranked:
        item = place(ranked.item, feeds, settings)
        item.probability, item.why, item.goes_with = ranked.probability, tuple(ranked.why), ranked.beside
        filed = ranked.filed_like
        here = ranked.filed_here
        if here is not None and here.section in settings.sections and not another_years_heading(here.heading, item):
            item.section, item.heading = here.section, here.heading
            # Where the place comes from, so the editor can judge it (a past entry's shows as "like …").
            item.why = (*item.why, f"filed like {quoted(here.title, 100)} in this issue")
        elif (
            filed is not None
            and filed.section in settings.sections
            and not same_place(filed, item, settings)
            and not another_years_heading(filed.heading, item)
        ):
            item.section, item.heading = filed.section, filed.heading
        if ranking.learned:
            item.candidate = True
        if query.statuses and item.status not in query.statuses:
            continue
        if query.sources and not set(query.sources) & set(item.sources or (item.source,)):
            continue
        if _wanted(item, query):
            out.append(item)
    return out, ranking


def same_place(filed: PastEntry, item: Item, settings: Settings) -> bool:
    """Whether a past entry's place and the source's configured one are the same place by two names.

    Both in one section, under headings of one organisation (newsletter.yaml `organisations`:
    "Stortinget" and "Representantforslag", "GRETA" and "Europarådet og GRETA"). Then the
    configured heading stands: feeds.yaml is the editor's deliberate word on what to call a
    source's items, a past issue only the name used then.
    """
    if filed.section != item.section:
        return False
    if heading_key(filed.heading) == heading_key(item.heading):
        return True
    claims = [set(o.claims()) for o in settings.archive.organisations]
    return any({heading_key(filed.heading), heading_key(item.heading)} <= claim for claim in claims)


_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def another_years_heading(heading: str, item: Item) -> bool:
    """Whether `heading` (a past entry's, or a source's in feeds.yaml) names a year that `item`'s title
    and summary do not.

    Such a heading was made for one issue ("Tilstandsrapport 2023", "Statsbudsjettet 2024"): filed
    under it, next year's report would read as last year's, so a past entry's is not suggested (the
    source's configured place is, instead), and a configured one is pointed out when an item is filed
    under it (`edit.configured_heading_notes`). A heading without a year ("GRETA", "Høringer") names the
    organisation or the kind of document, and holds for any quarter.
    """
    years = set(heading_years(heading))
    return bool(years) and not years & set(_YEAR.findall(f"{item.title} {item.summary}"))


def heading_years(heading: str) -> list[str]:
    """The years (1900–2099) a heading names, in the order it names them ("Statsbudsjettet 2024": ["2024"])."""
    return _YEAR.findall(heading)


def statuses_from(values: Iterable[str]) -> tuple[str, ...]:
    """Normalise `--status` values (`all` means every status)."""
    values = tuple(v.lower() for v in values)
    if not values:
        return ("new", "picked")
    if "all" in values:
        return ()
    return values

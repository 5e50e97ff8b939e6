"""The editor's ranking: what this editor is likely to pick, learned from past issues and every decision.

Collection stores facts (text, source, kind, a keyword score); ranking is the
editor's judgement and changes with every pick and skip, so it is computed
here, at listing time, afresh each time (a few hundred milliseconds for a
quarter).

**What it learns from**

- Every entry of every earlier issue in `issues/` (hand-written ones too): its
  heading, title and text, and the host of each link it cites.
- The current quarter's decisions: items picked (in the issue, or marked
  picked) and items skipped; skips from other quarters too.
- Items collected in an earlier issue's quarter: picked when that issue cites
  them (names them in `items`, or, in an entry that names none, written by
  hand, links to them: `link_targets`), weak non-picks when it left them out.
  Where the store no longer holds them (a new machine, a colleague's clone, a
  store started afresh), the issue's decisions record does
  (`issues/<id>.decisions.jsonl`, written by `send` and `issue record`; see
  `decisions`): its picks as picks, its skips as non-picks, the rest as weak
  non-picks. On the 2022 fixture, the quarter's last month ranked after
  learning from a record of the two months before needs 21 and 40 reads for
  80% and 95% of its 16 picks, against 29 and 61 from the past entries alone
  (`bench/relevance.py`).

**How**

1. A *prior* per candidate, from the history alone: how closely its text
   resembles past entries (TF-IDF over character 3–5-grams within words, so
   "menneskehandelsarbeidet" shares most features with "menneskehandel", and a
   Swedish or Danish spelling with its Norwegian cousin; the mean cosine of the
   three nearest entries), how often past issues cited its host, collection's
   keyword score, and how much it uses the words past entries use more than
   items do (`Model._vocabulary`: a Robertson–Spärck Jones weight per word).
   Each is standardised over the quarter; the prior is their
   weighted sum. An earlier quarter's pick is compared, and its words weighed,
   without the entries that cite it (`Document.own_entries`), as a candidate
   has none. Past
   entries are Norwegian prose and candidates are titles and summaries in six
   languages, so a classifier trained on entries against items
   would learn the difference in style; similarity does not.
2. Once there are picks and non-picks among the items themselves (this
   quarter's decisions, or earlier quarters' items), a logistic regression
   (classes balanced by weight) learns over the character n-grams, Snowball-
   stemmed words (Norwegian, then English: readable terms for `why`), the
   source, the item kind, the prior's parts, and each item's cosine with its
   nearest pick (editors follow series: the next "GRETA publishes its third
   report on …"; `why` names that pick when close). The quarter's undecided items
   join as very weak non-picks (most of what is collected is not picked). Which
   sources and kinds the editor picks from changes between years, so another
   quarter's items weigh on them at half strength, and this quarter's decisions
   on columns of their own (`model.SOURCE_SHARED`).
3. The list follows the learned log-odds, with each source's items moved up
   while few of them are judged this quarter (`EXPLORE_LIFT`): the shown
   probabilities, the estimate and the draft's bar stay the model's own.
4. With no earlier issue and no decision, the order is the keyword score's
   (then newest first), exactly as before learning existed; likewise with a
   pick or two and no non-pick (`PICKS_ALONE`).

**Listed last**: an issue of this newsletter itself (an item whose title begins
with the newsletter's `name`, as the unit's own page lists them), with no chance:
the next issue never cites the previous one.

**Where an item goes**: the section and heading of the closest past entry that
cites the item's site (the newsletter files by organisation: "Fafo", "GRETA",
"Representantforslag"), when close; otherwise its source's place in feeds.yaml.
An entry about something similar from another organisation only shows in `why`.
A past heading naming a year the item does not ("Tilstandsrapport 2023") was made for one
issue and is not suggested (`inbox.another_years_heading`).

**Probabilities** are calibrated to the editor's habit. The quarter is expected
to hold as many picks as past issues cited collected items (the median per
issue), times the share of the quarter collected so far (`quarter_coverage`),
and never more than a quarter of its items (`MAX_PICK_SHARE`: a store of a few
items does not show each as a certain pick). Where earlier issues have a
decisions record, which says how many of its quarter's items each picked, the
median of those shares times the quarter's items collected so far instead
(on the 2022 record, 31 of 255: 12%).
The history-only prior (its log-odds times `ESTIMATE_PRIOR_SLOPE`), scaled
to that total, says how many of them lie among the items already decided; the editor's real picks there correct the
rest by the same ratio (`remaining_picks`), and the learned log-odds of the
undecided items are shifted so that their probabilities add up to it.
`Ranking.unread_estimate` sums them below a position: "about 3 likely picks in
the 180 items below".
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from newsletter import clock
from newsletter.curate.decisions import Decided, read_record, record_path
from newsletter.curate.issuefile import IssueDocument, IssueFileError, list_issue_ids
from newsletter.curate.listing import folded
from newsletter.errors import NotFound
from newsletter.fsutil import atomic_write
from newsletter.models import Entry, FeedsConfig, Item, Settings, Source, heading_key
from newsletter.quarters import quarter_bounds
from newsletter.render.markdown import links_of
from newsletter.store import Store

log = logging.getLogger(__name__)

# Weights of the training examples, by how sure their label is.
DECIDED_WEIGHT = 1.0  # picked or skipped by the editor
# Collected in an earlier issue's quarter, not in that issue. Left out is nearly a decision: the issue
# went out without the item. On the 2022 fixture (the last month ranked after a record of the two
# before), 0.3, 0.5 and 1.0 needed 44, 43 and 37 reads for 95% of the picks in the first ranking and
# 49, 49 and 48 in the editor's loop; 0.5 leaves the quarter's own decisions more say among several
# quarters of left-out items.
LEFT_OUT_WEIGHT = 0.5
UNDECIDED_WEIGHT = 0.05  # the current quarter, not yet decided
# A decisions record's line (`decisions`) by its decision: (label, weight).
RECORDED = {"picked": (1, DECIDED_WEIGHT), "skipped": (0, DECIDED_WEIGHT), "left out": (0, LEFT_OUT_WEIGHT)}
ARTICLE_CHARS = 3000  # of an article page's text: its opening says what it is about
DEFAULT_EXPECTED_PICKS = 30.0  # with no past issue to count from
# Picks that are enough to learn from with no past issue and no non-pick, the undecided items as the
# weak non-picks (an issue whose entries were written by hand, links pasted in). One or two are not:
# a first pick that happens to score low on the keywords would teach the model to rank the keyword
# score itself down, and the whole quarter with it.
PICKS_ALONE = 3
# The largest share of a quarter's items expected to be picks (on the 2022 fixture 31 of 255, 12%).
MAX_PICK_SHARE = 0.25
ESTIMATE_PSEUDO_PICKS = 3.0  # how firmly the estimate holds to the history before decisions correct it
# Log-odds per unit of the prior when it splits the expected picks between the decided and the
# undecided items. The steeper, the more of the expected picks lie among the top items read, and the
# more a top that holds fewer picks than that cuts the estimate below. At 2, tuned on the 2022 fixture
# (after 80 reads 7 picks said unread where 3 were; at 1, 13), the estimate fell far short on a quarter
# of another year, where the history foretold the picks less well (bench/quarters/2024-q2, with the
# 2022 record: after 50 reads 12 said where 31 were, after 80 6 where 22 were; at 1, 19 and 12). An
# estimate too low tells the editor to stop with picks unread; one too high costs some reading. The
# probabilities shown keep the plain prior, or ranks near the top would all read 100%.
ESTIMATE_PRIOR_SLOPE = 1.0
# Added to the log-odds an undecided item is listed by (not to its probability), over the square root of
# one plus the items of its source decided this quarter (`exploration_lifts`): an upper confidence bound
# on what the ranking knows of the editor's habit with each source, read off this quarter's decisions.
# A source none of whose items the editor has judged yet is where the ranking knows least: what the
# history and an earlier record say of it may have changed (the 2024 editor began citing consultations,
# which the 2022 issue never had; the first was reached after 129 reads, the next three within 20).
# Raising every item of such a source by 2 in log-odds puts its best within reach of the first screens
# and finds such a habit while it is cheap to; as its items are read the lift shrinks (1 after three, 0.67
# after eight), and the items' own probabilities weigh more. With the editor's loop reading 5, 10 or 20 items
# at a time, reads for 80% / 95% of the picks: the 2022 fixture without a record 53/75, 55/72, 57/81 →
# 43/74, 45/74, 48/77; bench/quarters/2024-q2 with the 2022 record 133/200, 134/195, 139/201 → 129/187,
# 120/187, 134/190, and without it 132/206, 132/211, 136/214 → 130/196, 123/191, 125/201. At 1.5 and 3
# the gains were smaller. It costs where the record is of the same quarter, the splits of the 2022
# fixture (months 41/77 → 45/77, halves 182/330 → 188/344), whose sources the record already knows
# as this quarter's: the lift counts only this quarter's decisions, since a record of another year
# tells less of this one's habits.
EXPLORE_LIFT = 2.0
# Said above the estimate under a list whose order the lift changed (`moved_up_positions` of the lines
# shown); `why` says it of each item so moved (`moved_up_reason`).
MOVED_UP_NOTE = (
    "some items are listed above likelier ones: few items from their source are picked or skipped this "
    "quarter; `newsletter show ITEM` says so for each"
)
# What is learned from outside the quarter is capped, so ranking takes the same time in a store of
# 100,000 items as in one of 2,000: the newest skips, and the quarters of the newest past issues.
OTHER_SKIPS_LIMIT = 2000
PAST_ENTRIES_CACHE = "past-entries.json"  # beside the store: the entries of the issue files (`past_entries`)
RANKING_CACHE = "ranking-features.npz"  # beside the store: the model's text features (`model.Features`)
# Beside the store: the last rankings made (`RankingResults`), so a command that ranks what the last one
# ranked (`issue add` after `items --issue`, `show`, a second listing) skips loading scikit-learn.
RESULTS_CACHE = "ranking-results.json"
RESULTS_KEPT = 4  # rankings kept in it: the quarter's, and a few others `show` may ask about
RESULTS_FORMAT = 2
PAST_QUARTERS_LIMIT = 4
PAST_QUARTER_ITEMS_LIMIT = 1500
# Link targets, a part's language (`[words]{lang=en}`: markdown.language_parts), bare addresses, marks.
_MARKUP = re.compile(r"\]\([^)]*\)|\]\{[^}\n]*\}|https?://\S+|[*_`#>\[\]]+")


@dataclass(frozen=True)
class Document:
    """What the model reads of one item: title, summary and article text; source, kind, keyword score."""

    text: str
    source: str = ""
    kind: str = ""
    keyword_score: float = 0.0
    host: str = ""
    # Indices into the history of the past entries citing the item (an earlier quarter's pick): they
    # were written about it, so its prior leaves them out (`model.Model`), as a candidate's has none.
    own_entries: tuple[int, ...] = ()


@dataclass(frozen=True)
class PastEntry:
    """One entry of an earlier issue, as the ranking sees it."""

    issue: str
    section: str
    heading: str
    title: str
    text: str  # heading, title and text as plain words
    hosts: tuple[str, ...]  # of the links it cites
    items: tuple[str, ...] = ()  # the collected items it names (`items:` in the file), if any
    links: tuple[str, ...] = ()  # every link in its text; in an entry naming no item, they cite the items
    # "consultation" for an entry with a deadline (høringsfrist), "event" for one with an event date,
    # "" otherwise: the kind of item whose place it is (`Model.filed_like`).
    kind: str = ""


class FiledPlace(NamedTuple):
    """Where the issue being written files one of its items, as the ranking learns places from it."""

    section: str
    heading: str
    kept: bool  # whether the editor keeps the heading from issue to issue (`kept_headings`)
    configured: tuple[str, str] | None = None  # its source's (section key, heading) in feeds.yaml
    item: str = ""  # its id
    title: str = ""  # its title, for `why`


@dataclass
class Ranked:
    """An item with its probability of being picked (0–1), the reasons, and where it would go."""

    item: Item
    probability: float
    why: list[str] = field(default_factory=list)
    like: PastEntry | None = None  # the past entry it most resembles, when close
    filed_like: PastEntry | None = None  # the closest past entry from the same site: where to file it
    beside: str | None = None  # the id of the item it is listed right after, as its twin (one story)
    # The closest item of the same site filed in the issue being written (`Model.filed_with`), and
    # where: its place is this item's, ahead of `filed_like`.
    filed_here: FiledPlace | None = None


@dataclass
class Ranking:
    """The quarter's undecided items in the order to read them (`rank_items`), and what the model knew."""

    ranked: list[Ranked]
    learned: bool  # False: the keyword order (nothing to learn from)
    history: int = 0  # past entries
    picks: int = 0  # item-level picks learned from
    non_picks: int = 0  # item-level non-picks (skips and left-out items)
    seconds: float = 0.0  # to train and rank
    expected_picks: float = 0.0  # still to come in this quarter
    unconfirmed: int = 0  # items of the issue's entries drafts added, untouched: not learned from (`rank_quarter`)

    def unread_estimate(self, start: int) -> float:
        """Likely picks among the items from 0-based position `start` on: the sum of their probabilities."""
        return float(sum(r.probability for r in self.ranked[start:]))


def keyword_reasons(terms: Sequence[str], limit: int, against: bool = True) -> list[str]:
    """The keyword score's term labels (`collect.relevance.score_text`, strongest first) as reasons: up to
    `limit` of those that raised it, then, when `against`, one naming those that lowered it ("counts
    against: narkotika"), whose labels begin with "-": listed bare among the reasons for a pick, "-våpen"
    read as one of them."""
    raised = [term for term in terms if not term.startswith("-")][:limit]
    lowered = [term[1:] for term in terms if term.startswith("-")]
    return raised + ([f"counts against: {', '.join(lowered)}"] if against and lowered else [])


def quoted(title: str, limit: int | None = None) -> str:
    """A title in «», once: a title the editor wrote in «» already («Decoding …») is not quoted again.
    With `limit`, a longer title is cut to that many characters, the last an ellipsis."""
    if limit is not None and len(title) > limit:
        title = title[: limit - 1].rstrip() + "…"
    return title if title.startswith("«") and title.endswith("»") else f"«{title}»"


def host_of(url: str) -> str:
    """The host of a URL, lower-case and without `www.` ("" for a malformed URL)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def link_targets(store: Store, links: Iterable[str], elsewhere: Mapping[str, str] | None = None) -> dict[str, str]:
    """{link: id of the collected item it points to}, for those of `links` that point to one.

    How an entry written by hand (the item's address pasted in, or an issue written before the
    tool collected anything) cites an item, as surely as one added with `issue add`. Matched by
    the de-duplication key collection gives every item (`collect.urls.dedup_key`: no scheme,
    `www.` or trailing slash), so http/https and www/no-www spellings of one page match. A link
    with a fragment points first to the item collected with that fragment (one of several entries
    of a feed sharing a page), else to the page's own item. Only http(s) links count, as `issue
    check` allows no other: a relative link or a mailto: points to nothing. One query in all.
    `elsewhere` ({de-duplication key: item id}) are items known outside the store (the lines of a
    decisions record), looked up where the store has none of a link's keys.
    """
    from newsletter.collect.urls import dedup_key

    wanted: dict[str, list[str]] = {}
    for link in links:
        try:
            parts = urlsplit(link)
            if parts.scheme.lower() not in ("http", "https"):
                continue
            key = dedup_key(link)
        except ValueError:
            continue  # not a URL at all ("http://[::1"): the issue check names it
        # The fragment as the feed gave it ("#høring") or as Markdown escapes it ("#h%C3%B8ring").
        fragments = dict.fromkeys([unquote(parts.fragment), parts.fragment]) if parts.fragment else {}
        wanted[link] = [*(f"{key}#{fragment}" for fragment in fragments), key]
    found = store.ids_by_key(key for keys in wanted.values() for key in keys)
    if elsewhere:
        found = {**{key: elsewhere[key] for keys in wanted.values() for key in keys if key in elsewhere}, **found}
    targets = {
        link: next(found[key] for key in keys if key in found)
        for link, keys in wanted.items()
        if any(key in found for key in keys)
    }
    unresolved = {link: keys[-1] for link, keys in wanted.items() if link not in targets}
    return targets | (_other_addresses(store, unresolved, elsewhere or {}) if unresolved else {})


# A path segment this long with this many hyphens is an article's own slug ("greta-issues-guidance-note-
# on-…"), which a CMS serves under several paths; "index.html" or "nyheter" name no one document.
SLUG_CHARS, SLUG_HYPHENS = 24, 3
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def _other_addresses(store: Store, unresolved: Mapping[str, str], elsewhere: Mapping[str, str]) -> dict[str, str]:
    """{link: the one item at another address of its document}, for the links (with their de-duplication
    keys, `unresolved`) no item has the address of.

    Editors paste the address they read a document at, which is often not the one a feed gave:
    the same Storting case with a display parameter more (`Sak?p=87609&target=case-status` for
    `Sak?p=87609`), or a Liferay article under its short path (`/-/greta-issues-guidance-note-…`
    for `/news/-/asset_publisher/…/content/greta-issues-guidance-note-…`). Two rules, on the same
    host only, and only where exactly one item answers:

    - the item's address is the link's path with some of its query parameters (at least one);
    - the item's last path segment is the link's, it is an article's own slug (`SLUG_CHARS` long
      with `SLUG_HYPHENS` hyphens), and where both paths name years they name the same ones (a
      yearly report's slug under `/2025/` is not the one under `/2026/`).

    `elsewhere` ({key: id}) are items known outside the store, looked up the same way. Each path
    and host is read once per call, and its items indexed, so the cost is that of reading the
    hosts' items once, however many links there are.
    """
    by_path: dict[str, list[tuple[str, dict[str, list[str]]]]] = {}
    by_host: dict[str, list[tuple[str, str, frozenset]]] = {}
    for link, key in unresolved.items():
        base, _, query = key.partition("?")
        host, _, path = base.partition("/")
        slug = path.rstrip("/").rsplit("/", 1)[-1]
        if query:
            by_path.setdefault(base, []).append((link, parse_qs(query, keep_blank_values=True)))
        if len(slug) >= SLUG_CHARS and slug.count("-") >= SLUG_HYPHENS:
            by_host.setdefault(host, []).append((link, slug, frozenset(_YEAR.findall(base))))

    def under(prefix: str) -> dict[str, str]:
        return store.ids_under(prefix) | {k: v for k, v in elsewhere.items() if k.startswith(prefix)}

    found: dict[str, str] = {}
    for base, links in by_path.items():
        params_of: dict[str, dict[str, list[str]]] = {}
        having: dict[tuple[str, str], set[str]] = {}  # a parameter's name and value -> the items having it
        for other, item_id in under(base + "?").items():
            params = parse_qs(other.partition("?")[2], keep_blank_values=True)
            params_of[item_id] = params
            for name, values in params.items():
                for value in values:
                    having.setdefault((name, value), set()).add(item_id)
        for link, params in links:
            near = set().union(
                *(having.get((name, value), set()) for name, values in params.items() for value in values)
            )
            # Each of the item's parameters with the same values in the link (`p=1&p=2` is not `p=1`).
            matches = {
                item_id
                for item_id in near
                if params_of[item_id] and all(params.get(name) == values for name, values in params_of[item_id].items())
            }
            if len(matches) == 1:
                found[link] = matches.pop()
    for host, slug_links in by_host.items():
        slugs = {slug for _, slug, _ in slug_links}
        ending: dict[str, list[tuple[str, frozenset]]] = {}  # a slug -> the items whose path ends in it
        for other, item_id in under(host + "/").items():
            other_base = other.partition("?")[0]
            if (last := other_base.rstrip("/").rsplit("/", 1)[-1]) in slugs:
                ending.setdefault(last, []).append((item_id, frozenset(_YEAR.findall(other_base))))
        for link, slug, years in slug_links:
            if link not in found:
                matches = {i for i, its in ending.get(slug, []) if not (years and its) or years == its}
                if len(matches) == 1:
                    found[link] = matches.pop()
    return found


def entries_citing(history: Sequence[PastEntry], targets: Mapping[str, str]) -> dict[str, list[int]]:
    """{item id: the indices into `history` of the entries citing it}: the items an entry names, or,
    for one naming none (written by hand), those its links point to (`targets`: link -> item id, as
    `link_targets` gives them). An entry `issue add` made links to its own item, which may share the
    address of another (a feed's entries sharing one page): its links cite nothing more."""
    citing: dict[str, list[int]] = {}
    for n, entry in enumerate(history):
        for item_id in entry.items or dict.fromkeys(targets[link] for link in entry.links if link in targets):
            citing.setdefault(item_id, []).append(n)
    return citing


def linked_items(store: Store, links: Iterable[str], elsewhere: Mapping[str, str] | None = None) -> list[str]:
    """The ids of the items that `links` point to (`link_targets`, `elsewhere` as there), in the links'
    order, each once."""
    links = list(links)
    targets = link_targets(store, links, elsewhere)
    return list(dict.fromkeys(targets[link] for link in links if link in targets))


def plain(markdown: str) -> str:
    """An entry's Markdown as words: link targets and emphasis marks dropped."""
    return _MARKUP.sub(" ", markdown or "")


def item_document(item: Item, article: str = "", own_entries: tuple[int, ...] = ()) -> Document:
    """The document of a collected item: title, summary and the opening of its article page; `own_entries`
    the past entries citing it (see `Document.own_entries`)."""
    text = "\n".join(part for part in (item.title, item.summary, (article or "")[:ARTICLE_CHARS]) if part)
    return Document(text, item.source, item.kind, item.score, host_of(item.url), own_entries)


def rank_items(
    candidates: Sequence[Item],
    documents: Sequence[Document],
    history: Sequence[PastEntry] = (),
    labelled: Sequence[tuple[Document, int, float]] = (),
    expected_picks: float = DEFAULT_EXPECTED_PICKS,
    cache: Path | None = None,
    decided_here: int = 0,
    places: Collection[int] | None = None,
    results: RankingResults | None = None,
    unlisted: int = 0,
    filed_here: Mapping[int, FiledPlace] | None = None,
) -> Ranking:
    """Order the undecided `candidates` (with their `documents`, same order) by the probability of a pick,
    each source's items moved up while few of them are judged this quarter (`exploration_lifts`).

    `labelled` are (document, label 1/0, weight) of decided items, of this quarter or others; the
    first `decided_here` of them are this quarter's decisions, the rest other quarters' (whose source and
    kind habits weigh at `model.SOURCE_SHARED`). `expected_picks` is how many picks
    the whole quarter is expected to hold (decided ones included); see `remaining_picks` for how
    the decisions so far correct it. `cache` is a file for the text features (`model.Features`),
    kept between rankings. `places` are the indexes of the `history` entries whose place (section
    and heading) may be suggested for an item (`durable_places`); None: every entry's.
    Without history, without both a pick and a non-pick among the labels, and with fewer than
    `PICKS_ALONE` picks, the keyword order
    (score, then newest, then id) with the keyword score squashed into [0, 1] as the probability;
    `learned` is then False. `results` keeps the rankings made, by a digest of all of the above:
    asked again for one of them, it is taken from there, without loading the model. The last
    `unlisted` candidates are ranked, sharing the picks expected, but left out of the ranking's list
    and of its twins (a draft's untouched entries: `rank_quarter`). `filed_here` maps an item of this
    quarter that the issue holds, by its index among the documents (`documents`, then those of
    `labelled`), to its place there; where that is neither its source's configured place nor its
    closest past entry's (`Model.filed_like`): the editor's own word this quarter, a heading renamed
    or an organisation moved, a listed candidate close to it of the same site is suggested that place
    (`Ranked.filed_here`, `Model.filed_with`). A place the defaults gave is no news: each candidate
    has its own defaults, closer to it (KOM's court-decision list and its annual report are both on
    politiet.no, under two headings). Not in the keyword order (nothing learned), which suggests no
    place.
    """
    started = time.perf_counter()
    listed = len(candidates) - unlisted
    picks = sum(1 for _, label, _ in labelled if label == 1)
    non_picks = len(labelled) - picks
    if not candidates:
        return Ranking([], False, len(history), picks, non_picks)
    if not history and not (non_picks and picks) and picks < PICKS_ALONE:
        # Nothing to learn from: no past issue, no pick with a non-pick beside it, and too few picks
        # to learn against the undecided items alone (see PICKS_ALONE).
        ranked = [
            Ranked(item, _squash(item.score), keyword_reasons(item.terms, 4))
            for item in sorted(candidates[:listed], key=keyword_order)
        ]
        return Ranking(ranked, False, 0, 0, 0, time.perf_counter() - started)
    key = ""
    if results is not None:
        key = ranking_key(
            candidates, documents, history, labelled, expected_picks, decided_here, places, unlisted, filed_here
        )
        kept = results.get(key, candidates, history, filed_here, unlisted)
        if kept is not None:
            kept.seconds = time.perf_counter() - started
            return kept
    from newsletter.curate.model import Model, calibration_shift, sigmoid  # heavy: only when learning

    model = Model([*documents, *(doc for doc, _, _ in labelled)], history, cache, quarter=len(documents) + decided_here)
    labels = {len(documents) + n: (label, weight) for n, (_, label, weight) in enumerate(labelled)}
    labels.update(dict.fromkeys(range(len(documents)), (0, UNDECIDED_WEIGHT)))
    here = slice(0, model.quarter)  # the quarter: undecided, then decided
    picked_here = sum(label for _, label, _ in labelled[:decided_here])
    split = ESTIMATE_PRIOR_SLOPE * model.prior[here]
    # The quarter holds at most MAX_PICK_SHARE of its items as picks: what is split between the read and
    # the unread is that, or a first ranking capped to it would expect fewer below its top than a
    # ranking after skipping the top would (the split of an uncapped total, scaled down).
    quarter_picks = min(expected_picks, MAX_PICK_SHARE * (len(documents) + decided_here))
    prior = sigmoid(split + calibration_shift(split, quarter_picks))
    remaining = remaining_picks(
        prior[: len(documents)].sum(), prior[len(documents) :].sum(), picked_here, len(documents), decided_here
    )
    scores = model.scores(labels)[: len(documents)]
    probabilities = sigmoid(scores + calibration_shift(scores, remaining))
    decided_sources = Counter(doc.source for doc, _, _ in labelled[:decided_here])
    lifts = exploration_lifts(documents, decided_sources)
    ranked = []
    filed_here = filed_here or {}
    departed = {n: filed.kept for n, filed in filed_here.items() if _departs(filed, model.filed_like(n, places))}
    filed_with = model.filed_with(listed, departed) if departed else {}
    by_score = sorted(range(listed), key=lambda i: (-(scores[i] + lifts[i]), candidates[i].id))
    order = beside_twins(by_score, model.twins(listed))
    moved = moved_up_positions([probabilities[i] for i, _ in order], [partner is not None for _, partner in order])
    for position, (i, partner) in enumerate(order):
        like = model.like(i)
        why = model.terms(i) or keyword_reasons(candidates[i].terms, 3, against=False)
        # Before any decision the prior speaks: the words past entries keep using are a reason, and its
        # site's place in past issues; so they are while it stands beside the classifier, for an item it
        # raises (above the quarter's mean), which may rank high with none of its words learned yet.
        history_speaks = model.classifier is None or (model.prior_alongside and model.prior[i] > 0)
        if history_speaks and (words := model.vocabulary_terms(i)):
            why.append(f"words past entries use ({', '.join(words)})")
        if history_speaks and model.site_entries[i]:
            cited = model.site_entries[i]
            why.append(f"its site cited in {cited} past entr{'y' if cited == 1 else 'ies'}")
        if (pick := model.close_pick(i)) is not None:
            # A document's text opens with its title (or, for a record's line without one, its summary).
            title = model.documents[pick].text.split("\n", 1)[0]
            why.append(f"close to a pick: {quoted(title, 100)}")
        if not why and model.source_weighs(i):
            why = [f"picks from its source ({candidates[i].source})"]
        if not why:
            why = ["none of its words weighs toward a pick"]
        if position in moved:
            why.append(moved_up_reason(documents[i].source, decided_sources[documents[i].source]))
        if like is not None:
            why.append(f"like {quoted(like.title or like.heading)} ({like.issue})")
        beside = candidates[partner].id if partner is not None else None
        if partner is not None:
            why.append(f"goes with {candidates[partner].id} «{candidates[partner].title}»")
        nearest = filed_with.get(i)
        place = filed_here[nearest] if nearest is not None else None
        ranked.append(
            Ranked(candidates[i], float(probabilities[i]), why, like, model.filed_like(i, places), beside, place)
        )
    ranking = Ranking(ranked, True, len(history), picks, non_picks, time.perf_counter() - started, remaining)
    if results is not None:
        results.put(key, ranking, candidates, history, filed_here)
    return ranking


def exploration_lifts(documents: Sequence[Document], decided: Mapping[str, int]) -> list[float]:
    """What each document's listing log-odds gain so that sources the editor has judged little of this
    quarter are read early: `EXPLORE_LIFT` over the square root of one plus `decided[source]` (this
    quarter's decided items by source key). All 0.0 before the quarter's first decision (`decided`
    empty), when every source would gain alike. An item collected through two sources counts as its own
    (`Document.source`, the first). An upper-confidence-bound rule, as in bandit sampling (Auer,
    Cesa-Bianchi and Fischer, "Finite-time analysis of the multiarmed bandit problem", 2002): the
    fewer decisions, the more the source's habit this quarter may differ from what was learned."""
    if not decided:
        return [0.0] * len(documents)
    return [EXPLORE_LIFT / math.sqrt(1 + decided.get(doc.source, 0)) for doc in documents]


def moved_up_positions(probabilities: Sequence[float], twins: Sequence[bool]) -> set[int]:
    """The 0-based positions in a list (its items' probabilities, in list order) of the items listed
    above a likelier one: moved up by `EXPLORE_LIFT`. A twin (`twins[n]` true: listed right after its
    partner, `beside_twins`) is placed by its partner, so it is neither marked nor compared with."""
    moved = set()
    best_below = -1.0
    for position in range(len(probabilities) - 1, -1, -1):
        if twins[position]:
            continue
        if probabilities[position] < best_below:
            moved.add(position)
        best_below = max(best_below, probabilities[position])
    return moved


def moved_up_reason(source: str, judged: int) -> str:
    """`why`'s words for an item moved up by `EXPLORE_LIFT`: its source key and how many of that source's
    items the editor has picked or skipped this quarter (a draft's untouched entries are neither)."""
    reason = "listed higher, so the ranking learns what you choose from it"
    if not judged:
        return f"no item from {source} picked or skipped this quarter yet: {reason}"
    items = "1 item" if judged == 1 else f"{judged} items"
    return f"only {items} from {source} picked or skipped this quarter: {reason}"


def _departs(filed: FiledPlace, past: PastEntry | None) -> bool:
    """Whether an item's place in the issue is the editor's own: neither its source's configured place
    nor that of the closest past entry citing its site (`past`), headings compared as `heading_key`."""
    here = (filed.section, heading_key(filed.heading))
    defaults = [filed.configured, (past.section, past.heading) if past is not None else None]
    return all(here != (place[0], heading_key(place[1])) for place in defaults if place is not None)


def ranking_key(
    candidates: Sequence[Item],
    documents: Sequence[Document],
    history: Sequence[PastEntry],
    labelled: Sequence[tuple[Document, int, float]],
    expected_picks: float,
    decided_here: int,
    places: Collection[int] | None,
    unlisted: int = 0,
    filed_here: Mapping[int, FiledPlace] | None = None,
) -> str:
    """A digest (hex) of everything `rank_items` reads, the code that ranks and its settings.

    The documents, entries and labels are frozen dataclasses and numbers, whose `repr` is all they
    hold; of the candidates, what the ranking shows of them (id, title, keyword terms). The source
    of this module and of `model` stands for the code, and this module's constants (the weights)
    for the settings, so an upgrade or a changed weight never returns a ranking made before it.
    """
    hasher = hashlib.blake2b(digest_size=20)

    def add(value: object) -> None:
        hasher.update(repr(value).encode("utf-8", "surrogatepass"))
        hasher.update(b"\0")

    hasher.update(_code_digest())
    add(sorted((k, v) for k, v in globals().items() if k.isupper() and isinstance(v, (int, float, str))))
    add([(c.id, c.title, c.terms) for c in candidates])
    for document in documents:
        add(document)
    for entry in history:
        add(entry)
    for labelled_document in labelled:
        add(labelled_document)
    add((expected_picks, decided_here, None if places is None else sorted(places), unlisted))
    add(sorted((filed_here or {}).items()))
    return hasher.hexdigest()


@functools.cache
def _code_digest() -> bytes:
    """A digest of the ranking's code (this module and `model`) and of the installed versions of the
    libraries its results depend on (read from their metadata, without importing them): an upgrade
    of either ranks afresh. Once per process: neither changes while it runs (triage ranks again and
    again)."""
    hasher = hashlib.blake2b(digest_size=20)
    here = Path(__file__)
    for source in (here, here.with_name("model.py")):
        hasher.update(source.read_bytes())
    hasher.update(repr(_library_versions()).encode())
    return hasher.digest()


def _library_versions() -> list[str]:
    """The installed versions of the libraries the model's results depend on, as "name version"."""
    versions = []
    for name in ("scikit-learn", "numpy", "scipy", "snowballstemmer", "PyStemmer"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    return versions


class RankingResults:
    """The last `RESULTS_KEPT` rankings made, by `ranking_key`, in a JSON file beside the store.

    Only a cache: the editor never sees it, and anyone who can write `var/` can change it, so
    each ranking read back is checked in full (every candidate once, indexes in range,
    probabilities in [0, 1], reasons as text) and anything amiss reads as no ranking kept. A
    ranking is kept as positions into the candidates and the history it was made from, which
    the key fixes. A file that cannot be written costs the next command its time, nothing more.
    """

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") == RESULTS_FORMAT and isinstance(data.get("rankings"), list):
                return [r for r in data["rankings"] if isinstance(r, dict)]
        except (OSError, ValueError, AttributeError, RecursionError):  # RecursionError: nested past its depth
            pass  # absent, unreadable or not ours: nothing kept
        return []

    def get(
        self,
        key: str,
        candidates: Sequence[Item],
        history: Sequence[PastEntry],
        filed_here: Mapping[int, FiledPlace] | None = None,
        unlisted: int = 0,
    ) -> Ranking | None:
        """The ranking kept under `key`, rebuilt on these `candidates`, `history`, `filed_here` and
        `unlisted` (as `rank_items` takes them), or None."""
        for kept in self._read():
            if kept.get("key") == key:
                try:
                    return self._ranking(kept, candidates, history, filed_here or {}, unlisted)
                except (KeyError, TypeError, ValueError, IndexError, OverflowError):
                    return None
        return None

    @staticmethod
    def _ranking(
        kept: dict[str, Any],
        candidates: Sequence[Item],
        history: Sequence[PastEntry],
        filed_here: Mapping[int, FiledPlace],
        unlisted: int = 0,
    ) -> Ranking:
        """The Ranking a kept one describes; ValueError (or a KeyError, TypeError, IndexError) when it is amiss."""

        def count(value: object, below: int | None = None) -> int:
            # `type`, not isinstance: JSON's true is a bool, and a bool is an int.
            if type(value) is not int or value < 0 or (below is not None and value >= below):
                raise ValueError(value)
            return value

        def share(value: object) -> float:
            # A float as json.loads makes one (an int of 400 digits would overflow in float()).
            if type(value) is not float or not math.isfinite(value):
                raise ValueError(value)
            return value

        def entry(n: object) -> PastEntry | None:
            return None if n is None else history[count(n, len(history))]

        ranked = []
        for index, probability, why, like, filed, beside, here in kept["ranked"]:
            if not 0.0 <= share(probability) <= 1.0:
                raise ValueError(probability)
            if type(why) is not list or not all(type(w) is str for w in why):
                raise ValueError(why)
            partner = candidates[count(beside, len(candidates))].id if beside is not None else None
            item = candidates[count(index, len(candidates))]
            if here is not None and (type(here) is not int or here not in filed_here):
                raise ValueError(here)
            place = filed_here[here] if here is not None else None
            ranked.append(Ranked(item, probability, why, entry(like), entry(filed), partner, place))
        # Every listed candidate once: the last `unlisted` were ranked but are not in the list.
        if sorted(id(r.item) for r in ranked) != sorted(id(c) for c in candidates[: len(candidates) - unlisted]):
            raise ValueError("not every candidate once")
        history_count, picks, non_picks = (count(kept[name]) for name in ("history", "picks", "non_picks"))
        return Ranking(ranked, True, history_count, picks, non_picks, 0.0, share(kept["expected_picks"]))

    def put(
        self,
        key: str,
        ranking: Ranking,
        candidates: Sequence[Item],
        history: Sequence[PastEntry],
        filed_here: Mapping[int, FiledPlace] | None = None,
    ) -> None:
        """Keep `ranking` under `key` (the newest first), dropping the oldest beyond `RESULTS_KEPT`."""
        position = {id(c): n for n, c in enumerate(candidates)}
        # A place from the issue is kept as an index into `filed_here`: one the file names, never a heading.
        places_here = {place: n for n, place in (filed_here or {}).items()}
        by_id = {c.id: n for n, c in enumerate(candidates)}
        entries = {id(e): n for n, e in enumerate(history)}
        kept = {
            "key": key,
            "history": ranking.history,
            "picks": ranking.picks,
            "non_picks": ranking.non_picks,
            "expected_picks": ranking.expected_picks,
            "ranked": [
                [
                    position[id(r.item)],
                    r.probability,
                    r.why,
                    entries.get(id(r.like)) if r.like is not None else None,
                    entries.get(id(r.filed_like)) if r.filed_like is not None else None,
                    by_id.get(r.beside) if r.beside is not None else None,
                    places_here[r.filed_here] if r.filed_here is not None else None,
                ]
                for r in ranking.ranked
            ],
        }
        rankings = [kept, *(r for r in self._read() if r.get("key") != key)][:RESULTS_KEPT]
        try:
            atomic_write(self.path, json.dumps({"format": RESULTS_FORMAT, "rankings": rankings}), durable=False)
        except OSError as exc:
            log.warning("ranking cache not written to %s: %s", self.path, exc)


def beside_twins(order: Sequence[int], twins: dict[int, int]) -> list[tuple[int, int | None]]:
    """`order` with each item's twin (a press release and what it announces) moved up to follow it.

    Returns (index, the index it was moved beside, or None). The editor reads the two together:
    they stay two items, one right after the other where the better-ranked one stands; each keeps
    its own probability, so the moved one may show less than the items after it.
    """
    out: list[tuple[int, int | None]] = []
    placed: set[int] = set()
    for index in order:
        if index not in placed:
            out.append((index, None))
            placed.add(index)
        twin = twins.get(index)
        if twin is not None and twin not in placed:
            out.append((twin, index))
            placed.add(twin)
    return out


def remaining_picks(
    expected_unread: float, expected_read: float, found: int, unread: int | None = None, read: int | None = None
) -> float:
    """The picks to expect among the unread items, corrected by what reading has found so far.

    `expected_unread` and `expected_read` are the picks the history-only prior expects among the
    undecided and the decided items of the quarter (its probabilities sum to the quarter's
    expected picks); `found` is the picks really made. The unread part is scaled by how the read
    part turned out, (found + a) / (expected_read + a), with a = `ESTIMATE_PSEUDO_PICKS` so the
    first few decisions move it little: a quarter whose top items hold fewer picks than the
    history suggests holds fewer below as well. A ratio estimator, as used to correct a
    model-based total by a sample (Cochran, Sampling Techniques, ch. 6), the ratio capped at 1
    (the decisions are no random sample: see the comment there).

    The decided items are a sample of reading only as far as the editor records what was read and
    left: an issue written by hand (links pasted in), or items added from `items` with nothing
    skipped, are picks alone, and scaling by them promises picks that were read and passed over.
    So, given the count of `read` (decided) items, the ratio estimate is blended with what the
    history expects for the whole quarter less the picks made, by the weight s / (s + 1), s the
    decided items that are no pick (the weight is 1, all the ratio, when no item was picked): with
    picks and no skip all the latter,
    then ever more the ratio as the editor skips (nine tenths of it after nine skips). A skip
    the editor records says the decisions are a reading; the weight is quick to believe it, as
    the ratio held better than the difference on the 2022 fixture, where triage skips as it reads
    (a weight of s / (s + 3) said 29 picks were left after 20 reads where the ratio said 24 and
    20 were).

    Never less than half a pick (never a promise of nothing at all), except that, given the count
    of `unread` items, it is never more than `MAX_PICK_SHARE` of them: an editor who picked every
    item read so far does not make the one or two left likely picks (`issue draft` would add them).
    """
    # Never above 1: reading can show the quarter thinner than the history promised, but more picks
    # among the decided items than the prior gave them are no sign of more below, since the editor
    # chooses what to decide by what it is (an item added by id because it is a pick). Uncapped,
    # three skips of 0% items after twelve picks added by id raised "about 43" to 56 (the truth:
    # 19); capped, the unread items keep what the history gives them (45), and a quarter richer
    # than the history does not fall to the floor either.
    ratio = min((found + ESTIMATE_PSEUDO_PICKS) / (expected_read + ESTIMATE_PSEUDO_PICKS), 1.0)
    remaining = expected_unread * ratio
    if read is not None:
        skips = max(read - found, 0)
        weight = skips / (skips + 1) if found else 1.0
        remaining = weight * remaining + (1 - weight) * max(expected_unread + expected_read - found, 0.0)
    remaining = max(remaining, 0.5)
    return remaining if unread is None else min(remaining, MAX_PICK_SHARE * unread)


def keyword_order(item: Item) -> tuple[float, int, str]:
    """Sort key of the keyword order: highest score first, then newest (undated last), then id."""
    return (-item.score, -(item.published or dt.date.min).toordinal(), item.id)


def _squash(score: float) -> float:
    """A keyword score (0 and up) as a number in [0, 1): score / (score + 10)."""
    return max(score, 0.0) / (max(score, 0.0) + 10.0)


# ---------------------------------------------------------------------- gathering from the workspace


def past_entries(
    issues_dir: Path, settings: Settings, issue_ids: Iterable[str], cache: Path | None = None, quiet: bool = False
) -> list[PastEntry]:
    """Every entry of the named issues as a `PastEntry`; an unreadable issue file is skipped (logged unless `quiet`).

    Reading an issue file (YAML, round-trip, validated) takes about 60 ms for one of the sample's
    size, and every listing and every triage decision needs the whole history: forty issues would
    be seconds each time. So each file's entries are kept under its size, modification time and
    the configured section keys: for the process, and in `cache` (a JSON file beside the store,
    `PAST_ENTRIES_CACHE`) between commands. A file that changed is read afresh; a cache file that
    cannot be read or does not hold what it should is ignored and written anew.
    """
    stored = _read_past_entries(cache) if cache else {}
    wanted = {}
    out = []
    sections = list(settings.sections)
    for issue_id in issue_ids:
        path = issues_dir / f"{issue_id}.yaml"
        try:
            stat = path.stat()
            key = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}|{','.join(sections)}"
        except OSError:
            key = None
        entries = _PAST_ENTRIES.get(key) if key else None
        if entries is None and key in stored:
            entries = _PAST_ENTRIES[key] = stored[key]
        if entries is None:
            try:
                issue, _ = IssueDocument.load(path).validate(settings)
            except IssueFileError as exc:
                if not quiet:  # `quiet`: a caller that does not rank (the headings known), and says no more
                    log.warning("ranking leaves out %s: %s", issue_id, exc)
                continue
            entries = [past_entry(issue.id, section, entry) for section, _position, entry in issue.entries()]
            if key:
                if len(_PAST_ENTRIES) >= 512:  # a long-running process (the tests) keeps no stale versions
                    _PAST_ENTRIES.clear()
                _PAST_ENTRIES[key] = entries
        if key:
            wanted[key] = entries
        out.extend(entries)
    if cache:
        # Kept: the other files' entries (a ranking of an earlier quarter reads a shorter history);
        # replaced: an older version of a file read now. Files gone from issues/ drop out.
        paths = {key.split("|", 1)[0] for key in wanted}
        kept = {
            key: entries
            for key, entries in stored.items()
            if key.split("|", 1)[0] not in paths and Path(key.split("|", 1)[0]).exists()
        }
        if (kept | wanted).keys() != stored.keys():
            _write_past_entries(cache, kept | wanted)
    return out


# (path|mtime_ns|size|section keys) -> the file's entries: see `past_entries`.
_PAST_ENTRIES: dict[str | None, list[PastEntry]] = {}
_PAST_ENTRY_FIELDS = ("issue", "section", "heading", "title", "text", "hosts", "items", "links", "kind")
_PAST_ENTRY_LISTS = ("hosts", "items", "links")
# Of the cache file; 2 added `links`, 3 `kind`: a file of another format is read afresh.
_PAST_ENTRIES_FORMAT = 3


def _read_past_entries(cache: Path) -> dict[str, list[PastEntry]]:
    """The cached entries per file key, or {} when the file is absent, unreadable or not what it should be."""
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("format") != _PAST_ENTRIES_FORMAT:
            return {}
        return {str(key): [_entry_from_json(e) for e in entries] for key, entries in data["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _entry_from_json(data: dict) -> PastEntry:
    """A PastEntry as `_write_past_entries` wrote it; TypeError when a field is not of its kind."""
    fields = {f: data[f] for f in _PAST_ENTRY_FIELDS}
    if not all(
        isinstance(value, list) and all(isinstance(v, str) for v in value)
        if f in _PAST_ENTRY_LISTS
        else isinstance(value, str)
        for f, value in fields.items()
    ):
        raise TypeError("not a past entry")
    values: dict[str, Any] = {f: tuple(v) if f in _PAST_ENTRY_LISTS else v for f, v in fields.items()}
    return PastEntry(**values)


def _write_past_entries(cache: Path, files: dict[str, list[PastEntry]]) -> None:
    """Write the cache of past entries (only the files of this history); a failure costs only time."""
    data = {
        "format": _PAST_ENTRIES_FORMAT,
        "files": {
            key: [
                {f: list(getattr(e, f)) if f in _PAST_ENTRY_LISTS else getattr(e, f) for f in _PAST_ENTRY_FIELDS}
                for e in entries
            ]
            for key, entries in files.items()
        },
    }
    try:
        atomic_write(cache, json.dumps(data, ensure_ascii=False), durable=False)
    except OSError as exc:
        log.warning("ranking cache not written to %s: %s", cache, exc)


def past_entry(issue_id: str, section: str, entry: Entry) -> PastEntry:
    """An entry of issue `issue_id`, in section `section`, as the ranking sees it."""
    links = tuple(dict.fromkeys(links_of(entry.text)))
    hosts = tuple(dict.fromkeys(h for h in (host_of(link) for link in links) if h))
    text = "\n".join(p for p in (entry.heading, entry.title, plain(entry.text)) if p)
    kind = "consultation" if entry.deadline else "event" if entry.event_date else ""
    return PastEntry(issue_id, section, entry.heading, entry.title, text, hosts, tuple(entry.items), links, kind)


def history_ids(issues_dir: Path, issue_id: str, learn_from_later: bool = False) -> list[str]:
    """The issues the ranking of `issue_id` learns from: the earlier ones (all others with `learn_from_later`)."""
    return [i for i in list_issue_ids(issues_dir) if i != issue_id and (learn_from_later or i < issue_id)]


def expected_picks(history: Sequence[PastEntry], known_hosts: set[str]) -> float:
    """Collected items a past issue cited: the median per issue of entries linking to a collected host.

    An issue none of whose entries links to a collected host counts 0 (its picks were all the unit's
    own or from sites not collected); DEFAULT_EXPECTED_PICKS only when there is no past issue at all.
    """
    if not history:
        return DEFAULT_EXPECTED_PICKS
    per_issue = Counter(e.issue for e in history if any(h in known_hosts for h in e.hosts))
    return float(statistics.median(per_issue.get(issue, 0) for issue in {e.issue for e in history}))


def quarter_coverage(items: Iterable[Item], since: dt.date, until: dt.date, today: dt.date) -> float:
    """The share of the quarter [since, until] that collection has covered, in (0, 1].

    The history says how many picks a whole quarter holds; a quarter still running, or one
    collected only up to some day (a store filled early in the quarter), holds a share of them.
    Covered are the days up to the newest publication among the quarter's items that are not
    events (an event is often announced months ahead), and never past today. At least one day,
    so an empty quarter expects a little, not nothing.
    """
    newest = max(
        (i.published for i in items if i.published and i.kind != "event" and since <= i.published <= until),
        default=since,
    )
    covered = min(newest, today, until)
    return max((covered - since).days + 1, 1) / ((until - since).days + 1)


def durable_places(history: Sequence[PastEntry], settings: Settings) -> list[int]:
    """The indexes of the past entries whose place an item may be suggested: those whose heading the
    editor keeps from issue to issue (`kept_headings`)."""
    kept = kept_headings(history, settings)
    return [n for n, entry in enumerate(history) if kept(entry.section, entry.heading, False)]


def kept_headings(history: Sequence[PastEntry], settings: Settings) -> Callable[[str, str, bool], bool]:
    """Whether a heading in a section (key, heading[, in the issue being written too]) is one the editor
    keeps from issue to issue.

    A heading is kept when newsletter.yaml names it (the section's `headings`, an organisation's
    name or alias, a theme or the unit's own headings) or when it stands in the same
    section in two issues or more: two past ones, or one and the issue being written. A heading
    made for one issue ("Ny strategi mot menneskehandel" among the highlights, "KOM
    tilstandsrapport 2021 publisert") names a story, not where the next item of the same site
    belongs: an item of regjeringen.no about volunteers' police certificates was suggested under
    the first.
    """
    named = {heading_key(h) for h in (*settings.archive.themes, *settings.archive.own_headings)}
    for organisation in settings.archive.organisations:
        # Its name and aliases, not the `headings` it claims for the archive: those are often one
        # issue's headings about it ("Ny strategi mot menneskehandel" on the ministry's page).
        named.update(organisation.names())
    configured = {
        (section.key, heading_key(heading)) for section in settings.section_configs for heading in section.headings
    }
    issues: dict[tuple[str, str], set[str]] = {}
    for entry in history:
        issues.setdefault((entry.section, heading_key(entry.heading)), set()).add(entry.issue)

    def kept(section: str, heading: str, here: bool) -> bool:
        place = (section, heading_key(heading))
        return place in configured or place[1] in named or len(issues.get(place, ())) + here >= 2

    return kept


def rank_quarter(
    store: Store,
    feeds: FeedsConfig,
    settings: Settings,
    issues_dir: Path,
    issue_id: str,
    quarter_items: Sequence[Item],
    in_issue: Iterable[str] = (),
    learn_from_later: bool = False,
    elsewhere: Iterable[str] = (),
    records: Mapping[str, Sequence[Decided]] | None = None,
    unconfirmed: Iterable[str] = (),
    filed_here: Mapping[str, tuple[str, str]] | None = None,
) -> Ranking:
    """Rank the undecided items among `quarter_items` (every item of the issue's quarter, any status).

    Learns from the earlier issues' entries, the quarter's decisions (status `picked` or `skipped`,
    and the item ids in `in_issue`), skips of other quarters, and earlier quarters' items (picked
    when their issue names them, or an entry of it naming none links to them; left out otherwise),
    from the store, and from the issue's decisions record where the store lacks them (`RECORDED`).
    `learn_from_later` lets a benchmark learn from issues after `issue_id`, which the tool never does.

    `elsewhere` are the items later issues cite (the earlier ones are read here, as the history):
    picked there, so never a candidate here. One an earlier issue cites is learned from as a pick
    of the quarter; one a later issue cites only leaves the list (the ranking never learns from a
    later issue).

    `records` ({issue id: lines}) are the issues' decisions records as the caller read them (read
    here from `issues_dir` when None).

    `unconfirmed` are items of `in_issue` that are no decision and not listed: entries the
    editor has not looked at yet (`edit.draft` passes those it added before, so a second draft
    does not learn from the first one's guesses and add ever more). They are ranked with the
    undecided items, and weigh as those do (very weak non-picks: the model is the one before the
    draft), so the picks the quarter is expected to hold are shared with them by probability, and
    the estimate below the list counts them as the likely picks they are.

    `filed_here` ({item id: (section key, heading)}) are where the issue files its items: an undecided
    item close to one of this quarter's, of the same site, is suggested its place (`Ranked.filed_here`),
    as the editor files this quarter, where that departs from the defaults (see `rank_items`). A
    draft's untouched entries count too (one the editor moved with `issue move` is a pick, and its
    place the editor's). An item of the issue published in another quarter is no document here,
    and gives no place.
    """
    unconfirmed = set(unconfirmed)
    picked_here = set(in_issue) - unconfirmed
    var = None if store.in_memory else store.path.parent
    history = past_entries(
        issues_dir,
        settings,
        history_ids(issues_dir, issue_id, learn_from_later),
        var / PAST_ENTRIES_CACHE if var else None,
    )
    past_ids = sorted({e.issue for e in history})[-PAST_QUARTERS_LIMIT:]
    # What the store may no longer hold of those quarters, as each issue's decisions record kept it.
    if records is None:
        records = {past_id: read_record(record_path(issues_dir, past_id)) for past_id in past_ids}
    # A line of an item the store holds takes the store's id (found by its key: ids may differ
    # between stores), so the store's copy and the line are one item.
    stored = store.ids_by_key(line.key for past_id in past_ids for line in records.get(past_id, ()))
    records = {
        past_id: [replace(line, id=stored.get(line.key, line.id)) for line in records.get(past_id, ())]
        for past_id in past_ids
    }
    recorded_keys = {line.key: line.id for lines in records.values() for line in lines}
    # Cited by an entry (`entries_citing`): an item of the store, or of a record, for a link.
    hand_links = (link for e in history if not e.items for link in e.links)
    citing = entries_citing(history, link_targets(store, hand_links, recorded_keys))
    cited = set(citing)
    used = set(elsewhere) | cited
    unconfirmed -= cited  # an earlier issue's pick is a decision, whatever this issue's entry says
    undecided = [
        i
        for i in quarter_items
        if i.status == "new" and i.id not in picked_here and i.id not in used and i.id not in unconfirmed
    ]
    labelled: list[tuple[Item, int, float]] = [
        (i, 1 if (i.status == "picked" or i.id in picked_here or i.id in cited) else 0, DECIDED_WEIGHT)
        for i in quarter_items
        if (i.status != "new" or i.id in picked_here or i.id in cited) and i.id not in unconfirmed
    ]
    decided_here = len(labelled)
    seen = {i.id for i in quarter_items} | unconfirmed
    for item in store.iter_items(statuses=("skipped",), order="newest", limit=OTHER_SKIPS_LIMIT):
        if item.id not in seen and item.id not in cited:  # an issue's pick, whatever its status says
            labelled.append((item, 0, DECIDED_WEIGHT))
            seen.add(item.id)
    for item_id in sorted(cited - seen):  # a past pick counts, however old its quarter
        try:
            labelled.append((store.get_item(item_id), 1, DECIDED_WEIGHT))
            seen.add(item_id)
        except NotFound:
            pass  # an entry's item that this store never collected
    recorded_articles: dict[str, str] = {}
    shares: list[float] = []  # of a recorded quarter's items that its issue picked
    for past_id in past_ids:
        since, until = quarter_bounds(past_id)
        left_out = store.iter_items(since, until, include_undated=False, order="newest", limit=PAST_QUARTER_ITEMS_LIMIT)
        for item in left_out:
            if item.id not in seen:
                labelled.append((item, 0, LEFT_OUT_WEIGHT))
                seen.add(item.id)
        recorded = records[past_id]
        picked = sum(1 for line in recorded if line.decision == "picked" or line.id in cited)
        if picked:  # a record with no pick (the store held none of the issue's items) tells no share
            shares.append(picked / len(recorded))
        # Every decision, and of the rest, as of the store, the newest dated ones up to the limit.
        decided = [line for line in recorded if line.decision != "left out" or line.id in cited]
        rest = sorted(
            (line for line in recorded if line.decision == "left out" and line.id not in cited and line.published),
            key=lambda line: line.published or dt.date.min,
            reverse=True,
        )
        for line in [*decided, *rest[:PAST_QUARTER_ITEMS_LIMIT]]:
            if line.id not in seen:
                # An item the issue cites is its pick, whatever a hand-edited line says.
                label, weight = RECORDED["picked" if line.id in cited else line.decision]
                labelled.append((line.as_item(), label, weight))
                recorded_articles[line.id] = line.article
                seen.add(line.id)
    # The unit's own earlier issue, collected from its own page, is never a candidate for the next one.
    name = own_name(settings)
    own = [i for i in undecided if is_own_issue(i.title, name)]
    # The unconfirmed items are ranked with the undecided and then left out of the list: they are in the
    # issue, but unread, each a likely pick by the model's own probability, not a certain one. Counted as
    # certain picks (the quarter's expected picks less their number), a draft of 23 items of which 8 were
    # the editor's left "about 3 likely picks" below where 15 were.
    drafted = [i for i in quarter_items if i.id in unconfirmed and i.id not in used]
    undecided = [i for i in undecided if i not in own] + drafted
    documents = [item_document(i, article_text(store, i)) for i in undecided]
    labelled_documents = [
        (item_document(i, recorded_articles.get(i.id) or article_text(store, i), tuple(citing.get(i.id, ()))), label, w)
        for i, label, w in labelled
    ]
    known_hosts = {host_of(i.url) for i in quarter_items} | {host_of(s.url) for s in feeds.sources}
    since, until = quarter_bounds(issue_id)
    today = clock.local_date(clock.now(), settings.timezone)
    if shares:
        # A record says how many of its quarter's items an issue picked: the share of this quarter's
        # items collected so far that this editor is likely to pick, a truer count than the entries.
        expected = statistics.median(shares) * len(quarter_items)
    else:
        expected = expected_picks(history, known_hosts) * quarter_coverage(quarter_items, since, until, today)
    # However many picks past issues had, a quarter of a few items holds a share of them at most:
    # a store filled from two sources must not show each of its six items as a certain pick.
    expected = min(expected, MAX_PICK_SHARE * len(quarter_items))
    cache = var / RANKING_CACHE if var else None
    places = durable_places(history, settings)
    kept = kept_headings(history, settings)
    filed_here = filed_here or {}
    # The issue's items among the model's documents (the undecided, drafts last, then the labelled).
    in_model = [*undecided, *(item for item, _, _ in labelled[:decided_here])]
    filed = {
        n: FiledPlace(
            *filed_here[item.id], kept(*filed_here[item.id], True), configured_place(item, feeds), item.id, item.title
        )
        for n, item in enumerate(in_model)
        if item.id in filed_here
    }
    results = RankingResults(var / RESULTS_CACHE) if var else None
    ranking = rank_items(
        undecided,
        documents,
        history,
        labelled_documents,
        expected,
        cache,
        decided_here,
        places,
        results,
        len(drafted),
        filed,
    )
    ranking.ranked += [Ranked(i, 0.0, [f"an issue of «{settings.name}» itself"]) for i in own]
    ranking.unconfirmed = len(drafted)
    return ranking


def configured_source(item: Item, feeds: FeedsConfig) -> Source | None:
    """The first of the item's sources that feeds.yaml still has, or None: the one whose place it takes."""
    return next((s for key in item.sources or (item.source,) if (s := feeds.by_key(key)) is not None), None)


def configured_place(item: Item, feeds: FeedsConfig) -> tuple[str, str] | None:
    """The (section key, heading) feeds.yaml gives the item (`configured_source`), or None."""
    source = configured_source(item, feeds)
    return (source.section, source.heading) if source is not None else None


def own_name(settings: Settings) -> str:
    """The newsletter's name as its own issues are titled, or "" when newsletter.yaml gives none.

    Only a name set in newsletter.yaml: the fallbacks (the publisher's name, "Nyhetsbrev") begin
    many titles that are not this newsletter's.
    """
    return settings.name if settings.name not in (settings.publisher, Settings.name) else ""


def is_own_issue(title: str, name: str) -> bool:
    """Whether an item's title names an issue of this newsletter ("Nyhetsbrev fra KOM – januar–mars 2022").

    Compared by words, ignoring case, accents and punctuation, so "NYHETSBREV fra KOM: april" counts and
    "Nyhetsbrevet fra KOMMUNEN" does not. False when the newsletter has no name.
    """
    wanted = _folded_words(name)
    return bool(wanted) and _folded_words(title)[: len(wanted)] == wanted


def _folded_words(text: str) -> list[str]:
    return re.findall(r"\w+", folded(text))


def article_text(store: Store, item: Item) -> str:
    """The text of the item's article page as the store keeps it, or "" when it has none."""
    page = store.get_page(item.url)
    return page.text if page is not None and page.text else ""

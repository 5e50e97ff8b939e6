"""Curation: turning collected items and the editor's notes into an issue.

Every change to an issue file goes through `edit_issue`: it takes the issue's
lock, reads and validates the file (against the item store too), lets the
change happen on the round-trip document, and writes it back atomically,
refusing if the file changed on disk meanwhile. Item statuses in the store
(`picked`, `skipped`) change only after the file was written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import logging
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ruamel.yaml.scalarstring import LiteralScalarString

from newsletter import clock
from newsletter.collect.urls import address_problem, reference_key
from newsletter.config import Workspace, line_of
from newsletter.curate.decisions import SUFFIX as DECISIONS_SUFFIX
from newsletter.curate.decisions import Decided, decided, read_record, record_path, write_record
from newsletter.curate.inbox import (
    InboxQuery,
    another_years_heading,
    heading_years,
    iter_inbox,
    listed_name,
    place,
    quarter_items,
    ranked_inbox,
)
from newsletter.curate.issuefile import (
    IssueDocument,
    IssueFileError,
    Problem,
    SourceChar,
    flow_list,
    insertion_index,
    issue_path,
    list_issue_ids,
    lock_for,
)
from newsletter.curate.listing import counted
from newsletter.curate.ranking import Ranking, article_text, configured_source, link_targets, linked_items
from newsletter.errors import NewsletterError, NotFound, UsageError
from newsletter.fsutil import atomic_write
from newsletter.models import Entry, FeedsConfig, HeadingOrder, Issue, Item, Settings, heading_key, heading_runs
from newsletter.quarters import ISSUE_ID, issue_id_for, quarter_bounds
from newsletter.render.markdown import (
    LANGUAGE_MARK,
    LANGUAGE_TAG,
    Image,
    bare_addresses,
    image_label,
    images_of,
    language_parts,
    links_of,
    unmatched_brackets,
    unread_language_marks,
    unread_links,
)
from newsletter.store import Store
from newsletter.store.items import MIN_PREFIX
from newsletter.textcodec import character_name, hidden_characters, is_break, strip_hidden

STARTING_TEXT_LIMIT = 320
FALLBACK_HEADING = "Annet"  # for an item whose source names no heading and that no past entry places
DRAFT_PROBABILITY = 0.5  # `issue draft` adds the items at least this likely to be picked

log = logging.getLogger(__name__)


@dataclass
class Curation:
    """What curation commands work on: the workspace, its configuration and its store."""

    workspace: Workspace
    settings: Settings
    feeds: FeedsConfig
    store: Store
    # Per command: item ids and each issue's links, so `issue list` reads every issue once, not once
    # per later issue.
    _known: set[str] | None = field(default=None, repr=False)
    _records: dict[str, list[Decided]] | None = field(default=None, repr=False)
    _recorded: dict[str, Decided] | None = field(default=None, repr=False)
    _recorded_keys: dict[str, str] | None = field(default=None, repr=False)
    _uses: dict[str, tuple[list[str], list[str], list[str]]] = field(default_factory=dict, repr=False)
    _cited: dict[str, list[str]] = field(default_factory=dict, repr=False)
    # Per issue, (section key, heading) by the item id an entry names, and by the link an entry naming
    # none has (`filed_items`).
    _filed: dict[str, tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]] = field(
        default_factory=dict, repr=False
    )
    _unreadable: dict[str, IssueFileError] = field(default_factory=dict, repr=False)
    _unread_sections: dict[str, list[Problem]] = field(default_factory=dict, repr=False)
    # Per issue and section key, (entries with an `event_date`, entries): which sections hold events.
    _dated: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict, repr=False)

    def path(self, issue_id: str) -> Path:
        """The issue file of an id."""
        return issue_path(self.workspace.issues_dir, issue_id)

    def known_items(self) -> set[str]:
        """Ids of every collected item (an entry naming another id is an error): the store's, and those
        the issues' decisions records hold, so an issue made on another machine stays valid here."""
        if self._known is None:
            self._known = self.store.item_ids() | set(self.recorded_keys().values())
        return self._known

    def records(self) -> dict[str, list[Decided]]:
        """{issue id: the lines of its decisions record} for every record in issues/, read once per
        command (so a damaged line is warned of once), oldest issue first."""
        if self._records is None:
            self._records = {
                path.name.removesuffix(DECISIONS_SUFFIX): read_record(path)
                for path in sorted(self.workspace.issues_dir.glob(f"*{DECISIONS_SUFFIX}"))
            }
        return self._records

    def recorded_items(self) -> dict[str, Decided]:
        """{item id: its line} of every item the records hold (the oldest record naming it)."""
        if self._recorded is None:
            self._recorded = {}
            for lines in self.records().values():
                for line in lines:
                    self._recorded.setdefault(line.id, line)
        return self._recorded

    def recorded_keys(self) -> dict[str, str]:
        """{de-duplication key: item id} of every item the records hold: items known beyond the store,
        which a link written by hand cites as a stored one."""
        if self._recorded_keys is None:
            self._recorded_keys = {line.key: line.id for line in self.recorded_items().values()}
        return self._recorded_keys

    def uses(self, issue_id: str) -> tuple[list[str], list[str], list[str]]:
        """The links, the item ids, and the links of the entries naming no item, that an issue uses.

        Read once per command; all empty for an unreadable file (`unreadable` says why).
        """
        if issue_id not in self._uses:
            try:
                issue, problems = IssueDocument.load(self.path(issue_id)).validate(self.settings)
            except IssueFileError as exc:
                self._uses[issue_id] = ([], [], [])
                self._filed[issue_id] = ({}, {})
                self._dated[issue_id] = {}
                self._unreadable[issue_id] = exc
            else:
                # A section newsletter.yaml lacks (a misspelt key) is left out, entries and all.
                self._unread_sections[issue_id] = [
                    p
                    for p in problems
                    if p.level == "error"
                    and (p.field or "").startswith("sections.")
                    and (p.field or "").removeprefix("sections.") not in self.settings.sections
                ]
                entries = [entry for _key, _position, entry in issue.entries()]
                by_item: dict[str, tuple[str, str]] = {}
                by_link: dict[str, tuple[str, str]] = {}
                for key, _position, entry in issue.entries():
                    for item in entry.items:
                        by_item.setdefault(item, (key, entry.heading))
                    for link in links_of(entry.text) if not entry.items else ():
                        by_link.setdefault(link, (key, entry.heading))
                self._filed[issue_id] = (by_item, by_link)
                self._dated[issue_id] = {
                    key: (sum(1 for entry in entries if entry.event_date), len(entries))
                    for key, entries in issue.sections.items()
                }
                self._uses[issue_id] = (
                    [link for entry in entries for link in links_of(entry.text)],
                    [item for entry in entries for item in entry.items],
                    [link for entry in entries if not entry.items for link in links_of(entry.text)],
                )
        return self._uses[issue_id]

    def filed_items(self, issue_id: str) -> dict[str, tuple[str, str]]:
        """{item id: (section key, heading)}: where an issue files the items it cites (`cited_items`), those
        its entries name in `items` and those an entry naming none links to; the first entry's place,
        where two cite one. Empty for an unreadable file. Raises nothing."""
        self.uses(issue_id)
        by_item, by_link = self._filed[issue_id]
        filed = dict(by_item)
        if by_link:
            targets = link_targets(self.store, by_link, self.recorded_keys())
            for link, place in by_link.items():  # in the file's order: the first entry's place
                if link in targets:
                    filed.setdefault(targets[link], place)
        return filed

    def cited_items(self, issue_id: str) -> list[str]:
        """The collected items an issue cites (once per command): those its entries name in `items`,
        and those the entries naming none link to (`ranking.link_targets`).

        An entry written by hand with an item's link pasted in holds that item as surely as one
        made by `issue add`: the item is in the issue, not a candidate. An entry that names items
        cites those alone: `issue add` gave it its own item's link, which may share the address of
        another item (a feed's entries sharing one page).
        """
        if issue_id not in self._cited:
            _links, items, hand_links = self.uses(issue_id)
            linked = linked_items(self.store, hand_links, self.recorded_keys())
            self._cited[issue_id] = list(dict.fromkeys([*items, *linked]))
        return self._cited[issue_id]

    def event_sections(self, issue_id: str) -> dict[str, str]:
        """{section key: an issue}: the sections whose entries the other issues date as events, most
        of them with an `event_date` and at least two, each with the last such issue (in file order).
        A section where one entry of many was an event (a seminar among the unit's news) is none."""
        tally: dict[str, list[int]] = {}
        last: dict[str, str] = {}
        for other in list_issue_ids(self.workspace.issues_dir):
            if other == issue_id:
                continue
            self.uses(other)
            for key, (dated, entries) in self._dated[other].items():
                counts = tally.setdefault(key, [0, 0])
                counts[0] += dated
                counts[1] += entries
                if dated:
                    last[key] = other
        return {key: last[key] for key, (dated, entries) in tally.items() if dated >= 2 and 2 * dated > entries}

    def unreadable(self, issue_id: str) -> IssueFileError | None:
        """Why `uses` could not read an issue (its file's error, naming file and line), or None."""
        return self._unreadable.get(issue_id)

    def unread_sections(self, issue_id: str) -> list[Problem]:
        """The errors of the sections `uses` left out of an issue, entries and all: keys newsletter.yaml
        does not have (a misspelt `norwy:`). Empty for a file read whole, or not read yet."""
        return self._unread_sections.get(issue_id, [])

    def load(self, issue_id: str) -> tuple[IssueDocument, Issue]:
        """Read and validate an issue (read-only use)."""
        document = IssueDocument.load(self.path(issue_id))
        return document, document.issue(self.settings, self.known_items())

    def load_lenient(self, issue_id: str) -> tuple[IssueDocument, Issue]:
        """Read an issue with what validation could make of it, errors and all (for a forced build)."""
        document = IssueDocument.load(self.path(issue_id))
        return document, document.validate(self.settings, self.known_items())[0]

    @contextlib.contextmanager
    def edit(self, issue_id: str, mending: bool = False) -> Iterator[tuple[IssueDocument, Issue]]:
        """Lock, read and validate an issue; write it back when the block ends without error.

        A file with an error is refused (IssueFileError, the first error), except, with `mending`, one
        whose every entry is read in its place (two entries citing one item, a repeated title, an item
        the store lacks): `issue remove` and `issue move` are how `issue check` says to mend those. It
        is written when the change leaves it with no more errors than it had; otherwise, and in any
        case without `mending`, a change that leaves an error raises NewsletterError, nothing written.
        """
        path = self.path(issue_id)
        with lock_for(self.workspace.var):
            document = IssueDocument.load(path)
            issue, found = document.validate(self.settings, self.known_items())
            had = [p for p in found if p.level == "error"]
            if had and not (mending and document.entries_in_place(issue)):
                document.issue(self.settings, self.known_items())  # raises the first error
            yield document, issue
            # A file every later command would refuse (two entries of one title under one heading,
            # say) is not written: the editor learns it now, from the command that would make it.
            _, problems = document.validate(self.settings, self.known_items())
            errors = [p for p in problems if p.level == "error"]
            if len(errors) > len(had):
                raise NewsletterError(
                    f"nothing was written to {path}: the change would leave it invalid: {errors[0].message}"
                )
            document.save()
            self._uses.pop(issue_id, None)
            self._cited.pop(issue_id, None)
            self._dated.pop(issue_id, None)

    def heading_order(self, section: str) -> HeadingOrder:
        """The order of headings in a section: where a new heading goes, and what `check_issue` holds to."""
        return self.settings.heading_order(section)

    def require_section(self, section: str) -> str:
        """The section key, or a usage error naming the configured ones."""
        if section not in self.settings.sections:
            close = difflib.get_close_matches(section.lower(), self.settings.sections, n=1, cutoff=0.6)
            mean = f"did you mean '{close[0]}'? " if close else ""
            raise UsageError(
                f"no section '{section}' in newsletter.yaml ({mean}sections: {', '.join(self.settings.sections)})"
            )
        return section


# ---------------------------------------------------------------------- new, add, note


EARLIEST_YEAR = 2000  # an issue id before it is a typo (1024-q2 for 2024-q2), not an archived issue
QUARTERS_AHEAD = 1  # the next quarter's issue may be started early; one further ahead is a typo


def implausible_quarter(issue_id: str, today: dt.date) -> str | None:
    """Why an issue id is almost certainly mistyped (a year before `EARLIEST_YEAR`, or a quarter more
    than `QUARTERS_AHEAD` after today's), in words; None for a plausible one.

    Past quarters since then are plausible: the editor files back issues for the archive and for
    the ranking to learn from (the 2022 sample).
    """
    first, _last = quarter_bounds(issue_id)
    if first.year < EARLIEST_YEAR:
        return f"{issue_id} is before {EARLIEST_YEAR}"
    now = issue_id_for(today)
    ahead = (first.year - today.year) * 4 + (first.month - 1) // 3 - (today.month - 1) // 3
    if ahead > QUARTERS_AHEAD:
        return f"{issue_id} is {ahead} quarters ahead of the current one ({now})"
    return None


def new_issue(curation: Curation, issue_id: str, force: bool = False) -> Path:
    """Create `issues/<id>.yaml` with the configured sections and the period; never overwrites.

    A quarter before 2000 or more than one quarter after today's (in the newsletter's time zone) is
    refused unless `force`: such an id is a typo far more often than a plan (2204-q2 for 2024-q2),
    and a stray file would be listed, and learned from, as an issue. Refused, it costs a retyped
    command; created, a file to find and delete. Raises UsageError then, NewsletterError for an
    issue that exists.
    """
    if not force and (why := implausible_quarter(issue_id, clock.today(curation.settings.timezone))):
        raise UsageError(f"{why}: a typo? Nothing was written; pass --force to create it all the same")
    path = curation.path(issue_id)
    with lock_for(curation.workspace.var):
        if path.exists():
            raise NewsletterError(f"{path}: the issue already exists; nothing was written")
        IssueDocument.create(path, issue_id, curation.settings).save()
    return path


def starting_text(item: Item, *more: Item, full_stop: bool = True) -> str:
    """The text an added item starts with: its summary, shortened, and its link. The editor rewrites it.

    An entry citing several items (`issue add --to`) starts with the first one's summary and a link
    to each: "Se [her](…) og [her](…)." A summary that stops without a full stop gets one
    (`full_stop=False`: as versions before that wrote it, so `issue check` still knows their texts).
    """
    summary = item.summary.strip()
    if len(summary) > STARTING_TEXT_LIMIT:
        cut = summary[:STARTING_TEXT_LIMIT]
        sentence_end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
        summary = cut[: sentence_end + 1] if sentence_end > 80 else cut.rsplit(" ", 1)[0] + " …"
    if full_stop and summary[-1:] in (";", ","):
        summary = summary[:-1] + "."  # a list cut short: "…; Se her." reads as broken as no stop at all
    elif full_stop and summary and summary.rstrip("\"'»”’)]")[-1:] not in (".", "!", "?", "…", ":"):
        summary += "."  # a summary that stops without a full stop ("… handlingsplan") before "Se her."
    summary = _escape_markdown(summary)
    links = [f"[her]({each.url})" for each in (item, *more)]
    see = links[0] if len(links) == 1 else ", ".join(links[:-1]) + " og " + links[-1]
    return (summary + " " if summary else "") + f"Se {see}."


def _escape_markdown(text: str) -> str:
    # A feed's text is not Markdown: brackets, stars and backticks are literal.
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def entry_for(item: Item, heading: str) -> Entry:
    """A new entry for a collected item, with its title, dates and starting text."""
    return Entry(
        heading=heading,
        title=item.title,
        text=starting_text(item),
        item=item.id,
        date=item.published if item.date_precision == "day" else None,
        deadline=item.deadline,
        event_date=item.event_date,
    )


@dataclass(frozen=True)
class Placed:
    """Where an entry went: section key, 1-based position, heading."""

    section: str
    position: int
    heading: str
    title: str
    item: str | None = None
    items: tuple[str, ...] = ()  # every item the entry cites, when it cites more than `item`
    # Its accepted starting text changed (`issue add --to`), so it is accepted no more: check asks again.
    unaccepted: bool = False
    unchanged: bool = False  # the command found it as it would have left it (`accept_entries`: accepted already)
    # Joined to an entry (`--to`, or one story under one title): what that did to its dates.
    dates: JoinedDates | None = None
    joined: bool = False  # added to an existing entry (`--to`, or the same story's: `add_items`)
    # `issue add --to` an entry whose text the editor wrote: the items added that the text does not link to.
    unlinked: tuple[str, ...] = ()
    moved: int = 1  # `move_entry`: the entries moved (its heading's block, with `run`), this one among them


def _several(entry: Entry) -> tuple[str, ...]:
    """`Placed.items` of an entry: every item it cites when it cites more than one, else none."""
    return entry.items if len(entry.items) > 1 else ()


def given_heading(heading: str | None) -> str | None:
    """A heading the editor gave on the command line, trimmed; None when none was given.

    Raises UsageError for one that is blank (`--heading ''`, `--heading '  '`): an entry without a
    heading is an error every later command stops at, and an empty one must not quietly mean
    "the suggested one" either.
    """
    if heading is None:
        return None
    if not heading.strip():
        raise UsageError(
            "--heading is blank: give the organisation, country or theme the entry stands under, or leave --heading out"
        )
    return heading.strip()


def add_items(
    curation: Curation,
    issue_id: str,
    refs: Iterable[str],
    section: str | None = None,
    heading: str | None = None,
    places: Mapping[str, tuple[str, str]] | None = None,
    to: str | None = None,
) -> list[Placed]:
    """Turn collected items into entries and mark them picked; returns where each went.

    Each goes to `section` and `heading` when given; otherwise to the place the editor's ranking
    suggests (learned from where past issues filed entries like it), and failing that to its
    source's configured section and heading. `places` (item id -> (section, heading)) are
    suggestions a caller already has from a ranking, so it is not computed twice. With `to` (an
    entry ref, as `find_entry` takes it), the items join that entry instead ("se her og her").

    The places returned are those in the file once every item is in: an entry added later above
    an earlier one moves it down, and the refs say so. Raises NewsletterError for an item already
    in the issue, UsageError for an unknown section or `to` with a section or heading.
    """
    heading = given_heading(heading)
    # An item given twice (its id and its URL, or the same id again) is added once.
    found = {item.id: item for item in (item_by_ref(curation, ref) for ref in refs)}
    items = [place(item, curation.feeds, curation.settings) for item in found.values()]
    if to is not None:
        if section or heading:
            raise UsageError("--to adds to an existing entry: it cannot be combined with --section or --heading")
        return _add_to_entry(curation, issue_id, items, to)
    if section:
        curation.require_section(section)
    if places is None and (section is None or heading is None):
        places = learned_places(curation, issue_id, [item.id for item in items if item.status == "new"])
    # An item titled as an entry already under its heading (one document from two sources, or a
    # press release and its report under one name) joins that entry, as `--to` would make it: two
    # entries of one title under one heading are an error, and are one story.
    joins: list[tuple[Item, str]] = []  # (item, the id of an item the entry to join cites)
    with curation.edit(issue_id) as (document, issue):
        used = _used_items(issue, curation.store)
        headings = {key: [entry.heading for entry in entries] for key, entries in issue.sections.items()}
        titled = {
            (key, heading_key(entry.heading), entry.title.strip().lower()): entry.items[0] if entry.items else None
            for key, _position, entry in issue.entries()
        }
        # An entry of the same long title, of the same days, anywhere in the issue is the same story
        # reached through another source (a report on riksrevisjonen.no and the Storting's case about
        # it), whatever place each source suggests: the item goes where that entry stands, so the join
        # below makes them one. A short title ("Årsrapport 2021") is many organisations' own.
        same_story: dict[str, tuple[str, str, dt.date | None]] = {
            _story_key(entry.title): (key, entry.heading, entry.date)
            for key, _position, entry in issue.entries()
            if entry.items and _story_key(entry.title)
        }
        for item in items:
            _refuse_used(issue_id, item, used)
            suggested_section, suggested_heading = (places or {}).get(item.id, (item.section, item.heading))
            story = same_story.get(_story_key(item.title))
            if section is None and heading is None and story and _near(story[2], item.published):
                suggested_section, suggested_heading = story[0], story[1]
            target = section or suggested_section
            if not target:
                raise UsageError(unplaced(curation, item))
            if target not in curation.settings.sections:
                raise UsageError(
                    f"item {item.id}'s source suggests section '{target}', which newsletter.yaml "
                    "does not have; pass --section"
                )
            # The suggested heading in the suggested section; in a section the editor chose, the
            # source's heading, which names its organisation (Europol among the highlights is still
            # Europol), rather than a past heading of another section; "Annet" only when none.
            named = suggested_heading if target == suggested_section else item.heading
            title = heading or named or FALLBACK_HEADING
            if not heading:  # the editor's own name in this issue for the same organisation wins
                title = same_organisation_heading(headings.get(target, []), title, curation.settings) or title
            headings.setdefault(target, []).append(title)
            entry = entry_for(item, title)
            signature = (target, heading_key(title), entry.title.strip().lower())
            if (twin := titled.get(signature)) is not None:
                joins.append((item, twin))
                continue
            titled.setdefault(signature, item.id)  # a note's title (None) stays: the edit says what is wrong
            if _story_key(entry.title):
                same_story.setdefault(_story_key(entry.title), (target, title, item.published))
            position = document.insert_entry(target, entry, curation.heading_order(target))
            used[item.id] = (target, position, False)
        final = document.validate(curation.settings)[0]
    joined = {item.id for item, _twin in joins}  # marked picked by `_add_to_entry` below
    curation.store.set_status([item.id for item in items if item.id not in joined], "picked")
    said = {item.id: _add_to_entry(curation, issue_id, [item], twin)[0] for item, twin in joins}
    if joins:
        final = curation.load(issue_id)[1]
    # Where each stands once every item is in; a joined one with what joining it did (dates, links).
    return [
        replace(_placed(final, item.id), dates=it.dates, unlinked=it.unlinked, joined=True)
        if (it := said.get(item.id))
        else _placed(final, item.id)
        for item in items
    ]


# How alike two items' titles and days must be to be taken for one story filed from two sources.
STORY_WORDS = 5  # a title of fewer words ("Årsrapport 2021", "Høring") is many organisations' own
STORY_DAYS = 7  # published within a week of each other (when both dates are known)


def _story_key(title: str) -> str:
    """A title as two sources of one story write it (case and spacing aside), or "" when it is too short
    to tell one story from another (`STORY_WORDS`)."""
    words = title.casefold().split()
    return " ".join(words) if len(words) >= STORY_WORDS else ""


def _near(day: dt.date | None, other: dt.date | None) -> bool:
    """Whether two days are within `STORY_DAYS` of each other; True when either is unknown."""
    return day is None or other is None or abs((day - other).days) <= STORY_DAYS


def _placed(issue: Issue, item_id: str) -> Placed:
    """Where the entry citing `item_id` stands in `issue`."""
    for key, position, entry in issue.entries():
        if item_id in entry.items:
            extra = entry.items if len(entry.items) > 1 else ()
            return Placed(key, position, entry.heading, entry.title, item_id, extra)
    raise NewsletterError(f"{issue.path}: internal error: item {item_id} was added but is not in the issue")


def _citing_entries(
    issue: Issue, store: Store, elsewhere: Mapping[str, str] | None = None
) -> list[tuple[str, str, int, bool]]:
    """Every citation in an issue: (item, section, position, whether by a link), once per item and entry.

    An entry cites the items it names (`items`); one that names none (written by hand) cites the
    items its links point to (`ranking.link_targets`, `elsewhere` as there; one query for the
    issue). Citations by id come first, then those by a link, each in file order.
    """
    by_id: list[tuple[str, str, int, bool]] = []
    hand = []
    for key, position, entry in issue.entries():
        by_id.extend((item, key, position, False) for item in entry.items)
        if not entry.items:
            hand.append((key, position, links_of(entry.text)))
    targets = link_targets(store, (link for _key, _position, links in hand for link in links), elsewhere)
    by_link = [
        (targets[link], key, position, True) for key, position, links in hand for link in links if link in targets
    ]
    return list(dict.fromkeys([*by_id, *by_link]))  # two spellings of one item's address in an entry: once


def _used_items(issue: Issue, store: Store) -> dict[str, tuple[str, int, bool]]:
    """Every item an issue's entries cite → the first entry citing it: (section, position, whether by a link).

    An id counts first (`_citing_entries`).
    """
    used: dict[str, tuple[str, int, bool]] = {}
    for item, key, position, by_link in _citing_entries(issue, store):
        used.setdefault(item, (key, position, by_link))
    return used


def _refuse_used(issue_id: str, item: Item, used: Mapping[str, tuple[str, int, bool]]) -> None:
    if item.id in used:
        key, position, by_link = used[item.id]
        how = (
            f" (its text links to the item; `newsletter issue add {issue_id} {item.id} --to {key}:{position}` "
            "records the item there)"
            if by_link
            else ""
        )
        raise NewsletterError(f"item {item.id} is already in {issue_id} as {key}:{position}{how}; nothing was written")


def _add_to_entry(curation: Curation, issue_id: str, items: list[Item], ref: str) -> list[Placed]:
    """Let an existing entry cite `items` too; its text gains their links while it is the starting text.

    `accepted: true` says the editor read the starting text and kept it as it stood. A starting
    text that gains links now cites items the editor has not read it against, so the acceptance is
    taken out with the change (`Placed.unaccepted`) and `issue check` asks again. A text the
    editor wrote is never changed here, and an acceptance of it stays.
    """
    with curation.edit(issue_id) as (document, issue):
        key, position, entry = find_entry(issue, ref)
        used = _used_items(issue, curation.store)
        # An entry written by hand cites what its links point to; once it names an item it cites
        # only what it names, so the items its other links point to are named with it: those this
        # entry cites, not one another entry has (named twice, the file would not validate).
        linked = [] if entry.items else linked_items(curation.store, links_of(entry.text))
        linked = [i for i in linked if used.get(i) == (key, position, True)]
        for item in items:
            if used.get(item.id) != (key, position, True):  # linked from this entry's text: record its id
                _refuse_used(issue_id, item, used)
            used[item.id] = (key, position, False)
        cited = list(dict.fromkeys([*entry.items, *linked, *(item.id for item in items)]))
        if len(cited) == 1:  # an entry written by hand, given its one item: `item:`, as `issue add` writes it
            document.set_field(key, position, "item", cited[0], replaces="items")
        else:
            document.set_field(key, position, "items", flow_list(cited), replaces="item")
        before = _stored_items(curation, entry.items)
        unaccepted = False
        # The starting text as `issue check` knows it (also the first item's alone, or an older version's).
        if before and _is_starting_text(entry.text, before):
            text = starting_text(*before, *items)
            if text.strip() != entry.text.strip():
                document.set_field(key, position, "text", LiteralScalarString(text + "\n") if "\n" in text else text)
                if entry.accepted:
                    document.delete_field(key, position, "accepted")
                    unaccepted = True
        dates = _dates_joined(entry, [*before, *items])
        for name, value in dates.gained.items():
            document.set_field(key, position, name, value)
        final = document.validate(curation.settings)[0]
        # A text the editor wrote is left as it is: the items it does not link to are cited by id alone,
        # and readers of the entry never get their link unless the editor adds it.
        unlinked: tuple[str, ...] = ()
        if not (before and _is_starting_text(entry.text, before)):
            in_text = set(linked_items(curation.store, links_of(entry.text), curation.recorded_keys()))
            unlinked = tuple(item.id for item in items if item.id not in in_text)
    curation.store.set_status([*linked, *(item.id for item in items)], "picked")
    return [
        replace(_placed(final, item.id), unaccepted=unaccepted, dates=dates, unlinked=unlinked, joined=True)
        for item in items
    ]


# An entry's dates a collected item knows: a consultation's answer-by day and an event's day.
_ITEM_DATES = ("deadline", "event_date")


@dataclass(frozen=True)
class JoinedDates:
    """What citing more items did to an entry's dates (`_dates_joined`), by field of `_ITEM_DATES`."""

    gained: Mapping[str, dt.date] = field(default_factory=dict)  # lacked, and its items give one day: taken
    kept: Mapping[str, tuple[dt.date, ...]] = field(default_factory=dict)  # its own day, and its items' others
    unset: Mapping[str, tuple[dt.date, ...]] = field(default_factory=dict)  # lacked, and its items disagree


def _dates_joined(entry: Entry, items: Sequence[Item]) -> JoinedDates:
    """What an entry citing `items` (all it cites now) takes of their dates, and where they differ.

    A news entry joined by the consultation it announces takes the consultation's deadline, which
    `issue check` and every output show. An entry's own day stays, and its items' other days are
    named; where it has none and its items give several, which one it means is the editor's call.
    """
    gained: dict[str, dt.date] = {}
    kept: dict[str, tuple[dt.date, ...]] = {}
    unset: dict[str, tuple[dt.date, ...]] = {}
    for name in _ITEM_DATES:
        days = tuple(dict.fromkeys(day for item in items if (day := getattr(item, name)) is not None))
        current = getattr(entry, name)
        if current is None and len(days) == 1:
            gained[name] = days[0]
        elif current is None and days:
            unset[name] = days
        elif current is not None and (other := tuple(day for day in days if day != current)):
            kept[name] = other
    return JoinedDates(gained, kept, unset)


def linked_from(curation: Curation, text: str) -> list[Item]:
    """The collected items an entry's Markdown text links to (`ranking.link_targets`), in order.

    What a note written by hand cites: `issue note` names them, so the editor sees a pasted address
    was recognised (and the item is no longer a candidate). An item the store lacks and a decisions
    record holds (an earlier quarter collected on another machine) comes from its record's line.
    """
    ids = linked_items(curation.store, links_of(text), curation.recorded_keys())
    stored = {item.id: item for item in _stored_items(curation, ids)}
    recorded = curation.recorded_items()
    return [stored[i] if i in stored else recorded[i].as_item() for i in ids if i in stored or i in recorded]


def same_organisation_heading(headings: Iterable[str], heading: str, settings: Settings) -> str | None:
    """Of a section's `headings` in an issue, the first that names what `heading` names, or None.

    The same heading in another case or spacing, or another name of the same organisation
    (newsletter.yaml `organisations`: its name and aliases, so "GRETA" and "Europarådet og GRETA"
    are one): an item added under "GRETA" then joins the editor's "Europarådet og GRETA" instead
    of opening a second heading for one organisation beside it. Not the organisation's other
    `headings`: "Representantforslag" is one kind of Stortinget's documents, not its name, and
    the newsletter keeps it apart from "Stortinget".
    """
    wanted = heading_key(heading)
    headings = list(headings)
    same_words = [existing for existing in headings if heading_key(existing) == wanted]
    if same_words:  # the heading itself before another name for it
        return same_words[0]
    names = [o.names() for o in settings.archive.organisations]
    for existing in headings:
        if any({heading_key(existing), wanted} <= same for same in names):
            return existing
    return None


def item_by_ref(curation: Curation, ref: str) -> Item:
    """The item an editor's reference names: its id, an unambiguous prefix, or its URL (any spelling
    collection takes for the same page). Raises NotFound, saying why, for one that names none: also
    for an address that cannot be parsed (`http://[::1`), which is no item's."""
    try:
        key = reference_key(ref)
    except ValueError as exc:
        raise NotFound(f"'{ref}' is no item id, and no address either ({exc}); `newsletter items` lists them") from None
    # An address is read as an entry's link is: a fragment first finds the item collected with it.
    target = link_targets(curation.store, [ref.strip()]).get(ref.strip()) if key is not None else None
    return curation.store.get_item(target or ref, None if target else key)


def _stored_items(curation: Curation, ids: Iterable[str]) -> list[Item]:
    """The stored items of these ids, in order; an id the store lacks is left out."""
    found = []
    for item_id in ids:
        with contextlib.suppress(NotFound):
            found.append(curation.store.get_item(item_id))
    return found


def add_note(
    curation: Curation,
    issue_id: str,
    section: str,
    heading: str,
    text: str,
    title: str = "",
    date: dt.date | None = None,
    event_date: dt.date | None = None,
    deadline: dt.date | None = None,
) -> Placed:
    """A hand-written entry: the unit's own activities, meetings, publications.

    A collected item its text links to (an address pasted in) is cited by it, as by `issue add`,
    and marked picked: it leaves the inbox, and the ranking learns from it at once (the editor
    sees which, from `linked_from`).

    Raises UsageError for a text with a link no reader could open (`_link_problems`: `issue check`
    would call it an error), naming each; nothing is written.
    """
    curation.require_section(section)
    if not heading.strip():
        raise UsageError("a note needs a --heading")
    if not text.strip():
        raise UsageError("a note needs a --text")
    # A link no reader can open would be an error at `issue check` and stop the build: refused now, with
    # nothing written, while the editor still has the text at hand.
    if faults := [message for level, message, _ in _link_problems(text, "the text") if level == "error"]:
        if len(faults) == 1:
            raise UsageError(f"the text {faults[0]}; nothing was written")
        each = "; ".join(f"({n}) it {fault}" for n, fault in enumerate(faults, 1))
        raise UsageError(f"the text has {counted(len(faults), 'link problem')}: {each}; nothing was written")
    entry = Entry(
        heading=heading.strip(),
        title=title.strip(),
        text=text.strip(),
        date=date,
        event_date=event_date,
        deadline=deadline,
    )
    with curation.edit(issue_id) as (document, _issue):
        position = document.insert_entry(section, entry, curation.heading_order(section))
    # An id only a decisions record holds (the store no longer has it) changes nothing.
    curation.store.set_status(linked_items(curation.store, links_of(entry.text), curation.recorded_keys()), "picked")
    return Placed(section, position, entry.heading, entry.title)


NOTE_TEMPLATE_HELP = (
    "# Write the note above these lines, in Markdown; links as [se her](https://…), words in\n"
    "# another language as [Third country posted workers]{{lang=en}}.\n"
    "# Lines starting with '#' are left out. Save and close the editor to add the note\n"
    "# to {issue} (section {section}, heading '{heading}'); an empty note adds nothing.\n"
)


def note_template(issue_id: str, section: str, heading: str, text: str = "") -> str:
    """What `issue note --edit` opens in $EDITOR: the text so far, then how to write it (comment lines)."""
    body = text.strip() + "\n" if text.strip() else "\n"
    return body + "\n" + NOTE_TEMPLATE_HELP.format(issue=issue_id, section=section, heading=heading)


def note_from_template(edited: str | None) -> str:
    """The note's text from an edited template: comment lines left out, blank lines at the ends trimmed.

    Raises NewsletterError when the editor was left without saving (`edited` None) or the text is empty.
    """
    if edited is None:
        raise NewsletterError("the editor was closed without saving; nothing was written")
    text = "\n".join(line for line in edited.splitlines() if not line.startswith("#")).strip()
    if not text:
        raise NewsletterError("the note is empty; nothing was written")
    return text


# ---------------------------------------------------------------------- remove, move


_PLACE_REF = re.compile(r"([a-z0-9_-]+):(\d+)")  # an entry named by its place, `section:position`


def find_entry(issue: Issue, ref: str) -> tuple[str, int, Entry]:
    """An entry by `section:position` (as `issue show` prints it) or by an item id it cites.

    An item id stays right however entries move, so it may be given wherever a ref is taken; so may
    an unambiguous prefix of at least `MIN_PREFIX` characters. Raises NotFound otherwise.
    """
    ref = ref.strip()
    match = _PLACE_REF.fullmatch(ref)
    if match:
        key, position = match.group(1), int(match.group(2))
        entries = issue.sections.get(key)
        if entries is None:
            raise NotFound(f"no section '{key}' in {issue.id}")
        if not 1 <= position <= len(entries):
            raise NotFound(f"{issue.id} has no entry {ref} (section {key} has {len(entries)} entries)")
        return key, position, entries[position - 1]
    wanted = ref.lower()
    exact = [(k, p, e) for k, p, e in issue.entries() if wanted in e.items]
    if len(exact) > 1:
        # A block pasted twice: the id would name whichever comes first, perhaps the one the editor wrote.
        refs = " and ".join(f"{k}:{p}" for k, p, _ in exact)
        raise NotFound(f"item {wanted} is cited by {refs} in {issue.id}: name the entry by its place (section:N)")
    prefixed = [
        (k, p, e)
        for k, p, e in issue.entries()
        if len(wanted) >= MIN_PREFIX and any(i.startswith(wanted) for i in e.items)
    ]
    if exact or len(prefixed) == 1:
        return (exact or prefixed)[0]
    if prefixed:
        refs = ", ".join(f"{k}:{p}" for k, p, _ in prefixed)
        raise NotFound(f"'{ref}' matches several entries of {issue.id} ({refs}); type more of the item id")
    raise NotFound(
        f"no entry '{ref}' in {issue.id}; give section:position or an item id, as `newsletter "
        f"issue show {issue.id}` prints them"
    )


def cited_elsewhere(curation: Curation, issue_id: str, item_ids: Iterable[str]) -> dict[str, list[str]]:
    """Of `item_ids`, those another issue's entries cite → the ids of those issues, oldest first."""
    wanted = set(item_ids)
    found: dict[str, list[str]] = {}
    for other in list_issue_ids(curation.workspace.issues_dir):
        if other != issue_id:
            for item in wanted.intersection(curation.cited_items(other)):
                found.setdefault(item, []).append(other)
    return found


def remove_entries(
    curation: Curation, issue_id: str, refs: Iterable[str], skip: bool = True, keep_all: bool = False
) -> Removed:
    """Take entries out of the issue; the items they came from are skipped, or with `skip=False` go
    back to the inbox undecided.

    Taking an item out of the issue is a decision about it: skipped, it stays out of the list, out
    of a later `draft` (which would otherwise add a likely pick again), and the ranking learns
    from it; `skip=False` is for an item to be filed again by hand. An item another issue cites
    is that issue's pick still, and stays picked. Every ref is found before anything changes
    (refs by `section:position` name the places as the file stands), a ref given twice is taken
    once; the entries returned are in the order given. The lines of those the editor wrote (every one, with
    `keep_all`) are kept in var/removed-entries/ (`_keep_removed`). Raises NotFound for a ref naming no entry,
    and NewsletterError when a ref is one of several items an entry cites (the entry, its text
    and the other items would go with it); nothing is changed then.
    """
    with curation.edit(issue_id, mending=True) as (document, issue):
        found: dict[tuple[str, int], Entry] = {}
        for ref in refs:
            key, position, entry = find_entry(issue, ref)
            if len(entry.items) > 1 and not _PLACE_REF.fullmatch(ref.strip()):
                # Named by one of its items, the entry would take the others, and its text, with it.
                raise NewsletterError(
                    _one_of_several(issue_id, curation.path(issue_id), ref, key, position, entry, skip=skip)
                )
            found.setdefault((key, position), entry)
        # From the last place up, so each place still names the entry it named when given.
        blocks = {place: document.pop_entry(*place) for place in sorted(found, key=lambda p: (p[0], -p[1]))}
        written = [place for place, entry in found.items() if keep_all or _written_by_editor(curation, entry)]
        # Before the file is saved: if the text cannot be kept, nothing is removed.
        kept_in = _keep_removed(curation, issue_id, {place: blocks[place] for place in written}) if written else None
    # An entry written by hand cites the items its links point to (`Curation.cited_items`).
    hand_links = [link for entry in found.values() if not entry.items for link in links_of(entry.text)]
    linked = linked_items(curation.store, hand_links, curation.recorded_keys()) if hand_links else []
    items = [*(item for entry in found.values() for item in entry.items), *linked]
    kept = cited_elsewhere(curation, issue_id, items)
    still = set(curation.cited_items(issue_id))  # another entry of this issue links to it too
    released = [item for item in dict.fromkeys(items) if item not in kept and item not in still]
    # An id the store does not hold (an entry written by hand) changes nothing.
    curation.store.set_status(released, "skipped" if skip else "new")
    placed = [
        Placed(key, position, entry.heading, entry.title, entry.item, _several(entry))
        for (key, position), entry in found.items()
    ]
    return Removed(placed, list(dict.fromkeys(items)), kept_in)


@dataclass(frozen=True)
class Removed:
    """What `remove_entries` took out: the entries (as they stood), and every item they cited, by id or
    by a link, once each in order (skipped, undecided or still picked: the store says which); and the
    file keeping the removed entries whose text the editor wrote, if any (`_keep_removed`)."""

    entries: list[Placed]
    items: list[str]
    kept_in: Path | None = None


REMOVED_ENTRIES = "removed-entries"  # in var/: what `remove_entries` took out that the editor wrote


def _written_by_editor(curation: Curation, entry: Entry) -> bool:
    """Whether an entry holds words the editor wrote: a note, a text other than the starting text, or a
    title other than its first item's (`entry_for` gives it that one)."""
    if not entry.items:
        return True
    cited = _stored_items(curation, entry.items)
    if len(cited) != len(entry.items) or not _is_starting_text(entry.text, cited):
        return True
    return " ".join(entry.title.split()) != " ".join(cited[0].title.split())


def _keep_removed(curation: Curation, issue_id: str, blocks: Mapping[tuple[str, int], list[str]]) -> Path:
    """Keep removed entries' lines of YAML (as the issue file had them) in var/removed-entries/ID-TIME.yaml,
    to paste back into the file after a slip (a ref that had shifted, say), each under a comment
    naming where it stood ({(section key, 1-based position): lines}). Raises NewsletterError
    when the file cannot be written: then the caller removes nothing."""
    path = curation.workspace.var / REMOVED_ENTRIES / f"{issue_id}-{clock.now():%Y%m%dT%H%M%S%f}.yaml"
    header = f"# Entries taken out of {issue_id} by `newsletter issue remove`; paste one back under its section.\n"
    kept = [
        f"# was {key}:{position}: paste it under `{key}:` in the issue file, as entry {position}\n" + "".join(block)
        for (key, position), block in sorted(blocks.items())
    ]
    try:
        atomic_write(path, header + "".join(kept))
    except OSError as exc:
        raise NewsletterError(
            f"the removed entries' text could not be kept in {path} ({exc.strerror or exc}); nothing was removed"
        ) from exc
    return path


def item_statuses(curation: Curation, item_ids: Iterable[str]) -> dict[str, str]:
    """{item id: its status in the store} for the ids the store holds, in the order given, once each."""
    statuses: dict[str, str] = {}
    for item_id in dict.fromkeys(item_ids):
        with contextlib.suppress(NotFound):
            statuses[item_id] = curation.store.get_item(item_id).status
    return statuses


def _one_of_several(
    issue_id: str, path: Path, item: str, key: str, position: int, entry: Entry, skip: bool = True
) -> str:
    """The refusal to take out a whole entry for one of the several items it cites, and what to do.

    `skip`: whether the command refused (`issue remove`, `issue skip`, `issue unskip`) was to skip the
    item or to leave it undecided; the commands offered do the same, to this item or to the entry's.
    """
    wanted = item.strip().lower()
    mine = next((i for i in entry.items if i.startswith(wanted)), wanted)
    others = ", ".join(i for i in entry.items if i != mine)
    # An id deleted by hand leaves the item marked picked: the status command is the rest of the decision.
    then = f"`newsletter issue skip {mine}`" if skip else f"`newsletter issue unskip {mine}`"
    whole = _remove_command(issue_id, f"{key}:{position}", skip)
    return (
        f"item {item} is one of the {len(entry.items)} items {key}:{position} cites (with {others}); removing "
        f"the entry would take them and its text too: to drop only this item, delete its id from the entry's "
        f"`items:` in {path}, then {then}; to remove the whole entry, {whole}; nothing was changed"
    )


def _remove_command(issue_id: str, ref: str, skip: bool = True) -> str:
    """The `issue remove` that takes entry `ref` out and skips its items, or (`skip=False`) leaves them undecided.

    Which is the editor's call in words the message gives: an entry not wanted skips its items, so a
    later `draft` does not add them back; one that belongs to another issue, or was added by a slip,
    leaves them undecided, so they stay on their own quarter's list.
    """
    return f"`newsletter issue remove {issue_id} {ref}{'' if skip else ' --undecided'}`"


def move_entry(
    curation: Curation,
    issue_id: str,
    ref: str,
    section: str | None = None,
    heading: str | None = None,
    before: str | None = None,
    run: bool = False,
) -> Placed:
    """Move an entry to a section (and heading), at its heading's place or before another entry.

    Without `section` the entry stays in its own (a new heading, or a new place, is move enough).
    With `run`, the entries next to it under the same heading (`models.heading_runs`) go with it, in
    their order: a heading's whole block moved in one command, as `issue check` advises for headings
    out of order. Returns the place the named entry went to, with `moved` the entries moved.
    Entries a draft added count as the editor's once moved (`unconfirmed_drafts` no longer names them).
    Raises UsageError for a `before` in another section or inside the run being moved.
    """
    if section is not None:
        curation.require_section(section)
    heading = given_heading(heading)
    with curation.edit(issue_id, mending=True) as (document, issue):
        key, position, entry = find_entry(issue, ref)
        positions = [position]
        if run:
            positions = next(
                [p for p, _e in members]
                for _heading, members in heading_runs(issue.sections[key])
                if any(p == position for p, _e in members)
            )
        section = section or key
        before_position = None
        if before:
            before_key, before_position, _ = find_entry(issue, before)
            if before_key != section:
                raise UsageError(f"--before {before} is in section {before_key}, not {section}")
            if before_key == key and before_position in positions[1:]:
                raise UsageError(f"--before {before} is one of the entries moved with {ref} (--run)")
            if before_key == key and before_position == positions[0] and heading is None:
                what = f"{ref} and the entries moved with it (--run)" if len(positions) > 1 else ref
                raise UsageError(f"--before {before}: {what} stand there already; nothing was moved")
            if before_key == key:
                before_position -= sum(1 for p in positions if p < before_position)  # the list shrinks
        # From the last up, so each position still names its entry; put back in their order.
        blocks = [document.pop_entry(key, p) for p in reversed(positions)][::-1]
        new_heading = heading or entry.heading
        if before_position is not None:
            index = before_position - 1
        else:
            entries = document.entries_of(section)  # the parsed YAML list
            index = insertion_index(entries, new_heading, curation.heading_order(section))
        for offset, block in enumerate(blocks):
            document.move_block(block, section, index + offset, heading)
        moved_items = {item for p in positions for item in issue.sections[key][p - 1].items}
    # A drafted entry the editor moves is placed by the editor, so kept: a decision the ranking learns
    # from, and one `draft --undo` leaves.
    if (drafted := _drafted(curation, issue_id)) & moved_items:
        _remember_drafted(curation, issue_id, drafted, _drafted(curation, issue_id, moved=True) | moved_items)
    # Where the named entry went: its place within the block moved with it.
    at = index + 1 + positions.index(position)
    return Placed(section, at, new_heading, entry.title, entry.item, _several(entry), moved=len(blocks))


def accept_entries(curation: Curation, issue_id: str, refs: Iterable[str]) -> list[Placed]:
    """Keep the entries' starting texts as they are: `accepted: true`, so `check_issue` stops asking.

    Raises NotFound for a ref that names no entry (nothing is written then).
    """
    with curation.edit(issue_id) as (document, issue):
        found = {}
        for ref in refs:
            key, position, entry = find_entry(issue, ref)
            found[(key, position)] = entry
        for (key, position), entry in found.items():
            if not entry.accepted:
                document.set_field(key, position, "accepted", True)
    return [
        Placed(key, position, entry.heading, entry.title, entry.item, _several(entry), unchanged=entry.accepted)
        for (key, position), entry in found.items()
    ]


# ---------------------------------------------------------------------- skip, draft


def _read_error(curation: Curation, issue_id: str) -> IssueFileError | None:
    """The error that keeps an issue file from being read, or None (reads it once, through `uses`)."""
    curation.uses(issue_id)
    return curation.unreadable(issue_id)


def set_item_status(curation: Curation, refs: Iterable[str], status: str) -> list[Item]:
    """Skip or unskip items (skipped items stay out of the inbox, next quarter too); returns the
    items as they were before (their `status` the old one), each once.

    An item an issue cites is that issue's, not the inbox's: NewsletterError naming the issue and
    the entry (and whether it was sent), and no status changes. One an entry cites only by a link
    in its text (an entry written in the file by hand keeps its status `new`; `issue note` marks it
    picked) is let through for an unskip: whatever its status, the link cites it.
    """
    refs = list(refs)
    if issues := [ref for ref in refs if ISSUE_ID.match(ref.strip().lower())]:
        # `issue skip 2022-q2 ITEM`, the mirror of `issue add 2022-q2 ITEM`: a skip is the item's,
        # in every quarter, so the command takes no issue; said before any item is looked up.
        verb = "skip" if status == "skipped" else "unskip"
        rest = " ".join(ref for ref in refs if ref not in issues) or "ITEM..."
        raise UsageError(
            f"'{issues[0]}' is an issue id; `issue {verb}` takes only items (a skip holds in every "
            f"quarter): `newsletter issue {verb} {rest}`; nothing was changed"
        )
    items = list({item.id: item for item in (item_by_ref(curation, ref) for ref in refs)}.values())
    for item in items:
        _refuse_cited(curation, item, status)
    curation.store.set_status([item.id for item in items], status)
    return items


def _refuse_cited(curation: Curation, item: Item, status: str) -> None:
    skipping = status == "skipped"  # else unskipping: the way out leaves the item undecided too
    for issue_id in list_issue_ids(curation.workspace.issues_dir):
        if (error := _read_error(curation, issue_id)) is not None:
            raise NewsletterError(f"{error}; it may cite item {item.id}: fix it first; nothing was changed")
        if item.id not in curation.cited_items(issue_id):
            continue
        issue = curation.load_lenient(issue_id)[1]
        used = _used_items(issue, curation.store)
        if item.id not in used:  # one rule makes both (`cited_items`, `_used_items`): not to happen
            continue
        key, position, by_link = used[item.id]
        if by_link and status != "skipped":
            continue  # the link cites it, whatever its status says: unskipping it takes nothing away
        if issue_id in curation.store.sent_issue_ids():
            raise NewsletterError(
                f"item {item.id} is in {issue_id} as {key}:{position}, which was sent; nothing was changed"
            )
        if by_link:  # removing the entry would lose the editor's own text, and its other links
            raise NewsletterError(
                f"item {item.id} is in {issue_id} as {key}:{position}, whose text links to it; take the link "
                f"out of that text first ({curation.path(issue_id)}); nothing was changed"
            )
        entry = issue.sections[key][position - 1]  # read once, above
        if len(entry.items) > 1:
            raise NewsletterError(
                _one_of_several(issue_id, curation.path(issue_id), item.id, key, position, entry, skip=skipping)
            )
        raise NewsletterError(
            f"item {item.id} is in {issue_id} as {key}:{position}: {_remove_command(issue_id, item.id, skipping)} "
            f"takes it out and {'skips it' if skipping else 'puts it back among the candidates'}; nothing was changed"
        )


def ranked_candidates(
    curation: Curation,
    issue_id: str,
    query: InboxQuery | None = None,
    learn_from_later: bool = False,
    unconfirmed: tuple[str, ...] | None = None,
) -> tuple[list[Item], Ranking]:
    """The quarter's undecided candidates, best first by the editor's ranking, and the ranking itself.

    `unconfirmed` are items of the issue not to learn from (see `ranking.rank_quarter`); None: those
    of the entries drafts added that the editor has not touched (`unconfirmed_drafts`), so `items`,
    `show`, triage and `draft` rank alike, none lifted by the draft's own guesses."""
    if unconfirmed is None:
        unconfirmed = unconfirmed_drafts(curation, issue_id)
    since, until = quarter_bounds(issue_id)
    query = replace(query or InboxQuery(statuses=("new",)), since=since, until=until, issue=issue_id)
    exists = curation.path(issue_id).exists()
    in_issue = tuple(curation.cited_items(issue_id)) if exists else ()
    if (error := curation.unreadable(issue_id)) is not None:
        # Said, not passed over: the items the issue cites would otherwise be offered again unremarked.
        log.warning("%s; until it is fixed, items it cites that are not marked picked are listed as undecided", error)
    for problem in curation.unread_sections(issue_id):
        log.warning(
            "%s; until it is fixed, the entries under it are not read: items they cite that are not marked picked "
            "are listed as undecided",
            problem,
        )
    # An item another issue cites was picked there: not a candidate here (`issue check` warns of reuse).
    # The ranking reads the earlier issues itself (its history); only the later ones are read here.
    elsewhere = tuple(
        item
        for other in list_issue_ids(curation.workspace.issues_dir)
        if other > issue_id
        for item in curation.cited_items(other)
    )
    return ranked_inbox(
        curation.store,
        curation.feeds,
        curation.settings,
        curation.workspace.issues_dir,
        query,
        in_issue,
        learn_from_later,
        elsewhere,
        curation.records(),
        unconfirmed,
        curation.filed_items(issue_id) if exists else {},
    )


@dataclass(frozen=True)
class Recorded:
    """What `record_decisions` wrote: the file, how many items it holds per decision, and a warning
    for the editor when the record holds no pick though the issue has entries."""

    path: Path
    counts: dict[str, int]
    warning: str | None = None


class NothingToRecord(NewsletterError):
    """The store holds no item of the issue's quarter, so `record_decisions` wrote nothing: the same on
    every attempt until the items are collected, so a caller retrying (each `send` run) says it once."""


def record_decisions(curation: Curation, issue_id: str) -> Recorded:
    """Keep the quarter's decisions beside the issue: issues/<id>.decisions.jsonl (see `decisions`).

    Every item of the issue's quarter in the store (`inbox.quarter_items`), picked when the issue
    cites it (`Curation.cited_items`) or it is marked picked, skipped when skipped, left out
    otherwise. Written anew each time, so recording again after a change of the issue is safe.
    Raises NotFound when the issue file does not exist, NewsletterError when the issue file cannot
    be read (naming its file and line), or when the record cannot be written, and NothingToRecord when
    the store holds no item of the quarter (a record of nothing would hide an earlier, fuller one). A record
    with no pick though the issue has entries is written, with a warning (`Recorded.warning`):
    the ranking takes no share of picks from it, and learns only what was left out.
    """
    path = curation.path(issue_id)
    if not path.exists():
        raise NotFound(f"no issue {issue_id} ({path}); create it with `newsletter issue new {issue_id}`")
    curation.uses(issue_id)  # reads the file once; an unreadable one cites nothing, and is said so
    if (error := curation.unreadable(issue_id)) is not None:
        raise NewsletterError(f"{error}; fix it, then record {issue_id} again")
    items = quarter_items(curation.store, curation.settings, issue_id)
    target = record_path(curation.workspace.issues_dir, issue_id)
    if not items:
        since, until = quarter_bounds(issue_id)
        kept = f"{target.name} is left as it is" if target.exists() else "no record written"
        raise NothingToRecord(
            f"the store holds no item of {issue_id}'s quarter ({since} to {until}): nothing to record, "
            f"{kept}; record it on the machine whose store collected that quarter"
        )
    cited = set(curation.cited_items(issue_id))
    keys = curation.store.keys_by_id(item.id for item in items)
    lines = [decided(item, keys[item.id], article_text(curation.store, item), item.id in cited) for item in items]
    try:
        counts = write_record(target, lines)
    except OSError as exc:
        raise NewsletterError(f"cannot write {target}: {exc.strerror or exc}") from None
    warning = None
    if not counts["picked"] and _has_entries(curation, issue_id):
        warning = (
            f"none of {issue_id}'s entries cites an item this store collected in its quarter, so the record "
            "holds no pick and teaches the ranking only what was left out; if the issue's items were "
            "collected on another machine, record it there, or cite them here (`newsletter issue add "
            f"{issue_id} ITEM --to SECTION:POSITION`, or their links in the entries' text)"
        )
    return Recorded(target, counts, warning)


def _has_entries(curation: Curation, issue_id: str) -> bool:
    """Whether the issue (readable: `Curation.uses` read it) has any entry."""
    try:
        issue, _ = IssueDocument.load(curation.path(issue_id)).validate(curation.settings)
    except IssueFileError:
        return False
    return any(True for _ in issue.entries())


def learned_places(curation: Curation, issue_id: str, item_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Where the editor's ranking of `issue_id`'s quarter suggests filing each of the undecided items.

    Maps item id to (section, heading); an item the ranking does not list (decided, or outside the
    quarter), or a ranking with nothing learned, is left out: the caller falls back to the source.
    """
    wanted = set(item_ids)
    if not wanted:
        return {}
    ranked, ranking = ranked_candidates(curation, issue_id, InboxQuery(statuses=("new",), include_all=True))
    if not ranking.learned:
        return {}
    return {item.id: (item.section, item.heading) for item in ranked if item.id in wanted}


def ranked_item(curation: Curation, ref: str) -> Item:
    """One item, with its probability of a pick and `why` when it is undecided and its quarter is ranked.

    The quarter is that of the item's publication date (or, undated, of the day it was first seen,
    in the configured time zone); its section and heading are the ranking's suggestion. A picked or
    skipped item, or one whose quarter has nothing to learn from, comes back with `probability`
    None and the source's section and heading. Raises NotFound for an unknown reference.
    """
    item = place(item_by_ref(curation, ref), curation.feeds, curation.settings)
    day = item.published or (clock.local_date(item.first_seen, curation.settings.timezone) if item.first_seen else None)
    if item.status != "new" or day is None:
        return item
    ranked, ranking = ranked_candidates(curation, issue_id_for(day), InboxQuery(statuses=("new",), include_all=True))
    if not ranking.learned:
        return item
    return next((other for other in ranked if other.id == item.id), item)


@dataclass(frozen=True)
class Citation:
    """One entry of an issue citing an item: by its id (`issue add`) or by a link in its text."""

    issue: str
    entry: str  # section:position, as `issue show` prints it
    by: str  # "id" or "link"
    heading: str = ""  # the entry's

    def __str__(self) -> str:
        return f"{self.issue} {self.entry} (by {self.by})"

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {"issue": self.issue, "entry": self.entry, "by": self.by, "heading": self.heading}


def citations(curation: Curation, item_id: str) -> list[Citation]:
    """Every entry of every issue that cites an item, oldest issue first, each entry once.

    By its id (`issue add`) or by a link to it in the text of an entry naming no item (written by
    hand), as `Curation.cited_items` counts; an item linked in the file by hand is still `new` by its status, and
    this is where the editor sees that it is taken. An item one entry names and another links to
    is listed at both: the second is a duplicate to look at. An issue file that cannot be read is
    left out.
    """
    out = []
    for issue_id in list_issue_ids(curation.workspace.issues_dir):
        if item_id not in curation.cited_items(issue_id):
            continue
        issue = curation.load_lenient(issue_id)[1]
        cited = [c for c in _citing_entries(issue, curation.store, curation.recorded_keys()) if c[0] == item_id]
        # In the order of the issue (its sections as configured), not ids before links.
        order = {(key, position): n for n, (key, position, _entry) in enumerate(issue.entries())}
        headings = {(key, position): entry.heading for key, position, entry in issue.entries()}
        for _item, key, position, by_link in sorted(cited, key=lambda c: order[c[1], c[2]]):
            out.append(Citation(issue_id, f"{key}:{position}", "link" if by_link else "id", headings[key, position]))
    return out


def unplaced(curation: Curation, item: Item) -> str:
    """Why nothing suggests a section for `item`, and what to do: its source is not in feeds.yaml (taken
    out since it was collected), and no past pick is like it, so it has no place to go unless the
    editor names one."""
    return (
        f"item {item.id} has no section to go in: its source '{item.source}' is not in {curation.feeds.path} "
        "(any more) and no past pick is like it; pass --section (one of "
        f"{', '.join(curation.settings.sections)}), or list the source again"
    )


def no_candidates(curation: Curation, issue_id: str) -> str:
    """Why the quarter of `issue_id` offers no candidate, in words, for when `ranked_candidates` finds none.

    Nothing collected was published in it; every item is decided (picked, skipped, or cited by
    this or another issue); or the undecided ones score below the keyword threshold while nothing
    is learned yet (`items --issue ID --all` lists them). Counts every item of the quarter and
    ranks nothing: one read of the quarter's rows.
    """
    since, until = quarter_bounds(issue_id)
    cited = {item for other in list_issue_ids(curation.workspace.issues_dir) for item in curation.cited_items(other)}
    query = InboxQuery(since=since, until=until, statuses=(), include_all=True)
    statuses = [
        item.status != "new" or item.id in cited
        for item in iter_inbox(curation.store, curation.feeds, curation.settings, query)
    ]
    decided, undecided = statuses.count(True), statuses.count(False)
    if not statuses:
        span = curation.store.published_span()
        if span is None:
            return f"{issue_id}'s quarter has no collected items; `newsletter collect` fetches them"
        if span[0] <= until and span[1] >= since:
            # A gap: collect did not run while the quarter's items were in the feeds (they list only
            # recent ones), so collecting now will not bring them.
            return (
                f"{issue_id}'s quarter ({since:%Y-%m-%d} to {until:%Y-%m-%d}) has no collected items, though the "
                f"store holds items published before and after it ({span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}): "
                "collect did not run while the sources listed them; add the quarter's news by hand "
                f"(`newsletter issue note {issue_id}`)"
            )
        # Collecting again does not help a quarter the sources no longer list: say what the store holds.
        return (
            f"{issue_id}'s quarter ({since:%Y-%m-%d} to {until:%Y-%m-%d}) has no collected items; the store holds "
            f"items published from {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}: check the issue id, or run "
            "`newsletter collect` if the quarter is newer than the last collect (feeds list only recent items)"
        )
    if not undecided:
        return f"every item of {issue_id}'s quarter is decided ({decided} picked or skipped)"
    return (
        f"{undecided} undecided item{'s' if undecided > 1 else ''} of {issue_id}'s quarter "
        f"score{'' if undecided > 1 else 's'} below the keyword threshold, with nothing learned yet; "
        f"`newsletter items --issue {issue_id} --all` lists {'them' if undecided > 1 else 'it'}"
    )


@dataclass
class Draft:
    """What `draft` added, and, when it added nothing, the best candidate it left out (if any)."""

    placed: list[Placed]
    best: Item | None = None  # the most likely candidate, when none reached the bar (`draft`'s `likely`)
    # Undecided candidates never drafted, each with why: the newsletter's own issue, or its source's
    # section missing from newsletter.yaml.
    left_out: list[tuple[Item, str]] = field(default_factory=list)
    none: str = ""  # with no candidate at all, why (`no_candidates`)
    expected: float = 0.0  # likely picks among the undecided (`Ranking.unread_estimate`), when learned
    undecided: int = 0  # the undecided items ranked
    unconfirmed: int = 0  # items of entries earlier drafts added, untouched, not learned from (`draft`)


def _not_drafted(item: Item, name: str, settings: Settings, issue_id: str) -> str | None:
    """Why `draft` never files `item`, in words with what to do, or None when it may."""
    from newsletter.curate.ranking import is_own_issue

    if is_own_issue(item.title, name):
        return "an issue of the newsletter itself"
    if item.section in settings.sections:
        return None
    fix = f" (`newsletter issue add {issue_id} {item.id} --section KEY` files it)"
    if item.section:
        return f"its source files it in section '{item.section}', which newsletter.yaml does not have{fix}"
    return f"no source in feeds.yaml gives it a section{fix}"


def draft(
    curation: Curation, issue_id: str, min_score: float | None = None, likely: float = DRAFT_PROBABILITY
) -> Draft:
    """Add the quarter's likely picks into their suggested sections.

    With a learned ranking, the items whose probability of a pick (0–1) reaches `likely`; with
    the keyword order, every candidate (at or above `min_score`), as before learning existed. The
    ranking learns from the editor's decisions, not from entries an earlier draft added that are
    still as it wrote them (kept in var/drafted/ID.txt): drafting again after pruning adds what
    the pruning did not rule out, and what came in since, not a further round lifted by the first
    one's guesses. Never
    an issue of this newsletter itself (`ranking.is_own_issue`). The issue is read first, so a
    missing or broken issue file is an error (IssueFileError) even when nothing would be added.
    """
    from newsletter.curate.ranking import own_name

    _document, issue = curation.load(issue_id)
    drafted = _drafted(curation, issue_id)
    unconfirmed = unconfirmed_drafts(curation, issue_id, issue)
    query = InboxQuery(statuses=("new",), min_score=min_score)
    ranked, ranking = ranked_candidates(curation, issue_id, query, unconfirmed=unconfirmed)
    name = own_name(curation.settings)
    reasons = {i.id: why for i in ranked if (why := _not_drafted(i, name, curation.settings, issue_id))}
    eligible = [i for i in ranked if i.id not in reasons]

    def over_the_bar(item: Item) -> bool:
        return not ranking.learned or (item.probability or 0.0) >= likely

    candidates = [i for i in eligible if over_the_bar(i)]
    # Left out: what the draft would have taken but cannot (not the unlikely ones it never would).
    left_out = [(i, reasons[i.id]) for i in ranked if i.id in reasons and over_the_bar(i)]
    if not candidates:
        if ranked:
            none = ""
        elif min_score is not None:
            none = f"no undecided candidate scores at least {min_score:g} (--min-score)"
        else:
            none = no_candidates(curation, issue_id)
        expected = sum(i.probability or 0.0 for i in ranked) if ranking.learned else 0.0  # as `items` sums them
        # The likeliest by probability, not the first listed: sources judged little are moved up.
        best = max(eligible, key=lambda i: i.probability or 0.0) if eligible and ranking.learned else None
        return Draft([], best, left_out, none, expected, len(ranked), len(unconfirmed))
    # Grouped by section and heading, in the order `items` lists them within each, so the draft reads
    # as the list does (twins together).
    places = {item.id: (item.section, item.heading) for item in candidates}
    added = add_items(curation, issue_id, [item.id for item in candidates], places=places)
    moved = _drafted(curation, issue_id, moved=True)
    _remember_drafted(curation, issue_id, drafted | {item.id for item in candidates}, moved)
    return Draft(added, None, left_out)


DRAFTED = "drafted"  # in var/: per issue, the items `draft` added (`_drafted`)


@dataclass(frozen=True)
class UndoneDraft:
    """What `undo_draft` did: the entries it took out (as they stood), and the items it put back among
    the candidates, undecided, in file order then id order (those of the entries, then those no
    issue cites any more)."""

    removed: list[Placed]
    released: list[str]
    kept: int  # drafted entries the editor has changed (a text or title written, accepted, joined with others)
    kept_in: Path | None = None  # the file keeping the entries taken out (var/removed-entries), if any


def undo_draft(curation: Curation, issue_id: str) -> UndoneDraft:
    """Take back what earlier drafts added and the editor has not touched: their entries out of the issue,
    their items undecided again (not skipped: no decision was made), and off the drafts' list.

    Untouched is as `unconfirmed_drafts` has it: the starting text, not accepted, not moved, one entry
    per drafted item set. A drafted item the issue no longer cites and the store still marks picked (the
    file put back by hand, `git checkout`, after a draft) is undecided again too. What the editor wrote,
    accepted, moved or filed with other items stays, as any decision does, and is counted in `kept`. Raises
    IssueFileError for a file that cannot be read as it stands.
    """
    drafted = _drafted(curation, issue_id)
    _document, issue = curation.load(issue_id)
    untouched = set(unconfirmed_drafts(curation, issue_id, issue))
    # By item id where an entry cites one (an id names its entry however entries move, should the file
    # change between this read and the remove's, under its lock); by place for an entry of several.
    refs = [
        entry.items[0] if len(entry.items) == 1 else f"{key}:{position}"
        for key, position, entry in issue.entries()
        if entry.items and all(item in untouched for item in entry.items)
    ]
    # Every entry taken out is kept in var/removed-entries: one moved by hand in the file looks untouched.
    removed = remove_entries(curation, issue_id, refs, skip=False, keep_all=True) if refs else Removed([], [])
    still = set(curation.cited_items(issue_id)) | set(cited_elsewhere(curation, issue_id, drafted))
    gone = [
        item
        for item, status in item_statuses(curation, sorted(drafted - set(removed.items) - still)).items()
        if status == "picked"
    ]
    curation.store.set_status(gone, "new")
    _remember_drafted(curation, issue_id, drafted & still, _drafted(curation, issue_id, moved=True))
    kept = sum(1 for _key, _position, entry in issue.entries() if set(entry.items) & drafted) - len(refs)
    return UndoneDraft(removed.entries, [*removed.items, *gone], kept, removed.kept_in)


def unconfirmed_drafts(curation: Curation, issue_id: str, issue: Issue | None = None) -> tuple[str, ...]:
    """The items of entries earlier drafts added to the issue that the editor has not touched since
    (the starting text, not accepted, not moved with `issue move`), in file order; () when no draft
    added any.

    Such an entry is no decision: learned from as a pick, it would lift items like it over the bar
    (each draft adding more than the last) and show them likelier than they are. So they are no
    decision (they weigh as the undecided items do) and not offered again (`ranking.rank_quarter`'s
    `unconfirmed`).

    Where the file cannot tell (it cannot be read at all, or the entry stands where validation cannot
    read it: under a misspelt section key), a drafted item still marked picked is counted unconfirmed
    too: the store marks a drafted item picked, and learned from as such a broken file made a draft's
    guesses picks (a user trial: 15 picks learned from where the editor had made 7). One the editor
    took out (`issue remove`: skipped) is a decision, and learned from.
    """
    drafted = _drafted(curation, issue_id)
    if not drafted:
        return ()
    if issue is None:
        try:
            issue = curation.load_lenient(issue_id)[1]
        except IssueFileError:
            issue = None
    entries = [entry for _key, _position, entry in issue.entries()] if issue is not None else []
    moved = _drafted(curation, issue_id, moved=True)  # placed by the editor (`issue move`): decisions
    untouched = [
        item
        for entry in entries
        if entry.items
        and not entry.accepted
        and not set(entry.items) & moved
        and not _written_by_editor(curation, entry)
        for item in entry.items
        if item in drafted
    ]
    curation.uses(issue_id)  # reads the file as `cited_items` does: what it could not read, and why
    if curation.unreadable(issue_id) is None and not curation.unread_sections(issue_id):
        return tuple(untouched)  # the file tells: a drafted entry it lacks was taken out by hand
    readable = {item for entry in entries for item in entry.items}
    statuses = item_statuses(curation, sorted(drafted - readable - moved))
    return tuple(untouched + [item for item, status in statuses.items() if status == "picked"])


def _drafted(curation: Curation, issue_id: str, moved: bool = False) -> set[str]:
    """The items earlier drafts added to an issue, as `_remember_drafted` kept them (none when lost:
    var/ is the machine's own, and the next draft then learns from them, as before this was kept);
    with `moved`, only those whose entries the editor has since moved (`move_entry`)."""
    try:
        text = (curation.workspace.var / DRAFTED / f"{issue_id}.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    lines = [line.split() for line in text.splitlines()]
    return {words[0] for words in lines if words and (not moved or words[1:] == ["moved"])}


def _remember_drafted(curation: Curation, issue_id: str, items: set[str], moved: set[str]) -> None:
    """Keep the items drafts added to an issue, one id a line, "ID moved" for those of `moved` (the
    editor moved their entries); a failure to write costs the next draft only its restraint (it
    learns from these items), so it is logged, not raised."""
    path = curation.workspace.var / DRAFTED / f"{issue_id}.txt"
    try:
        atomic_write(path, "".join(f"{item}{' moved' if item in moved else ''}\n" for item in sorted(items)))
    except OSError as exc:
        log.warning("the items drafted were not noted in %s: %s", path, exc)


# ---------------------------------------------------------------------- headings known, and one misspelt

# A heading known nowhere is taken for a known one misspelt when the two differ in one word, by at most
# this many letters (Damerau's edits: one typed wrong, added, left out, or two swapped), by the word's
# length: none in a word of 3 letters or fewer (acronyms: "IOM", "ILO"), 1 up to 8, 2 from 9. So
# "Representantforslg", "Europarådet og GRETTA" and "Nasjonalt samarbied" are typos; "Utdanningsdirektoratet"
# for "Utlendingsdirektoratet" (3 letters), "Politikk" for "Politiet" (2 in 8), "Øst politidistrikt" for
# "Vest politidistrikt" and "Sør-Øst" for "Sør-Vest" are not. Nor are two headings that differ only in their
# numbers ("Tilstandsrapport 2023" / "… 2024"), or one held whole in another of two or more letters more
# ("Høring", "Høringer"; "Nasjonalt samarbeid", "Internasjonalt samarbeid").
HEADING_EDITS = ((3, 0), (8, 1))  # (longest word, edits allowed) up to which; longer words: 2
_NUMBERS = re.compile(r"\d+")
_HEADING_WORDS = re.compile(r"[^\W_]+")


def known_headings(curation: Curation, issue_id: str) -> dict[str, tuple[str, str]]:
    """Every heading the newsletter knows apart from issue `issue_id`: {`heading_key`: (heading as written,
    where it is known from)}. Where from: "newsletter.yaml" (a section's `headings`, an organisation's
    name, aliases and headings), "feeds.yaml" (a source's heading) or the other issue using it (the latest).
    """
    from newsletter.curate.ranking import PAST_ENTRIES_CACHE, past_entries

    known: dict[str, tuple[str, str]] = {}
    others = [other for other in list_issue_ids(curation.workspace.issues_dir) if other != issue_id]
    cache = None if curation.store.in_memory else curation.workspace.var / PAST_ENTRIES_CACHE
    # An unreadable issue is said by the commands that read it; here it only lends no headings.
    for entry in past_entries(curation.workspace.issues_dir, curation.settings, others, cache, quiet=True):
        if entry.heading:
            known[heading_key(entry.heading)] = (entry.heading, entry.issue)  # the latest issue last
    for source in curation.feeds.sources:
        if source.heading:
            known.setdefault(heading_key(source.heading), (source.heading, "feeds.yaml"))
    configured = [h for key in curation.settings.sections for h in curation.settings.heading_order(key).headings]
    for organisation in curation.settings.archive.organisations:
        configured += [organisation.name, *organisation.aliases, *organisation.headings]
    for heading in configured:
        known.setdefault(heading_key(heading), (heading, "newsletter.yaml"))
    return known


def misspelt_notes(curation: Curation, issue_id: str, placed: Sequence[Placed]) -> list[str]:
    """For each heading just used that is known nowhere else but close to a known one (`misspelt_heading`),
    a note saying so with the moves that correct it (an entry named by its item's id where it cites one,
    which stays right whichever move runs first): said as the editor types the heading (`issue add
    --heading`, `note`, `move`, triage's choose), not first at `issue check`."""
    known = known_headings(curation, issue_id)
    under: dict[str, list[Placed]] = {}
    for each in placed:
        under.setdefault(each.heading, []).append(each)
    notes = []
    for heading, entries in under.items():
        if (near := misspelt_heading(heading, known)) is not None:
            written, source = near
            moves = " and ".join(
                f"`newsletter issue move {issue_id} {each.item or f'{each.section}:{each.position}'} "
                f"--heading {shlex.quote(written)}`"
                for each in entries
            )
            notes.append(
                f"'{heading}' is a heading no other issue, feeds.yaml or newsletter.yaml has, and close to "
                f"'{written}' ({source}): if it is a typo, {moves}"
            )
    return notes


def own_issue_notes(curation: Curation, issue_id: str, placed: Sequence[Placed]) -> list[str]:
    """For each item just added that is an issue of this newsletter itself (`ranking.is_own_issue`), a note
    saying so with the command that takes it out again: the ranking lists such an item last and the
    draft never adds one, so one added by id is most often a slip of the id."""
    from newsletter.curate.ranking import is_own_issue, own_name

    name = own_name(curation.settings)
    notes = []
    for each in placed:
        if each.item and not each.joined and is_own_issue(each.title, name):
            notes.append(
                f"{each.item} «{each.title}» is an issue of {name} itself, which issues do not cite as news; "
                f"if it is a slip, {_remove_command(issue_id, each.item, skip=False)}"
            )
    return notes


def configured_heading_notes(curation: Curation, issue_id: str, placed: Sequence[Placed]) -> list[str]:
    """A note for the items just filed under their source's heading from feeds.yaml where that heading
    names a year an item does not (`inbox.another_years_heading`: "KOM tilstandsrapport 2021 publisert"
    for the 2023 report), or names an organisation that newsletter.yaml lists by another name in the
    section (`inbox.listed_name`: "GRETA" where "Europarådet og GRETA" is listed, a heading renamed in
    one file and not the other): one per source and heading, naming the entries, the command that
    moves one, and the line of feeds.yaml to change for later issues.

    A past issue's heading like the first is never suggested (the source's is, instead); the
    configured one is the editor's own word and is kept, but filed under it this year's report reads
    as an old one's. The second is kept too (which file holds the new name is the editor's to say);
    moved once, the next items of the organisation follow the move (`ranking.rank_items`).
    """
    found: dict[tuple[str, str], list[Placed]] = {}  # (source key, heading) -> the entries filed there
    listed: dict[tuple[str, str], str] = {}  # (source key, heading) -> the name the section lists instead
    for each in placed:
        if not each.item or each.joined:
            continue
        try:
            item = curation.store.get_item(each.item)
        except NotFound:
            continue
        source = configured_source(item, curation.feeds)
        if source is None or heading_key(source.heading) != heading_key(each.heading):
            continue
        name = listed_name(each.section, each.heading, curation.settings)
        if another_years_heading(each.heading, item) or name != each.heading:
            found.setdefault((source.key, each.heading), []).append(each)
            if name != each.heading:
                listed[(source.key, each.heading)] = name
    notes = []
    for (key, heading), entries in found.items():
        source = curation.feeds.by_key(key)
        assert source is not None  # found above
        refs = [f"{e.section}:{e.position}" for e in entries]
        one = len(entries) == 1
        what = f"{refs[0]} «{entries[0].title}» is" if one else f"{', '.join(refs)} are"
        line = f" (the source at line {source.line})" if source.line else ""
        if (listed_as := listed.get((key, heading))) is not None:
            # By item id: each move shifts the positions after it, an id stays.
            moves = " and ".join(
                f"`newsletter issue move {issue_id} {e.item} --heading {shlex.quote(listed_as)}`" for e in entries
            )
            notes.append(
                f"{what} filed under «{heading}», feeds.yaml's heading for {source.key}, where newsletter.yaml "
                f"lists «{listed_as}» for the same organisation in {entries[0].section}. {moves} "
                f"{'files it' if one else 'file them'} there, and later items like {'it' if one else 'them'} "
                f"follow; for later issues, write one name in both: {source.key}'s `heading:` in feeds.yaml{line}, "
                f"or the section's `headings` in newsletter.yaml"
            )
            continue
        notes.append(
            f"{what} filed under «{heading}», feeds.yaml's heading for {source.key}, which names "
            f"{' and '.join(dict.fromkeys(heading_years(heading)))}; {'the item names' if one else 'the items name'} "
            f"no such year. `newsletter issue move {issue_id} {refs[0]} --heading HEADING` files "
            f"{'it' if one else 'one'} under another; for later issues, take the year out of {source.key}'s "
            f"`heading:` in feeds.yaml{line}"
        )
    return notes


def misspelt_heading(heading: str, known: Mapping[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The known heading (as written, where from) that `heading` most likely misspells, or None when it is
    known itself or like none closely enough. Headings compare as `heading_key` folds them, word by word
    (letters and digits; a hyphen or slash parts words): a typo is one word a few edits off
    (`HEADING_EDITS`), the other words the same; see there for what is not."""
    key = heading_key(heading)
    if not key or key in known:
        return None
    words = _HEADING_WORDS.findall(key)
    best: tuple[int, str] | None = None
    for other in known:
        shorter, longer = sorted((key, other), key=len)
        if shorter in longer and len(longer) - len(shorter) >= 2 or _NUMBERS.sub("", other) == _NUMBERS.sub("", key):
            continue
        theirs = _HEADING_WORDS.findall(other)
        differing = [(a, b) for a, b in zip(words, theirs, strict=False) if a != b]
        if len(theirs) != len(words) or len(differing) != 1:
            continue
        mine, its = differing[0]
        length = max(len(mine), len(its))
        allowed = next((edits for longest, edits in HEADING_EDITS if length <= longest), 2)
        edits = _edits(mine, its, allowed)
        if edits <= allowed and (best is None or edits < best[0]):
            best = (edits, other)
    return known[best[1]] if best is not None else None


def _edits(a: str, b: str, limit: int) -> int:
    """The optimal string alignment distance of `a` and `b` (letters typed wrong, added, left out, or two
    neighbours swapped), or `limit` + 1 as soon as it is sure to exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        row = [i]
        for j, y in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        if min(row) > limit:
            return limit + 1
        previous2, previous = previous, row
    return previous[-1]


# ---------------------------------------------------------------------- show, check, list


class IssueNotReady(NewsletterError):
    """An issue with errors was to be built or sent; its errors are the `details`."""

    def __init__(self, issue_id: str, errors: list[Problem]):
        self.errors = errors
        self.details = tuple(f"{p.level}: {p}" for p in errors)
        super().__init__(
            f"{issue_id} has {counted(len(errors), 'error')} (see above; `newsletter issue check "
            f"{issue_id}`); fix {'it' if len(errors) == 1 else 'them'}, or pass --force to build anyway"
        )


@dataclass
class ReadyIssue:
    """An issue that passed the gate before build and send, and the errors a forced build let through."""

    issue: Issue
    errors: list[Problem]  # empty unless forced
    warnings: list[Problem] = field(default_factory=list)  # what `issue check` warns of, for build to show


def ready_issue(curation: Curation, issue_id: str, force: bool = False) -> ReadyIssue:
    """The issue, once `check_issue` finds no errors: the gate every build and send goes through.

    Raises IssueNotReady (the errors in its details) when there are errors, unless `force`: then the
    issue is what validation could make of the file, errors and all. Raises IssueFileError when the
    file cannot be read at all.
    """
    current, problems = check_issue(curation, issue_id)
    errors = [p for p in problems if p.level == "error"]
    if errors and not force:
        raise IssueNotReady(issue_id, errors)
    if errors:  # forced: the issue is built from what could be read
        _document, current = curation.load_lenient(issue_id)
    return ReadyIssue(current, errors, [p for p in problems if p.level == "warning"])


# How far from its quarter an issue's dates plausibly are: `published` within a year after the quarter, an
# event within a year before it and two after (a conference announced early); further is taken for a typo.
PLAUSIBLE_AFTER = dt.timedelta(days=366)


def check_issue(curation: Curation, issue_id: str) -> tuple[Issue, list[Problem]]:
    """The issue as validation could read it, and everything to fix (errors) or look at (warnings) before it is sent.

    Every problem says where (the file, its line, the entry as `section:position` and the field) and
    what to do: the command that does it (`newsletter issue remove 2024-q2 norway:3`), or what to
    write in the file where no command can (a title, a link's address): what is wrong, a colon,
    what to do. A message about an entry names it by its ref, first unless a heading is the
    subject (`Problem.entry` holds it for --json). Raises IssueFileError when the file cannot be
    read at all.
    """
    document = IssueDocument.load(curation.path(issue_id))
    issue, problems = document.validate(curation.settings, curation.known_items())
    entries_per_item = Counter(item for _key, _position, entry in issue.entries() for item in entry.items)
    path = str(document.path)
    file_lines = document.text.split("\n")

    def add(
        level: str,
        message: str,
        entry: Entry | None = None,
        field: str | None = None,
        ref: str = "",
        quoting: bool = False,
    ) -> None:
        """`quoting`: the message quotes the field's own text («…»), and the problem is on the line holding it."""
        # A problem with a field is on the field's own line (an entry's `text:` is often lines below its start).
        if entry is not None:
            line = entry.line_of(field or "")
        elif field and field.startswith("sections."):  # a section: the line of its key, when the file has it
            sections, key = document.data.get("sections"), field.removeprefix("sections.")
            line = line_of(sections, key) if isinstance(sections, dict) and key in sections else None
        else:  # a top-level field (title, intro, published), when the file has it
            line = line_of(document.data, field) if field and field in document.data else None
        if line is not None and quoting:
            line = _quoted_line(file_lines, line, message)
        problems.append(Problem(level, message, path, line, field, ref or None))

    def take_out(where: str, entry: Entry, elsewhere: bool = False) -> str:
        """The command that takes entry `where` out of the issue: its items are skipped, as the editor
        does not want them, or, when they belong to another issue (`elsewhere`), left undecided, so
        they stay on their own quarter's list and in its draft.

        An entry citing one item is named by its id, which stays right when another remove printed
        above it was run first; by its place, the entry below the one removed would go instead. Not
        an item two entries cite (a block pasted twice): its id would name the first, not this one.
        """
        by_id = len(entry.items) == 1 and entries_per_item[entry.items[0]] == 1
        return _remove_command(issue_id, entry.items[0] if by_id else where, skip=not elsewhere)

    def drop_item(where: str, entry: Entry, item_id: str, elsewhere: bool = False) -> str:
        """How to take one item out: the entry with it when it is the entry's only one, else its id
        (which leaves it marked picked: for one of another issue, `unskip` makes it undecided again)."""
        if len(entry.items) == 1:
            return f"take the entry out ({take_out(where, entry, elsewhere)})"
        if elsewhere:
            return (
                f"delete {item_id} from `items`, then `newsletter issue unskip {item_id}` puts it back among its "
                "quarter's candidates"
            )
        return f"delete {item_id} from `items`"

    def invisible(value: str, name: str, entry: Entry | None = None, where: str = "") -> None:
        """Warn of the invisible characters of a field, at the line and column of the first."""
        if not (found := hidden_characters(value)):
            return
        line = entry.line_of(name) if entry is not None else line_of(document.data, name)
        written = document.hidden_in_value(line, name)
        if [c.char for c in written] != [char for _, char in found]:
            written = []  # the file writes the value in a way not followed here: say where in the value
        message = _invisible_message(value, found, written)
        problems.append(
            Problem(
                "warning", f"{where} {message}".strip(), path, written[0].line if written else line, name, where or None
            )
        )

    def cut_by_comment(node: object, name: str, where: str = "") -> None:
        """Warn of a comment (`IssueDocument.comment_cutting`) that ends a text field's value unseen."""
        if (found := document.comment_cutting(node, name)) is None:
            return
        line, comment = found
        value = str(node[name])  # type: ignore[index]  # comment_cutting found it a str
        whole = f"{value} {comment}"
        quoted = f'{name}: "{whole}"' if len(whole) <= 80 and '"' not in whole and "\\" not in whole else ""
        how = f"put the whole value in quotes ({quoted})" if quoted else "put the whole value in quotes"
        message = (
            f"the text after ' #', «{comment}», is a YAML comment, not part of the {name}: readers "
            f"get «{' '.join(value.split())}»; if it belongs there, {how}; if it is a note to yourself, move it "
            "to a line of its own"
        )
        problems.append(Problem("warning", f"{where} {message}".strip(), path, line, name, where or None))

    first, last = quarter_bounds(issue_id) if issue.id == issue_id else (None, None)
    # What came out between the quarter's end and the day the issue goes out is news the issue may still
    # tell (an issue of 1 July telling of a presidency taken over that day): an entry or item of those
    # days is not outside it.
    latest = max(last, issue.published) if last and issue.published else last
    for name in ("title", "audience", "intro"):
        if name in document.data:
            invisible(getattr(issue, name), name)
            cut_by_comment(document.data, name)
    if not issue.intro.strip():
        add("warning", "no intro: write the few sentences that open the issue (`intro`)", field="intro")
    for level, message, _link in _link_problems(issue.intro, "`intro`"):
        if level:
            add(level, message, field="intro", quoting=True)
    for image in images_of(issue.intro):
        if _openable(image.address):  # else the error about its link above says what to write
            add("warning", _image_message(image), field="intro")
    # A `published` that is not a date is already an error; "no date yet" would contradict it.
    if issue.published is None and not any(p.field == "published" for p in problems):
        add("warning", "no publication date yet: set `published` when the issue goes out", field="published")
    elif issue.published and first and last and not first <= issue.published <= last + PLAUSIBLE_AFTER:
        # The issue tells its quarter, and goes out after it: a day before it, or years after, is a typo.
        when = "before the quarter it tells of begins" if issue.published < first else "over a year after its quarter"
        add(
            "warning",
            f"{issue.published.isoformat()} is {when} ({issue.period}): correct `published` if it is a typo",
            field="published",
        )
    seen_links: dict[str, str] = {}
    earlier = _earlier_usage(curation, issue_id)
    event_sections = curation.event_sections(issue_id)
    # The items this issue's links point to, in one query: for entries written by hand, so an item an
    # earlier issue used is noticed under any spelling of its address, as the earlier issue's own link
    # or id is; for entries citing items, to tell an item whose link the text lacks.
    all_links = [link for _key, _position, entry in issue.entries() for link in links_of(entry.text)]
    targets = link_targets(curation.store, all_links, curation.recorded_keys())
    # item -> the entries citing it, in file order, each with whether it names the item by id. A link
    # to an item is said at the link: when an entry names the item by id, before or after it, or an
    # earlier entry links to it too (a pair of links is said once, at the second).
    citing: dict[str, list[tuple[str, bool]]] = {}
    for key, position, entry in issue.entries():
        for item_id in entry.items or [targets[link] for link in links_of(entry.text) if link in targets]:
            if (f"{key}:{position}", bool(entry.items)) not in citing.setdefault(item_id, []):
                citing[item_id].append((f"{key}:{position}", bool(entry.items)))

    def cited_elsewhere_in_issue(item_id: str | None, where: str) -> list[str]:
        """The other entries of this issue a link in entry `where` to `item_id` duplicates."""
        entries = citing.get(item_id or "", [])
        mine = next((n for n, (w, _) in enumerate(entries) if w == where), len(entries))
        return [w for n, (w, by_id) in enumerate(entries) if w != where and (by_id or n < mine)]

    for key, position, entry in issue.entries():
        where = f"{key}:{position}"

        def say(
            level: str, message: str, field: str, entry: Entry = entry, where: str = where, quoting: bool = False
        ) -> None:
            add(level, f"{where} {message}", entry, field, where, quoting)

        for name in ("title", "heading"):
            if (mark := LANGUAGE_MARK.search(getattr(entry, name))) is not None:
                # Titles and headings are plain text in every output (and in the e-mail's subject line).
                say(
                    "error",
                    f"has «{mark.group()}» in its `{name}`, which is plain text: readers would get the brackets "
                    "and braces; take out the [ ] and {…} (a language mark goes in the `text`)",
                    name,
                )
        if not entry.text.strip():
            say(
                "error",
                f"'{entry.title or entry.heading}' has no text: write its `text`, or take the entry out "
                f"({take_out(where, entry)})",
                "text",
            )
        cited = _stored_items(curation, entry.items)
        field_name = "items" if len(entry.items) > 1 else "item"
        if cited and not entry.accepted and _is_starting_text(entry.text, cited):
            say(
                "warning",
                f"still has the starting text from {'item' if len(cited) == 1 else 'items'} "
                f"{', '.join(i.id for i in cited)}: write the blurb, or "
                f"keep it with `newsletter issue accept {issue_id} {where}`",
                "text",
            )
        # An item the entry names but its text never links to reaches no reader (`issue add --to` on
        # a note, whose text it leaves as the editor wrote it): only the text is rendered.
        own_links = links_of(entry.text)
        linked_here = {targets[link] for link in own_links if link in targets}
        for item in cited:
            if item.id not in linked_here and item.url not in own_links:
                say(
                    "warning",
                    f"cites item {item.id} «{item.title}», but its text does not link to it, so readers get no "
                    f"link: add `[her]({item.url})` to its `text`",
                    "text",
                )
        for item in cited:
            if first and latest and item.published and not first <= item.published <= latest:
                if there := cited_elsewhere(curation, issue_id, [item.id]).get(item.id):
                    # Filed where it belongs too: taken out here, it stays that issue's pick.
                    advice = f"{', '.join(there)} cites it too: if it belongs there, {drop_item(where, entry, item.id)}"
                else:
                    advice = f"if it belongs to another issue, {drop_item(where, entry, item.id, elsewhere=True)}"
                say(
                    "warning",
                    f"item {item.id} was published {item.published.isoformat()}, outside {issue.period}: {advice}",
                    field_name,
                )
        if not entry.title:
            say("warning", f"under '{entry.heading}' has no title: write its `title`", "title")
        node = _entry_node(document, key, position)
        for name in ("heading", "title", "text"):
            invisible(getattr(entry, name), name, entry, where)
            cut_by_comment(node, name, where)
        if first and latest and entry.date and not first <= entry.date <= latest:
            say(
                "warning",
                f"is dated {entry.date.isoformat()}, outside {issue.period}: correct its `date`, or, if it belongs "
                f"to another issue, take the entry out ({take_out(where, entry, elsewhere=True)})",
                "date",
            )
        if entry.deadline and issue.published and entry.deadline < issue.published:
            # A newsletter looking back on its quarter lists consultations that have closed: shown as closed.
            say(
                "warning",
                f"has a deadline ({entry.deadline.isoformat()}) before the issue is published "
                f"({issue.published.isoformat()}), so it is shown as closed: if either date is wrong, correct it",
                "deadline",
            )
        if entry.deadline and entry.date and entry.deadline < entry.date:
            say(
                "warning",
                f"has a deadline ({entry.deadline.isoformat()}) before its date ({entry.date.isoformat()}): no "
                "consultation closes before it opens; correct one of them",
                "deadline",
            )
        if (
            entry.event_date
            and first
            and last
            and not first - PLAUSIBLE_AFTER <= entry.event_date <= last + 2 * PLAUSIBLE_AFTER
        ):
            # An event told in this quarter's issue happens within a year or two of it: 2002 for 2022 is a typo.
            say(
                "warning",
                f"has an event date ({entry.event_date.isoformat()}) more than a year before or two after "
                f"{issue.period}: correct its `event_date` if it is a typo",
                "event_date",
            )
        elif entry.event_date and issue.published and (entry.event_end or entry.event_date) < issue.published:
            # (An event still running when the issue goes out, June to September, is one to come still.)
            say(
                "warning",
                f"has an event date ({entry.event_date.isoformat()}) before the issue is published "
                f"({issue.published.isoformat()}), so readers get a past event as one to come: if either date is "
                "wrong, correct it; for an event that took place, `date` is the field",
                "event_date",
            )
        if not entry.event_date:
            # An event without its date is shown as news: no date line, nothing in events.ics.
            # An event over before the issue goes out is told as news (`date`), not as one to come.
            since = issue.published or first
            dated = next((i for i in cited if i.event_date and (since is None or i.event_date >= since)), None)
            peers = [other for other in issue.sections.get(key, []) if other is not entry]
            if dated is not None and dated.event_date:
                reason = f"it cites item {dated.id}, an event on {dated.event_date.isoformat()}"
            elif len(peers) >= 2 and all(other.event_date for other in peers):
                reason = f"every other entry of section {key} has one"
            elif key in event_sections:
                reason = f"section {key} holds events, as in {event_sections[key]}"
            else:
                reason = ""
            if reason:
                say(
                    "warning",
                    f"has no `event_date`, though {reason}: readers and the calendar (events.ics) are not told "
                    "when it takes place; add `event_date: YYYY-MM-DD` (and `event_end:` for one of several days)",
                    "event_date",
                )
        # One page twice, or a page used before, is at times the editor's intent ("som omtalt i forrige
        # utgave"): a warning, with the way out should it be a slip.
        slip = f"take the link out of its `text`, or the entry ({take_out(where, entry)})"
        for level, message, link in _link_problems(entry.text, "its `text`"):
            if level:
                say(level, message, "text", quoting=True)
                continue
            if link in seen_links:  # the real newsletter cites one page from two headings at times
                say("warning", f"links to {link}, as {seen_links[link]} does: if once is enough, {slip}", "text")
            elif not entry.items and (others := cited_elsewhere_in_issue(targets.get(link), where)):
                # Another address of an item another entry cites: one document, two entries.
                say(
                    "warning",
                    f"links to item {targets[link]} ({link}), which {others[0]} cites too: if once is enough, {slip}",
                    "text",
                )
            seen_links.setdefault(link, where)
            if link in earlier:
                say(
                    "warning",
                    f"links to {link}, already used in {earlier[link]}: unless it is a follow-up, {slip}",
                    "text",
                )
            elif not entry.items and targets.get(link) in earlier:
                target = targets[link]
                say(
                    "warning",
                    f"links to item {target} ({link}), already used in {earlier[target]}: unless it is a "
                    f"follow-up, {slip}",
                    "text",
                )
        for item_id in entry.items:
            if item_id in earlier:
                say(
                    "warning",
                    f"item {item_id} was already used in {earlier[item_id]}: unless it is a follow-up, "
                    f"{drop_item(where, entry, item_id)}",
                    field_name,
                )
        for image in images_of(entry.text):
            if _openable(image.address):  # else the error about its link above says what to write
                say("warning", _image_message(image), "text")
    problems.extend(_misspelt_headings(curation, issue, issue_id, path))
    # A file with a section key misspelt, or an item id mistyped, is not what its entries will be:
    # advice drawn from it as it stands (fill the empty section, file the item no entry cites) would
    # be wrong once the error is fixed, so it waits until then. So for a file whose `sections` is not
    # a mapping of sections, or is missing beside an unknown field (`seksjoner:` for `sections:`).
    sections = document.data.get("sections")
    structural = (
        (isinstance(sections, dict) and any(key not in curation.settings.sections for key in sections))
        or (sections is not None and not isinstance(sections, dict))
        or (sections is None and any(p.level == "error" and p.field in document.data for p in problems))
        or any(p.level == "error" and p.field in ("item", "items") for p in problems)
    )
    # Its advice, moves by item id, waits as the rest does for a file whose items are in error.
    one_organisation = {} if structural else _one_organisation_headings(curation, issue, issue_id, path)
    if not structural and not any(issue.sections.values()):
        add(
            "warning",
            f"the issue has no entries yet: add items (`newsletter issue add {issue_id} ITEM`) or notes "
            f"(`newsletter issue note {issue_id}`); `send` refuses an issue without entries",
            field="sections",
        )
    for key, entries in issue.sections.items():
        # A section the file leaves out is one the editor has none for this time (the 2022 issue had no
        # events): no reminder on every check and build. `issue new` writes each one, empty, to be filled.
        if not entries and not structural and isinstance(sections, dict) and key in sections:
            add(
                "warning",
                f"section '{key}' is empty, so no output shows it: add to it (`newsletter issue add {issue_id} "
                f"ITEM --section {key}`), or, if this issue has none, take the line `{key}: []` out of the file",
                field=f"sections.{key}",
            )
        # Two names for one organisation first: the moves that join them shift the positions the run and
        # order advice would name, which waits until they are one (the joined run may need none).
        if one_organisation.get(key):
            problems.extend(one_organisation[key])
        else:
            problems.extend(_heading_problems(curation, path, issue_id, key, entries))
    if first and last and not structural:
        nowhere = _picked_nowhere(curation, issue, first, last)
        if len(nowhere) > PICKED_NOWHERE_EACH:
            # The file put back by hand after a draft or a triage (`git checkout`): one line with one
            # command for them all, not a warning per item to copy from one by one.
            ids = " ".join(item.id for item in nowhere)
            drafted = _drafted(curation, issue_id)
            undo = (
                f" (`newsletter issue draft {issue_id} --undo` for those a draft added)"
                if drafted & {item.id for item in nowhere}
                else ""
            )
            add(
                "warning",
                f"{len(nowhere)} items of this quarter are marked picked, but no issue cites them (entries taken "
                f"out by hand, or the file put back?): `newsletter issue unskip {ids}` puts them back among the "
                f"candidates{undo}, `newsletter issue skip {ids}` leaves them out; `newsletter issue add "
                f"{issue_id} ITEM` files one again",
            )
        for item in nowhere if len(nowhere) <= PICKED_NOWHERE_EACH else ():
            add(
                "warning",
                f"item {item.id} «{item.title}» of this quarter is marked picked, but no issue cites it (an entry "
                f"or an id taken out by hand?): `newsletter issue add {issue_id} {item.id}` files it again, "
                f"`newsletter issue skip {item.id}` leaves it out, `newsletter issue unskip {item.id}` puts it "
                "back among the candidates",
            )
    return issue, problems


PICKED_NOWHERE_EACH = 3  # items picked that no issue cites, from which `check_issue` says it in one warning


def _picked_nowhere(curation: Curation, issue: Issue, first: dt.date, last: dt.date) -> list[Item]:
    """The quarter's items marked picked that neither this issue (as read) nor any other file cites.

    `issue add` and `issue note` mark an item picked and `issue remove` skips it (or, with
    `--undecided`, makes it undecided again); an entry deleted by hand leaves the mark, and the
    item then shows in no inbox and counts as a pick the editor no longer made.
    """
    cited = set(_used_items(issue, curation.store))
    others = list_issue_ids(curation.workspace.issues_dir)
    cited |= {item for other in others for item in curation.cited_items(other)}
    if any(curation.unreadable(other) is not None for other in others):
        return []  # an issue that cannot be read may cite them: no warning that could be false
    picked = curation.store.iter_items(first, last, statuses=("picked",), include_undated=False)
    return [i for i in picked if i.id not in cited]


def _is_starting_text(text: str, cited: list[Item]) -> bool:
    """Whether an entry's text is what `issue add` gave it: the first item's alone, or with every link."""
    return text.strip() in {
        starting_text(first, *more, full_stop=stop).strip()
        for first, *more in (cited[:1], cited)
        for stop in (True, False)
    }


def _image_message(image: Image) -> str:
    """The warning for an image (`markdown.images_of`) in a text: what readers get in its place, and the link
    the editor had better write, with words that say what the picture shows or where the link leads.

    An image inside a link (`[![Forsiden](…/forside.png)](…/rapport.pdf)`) is the link's words in every
    output, so the link to write keeps the outer link's address, not the picture's. Only for an image
    whose address a reader can open (`_openable`): for the others `_link_problems` says what to write.
    """
    description, picture, address = image.description, image.picture, image.address
    if image.link is not None and description.strip():
        return (
            f"has an image inside a link, [![{description}]({picture})]({address}): readers get the link with "
            f"the words «{description}» in place of the picture (no picture from elsewhere is loaded into their "
            f"mail); write the link itself: [{description}]({address})"
        )
    if image.link is not None:
        return (
            f"has an image with no description, ![]({picture}), inside a link to {address}: readers get the "
            f"link without the picture; write words that say where it leads: [what the link leads to]({address})"
        )
    if description.strip():
        return (
            f"has an image, ![{description}]({address}): readers get a link to the picture instead (no picture "
            f"from elsewhere is loaded into their mail); write the link itself: [{description}]({address})"
        )
    return (
        f"has an image with no description, ![]({address}): readers get a link to the picture named "
        f"«{image_label(address)}»; write a link that says what it shows: [what the picture shows]({address})"
    )


def _entry_node(document: IssueDocument, key: str, position: int) -> object:
    """The parsed mapping of entry `key`:`position` (1-based) in the file, or None where the file has none."""
    try:
        entries = document.entries_of(key)
    except IssueFileError:
        return None
    return entries[position - 1] if 0 < position <= len(entries) else None


_KEY_COLUMN = re.compile(r"[ ]*(?:-[ ]+)?")  # what stands before a field's name on its line


def _quoted_line(lines: list[str], line: int, message: str) -> int:
    """The line (1-based) of a field's value that holds what `message` quotes («…»): the field's own
    `line`, or one of the lines of its block below it (indented further); `line` itself when the quote
    is not there. In a `text: |` block of twenty lines, "line 614" for a fault on line 631 leaves the
    editor a search.
    """
    quoted = re.search(r"«([^»\n]+)»", message)
    if quoted is None or not 0 < line <= len(lines):
        return line
    # The quote's first words, as the file writes them (a line break in the file is a space in the quote).
    fragment = " ".join(quoted.group(1).split())[:24]
    key_indent = found.end() if (found := _KEY_COLUMN.match(lines[line - 1])) else 0  # `    - text: |`
    for number in range(line, len(lines) + 1):
        text = lines[number - 1]
        if number > line and text.strip() and len(text) - len(text.lstrip(" ")) <= key_indent:
            break  # the next field or entry: the block has ended
        if fragment and fragment in " ".join(text.split()):
            return number
    return line


def _link_problems(text: str, where: str) -> Iterator[tuple[str, str, str]]:
    """Each link of the Markdown `text` as (level, message, address): level "error" with what is
    wrong and what to write `where` ("its `text`", "`intro`") for a link no reader can open, and
    level "" with no message for one they can, in the text's order; then an error for each piece
    written like a link that Markdown reads as text (`markdown.unread_links`), and a warning for
    each web address written bare (`markdown.bare_addresses`), an error for each language mark
    Markdown leaves as text (`markdown.unread_language_marks`), a warning for each square bracket with no
    partner (`markdown.unmatched_brackets`, when neither of those found anything), and a warning for each
    part marked as in another language whose `lang` is no language tag (`markdown.language_parts`), with
    address "".

    No reader can open: a link with no address (`[…]()`), one that is no http(s) or mailto address
    (`javascript:`, a file path), an image whose picture is not on the web (every output makes an
    image a link to its picture), and an http(s) address `collect.urls.address_problem` finds at
    fault (a space, no host). The address is quoted as written, where each of its spellings is.
    """
    links = links_of(text, keep_empty=True)
    written = links_of(text, keep_empty=True, as_written=True)
    if len(written) != len(links):  # two spellings of one address: quote the normalised ones
        written = links
    pictures = {image.picture for image in images_of(text) if image.link is None}  # links of their own
    for link, as_written in zip(links, written, strict=True):
        scheme = link.split(":", 1)[0].lower() if ":" in link else ""
        if not link:
            yield "error", f"has a link with no address ([…]()): write the address between the ( ) in {where}", link
        elif scheme not in ("http", "https", "mailto") and as_written in pictures:
            yield (
                "error",
                f"has an image from '{link}', which is no http(s) address: every output makes an image a link "
                f"to its picture, and no reader can open this one; write the picture's full https:// address "
                f"in {where}",
                link,
            )
        elif scheme not in ("http", "https", "mailto"):
            yield (
                "error",
                f"links to '{link}', which is no http(s) or mailto address: write the page's full https:// "
                f"address in {where}",
                link,
            )
        elif scheme == "http" or scheme == "https":
            if (problem := address_problem(as_written) or address_problem(link)) is not None:
                # Rendered, it would be a dead or mangled link in every reader's copy.
                yield (
                    "error",
                    f"links to '{as_written}': {problem}, so no reader can open it: correct the address in {where}",
                    link,
                )
            else:
                yield "", "", link
        # mailto: nothing more to check
    unread = unread_links(text)
    for piece in unread:
        # Shown as written in every output: brackets, parentheses and a bare address instead of a link.
        yield "error", f"has «{piece.written}», which is no link: readers get it as written; {piece.reason}", ""
    for address in bare_addresses(text):
        # Readable, but no link in any output, and not cited: likely meant as one.
        yield (
            "warning",
            f"has the address {address} written out, which readers get as text, not a link: write it as a link, "
            f"[words that say where it leads]({address})",
            "",
        )
    marks = unread_language_marks(text)
    for lone in unmatched_brackets(text) if not unread and not marks else ():
        # A bracket left from an edit (`Les [rapporten [her](…)`): every reader gets it as written. Those
        # of a piece reported above are left to that report.
        yield (
            "warning",
            f"has a bracket with no partner in its paragraph, «{lone}», which readers get as written: take it "
            "out, or close it",
            "",
        )
    for mark in marks:
        if mark.whole:  # `{lang = en}`, `] {`, curly quotes: the braces are what cannot be read
            how = "write the braces as {lang=en}, right after the ], with no spaces or quotes inside"
        else:
            how = "its [ stands in another paragraph, or is missing: put [ and ]{lang=…} around words of one paragraph"
        yield (
            "error",
            f"has «{mark.written}», a language mark Markdown does not read, so readers get it as written; {how}",
            "",
        )
    for part in language_parts(text):
        if not LANGUAGE_TAG.fullmatch(part.lang):
            # Every output drops a lang that is no tag: the part is read in the page's language.
            named = f"lang={part.lang}" if part.lang else "no lang"
            yield (
                "warning",
                f"marks «{part.words}» as a part in another language, with {named}: write a language tag "
                f"(BCP 47: en, sv, da, fi, de, fr), as [{part.words}]{{lang=en}}, so screen readers read it in "
                "that language; or take out the [ ] and { }",
                "",
            )


def _openable(address: str) -> bool:
    """Whether `issue check` takes `address` as a link a reader can open: an http(s) address with no
    `address_problem`, or a mailto one (the entries' link checks raise an error for every other)."""
    scheme = address.split(":", 1)[0].lower() if ":" in address else ""
    return scheme == "mailto" or (scheme in ("http", "https") and address_problem(address) is None)


# How many invisible characters of one field a warning places; the rest are counted.
INVISIBLE_LISTED = 5


def _invisible_message(value: str, found: list[tuple[int, str]], written: list[SourceChar]) -> str:
    """The warning for the invisible characters `found` in a field's `value` (`textcodec.hidden_characters`).

    Each is placed where the file has it (`written`, from `IssueDocument.hidden_in_value`): "at column
    14" on the line the warning names, "at line 31, column 2" on another, an escape named as written.
    Without `written`, each is placed by the words before it ("after «Ny rapp»").
    """
    breaks = sum(1 for _, char in found if is_break(char))
    # Deleted, a form feed between two words would run them together: every output shows it as a space, and
    # the editor is asked for one.
    mixed = 0 < breaks < len(found)
    places = []
    for number, (index, char) in enumerate(found[:INVISIBLE_LISTED]):
        if written:
            at = written[number]
            what = f"the escape {at.escape} ({character_name(char)})" if at.escape else character_name(char)
            where = f"column {at.column}" if at.line == written[0].line else f"line {at.line}, column {at.column}"
            place = f"{what} at {where}"
        else:
            before = " ".join(strip_hidden(value[:index]).split())[-16:]
            place = f"{character_name(char)} " + (f"after «{before}»" if before else "at the start")
        places.append(place + (" (a line or page break: replace it with a space)" if mixed and is_break(char) else ""))
    if len(found) > INVISIBLE_LISTED:
        places.append(f"{len(found) - INVISIBLE_LISTED} more")
    listed = places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]
    one = len(found) == 1
    them = "it" if one else "them"
    if breaks == len(found):
        count = "a line or page break" if one else f"{len(found)} line or page breaks"
        return (
            f"holds {count} that some programs show and others do not (pasted in with the words, or from a "
            f"PDF): replace {listed} with a space; every output shows {them} as a space"
        )
    count = "an invisible character" if one else f"{len(found)} invisible characters"
    return (
        f"holds {count} that can hide or reorder text (pasted in with the words, or from a PDF): delete {listed}; "
        f"every output leaves {them} out" + (", a line or page break as a space" if breaks else "")
    )


def _misspelt_headings(curation: Curation, issue: Issue, issue_id: str, path: str) -> list[Problem]:
    """A warning for each heading of the issue that no other issue, feeds.yaml or newsletter.yaml has, and
    that is close to one they have (`misspelt_heading`), or to another of this issue's that more of its
    entries use (or as many, and earlier in the file): readers would get two headings for one
    organisation ("GRETA" and "GRETTA"), or a typo as a heading. Said at the heading's first entry,
    with the move that corrects it when that is its only entry."""
    known = known_headings(curation, issue_id)
    entries: dict[str, list[tuple[str, Entry]]] = {}  # heading_key -> (ref, entry) of each, in file order
    for key, position, entry in issue.entries():
        entries.setdefault(heading_key(entry.heading), []).append((f"{key}:{position}", entry))
    order = list(entries)
    problems = []
    for n, under in enumerate(entries.values()):
        where, entry = under[0]
        # The more used of two new headings alike is taken for the right one; of two used alike, the first.
        likelier = {
            other: (entries[other][0][1].heading, f"this issue, {entries[other][0][0]}")
            for m, other in enumerate(order)
            if other not in known and (len(entries[other]), -m) > (len(under), -n)
        }
        if (near := misspelt_heading(entry.heading, {**likelier, **known})) is None:
            continue
        written, source = near
        if len(under) == 1:
            fix = f"`newsletter issue move {issue_id} {where} --heading {shlex.quote(written)}`"
        else:
            fix = f"correct the `heading` of its {len(under)} entries ({', '.join(ref for ref, _ in under)})"
        problems.append(
            Problem(
                "warning",
                f"{where} is under '{entry.heading}', a heading no other issue, feeds.yaml or newsletter.yaml has, "
                f"and close to '{written}' ({source}): if it is a typo, {fix}",
                path,
                entry.line_of("heading"),
                "heading",
                where,
            )
        )
    return problems


def _one_organisation_headings(curation: Curation, issue: Issue, issue_id: str, path: str) -> dict[str, list[Problem]]:
    """Per section key, a warning for each heading of the section that names an organisation another
    of its headings names too (newsletter.yaml `organisations`: its name and aliases, as
    `same_organisation_heading` joins them): readers would get "GRETA" and "Europarådet og GRETA" as
    two headings for one body, as when the editor moves one entry under a new name and leaves the
    others under the old.

    The heading kept is the one the section lists in newsletter.yaml (its `headings`), then the
    organisation's own name, then the one more entries use, then the first in the file: the new name
    the editor moved an entry to is the configured one, and joining the old name would undo it. Said at
    each other heading's first entry, with what files its entries under the kept one: an `issue move`
    by item id for each entry citing one item (an id no other move shifts); by position for a single
    entry citing none when it is the section's only such warning (a move shifts the positions after
    it); else the `heading` to change in the file, in place. An organisation's `headings`
    ("Representantforslag" for Stortinget) are kinds of its documents, not its names, and stand beside it.
    """
    organisations = [
        (organisation.name, organisation.names()) for organisation in curation.settings.archive.organisations
    ]
    out: dict[str, list[Problem]] = {}
    for key, entries in issue.sections.items():
        under: dict[str, list[tuple[str, Entry]]] = {}  # heading_key -> (ref, entry) of each, in file order
        for position, entry in enumerate(entries, 1):
            under.setdefault(heading_key(entry.heading), []).append((f"{key}:{position}", entry))
        # Listed as written: `HeadingOrder.rank` gives an organisation's every name the rank of the one listed.
        listed = {heading_key(h) for h in curation.heading_order(key).headings}
        pairs = []  # (the heading to join, the kept one, the organisation's name)
        for name, names in organisations:
            found = [h for h in under if h in names]
            if len(found) < 2:
                continue
            kept = max(
                found,
                key=lambda h: (
                    h in listed,
                    h == heading_key(name),
                    len(under[h]),
                    -found.index(h),
                ),
            )
            pairs += [(other, kept, name) for other in found if other != kept]
        for other, kept, name in pairs:
            kept_ref, kept_entry = under[kept][0]
            heading = kept_entry.heading
            where, entry = under[other][0]
            count = len(under[other])
            ids = [e.items[0] for _ref, e in under[other] if len(e.items) == 1]
            move = f"`newsletter issue move {issue_id} {{}} --heading {shlex.quote(heading)}`"
            if len(ids) == count:
                fix = " and ".join(move.format(item) for item in ids)
            elif count == 1 and len(pairs) == 1:
                fix = move.format(where)
            else:  # positions, which each move shifts: the file says it in place
                fix = f"change the `heading` of {', '.join(ref for ref, _ in under[other])} to '{heading}' in the file"
            out.setdefault(key, []).append(
                Problem(
                    "warning",
                    f"{where} is under '{entry.heading}' and {kept_ref} under '{heading}': both name {name} "
                    f"(newsletter.yaml `organisations`), so readers get two headings for it; to file "
                    f"{'it' if count == 1 else f'its {count} entries'} under '{heading}': {fix}",
                    path,
                    entry.line_of("heading"),
                    "heading",
                    where,
                )
            )
    return out


def _heading_problems(curation: Curation, path: str, issue_id: str, key: str, entries: list[Entry]) -> list[Problem]:
    """A heading split into runs, and listed headings out of the section's `HeadingOrder`.

    An unlisted heading is never out of order: readers get it where the editor put it (the outputs
    follow the file), and a new one is only placed after the listed ones. Each says which `issue
    move` puts the run where it belongs (`_move_run`), with the positions the moves printed above it
    leave: run in the order printed, the moves end in a valid order and no entry they do not name
    changes place among the others.
    """
    problems = []
    order = curation.heading_order(key)
    seen: dict[str, tuple[int, Entry]] = {}  # heading → the last position of its first run, and that entry
    latest: tuple[int, str] | None = None  # the rank and heading of the latest listed heading so far
    # The headings of the entries read so far, in the order the moves printed so far leave them.
    # Every move takes the run being read up among these, so that run and those after it still stand
    # where the file has them: only a move's `--before` needs the moves above it.
    arranged: list[str] = []
    moved = False  # whether a move is printed above, in this section

    def advice(members: list[tuple[int, Entry]], index: int) -> str:
        """The move that puts the run `members` at 0-based `index` of `arranged`, which it then records."""
        nonlocal moved
        arranged[index:index] = [heading_key(e.heading) for _p, e in members]
        command = _move_run(issue_id, key, members, index + 1, after_moves=moved)
        moved = True
        return command

    for heading, members in heading_runs(entries):
        start, entry = members[0]
        where = f"{key}:{start}"
        name = heading_key(heading)
        if name in seen:
            end, earlier = seen[name]
            # Beside its other run, wherever the moves above have taken that.
            after = max(i for i, other in enumerate(arranged) if other == name) + 1
            if after == len(arranged):  # nothing stands between them any more
                arranged.extend(name for _ in members)
                fix = "the moves above put them together"
            else:
                fix = f"put them together {advice(members, after)}"
            problems.append(
                Problem(
                    "warning",
                    f"entries under '{entry.heading}' are split ({key}:{end} and {where}, lines "
                    f"{earlier.line_of('heading')} and {entry.line_of('heading')}): {fix}",
                    path,
                    entry.line_of("heading"),
                    "heading",
                    where,
                )
            )
            continue  # where it belongs is beside its other run: no second warning, with a move that would clash
        seen[name] = members[-1]
        rank = order.rank(heading)
        if rank is not None and latest is not None and rank < latest[0]:
            # Before the first entry of a heading newsletter.yaml puts after this one.
            before = next(i for i, other in enumerate(arranged) if (r := order.rank(other)) is not None and r > rank)
            problems.append(
                Problem(
                    "warning",
                    f"heading '{entry.heading}' ({where}) comes after '{latest[1]}', which newsletter.yaml puts "
                    f"later: move it up {advice(members, before)}",
                    path,
                    entry.line_of("heading"),
                    "heading",
                    where,
                )
            )
        else:
            arranged.extend(name for _ in members)
        if rank is not None and (latest is None or rank > latest[0]):
            latest = (rank, heading)
    return problems


def _move_run(issue_id: str, key: str, members: list[tuple[int, Entry]], before: int, after_moves: bool = False) -> str:
    """The `issue move` that puts a run of entries (their positions in `members`) before position `before`:
    one command, with `--run` for a run of several (the advice was once one command run as many times as
    the run had entries, 59 for one heading of the 2022 issue). `after_moves`: the positions are those
    the moves printed above leave, and the advice says so.
    """
    whole = "" if len(members) == 1 else " --run"
    command = f"`newsletter issue move {issue_id} {key}:{members[0][0]}{whole} --before {key}:{before}`"
    return f"(after the moves above, {command})" if after_moves else f"({command})"


def _earlier_usage(curation: Curation, issue_id: str) -> dict[str, str]:
    """Links and item ids used in issues before this one → the first issue that used them."""
    used: dict[str, str] = {}
    for other in list_issue_ids(curation.workspace.issues_dir):
        if other >= issue_id:
            continue
        # An item an earlier entry linked to by hand counts as used there, as one it named by id.
        for value in (*curation.uses(other)[0], *curation.cited_items(other)):
            used.setdefault(value, other)
    return used


@dataclass(frozen=True)
class IssueState:
    """One line of `issue list`."""

    id: str
    period: str
    published: dt.date | None
    state: str  # invalid, draft, checked, built, sent
    entries: int
    errors: int
    warnings: int

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {
            "id": self.id,
            "period": self.period,
            "published": self.published.isoformat() if self.published else None,
            "state": self.state,
            "entries": self.entries,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def issue_states(curation: Curation) -> list[IssueState]:
    """Every issue file with its state: sent (mailed), built (outputs newer than the file), checked
    (no errors), draft, or invalid (the file cannot be read)."""
    states = []
    sent = curation.store.sent_issue_ids()
    for issue_id in list_issue_ids(curation.workspace.issues_dir):
        path = curation.path(issue_id)
        try:
            issue, problems = check_issue(curation, issue_id)
        except IssueFileError:
            states.append(IssueState(issue_id, "", None, "invalid", 0, 1, 0))
            continue
        errors = sum(p.level == "error" for p in problems)
        warnings = len(problems) - errors
        build = curation.workspace.build_dir(issue_id)
        outputs = [p.stat().st_mtime for p in build.rglob("*") if p.is_file()] if build.is_dir() else []
        if issue_id in sent:
            state = "sent"
        elif errors:
            state = "draft"
        elif outputs and min(outputs) >= path.stat().st_mtime:
            state = "built"  # every output is newer than the issue file
        else:
            state = "checked"
        count = sum(len(entries) for entries in issue.sections.values())
        states.append(IssueState(issue_id, issue.period, issue.published, state, count, errors, warnings))
    return states

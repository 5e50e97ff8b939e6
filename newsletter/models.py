"""The one shared vocabulary of every stage: sources, items, fetch state, contacts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from newsletter.textcodec import strip_hidden

SourceKind = Literal["rss", "atom", "html", "stortinget"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("rss", "atom", "html", "stortinget")

ItemKind = Literal["news", "report", "consultation", "event", "judgment"]
ITEM_KINDS: tuple[ItemKind, ...] = ("news", "report", "consultation", "event", "judgment")

ItemStatus = Literal["new", "picked", "skipped"]
ITEM_STATUSES: tuple[ItemStatus, ...] = ("new", "picked", "skipped")

Relevance = Literal["all", "filter"]
RELEVANCE_MODES: tuple[Relevance, ...] = ("all", "filter")

# How much of a date the source gave: a day, only a month ("June 2022"), only a year.
DatePrecision = Literal["day", "month", "year"]


@dataclass(frozen=True)
class Selectors:
    """CSS selectors that find items on an HTML listing page."""

    item: str
    title: str
    link: str
    date: str | None = None
    summary: str | None = None
    next: str | None = None


@dataclass(frozen=True)
class Source:
    """One feed, API export or listing page from `feeds.yaml`."""

    key: str
    name: str
    kind: SourceKind
    url: str
    section: str
    heading: str
    language: str = "nb"
    relevance: Relevance = "filter"
    item_kind: ItemKind = "news"
    enabled: bool = True
    keywords: dict[str, float] = field(default_factory=dict)
    selectors: Selectors | None = None
    date_format: str | None = None
    max_pages: int = 3
    # An intranet source, on purpose: its items, `next` pages, article pages and redirects may
    # point inside the network (loopback, private, link-local addresses, local names).
    allow_private: bool = False
    line: int | None = None  # where it starts in feeds.yaml, for messages

    @property
    def filtered(self) -> bool:
        """True when only relevant items of this source are candidates."""
        return self.relevance == "filter"


@dataclass(frozen=True)
class FeedsConfig:
    """The parsed `feeds.yaml`: global keywords and the sources in file order."""

    sources: tuple[Source, ...]
    keywords: dict[str, float] = field(default_factory=dict)
    path: str | None = None

    def by_key(self, key: str) -> Source | None:
        """Return the source with this key, or None."""
        return next((s for s in self.sources if s.key == key), None)


@dataclass(frozen=True)
class RelevanceSettings:
    """Thresholds that decide which items of `relevance: filter` sources are candidates."""

    threshold: float = 3.0
    # Items scoring at least this on title and summary alone need no article fetch.
    clear: float = 6.0
    # At most this many article pages are fetched in one collect (newest items first);
    # pages are cached, so the next collect goes on where this one stopped.
    article_limit: int = 400


@dataclass(frozen=True)
class Limits:
    """Bounds on fetching (newsletter.yaml `fetch:`); tests shrink them, the defaults suit real sites."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 1.0
    # Politeness: at most this many requests in flight per host. A pause between their starts
    # (host_interval) is possible but off: spacing starts 0.2 s apart left the second slot idle
    # and held a 169-request host to 5 requests a second whatever its latency (issue 13).
    per_host: int = 2
    host_interval: float = 0.0
    # After this many failed fetches in a row (timeouts, 5xx), a host is skipped for the rest of the run.
    host_failures: int = 3
    workers: int = 16


@dataclass(frozen=True)
class SectionConfig:
    """A section of the newsletter as `newsletter.yaml` configures it."""

    key: str
    title: str
    headings: tuple[str, ...] = ()  # preferred order of headings inside the section


@dataclass(frozen=True)
class Organisation:
    """An organisation (or country) the archive gives a page: every entry ever written under its headings.

    An entry belongs to it when the entry's heading is its `name`, one of its `aliases` (other names it
    goes by: "GRETA", "OSCE") or one of its `headings` (headings that are about it without naming it:
    "Representantforslag" for Stortinget), compared without regard to case or spacing. `url` is its own
    site ("" when not given).
    """

    name: str
    aliases: tuple[str, ...] = ()
    headings: tuple[str, ...] = ()
    url: str = ""

    def claims(self) -> tuple[str, ...]:
        """Every heading that maps to it, folded as `heading_key` folds them."""
        return tuple(heading_key(h) for h in (self.name, *self.aliases, *self.headings))

    def names(self) -> frozenset[str]:
        """Its name and aliases, folded as `heading_key` folds them: the headings that name it. Not its
        `headings`, which are about it without naming it ("Representantforslag"), headings of their own."""
        return frozenset(heading_key(h) for h in (self.name, *self.aliases))


def heading_key(heading: str) -> str:
    """A heading folded for comparison: lower case, runs of spaces as one ("RVTS  Øst" → "rvts øst"), and
    without the invisible characters no output shows (`textcodec.strip_hidden`), so two headings that
    read the same are one: grouped, placed and mapped to an organisation alike."""
    return " ".join(strip_hidden(heading).casefold().split())


@dataclass(frozen=True)
class HeadingOrder:
    """Where headings go inside one section: `sections[].headings` in newsletter.yaml, and the organisations.

    The one rule for the order of headings, used wherever a heading is placed or judged: `issue add`,
    `note`, `move`, `draft` and triage put a new heading where `index_for` says, and `issue check`
    warns when listed headings depart from the order. It never reorders an issue: every output shows
    the headings as the issue file has them, so what the editor sees in the file is what readers get.

    A heading stands where it is listed, or, when it is not, where a listed heading of the same
    organisation is (its `name` or one of its `aliases` in `organisations`: "OSCE" where "OSSE" is
    listed, "GRETA" where "Europarådet og GRETA" is). A heading that is neither is unlisted: a new one
    goes after every listed one, and one the editor put elsewhere stays there. Headings compare as
    `heading_key` folds them.
    """

    headings: tuple[str, ...] = ()
    organisations: tuple[Organisation, ...] = ()

    def rank(self, heading: str) -> int | None:
        """The heading's place in the order (0 first), or None when the order does not list it."""
        return self._ranks.get(heading_key(heading))

    def index_for(self, headings: Sequence[str], heading: str) -> int:
        """Where an entry under `heading` goes among entries under `headings` (a section's, in order; 0-based).

        After its heading's last entry, so a heading's entries stay together. A new listed heading
        goes among the listed ones as the order puts them: after the last entry whose heading the
        order puts before it or level with it, else before the first it puts after it, else first (a
        section of unlisted headings only). A new unlisted heading goes last. So a section in the
        order stays in it, and an unlisted heading the editor placed (a theme of the quarter first)
        keeps its place.
        """
        key = heading_key(heading)
        same = [i for i, other in enumerate(headings) if heading_key(other) == key]
        if same:
            return same[-1] + 1
        mine = self.rank(heading)
        if mine is None:
            return len(headings)
        ranks = [self.rank(other) for other in headings]
        before = [i for i, rank in enumerate(ranks) if rank is not None and rank <= mine]
        if before:
            return before[-1] + 1
        return next((i for i, rank in enumerate(ranks) if rank is not None and rank > mine), 0)

    @cached_property
    def _ranks(self) -> dict[str, int]:
        listed: dict[str, int] = {}
        for index, heading in enumerate(self.headings):
            listed.setdefault(heading_key(heading), index)
        ranks = dict(listed)
        for organisation in self.organisations:
            names = organisation.names()
            places = [listed[name] for name in names if name in listed]
            if places:
                for name in names - listed.keys():
                    ranks[name] = min(ranks.get(name, len(self.headings)), min(places))
        return ranks


@dataclass(frozen=True)
class ArchiveSettings:
    """What the archive makes of the issues' headings (newsletter.yaml `organisations` and `archive`).

    Headings in `own_sections` and the `own_headings` are the unit's own news and `themes` name no
    organisation: none of them gets a page, and `site build` reports every other heading that no
    organisation claims.
    """

    organisations: tuple[Organisation, ...] = ()
    own_sections: tuple[str, ...] = ()
    own_headings: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MailSettings:
    """How issues are mailed (newsletter.yaml `sender`, `reply_to`, `smtp`, …; the password only from the
    environment, NEWSLETTER_SMTP_PASSWORD)."""

    sender: str = ""  # the From address
    sender_name: str = ""
    reply_to: str = ""
    list_id: str = ""  # e.g. nyhetsbrev.kom.politiet.no
    unsubscribe_url: str = ""  # https one-click endpoint; the recipient's token is appended
    unsubscribe_mailto: str = ""  # defaults to reply_to, then sender
    smtp_host: str = ""  # empty: messages go to var/outbox/<id>/
    smtp_port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    username: str = ""
    timeout: float = 30.0
    # Seconds to wait for the reply to the end of the data: RFC 5321 4.5.3.2.6 has a client wait 10 minutes,
    # as a server may check a message (for viruses, say) before it answers; a shorter wait makes the
    # message's fate unknown where it arrived.
    data_timeout: float = 600.0
    rate_per_second: float = 0.0  # 0: no limit
    rate_per_hour: float = 0.0
    connections: int = 1
    max_attempts: int = 5  # a temporarily refused message is tried this often in all
    retry_base: float = 30.0  # seconds before the first retry; doubles each time
    max_outage: float = 300.0  # seconds a run waits out a server that is down (421, refused connections)
    ca_file: str = ""  # a PEM file of CA certificates to trust instead of the system's (a private CA)
    timezone: str = "Europe/Oslo"  # the publisher's zone (top-level `timezone:`), for the Date: header


DEFAULT_SECTIONS: tuple[SectionConfig, ...] = (
    SectionConfig("highlights", "Verdt å merke seg"),
    SectionConfig("kom", "Våre hovedaktiviteter i {period}"),
    SectionConfig("norway", "Aktuelle norske tiltak, rapporter og forskning"),
    SectionConfig("international", "Aktuelle internasjonale tiltak, rapporter og forskning"),
    SectionConfig("events", "Verdt å merke seg – kommende arrangementer"),
)


@dataclass(frozen=True)
class Settings:
    """The parts of `newsletter.yaml` that collection and the inbox use."""

    name: str = "Nyhetsbrev"
    language: str = "nb"
    timezone: str = "Europe/Oslo"
    relevance: RelevanceSettings = field(default_factory=RelevanceSettings)
    limits: Limits = field(default_factory=Limits)
    publisher: str = ""
    audience: str = ""
    contact: str = ""
    site_url: str = ""
    footer_about: str = ""  # Markdown: who the unit is
    footer_subscription: str = ""  # Markdown: how to join or leave the contact list
    colors: tuple[tuple[str, str], ...] = (
        ("primary", "#1f3864"),
        ("accent", "#a84a0d"),
        ("text", "#1a1a1a"),
        ("muted", "#5a5a5a"),
        ("background", "#ffffff"),
        ("band", "#eef2f8"),
    )
    section_configs: tuple[SectionConfig, ...] = DEFAULT_SECTIONS
    mail: MailSettings = field(default_factory=MailSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)

    @property
    def sections(self) -> tuple[str, ...]:
        """The section keys, in order."""
        return tuple(s.key for s in self.section_configs)

    def color(self, name: str) -> str:
        """A configured colour (#rrggbb)."""
        return dict(self.colors)[name]

    def section(self, key: str) -> SectionConfig | None:
        """The configured section with this key, or None."""
        return next((s for s in self.section_configs if s.key == key), None)

    def heading_order(self, key: str) -> HeadingOrder:
        """The order of headings inside section `key` (none configured: every heading is unlisted)."""
        config = self.section(key)
        return HeadingOrder(config.headings if config else (), self.archive.organisations)

    user_agent: str = "newsletter/0.1 (+https://github.com/kom/newsletter)"


@dataclass
class RawItem:
    """What a parser read off a feed or listing, before canonicalisation and scoring."""

    url: str
    title: str
    summary: str = ""
    published: dt.date | None = None
    date_precision: DatePrecision | None = None
    kind: ItemKind | None = None
    deadline: dt.date | None = None
    event_date: dt.date | None = None
    guid: str | None = None


@dataclass(frozen=True)
class ItemIdentity:
    """Which document an item is, as collection decides it (`newsletter.collect.urls.identify`).

    `url` is the canonical URL, `key` the cross-source de-duplication key, and
    `ids` the short ids to give a new item, in order of preference: the store
    takes the first one no other item has.
    """

    url: str
    key: str
    ids: tuple[str, ...]


@dataclass
class Item:
    """A collected item as the store holds it."""

    id: str
    source: str
    url: str
    title: str
    summary: str = ""
    published: dt.date | None = None
    date_precision: DatePrecision | None = None
    fetched_at: dt.datetime | None = None
    language: str = "nb"
    kind: ItemKind = "news"
    deadline: dt.date | None = None
    event_date: dt.date | None = None
    score: float = 0.0
    terms: tuple[str, ...] = ()
    status: ItemStatus = "new"
    section: str = ""
    heading: str = ""
    candidate: bool = False
    sources: tuple[str, ...] = ()
    first_seen: dt.datetime | None = None
    probability: float | None = None  # of a pick (0–1), from the editor's ranking; None when not ranked
    why: tuple[str, ...] = ()  # what weighed most in that probability: terms, or the past entry it is like
    # The id of the item it is listed right after, out of the order of probability, as one story with
    # it (a press release and the report it announces: `ranking.beside_twins`); None otherwise.
    goes_with: str | None = None

    def to_json(self) -> dict:
        """A JSON-ready mapping with the documented field names."""

        def iso(value):
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "source": self.source,
            "sources": list(self.sources or (self.source,)),
            "url": self.url,
            "title": self.title,
            "summary": self.summary,
            "published": iso(self.published),
            "date_precision": self.date_precision,
            "kind": self.kind,
            "deadline": iso(self.deadline),
            "event_date": iso(self.event_date),
            "score": round(self.score, 2),
            "terms": list(self.terms),
            "section": self.section,
            "heading": self.heading,
            "language": self.language,
            "status": self.status,
            "candidate": self.candidate,
            "probability": None if self.probability is None else round(self.probability, 4),
            "why": list(self.why),
            "goes_with": self.goes_with,
            "fetched_at": iso(self.fetched_at),
        }


@dataclass
class FetchState:
    """What the store remembers about one source between runs."""

    source: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: dt.datetime | None = None
    last_success: dt.datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    items_parsed: int | None = None
    newest: dt.date | None = None
    newest_seen_at: dt.datetime | None = None
    warnings: tuple[str, ...] = ()
    # The --since of the run whose body the validators stand for, when it held older items back (None:
    # everything in it was stored). A later run with an earlier or no --since fetches in full.
    validators_since: dt.date | None = None


@dataclass
class SourceResult:
    """The outcome of collecting one source in one run."""

    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    parsed: int = 0
    not_modified: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the source was read."""
        return self.error is None


ENTRY_FIELDS: tuple[str, ...] = (
    "heading",
    "title",
    "text",
    "item",
    "items",
    "accepted",
    "date",
    "deadline",
    "event_date",
    "event_end",
    "archived_url",
)


@dataclass
class Entry:
    """One piece of the newsletter: a heading (organisation, country or theme), a title and a text."""

    heading: str
    title: str = ""
    text: str = ""  # Markdown; links as [se her](https://…)
    item: str | None = None  # id of the collected item it came from (the first, when it cites several)
    date: dt.date | None = None
    deadline: dt.date | None = None  # consultations: høringsfrist
    event_date: dt.date | None = None  # events: the day it takes place
    event_end: dt.date | None = None  # events over several days: the last day
    # A stored copy of the page the entry links to (web.archive.org …), noted once the link died; the
    # archive shows it beside the entry's links, and `links --archive` counts the dead link as seen to.
    archived_url: str = ""
    line: int | None = None  # where it starts in the issue file
    # Every collected item the entry cites, `item` first ("se her og her": `items: [a, b]` in the file).
    items: tuple[str, ...] = ()
    accepted: bool = False  # the editor keeps the starting text as it is (`issue accept`)
    # The line of each of its fields in the issue file, so a problem with one names the field's own line.
    field_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, name: str) -> int | None:
        """The issue file's line of field `name` of this entry (`item` and `items` stand for each other);
        the entry's first line when the field is not written in the file."""
        lines = self.field_lines
        if name in ("item", "items"):
            return lines.get(name) or lines.get("items" if name == "item" else "item") or self.line
        return lines.get(name) or self.line

    def __post_init__(self) -> None:
        # One invariant for every constructor: `item` is the first of `items`.
        if self.item and not self.items:
            self.items = (self.item,)
        elif self.items and self.item != self.items[0]:
            self.item = self.items[0]

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {
            "heading": self.heading,
            "title": self.title,
            "text": self.text,
            "item": self.item,
            "items": list(self.items),
            "accepted": self.accepted,
            "date": self.date.isoformat() if self.date else None,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "event_date": self.event_date.isoformat() if self.event_date else None,
            "archived_url": self.archived_url or None,
        }


@dataclass
class Issue:
    """One issue of the newsletter, as the editor's `issues/<id>.yaml` holds it."""

    id: str
    title: str
    period: str
    published: dt.date | None = None
    audience: str = ""
    intro: str = ""
    sections: dict[str, list[Entry]] = field(default_factory=dict)
    path: str | None = None

    def to_json(self) -> dict:
        """A JSON-ready mapping (`issue show --json`): each entry also has its `ref`, "section:position"."""
        return {
            "id": self.id,
            "title": self.title,
            "period": self.period,
            "published": self.published.isoformat() if self.published else None,
            "audience": self.audience,
            "intro": self.intro,
            "sections": {
                key: [dict(entry.to_json(), ref=f"{key}:{position}") for position, entry in enumerate(entries, 1)]
                for key, entries in self.sections.items()
            },
        }

    def entries(self):
        """Every (section key, 1-based position, entry), in order."""
        for key, entries in self.sections.items():
            for position, entry in enumerate(entries, 1):
                yield key, position, entry


def heading_runs(entries: Sequence[Entry]) -> list[tuple[str, list[tuple[int, Entry]]]]:
    """A section's entries as readers get them: each run of consecutive entries under one heading.

    Each run is its heading (as the run's first entry writes it) and its (1-based position, entry)
    pairs, in the file's order. Nothing is reordered or merged: a heading split into two runs is
    shown twice, and `issue check` warns of it.
    """
    runs: list[tuple[str, list[tuple[int, Entry]]]] = []
    for position, entry in enumerate(entries, 1):
        if runs and heading_key(runs[-1][0]) == heading_key(entry.heading):
            runs[-1][1].append((position, entry))
        else:
            runs.append((entry.heading, [(position, entry)]))
    return runs


# ---------------------------------------------------------------------- contacts and the send ledger

ContactStatus = Literal["active", "unsubscribed", "bounced"]
CONTACT_STATUSES: tuple[str, ...] = ("active", "unsubscribed", "bounced")
# A contact's fields besides its address, in the order a CSV export writes them.
CONTACT_FIELDS: tuple[str, ...] = (
    "name",
    "organisation",
    "tags",
    "legal_basis",
    "consent_source",
    "consent_date",
    "status",
)


def clean_tags(tags: Iterable[str] | str | None) -> tuple[str, ...]:
    """Tags without blanks or case-insensitive repeats, the first spelling kept; a string is split on `|`, `,`
    or `;` (a tags cell of a CSV file), never on spaces, as a tag may be words ("offentlig sektor")."""
    if tags is None:
        return ()
    if isinstance(tags, str):
        # `;` too: Excel with Norwegian settings writes `;` between list items as readily as `,`, and a
        # cell in a `;`-separated file that holds one has been quoted, so it is still one cell of tags.
        tags = re.split(r"[|,;]", tags)
    seen: dict[str, str] = {}
    for tag in tags:
        tag = str(tag).strip()
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    return tuple(seen.values())


@dataclass
class Contact:
    """One recipient of the newsletter and the consent it is mailed on."""

    email: str
    name: str = ""
    organisation: str = ""
    tags: tuple[str, ...] = ()
    legal_basis: str = ""
    consent_source: str = ""
    consent_date: dt.date | None = None
    status: str = "active"
    id: int | None = None

    def __post_init__(self) -> None:
        self.tags = clean_tags(self.tags)

    def to_json(self) -> dict:
        """The contact as JSON-ready values (dates as ISO strings, tags as a list)."""
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "organisation": self.organisation,
            "tags": list(self.tags),
            "legal_basis": self.legal_basis,
            "consent_source": self.consent_source,
            "consent_date": self.consent_date.isoformat() if self.consent_date else None,
            "status": self.status,
        }


# A ledger row's state: pending → sending → sent, or temp_failed (retried), failed, unknown (the
# connection broke after the data went out). See newsletter.mail.send.
SendState = Literal["pending", "sending", "sent", "temp_failed", "failed", "unknown"]
SEND_STATES: tuple[SendState, ...] = ("pending", "sending", "sent", "temp_failed", "failed", "unknown")

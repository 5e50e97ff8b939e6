"""What the archive's shared pages need from each issue: a summary, kept in the manifest between builds.

An unchanged issue is never parsed again: its `IssueSummary` comes back from
`.manifest.json` (`to_json` / `from_json`), and the index, the organisation
pages, the search index, the feed and the sitemap are all made from summaries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from newsletter.models import ArchiveSettings, Issue, Organisation, heading_key
from newsletter.render import markdown
from newsletter.render.view import IssueView
from newsletter.textcodec import strip_hidden

TEASER = 300  # characters of the intro on the archive's index


def shorten(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its whole sentences up to `limit`, else its words and " …".

    Sentences are kept whole when they fill at least 40% of `limit`; a word is never cut.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = max(text.rfind(end, 0, limit) for end in (". ", "! ", "? "))
    if cut >= limit * 0.4:
        return text[: cut + 1]
    space = text.rfind(" ", 0, limit - 1)
    return (text[:space] if space > 0 else text[: limit - 2]).rstrip(",;:–- ") + " …"


@dataclass
class EntrySummary:
    """One entry of an issue as the archive lists it: where it stands, and its text as plain text."""

    section: str  # the section's title, as printed
    section_key: str  # the section's key in newsletter.yaml ("norway")
    heading: str
    title: str
    anchor: str  # the entry's id in the issue's web page ("sak-norway-3")
    text: str  # its words on one line: links as their text, no addresses (markdown.to_words)


@dataclass
class IssueSummary:
    """An issue as the archive's shared pages see it (the manifest keeps one per published issue)."""

    id: str
    title: str
    period: str
    published: dt.date | None
    intro: str  # its words on one line, as the entries' text
    entries: list[EntrySummary]
    events: bool = False  # an entry has an event_date: `events.ics` sits beside its page

    @property
    def published_year(self) -> str:
        """The year the issue covers ("2023" for 2023-q4, even when it came out in January): the index groups by it."""
        return self.id[:4]

    @property
    def teaser(self) -> str:
        """What the index says about the issue: its intro, shortened to about TEASER characters (`shorten`)."""
        return shorten(self.intro, TEASER)

    @property
    def published_date(self) -> dt.date | None:
        """The publication date (the name the archive's templates use)."""
        return self.published

    def is_published(self, today: dt.date) -> bool:
        """Whether the issue goes in the archive: it has a publication date, and that date is not after `today`."""
        return self.published is not None and self.published <= today

    def to_json(self) -> dict[str, Any]:
        """The summary as the manifest stores it: JSON types only, the date as "YYYY-MM-DD" (or None)."""
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssueSummary:
        """The summary from its manifest form (`to_json`); raises KeyError or ValueError when it is malformed."""
        return cls(
            id=data["id"],
            title=data["title"],
            period=data["period"],
            published=dt.date.fromisoformat(data["published"]) if data["published"] else None,
            intro=data["intro"],
            entries=[EntrySummary(**entry) for entry in data["entries"]],
            events=bool(data.get("events", False)),  # a manifest written before calendars were published
        )


@dataclass
class IssueListing(IssueSummary):
    """A summary on the archive's index page, which also needs to know whether a PDF sits beside the page."""

    pdf: bool = False


@dataclass
class OrganisationEntry(EntrySummary):
    """An entry on an organisation's page: the entry, and the issue it appeared in."""

    issue: str = ""  # the issue's id
    period: str = ""  # the issue's period, as printed


@dataclass
class OrganisationPage:
    """A configured organisation and every entry ever written under a heading that maps to it, newest issue first."""

    organisation: Organisation
    entries: list[OrganisationEntry] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The organisation's name, as configured."""
        return self.organisation.name


@dataclass
class Unmapped:
    """A heading no organisation claims, that is neither the unit's own nor a theme: where it occurs."""

    heading: str  # as first met, oldest issue first
    places: list[str] = field(default_factory=list)  # "2024-q2:norway" (issue:section), once each


def summarize(issue: Issue, view: IssueView) -> IssueSummary:
    """The summary of an issue, from the issue (for the entries' source text) and its view model (for the order)."""
    entries = [
        EntrySummary(
            section=section.title,
            section_key=section.key,
            heading=group.heading,
            title=entry.title,
            anchor=entry.anchor,
            text=markdown.to_words(_source_text(issue, entry.ref)),
        )
        for section in view.sections
        for group in section.groups
        for entry in group.entries
    ]
    return IssueSummary(
        id=issue.id,
        title=strip_hidden(issue.title),  # as the view's; the entries' come from the view
        period=issue.period,
        published=issue.published,
        intro=markdown.to_words(issue.intro),
        entries=entries,
        events=view.has_events,
    )


def _source_text(issue: Issue, ref: str) -> str:
    """The Markdown of the entry a view's `ref` ("norway:3", 1-based) points at."""
    key, position = ref.split(":")
    return issue.sections[key][int(position) - 1].text


def slug(text: str) -> str:
    """A safe file name for a heading: "Østersjørådet (CBSS)" → "ostersjoradet-cbss" (at most 60 characters).

    Text with no letter or digit in ASCII gets "emne-" and a hash of the text.
    """
    table = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "ae", "Ø": "o", "Å": "a", "ß": "ss"})
    ascii_text = unicodedata.normalize("NFKD", text.translate(table)).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]
    return cleaned or "emne-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


class HeadingMap:
    """Which configured organisations an entry's heading maps to (`archive.organisations`), if any.

    An entry in one of `archive.own_sections`, or under one of `archive.own_headings` or `archive.themes`,
    maps to none and is `ignored`: it is the unit's own news, or names no organisation.
    """

    def __init__(self, archive: ArchiveSettings):
        self.archive = archive
        self._claimed: dict[str, list[Organisation]] = {}  # heading key → the organisations claiming it
        for organisation in archive.organisations:
            for key in dict.fromkeys(organisation.claims()):
                self._claimed.setdefault(key, []).append(organisation)
        self._ignored = {heading_key(h) for h in (*archive.own_headings, *archive.themes)}
        self._own_sections = set(archive.own_sections)

    def ignored(self, entry: EntrySummary) -> bool:
        """Whether the entry is the unit's own news or under a theme: on no organisation's page, never reported."""
        return entry.section_key in self._own_sections or heading_key(entry.heading) in self._ignored

    def organisations(self, entry: EntrySummary) -> list[Organisation]:
        """The organisations the entry's heading maps to, in configured order ([] when ignored or unmapped)."""
        return [] if self.ignored(entry) else self._claimed.get(heading_key(entry.heading), [])


def organisation_pages(
    published: list[IssueSummary], archive: ArchiveSettings
) -> tuple[dict[str, OrganisationPage], list[Unmapped]]:
    """The organisation pages of the published issues (slug → page, by name) and the headings that map to none.

    Only organisations with at least one entry get a page; an entry whose heading several organisations
    claim ("NKVTS og NOVA") is on each of their pages. Entries `HeadingMap.ignored` are on none and never
    reported. Slugs come from the names, are unique, and never "index" (organisasjoner/index.html lists
    every organisation).
    """
    mapping = HeadingMap(archive)
    found: dict[str, OrganisationPage] = {}  # organisation name → its page
    unmapped: dict[str, Unmapped] = {}  # heading key → where it occurs
    for summary in published:  # oldest first: an unmapped heading is named as its first use writes it
        for entry in summary.entries:
            if mapping.ignored(entry) or mapping.organisations(entry):
                continue
            item = unmapped.setdefault(heading_key(entry.heading), Unmapped(entry.heading))
            place = f"{summary.id}:{entry.section_key}"
            if place not in item.places:
                item.places.append(place)
    for summary in reversed(published):  # newest first on the pages
        for entry in summary.entries:
            for organisation in mapping.organisations(entry):
                page = found.setdefault(organisation.name, OrganisationPage(organisation))
                page.entries.append(OrganisationEntry(**asdict(entry), issue=summary.id, period=summary.period))
    pages: dict[str, OrganisationPage] = {}
    for name in sorted(found, key=str.casefold):
        candidate = slug(name)
        if candidate == "index":
            candidate = "index-organisasjon"
        while candidate in pages:
            candidate = f"{candidate}-{hashlib.sha256(name.encode()).hexdigest()[:4]}"
        pages[candidate] = found[name]
    return pages, sorted(unmapped.values(), key=lambda u: u.heading.casefold())

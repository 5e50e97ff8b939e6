"""The view model every output is rendered from, built once per issue.

Sections in order with their titles, headings and entries in the order of the
issue file (what the editor sees there is what readers get; newsletter.yaml's
order of headings decides where the curation commands put a new heading, not
how an issue is shown), every entry's Markdown rendered and sanitised, every
link numbered once for the whole issue, Norwegian dates from Babel. No text in it
carries an invisible character that hides or reorders what a reader sees
(`textcodec.strip_hidden`): the Markdown is parsed without them, and the plain
fields (titles, headings) lose them here.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from babel import Locale
from babel.dates import format_date

from newsletter.models import Issue, Settings, heading_runs
from newsletter.render import markdown
from newsletter.textcodec import strip_hidden

log = logging.getLogger(__name__)

# Filled per recipient by the mailing stage; left as they are in build/<id>/.
WEB_VERSION_URL = "%%WEB_VERSION_URL%%"
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"


def norwegian_date(day: dt.date | None) -> str:
    """ "7. mai 2024" (Babel, Norwegian Bokmål)."""
    return format_date(day, "d. MMMM y", locale="nb") if day else ""


def norwegian_interval(start: dt.date, end: dt.date | None) -> str:
    """ "21.–22. august 2024", "30. august–2. september 2024" (Babel's CLDR interval patterns, months in full).

    CLDR has no `yMMMMd` interval for Norwegian, so the `yMMMd` patterns are used with the month
    widened to the full name, as `norwegian_date` writes it.
    """
    if not end or end == start:
        return norwegian_date(start)
    patterns = Locale.parse("nb").interval_formats["yMMMd"]
    greatest = "y" if start.year != end.year else "M" if start.month != end.month else "d"
    first, second = (re.sub(r"(?<!M)MMM(?!M)", "MMMM", pattern) for pattern in patterns[greatest])
    return format_date(start, first, locale="nb") + format_date(end, second, locale="nb")


@dataclass
class EntryView:
    """An entry ready for any template."""

    ref: str
    anchor: str  # "sak-norway-3": the entry's id in the web page, for links from the archive
    heading: str
    title: str
    html: str  # sanitised, links as they are
    html_print: str  # sanitised, each cited link followed by its address as a footnote (print)
    text: str  # plain text, links as [n]
    links: list[tuple[int, str]]
    date: str = ""
    deadline: str = ""  # "2. juli 2024", shown as "Høringsfrist"
    deadline_closed: bool = False  # passed before the issue is published: "Høringsfristen gikk ut …"
    event_date: str = ""
    # The entry's Markdown, parsed once per build; the calendar renders its description from it.
    tokens: list = field(default_factory=list, repr=False, compare=False)
    archived_url: str = ""  # a stored copy of the page the entry links to, once that link died


@dataclass
class GroupView:
    """Consecutive entries under one heading, as the issue file has them (`models.heading_runs`)."""

    heading: str
    entries: list[EntryView]
    anchor: str = ""  # "del-norway-2": the heading's id, for the contents lists


@dataclass
class SectionView:
    """A section with its title and its headings in order."""

    key: str
    title: str
    anchor: str
    groups: list[GroupView]
    links: list[tuple[int, str]] = field(default_factory=list)  # cited in this section, each once, by number


@dataclass
class IssueView:
    """Everything a template may show."""

    id: str
    name: str
    title: str
    period: str
    published: str
    published_iso: str
    audience: str
    publisher: str
    contact: str
    intro_html: str
    intro_html_print: str
    intro_text: str
    intro_links: list[tuple[int, str]]
    sections: list[SectionView]
    footer_about_html: str
    footer_about_text: str
    footer_subscription_html: str
    footer_subscription_text: str
    footer_about_html_print: str
    footer_subscription_html_print: str
    footer_links: list[tuple[int, str]]
    colors: dict[str, str]
    links: list[tuple[int, str]]
    preheader: str = ""  # the inbox preview: the intro's opening, plain text
    web_version_url: str = WEB_VERSION_URL
    unsubscribe_url: str = UNSUBSCRIBE_URL
    lang: str = "nb"
    has_events: bool = False  # an entry has an event_date: the build writes events.ics
    # The footer texts already give the contact address: no separate "Kontakt:" line (the unit's texts once).
    contact_in_footer: bool = False


class LinkNumbers:
    """Numbers every distinct cited link (http, https) of an issue once, in reading order.

    A link cited again keeps its first number; `cited_since` lists it again under each part that cites
    it, so a plain-text reader finds every "[n]" of an entry under that entry, not only the new ones.
    """

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self._order: list[str] = []  # by number
        self._citations: list[int] = []  # every citation's number, in reading order

    def __call__(self, url: str) -> int:
        if url not in self.numbers:
            self._order.append(url)
            self.numbers[url] = len(self._order)
        self._citations.append(self.numbers[url])
        return self.numbers[url]

    def mark(self) -> int:
        """Where the citations stand now: give it to `cited_since` after rendering a part."""
        return len(self._citations)

    def cited_since(self, mark: int) -> list[tuple[int, str]]:
        """The links cited after `mark` (from `mark()`): (number, address) pairs, each once, by number."""
        return [(n, self._order[n - 1]) for n in sorted(set(self._citations[mark:]))]


def preheader(text: str, limit: int = 140) -> str:
    """The inbox preview of an e-mail: `text` unwrapped, addresses dropped, cut at a word within `limit` characters."""
    flat = " ".join(re.sub(r" \((?:https?://|[^ ()]+@)[^)]*\)", "", text).split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:–-") + "…"


def issue_view(issue: Issue, settings: Settings) -> IssueView:
    """The view model of an issue (links numbered in reading order)."""
    numbers = LinkNumbers()
    intro = markdown.parse(issue.intro)
    intro_text = markdown.to_text(intro, numbers)
    intro_links = numbers.cited_since(0)
    sections = []
    for key, entries in issue.sections.items():
        if not entries:
            continue
        config = settings.section(key)
        title = strip_hidden((config.title if config else key).replace("{period}", issue.period))
        before = numbers.mark()
        groups: list[GroupView] = []
        for heading, members in heading_runs(entries):  # as the file has them: see models.HeadingOrder
            views = []
            for position, entry in members:
                start = numbers.mark()
                tokens = markdown.parse(entry.text)  # once per entry, rendered three ways below
                text = markdown.to_text(tokens, numbers)
                views.append(
                    EntryView(
                        ref=f"{key}:{position}",
                        anchor=f"sak-{key}-{position}",
                        heading=strip_hidden(entry.heading),
                        title=strip_hidden(entry.title),
                        html=markdown.to_html(tokens),
                        html_print=markdown.to_html(tokens, footnotes=True),
                        text=text,
                        links=numbers.cited_since(start),
                        date=norwegian_date(entry.date),
                        deadline=norwegian_date(entry.deadline),
                        deadline_closed=bool(entry.deadline and issue.published and entry.deadline < issue.published),
                        event_date=norwegian_interval(entry.event_date, entry.event_end) if entry.event_date else "",
                        tokens=tokens,
                        archived_url=entry.archived_url,
                    )
                )
            groups.append(GroupView(strip_hidden(heading), views, f"del-{key}-{len(groups) + 1}"))
        sections.append(SectionView(key, title, f"del-{key}", groups, numbers.cited_since(before)))
    # The footer's links go on numbering where the sections stopped, and are listed under the footer.
    before_footer = numbers.mark()
    about, subscription = markdown.parse(settings.footer_about), markdown.parse(settings.footer_subscription)
    footer_about_text = markdown.to_text(about, numbers)
    footer_subscription_text = markdown.to_text(subscription, numbers)
    footer_links = numbers.cited_since(before_footer)
    return IssueView(
        id=issue.id,
        name=strip_hidden(settings.name),
        title=strip_hidden(issue.title or settings.name),
        period=issue.period,
        published=norwegian_date(issue.published),
        published_iso=issue.published.isoformat() if issue.published else "",
        audience=strip_hidden(issue.audience),
        publisher=strip_hidden(settings.publisher or settings.name),
        contact=strip_hidden(settings.contact),
        intro_html=markdown.to_html(intro),
        intro_html_print=markdown.to_html(intro, footnotes=True),
        intro_text=intro_text,
        intro_links=intro_links,
        sections=sections,
        footer_about_html=markdown.to_html(about),
        footer_about_text=footer_about_text,
        footer_subscription_html=markdown.to_html(subscription),
        footer_subscription_text=footer_subscription_text,
        footer_about_html_print=markdown.to_html(about, footnotes=True),
        footer_subscription_html_print=markdown.to_html(subscription, footnotes=True),
        footer_links=footer_links,
        colors=dict(settings.colors),
        links=[(n, url) for url, n in numbers.numbers.items()],
        contact_in_footer=bool(settings.contact)
        and settings.contact.lower() in f"{settings.footer_about}\n{settings.footer_subscription}".lower(),
        has_events=any(entry.event_date for _key, _position, entry in issue.entries()),
        preheader=preheader(
            markdown.to_text(intro, None, width=None) or strip_hidden(f"{settings.name}, {issue.period}")
        ),
    )

"""The view model every output is rendered from, built once per issue.

Sections in order with their titles, headings grouped and ordered as
newsletter.yaml prefers, every entry's Markdown rendered and sanitised, every
link numbered once for the whole issue, Norwegian dates from Babel.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from babel.dates import format_date

from newsletter.models import Entry, Issue, Settings
from newsletter.render import markdown

log = logging.getLogger(__name__)

# Filled per recipient by the mailing stage; left as they are in build/<id>/.
WEB_VERSION_URL = "%%WEB_VERSION_URL%%"
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"


def norwegian_date(day: dt.date | None) -> str:
    """ "7. mai 2024" (Babel, Norwegian Bokmål)."""
    return format_date(day, "d. MMMM y", locale="nb") if day else ""


@dataclass
class EntryView:
    """An entry ready for any template."""

    ref: str
    anchor: str  # "sak-norway-3": the entry's id in the web page, for links from the archive
    heading: str
    title: str
    html: str  # sanitised, links as they are
    html_numbered: str  # sanitised, each link followed by its number (print)
    text: str  # plain text, links as [n]
    links: list[tuple[int, str]]
    date: str = ""
    deadline: str = ""  # "2. juli 2024", shown as "Høringsfrist"
    event_date: str = ""
    archived_url: str = ""  # a stored copy of the page the entry links to, once that link died


@dataclass
class GroupView:
    """Consecutive entries under one heading."""

    heading: str
    entries: list[EntryView]


@dataclass
class SectionView:
    """A section with its title and its headings in order."""

    key: str
    title: str
    anchor: str
    groups: list[GroupView]
    links: list[tuple[int, str]] = field(default_factory=list)  # cited in this section, for the PDF


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
    intro_html_numbered: str
    intro_text: str
    intro_links: list[tuple[int, str]]
    sections: list[SectionView]
    footer_about_html: str
    footer_about_text: str
    footer_subscription_html: str
    footer_subscription_text: str
    footer_about_html_numbered: str
    footer_subscription_html_numbered: str
    footer_links: list[tuple[int, str]]
    colors: dict[str, str]
    links: list[tuple[int, str]]
    web_version_url: str = WEB_VERSION_URL
    unsubscribe_url: str = UNSUBSCRIBE_URL
    lang: str = "nb"


class LinkNumbers:
    """Numbers every distinct cited link (http, https) of an issue once, in reading order."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def __call__(self, url: str) -> int:
        return self.numbers.setdefault(url, len(self.numbers) + 1)

    def since(self, before: int) -> list[tuple[int, str]]:
        """Links first numbered after `before`."""
        return [(n, url) for url, n in self.numbers.items() if n > before]


def ordered_groups(entries: list[tuple[int, Entry]], order: tuple[str, ...]) -> list[tuple[str, list]]:
    """Entries grouped by heading; groups in the configured order, unlisted headings after, as written."""
    groups: dict[str, list] = {}
    names: dict[str, str] = {}
    for position, entry in entries:
        key = entry.heading.lower()
        names.setdefault(key, entry.heading)
        groups.setdefault(key, []).append((position, entry))
    rank = {h.lower(): i for i, h in enumerate(order)}
    keys = sorted(groups, key=lambda k: (rank.get(k, len(rank)), list(groups).index(k)))
    return [(names[k], groups[k]) for k in keys]


def issue_view(issue: Issue, settings: Settings) -> IssueView:
    """The view model of an issue (links numbered in reading order)."""
    numbers = LinkNumbers()
    intro_text = markdown.to_text(issue.intro, numbers)
    intro_html_numbered = markdown.to_html(issue.intro, numbers)
    intro_links = numbers.since(0)
    sections = []
    for key, entries in issue.sections.items():
        if not entries:
            continue
        config = settings.section(key)
        title = (config.title if config else key).replace("{period}", issue.period)
        before = len(numbers.numbers)
        groups = []
        for heading, members in ordered_groups(list(enumerate(entries, 1)), config.headings if config else ()):
            views = []
            for position, entry in members:
                start = len(numbers.numbers)
                text = markdown.to_text(entry.text, numbers)
                html_numbered = markdown.to_html(entry.text, numbers)
                views.append(
                    EntryView(
                        ref=f"{key}:{position}",
                        anchor=f"sak-{key}-{position}",
                        heading=entry.heading,
                        title=entry.title,
                        html=markdown.to_html(entry.text),
                        html_numbered=html_numbered,
                        text=text,
                        links=numbers.since(start),
                        date=norwegian_date(entry.date),
                        deadline=norwegian_date(entry.deadline),
                        event_date=norwegian_date(entry.event_date),
                        archived_url=entry.archived_url,
                    )
                )
            groups.append(GroupView(heading, views))
        sections.append(SectionView(key, title, f"del-{key}", groups, numbers.since(before)))
    # The footer's links go on numbering where the sections stopped, and are listed under the footer.
    before_footer = len(numbers.numbers)
    footer_about_text = markdown.to_text(settings.footer_about, numbers)
    footer_subscription_text = markdown.to_text(settings.footer_subscription, numbers)
    footer_about_numbered = markdown.to_html(settings.footer_about, numbers)
    footer_subscription_numbered = markdown.to_html(settings.footer_subscription, numbers)
    footer_links = numbers.since(before_footer)
    return IssueView(
        id=issue.id,
        name=settings.name,
        title=issue.title or settings.name,
        period=issue.period,
        published=norwegian_date(issue.published),
        published_iso=issue.published.isoformat() if issue.published else "",
        audience=issue.audience,
        publisher=settings.publisher or settings.name,
        contact=settings.contact,
        intro_html=markdown.to_html(issue.intro),
        intro_html_numbered=intro_html_numbered,
        intro_text=intro_text,
        intro_links=intro_links,
        sections=sections,
        footer_about_html=markdown.to_html(settings.footer_about),
        footer_about_text=footer_about_text,
        footer_subscription_html=markdown.to_html(settings.footer_subscription),
        footer_subscription_text=footer_subscription_text,
        footer_about_html_numbered=footer_about_numbered,
        footer_subscription_html_numbered=footer_subscription_numbered,
        footer_links=footer_links,
        colors=dict(settings.colors),
        links=[(n, url) for url, n in numbers.numbers.items()],
    )

"""`events.ics`: the issue's upcoming events (entries with an `event_date`) as a calendar."""

from __future__ import annotations

import datetime as dt
import hashlib

from icalendar import Calendar, Event

from newsletter.models import Issue
from newsletter.render.markdown import cited_links, parse, to_text
from newsletter.render.view import IssueView
from newsletter.textcodec import strip_hidden


def render(issue: Issue, view: IssueView) -> bytes | None:
    """The issue's events as an iCalendar file (RFC 5545, bytes), or None when no entry has an `event_date`.

    Each event is all-day from its `event_date` through its `event_end` (when it lasts several days),
    with a UID stable across rebuilds, the entry's text unwrapped as its description and its first
    http(s) link as its URL.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//newsletter//NONSGML newsletter//NO")
    calendar.add("version", "2.0")
    # One line each: icalendar refuses a CR or LF in a property value, and an editor's title may hold one.
    calendar.add("x-wr-calname", _line(f"{view.title} – {view.period}"))
    # The view parsed each entry's Markdown already: its tokens are reused, not parsed again.
    parsed = {e.ref: e.tokens for s in view.sections for g in s.groups for e in g.entries if e.tokens}
    count = 0
    for key, position, entry in issue.entries():
        if not entry.event_date:
            continue
        event = Event()
        # Stable across rebuilds, so a calendar that imported it updates instead of duplicating.
        uid = hashlib.sha256(f"{issue.id}|{entry.heading}|{entry.title}|{entry.event_date}".encode()).hexdigest()
        event.add("uid", f"{uid[:32]}@newsletter")
        event.add("summary", _line(entry.title or entry.heading))
        event.add("dtstart", entry.event_date)
        # DTEND of an all-day event is exclusive (RFC 5545 3.6.1): the day after the last day.
        event.add("dtend", (entry.event_end or entry.event_date) + dt.timedelta(days=1))
        event.add("dtstamp", dt.datetime.combine(issue.published or entry.event_date, dt.time(0, 0), tzinfo=dt.UTC))
        # Unwrapped, with the addresses in place: a calendar folds lines and has no link list.
        tokens = parsed.get(f"{key}:{position}") or parse(entry.text)
        event.add("description", to_text(tokens, None, width=None))
        links = cited_links(tokens)
        if links:
            event.add("url", links[0])
        calendar.add_component(event)
        count += 1
    return calendar.to_ical() if count else None


def _line(text: str) -> str:
    """`text` on one line: runs of whitespace, CR and LF included, become one space; invisible characters
    (`textcodec.strip_hidden`) go, as from every output."""
    return " ".join(strip_hidden(text).split())

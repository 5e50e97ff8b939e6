"""The wall clock: the one place the tool asks what time it is.

Every timestamp the tool records (an item first seen, a source's last
collect, a contact's status change, a ledger row's next attempt) starts as
`now()`: an aware datetime in UTC. The editor sees times and dates in the
newsletter's zone (`settings.timezone`, Europe/Oslo), converted by `local`
and `local_date` at the moment they are shown or grouped.

Tests freeze time by replacing `now` on this module
(`monkeypatch.setattr(clock, "now", ...)`), so callers write `clock.now()`,
never `from newsletter.clock import now`. Durations are measured with
`time.monotonic()`, which is not a wall clock and does not come from here.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def now() -> dt.datetime:
    """The current instant, as an aware datetime in UTC."""
    return dt.datetime.now(dt.UTC)


def local(moment: dt.datetime, tz: str) -> dt.datetime:
    """An instant as wall-clock time in the IANA zone `tz` (e.g. Europe/Oslo), for the editor's eyes.

    ValueError for a naive datetime: without an offset it names no instant.
    """
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset; it names no instant")
    return moment.astimezone(ZoneInfo(tz))  # ZoneInfo caches each zone it has read


def local_date(moment: dt.datetime, tz: str) -> dt.date:
    """The calendar day an instant falls on in the IANA zone `tz`: 2024-06-30T22:30Z is 1 July in Oslo."""
    return local(moment, tz).date()


def today(tz: str) -> dt.date:
    """The calendar day it is now in the IANA zone `tz` (the newsletter's, not the machine's)."""
    return local_date(now(), tz)

"""`sources check`: is each source still reachable and still parsed as configured?

A site redesign shows as a selector that matches nothing or a source with no
new item for months; this check fetches every source afresh (no validators),
parses it without storing anything, and adds what the store remembers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from newsletter import clock
from newsletter.collect.run import Progress, fetch_source, select_sources
from newsletter.models import FeedsConfig, Limits, Settings
from newsletter.net import Fetcher
from newsletter.store import Store

STALE_DAYS = 120


@dataclass
class SourceCheck:
    """The health of one source."""

    source: str
    url: str
    kind: str
    enabled: bool
    reachable: bool = False
    items: int = 0
    newest: dt.date | None = None
    last_success: dt.datetime | None = None
    consecutive_failures: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Reachable and parsed."""
        return self.error is None

    def to_json(self) -> dict:
        """A JSON-ready mapping."""
        return {
            "source": self.source,
            "url": self.url,
            "kind": self.kind,
            "enabled": self.enabled,
            "reachable": self.reachable,
            "ok": self.ok,
            "items": self.items,
            "newest": self.newest.isoformat() if self.newest else None,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "consecutive_failures": self.consecutive_failures,
            "error": self.error,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 2),
        }


def check_sources(
    store: Store,
    feeds: FeedsConfig,
    settings: Settings,
    keys: Iterable[str] | None = None,
    limits: Limits | None = None,
    workers: int | None = None,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> list[SourceCheck]:
    """Fetch and parse each selected source now; report with the stored history."""
    sources = select_sources(feeds, keys)
    limits = limits or settings.limits
    workers = workers or limits.workers
    fetcher = Fetcher(settings.user_agent, limits)
    today = today or clock.today(settings.timezone)
    progress = progress or (lambda *_: None)
    progress("phase", "sources", len(sources))
    checks = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources) or 1))) as pool:
        outcomes = pool.map(lambda s: fetch_source(fetcher, s, None, settings.timezone), sources)
        for source, fetched in zip(sources, outcomes):
            state = store.get_state(source.key)
            check = SourceCheck(
                source=source.key,
                url=source.url,
                kind=source.kind,
                enabled=source.enabled,
                reachable=fetched.response is not None,
                items=len(fetched.items),
                error=fetched.error,
                warnings=list(fetched.warnings),
                last_success=state.last_success,
                consecutive_failures=state.consecutive_failures,
                seconds=fetched.seconds,
            )
            dates = [i.published for i in fetched.items if i.published]
            if state.newest and any(i.published is None for i in fetched.items):
                # A feed without dates (Europol's) has its items dated from their article pages by
                # collect, which this check does not read: the newest date collect found counts.
                dates.append(state.newest)
            check.newest = max(dates, default=None)
            if check.ok and not fetched.items:
                check.warnings.append("parsed 0 items")
            if check.newest and (today - check.newest).days > STALE_DAYS:
                check.warnings.append(
                    f"no new item for {(today - check.newest).days} days "
                    f"(newest {check.newest.isoformat()}): has the site moved?"
                )
            if state.consecutive_failures:
                check.warnings.append(f"the last {state.consecutive_failures} collects failed: {state.last_error}")
            if state.last_success is None:
                check.warnings.append("never collected successfully")
            checks.append(check)
            progress("source", source.key, check)
    return checks

"""Collection: fetch every enabled source concurrently, store its items, score them.

Fetching and parsing run in worker threads (`net.HostQueues`: each host its
own queue, at most `per_host` at once); only the calling thread touches the
store, so SQLite needs no locking. As each source is stored its new items are
scored, and the article pages they need start at once, while other sources are
still being read. Each source is isolated: its failure is recorded in its
result and fetch state, and the others go on. Validators (ETag,
Last-Modified) are remembered only after a body was parsed, so a source that
failed is fetched in full next time; when `--since` held items back they are
kept with that date, and a run that wants older items fetches in full.

An article page that fails is remembered with a retry-after that grows with
its failures (`retry_after`): it is not asked again before then, and never
retried with a sleep inside the run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import partial
from urllib.parse import urlsplit

from newsletter import clock
from newsletter.collect.parsers.article import read_article
from newsletter.collect.parsers.feeds import NO_DATE_WARNING, parse_feed
from newsletter.collect.parsers.scrape import collect_listing
from newsletter.collect.parsers.stortinget import parse_stortinget
from newsletter.collect.relevance import Score, Term, infer_kind, keyword_terms, score_text, vocabulary_fingerprint
from newsletter.collect.urls import canonical_url, identify, shared_link_identity
from newsletter.errors import FetchError, ParseError, UsageError
from newsletter.models import (
    FeedsConfig,
    FetchState,
    Item,
    ItemIdentity,
    Limits,
    RawItem,
    Settings,
    Source,
    SourceResult,
)
from newsletter.net import Fetcher, HostQueues, Response, host_of, refusal
from newsletter.store import CachedPage, Store

log = logging.getLogger(__name__)

# Progress events for whoever shows them (the CLI draws a bar): ("source", key, result)
# when a source is done, ("article", url, None) when an article page is done, and
# ("phase", name, total) when a phase starts.
Progress = Callable[[str, str, object], None]


@dataclass
class Fetched:
    """What a worker brings back for one source."""

    source: Source
    response: Response | None = None
    items: list[RawItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    unparsed: bool = False  # the body was read but could not be parsed (a listing: its selectors matched nothing)


@dataclass
class CollectReport:
    """The outcome of one `collect`: per-source results and the article pages read."""

    results: list[SourceResult]
    articles_fetched: int = 0
    articles_failed: int = 0
    seconds: float = 0.0
    article_errors: list[tuple[str, str]] = field(default_factory=list)  # (url, why) of each unreadable page
    articles_cached: int = 0  # pages read on an earlier run, not asked again
    articles_waiting: int = 0  # pages that failed earlier and wait for their retry-after
    # Keys of listing (html) sources whose page was read but whose selectors gave no item.
    selectors_matched_nothing: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[SourceResult]:
        """Results of the sources that could not be read."""
        return [r for r in self.results if not r.ok]

    def unreadable_reasons(self) -> list[tuple[str, int, str]]:
        """Why article pages could not be read: (reason, how many, one URL as an example), commonest first."""
        reasons: dict[str, list[str]] = {}
        for url, error in self.article_errors:
            reason = error.removeprefix(f"{url}: ")  # a FetchError's message starts with its URL
            reasons.setdefault(reason, []).append(url)
        return sorted(((r, len(urls), urls[0]) for r, urls in reasons.items()), key=lambda x: (-x[1], x[0]))

    def unreadable_by_host(self) -> list[tuple[str, list[tuple[str, int, str]]]]:
        """`unreadable_reasons` per host: (host, [(reason, how many, an example URL), …]), most failures first."""
        hosts: dict[str, list[tuple[str, str]]] = {}
        for url, error in self.article_errors:
            hosts.setdefault(host_of(url), []).append((url, error))
        grouped = [
            (host, CollectReport([], article_errors=errors).unreadable_reasons()) for host, errors in hosts.items()
        ]
        return sorted(grouped, key=lambda g: (-sum(n for _, n, _ in g[1]), g[0]))


def fetch_source(fetcher: Fetcher, source: Source, state: FetchState | None, tz: str) -> Fetched:
    """Fetch and parse one source (no store access: runs in a worker thread)."""
    started = time.monotonic()
    out = Fetched(source=source)
    try:
        response = fetcher.get(
            source.url,
            state.etag if state else None,
            state.last_modified if state else None,
            configured=True,
            allow_private=source.allow_private,
        )
        out.response = response
        if not response.not_modified:
            out.items, out.warnings = parse_source(fetcher, source, response, tz)
            if not source.allow_private:
                out.items, refused = allowed_items(out.items)
                if refused:
                    out.warnings.append(refused_warning(refused))
            for item in out.items:
                item.kind = item.kind or infer_kind(item.title, item.url, source.item_kind)
    except (FetchError, ParseError) as exc:
        out.error = str(exc) if isinstance(exc, FetchError) else f"{source.url}: {exc}"
        out.unparsed = isinstance(exc, ParseError)
    except Exception as exc:  # a parser bug must not stop the other sources
        log.exception("unexpected error reading %s", source.url)
        out.error = f"{source.url}: unexpected error ({type(exc).__name__}: {exc})"
    out.seconds = time.monotonic() - started
    return out


def parse_source(fetcher: Fetcher, source: Source, response: Response, tz: str) -> tuple[list[RawItem], list[str]]:
    """Parse a fetched body according to the source's kind."""
    if source.kind in ("rss", "atom"):
        return parse_feed(response.body, source, response.charset, response.content_type, tz, response.url)
    if source.kind == "stortinget":
        return parse_stortinget(response.body, source, response.charset, response.content_type, tz)

    def fetch_page(url: str) -> tuple[bytes, str | None]:
        page = fetcher.get(url, allow_private=source.allow_private)
        return page.body, page.charset

    return collect_listing(response.body, source, response.url, response.charset, fetch_page, tz)


def collect(
    store: Store,
    feeds: FeedsConfig,
    settings: Settings,
    keys: Iterable[str] | None = None,
    since: dt.date | None = None,
    limits: Limits | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> CollectReport:
    """Collect the enabled sources (or those named by `keys`), then score what changed."""
    started = time.monotonic()
    progress = progress or (lambda *_: None)
    now = now or clock.now()
    sources = select_sources(feeds, keys)
    limits = limits or settings.limits
    workers = workers or limits.workers
    fetcher = Fetcher(settings.user_agent, limits)
    tz = settings.timezone
    results: list[SourceResult] = []
    report = CollectReport(results=results)
    precedence = {s.key: i for i, s in enumerate(feeds.sources)}
    progress("phase", "sources", len(sources))
    # One pool for sources and article pages: its workers keep their sessions (and connections)
    # across both, and a host's articles queue behind its sources, not behind other hosts.
    with HostQueues(workers, limits.per_host) as queues:
        articles = _Articles(store, feeds, settings, fetcher, queues, report, since, now)
        futures: list[Future[Fetched]] = []
        for source in sources:
            state = store.get_state(source.key)
            if store.state_url(source.key) != source.url or (
                state.validators_since is not None and (since is None or since < state.validators_since)
            ):
                # The URL changed, or this run wants items an earlier --since held back: start afresh.
                state = replace(state, etag=None, last_modified=None)
            futures.append(queues.submit(host_of(source.url), partial(fetch_source, fetcher, source, state, tz)))
        # Stored in feeds.yaml order (fetching goes on meanwhile), so that which source
        # first stores an item, and the counts of a run, never depend on timing.
        undated: dict[str, list[str]] = {}  # source → ids of its items the feed gave no date
        for future in futures:
            fetched = future.result()
            try:
                result = _store_fetched(store, fetched, since, now, precedence, undated)
            except Exception as exc:  # a bug in storing one source must not lose the others
                log.exception("storing %s failed", fetched.source.key)
                result = SourceResult(
                    source=fetched.source.key,
                    error=f"{fetched.source.url}: could not store its items ({type(exc).__name__}: {exc})",
                )
            results.append(result)
            read = fetched.response is not None and not fetched.response.not_modified
            if fetched.source.kind == "html" and read and (fetched.unparsed or not (fetched.error or fetched.items)):
                report.selectors_matched_nothing.append(fetched.source.key)
            progress("source", fetched.source.key, result)
            if not fetched.error and fetched.response is not None and not fetched.response.not_modified:
                articles.plan()  # this source's new items: their article pages start now
        articles.plan()  # items left unscored by an earlier run, or a changed vocabulary
        articles.finish(progress)
    _dated_from_pages(store, results, undated, now)
    report.seconds = time.monotonic() - started
    return report


def _dated_from_pages(
    store: Store, results: list[SourceResult], undated: dict[str, list[str]], now: dt.datetime
) -> None:
    """Once the article pages are read, say what is still undated, and let the dates found count as the
    source's newest: a feed without dates (Europol's) whose pages all give one is no longer warned about.
    """
    for result in results:
        ids = undated.get(result.source)
        if not ids:
            continue
        dates = [store.get_item(item_id).published for item_id in ids]
        still = sum(date is None for date in dates)
        remaining = f"{still} of {result.parsed} items have no date, neither in the feed nor on their article pages"
        # In the parser's warning's place (its other warnings keep their order), or gone when all are dated.
        warnings = [remaining if NO_DATE_WARNING.match(w) else w for w in result.warnings]
        if not still:
            warnings = [w for w in warnings if w != remaining]
        result.warnings = warnings
        state = store.get_state(result.source)
        state.warnings = tuple(warnings)
        found = max((date for date in dates if date), default=None)
        if found and (state.newest is None or found > state.newest):
            state.newest = found
            state.newest_seen_at = now
        store.save_state(state, store.state_url(result.source) or "")


def select_sources(feeds: FeedsConfig, keys: Iterable[str] | None) -> list[Source]:
    """The enabled sources, or exactly those named (even if disabled); unknown keys are an error."""
    keys = list(keys or [])
    if not keys:
        return [s for s in feeds.sources if s.enabled]
    unknown = [k for k in keys if feeds.by_key(k) is None]
    if unknown:
        known = ", ".join(s.key for s in feeds.sources)
        raise UsageError(f"no source '{unknown[0]}' in {feeds.path}; known sources: {known}")
    return [source for k in dict.fromkeys(keys) if (source := feeds.by_key(k)) is not None]


def _store_fetched(
    store: Store,
    fetched: Fetched,
    since: dt.date | None,
    now: dt.datetime,
    precedence: dict[str, int],
    undated: dict[str, list[str]] | None = None,
) -> SourceResult:
    """Store one source's items and fetch state; the ids of the items stored without a date go into
    `undated` (their article pages may date them)."""
    source = fetched.source
    state = store.get_state(source.key)
    state.last_attempt = now
    result = SourceResult(source=source.key, seconds=fetched.seconds, warnings=list(fetched.warnings))
    if fetched.error:
        state.consecutive_failures += 1
        state.last_error = fetched.error
        result.error = fetched.error
        store.save_state(state, store.state_url(source.key) or source.url)
        return result
    response = fetched.response
    assert response is not None  # a fetch without an error has a response
    state.consecutive_failures = 0
    state.last_error = None
    state.last_success = now
    if response.not_modified:
        result.not_modified = True
        result.unchanged = state.items_parsed or 0
        store.save_state(state, source.url)
        return result
    items, unusable = usable_items(fetched.items)
    if unusable:
        result.warnings.append(f"{len(unusable)} items with unusable links skipped (e.g. {unusable[0][:80]!r})")
    # Identities are decided on the whole batch, before --since holds some back: whether entries share a
    # link, and which keeps the plain identity, must not depend on the date range asked for.
    identified, shared = identities(items, store.guid_keys(source.key))
    result.warnings.extend(shared)
    complete = True
    if since:
        kept = [(i, raw) for i, raw in identified if raw.published is None or raw.published >= since]
        complete = len(kept) == len(identified)
        identified = kept
    upserted = store.upsert_items(source, identified, now, precedence)
    if undated is not None:
        undated[source.key] = [
            item_id for item_id, (_, raw) in zip(upserted.seen_ids, identified) if raw.published is None
        ]
    result.new, result.updated, result.unchanged = upserted.new, upserted.updated, upserted.unchanged
    result.parsed = len(fetched.items)
    # Validators stand for "everything in this body is stored, but what --since held back": the date is
    # kept with them, so a run with the same --since asks conditionally and one wanting more fetches in full.
    state.etag = response.etag
    state.last_modified = response.last_modified
    state.validators_since = None if complete else since
    state.items_parsed = len(fetched.items)
    state.warnings = tuple(result.warnings)
    newest = max((i.published for i in fetched.items if i.published), default=None)
    if newest and (state.newest is None or newest > state.newest):
        state.newest = newest
        state.newest_seen_at = now
    store.save_state(state, source.url)
    return result


def allowed_items(items: list[RawItem]) -> tuple[list[RawItem], list[tuple[RawItem, str]]]:
    """Items whose link content may point at (`net.refusal`), and the refused ones with why."""
    allowed, refused = [], []
    for item in items:
        why = refusal(item.url)
        if why:
            refused.append((item, why))
        else:
            allowed.append(item)
    return allowed, refused


REFUSED_NAMED = 5  # a hostile feed may hold thousands: name a few, count the rest


def refused_warning(refused: list[tuple[RawItem, str]]) -> str:
    """The warning for items not stored because their link points inside the network, naming them."""
    named = "; ".join(f"{item.title[:60]!r} ({item.url[:80]}: {why})" for item, why in refused[:REFUSED_NAMED])
    more = f"; and {len(refused) - REFUSED_NAMED} more" if len(refused) > REFUSED_NAMED else ""
    return (
        f"{len(refused)} items not stored: their links point inside the network, which only feeds.yaml may "
        f"(set allow_private: true for an intranet source): {named}{more}"
    )


def identities(items: list[RawItem], guid_keys: dict[str, str]) -> tuple[list[tuple[ItemIdentity, RawItem]], list[str]]:
    """Each item of one source with the document identity to store it under, and warnings.

    An item is its link's document (`identify`), except where several items
    of the batch share one link: a feed's entries with different guids (a
    listing page as every entry's link), or links that differ only by
    fragment. Those are told apart, by guid, else by fragment, and each is
    its own item (`shared_link_identity`); one of them keeps the plain
    document identity: the one whose guid the store knows under it
    (`guid_keys`, guid → key, from earlier runs), else the one with neither
    guid nor fragment, else the first whose guid the store does not know.
    An entry the store knows under a told-apart key keeps that key in later
    runs, also when it comes alone. Only entries that share a link within
    one batch are told apart: a feed whose guids change from run to run
    must not turn one document into several. Items that share a link with nothing to tell them apart are one:
    the first is kept, and when their titles differ a warning names them.
    Raises ValueError as `canonical_url` does (callers pass `usable_items`).
    """
    groups: dict[str, list[tuple[ItemIdentity, RawItem]]] = {}
    for item in items:
        identity = identify(item.url)
        groups.setdefault(identity.key, []).append((identity, item))
    out: list[tuple[ItemIdentity, RawItem]] = []
    warnings: list[str] = []
    for key, group in groups.items():
        # What tells the entries apart: ("guid", …), else ("fragment", …), else nothing (None).
        apart: dict[tuple[str, str] | None, tuple[ItemIdentity, RawItem]] = {}
        for identity, item in group:
            fragment = urlsplit(item.url.strip()).fragment
            mark = ("guid", item.guid) if item.guid else ("fragment", fragment) if fragment else None
            if mark in apart:
                kept = apart[mark][1]
                if item.title != kept.title:
                    warnings.append(
                        f"{kept.url[:100]} is the link of several entries with nothing to tell them apart; "
                        f"kept {kept.title[:60]!r}, not {item.title[:60]!r}"
                    )
                continue
            apart[mark] = (identity, item)
        if len(apart) == 1:
            ((identity, item),) = apart.values()
            known = guid_keys.get(item.guid or "")
            if known and known.startswith(key + "#"):  # told apart in an earlier run: stays so
                identity = shared_link_identity(item.url, item.guid)
            out.append((identity, item))
            continue
        guids = [mark for mark in apart if mark and mark[0] == "guid"]
        holder = next((m for m in guids if guid_keys.get(m[1]) == key), None)
        if holder is None and None not in apart:
            holder = next((m for m in guids if m[1] not in guid_keys), None)
        for mark, (identity, item) in apart.items():
            out.append((identity if mark == holder else shared_link_identity(item.url, item.guid), item))
    return out, warnings


def usable_items(items: list[RawItem]) -> tuple[list[RawItem], list[str]]:
    """Items whose link is an http(s) URL we can canonicalise, and the links that are not."""
    good, bad = [], []
    for item in items:
        try:
            url = canonical_url(item.url)
        except ValueError:
            bad.append(item.url)
            continue
        if url.split(":", 1)[0] in ("http", "https") and "//" in url:
            good.append(item)
        else:
            bad.append(item.url)
    return good, bad


# How long a failed article page is left alone: a passing failure (timeout, 5xx, a host given up on)
# until a later run, a lasting one (404, refused, unreadable) for days; each doubles with the
# page's failures in a row, up to RETRY_MAX.
RETRY_SOON = dt.timedelta(hours=1)
RETRY_LATER = dt.timedelta(days=7)
RETRY_MAX = dt.timedelta(days=90)


def retry_after(now: dt.datetime, failures: int, passing: bool) -> dt.datetime:
    """When an article page that has failed `failures` times in a row (≥ 1) may be asked again."""
    wait = (RETRY_SOON if passing else RETRY_LATER) * 2 ** min(max(failures - 1, 0), 16)
    return now + min(wait, RETRY_MAX)


def _due(page: CachedPage, now: dt.datetime) -> bool:
    """Whether a cached failed page may be asked again (pages cached before retry-afters: after RETRY_LATER)."""
    return now >= (page.retry_after or page.fetched_at + RETRY_LATER)


class _Articles:
    """Scores items as their sources are stored, and reads the article pages that title and summary
    do not decide: from the cache, else fetched on the host queues at once (newest items first within
    each source, at most `article_limit` in a run). `finish` waits for them and records the scores."""

    def __init__(
        self,
        store: Store,
        feeds: FeedsConfig,
        settings: Settings,
        fetcher: Fetcher,
        queues: HostQueues,
        report: CollectReport,
        since: dt.date | None,
        now: dt.datetime,
    ):
        self.store, self.settings, self.fetcher, self.queues = store, settings, fetcher, queues
        self.report, self.since, self.now = report, since, now
        self.fingerprint = scoring_fingerprint(feeds)
        self.by_key = {s.key: s for s in feeds.sources}
        self.global_terms = keyword_terms(feeds.keywords)
        self.budget = settings.relevance.article_limit
        self.seen: set[str] = set()
        self.items: list[Item] = []
        self.pages: dict[str, CachedPage] = {}
        self.retry: set[str] = set()  # URLs whose items are scored again next collect
        self.fetching: dict[str, Future[CachedPage]] = {}
        self.wanted: dict[str, list[Item]] = {}

    def plan(self) -> None:
        """Score the items not yet seen; start (or take from the cache) the article pages they need."""
        relevance, by_key, since = self.settings.relevance, self.by_key, self.since
        new_urls: dict[str, list[Item]] = {}
        for item_id in self.store.items_needing_score(self.fingerprint):
            if item_id in self.seen:
                continue
            self.seen.add(item_id)
            item = self.store.get_item(item_id)
            self.items.append(item)
            sources = [by_key[k] for k in item.sources if k in by_key]
            first = score_item(item, "", sources, self.global_terms)
            filtered = bool(sources) and all(s.filtered for s in sources)
            needs_text = filtered and first.value < relevance.clear
            needs_date = item.published is None
            needs_deadline = item.kind == "consultation" and item.deadline is None
            recent = since is None or item.published is None or item.published >= since
            if (needs_text or needs_date or needs_deadline) and recent:
                if item.url not in self.wanted:
                    new_urls.setdefault(item.url, []).append(item)
                self.wanted.setdefault(item.url, []).append(item)
        to_fetch = []
        for url, items in new_urls.items():
            cached = self.store.get_page(url)
            if cached is not None and (cached.error is None or not _due(cached, self.now)):
                self.pages[url] = cached
                if cached.error:
                    self.retry.add(url)  # reconsidered on each collect, asked again once due
                    self.report.articles_waiting += 1
                else:
                    self.report.articles_cached += 1
                continue
            newest = max((i.published for i in items if i.published), default=dt.date.max)
            to_fetch.append((newest, url, cached))
        to_fetch.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
        for _, url, cached in to_fetch:
            if self.budget <= 0:
                self.retry.add(url)  # past the limit: not fetched now, tried again next collect
                continue
            self.budget -= 1
            # An article page may be inside the network only when a source that lists it is an intranet source.
            private = any(by_key[k].allow_private for i in self.wanted[url] for k in i.sources if k in by_key)
            self.fetching[url] = self.queues.submit(host_of(url), partial(self._fetch, url, private, cached))

    def _fetch(self, url: str, private: bool, previous: CachedPage | None) -> CachedPage:
        """One article page, asked once (no retries: a failure waits for its retry-after, on a later run)."""
        now, tz = self.now, self.settings.timezone
        failures = (previous.failures if previous and previous.error else 0) + 1
        try:
            response = self.fetcher.get(url, allow_private=private, retries=0)
            article = read_article(response.body, response.charset, tz)
            return CachedPage(
                url=url,
                status=response.status,
                text=article.text,
                published=article.published.date
                if article.published and article.published.precision == "day"
                else None,
                deadline=article.deadline.date if article.deadline else None,
                fetched_at=now,
            )
        except FetchError as exc:
            error, passing = str(exc), exc.retryable
        except Exception as exc:  # a page we cannot read must not stop scoring
            log.warning("cannot read article %s: %s", url, exc)
            error, passing = f"{type(exc).__name__}: {exc}", False
        return CachedPage(
            url=url,
            status=None,
            text="",
            published=None,
            deadline=None,
            fetched_at=now,
            error=error,
            failures=failures,
            retry_after=retry_after(now, failures, passing),
        )

    def finish(self, progress: Progress) -> None:
        """Wait for the article pages started, cache them, and record every item's score."""
        report, store = self.report, self.store
        if self.fetching:
            progress("phase", "articles", len(self.fetching))
        for url, future in self.fetching.items():
            fetched = future.result()
            store.save_page(fetched)
            self.pages[url] = fetched
            if fetched.error:
                self.retry.add(url)
                report.articles_failed += 1
                report.article_errors.append((url, fetched.error))
            else:
                report.articles_fetched += 1
            progress("article", url, None)
        with store.transaction():
            for planned in self.items:
                # Read again: a source stored after the item was planned may list it too (its
                # sources, and so its keywords and prior, are only complete now).
                item = store.get_item(planned.id)
                page = self.pages.get(item.url)
                sources = [self.by_key[k] for k in item.sources if k in self.by_key]
                scored = score_item(item, page.text if page else "", sources, self.global_terms)
                # An item whose page failed is scored again on a later collect, with the page once it is read.
                marker = self.fingerprint + ":retry" if item.url in self.retry else self.fingerprint
                store.set_score(item.id, scored.value, scored.terms, marker)
                if page:
                    store.fill_from_page(item.id, page.published, page.deadline)


def scoring_fingerprint(feeds: FeedsConfig) -> str:
    """What an item's keyword score depends on besides its text (`relevance.vocabulary_fingerprint` of the
    vocabulary, feeds.yaml's keywords and each source's): stored with each score, so a change rescores."""
    merged = dict(feeds.keywords)
    for source in feeds.sources:
        for word, weight in source.keywords.items():
            merged[f"{source.key}:{word}"] = weight
    return vocabulary_fingerprint(merged)


def score_item(item: Item, article: str, sources: list[Source], global_terms: tuple[Term, ...]) -> Score:
    """An item's keyword score from its title, summary and `article` text (may be ""), with feeds.yaml's
    keywords (`global_terms`, from `relevance.keyword_terms`) and those of the `sources` listing it; a
    source that does not filter (relevance `all`) adds its prior (`relevance.score_text`)."""
    extra = global_terms + tuple(t for s in sources for t in keyword_terms(s.keywords))
    specialised = any(not s.filtered for s in sources)
    return score_text(item.title, item.summary, article, extra, specialised)

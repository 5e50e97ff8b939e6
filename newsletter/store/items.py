"""Collected items, the sources each was seen in, fetch state per source, cached article pages.

Collecting is idempotent: an item is found again by its de-duplication key,
its fields are updated when the source changed them, and the editor's
decision (`status`) is never reset.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from newsletter.errors import NotFound, StoreError
from newsletter.models import FetchState, Item, ItemIdentity, RawItem, Source
from newsletter.store.db import Database, stamp
from newsletter.store.db import iso as _iso
from newsletter.store.db import to_date as _date
from newsletter.store.db import to_datetime as _datetime

ITEM_FIELDS = ("title", "summary", "published", "date_precision", "kind", "deadline", "event_date")


@dataclass
class UpsertResult:
    """Counts of one source's items in one collect, and the ids that need (re)scoring."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_ids: list[str] = field(default_factory=list)
    seen_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CachedPage:
    """An article page fetched once for relevance, dates and deadlines."""

    url: str
    status: int | None
    text: str
    published: dt.date | None
    deadline: dt.date | None
    fetched_at: dt.datetime
    error: str | None = None
    failures: int = 0  # failed fetches in a row (0 for a page that was read)
    retry_after: dt.datetime | None = None  # a failed page is not asked again before this (UTC)


MIN_PREFIX = 4  # an item id prefix shorter than this would match too many of a quarter's items
AMBIGUOUS_SHOWN = 5  # items an ambiguous id prefix names in its error, so the editor sees which to type


class ItemStore(Database):
    """Items, fetch state and the page cache (a part of `Store`)."""

    # ------------------------------------------------------------------ items

    def upsert_items(
        self,
        source: Source,
        raws: Iterable[tuple[ItemIdentity, RawItem]],
        now: dt.datetime,
        precedence: dict[str, int] | None = None,
    ) -> UpsertResult:
        """Insert new items, update changed ones, leave the editor's status alone.

        Each item comes with its identity, decided by collection: an item whose
        key is stored is that item again; a new one gets the first free id of
        `identity.ids` (StoreError when none is free).

        When several sources list the same page, the one earliest in `precedence`
        (feeds.yaml order) is the item's primary source: its title, summary and
        kind win, and it gives the item its section and heading.
        """
        precedence = precedence or {}
        result = UpsertResult()
        stamp_now = stamp(now)
        with self.transaction():
            for identity, raw in raws:
                url, key = identity.url, identity.key
                row = self.db.execute("SELECT * FROM items WHERE key = ?", (key,)).fetchone()
                values = {
                    "title": raw.title,
                    "summary": raw.summary or "",
                    "published": _iso(raw.published),
                    "date_precision": raw.date_precision if raw.published else None,
                    "kind": raw.kind or source.item_kind,
                    "deadline": _iso(raw.deadline),
                    "event_date": _iso(raw.event_date),
                }
                if row is None:
                    new_id = self._free_id(identity)
                    self.db.execute(
                        "INSERT INTO items (id, key, url, source, language, first_seen, fetched_at, "
                        + ", ".join(ITEM_FIELDS)
                        + ") VALUES (?, ?, ?, ?, ?, ?, ?, "
                        + ", ".join("?" for _ in ITEM_FIELDS)
                        + ")",
                        (
                            new_id,
                            key,
                            url,
                            source.key,
                            source.language,
                            stamp_now,
                            stamp_now,
                            *(values[f] for f in ITEM_FIELDS),
                        ),
                    )
                    result.new += 1
                    result.changed_ids.append(new_id)
                    current_id = new_id
                else:
                    current_id = str(row["id"])
                    rank = precedence.get(source.key, len(precedence))
                    takes_over = rank < precedence.get(row["source"], len(precedence))
                    primary = row["source"] == source.key or takes_over
                    changes: dict[str, str | None] = {"source": source.key} if takes_over else {}
                    for name in ITEM_FIELDS:
                        new_value, old_value = values[name], row[name]
                        if name == "kind" and not raw.kind and not primary:
                            continue  # another source's default kind says nothing about this item
                        if name == "date_precision":
                            continue  # follows `published`
                        if new_value and new_value != old_value and (primary or not old_value):
                            changes[name] = new_value
                            if name == "published":
                                changes["date_precision"] = values["date_precision"]
                    if changes:
                        assignments = ", ".join(f"{k} = ?" for k in changes)
                        # scored_with = NULL: a changed title or summary is scored again.
                        self.db.execute(
                            f"UPDATE items SET {assignments}, updated_at = ?, fetched_at = ?, scored_with = NULL "
                            "WHERE id = ?",
                            (*changes.values(), stamp_now, stamp_now, current_id),
                        )
                        result.updated += 1
                        result.changed_ids.append(current_id)
                    else:
                        self.db.execute("UPDATE items SET fetched_at = ? WHERE id = ?", (stamp_now, current_id))
                        result.unchanged += 1
                self.db.execute(
                    "INSERT INTO item_sources (item_id, source, link, last_seen, guid) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (item_id, source) DO UPDATE SET link = excluded.link, last_seen = excluded.last_seen, "
                    "guid = coalesce(excluded.guid, guid)",
                    (current_id, source.key, raw.url, stamp_now, raw.guid),
                )
                result.seen_ids.append(current_id)
        return result

    def guid_keys(self, source: str) -> dict[str, str]:
        """The guid → item key of every item `source` gave a guid (the last guid it gave each)."""
        rows = self.db.execute(
            "SELECT s.guid, i.key FROM item_sources s JOIN items i ON i.id = s.item_id "
            "WHERE s.source = ? AND s.guid IS NOT NULL",
            (source,),
        )
        return {row[0]: row[1] for row in rows}

    def _free_id(self, identity: ItemIdentity) -> str:
        for candidate in identity.ids:
            if not self.db.execute("SELECT 1 FROM items WHERE id = ?", (candidate,)).fetchone():
                return candidate
        raise StoreError(f"{self.path}: no free item id for {identity.key}")

    def set_score(self, item: str, score: float, terms: Iterable[str], scored_with: str) -> None:
        """Record an item's relevance score and the terms that produced it."""
        self.db.execute(
            "UPDATE items SET score = ?, terms = ?, scored_with = ? WHERE id = ?",
            (score, json.dumps(list(terms), ensure_ascii=False), scored_with, item),
        )

    def fill_from_page(self, item: str, published: dt.date | None, deadline: dt.date | None) -> None:
        """Fill a missing date or deadline from the item's article page (never overwrite the feed's)."""
        if published:
            self.db.execute(
                "UPDATE items SET published = ?, date_precision = 'day' WHERE id = ? AND published IS NULL",
                (published.isoformat(), item),
            )
        if deadline:
            self.db.execute(
                "UPDATE items SET deadline = ? WHERE id = ? AND deadline IS NULL", (deadline.isoformat(), item)
            )

    def set_status(self, ids: Iterable[str], status: str) -> int:
        """Record the editor's decision on items; returns how many were changed."""
        with self.transaction():
            count = 0
            for item in ids:
                count += self.db.execute("UPDATE items SET status = ? WHERE id = ?", (status, item)).rowcount
        return count

    def _item(self, row: sqlite3.Row, sources: tuple[str, ...]) -> Item:
        return Item(
            id=row["id"],
            source=row["source"],
            url=row["url"],
            title=row["title"],
            summary=row["summary"],
            published=_date(row["published"]),
            date_precision=row["date_precision"],
            fetched_at=_datetime(row["fetched_at"]),
            first_seen=_datetime(row["first_seen"]),
            language=row["language"],
            kind=row["kind"],
            deadline=_date(row["deadline"]),
            event_date=_date(row["event_date"]),
            score=row["score"],
            terms=tuple(json.loads(row["terms"] or "[]")),
            status=row["status"],
            sources=sources,
        )

    def get_item(self, ident: str, key: str | None = None) -> Item:
        """The item with this id (or an unambiguous prefix of it), or with de-duplication key `key`.

        `key` is what collection computes for a URL the editor typed
        (`newsletter.collect.urls.reference_key`). NotFound when no item or
        several match, or a prefix is shorter than `MIN_PREFIX` (the message says what to type).
        """
        ident = ident.strip()
        rows = self.db.execute("SELECT * FROM items WHERE id = ?", (ident.lower(),)).fetchall()
        if not rows and len(ident) >= MIN_PREFIX:
            # LIKE's wildcards in what was typed are literal characters (no id has them: no match).
            prefix = ident.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self.db.execute(
                "SELECT * FROM items WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?",
                (prefix + "%", AMBIGUOUS_SHOWN + 1),
            ).fetchall()
        if not rows and key is not None:
            rows = self.db.execute("SELECT * FROM items WHERE key = ?", (key,)).fetchall()
        if not rows and len(ident) < MIN_PREFIX:
            raise NotFound(
                f"'{ident}' is too short: an item id prefix needs at least {MIN_PREFIX} characters; "
                "`newsletter items` lists them"
            )
        if not rows:
            raise NotFound(f"no item '{ident}' in {self.path}; `newsletter items` lists them")
        if len(rows) > 1:
            shown = "; ".join(f"{row['id']} «{row['title']}»" for row in rows[:AMBIGUOUS_SHOWN])
            more = ", and more" if len(rows) > AMBIGUOUS_SHOWN else ""
            raise NotFound(f"'{ident}' matches several items: {shown}{more}; type more of the id")
        return self._item(rows[0], self.item_sources(rows[0]["id"]))

    def item_sources(self, item: str) -> tuple[str, ...]:
        """Keys of every source an item was seen in, the first finder first."""
        rows = self.db.execute(
            "SELECT s.source FROM item_sources s JOIN items i ON i.id = s.item_id WHERE s.item_id = ? "
            "ORDER BY s.source != i.source, s.source",
            (item,),
        ).fetchall()
        return tuple(r[0] for r in rows)

    def iter_items(
        self,
        since: dt.date | None = None,
        until: dt.date | None = None,
        sources: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        include_undated: bool = True,
        order: Literal["keyword", "newest"] | None = None,
        limit: int | None = None,
    ) -> Iterator[Item]:
        """Items matching the filters, with the sources each was seen in, streamed one by one.

        Unordered by default. `order="keyword"` is the inbox's keyword order (highest score first,
        then newest, undated last, then id, as `curate.ranking.keyword_order` sorts); `"newest"` is by
        publication date, newest first (undated last), then id. SQLite sorts, so a caller that stops
        after a few items never holds the rest. `limit` caps the number of items.
        """
        where, params = [], []
        if since or until:
            bounds = []
            if since:
                bounds.append("i.published >= ?")
                params.append(since.isoformat())
            if until:
                bounds.append("i.published <= ?")
                params.append(until.isoformat())
            clause = "(" + " AND ".join(bounds) + ")"
            if include_undated:
                clause = f"({clause} OR i.published IS NULL)"
            where.append(clause)
        if sources:
            keys = list(sources)
            where.append(f"i.id IN (SELECT item_id FROM item_sources WHERE source IN ({','.join('?' * len(keys))}))")
            params.extend(keys)
        if statuses:
            states = list(statuses)
            where.append(f"i.status IN ({','.join('?' * len(states))})")
            params.extend(states)
        sql = (
            "SELECT i.*, (SELECT group_concat(source, ' ') FROM item_sources s WHERE s.item_id = i.id) AS seen_in "
            "FROM items i" + (" WHERE " + " AND ".join(where) if where else "")
        )
        if order == "keyword":
            sql += " ORDER BY i.score DESC, i.published IS NULL, i.published DESC, i.id"
        elif order == "newest":
            sql += " ORDER BY i.published IS NULL, i.published DESC, i.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self.db.execute(sql, params):
            others = sorted(set((row["seen_in"] or "").split()) - {row["source"]})
            yield self._item(row, (row["source"], *others))

    def items_needing_score(self, scored_with: str) -> list[str]:
        """Ids of items never scored, or scored with another vocabulary."""
        rows = self.db.execute(
            "SELECT id FROM items WHERE scored_with IS NULL OR scored_with != ?", (scored_with,)
        ).fetchall()
        return [r[0] for r in rows]

    def ids_by_key(self, keys: Iterable[str]) -> dict[str, str]:
        """{de-duplication key: item id} for those of `keys` an item of the store has (others left out).

        How a link an editor wrote into an issue by hand is matched to the collected item it
        points to (keys as `newsletter.collect.urls.dedup_key` makes them). In chunks, so a long
        list stays under SQLite's limit of bound parameters.
        """
        return self._pairs("key", "id", keys)

    def ids_under(self, prefix: str) -> dict[str, str]:
        """{de-duplication key: item id} for the items whose key begins with `prefix` (through the key's
        index: a range of keys, compared byte by byte as SQLite compares text)."""
        rows = self.db.execute("SELECT key, id FROM items WHERE key >= ? AND key < ?", (prefix, prefix + "\U0010ffff"))
        return {row[0]: row[1] for row in rows}

    def keys_by_id(self, ids: Iterable[str]) -> dict[str, str]:
        """{item id: de-duplication key} for those of `ids` the store has (others left out)."""
        return self._pairs("id", "key", ids)

    def _pairs(self, by: str, of: str, values: Iterable[str]) -> dict[str, str]:
        """{value of column `by`: value of column `of`} for the items whose `by` is among `values`; in
        chunks, so a long list stays under SQLite's limit of bound parameters. `by` and `of` are
        column names of this module, never input."""
        wanted = list(dict.fromkeys(values))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                (row[0], row[1])
                for row in self.db.execute(f"SELECT {by}, {of} FROM items WHERE {by} IN ({marks})", chunk)
            )
        return found

    def item_ids(self) -> set[str]:
        """The id of every item in the store."""
        return {row[0] for row in self.db.execute("SELECT id FROM items")}

    def count_items(self) -> int:
        """How many items the store holds."""
        return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def published_span(self) -> tuple[dt.date, dt.date] | None:
        """The earliest and latest publication date of the items the store holds, None when none has one."""
        first, last = self.db.execute("SELECT min(published), max(published) FROM items").fetchone()
        return (dt.date.fromisoformat(first), dt.date.fromisoformat(last)) if first and last else None

    # ------------------------------------------------------------------ fetch state

    def get_state(self, source: str) -> FetchState:
        """What is remembered about a source (an empty state for a new one)."""
        row = self.db.execute("SELECT * FROM fetch_state WHERE source = ?", (source,)).fetchone()
        if row is None:
            return FetchState(source=source)
        return FetchState(
            source=source,
            etag=row["etag"],
            last_modified=row["last_modified"],
            last_attempt=_datetime(row["last_attempt"]),
            last_success=_datetime(row["last_success"]),
            consecutive_failures=row["consecutive_failures"],
            last_error=row["last_error"],
            items_parsed=row["items_parsed"],
            newest=_date(row["newest"]),
            newest_seen_at=_datetime(row["newest_seen_at"]),
            warnings=tuple(json.loads(row["warnings"] or "[]")),
            validators_since=_date(row["validators_since"]),
        )

    def state_url(self, source: str) -> str | None:
        """The URL the stored validators (ETag, Last-Modified) belong to."""
        row = self.db.execute("SELECT url FROM fetch_state WHERE source = ?", (source,)).fetchone()
        return row[0] if row else None

    def save_state(self, state: FetchState, url: str) -> None:
        """Remember a source's fetch state."""
        self.db.execute(
            """INSERT INTO fetch_state (source, url, etag, last_modified, last_attempt, last_success,
                   consecutive_failures, last_error, items_parsed, newest, newest_seen_at, warnings,
                   validators_since)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (source) DO UPDATE SET url = excluded.url, etag = excluded.etag,
                   last_modified = excluded.last_modified, last_attempt = excluded.last_attempt,
                   last_success = excluded.last_success, consecutive_failures = excluded.consecutive_failures,
                   last_error = excluded.last_error, items_parsed = excluded.items_parsed,
                   newest = excluded.newest, newest_seen_at = excluded.newest_seen_at,
                   warnings = excluded.warnings, validators_since = excluded.validators_since""",
            (
                state.source,
                url,
                state.etag,
                state.last_modified,
                stamp(state.last_attempt),
                stamp(state.last_success),
                state.consecutive_failures,
                state.last_error,
                state.items_parsed,
                _iso(state.newest),
                stamp(state.newest_seen_at),
                json.dumps(list(state.warnings), ensure_ascii=False),
                _iso(state.validators_since),
            ),
        )

    # ------------------------------------------------------------------ article pages

    def get_page(self, url: str) -> CachedPage | None:
        """A cached article page, or None when never fetched."""
        row = self.db.execute("SELECT * FROM pages WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        return CachedPage(
            url=url,
            status=row["status"],
            text=row["text"],
            published=_date(row["published"]),
            deadline=_date(row["deadline"]),
            fetched_at=dt.datetime.fromisoformat(row["fetched_at"]),
            error=row["error"],
            failures=row["failures"],
            retry_after=_datetime(row["retry_after"]),
        )

    def save_page(self, page: CachedPage) -> None:
        """Cache an article page's main text and what was read off it."""
        self.db.execute(
            "INSERT OR REPLACE INTO pages (url, status, text, published, deadline, fetched_at, error, failures, "
            "retry_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                page.url,
                page.status,
                page.text,
                _iso(page.published),
                _iso(page.deadline),
                stamp(page.fetched_at),
                page.error,
                page.failures,
                stamp(page.retry_after),
            ),
        )

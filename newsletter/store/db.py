"""The SQLite connection: WAL mode, the schema and every migration, transactions.

The schema is versioned with `PRAGMA user_version` and migrated forward on
open; the database runs in WAL mode so a reader (`items`) never blocks a
collect. Every table of every stage is created here, in one numbered list, so
the order of migrations is never in doubt.

Timestamps (an instant: when an item was first seen, a source last collected,
a contact's status changed, a ledger row is due again) are stored one way:
UTC ISO 8601 text with microseconds, `2026-12-01T01:09:13.123456+00:00`,
written only by `stamp` and read back by `to_datetime` as aware UTC datetimes.
One fixed-width form means text order is time order, so SQL may compare and
sort these columns as strings, and a row written by collection (which used to
stamp Oslo time) compares correctly with one written by mail (UTC). Turning
an instant into the editor's date or time (Europe/Oslo) happens where it is
shown, with `newsletter.clock.local`. Calendar dates (an item's `published`,
a deadline, a consent date) are not instants: they stay `YYYY-MM-DD`
(`iso`, `to_date`). Migration 3 rewrote the rows of older stores (Oslo-offset
text, and epoch seconds in `sends.next_attempt_at`) into this form.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from newsletter.errors import StoreError

log = logging.getLogger(__name__)

MEMORY = ":memory:"

# Every column that holds an instant (see the module docstring), by table.
TIMESTAMP_COLUMNS: dict[str, tuple[str, ...]] = {
    "items": ("first_seen", "fetched_at", "updated_at"),
    "item_sources": ("last_seen",),
    "fetch_state": ("last_attempt", "last_success", "newest_seen_at"),
    "pages": ("fetched_at",),
    "contacts": ("status_changed_at", "added_at"),
    "suppressed": ("at",),
    "sends": ("next_attempt_at", "updated_at"),
}


def stamp(moment: dt.datetime | None) -> str | None:
    """An instant as the store writes every timestamp, None for None.

    UTC ISO 8601 with microseconds, always the same 32 characters
    (`2026-12-01T01:09:13.123456+00:00`), so that text order is time order.
    ValueError for a naive datetime: it names no instant.
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset; the store keeps instants, not wall-clock times")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def stamp_epoch(seconds: float | None) -> str | None:
    """An instant given as POSIX epoch seconds, as `stamp` writes it; None for None."""
    return stamp(dt.datetime.fromtimestamp(seconds, dt.UTC)) if seconds is not None else None


def _restamp(value: object) -> object:
    """A stored timestamp of any earlier form rewritten as `stamp` writes it (migration 3).

    Epoch seconds (a number, or its text: `sends.next_attempt_at`) and ISO 8601
    text with any offset (collection's Oslo time) are converted; text without
    an offset is taken as UTC, as SQLite's own date functions take it. A value
    that is neither is left as it was, and logged.
    """
    text = str(value)
    try:
        if re.fullmatch(r"\d+(?:\.\d*)?", text):
            return stamp_epoch(float(text))
        moment = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        log.warning("timestamp %r is neither ISO 8601 nor epoch seconds; left as it is", value)
        return value
    return stamp(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))


def _timestamps_to_utc(db: sqlite3.Connection) -> None:
    """Migration 3: every stored instant rewritten as UTC ISO 8601 (`stamp`), whatever form it had."""
    for table, columns in TIMESTAMP_COLUMNS.items():
        for column in columns:
            rows = db.execute(f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
            db.executemany(
                f"UPDATE {table} SET {column} = ? WHERE rowid = ?", [(_restamp(value), rowid) for rowid, value in rows]
            )


def _rekey_items(db: sqlite3.Connection) -> None:
    """Migration 5: each item's canonical URL and key as collection now computes them (RFC 3986 §6.2.2).

    Canonical URLs became normalised (percent-escape case, unreserved
    characters decoded, dot segments removed, IDNA hosts), so the key of an
    item stored from `h%c3%b8ring` is no longer the key a collect computes
    for it: without this, the next collect would store the document again
    under a new id. Up to schema 4 an item's key was always the
    de-duplication key of its URL, so both are recomputed from the URL.

    Ids never change (issue files cite them). Two items that now turn out to
    be one document keep both their ids: the one the editor decided on (or
    else the first seen) takes the key, and collects find it from now on;
    the other's key gets its id appended, so it stays as it was and no
    collect matches it again. A cached article page follows its URL. A URL
    that cannot be parsed keeps its row as it was.
    """
    # The key is collection's to define; the migration re-applies that definition, so the import points
    # from the store to collection here, and only here.
    from newsletter.collect.urls import canonical_url, dedup_key

    rows = db.execute("SELECT id, key, url, status, first_seen FROM items").fetchall()
    claims: dict[str, list[tuple[bool, str, str, str, str, str]]] = {}
    for ident, key, url, status, first_seen in rows:
        try:
            new_url = canonical_url(url)
            new_key = dedup_key(new_url)
        except ValueError:
            new_url, new_key = url, key
        claims.setdefault(new_key, []).append((status == "new", first_seen, ident, key, url, new_url))
    changes = []  # (id, new key, old url, new url)
    for new_key, claimants in claims.items():
        claimants.sort()  # decided before undecided, then the first seen, then by id
        for rank, (_, _, ident, old_key, old_url, new_url) in enumerate(claimants):
            key = new_key if rank == 0 else f"{new_key}#{ident}"
            if (key, new_url) != (old_key, old_url):
                changes.append((ident, key, old_url, new_url))
    # Keys are unique: move every changed row out of the way first, so no two rows hold one key meanwhile
    # ("host:port/…" is every real key's shape, and "moving:" is followed by an id, never a port).
    db.executemany("UPDATE items SET key = 'moving:' || id WHERE id = ?", [(change[0],) for change in changes])
    for ident, key, old_url, new_url in changes:
        db.execute("UPDATE items SET key = ?, url = ? WHERE id = ?", (key, new_url, ident))
        if new_url != old_url:
            db.execute("UPDATE OR IGNORE pages SET url = ? WHERE url = ?", (new_url, old_url))


# A migration is an SQL script (statements separated by `;`) or, where SQL
# cannot say it exactly, a function given the connection; each runs in one
# transaction with the new `user_version`. Migration 3 is a function: SQLite's
# strftime keeps only milliseconds, and the rewritten rows should be written by
# `stamp`, as every later row is. Migration 5 is one too: keys are computed.
Migration = str | Callable[[sqlite3.Connection], None]

MIGRATIONS: tuple[Migration, ...] = (
    # 1: items, where each was seen, fetch state per source, cached article pages
    """
    CREATE TABLE items (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        title TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        published TEXT,
        date_precision TEXT,
        kind TEXT NOT NULL DEFAULT 'news',
        deadline TEXT,
        event_date TEXT,
        language TEXT NOT NULL DEFAULT 'nb',
        score REAL NOT NULL DEFAULT 0,
        terms TEXT NOT NULL DEFAULT '[]',
        scored_with TEXT,
        status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'picked', 'skipped')),
        first_seen TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE INDEX items_published ON items (published);
    CREATE INDEX items_source ON items (source);
    CREATE TABLE item_sources (
        item_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        link TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (item_id, source)
    );
    CREATE INDEX item_sources_source ON item_sources (source);
    CREATE TABLE fetch_state (
        source TEXT PRIMARY KEY,
        url TEXT,
        etag TEXT,
        last_modified TEXT,
        last_attempt TEXT,
        last_success TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        items_parsed INTEGER,
        newest TEXT,
        newest_seen_at TEXT,
        warnings TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE pages (
        url TEXT PRIMARY KEY,
        status INTEGER,
        text TEXT NOT NULL DEFAULT '',
        published TEXT,
        deadline TEXT,
        fetched_at TEXT NOT NULL,
        error TEXT
    );
    """,
    # 2: contacts (personal data: never leaves var/), suppressed address hashes, the send ledger
    """
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        organisation TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '[]',
        legal_basis TEXT NOT NULL DEFAULT '',
        consent_source TEXT NOT NULL DEFAULT '',
        consent_date TEXT,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed', 'bounced')),
        status_changed_at TEXT,
        added_at TEXT NOT NULL
    );
    CREATE TABLE suppressed (
        hash TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE sends (
        issue TEXT NOT NULL,
        email TEXT NOT NULL,
        contact_id INTEGER,
        position INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sending', 'sent', 'temp_failed', 'failed', 'unknown')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_reply TEXT,
        next_attempt_at TEXT,
        message_id TEXT,
        updated_at TEXT,
        PRIMARY KEY (issue, email)
    );
    CREATE INDEX sends_state ON sends (issue, state)
    """,
    # 3: every timestamp as UTC ISO 8601 (collection stored Oslo time, the ledger epoch seconds)
    _timestamps_to_utc,
    # 4: the inbox's keyword order as an index, so `items --limit 20` reads 20 rows, not the store
    """
    CREATE INDEX items_keyword ON items (score DESC, published IS NULL, published DESC, id)
    """,
    # 5: canonical URLs and keys normalised as RFC 3986 §6.2.2 says, so a stored item is found again
    _rekey_items,
    # 6: the guid a feed gave each item, so entries that share one link stay apart from run to run
    """
    ALTER TABLE item_sources ADD COLUMN guid TEXT
    """,
    # 7: a failed article page is asked again only after its retry-after, which grows with its failures;
    # a source's validators remember the --since that held items back, so they survive it
    """
    ALTER TABLE pages ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pages ADD COLUMN retry_after TEXT;
    ALTER TABLE fetch_state ADD COLUMN validators_since TEXT
    """,
    # 8: why and when a contact's status was changed by hand (a bounce undone), kept beside the contact
    """
    CREATE TABLE contact_changes (
        contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL
    )
    """,
    # 9: which version of the e-mail each recipient was sent (`Prepared.version`), so a send resumed after
    # the issue changed says so instead of mailing the rest another text unremarked
    """
    ALTER TABLE sends ADD COLUMN version TEXT
    """,
    # 10: the last contact id given, so an id is never given twice: SQLite gives a new row the largest id
    # plus one, which is a removed contact's when that was the largest, and the send ledger's row of the
    # removed address then read as the new contact's, active, and was mailed. Seeded with every id in use.
    """
    CREATE TABLE contact_ids (last INTEGER NOT NULL);
    INSERT INTO contact_ids (last) SELECT max(
        coalesce((SELECT max(id) FROM contacts), 0),
        coalesce((SELECT max(contact_id) FROM sends), 0),
        coalesce((SELECT max(contact_id) FROM contact_changes), 0)
    )
    """,
)


def iso(value: dt.date | None) -> str | None:
    """A calendar date as ISO 8601 text (`YYYY-MM-DD`), None for None.

    TypeError for a datetime: an instant is written with `stamp`.
    """
    if isinstance(value, dt.datetime):
        raise TypeError("a datetime is an instant: the store writes it with `stamp`")
    return value.isoformat() if value else None


def to_date(value: str | None) -> dt.date | None:
    """An ISO 8601 date read back, None for NULL."""
    return dt.date.fromisoformat(value) if value else None


def to_datetime(value: str | None) -> dt.datetime | None:
    """A timestamp read back as `stamp` wrote it: an aware datetime in UTC; None for NULL."""
    return dt.datetime.fromisoformat(value) if value else None


def to_epoch(value: str | None) -> float | None:
    """A timestamp read back as POSIX epoch seconds (the unit of the send scheduler); None for NULL."""
    moment = to_datetime(value)
    return moment.timestamp() if moment else None


class Database:
    """One connection to the workspace's SQLite file (or to a private in-memory database).

    `path` is a file (its folder is created) or ":memory:" for a database that
    lives as long as the object (tests). Opening migrates the schema forward;
    StoreError names the file when it cannot be opened, is not a database, or
    was made by a newer version of the tool.
    """

    def __init__(self, path: Path | str):
        self.in_memory = str(path) == MEMORY
        self.path = Path(path)
        try:
            if not self.in_memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(MEMORY if self.in_memory else self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open the item store ({exc})") from exc
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.OperationalError as exc:
            # A full disk, a read-only folder, a lock held too long: the file is fine. Never advise moving it
            # away: it holds the contacts, the suppression list and the send ledger, not only collected items.
            raise StoreError(
                f"{self.path}: cannot use the database now ({exc}); free disk space or fix the folder's "
                "permissions, and keep the file: it holds the contacts and the send ledger"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path}: not a usable database ({exc}); keep a copy of it (it holds the contacts and the "
                "send ledger) and restore it from a backup"
            ) from exc

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The migration the database is at (0 for an empty file)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: made by a newer version of newsletter (schema {version}); upgrade the tool")
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                if callable(migration):
                    migration(self.db)
                else:
                    for statement in migration.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); inside an open transaction, joins it.

        IMMEDIATE takes the write lock at once, so two writers wait for each
        other (up to the 30 s timeout) instead of failing half-way.
        """
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def durable(self) -> None:
        """Make every commit of this connection survive a power cut (`synchronous=FULL`), at some speed."""
        self.db.execute("PRAGMA synchronous=FULL")

"""The SQLite connection: WAL mode, the schema and every migration, transactions.

The schema is versioned with `PRAGMA user_version` and migrated forward on
open; the database runs in WAL mode so a reader (`items`) never blocks a
collect. Every table of every stage is created here, in one numbered list, so
the order of migrations is never in doubt.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from newsletter.errors import StoreError

MEMORY = ":memory:"

MIGRATIONS: tuple[str, ...] = (
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
)


def iso(value: dt.date | dt.datetime | None) -> str | None:
    """A date or datetime as ISO 8601 text, None for None."""
    return value.isoformat() if value else None


def to_date(value: str | None) -> dt.date | None:
    """An ISO 8601 date read back, None for NULL."""
    return dt.date.fromisoformat(value) if value else None


def to_datetime(value: str | None) -> dt.datetime | None:
    """An ISO 8601 datetime read back, None for NULL."""
    return dt.datetime.fromisoformat(value) if value else None


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
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable item store ({exc}); move it away and collect again") from exc

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
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in script.split(";"):
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

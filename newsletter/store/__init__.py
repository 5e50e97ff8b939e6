"""SQLite store: every table of the workspace database, and all the SQL the tool runs.

`Store` is one connection with the methods of each part: `db` (connection,
WAL, migrations, transactions), `items` (collected items, fetch state, page
cache), `contacts` (the contact and suppression lists) and `ledger` (the send
ledger). No module outside this package runs SQL. `Store(":memory:")` is a
private in-memory store for tests.

Every timestamp is stored one way, as UTC ISO 8601 text with microseconds
(`2026-12-01T01:09:13.123456+00:00`, written by `db.stamp`), and read back as
an aware UTC datetime; whoever shows one to the editor, or groups by its day,
converts it to `settings.timezone` (Europe/Oslo) first. Calendar dates stay
`YYYY-MM-DD`. The reasons and the migration of older stores are in `db`.
"""

from __future__ import annotations

from newsletter.store.contacts import ContactStore
from newsletter.store.db import MIGRATIONS
from newsletter.store.items import CachedPage, ItemStore, UpsertResult
from newsletter.store.ledger import LedgerStore

__all__ = ["MIGRATIONS", "CachedPage", "Store", "UpsertResult"]


class Store(ItemStore, ContactStore, LedgerStore):
    """The workspace's SQLite database: open it with a path (or ":memory:"), use it as a context manager."""

    def __enter__(self) -> Store:
        return self

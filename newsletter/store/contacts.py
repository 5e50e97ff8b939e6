"""The contact list and the suppression list (personal data: the file never leaves var/).

This part only persists. Which address is the same contact (`email_key`),
what an address's hash is, and when a contact may be added or re-activated is
decided by `newsletter.mail.contacts`, which calls these methods.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from newsletter.models import CONTACT_FIELDS, Contact
from newsletter.store.db import Database, stamp, to_datetime

# Columns `update_contact` may change (what a merge or a status change touches).
CONTACT_COLUMNS: frozenset[str] = frozenset({*CONTACT_FIELDS, "status_changed_at"})


def _column_value(value: object) -> object:
    """A Python value as the contacts table stores it (tags as JSON, dates and instants as ISO 8601)."""
    if isinstance(value, tuple | list):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, dt.datetime):
        return stamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _contact(row: sqlite3.Row) -> Contact:
    return Contact(
        email=row["email"],
        name=row["name"],
        organisation=row["organisation"],
        tags=tuple(json.loads(row["tags"] or "[]")),
        legal_basis=row["legal_basis"],
        consent_source=row["consent_source"],
        consent_date=dt.date.fromisoformat(row["consent_date"]) if row["consent_date"] else None,
        status=row["status"],
        id=row["id"],
    )


class ContactStore(Database):
    """Contacts and suppressed address hashes (a part of `Store`)."""

    # ------------------------------------------------------------------ contacts

    def contact_by_key(self, key: str) -> Contact | None:
        """The contact whose address key (lower-cased normalised address) is `key`, or None."""
        row = self.db.execute("SELECT * FROM contacts WHERE email_key = ?", (key,)).fetchone()
        return _contact(row) if row is not None else None

    def insert_contact(self, contact: Contact, key: str, now: dt.datetime) -> int:
        """Store a new contact under its address key as given (no merging, no checks); returns its id.

        A contact that is not active gets `now` as the time its status changed.
        Raises sqlite3.IntegrityError when the key is taken. The id is one never given before, not even
        to a contact removed since (table `contact_ids`): the send ledger and the history of changes
        name contacts by id, and a removed contact's rows must not become a new contact's.
        """
        added = stamp(now)
        with self.transaction():
            self.db.execute("UPDATE contact_ids SET last = max(last, coalesce((SELECT max(id) FROM contacts), 0)) + 1")
            new_id = int(self.db.execute("SELECT last FROM contact_ids").fetchone()[0])
            self._insert_contact(new_id, contact, key, added)
        return new_id

    def _insert_contact(self, new_id: int, contact: Contact, key: str, added: str | None) -> None:
        self.db.execute(
            "INSERT INTO contacts (id, email, email_key, name, organisation, tags, legal_basis, consent_source, "
            "consent_date, status, status_changed_at, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new_id,
                contact.email,
                key,
                contact.name,
                contact.organisation,
                _column_value(contact.tags),
                contact.legal_basis,
                contact.consent_source,
                _column_value(contact.consent_date),
                contact.status,
                added if contact.status != "active" else None,
                added,
            ),
        )

    def update_contact(self, contact_id: int, **changes: object) -> None:
        """Set some columns of a contact (names in CONTACT_COLUMNS; tags a tuple, dates date/datetime).

        ValueError for a column that is not in CONTACT_COLUMNS.
        """
        unknown = set(changes) - CONTACT_COLUMNS
        if unknown:
            raise ValueError(f"no contact column {', '.join(sorted(unknown))}")
        if not changes:
            return
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [_column_value(v) for v in changes.values()]
        self.db.execute(f"UPDATE contacts SET {assignments} WHERE id = ?", (*values, contact_id))

    def contact_status_since(self, contact_id: int) -> dt.datetime | None:
        """When a contact's status last changed (when it was added, if never); None for an unknown id."""
        row = self.db.execute(
            "SELECT coalesce(status_changed_at, added_at) FROM contacts WHERE id = ?", (contact_id,)
        ).fetchone()
        return to_datetime(row[0]) if row else None

    def delete_contact(self, key: str) -> None:
        """Delete the contact with this address key (nothing when there is none)."""
        self.db.execute("DELETE FROM contacts WHERE email_key = ?", (key,))

    def list_contacts(self, status: str | None = None) -> list[Contact]:
        """Every contact ordered by address key, or only those with `status`."""
        if status is not None:
            rows = self.db.execute("SELECT * FROM contacts WHERE status = ? ORDER BY email_key", (status,))
        else:
            rows = self.db.execute("SELECT * FROM contacts ORDER BY email_key")
        return [_contact(row) for row in rows]

    def record_contact_change(self, contact_id: int, status: str, reason: str, now: dt.datetime) -> None:
        """Note that a contact's status was set to `status` by hand at `now`, and why."""
        self.db.execute(
            "INSERT INTO contact_changes (contact_id, at, status, reason) VALUES (?, ?, ?, ?)",
            (contact_id, stamp(now), status, reason),
        )

    def contact_changes(self, contact_id: int) -> list[tuple[dt.datetime, str, str]]:
        """(when, status, reason) of every change made to a contact by hand, oldest first."""
        rows = self.db.execute(
            "SELECT at, status, reason FROM contact_changes WHERE contact_id = ? ORDER BY at, rowid", (contact_id,)
        )
        return [(moment, row[1], row[2]) for row in rows if (moment := to_datetime(row[0])) is not None]

    def bounce_causes(self) -> dict[int, str]:
        """The reason recorded with the bounce that stands, by contact id, for every contact bounced now.

        That is the contact's latest change (`contact_changes`, by time, then by insertion) when that
        change set it bounced; a contact whose bounce left no record (an older version's) is not in it.
        """
        rows = self.db.execute(
            "SELECT c.id, ch.reason FROM contacts c JOIN contact_changes ch ON ch.rowid = ("
            "SELECT rowid FROM contact_changes WHERE contact_id = c.id ORDER BY at DESC, rowid DESC LIMIT 1) "
            "WHERE c.status = 'bounced' AND ch.status = 'bounced'"
        )
        return {row[0]: row[1] for row in rows}

    def bounce_replies(self) -> list[tuple[int, str, str, str]]:
        """(contact id, ledger, address, the SMTP reply) of each failed ledger row of every bounced contact."""
        return [
            (row[0], row[1], row[2], row[3])
            for row in self.db.execute(
                "SELECT c.id, s.issue, s.email, s.last_reply FROM contacts c JOIN sends s ON s.contact_id = c.id "
                "WHERE c.status = 'bounced' AND s.state = 'failed' AND s.last_reply IS NOT NULL"
            )
        ]

    # ------------------------------------------------------------------ suppression

    def unsuppress_hash(self, digest: str, reason: str) -> None:
        """Take an address hash off the suppression list, only if it is there for `reason`."""
        self.db.execute("DELETE FROM suppressed WHERE hash = ? AND reason = ?", (digest, reason))

    def suppression_reason(self, digest: str) -> str | None:
        """Why an address hash is on the suppression list ("unsubscribed", "bounced", "erased"), None if not."""
        row = self.db.execute("SELECT reason FROM suppressed WHERE hash = ?", (digest,)).fetchone()
        return row[0] if row else None

    def is_hash_suppressed(self, digest: str) -> bool:
        """True when the address hash (SHA-256 hex of the address key) is on the suppression list."""
        return self.suppression_reason(digest) is not None

    def suppress_hash(self, digest: str, reason: str, now: dt.datetime, overwrite: bool = False) -> None:
        """Put an address hash on the suppression list with a reason ("unsubscribed", "bounced", "erased").

        An entry already there is kept unless `overwrite` (erasure replaces the reason and time).
        """
        verb = "INSERT OR REPLACE" if overwrite else "INSERT OR IGNORE"
        self.db.execute(f"{verb} INTO suppressed (hash, reason, at) VALUES (?, ?, ?)", (digest, reason, stamp(now)))

    def suppressed_hashes(self) -> set[str]:
        """Every hash on the suppression list."""
        return {row[0] for row in self.db.execute("SELECT hash FROM suppressed")}

    # ------------------------------------------------------------------ erasure support

    @contextmanager
    def secure_delete(self) -> Iterator[None]:
        """SQLite's secure_delete on for the block (deleted content is overwritten with zeros), then as before.

        Inside a transaction the pragma cannot be restored safely, so the
        setting is left on there (as the caller's transaction is not ours).
        """
        outer = self.db.in_transaction
        previous = self.db.execute("PRAGMA secure_delete").fetchone()[0]
        self.db.execute("PRAGMA secure_delete = ON")
        try:
            yield
        finally:
            if not outer:
                self.db.execute(f"PRAGMA secure_delete = {int(previous)}")

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it (old bytes do not linger there); never raises.

        Does nothing inside a transaction, where the checkpoint could not complete.
        """
        if self.db.in_transaction:
            return
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

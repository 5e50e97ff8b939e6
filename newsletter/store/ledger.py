"""The send ledger (table `sends`): one row per issue and recipient, and the state of its message.

This part only persists; the order of the moves (pending → sending → sent, and
when each is committed) is `newsletter.mail.send`'s, which calls these methods.
A ledger is named by an issue id (`2024-q2`, or `2024-q2:outbox` for a dry run).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from newsletter.models import SEND_STATES, SendState
from newsletter.store.db import Database, stamp, stamp_epoch, to_datetime, to_epoch


class LedgerStore(Database):
    """The `sends` table (a part of `Store`)."""

    def ledger_size(self, issue: str) -> int:
        """How many recipients the ledger of `issue` holds (0: its send has not started)."""
        return int(self.db.execute("SELECT count(*) FROM sends WHERE issue = ?", (issue,)).fetchone()[0])

    def freeze_recipients(self, issue: str, recipients: Iterable[tuple[str, int | None]], now: dt.datetime) -> int:
        """Write one `pending` row per (address, contact id), numbered in the order given after the rows
        already there, in one transaction; returns how many rows were added.

        An address already in the ledger is left as it is (whatever its state).
        """
        frozen_at = stamp(now)
        with self.transaction():
            known = self.ledger_addresses_of(issue)
            after = self.db.execute("SELECT coalesce(max(position) + 1, 0) FROM sends WHERE issue = ?", (issue,))
            start = int(after.fetchone()[0])
            rows: list[tuple[str, str, int | None, int, str | None]] = []
            for email, contact_id in recipients:
                if email not in known:
                    known.add(email)
                    rows.append((issue, email, contact_id, start + len(rows), frozen_at))
            self.db.executemany(
                "INSERT INTO sends (issue, email, contact_id, position, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?)",
                rows,
            )
        return len(rows)

    def move_to_end(self, issue: str, emails: Iterable[str]) -> None:
        """Renumber these rows of the ledger of `issue` after every other, in the order given (one
        transaction), so a run takes them last: the recipients a run stopped at are not the first the
        next run meets again."""
        with self.transaction():
            after = self.db.execute("SELECT coalesce(max(position) + 1, 0) FROM sends WHERE issue = ?", (issue,))
            start = int(after.fetchone()[0])
            self.db.executemany(
                "UPDATE sends SET position = ? WHERE issue = ? AND email = ?",
                [(start + n, issue, email) for n, email in enumerate(emails)],
            )

    def ledger_addresses_of(self, issue: str) -> set[str]:
        """Every address in the ledger of `issue`, whatever its state."""
        return {row[0] for row in self.db.execute("SELECT email FROM sends WHERE issue = ?", (issue,))}

    def send_counts(self, issue: str) -> dict[str, int]:
        """How many rows of the ledger are in each state (every state present, in SEND_STATES order)."""
        counts: dict[str, int] = dict.fromkeys(SEND_STATES, 0)
        for state, count in self.db.execute(
            "SELECT state, count(*) FROM sends WHERE issue = ? GROUP BY state", (issue,)
        ):
            counts[state] = count
        return counts

    def send_failures(self, issue: str) -> list[tuple[str, str, str, str]]:
        """(address, state, last SMTP reply or "", Message-ID or "") of the failed, unknown and temp_failed
        rows, and of the pending rows that have a reply (put back in place by a run that stopped, or that
        could not tell a refusal from the server's), in ledger order."""
        return [
            (row[0], row[1], row[2], row[3])
            for row in self.db.execute(
                "SELECT email, state, coalesce(last_reply, ''), coalesce(message_id, '') FROM sends WHERE issue = ? "
                "AND (state IN ('failed', 'unknown', 'temp_failed') OR (state = 'pending' AND last_reply != '')) "
                "ORDER BY position",
                (issue,),
            )
        ]

    def held_addresses(self, issue: str) -> set[str]:
        """The addresses of the rows a run that died left held (see `release_held`): the next run tries them."""
        return {
            row[0]
            for row in self.db.execute(
                "SELECT email FROM sends WHERE issue = ? AND state = 'failed' AND next_attempt_at IS NOT NULL",
                (issue,),
            )
        }

    def ledger_rows(self, issue: str) -> dict[str, tuple[str, str]]:
        """Address → (state, last reply or "") of every row of the ledger of `issue`."""
        rows = self.db.execute("SELECT email, state, coalesce(last_reply, '') FROM sends WHERE issue = ?", (issue,))
        return {email: (state, reply) for email, state, reply in rows}

    def ledger_states(self, issue: str) -> dict[str, str]:
        """Address → state of every row of the ledger of `issue`."""
        return {email: state for email, (state, _reply) in self.ledger_rows(issue).items()}

    def count_requeueable(self, issue: str) -> int:
        """How many failed rows `requeue_failed` would put back (their contact still active, or unknown)."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM sends WHERE issue = ? AND state = 'failed' AND email NOT LIKE 'erased:%' "
                "AND (contact_id IS NULL OR contact_id IN (SELECT id FROM contacts WHERE status = 'active'))",
                (issue,),
            ).fetchone()[0]
        )

    def set_send_state(
        self,
        issue: str,
        email: str,
        state: SendState,
        now: dt.datetime,
        reply: str | None = None,
        attempts: int | None = None,
        next_at: float | None = None,
        message_id: str | None = None,
        version: str | None = None,
    ) -> None:
        """Move one row to `state`; `reply`, `attempts`, `message_id` and `version` change only when given.

        `next_at` (epoch seconds, the scheduler's unit; stored as every timestamp is) is when a
        temp_failed row is due again; None clears it.
        """
        self.db.execute(
            "UPDATE sends SET state = ?, last_reply = coalesce(?, last_reply), attempts = coalesce(?, attempts), "
            "next_attempt_at = ?, message_id = coalesce(?, message_id), version = coalesce(?, version), updated_at = ? "
            "WHERE issue = ? AND email = ?",
            (
                state,
                reply,
                attempts,
                stamp_epoch(next_at),
                message_id,
                version,
                stamp(now),
                issue,
                email,
            ),
        )

    def sent_versions(self, issue: str) -> list[tuple[str | None, int, dt.datetime | None]]:
        """(version, recipients, when the last of them was sent) of each version of the e-mail the
        ledger of `issue` has sent or may have sent (`sent`, `sending`, `unknown`), the earliest first.

        The version is None for rows sent before versions were recorded (schema 9)."""
        rows = self.db.execute(
            "SELECT version, count(*), max(updated_at), min(updated_at) FROM sends WHERE issue = ? "
            "AND state IN ('sent', 'sending', 'unknown') GROUP BY version ORDER BY min(updated_at)",
            (issue,),
        ).fetchall()
        return [(version, int(count), to_datetime(last)) for version, count, last, _first in rows]

    def recipient_standing(self, issue: str, email: str) -> tuple[int | None, str | None, str | None] | None:
        """(contact id, that contact's status now, its address now) of a ledger row; None when there is no
        such row.

        The status and the address are None when the contact row is gone (removed after the send started).
        """
        row = self.db.execute(
            "SELECT s.contact_id, c.status, c.email FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
            "WHERE s.issue = ? AND s.email = ?",
            (issue, email),
        ).fetchone()
        return (row[0], row[1], row[2]) if row is not None else None

    def requeue_failed(self, issue: str) -> int:
        """Put the failed rows whose contact is still active (or unknown) back to pending; returns how many."""
        return self.db.execute(
            "UPDATE sends SET state = 'pending', attempts = 0, next_attempt_at = NULL WHERE issue = ? AND state = "
            "'failed' AND email NOT LIKE 'erased:%' AND (contact_id IS NULL OR contact_id IN "
            "(SELECT id FROM contacts WHERE status = 'active'))",
            (issue,),
        ).rowcount

    def requeue_contact(self, contact_id: int) -> int:
        """Put a contact's failed rows, in every ledger, back to pending with no attempts; returns how many."""
        return self.db.execute(
            "UPDATE sends SET state = 'pending', attempts = 0, next_attempt_at = NULL "
            "WHERE contact_id = ? AND state = 'failed'",
            (contact_id,),
        ).rowcount

    def mark_interrupted(self, issue: str) -> None:
        """Rows left `sending` by a run that died become `unknown` (the server may have the message)."""
        # The reason replaces any earlier reply: an old refusal would read as this message's fate.
        self.db.execute(
            "UPDATE sends SET state = 'unknown', last_reply = 'the run stopped while this message was being sent "
            "(a crash, a kill or a power cut); it may or may not have arrived' WHERE issue = ? AND state = 'sending'",
            (issue,),
        )

    def release_held(self, issue: str) -> int:
        """Rows a run that died left held go back to pending, their attempts kept; returns how many.

        A held row (`mail.send.SendRun.hold`) is `failed` with a `next_attempt_at`: refused by a reply
        that may have been the server's, in a run that had not yet shown the server takes other mail.
        The run settles it (failed, or back to pending) before it ends; a kill or a power cut first
        leaves it so. The message was refused, so it never arrived: trying it again cannot make a
        second copy, and the next run tells the recipient's refusal from the server's afresh. Its
        attempts are as before the refusal (the run counts it when it settles it). Only under the
        issue's send lock: a live run's held rows are its own.
        """
        return self.db.execute(
            "UPDATE sends SET state = 'pending', next_attempt_at = NULL "
            "WHERE issue = ? AND state = 'failed' AND next_attempt_at IS NOT NULL",
            (issue,),
        ).rowcount

    def requeue_unknown(self, issue: str) -> None:
        """Rows whose delivery is unknown go back to pending (the editor said they did not arrive)."""
        self.db.execute(
            "UPDATE sends SET state = 'pending', next_attempt_at = NULL WHERE issue = ? AND state = 'unknown'",
            (issue,),
        )

    def recipient_names(self, issue: str) -> dict[str, str]:
        """Address → the contact's name ("" when unknown or removed) for every row of the ledger."""
        return {
            row[0]: row[1]
            for row in self.db.execute(
                "SELECT s.email, coalesce(c.name, '') FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
                "WHERE s.issue = ?",
                (issue,),
            )
        }

    def queued(
        self, issue: str, states: Iterable[SendState], part: int = 0, parts: int = 1
    ) -> list[tuple[str, int, float | None]]:
        """(address, attempts, next attempt in epoch seconds or None) of the rows in `states`, in ledger order.

        Only the share `position % parts == part`, so parallel senders never pick the same row.
        """
        wanted = list(states)
        rows = self.db.execute(
            f"SELECT email, attempts, next_attempt_at FROM sends WHERE issue = ? AND position % ? = ? "
            f"AND state IN ({','.join('?' * len(wanted))}) ORDER BY position",
            (issue, parts, part, *wanted),
        ).fetchall()
        return [(r[0], r[1], to_epoch(r[2])) for r in rows]

    def sent_issue_ids(self) -> set[str]:
        """Ledgers (issue ids) in which at least one message was sent."""
        return {row[0] for row in self.db.execute("SELECT DISTINCT issue FROM sends WHERE state = 'sent'")}

    # ------------------------------------------------------------------ erasure support

    def ledger_addresses(self) -> list[str]:
        """Every distinct address in every ledger."""
        return [row[0] for row in self.db.execute("SELECT DISTINCT email FROM sends")]

    def rename_ledger_address(self, old: str, new: str) -> None:
        """Replace an address in every ledger (and drop the contact id); a row already under `new` is replaced."""
        self.db.execute("UPDATE OR REPLACE sends SET email = ?, contact_id = NULL WHERE email = ?", (new, old))

    def ledger_replies(self, email: str) -> list[tuple[int, str]]:
        """(row id, last SMTP reply) of every ledger row of an address that has a reply."""
        return [
            (row[0], row[1])
            for row in self.db.execute(
                "SELECT rowid, last_reply FROM sends WHERE email = ? AND last_reply IS NOT NULL", (email,)
            )
        ]

    def set_ledger_reply(self, rowid: int, reply: str) -> None:
        """Replace the stored SMTP reply of one ledger row (by its row id)."""
        self.db.execute("UPDATE sends SET last_reply = ? WHERE rowid = ?", (reply, rowid))

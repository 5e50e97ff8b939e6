"""A disk that fills up (or fails) during a send: one clear line that never advises moving newsletter.db
away, no recipient marked sent that was not sent, and the same send run again after space is freed goes
on where it stopped.

A disk cannot be filled for real in a test, so the one write that fails is replaced: the outbox's
`atomic_write` raising ENOSPC as the kernel would, and the ledger's row write raising SQLite's own
"database or disk is full". Everything else (the CLI, the ledger, the SMTP server) is real.
"""

from __future__ import annotations

import errno
import os
import sqlite3

import pytest

from newsletter.mail import send as send_module
from newsletter.mail import transport as transport_module
from newsletter.store import Store
from tests.test_send_cli import invoke, mailing_workspace, write_contacts

CONTACTS = 6


def ledger(root, name: str = "2024-q2") -> dict[str, str]:
    with Store(root / "var" / "newsletter.db") as store:
        return dict(store.db.execute("SELECT email, state FROM sends WHERE issue = ?", (name,)).fetchall())


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    return lines[0]


def assert_clear(line: str) -> None:
    """The message says what failed and what to do, and keeps newsletter.db where it is."""
    assert "free disk space" in line and "run the same send again" in line
    assert "Keep newsletter.db where it is" in line
    assert "move" not in line.lower() and "delete" not in line.lower() and "Traceback" not in line


@pytest.fixture
def built(sample_workspace):
    invoke(sample_workspace, "contacts", "import", str(write_contacts(sample_workspace, CONTACTS)))
    assert invoke(sample_workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    return sample_workspace


def test_a_full_disk_while_writing_the_outbox(built, monkeypatch):
    """The third .eml meets ENOSPC: two are written and recorded, the third and the rest keep their
    place (pending, never `sending` or unknown), no temporary file is left, and the rerun writes the rest."""
    real_write = transport_module.atomic_write
    calls = {"n": 0}

    def fills_up(path, data, durable=True):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data, durable)

    monkeypatch.setattr(transport_module, "atomic_write", fills_up)
    result = invoke(built, "send", "2024-q2", "--dry-run")
    assert result.exit_code == 1
    line = error_line(result.output)
    assert_clear(line)
    assert "cannot write the message" in line and ".eml" in line and "No space left on device" in line
    states = ledger(built, "2024-q2:outbox")
    outbox = built / "var" / "outbox" / "2024-q2"
    written = sorted(p.name for p in outbox.iterdir())
    assert sorted(e for e, s in states.items() if s == "sent") == [name.removesuffix(".eml") for name in written]
    assert len(written) == 2 and list(states.values()).count("pending") == CONTACTS - 2

    monkeypatch.setattr(transport_module, "atomic_write", real_write)  # space freed
    again = invoke(built, "send", "2024-q2", "--dry-run")
    assert again.exit_code == 0, again.output
    assert set(ledger(built, "2024-q2:outbox").values()) == {"sent"}
    assert len(list(outbox.iterdir())) == CONTACTS


def test_a_full_disk_while_writing_the_ledger(built, smtp, monkeypatch):
    """SQLite says "database or disk is full" from the fifth ledger write on: the run stops with one line;
    every row marked sent was received by the server; the rerun after space is freed mails everyone
    not yet mailed and nobody twice (a message whose `sent` could not be written is reported unknown)."""
    mailing_workspace(built, smtp.port, 0)
    real_set = send_module._set
    calls = {"n": 0}

    def fills_up(store, issue_id, email, state, **values):
        calls["n"] += 1
        if calls["n"] >= 5:
            raise sqlite3.OperationalError("database or disk is full")
        real_set(store, issue_id, email, state, **values)

    monkeypatch.setattr(send_module, "_set", fills_up)
    result = invoke(built, "send", "2024-q2", "--yes")
    assert result.exit_code == 1
    line = error_line(result.output)
    assert_clear(line)
    assert "newsletter.db: cannot write the send ledger (database or disk is full)" in line
    received = smtp.copies()
    states = ledger(built)
    assert {e for e, s in states.items() if s == "sent"} <= set(received), "marked sent but never sent"
    assert received, "the run should have sent something before the disk filled"

    monkeypatch.setattr(send_module, "_set", real_set)  # space freed
    again = invoke(built, "send", "2024-q2", "--yes")
    after = ledger(built)
    assert set(smtp.copies().values()) == {1}, "a second copy"
    assert set(smtp.copies()) == {e for e, s in after.items() if s in ("sent", "unknown")}
    assert set(after.values()) <= {"sent", "unknown"} and len(after) == CONTACTS
    # An unknown delivery keeps the exit status at 1 and is named, as after a crash.
    assert again.exit_code == (1 if "unknown" in after.values() else 0), again.output


def test_a_ledger_write_failing_at_354_drops_the_line_at_once(built, smtp, monkeypatch):
    """The server waits for message data when `sending` cannot be written: the line is dropped, not
    QUIT sent as data and its answer waited for (smtp.timeout); nothing is delivered or marked sent."""
    import time

    mailing_workspace(built, smtp.port, 0)  # smtp.timeout 5 s
    real_set = send_module._set

    def full_at_sending(store, issue_id, email, state, **values):
        if state == "sending":
            raise sqlite3.OperationalError("database or disk is full")
        real_set(store, issue_id, email, state, **values)

    monkeypatch.setattr(send_module, "_set", full_at_sending)
    started = time.monotonic()
    result = invoke(built, "send", "2024-q2", "--yes")
    assert result.exit_code == 1 and time.monotonic() - started < 4  # not the 5 s timeout
    assert "cannot write the send ledger (database or disk is full)" in result.output
    assert smtp.copies() == {} and "sent" not in ledger(built).values()

"""Bounces that come back later: delivery status notifications (RFC 3464) saved from the unit's mailbox.

A message the server accepted can still fail at the recipient's end; the
recipient's server then mails back a DSN, a `multipart/report;
report-type=delivery-status` (RFC 6522) whose `message/delivery-status` part
has one block per recipient with `Action` (failed, delayed, …), `Status` (an
RFC 3463 enhanced status code) and `Diagnostic-Code`. `contacts bounces` reads
them from an mbox file, a Maildir folder, or `.eml` files (a plain folder is
walked whole: its Maildirs and its saved-mail files, `MAIL_FILES`), finds the failed recipients with `flufl.bounce`
(GNU Mailman's detectors: RFC 3464 first, then the known non-standard formats
of Exchange, Postfix, qmail, …) and marks the hard bounces of known contacts.

What bounces a contact follows the send's own reading of RFC 3463
(`transport.classify`): a permanent failure about the address (5.1.x, or a
5.x.x that names no cause) does; a delayed or 4.x.x notice never does; 5.2.x
(mailbox full or disabled) and 5.7.x (refused by policy: often the sender's
own SPF/DKIM/DMARC setup, not the address) are reported and left alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from flufl.bounce import all_failures

from newsletter.mail.contacts import ContactError, address_key
from newsletter.store import Store

Verdict = Literal["bounce", "transient", "mailbox", "policy"]


@dataclass(frozen=True)
class Failure:
    """One recipient a notice says failed: the address, the RFC 3463 `status` ("" when the notice gives
    none, as the non-standard formats do), the `diagnostic` (the remote server's reply) and `source`
    (the file, with `#n` for the n-th message of an mbox or a Maildir's file name)."""

    address: str
    status: str
    diagnostic: str
    source: str
    permanent: bool  # flufl.bounce's reading: a failure, not a delay

    @property
    def verdict(self) -> Verdict:
        """What the failure means for the contact (see the module docstring)."""
        if not self.permanent or self.status.startswith("4."):
            return "transient"
        if self.status.startswith("5.7."):
            return "policy"
        if self.status.startswith("5.2."):
            return "mailbox"
        return "bounce"


@dataclass(frozen=True)
class Outcome:
    """What `mark_bounces` did with one failure: `result` is "bounced" (the contact is bounced now),
    "already bounced", "unsubscribed" (left as it is), "not in the contacts", or the failure's verdict
    when it bounces nobody ("transient", "mailbox", "policy")."""

    failure: Failure
    result: str


@dataclass
class BounceReport:
    """What `read_bounces` + `mark_bounces` found: one Outcome per failed recipient, and the sources
    that gave none, with why (`skipped`: could not be read or parsed; `ignored`: no notice in it)."""

    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        """A JSON-ready mapping (`contacts bounces --json`)."""
        return {
            "outcomes": [{**dataclasses.asdict(o.failure), "result": o.result} for o in self.outcomes],
            "skipped": [{"source": s, "why": why} for s, why in self.skipped],
            "ignored": [{"source": s, "why": why} for s, why in self.ignored],
        }


def read_bounces(paths: list[Path]) -> BounceReport:
    """Every failure in the notices under `paths` (mbox files, Maildir folders, `.eml` files or folders
    of them); a file that cannot be read or parsed is put in `skipped`, by name, and the rest go on."""
    report = BounceReport()
    for source, message in _messages(paths, report):
        try:
            failures = notice_failures(message, source)
        except Exception as exc:  # flufl.bounce's heuristics on hostile input: report the file, never stop
            report.skipped.append((source, f"cannot be parsed as a notice ({type(exc).__name__}: {exc})"))
            continue
        if failures:
            report.outcomes.extend(Outcome(f, f.verdict) for f in failures)
        else:
            report.ignored.append((source, "no delivery status notification with a failed recipient"))
    return report


def notice_failures(message: Message, source: str) -> list[Failure]:
    """The failed and delayed recipients of one message, by flufl.bounce, with each one's RFC 3464
    `Status` and `Diagnostic-Code` when the message is a standard DSN; [] for any other message."""
    temporary, permanent = all_failures(message)
    fields = _delivery_status_fields(message)
    failures = []
    for raw, is_permanent in [(a, False) for a in sorted(temporary)] + [(a, True) for a in sorted(permanent)]:
        address = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
        status, diagnostic = fields.get(address.lower(), ("", ""))
        failures.append(Failure(address, status, diagnostic, source, is_permanent))
    return failures


def mark_bounces(store: Store, report: BounceReport, now: dt.datetime) -> BounceReport:
    """Mark the contacts of the report's hard bounces bounced, each change recorded with when and why
    (the notice's file and status); the outcomes say what happened to each. An unsubscribed contact is
    left as it is; an address that is not a contact is only reported."""
    outcomes = []
    for outcome in report.outcomes:
        failure = outcome.failure
        if failure.verdict != "bounce":
            outcomes.append(outcome)
            continue
        outcomes.append(Outcome(failure, _bounce(store, failure, now)))
    report.outcomes = outcomes
    return report


def _bounce(store: Store, failure: Failure, now: dt.datetime) -> str:
    try:
        key = address_key(failure.address)
    except ContactError:
        return "not in the contacts"
    with store.transaction():
        contact = store.contact_by_key(key)
        if contact is None or contact.id is None:
            return "not in the contacts"
        if contact.status == "unsubscribed":
            return "unsubscribed"
        if contact.status == "bounced":
            return "already bounced"
        store.update_contact(contact.id, status="bounced", status_changed_at=now)
        why = f"delivery status notification {failure.source}: {failure.status or 'no status'}"
        if failure.diagnostic:
            why += f" ({failure.diagnostic})"
        store.record_contact_change(contact.id, "bounced", why, now)
    return "bounced"


def _delivery_status_fields(message: Message) -> dict[str, tuple[str, str]]:
    """Recipient (lower-cased) → (Status, Diagnostic-Code) from the message/delivery-status parts
    (RFC 3464 2.3: per-recipient blocks after the per-message one), by Original- then Final-Recipient."""
    found: dict[str, tuple[str, str]] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            status = " ".join(str(block.get("Status", "")).split())
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            for name in ("Original-Recipient", "Final-Recipient"):
                value = str(block.get(name, ""))
                # "rfc822; addr" (RFC 3464 2.3.1); some servers write "<addr>" with no type.
                address = parseaddr(value.split(";", 1)[-1].strip())[1]
                if address and status:
                    found.setdefault(address.lower(), (status, diagnostic))
    return found


MAIL_FILES = (".eml", ".mbox", ".mbx", ".msg")  # in a plain folder, the files read as saved mail


def _messages(paths: list[Path], report: BounceReport) -> Iterator[tuple[str, Message]]:
    """(source name, message) for every message under `paths`; what cannot be read goes to `skipped`."""
    for path in paths:
        if not path.exists():
            report.skipped.append((str(path), "no such file or folder"))
        elif path.is_dir():
            found = 0
            for kind, each in _folder(path):
                found += 1
                yield from (_maildir if kind == "maildir" else _file)(each, report)
            if not found:
                report.skipped.append(
                    (str(path), f"a folder with no Maildir (cur/, new/) and no {', '.join(MAIL_FILES)} files in it")
                )
        else:
            yield from _file(path, report)


def _folder(path: Path) -> Iterator[tuple[str, Path]]:
    """What a folder holds, walked in name order: ("maildir", folder) for a Maildir (it has cur/ or
    new/; not walked further), ("file", path) for a saved message or mbox file (`MAIL_FILES`).
    Hidden names are skipped, as Maildir and most mail programs keep their bookkeeping there."""
    if any((path / sub).is_dir() for sub in ("cur", "new")):
        yield "maildir", path
        return
    try:
        children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        if child.is_dir():
            yield from _folder(child)
        elif child.suffix.lower() in MAIL_FILES:
            yield "file", child


def _file(path: Path, report: BounceReport) -> Iterator[tuple[str, Message]]:
    """The messages of one file: an mbox (it starts with a "From " line, RFC 4155) or one message."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.skipped.append((str(path), f"cannot be read ({exc.strerror or exc})"))
        return
    if data.startswith(b"From "):
        try:
            box = mailbox.mbox(path, create=False)
            keys = list(box.keys())
        except (OSError, mailbox.Error) as exc:
            report.skipped.append((str(path), f"cannot be read as an mbox ({exc})"))
            return
        for number, key in enumerate(keys, start=1):
            parsed = _parse(box.get_bytes(key), f"{path}#{number}", report)
            if parsed is not None:
                yield parsed
        return
    parsed = _parse(data, str(path), report)
    if parsed is not None:
        yield parsed


def _maildir(path: Path, report: BounceReport) -> Iterator[tuple[str, Message]]:
    """The messages of a Maildir: one file each in `new/` and `cur/` (a name starting with "." is not
    a message, as the Maildir convention has it), named by their own paths."""
    for sub in ("new", "cur"):
        folder = path / sub
        if not folder.is_dir():
            continue
        try:
            files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        except OSError as exc:
            report.skipped.append((str(folder), f"cannot be read ({exc.strerror or exc})"))
            continue
        for file in files:
            try:
                data = file.read_bytes()
            except OSError as exc:
                report.skipped.append((str(file), f"cannot be read ({exc.strerror or exc})"))
                continue
            parsed = _parse(data, str(file), report)
            if parsed is not None:
                yield parsed


def _parse(data: bytes, source: str, report: BounceReport) -> tuple[str, Message] | None:
    """The message in `data`, or None (and `skipped`) when it is not an e-mail message at all: no header
    fields (RFC 5322 2.1), as a binary file or a text file saved by mistake reads."""
    message = email.message_from_bytes(data, policy=compat32)
    if not message.keys() or b"\x00" in data[:1024]:
        report.skipped.append((source, "not an e-mail message (no header fields)"))
        return None
    return source, message

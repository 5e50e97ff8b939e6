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

flufl.bounce drops every address with a letter outside ASCII, and knows nothing
of RFC 6533's `message/global-delivery-status`, so the delivery-status fields
are also read here (`dsn_recipients`: RFC 3464 §2.3 and RFC 6533 §3), and the
two readings are joined, each recipient once. Recipients are matched to
contacts by `address_key` (email-validator's normal form: the IDNA 2008 domain
in Unicode), so `ida@xn--blbr-roah.no` in a notice is the contact
`ida@blåbær.no`, and is printed as the contact list has it.

What bounces a contact follows the send's own reading of RFC 3463
(`transport.classify`): a permanent failure about the address (5.1.x, 5.0.0
or no status code) does; a delayed or 4.x.x notice never does; 5.2.x (mailbox
full or disabled), 5.7.x (refused by policy: often the sender's own
SPF/DKIM/DMARC setup, not the address) and the other classes, about the
message or its way (5.3.x a message too big, 5.4.x routing, 5.5.x protocol,
5.6.x content), are reported and left alone. That rule is `status_verdict`,
and `contacts reactivate --wrongly-bounced` (`contacts.wrongly_bounced`) judges
by it the bounces an older version recorded from notices.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import mailbox
import quopri
import re
from base64 import b64decode
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from flufl.bounce import all_failures

from newsletter.mail.contacts import ContactError, address_key, mark_bounced
from newsletter.store import Store

Verdict = Literal["bounce", "transient", "mailbox", "policy", "message"]


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
        """What the failure means for the contact (`status_verdict`)."""
        return status_verdict(self.status, self.permanent)


def status_verdict(status: str, permanent: bool = True) -> Verdict:
    """What a notice's failure with the RFC 3463 `status` ("5.1.1"; "" when the notice gives none)
    means for the contact: "bounce" only for the address's own fault (see the module docstring).

    `permanent` is False for a delayed notice (RFC 3464 Action: delayed), which never bounces.
    """
    if not permanent or status.startswith("4."):
        return "transient"
    if status.startswith("5.7."):
        return "policy"
    if status.startswith("5.2."):
        return "mailbox"
    # RFC 3463: 5.1.x is the address; 5.0.0 and no code name no other cause. 5.3.x (the system: a
    # message too big), 5.4.x (routing), 5.5.x (protocol) and 5.6.x (content) are about the message
    # or the way, and one oversized issue must not bounce every reader for good.
    if not status or status.startswith(("5.1.", "5.0.")):
        return "bounce"
    return "message"


NO_STATUS = "no status"  # a notice's reason when the notice gave no Status (a non-standard format)
# `notice_reason`'s text: the status is the first one after "<source>: " that ends the text or is
# followed by the diagnostic in parentheses, so a source with ": " in it is still read right.
_NOTICE_REASON = re.compile(rf"delivery status notification .+?: (?P<status>{NO_STATUS}|\S+)(?: \(.*\))?", re.DOTALL)


def notice_reason(failure: Failure) -> str:
    """Why a notice bounced a contact, as recorded with the change: the source, the RFC 3463 status
    (or "no status") and, in parentheses, the remote server's diagnostic when the notice gave one."""
    why = f"delivery status notification {failure.source}: {failure.status or NO_STATUS}"
    return f"{why} ({failure.diagnostic})" if failure.diagnostic else why


def notice_status(reason: str) -> str | None:
    """The RFC 3463 status in a bounce reason that `notice_reason` wrote ("" for "no status"), or None
    when `reason` is not a notice's (an SMTP reply, a reason given by hand)."""
    found = _NOTICE_REASON.fullmatch(reason)
    if found is None:
        return None
    return "" if found["status"] == NO_STATUS else found["status"]


@dataclass(frozen=True)
class Outcome:
    """What `mark_bounces` did with one failure: `result` is "bounced" (the contact is bounced now),
    "already bounced", "unsubscribed" (left as it is), "not in the contacts", or the failure's verdict
    when it bounces nobody ("transient", "mailbox", "policy", "message")."""

    failure: Failure
    result: str
    contact: str = ""  # the address as the contact list has it ("" when it is not a contact)

    @property
    def address(self) -> str:
        """The address to show: the contact's own spelling, else the notice's."""
        return self.contact or self.failure.address


@dataclass
class BounceReport:
    """What `read_bounces` + `mark_bounces` found: one Outcome per failed recipient, and the sources
    that gave none, with why (`skipped`: could not be read or parsed; `ignored`: no notice in it)."""

    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    # Sources that look like a failure notice yet name no failed address the tool reads (`notice_clue`).
    unread: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        """A JSON-ready mapping (`contacts bounces --json`)."""
        return {
            "outcomes": [
                {**dataclasses.asdict(o.failure), "contact": o.contact or None, "result": o.result}
                for o in self.outcomes
            ],
            "skipped": [{"source": s, "why": why} for s, why in self.skipped],
            "ignored": [{"source": s, "why": why} for s, why in self.ignored],
            "unread": [{"source": s, "why": why} for s, why in self.unread],
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
        elif (clue := notice_clue(message)) is not None:
            report.unread.append(
                (
                    source,
                    f"looks like a delivery failure notice ({clue}) but names no failed address the tool can "
                    "read: read it, and mark an address it says is gone bounced (`newsletter contacts "
                    f'mark-bounced ADDR --reason "{Path(source.split("#")[0]).name}"`)',
                )
            )
        else:
            report.ignored.append((source, "no delivery status notification with a failed recipient"))
    return report


# Subjects of delivery failure notices, as mail systems word them in the languages the list's mail comes back in.
_NOTICE_SUBJECT = re.compile(
    r"undeliver|not delivered|delivery (?:status notification|failure|has failed|failed)|mail delivery "
    r"(?:failed|system)|returned mail|failure notice|non remis|kan ikke leveres|ikke levert|levering mislyk"
    r"|kunde inte levereras|olevererbart|ej levererat|kan ikke afleveres|ei voitu toimittaa",
    re.I,
)
# Subjects of notices that say a message is on its way or arrived ("Delivery Status Notification (Delay)").
# Not "delivered" or "levert": "Message not delivered", "Ikke levert" are failures.
_NOT_FAILED_SUBJECT = re.compile(r"\b(?:delay|delayed|relay|relayed|success|forsinket)\b", re.I)
_ACTION = re.compile(r"^action:\s*([a-z]+)", re.I | re.M)


def _actions(message: Message) -> set[str]:
    """The `Action` of every recipient block of the message's delivery-status parts (RFC 3464 2.3.3), lower case."""
    found: set[str] = set()
    for part in message.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [payload]
        for block in blocks:
            text = block.as_string() if isinstance(block, Message) else str(block)
            found.update(action.lower() for action in _ACTION.findall(text))
    return found


_NOTICE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster)@", re.I)
_STATUS_CODE = re.compile(r"\b5\d\d[ -]5\.\d{1,3}\.\d{1,3}\b")  # "550 5.1.10": a reply with its RFC 3463 status


def notice_clue(message: Message) -> str | None:
    """Why a message that named no failed recipient still looks like a delivery failure notice, in words
    (its subject, its sender, its report type, or a permanent SMTP reply in its text), or None.

    Mail systems word their notices in many ways flufl.bounce does not read (an on-premises Exchange's
    plain text, say). Such a notice is not a reply to the newsletter: the editor is told to read it,
    rather than have it counted with the thank-you notes.
    """
    # A report that says no delivery failed is no failure notice: a read receipt (RFC 8098), or a
    # delivery status notification whose every recipient was delivered, relayed, expanded or delayed.
    report_type = str(message.get_param("report-type", "")).lower()
    if message.get_content_type() == "multipart/report" and report_type == "disposition-notification":
        return None
    actions = _actions(message)
    if actions and "failed" not in actions:
        return None
    raw = str(message.get("Subject", ""))
    try:
        subject = str(make_header(decode_header(raw)))  # RFC 2047 words, as "Kan ikke leveres" is often sent
    except Exception:  # noqa: BLE001 (a malformed encoded word: the subject as written)
        subject = raw
    if _NOTICE_SUBJECT.search(subject) and not _NOT_FAILED_SUBJECT.search(subject):
        return f"subject «{' '.join(subject.split())[:80]}»"
    sender = parseaddr(str(message.get("From", "")))[1]
    if _NOTICE_SENDER.match(sender):
        return f"from {sender}"
    if message.get_content_type() == "multipart/report":
        return "a multipart/report"
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                text = part.get_payload(decode=True) or b""
            except Exception:  # noqa: BLE001 (a hostile part: no clue in it)
                continue
            if found := _STATUS_CODE.search(text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)):
                return f"the reply «{found.group()}»"
    return None


def notice_failures(message: Message, source: str) -> list[Failure]:
    """The failed and delayed recipients of one message, with each one's `Status` and `Diagnostic-Code`
    when the message is a standard DSN (RFC 3464, or RFC 6533's global one); [] for any other message.

    flufl.bounce's finds first (it also reads the non-standard formats), then the recipients only
    `dsn_recipients` found (addresses outside ASCII, which flufl.bounce drops); one address is listed
    once, whatever the spelling of its domain (`address_key`).
    """
    temporary, permanent = all_failures(message)
    recipients = dsn_recipients(message)
    fields: dict[str, DsnRecipient] = {}
    for recipient in recipients:
        fields.setdefault(_key(recipient.address), recipient)
        if recipient.original:  # flufl.bounce may name the original address alone, as a failure with no status
            fields.setdefault(_key(recipient.original), recipient)
    failures: list[Failure] = []
    seen: set[str] = set()
    for raw, is_permanent in [(a, False) for a in sorted(temporary)] + [(a, True) for a in sorted(permanent)]:
        address = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
        key = _key(address)
        if key in seen:
            continue
        seen.add(key)
        found = fields.get(key)
        status, diagnostic = (found.status, found.diagnostic) if found else ("", "")
        failures.append(Failure(address, status, diagnostic, source, is_permanent))
    for recipient in recipients:
        key = _key(recipient.address)
        if key not in seen:
            seen.add(key)
            failures.append(
                Failure(recipient.address, recipient.status, recipient.diagnostic, source, recipient.permanent)
            )
    return failures


def _key(address: str) -> str:
    """The contact key of an address (`address_key`), or the address lower-cased when it is not valid."""
    try:
        return address_key(address)
    except ContactError:
        return address.strip().lower()


def mark_bounces(store: Store, report: BounceReport, now: dt.datetime) -> BounceReport:
    """Mark the contacts of the report's hard bounces bounced, each change recorded with when and why
    (the notice's file and status); the outcomes say what happened to each, and name each contact as
    the list has it. An unsubscribed contact is left as it is, an already bounced one too ("already
    bounced", not counted as another failure); an address that is not a contact is only reported."""
    outcomes = []
    for outcome in report.outcomes:
        failure = outcome.failure
        result, contact = _bounce(store, failure, now, dry=failure.verdict != "bounce")
        outcomes.append(Outcome(failure, result if failure.verdict == "bounce" else outcome.result, contact))
    report.outcomes = outcomes
    return report


def _bounce(store: Store, failure: Failure, now: dt.datetime, dry: bool) -> tuple[str, str]:
    """(what became of the contact, its stored address or ""); with `dry`, only looks the contact up."""
    try:
        if dry:
            contact = store.contact_by_key(address_key(failure.address))
            return ("", contact.email) if contact is not None else ("not in the contacts", "")
        # A notice may name anyone (a forwarded address, an alias): only contacts change.
        return mark_bounced(store, failure.address, notice_reason(failure), now, suppress_unknown=False)
    except ContactError:
        return "not in the contacts", ""


@dataclass(frozen=True)
class DsnRecipient:
    """One per-recipient block of a delivery-status part whose `Action` is failed or delayed."""

    address: str
    status: str
    diagnostic: str
    permanent: bool  # Action: failed (RFC 3464 2.3.3); delayed is not
    # The address the message was sent to, where the notice gives another final one (an alias or a
    # forward: `Original-Recipient`, RFC 3464 2.3.1): the contact, whom the block's status is about too.
    original: str = ""


# RFC 3464 2.1: a message/delivery-status body is groups of header-like fields separated by blank
# lines; RFC 6533 3 gives message/global-delivery-status the same syntax, in UTF-8.
DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")  # RFC 6533 3: embedded-unicode-char, "\x{F8}"


def dsn_recipients(message: Message) -> list[DsnRecipient]:
    """The failed and delayed recipients of the delivery-status parts of a message, in their order.

    Reads RFC 3464 §2.3 (`message/delivery-status`) and RFC 6533 §3
    (`message/global-delivery-status`, UTF-8): per recipient, `Final-Recipient`
    (else `Original-Recipient`) of address type rfc822 or utf-8 (whose `\\x{HEX}`
    escapes are decoded), `Action` (failed: permanent; delayed: not; the
    others are no failure), `Status` and `Diagnostic-Code`; and the
    `Original-Recipient` where it differs (an alias), whom they are about too.
    """
    found = []
    for part in message.walk():
        if part.get_content_type() not in DSN_TYPES:
            continue
        for block in _blocks(_part_text(part)):
            action = block.get("action", "").split(" ", 1)[0].lower()
            if action not in ("failed", "delayed"):
                continue
            original = _recipient(block.get("original-recipient", ""))
            address = _recipient(block.get("final-recipient", "")) or original
            if address:
                status, diagnostic = block.get("status", ""), block.get("diagnostic-code", "")
                also = original if original and _key(original) != _key(address) else ""
                found.append(DsnRecipient(address, status, diagnostic, action == "failed", also))
    return found


def _part_text(part: Message) -> str:
    """The body of a delivery-status part as text (UTF-8, as RFC 6533 has it; RFC 3464's is ASCII).

    Python's parser splits only message/delivery-status into its blocks, and takes a
    message/global-delivery-status for one message with the first block as its header: either way
    the text is put back together from the raw fields (compat32 keeps bytes outside ASCII as
    surrogate escapes), then any base64 or quoted-printable transfer encoding is undone.
    """
    if part.is_multipart():
        pieces = []
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            head = "".join(f"{name}: {value}\n" for name, value in block.raw_items())
            # decode=True gives the body's own bytes (the block has no transfer encoding of its own);
            # get_payload() would turn the bytes outside ASCII into U+FFFD.
            payload = None if block.is_multipart() else block.get_payload(decode=True)
            body = payload if isinstance(payload, bytes) else b""
            pieces.append(head.encode("utf-8", "surrogateescape") + b"\n" + body)
        data = b"\n".join(pieces)
    else:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            data = b64decode(b"".join(data.split()))
        elif encoding == "quoted-printable":
            data = quopri.decodestring(data)
    except ValueError:
        pass  # not what it says it is: read it as it stands
    return data.decode("utf-8", "replace")


def _blocks(text: str) -> Iterator[dict[str, str]]:
    """The field groups of a delivery-status body: lower-cased name → value (unfolded, first kept)."""
    block: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        if not line.strip():
            if block:
                yield block
            block, name = {}, ""
        elif line[:1] in " \t" and name:
            block[name] = f"{block[name]} {line.strip()}".strip()
        elif ":" in line:
            field_name, value = line.split(":", 1)
            name = field_name.strip().lower()
            if name in block:
                name = ""  # a repeated field: the first one counts, and its continuation lines are not ours
                continue
            block[name] = " ".join(value.split())
    if block:
        yield block


def _recipient(value: str) -> str:
    """The address of a `Final-Recipient`/`Original-Recipient` value ("rfc822; addr", "utf-8; addr",
    RFC 3464 2.3.2 and RFC 6533 3); "" for another address type. Some servers write "<addr>" and no type."""
    kind, sep, address = value.partition(";")
    if not sep:
        kind, address = "rfc822", kind
    kind = kind.strip().lower()
    if kind not in ("rfc822", "utf-8"):
        return ""
    if kind == "utf-8":
        address = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), address)
    address = address.strip().removeprefix("<").removesuffix(">").strip()
    return address if "@" in address else ""


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

"""The contact list: who receives the newsletter, on what legal basis, and who must never get it again.

Addresses are validated and normalised with email-validator (no DNS lookups;
internationalised domains are kept in their Unicode form) and are unique
case-insensitively (`address_key`).  An address that unsubscribed or bounced
stays so: adding or importing it again never makes it active.  Erasing a
contact (a data-subject request) deletes its personal data, in the database
and in the outbox's messages, and keeps only the SHA-256 of its key in
`suppressed`, so the address is still refused later.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, TextIO

from email_validator import EmailNotValidError, validate_email

from newsletter.collect.dates import exact_date
from newsletter.errors import NewsletterError
from newsletter.mail.compose import smtp_address
from newsletter.mail.transport import outbox_name
from newsletter.models import CONTACT_FIELDS, CONTACT_STATUSES, Contact, clean_tags
from newsletter.store import Store
from newsletter.textcodec import decode_lines

STATUSES: tuple[str, ...] = CONTACT_STATUSES
SUPPRESSING_STATUSES: tuple[str, ...] = ("unsubscribed", "bounced")
EXPORT_FIELDS: tuple[str, ...] = ("email", *CONTACT_FIELDS)
TEXT_FIELDS: tuple[str, ...] = ("name", "organisation", "legal_basis", "consent_source")
ERASED_PREFIX = "erased:"

# Header names (lower-cased, without spaces, hyphens and underscores) → Contact field.
HEADER_ALIASES: dict[str, str] = {
    "email": "email",
    "epost": "email",
    "mail": "email",
    "emailaddress": "email",
    "epostadresse": "email",
    "name": "name",
    "navn": "name",
    "organisation": "organisation",
    "organization": "organisation",
    "organisasjon": "organisation",
    "tags": "tags",
    "tag": "tags",
    "legalbasis": "legal_basis",
    "consentsource": "consent_source",
    "consentdate": "consent_date",
    "status": "status",
}
ONE_LINE_FIELDS: tuple[str, ...] = ("name", "organisation")  # shown on one line by `contacts list`, mail headers
FORMULA_STARTS = frozenset("=+-@\t\r")  # what a spreadsheet may take for the start of a formula
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: no place in an address or a name


class ContactError(NewsletterError):
    """An address is invalid or unknown, or a contact file cannot be read."""

    def __init__(self, message: str, address: str | None = None, reason: str | None = None):
        self.address = address
        self.reason = reason or message
        super().__init__(message)


@dataclass
class ImportReport:
    """What an import did: counts, and the rows it could not use (line number, raw address, reason)."""

    added: int = 0
    merged: int = 0
    suppressed: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)
    recoded: list[int] = field(default_factory=list)  # lines not UTF-8 in a UTF-8 file, read as Windows-1252
    # Header cells whose column is not read: (1-based column, header as written, why). A column of phone
    # numbers or postal addresses is dropped, and the editor told so, not left to find it missing later.
    ignored: list[tuple[int, str, str]] = field(default_factory=list)
    # Rows imported though a field of theirs could not be read (line number, raw address, what was done):
    # an unsubscribed or bounced row with a broken consent date still suppresses its address.
    kept: list[tuple[int, str, str]] = field(default_factory=list)
    # Rows of an active address that stays suppressed (line number, address, what it was: "unsubscribed",
    # "bounced" or "erased", `held_status`).
    held: list[tuple[int, str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------- addresses


def normalise_address(text: str) -> str:
    """The normalised form of an address (domain lower-cased, IDN domains in Unicode); ContactError if invalid.

    Valid is RFC 5321/5322 as email-validator reads it (RFC 6531 for letters outside ASCII), and no
    control character anywhere (a line break not even at the end; spaces and tabs around it go).
    """
    raw = text if isinstance(text, str) else ""
    cleaned = raw.strip().strip(_INVISIBLE).strip()
    if not cleaned:
        raise ContactError(
            f"'{cleaned}': empty address; give an address like name@example.no", address=cleaned, reason="empty address"
        )
    # A line break or another control character anywhere, even at the ends where strip() would take it
    # off, means a broken cell (a quoted CSV field running over two lines), not an address to guess at.
    control = _CONTROL.search(raw.strip(" \t"))  # spaces and tabs pasted along at the ends are let go
    if control:
        shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", raw.strip(" \t"))
        reason = f"a control character (U+{ord(control.group()):04X}) in the address; write it on one line, without it"
        raise ContactError(f"'{shown}': {reason}", address=shown, reason=reason)
    try:
        result = validate_email(cleaned, check_deliverability=False)
    except EmailNotValidError as exc:
        reason = str(exc)
        raise ContactError(f"'{cleaned}': {reason}", address=cleaned, reason=reason) from None
    return result.normalized


def address_key(address: str) -> str:
    """The lower-cased normalised address: two addresses with the same key are the same contact."""
    return normalise_address(address).lower()


def address_hash(address: str) -> str:
    """SHA-256 (hex) of the address key: what is kept of an erased address."""
    return _hash_key(address_key(address))


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def loose_key(address: str) -> str:
    """The key of an address in the send ledger, even if it would not validate today (an erased row's
    marker, an address valid when it was frozen)."""
    try:
        return address_key(address)
    except ContactError:
        return address.strip().lower()


# ---------------------------------------------------------------------- storage helpers


_clean_tags = clean_tags


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ContactError(f"unknown status '{status}'; use one of {', '.join(STATUSES)}", reason="unknown status")


def _unknown(address: str) -> ContactError:
    return ContactError(
        f"'{address}': not in the contact list; list the contacts to check the spelling",
        address=address,
        reason="not in the contact list",
    )


# ---------------------------------------------------------------------- single contacts


def is_suppressed(store: Store, address: str) -> bool:
    """True when the address unsubscribed, bounced or was erased: it must not be mailed.

    ContactError when the address is not valid (RFC 5321/5322 syntax, as email-validator reads it).
    """
    key = address_key(address)
    contact = store.contact_by_key(key)
    if contact is not None and contact.status in SUPPRESSING_STATUSES:
        return True
    return store.is_hash_suppressed(_hash_key(key))


def add_contact(store: Store, contact: Contact, now: dt.datetime) -> tuple[Contact, str]:
    """Add a contact or merge it into the one with the same address.

    Returns the stored contact and what happened: "added" (a new row), "merged"
    (empty fields filled, tags unioned) or "suppressed" (the address unsubscribed,
    bounced or was erased: nothing is changed, and an erased address gets no row;
    the returned contact then has `id` None). ContactError for an invalid
    address or an unknown status.
    """
    email = normalise_address(contact.email)
    _check_status(contact.status)
    with store.transaction():
        return _add(store, replace(contact, email=email), now)


def _add(store: Store, contact: Contact, now: dt.datetime) -> tuple[Contact, str]:
    """Add or merge a contact whose address is already normalised (inside a transaction)."""
    key = contact.email.lower()
    existing = store.contact_by_key(key)
    if existing is None:
        if store.is_hash_suppressed(_hash_key(key)):
            return replace(contact, id=None), "suppressed"
        texts: dict[str, Any] = {name: _text(contact, name) for name in TEXT_FIELDS}
        cleaned = replace(contact, **texts)
        new_id = store.insert_contact(cleaned, key, now)
        return replace(contact, id=new_id), "added"
    if existing.status in SUPPRESSING_STATUSES or store.is_hash_suppressed(_hash_key(key)):
        return existing, "suppressed"
    changes: dict[str, object] = {}
    for name in TEXT_FIELDS:
        new_value = _text(contact, name)
        if new_value and not getattr(existing, name):
            changes[name] = new_value
    if contact.consent_date and not existing.consent_date:
        changes["consent_date"] = contact.consent_date
    tags = _clean_tags(existing.tags + contact.tags)
    if tags != existing.tags:
        changes["tags"] = tags
    if contact.status != "active":  # a stronger "no" from the merged record wins
        changes["status"] = contact.status
        changes["status_changed_at"] = now
    if changes:
        assert existing.id is not None  # a stored contact has an id
        store.update_contact(existing.id, **changes)
        existing = store.contact_by_key(key) or existing
    return existing, "merged"


def _text(contact: Contact, name: str) -> str:
    """A text field as stored: stripped; a name or organisation also on one line (`ONE_LINE_FIELDS`)."""
    value = getattr(contact, name)
    if name in ONE_LINE_FIELDS:
        # A quoted CSV cell may hold a line break, which `contacts list` and a To: header would show as
        # half a name on a line of its own: every run of whitespace and control characters is one space.
        return " ".join(_CONTROL.sub(" ", value).split())
    return value.strip()


def get_contact(store: Store, address: str) -> Contact:
    """The contact with this address (any case); ContactError if unknown or invalid."""
    contact = store.contact_by_key(address_key(address))
    if contact is None:
        raise _unknown(address)
    return contact


def remove_contact(store: Store, address: str) -> Contact:
    """Delete a contact's row; ContactError if unknown.

    Removing is not suppression: an active contact removed may be added again.
    But a contact that had unsubscribed or bounced leaves its address hash in
    `suppressed`, so removing it never lets a later import re-activate it.
    """
    key = address_key(address)
    with store.transaction():
        contact = store.contact_by_key(key)
        if contact is None or contact.id is None:
            raise _unknown(address)
        if contact.status in SUPPRESSING_STATUSES:
            since = store.contact_status_since(contact.id)
            assert since is not None  # the row is there: it has an added_at
            store.suppress_hash(_hash_key(key), contact.status, since)
        store.delete_contact(key)
    return contact


def unsubscribe(store: Store, address: str, now: dt.datetime) -> Contact:
    """Mark a contact unsubscribed (it is never mailed or re-activated again).

    An address that is not in the list is suppressed by its hash, so a later
    import cannot add it; the returned contact then has `id` None.
    ContactError for an invalid address.
    """
    key = address_key(address)
    with store.transaction():
        contact = store.contact_by_key(key)
        if contact is None or contact.id is None:
            store.suppress_hash(_hash_key(key), "unsubscribed", now)
            return Contact(email=normalise_address(address), status="unsubscribed")
        if contact.status != "unsubscribed":
            store.update_contact(contact.id, status="unsubscribed", status_changed_at=now)
            contact = store.contact_by_key(key) or contact
    return contact


def mark_bounced(
    store: Store, address: str, why: str, now: dt.datetime, suppress_unknown: bool = True
) -> tuple[str, str]:
    """Mark a contact bounced after a permanent failure (a 5xx, RFC 5321 4.2.1, during a send, or a
    delivery status notification later, RFC 3464); it is not mailed again.

    `why` (the server's reply, or the notice and its status) is recorded with the change, so
    `contacts reactivate` can show it. An unsubscribed contact stays unsubscribed, a bounced one as
    it is. An address not in the list is suppressed by its hash when `suppress_unknown` (it was a
    recipient, since erased). Returns (what happened: "bounced", "already bounced", "unsubscribed"
    or "not in the contacts"; the contact's address as the list has it, or ""). ContactError for an
    invalid address.
    """
    key = address_key(address)
    with store.transaction():
        contact = store.contact_by_key(key)
        if contact is None or contact.id is None:
            if suppress_unknown:
                store.suppress_hash(_hash_key(key), "bounced", now)
            return "not in the contacts", ""
        if contact.status != "active":
            return ("already bounced" if contact.status == "bounced" else contact.status), contact.email
        store.update_contact(contact.id, status="bounced", status_changed_at=now)
        store.record_contact_change(contact.id, "bounced", why, now)
    return "bounced", contact.email


def reply_reason(reply: str) -> str:
    """Why a send bounced a contact, as `mark_bounced` records it: the server's SMTP reply (RFC 5321)."""
    return f"SMTP reply: {reply}"


def reactivate(store: Store, address: str, reason: str, now: dt.datetime) -> Contact:
    """Undo a bounce the editor knows was wrong: the contact is active again, with when and why recorded.

    Its failed rows in every send ledger go back to pending, so the next `send`
    of an issue it missed mails it. An active contact is left as it is. An
    unsubscribed contact is never reactivated (only the person can subscribe
    again: `resubscribe`): ContactError, as for an unknown or invalid address or an empty reason.
    """
    if not reason.strip():
        raise ContactError(f"'{address}': say why the bounce was wrong (--reason)", address=address)
    key = address_key(address)
    with store.transaction():
        contact = store.contact_by_key(key)
        if contact is None or contact.id is None:
            raise _unknown(address)
        if contact.status == "unsubscribed":
            raise ContactError(
                f"'{contact.email}': unsubscribed; only the person can subscribe again: "
                + way_back(contact.email, "unsubscribed"),
                address=address,
                reason="unsubscribed",
            )
        if contact.status == "bounced":
            store.update_contact(contact.id, status="active", status_changed_at=now)
            store.unsuppress_hash(_hash_key(key), "bounced")
            store.record_contact_change(contact.id, "active", reason.strip(), now)
            store.requeue_contact(contact.id)
            contact = store.contact_by_key(key) or contact
    return contact


def way_back(address: str, status: str) -> str:
    """How an address kept out of the list (`status`: "bounced", "unsubscribed", or "erased") gets back on it,
    as a command to run, in words: a bounce is undone when the address works (`reactivate`), an
    unsubscribe or an erasure only on the person's word (`resubscribe`)."""
    if status == "bounced":
        return f'if the address works, `newsletter contacts reactivate {address} --reason "…"`'
    return (
        f"if the person has asked to be on the list again, `newsletter contacts add {address} --resubscribe "
        '--consent-source "how they asked"`'
    )


def held_status(store: Store, address: str) -> str:
    """Why `add_contact` kept an address out: its contact's status, else its suppression's reason ("bounced",
    "unsubscribed", "erased"), "unsubscribed" if neither says (an unsubscribe of an address not on the list)."""
    key = address_key(address)
    contact = store.contact_by_key(key)
    if contact is not None and contact.status in SUPPRESSING_STATUSES:
        return contact.status
    return store.suppression_reason(_hash_key(key)) or "unsubscribed"


def resubscribe(
    store: Store, contact: Contact, now: dt.datetime
) -> tuple[Contact, Literal["subscribed again", "added", "already active"]]:
    """The person asked to be on the list again after unsubscribing (or after being erased): the contact
    is active again, with the new consent recorded, or added anew with it.

    Unsubscribing was the person's own word, and so is asking back: `contact.consent_source` must say how
    they asked (an e-mail of a date, a form), and is kept as the contact's consent with its
    `consent_date` (today when not given), since the sender must be able to show consent (GDPR art.
    7(1)); the change is recorded with when and that source. The address's hash comes off the
    suppression list (for an unsubscribe or an erasure; a bounce is about the address, and
    `reactivate` undoes a wrong one). The issues being sent that it missed go to it with the next
    `send` of each, as for a reactivated bounce. Returns the contact and what happened. ContactError
    for an invalid address, an empty consent source, or a bounced contact.
    """
    source = contact.consent_source.strip()
    if not source:
        raise ContactError(
            f"'{contact.email}': say how the person asked to subscribe again (--consent-source, e.g. "
            '"e-post til KOM 2026-12-03"): it is kept as their consent',
            address=contact.email,
        )
    email = normalise_address(contact.email)
    key = email.lower()
    consent = replace(contact, email=email, consent_source=source, consent_date=contact.consent_date or now.date())
    with store.transaction():
        existing = store.contact_by_key(key)
        # Bounced as a contact, or as an address only (a bounced contact removed, a notice for an address
        # not on the list): about the address, which the person's word does not change.
        if (existing is not None and existing.status == "bounced") or (
            existing is None and store.suppression_reason(_hash_key(key)) == "bounced"
        ):
            raise ContactError(
                f"'{email}': bounced, not unsubscribed: {way_back(email, 'bounced')}",
                address=contact.email,
                reason="bounced",
            )
        for reason in ("unsubscribed", "erased"):
            store.unsuppress_hash(_hash_key(key), reason)
        if existing is None or existing.id is None:
            added, _outcome = _add(store, replace(consent, status="active"), now)
            assert added.id is not None  # the hash is off the list: the row is added
            store.record_contact_change(added.id, "active", f"subscribed again: {source}", now)
            return added, "added"
        if existing.status == "active":
            return existing, "already active"
        store.update_contact(
            existing.id,
            status="active",
            status_changed_at=now,
            consent_source=source,
            consent_date=consent.consent_date,
            **({"legal_basis": consent.legal_basis} if consent.legal_basis else {}),
        )
        store.record_contact_change(existing.id, "active", f"subscribed again: {source}", now)
        store.requeue_contact(existing.id)
        return store.contact_by_key(key) or existing, "subscribed again"


def wrongly_bounced(store: Store) -> list[tuple[Contact, str]]:
    """Bounced contacts whose bounce was not about the address, each with the SMTP reply or the
    notice that bounced it, in the contact list's order.

    That is a reply whose RFC 3463 code says policy or mailbox (5.7.x relaying
    denied, 5.2.2 mailbox full, …; `transport.classify`), a refusal without a
    telling code that REFUSAL_BRAKE or more contacts of one send got alike (a
    relay refusing everyone), or a delivery status notification (RFC 3464)
    whose status `contacts bounces` does not bounce (5.2.x, 5.7.x, 4.x.x,
    5.3.x–5.6.x; `bounces.status_verdict`): what an older version of the tool,
    or a hand-edited database, marked bounced when it should not have.

    When the bounce that stands is recorded (`Store.bounce_causes`), it alone
    decides: a contact bounced by a notice of 5.1.1 is not found for a full
    mailbox that failed it in an earlier issue. A contact bounced without a
    record (by a version that kept none) is judged by its failed ledger rows.
    """
    from newsletter.mail.bounces import notice_status, status_verdict
    from newsletter.mail.send import REFUSAL_BRAKE, without_address
    from newsletter.mail.transport import classify

    causes = store.bounce_causes()
    found: dict[int, str] = {}
    for contact_id, why in causes.items():
        status = notice_status(why)
        if status is not None and status_verdict(status) != "bounce":
            found[contact_id] = why
    alike: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for contact_id, ledger, email, reply in store.bounce_replies():
        if causes.get(contact_id, reply_reason(reply)) != reply_reason(reply):
            continue  # bounced by something else on record (a notice, another reply): that one decides
        step, _, rest = reply.partition(": ")
        code, _, text = rest.partition(" ")
        if not code.isdigit():
            continue
        reason = classify(int(code), text, step)
        if reason == "unclassified":
            alike.setdefault((ledger, without_address(reply, email)), []).append((contact_id, reply))
        elif reason != "address":
            found.setdefault(contact_id, reply)
    for group in alike.values():
        if len(group) >= REFUSAL_BRAKE:
            for contact_id, reply in group:
                found.setdefault(contact_id, reply)
    return [(c, found[c.id]) for c in store.list_contacts("bounced") if c.id is not None and c.id in found]


def erase(store: Store, address: str, now: dt.datetime, outbox: Path) -> list[Path]:
    """Delete everything personal about an address (a data-subject erasure request, GDPR art. 17).

    The contact row goes; the SHA-256 of the address key goes into `suppressed`
    (reason "erased") so the address is refused from now on; every row of the
    send ledger for the address gets the email "erased:<hash>" (and no contact
    id, no copy of the address in the server's reply).  SQLite's secure_delete is
    on while erasing and the WAL is checkpointed afterwards, so the old bytes do
    not linger in free pages of the database file either.  An address that is
    not in the list is still suppressed.

    The outbox (`outbox`, Workspace.outbox: dry runs and test copies, one folder
    per issue) holds whole messages, address and name included: the address's
    .eml files there are deleted too, and returned.  ContactError for an invalid
    address, or for an outbox file that cannot be deleted (named, so it can be
    removed by hand; the database is erased by then).
    """
    key = address_key(address)
    digest = _hash_key(key)
    marker = ERASED_PREFIX + digest
    forms = {address.strip(), normalise_address(address), key}
    with contextlib.suppress(EmailNotValidError):
        ascii_form = validate_email(normalise_address(address), check_deliverability=False).ascii_email
        if ascii_form:
            forms.add(ascii_form)
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.IGNORECASE)
    with store.secure_delete(), store.transaction():
        contact = store.contact_by_key(key)
        names = [contact.name] if contact is not None and contact.name else []
        store.delete_contact(key)
        store.suppress_hash(digest, "erased", now, overwrite=True)
        for email in store.ledger_addresses():
            if email != marker and not email.startswith(ERASED_PREFIX) and loose_key(email) == key:
                store.rename_ledger_address(email, marker)
        for rowid, reply in store.ledger_replies(marker):
            cleaned = pattern.sub(marker, reply)
            for name in names:
                cleaned = re.sub(re.escape(name), "[erased]", cleaned, flags=re.IGNORECASE)
            if cleaned != reply:
                store.set_ledger_reply(rowid, cleaned)
    store.checkpoint()
    return _erase_outbox(outbox, forms | {smtp_address(address)})


def _erase_outbox(outbox: Path, forms: set[str]) -> list[Path]:
    """Delete the outbox messages to any of `forms` of an address; the files deleted."""
    # The transport names each file after the envelope address (smtp_address: the domain in IDNA);
    # the other forms catch files written under another spelling of the same address.
    names = {outbox_name(form) for form in forms}
    removed = []
    for path in sorted(outbox.glob("*/*.eml")):
        if path.name.lower() not in names:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # gone already (a second erase running at the same time)
        except OSError as exc:
            raise ContactError(
                f"{path}: cannot delete this message to an erased address ({exc.strerror or exc}); delete it by hand"
            ) from exc
        removed.append(path)
    return removed


# ---------------------------------------------------------------------- lists


def list_contacts(store: Store, status: str | None = None, tag: str | None = None) -> list[Contact]:
    """Contacts ordered by address key, optionally only one status and/or one tag (case-insensitive).

    ContactError for an unknown status.
    """
    if status is not None:
        _check_status(status)
    contacts = store.list_contacts(status)
    if tag is not None:
        wanted = tag.strip().casefold()
        contacts = [c for c in contacts if any(t.casefold() == wanted for t in c.tags)]
    return contacts


def active_recipients(store: Store, tag: str | None = None) -> list[Contact]:
    """Who receives the next issue: active contacts (optionally with a tag) whose address is not suppressed."""
    suppressed = store.suppressed_hashes()
    contacts = list_contacts(store, "active", tag)
    if not suppressed:
        return contacts
    return [c for c in contacts if _hash_key(c.email.lower()) not in suppressed]


# ---------------------------------------------------------------------- CSV


def _separator(header_line: str) -> str:
    """The separator of a header line: whichever of `,` `;` and tab occurs most outside quotes."""
    outside = re.sub(r'"[^"]*"', "", header_line)
    counts = {sep: outside.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _field_name(header: str) -> str | None:
    compact = re.sub(r"[\s_\-]", "", header.strip().strip(_INVISIBLE).lower())
    return HEADER_ALIASES.get(compact)


def _defaults(defaults: dict | None) -> dict[str, object]:
    known = {f.name for f in fields(Contact)} - {"email", "id", "status"}
    result: dict[str, object] = {}
    for name, value in (defaults or {}).items():
        if name not in known:
            raise ContactError(f"no contact field '{name}' to fill by default; use one of {', '.join(sorted(known))}")
        if name == "consent_date" and isinstance(value, str):
            try:
                value = exact_date(value) if value.strip() else None
            except ValueError:
                raise ContactError(f"default consent_date '{value}' is not a date; use YYYY-MM-DD") from None
        if name == "tags":
            value = _clean_tags(value)
        result[name] = value
    return result


def _cell(cells: list[str], columns: dict[str, int], name: str, strip: bool = True) -> str:
    """The stripped value of column `name` in one CSV row; "" when the row is short or has no such column.

    A cell that `export_csv` neutralised ("'" before a formula character) is read back as it was.
    """
    index = columns.get(name)
    value = cells[index] if index is not None and index < len(cells) else ""
    if value[:1] == "'" and value[1:2] in FORMULA_STARTS:
        value = value[1:]
    return value.strip() if strip else value


def import_csv(store: Store, path: Path, now: dt.datetime, defaults: dict | None = None) -> ImportReport:
    """Import contacts from a CSV file whose first line names the columns.

    UTF-8 (BOM or not) or Windows-1252; a UTF-8 file with some lines in
    Latin-1/Windows-1252 (pasted from an older program) has those lines read
    as Windows-1252, and their numbers in `recoded`, for the editor to check
    (`textcodec.decode_lines`); `,` or `;` separated; columns `email`
    (or `e-post`), and optionally name/navn, organisation/organisasjon, tags
    (several split on `|`, `,` or `;`), legal_basis, consent_source, consent_date
    (YYYY-MM-DD or DD.MM.YYYY) and status (as exported); other columns, and a
    second column of one field, are not read, and named in `ignored`.  `defaults` fill empty
    fields.  Rows with a bad address or date are reported with their line
    number and the others imported, in one transaction.  Addresses already in
    the list (any case) or repeated in the file are merged; an address that
    unsubscribed, bounced or was erased is never re-activated.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContactError(f"{path}: cannot read the contact file ({exc.strerror or exc})") from exc
    # No label to trust: BOM, UTF-8, else Windows-1252, line by line in a file that mixes them. A line
    # that is not UTF-8 in a UTF-8 file is almost always a row pasted from a Latin-1 program: read it
    # as Windows-1252 (so the name comes out right) and say so, rather than drop the contact.
    text, recoded = decode_lines(data)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if not first_line:
        raise ContactError(f"{path}: the file is empty; its first line must name the columns, e.g. email,name")
    separator = _separator(first_line)
    hint = re.fullmatch(r"\s*sep=(.)\s*", first_line, re.IGNORECASE)  # Excel's separator line
    if hint:
        separator = hint.group(1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    filler = _defaults(defaults)
    report = ImportReport(recoded=recoded)
    columns: dict[str, int] | None = None
    parsed: list[tuple[int, Contact]] = []  # (line, contact)
    previous_end = 0
    for cells in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            if hint and len(cells) <= 2 and cells[0].strip().lower().startswith("sep="):
                continue
            columns = {}
            for index, header in enumerate(cells):
                name = _field_name(header)
                if name and name not in columns:
                    columns[name] = index
                elif name:
                    first = cells[columns[name]].strip()
                    report.ignored.append((index + 1, header.strip(), f"a second '{name}' column; '{first}' is read"))
                elif header.strip().strip(_INVISIBLE):
                    report.ignored.append((index + 1, header.strip(), "not a contact field"))
            if "email" not in columns:
                found = ", ".join(repr(c.strip()) for c in cells)
                raise ContactError(
                    f"{path}: line {line}: no 'email' (or 'e-post') column in the header ({found}); "
                    "the first line must name the columns, e.g. email,name,organisation"
                )
            continue

        raw = _cell(cells, columns, "email")
        try:
            # Unstripped: a line break at the end of a quoted address cell is refused, not cut off.
            email = normalise_address(_cell(cells, columns, "email", strip=False))
        except ContactError as exc:
            report.invalid.append((line, raw, exc.reason))
            continue
        values: dict[str, Any] = {name: _cell(cells, columns, name) for name in TEXT_FIELDS}
        values["tags"] = _clean_tags(_cell(cells, columns, "tags"))
        status = _cell(cells, columns, "status").lower() or "active"
        if status not in STATUSES:
            report.invalid.append(
                (line, raw, f"status '{_cell(cells, columns, 'status')}' is not one of {', '.join(STATUSES)}")
            )
            continue
        consent = _cell(cells, columns, "consent_date")
        try:
            values["consent_date"] = exact_date(consent) if consent else None
        except ValueError:
            why = f"consent_date '{consent}' is not a date; use YYYY-MM-DD or DD.MM.YYYY"
            if status not in SUPPRESSING_STATUSES:
                report.invalid.append((line, raw, why))
                continue
            # An opt-out is never dropped for a field beside it: dropped, a later import of the address
            # would make it active again.
            report.kept.append((line, raw, f"{why}; imported as {status} without it (an opt-out is never dropped)"))
            values["consent_date"] = None
        for name, value in filler.items():
            if not values.get(name):
                values[name] = value
        parsed.append((line, Contact(email=email, status=status, **values)))
    if columns is None:
        raise ContactError(f"{path}: no header line; the first line must name the columns, e.g. email,name")
    with store.transaction():
        for line, contact in parsed:
            stored, outcome = _add(store, contact, now)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == "suppressed" and contact.status == "active":
                # A row meant to subscribe an address that opted out, bounced or was erased: said, by line.
                report.held.append((line, stored.email, held_status(store, stored.email)))
    return report


def _neutral(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection): "'" before a leading
    =, +, -, @, tab or CR, as the OWASP cheat sheet advises; `import_csv` takes it off again."""
    return "'" + cell if cell[:1] in FORMULA_STARTS and cell else cell


def export_csv(contacts: Iterable[Contact], out: TextIO, excel: bool = False) -> None:
    """Write contacts as CSV (header email,name,organisation,tags,legal_basis,consent_source,consent_date,status).

    Tags are joined with "|"; every cell is neutralised against formula
    injection (`_neutral`); the file imports back with `import_csv`. With
    `excel`, a UTF-8 byte order mark and ";" as separator, as Excel with
    Norwegian settings opens a file by double-click.
    """
    if excel:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=";" if excel else ",", lineterminator="\r\n" if excel else "\n")
    writer.writerow(EXPORT_FIELDS)
    for c in contacts:
        writer.writerow(
            _neutral(cell)
            for cell in [
                c.email,
                c.name,
                c.organisation,
                "|".join(c.tags),
                c.legal_basis,
                c.consent_source,
                c.consent_date.isoformat() if c.consent_date else "",
                c.status,
            ]
        )

"""Sending: every recipient exactly once, whatever happens to the process or the server.

The recipients are written into a ledger (table `sends`, one row per issue
and address) when a send starts, and every later run adds the active contacts
that are not in it yet (a contact added since, or one a `--tag` run left out):
a failed or partial run never freezes the list. Each message moves pending → sending → sent,
and each move is committed before the next step: `sending` is written before
the message goes out, `sent` after the server accepted it. A run that dies
between the two leaves `sending`, which the next run turns into `unknown`:
reported, and resent only on request (`--resend-unknown`), because the server
may have it. A lock file stops a second run of the same issue.

What a reply does to a recipient depends on whose fault it is (RFC 5321 4.2,
RFC 3463 enhanced status codes; `transport.classify`):

- the server's (421, a dropped connection, no connection at all): nobody's
  attempt is counted; the run pauses with backoff and tries the connection
  again, and stops with everyone in place after `max_outage` seconds;
- the recipient's for now (450/451/452): `temp_failed`, retried with backoff
  until `max_attempts`, then `failed` for this issue;
- the address's (5.1.x, or a 5xx at RCPT TO without a telling code): `failed`,
  and the contact is marked bounced; held (below);
- the mailbox's for this issue (5.2.x, a full mailbox 5.2.2 too, a bare 552 at
  RCPT TO, a non-ASCII address on a server without SMTPUTF8): `failed` for this
  issue, and the contact stays active; `--retry-failed` queues it again;
- a size limit, this mailbox's or the server's (5.2.3 or a bare 552 at the end
  of DATA: without enhanced codes a server answers RFC 1870's "message size
  exceeds fixed maximum" so, and 5.2.3 is what sendmail and Gmail answer for
  their limit for everyone): `failed` for this issue like a full mailbox, the
  contact stays active; held (below);
- the setup's or the message's (5.7.x anywhere, a refused MAIL FROM, the end of
  DATA refused otherwise, 5.3.4 "message too big" too): the run stops, nobody is
  marked, and the recipient keeps its place.

Held: a refusal that may be the server's rather than the recipient's (an
address refusal, a size limit) is acted on (the contact bounced, or only the
failure counted) only once the run has shown that the server takes other mail
(an accepted message; a 4xx, a full mailbox or an unknown outcome in between
proves nothing, and leaves them held). The same reply, without the address and
the per-message ids some servers add, for REFUSAL_BRAKE different recipients in
a row stops the run and puts them all back to `pending` with their attempts: a
relay that refuses everyone, or a limit the message goes over for everyone;
different replies in a row do not. A run that took no message at all puts the
held ones back to `pending` at its end and says so with their reply: `send`
exits 1 while any recipient is pending, and `send status` counts them there,
so nothing reads as delivered or as the recipient's fault; the next run tries
them again. A held row is `failed` with a due time (`next_attempt_at`) until
the run settles it; one left so by a run that died (a kill, a power cut) goes
back to `pending` when the next run starts (`Store.release_held`): the message
was refused, so trying it again cannot make a second copy.

An address refusal with a 5.1.x code from a server that has taken this issue
(in this run, or a `sent` row of an earlier one) is not held either: the code
names the address, and the server has shown it takes mail, so addresses gone
together (an organisation merged away, next to each other in the list) are
bounced at once and cannot stop a run. Where the brake does stop a run at
address refusals (before any mail was taken), those recipients go to the end
of the ledger (`Store.move_to_end`): the next run tries the others first and,
once they are taken, settles these as the address's, instead of meeting them
first and stopping again.

A full (5.2.2) or disabled (5.2.1) mailbox is not held: its code names the
mailbox, so there is nothing for other mail to prove. Held, three such
recipients next to each other in the ledger would stop the run, and as the
brake puts them back in their place, every rerun would meet them first and
stop again until their owners made room: a newsletter stuck for a rare
neighbourhood. A bare 552 at the end of DATA can still be full mailboxes: once
the server has taken this issue (in this run, or any `sent` row of an earlier
one) a size limit is that mailbox's and fails it at once, unheld. Only three
such mailboxes at the very head of a first run, on a server without enhanced
codes, stop it the way a size limit does; `send --tag` to another group first
gets past them, after which they are failed as full.

A run is a `SendRun` (what its connections share) and one `Sender` per
connection, which drains its share of the ledger phase by phase (due rows,
screening, delivery, recording). How a message reaches the server, and how
the server's replies become outcomes, is `newsletter.mail.transport`'s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import logging
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from newsletter import clock
from newsletter.errors import NewsletterError
from newsletter.mail.compose import MessageTemplate, Prepared, message_id, needs_smtputf8, smtp_address
from newsletter.mail.transport import (
    CertificateRejected,
    LoginRefused,
    OutboxWriteFailed,
    PermanentFailure,
    ServerUnavailable,
    TransientFailure,
    Transport,
    UnknownOutcome,
)
from newsletter.models import MailSettings, SendState
from newsletter.store import Store

log = logging.getLogger(__name__)

# Different recipients refused alike in a row (held: `SendRun.hold`) before a run stops: the setup, the server or
# the message, not the recipients.
REFUSAL_BRAKE = 3
# Deliveries in a row whose connection broke during the data (`unknown`) before a run stops: one is a
# hiccup, several in a row is a server or a filter that drops this message, and going on would make
# every recipient `unknown` in seconds.
UNKNOWN_BRAKE = 3
MAX_WAIT = 600.0  # seconds a run waits for a retry that falls due; one due later is left for a later run
LONG_WAIT = 10.0  # seconds of waiting for a retry from which the run says it waits


class RunStopped(NewsletterError):
    """The server refused the message itself (a 5xx at MAIL FROM or at the end of DATA), a 5.7.x policy
    refusal, or several recipients alike in a row (a refusal, a size limit): a problem with the newsletter,
    the server or the setup, not with the recipients, who all keep their place."""


@dataclass(frozen=True)
class Recipient:
    """A frozen recipient of one send."""

    email: str
    name: str = ""
    contact_id: int | None = None


# ---------------------------------------------------------------------- the ledger


def freeze_recipients(store: Store, issue_id: str, recipients: list[Recipient], now: dt.datetime) -> int:
    """Add to an issue's ledger the recipients not in it yet, as `pending`, after the rows already there.

    A recipient already in the ledger keeps its row and state (sent stays sent).
    Returns how many were added.
    """
    return store.freeze_recipients(issue_id, [(r.email, r.contact_id) for r in recipients], now)


def send_counts(store: Store, issue_id: str) -> dict[str, int]:
    """How many ledger rows of an issue are in each state."""
    return store.send_counts(issue_id)


def failures(store: Store, issue_id: str) -> list[tuple[str, str, str, str]]:
    """(address, state, last SMTP reply, Message-ID or "") of the failed, unknown and temporarily failed rows,
    and of the pending ones that have a reply (put back in place by a run)."""
    return store.send_failures(issue_id)


def _set(
    store: Store,
    issue_id: str,
    email: str,
    state: SendState,
    reply: str | None = None,
    attempts: int | None = None,
    next_at: float | None = None,
    message_id: str | None = None,
    version: str | None = None,
) -> None:
    store.set_send_state(
        issue_id,
        email,
        state,
        clock.now(),
        reply=reply,
        attempts=attempts,
        next_at=next_at,
        message_id=message_id,
        version=version,
    )


def _no_longer_wanted(store: Store, issue_id: str, email: str) -> str | None:
    """Why a frozen recipient must not be mailed after all (erased, unsubscribed or bounced since the send
    started), or None."""
    if email.startswith("erased:"):
        return "skipped: erased after the send started"
    standing = store.recipient_standing(issue_id, email)
    if standing is None or standing[0] is None:
        return None
    # The contact the row was frozen for, still there with this address: a contact row of another address
    # under the id (a store whose ids were given twice, before schema 10) is not that contact.
    if standing[1] is None or standing[2] is None or standing[2].lower() != email.lower():
        return "skipped: removed from the contact list after the send started"
    if standing[1] != "active":
        return f"skipped: {standing[1]} after the send started"
    return None


def retry_failed(store: Store, issue_id: str) -> int:
    """Put the failed rows whose contact is still active back in the queue (after an outage, say)."""
    return store.requeue_failed(issue_id)


class _Ledger:
    """One worker's writes to the ledger. A message's `sent` is held back and committed together with
    the next message's `sending`: one durable write per message. Should the process die before that
    commit, the row is still `sending`, which the next run reports as `unknown`: never sent twice
    without the editor's say."""

    def __init__(self, store: Store, issue_id: str):
        self.store, self.issue_id = store, issue_id
        self.held: tuple[str, str] | None = None

    def set(self, email: str, state: SendState, **values) -> None:
        """Record `state` for `email` (with `_set`'s values), committing any held `sent` with it."""
        with self.store.transaction():
            self._flush_held()
            _set(self.store, self.issue_id, email, state, **values)

    def sent(self, email: str, reply: str) -> None:
        """Hold `email`'s `sent` (the server's `reply`) to commit with the next write."""
        if self.held:
            self.flush()
        self.held = (email, reply)

    def flush(self) -> None:
        """Commit a held `sent` now: at the end of a run, or before waiting."""
        if self.held:
            with self.store.transaction():
                self._flush_held()

    def _flush_held(self) -> None:
        if self.held:
            email, reply = self.held
            self.held = None
            _set(self.store, self.issue_id, email, "sent", reply=reply)


# ---------------------------------------------------------------------- the run


@dataclass
class SendReport:
    """What one `send` run did."""

    sent: int = 0
    temp_failed: int = 0
    failed: int = 0
    unknown: int = 0
    # Not mailed after all: removed, erased, unsubscribed or bounced since the send began (their rows are
    # `failed`, with why); no failure of the run.
    skipped: int = 0
    skipped_unknown: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: str = ""  # the signal the run stopped at ("SIGINT", "SIGTERM"), the message in hand finished


class RateLimit:
    """At most `per_second` and `per_hour` messages (0: no limit), by sleeping between sends."""

    def __init__(self, per_second: float, per_hour: float, sleep: Callable[[float], None] = time.sleep):
        self.gaps = [1.0 / per_second if per_second else 0.0, 3600.0 / per_hour if per_hour else 0.0]
        self.gap = max(self.gaps)
        self.sleep = sleep
        self.last = 0.0

    def wait(self) -> None:
        """Sleep as long as the limits ask before the next message."""
        if not self.gap:
            return
        now = time.monotonic()
        if self.last and now - self.last < self.gap:
            self.sleep(self.gap - (now - self.last))
        self.last = time.monotonic()


@contextlib.contextmanager
def send_lock(folder: Path, issue_id: str):
    """Refuse a second run of the same issue while one is running."""
    folder.mkdir(parents=True, exist_ok=True)
    # Not a `with`: the handle must outlive this frame, held (and locked) until the caller's block ends.
    handle = open(folder / f".send-{issue_id}.lock", "a")  # noqa: SIM115
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise NewsletterError(
            f"a send of {issue_id.removesuffix('-outbox')} is already running (lock "
            f"{folder / f'.send-{issue_id}.lock'}); wait for it, or check `newsletter send status "
            f"{issue_id.removesuffix('-outbox')}{' --dry-run' if issue_id.endswith('-outbox') else ''}`"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def send_running(folder: Path, issue_id: str) -> bool:
    """Whether a run of this ledger holds its send lock (`send_lock`) now: a live run, not one that died."""
    path = folder / f".send-{issue_id}.lock"
    if not path.exists():
        return False
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


@dataclass(frozen=True)
class Queued:
    """A ledger row waiting for its message: the address, the attempts so far, and when it is due
    again (epoch seconds; None: now)."""

    email: str
    attempts: int
    due_at: float | None


Verdict = Literal[
    "accepted", "skipped", "deferred", "paused", "refused", "missed", "oversize", "stopped", "rejected", "unknown"
]
Tally = Literal["sent", "temp_failed", "failed", "unknown", "skipped"]


@dataclass(frozen=True)
class Delivery:
    """What became of one recipient's message in this run, before the ledger is told.

    `verdict`: "accepted" (2xx at the end of DATA), "skipped" (no longer wanted:
    not sent), "deferred" (a TransientFailure of this recipient), "paused" (the
    server's trouble: 421, connection lost or refused), "refused" (the address:
    5.1.x, or an unclassified 5xx at RCPT TO: a bounce once confirmed), "missed"
    (the mailbox cannot take this issue: 5.2.x, full or disabled; no SMTPUTF8),
    "oversize" (a size limit at the end of DATA, 5.2.3 or a bare 552: this
    mailbox's, or the server's for everyone; failed for this issue once confirmed),
    "stopped" (a policy refusal, 5.7.x or MAIL FROM), "rejected" (a 5xx for the
    message itself), "unknown" (the connection broke after the data went out). `reply` is the
    server's reply or the reason; `cause` the transport's exception, if any;
    `data_started` whether the row was moved to `sending` (the server said 354).
    """

    verdict: Verdict
    reply: str
    cause: Exception | None = None
    data_started: bool = False


@dataclass(frozen=True)
class Held:
    """A recipient refused for good (its row `failed`) by a reply that may be the server's rather than
    theirs, until the server takes other mail (`SendRun.hold`)."""

    email: str
    delivery: Delivery
    attempts: int  # before this delivery: what the row goes back to should the reply be the server's
    bounce: bool  # once confirmed, True: the contact is bounced (the address); False: only failed (a size limit)


class SendRun:
    """What the senders of one run share, behind one lock: the message template, the pace (one rate
    for all connections: the rate is the server's), the report, and the recipients in a row the server
    refused alike (`held`)."""

    def __init__(
        self,
        issue_id: str,
        template: MessageTemplate,
        settings: MailSettings,
        states: tuple[SendState, ...],
        parts: int = 1,
        progress: Callable[[str, int], None] | None = None,
        on_bounce: Callable[[Store, str, str], object] | None = None,
        max_wait: float = MAX_WAIT,
        only: frozenset[str] | None = None,
        delivered_before: bool = False,
    ):
        self.issue_id = issue_id  # the ledger's name: `2024-q2`, or `2024-q2:outbox` for a dry run
        self.template = template
        self.settings = settings
        self.states = states  # the ledger states this run sends
        self.parts = parts  # how many connections share the ledger
        self.progress = progress or (lambda *_: None)
        self.on_bounce = on_bounce
        self.max_wait = max_wait
        self.only = only  # the addresses this run may send to (`--tag`); None: every row of the ledger
        self.sender = smtp_address(settings.sender)
        self.report = SendReport()
        self.limit = RateLimit(settings.rate_per_second, settings.rate_per_hour)
        self.lock = threading.Lock()
        # Held replies, not yet bounced or counted: acted on once the server takes a message (`accepted`).
        self.unconfirmed: list[Held] = []
        self.streak: list[Held] = []  # the held in a row with one reply (`alike`, its shape): for the brake
        self.alike = ""
        self.any_accepted = False
        # The server took this issue in an earlier run: a size limit now is one mailbox's quota.
        self.delivered_before = delivered_before
        self.unknown_streak = 0  # deliveries in a row that ended `unknown`
        # Set when one connection stops the run (a brake, the setup, an outage): the others stop at their
        # next recipient, rather than each send on until it hits the same wall.
        self.stopped = threading.Event()

    def pace(self) -> None:
        """Wait for the rate limit before the next message of any connection."""
        with self.lock:
            self.limit.wait()

    def tally(self, state: Tally) -> None:
        """Count one message that ended in `state` in the report, and tell the progress display."""
        with self.lock:
            setattr(self.report, state, getattr(self.report, state) + 1)
        self.progress(state, 1)

    def accepted(self, store: Store) -> None:
        """The server took a message: it works, so the replies held so far were about their recipients."""
        with self.lock:
            self.any_accepted = True
            self.unknown_streak = 0
            self._confirm(store)

    def unknown(self, store: Store, delivery: Delivery) -> None:
        """A delivery ended `unknown` (its row already says so); RunStopped at UNKNOWN_BRAKE in a row.

        It ends a streak of held replies, but proves nothing about them: they stay held.
        """
        with self.lock:
            self.streak, self.alike = [], ""
            self.unknown_streak += 1
            if self.unknown_streak >= UNKNOWN_BRAKE:
                count, self.unknown_streak = self.unknown_streak, 0
                self.stopped.set()  # now, under the lock: no other connection takes a row after this
                raise RunStopped(
                    f"{self.settings.smtp_host}: the connection broke during the message data {count} times in "
                    f"a row ({delivery.reply}); that is the server or something between (a size limit, a "
                    "filter), not the recipients: those may or may not have the newsletter (unknown: see "
                    f"`newsletter send status {self.issue_id.split(':')[0]}`) and every other recipient keeps its "
                    "place; check the server's log and limits, then run send again"
                ) from delivery.cause

    def other_outcome(self, store: Store) -> None:
        """A recipient ended otherwise than accepted, held or unknown (a 4xx, a full mailbox): the held
        replies in a row and a run of unknown deliveries are over; the held ones stay held, since
        the server has still not shown it takes mail."""
        with self.lock:
            self.unknown_streak = 0
            self.streak, self.alike = [], ""

    def hold(self, store: Store, email: str, delivery: Delivery, attempts: int, bounce: bool) -> None:
        """A recipient was refused for good (its row already `failed`) by a reply that may be the server's:
        held until the server takes other mail, then bounced (`bounce`: the address's refusal) or only
        counted failed (a size limit).

        When REFUSAL_BRAKE different recipients in a row got the same reply (`without_address`: the
        address and the per-message ids taken out), that is the server, its setup or the message (a
        relay that refuses everyone, a size limit the message goes over): those rows go back to
        `pending` with their attempts, nobody is bounced or failed, and RunStopped says what to check.
        A size limit once the server has taken this issue (in this run or an earlier one) is that
        mailbox's quota, not the message's: failed at once, never held, so it cannot stop a run.
        """
        with self.lock:
            taken = self.any_accepted or self.delivered_before
            if bounce and taken and _names_the_address(delivery.reply):
                # 5.1.x from a server that takes this issue: the address's own refusal, however many are next
                # to each other (an organisation gone); bounced now, and no brake.
                self.streak, self.alike = [], ""
                held = Held(email, delivery, attempts, bounce)
                self.unconfirmed.append(held)
                self._confirm(store, [held])
                return
            if not bounce and taken:
                self.streak, self.alike = [], ""  # the mailbox's quota: counted below, as a full mailbox is
            else:
                shape = without_address(delivery.reply, email)
                if shape != self.alike:
                    self.streak, self.alike = [], shape
                held = Held(email, delivery, attempts, bounce)
                self.streak.append(held)
                self.unconfirmed.append(held)
                if len(self.streak) >= REFUSAL_BRAKE:
                    braked = list(self.streak)
                    self._restore(store, braked)
                    if bounce:
                        # Last in line for the next run: addresses gone together (an organisation merged
                        # away) must not stop every run before the rest of the list; after other mail is
                        # taken, their refusals are theirs, and they are marked bounced then.
                        store.move_to_end(self.issue_id, [one.email for one in braked])
                    self.stopped.set()  # now, under the lock: no other connection takes a row after this
                    raise RunStopped(self._brake(braked, delivery, bounce)) from delivery.cause
                return
        with store.transaction():
            _set(store, self.issue_id, email, "failed", attempts=attempts + 1)  # settled: no longer held
        self.tally("failed")

    def _brake(self, braked: list[Held], delivery: Delivery, bounce: bool) -> str:
        """Why a run stopped on the recipients `braked` in a row refused alike, and what to do."""
        host, count = self.settings.smtp_host, len(braked)
        if bounce:
            who = ", ".join(one.email for one in braked)
            return (
                f"{host}: the server refused {count} different recipients in a row alike ({delivery.reply}): the "
                "addresses (an organisation's, gone together), or the server or the setup refusing everyone; nobody "
                f"was marked bounced; {who} now come last, so the next run tries the others first and marks these "
                "bounced once the server takes other mail; run send again, and if it stops so at the next ones too, "
                "check the SMTP settings (smtp.host, smtp.username, NEWSLETTER_SMTP_PASSWORD, and that "
                f"{self.sender} may send through it)"
            )
        issue = self.issue_id.split(":")[0]
        return (
            f"{host}: the server refused the message for {count} different recipients in a row alike "
            f"({delivery.reply}); that is the message or the server, not the mailboxes: a size limit (RFC 1870, "
            f"RFC 3463 5.2.3) that this issue's message, about {len(self.template.data):,} bytes, goes "
            "over; nobody was failed and every recipient keeps its place; check the server's size limit and the "
            f"issue's size (its images, an attached PDF), then run send again (a test copy, `newsletter send "
            f"{issue} --to ADDR`, gets the same reply while the message is too big)"
        )

    def settle(self, store: Store, confirmed: bool) -> None:
        """At the end of a run: act on the held refusals when the server took other mail in this run
        (`confirmed`), else put them back in place (a run that proved nothing marks nobody), saying so
        when the run got to its end: they are `pending`, not failed, and the next run tries them again."""
        with self.lock:
            if confirmed and self.any_accepted:
                self._confirm(store)
                return
            if confirmed and self.unconfirmed:
                count, reply = len(self.unconfirmed), self.unconfirmed[-1].delivery.reply
                # Said, not only counted as pending: a rerun that gets the same reply puts them back again.
                log.warning(
                    "%s: %d recipient%s put back in place, neither failed nor bounced: the server refused %s (%s) "
                    "and took no message in this run, so that may be the server or the message rather "
                    "than %s; a test copy (`newsletter send %s --to ADDR`) shows whether it takes this issue; "
                    "then run send again",
                    self.settings.smtp_host,
                    count,
                    "" if count == 1 else "s",
                    "it" if count == 1 else "them",
                    reply,
                    "the recipient" if count == 1 else "the recipients",
                    self.issue_id.split(":")[0],
                )
            self._restore(store)

    def _confirm(self, store: Store, which: list[Held] | None = None) -> None:
        """Act on held refusals (`which`, or every unconfirmed one): failed, and bounced where the address's."""
        if which is None:
            held, self.unconfirmed, self.streak, self.alike = self.unconfirmed, [], [], ""
        else:
            held = which
            self.unconfirmed = [h for h in self.unconfirmed if all(h is not one for one in held)]
        if held:
            with store.transaction():
                for one in held:
                    _set(store, self.issue_id, one.email, "failed", attempts=one.attempts + 1)  # settled
        for one in held:
            self.report.failed += 1
            self.progress("failed", 1)
            if one.bounce and self.on_bounce:
                try:
                    self.on_bounce(store, one.email, one.delivery.reply)
                except NewsletterError as bounce_error:
                    log.warning("could not mark %s bounced: %s", one.email, bounce_error)

    def _restore(self, store: Store, which: list[Held] | None = None) -> None:
        """Put held rows (`which`, or every unconfirmed one) back to `pending` with their attempts."""
        held = list(self.unconfirmed if which is None else which)
        self.unconfirmed = [h for h in self.unconfirmed if all(h is not one for one in held)]
        self.streak, self.alike = [], ""
        with store.transaction():
            for one in held:
                _set(store, self.issue_id, one.email, "pending", attempts=one.attempts)


_ADDRESS_STATUS = re.compile(r"(?<![\d.])5\.1\.\d{1,3}(?![\d.])")


def _names_the_address(reply: str) -> bool:
    """Whether a refusal carries an RFC 3463 5.1.x code (bad destination mailbox address, no such
    system, bad syntax): the address's own, by the server's word."""
    return bool(_ADDRESS_STATUS.search(reply))


def without_address(reply: str, email: str) -> str:
    """A refusal as it would read for any recipient and any message: the address (either form), <…>
    parts, and words with a digit in them other than the reply codes (a queue or message id, as
    Gmail's "… size limits. 5b1f17b1804b1-…  - gsmtp") taken out."""
    text = re.sub(r"<[^>]*>", "", reply)
    for form in {email, smtp_address(email)}:
        text = re.sub(re.escape(form), "", text, flags=re.IGNORECASE)
    return " ".join(w for w in text.split() if not re.search(r"\d", w) or _REPLY_CODE.fullmatch(w.rstrip(":,;")))


# RFC 5321 reply code or RFC 3463 enhanced status code: the words with digits that are the reply's kind.
_REPLY_CODE = re.compile(r"\d{3}|\d\.\d{1,3}\.\d{1,3}")


class Sender:
    """One connection's share of a run: the ledger rows with position % parts == part.

    Each batch goes through four phases: `due` reads the rows that are due from
    the ledger, `screen` drops a recipient no longer wanted, `deliver` renders
    the message and hands it to the transport, and `record` writes the outcome
    to the ledger. `sending` is committed when the server said 354, `sent` after
    it accepted the data (see the module docstring), so a crash never sends twice.
    """

    def __init__(self, run: SendRun, store: Store, transport: Transport, part: int = 0):
        self.run, self.store, self.transport, self.part = run, store, transport, part
        self.ledger = _Ledger(store, run.issue_id)
        self.names = store.recipient_names(run.issue_id)
        self.outage_since: float | None = None  # monotonic time the server's trouble began
        self.pauses = 0

    def drain(self) -> None:
        """Send until no row of this share is due; the last `sent` is committed and the connection
        closed whatever happens. RunStopped or ServerUnavailable stop it early."""
        try:
            while (batch := self.due()) is not None:
                for row in batch:
                    if self.run.stopped.is_set():
                        return  # another connection of this run stopped it: this one stops too
                    self.record(row, self.screen(row) or self.deliver(row))
        except (RunStopped, ServerUnavailable):
            self.run.stopped.set()
            raise
        finally:
            self.ledger.flush()  # the last `sent` of the run
            self.transport.close()

    def due(self) -> list[Queued] | None:
        """The rows of this share that are due now, sleeping until the first retry is due when none is.

        None when no row is left, or when the next is due more than `max_wait`
        seconds from now (it is left for the next run).
        """
        run = self.run
        while True:
            now = clock.now().timestamp()
            rows = [Queued(*row) for row in self.store.queued(run.issue_id, run.states, self.part, run.parts)]
            if run.only is not None:
                rows = [r for r in rows if r.email in run.only]
            if not rows:
                return None
            due = [r for r in rows if not r.due_at or r.due_at <= now]
            if due:
                return due
            first = min(r.due_at or now for r in rows)
            if not due_this_run(first, now, run.max_wait):
                return None
            if first - now >= LONG_WAIT:
                # Said, not only waited out: a run silent for minutes looks hung.
                log.warning(
                    "%d recipient%s deferred by the server (4xx): waiting %.0f s for the next retry (mail.retry_base); "
                    "Ctrl-C stops the run, and a later send goes on",
                    len(rows),
                    "" if len(rows) == 1 else "s",
                    first - now,
                )
            if run.stopped.wait(max(0.0, first - now)):  # a wait a stop (a signal, another connection) cuts short
                return None

    def screen(self, row: Queued) -> Delivery | None:
        """A "skipped" Delivery when the recipient must not be mailed after all, else None."""
        reason = _no_longer_wanted(self.store, self.run.issue_id, row.email)
        return Delivery("skipped", reason) if reason else None

    def deliver(self, row: Queued) -> Delivery:
        """Render the recipient's message and send it; what the transport said, as a Delivery.

        ServerUnavailable (no connection) is the server's trouble, not the
        recipient's outcome: a "paused" Delivery, as a 421 is.
        """
        run = self.run
        run.pace()
        data = run.template.render(row.email, self.names.get(row.email, ""))
        started = False

        def on_data() -> None:
            nonlocal started
            started = True
            # `sending` is committed when the server said 354, just before the data goes out: a failure
            # before that point leaves the row where it was, never `unknown`. One commit: the previous
            # message's `sent` and this one's `sending`.
            self.ledger.set(
                row.email,
                "sending",
                attempts=row.attempts + 1,
                message_id=message_id(run.issue_id, row.email, run.settings),
                version=run.template.prepared.version,
            )

        try:
            reply = self.transport.send(data, run.sender, smtp_address(row.email), needs_smtputf8(row.email), on_data)
        except (LoginRefused, CertificateRejected):
            raise  # the setup's fault: no pause fixes a wrong password or an untrusted certificate
        except OutboxWriteFailed:
            # Not written (atomic_write removed its temporary file): the row goes back to its place, if the
            # ledger can still be written; if not, it stays `sending` and the next run reports it unknown.
            with contextlib.suppress(sqlite3.Error):
                self.ledger.set(row.email, "pending", attempts=row.attempts)
            raise
        except ServerUnavailable as exc:
            return Delivery("paused", str(exc), exc, started)
        except TransientFailure as exc:
            return Delivery("paused" if exc.server else "deferred", str(exc), exc, started)
        except PermanentFailure as exc:
            verdict: Verdict = "rejected"  # "message": the newsletter itself
            if exc.reason in ("address", "unclassified"):
                verdict = "refused"
            elif exc.reason == "mailbox":
                verdict = "missed"
            elif exc.reason == "size":
                verdict = "oversize"
            elif exc.reason == "policy":
                verdict = "stopped"
            return Delivery(verdict, str(exc), exc, started)
        except UnknownOutcome as exc:
            return Delivery("unknown", str(exc), exc, started)
        return Delivery("accepted", reply, None, started)

    def record(self, row: Queued, delivery: Delivery) -> None:
        """Write a Delivery to the ledger and the report (see the module docstring for each verdict).

        A deferred message waits `retry_base` * 2**attempts seconds, and fails
        after `max_attempts`; a paused one keeps its
        place and attempts while the connection waits (`pause`); a refused
        recipient is held for a bounce, an oversize one for the count of failed
        (`SendRun.hold`); a stopped or rejected message stops the run
        (RunStopped) with the row back at `pending`.
        """
        run, email, attempts, settings = self.run, row.email, row.attempts, self.run.settings
        match delivery.verdict:
            case "accepted":
                self.outage_since, self.pauses = None, 0
                run.accepted(self.store)
                self.ledger.sent(email, delivery.reply)
                run.tally("sent")
            case "skipped":
                self.ledger.set(email, "failed", reply=delivery.reply)
                run.tally("skipped")
            case "paused":
                if delivery.data_started:  # a 421 after the data: not accepted, and not this recipient's fault
                    self.ledger.set(email, "pending", reply=delivery.reply, attempts=attempts)
                self.pause(delivery)
            case "deferred":
                run.other_outcome(self.store)
                if attempts + 1 >= settings.max_attempts:
                    self.ledger.set(email, "failed", reply=delivery.reply, attempts=attempts + 1)
                    run.tally("failed")
                else:
                    retry_at = clock.now().timestamp() + settings.retry_base * (2**attempts)
                    self.ledger.set(email, "temp_failed", reply=delivery.reply, attempts=attempts + 1, next_at=retry_at)
                    run.tally("temp_failed")
            case "missed":
                run.other_outcome(self.store)
                self.ledger.set(email, "failed", reply=delivery.reply, attempts=attempts + 1)
                run.tally("failed")
            case "stopped":
                self.ledger.set(email, "pending", reply=delivery.reply, attempts=attempts)
                raise RunStopped(
                    f"{settings.smtp_host}: the server refused {email} with a policy refusal ({delivery.reply}); "
                    "that is about the sender or the setup (RFC 3463 5.7.x: relaying denied, authentication "
                    "required, sender refused), not the address: nobody was marked bounced and every recipient "
                    f"keeps its place; check smtp.host, smtp.username and NEWSLETTER_SMTP_PASSWORD, and that "
                    f"{run.sender} may send through this server, then run send again"
                ) from delivery.cause
            case "rejected":
                self.ledger.set(email, "pending", reply=delivery.reply, attempts=attempts)
                raise RunStopped(
                    f"the server refused the newsletter itself ({delivery.reply}); nothing more was "
                    "sent, and every recipient keeps its place: fix the cause and run send again"
                ) from delivery.cause
            case "refused" | "oversize":
                # Failed, with a due time that marks it held: should the process die before the run
                # settles it, the next run puts it back in the queue (`Store.release_held`).
                # Its attempts stay as they were until it is settled, as `_restore` would put them back.
                now = clock.now().timestamp()
                self.ledger.set(email, "failed", reply=delivery.reply, attempts=attempts, next_at=now)
                run.hold(self.store, email, delivery, attempts, bounce=delivery.verdict == "refused")
            case "unknown":
                self.ledger.set(email, "unknown", reply=delivery.reply)
                run.tally("unknown")
                run.unknown(self.store, delivery)

    def pause(self, delivery: Delivery) -> None:
        """Wait out the server's trouble with backoff (`retry_base`, doubling, at most a minute), once per
        failure of the server rather than per recipient; ServerUnavailable once it has lasted `max_outage`
        seconds: the run stops with every recipient in place and no attempt counted."""
        settings = self.run.settings
        self.ledger.flush()
        self.transport.close()
        now = time.monotonic()
        if self.outage_since is None:
            self.outage_since, self.pauses = now, 0
        elapsed = now - self.outage_since
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        reply = delivery.reply.removeprefix(f"{where}: ")  # a connection's trouble names the server already
        if elapsed >= settings.max_outage:
            raise ServerUnavailable(
                f"{where}: the server failed ({reply}) and was not "
                f"back after {elapsed:.1f} s (mail.max_outage); no recipient's attempt was counted and every "
                "recipient keeps its place: run send again when the server is back"
            ) from delivery.cause
        wait = min(settings.retry_base * (2**self.pauses), 60.0, settings.max_outage - elapsed)
        self.pauses += 1
        # Said, not only logged: a run that waits out an outage in silence looks hung.
        log.warning(
            "%s: %s; trying again in %.0f s (the run gives up after %g s of this, mail.max_outage)",
            where,
            reply,
            max(wait, 1.0),
            settings.max_outage,
        )
        self.run.stopped.wait(max(0.0, wait))  # cut short by a stop (a signal): the drain loop then ends


class StorageFull(NewsletterError):
    """The send could not write its ledger or its outbox (disk full, an I/O error)."""


@contextlib.contextmanager
def storage_errors(database: Path) -> Iterator[None]:
    """Turn a failed local write during a send (SQLite "database or disk is full", ENOSPC, EIO) into
    StorageFull with what to do; never advice to move `newsletter.db` away: it holds the contacts, the
    suppression list and the ledger, and nothing in it is wrong.

    What the ledger says stays true: a row's `sent` is written only after the server accepted the
    message, and a failed write leaves the row where it was (a message whose `sent` could not be
    written stays `sending`, which the next run reports as unknown rather than send twice).
    """
    try:
        yield
    except StorageFull:
        raise
    except (sqlite3.OperationalError, OutboxWriteFailed, OSError) as exc:
        if (
            isinstance(exc, OSError)
            and not isinstance(exc, OutboxWriteFailed)
            and exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)
        ):
            raise  # not a local write: a broken pipe on the terminal, a socket, … says what it is itself
        full = isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)
        cause = exc.__cause__ if isinstance(exc, OutboxWriteFailed) else exc
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            full = True
        where = str(exc) if isinstance(exc, OutboxWriteFailed) else f"{database}: cannot write the send ledger ({exc})"
        fix = "free disk space" if full else "check the disk (an I/O error)"
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            fix = "let the other newsletter command that holds the database finish"
        raise StorageFull(
            f"{where}; the send stopped. Nothing was marked sent that was not sent: {fix} and run "
            f"the same send again, it goes on where it stopped. Keep {database.name} where it is: it holds the "
            "contacts, the suppression list and the send ledger"
        ) from exc


def run_send(
    store: Store,
    issue_id: str,
    prepared: Prepared,
    settings: MailSettings,
    transport: Transport,
    resend_unknown: bool = False,
    progress: Callable[[str, int], None] | None = None,
    on_bounce: Callable[[Store, str, str], object] | None = None,
    max_wait: float = MAX_WAIT,
    transport_factory: Callable[[], Transport] | None = None,
    only: frozenset[str] | None = None,
) -> SendReport:
    """Send every pending message of an issue's ledger; safe to run again after any interruption.

    With `settings.connections` > 1 and a `transport_factory`, that many
    connections send in parallel, each with its own share of the ledger and
    its own database connection. `progress` gets ("start", total) and then
    (state, 1) per message; `on_bounce` (store, address, reply) per refused
    recipient; retries due more than `max_wait` seconds later are left for the
    next run; with `only`, just the rows of those addresses are sent (a `--tag`
    run), the others wait for a later run. RunStopped or ServerUnavailable when
    the run cannot go on; StorageFull when the ledger or the outbox cannot be
    written (disk full, an I/O error). The caller holds the issue's send lock
    (`send_lock`): a run puts back what a dead run left held, which must not be
    a live run's.
    """
    with storage_errors(store.path):
        return _run_send(
            store,
            issue_id,
            prepared,
            settings,
            transport,
            resend_unknown,
            progress,
            on_bounce,
            max_wait,
            transport_factory,
            only,
        )


def _run_send(
    store: Store,
    issue_id: str,
    prepared: Prepared,
    settings: MailSettings,
    transport: Transport,
    resend_unknown: bool,
    progress: Callable[[str, int], None] | None,
    on_bounce: Callable[[Store, str, str], object] | None,
    max_wait: float,
    transport_factory: Callable[[], Transport] | None,
    only: frozenset[str] | None,
) -> SendReport:
    started = time.monotonic()
    progress = progress or (lambda *_: None)
    # Each state change must survive a power cut too: `sent` rolled back to `pending` would mean a second copy.
    store.durable()
    # A row left at `sending` by a run that died: the server may have the message.
    store.mark_interrupted(issue_id)
    # A row it left held was refused, so it never arrived: it is tried again.
    released = store.release_held(issue_id)
    if released:
        log.info("%d recipients refused in a run that stopped before settling them are tried again", released)
    if resend_unknown:  # once, at the start: an unknown that this run produces waits for the editor again
        store.requeue_unknown(issue_id)
    states: tuple[SendState, ...] = ("pending", "temp_failed")
    before = send_counts(store, issue_id)
    skipped_unknown = before["unknown"]
    now = clock.now().timestamp()
    total = sum(
        1
        for email, _attempts, due_at in store.queued(issue_id, states)
        if (only is None or email in only) and due_this_run(due_at, now, max_wait)
    )
    progress("start", total)
    template = MessageTemplate(prepared, settings)  # serialised once; cheap per recipient
    parts = settings.connections if transport_factory and settings.connections > 1 else 1
    run = SendRun(issue_id, template, settings, states, parts, progress, on_bounce, max_wait, only, before["sent"] > 0)
    run.report.skipped_unknown = skipped_unknown

    finished = False
    try:
        with _stop_on_signal(run):
            _drain_all(run, store, transport, parts, transport_factory)
        finished = True
    finally:
        run.settle(store, confirmed=finished)
    report = run.report
    report.counts = send_counts(store, issue_id)
    report.seconds = time.monotonic() - started
    return report


@contextlib.contextmanager
def _stop_on_signal(run: SendRun) -> Iterator[None]:
    """While a run sends: Ctrl-C (SIGINT) or SIGTERM (a shutdown, `kill`) stops it after the message in hand.

    Stopped mid-transaction, a message is `unknown` (it may have arrived), and only a person can tell
    whether to send it again; so the first signal asks the run to stop taking rows (`SendRun.stopped`,
    which also cuts a wait for a retry short), and the transaction under way ends as it would, `sent`
    or otherwise: `report.interrupted` names the signal. A second Ctrl-C stops at once, as Python
    does (KeyboardInterrupt). Only in the main thread, the one Python delivers signals to.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        if run.report.interrupted and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        run.report.interrupted = signal.Signals(signum).name
        run.stopped.set()

    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def due_this_run(due_at: float | None, now: float, max_wait: float = MAX_WAIT) -> bool:
    """Whether a row falls due (epoch seconds; None: at once) within what a run started at `now` waits
    for; a retry due later is left for a later run (`Sender.due`)."""
    return due_at is None or due_at - now <= max_wait


def _drain_all(
    run: SendRun,
    store: Store,
    transport: Transport,
    parts: int,
    transport_factory: Callable[[], Transport] | None,
) -> None:
    """Drain the ledger through one connection, or `parts` in parallel (each with its own store)."""
    if parts == 1:
        Sender(run, store, transport).drain()
    else:
        transport.close()
        errors: list[BaseException] = []

        def worker(part: int) -> None:
            try:
                with Store(store.path) as own:
                    own.durable()
                    assert transport_factory is not None  # parts > 1 only with a factory
                    Sender(run, own, transport_factory(), part).drain()
            except BaseException as exc:  # reported after the others finish
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(parts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

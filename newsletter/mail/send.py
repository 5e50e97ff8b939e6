"""Sending: every recipient exactly once, whatever happens to the process or the server.

The recipient list is frozen into a ledger (table `sends`, one row per issue
and address) when a send starts. Each message moves pending → sending → sent,
and each move is committed before the next step: `sending` is written before
the message goes out, `sent` after the server accepted it. A run that dies
between the two leaves `sending`, which the next run turns into `unknown`:
reported, and resent only on request (`--resend-unknown`), because the server
may have it. A temporary refusal (4xx, a dropped connection before DATA) is
`temp_failed` and retried with backoff; a permanent one (5xx) is `failed` and
the contact is marked bounced. One SMTP connection is reused for many
messages and opened again when the server drops it. A lock file stops a
second run of the same issue.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newsletter import clock
from newsletter.errors import NewsletterError
from newsletter.fsutil import atomic_write
from newsletter.mail.compose import MessageTemplate, Prepared, message_id, needs_smtputf8, smtp_address
from newsletter.models import MailSettings, SendState
from newsletter.store import Store

log = logging.getLogger(__name__)

PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"
_LEADING_DOT = re.compile(rb"(?m)^\.")
REFUSAL_BRAKE = 10  # recipients refused in a row before a run stops: then it is the setup, not the addresses


class TransientFailure(Exception):
    """The message was not accepted, but may be later (4xx, connection lost before DATA)."""


class PermanentFailure(Exception):
    """The server refused for good (5xx). Only a refusal at RCPT TO is about the recipient."""

    def __init__(self, message: str, recipient: bool = False):
        super().__init__(message)
        self.recipient = recipient


class ServerUnavailable(NewsletterError):
    """The SMTP server cannot be reached or refuses us (connect, TLS, login): the run stops and
    every recipient keeps its place, without an attempt counted against them."""


class RunStopped(NewsletterError):
    """The server refused the message itself (a 5xx at MAIL FROM or at the end of DATA), or every
    recipient in a row: a problem with the newsletter or the setup, not with the recipients."""


class UnknownOutcome(Exception):
    """The connection broke after the message data went out: the server may have it."""


@dataclass(frozen=True)
class Recipient:
    """A frozen recipient of one send."""

    email: str
    name: str = ""
    contact_id: int | None = None


# ---------------------------------------------------------------------- transports


class OutboxTransport:
    """Writes each message to a folder as an .eml file (no SMTP configured, or --dry-run)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self) -> None:
        """Create the outbox folder."""
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(
        self, data: bytes, sender: str, recipient: str, smtputf8: bool, on_data: Callable[[], None] = lambda: None
    ) -> str:
        """Write the message as `<address>.eml` (atomically)."""
        on_data()
        atomic_write(self.folder / outbox_name(recipient), data)
        return "written"

    def close(self) -> None:
        """Nothing to close."""


class SMTPTransport:
    """One SMTP connection, reused, and opened again when the server drops it."""

    def __init__(self, settings: MailSettings, password: str | None = None):
        self.settings = settings
        self.password = password if password is not None else os.environ.get(PASSWORD_ENV)
        self.connection: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect (TLS and login as configured); ServerUnavailable when that fails."""
        s = self.settings
        connection: smtplib.SMTP
        try:
            if s.security == "ssl":
                connection = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
                connection.ehlo()
                if s.security == "starttls":
                    connection.starttls(context=ssl.create_default_context())
                    connection.ehlo()
            if s.username:
                if not self.password:
                    raise NewsletterError(f"smtp.username is set: put the password in {PASSWORD_ENV}")
                connection.login(s.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise ServerUnavailable(
                f"{s.smtp_host}:{s.smtp_port}: login refused ({_reply(exc)}); check smtp.username and {PASSWORD_ENV}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(
                f"{s.smtp_host}:{s.smtp_port}: cannot connect ({exc}); nothing was "
                "counted against the recipients: run send again when the server is back"
            ) from exc
        self.connection = connection

    def send(
        self, data: bytes, sender: str, recipient: str, smtputf8: bool, on_data: Callable[[], None] = lambda: None
    ) -> str:
        """Send one message; `on_data` runs when the server said 354, just before the data goes out."""
        if self.connection is None:
            self.open()
        smtp = self.connection
        assert smtp is not None  # open() connected or raised
        options = ["SMTPUTF8", "BODY=8BITMIME"] if smtputf8 else []
        try:
            code, reply = smtp.mail(sender, options)
            _check(code, reply, "MAIL FROM")
            code, reply = smtp.rcpt(recipient)
            _check(code, reply, "RCPT TO", recipient_step=True)
            code, reply = smtp.docmd("DATA")
            _check(code, reply, "DATA", expected=354)
            on_data()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            raise TransientFailure(f"connection lost before the message was sent ({exc})") from exc
        except (TransientFailure, PermanentFailure):
            # A refused step leaves the transaction open: reset it, or the next MAIL FROM is refused too.
            self._reset()
            raise
        try:
            # After 354 the message goes out; a broken connection from here on leaves its fate unknown.
            # Dot-stuffing (RFC 5321 4.5.2) on the bytes; the message already has CRLF line ends.
            payload = _LEADING_DOT.sub(b"..", data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            smtp.send(payload + b".\r\n")
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            raise UnknownOutcome(f"connection lost after the message data was sent ({exc})") from exc
        if code == 421:
            self.close()
        _check(code, reply, "end of DATA")
        return f"{code} {reply.decode('utf-8', 'replace')}".strip()

    def _reset(self) -> None:
        if self.connection is None:
            return
        try:
            code, _reply = self.connection.rset()
            if code == 421:
                self.close()
        except (smtplib.SMTPException, OSError):
            self.connection = None

    def close(self) -> None:
        """Say QUIT and drop the connection."""
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.quit()
            self.connection = None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
    return f"{exc.smtp_code} {text}"


def _check(code: int, reply: bytes, step: str, expected: int | None = None, recipient_step: bool = False) -> None:
    text = f"{code} {reply.decode('utf-8', 'replace')}".strip()
    if expected is not None and code == expected:
        return
    if 200 <= code < 300 and expected is None:
        return
    if code == 421 or 400 <= code < 500 or code == -1:
        raise TransientFailure(f"{step}: {text}")
    raise PermanentFailure(f"{step}: {text}", recipient=recipient_step)


def outbox_name(recipient: str) -> str:
    """The .eml file name of a recipient in the outbox (the address, made safe for a file name)."""
    return recipient.lower().replace("/", "_").replace("\\", "_") + ".eml"


# ---------------------------------------------------------------------- the ledger


def freeze_recipients(store: Store, issue_id: str, recipients: list[Recipient], now: dt.datetime) -> int:
    """Write the ledger rows of a send that starts now; a send already started keeps its list.

    Returns how many recipients were frozen (0 when the ledger already existed).
    """
    if store.ledger_size(issue_id):
        return 0
    store.freeze_recipients(issue_id, [(r.email, r.contact_id) for r in recipients], now)
    return len(recipients)


def send_counts(store: Store, issue_id: str) -> dict[str, int]:
    """How many ledger rows of an issue are in each state."""
    return store.send_counts(issue_id)


def failures(store: Store, issue_id: str) -> list[tuple[str, str, str]]:
    """(address, state, last SMTP reply) of the failed, unknown and temporarily failed rows."""
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
    )


def _no_longer_wanted(store: Store, issue_id: str, email: str) -> str | None:
    """Why a frozen recipient must not be mailed after all (erased, unsubscribed or bounced since the send
    started), or None."""
    if email.startswith("erased:"):
        return "skipped: erased after the send started"
    standing = store.recipient_standing(issue_id, email)
    if standing is None or standing[0] is None:
        return None
    if standing[1] is None:
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
        with self.store.transaction():
            self._flush_held()
            _set(self.store, self.issue_id, email, state, **values)

    def sent(self, email: str, reply: str) -> None:
        if self.held:
            self.flush()
        self.held = (email, reply)

    def flush(self) -> None:
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
    skipped_unknown: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    refusals: list[int] = field(default_factory=lambda: [0])  # recipients refused in a row (shared)
    seconds: float = 0.0


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
            f"a send of {issue_id} is already running (lock {folder / f'.send-{issue_id}.lock'}); "
            "wait for it, or check `newsletter send status`"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def run_send(
    store: Store,
    issue_id: str,
    prepared: Prepared,
    settings: MailSettings,
    transport,
    resend_unknown: bool = False,
    progress: Callable[[str, int], None] | None = None,
    on_bounce: Callable[[Store, str, str], None] | None = None,
    max_wait: float = 600.0,
    transport_factory: Callable[[], object] | None = None,
) -> SendReport:
    """Send every pending message of an issue's ledger; safe to run again after any interruption.

    With `settings.connections` > 1 and a `transport_factory`, that many
    connections send in parallel, each with its own share of the ledger and
    its own database connection.
    """
    started = time.monotonic()
    progress = progress or (lambda *_: None)
    report = SendReport()
    # Each state change must survive a power cut too: `sent` rolled back to `pending` would mean a second copy.
    store.durable()
    # A row left at `sending` by a run that died: the server may have the message.
    store.mark_interrupted(issue_id)
    if resend_unknown:  # once, at the start: an unknown that this run produces waits for the editor again
        store.requeue_unknown(issue_id)
    states: tuple[SendState, ...] = ("pending", "temp_failed")
    report.skipped_unknown = send_counts(store, issue_id)["unknown"]
    total = store.count_in_states(issue_id, states)
    progress("start", total)
    template = MessageTemplate(prepared, settings)  # serialised once; cheap per recipient
    # One limit for all connections: the rate is the server's, not each connection's.
    limit = RateLimit(settings.rate_per_second, settings.rate_per_hour)
    shared = threading.Lock()
    parts = settings.connections if transport_factory and settings.connections > 1 else 1

    def drain(part: int, own_store: Store, own_transport) -> None:
        _drain(
            own_store,
            issue_id,
            template,
            settings,
            own_transport,
            states,
            part,
            parts,
            limit,
            shared,
            report,
            progress,
            on_bounce,
            max_wait,
        )

    if parts == 1:
        drain(0, store, transport)
    else:
        transport.close()
        errors: list[BaseException] = []

        def worker(part: int) -> None:
            try:
                with Store(store.path) as own:
                    own.durable()
                    assert transport_factory is not None  # parts > 1 only with a factory
                    drain(part, own, transport_factory())
            except BaseException as exc:  # reported after the others finish
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(parts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    report.counts = send_counts(store, issue_id)
    report.seconds = time.monotonic() - started
    return report


def _drain(
    store: Store,
    issue_id: str,
    template: MessageTemplate,
    settings: MailSettings,
    transport,
    states: tuple[SendState, ...],
    part: int,
    parts: int,
    limit: RateLimit,
    shared: threading.Lock,
    report: SendReport,
    progress,
    on_bounce,
    max_wait: float,
) -> None:
    """Send the rows of one share of the ledger (position % parts == part) until none is due."""
    names = store.recipient_names(issue_id)
    sender = smtp_address(settings.sender)
    refusals = report.refusals
    ledger = _Ledger(store, issue_id)

    def count(field_name: str, event: str) -> None:
        with shared:
            setattr(report, field_name, getattr(report, field_name) + 1)
        progress(event, 1)

    try:
        while True:
            now = clock.now().timestamp()
            rows = store.queued(issue_id, states, part, parts)
            due = [r for r in rows if not r[2] or r[2] <= now]
            if not rows:
                break
            if not due:
                wait = min(r[2] or now for r in rows) - now
                if wait > max_wait:
                    break  # left for the next run
                time.sleep(max(0.0, wait))
                continue
            for email, attempts, _ in due:
                gone = _no_longer_wanted(store, issue_id, email)
                if gone:
                    ledger.set(email, "failed", reply=gone)
                    count("failed", "failed")
                    continue
                with shared:
                    limit.wait()
                data = template.render(email, names.get(email, ""))
                # `sending` is committed when the server said 354, just before the data goes out: a
                # failure before that point leaves the row where it was, never `unknown`.
                started_data: list[bool] = []

                def on_data(email=email, attempts=attempts, started_data=started_data):
                    # One commit: the previous message's `sent` and this one's `sending`.
                    ledger.set(
                        email, "sending", attempts=attempts + 1, message_id=message_id(issue_id, email, settings)
                    )
                    started_data.append(True)

                try:
                    reply = transport.send(data, sender, smtp_address(email), needs_smtputf8(email), on_data)
                except ServerUnavailable:
                    raise  # the row keeps its state; the run stops
                except TransientFailure as exc:
                    if attempts + 1 >= settings.max_attempts:
                        ledger.set(email, "failed", reply=str(exc), attempts=attempts + 1)
                        count("failed", "failed")
                    else:
                        retry_at = clock.now().timestamp() + settings.retry_base * (2**attempts)
                        ledger.set(email, "temp_failed", reply=str(exc), attempts=attempts + 1, next_at=retry_at)
                        count("temp_failed", "temp_failed")
                    continue
                except PermanentFailure as exc:
                    if not exc.recipient:
                        ledger.set(email, "pending", reply=str(exc), attempts=attempts)
                        raise RunStopped(
                            f"the server refused the newsletter itself ({exc}); nothing more was "
                            "sent, and every recipient keeps its place: fix the cause and run send "
                            "again"
                        ) from exc
                    ledger.set(email, "failed", reply=str(exc), attempts=attempts + 1)
                    count("failed", "failed")
                    with shared:
                        refusals[0] += 1
                        if on_bounce:
                            try:
                                on_bounce(store, email, str(exc))  # this thread's own database connection
                            except NewsletterError as bounce_error:
                                log.warning("could not mark %s bounced: %s", email, bounce_error)
                        if refusals[0] >= REFUSAL_BRAKE:
                            raise RunStopped(
                                f"the server refused {refusals[0]} recipients in a row (last: {exc}); "
                                "that is the setup, not the addresses: check the SMTP settings"
                            ) from exc
                    continue
                except UnknownOutcome as exc:
                    ledger.set(email, "unknown", reply=str(exc))
                    count("unknown", "unknown")
                    continue
                with shared:
                    refusals[0] = 0
                ledger.sent(email, reply)
                count("sent", "sent")
    finally:
        ledger.flush()  # the last `sent` of the run
        transport.close()

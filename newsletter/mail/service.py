"""Mailing an issue, as one operation: the checks before a send, a test copy, and the send itself.

The command line parses and reports; everything it decides about sending is here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import make_msgid
from pathlib import Path
from typing import cast

from newsletter import buildstamp, clock
from newsletter.config import Workspace
from newsletter.errors import NewsletterError
from newsletter.mail.compose import Prepared, compose, message_bytes, needs_smtputf8, prepare, smtp_address
from newsletter.mail.contacts import active_recipients, mark_bounced, reply_reason
from newsletter.mail.send import (
    MAX_WAIT,
    Recipient,
    SendReport,
    due_this_run,
    failures,
    freeze_recipients,
    retry_failed,
    run_send,
    send_counts,
    send_lock,
    send_running,
    storage_errors,
)
from newsletter.mail.transport import (
    OutboxTransport,
    PermanentFailure,
    SMTPTransport,
    TransientFailure,
    Transport,
    UnknownOutcome,
)
from newsletter.models import Issue, SendState, Settings
from newsletter.store import Store


def prepared_build(issue: Issue, workspace: Workspace, settings: Settings, attach_pdf: bool) -> Prepared:
    """The issue's built e-mail, refusing a build whose parts are not all from one build of the current
    issue file, settings and templates (`newsletter.buildstamp`).

    The build is read from `workspace.build_dir(issue.id)`: email.html, email.txt,
    and the PDF with `attach_pdf`. NewsletterError names that folder, the part
    or source at fault, and the command that makes a whole build.
    """
    build_dir = workspace.build_dir(issue.id)
    issue_file = Path(issue.path) if issue.path else workspace.issues_dir / f"{issue.id}.yaml"
    needed = ["email.html", "email.txt"] + ([f"{issue.id}.pdf"] if attach_pdf else [])
    made_from = buildstamp.sources(issue_file, settings, workspace.root / "templates")
    buildstamp.check_build(build_dir, issue.id, needed, made_from)
    return prepare(issue, build_dir, settings.site_url, attach_pdf)


def transport_for(settings: Settings, outbox: Path, dry_run: bool) -> Transport:
    """The SMTP server of newsletter.yaml, or the outbox folder (no server configured, or a dry run)."""
    return OutboxTransport(outbox) if dry_run or not settings.mail.smtp_host else SMTPTransport(settings.mail)


def ledger_id(issue_id: str, transport: Transport) -> str:
    """The ledger a send writes: a dry run (the outbox) keeps its own, so it never uses up the real send."""
    return issue_id if isinstance(transport, SMTPTransport) else outbox_ledger(issue_id)


def outbox_ledger(issue_id: str) -> str:
    """The name of an issue's dry-run ledger (messages written to the outbox): `<id>:outbox`."""
    return f"{issue_id}:outbox"


TEST_SUBJECT = "[Test] "  # before a test copy's subject, as mail services mark theirs


def send_test_copy(prepared: Prepared, settings: Settings, transport: Transport, address: str) -> None:
    """One copy to `address`, recorded nowhere; raises NewsletterError with the server's reply.

    A test copy is another message than the one the send delivers: its own Message-ID (RFC 5322
    3.6.4: unique to each message), so the real one to an editor on the list is not dropped as a
    duplicate by a mail system that has the copy (Gmail and Exchange drop a second message of the same
    Message-ID), and a subject starting `TEST_SUBJECT`, so the copy is not taken for the issue."""
    message = compose(prepared, settings.mail, address)
    domain = str(message["Message-ID"]).rstrip(">").rsplit("@", 1)[-1]
    message.replace_header("Message-ID", make_msgid(f"{prepared.issue_id}.test", domain))
    message.replace_header("Subject", TEST_SUBJECT + prepared.subject)
    try:
        transport.open()
        transport.send(
            message_bytes(message), smtp_address(settings.mail.sender), smtp_address(address), needs_smtputf8(address)
        )
    except (TransientFailure, PermanentFailure, UnknownOutcome) as exc:
        raise NewsletterError(f"test copy to {address}: {exc}") from exc
    finally:
        transport.close()


@dataclass(frozen=True)
class Undelivered:
    """A recipient of a send whose message did not (yet) arrive: failed, unknown or temp_failed, or pending
    after a reply (a run put it back in its place: the next send tries it)."""

    email: str
    state: SendState
    reply: str  # the server's last reply (RFC 5321, with an RFC 3463 code when it gave one), or why it was skipped
    next_attempt: dt.datetime | None = None  # a temp_failed row: when a send tries it again (UTC)
    held: bool = False  # failed, refused in a run that died before telling its refusal from the server's
    # The Message-ID of the message sent (RFC 5322 3.6.4), "" if none went out: what to look for in the mail
    # server's log to tell whether an unknown delivery arrived.
    message_id: str = ""


@dataclass(frozen=True)
class SendStatus:
    """What `send status` shows: how many recipients of a ledger are in each state, and the undelivered.

    `issue` is the ledger's name (`2024-q2`, or `2024-q2:outbox` for the dry runs); `counts` has
    every state of SEND_STATES, in that order; `undelivered` is in ledger order.
    """

    issue: str
    counts: dict[str, int]
    undelivered: list[Undelivered]
    running: bool = False  # a run of this ledger holds its send lock now
    # (version, recipients, last sent UTC) of each version of the e-mail sent, earliest first
    # (`Store.sent_versions`; version None: sent before versions were recorded)
    versions: list[tuple[str | None, int, dt.datetime | None]] = field(default_factory=list)

    def to_json(self) -> dict:
        """A JSON-ready mapping (`send status --json`): issue, counts, the failures (failed, unknown,
        temp_failed) and the pending rows a run put back with a reply (`put_back`), each as email/state/reply
        (and next_attempt, held and message_id where they apply)."""

        def row(u: Undelivered) -> dict:
            return {
                "email": u.email,
                "state": u.state,
                "reply": u.reply,
                **({"next_attempt": u.next_attempt.isoformat()} if u.next_attempt else {}),
                **({"held": True} if u.held else {}),
                **({"message_id": u.message_id} if u.message_id else {}),
            }

        return {
            "issue": self.issue,
            "running": self.running,
            "counts": dict(self.counts),
            "failures": [row(u) for u in self.undelivered if u.state != "pending"],
            "put_back": [row(u) for u in self.undelivered if u.state == "pending"],
            "versions": [
                {"version": v, "recipients": n, "last_sent": at.isoformat() if at else None}
                for v, n, at in self.versions
            ],
        }


def send_status(store: Store, issue_id: str, dry_run: bool = False, var: Path | None = None) -> SendStatus:
    """The state of an issue's send (with `dry_run`, of its dry runs' ledger); all zero before it starts.

    With the workspace's `var` folder, also whether a run of it is going on now (`send_running`).
    """
    ledger = outbox_ledger(issue_id) if dry_run else issue_id
    running = var is not None and send_running(var, ledger.replace(":", "-"))
    retries = {email: at for email, _attempts, at in store.queued(ledger, ("temp_failed",)) if at is not None}
    held = store.held_addresses(ledger)
    # The store selects the rows by state, so each one's is a SendState; it reads it back as text.
    undelivered = [
        Undelivered(
            email,
            cast(SendState, state),
            reply,
            dt.datetime.fromtimestamp(retries[email], dt.UTC) if email in retries else None,
            email in held,
            message_id,
        )
        for email, state, reply, message_id in failures(store, ledger)
    ]
    return SendStatus(ledger, send_counts(store, ledger), undelivered, running, store.sent_versions(ledger))


@dataclass(frozen=True)
class SendPlan:
    """What a send run is about to do, said before it sends (and asked about, on a terminal).

    `new`: active contacts not yet in the ledger (added since the last run, or left
    out by a `--tag` run), added now; `pending`: recipients already in the ledger
    and not tried yet, or stopped with their place kept; `retry`: temporarily
    refused ones (and failed ones put back by `--retry-failed`) due again; `unknown`:
    deliveries that may have arrived, skipped unless `--resend-unknown`. With a
    tag, every count is of that tag's contacts only.
    """

    ledger: str
    new: int
    pending: int
    retry: int
    unknown: int
    tag: str | None = None
    waiting: int = 0  # temporarily failed, not due within this run (the backoff has grown past `max_wait`)
    next_retry: dt.datetime | None = None  # the first of those falls due then (UTC)
    # Recipients already sent (or maybe sent) another version of the e-mail than this run's
    # (`Prepared.version`): the issue or its build changed since the send began.
    other_version: int = 0
    other_version_until: dt.datetime | None = None  # when the last of them was sent (UTC)

    @property
    def total(self) -> int:
        """How many recipients this run will try (new + pending + retry)."""
        return self.new + self.pending + self.retry


@dataclass
class SendOutcome:
    """What `send_issue` did: the report, the plan it followed, how many failed recipients it re-queued."""

    report: SendReport
    ledger: str
    frozen: int
    requeued: int
    plan: SendPlan | None = None
    undelivered: list[Undelivered] = field(default_factory=list)  # as `send status` lists them, in ledger order


def plan_send(
    store: Store,
    ledger: str,
    recipients: list[Recipient],
    retry: bool,
    resend_unknown: bool,
    tag: str | None,
    max_wait: float = MAX_WAIT,
    version: str | None = None,
) -> SendPlan:
    """Count what a run would send to `recipients` (this run's active contacts) without writing anything.

    A temporarily failed row due more than `max_wait` seconds from now (what the run waits for) is
    counted as `waiting`, not as a retry of this run. With this run's `version` of the e-mail
    (`Prepared.version`), the recipients sent another one are counted in `other_version` (rows sent
    before versions were recorded are not: their version is not known)."""
    wanted = {r.email for r in recipients}
    rows = store.ledger_states(ledger)
    in_run = [(email, state) for email, state in rows.items() if tag is None or email in wanted]
    states = [state for _email, state in in_run]
    # As the run's scheduler sees them: a retry due later than it waits (`max_wait`) is not this run's.
    now = clock.now().timestamp()
    held = store.held_addresses(ledger) & {email for email, _state in in_run}
    others = [row for row in store.sent_versions(ledger) if version and row[0] not in (None, version)]
    later = [
        at
        for email, _attempts, at in store.queued(ledger, ("temp_failed",))
        if at is not None and not due_this_run(at, now, max_wait) and (tag is None or email in wanted)
    ]
    return SendPlan(
        ledger=ledger,
        new=len(wanted - rows.keys()),
        # Held rows a run that died left are put back when this run starts: they are pending to it.
        pending=states.count("pending") + (states.count("unknown") if resend_unknown else 0) + len(held),
        retry=states.count("temp_failed")
        - len(later)
        + (max(store.count_requeueable(ledger) - len(held), 0) if retry else 0),
        unknown=0 if resend_unknown else states.count("unknown"),
        tag=tag,
        waiting=len(later),
        next_retry=dt.datetime.fromtimestamp(min(later), dt.UTC) if later else None,
        other_version=sum(count for v, count, _ in others),
        other_version_until=max((at for _, _, at in others if at is not None), default=None),
    )


def send_issue(
    store: Store,
    var: Path,
    issue_id: str,
    prepared: Prepared,
    settings: Settings,
    transport: Transport,
    tag: str | None = None,
    resend_unknown: bool = False,
    retry: bool = False,
    progress: Callable[[str, int], None] | None = None,
    before: Callable[[SendPlan], None] | None = None,
) -> SendOutcome:
    """Send an issue to its active contacts not yet mailed, under the issue's send lock.

    Every run adds the active contacts that are not in the ledger yet, so a
    contact added since the last run, or one a `--tag` run left out, is mailed
    by the next run without a tag. `tag` limits this run (new and queued rows
    alike) to the contacts with that tag. `before` gets the SendPlan before
    anything is written or sent; an exception from it (the editor said no)
    leaves the ledger as it was.
    """
    ledger = ledger_id(issue_id, transport)
    with send_lock(var, ledger.replace(":", "-")), storage_errors(store.path):
        recipients = [Recipient(c.email, c.name, c.id) for c in active_recipients(store, tag)]
        plan = plan_send(store, ledger, recipients, retry, resend_unknown, tag, version=prepared.version)
        if before is not None:
            before(plan)
        frozen = freeze_recipients(store, ledger, recipients, clock.now())
        requeued = retry_failed(store, ledger) if retry else 0
        factory = None if isinstance(transport, OutboxTransport) else (lambda: SMTPTransport(settings.mail))
        report = run_send(
            store,
            ledger,
            prepared,
            settings.mail,
            transport,
            resend_unknown,
            progress,
            on_bounce=lambda db, email, reply: mark_bounced(db, email, reply_reason(reply), clock.now()),
            transport_factory=factory,
            only=frozenset(r.email for r in recipients) if tag else None,
        )
    undelivered = send_status(store, issue_id, ledger != issue_id).undelivered
    return SendOutcome(report, ledger, frozen, requeued, plan, undelivered)


ARRIVED_BY_HAND = "marked arrived by hand (send settle), from the mail server's log"
LOST_BY_HAND = "marked not arrived by hand (send settle): the next send mails it"


def settle_unknown(
    store: Store, var: Path, issue_id: str, addresses: list[str], arrived: bool, now: dt.datetime
) -> list[tuple[str, str | None]]:
    """Settle unknown deliveries of an issue's send by what the mail server's log says of each.

    An unknown delivery (the connection broke after the data went out) may or may not have arrived;
    `--resend-unknown` mails every one again, so a recipient that did get it gets two. With
    `arrived`, each address's row becomes `sent`; without, `pending`, for the next send to mail. Only
    rows in `unknown` change, and rows settled so before and not mailed since (a settle the other way
    corrects a slip), under the send lock (not while a run of the issue is going). Returns
    (the address as the ledger has it, or as given, and None when settled or why not: not in the
    ledger, or in another state) for each address, in the order given. NewsletterError while a send
    of the issue runs.
    """
    from newsletter.mail.contacts import ERASED_PREFIX, loose_key

    results: list[tuple[str, str | None]] = []
    with send_lock(var, issue_id), storage_errors(store.path), store.transaction():
        # Keyed as the ledger keys its rows; an erased recipient's row holds a marker, no address, and is
        # no one's to settle.
        settled = {("sent", ARRIVED_BY_HAND), ("pending", LOST_BY_HAND)}  # by an earlier settle, untouched since
        states = {
            loose_key(email): (email, "unknown" if (state, reply) in settled else state)
            for email, (state, reply) in store.ledger_rows(issue_id).items()
            if not email.startswith(ERASED_PREFIX)
        }
        for given in addresses:
            if given.strip().lower().startswith(ERASED_PREFIX) or (found := states.get(loose_key(given))) is None:
                results.append((given, f"not a recipient of {issue_id}'s send"))
                continue
            email, state = found
            if state != "unknown":
                results.append((email, f"{state}, not unknown: left as it is"))
                continue
            store.set_send_state(
                issue_id,
                email,
                "sent" if arrived else "pending",
                now,
                reply=ARRIVED_BY_HAND if arrived else LOST_BY_HAND,
            )
            results.append((email, None))
    return results

"""Sending against a real SMTP server on localhost (aiosmtpd): exactly one copy per recipient through
dropped connections, 421/451 replies, a 550, and interrupted runs; and what each message looks like."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import socket
import threading
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller

from newsletter.config import load_settings
from newsletter.curate.issuefile import IssueDocument
from newsletter.mail.compose import compose, prepare
from newsletter.mail.send import Recipient, freeze_recipients, run_send, send_counts, send_lock
from newsletter.mail.transport import OutboxTransport, SMTPTransport
from newsletter.render.build import build
from newsletter.store import Store
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS

SETTINGS = load_settings(SAMPLE_SETTINGS)
NOW = dt.datetime(2024, 7, 1, 9, 0, tzinfo=dt.UTC)


class ScriptedSMTP:
    """An aiosmtpd handler that accepts mail and misbehaves on cue."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []  # (recipient, raw message)
        self.down_after: int | None = None  # drop the connection at MAIL once this many were accepted
        self.drop_after_data_of: set[str] = set()  # accept the message, then cut the line before replying
        self.rcpt_replies: dict[str, str] = {}  # recipient → reply (e.g. 550)
        self.data_replies: list[str] = []  # replies used, in turn, instead of 250 at end of DATA
        self.data_reply_for: dict[str, str] = {}  # recipient → reply at end of DATA (e.g. 552 mailbox full)
        self.rcpt_count = 0  # RCPT TO commands seen, answered or refused
        self.data_delay = 0.0  # seconds taken before the reply to the end of DATA (a server checking the message)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            down = self.down_after is not None and len(self.messages) >= self.down_after
        if down:
            server.transport.close()
            return "421 going away"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_count += 1
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            for rcpt in envelope.rcpt_tos:
                if rcpt in self.data_reply_for:
                    return self.data_reply_for[rcpt]
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt, envelope.original_content or envelope.content))
        if set(envelope.rcpt_tos) & self.drop_after_data_of:
            server.transport.close()
        return "250 Message accepted"

    def copies(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rcpt, _ in self.messages:
            counts[rcpt] = counts.get(rcpt, 0) + 1
        return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    issue = IssueDocument.load(SAMPLE_ISSUE).issue(SETTINGS)
    out = tmp_path_factory.mktemp("build")
    build(issue, SETTINGS, out, ("email", "text", "pdf"))
    return issue, out


def mail_settings(smtp, **changes):
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "security": "none",
        "timeout": 5,
        "retry_base": 0.01,
        "max_attempts": 5,
        **changes,
    }
    return dataclasses.replace(SETTINGS.mail, **values)


def recipients(n: int) -> list[Recipient]:
    return [Recipient(f"mottaker{i:03d}@example.org", f"Mottaker {i} Ødegård") for i in range(n)]


def send(store, prepared_mail, settings, **kw):
    return run_send(store, "2024-q2", prepared_mail, settings, SMTPTransport(settings, password=""), **kw)


def test_everyone_gets_one_copy(smtp, prepared, tmp_path):
    issue, out = prepared
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(25), NOW)
        report = send(store, prepare(issue, out), mail_settings(smtp))
        assert report.sent == 25 and send_counts(store, "2024-q2")["sent"] == 25
        again = send(store, prepare(issue, out), mail_settings(smtp))
    assert again.sent == 0
    assert smtp.copies() == {r.email: 1 for r in recipients(25)}


def test_a_server_that_goes_away_after_40_percent_then_a_rerun_sends_exactly_the_rest(smtp, prepared, tmp_path):
    from newsletter.mail.transport import ServerUnavailable

    issue, out = prepared
    smtp.down_after = 10
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(25), NOW)
        with pytest.raises(ServerUnavailable, match=r"the server failed \(connection lost"):
            send(store, prepare(issue, out), mail_settings(smtp, max_attempts=2, max_outage=0.2))
        counts = send_counts(store, "2024-q2")
        assert counts["sent"] == 10 and counts["pending"] == 15  # the server's outage cost nobody an attempt
        assert {row[0] for row in store.db.execute("SELECT attempts FROM sends WHERE state = 'pending'")} == {0}
        smtp.down_after = None
        second = send(store, prepare(issue, out), mail_settings(smtp))
        assert second.sent == 15
    assert smtp.copies() == {r.email: 1 for r in recipients(25)}


def test_421_and_451_are_retried_and_nothing_is_marked_sent_that_was_not(smtp, prepared, tmp_path):
    issue, out = prepared
    smtp.data_replies = ["451 4.3.0 try again later", "421 4.3.2 service shutting down", "451 again"]
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(6), NOW)
        report = send(store, prepare(issue, out), mail_settings(smtp))
        assert report.temp_failed == 2  # the 421 is the server's: a pause, not the recipient's attempt
        assert send_counts(store, "2024-q2")["sent"] == 6
        sent_rows = [r[0] for r in store.db.execute("SELECT email FROM sends WHERE state = 'sent'")]
    assert sorted(smtp.copies()) == sorted(sent_rows)
    assert set(smtp.copies().values()) == {1}


def test_a_long_wait_for_a_retry_is_said_not_waited_out_in_silence(smtp, prepared, tmp_path, monkeypatch, caplog):
    """A greylisting server (451) makes the run wait for its retry: outside a terminal that looked hung."""
    import newsletter.mail.send as sending

    monkeypatch.setattr(sending, "LONG_WAIT", 0.01)  # the test's retry waits 0.05 s, not minutes
    issue, out = prepared
    smtp.data_replies = ["451 4.7.1 greylisted, try again later"]
    with caplog.at_level("WARNING", logger="newsletter.mail.send"), Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(1), NOW)
        report = send(store, prepare(issue, out), mail_settings(smtp, retry_base=0.05))
    assert report.sent == 1
    assert any(
        "1 recipient deferred by the server (4xx): waiting" in record.getMessage()
        and "Ctrl-C stops the run" in record.getMessage()
        for record in caplog.records
    ), caplog.text


def test_a_550_bounces_that_recipient_and_the_others_are_sent(smtp, prepared, tmp_path):
    issue, out = prepared
    bad = "mottaker002@example.org"
    smtp.rcpt_replies[bad] = "550 5.1.1 no such user"
    bounced = []
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(5), NOW)
        report = send(
            store,
            prepare(issue, out),
            mail_settings(smtp),
            on_bounce=lambda db, address, reply: bounced.append((address, reply)),
        )
        row = store.db.execute("SELECT state, last_reply FROM sends WHERE email = ?", (bad,)).fetchone()
    assert report.sent == 4 and report.failed == 1
    assert row[0] == "failed" and "550 5.1.1 no such user" in row[1]
    assert bounced == [(bad, row[1])]
    assert bad not in smtp.copies()


def test_a_connection_cut_after_the_data_is_unknown_and_not_resent_unless_asked(smtp, prepared, tmp_path):
    issue, out = prepared
    cut = "mottaker001@example.org"
    smtp.drop_after_data_of = {cut}
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(4), NOW)
        report = send(store, prepare(issue, out), mail_settings(smtp))
        assert report.unknown == 1 and report.sent == 3
        smtp.drop_after_data_of = set()
        again = send(store, prepare(issue, out), mail_settings(smtp))
        assert again.sent == 0 and again.skipped_unknown == 1
        forced = send(store, prepare(issue, out), mail_settings(smtp), resend_unknown=True)
        assert forced.sent == 1
    assert smtp.copies()[cut] == 2  # the server had it: exactly why resending is the editor's call


def test_a_slow_reply_to_the_end_of_the_data_is_waited_for_as_rfc_5321_says(smtp, prepared, tmp_path):
    """RFC 5321 4.5.3.2.6: a client waits minutes for the reply to the end of the data, not the few seconds
    every other reply gets; a wait shorter than the server's check says why the outcome is unknown."""
    issue, out = prepared
    smtp.data_delay = 0.6
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(2), NOW)
        waited = send(store, prepare(issue, out), mail_settings(smtp, timeout=0.3, data_timeout=2.0))
        assert waited.sent == 2 and waited.unknown == 0
    with Store(tmp_path / "short.db") as store:
        freeze_recipients(store, "2024-q2", recipients(1), NOW)
        report = send(store, prepare(issue, out), mail_settings(smtp, timeout=0.3, data_timeout=0.3))
        assert report.unknown == 1
        ((address, state, reply, message_id),) = store.send_failures("2024-q2")
    assert state == "unknown" and reply == (
        "no reply to the end of the message data within 0.3 s; it may or may not have arrived (a server that "
        "checks messages before it answers may need a longer smtp.data_timeout)"
    )
    assert message_id.startswith("<2024-q2.") and message_id.endswith("@politiet.no>")  # to find in its log


def test_a_run_killed_while_sending_leaves_unknown_not_a_second_copy(smtp, prepared, tmp_path):
    issue, out = prepared
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(3), NOW)
        store.db.execute("UPDATE sends SET state = 'sending' WHERE position = 0")  # as kill -9 leaves it
        report = send(store, prepare(issue, out), mail_settings(smtp))
        assert report.sent == 2
        assert send_counts(store, "2024-q2")["unknown"] == 1
    assert "mottaker000@example.org" not in smtp.copies()


def test_a_later_run_adds_the_recipients_not_yet_in_the_ledger_and_keeps_the_others(tmp_path):
    with Store(tmp_path / "n.db") as store:
        assert freeze_recipients(store, "2024-q2", recipients(3), NOW) == 3
        store.db.execute("UPDATE sends SET state = 'sent' WHERE position = 0")
        assert freeze_recipients(store, "2024-q2", recipients(5), NOW) == 2
        assert send_counts(store, "2024-q2")["sent"] == 1 and send_counts(store, "2024-q2")["pending"] == 4
        positions = [row[0] for row in store.db.execute("SELECT position FROM sends ORDER BY position")]
    assert positions == [0, 1, 2, 3, 4]


def test_a_second_send_of_the_same_issue_refuses_to_start(tmp_path):
    from newsletter.errors import NewsletterError

    with send_lock(tmp_path, "2024-q2"):
        with pytest.raises(NewsletterError, match="a send of 2024-q2 is already running") as caught:
            with send_lock(tmp_path, "2024-q2"):
                pass
    assert str(caught.value).endswith("wait for it, or check `newsletter send status 2024-q2`")
    with send_lock(tmp_path, "2024-q2-outbox"), pytest.raises(NewsletterError) as dry:
        with send_lock(tmp_path, "2024-q2-outbox"):
            pass
    assert str(dry.value).endswith("`newsletter send status 2024-q2 --dry-run`")
    with send_lock(tmp_path, "2024-q2"):
        pass  # free again


def test_messages_are_well_formed(smtp, prepared, tmp_path, monkeypatch):
    issue, out = prepared
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "test-secret")
    settings = mail_settings(smtp, unsubscribe_url="https://kom.example.no/avmelding")
    people = [Recipient("åse@blåbær.no", "Åse Ødegård"), Recipient("per@example.org", "Per \r\nBcc: x@evil")]
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", people, NOW)
        store.db.executemany(
            "INSERT INTO contacts (email, email_key, name, added_at) VALUES (?, ?, ?, ?)",
            [(p.email, p.email, p.name, NOW.isoformat()) for p in people],
        )
        store.db.execute("UPDATE sends SET contact_id = (SELECT id FROM contacts WHERE contacts.email = sends.email)")
        assert send(store, prepare(issue, out, attach_pdf=True), settings).sent == 2
    ids = set()
    for _rcpt, raw in smtp.messages:
        for line in raw.split(b"\r\n"):
            assert len(line) <= 998
        message = email.message_from_bytes(raw, policy=policy.default)
        for header in ("From", "Date", "Message-ID", "To", "Subject"):
            assert len(message.get_all(header)) == 1, header
        assert "Bcc" not in message
        ids.add(message["Message-ID"])
        assert message["Subject"] == "Nyhetsbrev fra KOM – april–juni 2024"
        unsubscribe = raw.split(b"List-Unsubscribe: ", 1)[1].split(b"\r\n", 1)[0]
        assert b"=?" not in unsubscribe and unsubscribe.startswith(b"<https://kom.example.no/avmelding?")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/mixed"
        alternative, attachment = message.iter_parts()
        assert alternative.get_content_type() == "multipart/alternative"
        text, html = alternative.iter_parts()
        assert "samarbeidsaktører" in text.get_content() and "samarbeidsaktører" in html.get_content()
        assert attachment.get_filename() == "2024-q2.pdf"
        assert "%%" not in text.get_content() and "%%" not in html.get_content()
        for part in (text, html):
            assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert "<img" not in html.get_content()  # no tracking pixel
    assert len(ids) == 2
    by_rcpt = {rcpt: email.message_from_bytes(raw, policy=policy.default) for rcpt, raw in smtp.messages}
    assert str(by_rcpt["åse@xn--blbr-roah.no"]["To"]) == "Åse Ødegård <åse@xn--blbr-roah.no>"


def test_the_message_id_is_stable_for_an_issue_and_a_recipient(prepared):
    issue, out = prepared
    first = compose(prepare(issue, out), SETTINGS.mail, "per@example.org")
    second = compose(prepare(issue, out), SETTINGS.mail, "PER@example.org")
    other = compose(prepare(issue, out), SETTINGS.mail, "kari@example.org")
    assert first["Message-ID"] == second["Message-ID"] != other["Message-ID"]


def test_the_outbox_gets_one_eml_per_recipient(prepared, tmp_path):
    issue, out = prepared
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(3), NOW)
        report = run_send(store, "2024-q2", prepare(issue, out), SETTINGS.mail, OutboxTransport(tmp_path / "outbox"))
    assert report.sent == 3
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert [f.name for f in files] == [f"mottaker00{i}@example.org.eml" for i in range(3)]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "mottaker000@example.org"


def test_several_connections_share_the_ledger_and_send_each_message_once(smtp, prepared, tmp_path):
    issue, out = prepared
    settings = mail_settings(smtp, connections=3)
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(30), NOW)
        report = run_send(
            store,
            "2024-q2",
            prepare(issue, out),
            settings,
            SMTPTransport(settings, password=""),
            transport_factory=lambda: SMTPTransport(settings, password=""),
        )
        assert report.sent == 30 and send_counts(store, "2024-q2")["sent"] == 30
    assert smtp.copies() == {r.email: 1 for r in recipients(30)}


def test_a_brake_on_one_connection_stops_every_connection_of_the_run(smtp, prepared, tmp_path):
    """A policy refusal on one connection stops the run: the others stop at their next recipient."""
    from newsletter.mail.send import RunStopped

    issue, out = prepared
    settings = mail_settings(smtp, connections=3)
    # The first recipient (connection 0's) meets the policy refusal; the other connections' do not.
    smtp.rcpt_replies = {recipients(1)[0].email: "550 5.7.1 Relaying denied"}
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(60), NOW)
        with pytest.raises(RunStopped, match="policy refusal"):
            run_send(
                store,
                "2024-q2",
                prepare(issue, out),
                settings,
                SMTPTransport(settings, password=""),
                transport_factory=lambda: SMTPTransport(settings, password=""),
            )
        counts = send_counts(store, "2024-q2")
    assert counts["failed"] == 0  # nobody charged, nobody bounced
    # The other two connections stopped soon after, not after their 20 each (40 copies): how many got
    # through before the brake reached them depends on the scheduler (11 on a loaded machine).
    assert len(smtp.copies()) < 20 and counts["pending"] > 40


def test_the_rate_limit_spaces_messages():
    from newsletter.mail.send import RateLimit

    slept = []
    limit = RateLimit(per_second=10, per_hour=0, sleep=slept.append)
    for _ in range(3):
        limit.wait()
    assert len(slept) == 2 and all(0.05 < s <= 0.1 for s in slept)
    hourly = RateLimit(per_second=0, per_hour=3600, sleep=slept.append)
    assert hourly.gap == 1.0


# ---------------------------------------------------------------------- fixes from review


def test_resend_unknown_sends_once_more_and_never_loops(smtp, prepared, tmp_path):
    """A recipient whose delivery stays unknown gets at most one more copy per run with --resend-unknown."""
    issue, out = prepared
    cut = "mottaker001@example.org"
    smtp.drop_after_data_of = {cut}
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(3), NOW)
        send(store, prepare(issue, out), mail_settings(smtp))
        report = send(store, prepare(issue, out), mail_settings(smtp), resend_unknown=True)
        assert report.unknown == 1 and send_counts(store, "2024-q2")["unknown"] == 1
    assert smtp.copies()[cut] == 2


def test_a_server_that_never_greets_names_the_timeout_setting(tmp_path):
    """A port that takes the connection and says nothing (a slow server, a proxy swallowing the greeting)."""
    from newsletter.mail.transport import ServerUnavailable

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = dataclasses.replace(
            SETTINGS.mail, smtp_host="127.0.0.1", smtp_port=silent.getsockname()[1], security="none", timeout=0.3
        )
        with pytest.raises(ServerUnavailable) as failed:
            SMTPTransport(settings, password="").open()
    assert "a slow server may need a longer smtp.timeout (now 0.3 s)" in str(failed.value)


def test_a_server_that_is_down_stops_the_run_without_costing_attempts(prepared, tmp_path):
    from newsletter.mail.transport import ServerUnavailable

    issue, out = prepared
    port = free_port()  # nothing listens there
    settings = dataclasses.replace(
        SETTINGS.mail, smtp_host="127.0.0.1", smtp_port=port, security="none", timeout=2, max_outage=0
    )
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(4), NOW)
        for _ in range(6):  # more runs than max_attempts: an outage must not fail anybody
            with pytest.raises(ServerUnavailable, match="connection refused: nothing takes connections on that port"):
                run_send(store, "2024-q2", prepare(issue, out), settings, SMTPTransport(settings, password=""))
        rows = [tuple(row) for row in store.db.execute("SELECT state, attempts FROM sends")]
    assert rows == [("pending", 0)] * 4
    handler = ScriptedSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with Store(tmp_path / "n.db") as store:
            report = run_send(store, "2024-q2", prepare(issue, out), settings, SMTPTransport(settings, password=""))
    finally:
        controller.stop()
    assert report.sent == 4 and set(handler.copies().values()) == {1}


def test_a_5xx_for_the_message_itself_stops_the_run_and_bounces_nobody(smtp, prepared, tmp_path):
    from newsletter.mail.send import RunStopped

    issue, out = prepared
    smtp.data_replies = ["554 5.6.0 message content rejected"]
    bounced = []
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(5), NOW)
        with pytest.raises(RunStopped, match="refused the newsletter itself"):
            send(store, prepare(issue, out), mail_settings(smtp), on_bounce=lambda *a: bounced.append(a))
        counts = send_counts(store, "2024-q2")
    assert bounced == [] and counts["pending"] == 5 and counts["failed"] == 0


def test_recipients_refused_alike_in_a_row_stop_the_run_and_bounce_nobody(smtp, prepared, tmp_path):
    from newsletter.mail.send import RunStopped

    issue, out = prepared
    for person in recipients(15):
        smtp.rcpt_replies[person.email] = f"550 <{person.email}>: Recipient address rejected: Access denied"
    bounced = []
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(15), NOW)
        with pytest.raises(RunStopped, match="refused 3 different recipients in a row alike"):
            send(store, prepare(issue, out), mail_settings(smtp), on_bounce=lambda *a: bounced.append(a))
        counts = send_counts(store, "2024-q2")
        attempts = {row[0] for row in store.db.execute("SELECT attempts FROM sends")}
    assert counts["failed"] == 0 and counts["pending"] == 15 and attempts == {0} and bounced == []


def _dead(smtp, addresses) -> None:
    for address in addresses:
        smtp.rcpt_replies[address] = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


def test_dead_addresses_in_a_row_after_mail_was_taken_are_bounced_without_stopping(smtp, prepared, tmp_path):
    """An organisation gone, its addresses next to each other in the list: a server that has taken this issue
    refusing them with 5.1.1 (the address's code) is telling of the addresses, not of itself."""
    issue, out = prepared
    people = recipients(8)
    dead = [p.email for p in people[2:6]]
    _dead(smtp, dead)
    bounced = []
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", people, NOW)
        report = send(store, prepare(issue, out), mail_settings(smtp), on_bounce=lambda *a: bounced.append(a[1]))
        counts = send_counts(store, "2024-q2")
    assert report.sent == 4 and counts["failed"] == 4 and counts["pending"] == 0
    assert sorted(bounced) == sorted(dead)


def test_dead_addresses_at_the_head_stop_one_run_only_and_are_bounced_by_the_next(smtp, prepared, tmp_path):
    """Refused alike before the server took any mail, they could be the server refusing everyone: the run
    stops, but they come last in the next run, which mails the rest and then, the server having taken other
    mail, marks them bounced; nobody is mailed twice."""
    from newsletter.mail.send import RunStopped

    issue, out = prepared
    people = recipients(8)
    dead = [p.email for p in people[:3]]
    _dead(smtp, dead)
    bounced = []
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", people, NOW)
        with pytest.raises(RunStopped) as stopped:
            send(store, prepare(issue, out), mail_settings(smtp), on_bounce=lambda *a: bounced.append(a[1]))
        assert f"{', '.join(dead)} now come last, so the next run tries the others first" in str(stopped.value)
        assert send_counts(store, "2024-q2")["sent"] == 0 and bounced == []
        report = send(store, prepare(issue, out), mail_settings(smtp), on_bounce=lambda *a: bounced.append(a[1]))
        counts = send_counts(store, "2024-q2")
    assert report.sent == 5 and counts["sent"] == 5 and counts["failed"] == 3 and counts["pending"] == 0
    assert sorted(bounced) == sorted(dead)
    copies = smtp.copies()
    assert all(copies.get(p.email) == 1 for p in people if p.email not in dead), copies


def test_a_contact_who_unsubscribes_after_the_send_started_is_not_mailed(smtp, prepared, tmp_path):
    issue, out = prepared
    people = recipients(3)
    with Store(tmp_path / "n.db") as store:
        store.db.executemany(
            "INSERT INTO contacts (email, email_key, name, added_at) VALUES (?, ?, ?, ?)",
            [(p.email, p.email, p.name, NOW.isoformat()) for p in people],
        )
        ids = dict(store.db.execute("SELECT email, id FROM contacts").fetchall())
        freeze_recipients(store, "2024-q2", [Recipient(p.email, p.name, ids[p.email]) for p in people], NOW)
        store.db.execute("UPDATE contacts SET status = 'unsubscribed' WHERE email = ?", (people[1].email,))
        report = send(store, prepare(issue, out), mail_settings(smtp))
        reply = store.db.execute("SELECT last_reply FROM sends WHERE email = ?", (people[1].email,)).fetchone()[0]
    assert report.sent == 2 and people[1].email not in smtp.copies()
    assert reply == "skipped: unsubscribed after the send started"


def test_encoded_words_stay_within_75_characters(prepared):
    import re

    from newsletter.mail.compose import message_bytes

    issue, out = prepared
    name = "Åse Ødegård-Ææææ med et svært langt navn som går over flere linjer i hodet"
    raw = message_bytes(compose(prepare(issue, out), SETTINGS.mail, "ase@example.org", name))
    words = re.findall(rb"=\?[^?]+\?[bqBQ]\?[^?]*\?=", raw.split(b"\r\n\r\n")[0])
    assert words and max(len(w) for w in words) <= 75
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["To"].addresses[0].display_name == name


def test_one_click_links_need_the_secret_and_can_be_verified(prepared, monkeypatch):
    from newsletter.errors import NewsletterError
    from newsletter.mail.compose import unsubscribe_links, verify_unsubscribe_url

    settings = dataclasses.replace(SETTINGS.mail, unsubscribe_url="https://kom.example.no/avmelding")
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET", raising=False)
    with pytest.raises(NewsletterError, match="NEWSLETTER_UNSUBSCRIBE_SECRET"):
        unsubscribe_links("per@example.org", settings)
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "s3cret")
    _mailto, url = unsubscribe_links("per@example.org", settings)
    assert verify_unsubscribe_url(url, settings) == "per@example.org"
    forged = url.replace("per%40example.org", "kari%40example.org")
    with pytest.raises(NewsletterError, match="wrong signature"):
        verify_unsubscribe_url(forged, settings)


def test_a_sender_passes_typed_values_from_phase_to_phase(smtp, prepared, tmp_path):
    """`Sender`'s phases on a real server: due rows → screen → deliver (a Delivery) → record (the ledger)."""
    from newsletter.mail.compose import MessageTemplate
    from newsletter.mail.send import Queued, Sender, SendRun

    issue, out = prepared
    refused = "mottaker001@example.org"
    smtp.rcpt_replies[refused] = "550 5.1.1 no such user"
    settings = mail_settings(smtp)
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(2), NOW)
        run = SendRun("2024-q2", MessageTemplate(prepare(issue, out), settings), settings, ("pending",))
        sender = Sender(run, store, SMTPTransport(settings, password=""))
        batch = sender.due()
        assert batch == [Queued("mottaker000@example.org", 0, None), Queued(refused, 0, None)]
        assert [sender.screen(row) for row in batch] == [None, None]
        deliveries = [sender.deliver(row) for row in batch]
        assert [d.verdict for d in deliveries] == ["accepted", "refused"]
        assert deliveries[0].reply.startswith("250") and "550 5.1.1 no such user" in deliveries[1].reply
        for row, delivery in zip(batch, deliveries):
            sender.record(row, delivery)
        sender.drain()  # nothing is due any more: commits the held `sent` and closes the connection
        run.settle(store, confirmed=True)  # the server took a message: the held refusal is a bounce
        assert send_counts(store, "2024-q2")["sent"] == 1 and send_counts(store, "2024-q2")["failed"] == 1
    assert (run.report.sent, run.report.failed) == (1, 1)
    assert smtp.copies() == {"mottaker000@example.org": 1}


def test_send_status_counts_every_state_and_lists_the_undelivered_in_ledger_order(tmp_path):
    """The core of `send status`: a typed value, the same whether the command line prints it or not."""
    from newsletter.mail.service import SendStatus, Undelivered, send_status

    with Store(tmp_path / "n.db") as store:
        assert send_status(store, "2024-q2") == SendStatus(
            "2024-q2", dict.fromkeys(("pending", "sending", "sent", "temp_failed", "failed", "unknown"), 0), []
        )
        freeze_recipients(store, "2024-q2", recipients(5), NOW)
        freeze_recipients(store, "2024-q2:outbox", recipients(2), NOW)
        for email, state, reply in [
            ("mottaker003@example.org", "failed", "550 5.1.1 no such user"),
            ("mottaker000@example.org", "sent", "250 OK"),
            (
                "mottaker001@example.org",
                "unknown",
                "connection lost while the message data was sent; it may or may not have arrived",
            ),
            ("mottaker002@example.org", "temp_failed", "451 4.3.0 try again later"),
        ]:
            store.set_send_state("2024-q2", email, state, NOW, reply=reply)
        store.set_send_state("2024-q2", "mottaker001@example.org", "unknown", NOW, message_id="<a.b@example.org>")
        status = send_status(store, "2024-q2")
        dry = send_status(store, "2024-q2", dry_run=True)
    assert status.issue == "2024-q2"
    assert status.counts == {"pending": 1, "sending": 0, "sent": 1, "temp_failed": 1, "failed": 1, "unknown": 1}
    assert list(status.counts) == ["pending", "sending", "sent", "temp_failed", "failed", "unknown"]
    assert status.undelivered == [
        Undelivered(
            "mottaker001@example.org",
            "unknown",
            "connection lost while the message data was sent; it may or may not have arrived",
            message_id="<a.b@example.org>",
        ),
        Undelivered("mottaker002@example.org", "temp_failed", "451 4.3.0 try again later"),
        Undelivered("mottaker003@example.org", "failed", "550 5.1.1 no such user"),
    ]
    assert status.to_json()["failures"][0]["message_id"] == "<a.b@example.org>"
    assert status.to_json()["failures"][2] == {
        "email": "mottaker003@example.org",
        "state": "failed",
        "reply": "550 5.1.1 no such user",
    }
    assert dry.issue == "2024-q2:outbox" and dry.counts["pending"] == 2 and dry.undelivered == []


class OutageSMTP(ScriptedSMTP):
    """Answers `421 4.3.2 System not accepting network messages` and hangs up at every MAIL FROM until
    `until` (time.monotonic()), as a relay restarting for a while does."""

    def __init__(self, seconds: float):
        super().__init__()
        self.until = time.monotonic() + seconds
        self.refusals = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if time.monotonic() < self.until:
            self.refusals += 1
            return "421 4.3.2 System not accepting network messages"
        return await super().handle_MAIL(server, session, envelope, address, mail_options)


def test_a_421_outage_pauses_the_run_once_and_costs_no_recipient_an_attempt(prepared, tmp_path):
    issue, out = prepared
    handler = OutageSMTP(seconds=1.0)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        settings = mail_settings(handler, retry_base=0.05, max_attempts=2, max_outage=30)
        with Store(tmp_path / "n.db") as store:
            freeze_recipients(store, "2024-q2", recipients(20), NOW)
            report = send(store, prepare(issue, out), settings)
            attempts = {row[0] for row in store.db.execute("SELECT attempts FROM sends")}
    finally:
        controller.stop()
    assert report.sent == 20 and report.temp_failed == 0 and report.failed == 0
    assert attempts == {1}  # the outage spent nobody's attempts: each has the one that got through
    assert 1 <= handler.refusals <= 8  # the run backed off as a whole, not once per recipient
    assert handler.copies() == {r.email: 1 for r in recipients(20)}


def test_a_non_ascii_local_part_on_a_server_without_smtputf8_fails_once_with_the_reason(prepared, tmp_path):
    issue, out = prepared
    handler = ScriptedSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=False)
    controller.start()
    handler.port = controller.port
    people = [Recipient("pér@example.org", "Pér"), *recipients(2)]
    bounced = []
    started = time.monotonic()
    try:
        with Store(tmp_path / "n.db") as store:
            freeze_recipients(store, "2024-q2", people, NOW)
            report = send(store, prepare(issue, out), mail_settings(handler), on_bounce=lambda *a: bounced.append(a))
            row = store.db.execute("SELECT state, attempts, last_reply FROM sends WHERE position = 0").fetchone()
    finally:
        controller.stop()
    assert tuple(row) == (
        "failed",
        1,
        "not sent: 127.0.0.1 does not offer SMTPUTF8 (RFC 6531), which the letters outside ASCII before the @ "
        "of pér@example.org need; send through a server that offers it, or ask the person for another address, "
        "then `send --retry-failed`",
    )
    assert report.sent == 2 and bounced == [] and time.monotonic() - started < 10


def test_a_non_ascii_local_part_goes_out_with_smtputf8_where_the_server_offers_it(smtp, prepared, tmp_path):
    issue, out = prepared
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", [Recipient("pér@example.org", "Pér")], NOW)
        report = send(store, prepare(issue, out), mail_settings(smtp))
    assert report.sent == 1 and smtp.copies() == {"pér@example.org": 1}


@pytest.mark.parametrize(
    ("code", "text", "step", "reason"),
    [
        (550, "5.1.1 no such user", "RCPT TO", "address"),
        (550, "5.7.1 Relaying denied", "RCPT TO", "policy"),
        (530, "5.7.0 Authentication required", "MAIL FROM", "policy"),
        (553, "5.1.8 sender domain does not exist", "MAIL FROM", "policy"),
        (552, "5.2.2 Mailbox full", "end of DATA", "mailbox"),
        (552, "5.2.2 Mailbox full", "RCPT TO", "mailbox"),
        (552, "Requested mail action aborted: exceeded storage allocation", "RCPT TO", "mailbox"),
        # At the end of DATA a bare 552 or 5.2.3 may be a size limit for everyone (RFC 1870): held, not failed at once.
        (552, "Requested mail action aborted: exceeded storage allocation", "end of DATA", "size"),
        (552, "Message size exceeds fixed maximum message size", "end of DATA", "size"),
        (552, "5.2.3 Message length exceeds administrative limit", "end of DATA", "size"),
        (552, "5.2.3 Message length exceeds administrative limit", "RCPT TO", "mailbox"),  # no SIZE declared
        (552, "5.3.4 Message too big for system", "end of DATA", "message"),
        (552, "Requested mail action aborted: exceeded storage allocation", "MAIL FROM", "policy"),
        (550, "5.2.1 mailbox disabled", "RCPT TO", "mailbox"),
        (554, "5.6.0 message content rejected", "end of DATA", "message"),
        (550, "5.1.1 no such user", "end of DATA", "address"),
        (550, "Access denied", "RCPT TO", "unclassified"),
        (550, "4.2.0 contradictory", "RCPT TO", "unclassified"),
    ],
)
def test_a_permanent_reply_is_classified_by_its_rfc_3463_code(code, text, step, reason):
    from newsletter.mail.transport import classify

    assert classify(code, text, step) == reason


def test_a_refused_login_stops_the_run_at_once_instead_of_waiting_out_an_outage(prepared, tmp_path):
    from aiosmtpd.smtp import AuthResult

    from newsletter.mail.transport import LoginRefused

    def refuse_everyone(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    issue, out = prepared
    handler = ScriptedSMTP()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), authenticator=refuse_everyone, auth_require_tls=False
    )
    controller.start()
    handler.port = controller.port
    settings = mail_settings(handler, username="kom", max_outage=300)
    started = time.monotonic()
    try:
        with Store(tmp_path / "n.db") as store:
            freeze_recipients(store, "2024-q2", recipients(3), NOW)
            with pytest.raises(LoginRefused, match="login refused"):
                run_send(store, "2024-q2", prepare(issue, out), settings, SMTPTransport(settings, password="feil"))
            rows = {tuple(row) for row in store.db.execute("SELECT state, attempts FROM sends")}
    finally:
        controller.stop()
    assert rows == {("pending", 0)} and time.monotonic() - started < 10


def test_each_address_is_validated_once_per_send(smtp, prepared, tmp_path, monkeypatch):
    """email-validator runs once per recipient in a send (envelope, To, the one-click link and its
    signature all share it), not once per header as it did: at 10,000 recipients that was seconds."""
    from newsletter.mail import compose as compose_module

    issue, out = prepared
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "test-secret")
    settings = mail_settings(smtp, unsubscribe_url="https://kom.example.no/avmelding")
    for cached in (compose_module._validated, compose_module.smtp_address, compose_module.signing_form):
        cached.cache_clear()
    real, seen = compose_module.validate_email, []

    def counting(address, **kwargs):
        seen.append(address)
        return real(address, **kwargs)

    monkeypatch.setattr(compose_module, "validate_email", counting)
    people = recipients(30)
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", people, NOW)
        report = send(store, prepare(issue, out), settings)
    assert report.sent == 30
    per_address = {p.email: seen.count(p.email) for p in people}
    assert set(per_address.values()) == {1}, per_address
    assert len(seen) <= 30 + 3  # and the sender's, the reply-to's and the placeholder's, once each


def test_dot_stuffing_is_smtplibs():
    """RFC 5321 4.5.2: the fast dot-stuffing gives what smtplib's regular expression gives, on every
    arrangement of dots and line ends."""
    import random
    import re

    from newsletter.mail.transport import dot_stuff

    reference = re.compile(rb"(?m)^\.")
    samples = [b"", b".", b".\r\n.", b"a\r\n..\r\n.\r\n", b"\n.\n", b"x.\r\ny"]
    chooser = random.Random(12)
    samples += [bytes(chooser.choice(b".\r\na") for _ in range(24)) for _ in range(5000)]
    for data in samples:
        assert dot_stuff(data) == reference.sub(b"..", data), data


def test_a_row_left_sending_by_a_dead_run_says_so_not_an_older_reply(tmp_path):
    """After kill -9 the row is `unknown` with the run's death as its reason, not an earlier attempt's refusal."""
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(1), NOW)
        email = "mottaker000@example.org"
        store.set_send_state("2024-q2", email, "temp_failed", NOW, reply="RCPT TO: 450 4.2.0 try later")
        store.set_send_state("2024-q2", email, "sending", NOW)
        store.mark_interrupted("2024-q2")
        [(address, state, reply, _message_id)] = store.send_failures("2024-q2")
    assert (address, state) == (email, "unknown")
    assert reply.startswith("the run stopped while this message was being sent")


def test_the_progress_total_is_what_the_run_will_try_not_a_retry_due_in_an_hour(prepared, tmp_path):
    """A temporary refusal whose backoff falls due in an hour is a later run's: the bar's total leaves it
    out and is reached."""
    issue, out = prepared
    events: list[tuple[str, int]] = []
    with Store(tmp_path / "n.db") as store:
        freeze_recipients(store, "2024-q2", recipients(3), NOW)
        later = dt.datetime.now(dt.UTC).timestamp() + 3600
        store.set_send_state(
            "2024-q2", recipients(3)[1].email, "temp_failed", NOW, reply="RCPT TO: 450 4.2.0 try later", next_at=later
        )
        report = run_send(
            store,
            "2024-q2",
            prepare(issue, out),
            SETTINGS.mail,
            OutboxTransport(tmp_path / "outbox"),
            progress=lambda event, value: events.append((event, value)),
        )
    assert events[0] == ("start", 2)
    assert report.sent == 2 and sum(value for event, value in events[1:]) == 2


def test_a_server_that_greets_with_421_is_said_to_refuse_service_not_to_be_unreachable(tmp_path):
    """RFC 5321 3.1: a server may greet with 421 (shutting down) or 554. It answered: "cannot connect" with a
    Python tuple of bytes said neither, and named the server twice in the run's warning."""
    import socketserver

    from newsletter.mail.transport import ServerUnavailable

    class Refusing(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.sendall(b"421 4.3.2 Service shutting down\r\n")

    with socketserver.TCPServer(("127.0.0.1", 0), Refusing) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.server_address[1]
        settings = dataclasses.replace(SETTINGS.mail, smtp_host="127.0.0.1", smtp_port=port, security="none", timeout=2)
        try:
            with pytest.raises(ServerUnavailable) as raised:
                SMTPTransport(settings, password="").open()
        finally:
            server.shutdown()
    assert str(raised.value) == (
        f"127.0.0.1:{port}: the server answered but refused service (421 4.3.2 Service shutting down); "
        "nothing was counted against the recipients"
    )

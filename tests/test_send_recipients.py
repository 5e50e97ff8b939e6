"""Who a send covers, through the command line against a real SMTP server (aiosmtpd): every active contact
not yet mailed, run after run; `--tag` limits one run only; the counts are said before sending."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import time

import pytest

from newsletter.store import Store
from tests.test_send_cli import invoke, mailing_workspace


@pytest.fixture
def mailroom(sample_workspace, smtp):
    """A workspace whose newsletter.yaml points at the test server, with 6 contacts (odd ones tagged helse)."""
    return mailing_workspace(sample_workspace, smtp.port, 6, mail="retry_base: 0.01")


def send(root, *args):
    return invoke(root, "send", "2024-q2", "--yes", *args)


def states(root) -> dict[str, str]:
    with Store(root / "var" / "newsletter.db") as store:
        return dict(store.db.execute("SELECT email, state FROM sends WHERE issue = '2024-q2'").fetchall())


def test_a_tag_limits_one_run_and_the_next_run_mails_everyone_else(mailroom, smtp):
    tagged = send(mailroom, "--tag", "helse")
    assert tagged.exit_code == 0, tagged.output
    assert "2024-q2: 3 new, 0 pending, 0 to retry with tag helse" in tagged.stdout
    assert sorted(smtp.copies()) == [f"person{i:03d}@example.org" for i in (1, 3, 5)]
    everyone = send(mailroom)
    assert everyone.exit_code == 0, everyone.output
    assert "2024-q2: 3 new, 0 pending, 0 to retry" in everyone.stdout
    assert "sent 3 now" in everyone.stdout
    assert smtp.copies() == {f"person{i:03d}@example.org": 1 for i in range(6)}


def test_a_contact_added_after_a_send_is_mailed_by_the_next_run_and_nobody_twice(mailroom, smtp):
    assert send(mailroom).exit_code == 0
    assert invoke(mailroom, "contacts", "add", "ny@example.org", "--name", "Ny").exit_code == 0
    again = send(mailroom)
    assert again.exit_code == 0, again.output
    assert "2024-q2: 1 new, 0 pending, 0 to retry" in again.stdout and "sent 1 now" in again.stdout
    assert smtp.copies() == {**{f"person{i:03d}@example.org": 1 for i in range(6)}, "ny@example.org": 1}


def test_a_failed_run_freezes_nothing(mailroom, smtp):
    smtp.data_replies = ["554 5.6.0 message content rejected"]  # the first run stops at its first message
    first = send(mailroom, "--tag", "politi")
    assert first.exit_code == 1 and "refused the newsletter itself" in first.stderr
    invoke(mailroom, "contacts", "add", "sen@example.org")
    second = send(mailroom)
    assert second.exit_code == 0, second.output
    assert "2024-q2: 4 new, 3 pending, 0 to retry" in second.stdout
    assert set(states(mailroom).values()) == {"sent"} and len(states(mailroom)) == 7
    assert set(smtp.copies().values()) == {1} and len(smtp.copies()) == 7


def test_without_a_terminal_and_without_yes_a_real_send_is_refused_and_nothing_is_written(mailroom, smtp):
    result = invoke(mailroom, "send", "2024-q2")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: send 2024-q2 mails 6 recipients: confirm on a terminal, or add --yes"
    )
    assert states(mailroom) == {} and smtp.copies() == {}


def test_on_a_terminal_the_send_says_what_and_where_and_asks(mailroom, smtp, monkeypatch):
    monkeypatch.setattr("newsletter.cli._stdin_is_terminal", lambda: True)
    declined = invoke(mailroom, "send", "2024-q2", input="n\n")
    assert declined.exit_code == 1 and smtp.copies() == {} and states(mailroom) == {}
    assert "subject: Nyhetsbrev fra KOM – april–juni 2024" in declined.stdout
    assert "from:    KOM.pod@politiet.no" in declined.stdout
    assert f"via:     127.0.0.1:{smtp.port}" in declined.stdout
    assert "Mail 2024-q2 to 6 recipients now? [y/N]" in declined.stdout
    assert declined.stderr == "not sent: nothing was mailed or recorded\n" and "Aborted" not in declined.output
    accepted = invoke(mailroom, "send", "2024-q2", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert len(smtp.copies()) == 6


def test_a_dry_run_and_a_test_copy_never_ask(mailroom, smtp):
    assert invoke(mailroom, "send", "2024-q2", "--dry-run").exit_code == 0
    assert invoke(mailroom, "send", "2024-q2", "--to", "redaktor@example.org").exit_code == 0
    assert smtp.copies() == {"redaktor@example.org": 1}


def test_a_test_copy_is_another_message_than_the_one_the_send_delivers(mailroom, smtp):
    """Mail systems drop a second message with a Message-ID they have seen: a test copy to an address on
    the list must not make the real issue disappear there, nor be taken for it."""
    on_the_list = EVERYONE[0]
    assert invoke(mailroom, "send", "2024-q2", "--to", on_the_list).exit_code == 0
    assert invoke(mailroom, "send", "2024-q2", "--to", on_the_list).exit_code == 0
    assert invoke(mailroom, "send", "2024-q2", "--yes").exit_code == 0
    received = [
        email.message_from_bytes(raw, policy=email.policy.default) for rcpt, raw in smtp.messages if rcpt == on_the_list
    ]
    first, second, real = received
    ids = [str(m["Message-ID"]) for m in received]
    assert len(set(ids)) == 3 and all(i.endswith("@politiet.no>") for i in ids), ids  # the sender's domain
    assert str(first["Subject"]) == "[Test] " + str(real["Subject"]) and not str(real["Subject"]).startswith("[Test]")
    # To several at once, each once; never to an address that asked for no more mail.
    both = invoke(
        mailroom, "send", "2024-q2", "--to", "a@example.org", "--to", "b@example.org", "--to", "a@example.org"
    )
    assert both.exit_code == 0 and [line.split(" sent ")[0] for line in both.stdout.splitlines()] == [
        "test copy to a@example.org",
        "test copy to b@example.org",
    ]
    assert smtp.copies()["a@example.org"] == smtp.copies()["b@example.org"] == 1
    invoke(mailroom, "contacts", "unsubscribe", EVERYONE[1])
    refused = invoke(mailroom, "send", "2024-q2", "--to", EVERYONE[1])
    assert refused.exit_code == 1 and f"{EVERYONE[1]} is unsubscribed: no test copy goes to it" in refused.stderr
    assert EVERYONE[1] not in smtp.copies() or smtp.copies()[EVERYONE[1]] == 1


# ---------------------------------------------------------------------- what each reply does to a recipient


EVERYONE = [f"person{i:03d}@example.org" for i in range(6)]


def contact_statuses(root) -> dict[str, str]:
    with Store(root / "var" / "newsletter.db") as store:
        return dict(store.db.execute("SELECT email, status FROM contacts").fetchall())


def test_relaying_denied_stops_the_run_bounces_nobody_and_the_fixed_server_mails_everyone_once(mailroom, smtp):
    smtp.rcpt_replies = dict.fromkeys(EVERYONE, "550 5.7.1 Relaying denied")
    refused = send(mailroom)
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: 127.0.0.1: the server refused person000@example.org with a policy refusal (RCPT TO: 550 5.7.1 "
        "Relaying denied); that is about the sender or the setup (RFC 3463 5.7.x: relaying denied, authentication "
        "required, sender refused), not the address: nobody was marked bounced and every recipient keeps its place; "
        "check smtp.host, smtp.username and NEWSLETTER_SMTP_PASSWORD, and that KOM.pod@politiet.no may send "
        "through this server, then run send again"
    )
    assert set(contact_statuses(mailroom).values()) == {"active"}
    assert set(states(mailroom).values()) == {"pending"}
    smtp.rcpt_replies = {}  # the editor fixed the relay settings
    fixed = send(mailroom)
    assert fixed.exit_code == 0, fixed.output
    assert "2024-q2: 0 new, 6 pending, 0 to retry" in fixed.stdout
    assert smtp.copies() == dict.fromkeys(EVERYONE, 1)


def test_a_full_mailbox_fails_that_recipient_for_this_issue_only_and_the_run_goes_on(mailroom, smtp):
    """RFC 3463 5.2.2 at the end of DATA: `failed` with the reply, the contact stays active, everyone
    else is mailed, send exits 1 (this run failed a recipient), and --retry-failed mails it later."""
    full = "person002@example.org"
    smtp.data_reply_for[full] = "552 5.2.2 Mailbox full"
    result = send(mailroom)
    assert result.exit_code == 1
    assert f"failed {full}: end of DATA: 552 5.2.2 Mailbox full" in result.stderr.splitlines()
    assert "failed ones with --retry-failed" in result.stderr
    assert sorted(smtp.copies()) == [f"person{i:03d}@example.org" for i in (0, 1, 3, 4, 5)]
    assert states(mailroom)[full] == "failed"
    assert contact_statuses(mailroom)[full] == "active"  # a full mailbox is not a bounce
    status = invoke(mailroom, "send", "status", "2024-q2").stdout
    assert f"  failed       {full}  end of DATA: 552 5.2.2 Mailbox full" in status.splitlines(), status
    again = send(mailroom)  # not tried again on its own: the mailbox is emptied by a person
    assert again.exit_code == 1 and "2024-q2: 0 new, 0 pending, 0 to retry" in again.stdout
    assert full not in smtp.copies()
    smtp.data_reply_for = {}  # the person made room
    retried = send(mailroom, "--retry-failed")
    assert retried.exit_code == 0, retried.output
    assert "1 failed recipient queued again" in retried.stdout
    assert smtp.copies() == {f"person{i:03d}@example.org": 1 for i in range(6)}


def attempts(root) -> dict[str, int]:
    with Store(root / "var" / "newsletter.db") as store:
        return dict(store.db.execute("SELECT email, attempts FROM sends WHERE issue = '2024-q2'").fetchall())


@pytest.mark.parametrize(
    "reply",
    ["552 Message size exceeds fixed maximum message size", "552 5.2.3 Message length exceeds administrative limit"],
)
def test_a_size_limit_for_every_recipient_stops_the_run_after_three_with_everyone_in_place(mailroom, smtp, reply):
    """A bare 552 (RFC 1870, a server without enhanced codes) or 5.2.3 at the end of DATA for everyone is
    the message's size, not six full mailboxes: the run stops at the third, nobody failed or bounced."""
    smtp.data_reply_for = dict.fromkeys(EVERYONE, reply)
    stopped = send(mailroom)
    assert stopped.exit_code == 1
    line = stopped.stderr.strip().splitlines()[-1]
    pattern = (
        rf"Error: 127\.0\.0\.1: the server refused the message for 3 different recipients in a row alike \(end of "
        rf"DATA: {re.escape(reply)}\); that is the message or the server, not the mailboxes: a size limit \(RFC "
        r"1870, RFC 3463 5\.2\.3\) that this issue's message, about \d{1,3}(,\d{3})* bytes, goes over; "
        r"nobody was failed and every recipient keeps its place; check the server's size limit and the issue's "
        r"size \(its images, an attached PDF\), then run send again \(a test copy, `newsletter send 2024-q2 --to "
        r"ADDR`, gets the same reply while the message is too big\)"
    )
    assert re.fullmatch(pattern, line), line
    assert smtp.rcpt_count == 3  # stopped at the third; the other three were never tried
    assert states(mailroom) == dict.fromkeys(EVERYONE, "pending")
    assert attempts(mailroom) == dict.fromkeys(EVERYONE, 0)
    assert contact_statuses(mailroom) == dict.fromkeys(EVERYONE, "active")
    status = invoke(mailroom, "send", "status", "2024-q2").stdout
    assert status.startswith("2024-q2: pending 6, sending 0, sent 0, temp_failed 0, failed 0, unknown 0"), status
    smtp.data_reply_for = {}  # a smaller issue, or a larger limit
    again = send(mailroom)
    assert again.exit_code == 0, again.output
    assert "2024-q2: 0 new, 6 pending, 0 to retry" in again.stdout
    assert smtp.copies() == dict.fromkeys(EVERYONE, 1)


def test_a_size_limit_stops_the_run_even_when_each_reply_carries_its_own_message_id(mailroom, smtp):
    """Gmail ends each refusal with a per-message id: the replies are alike without it."""
    smtp.data_reply_for = {
        email: f"552 5.2.3 Your message exceeded Google's message size limits. {n}a9f{n}c{n}e2b1 - gsmtp"
        for n, email in enumerate(EVERYONE)
    }
    stopped = send(mailroom)
    assert stopped.exit_code == 1 and "in a row alike" in stopped.stderr
    assert smtp.rcpt_count == 3
    assert states(mailroom) == dict.fromkeys(EVERYONE, "pending")


def test_held_replies_are_acted_on_only_once_the_server_takes_a_message(mailroom, smtp):
    """A size limit, then a full mailbox, a 4xx and an unknown user, and nothing accepted: no reply
    proved the server takes mail, so the held ones go back in place, neither failed nor bounced."""
    smtp.data_reply_for = {
        "person000@example.org": "552 Message size exceeds fixed maximum message size",
        "person001@example.org": "552 5.2.2 Mailbox full",
        "person002@example.org": "451 4.3.0 Try again later",
        "person003@example.org": "550 5.1.1 No such user",
        "person004@example.org": "552 5.2.2 Mailbox full",
        "person005@example.org": "552 5.2.2 Mailbox full",
    }
    result = send(mailroom)
    assert result.exit_code == 1
    assert states(mailroom)["person000@example.org"] == "pending"  # held, then put back
    assert states(mailroom)["person003@example.org"] == "pending"
    assert contact_statuses(mailroom) == dict.fromkeys(EVERYONE, "active")  # nobody bounced
    assert "put back in place, neither failed nor bounced" in result.stderr


def test_once_the_server_has_taken_this_issue_a_size_limit_is_that_mailboxs_and_never_stops_a_run(mailroom, smtp):
    """Three full mailboxes side by side that answer a bare 552: after a message went through, in this
    run or an earlier one, they are failed for this issue and the run goes on; reruns are not stuck."""
    smtp.data_reply_for = {"person001@example.org": "550 5.7.1 Relaying denied"}  # run 1 stops after one sent
    first = send(mailroom)
    assert first.exit_code == 1 and states(mailroom)["person000@example.org"] == "sent"
    full = "552 Requested mail action aborted: exceeded storage allocation"
    smtp.data_reply_for = dict.fromkeys(EVERYONE[1:4], full)
    second = send(mailroom)
    assert "in a row alike" not in second.stderr
    assert [states(mailroom)[e] for e in EVERYONE] == ["sent", "failed", "failed", "failed", "sent", "sent"]
    assert contact_statuses(mailroom) == dict.fromkeys(EVERYONE, "active")


def test_message_too_big_5_3_4_stops_the_run_at_the_first_recipient(mailroom, smtp):
    """5.3.4 names the message (RFC 3463 "message too big for system"): no need for three to say so."""
    smtp.data_reply_for = dict.fromkeys(EVERYONE, "552 5.3.4 Message too big")
    stopped = send(mailroom)
    assert stopped.exit_code == 1
    assert stopped.stderr.strip().splitlines()[-1] == (
        "Error: the server refused the newsletter itself (end of DATA: 552 5.3.4 Message too big); nothing more "
        "was sent, and every recipient keeps its place: fix the cause and run send again"
    )
    assert smtp.rcpt_count == 1
    assert states(mailroom) == dict.fromkeys(EVERYONE, "pending")
    assert attempts(mailroom) == dict.fromkeys(EVERYONE, 0)
    assert contact_statuses(mailroom) == dict.fromkeys(EVERYONE, "active")


def test_one_mailboxs_size_limit_among_delivered_others_fails_it_for_this_issue_only(mailroom, smtp):
    """5.2.3 for one recipient, while the server takes the others: that mailbox's limit, so it is failed
    for this issue (counted once the next message went through), the contact stays active."""
    small = "person001@example.org"
    smtp.data_reply_for[small] = "552 5.2.3 Message length exceeds administrative limit"
    result = send(mailroom)
    assert result.exit_code == 1
    assert "2024-q2: sent 5 now; in all pending 0, sending 0, sent 5, temp_failed 0, failed 1" in result.stdout
    assert f"failed {small}: end of DATA: 552 5.2.3 Message length exceeds administrative limit" in (
        result.stderr.splitlines()
    )
    assert states(mailroom)[small] == "failed" and attempts(mailroom)[small] == 1
    assert contact_statuses(mailroom)[small] == "active"
    assert sorted(smtp.copies()) == [e for e in EVERYONE if e != small]


def test_full_mailboxes_next_to_each_other_do_not_stop_the_run(mailroom, smtp):
    """5.2.2 names the mailbox: three in a row are three full mailboxes, failed for this issue. Were they
    a brake, it would put them back in their place, and every rerun would meet them first and stop again."""
    full = EVERYONE[1:4]
    smtp.data_reply_for = dict.fromkeys(full, "552 5.2.2 Mailbox full")
    result = send(mailroom)
    assert result.exit_code == 1 and "Error:" not in result.stderr, result.stderr
    assert states(mailroom) == {e: "failed" if e in full else "sent" for e in EVERYONE}
    assert set(contact_statuses(mailroom).values()) == {"active"}
    assert "failed ones with --retry-failed" in result.stderr


def test_different_size_replies_in_a_row_do_not_stop_the_run(mailroom, smtp):
    """Only the same reply in a row is a brake; three different ones are three mailboxes' limits."""
    smtp.data_reply_for = {
        EVERYONE[0]: "552 Requested mail action aborted: exceeded storage allocation",
        EVERYONE[1]: "552 5.2.3 Message length exceeds administrative limit",
        EVERYONE[2]: "552 Message size exceeds fixed maximum message size",
    }
    result = send(mailroom)
    assert "Error:" not in result.stderr, result.stderr
    assert states(mailroom) == {e: "failed" if e in smtp.data_reply_for else "sent" for e in EVERYONE}
    assert "sent 3 now" in result.stdout and "failed 3" in result.stdout


def test_a_run_that_took_no_message_puts_a_size_limit_back_and_says_so(sample_workspace, smtp):
    """Two recipients, both refused with a bare 552: fewer than a brake, and nothing proves the server takes
    mail, so both stay pending (not failed, not the recipients' fault), the run says why, and exits 1."""
    root = mailing_workspace(sample_workspace, smtp.port, 2)
    both = [f"person{i:03d}@example.org" for i in range(2)]
    smtp.data_reply_for = dict.fromkeys(both, "552 Message size exceeds fixed maximum message size")
    result = send(root)
    assert result.exit_code == 1
    assert (
        "warning: 127.0.0.1: 2 recipients put back in place, neither failed nor bounced: the server refused them "
        "(end of DATA: 552 Message size exceeds fixed maximum message size) and took no message in this run, so "
        "that may be the server or the message rather than the recipients; a test copy (`newsletter send 2024-q2 "
        "--to ADDR`) shows whether it takes this issue; then run send again"
    ) in result.stderr.splitlines()
    assert "2 recipients still pending: run `newsletter send 2024-q2`" in result.stderr
    assert "2024-q2: sent 0 now; in all pending 2, sending 0, sent 0, temp_failed 0, failed 0" in result.stdout
    assert states(root) == dict.fromkeys(both, "pending") and attempts(root) == dict.fromkeys(both, 0)
    status = invoke(root, "send", "status", "2024-q2").stdout
    assert status.startswith("2024-q2: pending 2, sending 0, sent 0,"), status
    put_back = json.loads(invoke(root, "send", "status", "2024-q2", "--json").stdout)
    assert put_back["failures"] == [] and [row["email"] for row in put_back["put_back"]] == both
    for address in both:  # why they are pending, not only how many
        assert (
            f"  pending      {address}  end of DATA: 552 Message size exceeds fixed maximum message size (the last "
            "reply; kept in its place, the next send tries it)"
        ) in status.splitlines(), status
    smtp.data_reply_for = {}
    again = send(root)
    assert again.exit_code == 0, again.output
    assert smtp.copies() == dict.fromkeys(both, 1)


def test_a_genuine_unknown_user_is_bounced_once_the_server_takes_other_mail(mailroom, smtp):
    gone = "person004@example.org"
    smtp.rcpt_replies[gone] = "550 5.1.1 <person004@example.org>: Recipient address rejected: User unknown"
    result = send(mailroom)
    assert result.exit_code == 1
    assert (
        f"failed {gone}: RCPT TO: 550 5.1.1 <{gone}>: Recipient address rejected: User unknown "
        "(the contact is bounced now)"
    ) in result.stderr.splitlines()
    assert contact_statuses(mailroom)[gone] == "bounced" and len(smtp.copies()) == 5
    with Store(mailroom / "var" / "newsletter.db") as store:  # recorded with why, as a notice's bounce is
        contact = next(c for c in store.list_contacts() if c.email == gone)
        [(_when, status, why)] = store.contact_changes(contact.id)
    assert status == "bounced" and why.startswith("SMTP reply: RCPT TO: 550 5.1.1")


def test_a_wrong_bounce_is_undone_with_when_and_why_and_the_issue_is_sent_to_it(mailroom, smtp):
    gone = "person001@example.org"
    with Store(mailroom / "var" / "newsletter.db") as store:  # as an older version left it after a bad relay
        store.db.execute(
            "UPDATE contacts SET status = 'bounced' WHERE email IN (?, ?)", (gone, "person003@example.org")
        )
        ids = dict(store.db.execute("SELECT email, id FROM contacts").fetchall())
        store.db.executemany(
            "INSERT INTO sends (issue, email, contact_id, position, state, last_reply) VALUES "
            "('2024-q1', ?, ?, ?, 'failed', ?)",
            [
                (gone, ids[gone], 0, "RCPT TO: 550 5.7.1 Relaying denied"),
                ("person003@example.org", ids["person003@example.org"], 1, "RCPT TO: 550 5.1.1 no such user"),
            ],
        )
    found = invoke(mailroom, "contacts", "reactivate", "--wrongly-bounced")
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines() == [f"active {gone}  (was bounced by: RCPT TO: 550 5.7.1 Relaying denied)"]
    statuses = contact_statuses(mailroom)
    assert statuses[gone] == "active" and statuses["person003@example.org"] == "bounced"
    with Store(mailroom / "var" / "newsletter.db") as store:
        ((at, status, reason),) = store.contact_changes(ids[gone])
        assert (status, reason) == ("active", "bounced by a reply or a notice that was not about the address")
        assert store.db.execute("SELECT state FROM sends WHERE email = ?", (gone,)).fetchone()[0] == "pending"
    assert send(mailroom).exit_code == 0 and gone in smtp.copies()
    by_hand = invoke(mailroom, "contacts", "reactivate", "person003@example.org", "--reason", "typo fixed by IT")
    assert by_hand.stdout == "active person003@example.org\n"


def test_an_unsubscribed_contact_is_never_reactivated(mailroom):
    invoke(mailroom, "contacts", "unsubscribe", "person002@example.org")
    result = invoke(mailroom, "contacts", "reactivate", "person002@example.org", "--reason", "asked by phone")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 'person002@example.org': unsubscribed; only the person can subscribe again: if the person has "
        "asked to be on the list again, `newsletter contacts add person002@example.org --resubscribe "
        '--consent-source "how they asked"`\n'
    )
    assert contact_statuses(mailroom)["person002@example.org"] == "unsubscribed"


@pytest.mark.parametrize(("host", "refused"), [("smtp.example.no", True), ("127.0.0.1", False), ("localhost", False)])
def test_a_login_without_encryption_is_refused_unless_the_server_is_local(sample_workspace, host, refused):
    from newsletter.config import load_settings
    from newsletter.errors import ConfigError

    path = sample_workspace / "newsletter.yaml"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"\nsmtp:\n  host: {host}\n  security: none\n  username: kom\n")
    if not refused:
        assert load_settings(path).mail.username == "kom"
        return
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "smtp.username" in str(caught.value)
    assert "a login to smtp.example.no with security: none sends the password in clear text" in str(caught.value)


def test_an_unknown_delivery_makes_send_exit_1_with_the_next_command(mailroom, smtp):
    smtp.drop_after_data_of = {"person003@example.org"}
    result = send(mailroom)
    assert result.exit_code == 1
    assert (
        "warning: 1 delivery unknown (the connection broke, or the run stopped, while the message went out); see "
        "`newsletter send status 2024-q2`, and run `newsletter send 2024-q2 --resend-unknown` only if they did not "
        "arrive (or settle each by the server's log: `newsletter send settle 2024-q2 ADDR... --arrived` or "
        "`--not-arrived`)"
    ) in result.stderr.splitlines()
    assert len(smtp.copies()) == 6  # the server had it: resending is the editor's call
    # The run names it, with the Message-ID to look up in the server's log.
    (named,) = [line for line in result.stderr.splitlines() if line.startswith("unknown ")]
    assert re.fullmatch(
        r"unknown person003@example\.org: connection lost while the message data was sent; it may or may not have "
        r"arrived \(.*\) \(<2024-q2\.[0-9a-f]{24}@politiet\.no>: the mail server's log says whether it arrived\)",
        named,
    ), named


def test_unknown_deliveries_settled_by_the_servers_log_are_mailed_again_only_where_they_did_not_arrive(mailroom, smtp):
    """--resend-unknown mails every unknown one again, and one that arrived gets two; settling each by the
    relay's log (found by the Message-ID `send status` shows) mails only those that did not arrive."""
    arrived, lost = "person001@example.org", "person004@example.org"
    smtp.drop_after_data_of = {arrived, lost}
    assert send(mailroom).exit_code == 1
    smtp.drop_after_data_of = set()
    assert states(mailroom)[arrived] == states(mailroom)[lost] == "unknown"
    smtp.messages = [(rcpt, raw) for rcpt, raw in smtp.messages if rcpt != lost]  # the relay's log: it never came
    refused = invoke(mailroom, "send", "settle", "2024-q2", arrived)
    assert refused.exit_code == 2 and "--arrived (the mail server's log shows them delivered)" in refused.stderr
    tagged = invoke(mailroom, "send", "settle", "2024-q2", arrived, "--arrived", "--tag", "helse")
    assert (
        tagged.exit_code == 2
        and "--tag: not with `send settle ID` (it takes --arrived or --not-arrived)" in tagged.stderr
    )
    # A recipient erased since: its ledger row holds a marker, no address, and the rest settle all the same.
    assert invoke(mailroom, "contacts", "erase", "person002@example.org", "--yes").exit_code == 0
    both = invoke(mailroom, "send", "settle", "2024-q2", arrived, "--arrived", "--not-arrived")
    assert both.exit_code == 2 and "--arrived and --not-arrived: give one" in both.stderr
    # A slip is corrected by settling the other way, until a send has acted on it.
    slip = invoke(mailroom, "send", "settle", "2024-q2", arrived, "--not-arrived")
    assert slip.exit_code == 0 and states(mailroom)[arrived] == "pending"
    settled = invoke(mailroom, "send", "settle", "2024-q2", arrived.upper(), "--arrived")
    assert settled.exit_code == 0 and settled.stdout == f"sent {arrived}\n"
    again = invoke(
        mailroom, "send", "settle", "2024-q2", lost, "person000@example.org", "nobody@example.org", "--not-arrived"
    )
    assert again.exit_code == 1 and again.stdout == f"pending {lost}: the next send mails it\n"
    assert again.stderr.splitlines() == [
        "error: person000@example.org: sent, not unknown: left as it is",
        "error: nobody@example.org: not a recipient of 2024-q2's send",
    ]
    assert send(mailroom).exit_code == 0
    assert smtp.copies() == dict.fromkeys(EVERYONE, 1)  # exactly one each, the lost one included
    assert set(states(mailroom).values()) == {"sent"}
    erased = invoke(
        mailroom, "send", "settle", "2024-q2", next(a for a in states(mailroom) if a.startswith("erased:")), "--arrived"
    )
    assert erased.exit_code == 1 and "not a recipient of 2024-q2's send" in erased.stderr


def test_an_issue_without_a_published_date_is_not_mailed_but_may_be_tried(mailroom, smtp):
    """Readers would get an issue the archive never lists: the editor sets the day first."""
    path = mailroom / "issues" / "2024-q2.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"^published:.*$", "published:", text, count=1, flags=re.M), encoding="utf-8")
    assert invoke(mailroom, "build", "2024-q2", "--format", "email,text").exit_code == 0
    refused = send(mailroom)
    assert refused.exit_code == 1 and smtp.copies() == {} and states(mailroom) == {}
    assert refused.stderr.startswith("Error: 2024-q2 has no `published:` date: set it in ")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert invoke(mailroom, "send", "2024-q2", "--dry-run").exit_code == 0
    assert invoke(mailroom, "send", "2024-q2", "--to", "redaktor@example.org").exit_code == 0


def test_a_server_that_drops_every_message_during_data_stops_the_run_after_three(mailroom, smtp):
    """Not every recipient `unknown` in a second: three in a row stop the run, the rest keep their place."""
    smtp.drop_after_data_of = {f"person{i:03d}@example.org" for i in range(6)}
    first = send(mailroom)
    assert first.exit_code == 1
    assert "the connection broke during the message data 3 times in a row" in first.stderr
    assert "may or may not have the newsletter" in first.stderr
    assert sorted(states(mailroom).values()) == ["pending"] * 3 + ["unknown"] * 3
    # `send status` names each, with the Message-ID to look up in the server's log.
    status = invoke(mailroom, "send", "status", "2024-q2").stdout.splitlines()
    unknown = [line for line in status if line.lstrip().startswith("unknown ")]
    assert len(unknown) == 3 and all(
        re.search(r"\(<2024-q2\.[0-9a-f]{24}@politiet\.no>: the mail server's log says whether it arrived\)$", line)
        for line in unknown
    ), unknown
    smtp.drop_after_data_of = set()
    second = send(mailroom)
    assert second.exit_code == 1  # the unknown ones wait for the editor's word (--resend-unknown)
    assert sorted(states(mailroom).values()) == ["sent"] * 3 + ["unknown"] * 3
    assert "3 deliveries unknown" in second.stderr


def test_implicit_tls_asked_of_a_plain_port_stops_at_once_and_says_which_setting(mailroom, smtp):
    """`security: ssl` on a port that speaks plain SMTP is the setup, not an outage to wait out."""
    path = mailroom / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("security: none", "security: ssl"), encoding="utf-8")
    started = time.monotonic()
    result = send(mailroom)
    assert result.exit_code == 1 and time.monotonic() - started < 10  # mail.max_outage is 300 s
    assert "the server answered in plain text, not TLS" in result.stderr
    assert "use security: starttls on this port" in result.stderr
    assert set(states(mailroom).values()) <= {"pending"} and smtp.copies() == {}


def test_send_status_before_a_send_says_who_would_be_mailed_and_an_unknown_issue_is_named(mailroom, smtp):
    before = invoke(mailroom, "send", "status", "2024-q2")
    assert before.exit_code == 0 and before.stdout == "2024-q2: not sent yet; 6 active contacts would be mailed\n"
    assert invoke(mailroom, "send", "2024-q2", "--dry-run").exit_code == 0
    dry = invoke(mailroom, "send", "status", "2024-q2", "--dry-run").stdout
    assert dry.startswith("2024-q2 (dry run, var/outbox): pending 0, sending 0, written 6,")
    missing = invoke(mailroom, "send", "status", "2099-q1")
    assert missing.exit_code == 1 and "no issue 2099-q1:" in missing.stderr


def test_a_recipient_bounced_in_the_run_is_settled_and_the_next_send_exits_0(mailroom, smtp):
    """A bounced contact's failed row is final: no --retry-failed hint, and it does not keep send failing."""
    smtp.rcpt_replies = {"person002@example.org": "550 5.1.1 no such user"}
    first = send(mailroom)
    assert first.exit_code == 1, first.output  # this run had a failure
    assert "(the contact is bounced now)" in first.stderr
    assert "1 failed recipient bounced, unsubscribed or removed (the contact list says so now): settled" in first.stderr
    assert "--retry-failed" not in first.stderr
    again = send(mailroom)
    assert again.exit_code == 0, again.output


def test_an_outage_is_said_while_it_is_waited_out(mailroom, smtp):
    """A run waiting for a server that is down says so, rather than sit silent for minutes."""
    path = mailroom / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  max_outage: 0.5\n", encoding="utf-8")
    smtp.down_after = 0  # 421 and a dropped connection at every MAIL FROM
    result = send(mailroom)
    assert result.exit_code == 1
    waiting = [line for line in result.stderr.splitlines() if "trying again in" in line]
    assert waiting and waiting[0].startswith(f"warning: 127.0.0.1:{smtp.port}: ")
    assert "(the run gives up after 0.5 s of this, mail.max_outage)" in waiting[0]
    assert set(states(mailroom).values()) == {"pending"} and smtp.copies() == {}


def test_a_retry_not_due_yet_is_a_later_runs_and_every_count_and_status_says_so(sample_workspace, smtp, monkeypatch):
    """A 450 whose backoff (an hour: `mail.retry_base`) outlasts what a run waits for: not "1 to retry"
    and a promise the next send keeps, but the wait said, with the time of the next try."""
    root = mailing_workspace(sample_workspace, smtp.port, 6, mail="retry_base: 3600")
    busy = "person002@example.org"
    smtp.rcpt_replies = {busy: "450 4.2.1 Mailbox busy, try again later"}
    first = send(root)
    assert first.exit_code == 1 and states(root)[busy] == "temp_failed"
    assert f"temp_failed {busy}: RCPT TO: 450 4.2.1 Mailbox busy, try again later" in first.stderr.splitlines()
    status = invoke(root, "send", "status", "2024-q2").stdout
    pattern = rf"  temp_failed  {busy}  RCPT TO: 450 4\.2\.1 Mailbox busy, try again later \(next try \d{{4}}-\d\d-\d\d \d\d:\d\d\)"
    assert any(re.fullmatch(pattern, line) for line in status.splitlines()), status
    again = send(root)
    assert "2024-q2: 0 new, 0 pending, 0 to retry; 1 temporarily failed not due yet (the first at " in again.stdout
    [failure] = json.loads(invoke(root, "send", "status", "2024-q2", "--json").stdout)["failures"]
    assert failure["state"] == "temp_failed" and failure["next_attempt"].endswith("+00:00")
    monkeypatch.setattr("newsletter.cli._stdin_is_terminal", lambda: True)
    asked = invoke(root, "send", "2024-q2", input="n\n")
    assert "Mail 2024-q2" not in asked.stdout  # nothing due: nothing to ask about


def test_unknown_deliveries_apart_from_each_other_do_not_stop_the_run(mailroom, smtp):
    """Three unknowns with other outcomes between them are not "3 in a row": the run goes on to the end."""
    smtp.drop_after_data_of = {f"person{i:03d}@example.org" for i in (0, 2, 4)}
    smtp.rcpt_replies = {f"person{i:03d}@example.org": "550 5.2.1 mailbox disabled" for i in (1, 3)}
    result = send(mailroom)
    assert "times in a row" not in result.stderr, result.stderr
    assert sorted(states(mailroom).values()) == ["failed", "failed", "sent", "unknown", "unknown", "unknown"]


def test_a_local_error_that_is_not_storage_is_not_called_a_disk_fault(tmp_path):
    import errno

    from newsletter.mail.send import StorageFull, storage_errors

    with pytest.raises(BrokenPipeError), storage_errors(tmp_path / "newsletter.db"):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")
    with pytest.raises(StorageFull, match="free disk space"), storage_errors(tmp_path / "newsletter.db"):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_recipient_deferred_on_every_try_is_failed_and_told_how_to_try_again(sample_workspace, smtp):
    """Greylisting that outlasts mail.max_attempts: the row is failed though its last reply is a 4xx, and
    the line says so and names --retry-failed, rather than leaving "failed …: 451" to read as temporary."""
    root = mailing_workspace(sample_workspace, smtp.port, 3, mail="max_attempts: 1")
    grey = "person001@example.org"
    smtp.rcpt_replies = {grey: "451 4.7.1 Greylisted, try again later"}
    first = send(root)
    assert states(root)[grey] == "failed"
    said = (
        f"failed {grey}: RCPT TO: 451 4.7.1 Greylisted, try again later (deferred on every try, up to "
        "mail.max_attempts; the server may take it later: `newsletter send 2024-q2 --retry-failed` tries again)"
    )
    assert said in first.stderr.splitlines(), first.stderr
    status = invoke(root, "send", "status", "2024-q2").stdout
    assert f"  failed       {grey}  {said.removeprefix(f'failed {grey}: ')}" in status.splitlines(), status
    smtp.rcpt_replies = {}
    again = send(root, "--retry-failed")
    assert again.exit_code == 0 and states(root)[grey] == "sent"


def test_send_status_shows_the_ledger_though_newsletter_yaml_has_a_mistake(sample_workspace, smtp):
    """The ledger is in the store: a key mistyped in newsletter.yaml mid-send is said, and the status shown."""
    root = mailing_workspace(sample_workspace, smtp.port, 3, mail="retry_base: 3600")
    busy = "person002@example.org"
    smtp.rcpt_replies = {busy: "450 4.2.1 Mailbox busy, try again later"}
    send(root)
    settings = root / "newsletter.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("\nfooter:", "\nfoter:"), encoding="utf-8")
    status = invoke(root, "send", "status", "2024-q2")
    assert status.exit_code == 0
    warning = status.stderr.splitlines()[0]
    assert (
        warning.startswith(f"warning: {settings}, line ") and "foter: unknown key (did you mean 'footer'?)" in warning
    )
    assert warning.endswith("; `send` refuses until it is fixed; the times below are in UTC")
    [failure] = json.loads(invoke(root, "send", "status", "2024-q2", "--json").stdout)["failures"]
    utc = dt.datetime.fromisoformat(failure["next_attempt"]).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    line = f"  temp_failed  {busy}  RCPT TO: 450 4.2.1 Mailbox busy, try again later (next try {utc})"
    assert line in status.stdout.splitlines(), status.stdout
    refused = send(root)
    assert refused.exit_code == 1 and "foter: unknown key" in refused.stderr

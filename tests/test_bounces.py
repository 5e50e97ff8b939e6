"""`contacts bounces`: delivery status notifications (RFC 3464) saved from the unit's mailbox, read from
a folder of .eml files, one .eml file, an mbox and a Maildir (tests/data/bounces/, each message with an
X-Test-Case header saying what it shows), through the command line and a real contact list."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from newsletter.mail.contacts import get_contact, mark_bounced, reply_reason
from newsletter.store import Store
from tests.conftest import DATA
from tests.test_send_cli import invoke

BOUNCES = DATA / "bounces"
CONTACTS = ("kari", "ola", "per", "lise", "tor", "anne", "mona", "nina")


@pytest.fixture
def workspace(sample_workspace):
    for name in CONTACTS:
        assert invoke(sample_workspace, "contacts", "add", f"{name}@example.org").exit_code == 0
    assert invoke(sample_workspace, "contacts", "unsubscribe", "lise@example.org").exit_code == 0
    return sample_workspace


def statuses(root) -> dict[str, str]:
    with Store(root / "var" / "newsletter.db") as store:
        return {name: get_contact(store, f"{name}@example.org").status for name in CONTACTS}


def changes(root, name: str) -> list[tuple[str, str]]:
    with Store(root / "var" / "newsletter.db") as store:
        contact = get_contact(store, f"{name}@example.org")
        assert contact.id is not None
        return [(status, reason) for _at, status, reason in store.contact_changes(contact.id)]


def test_every_form_at_once_marks_exactly_the_hard_bounces(workspace):
    result = invoke(
        workspace,
        "contacts",
        "bounces",
        str(BOUNCES / "eml"),
        str(BOUNCES / "mbox" / "bounces.mbox"),
        str(BOUNCES / "Maildir"),
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert statuses(workspace) == {
        "kari": "bounced",  # Postfix, 5.1.1
        "ola": "bounced",  # Exchange, 5.1.10
        "per": "active",  # delayed, 4.4.1
        "lise": "unsubscribed",  # 5.1.1, but unsubscribed before: left as it is
        "tor": "active",  # the queue gave up with 4.4.7: a transient cause
        "anne": "active",  # 5.7.26 DMARC: the sender's setup
        "mona": "bounced",  # 5.1.2 bad domain, from a Maildir
        "nina": "active",  # her ordinary reply is no notice
    }
    postfix = BOUNCES / "eml" / "postfix-user-unknown.eml"
    assert f"bounced: kari@example.org  5.1.1  {postfix}" in out
    assert f"bounced: ola@example.org  5.1.10  {BOUNCES / 'eml' / 'exchange-recipient-not-found.eml'}" in out
    assert f"bounced: mona@example.org  5.1.2  {BOUNCES / 'Maildir' / 'cur'}/1719904600" in out
    assert f"unsubscribed, left as it is: lise@example.org  5.1.1  {BOUNCES / 'mbox' / 'bounces.mbox'}#1" in out
    assert f"temporary, not bounced: per@example.org  4.4.1  {BOUNCES / 'eml' / 'delayed.eml'}" in out
    assert f"temporary, not bounced: tor@example.org  4.4.7  {BOUNCES / 'mbox' / 'bounces.mbox'}#2" in out
    assert "refused by policy (5.7.x, check SPF/DKIM/DMARC), not bounced: anne@example.org  5.7.26" in out
    assert "not in the contacts: ukjent@annet.example  5.1.1" in out
    assert f"ignored: {BOUNCES / 'eml' / 'not-a-bounce.eml'}: no delivery status notification" in out
    assert f"skipped: {BOUNCES / 'eml' / 'garbage.eml'}: not an e-mail message" in out
    assert "3 marked bounced" in out and "1 file skipped" in out and "Traceback" not in out
    # Recorded with when and why, as `contacts reactivate` records its changes.
    [(status, reason)] = changes(workspace, "kari")
    assert status == "bounced" and str(postfix) in reason and "5.1.1" in reason and "User unknown" in reason


def test_run_again_changes_nothing_and_says_so(workspace):
    invoke(workspace, "contacts", "bounces", str(BOUNCES / "eml"))
    again = invoke(workspace, "contacts", "bounces", str(BOUNCES / "eml"))
    assert "already bounced: kari@example.org" in again.output
    # The contacts bounced by the first run (kari, ola) are counted apart, not as other failures
    # (the one other failure is per's delay).
    assert "0 marked bounced, 2 already bounced, 1 other failure," in again.output
    assert len(changes(workspace, "kari")) == 1


@pytest.mark.parametrize(
    "form, bounced",
    [
        pytest.param("eml/postfix-user-unknown.eml", {"kari"}, id="one-eml-file"),
        pytest.param("eml", {"kari", "ola"}, id="eml-folder"),
        pytest.param("mbox/bounces.mbox", set(), id="mbox"),
        pytest.param("Maildir", {"mona"}, id="maildir"),
    ],
)
def test_each_form_alone(workspace, form, bounced):
    result = invoke(workspace, "contacts", "bounces", str(BOUNCES / form))
    assert result.exit_code == 0, result.output
    assert {name for name, status in statuses(workspace).items() if status == "bounced"} == bounced


def test_a_bounced_contact_can_be_reactivated(workspace):
    """The way back when a notice was wrong: `contacts reactivate`, recorded after the bounce."""
    invoke(workspace, "contacts", "bounces", str(BOUNCES / "eml" / "postfix-user-unknown.eml"))
    assert invoke(workspace, "contacts", "reactivate", "kari@example.org", "--reason", "ny postkasse").exit_code == 0
    assert statuses(workspace)["kari"] == "active"
    assert [s for s, _ in changes(workspace, "kari")] == ["bounced", "active"]


def test_a_notice_naming_no_readable_address_is_to_be_read_by_hand_not_taken_for_a_reply(workspace):
    """An on-premises Exchange's plain-text notice: no delivery-status part, the recipient named by name only.
    Counted with the thank-you notes it would be lost; it is named for the editor to read, exit 1."""
    notice = BOUNCES / "unread" / "plain-undeliverable-no-address.eml"
    result = invoke(workspace, "contacts", "bounces", str(notice), str(BOUNCES / "eml" / "not-a-bounce.eml"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"to read: {notice}: looks like a delivery failure notice (subject «Undeliverable: Nyhetsbrev fra KOM») "
        "but names no failed address the tool can read: read it, and mark an address it says is gone bounced "
        '(`newsletter contacts mark-bounced ADDR --reason "plain-undeliverable-no-address.eml"`)'
    ]
    assert result.stdout.splitlines()[-1] == (
        "0 marked bounced, 0 already bounced, 0 other failures, 1 message without one, 1 notice to read by hand, "
        "0 files skipped"
    )
    assert set(statuses(workspace).values()) == {"active", "unsubscribed"}  # nobody changed
    # Read by hand, the address it means is marked bounced as the advice says, with why; it is undone as any bounce.
    marked = invoke(
        workspace,
        "contacts",
        "mark-bounced",
        "kari@example.org",
        "lise@example.org",
        "nobody@",
        "--reason",
        notice.name,
    )
    assert marked.exit_code == 1
    assert marked.stdout == "bounced: kari@example.org\nleft as it is, unsubscribed: lise@example.org\n"
    assert marked.stderr.startswith("error: ") and "nobody@" in marked.stderr
    assert statuses(workspace)["kari"] == "bounced"
    assert changes(workspace, "kari")[-1] == ("bounced", f"by hand: {notice.name}")
    as_json = invoke(workspace, "contacts", "bounces", "--json", str(notice))
    assert as_json.exit_code == 1  # as without --json
    data = json.loads(as_json.stdout)
    assert [u["source"] for u in data["unread"]] == [str(notice)] and data["ignored"] == []


@pytest.mark.parametrize(
    ("headers", "clue"),
    [
        ("From: MAILER-DAEMON@relay.example.org\nSubject: Hei\n", "from MAILER-DAEMON@relay.example.org"),
        ("Subject: =?utf-8?q?Kan_ikke_leveres:_Nyhetsbrev?=\n", "subject «Kan ikke leveres: Nyhetsbrev»"),
        ("Subject: Ikke levert: Nyhetsbrev\n", "subject «Ikke levert: Nyhetsbrev»"),
        ("Subject: Message not delivered\n", "subject «Message not delivered»"),
        ("Subject: Hei\n", "the reply «550 5.1.1»"),
    ],
)
def test_what_makes_a_message_look_like_a_failure_notice(headers, clue):
    from email import message_from_string

    from newsletter.mail.bounces import notice_clue

    body = "Status: 550 5.1.1 mailbox unavailable\n" if "Hei" in headers and "MAILER" not in headers else "Takk!\n"
    assert notice_clue(message_from_string(f"{headers}Content-Type: text/plain\n\n{body}")) == clue
    assert notice_clue(message_from_string("From: nina@example.org\nSubject: SV: Nyhetsbrev\n\nTakk!\n")) is None


READ_RECEIPT = """From: Kari <kari@example.org>
Subject: Lest: Nyhetsbrev fra KOM
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="b"

--b
Content-Type: text/plain

Meldingen ble lest.
--b
Content-Type: message/disposition-notification

Final-Recipient: rfc822; kari@example.org
Disposition: manual-action/MDN-sent-manually; displayed
--b--
"""

RELAYED = """From: postmaster@relay.example.org
Subject: Delivery Status Notification (Relay)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message was relayed to a system that does not send notices.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.org

Final-Recipient: rfc822; per@example.org
Action: relayed
Status: 2.0.0
--b--
"""


@pytest.mark.parametrize("text", [READ_RECEIPT, RELAYED], ids=["read receipt", "relayed"])
def test_a_report_that_no_delivery_failed_is_no_notice_to_read(text):
    """A read receipt and a notice that the message went on are reports too, but of nothing gone wrong."""
    from email import message_from_string

    from newsletter.mail.bounces import notice_clue

    assert notice_clue(message_from_string(text)) is None


def test_json_lists_every_outcome(workspace):
    result = invoke(workspace, "contacts", "bounces", "--json", str(BOUNCES / "mbox" / "bounces.mbox"))
    data = json.loads(result.output)
    assert [(o["address"], o["status"], o["result"]) for o in data["outcomes"]] == [
        ("lise@example.org", "5.1.1", "unsubscribed"),
        ("tor@example.org", "4.4.7", "transient"),
    ]


def test_a_folder_with_nothing_readable_is_named(workspace, tmp_path):
    (tmp_path / "tom").mkdir()
    (tmp_path / "tomt").mkdir()
    (tmp_path / "tomt" / "notater.txt").write_text("ingen e-post her\n", encoding="utf-8")
    shutil.copy(BOUNCES / "eml" / "garbage.eml", tmp_path / "tom" / "x.eml")
    result = invoke(workspace, "contacts", "bounces", str(tmp_path / "tom"), str(tmp_path / "tomt"))
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert f"skipped: {tmp_path / 'tom' / 'x.eml'}: not an e-mail message" in result.output
    assert f"skipped: {tmp_path / 'tomt'}: a folder with no Maildir (cur/, new/) and no .eml" in result.output
    assert result.stdout.endswith(
        "0 marked bounced, 0 already bounced, 0 other failures, 0 messages without one, 2 files skipped\n"
    )


def test_a_folder_of_saved_mail_is_walked_whole_maildirs_mbox_files_and_eml_files(workspace):
    """The folder the unit saved its notices in, as it is: subfolders, a Maildir, an mbox, .eml files."""
    result = invoke(workspace, "contacts", "bounces", "--json", str(BOUNCES))
    data = json.loads(result.stdout)
    sources = {o["source"].split("#")[0].replace(str(BOUNCES) + "/", "").split("/")[0] for o in data["outcomes"]}
    assert sources == {"eml", "mbox", "Maildir", "utf8", "alias"}
    assert len(data["outcomes"]) == 16  # the aliases' notices name two addresses each


def test_a_missing_path_is_a_usage_error(workspace, tmp_path):
    result = invoke(workspace, "contacts", "bounces", str(tmp_path / "finnes-ikke.mbox"))
    assert result.exit_code == 2 and "finnes-ikke.mbox" in result.output


UTF8 = BOUNCES / "utf8"
UTF8_CONTACTS = ("kari.østby@example.org", "jørn@example.org", "ida@blåbær.no", "per@xn--blbr-roah.no")


@pytest.fixture
def utf8_workspace(sample_workspace):
    for address in UTF8_CONTACTS:
        assert invoke(sample_workspace, "contacts", "add", address).exit_code == 0
    return sample_workspace


def utf8_statuses(root) -> dict[str, str]:
    with Store(root / "var" / "newsletter.db") as store:
        return {a: get_contact(store, a).status for a in UTF8_CONTACTS}


@pytest.mark.parametrize(
    "name, lines",
    [
        pytest.param(
            "global-utf8-local-part.eml",
            ["bounced: kari.østby@example.org  5.1.1", "bounced: jørn@example.org  5.1.1"],
            id="rfc6533-global-dsn-utf8-local-part-and-x-escape",
        ),
        pytest.param("utf8-domain.eml", ["bounced: ida@blåbær.no  5.1.2"], id="rfc3464-utf8-domain"),
        pytest.param("punycode-domain.eml", ["bounced: per@blåbær.no  5.1.1"], id="rfc3464-punycode-domain"),
    ],
)
def test_addresses_outside_ascii_are_bounced_and_printed_as_stored(utf8_workspace, name, lines):
    """flufl.bounce drops these addresses and knows no global DSN; our own reading of the fields finds them."""
    result = invoke(utf8_workspace, "contacts", "bounces", str(UTF8 / name))
    assert result.exit_code == 0, result.output
    for line in lines:
        assert f"{line}  {UTF8 / name}" in result.output
    assert "ignored" not in result.output and "xn--" not in result.output
    assert f"{len(lines)} marked bounced, 0 already bounced, 0 other failures" in result.output


def test_every_utf8_notice_bounces_each_contact_once(utf8_workspace):
    result = invoke(utf8_workspace, "contacts", "bounces", "--json", str(UTF8))
    data = json.loads(result.stdout)
    assert sorted((o["contact"], o["result"]) for o in data["outcomes"]) == [
        ("ida@blåbær.no", "bounced"),
        ("jørn@example.org", "bounced"),
        ("kari.østby@example.org", "bounced"),
        ("per@blåbær.no", "bounced"),
    ]
    assert set(utf8_statuses(utf8_workspace).values()) == {"bounced"}


def test_a_recipient_both_readings_find_is_listed_once(utf8_workspace):
    """flufl.bounce finds per@xn--blbr-roah.no, our reading finds it too: one failure, with its status."""
    import email
    from email.policy import compat32

    from newsletter.mail.bounces import notice_failures

    message = email.message_from_bytes((UTF8 / "punycode-domain.eml").read_bytes(), policy=compat32)
    [failure] = notice_failures(message, "x")
    assert (failure.address, failure.status, failure.permanent) == ("per@xn--blbr-roah.no", "5.1.1", True)


@pytest.mark.parametrize(
    "value, address",
    [
        ("rfc822; kari@example.org", "kari@example.org"),
        ("RFC822;<kari@example.org>", "kari@example.org"),
        ("utf-8; j\\x{F8}rn@bl\\x{E5}b\\x{E6}r.no", "jørn@blåbær.no"),
        ("utf-8; kari.østby@example.org", "kari.østby@example.org"),
        ("x400; /G=kari/S=nordmann/", ""),
    ],
)
def test_recipient_address_types(value, address):
    from newsletter.mail.bounces import _recipient

    assert _recipient(value) == address


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("5.1.1", "bounce"),
        ("5.1.10", "bounce"),
        ("5.0.0", "bounce"),
        ("", "bounce"),  # a non-standard report: flufl.bounce found the address, no code
        ("5.3.4", "message"),  # message too big: one oversized issue must not bounce every reader
        ("5.6.0", "message"),
        ("5.4.4", "message"),
        ("5.2.2", "mailbox"),
        ("5.7.1", "policy"),
        ("4.4.7", "transient"),
    ],
)
def test_only_a_failure_about_the_address_bounces(status, verdict):
    from newsletter.mail.bounces import Failure

    assert Failure("a@example.org", status, "", "x.eml", permanent=True).verdict == verdict


def test_the_notice_reason_gives_back_its_status_whatever_the_source_is_called():
    """`notice_status` reads what `notice_reason` wrote, also when the source or the diagnostic has ": "."""
    from newsletter.mail.bounces import Failure, notice_reason, notice_status

    for source in ("eml/kari.eml", "C: bounces/inbox.mbox#3", "x.eml: 5.1.1"):
        for status, diagnostic in (("5.2.2", "smtp; 552 5.2.2 Mailbox full: over quota"), ("5.1.1", ""), ("", "")):
            reason = notice_reason(Failure("kari@example.org", status, diagnostic, source, permanent=True))
            assert notice_status(reason) == status, reason
    assert notice_status("SMTP reply: RCPT TO: 550 5.2.2 Mailbox full") is None
    assert notice_status("typo fixed by IT") is None


def test_reactivate_wrongly_bounced_finds_the_contacts_a_notice_not_about_the_address_bounced(workspace):
    """An older version bounced a contact on any failed notice; `--wrongly-bounced` finds those whose
    status `contacts bounces` no longer bounces for (5.2.2 here, a queue's 4.4.7), with the notice named,
    and leaves the ones about the address (5.1.1, no status) bounced, even with a full mailbox of an
    earlier issue in the ledger: the recorded bounce decides, a notice or a send's SMTP reply alike."""
    now = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    notices = {  # as the older version recorded them with the change
        "anne": "delivery status notification eml/anne.eml: 5.2.2 (smtp; 552 5.2.2 Mailbox full)",
        "tor": "delivery status notification inbox.mbox#2: 4.4.7",
        "kari": "delivery status notification eml/kari.eml: 5.1.1 (smtp; 550 5.1.1 User unknown)",
        "mona": "delivery status notification Maildir/new/1.eml: no status",
    }
    with Store(workspace / "var" / "newsletter.db") as store, store.transaction():
        for name, why in notices.items():
            contact = get_contact(store, f"{name}@example.org")
            assert contact.id is not None
            store.update_contact(contact.id, status="bounced", status_changed_at=now)
            store.record_contact_change(contact.id, "bounced", why, now)
        full = "end of DATA: 552 5.2.2 Mailbox full"
        for name, issue in (("kari", "2024-q1"), ("per", "2024-q1"), ("per", "2024-q2")):
            contact = get_contact(store, f"{name}@example.org")
            store.freeze_recipients(issue, [(contact.email, contact.id)], now)
            # A full mailbox failed them for 2024-q1 (the contact stayed active); a send bounced per in 2024-q2.
            reply = full if issue == "2024-q1" else "RCPT TO: 550 5.1.1 no such user"
            store.set_send_state(issue, contact.email, "failed", now, reply=reply)
        mark_bounced(store, "per@example.org", reply_reason("RCPT TO: 550 5.1.1 no such user"), now)
    found = invoke(workspace, "contacts", "reactivate", "--wrongly-bounced")
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines() == [
        f"active anne@example.org  (was bounced by: {notices['anne']})",
        f"active tor@example.org  (was bounced by: {notices['tor']})",
    ]
    assert {name: status for name, status in statuses(workspace).items() if name in notices} == {
        "anne": "active",
        "tor": "active",
        "kari": "bounced",
        "mona": "bounced",
    }
    assert statuses(workspace)["per"] == "bounced"
    assert changes(workspace, "anne") == [
        ("bounced", notices["anne"]),
        ("active", "bounced by a reply or a notice that was not about the address"),
    ]
    again = invoke(workspace, "contacts", "reactivate", "--wrongly-bounced")
    assert again.stdout == "no wrongly bounced contacts found\n"


def test_a_notice_about_an_alias_judges_the_contact_by_the_aliass_status(workspace):
    """Postfix expanding nina@ to a full mailbox names both addresses: the status (5.2.2, not a bounce) is the
    contact's too, so she stays on the list; a dead alias target (5.1.1) bounces the contact, with its status."""
    alias = BOUNCES / "alias"
    result = invoke(workspace, "contacts", "bounces", str(alias))
    assert result.exit_code == 0, result.output
    assert statuses(workspace)["nina"] == "active" and statuses(workspace)["per"] == "bounced"
    out = result.output
    assert (
        f"mailbox full or disabled (5.2.x), not bounced: nina@example.org  5.2.2  {alias / 'alias-mailbox-full.eml'}"
        in (out)
    )
    assert f"bounced: per@example.org  5.1.1  {alias / 'alias-user-unknown.eml'}" in out

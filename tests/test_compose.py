"""The composed message of the sample issue: a golden e-mail, and the fast per-recipient path of a send
(`MessageTemplate.render`) against `compose`.

The golden file is tests/golden/2024-q2/message.eml: the message for one fixed recipient, as sent
(`message_bytes`), with what changes from run to run scrubbed as rss2email's `clean_result` does
(MIME boundaries, Date, Message-ID), and CRLF written as LF so that it reads and diffs as text. A
missing golden file fails; after a deliberate change, regenerate it with
`python -m pytest tests/test_compose.py --update-golden` and read the diff before committing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import re
from email import policy

import pytest

from newsletter.config import load_settings
from newsletter.curate.issuefile import IssueDocument
from newsletter.mail.compose import MessageTemplate, compose, message_bytes, prepare
from newsletter.render.build import build
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS
from tests.test_render import GOLDEN

SETTINGS = load_settings(SAMPLE_SETTINGS)
NOW = dt.datetime(2024, 7, 1, 9, 0, tzinfo=dt.UTC)
SITE_URL = "https://nyhetsbrev.example.no/arkiv"
SECRET = "test-secret-for-unsubscribe-links"

# The sample settings (unsubscribe by mail only), and with a one-click unsubscribe link (RFC 8058) too:
# the golden message then has every header a send can write, and the signed per-recipient link is
# long enough to need soft line breaks of its own.
MAILTO = SETTINGS.mail
ONE_CLICK = dataclasses.replace(SETTINGS.mail, unsubscribe_url="https://kom.example.no/avmelding")


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    """One-click links are signed with NEWSLETTER_UNSUBSCRIBE_SECRET: a fixed one keeps them stable."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample issue's e-mail HTML and text (no PDF: its bytes are not stable and add nothing here)."""
    issue = IssueDocument.load(SAMPLE_ISSUE).issue(SETTINGS)
    out = tmp_path_factory.mktemp("build")
    build(issue, SETTINGS, out, ("email", "text"))
    return issue, out


def scrub_boundaries(raw: bytes) -> bytes:
    """`raw` with each MIME boundary replaced by BOUNDARY-<n>, numbered in order of first use.

    Numbering (rather than one placeholder for all) keeps the nesting visible and checked."""
    for number, boundary in enumerate(dict.fromkeys(re.findall(rb'boundary="([^"]+)"', raw))):
        raw = raw.replace(boundary, b"BOUNDARY-%d" % number)
    return raw


def scrub(raw: bytes) -> bytes:
    """`raw` without what changes from run to run: boundaries, and the Date and Message-ID values.

    Date is `now` in the machine's time zone; Message-ID has its own test in tests/test_send.py."""
    head, separator, body = scrub_boundaries(raw).partition(b"\r\n\r\n")
    head = re.sub(rb"^Date: [^\r\n]*", b"Date: <scrubbed>", head, flags=re.M)
    head = re.sub(rb"^Message-ID: [^\r\n]*", b"Message-ID: <scrubbed>", head, flags=re.M)
    return head + separator + body


def test_the_message_matches_its_golden_file(built, request):
    """What one recipient gets, headers and MIME structure and quoted-printable bodies, as sent."""
    issue, out = built
    prepared = prepare(issue, out, SITE_URL)
    raw = message_bytes(compose(prepared, ONE_CLICK, "ase.odegard@example.org", "Åse Ødegård", NOW))
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line of a message ends in CRLF (RFC 5322)"
    produced = scrub(raw).replace(b"\r\n", b"\n")
    golden = GOLDEN / "2024-q2" / "message.eml"
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(produced)
    assert golden.exists(), f"missing golden file {golden}; create it with --update-golden and review it"
    assert produced.decode("ascii") == golden.read_bytes().decode("ascii"), (
        f"the composed message differs from {golden}; if the change is intended, run pytest --update-golden"
    )


# ---------------------------------------------------------------------- the fast path of a send

RECIPIENTS = [
    pytest.param("per@example.org", "", id="ascii"),
    pytest.param("ase.odegard@example.org", "Åse Ødegård", id="display-name"),
    pytest.param(
        "marit@example.org",
        'Marit "Mia" Ødegård-Kristiansen, seniorrådgiver ved Koordineringsenheten',
        id="folded-display-name",  # To runs onto continuation lines
    ),
    pytest.param("kari@blåbær.no", "Kari Nordmann", id="idn-domain"),  # ASCII local part: the fast path
    pytest.param("åse@blåbær.no", "Åse Ødegård", id="non-ascii-local-part"),  # SMTPUTF8: compose itself
]
UNSUBSCRIBE = [pytest.param(MAILTO, id="mailto"), pytest.param(ONE_CLICK, id="one-click")]


def both(built, settings, address, name) -> tuple[bytes, bytes]:
    """(MessageTemplate.render, message_bytes(compose)) for one recipient, boundaries scrubbed."""
    issue, out = built
    prepared = prepare(issue, out, SITE_URL)
    template = MessageTemplate(prepared, settings, NOW)
    assert template.usable, "the template falls back to compose for everyone: nothing of the fast path is tested"
    fast = template.render(address, name)
    full = message_bytes(compose(prepared, settings, address, name, NOW))
    return scrub_boundaries(fast), scrub_boundaries(full)


@pytest.mark.parametrize("settings", UNSUBSCRIBE)
@pytest.mark.parametrize("address, name", RECIPIENTS)
def test_the_fast_message_is_the_composed_one_but_for_soft_line_breaks(built, settings, address, name):
    """Headers, MIME structure and every encoded character are those of `compose`; only where the
    quoted-printable lines break softly (`=` CRLF) may differ, and the decoded parts are equal."""
    fast, full = both(built, settings, address, name)
    assert fast.partition(b"\r\n\r\n")[0] == full.partition(b"\r\n\r\n")[0], "the headers differ"
    assert fast.replace(b"=\r\n", b"") == full.replace(b"=\r\n", b"")
    fast_parts = email.message_from_bytes(fast, policy=policy.default)
    full_parts = email.message_from_bytes(full, policy=policy.default)
    decoded = [(p.get_content_type(), p.get_content()) for p in fast_parts.walk() if not p.is_multipart()]
    assert decoded == [(p.get_content_type(), p.get_content()) for p in full_parts.walk() if not p.is_multipart()]
    for line in fast.partition(b"\r\n\r\n")[2].split(b"\r\n"):
        # compose writes quoted-printable lines of up to 78 (the policy's max_line_length): no longer.
        assert len(line) <= 78, line


@pytest.mark.parametrize("settings", UNSUBSCRIBE)
@pytest.mark.parametrize("address, name", RECIPIENTS)
def test_the_fast_message_is_byte_for_byte_the_composed_one(built, settings, address, name):
    """What MessageTemplate's docstring promises: "the result is the same message `compose` makes"."""
    fast, full = both(built, settings, address, name)
    assert fast == full


# ---------------------------------------------------------------------- headers

LONG_TITLE = (
    "Nyhetsbrev fra Koordineringsenheten for ofre for menneskehandel – særutgave om tvangsarbeid "
    "på norske båter, i fiskeværet og på gården: hva vi vet, og hva som gjenstår – æøå ÆØÅ"
)


@pytest.mark.parametrize("settings", UNSUBSCRIBE)
def test_a_long_norwegian_subject_decodes_back_exactly(built, settings):
    """A long subject with "–" and "æøå" folds into valid RFC 2047 encoded words (each line at most 78
    characters, no broken or empty word) that a reader decodes back to exactly the issue's subject;
    the fast per-recipient message carries the same header."""
    from email.header import decode_header, make_header

    issue, out = built
    prepared = prepare(dataclasses.replace(issue, title=LONG_TITLE), out, SITE_URL)
    assert prepared.subject == f"{LONG_TITLE} – {issue.period}"
    raw = message_bytes(compose(prepared, settings, "kari@example.org", "Kari Nordmann", NOW))
    head = raw.partition(b"\r\n\r\n")[0]
    # List-Unsubscribe is the one line allowed longer: RFC 2369 forbids encoding it, and it stays under 998.
    assert all(len(line) <= 78 for line in head.split(b"\r\n") if not line.startswith(b"List-Unsubscribe:"))
    words = re.findall(rb"=\?[^?\s]*\?[^?\s]*\?[^?\s]*\?=", head)
    assert words and all(re.fullmatch(rb"=\?utf-8\?[bq]\?[^?\s]+\?=", w, re.I) and len(w) <= 75 for w in words)
    assert b"=?utf-8?b ?" not in head and b"?q??=" not in head and b"?b??=" not in head
    parsed = email.message_from_bytes(raw, policy=policy.compat32)
    assert str(make_header(decode_header(parsed["Subject"]))) == prepared.subject
    assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == prepared.subject
    fast = MessageTemplate(prepared, settings, NOW).render("kari@example.org", "Kari Nordmann")
    assert scrub_boundaries(fast) == scrub_boundaries(raw)


def test_date_is_in_the_publishers_time_zone(built):
    """Date: carries the configured zone's offset whatever the machine's zone: Oslo in summer is +0200,
    in winter +0100; another configured zone gives its own."""
    issue, out = built
    prepared = prepare(issue, out, SITE_URL)

    def date(settings, now):
        parsed = email.message_from_bytes(message_bytes(compose(prepared, settings, "a@example.org", "", now)))
        return parsed["Date"]

    assert MAILTO.timezone == "Europe/Oslo"
    assert date(MAILTO, NOW) == "Mon, 01 Jul 2024 11:00:00 +0200"
    assert date(MAILTO, dt.datetime(2024, 1, 15, 8, 30, tzinfo=dt.UTC)) == "Mon, 15 Jan 2024 09:30:00 +0100"
    new_york = dataclasses.replace(MAILTO, timezone="America/New_York")
    assert date(new_york, NOW) == "Mon, 01 Jul 2024 05:00:00 -0400"


def test_the_configured_time_zone_reaches_the_mail_settings(tmp_path):
    """newsletter.yaml's top-level `timezone:` is the one the Date: header uses."""
    settings_file = tmp_path / "newsletter.yaml"
    text = SAMPLE_SETTINGS.read_text(encoding="utf-8")
    assert "timezone: Europe/Oslo" in text
    settings_file.write_text(text.replace("timezone: Europe/Oslo", "timezone: Atlantic/Reykjavik"))
    assert load_settings(settings_file).mail.timezone == "Atlantic/Reykjavik"

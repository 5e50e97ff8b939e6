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

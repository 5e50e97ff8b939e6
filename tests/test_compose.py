"""The composed message of the sample issue: a golden e-mail.

The golden file is tests/golden/2024-q2/message.eml: the message for one fixed recipient, as sent
(`message_bytes`), with what changes from run to run scrubbed as rss2email's `clean_result` does
(MIME boundaries, Date, Message-ID), and CRLF written as LF so that it reads and diffs as text. A
missing golden file fails; after a deliberate change, regenerate it with
`python -m pytest tests/test_compose.py --update-golden` and read the diff before committing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from newsletter.config import load_settings
from newsletter.curate.issuefile import IssueDocument
from newsletter.mail.compose import compose, message_bytes, prepare
from newsletter.render.build import build
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS
from tests.test_render import GOLDEN

SETTINGS = load_settings(SAMPLE_SETTINGS)
NOW = dt.datetime(2024, 7, 1, 9, 0, tzinfo=dt.UTC)
SITE_URL = "https://nyhetsbrev.example.no/arkiv"
SECRET = "test-secret-for-unsubscribe-links"

# The sample settings with a one-click unsubscribe link (RFC 8058) too, so that the golden message has
# every header a send can write.
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

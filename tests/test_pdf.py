"""The PDF of an issue, read back with poppler-utils (`pdftotext`, `pdfinfo`, `pdffonts`).

The sample issue (issues/2024-q2.yaml) is built once per module. What a reader of the PDF must get:
the title, the period, every section title and every cited address as text (the addresses may be
wrapped by the print CSS, so they are compared with all whitespace removed); clickable links; page
numbers "page / pages"; title, author and language in the metadata; embedded fonts; a stable page
count; and no script or dangerous link whatever an entry's text contains.

WeasyPrint compresses its objects into object streams, so "the raw PDF" below means the file's bytes
plus every FlateDecode stream inflated: that is where `/Lang`, `/URI` and `/JS` would be.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from newsletter.config import load_settings
from newsletter.curate.issuefile import IssueDocument
from newsletter.models import Entry, Issue
from newsletter.render.build import build
from newsletter.render.view import issue_view
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS

SETTINGS = load_settings(SAMPLE_SETTINGS)


def poppler(tool: str, *args: str) -> str:
    """The UTF-8 output of a poppler-utils tool; a missing tool fails with what to install."""
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} not found: install Debian's poppler-utils (apt-get install poppler-utils); CI installs it")
    done = subprocess.run([tool, *args], capture_output=True, timeout=60)
    assert done.returncode == 0, f"{tool} {' '.join(args)} failed: {done.stderr.decode(errors='replace')}"
    return done.stdout.decode("utf-8")


def pdf_text(pdf: Path) -> str:
    return poppler("pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-")


def pdf_info(pdf: Path) -> dict[str, str]:
    info = {}
    for line in poppler("pdfinfo", "-enc", "UTF-8", str(pdf)).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def raw_pdf(pdf: Path) -> bytes:
    """The file's bytes followed by every Flate stream it holds, inflated (object streams included)."""
    data = pdf.read_bytes()
    parts = [data]
    for match in re.finditer(rb"stream\r?\n", data):
        try:
            parts.append(zlib.decompressobj().decompress(data[match.end() :]))
        except zlib.error:
            pass  # not a Flate stream (or not a stream keyword at all)
    return b"\n".join(parts)


def _pdf_string(body: bytes) -> str:
    """A PDF literal string's content, escapes resolved (enough for URIs)."""
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    out = re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m[1], 8)]) if m[1][:1].isdigit() else escapes.get(m[1], m[1]),
        body,
        flags=re.S,
    )
    return out.decode("latin-1")


def uri_actions(raw: bytes) -> set[str]:
    """Every /URI of a link action in the PDF (literal or hex string)."""
    uris = {_pdf_string(m[1]) for m in re.finditer(rb"/URI\s*\(((?:\\.|[^\\)])*)\)", raw, re.S)}
    uris |= {bytes.fromhex(m[1].decode()).decode("latin-1") for m in re.finditer(rb"/URI\s*<([0-9A-Fa-f\s]*)>", raw)}
    return uris


def squeeze(text: str) -> str:
    return "".join(text.split())


def collapse(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample issue, its view and its PDF (built once for the module)."""
    issue = IssueDocument.load(SAMPLE_ISSUE).issue(SETTINGS)
    out = tmp_path_factory.mktemp("pdf")
    result = build(issue, SETTINGS, out, ("pdf",))
    pdf = result.files[f"{issue.id}.pdf"]
    print(f"PDF: {pdf}")
    return issue, issue_view(issue, SETTINGS), pdf


@pytest.fixture(scope="module")
def text(sample):
    return pdf_text(sample[2])


def test_text_has_title_period_and_every_section_title(sample, text):
    issue, _, _ = sample
    flat = collapse(text)
    assert "Nyhetsbrev fra KOM" in flat
    assert "april–juni 2024" in flat
    titles = [
        config.title.replace("{period}", issue.period)
        for config in SETTINGS.section_configs
        if issue.sections.get(config.key)
    ]
    assert len(titles) >= 4, titles  # the sample fills the sections: a vacuous check would prove nothing
    missing = [title for title in titles if collapse(title) not in flat]
    assert not missing, f"section titles not in the PDF text: {missing}"
    assert "{period}" not in text


def test_text_has_every_cited_url(sample, text):
    _, view, _ = sample
    assert len(view.links) > 50
    flat = squeeze(text)
    missing = [url for _, url in view.links if squeeze(url) not in flat]
    assert not missing, f"{len(missing)} cited URLs not printed in the PDF, e.g. {missing[:3]}"


def test_page_count_is_stable_and_sane(sample, tmp_path):
    issue, _, pdf = sample
    again = build(issue, SETTINGS, tmp_path, ("pdf",)).files[f"{issue.id}.pdf"]
    first, second = int(pdf_info(pdf)["Pages"]), int(pdf_info(again)["Pages"])
    assert first == second
    # The sample's page count: a change here means the layout changed; look at the pages, then update it.
    assert first == 18


def test_metadata_title_author_and_language(sample):
    _, view, pdf = sample
    info = pdf_info(pdf)
    assert "Nyhetsbrev fra KOM" in info["Title"]
    assert "april–juni 2024" in info["Title"]
    assert SETTINGS.publisher and info["Author"] == SETTINGS.publisher
    raw = raw_pdf(pdf)
    nb_hex = [b"<6e62>", b"<6E62>", b"<FEFF006E0062>", b"<feff006e0062>"]
    assert re.search(rb"/Lang\s*\(nb\)", raw) or any(b"/Lang" + h in raw or b"/Lang " + h in raw for h in nb_hex), (
        "the PDF catalog does not declare /Lang (nb)"
    )


def test_every_font_is_embedded(sample):
    lines = poppler("pdffonts", str(sample[2])).splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    # Columns by the header's dashes: name, type, encoding, emb, sub, uni, object ID.
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    fonts = [line for line in lines[rule + 1 :] if line.strip()]
    assert fonts, "no fonts listed"
    not_embedded = [line for line in fonts if line[spans[3][0] : spans[3][1]].strip() != "yes"]
    assert not not_embedded, "fonts not embedded:\n" + "\n".join(not_embedded)


def test_links_are_clickable(sample):
    _, view, pdf = sample
    uris = {uri for uri in uri_actions(raw_pdf(pdf)) if uri.startswith("https://")}
    cited = {url for _, url in view.links}
    assert cited <= uris, f"not clickable: {sorted(cited - uris)[:5]}"


def test_page_numbers_page_of_pages(sample, text):
    pages = int(pdf_info(sample[2])["Pages"])
    printed = text.split("\f")
    assert re.search(rf"(?m)^\s*1 / {pages}\s*$", printed[0]), printed[0][-400:]
    assert re.search(rf"(?m)^\s*{pages} / {pages}\s*$", printed[pages - 1])


HOSTILE = [
    "<script>alert(1)</script> Tekst etter skriptet.",
    "Se [klikk](javascript:alert(1)) og [KLIKK](JavaScript:alert(2)).",
    "Et bilde: <img src=x onerror=alert(1)> her.",
    "Uavsluttet <b>tags og <i>mer",
    'Ramme: <iframe src="https://evil.example"></iframe> og [trygg](https://ok.example/side).',
    "Siste oppføring står fortsatt.",
]


@pytest.fixture(scope="module")
def hostile_pdf(tmp_path_factory):
    keys = list(SETTINGS.sections)
    issue = Issue(
        id="2024-q3",
        title="Nyhetsbrev fra KOM",
        period="juli–september 2024",
        intro="<script>alert('intro')</script>",
        sections={key: [] for key in keys},
    )
    issue.sections[keys[0]] = [
        Entry(heading="Angrep <script>", title=f"Sak {n}", text=text) for n, text in enumerate(HOSTILE)
    ]
    out = tmp_path_factory.mktemp("hostile")
    return build(issue, SETTINGS, out, ("pdf",)).files["2024-q3.pdf"]


def test_hostile_entry_texts_leave_no_script_or_bad_link(hostile_pdf):
    raw = raw_pdf(hostile_pdf)
    assert b"/JavaScript" not in raw
    assert not re.search(rb"/JS\b", raw)
    assert b"/Launch" not in raw and b"/OpenAction" not in raw
    uris = uri_actions(raw)
    assert not [u for u in uris if u.strip().lower().startswith("javascript:")], uris
    assert not [u for u in uris if "evil.example" in u], uris
    assert "https://ok.example/side" in uris  # the harmless link stays a link: the check is not vacuous
    text = collapse(pdf_text(hostile_pdf))
    assert "<script>alert(1)</script>" in text  # shown as the text it is
    assert "Siste oppføring står fortsatt." in text  # the unclosed tags broke nothing after them

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

import html
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
from newsletter.textcodec import hidden_characters
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
    assert first == 21


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


def test_tagged_pdf_ua_with_bookmarks_mirroring_sections_and_headings(sample):
    """PDF/UA-1: tagged, and an outline of sections → organisations → entry titles (nothing else)."""
    _, view, pdf = sample
    assert pdf_info(pdf)["Tagged"] == "yes"
    xml = poppler("pdftohtml", "-xml", "-i", "-stdout", "-q", str(pdf))
    outline = xml[xml.index("<outline>") :]
    items = [html.unescape(m) for m in re.findall(r"<item page=\"\d+\">([^<]*)</item>", outline)]
    expected = []
    for section in view.sections:
        expected.append(section.title)
        for group in section.groups:
            expected.append(group.heading)
            expected += [entry.title for entry in group.entries if entry.title]
    assert items == expected
    assert "Lenker i denne delen" not in xml


def words(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Every word of every page from `pdftotext -bbox`: (xMin, yMin, xMax, yMax, text), page by page."""
    out = poppler("pdftotext", "-bbox", "-enc", "UTF-8", str(pdf), "-")
    pages = []
    for page in re.findall(r"<page [^>]*>(.*?)</page>", out, re.S):
        found = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page
        )
        pages.append([(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in found])
    return pages


MM = 72 / 25.4


def test_no_glyph_outside_the_text_column(sample):
    """Every word on every page lies inside the 37 mm side margins: a long address wraps, it never runs off."""
    left, right = 37 * MM, 595.28 - 37 * MM
    outside = [
        (number, word)
        for number, page in enumerate(words(sample[2]), 1)
        for word in page
        if word[0] < left - 1 or word[2] > right + 1
    ]
    assert not outside, f"words outside the column (page, word): {outside[:5]}"


def test_long_token_in_an_entry_wraps_inside_the_column(tmp_path):
    keys = list(SETTINGS.sections)
    token = "https://deling.example/s/" + "Ab9" * 60
    issue = Issue(
        id="2024-q3", title="Nyhetsbrev fra KOM", period="juli–september 2024", sections={k: [] for k in keys}
    )
    issue.sections[keys[0]] = [Entry(heading="Lang lenke", title="Del", text=f"Lenken er {token} og [her]({token}).")]
    pdf = build(issue, SETTINGS, tmp_path, ("pdf",)).files["2024-q3.pdf"]
    right = 595.28 - 37 * MM
    assert max(word[2] for page in words(pdf) for word in page) <= right + 1
    assert squeeze(token) in squeeze(pdf_text(pdf))


def test_measure_is_60_to_75_characters(sample):
    """The median full line of body text holds 60–75 characters (the measure typographers recommend)."""
    lines = poppler("pdftotext", "-enc", "UTF-8", str(sample[2]), "-").splitlines()
    body = sorted(len(line) for line in lines if len(line) >= 45 and not re.match(r"\d+\. https?://", line))
    assert 60 <= body[len(body) // 2] <= 75, body[len(body) // 2]


def test_every_cited_url_is_a_footnote_on_the_page_that_cites_it(sample):
    """Each page's link annotations: every address a page links to is printed on that page (its footnote)."""
    from weasyprint import HTML

    from newsletter.render.build import environment

    _, view, pdf = sample
    # The same HTML written without compression, so the page objects and their annotations can be read.
    source = environment(None).get_template("print.html").render(view=view)
    raw = HTML(string=source).write_pdf(pdf_variant="pdf/ua-1", uncompressed_pdf=True)
    objects = {int(m[1]): m[2] for m in re.finditer(rb"(?s)(\d+) 0 obj(.*?)endobj", raw)}
    root = int(re.search(rb"/Root (\d+) 0 R", raw)[1])
    pages: list[bytes] = []

    def walk(number: int) -> None:
        body = objects[number]
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", body)
        if kids:
            for kid in re.findall(rb"(\d+) 0 R", kids[1]):
                walk(int(kid))
        else:
            pages.append(body)

    walk(int(re.search(rb"/Pages (\d+) 0 R", objects[root])[1]))
    printed = pdf_text(pdf).split("\f")
    assert len(pages) == int(pdf_info(pdf)["Pages"])
    checked = 0
    for number, page in enumerate(pages):
        annots = re.search(rb"/Annots\s*\[([^\]]*)\]", page)
        refs = [int(r) for r in re.findall(rb"(\d+) 0 R", annots[1])] if annots else []
        for uri in uri_actions(b"\n".join(objects[r] for r in refs)):
            if uri.startswith("http"):
                checked += 1
                assert squeeze(uri) in squeeze(printed[number]), f"page {number + 1} cites {uri} but does not print it"
    assert checked >= len(view.links) > 50  # every cited address was seen on some page: the check is not vacuous


def test_entry_title_and_date_line_never_end_a_page(sample, text):
    """Nothing stranded: the last body line of a page is never an entry's title nor its date line."""
    _, view, _ = sample
    titles = [collapse(e.title) for s in view.sections for g in s.groups for e in g.entries if e.title]
    for number, page in enumerate(text.split("\f")[:-1], 1):
        lines = [collapse(line) for line in page.splitlines() if line.strip()]
        # The body ends where the footnotes begin ("12. https://…"), or at the page number.
        end = next((i for i, line in enumerate(lines) if re.match(r"\d+\. https?://|\d+ / \d+$", line)), len(lines))
        last = lines[end - 1]
        assert not last.startswith(("Dato:", "Høringsfrist:", "Høringsfristen gikk ut")), (
            f"page {number} ends with a date line: {last}"
        )
        # A title whole in the page's last lines, or a title's first line ending it ("og æresrelatert vold"
        # ending a list is no title, though a title ends in those words).
        stranded = [t for t in titles if t.startswith(last) and len(last) > 12] + [
            t for t in titles for k in (1, 2, 3) if " ".join(lines[max(end - k, 0) : end]) == t
        ]
        assert not stranded, f"page {number} ends with a title: {last}"


def test_contents_list_sections_then_organisations(sample, text):
    _, view, pdf = sample
    # Read in reading order (not -layout): the contents list is set in two columns.
    first = collapse(poppler("pdftotext", "-f", "1", "-l", "1", "-enc", "UTF-8", str(pdf), "-"))
    assert "INNHOLD" in first  # "Innhold", set in capitals
    for section in view.sections:
        assert collapse(section.title) in first
        for group in section.groups:
            assert collapse(group.heading) in first


def test_running_head_names_the_first_section_beginning_on_the_page_else_the_one_going_on(sample, text):
    """As Word's STYLEREF: a page that ends one section and begins the next is headed by the next."""
    _, view, _ = sample
    titles = [collapse(section.title) for section in view.sections]
    current, heads, expected = None, [], []
    for page in text.split("\f")[1:]:
        if not page.strip():
            continue
        lines = [collapse(line) for line in page.strip().splitlines()]
        heads.append(lines[0])
        # A section's title stands on a line of its own, or on two (a long one wraps).
        pairs = [(n, line) for n, line in enumerate(lines[1:])] + [
            (n, f"{line} {after}") for n, (line, after) in enumerate(zip(lines[1:], lines[2:], strict=False))
        ]
        begun = sorted((n, title) for n, line in pairs for title in titles if line == title)
        current = begun[0][1] if begun else current
        expected.append(current)
    assert all(head.startswith(str(title)) for head, title in zip(heads, expected, strict=True)), list(
        zip(heads, expected, strict=True)
    )
    assert all("Nyhetsbrev fra KOM · april–juni 2024" in head for head in heads)


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


def _one_entry_pdf(tmp_path, entry: Entry, title: str = "Nyhetsbrev fra KOM", intro: str = "") -> Path:
    """The PDF of an issue holding `entry` alone, in its first section."""
    keys = list(SETTINGS.sections)
    issue = Issue(id="2024-q3", title=title, period="juli–september 2024", intro=intro, sections={k: [] for k in keys})
    issue.sections[keys[0]] = [entry]
    return build(issue, SETTINGS, tmp_path, ("pdf",)).files["2024-q3.pdf"]


def _pdf_of_one_entry(tmp_path, title: str, intro: str, entry: Entry) -> tuple[str, str]:
    """(the text, collapsed, and the metadata title) of the PDF of an issue with one entry."""
    pdf = _one_entry_pdf(tmp_path, entry, title, intro)
    return collapse(pdf_text(pdf).replace("\f", "")), pdf_info(pdf)["Title"]  # pdftotext ends a page with \f


def test_invisible_characters_reach_neither_the_text_nor_the_metadata(tmp_path):
    """A right-to-left override, isolates, zero-width spaces and controls pasted into a title, heading
    and text: the PDF's text and its title read as the words alone."""
    text, title = _pdf_of_one_entry(
        tmp_path,
        "Nyhets\u200bbrev\u202e fra KOM",
        "Godt\x0c nytt år\u200f!",
        Entry(
            heading="Regj\u200beringen\u2066",
            title="Ny \u202erapport\u202c om tvangsarbeid",
            text="Les [regjeringen.no\u202e/fdp.tropar\u202c](https://www.regjeringen.no/rapport)\ufeff her.",
        ),
    )
    assert hidden_characters(text) == []
    assert "Les regjeringen.no/fdp.tropar" in text and "Ny rapport om tvangsarbeid" in text
    assert hidden_characters(title) == [] and "Nyhetsbrev fra KOM" in title


def test_a_break_between_words_is_a_space_in_the_text_and_the_metadata(tmp_path):
    """VT, FF, NEL, FS and U+2028/U+2029 pasted between words: each a space, none gone and none kept."""
    text, title = _pdf_of_one_entry(
        tmp_path,
        "Nyhetsbrev\u2028fra KOM",
        "Godt\x0cnytt år.",
        Entry(
            heading="Regjeringen\u2029Justis",
            title="Ny\x1crapport om tvangsarbeid",
            text="Linje\x85neste og\u2028linje\x0bskift.",
        ),
    )
    assert hidden_characters(text) == []
    for words in ("Godt nytt år", "Regjeringen Justis", "Ny rapport om tvangsarbeid", "Linje neste og linje skift"):
        assert words in text, words
    assert hidden_characters(title) == [] and "Nyhetsbrev fra KOM" in title


def test_an_image_is_a_link_with_its_description_and_a_footnote_with_its_address(tmp_path):
    text = "Rapporten er ute. ![Forsiden av rapporten](https://example.org/forside.png)"
    pdf = _one_entry_pdf(tmp_path, Entry(heading="Publikasjoner", title="Tilstandsrapporten", text=text))
    text = pdf_text(pdf)
    assert "Rapporten er ute. Forsiden av rapporten" in collapse(text)
    assert "https://example.org/forside.png" in squeeze(text)  # the footnote
    assert "https://example.org/forside.png" in uri_actions(raw_pdf(pdf))


def test_an_image_inside_a_link_is_the_links_words_with_one_footnote_to_the_links_address(tmp_path):
    text = "Les [![Forsiden av rapporten](https://example.org/forside.png)](https://example.org/rapport.pdf)."
    pdf = _one_entry_pdf(tmp_path, Entry(heading="Publikasjoner", title="Tilstandsrapporten", text=text))
    text = pdf_text(pdf)
    assert "Les Forsiden av rapporten" in collapse(text)
    assert squeeze(text).count("https://example.org/rapport.pdf") == 1  # the footnote, once
    assert "forside.png" not in squeeze(text)
    assert {uri for uri in uri_actions(raw_pdf(pdf)) if "example.org" in uri} == {"https://example.org/rapport.pdf"}


def test_text_is_set_in_open_sans_embedded(sample):
    """A font made for reading (Debian's fonts-open-sans), embedded; DejaVu Sans, the fallback, is not needed.

    pdffonts lists every font the pages use: with Open Sans alone (regular, bold, italic) listed, the body
    text is set in it. DejaVu would appear for any character Open Sans lacks (it did for the hyphen
    WeasyPrint adds at a line break, U+2010, while the PDF was hyphenated).
    """
    lines = poppler("pdffonts", str(sample[2])).splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    names = [line.split()[0].split("+", 1)[-1] for line in lines[rule + 1 :] if line.strip()]
    assert "Open-Sans" in names, f"Open Sans is not used (is fonts-open-sans installed?): {names}"
    assert all(name.startswith("Open-Sans") for name in names), names


def test_a_line_break_in_the_source_before_a_link_never_breaks_a_printed_line_early(tmp_path):
    """ "Expert\\n[Group](…)": the editor's line break is a space; the printed line holds both words.

    Twice, at the start of a paragraph and mid-sentence (where a line break in the HTML before `<a>`
    broke the printed line early: "Expert" ended one line, "Group" began the next).
    """
    keys = list(SETTINGS.sections)
    issue = Issue(
        id="2024-q3", title="Nyhetsbrev fra KOM", period="juli–september 2024", sections={k: [] for k in keys}
    )
    text = (
        "Expert\n[Group](https://www.coe.int/en/web/anti-human-trafficking/greta) on Action against Trafficking"
        " har publisert sin rapport.\n\n"
        "Rapporten fra Europarådets ekspertgruppe, GRETA (Expert\n[Group](https://www.coe.int/greta)), ble"
        " lagt fram i juni."
    )
    issue.sections[keys[0]] = [Entry(heading="GRETA", title="Rapport", text=text)]
    pdf = build(issue, SETTINGS, tmp_path, ("pdf",)).files["2024-q3.pdf"]
    body = [word for page in words(pdf)[:1] for word in page]
    experts = [w for w in body if w[4].lstrip("(") == "Expert"]
    groups = [w for w in body if w[4].startswith("Group")]
    assert len(experts) == 2 and len(groups) == 2, [w[4] for w in body]
    for expert, group in zip(experts, groups):
        assert abs(expert[1] - group[1]) < 1, f"'Expert' at y={expert[1]:.1f}, 'Group' at y={group[1]:.1f}"
        assert group[0] > expert[2]  # on the same line, after it


def test_footnotes_are_numbered_through_the_issue_and_each_call_meets_its_note_on_its_page(sample):
    """Footnote numbers run 1, 2, 3 … through the whole PDF, one per cited link in reading order, and every
    page prints the notes of exactly the calls it makes.

    Per-page numbering (`@page { counter-reset: footnote }`, CSS GCPM 3 §2.8) is not possible in
    WeasyPrint 70: it numbers footnotes while building boxes, before pages exist (Kozea/WeasyPrint#2553),
    so the numbering is per issue; see `newsletter/render/pdf.py`.
    """
    _, view, pdf = sample
    from newsletter.render.build import environment

    html_source = environment(None).get_template("print.html").render(view=view)
    expected = html_source.count('<span class="fn">')
    notes_by_page, calls_by_page = [], []
    for page_words, page_text in zip(words(pdf), pdf_text(pdf).split("\f"), strict=False):
        notes_by_page.append([int(n) for n in re.findall(r"(?m)^\s*(\d+)\. https?://", page_text)])
        # A call is a small superscript number (6.5 pt, boxes 9 pt high); body text, running head and page
        # number are 8.5 pt and more (boxes 11.5 pt high and more), and a note's number has its dot.
        calls_by_page.append(sorted(int(w[4]) for w in page_words if w[4].isdigit() and w[3] - w[1] < 10))
    numbers = [n for page in notes_by_page for n in page]
    assert numbers == list(range(1, expected + 1)), numbers
    for number, (notes, calls) in enumerate(zip(notes_by_page, calls_by_page, strict=True), 1):
        assert calls == notes, f"page {number}: calls {calls}, notes {notes}"


def test_no_word_is_broken_by_a_hyphen_at_a_line_end(sample):
    """A hyphen added at a line break is text in the PDF: a screen reader reads "tidli-" and "gere", a search
    for "tidligere" misses it. Every line that ends in a hyphen ends in one the issue has ("KOM-funksjonen").
    """
    issue, _, pdf = sample
    written = (
        " ".join(f"{entry.title} {entry.text} {entry.heading}" for _key, _position, entry in issue.entries())
        + f" {issue.intro}"
    )
    written = " ".join(written.split())
    lines = poppler("pdftotext", "-raw", str(pdf), "-").splitlines()
    broken = []
    for line, following in zip(lines, lines[1:], strict=False):
        if re.search(r"\w-$", line) and following.strip():
            head, tail = line.split()[-1], following.split()[0]
            if f"{head}{tail}" not in written and f"{head} {tail}" not in written:
                broken.append(f"{head}{tail}")
    assert broken == [], broken

"""Rendering the sample issue: golden files, what an e-mail must be, the text part, hostile entry
texts, the calendar, and `build` through the command line.

Golden files live in tests/golden/<id>/; a missing one fails. After a deliberate change to the
templates, regenerate them with `python -m pytest tests/test_render.py --update-golden` and read
the diff before committing.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.config import load_settings
from newsletter.curate.issuefile import IssueDocument
from newsletter.models import Entry, Issue
from newsletter.render.build import EMAIL_LIMIT, build
from newsletter.render.email import compact_style, drop_unused_classes
from newsletter.render.view import UNSUBSCRIBE_URL, WEB_VERSION_URL, issue_view
from newsletter.textcodec import hidden_characters
from tests.conftest import SAMPLE_ISSUE, SAMPLE_SETTINGS

REPO = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
SETTINGS = load_settings(SAMPLE_SETTINGS)


def sample_issue() -> Issue:
    return IssueDocument.load(SAMPLE_ISSUE).issue(SETTINGS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample issue built in web, e-mail and text form (the PDF has its own tests)."""
    out = tmp_path_factory.mktemp("build")
    result = build(sample_issue(), SETTINGS, out, ("web", "email", "text"))
    return result


@pytest.mark.parametrize("name", ["index.html", "email.html", "email.txt"])
def test_outputs_match_their_golden_files(built, name, request):
    golden = GOLDEN / "2024-q2" / name
    produced = built.files[name].read_text(encoding="utf-8")
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.exists(), f"missing golden file {golden}; create it with --update-golden and review it"
    assert produced == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if the change is intended, run pytest --update-golden"
    )


def test_web_page_is_semantic_and_complete(built):
    html = built.files["index.html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="nb">' in html
    assert "<script" not in html
    view = issue_view(sample_issue(), SETTINGS)
    for section in view.sections:
        assert f'<a href="#{section.anchor}">{section.title}</a>' in html  # the table of contents
        assert f'id="{section.anchor}"' in html
    headings = re.findall(r"<h([1-6])", html)
    assert headings[0] == "1" and all(int(b) - int(a) <= 1 for a, b in zip(headings, headings[1:]))
    assert "Høringsfrist: 2. juli 2024" in html  # a consultation's deadline, in Norwegian
    assert '<meta name="viewport"' in html and "@media print" in html


def test_email_html_is_made_for_mail_clients(built):
    html = built.files["email.html"].read_text(encoding="utf-8")
    # One small <style> is kept on purpose (media queries cannot be inlined): narrow screens and dark mode.
    # Outlook on Windows alone reads one more, inside a conditional comment every other client skips.
    [outlook] = re.findall(r"<!--\[if mso\]><style>(.*?)</style><!\[endif\]-->", html, re.S)
    assert "font-family: Arial" in outlook  # no Times New Roman where Open Sans is missing
    styles = re.findall(r"<style\b[^>]*>(.*?)</style>", re.sub(r"<!--.*?-->", "", html, flags=re.S), re.S)
    assert len(styles) == 1 and len(styles[0]) < 1500, styles
    assert "@media (max-width" in styles[0] and "prefers-color-scheme: dark" in styles[0]
    assert "<script" not in html.lower()
    assert 'role="presentation"' in html and 'width="600"' in html
    assert not re.search(r"<link\b", html), "no external stylesheet"
    assert not re.search(r'(src|background)=["\']?https?:', html), "no external resource"
    for tag in re.findall(r"<img\b[^>]*>", html):
        assert re.search(r'\balt="', tag), tag
    assert len(html.encode("utf-8")) < EMAIL_LIMIT
    assert html.count(WEB_VERSION_URL) == 1 and html.count(UNSUBSCRIBE_URL) == 1
    assert 'style="' in html and "color:" in html  # inlined
    assert not any("Gmail clips" in w for w in built.warnings), built.warnings  # (site_url is not set here)


def test_a_long_email_is_warned_about(tmp_path):
    issue = sample_issue()
    many = [Entry(heading="Mye", title=f"Sak {n}", text="Tekst. " * 120) for n in range(60)]
    issue.sections["norway"] = issue.sections["norway"] + many
    result = build(issue, SETTINGS, tmp_path, ("email", "text"))
    assert any("Gmail clips messages over 102 KB" in w for w in result.warnings)
    html = result.files["email.html"].read_text(encoding="utf-8")
    # The web version is linked where the clip would fall, before the budget runs out.
    notice = html.index("les hele nyhetsbrevet i nettleseren")
    assert html.count(WEB_VERSION_URL) == 2 and len(html[:notice].encode()) < EMAIL_LIMIT  # all of it before
    # With no archive to point to, the message leaves the notice out whole, not "… klippe resten bort: ."
    from newsletter.mail.compose import prepare

    unlinked = prepare(issue, tmp_path, site_url="").html
    assert "klippe resten bort" not in unlinked and WEB_VERSION_URL not in unlinked
    assert "Les nyhetsbrevet i nettleseren" not in unlinked and "Sak 59" in unlinked
    linked = prepare(issue, tmp_path, site_url="https://www.example.no/nyhetsbrev").html
    assert 'klippe resten bort: <a href="https://www.example.no/nyhetsbrev/2024-q2/">' in linked


def test_email_fits_its_size_budget_with_a_preheader_and_real_headings(built):
    """Under 60 KB for the sample; a hidden preheader from the intro first; h1–h4; lang on the wrapper."""
    html = built.files["email.html"].read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) < 60_000  # 60 KB as the issue and Gmail's 102 KB clip count them, not KiB
    body = html[html.index("<body") :]
    hidden = re.search(r'<div style="display:none;[^"]*" aria-hidden="true">([^<]*)</div>', body)
    assert hidden and body.index(hidden.group(0)) < body.index("<table")
    assert hidden.group(1).startswith("I denne utgaven forteller vi om utviklingsarbeidet")
    assert '<div lang="nb"' in body  # Gmail strips <html>; the wrapper keeps the language
    view = issue_view(sample_issue(), SETTINGS)
    assert body.count("<h1") == 1 and body.count("<h2") == len(view.sections)
    assert body.count("<h3") == sum(len(s.groups) for s in view.sections)  # the organisations, as on the web
    assert body.count("<h4") == sum(1 for s in view.sections for g in s.groups for e in g.entries if e.title)
    # "se her" stays on screen; its accessible name says where it goes (WCAG 2.4.4, label in name 2.5.3).
    vague = re.findall(r"<a [^>]*>her</a>", body)
    assert len(vague) > 50 and all('aria-label="her: ' in link for link in vague)
    assert body.count("Meld deg av") == 1


def test_the_email_leaves_out_line_breaks_but_keeps_the_unsubscribe_link_on_a_short_line(built):
    """Line breaks between blocks are never drawn, so they are not sent; the link's line is encoded again per
    recipient when sending (MessageTemplate), so it stays a short line of its own."""
    html = built.files["email.html"].read_text(encoding="utf-8")
    [line] = [line for line in html.splitlines() if UNSUBSCRIBE_URL in line]
    assert len(line) < 200, line
    assert not re.search(r"\n<(?:p|li|ul|h[1-6]|td|tr|table)\b", html.replace(f"\n{line}\n", ""))


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("margin:0; padding:0; background-color:#eef1f5;", "margin:0;padding:0;background-color:#eef1f5"),
        ("font-family : 'A; B', Arial ;color:red", "font-family:'A; B', Arial;color:red"),  # ";" in a name stays
        ("background:url(a.png?x=1;y=2); color: red", "background:url(a.png?x=1;y=2);color:red"),
        ("font-family: &quot;Open Sans&quot;;", "font-family:&quot;Open Sans&quot;"),  # still escaped
        ("font-family: Bob's Font; color: red", "font-family:Bob's Font;color:red"),  # a lone quote is kept
        ("width: calc(100% ; color: red", "width:calc(100%;color:red"),  # so is an unclosed parenthesis
    ],
)
def test_inline_styles_are_sent_without_spaces_css_does_not_need(written, sent):
    assert compact_style(written) == sent


def test_the_email_keeps_only_the_classes_its_kept_style_selects():
    """Inlined, class="meta" does nothing; class="deadline" is what the dark-mode rule turns orange."""
    html = (
        '<style>#content .deadline { color: #f0a872 !important; }</style><p class="meta" style="color:#5a5a5a">'
        '<span class="event">Dato: 1. mai</span> · <span class="deadline closed" style="font-weight:bold">Frist</span>'
    )
    assert drop_unused_classes(html) == (
        '<style>#content .deadline { color: #f0a872 !important; }</style><p style="color:#5a5a5a">'
        'Dato: 1. mai · <span class="deadline" style="font-weight:bold">Frist</span>'
    )


def test_the_email_template_has_only_rules_premailer_can_inline():
    """premailer silently drops what it cannot inline (@media, :hover): only the kept block may have them."""
    source = (REPO / "newsletter" / "templates" / "email.html").read_text(encoding="utf-8")
    css = re.search(r"<style>(.*?)</style>", source, re.S).group(1)  # the inlined block (the kept one has data-)
    assert "@" not in css and not re.search(r"[a-z\]]:[a-z-]+\s*[{,]", css), "rules premailer cannot inline"


def test_text_part_has_every_link_and_short_lines(built):
    text = built.files["email.txt"].read_text(encoding="utf-8")
    view = issue_view(sample_issue(), SETTINGS)
    for number, url in view.links + view.footer_links:
        assert f"[{number}] {url}" in text
    for line in text.splitlines():
        assert len(line) <= 78 or re.fullmatch(r"(\[\d+\] )?\S+", line), line  # only an unbreakable URL may be longer
    for section in view.sections:
        assert section.title.upper() in text.replace("\n", " ") or section.title.upper()[:60] in text
    assert WEB_VERSION_URL in text and UNSUBSCRIBE_URL in text
    assert "Høringsfrist: 2. juli 2024" in text


def test_a_reference_marker_never_wraps_alone_onto_the_next_line():
    from newsletter.render.markdown import wrap

    text = "I mai var partnerne på studiereise til London, se her [73]."
    width = len(text) - len(" [73].")  # the marker would just not fit on the first line
    assert wrap(text, width=width).splitlines() == ["I mai var partnerne på studiereise til London, se", "her [73]."]
    assert wrap("se [1] og [2]", width=6) == "se [1]\nog [2]"


def test_text_part_indents_the_date_lines_under_the_bulleted_title(built):
    text = built.files["email.txt"].read_text(encoding="utf-8")
    assert "* Nasjonal konferanse om menneskehandel, «Från ord till handling»\n  Dato: 18. oktober 2024\n" in text
    assert "* Forslag om endringer i barnevernsloven på høring\n  Høringsfrist: 2. juli 2024\n" in text
    assert not re.search(r"^\[\d+\]\.?$", text, re.M), "a marker alone on its line"


def test_intro_footer_and_mail_links_agree_across_formats(tmp_path):
    """Links in the intro and the footer are numbered and listed; a mail address is written out, never numbered."""
    import dataclasses

    issue = sample_issue()
    issue.intro = "Les [årsrapporten](https://example.org/aarsrapport) eller skriv til [oss](mailto:a@b.no)."
    settings = dataclasses.replace(
        SETTINGS, footer_about="Mer på [politiet.no](https://www.politiet.no/menneskehandel)."
    )
    view = issue_view(issue, settings)
    assert view.intro_links == [(1, "https://example.org/aarsrapport")]
    assert view.footer_links == [(len(view.links), "https://www.politiet.no/menneskehandel")]
    assert all(not url.startswith("mailto:") for _, url in view.links)
    result = build(issue, settings, tmp_path, ("text", "pdf"))
    text = result.files["email.txt"].read_text(encoding="utf-8")
    assert "årsrapporten [1]" in text and "[1] https://example.org/aarsrapport" in text
    assert "oss (a@b.no)" in text
    footer_number = view.footer_links[0][0]
    assert (
        f"politiet.no [{footer_number}]" in text and f"[{footer_number}] https://www.politiet.no/menneskehandel" in text
    )
    import subprocess

    printed = subprocess.run(
        ["pdftotext", str(result.files["2024-q2.pdf"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    # The PDF prints each cited address as a footnote on the page that cites it, numbered through the issue.
    assert "1. https://example.org/aarsrapport" in printed
    assert re.search(r"\d+\. https://www.politiet.no/menneskehandel", printed.replace("\n", ""))


def test_a_broken_template_is_a_message_naming_it(tmp_path):
    from newsletter.errors import NewsletterError

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "web.html").write_text("<h1>{{ view.title }</h1>\n", encoding="utf-8")
    with pytest.raises(NewsletterError, match=r"web.html, line 1: "):
        build(sample_issue(), SETTINGS, tmp_path / "out", ("web",), templates)


def test_links_are_numbered_once_in_reading_order(built):
    view = issue_view(sample_issue(), SETTINGS)
    numbers = [n for n, _ in view.links]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len({url for _, url in view.links}) == len(view.links)
    cited = [url for section in view.sections for _, url in section.links]
    assert list(dict.fromkeys(cited)) == [url for _, url in view.links]


def test_a_link_cited_again_is_listed_again_under_the_entry_that_cites_it(tmp_path):
    """A plain-text reader sees "[1]" under the third entry: its address must be there, not only above."""
    issue = sample_issue()
    first, second = next(entries for entries in issue.sections.values() if len(entries) >= 2)[:2]
    first.text = "Se [rapporten](https://example.org/rapport) og [saken](https://example.org/sak)."
    second.text = "Omtalt før: [rapporten](https://example.org/rapport)."
    view = issue_view(issue, SETTINGS)
    entries = [entry for section in view.sections for group in section.groups for entry in group.entries]
    number = {url: n for n, url in view.links}["https://example.org/rapport"]
    views = {entry.title: entry for entry in entries}
    assert (number, "https://example.org/rapport") in views[first.title].links
    assert views[second.title].links == [(number, "https://example.org/rapport")]
    text = build(issue, SETTINGS, tmp_path, ("text",)).files["email.txt"].read_text(encoding="utf-8")
    later = text.index(f"rapporten [{number}].", text.index("Omtalt før"))
    assert text.index(f"[{number}] https://example.org/rapport", later) > later


def test_headings_and_entries_come_in_the_order_of_the_file():
    """The outputs never reorder: the configured order places new headings (curation), it does not sort them."""
    issue = Issue(
        id="2024-q3", title="Nyhetsbrev", period="juli–september 2024", sections={key: [] for key in SETTINGS.sections}
    )
    issue.sections["international"] = [
        Entry(heading="Finland", title="F", text="f"),
        Entry(heading="Ukjent", title="U", text="u"),
        Entry(heading="UNODC", title="A", text="a"),
        Entry(heading="unodc", title="A2", text="a2"),
        Entry(heading="Finland", title="F2", text="f2"),
    ]
    view = issue_view(issue, SETTINGS)
    groups = view.sections[0].groups
    # A heading split in the file is shown twice, where it is (`issue check` warns of the split).
    assert [g.heading for g in groups] == ["Finland", "Ukjent", "UNODC", "Finland"]
    assert [[e.ref for e in g.entries] for g in groups] == [
        ["international:1"],
        ["international:2"],
        ["international:3", "international:4"],
        ["international:5"],
    ]
    assert [g.anchor for g in groups] == [f"del-international-{n}" for n in range(1, 5)]


HOSTILE = [
    "<script>alert('x')</script> Tekst etter skript.",
    "Klikk [her](javascript:alert(1)) eller [der](JAVASCRIPT:alert(2)).",
    'Bilde: <img src=x onerror=alert(1)> og <iframe src="https://evil.example"></iframe>.',
    "Uavsluttet <b>fet <i>kursiv <a href='https://evil.example'>lenke",
    '<div style="position:fixed;top:0">Overlegg</div> [ok](https://ok.example/side)',
]


def hostile_issue() -> Issue:
    issue = Issue(
        id="2024-q3",
        title="Nyhetsbrev",
        period="juli–september 2024",
        intro="<script>x()</script>",
        sections={key: [] for key in SETTINGS.sections},
    )
    issue.sections["norway"] = [
        Entry(
            heading="Angrep <script>",
            title=f"Sak <b>{n}</b>",
            text=text,
            event_date=dt.date(2024, 9, 1) if n == 0 else None,
        )
        for n, text in enumerate(HOSTILE)
    ]
    return issue


def test_hostile_entry_texts_are_inert_in_every_html_output(tmp_path):
    result = build(hostile_issue(), SETTINGS, tmp_path, ("web", "email", "text"))
    for name in ("index.html", "email.html"):
        html = result.files[name].read_text(encoding="utf-8")
        lowered = html.lower()
        assert "<script" not in lowered and "<iframe" not in lowered and "<img" not in lowered
        assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", lowered)  # shown as text at most, never a link
        assert not re.search(r"<[^>]*\bon[a-z]+\s*=", lowered)  # no event handler on any tag
        assert not re.search(r"<[a-z][^>]*evil\.example", lowered)  # no tag points there; text may mention it
        assert not re.search(r"<[a-z][^>]*position:\s*fixed", lowered)
        assert "&lt;script&gt;" in html  # shown as the text it is
        assert 'href="https://ok.example/side"' in html
        assert html.count("<b>") == html.count("</b>")  # nothing left open to break the page
    text = result.files["email.txt"].read_text(encoding="utf-8")
    assert not re.search(r"^\[\d+\] javascript:", text, re.M | re.I)  # never listed as a link to follow
    assert "https://ok.example/side" in text


# Characters a reader cannot see, as an editor pastes them in: a right-to-left override that makes a link's
# text read as another address ("Trojan Source"), isolates, zero-width spaces, a byte-order mark, a form feed,
# a bell, a C1 control, a tag character. Each must be gone from every output.
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # emoji joined by ZWJ: kept
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want", spelled with a ZWNJ: kept


def invisible_issue() -> Issue:
    issue = Issue(
        id="2024-q3",
        title="Nyhets\u200bbrev\u202e",
        period="juli–september 2024",
        audience="Til\u2060 samarbeids\ufeffaktører",
        intro="Godt\x0c nytt\x07 år\u200f! Se [oversikten\u2067](https://www.politiet.no/kom)\x85.",
        sections={key: [] for key in SETTINGS.sections},
    )
    issue.sections["norway"] = [
        Entry(
            heading="Regj\u200beringen\U000e0041",
            title="Ny \u202erapport\u202c om menneske\u00adhandel",
            text=(
                "Les [regjeringen.no\u202e/fdp.tropar\u202c](https://www.regjeringen.no/rapport) og\u2066 mer\u2069.\n\n"
                f"Familie: {FAMILY}, persisk: {PERSIAN}."
            ),
            event_date=dt.date(2024, 9, 1),
        )
    ]
    return issue


def test_invisible_characters_reach_no_output_and_what_scripts_need_stays(tmp_path):
    from icalendar import Calendar

    result = build(invisible_issue(), SETTINGS, tmp_path, ("web", "email", "text"))
    for name in ("index.html", "email.html", "email.txt"):
        text = result.files[name].read_text(encoding="utf-8")
        assert hidden_characters(text) == [], name
        assert FAMILY in text and PERSIAN in text, name
        assert "regjeringen.no/fdp.tropar" in text, name  # the link's text in the order it is stored, readable
        assert "Regjeringen" in text and "Nyhetsbrev" in text, name
        assert "menneske\u00adhandel" in text, name  # a soft hyphen is where a long word may break: kept
        assert "Til samarbeidsaktører" in text and "Godt nytt år!" in text, name
    assert "[1] https://www.politiet.no/kom" in result.files["email.txt"].read_text(encoding="utf-8")
    calendar = result.files["events.ics"].read_text(encoding="utf-8")
    assert hidden_characters(calendar) == []
    (event,) = Calendar.from_ical(calendar).walk("VEVENT")
    assert str(event["summary"]) == "Ny rapport om menneske\u00adhandel"
    assert str(event["description"]).startswith("Les regjeringen.no/fdp.tropar (https://www.regjeringen.no/rapport)")
    assert FAMILY in str(event["description"]) and PERSIAN in str(event["description"])


def break_issue() -> Issue:
    """Breaks pasted between words: VT (Word's Shift+Enter), FF (a PDF's page), NEL (a Latin-1 file), FS, and
    the Unicode line and paragraph separators, in every field an output shows."""
    issue = Issue(
        id="2024-q3",
        title="Nyhetsbrev\u2028fra KOM",
        period="juli–september 2024",
        audience="Til\x0bsamarbeidsaktører",
        intro="Godt\x0cnytt år. Se [oversikten\x85her](https://www.politiet.no/kom).",
        sections={key: [] for key in SETTINGS.sections},
    )
    issue.sections["norway"] = [
        Entry(
            heading="Regjeringen\u2029Justis",
            title="Ny\x1crapport om menneskehandel",
            text="Linje\x85neste og\u2028linje\x0bskift.\n\nSide\x0c\x0cskift.",
            event_date=dt.date(2024, 9, 1),
        )
    ]
    return issue


BROKEN_WORDS = (
    "Nyhetsbrev fra KOM",
    "Til samarbeidsaktører",
    "Godt nytt år",
    "oversikten her",
    "Regjeringen Justis",
    "Ny rapport om menneskehandel",
    "Linje neste og linje skift.",
    "Side skift.",
)


def test_a_break_between_words_is_a_space_in_every_output(tmp_path):
    """Deleted, "Linje\\x85neste" read "Linjeneste"; kept, U+2028 broke a line in some readers and not in others."""
    from icalendar import Calendar

    result = build(break_issue(), SETTINGS, tmp_path, ("web", "email", "text"))
    for name in ("index.html", "email.html", "email.txt"):
        text = result.files[name].read_text(encoding="utf-8")
        assert hidden_characters(text) == [], name
        for words in BROKEN_WORDS:
            if name == "email.txt":  # wrapped at 78 columns
                assert words in " ".join(text.split()), (name, words)
            else:
                assert words in text, (name, words)
    (event,) = Calendar.from_ical(result.files["events.ics"].read_text(encoding="utf-8")).walk("VEVENT")
    assert str(event["summary"]) == "Ny rapport om menneskehandel"
    assert str(event["description"]) == "Linje neste og linje skift.\n\nSide skift."


def test_headings_that_read_the_same_are_one_heading_whatever_invisible_characters_they_hold():
    issue = invisible_issue()
    issue.sections["norway"] = [
        Entry(heading="UNODC", title="Rapport", text="Tekst."),
        Entry(heading="UN\u200bODC\u202c", title="Veileder", text="Tekst."),
    ]
    (section,) = issue_view(issue, SETTINGS).sections
    assert [(g.heading, [e.title for e in g.entries]) for g in section.groups] == [("UNODC", ["Rapport", "Veileder"])]


def test_a_workspace_template_prints_no_invisible_character_either(tmp_path):
    """A setting a template of the workspace prints, outside the view model's texts, loses them too."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "email.txt").write_text(
        "{{ view.title }} {{ 'Mellom\u200brom\u202e' }} {{ view.colors | length }}\n", encoding="utf-8"
    )
    result = build(invisible_issue(), SETTINGS, tmp_path / "out", ("text",), workspace_templates=templates)
    assert result.files["email.txt"].read_text(encoding="utf-8").startswith("Nyhetsbrev Mellomrom ")


def image_issue() -> Issue:
    issue = Issue(
        id="2024-q3",
        title="Nyhetsbrev",
        period="juli–september 2024",
        intro="Velkommen.",
        sections={key: [] for key in SETTINGS.sections},
    )
    issue.sections["kom"] = [
        Entry(
            heading="Publikasjoner fra KOM",
            title="Tilstandsrapporten",
            text=(
                "Rapporten er ute. ![Forsiden av rapporten](https://example.org/rapport/forside.png)\n\n"
                "![](https://example.org/bilder/side%202.png)"
            ),
        )
    ]
    return issue


def test_an_image_is_a_link_to_the_picture_in_every_output_and_its_text_is_never_empty(tmp_path):
    """No picture is loaded from elsewhere into a subscriber's mail, and nothing the editor wrote is lost."""
    from bs4 import BeautifulSoup

    result = build(image_issue(), SETTINGS, tmp_path, ("web", "email", "text"))
    for name in ("index.html", "email.html"):
        page = BeautifulSoup(result.files[name].read_text(encoding="utf-8"), "html.parser")
        assert page.find("img") is None, name
        texts = {a["href"]: a.get_text(" ", strip=True) for a in page.find_all("a", href=True)}
        assert texts["https://example.org/rapport/forside.png"] == "Forsiden av rapporten", name
        assert texts["https://example.org/bilder/side%202.png"] == "Bilde: side 2.png", name  # WCAG 2.4.4
        assert [a for a in page.find_all("a", href=True) if not a.get_text(strip=True)] == [], name
    text = result.files["email.txt"].read_text(encoding="utf-8")
    first = re.search(r"Rapporten er ute\. Forsiden av rapporten \[(\d+)\]", text)
    second = re.search(r"Bilde: side 2\.png \[(\d+)\]", text)
    assert first and second, text
    assert f"[{first[1]}] https://example.org/rapport/forside.png" in text
    assert f"[{second[1]}] https://example.org/bilder/side%202.png" in text


def test_an_image_inside_a_link_is_the_links_words_and_the_link_keeps_its_address(tmp_path):
    """A pasted linked picture, `[![Forsiden](…/forside.png)](…/rapport.pdf)`: readers follow the link to the
    report, named by the picture's description (or by its own address when there is none), never a nameless link
    beside a link to the cover (WCAG 2.4.4)."""
    from bs4 import BeautifulSoup

    issue = image_issue()
    issue.sections["kom"][0].text = (
        "Les [![Forsiden av rapporten](https://example.org/forside.png)](https://example.org/rapport.pdf) i dag, "
        "og [![](https://example.org/ikon.png)](https://example.org/vedlegg.pdf)."
    )
    result = build(issue, SETTINGS, tmp_path, ("web", "email", "text"))
    for name in ("index.html", "email.html"):
        page = BeautifulSoup(result.files[name].read_text(encoding="utf-8"), "html.parser")
        links = [(a["href"], a.get_text(" ", strip=True)) for a in page.find_all("a", href=True)]
        assert ("https://example.org/rapport.pdf", "Forsiden av rapporten") in links, name
        assert ("https://example.org/vedlegg.pdf", "vedlegg.pdf") in links, name
        assert not [href for href, _ in links if href.endswith(".png")], name
        assert [href for href, words in links if not words] == [], name
    text = result.files["email.txt"].read_text(encoding="utf-8")
    report = re.search(r"Les Forsiden av rapporten \[(\d+)\] i dag, og vedlegg\.pdf \[(\d+)\]\.", text)
    assert report, text
    assert f"[{report[1]}] https://example.org/rapport.pdf" in text
    assert f"[{report[2]}] https://example.org/vedlegg.pdf" in text
    assert ".png" not in text


def test_events_go_into_a_calendar(tmp_path):
    from icalendar import Calendar

    result = build(sample_issue(), SETTINGS, tmp_path, ("text",))
    calendar = Calendar.from_ical(result.files["events.ics"].read_bytes())
    events = list(calendar.walk("VEVENT"))
    expected = [e for _, _, e in sample_issue().entries() if e.event_date]
    assert len(events) == len(expected) > 0
    assert sorted(e.decoded("dtstart") for e in events) == sorted(e.event_date for e in expected)
    again = build(sample_issue(), SETTINGS, tmp_path / "again", ("text",))
    assert again.files["events.ics"].read_bytes() == result.files["events.ics"].read_bytes()  # stable UIDs


def test_workspace_templates_override_the_built_in_ones(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "email.txt").write_text("EGEN MAL: {{ view.title }} {{ view.period }}\n", encoding="utf-8")
    result = build(sample_issue(), SETTINGS, tmp_path / "out", ("text", "web"), templates)
    assert result.files["email.txt"].read_text(encoding="utf-8") == "EGEN MAL: Nyhetsbrev fra KOM april–juni 2024\n"
    assert "<!DOCTYPE html>" in result.files["index.html"].read_text(encoding="utf-8")


# ---------------------------------------------------------------------- the command line


@pytest.fixture
def workspace(sample_workspace):
    return sample_workspace


def invoke(root, *args):
    return CliRunner().invoke(cli, ["--workspace", str(root), *args], catch_exceptions=False)


def test_build_writes_the_requested_formats(workspace):
    result = invoke(workspace, "build", "2024-q2", "--format", "web,text")
    assert result.exit_code == 0, result.output
    out = workspace / "build" / "2024-q2"
    assert sorted(p.name for p in out.iterdir()) == ["email.txt", "events.ics", "index.html", "manifest.json"]
    other = invoke(workspace, "build", "2024-q2", "--format", "email", "--out", str(workspace / "elsewhere"))
    assert other.exit_code == 0 and (workspace / "elsewhere" / "email.html").exists()
    states = invoke(workspace, "issue", "list", "--json").stdout
    assert '"state": "built"' in states


NO_SITE_URL_WARNING = (
    "warning: no site_url in newsletter.yaml: the e-mail's link to the web version (\"Les nyhetsbrevet i "
    "nettleseren\") will be left out when it is sent; set site_url to the archive's address, e.g. "
    "site_url: https://www.example.no/nyhetsbrev (newsletter.yaml shows where it goes)"
)


def test_build_asks_for_site_url_when_the_email_would_lose_its_web_link(workspace):
    settings = workspace / "newsletter.yaml"
    assert "\nsite_url:" not in settings.read_text(encoding="utf-8")
    result = invoke(workspace, "build", "2024-q2", "--format", "email,text")
    assert result.exit_code == 0, result.output
    assert NO_SITE_URL_WARNING in result.stderr.splitlines()
    # The web page alone needs no address; with site_url set, no warning either.
    assert "no site_url" not in invoke(workspace, "build", "2024-q2", "--format", "web").stderr
    settings.write_text(settings.read_text(encoding="utf-8") + "site_url: https://nyhetsbrev.example.no\n")
    result = invoke(workspace, "build", "2024-q2", "--format", "email,text")
    assert result.exit_code == 0 and "no site_url" not in result.stderr


def test_build_refuses_an_issue_with_errors_unless_forced(workspace):
    path = workspace / "issues" / "2024-q2.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("[her](https://www.regjeringen.no/", "[her](ftp://www.regjeringen.no/", 1), encoding="utf-8"
    )
    refused = invoke(workspace, "build", "2024-q2")
    assert refused.exit_code == 1
    assert "links to 'ftp://www.regjeringen.no/" in refused.stderr
    assert (
        "Error: 2024-q2 has 1 error (see above; `newsletter issue check 2024-q2`); fix it, or pass --force to "
        "build anyway" in refused.stderr
    ), refused.stderr
    assert not (workspace / "build" / "2024-q2").exists()
    forced = invoke(workspace, "build", "2024-q2", "--force", "--format", "text")
    assert forced.exit_code == 0 and (workspace / "build" / "2024-q2" / "email.txt").exists()


def test_build_prints_what_issue_check_warns_of_after_the_written_files(workspace, monkeypatch):
    path = workspace / "issues" / "2024-q2.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("intro: >-\n")
    end = text.index("\n", text.index("\n  ", start) + 1)
    while text[end + 1 : end + 3] == "  ":  # the folded intro's other lines
        end = text.index("\n", end + 1)
    # And an entry dated after the issue went out (1 July): a second warning.
    rest = text[end:].replace("      date: 2024-07-01\n", "      date: 2024-07-09\n")
    path.write_text(text[:start] + "intro: ''" + rest, encoding="utf-8")
    intro_line = text[:start].count("\n") + 1
    result = invoke(workspace, "build", "2024-q2", "--format", "text")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("wrote ")
    warnings = [line for line in result.stderr.splitlines() if f"{path}" in line]
    assert len(warnings) == 2
    assert warnings[0] == (
        f"warning: {path}, line {intro_line}: intro: no intro: write the few sentences that open the issue (`intro`)"
    )
    assert warnings[1].endswith(
        ": date: international:18 is dated 2024-07-09, outside april–juni 2024: correct its `date`, or, if it "
        "belongs to another issue, take the entry out (`newsletter issue remove 2024-q2 international:18 --undecided`)"
    )
    # Many warnings would hide the build's own lines: then one line counts them.
    monkeypatch.setattr("newsletter.cli.BUILD_WARNINGS_SHOWN", 1)
    result = invoke(workspace, "build", "2024-q2", "--format", "text")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == (
        "warning: 2024-q2: issue check has 2 warnings; run `newsletter issue check 2024-q2` to see them"
    )
    assert str(path) not in result.stderr


def test_build_of_an_issue_without_entries_says_so_among_many_warnings(workspace):
    """An empty issue builds (its frame can be looked at), but the build says it holds no entries."""
    assert invoke(workspace, "issue", "new", "2024-q3").exit_code == 0
    result = invoke(workspace, "build", "2024-q3", "--format", "text")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any("sections: the issue has no entries yet" in line and "`send` refuses" in line for line in lines)
    assert lines[-1].startswith("warning: 2024-q3: issue check has ")  # the other warnings are counted


def test_build_format_errors_are_usage_errors(workspace):
    result = invoke(workspace, "build", "2024-q2", "--format", "web,fax")
    assert result.exit_code == 2 and "choose from web, email, text, pdf" in result.stderr


def test_preview_serves_and_rebuilds_on_change(workspace):
    """The preview server answers on localhost and picks up an edit of the issue file."""
    import threading
    import time
    import urllib.request

    from newsletter.render.build import build as render_build
    from newsletter.serve import serve

    settings = load_settings(workspace / "newsletter.yaml")
    path = workspace / "issues" / "2024-q2.yaml"
    out = workspace / "build" / "2024-q2"

    def rebuild():
        render_build(IssueDocument.load(path).issue(settings), settings, out, ("web",))

    stop, urls = threading.Event(), []
    thread = threading.Thread(
        target=serve,
        args=(out, rebuild, [path], 0),
        kwargs={"announce": urls.append, "on_error": urls.append, "stop": stop, "interval": 0.05},
        daemon=True,
    )
    thread.start()
    try:
        for _ in range(200):
            if urls:
                break
            time.sleep(0.05)
        page = urllib.request.urlopen(urls[0] + "index.html", timeout=5).read().decode("utf-8")
        assert "Nyhetsbrev fra KOM" in page
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                "title: Nyhetsbrev fra KOM", "title: Nyhetsbrev fra KOM – forhåndsvisning"
            ),
            encoding="utf-8",
        )
        for _ in range(100):
            if "rebuilt" in urls:
                break
            time.sleep(0.05)
        page = urllib.request.urlopen(urls[0] + "index.html", timeout=5).read().decode("utf-8")
        assert "forhåndsvisning" in page
    finally:
        stop.set()
        thread.join(5)


def test_links_command_reports_broken_links_and_exits_1(workspace, server):
    """`newsletter links` against a local server: the good link passes, the broken one is named with its entry."""
    import json

    from tests.server import Route

    server.routes["/ok"] = Route(b"ok", content_type="text/plain")
    # The server is on 127.0.0.1, where links found in content may not point: feeds.yaml names it
    # as an intranet source, so `links` checks its pages (test_links.py has the refusals).
    with (workspace / "feeds.yaml").open("a", encoding="utf-8") as feeds:
        feeds.write(
            f"  - key: intranett\n    name: Intranett\n    kind: rss\n    url: {server.url('/rss')}\n"
            "    section: kom\n    heading: Intranett\n    allow_private: true\n"
        )
    path = workspace / "issues" / "2024-q3.yaml"
    invoke(workspace, "issue", "new", "2024-q3")
    invoke(
        workspace,
        "issue",
        "note",
        "2024-q3",
        "--section",
        "kom",
        "--heading",
        "H",
        "--title",
        "God",
        "--text",
        f"Se [her]({server.url('/ok')}).",
    )
    invoke(
        workspace,
        "issue",
        "note",
        "2024-q3",
        "--section",
        "kom",
        "--heading",
        "H",
        "--title",
        "Brutt",
        "--text",
        f"Se [her]({server.url('/borte')}).",
    )
    assert path.exists()
    result = invoke(workspace, "links", "2024-q3")
    assert result.exit_code == 1
    assert f"broken: {server.url('/borte')}  (kom:2)  HTTP 404" in result.stdout
    assert "2 links: 1 broken, 0 redirected" in result.stdout
    data = json.loads(invoke(workspace, "links", "2024-q3", "--json").stdout)
    assert [(r["url"], r["state"]) for r in data] == [(server.url("/ok"), "ok"), (server.url("/borte"), "broken")]


def test_multi_day_event_is_an_interval_and_a_multi_day_calendar_event(tmp_path):
    """`event_end`: "17.–18. september 2024" in every output, DTEND the day after the last day in events.ics."""
    result = build(sample_issue(), SETTINGS, tmp_path, ("web", "email", "text"))
    for name in ("index.html", "email.html", "email.txt"):
        assert "Dato: 17.–18. september 2024" in result.files[name].read_text(encoding="utf-8"), name
    calendar = result.files["events.ics"].read_bytes().decode()
    assert "DTSTART;VALUE=DATE:20240917\r\nDTEND;VALUE=DATE:20240919" in calendar


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        (dt.date(2024, 8, 21), dt.date(2024, 8, 22), "21.–22. august 2024"),
        (dt.date(2024, 8, 30), dt.date(2024, 9, 2), "30. august–2. september 2024"),
        (dt.date(2024, 12, 30), dt.date(2025, 1, 2), "30. desember 2024–2. januar 2025"),
        (dt.date(2024, 5, 7), None, "7. mai 2024"),
    ],
)
def test_event_intervals_in_norwegian(start, end, shown):
    from newsletter.render.view import norwegian_interval

    assert norwegian_interval(start, end) == shown


def test_a_title_with_cr_lf_does_not_break_the_calendar(tmp_path):
    issue = sample_issue()
    issue.title = "Nyhetsbrev\r\nfra KOM"
    issue.sections["events"][0].title = "Konferanse\nom menneskehandel"
    calendar = build(issue, SETTINGS, tmp_path, ("text",)).files["events.ics"].read_bytes().decode()
    assert "X-WR-CALNAME:Nyhetsbrev fra KOM – april–juni 2024" in calendar
    assert "SUMMARY:Konferanse om menneskehandel" in calendar


def test_web_page_navigation_contents_top_links_and_downloads(tmp_path):
    files = build(sample_issue(), SETTINGS, tmp_path, ("web", "pdf")).files
    html = files["index.html"].read_text(encoding="utf-8")
    view = issue_view(sample_issue(), SETTINGS)
    for section in view.sections:
        for group in section.groups:
            assert f'<li><a href="#{group.anchor}">{group.heading}</a></li>' in html  # the second level
            assert f'id="{group.anchor}"' in html
    assert html.count('<a href="#innhold">Til toppen</a>') == len(view.sections)
    assert '<a href="2024-q2.pdf">PDF</a>' in html and '<a href="events.ics">kalender (ICS)</a>' in html
    assert {"2024-q2.pdf", "events.ics"} <= set(files)


def test_text_part_lists_links_after_each_entry_and_signs_off_with_dash_dash_space(built):
    text = built.files["email.txt"].read_text(encoding="utf-8")
    assert text.count("\n-- \n") == 1  # ("EU" is underlined "--": a heading, not a separator)
    assert "Lenker:" not in text
    rosa = text.index("* ROSAs konferanse om menneskehandel")
    assert text.index("[90] https://rosa-help.no/kontakt/") < text.index("* «Istanbulkonferansen", rosa)


def test_each_entry_s_markdown_is_parsed_once_per_build(tmp_path, monkeypatch):
    """One parse per entry, plus the intro and the two footer texts, for all four formats and the calendar."""
    from markdown_it import MarkdownIt

    calls = []
    original = MarkdownIt.parse
    monkeypatch.setattr(MarkdownIt, "parse", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    issue = sample_issue()
    result = build(issue, SETTINGS, tmp_path, ("web", "email", "text", "pdf"))
    assert "events.ics" in result.files
    assert len(calls) == len(list(issue.entries())) + 3


def test_a_part_in_another_language_is_marked_for_screen_readers_and_only_its_words_go_elsewhere(tmp_path):
    """WCAG 2.1 SC 3.1.2: `[words]{lang=en}` is `<span lang="en">` on the web page and in the e-mail; the plain
    text, the PDF and the archive's words have the words alone. A value that is no language tag is dropped,
    and "{…}" after a link stays the text it was (only a span takes attributes)."""
    from newsletter.render import markdown

    text = (
        "Fafo holdt webinaret «[Third country posted workers]{lang=en}», se [her](https://www.fafo.no/w){x}. "
        "Tittelen «[Från ord till handling]{lang=sv}» og «[feil]{lang=engelsk}» og «[fransk]{lang=fr onclick=x}»."
    )
    html = markdown.to_html(text)
    assert '«<span lang="en">Third country posted workers</span>»' in html
    assert '«<span lang="sv">Från ord till handling</span>»' in html
    assert "«<span>feil</span>»" in html and '«<span lang="fr">fransk</span>»' in html
    assert "onclick" not in html and "</a>{x}." in html
    assert markdown.to_text(text, None, width=None).startswith(
        "Fafo holdt webinaret «Third country posted workers», se her (https://www.fafo.no/w){x}. Tittelen «Från ord"
    )
    assert "{lang" not in markdown.to_words(text) and "«Third country posted workers»" in markdown.to_words(text)
    assert [(p.words, p.lang) for p in markdown.language_parts(text)] == [
        ("Third country posted workers", "en"),
        ("Från ord till handling", "sv"),
        ("feil", "engelsk"),
        ("fransk", "fr"),
    ]
    issue = sample_issue()
    entry = next(entries for entries in issue.sections.values() if entries)[0]
    entry.text = text
    result = build(issue, SETTINGS, tmp_path, ("web", "email", "text", "pdf"))
    for name in ("index.html", "email.html"):
        assert '<span lang="en">Third country posted workers</span>' in result.files[name].read_text(encoding="utf-8")
    assert "«Third country posted workers»" in result.files["email.txt"].read_text(encoding="utf-8")
    import subprocess

    printed = subprocess.run(
        ["pdftotext", str(result.files["2024-q2.pdf"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "«Third country posted workers»" in " ".join(printed.split()) and "{lang" not in printed

"""What every output of an issue shares, read back from the real files: e-mail addresses as links, the
e-mail's contents list, and the unit's own texts once.

- A bare e-mail address in an entry, the intro or a footer text is a mailto link in the web page, the
  e-mail and the PDF (read from its link annotations), and stays plain in the text version; an address
  inside an existing link or inside code is left as it is.
- The e-mail's two-level contents list links every section and every organisation to an id in the same
  e-mail, as the web page's does.
- The "about" text and the contact address (outside the entries that quote it) appear exactly once in
  each output of the sample issue: in the footer (web, e-mail) or at the end of the last page (PDF).
"""

from __future__ import annotations

import re

import lxml.html
import pytest

from newsletter.models import Entry, Issue
from newsletter.render.build import build
from newsletter.render.view import issue_view
from tests.test_pdf import pdf_text, raw_pdf, squeeze, uri_actions
from tests.test_render import SETTINGS, sample_issue

ADDRESS = "post@example.no"


@pytest.fixture(scope="module")
def addresses(tmp_path_factory):
    """An issue whose intro and entry name addresses bare, inside a link's text and inside code."""
    keys = list(SETTINGS.sections)
    issue = Issue(
        id="2024-q3",
        title="Nyhetsbrev fra KOM",
        period="juli–september 2024",
        intro="Spørsmål om nyhetsbrevet sendes til redaksjon@example.no.",
        sections={key: [] for key in keys},
    )
    issue.sections[keys[0]] = [
        Entry(
            heading="Kontakt",
            title="Skriv til oss",
            text=(
                f"Meld deg på hos {ADDRESS}, eller les [om {ADDRESS} her](https://example.org/om).\n\n"
                "Eksempelet `kode@example.no` er ingen adresse."
            ),
        )
    ]
    out = tmp_path_factory.mktemp("addresses")
    return build(issue, SETTINGS, out, ("web", "email", "text", "pdf")).files


@pytest.mark.parametrize("name", ["index.html", "email.html"])
def test_bare_addresses_are_mailto_links_in_the_html_outputs(addresses, name):
    doc = lxml.html.fromstring(addresses[name].read_bytes())
    mailto = [a.get("href") for a in doc.iter("a") if (a.get("href") or "").startswith("mailto:")]
    assert f"mailto:{ADDRESS}" in mailto  # the entry
    assert "mailto:redaksjon@example.no" in mailto  # the intro
    assert "mailto:KOM.pod@politiet.no" in mailto  # the footer's text names it bare
    # Inside an existing link the address is the link's text, not a link of its own; in code it stays code.
    [about] = [a for a in doc.iter("a") if a.get("href") == "https://example.org/om"]
    assert about.text_content() == f"om {ADDRESS} her" and not list(about.iter("a"))[1:]
    [code] = [c for c in doc.iter("code") if "kode@" in c.text_content()]
    assert code.getparent().tag != "a" and not list(code.iter("a"))
    assert "mailto:kode@example.no" not in mailto


def test_bare_addresses_are_mailto_links_in_the_pdf(addresses):
    uris = uri_actions(raw_pdf(addresses["2024-q3.pdf"]))
    assert {f"mailto:{ADDRESS}", "mailto:redaksjon@example.no", "mailto:KOM.pod@politiet.no"} <= uris
    assert "mailto:kode@example.no" not in uris
    # A mail address is written out where it stands: no footnote repeats it.
    assert not re.search(r"\d+\. mailto:", pdf_text(addresses["2024-q3.pdf"]))


def test_addresses_stay_plain_in_the_text_version(addresses):
    text = addresses["email.txt"].read_text(encoding="utf-8")
    assert "mailto:" not in text
    assert f"Meld deg på hos {ADDRESS}, eller les om {ADDRESS} her [1]." in " ".join(text.split())
    assert "redaksjon@example.no." in text


def test_every_link_of_the_email_contents_resolves_to_an_id_in_the_email(tmp_path):
    result = build(sample_issue(), SETTINGS, tmp_path, ("email",))
    doc = lxml.html.fromstring(result.files["email.html"].read_bytes())
    internal = [a for a in doc.iter("a") if (a.get("href") or "").startswith("#")]
    view = issue_view(sample_issue(), SETTINGS)
    # Two levels, as on the web page: each section, then each organisation under it, links to its place.
    expected = [name for s in view.sections for name in [s.title] + [g.heading for g in s.groups]]
    assert [a.text_content() for a in internal] == expected
    # The e-mail's ids are short ones of its own ("d3-2"); each leads to one heading, the one the link names.
    for link in internal:
        [target] = doc.xpath(f'//*[@id="{link.get("href")[1:]}"]')
        assert target.text_content() == link.text_content(), link.get("href")


# ------------------------------------------------------------------ the unit's own texts, once each


@pytest.fixture(scope="module")
def sample_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    files = build(sample_issue(), SETTINGS, out, ("web", "email", "text", "pdf")).files
    pdf = files["2024-q2.pdf"]
    return {
        "index.html": lxml.html.fromstring(files["index.html"].read_bytes()).text_content(),
        "email.html": lxml.html.fromstring(files["email.html"].read_bytes()).text_content(),
        "email.txt": files["email.txt"].read_text(encoding="utf-8"),
        # The PDF is hyphenated as Norwegian: a word broken at a line's end is joined again to be compared.
        "pdf": re.sub(r"(?<=\w)-\n\s*(?=\w)", "", pdf_text(pdf)),
    }


def quoted_by_the_issue(needle: str) -> int:
    """How often the issue's own texts (intro and entries) name `needle`: those stay where the editor put them."""
    issue = sample_issue()
    return (issue.intro or "").count(needle) + sum(entry.text.count(needle) for _, _, entry in issue.entries())


@pytest.mark.parametrize("name", ["index.html", "email.html", "email.txt", "pdf"])
def test_the_about_text_and_the_contact_address_appear_once(sample_outputs, name):
    text = squeeze(sample_outputs[name])
    about = squeeze(SETTINGS.footer_about)
    assert text.count(about) == 1, f"{name}: the about text {text.count(about)} times"
    contact = SETTINGS.contact
    assert quoted_by_the_issue(contact) >= 1  # the sample's entries quote it: the count below is not trivial
    assert text.count(contact) == quoted_by_the_issue(contact) + 1, f"{name}: {contact} {text.count(contact)} times"
    assert "Kontakt:" not in text  # the footer's own text gives the address: no second contact line


def test_the_email_footer_has_one_way_to_leave_the_list(sample_outputs):
    """No "skriv til … for å melde deg av" above a "Meld deg av" link: the link is the one way out."""
    footer = sample_outputs["email.html"][sample_outputs["email.html"].index(SETTINGS.footer_about[:40]) :]
    assert footer.count("Meld deg av") == 1 and " av listen" not in footer


def test_the_pdf_has_the_unit_s_texts_at_the_end_of_its_last_page(sample_outputs):
    last = squeeze(sample_outputs["pdf"].rstrip("\f").split("\f")[-1])
    assert squeeze(SETTINGS.footer_about) in last and SETTINGS.contact in last

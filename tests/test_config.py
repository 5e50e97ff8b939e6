"""feeds.yaml and newsletter.yaml: validated on load, errors name file, line and key."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from newsletter.config import load_feeds, load_settings
from newsletter.errors import ConfigError

ROOT = Path(__file__).parent.parent

GOOD = """\
keywords:
  barnehandel: 4
sources:
  - key: unodc
    name: UNODC press releases
    kind: html
    url: https://www.unodc.org/unodc/en/press/releases.html
    section: international
    heading: UNODC
    language: en
    relevance: filter
    item_kind: news
    keywords:
      smuggling of migrants: 1
    selectors:
      item: div.pressrelease
      title: div.title a
      link: div.title a
      date: div.date
      summary: div.teaser
      next: a.next
    date_format: "%d.%m.%Y"
    max_pages: 2
  - key: cbss
    name: CBSS
    kind: rss
    url: https://cbss.org/feed/
    section: kom
    heading: Østersjørådet (CBSS)
    enabled: false
"""


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_file_loads_into_typed_sources(tmp_path):
    feeds = load_feeds(write(tmp_path, GOOD))
    assert [s.key for s in feeds.sources] == ["unodc", "cbss"]
    unodc, cbss = feeds.sources
    assert unodc.selectors.item == "div.pressrelease" and unodc.selectors.next == "a.next"
    assert unodc.date_format == "%d.%m.%Y" and unodc.max_pages == 2
    assert unodc.keywords == {"smuggling of migrants": 1.0}
    assert unodc.line == 4
    assert feeds.keywords == {"barnehandel": 4.0}
    assert cbss.enabled is False and cbss.relevance == "filter" and cbss.language == "nb"
    assert cbss.item_kind == "news"


@pytest.mark.parametrize(
    "old, new, line, message",
    [
        (
            "    heading: UNODC\n",
            "    heading: UNODC\n    headng: typo\n",
            10,
            "headng: unknown key (did you mean 'heading'?)",
        ),
        ("    kind: html\n", "    kind: website\n", 6, "kind: 'website' is not one of: rss, atom, html, stortinget"),
        ("    relevance: filter\n", "    relevance: some\n", 11, "relevance: 'some' is not one of: all, filter"),
        ("    url: https://cbss.org/feed/\n", "    url: ftp://cbss.org/feed/\n", 27, "url: expected an http(s) URL"),
        ("    enabled: false\n", "    enabled: perhaps\n", 30, "enabled: expected true or false"),
        ("      item: div.pressrelease\n", "      item: div..pressrelease\n", 16, "item: invalid CSS selector"),
        ("    max_pages: 2\n", "    max_pages: 0\n", 23, "max_pages: expected a whole number from 1 to 50"),
        ("  - key: cbss\n", "  - key: unodc\n", 24, "duplicate source key 'unodc' (first on line 4)"),
        ('    date_format: "%d.%m.%Y"\n', '    date_format: "dd.mm.yyyy"\n', 22, "has no strptime directive"),
        ("  barnehandel: 4\n", "  barnehandel: lots\n", 2, "keywords.barnehandel: expected a number"),
        ("    name: CBSS\n", "", 24, "missing required key 'name'"),
    ],
)
def test_each_mistake_names_file_line_and_key(tmp_path, old, new, line, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_feeds(path)
    text = str(caught.value)
    assert text.startswith(f"{path}, line {line}: "), text
    assert message in text


def test_a_source_without_heading_is_headed_by_its_name(tmp_path):
    feeds = load_feeds(write(tmp_path, GOOD.replace("    heading: UNODC\n", "", 1)))
    assert [(s.name, s.heading) for s in feeds.sources] == [
        ("UNODC press releases", "UNODC press releases"),
        ("CBSS", "Østersjørådet (CBSS)"),
    ]
    with pytest.raises(ConfigError, match="heading: expected a non-empty text"):
        load_feeds(write(tmp_path, GOOD.replace("    heading: UNODC\n", "    heading: ''\n", 1)))


def test_html_source_without_selectors_is_refused(tmp_path):
    text = GOOD.replace("    selectors:\n", "    xselectors:\n", 1)
    with pytest.raises(ConfigError, match="unknown key"):
        load_feeds(write(tmp_path, text))
    start = GOOD.index("    selectors:")
    end = GOOD.index("    date_format")
    with pytest.raises(ConfigError, match="an html source needs 'selectors'"):
        load_feeds(write(tmp_path, GOOD[:start] + GOOD[end:]))


def feeds_error(tmp_path, text: str) -> tuple[Path, str]:
    """The feeds.yaml written from `text`, and the ConfigError its loading raises, as a string."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_feeds(path)
    return path, str(caught.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path, error = feeds_error(tmp_path, "sources:\n  - key: a\n    name: [unclosed\n    kind: rss\n")
    # The parser fails on line 4; the unclosed "[" that misled it is on line 3, and is named.
    assert error == (
        f"{path}, line 3: invalid YAML: a value starting with '[' is read as a list, and this one is not closed; "
        'put the value in quotes: name: "[unclosed"'
    )


def test_an_unclosed_quote_is_named_on_its_own_line_not_where_the_next_quote_ends_it(tmp_path):
    # YAML reads a quoted value on over the lines below, up to the next apostrophe (line 7).
    text = (
        "sources:\n  - key: a\n    name: 'JD viderefører arbeidet\n    kind: rss\n"
        "  - key: b\n    kind: rss\n    name: Coordinators' Working Group\n"
    )
    path, error = feeds_error(tmp_path, text)
    assert error == (
        f"{path}, line 3: invalid YAML: a quoted value is not closed on this line, so YAML read on to the next ' "
        "(line 7) and failed there: add the closing quote, or remove the opening one"
    )


def test_a_quoted_value_wrapped_on_purpose_is_not_blamed_for_a_later_error(tmp_path):
    text = 'sources:\n  - key: a\n    name: "a long name\n      wrapped"\n    kind: rss\n\tbroken: x\n'
    path, error = feeds_error(tmp_path, text)
    assert error.startswith(f"{path}, line 6: invalid YAML: a tab in the indentation")


def test_a_quote_in_the_prose_of_a_text_block_is_not_blamed_for_a_later_error(tmp_path):
    # Inside a `|` block a quote is prose; the fault is the indentation on line 7.
    text = (
        "sources:\n  - key: a\n    name: |\n      Tema: 'Ikke til salgs\n    kind: rss\n"
        "  - key: b\n   name: Women's rights\n"
    )
    path, error = feeds_error(tmp_path, text)
    assert "a quoted value is not closed" not in error
    assert error.startswith(f"{path}, line 7: invalid YAML:")


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("    name:\tUNODC\n", "a tab after 'name:' (column 10)"),
        ("    name: UN\tODC\n", "a tab after 'name: UN' (column 13)"),
    ],
)
def test_a_tab_after_text_is_named_where_it_is_not_called_indentation(tmp_path, line, where):
    path, error = feeds_error(tmp_path, f"sources:\n  - key: a\n{line}    kind: rss\n")
    assert error == (
        f"{path}, line 3: invalid YAML: {where}: YAML takes no tab in a plain value or between a field and its "
        "value; replace it with a space"
    )


@pytest.mark.parametrize(
    ("lines", "line", "write"),
    [
        # YAML reads `name:UNODC press releases` as text, and fails on the line after it.
        ("    name:UNODC press releases\n    kind: rss\n", 3, "name: UNODC press releases"),
        # The file's last line: YAML fails at the end of the file.
        ("    name: UNODC\n    kind:rss\n", 4, "kind: rss"),
        # A URL after the colon: the field is blamed, not the URL's own "https:".
        ("    name: UNODC\n    url:https://www.unodc.org/feed\n", 4, "url: https://www.unodc.org/feed"),
        # A value YAML would read as something else is given quoted.
        ("    name:[UNODC]\n    kind: rss\n", 3, 'name: "[UNODC]"'),
    ],
)
def test_a_field_without_a_space_after_its_colon_is_named_with_what_to_write(tmp_path, lines, line, write):
    path, error = feeds_error(tmp_path, f"sources:\n  - key: a\n{lines}")
    name = write.split(":")[0]
    assert error == (
        f"{path}, line {line}: invalid YAML: no space after the colon of '{name}': write `{write}` (YAML needs a "
        "space between a field and its value)"
    )


def test_a_list_entry_without_a_space_after_its_colon_keeps_its_dash(tmp_path):
    path, error = feeds_error(tmp_path, "sources:\n  - key:unodc\n    name: UNODC\n    kind: rss\n")
    assert error == (
        f"{path}, line 2: invalid YAML: no space after the colon of 'key': write `- key: unodc` (YAML needs a space "
        "between a field and its value)"
    )


@pytest.mark.parametrize(
    ("space", "named"),
    [
        ("\u00a0", "a no-break space (U+00A0)"),
        ("\u202f", "a narrow no-break space (U+202F)"),
    ],
)
def test_a_no_break_space_after_a_colon_is_named_as_no_space(tmp_path, space, named):
    path, error = feeds_error(tmp_path, f"sources:\n  - key: a\n    name:{space}UNODC\n    kind: rss\n")
    assert error == (
        f"{path}, line 3: invalid YAML: the space after 'name:' is {named}, which looks like a space but is none: "
        "delete it and type an ordinary space (`name: UNODC`)"
    )


@pytest.mark.parametrize(
    ("indentation", "named"),
    [
        ("   \u00a0", "a no-break space (U+00A0)"),
        ("   \u2007", "a figure space (U+2007)"),
        ("  \u202f ", "a narrow no-break space (U+202F)"),
        ("  \u3000 ", "an ideographic space (U+3000)"),
    ],
)
def test_a_unicode_space_in_the_indentation_is_named(tmp_path, indentation, named):
    path, error = feeds_error(tmp_path, f"sources:\n  - key: a\n    name: UNODC\n{indentation}kind: rss\n")
    assert error == (
        f"{path}, line 4: invalid YAML: the indentation holds {named}, which looks like a space but is none: "
        "retype the indentation with ordinary spaces"
    )


def test_a_unicode_space_that_yaml_reads_as_part_of_a_name_is_named(tmp_path):
    # In column 0 a no-break space is no indentation error to YAML: it starts a top-level key, "\u00a0   kind".
    path, error = feeds_error(tmp_path, "sources:\n  - key: a\n    name: UNODC\n\u00a0   kind: rss\n")
    assert error == (
        f"{path}, line 4: \u00a0   kind: 'kind' starts with a no-break space (U+00A0), which looks like a space but "
        "is none: retype the indentation with ordinary spaces"
    )


def test_a_colon_in_the_prose_of_a_text_block_is_not_blamed(tmp_path):
    # "Tid:12:30" and "se:her" are text in a `|` block; the fault is `kind rss`, which has no colon.
    text = "sources:\n  - key: a\n    name: |\n      Tid:12:30\n      se:her\n    kind rss\n"
    path, error = feeds_error(tmp_path, text)
    assert error.startswith(f"{path}, line 6: invalid YAML: this line reads as a new field, but has no 'name: ' ")


READS_AS_FIELD = "this line reads as a new field, but has no 'name: ' at its start"
OWN_FIELD = "if it is a field of its own, write its name and ': ' first"


@pytest.mark.parametrize(
    "second",
    [
        "press releases",
        "https://www.unodc.org",  # a URL's "https:" is not taken for a field without a space
        "12:30 i Wien",  # nor is a time
    ],
)
def test_a_wrapped_value_not_indented_further_than_its_field_is_named(tmp_path, second):
    path, error = feeds_error(tmp_path, f"sources:\n  - key: a\n    name: UNODC\n    {second}\n    kind: rss\n")
    assert error == (
        f"{path}, line 4: invalid YAML: {READS_AS_FIELD}: if it goes on with the value of 'name' (line 3), indent it "
        "further than 'name', with 6 spaces, or write `name: |` and the text on the lines below it, indented; "
        f"{OWN_FIELD}"
    )


def test_a_line_of_a_text_block_in_its_fields_column_is_named(tmp_path):
    text = "sources:\n  - key: a\n    name: |\n      UNODC\n\n    press releases\n    kind: rss\n"
    path, error = feeds_error(tmp_path, text)
    assert error == (
        f"{path}, line 6: invalid YAML: {READS_AS_FIELD}: if it belongs to the text under 'name' (line 3), indent "
        f"it with 6 spaces, as the lines above it; {OWN_FIELD}"
    )


def test_a_line_of_a_text_block_indented_less_than_the_block_is_named(tmp_path):
    text = "sources:\n  - key: a\n    name: |\n      UNODC\n     press releases\n    kind: rss\n"
    path, error = feeds_error(tmp_path, text)
    assert error == (
        f"{path}, line 5: invalid YAML: this line is indented further than 'name' (line 3) but less than the text "
        "under it: indent it with 6 spaces if it belongs to that text, or with 4 spaces, as 'name', if it is a "
        "field of its own"
    )


def test_a_line_without_a_field_name_whose_value_cannot_be_placed_says_what_yaml_expected(tmp_path):
    # `kind` forgot its colon after a quoted value: no wrapped text to point at.
    path, error = feeds_error(tmp_path, "sources:\n  - key: a\n    name: 'UNODC'\n    kind rss\n")
    assert error == (
        f"{path}, line 4: invalid YAML: {READS_AS_FIELD}: {OWN_FIELD}; a line that continues the value above must "
        "be indented further than its field"
    )


@pytest.mark.parametrize(
    ("value", "rewritten", "meant"),
    [
        # Quotes inside a value quoted with the same mark: the first inner quote ends the value.
        ('"Rapporten "Ny tid" er ute"', "name: 'Rapporten \"Ny tid\" er ute'", 'Rapporten "Ny tid" er ute'),
        ("'Rapporten 'Ny tid' er ute'", "name: \"Rapporten 'Ny tid' er ute\"", "Rapporten 'Ny tid' er ute"),
        # A title that begins with a quotation and goes on.
        ('"Ny tid" fra KOM', "name: '\"Ny tid\" fra KOM'", '"Ny tid" fra KOM'),
        # Both marks inside: single quotes, with an apostrophe doubled as YAML writes it.
        ('"Det \'nye\' "Ny tid" er ute"', "name: 'Det ''nye'' \"Ny tid\" er ute'", "Det 'nye' \"Ny tid\" er ute"),
        # A comment after the value is left out of what to write (the editor's comment stays where it is).
        ('"Rapporten "Ny tid" er ute"  # fra KOM', "name: 'Rapporten \"Ny tid\" er ute'", 'Rapporten "Ny tid" er ute'),
    ],
)
def test_text_after_a_closed_quote_says_how_to_quote_the_whole_value(tmp_path, value, rewritten, meant):
    path, error = feeds_error(tmp_path, f"sources:\n  - key: a\n    name: {value}\n    kind: rss\n")
    assert error.startswith(f"{path}, line 3: invalid YAML: the quoted value ends at the second ")
    assert error.endswith(
        f"and YAML takes no text after it: quote the whole value with the other quote mark, {rewritten}, "
        "or write the quotes inside it as « »"
    )
    # What it says to write is read as the value the editor meant.
    fixed = write(tmp_path, GOOD.replace("    name: UNODC press releases\n", f"    {rewritten}\n", 1), "fixed.yaml")
    assert load_feeds(fixed).sources[0].name == meant


def test_a_value_starting_with_a_dash_is_given_quoted(tmp_path):
    path, error = feeds_error(tmp_path, "sources:\n  - key: a\n    name: - GRETA og Norge\n    kind: rss\n")
    assert error == (
        f"{path}, line 3: invalid YAML: a value cannot start with '- ', which YAML reads as a list; put the value "
        'in quotes: name: "- GRETA og Norge"'
    )
    fixed = write(
        tmp_path, GOOD.replace("    name: UNODC press releases\n", '    name: "- GRETA og Norge"\n', 1), "f.yaml"
    )
    assert load_feeds(fixed).sources[0].name == "- GRETA og Norge"


def test_a_quoted_value_with_a_comment_after_it_is_no_error(tmp_path):
    path = write(tmp_path, GOOD.replace("    name: UNODC press releases\n", '    name: "UNODC"  # FNs kontor\n', 1))
    assert load_feeds(path).sources[0].name == "UNODC"


def test_yaml_indentation_error_says_what_to_check(tmp_path):
    path, error = feeds_error(tmp_path, "sources:\n  - key: a\n    name: A\n   kind: rss\n")
    assert error.startswith(f"{path}, line 4: invalid YAML: the indentation does not fit; check the ")
    assert "<block" not in error


def test_duplicate_mapping_key_is_an_error(tmp_path):
    path = write(tmp_path, GOOD.replace("    heading: UNODC\n", "    heading: UNODC\n    heading: Again\n", 1))
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_feeds(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_feeds(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="empty"):
        load_feeds(write(tmp_path, ""))


def test_section_must_be_configured_in_newsletter_yaml(tmp_path):
    with pytest.raises(ConfigError, match="section: 'kom' is not a section of newsletter.yaml"):
        load_feeds(write(tmp_path, GOOD), sections=("norway", "international"))


def test_settings_defaults_and_validation(tmp_path):
    assert load_settings(tmp_path / "absent.yaml").relevance.threshold == 3.0
    path = write(tmp_path, "name: X\nrelevance:\n  threshold: 4.5\nfetch:\n  timeout: 2\n  max_mb: 1\n", "n.yaml")
    settings = load_settings(path)
    assert settings.relevance.threshold == 4.5
    assert settings.limits.read_timeout == 2 and settings.limits.max_bytes == 1024 * 1024
    bad = write(tmp_path, "name: X\nrelevance:\n  treshold: 4\n", "bad.yaml")
    with pytest.raises(ConfigError) as caught:
        load_settings(bad)
    assert str(caught.value) == f"{bad}, line 3: relevance.treshold: unknown key (did you mean 'threshold'?)"
    zone = write(tmp_path, "timezone: Mars/Olympus\n", "tz.yaml")
    with pytest.raises(ConfigError, match="unknown time zone"):
        load_settings(zone)
    port = write(tmp_path, "name: X\nsmtp:\n  host: smtp.example.no\n  port: 99999\n", "port.yaml")
    with pytest.raises(ConfigError) as caught:
        load_settings(port)
    assert str(caught.value) == f"{port}, line 4: smtp.port: expected a number from 1 to 65535, got 99999"


def test_the_shipped_workspace_files_are_valid():
    """The repository's own feeds.yaml and newsletter.yaml load, and cover the sources the unit reads."""
    settings = load_settings(ROOT / "newsletter.yaml")
    feeds = load_feeds(ROOT / "feeds.yaml", settings.sections)
    hosts = " ".join(s.url for s in feeds.sources if s.enabled)
    for needed in (
        "regjeringen.no",
        "data.stortinget.no",
        "coe.int",
        "osce.org",
        "unodc.org",
        "europa.eu",
        "europol",
        "norden.org",
        "cbss.org",
        "jamstalldhetsmyndigheten.se",
        "cmm.dk",
        "ihmiskauppa.fi",
        "heuni.fi",
        "nhri.no",
        "fafo.no",
        "politiet.no",
        "udi.no",
        "bufdir.no",
        "rosanorge.no",
        "arbeidstilsynet.no",
        "ilo.org",
        "unicef.org",
    ):
        assert needed in hosts, needed
    assert {s.kind for s in feeds.sources} >= {"rss", "html", "stortinget"}
    assert {s.relevance for s in feeds.sources} == {"all", "filter"}


ORGANISATIONS = """\
sections:
  - key: kom
    title: KOM
  - key: norway
    title: Norge
organisations:
  - name: Europarådet og GRETA
    aliases: [GRETA, Europarådet]
    url: https://www.coe.int/en/web/anti-human-trafficking
  - name: RVTS Øst
    headings: [RVTS Øst og SaLTo]
archive:
  own_sections: [kom]
  own_headings: [KOM i JD]
  themes: [Høringer]
"""


def test_organisations_and_archive_load(tmp_path):
    archive = load_settings(write(tmp_path, ORGANISATIONS, "n.yaml")).archive
    greta, rvts = archive.organisations
    assert (greta.name, greta.aliases, greta.url) == (
        "Europarådet og GRETA",
        ("GRETA", "Europarådet"),
        "https://www.coe.int/en/web/anti-human-trafficking",
    )
    assert (rvts.headings, rvts.url) == (("RVTS Øst og SaLTo",), "")
    assert rvts.claims() == ("rvts øst", "rvts øst og salto")
    assert (archive.own_sections, archive.own_headings, archive.themes) == (("kom",), ("KOM i JD",), ("Høringer",))


@pytest.mark.parametrize(
    "old, new, line, message",
    [
        (
            "  - name: RVTS Øst\n",
            "  - name: europarådet og greta\n",
            10,
            "organisations[1].name: 'europarådet og greta' is already organisations[0]",
        ),
        ("    url: https://www.coe", "    url: www.coe", 9, "organisations[0].url: expected an http(s) URL"),
        (
            "    aliases: [GRETA, Europarådet]",
            "    aliases: GRETA",
            8,
            "organisations[0].aliases: expected a list of other names",
        ),
        (
            "    headings: [RVTS Øst og SaLTo]",
            "    heading: [RVTS Øst og SaLTo]",
            11,
            "organisations[1].heading: unknown key (did you mean 'headings'?)",
        ),
        (
            "  own_sections: [kom]",
            "  own_sections: [komm]",
            13,
            "archive.own_sections: 'komm' is not a section (sections: kom, norway)",
        ),
        ("  themes: [Høringer]", "  themes: Høringer", 15, "archive.themes: expected a list of headings"),
        ("  - name: RVTS Øst\n", "  - navn: RVTS Øst\n", 10, "organisations[1].navn: unknown key"),
    ],
)
def test_each_organisation_mistake_names_file_line_and_key(tmp_path, old, new, line, message):
    assert ORGANISATIONS.count(old) == 1
    path = write(tmp_path, ORGANISATIONS.replace(old, new), "n.yaml")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"{path}, line {line}: {message}"), str(caught.value)


def test_the_shipped_organisations_cover_the_sample_issues():
    """Every heading of the two sample issues maps to an organisation, is the unit's own, or is a theme."""
    from newsletter.curate.issuefile import IssueDocument
    from newsletter.models import heading_key

    settings = load_settings(ROOT / "newsletter.yaml")
    archive = settings.archive
    claimed = {key for org in archive.organisations for key in org.claims()}
    ignored = {heading_key(h) for h in (*archive.own_headings, *archive.themes)}
    for issue_id in ("2022-q2", "2024-q2"):
        issue = IssueDocument.load(ROOT / "issues" / f"{issue_id}.yaml").issue(settings)
        for key, position, entry in issue.entries():
            if key in archive.own_sections:
                continue
            assert heading_key(entry.heading) in claimed | ignored, f"{issue_id} {key}:{position} {entry.heading!r}"


@pytest.mark.parametrize(
    "name",
    [
        "Nordisk råd: møte om\n      menneskehandel i Norden",  # the ': ' on the value's first line
        "Nordisk råd, møte om\n      menneskehandel i Norden: en plan",  # on a line below it
        "Nordisk råd: møte om\n      Norden: en plan",  # on both
    ],
)
def test_a_colon_in_a_value_over_several_lines_gets_the_block_form_which_then_reads(tmp_path, name):
    """Quotes around the first line alone would not mend a value that goes on below: the block would."""
    text = (
        f"sources:\n  - key: a\n    kind: rss\n    section: international\n    name: {name}\n"
        "    url: https://www.norden.org/rss\n"
    )
    path, error = feeds_error(tmp_path, text)
    assert error == (
        f"{path}, line 5: invalid YAML: the value of 'name' goes on over the lines below, and a ': ' in it reads "
        "as the start of another field; make it a block of text: write 'name: >-' alone on line 5 and the whole "
        "value on the lines below it, each indented further than 'name'"
    )
    first, rest = name.split("\n")
    mended = text.replace(f"    name: {name}\n", f"    name: >-\n      {first}\n{rest}\n")
    feeds = load_feeds(write(tmp_path, mended))
    assert feeds.sources[0].name == " ".join(name.split())


def test_a_field_indented_too_far_or_a_long_values_colon_is_said_both_ways(tmp_path):
    """`kind:` a space too far in reads as the value of `name` going on: which one was meant, only the
    editor knows, so both ways out are said."""
    text = "sources:\n  - key: a\n    name: Nordisk råd\n     kind: rss\n"
    path, error = feeds_error(tmp_path, text)
    assert error == (
        f"{path}, line 4: invalid YAML: 'kind:' is read as part of the value of 'name' (line 3) above, and the "
        "': ' as the start of another field. If 'kind' is a field, it is indented too far: start it in the "
        "column of 'name'. If the value of 'name' goes on here, make it a block of text: write 'name: >-' alone "
        "on line 3 and the whole value on the lines below it, each indented further than 'name'"
    )


def test_inner_double_quotes_and_a_colon_get_the_other_quote_mark_not_more_quotes(tmp_path):
    """`name: "Rapporten "Ny tid": 2023"`: the inner quotes end the value; quoting it again would print
    the outer quotes. Unquoted, the advice is single quotes, which take double ones without backslashes."""
    path, error = feeds_error(tmp_path, 'sources:\n  - key: a\n    name: "Rapporten "Ny tid": 2023"\n    kind: rss\n')
    assert error.startswith(f'{path}, line 3: invalid YAML: the quoted value ends at the second "')
    assert "name: 'Rapporten \"Ny tid\": 2023'" in error
    path, error = feeds_error(tmp_path, 'sources:\n  - key: a\n    name: Rapporten "Ny tid": 2023\n    kind: rss\n')
    assert error == (
        f"{path}, line 3: invalid YAML: a ': ' inside a value reads as the start of another field; put the value "
        "in quotes: name: 'Rapporten \"Ny tid\": 2023'"
    )


@pytest.mark.parametrize(
    ("value", "loads_as"),
    [
        ('"Rapporten "Ny tid" #1 i serien"', 'Rapporten "Ny tid" #1 i serien'),  # a '#' before a quote: no comment
        ('"C:\\\\temp "x" y"', 'C:\\temp "x" y'),  # escapes mean what they said, so double quotes stay
        ('"Ny "tid" \\u00e5r"', 'Ny "tid" år'),
    ],
)
def test_the_other_quote_mark_advice_loads_as_the_editor_meant(tmp_path, value, loads_as):
    """Each suggestion, written in, loads to the words the editor wrote, none lost and no escape turned literal."""
    path, error = feeds_error(tmp_path, f"sources:\n  - key: a\n    name: {value}\n    kind: rss\n")
    suggested = re.search(r"other quote mark, (name: .*), or write the quotes", error)
    assert suggested, error
    loaded = YAML(typ="safe").load(f"x:\n  {suggested[1]}\n")
    assert loaded["x"]["name"] == loads_as


def test_a_list_value_with_inner_quotes_gets_the_other_quote_mark(tmp_path):
    path, error = feeds_error(
        tmp_path, 'sources:\n  - key: a\n    kind: rss\n    tags:\n      - "Rapporten "Ny tid": 2023"\n'
    )
    assert "quote the whole value with the other quote mark, - 'Rapporten \"Ny tid\": 2023'" in error

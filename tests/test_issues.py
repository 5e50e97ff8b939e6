"""Issue files (`issues/<id>.yaml`): round-trip fidelity, where new entries go, the guards that keep the
editor's text (changed-on-disk refusal, atomic writes), one-line validation errors with file, line and
field, periods and ids, `check_issue`'s errors and warnings, issue states, and `links_of`.

The hand-written issue files and one broken file per validation error live in tests/data/issues/; each
broken file says in its opening comment which error it must give (`# Expect: {...}`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import random
import re
import shlex
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import fsutil
from newsletter.cli import cli
from newsletter.collect.urls import identify
from newsletter.config import Workspace
from newsletter.curate.edit import Curation, check_issue, issue_states, move_entry, starting_text
from newsletter.curate.issuefile import (
    IssueChanged,
    IssueDocument,
    IssueFileError,
    issue_path,
    period_for,
    period_is_valid,
)
from newsletter.errors import ConfigError
from newsletter.models import Entry, HeadingOrder, Item, Organisation, RawItem, Settings, Source
from newsletter.render.markdown import links_of
from newsletter.store import Store
from tests.conftest import DATA, KOM_SECTIONS, write_workspace

ISSUES = DATA / "issues"


def copy_issue(name: str, tmp_path: Path, as_name: str = "2024-q2.yaml") -> Path:
    """A copy of a data file under the file name its id asks for (the tests write to it)."""
    target = tmp_path / as_name
    shutil.copyfile(ISSUES / name, target)
    return target


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines only in `before` (removed) and only in `after` (added), by difflib."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def comment_lines(text: str) -> list[str]:
    """Every comment in a file (whole-line and end-of-line), stripped."""
    return [line[line.index("#") :].strip() for line in text.splitlines() if re.search(r"(^|\s)#", line)]


# ---------------------------------------------------------------------- 1. round-trip fidelity

STYLES = [
    pytest.param("handwritten.yaml", "  - heading:", id="2-space"),
    pytest.param("indented.yaml", "    - heading:", id="4/2"),
]


@pytest.mark.parametrize("name, dash", STYLES)
def test_load_and_save_without_changes_is_byte_identical(name, dash, tmp_path):
    path = copy_issue(name, tmp_path)
    original = path.read_bytes()
    IssueDocument.load(path).save()
    assert path.read_bytes() == original


def test_save_keeps_every_byte_of_the_2_space_file(tmp_path):
    # Comments, blank lines, quoting, the literal and folded blocks, the long line and the odd key order.
    path = copy_issue("handwritten.yaml", tmp_path)
    original = path.read_text(encoding="utf-8")
    IssueDocument.load(path).save()
    assert path.read_text(encoding="utf-8") == original
    assert max(len(line) for line in original.splitlines()) > 120


def test_a_file_with_windows_line_endings_keeps_them_on_every_line_new_ones_too(tmp_path):
    """A file saved by a Windows editor (CRLF, and a byte-order mark): round-tripped byte for byte,
    and an added entry's lines end as the others do, not in a mix of endings."""
    path = copy_issue("handwritten.yaml", tmp_path)
    original = "\ufeff" + path.read_text(encoding="utf-8").replace("\n", "\r\n")
    path.write_bytes(original.encode("utf-8"))
    IssueDocument.load(path).save()
    assert path.read_bytes() == original.encode("utf-8")
    document = IssueDocument.load(path)
    document.insert_entry("kom", Entry(heading="KOM nytt", title="Nytt tiltak", text="Første avsnitt.\n\nAndre."))
    document.save()
    after = path.read_bytes()
    assert after.startswith("\ufeff".encode()) and after.count(b"\n") == after.count(b"\r\n") > original.count("\n")
    again = IssueDocument.load(path)
    assert any(entry.title == "Nytt tiltak" for entry in again.issue(Settings(), KNOWN_ITEMS).sections["kom"])
    again.save()  # unchanged since read: no "changed on disk"
    assert path.read_bytes() == after


def test_a_file_of_mixed_line_endings_keeps_every_line_as_it_was(tmp_path):
    """A block pasted from elsewhere with CRLF into an LF file: its lines keep their CRs."""
    path = copy_issue("handwritten.yaml", tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5:9] = [line.replace("\n", "\r\n") for line in lines[5:9]]
    path.write_bytes("".join(lines).encode("utf-8"))
    document = IssueDocument.load(path)
    document.insert_entry("kom", Entry(heading="KOM nytt", title="Nytt tiltak", text="Første avsnitt."))
    document.save()
    assert path.read_bytes().count(b"\r\n") == 4


@pytest.mark.parametrize("name, dash", STYLES)
def test_insert_changes_only_the_lines_of_the_new_entry(name, dash, tmp_path):
    path = copy_issue(name, tmp_path)
    original = path.read_text(encoding="utf-8")
    document = IssueDocument.load(path)
    position = document.insert_entry(
        "kom",
        Entry(
            heading="KOM nytt", title="Nytt tiltak", text="Første avsnitt.\n\nAndre avsnitt.", date=dt.date(2024, 5, 2)
        ),
    )
    document.save()
    after = path.read_text(encoding="utf-8")
    removed, added = changed_lines(original, after)
    pad = dash[: -len("- heading:")]
    assert removed == []
    assert added == [
        f"{dash} KOM nytt",
        f"{pad}  title: Nytt tiltak",
        f"{pad}  text: |",
        f"{pad}    Første avsnitt.",
        "",
        f"{pad}    Andre avsnitt.",
        f"{pad}  date: 2024-05-02",
    ]
    assert position == 3
    assert (
        IssueDocument.load(path).validate(Settings())[0].sections["kom"][2].text == "Første avsnitt.\n\nAndre avsnitt."
    )


@pytest.mark.parametrize("name, dash", STYLES)
def test_pop_changes_only_the_lines_of_the_removed_entry(name, dash, tmp_path):
    path = copy_issue(name, tmp_path)
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines()
    start = lines.index(f"{dash} Finland")
    document = IssueDocument.load(path)
    popped = document.pop_entry("international", 2)
    document.save()
    removed, added = changed_lines(original, path.read_text(encoding="utf-8"))
    assert "heading: Finland" in "".join(popped) and "Finsk handlingsplan" in "".join(popped)
    assert added == []
    assert removed == lines[start : start + 3]


def test_pop_keeps_the_comment_before_the_next_entry(tmp_path):
    path = copy_issue("indented.yaml", tmp_path)
    original = path.read_text(encoding="utf-8")
    document = IssueDocument.load(path)
    document.pop_entry("kom", 1)
    document.save()
    after = path.read_text(encoding="utf-8")
    assert "    # between the two kom entries" in after
    removed, added = changed_lines(original, after)
    assert added == []
    assert [line.strip() for line in removed] == [
        "- heading: Tilstandsrapport 2023",
        "text: Rapporten ligger på [politiet.no](https://www.politiet.no/tilstandsrapport-2023.pdf).",
        "title: KOMs tilstandsrapport for 2023 er publisert",
    ]


@pytest.mark.parametrize("name, dash", [("handwritten.yaml", "  - heading:"), ("indented.yaml", "    - heading:")])
def test_insert_and_pop_keep_every_comment_and_the_indentation_style(name, dash, tmp_path):
    path = copy_issue(name, tmp_path)
    original = path.read_text(encoding="utf-8")
    document = IssueDocument.load(path)
    document.insert_entry("international", Entry(heading="OSSE", title="OSSE-rapport", text="Se rapporten."), ORDER)
    document.insert_entry("norway", Entry(heading="Stortinget", title="Forslag", text="Et forslag."))
    document.pop_entry("kom", 2)  # the last of kom: no comment follows it
    document.save()
    after = path.read_text(encoding="utf-8")
    assert comment_lines(after) == comment_lines(original)
    lines = after.splitlines()
    # The new entries are written in the file's own style, right under their section keys.
    osse = lines.index(f"{dash} OSSE")
    assert lines[osse - 3].strip().startswith("- heading: UNODC")
    norway = lines.index("  norway:")
    assert lines[norway + 1] == f"{dash} Stortinget"
    pad = len(dash) - len("- heading:")
    starts = [line for line in lines if re.match(r"\s*- (heading|text):", line)]
    before = [line for line in original.splitlines() if re.match(r"\s*- (heading|text):", line)]
    assert len(starts) == len(before) + 1 and all(len(line) - len(line.lstrip()) == pad for line in starts), starts


def test_created_issue_saves_and_reloads_in_the_4_2_style(tmp_path):
    settings = Settings(name="Nyhetsbrev fra KOM", audience="Til KOMs samarbeidsaktører")
    path = tmp_path / "2024-q3.yaml"
    document = IssueDocument.create(path, "2024-q3", settings)
    document.insert_entry("kom", Entry(heading="KOM", title="Seminar", text="Tekst."))
    document.save()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Nyhetsbrev fra KOM, juli–september 2024.\n")
    assert "  kom:\n    - heading: KOM\n      title: Seminar\n" in text
    assert "  highlights: []\n" in text
    issue, problems = IssueDocument.load(path).validate(settings)
    assert problems == []
    assert issue.period == "juli–september 2024" and issue.audience == "Til KOMs samarbeidsaktører"
    assert [e.title for _k, _p, e in issue.entries()] == ["Seminar"]


# ---------------------------------------------------------------------- 2. where new entries go

ORDER = HeadingOrder(("UNODC", "OSSE", "Danmark", "Finland"), (Organisation("OSSE", aliases=("OSCE",)),))


def document_with(tmp_path, international: str) -> IssueDocument:
    path = tmp_path / "2024-q2.yaml"
    path.write_text("id: 2024-q2\nsections:\n  international:" + international, encoding="utf-8")
    return IssueDocument.load(path)


def international(document: IssueDocument) -> list[tuple[str, str]]:
    return [(str(e["heading"]), str(e.get("title", ""))) for e in document.data["sections"]["international"]]


def headings(document: IssueDocument) -> list[str]:
    return [heading for heading, _title in international(document)]


ENTRIES = """
    - heading: UNODC
      title: u1
    - heading: Finland
      title: f1
    - heading: UNODC
      title: u2
    - heading: Sverige
      title: s1
"""

IN_ORDER = """
    - heading: UNODC
      title: u1
    - heading: Finland
      title: f1
    - heading: Sverige
      title: s1
"""


def test_an_entry_with_an_existing_heading_goes_after_that_headings_last_entry(tmp_path):
    document = document_with(tmp_path, ENTRIES)
    assert document.insert_entry("international", Entry(heading="unodc", title="u3"), ORDER) == 4
    assert international(document)[2:4] == [("UNODC", "u2"), ("unodc", "u3")]


def test_a_new_heading_goes_after_the_last_heading_that_the_order_puts_before_it(tmp_path):
    document = document_with(tmp_path, IN_ORDER)
    assert document.insert_entry("international", Entry(heading="Danmark", title="d1"), ORDER) == 2
    assert headings(document) == ["UNODC", "Danmark", "Finland", "Sverige"]
    # An organisation's other name stands where its listed name does: 'OSCE' where 'OSSE' is listed.
    assert document.insert_entry("international", Entry(heading="OSCE", title="o1"), ORDER) == 2
    assert headings(document) == ["UNODC", "OSCE", "Danmark", "Finland", "Sverige"]


def test_a_heading_not_in_the_order_goes_last(tmp_path):
    document = document_with(tmp_path, ENTRIES)
    assert document.insert_entry("international", Entry(heading="Island", title="i1"), ORDER) == 5
    assert international(document)[-1] == ("Island", "i1")
    # Without any configured order, a new heading goes last too.
    assert document.insert_entry("international", Entry(heading="OSSE", title="o1")) == 6


def test_a_listed_heading_goes_before_the_unlisted_ones_the_tool_put_last(tmp_path):
    # The order of adding that once left a listed heading under an unlisted one in the file (and
    # above it in every output): an unlisted heading first, then listed ones.
    document = document_with(tmp_path, " []\n")
    for heading in ("Island", "Finland", "UNODC", "Sverige"):
        document.insert_entry("international", Entry(heading=heading, title=heading.lower()), ORDER)
    assert headings(document) == ["UNODC", "Finland", "Island", "Sverige"]


def test_an_unlisted_heading_the_editor_put_first_keeps_its_place(tmp_path):
    document = document_with(
        tmp_path, "\n    - heading: Ukraina\n      title: k1\n    - heading: Finland\n      title: f1\n"
    )
    assert document.insert_entry("international", Entry(heading="UNODC", title="u1"), ORDER) == 2
    assert document.insert_entry("international", Entry(heading="Danmark", title="d1"), ORDER) == 3
    assert headings(document) == ["Ukraina", "UNODC", "Danmark", "Finland"]


def test_before_puts_the_entry_at_that_position(tmp_path):
    document = document_with(tmp_path, ENTRIES)
    assert document.insert_entry("international", Entry(heading="Finland", title="f0"), ORDER, before=1) == 1
    assert international(document)[:2] == [("Finland", "f0"), ("UNODC", "u1")]
    assert document.insert_entry("international", Entry(heading="OSSE", title="o9"), ORDER, before=99) == 6


def test_inserting_into_a_flow_empty_section_makes_it_a_block_list(tmp_path):
    path = copy_issue("indented.yaml", tmp_path)
    original = path.read_text(encoding="utf-8")
    document = IssueDocument.load(path)
    assert document.insert_entry("norway", Entry(heading="Stortinget", title="Forslag", text="Et forslag.")) == 1
    document.save()
    removed, added = changed_lines(original, path.read_text(encoding="utf-8"))
    assert removed == ["  norway: []"]
    assert added == ["  norway:", "    - heading: Stortinget", "      title: Forslag", "      text: Et forslag."]


def test_a_missing_section_is_created_when_an_entry_goes_into_it(tmp_path):
    document = document_with(tmp_path, " []\n")
    document.insert_entry("events", Entry(heading="Seminar", text="Tekst.", event_date=dt.date(2024, 10, 26)))
    assert "  events:\n    - heading: Seminar\n      text: Tekst.\n      event_date: 2024-10-26\n" in document.dumps()


# ---------------------------------------------------------------------- 3. never overwrite the editor's change


def test_save_refuses_when_the_file_changed_on_disk_since_it_was_read(tmp_path):
    path = copy_issue("indented.yaml", tmp_path)
    document = IssueDocument.load(path)
    document.insert_entry("norway", Entry(heading="Stortinget", text="Et forslag."))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("# the editor's note, written meanwhile\n")
    edited = path.read_bytes()
    with pytest.raises(IssueChanged, match="changed on disk since it was read; nothing was written"):
        document.save()
    assert path.read_bytes() == edited


def test_save_of_a_created_issue_refuses_when_the_file_appeared_meanwhile(tmp_path):
    path = tmp_path / "2024-q2.yaml"
    document = IssueDocument.create(path, "2024-q2", Settings())
    path.write_text("id: 2024-q2\n# someone else's issue\n", encoding="utf-8")
    with pytest.raises(IssueChanged, match="was created since it was read"):
        document.save()
    assert path.read_text(encoding="utf-8") == "id: 2024-q2\n# someone else's issue\n"


def test_a_second_save_after_a_successful_one_is_allowed(tmp_path):
    path = copy_issue("indented.yaml", tmp_path)
    document = IssueDocument.load(path)
    document.insert_entry("norway", Entry(heading="Stortinget", text="Et forslag."))
    document.save()
    document.pop_entry("norway", 1)
    document.save()  # the digest follows our own write
    assert path.read_text(encoding="utf-8") == (ISSUES / "indented.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- 4. atomic writes


class Crash(BaseException):
    """Stands for the process dying (like KeyboardInterrupt, not an ordinary Exception)."""


@pytest.mark.parametrize("where", ["os.replace", "os.fsync", "os.chmod"])
def test_a_crash_during_save_leaves_the_original_and_no_temp_file(where, tmp_path, monkeypatch):
    path = copy_issue("indented.yaml", tmp_path)
    original = path.read_bytes()
    document = IssueDocument.load(path)
    document.insert_entry("kom", Entry(heading="KOM", text="Nytt."))
    written = {}

    def crash(*args, **kwargs):
        written["temps"] = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        raise Crash(where)

    monkeypatch.setattr(fsutil.os, where.split(".")[1], crash)
    with pytest.raises(Crash):
        document.save()
    monkeypatch.undo()
    assert written["temps"] and written["temps"][0].startswith(".2024-q2.yaml.")  # it did get that far
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024-q2.yaml"]


def test_keyboard_interrupt_while_writing_the_temp_file_leaves_the_original(tmp_path, monkeypatch):
    path = copy_issue("indented.yaml", tmp_path)
    original = path.read_bytes()
    document = IssueDocument.load(path)
    document.pop_entry("international", 1)

    real_fdopen = os.fdopen

    class Half:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, text):
            self.handle.write(text[: len(text) // 2])
            raise KeyboardInterrupt

    monkeypatch.setattr(fsutil.os, "fdopen", lambda *a, **k: Half(real_fdopen(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        document.save()
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024-q2.yaml"]


def test_atomic_write_keeps_the_file_mode(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    fsutil.atomic_write(path, "new\n")
    assert path.read_text() == "new\n" and (path.stat().st_mode & 0o777) == 0o640


# ---------------------------------------------------------------------- 5. one-line validation errors

KNOWN_ITEMS = {"k7m2qxa"}


def expectation(path: Path) -> dict:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Expect:"):
            return json.loads(line[len("# Expect:") :])
    raise AssertionError(f"{path.name} has no '# Expect:' comment")


def broken_files():
    for path in sorted(ISSUES.glob("invalid-*.yaml")):
        yield pytest.param(path.name, id=path.stem.removeprefix("invalid-"))


@pytest.mark.parametrize("name", list(broken_files()))
def test_a_broken_issue_gives_one_line_naming_file_line_and_field(name, tmp_path):
    expected = expectation(ISSUES / name)
    path = copy_issue(name, tmp_path)
    with pytest.raises(IssueFileError) as raised:
        IssueDocument.load(path).issue(Settings(), KNOWN_ITEMS)
    error = raised.value
    assert isinstance(error, ConfigError)
    assert (error.line, error.key) == (expected["line"], expected["field"]), str(error)
    assert expected["message"] in error.detail
    message = str(error)
    assert "\n" not in message
    prefix = f"{path}, line {expected['line']}: " + (f"{expected['field']}: " if expected["field"] else "")
    assert message.startswith(prefix), message


def test_the_broken_files_are_otherwise_fine(tmp_path):
    # Every error of a case file is on the line and field its comment names: the test above checks the
    # mistake the file was written for, not another one it has by accident.
    for path in sorted(ISSUES.glob("invalid-*.yaml")):
        copy = copy_issue(path.name, tmp_path)
        try:
            document = IssueDocument.load(copy)
        except IssueFileError:
            continue  # a YAML error: there is nothing else to find
        expected = expectation(path)
        errors = [p for p in document.validate(Settings(), KNOWN_ITEMS)[1] if p.level == "error"]
        assert errors and {(p.line, p.field) for p in errors} == {(expected["line"], expected["field"])}, (
            path.name,
            [str(p) for p in errors],
        )


@pytest.mark.parametrize("name", ["handwritten.yaml", "indented.yaml"])
def test_the_hand_written_files_are_valid(name, tmp_path):
    issue, problems = IssueDocument.load(copy_issue(name, tmp_path)).validate(Settings(), set())
    assert problems == []
    assert issue.published == dt.date(2024, 7, 5) and issue.title == "Nyhetsbrev fra KOM"
    assert list(issue.sections) == list(Settings().sections)


def test_a_missing_file_names_the_command_that_creates_it(tmp_path):
    with pytest.raises(IssueFileError, match=r"no such issue; create it with `newsletter issue new 2024-q2`"):
        IssueDocument.load(tmp_path / "2024-q2.yaml")


def test_a_file_that_is_not_a_mapping_is_an_error_on_line_1(tmp_path):
    path = tmp_path / "2024-q2.yaml"
    path.write_text("- heading: KOM\n", encoding="utf-8")
    with pytest.raises(IssueFileError) as raised:
        IssueDocument.load(path)
    assert raised.value.line == 1 and raised.value.detail == (
        "expected an issue's fields (id, title, period, sections …), one `name: value` per line: write them so, "
        "or move the file away and run `newsletter issue new 2024-q2`"
    )


def test_a_byte_that_is_not_utf8_is_named_by_line_and_column(tmp_path):
    """An "æ" saved as Latin-1 on line 3: the line and column, as every other error in the file."""
    path = tmp_path / "2024-q2.yaml"
    path.write_bytes(
        "id: 2024-q2\ntitle: Nyhetsbrev\nintro: Vi \u00f8nsker\n".encode().replace("\u00f8".encode(), b"\xe6")
    )
    with pytest.raises(IssueFileError) as raised:
        IssueDocument.load(path)
    assert raised.value.line == 3
    assert str(raised.value) == (
        f"{path}, line 3: not UTF-8 text (byte 0xe6 at column 11, invalid continuation byte); "
        "save the file as UTF-8 in your editor"
    )


def test_the_column_of_a_byte_that_is_not_utf8_counts_characters(tmp_path):
    """ "æ" and "å" before it are two bytes each: an editor counts them as one character."""
    path = tmp_path / "2024-q2.yaml"
    path.write_bytes("id: 2024-q2\nintro: Været i år – ".encode() + b"\xe6rlig\n")
    with pytest.raises(IssueFileError) as raised:
        IssueDocument.load(path)
    assert "(byte 0xe6 at column 21, " in str(raised.value)


def test_a_duplicate_key_is_named_whole_and_where_it_first_stands(tmp_path):
    path = tmp_path / "2024-q2.yaml"
    path.write_text("id: 2024-q2\n'ti\"tle': A\n'ti\"tle': B\n", encoding="utf-8")
    with pytest.raises(IssueFileError) as raised:
        IssueDocument.load(path)
    assert raised.value.line == 3
    assert 'duplicate key "ti"tle": the field is given twice in one place' in str(raised.value)


def test_a_config_file_that_is_not_utf8_is_named_by_line_too(tmp_path):
    root = write_workspace(tmp_path, "sources: []\n")
    path = root / "newsletter.yaml"
    path.write_bytes(path.read_bytes() + b"publisher: Koordineringsenheten mot menneskehandel \xe6\n")
    with pytest.raises(ConfigError) as raised:
        Workspace(root).settings()
    lines = path.read_bytes().count(b"\n")
    assert str(raised.value).startswith(f"{path}, line {lines}: not UTF-8 text (byte 0xe6 at column 52, ")


# ---------------------------------------------------------------------- 6. periods and ids


@pytest.mark.parametrize(
    "issue_id, period",
    [
        ("2024-q1", "januar–mars 2024"),
        ("2024-q2", "april–juni 2024"),
        ("2024-q3", "juli–september 2024"),
        ("2024-q4", "oktober–desember 2024"),
    ],
)
def test_period_for_names_the_quarter_in_norwegian(issue_id, period):
    assert period_for(issue_id) == period
    assert period_is_valid(period)


@pytest.mark.parametrize(
    "text, valid",
    [
        ("april–juni 2024", True),
        ("april - juni 2024", True),
        ("April—Juni 2024", True),
        ("juni 2024", True),
        ("  oktober–desember 2024 ", True),
        ("aprill–juni 2024", False),
        ("april–juni", False),
        ("2024", False),
        ("q2 2024", False),
        ("april–juni 24", False),
        ("april til juni 2024", False),
        ("", False),
    ],
)
def test_period_is_valid(text, valid):
    assert period_is_valid(text) is valid


@pytest.mark.parametrize("bad", ["../etc/passwd", "2024-q5", "2024-Q2x", "2024-q0", "24-q2", "", "2024-q2/../x"])
def test_issue_path_rejects_what_is_not_an_issue_id(bad, tmp_path):
    with pytest.raises(IssueFileError, match="is not an issue id like 2024-q2"):
        issue_path(tmp_path, bad)


def test_issue_path_rejects_an_id_with_a_trailing_newline(tmp_path):
    with pytest.raises(IssueFileError):
        issue_path(tmp_path, "2024-q2\n")


def test_issue_path_stays_in_the_folder(tmp_path):
    assert issue_path(tmp_path, "2024-q2") == tmp_path / "2024-q2.yaml"


# ---------------------------------------------------------------------- 7. check_issue and issue states

SECTIONS = KOM_SECTIONS
SOURCE = Source(
    key="stortinget",
    name="Stortinget",
    kind="rss",
    url="https://www.stortinget.no/rss",
    section="norway",
    heading="Stortinget",
)
NOW = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)

CLEAN = """\
id: 2024-q2
title: Nyhetsbrev fra KOM
period: april–juni 2024
published: 2024-07-05
sections:
  highlights:
    - heading: Strategi
      title: Ny strategi mot menneskehandel
      text: Regjeringen lager en strategi, se [her](https://www.regjeringen.no/strategi).
  kom:
    - heading: Tilstandsrapport 2023
      title: Rapporten er publisert
      text: Les [rapporten](https://www.politiet.no/rapport.pdf) eller skriv til <mailto:kom@politiet.no>.
      date: 2024-06-27
  norway:
    - heading: Stortinget
      title: Representantforslag om tiltak
      text: Stortinget behandler et forslag, se [her](https://www.stortinget.no/forslag).
      item: {current}
    - heading: Høringer
      title: Høring om nye tiltak
      text: Høringsfristen er 1. september, se [her](https://www.regjeringen.no/horing).
      deadline: 2024-09-01
  international:
    - heading: UNODC
      title: Global rapport
      text: UNODC har lagt fram rapporten, se <https://www.unodc.org/report-2024>.
    - heading: Finland
      title: Finsk handlingsplan
      text: Se [her](https://intermin.fi/plan).
  events:
    - heading: KOM nasjonalt seminar
      title: Seminaret holdes digitalt
      text: KOM arrangerer seminaret 26. oktober.
      event_date: 2024-10-26
intro: KOM ønsker en god sommer.
"""


class Desk:
    """A workspace with a store of two items and a way to check an issue text."""

    def __init__(self, root: Path):
        self.root = write_workspace(root, "sources: []\n", SECTIONS)
        workspace = Workspace(self.root)
        settings = workspace.settings()
        self.store = Store(workspace.db_path)
        self.curation = Curation(workspace, settings, workspace.feeds(settings), self.store)
        raws = [
            RawItem(
                url="https://www.stortinget.no/forslag",
                title="Representantforslag om tiltak",
                summary="Stortinget behandler et forslag om tiltak mot menneskehandel.",
                published=dt.date(2024, 5, 2),
                date_precision="day",
            ),
            RawItem(
                url="https://www.stortinget.no/gammelt",
                title="Et gammelt forslag",
                summary="Et forslag fra januar.",
                published=dt.date(2024, 1, 15),
                date_precision="day",
            ),
        ]
        seen = self.store.upsert_items(SOURCE, [(identify(r.url), r) for r in raws], NOW).seen_ids
        self.current, self.old = seen

    def write(self, text: str, issue_id: str = "2024-q2") -> Path:
        path = self.root / "issues" / f"{issue_id}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text.replace("{current}", self.current).replace("{old}", self.old), encoding="utf-8")
        return path

    def check(self, text: str = CLEAN, issue_id: str = "2024-q2"):
        self.write(text, issue_id)
        return check_issue(self.curation, issue_id)[1]


@pytest.fixture
def desk(tmp_path):
    desk = Desk(tmp_path / "ws")
    yield desk
    desk.store.close()


def changed(old: str, new: str, text: str = CLEAN) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def only(problems, level: str, substring: str, field: str | None = None):
    """The problems are exactly one, of this level, whose message contains `substring`."""
    assert [(p.level, p.field) for p in problems] == [(level, field or problems[0].field)], [str(p) for p in problems]
    assert substring in problems[0].message, problems[0].message
    return problems[0]


def test_a_clean_issue_has_no_problems(desk):
    assert desk.check() == []


def test_an_entry_without_text_is_an_error(desk):
    text = (
        "      text: Les [rapporten](https://www.politiet.no/rapport.pdf) eller skriv til <mailto:kom@politiet.no>.\n"
    )
    problem = only(
        desk.check(changed(text, "      text: ''\n")), "error", "kom:1 'Rapporten er publisert' has no text", "text"
    )
    assert problem.line == 13  # the line of `text:`, two below the entry's heading


def test_an_entry_still_with_its_items_starting_text_is_a_warning_until_accepted(desk):
    item = desk.store.get_item(desk.current)
    untouched = starting_text(item)
    assert untouched.endswith("Se [her](https://www.stortinget.no/forslag).")
    rewritten = "      text: Stortinget behandler et forslag, se [her](https://www.stortinget.no/forslag)."
    starting = changed(rewritten, "      text: " + json.dumps(untouched, ensure_ascii=False))
    problem = only(
        desk.check(starting),
        "warning",
        f"norway:1 still has the starting text from item {item.id}: write the blurb, or keep it with "
        "`newsletter issue accept 2024-q2 norway:1`",
        "text",
    )
    assert problem.line == 18  # the line of `text:`, not the entry's first
    # A good Norwegian summary may stay as it is: the editor says so once.
    assert desk.check(changed("      item: {current}", "      item: {current}\n      accepted: true", starting)) == []


def test_accepted_must_be_true_or_false(desk):
    only(
        desk.check(changed("      item: {current}", "      item: {current}\n      accepted: ja")),
        "error",
        "norway:1 has 'ja', not true or false: write `accepted: true` to keep the starting text, or delete the line",
        "accepted",
    )


# The clean issue with its Stortinget entry linking to the older item instead, or to both.
OLD_LINKED = CLEAN.replace(
    "se [her](https://www.stortinget.no/forslag).", "se [her](https://www.stortinget.no/gammelt)."
)
BOTH_LINKED = CLEAN.replace(
    "se [her](https://www.stortinget.no/forslag).",
    "se [her](https://www.stortinget.no/forslag) og [her](https://www.stortinget.no/gammelt).",
)


def follow(desk: Desk, message: str) -> None:
    """Run the one `newsletter …` command a message gives, through the command line."""
    (command,) = re.findall(r"`newsletter ([^`]+)`", message)
    result = CliRunner().invoke(cli, ["--workspace", str(desk.root), *shlex.split(command)])
    assert result.exit_code == 0, result.output


def test_an_item_published_outside_the_quarter_is_a_warning_and_taking_it_out_leaves_it_undecided(desk):
    """Another quarter's item: the way out puts it back on that quarter's list and in its draft; a
    skip, `issue remove`'s default, would drop it from both."""
    problem = only(
        desk.check(changed("      item: {current}", "      item: {old}", OLD_LINKED)),
        "warning",
        f"norway:1 item {desk.old} was published 2024-01-15, outside april–juni 2024: if it belongs to another "
        f"issue, take the entry out (`newsletter issue remove 2024-q2 {desk.old} --undecided`)",
        "item",
    )
    desk.store.set_status([desk.old], "picked")  # as `issue add` marked it
    follow(desk, problem.message)
    assert desk.store.get_item(desk.old).status == "new"


def test_an_item_outside_the_quarter_among_several_is_deleted_from_items_then_unskipped(desk):
    """Deleting an id by hand leaves the item marked picked: the advice goes on to the unskip that makes it
    undecided again."""
    problem = only(
        desk.check(changed("      item: {current}", "      items: [{current}, {old}]", BOTH_LINKED)),
        "warning",
        f"norway:1 item {desk.old} was published 2024-01-15, outside april–juni 2024: if it belongs to another "
        f"issue, delete {desk.old} from `items`, then `newsletter issue unskip {desk.old}` puts it back among its "
        "quarter's candidates",
        "items",
    )
    desk.store.set_status([desk.old], "picked")
    desk.write(changed("      item: {current}", "      items: [{current}]"))
    follow(desk, problem.message)
    assert desk.store.get_item(desk.old).status == "new"


def test_an_item_outside_the_quarter_its_own_issue_cites_stays_that_issues_pick(desk):
    """Already filed where it belongs: taken out here, it stays picked there, so the advice says so."""
    desk.write(
        f"id: 2024-q1\nsections:\n  norway:\n    - heading: Stortinget\n      title: Gammelt\n"
        f"      text: Se [her](https://www.stortinget.no/gammelt).\n      item: {desk.old}\n",
        "2024-q1",
    )
    problems = desk.check(changed("      item: {current}", "      item: {old}", OLD_LINKED))
    assert [p.message for p in problems] == [
        f"norway:1 item {desk.old} was published 2024-01-15, outside april–juni 2024: 2024-q1 cites it too: if it "
        f"belongs there, take the entry out (`newsletter issue remove 2024-q2 {desk.old}`)",
        "norway:1 links to https://www.stortinget.no/gammelt, already used in 2024-q1: unless it is a follow-up, "
        f"take the link out of its `text`, or the entry (`newsletter issue remove 2024-q2 {desk.old}`)",
        f"norway:1 item {desk.old} was already used in 2024-q1: unless it is a follow-up, take the entry out "
        f"(`newsletter issue remove 2024-q2 {desk.old}`)",
    ]
    desk.store.set_status([desk.old], "picked")
    follow(desk, problems[0].message)
    assert desk.store.get_item(desk.old).status == "picked"


def test_an_item_the_text_does_not_link_to_is_a_warning_naming_the_link_to_add(desk):
    """`issue add --to` a note leaves its text as the editor wrote it: the item's link is nowhere."""
    problem = only(
        desk.check(changed("Stortinget behandler et forslag, se [her](https://www.stortinget.no/forslag).", "Omtalt.")),
        "warning",
        "norway:1 cites item",
        "text",
    )
    assert "add `[her](https://www.stortinget.no/forslag)` to its `text`" in problem.message


def test_an_entry_dated_outside_the_quarter_is_a_warning(desk):
    only(
        desk.check(changed("      date: 2024-06-27", "      date: 2024-07-08")),
        "warning",
        "kom:1 is dated 2024-07-08, outside april–juni 2024: correct its `date`, or, if it belongs to another issue, "
        "take the entry out (`newsletter issue remove 2024-q2 kom:1 --undecided`)",
        "date",
    )


def test_a_deadline_before_publication_is_a_warning(desk):
    # A newsletter looking back on its quarter lists consultations that closed in it.
    only(
        desk.check(changed("      deadline: 2024-09-01", "      deadline: 2024-06-20")),
        "warning",
        "norway:2 has a deadline (2024-06-20) before the issue is published (2024-07-05), so it is shown as "
        "closed: if either date is wrong, correct it",
        "deadline",
    )


def test_the_same_link_in_two_entries_is_a_warning(desk):
    # The 2025 newsletter links one OSCE page from KOM's own activities and from the OSCE heading.
    only(
        desk.check(changed("(https://www.regjeringen.no/horing)", "(https://www.regjeringen.no/strategi)")),
        "warning",
        "norway:2 links to https://www.regjeringen.no/strategi, as highlights:1 does",
        "text",
    )


def test_the_same_link_twice_in_one_entry_is_fine(desk):
    assert (
        desk.check(
            changed(
                "se [her](https://www.regjeringen.no/strategi).",
                "se [her](https://www.regjeringen.no/strategi) og [strategien](https://www.regjeringen.no/strategi).",
            )
        )
        == []
    )


@pytest.mark.parametrize("link", ["ftp://ftp.politiet.no/rapport.pdf", "rapport.pdf"])
def test_a_link_that_is_not_http_or_mailto_is_an_error(desk, link):
    only(
        desk.check(changed("(https://intermin.fi/plan)", f"({link})")),
        "error",
        f"international:2 links to '{link}', which is no http(s) or mailto address: write the page's full "
        "https:// address in its `text`",
        "text",
    )


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,hei"])
def test_a_javascript_link_is_an_error(desk, link):
    problem = only(
        desk.check(changed("(https://intermin.fi/plan)", f"({link})")),
        "error",
        f"international:2 links to '{link}', which is no http(s) or mailto address: write the page's full "
        "https:// address in its `text`",
        "text",
    )
    assert problem.line == CLEAN.splitlines().index("      text: Se [her](https://intermin.fi/plan).") + 1


def test_a_problem_with_a_field_names_the_fields_line_wherever_it_is_in_the_entry(desk):
    # `text:` two lines below the heading, and a deadline above the title: each on its own line.
    moved = changed(
        "      title: Høring om nye tiltak\n      text: Høringsfristen er 1. september, se [her](https://www.regjeringen.no/horing).\n"
        "      deadline: 2024-09-01\n",
        "      deadline: 2024-06-20\n      title: Høring om nye tiltak\n      text: javascript-lenke, se [her](javascript:x).\n",
    )
    lines = moved.splitlines()
    problems = {p.field: p.line for p in desk.check(moved)}
    assert problems == {
        "deadline": lines.index("      deadline: 2024-06-20") + 1,
        "text": next(n for n, line in enumerate(lines, 1) if "javascript:x" in line),
    }


@pytest.mark.parametrize("intro", ["intro: ''\n", "intro: '   '\n", ""])
def test_an_empty_or_missing_intro_is_a_warning(desk, intro):
    text = changed("intro: KOM ønsker en god sommer.\n", intro)
    problem = only(desk.check(text), "warning", "no intro: write the few sentences that open the issue", "intro")
    assert problem.line == (len(text.splitlines()) if intro else None)


def test_a_published_that_is_not_a_date_is_one_error_not_also_no_date_yet(desk):
    problems = desk.check(changed("published: 2024-07-05\n", "published: 2023-02-30\n"))
    assert [(p.level, p.field) for p in problems] == [("error", "published")], [str(p) for p in problems]
    assert problems[0].message == "'2023-02-30' is not a date like 2024-07-05: correct it, or delete the line"


def test_an_item_and_a_link_used_in_an_earlier_issue_are_warnings(desk):
    desk.write(
        textwrap.dedent("""\
        id: 2024-q1
        sections:
          norway:
            - heading: Stortinget
              title: Forslaget er fremmet
              text: Se [her](https://www.stortinget.no/forslag).
              item: {current}
    """),
        "2024-q1",
    )
    desk.write(
        "id: 2024-q3\nsections:\n  norway:\n    - heading: X\n      text: <https://intermin.fi/plan>\n", "2024-q3"
    )  # a later issue is no earlier use
    problems = desk.check()
    assert [(p.level, p.field, p.line) for p in problems] == [("warning", "text", 18), ("warning", "item", 19)]
    assert "norway:1 links to https://www.stortinget.no/forslag, already used in 2024-q1" in problems[0].message
    assert f"norway:1 item {desk.current} was already used in 2024-q1" in problems[1].message


def test_an_empty_section_is_a_warning(desk):
    events = CLEAN[CLEAN.index("  events:") : CLEAN.index("intro:")]
    only(desk.check(CLEAN.replace(events, "  events: []\n")), "warning", "section 'events' is empty", "sections.events")


def test_headings_out_of_the_configured_order_are_a_warning(desk):
    swapped = changed("    - heading: UNODC\n", "    - heading: Finland\n")
    swapped = changed("    - heading: Finland\n      title: Finsk", "    - heading: UNODC\n      title: Finsk", swapped)
    problem = only(
        desk.check(swapped),
        "warning",
        "heading 'UNODC' (international:2) comes after 'Finland', which newsletter.yaml puts later: move it up "
        "(`newsletter issue move 2024-q2 international:2 --before international:1`)",
        "heading",
    )
    assert problem.line == 28


def norway(*entries: tuple[str, str]) -> str:
    """CLEAN with its norway section replaced by entries (heading, title), each with its own link."""
    body = "".join(
        f"    - heading: {heading}\n      title: {title}\n      text: Se [her](https://www.regjeringen.no/{index}).\n"
        for index, (heading, title) in enumerate(entries)
    )
    start, end = CLEAN.index("  norway:\n"), CLEAN.index("  international:\n")
    return CLEAN[:start] + "  norway:\n" + body + CLEAN[end:]


def test_split_heading_runs_are_a_warning(desk):
    assert desk.check(norway(("Annet", "a"), ("Høringer", "h1"), ("Høringer", "h2"))) == []  # one run each
    problem = only(
        desk.check(norway(("Høringer", "h1"), ("Annet", "a"), ("Høringer", "h2"))),
        "warning",
        "entries under 'Høringer' are split (norway:1 and norway:3, lines 16 and 22): put them together "
        "(`newsletter issue move 2024-q2 norway:3 --before norway:2`)",
        "heading",
    )
    assert problem.line == 22


MOVE = re.compile(r"`newsletter issue move 2024-q2 (\S+)( --run)? --before (\S+)`")


@pytest.mark.parametrize("seed", range(40))
def test_the_heading_moves_run_in_the_printed_order_give_a_valid_order_and_move_nothing_else(desk, seed):
    """Any section, split and out of order: the moves `issue check` prints, run in that order, leave no
    heading warning; each heading keeps its entries' order, and the entries of runs no move names keep
    theirs among themselves. Stortinget, Politiske tiltak and Høringer are listed, in that order; Annet
    and Politiet are not."""
    draw = random.Random(seed)
    headings = ["Stortinget", "Politiske tiltak", "Høringer", "Annet", "Politiet"]
    entries = [(heading, f"{heading} {n}") for n, heading in enumerate(draw.choices(headings, k=draw.randint(2, 9)))]
    problems = [p for p in desk.check(norway(*entries)) if p.field == "heading"]
    still = set(range(1, len(entries) + 1))  # the positions of entries no move names
    for problem in problems:
        for ref, whole, before in MOVE.findall(problem.message):
            start = int(problem.entry.split(":")[1])
            assert ref == f"norway:{start}"  # the run's first entry, where the file has it
            run = 1
            while start + run <= len(entries) and entries[start + run - 1][0] == entries[start - 1][0]:
                run += 1
            assert bool(whole) == (run > 1)  # one command moves the heading's whole run
            still -= set(range(start, start + run))
            move_entry(desk.curation, "2024-q2", ref, before=before, run=bool(whole))
    issue, problems = check_issue(desk.curation, "2024-q2")
    assert [p.message for p in problems if p.field == "heading"] == []
    after = [(entry.heading, entry.title) for entry in issue.sections["norway"]]
    assert sorted(after) == sorted(entries)
    for heading in headings:  # together, in the file's order
        mine = [n for n, (h, _t) in enumerate(after) if h == heading]
        assert not mine or mine[-1] - mine[0] == len(mine) - 1, after
        assert [after[n] for n in mine] == [e for e in entries if e[0] == heading]
    order = desk.curation.heading_order("norway")
    ranks = [rank for heading, _title in after if (rank := order.rank(heading)) is not None]
    assert ranks == sorted(ranks), after
    unmoved = [entries[n - 1] for n in sorted(still)]
    assert [entry for entry in after if entry in unmoved] == unmoved


ORGANISATIONS = """
organisations:
  - name: Europarådet og GRETA
    aliases: [GRETA, Europarådet]
  - name: Stortinget
    aliases: [Storting]
    headings: [Representantforslag]
  - name: Organisasjonen for sikkerhet og samarbeid i Europa
    aliases: [OSSE, OSCE]
"""


def section_of(key: str, *entries: tuple[str, str, str]) -> str:
    """CLEAN with section `key` replaced by entries (heading, title, item id or ""), each with its own link."""
    body = "".join(
        f"    - heading: {heading}\n      title: {title}\n      text: Se [her](https://www.coe.int/{index}).\n"
        + (f"      item: {item}\n" if item else "")
        for index, (heading, title, item) in enumerate(entries)
    )
    keys = ["highlights", "kom", "norway", "international", "events"]
    start = CLEAN.index(f"  {key}:\n")
    end = CLEAN.index(f"  {keys[keys.index(key) + 1]}:\n") if key != "events" else CLEAN.index("intro:")
    return CLEAN[:start] + f"  {key}:\n" + body + CLEAN[end:]


@pytest.fixture
def organisations_desk(desk):
    """The desk with newsletter.yaml naming organisations (ORGANISATIONS)."""
    config = desk.root / "newsletter.yaml"
    config.write_text(config.read_text(encoding="utf-8") + ORGANISATIONS, encoding="utf-8")
    workspace = Workspace(desk.root)
    settings = workspace.settings()
    desk.curation = Curation(workspace, settings, workspace.feeds(settings), desk.store)
    return desk


def test_two_headings_naming_one_organisation_in_a_section_are_a_warning_and_its_advice_joins_them(
    organisations_desk,
):
    """ "GRETA" beside "Europarådet og GRETA" (an alias beside the name, newsletter.yaml `organisations`) is
    two headings for one body. Kept: the section's listed heading, then the organisation's name, then the
    more used; so the new name the editor moved one entry to is not undone by joining the old."""
    desk = organisations_desk

    def about_organisations(text: str) -> list[str]:
        return [p.message for p in desk.check(text) if "`organisations`" in p.message]

    # One entry under the old name, more used: the name is kept all the same; moved there by position.
    one = section_of("international", ("GRETA", "a", ""), ("Europarådet og GRETA", "c", ""), ("GRETA", "b", ""))
    assert about_organisations(one) == [
        "international:1 is under 'GRETA' and international:2 under 'Europarådet og GRETA': both name Europarådet "
        "og GRETA (newsletter.yaml `organisations`), so readers get two headings for it; to file its 2 entries "
        "under 'Europarådet og GRETA': change the `heading` of international:1, international:3 to 'Europarådet "
        "og GRETA' in the file"
    ]
    single = section_of("international", ("Europarådet og GRETA", "a", ""), ("GRETA", "c", ""))
    assert about_organisations(single) == [
        "international:2 is under 'GRETA' and international:1 under 'Europarådet og GRETA': both name Europarådet "
        "og GRETA (newsletter.yaml `organisations`), so readers get two headings for it; to file it under "
        "'Europarådet og GRETA': `newsletter issue move 2024-q2 international:2 --heading 'Europarådet og GRETA'`"
    ]
    move_entry(desk.curation, "2024-q2", "international:2", heading="Europarådet og GRETA")
    issue, problems = check_issue(desk.curation, "2024-q2")
    assert problems == []
    assert {entry.heading for entry in issue.sections["international"]} == {"Europarådet og GRETA"}
    # The heading newsletter.yaml lists for the section (OSSE) before the name, however little used; two
    # warnings in one section: no positions, which the first move would shift.
    listed = section_of(
        "international",
        ("OSCE", "a", ""),
        ("Organisasjonen for sikkerhet og samarbeid i Europa", "b", ""),
        ("OSCE", "c", ""),
        ("OSSE", "d", ""),
    )
    assert [m.split("; ", 1)[1] for m in about_organisations(listed)] == [
        "to file its 2 entries under 'OSSE': change the `heading` of international:1, international:3 to 'OSSE' "
        "in the file",
        "to file it under 'OSSE': change the `heading` of international:2 to 'OSSE' in the file",
    ]
    # Entries citing an item each: moved by item id, which no other move shifts.
    cited = section_of(
        "norway",
        ("Storting", "a", desk.current),
        ("Stortinget", "b", ""),
        ("Storting", "c", desk.old),
    )
    [message] = about_organisations(cited)
    assert message.endswith(
        f"to file its 2 entries under 'Stortinget': `newsletter issue move 2024-q2 {desk.current} --heading "
        f"Stortinget` and `newsletter issue move 2024-q2 {desk.old} --heading Stortinget`"
    )
    for item in (desk.current, desk.old):
        move_entry(desk.curation, "2024-q2", item, heading="Stortinget")
    assert [p.message for p in check_issue(desk.curation, "2024-q2")[1] if "`organisations`" in p.message] == []
    # In two sections, or an organisation's `headings` (one kind of its documents, not its name): no warning.
    apart = section_of("highlights", ("GRETA", "a", ""))
    assert about_organisations(apart.replace("UNODC", "Europarådet og GRETA")) == []
    assert about_organisations(section_of("norway", ("Stortinget", "a", ""), ("Representantforslag", "b", ""))) == []
    # A file whose items are in error waits: the moves by id could not be made.
    assert about_organisations(cited.replace(f"item: {desk.old}", f"item: {desk.current}")) == []


def test_what_check_prints_for_one_organisations_headings_then_the_runs_leaves_no_heading_warning(
    organisations_desk,
):
    """The section's run and order advice waits while two names of one organisation stand in it (their
    moves would shift its positions); done as printed, one then the other, no heading warning is left."""
    desk = organisations_desk
    text = section_of(
        "international",
        ("Europarådet og GRETA", "a", ""),
        ("UNODC", "u", ""),
        ("GRETA", "b", ""),
        ("OSSE", "o", ""),
        ("GRETA", "c", ""),
    )
    problems = [p for p in desk.check(text) if p.field == "heading"]
    assert len(problems) == 1 and "`organisations`" in problems[0].message  # no run or order advice yet
    # As it says: the heading changed in the file, in place.
    path = desk.write(text.replace("- heading: GRETA\n", "- heading: Europarådet og GRETA\n"))
    issue, problems = check_issue(desk.curation, "2024-q2")
    for problem in (p for p in problems if p.field == "heading"):
        for ref, whole, before in MOVE.findall(problem.message):
            move_entry(desk.curation, "2024-q2", ref, before=before, run=bool(whole))
    issue, problems = check_issue(desk.curation, "2024-q2")
    assert [p.message for p in problems if p.field == "heading"] == [], path.read_text(encoding="utf-8")
    # Together; an unlisted heading the editor put first stays first (`HeadingOrder.index_for`).
    assert [(e.heading, e.title) for e in issue.sections["international"]] == [
        ("Europarådet og GRETA", "a"),
        ("Europarådet og GRETA", "b"),
        ("Europarådet og GRETA", "c"),
        ("UNODC", "u"),
        ("OSSE", "o"),
    ]


def test_no_publication_date_is_a_warning(desk):
    only(desk.check(changed("published: 2024-07-05\n", "")), "warning", "no publication date yet", "published")


def test_check_also_reports_the_structural_errors(desk):
    problems = desk.check(changed("      item: {current}", "      item: zz99zz9"))
    assert [(p.level, p.entry, p.field) for p in problems] == [("error", "norway:1", "item")]
    assert problems[0].message == (
        "norway:1 cites 'zz99zz9', which is no collected item: correct the id (`newsletter items` lists them), "
        "or delete it"
    )


def touch(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def test_issue_states_draft_checked_built_and_invalid(desk):
    t0 = 1_720_000_000
    as_id = lambda issue_id, text=CLEAN: text.replace("id: 2024-q2", f"id: {issue_id}")  # noqa: E731
    touch(desk.write(as_id("2024-q1", changed("published: 2024-07-05\n", "")), "2024-q1"), t0)
    touch(desk.write(CLEAN, "2024-q2"), t0)
    desk.write(as_id("2024-q3", changed("(https://intermin.fi/plan)", "(plan.pdf)")), "2024-q3")
    desk.write("id: 2024-q4\ntitle: [uavsluttet\n", "2024-q4")
    build = desk.root / "build" / "2024-q2"
    build.mkdir(parents=True)
    (build / "index.html").write_text("<html></html>")
    touch(build / "index.html", t0 + 60)
    touch(build, t0 + 60)
    states = {s.id: s for s in issue_states(desk.curation)}
    assert {k: s.state for k, s in states.items()} == {
        "2024-q1": "checked",
        "2024-q2": "built",
        "2024-q3": "draft",
        "2024-q4": "invalid",
    }
    assert states["2024-q1"].errors == 0 and states["2024-q1"].warnings >= 1  # no `published`, among others
    assert states["2024-q2"].entries == 7 and states["2024-q2"].published == dt.date(2024, 7, 5)
    assert states["2024-q2"].errors == 0 and states["2024-q2"].warnings > 0  # reuses 2024-q1's links and item
    assert states["2024-q3"].errors == 1 and states["2024-q3"].period == "april–juni 2024"
    assert (states["2024-q4"].errors, states["2024-q4"].entries) == (1, 0)


def test_an_issue_edited_after_the_build_is_checked_again_not_built(desk):
    t0 = 1_720_000_000
    build = desk.root / "build" / "2024-q2"
    build.mkdir(parents=True)
    (build / "index.html").write_text("<html></html>")
    touch(build / "index.html", t0)
    touch(build, t0)
    touch(desk.write(CLEAN), t0 + 60)
    assert [s.state for s in issue_states(desk.curation)] == ["checked"]


def test_an_output_rewritten_in_place_after_the_edit_makes_the_issue_built(desk):
    t0 = 1_720_000_000
    build = desk.root / "build" / "2024-q2"
    build.mkdir(parents=True)
    (build / "index.html").write_text("old")
    touch(build, t0)
    touch(desk.write(CLEAN), t0 + 60)
    (build / "index.html").write_text("new")  # rebuilt: the file changes, the folder does not
    touch(build / "index.html", t0 + 120)
    assert [s.state for s in issue_states(desk.curation)] == ["built"]


# ---------------------------------------------------------------------- 8. links_of


def test_links_of_finds_links_and_autolinks_once_each_in_order():
    text = (
        "Se [her](https://a.no/x) og <https://b.no/y>, skriv til [oss](mailto:kom@politiet.no).\n\n"
        "- [igjen](https://a.no/x)\n- [ref][1]\n\n[1]: https://c.no/z\n"
    )
    assert links_of(text) == ["https://a.no/x", "https://b.no/y", "mailto:kom@politiet.no", "https://c.no/z"]


def test_links_of_ignores_plain_text_and_an_image_is_the_link_every_output_makes_of_it():
    assert links_of("Ingen lenker her, bare https://naked.no og [klammer].") == []
    assert links_of("![Forsiden](https://www.politiet.no/forside.png)") == ["https://www.politiet.no/forside.png"]
    # An image inside a link is that link's words: the link keeps its address, and the picture is no link.
    assert links_of("[![Forsiden](https://politiet.no/forside.png)](https://politiet.no/rapport.pdf)") == [
        "https://politiet.no/rapport.pdf"
    ]
    assert links_of("") == [] and links_of(None) == []


def test_links_of_ignores_markdown_links_in_code():
    assert links_of("Skriv `[her](https://kode.no)` slik.\n\n```\n[x](https://blokk.no)\n```\n") == []


def test_links_of_ignores_autolinks_in_code():
    assert links_of("Skriv `<https://kode.no>` slik.\n\n```\n<https://blokk.no>\n```\n") == []


def test_a_period_must_use_norwegian_month_names():
    assert period_is_valid("januar - april 2022") and period_is_valid("juni 2024")
    assert not period_is_valid("june 2024") and not period_is_valid("April-June 2024")


def test_an_event_end_without_an_event_date_on_or_before_it_is_an_error(desk):
    problems = desk.check(
        changed("      deadline: 2024-09-01", "      deadline: 2024-09-01\n      event_end: 2024-09-03")
    )
    problem = only(
        problems,
        "error",
        "norway:2 has an event_end but no event_date on or before it (the event's first day): add `event_date`, "
        "or correct `event_end`",
        "event_end",
    )
    assert problem.line


def test_an_event_end_before_its_event_date_says_so_rather_than_that_the_date_is_missing(desk):
    text = changed("      event_date: 2024-10-26", "      event_date: 2024-10-26\n      event_end: 2024-10-25")
    problem = only(desk.check(text), "error", "", "event_end")
    assert problem.message == (
        "events:1 event_end (2024-10-25) is before its event_date (2024-10-26): correct one of them"
    )
    assert problem.line == text.splitlines().index("      event_end: 2024-10-25") + 1


@pytest.mark.parametrize("written", ["      item: {upper}", "      items: [{upper}]", "      items: {upper}"])
def test_an_item_id_in_capitals_names_the_same_item_in_item_and_items(desk, written):
    text = changed("      item: {current}", written.format(upper=desk.current.upper()))
    assert desk.check(text) == []
    issue = check_issue(desk.curation, "2024-q2")[0]
    assert [e.items for _k, _p, e in issue.entries() if e.items] == [(desk.current,)]


def test_a_field_whose_name_starts_with_a_no_break_space_is_named(desk):
    # After the indentation's ordinary spaces, a no-break space is the first letter of the field's name to YAML.
    text = changed("      deadline: 2024-09-01", "      \u00a0deadline: 2024-09-01")
    problem = only(desk.check(text), "error", "", "\u00a0deadline")
    assert problem.message == (
        "norway:2 field 'deadline' starts with a no-break space (U+00A0), which looks like a space but is none: "
        "retype the indentation with ordinary spaces"
    )
    assert problem.line == text.splitlines().index("      \u00a0deadline: 2024-09-01") + 1


def test_items_written_without_brackets_are_named_on_their_line_with_the_list_to_write(desk):
    text = changed("      item: {current}", "      items: {current}, {old}")
    problem = only(desk.check(text), "error", "", "items")
    assert problem.message == (
        f"norway:1 items '{desk.current}, {desk.old}' is one line of text, not a list: "
        f"write `items: [{desk.current}, {desk.old}]`"
    )
    assert problem.line == text.splitlines().index("      items: {current}, {old}") + 1


@pytest.mark.parametrize(
    ("summary", "text"),
    [
        (
            "Regjeringen legger fram en handlingsplan",
            "Regjeringen legger fram en handlingsplan. Se [her](https://x.no/a).",
        ),
        ("Høringsfrist 1. mai", "Høringsfrist 1. mai. Se [her](https://x.no/a)."),
        ("Rapporten er ute.", "Rapporten er ute. Se [her](https://x.no/a)."),
        ("Hva gjør vi nå?", "Hva gjør vi nå? Se [her](https://x.no/a)."),
        ("Hun sa «vi starter nå.»", "Hun sa «vi starter nå.» Se [her](https://x.no/a)."),
        ("", "Se [her](https://x.no/a)."),
        ("Et utdrag som slutter [&hellip;]", "Et utdrag som slutter \\[&hellip;\\]. Se [her](https://x.no/a)."),
        ("Et utdrag som slutter […]", "Et utdrag som slutter \\[…\\] Se [her](https://x.no/a)."),
        ("Tiltak mot vold; tiltak mot utnytting;", "Tiltak mot vold; tiltak mot utnytting. Se [her](https://x.no/a)."),
    ],
)
def test_a_starting_text_ends_its_summary_with_a_full_stop_before_the_link(summary, text):
    item = Item(id="a1", source="s", url="https://x.no/a", title="T", summary=summary)
    assert starting_text(item) == text


def test_a_folder_that_cannot_be_locked_itself_is_locked_by_a_file_in_it(tmp_path, monkeypatch):
    """NFS: flock on a folder (opened read-only) fails there; a hidden `.lock` file in it is locked instead."""
    import errno
    import fcntl
    import stat

    real = fcntl.flock

    def nfs_flock(descriptor, operation):
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EBADF, "Bad file descriptor")
        return real(descriptor, operation)

    monkeypatch.setattr(fsutil.fcntl, "flock", nfs_flock)
    with fsutil.folder_lock(tmp_path / "build"):
        lock = tmp_path / "build" / ".lock"
        assert lock.is_file()
        with open(lock, "a") as other, pytest.raises(BlockingIOError):
            real(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: another process would wait
    with open(lock, "a") as other:
        real(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        (
            "text",
            "[a, b]",
            "text: kom:1 has a list (lines starting with '- ', or [a, b]), not text: put the text in quotes",
        ),
        ("text", "{a: b}", "text: kom:1 has a mapping (fields: values), not text: put the text in quotes"),
        (
            "item",
            "[abc1234, def5678]",
            "item: kom:1 has a list (lines starting with '- ', or [a, b]), not text: several items go in `items: [a, b]`",
        ),
    ],
)
def test_a_field_of_the_wrong_shape_is_named_in_the_editors_words(tmp_path, field, value, said):
    path = tmp_path / "2024-q2.yaml"
    entry = {"heading": "KOM", "title": "T", "text": "Tekst."} | {field: value}
    lines = "".join(f"      {k}: {v}\n" for k, v in entry.items()).replace("      heading", "    - heading", 1)
    path.write_text(f"id: 2024-q2\nsections:\n  kom:\n{lines}", encoding="utf-8")
    _issue, problems = IssueDocument.load(path).validate(Settings())
    messages = [str(p) for p in problems]
    assert any(said in m for m in messages), messages
    assert not any("Commented" in m or " got list" in m or " got int" in m for m in messages)


# ---------------------------------------------------------------------- invisible characters


def test_an_invisible_character_in_a_title_is_a_warning_at_its_line_and_column(desk):
    text = changed("      title: Høring om nye tiltak\n", "      title: Høring om \u202enye tiltak\n")
    problem = only(desk.check(text), "warning", "norway:2 holds an invisible character", "title")
    assert problem.line == text.splitlines().index("      title: Høring om \u202enye tiltak") + 1
    assert problem.message == (
        "norway:2 holds an invisible character that can hide or reorder text (pasted in with the words, or "
        "from a PDF): delete U+202E RIGHT-TO-LEFT OVERRIDE at column 24; every output leaves it out"
    )
    assert text.splitlines()[problem.line - 1][24 - 1] == "\u202e"  # column 24, counted from 1


def test_invisible_characters_in_a_block_text_are_placed_line_by_line(desk):
    block = (
        "      text: |\n"
        "        Høringsfristen er\u200b 1. september,\n"
        "        se [her\u2067](https://www.regjeringen.no/horing).\n"
        "        Spør \ufeffoss.\n"
    )
    text = changed("      text: Høringsfristen er 1. september, se [her](https://www.regjeringen.no/horing).\n", block)
    problem = only(desk.check(text), "warning", "norway:2 holds 3 invisible characters", "text")
    first = text.splitlines().index("        Høringsfristen er\u200b 1. september,") + 1
    assert problem.line == first
    assert (
        f"delete U+200B ZERO WIDTH SPACE at column 26, U+2067 RIGHT-TO-LEFT ISOLATE at line {first + 1}, column 16 "
        f"and U+FEFF ZERO WIDTH NO-BREAK SPACE at line {first + 2}, column 14; every output leaves them out"
    ) in problem.message


def test_a_line_separator_in_a_title_is_a_warning_to_write_a_space_for_it(desk):
    """Deleted, U+2028 would run "om" and "nye" together: the editor is asked for the space every output shows."""
    text = changed("      title: Høring om nye tiltak\n", "      title: Høring om\u2028nye tiltak\n")
    problem = only(desk.check(text), "warning", "norway:2 holds a line or page break", "title")
    assert problem.message == (
        "norway:2 holds a line or page break that some programs show and others do not (pasted in with the words, "
        "or from a PDF): replace U+2028 LINE SEPARATOR at column 23 with a space; every output shows it as a space"
    )
    assert text.split("\n")[problem.line - 1][23 - 1] == "\u2028"  # splitlines() would break the line there


def test_an_escape_of_an_invisible_character_in_a_quoted_value_is_named_as_written(desk):
    text = changed("    - heading: UNODC\n", '    - heading: "UN\\u2066ODC \\x07"\n')
    problem = only(desk.check(text), "warning", "international:1 holds 2 invisible characters", "heading")
    assert problem.message.endswith(
        "delete the escape \\u2066 (U+2066 LEFT-TO-RIGHT ISOLATE) at column 19 and the escape \\x07 (U+0007, a "
        "control character) at column 29; every output leaves them out"
    )
    line = text.splitlines()[problem.line - 1]
    assert line[19 - 1 :].startswith("\\u2066") and line[29 - 1 :].startswith("\\x07")


def test_an_invisible_character_the_file_writes_in_a_way_not_followed_is_placed_by_the_words_before_it(desk):
    """A quoted key ("title": …) is not looked for on its line: the warning says what the character follows."""
    text = changed("      title: Rapporten er publisert\n", '      "title": Rapporten\u200f er publisert\n')
    problem = only(desk.check(text), "warning", "kom:1 holds an invisible character", "title")
    assert "delete U+200F RIGHT-TO-LEFT MARK after «Rapporten»;" in problem.message


def test_many_invisible_characters_are_counted_past_the_fifth(desk):
    text = changed(
        "intro: KOM ønsker en god sommer.\n", "intro: K\u200bO\u200bM\u200b ø\u200bn\u200bs\u200bk\u200ber.\n"
    )
    problem = only(desk.check(text), "warning", "holds 7 invisible characters", "intro")
    assert "SPACE at column 16, U+200B ZERO WIDTH SPACE at column 18 and 2 more; every output leaves" in problem.message


def test_the_joiners_scripts_need_and_soft_hyphens_are_no_problem(desk):
    text = changed(
        "      title: Global rapport\n", "      title: Global menneske\u00adhandel-rapport 👨\u200d👩\u200d👧\n"
    )
    text = changed(
        "intro: KOM ønsker en god sommer.\n",
        "intro: KOM ønsker en god sommer (\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645).\n",
        text,
    )
    assert desk.check(text) == []


def test_issue_check_names_file_line_field_entry_and_column_of_an_invisible_character(desk):
    path = desk.write(changed("      title: Finsk handlingsplan\n", "      title: Finsk\u202e handlingsplan\n"))
    result = CliRunner().invoke(cli, ["--workspace", str(desk.root), "issue", "check", "2024-q2"])
    assert result.exit_code == 0, result.output
    line = path.read_text(encoding="utf-8").splitlines().index("      title: Finsk\u202e handlingsplan") + 1
    assert (
        f"warning: {path}, line {line}: title: international:2 holds an invisible character that can hide or "
        "reorder text (pasted in with the words, or from a PDF): delete U+202E RIGHT-TO-LEFT OVERRIDE at column "
        "19; every output leaves it out"
    ) in result.output.splitlines()


# ---------------------------------------------------------------------- images


def test_an_image_is_a_warning_saying_it_is_shown_as_a_link_and_how_to_write_that_link(desk):
    old = "      text: Se [her](https://intermin.fi/plan).\n"
    text = changed(old, "      text: Se planen. ![Forsiden av planen](https://intermin.fi/forside.png)\n")
    problem = only(desk.check(text), "warning", "international:2 has an image", "text")
    assert (
        problem.line
        == text.splitlines().index("      text: Se planen. ![Forsiden av planen](https://intermin.fi/forside.png)") + 1
    )
    assert problem.message == (
        "international:2 has an image, ![Forsiden av planen](https://intermin.fi/forside.png): readers get a link "
        "to the picture instead (no picture from elsewhere is loaded into their mail); write the link itself: "
        "[Forsiden av planen](https://intermin.fi/forside.png)"
    )


def test_an_image_without_a_description_is_a_warning_naming_the_link_text_readers_get(desk):
    text = changed(
        "intro: KOM ønsker en god sommer.\n", "intro: KOM ønsker en god sommer. ![](https://kom.no/sol.jpg)\n"
    )
    problem = only(desk.check(text), "warning", "has an image with no description", "intro")
    assert problem.message == (
        "has an image with no description, ![](https://kom.no/sol.jpg): readers get a link to the picture named "
        "«Bilde: sol.jpg»; write a link that says what it shows: [what the picture shows](https://kom.no/sol.jpg)"
    )


def test_an_image_inside_a_link_is_a_warning_whose_link_to_write_keeps_the_links_address(desk):
    old = "      text: Se [her](https://intermin.fi/plan).\n"
    linked = "[![Forsiden av planen](https://intermin.fi/forside.png)](https://intermin.fi/plan.pdf)"
    problem = only(desk.check(changed(old, f"      text: Se {linked}.\n")), "warning", "has an image", "text")
    assert problem.message == (
        f"international:2 has an image inside a link, {linked}: readers get the link with the words «Forsiden av "
        "planen» in place of the picture (no picture from elsewhere is loaded into their mail); write the link "
        "itself: [Forsiden av planen](https://intermin.fi/plan.pdf)"
    )
    advised = problem.message.rsplit("write the link itself: ", 1)[1]
    assert desk.check(changed(old, f"      text: Se {advised}.\n")) == []


def test_an_image_with_no_description_inside_a_link_is_a_warning_to_name_where_the_link_leads(desk):
    old = "      text: Se [her](https://intermin.fi/plan).\n"
    text = changed(old, "      text: Se [![](https://intermin.fi/ikon.png)](https://intermin.fi/plan.pdf).\n")
    problem = only(desk.check(text), "warning", "has an image with no description", "text")
    assert problem.message == (
        "international:2 has an image with no description, ![](https://intermin.fi/ikon.png), inside a link to "
        "https://intermin.fi/plan.pdf: readers get the link without the picture; write words that say where it "
        "leads: [what the link leads to](https://intermin.fi/plan.pdf)"
    )


@pytest.mark.parametrize("address", ["data:image/png;base64,AAAA", "kart.png"])
def test_an_image_from_an_address_no_reader_can_open_is_one_error_with_no_link_to_write(desk, address):
    """The error asks for the picture's https:// address; no warning then offers `[planen](kart.png)`, the very
    link the error refuses."""
    old = "      text: Se [her](https://intermin.fi/plan).\n"
    problem = only(desk.check(changed(old, f"      text: Se ![planen]({address}).\n")), "error", "image", "text")
    assert problem.message == (
        f"international:2 has an image from '{address}', which is no http(s) address: every output makes an image "
        "a link to its picture, and no reader can open this one; write the picture's full https:// address in its "
        "`text`"
    )
    fixed = desk.check(changed(old, "      text: Se ![planen](https://intermin.fi/kart.png).\n"))
    assert [p.level for p in fixed] == ["warning"]  # the picture is a link: write it as one


def test_an_image_in_a_link_no_reader_can_open_is_the_links_error_alone(desk):
    old = "      text: Se [her](https://intermin.fi/plan).\n"
    text = changed(old, "      text: Se [![planen](https://intermin.fi/kart.png)](plan.pdf).\n")
    problem = only(desk.check(text), "error", "links to 'plan.pdf', which is no http(s) or mailto address", "text")
    assert problem.message.endswith("write the page's full https:// address in its `text`")


def test_an_image_in_the_intro_from_an_address_no_reader_can_open_is_an_error_saying_what_to_write(desk):
    """The intro's links are checked as an entry's are: one no reader can open is an error, not an image warning."""
    text = changed("intro: KOM ønsker en god sommer.\n", "intro: KOM ønsker en god sommer. ![Sol](sol.jpg)\n")
    problem = only(desk.check(text), "error", "has an image", "intro")
    assert problem.message == (
        "has an image from 'sol.jpg', which is no http(s) address: every output makes an image a link to its "
        "picture, and no reader can open this one; write the picture's full https:// address in `intro`"
    )
    assert problem.line == text.splitlines().index("intro: KOM ønsker en god sommer. ![Sol](sol.jpg)") + 1


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("[her]()", "has a link with no address ([…]()): write the address between the ( ) in `intro`"),
        (
            "[her](javascript:alert(1))",
            "links to 'javascript:alert(1)', which is no http(s) or mailto address: write the page's full https:// "
            "address in `intro`",
        ),
        (
            "[her](https://www.politiet.no:99999/kom)",
            "links to 'https://www.politiet.no:99999/kom': its port is out of range (0–65535), so no reader can "
            "open it: correct the address in `intro`",
        ),
    ],
)
def test_a_link_in_the_intro_no_reader_can_open_is_an_error_naming_the_intro(desk, link, message):
    text = changed("intro: KOM ønsker en god sommer.\n", f"intro: KOM ønsker en god sommer. Les {link}.\n")
    assert only(desk.check(text), "error", "link", "intro").message == message


def test_a_good_link_and_a_mail_address_in_the_intro_are_no_problem(desk):
    intro = "KOM ønsker en god sommer. Les [rapporten](https://www.politiet.no/kom) eller skriv til [oss](mailto:kom@politiet.no)."
    assert desk.check(changed("intro: KOM ønsker en god sommer.\n", f"intro: {intro}\n")) == []


def test_a_misspelt_section_key_is_the_one_thing_said_not_advice_for_the_file_as_it_stands(desk):
    """With `internasjonal:` for `international:` the section looks empty, and with an item id mistyped the
    item looks cited nowhere; filling the section, or filing the item again, would make duplicates once the
    typo is fixed, so that advice waits."""
    desk.store.set_status([desk.current], "picked")
    misspelt = desk.check(changed("  international:\n", "  internasjonal:\n"))
    assert [p.level for p in misspelt] == ["error"] and "unknown section 'internasjonal'" in misspelt[0].message
    mistyped = desk.check(changed("      item: {current}", "      item: zz99zz9"))
    assert [p.level for p in mistyped] == ["error"] and "zz99zz9" in mistyped[0].message, [str(p) for p in mistyped]
    # The id taken out by hand (no typo), the advice holds and is given.
    gone = changed("      item: {current}\n", "", changed("stortinget.no/forslag", "stortinget.no/annet"))
    problems = desk.check(gone)
    assert any("marked picked, but no issue cites it" in p.message for p in problems), [p.message for p in problems]


# ---------------------------------------------------------------------- what YAML and Markdown read otherwise


@pytest.mark.parametrize(
    ("old", "new", "field", "comment", "shown"),
    [
        # A number and a hashtag typed into a plain value: YAML takes " #" and the rest for a comment.
        (
            "      title: Global rapport\n",
            "      title: Global rapport #1 av 2\n",
            "title",
            "«#1 av 2»",
            "readers get «Global rapport»; if it belongs there, put the whole value in quotes "
            '(title: "Global rapport #1 av 2")',
        ),
        (
            "      text: KOM arrangerer seminaret 26. oktober.\n",
            "      text: KOM arrangerer seminaret #KOM2024 26. oktober.\n",
            "text",
            "«#KOM2024 26. oktober.»",
            "readers get «KOM arrangerer seminaret»; if it belongs there, put the whole value in quotes "
            '(text: "KOM arrangerer seminaret #KOM2024 26. oktober.")',
        ),
        (
            "intro: KOM ønsker en god sommer.\n",
            "intro: KOM ønsker en god sommer. #sommer\n",
            "intro",
            "«#sommer»",
            "readers get «KOM ønsker en god sommer.»; if it belongs there, put the whole value in quotes "
            '(intro: "KOM ønsker en god sommer. #sommer")',
        ),
    ],
)
def test_text_a_comment_cuts_off_is_a_warning_at_its_line(desk, old, new, field, comment, shown):
    text = changed(old, new)
    problem = only(desk.check(text), "warning", "YAML comment", field)
    assert problem.line == text.splitlines().index(new.rstrip("\n")) + 1
    assert problem.message.endswith(
        f"the text after ' #', {comment}, is a YAML comment, not part of the {field}: {shown}; if it is a note "
        "to yourself, move it to a line of its own"
    )


@pytest.mark.parametrize(
    "line",
    [
        '      title: "Global rapport #1 av 2"\n',  # quoted: the '#' is the title's
        "      title: Global rapport  # sjekk tittelen\n",  # written as a comment: '#' and a space
        "      title: Global rapport\n      # sjekk tittelen\n",  # a comment on a line of its own
    ],
)
def test_a_comment_written_as_one_or_a_quoted_hash_is_no_warning(desk, line):
    assert desk.check(changed("      title: Global rapport\n", line)) == []


@pytest.mark.parametrize(
    ("written", "shown", "reason"),
    [
        (
            "se [her](https://intermin.fi/plan.",
            "[her](https://intermin.fi/plan.",
            "the ( before the address is not closed: end the address with )",
        ),
        (
            "se [her](https://intermin.fi/ plan).",
            "[her](https://intermin.fi/ plan)",
            "a space inside the address: take it out (or write %20 where the address has a space)",
        ),
        (
            "se [her] (https://intermin.fi/plan).",
            "[her] (https://intermin.fi/plan)",
            "a space between ] and (: write them together, [words](address)",
        ),
        (
            "se [her(https://intermin.fi/plan).",
            "[her(https://intermin.fi/plan)",
            "the ] after the link's words is missing: write [words](address)",
        ),
        (
            "se her](https://intermin.fi/plan).",
            "her](https://intermin.fi/plan)",
            "the [ before the link's words is missing: write [words](address)",
        ),
    ],
)
def test_a_link_markdown_reads_as_text_is_an_error_saying_what_to_write(desk, written, shown, reason):
    text = changed("      text: Se [her](https://intermin.fi/plan).\n", f"      text: Se {written}\n")
    problem = only(desk.check(text), "error", "which is no link", "text")
    assert problem.message == f"international:2 has «{shown}», which is no link: readers get it as written; {reason}"
    # The intro is read alike.
    intro = changed("intro: KOM ønsker en god sommer.\n", f"intro: KOM ønsker en god sommer, {written}\n")
    assert only(desk.check(intro), "error", "which is no link", "intro").message == (
        f"has «{shown}», which is no link: readers get it as written; {reason}"
    )


def test_an_aside_in_brackets_with_an_address_in_parentheses_is_no_half_link():
    """Only a ( right after the words makes «[words(address)» a link missing its ]."""
    from newsletter.render.markdown import bare_addresses, unread_links

    aside = "KOM holder seminar [påmelding snart, se programmet (https://www.politiet.no/seminar)]."
    assert unread_links(aside) == [] and bare_addresses(aside) == ["https://www.politiet.no/seminar"]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("Les [rapporten [her](https://intermin.fi/plan).", "Les [rapporten"),
        ("Les rapporten] [her](https://intermin.fi/plan).", "Les rapporten]"),
        ("Se [her](https://intermin.fi/plan) [og planen.", "[og planen."),
    ],
)
def test_a_bracket_with_no_partner_is_a_warning_naming_where_it_stands(desk, written, shown):
    """A bracket left from an edit is shown as written in every output; `check` says where it is."""
    text = changed("      text: Se [her](https://intermin.fi/plan).\n", f"      text: {written}\n")
    problem = only(desk.check(text), "warning", "no partner", "text")
    assert problem.message == (
        f"international:2 has a bracket with no partner in its paragraph, «{shown}», which readers get as "
        "written: take it out, or close it"
    )


def test_brackets_that_pair_up_or_belong_to_a_half_link_are_no_lone_bracket():
    from newsletter.render.markdown import unmatched_brackets

    assert unmatched_brackets("[se [her](https://a.no)], [sic] og «vi […] må»; `[kode` og [ord]{lang=en}") == []
    # A half link is `unread_links`' error alone; a [ in another paragraph pairs with nothing.
    assert unmatched_brackets("Les [her(https://a.no) eller her](https://b.no)") == []
    assert unmatched_brackets("Første [avsnitt\n\nandre] avsnitt") == ["Første [avsnitt", "andre] avsnitt"]


def test_markdown_shown_in_code_or_brackets_around_other_words_is_no_link_problem(desk):
    text = changed(
        "      text: Se [her](https://intermin.fi/plan).\n",
        "      text: Skriv `[her] (https://x.no)` slik, [sic] (2024), og se [her](https://intermin.fi/plan).\n",
    )
    assert desk.check(text) == []


def test_a_misspelt_sections_key_is_the_one_thing_said(desk):
    """`seksjoner:` for `sections:`: every section looks empty and every picked item uncited; that advice waits."""
    desk.store.set_status([desk.current], "picked")
    problems = desk.check(changed("sections:\n", "seksjoner:\n"))
    assert [(p.level, p.field) for p in problems] == [("error", "seksjoner")], [str(p) for p in problems]


# ---------------------------------------------------------------------- dates that are typos


@pytest.mark.parametrize(
    ("published", "when"),
    [("2024-03-31", "before the quarter it tells of begins"), ("2026-07-05", "over a year after its quarter")],
)
def test_a_publication_date_far_from_the_quarter_is_a_warning(desk, published, when):
    problems = desk.check(changed("published: 2024-07-05\n", f"published: {published}\n"))
    # (An issue two years late finds the consultation closed and the event past as well.)
    assert [(p.level, p.message) for p in problems if p.field == "published"] == [
        ("warning", f"{published} is {when} (april–juni 2024): correct `published` if it is a typo")
    ]


@pytest.mark.parametrize("published", ["2024-04-01", "2024-06-30", "2025-06-30"])
def test_a_publication_date_in_or_within_a_year_after_the_quarter_is_no_warning(desk, published):
    problems = desk.check(changed("published: 2024-07-05\n", f"published: {published}\n"))
    assert [p for p in problems if p.field == "published"] == []


@pytest.mark.parametrize(
    ("event_date", "message"),
    [
        (
            "2004-10-26",
            "events:1 has an event date (2004-10-26) more than a year before or two after april–juni 2024: correct "
            "its `event_date` if it is a typo",
        ),
        (
            "2024-06-26",
            "events:1 has an event date (2024-06-26) before the issue is published (2024-07-05), so readers get a "
            "past event as one to come: if either date is wrong, correct it; for an event that took place, `date` "
            "is the field",
        ),
    ],
)
def test_an_event_date_long_ago_or_past_at_publication_is_a_warning(desk, event_date, message):
    problem = only(
        desk.check(changed("      event_date: 2024-10-26\n", f"      event_date: {event_date}\n")),
        "warning",
        "",
        "event_date",
    )
    assert problem.message == message
    assert problem.line == CLEAN.splitlines().index("      event_date: 2024-10-26") + 1


def test_a_deadline_before_the_consultations_date_is_a_warning(desk):
    text = changed("      deadline: 2024-09-01\n", "      deadline: 2024-09-01\n      date: 2024-09-15\n")
    problems = desk.check(text)
    assert [p.message for p in problems if p.field == "deadline"] == [
        "norway:2 has a deadline (2024-09-01) before its date (2024-09-15): no consultation closes before it "
        "opens; correct one of them"
    ]


def test_a_web_address_written_out_is_a_warning_giving_the_link_to_write(desk):
    text = changed(
        "      text: KOM arrangerer seminaret 26. oktober.\n",
        "      text: KOM arrangerer seminaret 26. oktober, les mer på https://www.politiet.no/kom/seminar.\n",
    )
    problem = only(desk.check(text), "warning", "written out", "text")
    assert problem.message == (
        "events:1 has the address https://www.politiet.no/kom/seminar written out, which readers get as text, not "
        "a link: write it as a link, [words that say where it leads](https://www.politiet.no/kom/seminar)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Se [her](https://www.politiet.no/kom) eller <https://www.politiet.no/kom>.",  # a link, an autolink
        "Skriv `https://www.politiet.no/kom` i nettleseren.",  # code
        "Se [https://www.politiet.no/kom](https://www.politiet.no/kom).",  # a link's words
        "Skriv til kom@politiet.no.",  # a mail address becomes a mailto link
    ],
)
def test_an_address_in_a_link_code_or_a_mail_address_is_no_bare_address(desk, text):
    new = changed("      text: KOM arrangerer seminaret 26. oktober.\n", f"      text: {text}\n")
    assert desk.check(new) == []


def test_an_event_still_running_when_the_issue_goes_out_is_no_past_event(desk):
    text = changed("      event_date: 2024-10-26\n", "      event_date: 2024-06-17\n      event_end: 2024-09-18\n")
    assert [p for p in desk.check(text) if p.field == "event_date"] == []


def test_an_address_broken_over_two_lines_is_named_as_such(desk):
    old = "      text: Se [her](https://intermin.fi/plan).\n"
    text = changed(old, "      text: |\n        Se [her](https://intermin.fi/\n        plan).\n")
    problem = only(desk.check(text), "error", "which is no link", "text")
    assert problem.message == (
        "international:2 has «[her](https://intermin.fi/», which is no link: readers get it as written; the "
        "address is broken over two lines: write it on one line"
    )


def test_an_entry_dated_after_the_quarter_but_by_the_issues_publication_is_not_outside_it(desk):
    """An issue published on 5 July may tell of what happened on 1 July (the 2024 sample does)."""
    assert not [p for p in desk.check(changed("      date: 2024-06-27", "      date: 2024-07-05")) if p.field == "date"]


def test_an_empty_section_is_a_reminder_and_one_left_out_of_the_file_is_none_this_time(desk):
    """`events: []` (as `issue new` writes it) reminds the editor; taken out of the file, the editor has said
    the issue has none, and no check or build repeats it."""
    events = CLEAN[CLEAN.index("  events:\n") : CLEAN.index("intro:")]
    problem = only(desk.check(CLEAN.replace(events, "  events: []\n")), "warning", "section 'events' is empty")
    assert problem.message.endswith("or, if this issue has none, take the line `events: []` out of the file")
    assert desk.check(CLEAN.replace(events, "")) == []


def test_an_entry_among_events_without_an_event_date_is_a_warning(desk):
    """Without its date an event is shown as news: no date line, and the calendar (events.ics) leaves it out."""
    text = changed(
        "      event_date: 2024-10-26\n",
        "      event_date: 2024-10-26\n"
        "    - heading: NKVTS\n      title: Webinar\n      text: NKVTS holder et webinar.\n"
        "      event_date: 2024-11-14\n"
        "    - heading: ROSA\n      title: Konferanse\n      text: ROSA holder en konferanse i høst.\n",
    )
    problem = only(desk.check(text), "warning", "has no `event_date`", "event_date")
    assert problem.message == (
        "events:3 has no `event_date`, though every other entry of section events has one: readers and the "
        "calendar (events.ics) are not told when it takes place; add `event_date: YYYY-MM-DD` (and `event_end:` "
        "for one of several days)"
    )
    assert problem.line == text.splitlines().index("    - heading: ROSA") + 1


def test_an_undated_entry_in_a_section_past_issues_filled_with_events_is_a_warning(desk):
    """One event alone in its section, undated: the earlier issues say what the section is for."""
    earlier = (
        "id: 2024-q1\ntitle: Nyhetsbrev fra KOM\nperiod: januar–mars 2024\nsections:\n"
        "  kom:\n    - heading: KOM\n      text: KOM holdt et seminar.\n      event_date: 2024-05-02\n"
        "    - heading: KOM\n      text: KOM ga ut en rapport.\n    - heading: KOM\n      text: KOM fikk ny leder.\n"
        "  events:\n    - heading: NKVTS\n      text: Et webinar.\n      event_date: 2024-04-10\n"
        "    - heading: ROSA\n      text: En konferanse.\n      event_date: 2024-05-20\n"
    )
    desk.write(earlier, "2024-q1")
    text = changed("      event_date: 2024-10-26\n", "")
    problem = only(desk.check(text), "warning", "has no `event_date`", "event_date")
    assert problem.message.startswith("events:1 has no `event_date`, though section events holds events, as in 2024-q1")
    # A section where one entry of three was an event (the unit's own news) holds no events: the clean
    # issue's undated entries of kom are fine.
    assert desk.check() == []


def cited_event(desk, url: str, published: dt.date, event_date: dt.date) -> tuple[str, str]:
    """(item id, the clean issue text with international:2 citing it): an item collected as an event."""
    raw = RawItem(
        url=url,
        title="Konferanse om menneskehandel",
        summary="Påmelding er åpen.",
        published=published,
        date_precision="day",
        kind="event",
        event_date=event_date,
    )
    (event,) = desk.store.upsert_items(SOURCE, [(identify(raw.url), raw)], NOW).seen_ids
    text = changed(
        "      text: Se [her](https://intermin.fi/plan).\n", f"      item: {event}\n      text: Se [her]({url}).\n"
    )
    return event, text


def test_an_entry_citing_an_event_item_without_an_event_date_is_a_warning(desk):
    url = "https://www.rosanorge.no/konferanse"
    event, text = cited_event(desk, url, dt.date(2024, 5, 20), dt.date(2024, 9, 17))
    problem = only(desk.check(text), "warning", "has no `event_date`", "event_date")
    assert f"though it cites item {event}, an event on 2024-09-17:" in problem.message


def test_an_event_over_before_publication_or_one_news_entry_beside_one_event_is_no_missing_event_date(desk):
    """A report on an April webinar is news (an `event_date` would be "a past event as one to come"), and a
    section of two entries, one an event, is not a section of events."""
    _event, text = cited_event(desk, "https://www.rosanorge.no/webinar", dt.date(2024, 4, 2), dt.date(2024, 4, 20))
    text = changed(
        "      event_date: 2024-10-26\n",
        "      event_date: 2024-10-26\n    - heading: ROSA\n      title: Rapport\n      text: ROSA har en rapport.\n",
        text,
    )
    assert [p for p in desk.check(text) if p.field == "event_date"] == []


@pytest.mark.parametrize(
    ("part", "named"), [("[engelsk tittel]{lang=engelsk}", "lang=engelsk"), ("[engelsk tittel]{.en}", "no lang")]
)
def test_a_part_marked_in_another_language_without_a_language_tag_is_a_warning(desk, part, named):
    """Every output drops a lang that is no BCP 47 tag: the part would be read in Norwegian after all."""
    text = changed("      text: KOM arrangerer seminaret 26. oktober.\n", f"      text: Seminaret «{part}».\n")
    problem = only(desk.check(text), "warning", "as a part in another language", "text")
    assert problem.message == (
        f"events:1 marks «engelsk tittel» as a part in another language, with {named}: write a language tag "
        "(BCP 47: en, sv, da, fi, de, fr), as [engelsk tittel]{lang=en}, so screen readers read it in that "
        "language; or take out the [ ] and { }"
    )


def test_a_part_marked_with_a_language_tag_is_no_problem(desk):
    text = changed(
        "      text: KOM arrangerer seminaret 26. oktober.\n",
        "      text: Seminaret «[Beyond Awareness-Raising]{lang=en}» og «[Från ord till handling]{lang=sv}».\n",
    )
    assert desk.check(text) == []


def test_a_language_mark_inside_a_links_words_is_an_error_saying_to_put_it_around_the_link(desk):
    """`[[words]{lang=en}](address)`: the span takes the link's "[", and every output shows the brackets and
    the address as text. Around the link, `[[words](address)]{lang=en}`, it is a link in English."""
    text = changed(
        "      text: KOM arrangerer seminaret 26. oktober.\n",
        "      text: Rapporten «[[Decoding]{lang=en}](https://www.europol.europa.eu/r)» kom i mai.\n",
    )
    problem = only(desk.check(text), "error", "which is no link", "text")
    assert problem.message == (
        "events:1 has «[[Decoding]{lang=en}](https://www.europol.europa.eu/r)», which is no link: readers get it as "
        "written; "
        "a part marked in another language inside a link's words undoes the link: put the mark around the whole "
        "link, [[words](address)]{lang=en}"
    )  # as written, mark and all, so a search of the file finds it
    mended = text.replace(
        "[[Decoding]{lang=en}](https://www.europol.europa.eu/r)",
        "[[Decoding](https://www.europol.europa.eu/r)]{lang=en}",
    )
    assert desk.check(mended) == []


def test_a_language_mark_split_by_a_blank_line_or_in_a_title_is_an_error(desk):
    """Markdown reads a mark within one paragraph, and none in a title or heading (plain text): either way
    every output would show the brackets and braces."""
    text = changed(
        "      text: KOM arrangerer seminaret 26. oktober.\n",
        "      text: |\n        Rapporten «[Decoding the EU's most\n\n        threatening networks]{lang=en}» kom.\n",
    )
    problem = only(desk.check(text), "error", "a language mark Markdown does not read", "text")
    assert problem.message == (
        "events:1 has «threatening networks]{lang=en}», a language mark Markdown does not read, so readers get it "
        "as written; its [ stands in another paragraph, or is missing: put [ and ]{lang=…} around words of one "
        "paragraph"
    )
    titled = changed("      title: Seminaret holdes digitalt\n", "      title: «[Invisible victims]{lang=en}»\n")
    problem = only(desk.check(titled), "error", "plain text", "title")
    assert problem.message == (
        "events:1 has «[Invisible victims]{lang=en}» in its `title`, which is plain text: readers would get the "
        "brackets and braces; take out the [ ] and {…} (a language mark goes in the `text`)"
    )


def test_a_fault_quoted_from_a_long_text_block_is_named_on_its_own_line(desk):
    """`text: |` on line N and the fault on line N+3: the problem names N+3, where the editor must look."""
    text = changed(
        "      text: KOM arrangerer seminaret 26. oktober.\n",
        "      text: |\n        KOM arrangerer seminaret 26. oktober.\n        Det blir digitalt.\n"
        "        Programmet er «[Beyond Awareness]{lang=engelsk}».\n",
    )
    problem = only(desk.check(text), "warning", "as a part in another language", "text")
    assert problem.line == text.splitlines().index("        Programmet er «[Beyond Awareness]{lang=engelsk}».") + 1


@pytest.mark.parametrize("mark", ["[ord]{lang = en}", "[ord] {lang=en}", "[ord]{lang=”en”}"])
def test_a_whole_language_mark_with_braces_markdown_cannot_read_says_how_to_write_them(desk, mark):
    """Spaces in or before the braces, or a word processor's curly quotes: the [ is there, the { } is not read."""
    text = changed("      text: KOM arrangerer seminaret 26. oktober.\n", f"      text: Et «{mark}» her.\n")
    problem = only(desk.check(text), "error", "a language mark Markdown does not read", "text")
    assert problem.message == (
        f"events:1 has «{mark}», a language mark Markdown does not read, so readers get it as written; write the "
        "braces as {lang=en}, right after the ], with no spaces or quotes inside"
    )


def test_two_language_marks_inside_links_are_each_named_with_their_own_link(desk):
    text = changed(
        "      text: KOM arrangerer seminaret 26. oktober.\n",
        "      text: Les «[[Les]{lang=en}](https://a.no/r)» og «[[To]{lang=sv}](https://b.no/s)».\n",
    )
    quoted = [p.message.split("»")[0].split("«")[1] for p in desk.check(text) if "which is no link" in p.message]
    assert quoted == ["[[Les]{lang=en}](https://a.no/r)", "[[To]{lang=sv}](https://b.no/s)"]


def test_a_quote_found_only_in_a_later_field_of_the_entry_keeps_the_text_fields_line(desk):
    """`- text: |` first in its entry, the quote over a line break in the block: the `title:` below holding
    the same words is no part of the block, and the problem stays on the line of `text:`."""
    text = changed(
        "    - heading: KOM nasjonalt seminar\n      title: Seminaret holdes digitalt\n"
        "      text: KOM arrangerer seminaret 26. oktober.\n",
        "    - text: |\n        Se «[Beyond\n        Awareness]{lang=engelsk}».\n      heading: KOM nasjonalt seminar\n"
        "      title: Beyond Awareness\n",
    )
    problem = only(desk.check(text), "warning", "as a part in another language", "text")
    assert problem.line == text.splitlines().index("    - text: |") + 1

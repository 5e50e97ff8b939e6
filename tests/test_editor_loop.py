"""The editor's loop without surprises (issue 10): what the real newsletter does passes `issue check`,
and every command says what it did, through click's runner with the exact lines."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.collect.urls import identify
from newsletter.config import Workspace
from newsletter.models import RawItem, Source
from newsletter.store import CachedPage, Store
from newsletter.textcodec import hidden_characters
from tests.conftest import KOM_SECTIONS, PseudoTerminal, one_source_workspace, write_workspace
from tests.server import Route

FEEDS = """
sources:
  - key: stortinget
    name: Stortinget
    kind: rss
    url: https://www.stortinget.no/rss
    section: norway
    heading: Stortinget
    relevance: all
  - key: horinger
    name: Regjeringen, høringer
    kind: rss
    url: https://www.regjeringen.no/horinger.rss
    section: norway
    heading: Høringer
"""
SOURCE = Source(
    key="stortinget",
    name="Stortinget",
    kind="rss",
    url="https://www.stortinget.no/rss",
    section="norway",
    heading="Stortinget",
)
CONSULTATIONS = Source(
    key="horinger",
    name="Regjeringen, høringer",
    kind="rss",
    url="https://www.regjeringen.no/horinger.rss",
    section="norway",
    heading="Høringer",
)
RAWS = [
    RawItem(
        url="https://www.stortinget.no/forslag",
        title="Representantforslag om tiltak mot menneskehandel",
        summary="Stortinget behandler et forslag om tiltak mot menneskehandel.",
        published=dt.date(2025, 5, 2),
        date_precision="day",
    ),
    RawItem(
        url="https://www.stortinget.no/innstilling",
        title="Innstilling fra justiskomiteen",
        summary="Komiteen har avgitt sin innstilling.",
        published=dt.date(2025, 5, 20),
        date_precision="day",
    ),
    RawItem(
        url="https://www.regjeringen.no/horing-straffeloven",
        title="Høring om endringer i straffeloven",
        summary="Departementet sender forslaget på høring.",
        published=dt.date(2025, 4, 10),
        date_precision="day",
        kind="consultation",
        deadline=dt.date(2025, 6, 1),
    ),
]


def invoke(root, *args, input=None, env=None):
    runner = CliRunner()
    return runner.invoke(cli, ["--workspace", str(root), *args], input=input, env=env, catch_exceptions=False)


@dataclass
class Desk:
    root: Path
    ids: list[str]


@pytest.fixture
def desk(tmp_path):
    """A workspace with three stored items of April–June 2025 (ids in `desk.ids`) and issue 2025-q2."""
    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    with Store(Workspace(root).db_path) as store:
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        seen = store.upsert_items(SOURCE, [(identify(r.url), r) for r in RAWS[:2]], now).seen_ids
        seen += store.upsert_items(CONSULTATIONS, [(identify(r.url), r) for r in RAWS[2:]], now).seen_ids
    assert invoke(root, "issue", "new", "2025-q2").exit_code == 0
    return Desk(root, seen)


def issue_file(root: Path, issue_id: str = "2025-q2") -> Path:
    return root / "issues" / f"{issue_id}.yaml"


def outline(root, issue_id="2025-q2"):
    return json.loads(invoke(root, "issue", "show", issue_id, "--json").stdout)


def note(root, section, heading, title, text, *extra, issue_id="2025-q2"):
    result = invoke(
        root,
        "issue",
        "note",
        issue_id,
        "--section",
        section,
        "--heading",
        heading,
        "--title",
        title,
        "--text",
        text,
        *extra,
    )
    assert result.exit_code == 0, result.output
    return result


def publish(root: Path, day: str, issue_id: str = "2025-q2") -> None:
    path = issue_file(root, issue_id)
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"^published:.*$", f"published: {day}", text, count=1, flags=re.M), encoding="utf-8")


def write_intro(root: Path, intro: str, issue_id: str = "2025-q2") -> None:
    path = issue_file(root, issue_id)
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"^intro:.*$", f"intro: {intro}", text, count=1, flags=re.M), encoding="utf-8")


# ---------------------------------------------------------------------- 1. what the real newsletter does


def test_the_2025_newsletters_shapes_pass_check_with_warnings_and_closed_deadlines_show_as_closed(desk):
    first, second, consultation = desk.ids
    added = invoke(desk.root, "issue", "add", "2025-q2", first, "--section", "norway", "--heading", "Stortinget")
    assert added.stdout == (
        f"added norway:1  [Stortinget]  Representantforslag om tiltak mot menneskehandel  (item {first})\n"
    )
    # "Se her og her": the second document joins the first entry, which keeps both item ids.
    joined = invoke(desk.root, "issue", "add", "2025-q2", second, "--to", first)
    assert joined.exit_code == 0, joined.output
    assert joined.stdout == (
        f"added {second} to norway:1  [Stortinget]  Representantforslag om tiltak mot menneskehandel  "
        f"(items {first}, {second})\n"
    )
    entry = outline(desk.root)["sections"]["norway"][0]
    assert entry["items"] == [first, second] and entry["item"] == first
    assert entry["text"] == (
        "Stortinget behandler et forslag om tiltak mot menneskehandel. "
        "Se [her](https://www.stortinget.no/forslag) og [her](https://www.stortinget.no/innstilling)."
    )
    assert f"      items: [{first}, {second}]\n" in issue_file(desk.root).read_text(encoding="utf-8")
    # A good Norwegian summary may stay: the editor accepts it, and only that line is added.
    before = issue_file(desk.root).read_text(encoding="utf-8").splitlines()
    accepted = invoke(desk.root, "issue", "accept", "2025-q2", second)
    assert accepted.stdout == (
        f"accepted norway:1  [Stortinget]  Representantforslag om tiltak mot menneskehandel  (items {first}, {second})\n"
    )
    after = issue_file(desk.root).read_text(encoding="utf-8").splitlines()
    assert [line for line in after if line not in before] == ["      accepted: true"]
    again = invoke(desk.root, "issue", "accept", "2025-q2", "norway:1")
    assert again.stdout.startswith("already accepted norway:1  [Stortinget]"), again.stdout
    assert issue_file(desk.root).read_text(encoding="utf-8").splitlines() == after
    # One OSCE page linked from KOM's own activities and from the OSCE heading.
    osce = "https://www.osce.org/cthb/rapport-2025"
    note(
        desk.root, "kom", "Internasjonalt samarbeid", "KOM i Wien", f"KOM deltok på OSSEs konferanse, se [her]({osce})."
    )
    note(desk.root, "international", "OSSE", "OSSE-rapport", f"OSSE har lagt fram rapporten, se [her]({osce}).")
    # A consultation that closed during the quarter.
    note(
        desk.root,
        "norway",
        "Høringer",
        "Høring om endringer i straffeloven",
        "Departementet foreslo endringer, se [her](https://www.regjeringen.no/horing-straffeloven).",
        "--deadline",
        "2025-06-01",
    )
    note(desk.root, "highlights", "Strategi", "Ny strategi", "Se [her](https://www.regjeringen.no/strategi).")
    note(desk.root, "events", "Seminar", "Seminar i oktober", "KOM arrangerer seminaret 26. oktober.")
    publish(desk.root, "2025-07-03")
    write_intro(desk.root, "KOM ønsker alle en god sommer.")

    checked = invoke(desk.root, "issue", "check", "2025-q2")
    assert checked.exit_code == 0, checked.output
    path = issue_file(desk.root)
    lines = path.read_text(encoding="utf-8").splitlines()
    # Each warning names the line of its field, not the entry's first line.
    osce_line = next(n for n, line in enumerate(lines, 1) if "text: OSSE har lagt fram" in line)
    deadline_line = next(n for n, line in enumerate(lines, 1) if "deadline: 2025-06-01" in line)
    assert checked.stdout.splitlines() == [
        f"warning: {path}, line {deadline_line}: deadline: norway:2 has a deadline (2025-06-01) before the issue "
        "is published (2025-07-03), so it is shown as closed: if either date is wrong, correct it",
        f"warning: {path}, line {osce_line}: text: international:1 links to {osce}, as kom:1 does: if once is "
        "enough, take the link out of its `text`, or the entry (`newsletter issue remove 2025-q2 international:1`)",
        "2025-q2: 0 errors, 2 warnings",
    ]
    shown = invoke(desk.root, "issue", "show", "2025-q2").stdout
    assert (
        f"norway:1  Representantforslag om tiltak mot menneskehandel  (items {first}, {second}, "
        "starting text accepted, date 2025-05-02)" in shown
    )
    assert "norway:2  Høring om endringer i straffeloven  (deadline 2025-06-01, closed)" in shown

    built = invoke(desk.root, "build", "2025-q2", "--format", "web,text")
    assert built.exit_code == 0, built.output
    web = (desk.root / "build" / "2025-q2" / "index.html").read_text(encoding="utf-8")
    text = (desk.root / "build" / "2025-q2" / "email.txt").read_text(encoding="utf-8")
    assert '<span class="deadline closed">Høringsfristen gikk ut 1. juni 2025</span>' in web
    assert "Høringsfristen gikk ut 1. juni 2025\n" in text and "Høringsfrist:" not in text


def test_an_item_of_a_two_item_entry_is_known_to_the_already_in_checks(desk):
    first, second, third = desk.ids
    invoke(desk.root, "issue", "add", "2025-q2", first, "--section", "norway", "--heading", "Stortinget")
    assert invoke(desk.root, "issue", "add", "2025-q2", second, "--to", "norway:1").exit_code == 0
    before = issue_file(desk.root).read_text(encoding="utf-8")
    for args in ((second,), (second, "--to", "norway:1"), (third, second, "--section", "kom")):
        again = invoke(desk.root, "issue", "add", "2025-q2", *args)
        assert again.exit_code == 1
        assert again.stderr == f"Error: item {second} is already in 2025-q2 as norway:1; nothing was written\n"
    assert issue_file(desk.root).read_text(encoding="utf-8") == before
    mixed = invoke(desk.root, "issue", "add", "2025-q2", third, "--to", "norway:1", "--section", "kom")
    assert mixed.exit_code == 2
    assert "--to adds to an existing entry: it cannot be combined with --section or --heading" in mixed.stderr
    # Removing the entry (by its place: named by one of its items, it is refused) skips both items; with
    # --undecided they go back to the inbox.
    assert invoke(desk.root, "issue", "remove", "2025-q2", second).exit_code == 1
    assert invoke(desk.root, "issue", "remove", "2025-q2", "norway:1", "--undecided").exit_code == 0
    for item in (first, second):
        assert json.loads(invoke(desk.root, "show", item, "--json").stdout)["status"] == "new"


def test_add_to_a_news_entry_of_the_consultation_it_announces_takes_the_deadline(desk):
    """The consultation's deadline is what the entry is for: it is not lost because the news came first."""
    first, _second, consultation = desk.ids
    invoke(desk.root, "issue", "add", "2025-q2", first, "--section", "norway", "--heading", "Høringer")
    joined = invoke(desk.root, "issue", "add", "2025-q2", consultation, "--to", "norway:1")
    assert joined.exit_code == 0, joined.output
    assert joined.stdout.splitlines()[1:] == ["  norway:1 takes the deadline 2025-06-01 of the items it cites"]
    assert outline(desk.root)["sections"]["norway"][0]["deadline"] == "2025-06-01"
    assert "      deadline: 2025-06-01\n" in issue_file(desk.root).read_text(encoding="utf-8")
    problems = json.loads(invoke(desk.root, "issue", "check", "2025-q2", "--json").stdout)
    assert not [p for p in problems if p["level"] == "error"], problems


def test_add_to_an_entry_with_its_own_deadline_keeps_it_and_says_the_items_differs(desk):
    first, _second, consultation = desk.ids
    issue_file(desk.root).write_text(
        "id: 2025-q2\nsections:\n  norway:\n    - heading: Høringer\n      title: Forslag\n"
        f"      text: Egen tekst.\n      item: {first}\n      deadline: 2025-06-15\n",
        encoding="utf-8",
    )
    before = issue_file(desk.root).read_text(encoding="utf-8")
    joined = invoke(desk.root, "issue", "add", "2025-q2", consultation, "--to", "norway:1")
    assert joined.exit_code == 0, joined.output
    assert joined.stdout.splitlines()[1:] == [
        # The editor's own text does not link to the consultation: said, with the link to write.
        f"  norway:1's text is your own and was left as it is; it does not link to {consultation}: add its link, "
        f"[her](https://www.regjeringen.no/horing-straffeloven), where the text cites it (if this is the wrong "
        f"entry, delete {consultation} from its `items` in {issue_file(desk.root)}, then `newsletter issue unskip "
        f"{consultation}`)",
        "  norway:1 keeps its deadline; its items give 2025-06-01: if that is the right one, set "
        f"`deadline:` in {issue_file(desk.root)}",
    ]
    after = issue_file(desk.root).read_text(encoding="utf-8")
    assert after == before.replace(f"item: {first}", f"items: [{first}, {consultation}]")


def test_an_item_of_a_two_item_entry_in_an_earlier_issue_is_a_warning(desk):
    first, second, _third = desk.ids
    issue_file(desk.root, "2025-q1").write_text(
        "id: 2025-q1\nsections:\n  norway:\n    - heading: Stortinget\n      title: Forslag\n"
        f"      text: Se [her](https://www.stortinget.no/annet).\n      items: [{first}, {second}]\n",
        encoding="utf-8",
    )
    invoke(desk.root, "issue", "add", "2025-q2", second, "--section", "norway", "--heading", "Stortinget")
    problems = json.loads(invoke(desk.root, "issue", "check", "2025-q2", "--json").stdout)
    assert f"norway:1 item {second} was already used in 2025-q1: unless it is a follow-up, take the entry out " + (
        f"(`newsletter issue remove 2025-q2 {second}`)"
    ) in [p["message"] for p in problems]


def test_an_old_one_item_entry_gains_an_items_list_and_keeps_its_comment(desk):
    first, second, _third = desk.ids
    issue_file(desk.root).write_text(
        "id: 2025-q2\nsections:\n  norway:\n    - heading: Stortinget\n      title: Forslag\n"
        f"      text: Egen tekst.\n      item: {first}  # fra Stortinget\n      date: 2025-05-02\n",
        encoding="utf-8",
    )
    assert invoke(desk.root, "issue", "add", "2025-q2", second, "--to", first).exit_code == 0
    assert issue_file(desk.root).read_text(encoding="utf-8") == (
        "id: 2025-q2\nsections:\n  norway:\n    - heading: Stortinget\n      title: Forslag\n"
        f"      text: Egen tekst.\n      items: [{first}, {second}]  # fra Stortinget\n      date: 2025-05-02\n"
    )  # the editor's own text is left alone


STARTING = "Stortinget behandler et forslag om tiltak mot menneskehandel."
ONE_LINK = f"{STARTING} Se [her](https://www.stortinget.no/forslag)."
TWO_LINKS = f"{STARTING} Se [her](https://www.stortinget.no/forslag) og [her](https://www.stortinget.no/innstilling)."


@pytest.mark.parametrize(
    ("accepted_first", "written", "left"),
    [
        # As `issue accept` writes it: the line goes, and only it.
        (False, "      accepted: true\n", ""),
        # Written by hand on the dash's line, with a comment below: the next field takes the dash.
        (
            True,
            "    - accepted: true\n      # god nok\n      heading: Stortinget\n",
            "      # god nok\n    - heading: Stortinget\n",
        ),
    ],
)
def test_add_to_an_accepted_starting_text_that_gains_links_asks_for_it_again(desk, accepted_first, written, left):
    """`accepted: true` kept the starting text as the editor read it; once `--to` adds links to
    items the editor has not read it against, the acceptance goes with the change, and says so."""
    first, second, _third = desk.ids
    head = "    - heading: Stortinget\n"
    tail = f"      title: Forslag\n      text: {ONE_LINK}\n      item: {first}\n"
    body = written + tail if accepted_first else head + tail + written
    issue_file(desk.root).write_text(f"id: 2025-q2\nsections:\n  norway:\n{body}", encoding="utf-8")
    assert invoke(desk.root, "issue", "check", "2025-q2").stdout.count("starting text") == 0  # accepted
    joined = invoke(desk.root, "issue", "add", "2025-q2", second, "--to", "norway:1")
    assert joined.exit_code == 0, joined.output
    assert joined.stdout.splitlines() == [
        f"added {second} to norway:1  [Stortinget]  Forslag  (items {first}, {second})",
        "  norway:1 is no longer accepted: its starting text gained the new links; read it, then "
        "`newsletter issue accept 2025-q2 norway:1` keeps it",
    ]
    expected = f"{left if accepted_first else head}      title: Forslag\n      text: {TWO_LINKS}\n"
    assert issue_file(desk.root).read_text(encoding="utf-8") == (
        f"id: 2025-q2\nsections:\n  norway:\n{expected}      items: [{first}, {second}]\n"
    )
    problems = json.loads(invoke(desk.root, "issue", "check", "2025-q2", "--json").stdout)
    assert [p["message"] for p in problems if "starting text" in p["message"]] == [
        f"norway:1 still has the starting text from items {first}, {second}: write the blurb, or keep it with "
        "`newsletter issue accept 2025-q2 norway:1`"
    ]
    assert invoke(desk.root, "issue", "accept", "2025-q2", "norway:1").exit_code == 0
    assert "starting text" not in invoke(desk.root, "issue", "check", "2025-q2").stdout


def test_add_to_an_accepted_text_the_editor_wrote_keeps_text_and_acceptance(desk):
    """The editor's own words are never rewritten by `--to`, so what they accepted still stands."""
    first, second, _third = desk.ids
    issue_file(desk.root).write_text(
        "id: 2025-q2\nsections:\n  norway:\n    - heading: Stortinget\n      title: Forslag\n"
        f"      text: Egen tekst, se [her](https://www.stortinget.no/forslag).\n      item: {first}\n"
        "      accepted: true\n",
        encoding="utf-8",
    )
    joined = invoke(desk.root, "issue", "add", "2025-q2", second, "--to", "norway:1")
    assert joined.stdout == (
        f"added {second} to norway:1  [Stortinget]  Forslag  (items {first}, {second})\n"
        # The text stays the editor's, without the new item's link: said, with the link to write and the way back.
        f"  norway:1's text is your own and was left as it is; it does not link to {second}: add its link, "
        f"[her](https://www.stortinget.no/innstilling), where the text cites it (if this is the wrong entry, "
        f"delete {second} from its `items` in {issue_file(desk.root)}, then `newsletter issue unskip {second}`)\n"
    )
    assert issue_file(desk.root).read_text(encoding="utf-8") == (
        "id: 2025-q2\nsections:\n  norway:\n    - heading: Stortinget\n      title: Forslag\n"
        f"      text: Egen tekst, se [her](https://www.stortinget.no/forslag).\n      items: [{first}, {second}]\n"
        "      accepted: true\n"
    )
    # Once the editor links it, a second item added says nothing of the first.
    text = issue_file(desk.root).read_text(encoding="utf-8")
    issue_file(desk.root).write_text(
        text.replace("forslag).", "forslag) og [her](https://www.stortinget.no/innstilling)."), encoding="utf-8"
    )
    assert invoke(desk.root, "issue", "check", "2025-q2").exit_code == 0


def test_add_to_a_starting_text_not_accepted_gains_links_and_says_nothing_more(desk):
    first, second, _third = desk.ids
    assert invoke(desk.root, "issue", "add", "2025-q2", first, "--heading", "Stortinget").exit_code == 0
    joined = invoke(desk.root, "issue", "add", "2025-q2", second, "--to", "norway:1")
    assert len(joined.stdout.splitlines()) == 1, joined.stdout  # nothing was accepted: nothing to undo
    assert outline(desk.root)["sections"]["norway"][0]["text"] == TWO_LINKS


def test_every_problem_check_reports_says_where_and_what_to_do_and_its_commands_fix_it(desk):
    """Each problem names the file, line, entry (section:position) and field, and ends with what to
    do: the command, where one does it, else what to write. Run, those commands clear their problems."""
    first, second, consultation = desk.ids
    path = issue_file(desk.root)
    path.write_text(
        "id: 2025-q2\npublished: 2025-07-03\nintro: KOM ønsker en god sommer.\nsections:\n"
        "  highlights: []\n"
        "  kom:\n    - heading: Møter\n      title: Tomt\n      text: ''\n"
        f"  norway:\n    - heading: Stortinget\n      title: Forslag\n      text: {ONE_LINK}\n      item: {first}\n"
        "    - heading: Høringer\n      title: Høring\n      text: Se [her](https://www.regjeringen.no/horing-straffeloven).\n"
        f"      item: {consultation}\n      deadline: 2025-06-01\n"
        "    - heading: Stortinget\n      title: Innstilling\n      text: Egen tekst, se [her](https://www.stortinget.no/innstilling).\n"
        f"      item: {second}\n"
        "  international:\n    - heading: Finland\n      text: Se [rapporten](rapport.pdf).\n"
        "    - heading: UNODC\n      title: A\n      text: Se [her](https://www.unodc.org/a).\n"
        "    - heading: UNODC\n      title: B\n      text: Se [her](https://www.unodc.org/b).\n"
        "  events:\n    - heading: Seminar\n      title: Seminar\n      text: Seminaret.\n      date: 2025-09-10\n",
        encoding="utf-8",
    )
    checked = invoke(desk.root, "issue", "check", "2025-q2", "--json")
    assert checked.exit_code == 1
    problems = json.loads(checked.stdout)
    lines = path.read_text(encoding="utf-8").splitlines()

    def line(text: str) -> int:
        return next(n for n, each in enumerate(lines, 1) if text in each)

    remove = "`newsletter issue remove 2025-q2"
    assert [(p["level"], p["line"], p["entry"], p["field"], p["message"]) for p in problems] == [
        ("error", line("text: ''"), "kom:1", "text", f"kom:1 'Tomt' has no text: write its `text`, or take the entry out ({remove} kom:1`)"),
        ("warning", line(f"text: {ONE_LINK}"), "norway:1", "text", f"norway:1 still has the starting text from item {first}: write the blurb, or keep it with `newsletter issue accept 2025-q2 norway:1`"),
        ("warning", line("deadline:"), "norway:2", "deadline", "norway:2 has a deadline (2025-06-01) before the issue is published (2025-07-03), so it is shown as closed: if either date is wrong, correct it"),
        ("warning", line("heading: Finland"), "international:1", "title", "international:1 under 'Finland' has no title: write its `title`"),
        ("error", line("rapport.pdf"), "international:1", "text", "international:1 links to 'rapport.pdf', which is no http(s) or mailto address: write the page's full https:// address in its `text`"),
        ("warning", line("date: 2025-09-10"), "events:1", "date", f"events:1 is dated 2025-09-10, outside april–juni 2025: correct its `date`, or, if it belongs to another issue, take the entry out ({remove} events:1 --undecided`)"),
        ("warning", line("highlights: []"), None, "sections.highlights", "section 'highlights' is empty, so no output shows it: add to it (`newsletter issue add 2025-q2 ITEM --section highlights`), or, if this issue has none, take the line `highlights: []` out of the file"),
        ("warning", line("title: Innstilling") - 1, "norway:3", "heading", f"entries under 'Stortinget' are split (norway:1 and norway:3, lines {line('title: Forslag') - 1} and {line('title: Innstilling') - 1}): put them together (`newsletter issue move 2025-q2 norway:3 --before norway:2`)"),
        ("warning", line("title: A") - 1, "international:2", "heading", "heading 'UNODC' (international:2) comes after 'Finland', which newsletter.yaml puts later: move it up (`newsletter issue move 2025-q2 international:2 --run --before international:1`)"),
    ]  # fmt: skip
    # Every command as given (but those with an ITEM to choose), in the order the problems are listed.
    for problem in problems:
        for command in re.findall(r"`newsletter (issue [^`]+)`", problem["message"]):
            if "ITEM" not in command:
                assert invoke(desk.root, *shlex.split(command)).exit_code == 0, command
    assert [(p["entry"], p["message"]) for p in json.loads(invoke(desk.root, "issue", "check", "2025-q2", "--json").stdout)] == [
        ("norway:3", "norway:3 has a deadline (2025-06-01) before the issue is published (2025-07-03), so it is shown as closed: if either date is wrong, correct it"),
        ("international:3", "international:3 under 'Finland' has no title: write its `title`"),
        ("international:3", "international:3 links to 'rapport.pdf', which is no http(s) or mailto address: write the page's full https:// address in its `text`"),
        (None, "section 'highlights' is empty, so no output shows it: add to it (`newsletter issue add 2025-q2 ITEM --section highlights`), or, if this issue has none, take the line `highlights: []` out of the file"),
        (None, "section 'kom' is empty, so no output shows it: add to it (`newsletter issue add 2025-q2 ITEM --section kom`), or, if this issue has none, take the line `kom: []` out of the file"),
        (None, "section 'events' is empty, so no output shows it: add to it (`newsletter issue add 2025-q2 ITEM --section events`), or, if this issue has none, take the line `events: []` out of the file"),
    ]  # fmt: skip
    headings = [(e["heading"], e["title"]) for e in outline(desk.root)["sections"]["international"]]
    assert headings == [("UNODC", "A"), ("UNODC", "B"), ("Finland", "")]  # the run moved up in its own order


def test_the_removes_check_prints_run_in_order_take_out_the_entries_they_name_and_no_other(desk):
    """An entry citing one item is named by its id in a remove `issue check` prints: run after another
    remove printed above it, a place (norway:3) would name the entry below the one meant, and take it out."""
    first, second, consultation = desk.ids
    issue_file(desk.root).write_text(
        "id: 2025-q2\npublished: 2025-07-03\nintro: KOM ønsker en god sommer.\nsections:\n  norway:\n"
        "    - heading: Stortinget\n      title: Uten tekst\n      text: ''\n"
        f"    - heading: Stortinget\n      title: Forslag\n      text: Om forslaget.\n      item: {first}\n"
        "      date: 2025-09-10\n"
        f"    - heading: Stortinget\n      title: Innstilling\n      text: Om innstillingen.\n      item: {second}\n"
        f"    - heading: Høringer\n      title: Høring\n      text: Om høringen.\n      item: {consultation}\n",
        encoding="utf-8",
    )
    with Store(Workspace(desk.root).db_path) as store:
        store.set_status(desk.ids, "picked")  # as `issue add` left them
    checked = invoke(desk.root, "issue", "check", "2025-q2")
    removes = re.findall(r"`newsletter (issue remove [^`]+)`", checked.output)
    assert removes == ["issue remove 2025-q2 norway:1", f"issue remove 2025-q2 {first} --undecided"], checked.output
    for command in removes:
        assert invoke(desk.root, *shlex.split(command)).exit_code == 0, command
    titles = [e["title"] for e in outline(desk.root)["sections"]["norway"]]
    assert titles == ["Innstilling", "Høring"]
    statuses = {ref: json.loads(invoke(desk.root, "show", ref, "--json").stdout)["status"] for ref in desk.ids}
    assert statuses == {first: "new", second: "picked", consultation: "picked"}


def heading_moves(checked: str) -> list[list[str]]:
    """Every `issue move` an `issue check` printed, in order."""
    return [shlex.split(command) for command in re.findall(r"`newsletter (issue move [^`]+)`", checked)]


def test_the_heading_moves_check_prints_run_in_order_end_in_the_configured_order(desk):
    """Each move's `--before` is where the moves printed above it leave the entries, so run in the printed
    order they put every heading together and in newsletter.yaml's order (Stortinget, Politiske tiltak,
    Høringer), each heading's entries and the unlisted heading's in the order the file had them."""
    path = issue_file(desk.root)
    entries = [
        ("Stortinget", "S1"),
        ("Høringer", "H1"),
        ("Stortinget", "S2"),
        ("Stortinget", "S3"),
        ("Politiske tiltak", "P1"),
        ("Politiske tiltak", "Ny forskrift"),
        ("Annet", "A1"),
        ("Stortinget", "S4"),
        ("Politiske tiltak", "P3"),
        ("Høringer", "H2"),
        ("Annet", "A2"),
    ]
    path.write_text(
        "id: 2025-q2\npublished: 2025-07-03\nintro: KOM ønsker en god sommer.\nsections:\n  norway:\n"
        + "".join(f"    - heading: {h}\n      title: {t}\n      text: Om {t}.\n" for h, t in entries),
        encoding="utf-8",
    )
    checked = invoke(desk.root, "issue", "check", "2025-q2")
    said = [line.split(": heading: ", 1)[1] for line in checked.stdout.splitlines() if ": heading: " in line]
    move = "`newsletter issue move 2025-q2"
    assert said == [
        f"entries under 'Stortinget' are split (norway:1 and norway:3, lines 6 and 12): put them together ({move} norway:3 --run --before norway:2`)",
        f"heading 'Politiske tiltak' (norway:5) comes after 'Høringer', which newsletter.yaml puts later: move it up (after the moves above, {move} norway:5 --run --before norway:4`)",
        f"entries under 'Stortinget' are split (norway:1 and norway:8, lines 6 and 27): put them together (after the moves above, {move} norway:8 --before norway:4`)",
        f"entries under 'Politiske tiltak' are split (norway:6 and norway:9, lines 21 and 30): put them together (after the moves above, {move} norway:9 --before norway:7`)",
        f"entries under 'Høringer' are split (norway:2 and norway:10, lines 9 and 33): put them together (after the moves above, {move} norway:10 --before norway:9`)",
        "entries under 'Annet' are split (norway:7 and norway:11, lines 24 and 36): the moves above put them together",
    ]  # fmt: skip
    for args in heading_moves(checked.stdout):
        assert invoke(desk.root, *args).exit_code == 0, args
    again = invoke(desk.root, "issue", "check", "2025-q2")
    assert ": heading: " not in again.stdout, again.stdout
    after = [(e["heading"], e["title"]) for e in outline(desk.root)["sections"]["norway"]]
    assert after == [
        ("Stortinget", "S1"),
        ("Stortinget", "S2"),
        ("Stortinget", "S3"),
        ("Stortinget", "S4"),
        ("Politiske tiltak", "P1"),
        ("Politiske tiltak", "Ny forskrift"),
        ("Politiske tiltak", "P3"),
        ("Høringer", "H1"),
        ("Høringer", "H2"),
        ("Annet", "A1"),
        ("Annet", "A2"),
    ]


# ---------------------------------------------------------------------- 2. a busy port


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("command", [("preview", "2024-q2"), ("site", "serve")])
def test_serving_on_a_busy_port_is_one_line_suggesting_port_0(sample_workspace, busy_port, command):
    result = invoke(sample_workspace, *command, "--port", str(busy_port))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: port {busy_port} on 127.0.0.1 is busy (another preview?); pass --port 0 to pick a free one\n"
    )


# ---------------------------------------------------------------------- 3. move without --section


def test_move_with_a_heading_and_no_section_keeps_the_entrys_section(desk):
    first, _second, _third = desk.ids
    invoke(desk.root, "issue", "add", "2025-q2", first, "--section", "norway", "--heading", "Annet")
    note(desk.root, "norway", "Stortinget", "Innstilling", "Se [her](https://www.stortinget.no/inn).")
    moved = invoke(desk.root, "issue", "move", "2025-q2", first, "--heading", "Stortinget")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout == (
        f"moved to norway:2  [Stortinget]  Representantforslag om tiltak mot menneskehandel  (item {first})\n"
    )
    assert [(e["heading"], e["item"]) for e in outline(desk.root)["sections"]["norway"]] == [
        ("Stortinget", None),
        ("Stortinget", first),
    ]


# ---------------------------------------------------------------------- 4. skip an item an issue cites


def test_skip_and_unskip_refuse_an_item_an_issue_cites_naming_the_issue_and_entry(desk):
    first, second, third = desk.ids
    issue_file(desk.root, "2025-q1").write_text(
        "id: 2025-q1\nsections:\n  kom: []\n  norway:\n    - heading: Stortinget\n      title: Forslag\n"
        f"      text: Se [her](https://www.stortinget.no/forslag).\n      items: [{third}, {first}]\n",
        encoding="utf-8",
    )
    now = dt.datetime(2025, 4, 2, 9, 0, tzinfo=dt.UTC)
    with Store(Workspace(desk.root).db_path) as store:
        store.freeze_recipients("2025-q1", [("leser@example.org", None)], now)
        store.set_send_state("2025-q1", "leser@example.org", "sent", now)
    invoke(desk.root, "issue", "add", "2025-q2", second, "--section", "norway", "--heading", "Stortinget")
    for command in ("skip", "unskip"):
        sent = invoke(desk.root, "issue", command, first)
        assert sent.exit_code == 1
        assert sent.stderr == f"Error: item {first} is in 2025-q1 as norway:1, which was sent; nothing was changed\n"
        draft = invoke(desk.root, "issue", command, second)
        assert draft.exit_code == 1
        does = "skips it" if command == "skip" else "puts it back among the candidates"
        flag = "" if command == "skip" else " --undecided"
        assert draft.stderr == (
            f"Error: item {second} is in 2025-q2 as norway:1: `newsletter issue remove 2025-q2 {second}{flag}` "
            f"takes it out and {does}; nothing was changed\n"
        )
    assert json.loads(invoke(desk.root, "show", second, "--json").stdout)["status"] == "picked"
    assert json.loads(invoke(desk.root, "show", first, "--json").stdout)["status"] == "new"
    # Followed, the command the unskip's refusal gives does what the unskip meant: the item is undecided.
    assert invoke(desk.root, "issue", "remove", "2025-q2", second, "--undecided").exit_code == 0
    assert json.loads(invoke(desk.root, "show", second, "--json").stdout)["status"] == "new"


# ---------------------------------------------------------------------- 5. a short prefix


def test_a_prefix_shorter_than_4_characters_says_so(desk):
    result = invoke(desk.root, "show", desk.ids[0][:3])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: '{desk.ids[0][:3]}' is too short: an item id prefix needs at least 4 characters; "
        "`newsletter items` lists them\n"
    )
    assert json.loads(invoke(desk.root, "show", desk.ids[0][:4], "--json").stdout)["id"] == desk.ids[0]


# ---------------------------------------------------------------------- 6. refs that stay right


def test_add_prints_the_refs_as_they_stand_after_the_whole_command_and_item_ids_work_as_refs(desk):
    first, second, consultation = desk.ids
    # The consultation goes under Høringer; the proposal then lands above it, under Stortinget.
    added = invoke(desk.root, "issue", "add", "2025-q2", consultation, first)
    assert added.exit_code == 0, added.output
    assert added.stdout == (
        f"added norway:2  [Høringer]  Høring om endringer i straffeloven  (item {consultation})\n"
        f"added norway:1  [Stortinget]  Representantforslag om tiltak mot menneskehandel  (item {first})\n"
    )
    # An item id, or 4 characters of it, wherever an entry ref is taken.
    moved = invoke(desk.root, "issue", "move", "2025-q2", consultation[:4], "--before", first)
    assert moved.stdout == (
        f"moved to norway:1  [Høringer]  Høring om endringer i straffeloven  (item {consultation})\n"
    )
    accepted = invoke(desk.root, "issue", "accept", "2025-q2", first[:5])
    assert accepted.stdout == (
        f"accepted norway:2  [Stortinget]  Representantforslag om tiltak mot menneskehandel  (item {first})\n"
    )
    joined = invoke(desk.root, "issue", "add", "2025-q2", second, "--to", first)
    assert joined.exit_code == 0, joined.output
    # One of an entry's two items names it, but removing it would take the other item and the text too;
    # a skip of it says the same, not "`newsletter issue remove … ITEM` takes it out".
    skipped = invoke(desk.root, "issue", "skip", second)
    assert skipped.exit_code == 1 and f"item {second} is one of the 2 items norway:2 cites" in skipped.stderr
    refused = invoke(desk.root, "issue", "remove", "2025-q2", second)
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: item {second} is one of the 2 items norway:2 cites (with {first}); removing the entry would take "
        f"them and its text too: to drop only this item, delete its id from the entry's `items:` in "
        f"{issue_file(desk.root)}, then `newsletter issue skip {second}`; to remove the whole entry, `newsletter issue "
        "remove 2025-q2 norway:2`; nothing was changed\n"
    )
    # Asked to leave the item undecided, the refusal offers what leaves it (and the entry's others) undecided.
    undecided = invoke(desk.root, "issue", "remove", "2025-q2", second[:5], "--undecided")
    assert undecided.exit_code == 1
    assert undecided.stderr.endswith(
        f"`items:` in {issue_file(desk.root)}, then `newsletter issue unskip {second}`; to remove the whole entry, "
        "`newsletter issue remove 2025-q2 norway:2 --undecided`; nothing was changed\n"
    )
    removed = invoke(desk.root, "issue", "remove", "2025-q2", "norway:2")
    assert removed.stdout == (
        f"removed norway:2  [Stortinget]  Representantforslag om tiltak mot menneskehandel  (items {first}, {second})\n"
        f"  skipped {first} {second}: out of the list and of `issue draft` (`newsletter issue unskip {first} "
        f"{second}` puts them back in the inbox)\n"
    )
    unknown = invoke(desk.root, "issue", "remove", "2025-q2", first)
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        f"Error: no entry '{first}' in 2025-q2; give section:position or an item id, as `newsletter issue show "
        "2025-q2` prints them\n"
    )


# ---------------------------------------------------------------------- 7. longer notes


def test_note_text_from_standard_input(desk):
    text = "KOM holdt et møte med politidistriktene.\n\nSe [referatet](https://www.politiet.no/referat).\n"
    result = invoke(
        desk.root, "issue", "note", "2025-q2", "--section", "kom", "--heading", "Møter", "--text", "-", input=text
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "added kom:1  [Møter]  (no title)  (note)\n"
    assert result.stderr == ""  # piped: no prompt in the way of a script's output
    assert outline(desk.root)["sections"]["kom"][0]["text"] == text.strip()


def test_note_text_typed_on_a_terminal_says_how_to_finish(desk):
    """`--text -` at a keyboard: a prompt on standard error says Ctrl-D ends the note, so the editor
    does not take the waiting command for a hung one; the typed lines are the note."""
    import subprocess

    terminal = PseudoTerminal()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--workspace", str(desk.root), "issue", "note", "2025-q2"]
        + ["--section", "kom", "--heading", "Møter", "--text", "-"],
        stdin=terminal.slave,
        stdout=terminal.slave,
        stderr=terminal.slave,
        start_new_session=True,  # the pty is its terminal, not the one running the tests
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONUTF8": "1"},
    )
    try:
        terminal.read_until(lambda: b"to add it" in terminal.output)
        os.write(terminal.master, "KOM møtte politidistriktene.\n".encode())
        os.write(terminal.master, b"\x04")  # Ctrl-D on an empty line: the end of the note
        terminal.read_to_the_end(process)
    finally:
        process.wait()
        terminal.close()
    said = terminal.text()
    assert process.returncode == 0, said
    assert said.startswith("Type the note, then Ctrl-D on an empty line to add it (Ctrl-C cancels):\n"), said
    assert said.endswith("added kom:1  [Møter]  (no title)  (note)\n"), said
    assert outline(desk.root)["sections"]["kom"][0]["text"] == "KOM møtte politidistriktene."


EDITOR_SCRIPT = """\
import sys
from pathlib import Path

shown, typed, path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])  # click appends the file name
template = path.read_text(encoding="utf-8")
shown.write_text(template, encoding="utf-8")
path.write_text(typed + template.lstrip("\\n"), encoding="utf-8")
"""


def editor(tmp_path: Path, typed: str) -> tuple[dict, Path]:
    """$EDITOR as a script that types `typed` above the template, and where it saves what it was shown."""
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT, encoding="utf-8")
    shown = tmp_path / "shown.txt"
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(shown))} {shlex.quote(typed)}"
    return {"EDITOR": command, "VISUAL": command}, shown


def test_note_edit_opens_the_editor_on_a_template(desk, tmp_path):
    env, shown = editor(tmp_path, "KOM deltok på et seminar.\n\nSe [her](https://www.politiet.no/seminar).\n")
    result = invoke(
        desk.root, "issue", "note", "2025-q2", "--section", "kom", "--heading", "Seminar", "--edit", env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "added kom:1  [Seminar]  (no title)  (note)\n"
    assert shown.read_text(encoding="utf-8") == (
        "\n\n"
        "# Write the note above these lines, in Markdown; links as [se her](https://…), words in\n"
        "# another language as [Third country posted workers]{lang=en}.\n"
        "# Lines starting with '#' are left out. Save and close the editor to add the note\n"
        "# to 2025-q2 (section kom, heading 'Seminar'); an empty note adds nothing.\n"
    )
    assert outline(desk.root)["sections"]["kom"][0]["text"] == (
        "KOM deltok på et seminar.\n\nSe [her](https://www.politiet.no/seminar)."
    )


def test_note_edit_with_nothing_written_adds_nothing(desk, tmp_path):
    env, _shown = editor(tmp_path, "\n")
    before = issue_file(desk.root).read_text(encoding="utf-8")
    result = invoke(desk.root, "issue", "note", "2025-q2", "--section", "kom", "--heading", "X", "--edit", env=env)
    assert result.exit_code == 1
    assert result.stderr == "Error: the note is empty; nothing was written\n"
    assert issue_file(desk.root).read_text(encoding="utf-8") == before


def test_note_without_any_text_is_a_usage_error(desk):
    result = invoke(desk.root, "issue", "note", "2025-q2", "--section", "kom", "--heading", "X")
    assert result.exit_code == 2
    assert "Error: give the note's text: --text TEXT, --text - (standard input) or --edit ($EDITOR)" in result.stderr


# ---------------------------------------------------------------------- 8. finding an item among 300


@pytest.fixture
def report(desk):
    """An item dated only by its month, with an accent in its title and its article page cached."""
    raw = RawItem(
        url="https://www.unodc.org/geneve-rapport",
        title="Rapport fra Genève om menneskehandel",
        summary="En ny rapport om utnyttelse.",
        published=dt.date(2025, 9, 1),
        date_precision="month",
        kind="report",
    )
    with Store(Workspace(desk.root).db_path) as store:
        [item_id] = store.upsert_items(
            SOURCE, [(identify(raw.url), raw)], dt.datetime(2025, 9, 30, 12, 0, tzinfo=dt.UTC)
        ).seen_ids
        store.save_page(
            CachedPage(
                url=raw.url,
                status=200,
                text="Rapporten beskriver TVANGSARBEID i fiskeindustrien.",
                published=None,
                deadline=None,
                fetched_at=dt.datetime(2025, 9, 30, 12, 0, tzinfo=dt.UTC),
            )
        )
    return item_id


def test_items_grep_searches_title_summary_and_article_text_in_any_case_and_accent(desk, report):
    score = json.loads(invoke(desk.root, "show", report, "--json").stdout)["score"]
    line = f"{report}  {score:5.1f}  sep. 2025  report  stortinget  Rapport fra Genève om menneskehandel\n"
    for text in ("GENEVE", "genève", "Tvangsarbeid i fiske"):
        result = invoke(desk.root, "items", "--all", "--grep", text)
        assert result.exit_code == 0, result.output
        assert result.stdout == line, text
    assert [i["id"] for i in json.loads(invoke(desk.root, "items", "--all", "--grep", "genev", "--json").stdout)] == [
        report
    ]
    nothing = invoke(desk.root, "items", "--all", "--grep", "ingen slik tekst")
    assert nothing.stdout == "" and "No candidates" in nothing.stderr


def test_items_shows_kind_and_deadline(desk):
    consultation = desk.ids[2]
    score = json.loads(invoke(desk.root, "show", consultation, "--json").stdout)["score"]
    result = invoke(desk.root, "items", "--all", "--grep", "straffeloven")
    assert result.stdout == (
        f"{consultation}  {score:5.1f}  2025-04-10  consultation  due 2025-06-01  horinger  "
        "Høring om endringer i straffeloven\n"
    )


def test_items_columns_are_as_wide_as_what_they_hold_so_titles_start_early_on_80_columns(desk):
    """A deadline column only when an item has one; the title starts where the widest source ends."""
    lines = invoke(desk.root, "items", "--all").stdout.splitlines()
    assert len(lines) == 3
    starts = {line.index(next(t for t in (r.title for r in RAWS) if t in line)) for line in lines}
    assert len(starts) == 1 and starts.pop() <= 70  # every title at one column, inside 80 even with a deadline
    assert any("due 2025-06-01" in line for line in lines)
    without = invoke(desk.root, "items", "--all", "--grep", "justiskomiteen").stdout
    assert "due" not in without and without.index("Innstilling fra justiskomiteen") < 50


# ---------------------------------------------------------------------- 9. what collect says


UNDATED_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Kilde</title><link>{base}/</link><description>d</description>
<item><title>Menneskehandel: ny rapport</title><link>{base}/borte-1</link></item>
<item><title>Menneskehandel: ny dom</title><link>{base}/borte-2</link></item>
<item><title>Uten lenke</title><description>Ingen lenke her.</description></item>
</channel></rss>
"""


def test_collect_prints_its_warnings_the_reasons_for_unreadable_pages_and_counts_in_good_grammar(server, tmp_path):
    server.routes["/rss"] = Route(UNDATED_RSS.format(base=server.url("")).encode(), content_type="application/rss+xml")
    root = one_source_workspace(tmp_path, server.url("/rss"))
    result = invoke(root, "collect")
    assert result.exit_code == 0, result.output
    assert "Collected 1 source in" in result.stdout
    assert "ok (2 warnings)" in result.stdout
    assert result.stdout.endswith(
        "Article pages: 0 read, 0 from the cache, 2 unreadable, 0 failed before and not asked again yet\n"
        f"  127.0.0.1:\n    2 × HTTP 404 Not Found (e.g. {server.url('/borte-2')})\n"
    )
    assert result.stderr == (
        "warning: src: 1 entry without a link skipped\n"
        "warning: src: 2 of 2 items have no date, neither in the feed nor on their article pages\n"
    )


# A feed that hides a file name's true ending behind a right-to-left override ("Trojan Source"), and
# zero-width and isolating characters, as characters and as references, in its title and its summary.
HIDDEN_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Kilde</title><link>{base}/</link><description>d</description>
<item><title>Menneskehandel: rapport&#x202E;fdp.exe&#x202C; om\u200b tvangs&#x2060;arbeid</title>
<link>{base}/sak/1</link><pubDate>Mon, 12 May 2025 10:00:00 +0200</pubDate>
<description>&lt;p&gt;Rapporten&amp;#x2066; om menneske&#xAD;handel\ufeff er&amp;#x200F; lagt fram.&lt;/p&gt;</description>
</item></channel></rss>
"""


def test_a_hostile_feed_item_reaches_no_output_with_an_invisible_character(server, tmp_path):
    """Collected, added to an issue and built: every part reads as the words alone, and check finds nothing."""
    server.routes["/rss"] = Route(HIDDEN_RSS.format(base=server.url("")).encode(), content_type="application/rss+xml")
    root = one_source_workspace(tmp_path, server.url("/rss"), extra="relevance: all")
    assert invoke(root, "collect").exit_code == 0
    with Store(Workspace(root).db_path) as store:
        (item,) = store.iter_items()
    assert item.title == "Menneskehandel: rapportfdp.exe om tvangsarbeid"
    assert invoke(root, "issue", "new", "2025-q2").exit_code == 0
    assert invoke(root, "issue", "add", "2025-q2", item.id).exit_code == 0
    checked = invoke(root, "issue", "check", "2025-q2")
    assert "invisible" not in checked.output, checked.output
    built = invoke(root, "build", "2025-q2", "--format", "web,email,text")
    assert built.exit_code == 0, built.output
    for name in ("index.html", "email.html", "email.txt"):
        text = (Workspace(root).build_dir("2025-q2") / name).read_text(encoding="utf-8")
        assert hidden_characters(text) == [], name
        assert "Menneskehandel: rapportfdp.exe om tvangsarbeid" in text, name
        assert "Rapporten om menneskehandel er lagt fram." in text, name


def test_counts_in_issue_check_and_list_are_singular_for_one(desk):
    note(desk.root, "kom", "Møter", "Et møte", "Se [her](https://politiet.no/m).")
    # Written in the file by hand: `issue note` refuses a link no reader can open.
    path = issue_file(desk.root)
    path.write_text(path.read_text(encoding="utf-8").replace("https://politiet", "ftp://politiet"), encoding="utf-8")
    checked = invoke(desk.root, "issue", "check", "2025-q2")
    assert checked.exit_code == 1
    assert checked.stdout.endswith("2025-q2: 1 error, 6 warnings\n")  # the empty intro among them
    listed = invoke(desk.root, "issue", "list")
    assert (
        listed.stdout == "2025-q2  draft    april–juni 2025          not published      1 entry  1 error, 6 warnings\n"
    )


# ---------------------------------------------------------------------- 10. send options that mean nothing


@pytest.mark.parametrize(
    "args, message",
    [
        (("send", "2024-q2", "--json"), "--json goes with `send status ID`; a send prints its summary"),
        (
            ("send", "status", "2024-q2", "--to", "a@example.org"),
            "--to: not with `send status ID` (it takes --dry-run and --json)",
        ),
        (
            ("send", "status", "2024-q2", "--tag", "politi", "--retry-failed"),
            "--tag, --retry-failed: not with `send status ID` (it takes --dry-run and --json)",
        ),
        (
            ("send", "2024-q2", "--to", "a@example.org", "--resend-unknown"),
            "--resend-unknown: not with --to (test copies go to the addresses given and record nothing)",
        ),
    ],
)
def test_send_rejects_options_that_mean_nothing_there(sample_workspace, args, message):
    result = invoke(sample_workspace, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert not (sample_workspace / "var" / "outbox").exists()


# ---------------------------------------------------------------------- 11. [o]pen with no browser


@pytest.mark.parametrize("display", [None, ":99"])
def test_open_in_triage_with_no_browser_prints_the_url_instead(desk, tmp_path, monkeypatch, display):
    # With a display, an xdg-open that finds no browser and complains on stderr, as on a bare server.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text("#!/bin/sh\necho 'xdg-open: no method available for opening' >&2\nexit 3\n", encoding="utf-8")
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display:
        monkeypatch.setenv("DISPLAY", display)
    else:
        monkeypatch.delenv("DISPLAY", raising=False)
    result = invoke(desk.root, "issue", "triage", "2025-q2", input="oq")
    assert result.exit_code == 0, result.output
    [url] = re.findall(r"^  (https://\S+)$", result.stdout, re.M)
    assert f"\n  no browser to open it here; the link: {url}\n" in result.stdout
    assert "xdg-open" not in result.output


def test_show_gives_a_month_dated_item_its_month_not_an_invented_first_day(desk, report):
    shown = invoke(desk.root, "show", report).stdout
    assert "published:      sep. 2025\n" in shown
    assert "2025-09-01" not in shown and "date_precision" not in shown
    assert json.loads(invoke(desk.root, "show", report, "--json").stdout)["date_precision"] == "month"


def test_an_item_cited_again_is_said_and_removing_it_keeps_it_picked_for_the_other_issue(desk):
    first = desk.ids[0]
    assert invoke(desk.root, "issue", "add", "2025-q2", first).exit_code == 0
    assert invoke(desk.root, "issue", "new", "2025-q3").exit_code == 0
    again = invoke(desk.root, "issue", "add", "2025-q3", first, "--section", "norway", "--heading", "Stortinget")
    assert again.exit_code == 0, again.output
    assert again.stderr == f"warning: item {first} is also in 2025-q2\n"
    kept = invoke(desk.root, "issue", "remove", "2025-q3", first)
    assert kept.exit_code == 0 and f"  still picked: another entry cites it ({first})\n" in kept.stdout
    assert json.loads(invoke(desk.root, "show", first, "--json").stdout)["status"] == "picked"
    # Out of its last issue, it is skipped (or, with --undecided, undecided again).
    removed = invoke(desk.root, "issue", "remove", "2025-q2", first)
    assert removed.exit_code == 0
    assert json.loads(invoke(desk.root, "show", first, "--json").stdout)["status"] == "skipped"


# ---------------------------------------------------------------------- 12. show lists every citation


def test_show_lists_every_entry_citing_an_item_by_id_and_by_link_once_each(desk):
    """An item one entry names and another links to (the editor pasted its address into a note) is
    cited twice: `show` lists both, and a citation in another issue, each once and saying how."""
    first = desk.ids[0]
    assert invoke(desk.root, "issue", "add", "2025-q2", first).exit_code == 0  # norway:1, by id
    noted = note(desk.root, "kom", "Møter", "Forslaget", "KOM om [forslaget](https://www.stortinget.no/forslag).")
    assert f"  cites item {first} «" in noted.stdout
    assert invoke(desk.root, "issue", "new", "2025-q3").exit_code == 0
    # Two spellings of the one address in one entry: one citation.
    twice = "Se [her](http://stortinget.no/forslag/) og [her](https://www.stortinget.no/forslag)."
    note(desk.root, "norway", "Stortinget", "Oppfølging", twice, issue_id="2025-q3")
    shown = invoke(desk.root, "show", first)
    assert shown.exit_code == 0, shown.output
    said = [line for line in shown.stdout.splitlines() if line.startswith("cited_in:")]
    assert said == ["cited_in:       2025-q2 kom:1 (by link), 2025-q2 norway:1 (by id), 2025-q3 norway:1 (by link)"]
    as_json = json.loads(invoke(desk.root, "show", first, "--json").stdout)["cited_in"]
    assert as_json == [
        {"issue": "2025-q2", "entry": "kom:1", "by": "link", "heading": "Møter"},
        {"issue": "2025-q2", "entry": "norway:1", "by": "id", "heading": "Stortinget"},
        {"issue": "2025-q3", "entry": "norway:1", "by": "link", "heading": "Stortinget"},
    ]
    assert json.loads(invoke(desk.root, "show", desk.ids[1], "--json").stdout)["cited_in"] == []


def test_show_gives_a_filed_items_place_as_filed_not_the_sources(desk):
    """Filed under a heading of the editor's choosing, an item is shown there, not where its source would put it."""
    first = desk.ids[0]
    added = invoke(desk.root, "issue", "add", "2025-q2", first, "--section", "kom", "--heading", "Møter")
    assert added.exit_code == 0, added.output
    shown = json.loads(invoke(desk.root, "show", first, "--json").stdout)
    assert (shown["section"], shown["heading"]) == ("kom", "Møter")
    lines = invoke(desk.root, "show", first).stdout.splitlines()
    assert [line.split(None, 1)[1] for line in lines if line.split(":")[0] in ("section", "heading")] == [
        "kom",
        "Møter",
    ]


def workspace_with(tmp_path: Path, source: Source, organisation: str, alias: str) -> Path:
    """A workspace of FEEDS and `source` (every item relevant), whose newsletter.yaml names one
    organisation, `organisation`, also called `alias`."""
    feeds = FEEDS + (
        f"  - key: {source.key}\n    name: {source.name}\n    kind: {source.kind}\n    url: {source.url}\n"
        f"    section: {source.section}\n    heading: {source.heading}\n    relevance: all\n"
    )
    organisations = f"organisations:\n  - name: {organisation}\n    aliases: [{alias}]\n"
    return write_workspace(tmp_path / "ws", feeds, KOM_SECTIONS + organisations)


@pytest.mark.parametrize("drafted", [False, True], ids=["added", "drafted"])
def test_an_organisations_next_item_is_suggested_where_the_editor_moved_its_first_this_quarter(tmp_path, drafted):
    """The editor moves the first GRETA report out of the source's place (international, "GRETA") to the
    highlights under "Europarådet og GRETA": the next close report of the same site is listed and
    added there; an item of the site about something else, and the other sites, keep their places.
    So too when a draft added the first and the editor only moved it (the entry is still untouched,
    no decision to learn from: another pick is)."""
    greta = Source(
        key="greta",
        name="GRETA",
        kind="rss",
        url="https://www.coe.int/greta.rss",
        section="international",
        heading="GRETA",
    )
    root = workspace_with(tmp_path, greta, "Europarådet og GRETA", "GRETA")

    def report(country: str, day: int) -> RawItem:
        return RawItem(
            url=f"https://www.coe.int/en/web/anti-human-trafficking/-/greta-{country.lower()}",
            title=f"GRETA publishes its third evaluation report on {country}",
            summary=f"GRETA's third evaluation report on {country} focuses on access to justice and effective "
            "remedies for victims of trafficking in human beings.",
            published=dt.date(2025, 5, day),
            date_precision="day",
        )

    budget = RawItem(
        url="https://www.coe.int/en/web/portal/-/budget-2026",
        title="Committee of Ministers adopts the budget for 2026",
        summary="The organisation's budget for the coming two years was adopted in Strasbourg.",
        published=dt.date(2025, 5, 12),
        date_precision="day",
    )
    raws = [report("Portugal", 5), report("Spain", 9), budget]
    with Store(Workspace(root).db_path) as store:
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        portugal, spain, adopted = store.upsert_items(greta, [(identify(r.url), r) for r in raws], now).seen_ids
        forslag, innstilling = store.upsert_items(SOURCE, [(identify(r.url), r) for r in RAWS[:2]], now).seen_ids
    assert invoke(root, "issue", "new", "2025-q2").exit_code == 0
    assert invoke(root, "issue", "add", "2025-q2", portugal).exit_code == 0
    if drafted:  # as `issue draft` notes what it adds
        (root / "var" / "drafted").mkdir(parents=True, exist_ok=True)
        (root / "var" / "drafted" / "2025-q2.txt").write_text(f"{portugal}\n", encoding="utf-8")
        assert invoke(root, "issue", "add", "2025-q2", forslag).exit_code == 0
    assert invoke(root, "issue", "skip", innstilling).exit_code == 0
    moved = invoke(
        root, "issue", "move", "2025-q2", portugal, "--section", "highlights", "--heading", "Europarådet og GRETA"
    )
    assert moved.exit_code == 0, moved.output

    listed = json.loads(invoke(root, "items", "--issue", "2025-q2", "--json").stdout)
    places = {i["id"]: (i["section"], i["heading"]) for i in listed}
    assert places == {
        spain: ("highlights", "Europarådet og GRETA"),
        adopted: ("international", "GRETA"),
        **({} if drafted else {forslag: ("norway", "Stortinget")}),
    }
    # `why` says where the place comes from, as `show` and triage print it; only where it does.
    why = {i["id"]: i["why"] for i in listed}
    assert why[spain][-1] == "filed like «GRETA publishes its third evaluation report on Portugal» in this issue"
    assert not any(w.startswith("filed like") for w in why[adopted])
    # Under a heading the editor keeps nowhere else, only the same story follows (Spain's report reads as
    # Portugal's); a heading naming a year the item does not is never suggested from the issue either.
    for heading, spains in (("GRETA-rapporter", ("highlights", "GRETA-rapporter")), ("GRETA 2019", None)):
        assert invoke(root, "issue", "move", "2025-q2", portugal, "--heading", heading).exit_code == 0
        listed = json.loads(invoke(root, "items", "--issue", "2025-q2", "--json").stdout)
        places = {i["id"]: (i["section"], i["heading"]) for i in listed}
        assert places[spain] == (spains or ("international", "GRETA")) and places[adopted] == ("international", "GRETA")
        spains_why = next(i["why"] for i in listed if i["id"] == spain)
        assert any(w.startswith("filed like") for w in spains_why) == (spains is not None)
    assert invoke(root, "issue", "move", "2025-q2", portugal, "--heading", "Europarådet og GRETA").exit_code == 0
    added = invoke(root, "issue", "add", "2025-q2", spain)
    assert added.exit_code == 0, added.output
    assert [(e["item"], e["heading"]) for e in outline(root)["sections"]["highlights"]] == [
        (portugal, "Europarådet og GRETA"),
        (spain, "Europarådet og GRETA"),
    ]


def test_an_item_filed_under_feeds_yamls_other_name_for_a_listed_organisation_says_so_and_how_to_move(tmp_path):
    """feeds.yaml files the OSCE's items under «OSCE» while newsletter.yaml lists «OSSE» for the same
    organisation (a heading renamed in one file, not the other): `issue add` keeps the source's word but
    says so, once for the source, with the moves by item id; moved, the next item follows. No note
    once the issue has the listed name (the item joins it), nor for a heading the section lists."""
    osce = Source(
        key="osce",
        name="OSCE",
        kind="rss",
        url="https://www.osce.org/rss",
        section="international",
        heading="OSCE",
    )
    root = workspace_with(tmp_path, osce, "OSSE", "OSCE")
    raws = [
        RawItem(
            url=f"https://www.osce.org/cthb/{n}",
            title=f"OSCE training on identifying victims of trafficking in {place}",
            summary=f"Police officers and social workers in {place} were trained to identify victims of trafficking.",
            published=dt.date(2025, 5, 1 + n),
            date_precision="day",
        )
        for n, place in enumerate(("Kyrgyzstan", "Moldova", "Serbia"))
    ]
    # Other items of the quarter: among five documents, n-grams most of them share count for nothing
    # (the vectoriser's max_df), and the three OSCE items share most of theirs.
    others = [
        RawItem(
            url=f"https://www.stortinget.no/sak/{n}",
            title=title,
            summary=f"Komiteen behandler saken om {title.lower()}.",
            published=dt.date(2025, 4, 10 + n),
            date_precision="day",
        )
        for n, title in enumerate(("Statsbudsjettet for 2026", "Ny lov om havbruk", "Endringer i skatteloven"))
    ]
    with Store(Workspace(root).db_path) as store:
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        first, second, third = store.upsert_items(osce, [(identify(r.url), r) for r in raws], now).seen_ids
        forslag, innstilling = store.upsert_items(SOURCE, [(identify(r.url), r) for r in RAWS[:2]], now).seen_ids
        store.upsert_items(SOURCE, [(identify(r.url), r) for r in others], now)
    assert invoke(root, "issue", "new", "2025-q2").exit_code == 0
    assert invoke(root, "issue", "skip", innstilling).exit_code == 0
    added = invoke(root, "issue", "add", "2025-q2", first, forslag)
    assert added.exit_code == 0, added.output
    notes = [line for line in added.output.splitlines() if line.lstrip().startswith("note:")]
    assert notes == [
        "  note: international:1 «OSCE training on identifying victims of trafficking in Kyrgyzstan» is filed under "
        "«OSCE», feeds.yaml's heading for osce, where newsletter.yaml lists «OSSE» for the same organisation in "
        f"international. `newsletter issue move 2025-q2 {first} --heading OSSE` files it there, and later items "
        "like it follow; for later issues, write one name in both: osce's `heading:` in feeds.yaml (the source at "
        "line 16), or the section's `headings` in newsletter.yaml"
    ]
    assert invoke(root, "issue", "move", "2025-q2", first, "--heading", "OSSE").exit_code == 0
    listed = {i["id"]: i["heading"] for i in json.loads(invoke(root, "items", "--issue", "2025-q2", "--json").stdout)}
    assert listed[second] == listed[third] == "OSSE"
    joined = invoke(root, "issue", "add", "2025-q2", second)
    assert joined.exit_code == 0 and "note:" not in joined.output, joined.output
    assert [(e["item"], e["heading"]) for e in outline(root)["sections"]["international"]] == [
        (first, "OSSE"),
        (second, "OSSE"),
    ]


def test_where_the_issue_files_its_items_by_id_and_by_a_link_pasted_in_the_first_entry_first(desk):
    """`Curation.filed_items`, what the ranking learns places from: an item named by an entry, one an
    entry written by hand links to, and, where two entries cite one item, the first's place."""
    from newsletter.curate.edit import Curation

    forslag, innstilling, _horing = desk.ids
    assert invoke(desk.root, "issue", "add", "2025-q2", forslag).exit_code == 0
    noted = invoke(
        desk.root,
        "issue",
        "note",
        "2025-q2",
        "--section",
        "kom",
        "--heading",
        "Møter",
        "--title",
        "Innstilling",
        "--text",
        f"Komiteen har avgitt innstilling, [se her]({RAWS[1].url}).",
    )
    assert noted.exit_code == 0, noted.output
    path = issue_file(desk.root)
    # A second entry naming the first item, by hand, after it in the file.
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "  international: []",
            "  international:\n    - heading: Annet\n      title: Samme forslag\n"
            f"      text: Se [her]({RAWS[0].url}).\n      item: {forslag}\n",
        ),
        encoding="utf-8",
    )
    workspace = Workspace(desk.root)
    settings = workspace.settings()
    with Store(workspace.db_path) as store:
        curation = Curation(workspace, settings, workspace.feeds(settings), store)
        assert curation.filed_items("2025-q2") == {forslag: ("norway", "Stortinget"), innstilling: ("kom", "Møter")}
        path.write_text("sections: [", encoding="utf-8")
        assert Curation(workspace, settings, workspace.feeds(settings), store).filed_items("2025-q2") == {}


def test_an_item_titled_as_an_entry_under_its_heading_joins_it_and_no_command_writes_an_invalid_file(tmp_path):
    """One document reached through two addresses, both added (or drafted): one entry citing both, since
    two entries of one title under one heading are an error every later command would stop at. A note
    that would make such a pair is refused before anything is written."""
    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    twins = [
        RawItem(
            url=f"https://www.stortinget.no/{slug}",
            title="Representantforslag om tiltak mot menneskehandel",
            summary=f"Stortinget behandler forslaget ({slug}).",
            published=dt.date(2025, 5, 2),
            date_precision="day",
        )
        for slug in ("forslag", "sak/123")
    ]
    with Store(Workspace(root).db_path) as store:
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        first, second = store.upsert_items(SOURCE, [(identify(r.url), r) for r in twins], now).seen_ids
    assert invoke(root, "issue", "new", "2025-q2").exit_code == 0
    added = invoke(root, "issue", "add", "2025-q2", first, second)
    assert added.exit_code == 0, added.output
    entries = outline(root)["sections"]["norway"]
    assert len(entries) == 1 and entries[0]["items"] == [first, second], entries
    assert invoke(root, "issue", "check", "2025-q2").exit_code == 0
    for item in (first, second):
        assert json.loads(invoke(root, "show", item, "--json").stdout)["status"] == "picked"
    before = issue_file(root).read_text(encoding="utf-8")
    refused = invoke(
        root, "issue", "note", "2025-q2", "--section", "norway", "--heading", "Stortinget", "--title",
        "Representantforslag om tiltak mot menneskehandel", "--text", "Omtalt i komiteen.",
    )  # fmt: skip
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: nothing was written to {issue_file(root)}: the change would leave it ")
    assert "give it another title" in refused.stderr, refused.stderr
    assert issue_file(root).read_text(encoding="utf-8") == before


@pytest.mark.parametrize("together", [True, False])
def test_items_of_one_title_from_sources_filed_apart_become_one_entry(tmp_path, together):
    """A report and the Storting's case about it, titled alike, come from sources filed under different
    headings: added (together, or one after the other), they are one entry, not two of one title."""
    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    title = "Riksrevisjonens undersøkelse av myndighetenes innsats mot vold i nære relasjoner"
    with Store(Workspace(root).db_path) as store:
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        ids = []
        for source, url in (
            (CONSULTATIONS, "https://www.regjeringen.no/rapport"),
            (SOURCE, "https://www.stortinget.no/sak"),
        ):
            raw = RawItem(url=url, title=title, summary="Rapporten er lagt fram.", published=dt.date(2025, 6, 2))
            ids += store.upsert_items(source, [(identify(raw.url), raw)], now).seen_ids
    assert invoke(root, "issue", "new", "2025-q2").exit_code == 0
    if together:
        assert invoke(root, "issue", "add", "2025-q2", *ids).exit_code == 0
    else:
        for item in ids:
            assert invoke(root, "issue", "add", "2025-q2", item).exit_code == 0
    entries = outline(root)["sections"]["norway"]
    assert [(e["heading"], e["items"]) for e in entries] == [("Høringer", ids)], entries
    assert invoke(root, "issue", "check", "2025-q2").exit_code == 0


def _two_sources(tmp_path, title: str, days: tuple[dt.date, dt.date], deadlines=(None, None)) -> tuple[Path, list[str]]:
    """A workspace with one item of `title` from each of two sources filed under different headings."""
    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS)
    ids = []
    with Store(Workspace(root).db_path) as store:
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        for n, (source, url) in enumerate(
            ((CONSULTATIONS, "https://www.regjeringen.no/rapport"), (SOURCE, "https://www.stortinget.no/sak"))
        ):
            raw = RawItem(
                url=url,
                title=title,
                summary="Rapporten er lagt fram.",
                published=days[n],
                date_precision="day",
                kind="consultation" if deadlines[n] else "news",
                deadline=deadlines[n],
            )
            ids += store.upsert_items(source, [(identify(raw.url), raw)], now).seen_ids
    assert invoke(root, "issue", "new", "2025-q2").exit_code == 0
    return root, ids


@pytest.mark.parametrize(
    ("title", "days"),
    [
        # A short title is many organisations' own.
        ("Årsrapport 2021", (dt.date(2025, 6, 2), dt.date(2025, 6, 2))),
        # A long one weeks apart is a second story under the same name.
        (
            "Riksrevisjonens undersøkelse av myndighetenes innsats mot vold i nære relasjoner",
            (dt.date(2025, 4, 2), dt.date(2025, 6, 2)),
        ),
    ],
)
def test_items_of_one_short_title_or_weeks_apart_stay_apart(tmp_path, title, days):
    root, ids = _two_sources(tmp_path, title, days)
    for item in ids:
        assert invoke(root, "issue", "add", "2025-q2", item).exit_code == 0
    entries = outline(root)["sections"]["norway"]
    assert sorted((e["heading"], e["item"]) for e in entries) == sorted(
        [("Høringer", ids[0]), ("Stortinget", ids[1])]
    ), entries


def test_joining_one_story_says_what_it_did_to_the_entrys_dates(tmp_path):
    title = "Høring om forslag til endringer i straffeloven om menneskehandel"
    root, ids = _two_sources(
        tmp_path, title, (dt.date(2025, 6, 2), dt.date(2025, 6, 3)), (dt.date(2025, 9, 1), dt.date(2025, 9, 15))
    )
    assert (
        invoke(root, "issue", "add", "2025-q2", ids[1], "--section", "norway", "--heading", "Høringer").exit_code == 0
    )
    joined = invoke(root, "issue", "add", "2025-q2", ids[0])
    assert joined.exit_code == 0, joined.output
    assert joined.stdout.splitlines() == [
        f"added {ids[0]} to norway:1  [Høringer]  {title}  (items {ids[1]}, {ids[0]})",
        f"  norway:1 keeps its deadline; its items give 2025-09-01: if that is the right one, set `deadline:` "
        f"in {issue_file(root)}",
    ]


def test_a_draft_counts_the_entries_it_adds_and_says_which_items_joined_one(tmp_path):
    """Two items of one story drafted together make one entry: counted once, the second said as joining it."""
    title = "Riksrevisjonens undersøkelse av myndighetenes innsats mot menneskehandel og tvangsarbeid"
    root, ids = _two_sources(tmp_path, title, (dt.date(2025, 6, 2), dt.date(2025, 6, 3)))
    with Store(Workspace(root).db_path) as store:  # scored as collect scores them: both in the inbox
        for item in ids:
            store.set_score(item, 5.0, ["menneskehandel"], "test")
    drafted = invoke(root, "issue", "draft", "2025-q2")
    assert drafted.exit_code == 0, drafted.output
    lines = drafted.stdout.splitlines()
    first = lines[0].split("(items ")[1].split(",")[0]  # the one listed first opens the entry
    (second,) = set(ids) - {first}
    assert [line.split("  ")[0] for line in lines[:2]] == ["added norway:1", f"added {second} to norway:1"], lines
    assert lines[-1] == "1 entry added to 2025-q2 (1 item joined to one of them, the same story)"
    assert len(outline(root)["sections"]["norway"]) == 1


def test_add_to_an_entry_whose_items_give_two_deadlines_sets_none_and_says_so(tmp_path):
    title = "Høring om forslag til endringer i straffeloven om menneskehandel"
    root, ids = _two_sources(
        tmp_path, title, (dt.date(2025, 6, 2), dt.date(2025, 6, 3)), (dt.date(2025, 9, 1), dt.date(2025, 9, 15))
    )
    assert note(root, "norway", "Høringer", "Straffeloven", "KOM svarer på høringen.").exit_code == 0
    joined = invoke(root, "issue", "add", "2025-q2", *ids, "--to", "norway:1")
    assert joined.exit_code == 0, joined.output
    assert (
        "  norway:1 has no deadline, and its items give 2025-09-01, 2025-09-15: set the one it means as "
        f"`deadline:` in {issue_file(root)}"
    ) in joined.stdout.splitlines()
    assert outline(root)["sections"]["norway"][0].get("deadline") is None


# ---------------------------------------------------------------------- 13. invisible characters on the terminal


def test_listings_show_each_invisible_character_as_its_code_point_and_json_keeps_it(desk):
    """A right-to-left override printed raw reverses the rest of the line on the terminal (Unicode TR9): the
    editor would read "rapportexe.pdf" for what is "rapport", U+202E, "fdp.exe". Listings show it; JSON keeps it."""
    hostile = "Rapport\u202efdp.exe\u202c om\u200b tvangsarbeid"
    with Store(Workspace(desk.root).db_path) as store:  # stored before collect removed such characters
        now = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
        raw = RawItem(url="https://www.stortinget.no/rapport", title=hostile, published=dt.date(2025, 5, 5))
        (item,) = store.upsert_items(SOURCE, [(identify(raw.url), raw)], now).seen_ids
    shown = "Rapport⟨U+202E⟩fdp.exe⟨U+202C⟩ om⟨U+200B⟩ tvangsarbeid"

    listed = invoke(desk.root, "items", "--all", "--grep", "fdp.exe")
    assert listed.stdout.endswith(f"  {shown}\n"), listed.stdout
    assert f"title:          {shown}\n" in invoke(desk.root, "show", item).stdout
    assert json.loads(invoke(desk.root, "show", item, "--json").stdout)["title"] == hostile

    added = invoke(desk.root, "issue", "add", "2025-q2", item, "--heading", "UN\u2066ODC")
    assert added.stdout == f"added norway:1  [UN⟨U+2066⟩ODC]  {shown}  (item {item})\n"
    outline_lines = invoke(desk.root, "issue", "show", "2025-q2").stdout.splitlines()
    assert "  UN⟨U+2066⟩ODC" in outline_lines
    assert f"    norway:1  {shown}  (item {item})" in outline_lines
    entry = outline(desk.root)["sections"]["norway"][0]
    assert (entry["heading"], entry["title"]) == ("UN\u2066ODC", hostile)
    path = issue_file(desk.root)
    path.write_text(re.sub(r"^      text: .*$", "      text: ''", path.read_text("utf-8"), flags=re.M), "utf-8")
    checked = invoke(desk.root, "issue", "check", "2025-q2")  # "'Rapport…' has no text" quotes the title
    assert f"norway:1 '{shown}' has no text" in checked.output, checked.output
    for result in (listed, added, invoke(desk.root, "show", item), checked):
        assert hidden_characters(result.output) == [], result.output
    assert hidden_characters(issue_file(desk.root).read_text(encoding="utf-8")) != []  # the file as it is


def test_issue_show_shows_a_file_with_a_mistyped_item_id_and_says_it_has_errors(desk):
    """Fixing the file needs the refs `issue check` names: the outline is shown, with a note of the errors."""
    first, _second, _third = desk.ids
    invoke(desk.root, "issue", "add", "2025-q2", first, "--section", "norway", "--heading", "Stortinget")
    path = issue_file(desk.root)
    path.write_text(path.read_text(encoding="utf-8").replace(f"item: {first}", "item: zzzzzzz"), encoding="utf-8")
    shown = invoke(desk.root, "issue", "show", "2025-q2")
    assert shown.exit_code == 0
    assert "    norway:1  Representantforslag om tiltak mot menneskehandel  (item zzzzzzz, date 2025-05-02)" in (
        shown.stdout.splitlines()
    )
    assert shown.stderr == (
        f"note: {path} has 1 error, so this is what could be read of it; `newsletter issue check 2025-q2` names them\n"
    )
    assert invoke(desk.root, "issue", "check", "2025-q2").exit_code == 1

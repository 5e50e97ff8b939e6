"""Curation through the command line: from an empty quarter to a checked issue, triage with
scripted keystrokes (quit half-way, resume), and refusals that write nothing."""

from __future__ import annotations

import datetime as dt
import fcntl
import html
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.config import Workspace
from newsletter.store import Store
from tests.conftest import KOM_SECTIONS, PseudoTerminal, write_workspace
from tests.test_collect import feeds_yaml, site  # noqa: F401 (fixture)

SECTIONS = KOM_SECTIONS + "audience: Til KOMs samarbeidsaktører\n"


def invoke(root, *args, input=None):
    return CliRunner().invoke(cli, ["--workspace", str(root), *args], input=input, catch_exceptions=False)


@pytest.fixture
def ws(site, tmp_path):  # noqa: F811
    """A workspace whose sources were collected from the local server."""
    root = write_workspace(tmp_path, feeds_yaml(site), SECTIONS)
    assert invoke(root, "collect").exit_code == 0
    return root


def inbox(root, *extra):
    return json.loads(invoke(root, "items", "--issue", "2022-q2", "--json", *extra).stdout)


def issue_text(root, issue_id="2022-q2"):
    return (root / "issues" / f"{issue_id}.yaml").read_text(encoding="utf-8")


def outline(root, issue_id="2022-q2"):
    return json.loads(invoke(root, "issue", "show", issue_id, "--json").stdout)


def test_new_creates_the_file_with_sections_and_period_and_never_overwrites(ws):
    result = invoke(ws, "issue", "new", "2022-q2")
    assert result.exit_code == 0 and "created" in result.stdout
    data = outline(ws)
    assert data["period"] == "april–juni 2022"
    assert data["audience"] == "Til KOMs samarbeidsaktører"
    assert list(data["sections"]) == ["highlights", "kom", "norway", "international", "events"]
    before = issue_text(ws)
    again = invoke(ws, "issue", "new", "2022-q2")
    assert again.exit_code == 1 and "already exists; nothing was written" in again.stderr
    assert issue_text(ws) == before
    bad = invoke(ws, "issue", "new", "2022-q9")
    assert bad.exit_code == 2 and "'2022-q9' is not an issue id like 2024-q2" in bad.stderr


def test_new_refuses_a_quarter_far_ahead_or_before_2000_unless_forced(ws, monkeypatch):
    """2204-q2 for 2024-q2 is a typo, not a plan: refused with the way round it, and nothing written.
    Today is the newsletter's (Europe/Oslo): 2025-03-31 22:30 UTC is already April, the second quarter."""
    from newsletter import clock

    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2025, 3, 31, 22, 30, tzinfo=dt.UTC))
    assert invoke(ws, "issue", "new", "2025-q3").exit_code == 0  # the next quarter: started early
    assert invoke(ws, "issue", "new", "2000-q1").exit_code == 0  # a back issue, for the archive
    for issue_id, why in (
        ("2025-q4", "2025-q4 is 2 quarters ahead of the current one (2025-q2)"),
        ("2099-q4", "2099-q4 is 298 quarters ahead of the current one (2025-q2)"),
        ("1999-q4", "1999-q4 is before 2000"),
    ):
        refused = invoke(ws, "issue", "new", issue_id)
        assert refused.exit_code == 2, refused.output
        assert refused.stderr.splitlines()[-1] == (
            f"Error: {why}: a typo? Nothing was written; pass --force to create it all the same"
        )
        assert not (ws / "issues" / f"{issue_id}.yaml").exists()
    forced = invoke(ws, "issue", "new", "2099-q4", "--force")
    assert forced.exit_code == 0 and forced.stdout == f"created {ws / 'issues' / '2099-q4.yaml'}\n"
    assert outline(ws, "2099-q4")["period"] == "oktober–desember 2099"


def test_add_uses_the_source_defaults_marks_picked_and_refuses_twice(ws):
    invoke(ws, "issue", "new", "2022-q2")
    first = inbox(ws)[0]
    result = invoke(ws, "issue", "add", "2022-q2", first["id"])
    assert result.exit_code == 0, result.output
    entry = outline(ws)["sections"][first["section"]][0]
    assert entry["heading"] == first["heading"] and entry["title"] == first["title"]
    assert entry["item"] == first["id"] and entry["text"].endswith(f"Se [her]({first['url']}).")
    assert first["id"] not in [i["id"] for i in inbox(ws)]  # picked: out of the undecided inbox
    assert [i["id"] for i in inbox(ws, "--status", "picked")] == [first["id"]]
    before = issue_text(ws)
    twice = invoke(ws, "issue", "add", "2022-q2", first["id"])
    assert twice.exit_code == 1
    assert f"item {first['id']} is already in 2022-q2 as {first['section']}:1" in twice.stderr
    assert issue_text(ws) == before


def test_add_with_section_and_heading_and_heading_order(ws):
    invoke(ws, "issue", "new", "2022-q2")
    items = inbox(ws)
    assert (
        invoke(
            ws, "issue", "add", "2022-q2", items[0]["id"], "--section", "international", "--heading", "Finland"
        ).exit_code
        == 0
    )
    assert (
        invoke(
            ws, "issue", "add", "2022-q2", items[1]["id"], "--section", "international", "--heading", "UNODC"
        ).exit_code
        == 0
    )
    headings = [e["heading"] for e in outline(ws)["sections"]["international"]]
    assert headings == ["UNODC", "Finland"]  # the configured order, not the order of adding
    unknown = invoke(ws, "issue", "add", "2022-q2", items[2]["id"], "--section", "nowhere")
    assert unknown.exit_code == 2 and "no section 'nowhere'" in unknown.stderr
    typo = invoke(ws, "issue", "add", "2022-q2", items[2]["id"], "--section", "highlight")
    assert (
        typo.exit_code == 2 and "no section 'highlight' in newsletter.yaml (did you mean 'highlights'? " in typo.stderr
    )
    # Another section without --heading: the source's heading, which names the organisation.
    moved = invoke(ws, "issue", "add", "2022-q2", items[2]["id"], "--section", "highlights")
    assert moved.exit_code == 0
    assert [e["heading"] for e in outline(ws)["sections"]["highlights"]] == [items[2]["heading"]]


def test_note_remove_and_move(ws):
    invoke(ws, "issue", "new", "2022-q2")
    note = invoke(
        ws,
        "issue",
        "note",
        "2022-q2",
        "--section",
        "kom",
        "--heading",
        "KOM nasjonalt seminar",
        "--title",
        "Seminaret holdes digitalt",
        "--event-date",
        "2022-10-26",
        "--text",
        "KOM arrangerer seminaret 26. oktober. Se [her](https://www.politiet.no/seminar).",
    )
    assert note.exit_code == 0 and "added kom:1" in note.stdout
    item = inbox(ws)[0]
    invoke(ws, "issue", "add", "2022-q2", item["id"])
    moved = invoke(ws, "issue", "move", "2022-q2", item["id"], "--section", "highlights", "--heading", "Viktig")
    assert moved.exit_code == 0 and "moved to highlights:1" in moved.stdout
    data = outline(ws)
    assert data["sections"]["highlights"][0]["item"] == item["id"]
    assert data["sections"]["highlights"][0]["heading"] == "Viktig"
    assert data["sections"]["kom"][0]["event_date"] == "2022-10-26"
    assert not data["sections"][item["section"]] or item["section"] == "highlights"
    removed = invoke(ws, "issue", "remove", "2022-q2", "highlights:1")
    assert removed.exit_code == 0
    assert outline(ws)["sections"]["highlights"] == []
    # Taken out, the item is skipped: out of the inbox (and of a later draft) until unskipped.
    assert item["id"] not in [i["id"] for i in inbox(ws)]
    assert f"skipped {item['id']}: out of the list and of `issue draft`" in removed.stdout
    assert invoke(ws, "issue", "unskip", item["id"]).exit_code == 0
    assert item["id"] in [i["id"] for i in inbox(ws)]
    missing = invoke(ws, "issue", "remove", "2022-q2", "kom:5")
    assert missing.exit_code == 1 and "has no entry kom:5 (section kom has 1 entries)" in missing.stderr


def test_remove_and_move_mend_a_file_whose_entries_cite_one_item_twice(ws):
    """`issue check` says to delete one of two entries citing one item (a block pasted twice by hand);
    `issue remove` and `issue move` do so on the file as it stands, not refuse it for that very error.
    A file with an entry that cannot be read in its place is still refused: positions would not hold."""
    invoke(ws, "issue", "new", "2022-q2")
    first, second = (item["id"] for item in inbox(ws)[:2])
    assert invoke(ws, "issue", "add", "2022-q2", first, second, "--section", "kom", "--heading", "KOM").exit_code == 0
    path = ws / "issues" / "2022-q2.yaml"
    valid = issue_text(ws)
    entries = valid[valid.index("  kom:\n") + len("  kom:\n") :]
    blocks = re.split(r"(?m)^(?=    - )", entries)
    doubled = valid.replace(blocks[1], blocks[1] + blocks[1], 1)  # the first entry pasted twice
    path.write_text(doubled, encoding="utf-8")
    check = invoke(ws, "issue", "check", "2022-q2")
    assert check.exit_code == 1 and f"kom:2 cites item '{first}', as kom:1" in check.stderr
    assert invoke(ws, "issue", "add", "2022-q2", inbox(ws)[0]["id"]).exit_code == 1  # other changes wait
    # The id names both: refused, not the first taken (perhaps the one the editor wrote); the advice names places.
    ambiguous = invoke(ws, "issue", "remove", "2022-q2", first)
    assert ambiguous.exit_code == 1 and f"item {first} is cited by kom:1 and kom:2 in 2022-q2" in ambiguous.stderr
    assert f"`newsletter issue remove 2022-q2 {first}`" not in check.output
    assert "or the entry (`newsletter issue remove 2022-q2 kom:2`)" in check.output
    removed = invoke(ws, "issue", "remove", "2022-q2", "kom:2")
    assert removed.exit_code == 0, removed.output
    assert "still picked: another entry cites it" in removed.stdout
    assert issue_text(ws) == valid and invoke(ws, "issue", "check", "2022-q2").exit_code == 0
    # Moving the copy to another section leaves the file no worse: one error where there were two.
    path.write_text(doubled, encoding="utf-8")
    moved = invoke(ws, "issue", "move", "2022-q2", "kom:2", "--section", "highlights")
    assert moved.exit_code == 0, moved.output
    check = invoke(ws, "issue", "check", "2022-q2")
    assert f"kom:1 cites item '{first}', as highlights:1" in check.stderr and "repeats" not in check.stderr
    # An entry that is no entry (a line of text: validation leaves it out, and the positions after it
    # would name other entries) stops them, as every command.
    broken = doubled.replace(blocks[1], "    - a line of text\n" + blocks[1], 1)
    path.write_text(broken, encoding="utf-8")
    refused = invoke(ws, "issue", "remove", "2022-q2", "kom:2")
    assert refused.exit_code == 1 and issue_text(ws) == broken


def test_move_before_another_entry(ws):
    invoke(ws, "issue", "new", "2022-q2")
    for n in (1, 2, 3):
        invoke(
            ws,
            "issue",
            "note",
            "2022-q2",
            "--section",
            "kom",
            "--heading",
            "Møter",
            "--title",
            f"Møte {n}",
            "--text",
            f"Tekst {n}.",
        )
    assert invoke(ws, "issue", "move", "2022-q2", "kom:3", "--section", "kom", "--before", "kom:1").exit_code == 0
    assert [e["title"] for e in outline(ws)["sections"]["kom"]] == ["Møte 3", "Møte 1", "Møte 2"]
    assert invoke(ws, "issue", "move", "2022-q2", "kom:1", "--section", "kom", "--before", "kom:3").exit_code == 0
    assert [e["title"] for e in outline(ws)["sections"]["kom"]] == ["Møte 1", "Møte 3", "Møte 2"]


def test_move_run_moves_a_headings_whole_block_in_one_command(ws):
    """A heading's block out of order is one `issue move --run`, not one command per entry."""
    invoke(ws, "issue", "new", "2022-q2")
    for heading, title in [
        ("Møter", "Møte 1"),
        ("Rapporter", "Rapport 1"),
        ("Rapporter", "Rapport 2"),
        ("Rapporter", "Rapport 3"),
    ]:
        note = ["--section", "kom", "--heading", heading, "--title", title, "--text", f"{title}."]
        assert invoke(ws, "issue", "note", "2022-q2", *note).exit_code == 0
    titles = lambda: [(e["heading"], e["title"]) for e in outline(ws)["sections"]["kom"]]  # noqa: E731
    inside = invoke(ws, "issue", "move", "2022-q2", "kom:2", "--run", "--before", "kom:3")
    assert inside.exit_code == 2 and "--before kom:3 is one of the entries moved with kom:2 (--run)" in inside.stderr
    there = invoke(ws, "issue", "move", "2022-q2", "kom:3", "--run", "--before", "kom:2")
    assert there.exit_code == 2 and "kom:3 and the entries moved with it (--run) stand there already" in there.stderr
    moved = invoke(ws, "issue", "move", "2022-q2", "kom:3", "--run", "--before", "kom:1")
    assert moved.exit_code == 0, moved.output
    said, block = moved.stdout.splitlines()[-2:]
    assert said.startswith("moved to kom:2  [Rapporter]  Rapport 2"), said  # the entry named, where it went
    assert block == "  with the 2 other entries under «Rapporter» next to it, in their order"
    assert titles() == [
        ("Rapporter", "Rapport 1"),
        ("Rapporter", "Rapport 2"),
        ("Rapporter", "Rapport 3"),
        ("Møter", "Møte 1"),
    ]
    # With a new heading the whole block is renamed; without --run only the entry moves.
    assert invoke(ws, "issue", "move", "2022-q2", "kom:1", "--run", "--heading", "Publikasjoner").exit_code == 0
    publications = [("Publikasjoner", f"Rapport {n}") for n in (1, 2, 3)]
    assert titles() == [("Møter", "Møte 1"), *publications]  # a new heading goes after the others
    assert invoke(ws, "issue", "move", "2022-q2", "kom:4", "--before", "kom:2").exit_code == 0
    assert titles() == [("Møter", "Møte 1"), publications[2], *publications[:2]]


def test_skip_and_unskip_persist_across_quarters(ws):
    item = inbox(ws)[0]
    assert invoke(ws, "issue", "skip", item["id"]).exit_code == 0
    assert item["id"] not in [i["id"] for i in inbox(ws)]
    assert item["id"] not in [i["id"] for i in json.loads(invoke(ws, "items", "--json").stdout)]
    assert invoke(ws, "issue", "unskip", item["id"]).exit_code == 0
    assert item["id"] in [i["id"] for i in inbox(ws)]


def test_draft_fills_the_issue_from_the_inbox(ws):
    invoke(ws, "issue", "new", "2022-q2")
    candidates = inbox(ws)
    result = invoke(ws, "issue", "draft", "2022-q2")
    assert result.exit_code == 0 and f"{len(candidates)} entries added" in result.stdout
    data = outline(ws)
    assert sorted(e["item"] for entries in data["sections"].values() for e in entries) == sorted(
        i["id"] for i in candidates
    )
    # The entries it added are its guesses, not the editor's decisions: nothing learns from them while
    # they stand as it wrote them, so the list is the keyword order still, and the one item left, below
    # the keyword threshold, is listed with `--all` only, as the draft sees it.
    assert inbox(ws) == []
    (left,) = inbox(ws, "--all")
    assert left["id"] not in {i["id"] for i in candidates}, left
    # A second draft learns from decisions, not from the entries the first one added (untouched since):
    # with nothing else, it is the keyword order again, and the item below the threshold stays out.
    again = invoke(ws, "issue", "draft", "2022-q2")
    assert again.exit_code == 0 and again.stdout == (
        "nothing added to 2022-q2: 1 undecided item of 2022-q2's quarter scores below the keyword threshold, "
        "with nothing learned yet; `newsletter items --issue 2022-q2 --all` lists it\n"
    ), again.output
    assert sorted((ws / "var" / "drafted" / "2022-q2.txt").read_text(encoding="utf-8").split()) == sorted(
        i["id"] for i in candidates
    )


def test_draft_undo_takes_out_the_untouched_drafted_entries_and_keeps_the_editors(ws):
    """A draft at too low a bar fills the issue with dozens of entries: --undo takes back what the editor
    has not touched, the items undecided again (no decision was made), and keeps what the editor worked on."""
    invoke(ws, "issue", "new", "2022-q2")
    note = ["--section", "kom", "--heading", "KOM", "--title", "Seminar", "--text", "KOM holder seminar i høst."]
    assert invoke(ws, "issue", "note", "2022-q2", *note).exit_code == 0
    before = issue_text(ws)
    candidates = [i["id"] for i in inbox(ws)]
    assert invoke(ws, "issue", "draft", "2022-q2").exit_code == 0
    accepted, written, retitled, moved, *_ = candidates
    assert invoke(ws, "issue", "accept", "2022-q2", accepted).exit_code == 0
    path = ws / "issues" / "2022-q2.yaml"
    text = issue_text(ws)
    start = text.index(f"item: {written}")
    line = text.rindex("      text: ", 0, start)
    text = text[:line] + "      text: Redaktørens egen tekst.\n" + text[text.index("\n", line) + 1 :]
    start = text.index(f"item: {retitled}")
    line = text.rindex("      title: ", 0, start)
    path.write_text(text[:line] + "      title: Redaktørens egen tittel\n" + text[text.index("\n", line) + 1 :])
    # Moved under a heading of the editor's with `issue move`: the editor placed it, so it stays.
    assert invoke(ws, "issue", "move", "2022-q2", moved, "--heading", "Egen overskrift").exit_code == 0
    undone = invoke(ws, "issue", "draft", "2022-q2", "--undo")
    assert undone.exit_code == 0, undone.output
    summary, kept = undone.stdout.splitlines()[-2:]
    assert summary == (
        f"{len(candidates) - 4} drafted entries taken out of 2022-q2, {len(candidates) - 4} items undecided again; "
        "4 drafted entries you changed kept"
    )
    assert kept.startswith(f"  the entries taken out are kept in {ws / 'var' / 'removed-entries'}/2022-q2-")
    kept_text = Path(kept.split(" kept in ")[1].split(",")[0]).read_text(encoding="utf-8")
    assert f"item: {candidates[-1]}" in kept_text and "heading: Egen overskrift" not in kept_text
    left = outline(ws)["sections"]
    assert sorted(e.get("item") or e["title"] for entries in left.values() for e in entries) == sorted(
        [accepted, written, retitled, moved, "Seminar"]
    )
    listed = [i["id"] for i in inbox(ws)]
    # Undecided, not skipped (learning from the four kept, the list holds every undecided item now).
    assert set(listed) >= set(candidates) - {accepted, written, retitled, moved}
    assert not {accepted, written, moved} & set(listed)
    assert (ws / "var" / "drafted" / "2022-q2.txt").read_text(encoding="utf-8").splitlines() == sorted(
        [accepted, written, retitled, f"{moved} moved"]
    )
    again = invoke(ws, "issue", "draft", "2022-q2", "--undo")
    assert again.stdout.endswith(
        "0 drafted entries taken out of 2022-q2, 0 items undecided again; 4 drafted entries you changed kept\n"
    )
    # The file put back by hand after a draft (`git checkout`): the store still marks the items picked;
    # check says so in one warning with one command, and --undo makes them undecided again.
    redraft = invoke(ws, "issue", "draft", "2022-q2", "--likely", "5")  # a low bar, as the slip it undoes
    redrafted = re.findall(r"\(item (\w+)\)$", redraft.stdout, re.M)
    assert redraft.exit_code == 0 and len(redrafted) >= 2, redraft.output
    path.write_text(before, encoding="utf-8")
    nowhere = {*redrafted, accepted, written, retitled, moved}
    check = invoke(ws, "issue", "check", "2022-q2")
    (warning,) = [line for line in check.output.splitlines() if "marked picked" in line]
    assert f"{len(nowhere)} items of this quarter are marked picked, but no issue cites them" in warning
    ids = re.search(r"`newsletter issue unskip ([\w ]+)` puts them back among the candidates", warning)
    assert ids and sorted(ids.group(1).split()) == sorted(nowhere), warning
    assert "`newsletter issue draft 2022-q2 --undo` for those a draft added" in warning
    barred = invoke(ws, "issue", "draft", "2022-q2", "--undo", "--likely", "10")
    assert barred.exit_code == 2 and "--likely: not with --undo" in barred.stderr
    undone = invoke(ws, "issue", "draft", "2022-q2", "--undo")
    assert undone.stdout == f"0 drafted entries taken out of 2022-q2, {len(nowhere)} items undecided again\n"
    assert sorted(i["id"] for i in inbox(ws)) == sorted(candidates) and issue_text(ws) == before
    assert "marked picked" not in invoke(ws, "issue", "check", "2022-q2").output


def test_entries_taken_out_of_a_draft_stay_out_of_the_next_draft(ws):
    """The editor prunes what the draft added; drafting again (after a collect, say) must not add it back."""
    invoke(ws, "issue", "new", "2022-q2")
    assert invoke(ws, "issue", "draft", "2022-q2").exit_code == 0
    before = outline(ws)
    (key, entries), *_ = [(k, e) for k, e in before["sections"].items() if len(e) >= 2]
    pruned = [entries[0]["item"], entries[1]["item"]]
    # Several places at once, each read as the file stood: both named entries go, not the one that slid up.
    removed = invoke(ws, "issue", "remove", "2022-q2", f"{key}:1", f"{key}:2")
    assert removed.exit_code == 0, removed.output
    assert removed.stdout.count("removed ") == 2
    assert f"  skipped {' '.join(pruned)}: out of the list and of `issue draft`" in removed.stdout
    after = outline(ws)
    assert [e["item"] for e in after["sections"][key]] == [e["item"] for e in entries[2:]]
    again = invoke(ws, "issue", "draft", "2022-q2")
    assert again.exit_code == 0, again.output
    drafted = [e["item"] for section in outline(ws)["sections"].values() for e in section]
    assert not set(pruned) & set(drafted)
    # With --undecided the editor means to file it again: back among the candidates.
    placed = next(e["item"] for e in outline(ws)["sections"][key])
    back = invoke(ws, "issue", "remove", "2022-q2", placed, "--undecided")
    assert back.exit_code == 0 and f"back in the inbox, undecided: `newsletter issue skip {placed}`" in back.stdout
    assert placed in [i["id"] for i in inbox(ws)]
    # A ref naming no entry changes nothing, even beside good ones.
    entries_now = outline(ws)["sections"]
    bad = invoke(ws, "issue", "remove", "2022-q2", f"{key}:1", f"{key}:99")
    assert bad.exit_code == 1 and f"has no entry {key}:99" in bad.stderr
    assert outline(ws)["sections"] == entries_now


def test_the_inbox_ends_with_how_far_to_read_or_why_the_order_is_the_keyword_order(ws):
    invoke(ws, "issue", "new", "2022-q2")
    keyword = invoke(ws, "items", "--issue", "2022-q2", "--limit", "1")
    total = len(inbox(ws))
    assert keyword.stderr.splitlines() == [
        f"-- {total - 1} more below, by keyword score: nothing to learn from yet (no entries of earlier issues in "
        "issues/, not both a pick and a non-pick among the items, and fewer than 3 picks); `--all` lists every "
        "undecided item of the quarter"
    ]
    first, second, *_ = inbox(ws)
    invoke(ws, "issue", "add", "2022-q2", first["id"])
    invoke(ws, "issue", "skip", second["id"])
    ranked = inbox(ws)
    expected = math.floor(sum(i["probability"] for i in ranked[1:]) + 0.5)
    likely = f"about {expected} likely pick{'' if expected == 1 else 's'}"
    learned = invoke(ws, "items", "--issue", "2022-q2", "--limit", "1")
    assert learned.stderr.splitlines() == [  # one line shown: none above a likelier one, no note
        f"-- {likely} in the {len(ranked) - 1} items below "
        "(learned from 1 pick and 1 non-pick; no entries of earlier issues in issues/ to learn from)"
    ]
    whole = invoke(ws, "items", "--issue", "2022-q2")
    # Sources with few items picked or skipped are moved up (`ranking.EXPLORE_LIFT`): the list is not in
    # the order of its probabilities, so it is not "best first", the line above the estimate says why,
    # and `show` says it of a moved item.
    from newsletter.curate.ranking import MOVED_UP_NOTE

    shown = [float(line.split()[1].rstrip("%")) for line in whole.stdout.splitlines()]
    assert shown != sorted(shown, reverse=True)
    assert whole.stderr.splitlines()[0] == f"-- {MOVED_UP_NOTE}" and len(whole.stderr.splitlines()) == 2
    assert whole.stderr.splitlines()[1].startswith(f"-- {len(ranked)} undecided items, about ")
    said = "listed higher, so the ranking learns what you choose from it"
    moved = next(i for i in ranked if any(said in w for w in i["why"]))
    assert said in invoke(ws, "show", moved["id"]).stdout
    # Filtered to one source, whose items are lifted alike: in order, best first, no note.
    alone = invoke(ws, "items", "--issue", "2022-q2", "--source", ranked[0]["source"])
    assert len(alone.stderr.splitlines()) == 1 and ", best first, " in alone.stderr


def test_after_a_draft_the_estimate_below_counts_its_entries_as_likely_picks_not_certain_ones(ws):
    """A draft's untouched entries are unread guesses: the picks still expected below the list are what the
    ranking gave the other items before the draft, not the quarter's expected picks less one per entry (a
    draft of 23 entries of which 8 were picks left "about 3 likely picks" below where 15 were)."""
    invoke(ws, "issue", "new", "2022-q2")
    first, second, *_ = inbox(ws)
    invoke(ws, "issue", "add", "2022-q2", first["id"])
    invoke(ws, "issue", "skip", second["id"])
    before = inbox(ws)
    bar = sorted(i["probability"] for i in before)[len(before) // 2]
    drafted = invoke(ws, "issue", "draft", "2022-q2", "--likely", str(math.ceil(bar * 100)))
    assert drafted.exit_code == 0 and "entries added" in drafted.stdout, drafted.output
    after = inbox(ws)
    added = {i["id"] for i in before} - {i["id"] for i in after}
    assert added and len(after) == len(before) - len(added)
    # The same model (the draft's entries are not learned from), the same probabilities, minus the drafted.
    assert {i["id"]: i["probability"] for i in after} == pytest.approx(
        {i["id"]: i["probability"] for i in before if i["id"] not in added}
    )
    left = sum(i["probability"] for i in after)
    assert left == pytest.approx(
        sum(i["probability"] for i in before) - sum(i["probability"] for i in before if i["id"] in added)
    )
    assert left > sum(i["probability"] for i in before) - len(added) + 0.5
    # A drafted entry moved with `issue move` is placed by the editor: a pick learned from.
    listed = invoke(ws, "items", "--issue", "2022-q2")
    assert f"not from the {len(added)} items drafts added that you have not touched yet" in listed.stderr
    moved = sorted(added)[0]
    assert invoke(ws, "issue", "move", "2022-q2", moved, "--heading", "Egen overskrift").exit_code == 0
    relisted = invoke(ws, "items", "--issue", "2022-q2")
    touched = "the item a draft added" if len(added) == 2 else f"the {len(added) - 1} items drafts added"
    assert f"not from {touched} that you have not touched yet" in relisted.stderr, relisted.stderr


def test_draft_checks_the_issue_even_with_nothing_to_add(ws):
    for item in inbox(ws):
        invoke(ws, "issue", "skip", item["id"])
    missing = invoke(ws, "issue", "draft", "2023-q1")
    assert missing.exit_code == 1 and "2023-q1.yaml: no such issue; create it with" in missing.stderr
    invoke(ws, "issue", "new", "2022-q2")
    path = ws / "issues" / "2022-q2.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\tbroken: [\n", encoding="utf-8")
    broken = invoke(ws, "issue", "draft", "2022-q2")
    assert broken.exit_code == 1 and "2022-q2.yaml, line" in broken.stderr


def test_draft_says_why_it_adds_nothing_when_no_candidate_is_likely_enough(ws, monkeypatch):
    # A quarter of a handful of items makes some likely; a bar none reaches stands for a thin quarter.
    monkeypatch.setattr("newsletter.curate.ranking.MAX_PICK_SHARE", 0.9)
    invoke(ws, "issue", "new", "2022-q2")
    first, second, *_ = inbox(ws)
    invoke(ws, "issue", "add", "2022-q2", first["id"])
    invoke(ws, "issue", "skip", second["id"])
    # The likeliest listed last, as a source moved up past it would list it (`ranking.EXPLORE_LIFT`):
    # the draft names the likeliest, not the first listed.
    from newsletter.curate import edit

    ranked_candidates = edit.ranked_candidates

    def likeliest_last(*args, **kwargs):
        ranked, ranking = ranked_candidates(*args, **kwargs)
        best = max(ranked, key=lambda i: i.probability or 0.0)
        return [i for i in ranked if i is not best] + [best], ranking

    monkeypatch.setattr(edit, "ranked_candidates", likeliest_last)
    listed = inbox(ws)  # learned now, from one pick and one skip
    assert listed and all(i["probability"] < 0.99 for i in listed), listed
    before = issue_text(ws)
    result = invoke(ws, "issue", "draft", "2022-q2", "--likely", "99")
    best = max(listed, key=lambda i: i["probability"])  # not the first listed: sources judged little move up
    assert best["id"] != listed[0]["id"]
    assert result.exit_code == 0 and issue_text(ws) == before
    assert result.stdout.startswith(
        f"nothing added to 2022-q2: no candidate is 99% likely to be picked yet (the most likely, {best['id']} «"
    )
    # Floored (never "50%" for 49.7% < 50%), and the likely picks `items` counts are said to be spread.
    said = invoke(ws, "items", "--issue", "2022-q2").stderr  # "-- N undecided items, …, about K likely picks …"
    likely = re.search(r"about \d+ likely picks?", said).group(0)
    assert sum(i["probability"] for i in listed) >= 1.5  # MAX_PICK_SHARE raised above: several picks in a few
    assert (
        f"is {math.floor(best['probability'] * 100)}%; {likely} are spread over the "
        f"{len(listed)} undecided items, none of them likely enough alone); add with"
    ) in result.stdout
    assert "`newsletter issue triage 2022-q2`" in result.stdout
    # A lower bar adds those over it, best first, and only those.
    bar = math.floor(listed[1]["probability"] * 100)
    lowered = invoke(ws, "issue", "draft", "2022-q2", "--likely", str(bar))
    assert lowered.exit_code == 0, lowered.output
    over = {i["id"] for i in listed if i["probability"] * 100 >= bar}
    drafted = {e["item"] for es in outline(ws)["sections"].values() for e in es} - {first["id"]}
    assert len(over) >= 2 and drafted == over, (drafted, over)
    assert invoke(ws, "issue", "draft", "2022-q2", "--likely", "0").exit_code == 2


def test_show_prints_the_outline_with_refs(ws):
    invoke(ws, "issue", "new", "2022-q2")
    invoke(
        ws,
        "issue",
        "note",
        "2022-q2",
        "--section",
        "kom",
        "--heading",
        "Møter",
        "--title",
        "Et møte",
        "--text",
        "Tekst.",
    )
    text = invoke(ws, "issue", "show", "2022-q2").stdout
    assert "kom: KOMs hovedaktiviteter i april–juni 2022" in text
    assert "  Møter\n    kom:1  Et møte" in text
    assert "highlights: Verdt å merke seg  (empty)" in text


def written_by_hand(ws, section: str, heading: str, text: str, issue_id: str = "2022-q2") -> None:
    """A note whose text the editor typed into the issue file (where `issue note` would refuse it)."""
    assert (
        invoke(ws, "issue", "note", issue_id, "--section", section, "--heading", heading, "--text", "PLASS").exit_code
        == 0
    )
    path = ws / "issues" / f"{issue_id}.yaml"
    # JSON's string is YAML's double-quoted scalar: any text, on one line.
    path.write_text(
        path.read_text(encoding="utf-8").replace("text: PLASS", "text: " + json.dumps(text)), encoding="utf-8"
    )


def test_check_reports_errors_with_exit_1_then_passes_when_fixed(ws):
    invoke(ws, "issue", "new", "2022-q2")
    item = inbox(ws)[0]
    invoke(ws, "issue", "add", "2022-q2", item["id"])
    result = invoke(ws, "issue", "check", "2022-q2")
    assert result.exit_code == 0  # a starting text is a warning: the editor may keep it (`issue accept`)
    assert "still has the starting text" in result.stdout
    written_by_hand(ws, "kom", "H", "Se [her](rapport.pdf).")
    result = invoke(ws, "issue", "check", "2022-q2")
    assert result.exit_code == 1
    assert (
        "text: kom:1 links to 'rapport.pdf', which is no http(s) or mailto address: write the page's full https:// "
        "address in its `text`\n"
    ) in result.stderr
    assert invoke(ws, "issue", "remove", "2022-q2", "kom:1").exit_code == 0
    # The editor rewrites the blurb, fills every section and sets the date: the check passes.
    path = ws / "issues" / "2022-q2.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("text: ", text.index(f"item: {item['id']}") - 2000)
    end = text.index("\n", start)
    path.write_text(
        text[:start] + "text: Ny omtale skrevet av redaktøren. Se [her](" + item["url"] + ")." + text[end:],
        encoding="utf-8",
    )
    text = path.read_text(encoding="utf-8").replace("published:\n", "published: 2022-07-05\n")
    path.write_text(text, encoding="utf-8")
    for n, section in enumerate(("highlights", "kom", "norway", "international", "events")):
        invoke(
            ws,
            "issue",
            "note",
            "2022-q2",
            "--section",
            section,
            "--heading",
            "Tema",
            "--title",
            f"Sak {n}",
            "--text",
            f"Tekst {n}. Se [her](https://www.example.org/{n}).",
        )
    checked = invoke(ws, "issue", "check", "2022-q2", "--json")
    problems = json.loads(checked.stdout)
    assert checked.exit_code == 0, problems
    assert not [p for p in problems if p["level"] == "error"]
    states = json.loads(invoke(ws, "issue", "list", "--json").stdout)
    assert states[0]["id"] == "2022-q2" and states[0]["state"] == "checked"


def test_a_broken_file_is_one_line_with_its_line_and_nothing_is_written(ws):
    invoke(ws, "issue", "new", "2022-q2")
    path = ws / "issues" / "2022-q2.yaml"
    broken = path.read_text(encoding="utf-8").replace("  kom: []", "  kom: [\n  nope")
    path.write_text(broken, encoding="utf-8")
    result = invoke(ws, "issue", "note", "2022-q2", "--section", "kom", "--heading", "H", "--text", "T")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}, line ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert path.read_text(encoding="utf-8") == broken


def test_items_issue_shows_only_undecided(ws):
    all_items = inbox(ws)
    invoke(ws, "issue", "new", "2022-q2")
    invoke(ws, "issue", "add", "2022-q2", all_items[0]["id"])
    invoke(ws, "issue", "skip", all_items[1]["id"])
    listed = inbox(ws)
    ids = [i["id"] for i in listed]
    assert all_items[0]["id"] not in ids and all_items[1]["id"] not in ids
    # A pick and a skip are something to learn from: the ranking orders the rest, every undecided
    # item of the quarter is listed (also those below the keyword threshold), each with its probability.
    assert set(ids) >= {i["id"] for i in all_items[2:]}
    assert all(0.0 <= i["probability"] <= 1.0 for i in listed)
    # Best first within each source (a source none of whose items is decided this quarter is listed
    # higher as a whole: `ranking.EXPLORE_LIFT`), but a twin, listed right after its partner.
    for source in {i["source"] for i in listed}:
        in_order = [i["probability"] for i in listed if not i["goes_with"] and i["source"] == source]
        assert in_order == sorted(in_order, reverse=True), source
    for before, item in zip(listed, listed[1:]):
        assert item["goes_with"] in (None, before["id"])
        assert bool(item["goes_with"]) == any(w.startswith(f"goes with {item['goes_with']} ") for w in item["why"])


def test_show_prints_the_ranking_of_an_undecided_item_and_none_once_decided(ws):
    all_items = inbox(ws)
    invoke(ws, "issue", "new", "2022-q2")
    invoke(ws, "issue", "add", "2022-q2", all_items[0]["id"])
    invoke(ws, "issue", "skip", all_items[1]["id"])
    listed = {i["id"]: i for i in inbox(ws)}
    undecided = all_items[2]["id"]
    shown = json.loads(invoke(ws, "show", undecided, "--json").stdout)
    assert shown["probability"] == listed[undecided]["probability"] and shown["why"] == listed[undecided]["why"]
    text = invoke(ws, "show", undecided).stdout
    # Whole percent rounded down, as the list shows it (`listing.percent`).
    assert f"probability:    {math.floor(listed[undecided]['probability'] * 100 + 1e-9)}% likely to be picked" in text
    if shown["why"]:
        assert "why:            " + ", ".join(shown["why"]) in text
    decided = json.loads(invoke(ws, "show", all_items[1]["id"], "--json").stdout)
    assert decided["status"] == "skipped" and decided["probability"] is None


def test_add_files_an_item_where_past_issues_filed_its_like_unless_told(ws):
    candidates = inbox(ws)
    item = next(i for i in candidates if i["section"] != "international" and i["summary"])
    other = next(i for i in candidates if i["id"] != item["id"] and i["section"] != "international")
    invoke(ws, "issue", "new", "2022-q1")
    noted = invoke(
        ws,
        "issue",
        "note",
        "2022-q1",
        "--section",
        "international",
        "--heading",
        "Lært overskrift",
        "--title",
        item["title"],
        "--text",
        # Past entries are filed by the site they cite: another page of the item's site (a link to the
        # item itself would make it that issue's pick, no candidate now).
        f"{item['summary']} [Les mer]({item['url'].rstrip('/')}/omtale)",
    )
    assert noted.exit_code == 0, noted.output
    invoke(ws, "issue", "new", "2022-q2")
    assert invoke(ws, "issue", "add", "2022-q2", item["id"]).exit_code == 0
    sections = outline(ws)["sections"]
    assert [(e["item"], e["heading"]) for e in sections["international"]] == [(item["id"], "Lært overskrift")]
    # Told where: the editor's section and heading win over the suggestion.
    told = invoke(ws, "issue", "add", "2022-q2", other["id"], "--section", "kom", "--heading", "Egen")
    assert told.exit_code == 0, told.output
    assert [(e["item"], e["heading"]) for e in outline(ws)["sections"]["kom"]] == [(other["id"], "Egen")]


def test_a_past_heading_naming_another_year_is_not_suggested(ws):
    candidates = inbox(ws)
    item = next(i for i in candidates if i["section"] != "international" and i["summary"] and "2019" not in i["title"])
    invoke(ws, "issue", "new", "2022-q1")
    noted = invoke(
        ws,
        "issue",
        "note",
        "2022-q1",
        "--section",
        "international",
        "--heading",
        "Tilstandsrapport 2019",  # made for one issue: next year's report is not 2019's
        "--title",
        item["title"],
        "--text",
        f"{item['summary']} [Les mer]({item['url'].rstrip('/')}/omtale)",
    )
    assert noted.exit_code == 0, noted.output
    invoke(ws, "issue", "new", "2022-q2")
    listed = {i["id"]: i for i in inbox(ws, "--issue", "2022-q2", "--all")}
    assert (listed[item["id"]]["section"], listed[item["id"]]["heading"]) == (item["section"], item["heading"])
    assert any(w.startswith("like «") for w in listed[item["id"]]["why"])  # the entry was close: it was the year


def test_adding_under_a_configured_heading_naming_another_year_says_so_and_where(ws):
    """feeds.yaml's heading is the editor's word and is kept, but a year in it («KOM tilstandsrapport 2021
    publisert» for the 2023 report) is said at once: by `issue add`, `issue draft` and triage's add, with
    the command that moves the entry and the line of feeds.yaml to change."""
    listed = [i for i in inbox(ws) if "2019" not in i["title"] + i["summary"]]
    key = max({i["source"] for i in listed}, key=lambda k: sum(i["source"] == k for i in listed))
    first, second = [i for i in listed if i["source"] == key][:2]
    feeds = ws / "feeds.yaml"
    lines = feeds.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(n for n, text in enumerate(lines) if text.strip() == f"- key: {key}")
    at = next(n for n in range(start, len(lines)) if lines[n].strip().startswith("heading:"))
    heading = lines[at].split(":", 1)[1].strip() + " 2019"
    lines[at] = lines[at].rstrip("\n") + " 2019\n"
    feeds.write_text("".join(lines), encoding="utf-8")
    section = first["section"]
    invoke(ws, "issue", "new", "2022-q2")

    def ref_of(item_id):
        entries = outline(ws)["sections"][section]
        return next(f"{section}:{n}" for n, e in enumerate(entries, 1) if e["item"] == item_id)

    def note(ref, title):
        return (
            f"note: {ref} «{title}» is filed under «{heading}», feeds.yaml's heading for {key}, which names 2019; "
            f"the item names no such year. `newsletter issue move 2022-q2 {ref} --heading HEADING` files it under "
            f"another; for later issues, take the year out of {key}'s `heading:` in feeds.yaml (the source at "
            f"line {start + 1})"
        )

    added = invoke(ws, "issue", "add", "2022-q2", first["id"])
    assert added.exit_code == 0, added.output
    ref = ref_of(first["id"])
    assert added.stdout.splitlines()[1:] == ["  " + note(ref, first["title"])]
    assert outline(ws)["sections"][section][int(ref.split(":")[1]) - 1]["heading"] == heading  # kept
    # The same heading typed is the editor's word for this item: nothing to say.
    told = invoke(ws, "issue", "add", "2022-q2", second["id"], "--section", section, "--heading", heading)
    assert told.exit_code == 0 and "note:" not in told.stdout, told.output
    # `issue draft` says it, once for the entries it files there.
    for item in (first, second):
        assert invoke(ws, "issue", "remove", "2022-q2", item["id"], "--undecided").exit_code == 0
    drafted = invoke(ws, "issue", "draft", "2022-q2", "--likely", "1")
    assert drafted.exit_code == 0, drafted.output
    under = [f"{section}:{n}" for n, e in enumerate(outline(ws)["sections"][section], 1) if e["heading"] == heading]
    assert ref_of(first["id"]) in under and ref_of(second["id"]) in under
    assert drafted.stdout.count("note:") == 1, drafted.stdout
    assert f"  note: {', '.join(under)} are filed under «{heading}»" in drafted.stdout, drafted.stdout
    # And triage's add (`a`): taken out again, then added from the card.
    for item in (first, second):
        assert invoke(ws, "issue", "remove", "2022-q2", item["id"], "--undecided").exit_code == 0
    entries = outline(ws)["sections"]
    for each in [e for sec in entries.values() for e in sec if e.get("item") not in (first["id"], second["id"])]:
        assert invoke(ws, "issue", "remove", "2022-q2", each["item"], "--undecided").exit_code == 0
    keys = "".join("a" if i["id"] == first["id"] else "l" for i in inbox(ws)) + "q"
    triaged = invoke(ws, "issue", "triage", "2022-q2", input="\n".join(keys) + "\n")
    assert triaged.exit_code == 0, triaged.output
    assert note(ref_of(first["id"]), first["title"]) in " ".join(triaged.stdout.split()), triaged.stdout


def test_another_years_heading_only_when_the_item_names_none_of_its_years():
    from newsletter.curate.inbox import another_years_heading
    from newsletter.models import Item

    report = Item(id="a", source="s", url="https://x.no/r", title="Tilstandsrapport for 2024", summary="")
    assert another_years_heading("Tilstandsrapport 2023", report)
    assert not another_years_heading("Tilstandsrapport 2024", report)
    assert not another_years_heading("Stortinget", report)
    assert not another_years_heading("Lov 12345 om noe", report)  # a number is not a year
    later = Item(id="b", source="s", url="https://x.no/s", title="Statusrapport", summary="Tiltak for 2021–2024.")
    assert not another_years_heading("Handlingsplan 2021", later)  # the summary names it


# ---------------------------------------------------------------------- triage


def test_a_stray_enter_or_space_in_triage_shows_the_keys_and_quits_nothing(ws):
    invoke(ws, "issue", "new", "2022-q2")
    result = invoke(ws, "issue", "triage", "2022-q2", input="\n s")  # then the input runs out: quit
    assert result.exit_code == 0, result.output
    # One key a line (one line of them all ran past 200 characters).
    assert result.stdout.count("  keys:\n    a  add to the suggested section and heading\n    c  choose") == 2
    assert "added 0, skipped 1, later 0" in result.stdout


def test_triage_adds_skips_leaves_and_quits_then_resumes(ws, monkeypatch):
    invoke(ws, "issue", "new", "2022-q2")
    candidates = inbox(ws)
    assert len(candidates) >= 4
    opened = []
    monkeypatch.setattr("newsletter.curate.triage.open_in_browser", lambda url: opened.append(url) or True)
    # add the first, open then skip the second, leave the third, quit at the fourth.
    first = invoke(ws, "issue", "triage", "2022-q2", input="aoslq")
    assert first.exit_code == 0, first.output
    assert f"[1/{len(candidates)}] {candidates[0]['title']}" in first.stdout
    assert "added 1, skipped 1, later 1" in first.stdout
    assert "\n  skipped\n" in first.stdout and "\n  left for later\n" in first.stdout
    assert opened == [candidates[1]["url"]]
    assert outline(ws)["sections"][candidates[0]["section"]][0]["item"] == candidates[0]["id"]
    remaining = [i["id"] for i in inbox(ws)]
    assert candidates[0]["id"] not in remaining and candidates[1]["id"] not in remaining
    assert remaining[0] == candidates[2]["id"]  # left for later: still undecided, first again
    # Resume: the decided ones do not come back; choose a section and heading for the next one.
    second = invoke(ws, "issue", "triage", "2022-q2", input="ckom\nMøter med partnere\nq")
    assert second.exit_code == 0, second.output
    assert f"[1/{len(remaining)}]" in second.stdout
    kom = outline(ws)["sections"]["kom"]
    assert kom[0]["item"] == candidates[2]["id"] and kom[0]["heading"] == "Møter med partnere"


def test_triage_ranks_afresh_after_each_decision(ws, monkeypatch):
    """Each key the editor presses is learned from before the next item is chosen."""
    from newsletter.curate import inbox as inbox_module

    invoke(ws, "issue", "new", "2022-q2")
    before = inbox(ws)
    rankings = []
    real = inbox_module.rank_quarter
    monkeypatch.setattr(inbox_module, "rank_quarter", lambda *a, **k: rankings.append(1) or real(*a, **k))
    # Pick the first, skip the second, then quit at the third.
    result = invoke(ws, "issue", "triage", "2022-q2", input="asq")
    assert result.exit_code == 0, result.output
    assert len(rankings) == 3  # once before each item shown: two decisions, each learned from
    # The keyword score chose the candidates until the decisions could be learned from: said when that
    # changes, as the count of items to go grows then.
    lines = result.stdout.splitlines()
    (switch,) = [n for n, line in enumerate(lines) if line.startswith("  learning from your decisions now")]
    assert lines[switch].endswith("to go), not only those the keyword score lets in")
    assert [line for line in lines[switch:] if line.startswith("[")][0].startswith("[3/")
    shown = [line.split("] ", 1)[1] for line in result.stdout.splitlines() if line.startswith("[")]
    assert shown[0] == before[0]["title"]
    # The third item shown is the first of a listing made after the two decisions (the model
    # re-trained on them), whatever it was in the order before.
    monkeypatch.undo()
    after = inbox(ws)
    assert shown[2] == after[0]["title"]
    assert after[0]["probability"] is not None and all(i["id"] != before[0]["id"] for i in after)


def test_triage_needs_an_existing_valid_issue(ws):
    result = invoke(ws, "issue", "triage", "2022-q2", input="a")
    assert result.exit_code == 1 and "no such issue; create it with `newsletter issue new 2022-q2`" in result.stderr
    assert all(i["status"] == "new" for i in inbox(ws))


def test_triage_cancelled_at_a_prompt_goes_back_to_the_card_and_loses_nothing(ws):
    """Ctrl-D (the input ending) or Ctrl-C at the section prompt cancels the choice, not the session."""
    invoke(ws, "issue", "new", "2022-q2")
    first = inbox(ws)[0]
    result = invoke(ws, "issue", "triage", "2022-q2", input="s" + "c")  # skip one; then the input ends
    assert result.exit_code == 0, result.output
    assert "Aborted" not in result.output
    assert "  not added; the keys:\n    a  add" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("added 0, skipped 1, later 0")
    assert [i["id"] for i in inbox(ws)][0] != first["id"]  # the skip before it stands


def test_triage_ends_cleanly_when_input_runs_out(ws):
    invoke(ws, "issue", "new", "2022-q2")
    result = invoke(ws, "issue", "triage", "2022-q2", input="a")
    assert result.exit_code == 0
    assert "added 1" in result.stdout


def test_triage_with_every_candidate_decided_says_so(ws):
    invoke(ws, "issue", "new", "2022-q2")
    ids = [i["id"] for i in inbox(ws)]
    assert invoke(ws, "issue", "add", "2022-q2", ids[0]).exit_code == 0
    assert invoke(ws, "issue", "skip", *ids[1:]).exit_code == 0
    # Once the ranking has learned, every item of the quarter is a candidate: decide those too.
    rest = [i["id"] for i in inbox(ws)]
    assert invoke(ws, "issue", "skip", *rest).exit_code == 0 and inbox(ws) == []
    result = invoke(ws, "issue", "triage", "2022-q2", input="a")
    assert result.exit_code == 0, result.output
    decided = len(ids) + len(rest)
    assert (
        result.stdout
        == f"nothing to triage: every item of 2022-q2's quarter is decided ({decided} picked or skipped)\n"
    )
    listed = invoke(ws, "items", "--issue", "2022-q2")
    assert listed.stdout == "" and listed.stderr == (
        f"No candidates: every item of 2022-q2's quarter is decided ({decided} picked or skipped).\n"
    )


def test_triage_of_a_quarter_with_no_candidates_says_so(ws):
    invoke(ws, "issue", "new", "2023-q1")  # nothing collected was published then
    result = invoke(ws, "issue", "triage", "2023-q1", input="a")
    assert result.exit_code == 0, result.output
    with Store(ws / "var" / "newsletter.db") as store:
        first, last = store.published_span()
    # Collected just now: "run collect" alone would send the editor round in a circle.
    assert result.stdout == (
        f"nothing to triage: 2023-q1's quarter (2023-01-01 to 2023-03-31) has no collected items; the store holds "
        f"items published from {first} to {last}: check the issue id, or run `newsletter collect` if the quarter "
        "is newer than the last collect (feeds list only recent items)\n"
    )
    assert first.year == last.year == 2022


def test_an_item_whose_source_left_feeds_yaml_asks_for_its_section(ws):
    """A source taken out of feeds.yaml after collecting: its items stay candidates, but nothing
    suggests where they go (no past pick is like them here), so add and triage ask for a section."""
    invoke(ws, "issue", "new", "2022-q2")
    feeds = ws / "feeds.yaml"
    feeds.write_text(
        "sources:\n  - key: annen\n    name: En annen kilde\n    kind: rss\n"
        "    url: http://127.0.0.1:9/feed.xml\n    section: norway\n    heading: Annen\n",
        encoding="utf-8",
    )
    first = inbox(ws)[0]
    assert first["section"] == ""
    added = invoke(ws, "issue", "add", "2022-q2", first["id"])
    assert (
        added.exit_code == 2
        and (
            f"Error: item {first['id']} has no section to go in: its source '{first['source']}' is not in {feeds} "
            "(any more) and no past pick is like it; pass --section (one of highlights, kom, norway, international, "
            "events), or list the source again"
        )
        in added.stderr
    ), added.stderr
    result = invoke(ws, "issue", "triage", "2022-q2", input="aq")
    assert result.exit_code == 0, result.output
    assert f"  → no section suggested: source '{first['source']}' is not in feeds.yaml; [c]hoose one" in result.stdout
    assert (
        f"item {first['id']} has no section to go in: its source '{first['source']}' is not in {feeds} (any more) "
        "and no past pick is like it: press c to choose section and heading"
    ) in result.stdout, result.stdout
    assert outline(ws)["sections"]["norway"] == []  # nothing added, and the session went on to q
    chosen = invoke(ws, "issue", "add", "2022-q2", first["id"], "--section", "norway")
    assert chosen.exit_code == 0, chosen.output


def test_a_quarter_in_a_gap_of_the_store_says_collect_missed_it(ws):
    """The store holds items before and after the quarter, none in it: collecting again would not bring
    them (feeds list only recent items)."""
    from newsletter.collect.urls import identify
    from newsletter.models import RawItem
    from tests.test_issues import NOW, SOURCE

    with Store(ws / "var" / "newsletter.db") as store:
        raw = RawItem(url="https://www.example.no/gammel", title="Gammel sak", published=dt.date(2020, 2, 3))
        store.upsert_items(SOURCE, [(identify(raw.url), raw)], NOW)
        _first, last = store.published_span()
    invoke(ws, "issue", "new", "2021-q1")
    result = invoke(ws, "issue", "triage", "2021-q1", input="a")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "nothing to triage: 2021-q1's quarter (2021-01-01 to 2021-03-31) has no collected items, though the store "
        f"holds items published before and after it (2020-02-03 to {last}): collect did not run while the "
        "sources listed them; add the quarter's news by hand (`newsletter issue note 2021-q1`)\n"
    )


def test_triage_help_lists_every_key():
    from newsletter.curate.triage import KEYS

    result = CliRunner().invoke(cli, ["issue", "triage", "--help"])
    assert result.exit_code == 0
    for key, meaning in KEYS.items():
        assert f"  {key}  {meaning}" in result.stdout, key


def test_triage_without_a_terminal_is_a_one_line_error_and_loses_nothing(ws, monkeypatch):
    """Where keys come through click.getchar (an in-process caller, Windows) and it cannot read one.

    The real pipe without a terminal is `test_triage_piped_with_no_terminal_shows_no_card_before_its_one_line_error`.
    """
    invoke(ws, "issue", "new", "2022-q2")

    def no_tty(*args, **kwargs):
        raise OSError(6, "No such device or address", "/dev/tty")

    monkeypatch.setattr("click.getchar", no_tty)
    before = issue_text(ws)
    result = invoke(ws, "issue", "triage", "2022-q2")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: issue triage needs a terminal to read keys; without one, list with `newsletter items --issue 2022-q2` "
        "and decide with `newsletter issue add 2022-q2 ITEM...` and `newsletter issue skip ITEM...`\n"
    )
    assert "Traceback" not in result.output
    assert issue_text(ws) == before


def test_triage_piped_with_no_terminal_shows_no_card_before_its_one_line_error(ws):
    """`printf 'a' | newsletter issue triage ID` from cron or CI: a new session has no /dev/tty."""
    invoke(ws, "issue", "new", "2022-q2")
    before = issue_text(ws)
    done = subprocess.run(
        [sys.executable, "-m", "newsletter", "--workspace", str(ws), "issue", "triage", "2022-q2"],
        input="aaq",
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal, whatever runs the tests
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 1
    assert done.stdout == ""  # not the first card
    assert done.stderr.strip().splitlines() == [
        "Error: issue triage needs a terminal to read keys; without one, list with `newsletter items --issue 2022-q2` "
        "and decide with `newsletter issue add 2022-q2 ITEM...` and `newsletter issue skip ITEM...`"
    ]
    assert issue_text(ws) == before


def on_a_terminal(root, *steps, issue_id="2022-q2", piped=None):
    """Run `newsletter issue triage` on a pseudo-terminal, as the editor at a keyboard.

    `steps` are (text, keys) pairs: once `text` is in the output written since the step before,
    `keys` go to the terminal in one write, as keys typed ahead while the program is busy arrive.
    With `piped` (text), standard input is a pipe holding it instead (`cmd | newsletter issue
    triage`), and the pty is the controlling terminal, /dev/tty, which keys are read from.
    Returns the exit status (None when it had to be killed, still waiting for keys), the output
    with \r\n as \n, and whether the terminal's mode afterwards is the one it had before.
    """
    terminal = PseudoTerminal()
    slave = terminal.slave
    before = termios.tcgetattr(slave)

    def controlling_terminal():  # in the child: a session of its own, with the pty as its terminal
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--workspace", str(root), "issue", "triage", issue_id],
        stdin=slave if piped is None else subprocess.PIPE,
        stdout=slave,
        stderr=slave,
        start_new_session=piped is None,  # the pty is its terminal, not the one running the tests
        preexec_fn=None if piped is None else controlling_terminal,  # noqa: PLW1509 (a test's child only)
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONUTF8": "1"},
    )
    if piped is not None:
        process.stdin.write(piped.encode())
        process.stdin.close()
    mark = 0
    try:
        for text, keys in steps:
            terminal.read_until(lambda text=text, mark=mark: text.encode() in terminal.output[mark:])
            mark = len(terminal.output)
            os.write(terminal.master, keys.encode())
        terminal.read_to_the_end(process)
        restored = termios.tcgetattr(slave) == before
    finally:
        process.wait()
        terminal.close()
    return process.returncode, terminal.text(), restored


def shown_ids(output):
    """The item ids of the cards in a triage session's output, in the order shown."""
    return re.findall(r"^  (\w+) · ", output, re.MULTILINE)


CARD_END = "[q]uit  [?]"


def test_triage_on_a_terminal_keeps_every_key_typed_ahead(ws):
    """Keys typed while triage ranks are all taken, in order (click.getchar flushed them)."""
    invoke(ws, "issue", "new", "2022-q2")
    status, output, restored = on_a_terminal(ws, (CARD_END, "asslq"))
    assert status == 0, output
    added, skipped_one, skipped_two, later, quit_at = shown_ids(output)
    assert re.search(r"\nadded 1, skipped 2, later 1, \d+ still to go \(the card on screen among them\)\n$", output)
    assert [e["item"] for entries in outline(ws)["sections"].values() for e in entries] == [added]
    assert {i["id"] for i in inbox(ws, "--status", "skipped")} == {skipped_one, skipped_two}
    assert {later, quit_at} <= {i["id"] for i in inbox(ws)}
    assert restored


def test_triage_on_a_terminal_prompts_by_line_and_reads_keys_again_after(ws):
    """Choose: the prompts echo and read a line; keys typed after the answer, an arrow key and
    Ctrl-C among them, are read as keys (an arrow's final 'A' does not add the item)."""
    invoke(ws, "issue", "new", "2022-q2")
    status, output, restored = on_a_terminal(
        ws, (CARD_END, "c"), ("section", "kom\n"), ("heading", "Møter\n\x1b[As"), ("[3/", "\x03")
    )
    assert status == 0, output
    first, second, third = shown_ids(output)
    assert "kom\n" in output and "Møter\n" in output  # echoed as typed
    assert "  keys:\r\n    a  add" in output or "  keys:\n    a  add" in output  # the arrow key: no triage key
    assert re.search(r"\nadded 1, skipped 1, later 0, \d+ still to go \(the card on screen among them\)\n$", output)
    assert [(e["item"], e["heading"]) for e in outline(ws)["sections"]["kom"]] == [(first, "Møter")]
    assert [i["id"] for i in inbox(ws, "--status", "skipped")] == [second]
    assert third in {i["id"] for i in inbox(ws)}
    assert restored


def test_triage_with_piped_input_reads_keys_and_prompt_answers_from_the_terminal(ws):
    """`cmd | newsletter issue triage ID` in a terminal: the pipe is not read, the terminal is."""
    invoke(ws, "issue", "new", "2022-q2")
    status, output, restored = on_a_terminal(
        ws, (CARD_END, "c"), ("section", "kom\n"), ("heading", "Møter\ns"), ("[3/", "q"), piped="aaaa"
    )
    assert status == 0, output
    first, second, _third = shown_ids(output)
    assert "Aborted" not in output
    assert [(e["item"], e["heading"]) for e in outline(ws)["sections"]["kom"]] == [(first, "Møter")]
    assert [i["id"] for i in inbox(ws, "--status", "skipped")] == [second]
    assert re.search(r"\nadded 1, skipped 1, later 0, \d+ still to go \(the card on screen among them\)\n$", output)
    assert restored
    # Said before the first card: the piped keys were not taken for decisions.
    notice = (
        "note: triage takes its keys from the terminal, one card at a time; its standard input (a pipe or a file) "
        "is not read (to decide items without reading them: `newsletter issue skip ITEM...`)"
    )
    assert " ".join(output.split()).startswith(notice), output[:300]


def test_triage_on_a_terminal_says_nothing_of_a_pipe(ws):
    invoke(ws, "issue", "new", "2022-q2")
    status, output, _restored = on_a_terminal(ws, (CARD_END, "q"))
    assert status == 0, output
    assert "standard input" not in output


def test_a_change_on_disk_during_a_command_is_never_overwritten(ws, monkeypatch):
    """The editor saves the file while a command runs: the command refuses, the editor's text stays."""
    import newsletter.curate.issuefile as issues_module

    invoke(ws, "issue", "new", "2022-q2")
    path = ws / "issues" / "2022-q2.yaml"
    original_dumps = issues_module.IssueDocument.dumps

    def editor_saves_meanwhile(self):
        path.write_text(path.read_text(encoding="utf-8") + "# the editor's own change\n", encoding="utf-8")
        return original_dumps(self)

    monkeypatch.setattr(issues_module.IssueDocument, "save", _save_after(editor_saves_meanwhile))
    result = invoke(ws, "issue", "note", "2022-q2", "--section", "kom", "--heading", "H", "--text", "T")
    assert result.exit_code == 1
    assert "changed on disk since it was read; nothing was written" in result.stderr
    assert issue_text(ws).endswith("# the editor's own change\n")
    assert "heading: H" not in issue_text(ws)


def _save_after(hook):
    import newsletter.curate.issuefile as issues_module

    real_save = issues_module.IssueDocument.save

    def save(self):
        hook(self)
        return real_save(self)

    return save


def test_picked_status_is_kept_by_a_new_collect(ws):
    invoke(ws, "issue", "new", "2022-q2")
    item = inbox(ws)[0]
    invoke(ws, "issue", "add", "2022-q2", item["id"])
    assert invoke(ws, "collect").exit_code == 0
    with Store(Workspace(ws).db_path) as store:
        assert store.get_item(item["id"]).status == "picked"


def test_the_sample_issue_passes_check(sample_workspace):
    """issues/2024-q2.yaml, the README's example, is complete and valid with the shipped configuration."""
    tmp_path = sample_workspace
    result = invoke(tmp_path, "issue", "check", "2024-q2", "--json")
    problems = json.loads(result.stdout)
    assert result.exit_code == 0, [p for p in problems if p["level"] == "error"]
    data = outline(tmp_path, "2024-q2")
    assert all(data["sections"][key] for key in ("highlights", "kom", "norway", "international", "events"))
    assert sum(len(entries) for entries in data["sections"].values()) >= 60


def test_commands_keep_the_editors_comments_and_formatting(ws):
    """add, move and remove change only the lines of the entries they touch."""
    invoke(ws, "issue", "new", "2022-q2")
    path = ws / "issues" / "2022-q2.yaml"
    hand = path.read_text(encoding="utf-8").replace(
        "  kom: []\n",
        "  # Våre egne saker\n"
        "  kom:\n"
        "    - heading: KOM nasjonalt seminar   # fast post\n"
        '      title: "Seminaret: digitalt i år"\n'
        "      text: |\n"
        "        Første avsnitt.\n"
        "\n"
        "        - punkt én\n"
        "        - punkt to\n"
        "    # neste sak skrives etter møtet\n"
        "    - heading: Møter\n"
        "      title: 'Møte med partnere'\n"
        "      text: Tekst.\n",
    )
    path.write_text(hand, encoding="utf-8")
    item = inbox(ws)[0]
    assert invoke(ws, "issue", "add", "2022-q2", item["id"]).exit_code == 0
    assert invoke(ws, "issue", "move", "2022-q2", "kom:2", "--section", "highlights").exit_code == 0
    assert invoke(ws, "issue", "remove", "2022-q2", item["id"]).exit_code == 0
    after = path.read_text(encoding="utf-8")
    for line in (
        "  # Våre egne saker\n",
        "    - heading: KOM nasjonalt seminar   # fast post\n",
        '      title: "Seminaret: digitalt i år"\n',
        "        Første avsnitt.\n\n        - punkt én\n",
        "    # neste sak skrives etter møtet\n",
        "      title: 'Møte med partnere'\n",
    ):
        assert line in after, line
    assert "  highlights:\n    - heading: Møter\n" in after
    assert item["id"] not in after


def test_triage_choose_offers_the_suggested_heading_in_any_section(ws):
    """Enter at both prompts files the item where it was suggested; another section keeps the heading too."""
    invoke(ws, "issue", "new", "2022-q2")
    first, second = inbox(ws)[:2]
    result = invoke(ws, "issue", "triage", "2022-q2", input="c\n\nckom\n\nq")
    assert result.exit_code == 0, result.output
    assert f"heading [{first['heading']}]: " in result.stdout
    entries = outline(ws)["sections"]
    assert [(e["item"], e["heading"]) for e in entries[first["section"]] if e["item"] == first["id"]] == [
        (first["id"], first["heading"])
    ]
    assert [(e["item"], e["heading"]) for e in entries["kom"]] == [(second["id"], second["heading"])]


# The headings, section by section, as each place shows them: the file (one heading per run of
# entries, as `issue show` prints them), the web page and e-mail (their h3 / heading paragraphs, not
# the contents list) and the plain text (each heading underlined with dashes).
def file_headings(root, issue_id="2022-q2"):
    runs = []
    for key, entries in outline(root, issue_id)["sections"].items():
        for entry in entries:
            if not runs or runs[-1] != (key, entry["heading"]):
                runs.append((key, entry["heading"]))
    return [heading for _key, heading in runs]


def html_headings(page: str) -> list[str]:
    # The web page's heading ids name the section (del-norway-2), the e-mail's are short (d3-2).
    found = re.findall(r'<(?:h3|p)\b[^>]*\bid="(?:del-[a-z]+|d\d+)-\d+"[^>]*>(?:<b>)?([^<]*)<', page)
    return [html.unescape(heading) for heading in found]


def text_headings(text: str) -> list[str]:
    lines = text.splitlines()
    return [line for line, under in zip(lines, lines[1:]) if line and under == "-" * min(len(line), 78)]


def test_the_files_heading_order_is_the_order_readers_get(ws):
    # Added in an order that used to diverge: a heading newsletter.yaml does not list first, then a
    # listed one (the file kept the order of adding, the outputs put the listed one first); and
    # 'OSCE', which `organisations` names as OSSE, after Finland (listed after OSSE).
    with (ws / "newsletter.yaml").open("a", encoding="utf-8") as settings:
        settings.write("organisations:\n  - name: OSSE\n    aliases: [OSCE]\n  - name: Finland\n")
    invoke(ws, "issue", "new", "2022-q2")
    items = [item["id"] for item in inbox(ws)]
    for item, section, heading in [
        (items[0], "norway", "Forskning"),
        (items[1], "norway", "Høringer"),
        (items[2], "international", "Finland"),
        (items[3], "international", "OSCE"),
    ]:
        added = invoke(ws, "issue", "add", "2022-q2", item, "--section", section, "--heading", heading)
        assert added.exit_code == 0, added.output
    # Each new heading lands where the configured order puts it; one not listed goes after the listed ones.
    assert file_headings(ws) == ["Høringer", "Forskning", "OSCE", "Finland"]
    built = invoke(ws, "build", "2022-q2", "--format", "web,email,text")
    assert built.exit_code == 0, built.output
    out = ws / "build" / "2022-q2"
    assert html_headings((out / "index.html").read_text(encoding="utf-8")) == file_headings(ws)
    assert html_headings((out / "email.html").read_text(encoding="utf-8")) == file_headings(ws)
    assert text_headings((out / "email.txt").read_text(encoding="utf-8")) == file_headings(ws)


@pytest.mark.parametrize(
    ("expected", "words"),
    [
        (0.2, "less than one likely pick"),
        (0.5, "about 1 likely pick"),
        (1.4, "about 1 likely pick"),
        (2.5, "about 3 likely picks"),
        (2.6, "about 3 likely picks"),
    ],
)
def test_the_estimate_below_is_said_in_words_that_fit_its_number(expected, words):
    from newsletter.cli import _likely_picks

    assert _likely_picks(expected) == words


def test_items_of_an_issue_whose_file_is_broken_says_so_rather_than_offering_its_items_again(ws):
    invoke(ws, "issue", "new", "2022-q2")
    first = inbox(ws)[0]["id"]
    assert invoke(ws, "issue", "add", "2022-q2", first).exit_code == 0
    path = ws / "issues" / "2022-q2.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "sections: [\n", encoding="utf-8")
    listed = invoke(ws, "items", "--issue", "2022-q2")
    assert listed.exit_code == 0
    [warning] = [line for line in listed.stderr.splitlines() if line.startswith("warning:")]
    assert str(path) in warning and "line" in warning
    assert warning.endswith("until it is fixed, items it cites that are not marked picked are listed as undecided")
    # Nor is an item's mark changed while a file that may cite it cannot be read.
    refused = invoke(ws, "issue", "unskip", first)
    assert refused.exit_code == 1 and f"it may cite item {first}: fix it first; nothing was changed" in refused.stderr
    assert str(path) in refused.stderr


@pytest.mark.parametrize(
    ("probability", "shown"),
    [(0.0355, "3%"), (0.29, "29%"), (0.4999, "49%"), (0.4999995, "49%"), (0.5, "50%"), (1.0, "100%"), (0.0, "0%")],
)
def test_a_probability_reads_the_same_everywhere_rounded_down(probability, shown):
    from newsletter.curate.listing import percent

    assert percent(probability) == shown


@pytest.mark.parametrize(
    ("args", "says"), [(("--min-score", "nan"), "nan is not a number"), (("--issue", "9999-q4"), "0001 to 9998")]
)
def test_a_number_or_quarter_that_is_not_one_is_a_usage_error(tmp_path, args, says):
    result = invoke(tmp_path, "items", *args)
    assert result.exit_code == 2 and says in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--date", "2022-13-01", "'2022-13-01' is not a date like 2024-07-05 (year-month-day): there is no month 13"),
        (
            "--date",
            "2022-02-30",
            "'2022-02-30' is not a date like 2024-07-05 (year-month-day): February 2022 has 28 days",
        ),
        ("--date", "2024-02-00", "'2024-02-00' is not a date like 2024-07-05 (year-month-day): there is no day 0"),
        ("--deadline", "15.09.2022", "'15.09.2022' is not a date like 2024-07-05 (year-month-day): write 2022-09-15"),
        ("--event-date", "neste uke", "'neste uke' is not a date like 2024-07-05 (year-month-day)"),
    ],
)
def test_a_date_that_is_not_one_is_a_usage_error_saying_why(tmp_path, option, value, says):
    result = invoke(
        tmp_path, "issue", "note", "2022-q2", "--section", "kom", "--heading", "H", "--text", "T", option, value
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == f"Error: Invalid value for '{option}': {says}"


def test_issue_check_warns_of_an_item_marked_picked_that_no_issue_cites(ws):
    """An entry deleted by hand leaves its item marked picked: in no inbox, and learned from as a pick."""
    invoke(ws, "issue", "new", "2022-q2")
    item = inbox(ws)[0]
    assert invoke(ws, "issue", "add", "2022-q2", item["id"]).exit_code == 0
    assert "marked picked" not in invoke(ws, "issue", "check", "2022-q2").output
    (ws / "issues" / "2022-q2.yaml").unlink()  # the entry gone by hand, with the rest of the file
    invoke(ws, "issue", "new", "2022-q2")
    checked = invoke(ws, "issue", "check", "2022-q2").output
    assert (
        f"item {item['id']} «{item['title']}» of this quarter is marked picked, but no issue cites it (an entry "
        f"or an id taken out by hand?): `newsletter issue add 2022-q2 {item['id']}` files it again, `newsletter "
        f"issue skip {item['id']}` leaves it out, `newsletter issue unskip {item['id']}` puts it back among the "
        "candidates"
    ) in checked
    # While another issue file cannot be read, it may be the one citing it: no warning that may be false.
    broken = ws / "issues" / "2022-q3.yaml"
    broken.write_text("sections: [\n", encoding="utf-8")
    assert "marked picked" not in invoke(ws, "issue", "check", "2022-q2").output
    broken.unlink()
    assert invoke(ws, "issue", "unskip", item["id"]).exit_code == 0
    assert item["id"] in [i["id"] for i in inbox(ws)]
    assert "marked picked" not in invoke(ws, "issue", "check", "2022-q2").output


def test_draft_with_a_min_score_nothing_reaches_says_so(ws):
    invoke(ws, "issue", "new", "2022-q2")
    result = invoke(ws, "issue", "draft", "2022-q2", "--min-score", "1000")
    assert result.stdout == "nothing added to 2022-q2: no undecided candidate scores at least 1000 (--min-score)\n"


def test_check_names_each_link_no_reader_can_open(ws):
    """Links markdown-it would render dead or mangled (`http://[::1` as `http://:1%5B:`) are errors, each
    quoted as the file has it, with its entry and line; an editor's reference to such an address is a
    one-line error."""
    invoke(ws, "issue", "new", "2022-q2")
    text = (
        "Se [a](http://[::1), [b](), [c](http://example.com:99999/x), [d](https://), [e][1] og "
        "[f](https://www.regjeringen.no/ø).\n\n[1]: http://]x"
    )
    # `issue note` refuses such a text, with nothing written (check would call it an error): naming the first.
    before = (ws / "issues" / "2022-q2.yaml").read_text(encoding="utf-8")
    noted = invoke(ws, "issue", "note", "2022-q2", "--section", "kom", "--heading", "KOM", "--text", text)
    assert noted.exit_code == 2
    assert noted.stderr.splitlines()[-1] == (
        "Error: the text has 5 link problems: (1) it links to 'http://[::1': it cannot be read as an address "
        "(Invalid IPv6 URL), so no reader can open it: correct the address in the text; (2) it has a link with no "
        "address ([…]()): write the address between the ( ) in the text; (3) it links to "
        "'http://example.com:99999/x': its port is out of range (0–65535), so no reader can open it: correct the "
        "address in the text; (4) it links to 'https://': it names no host, so no reader can open it: correct the "
        "address in the text; (5) it links to 'http://]x': it cannot be read as an address (Invalid IPv6 URL), so "
        "no reader can open it: correct the address in the text; nothing was written"
    )
    assert (ws / "issues" / "2022-q2.yaml").read_text(encoding="utf-8") == before
    written_by_hand(ws, "kom", "KOM", text)  # as the editor may still write it in the file
    checked = invoke(ws, "issue", "check", "2022-q2")
    assert checked.exit_code == 1
    errors = [line.split(": text: ", 1)[1] for line in checked.output.splitlines() if line.startswith("error:")]
    assert errors == [
        f"kom:1 links to '{address}': {problem}, so no reader can open it: correct the address in its `text`"
        if address
        else "kom:1 has a link with no address ([…]()): write the address between the ( ) in its `text`"
        for address, problem in (
            ("http://[::1", "it cannot be read as an address (Invalid IPv6 URL)"),
            ("", ""),
            ("http://example.com:99999/x", "its port is out of range (0–65535)"),
            ("https://", "it names no host"),
            ("http://]x", "it cannot be read as an address (Invalid IPv6 URL)"),
        )
    ], checked.output
    assert "line " in checked.output.splitlines()[0]
    for args in (
        ("show", "http://[::1"),
        ("issue", "skip", "http://example.com:99999/x"),
        ("issue", "add", "2022-q2", "http://]x"),
    ):
        result = invoke(ws, *args)
        assert result.exit_code == 1 and result.stderr.startswith(f"Error: '{args[-1]}' is no item id, and no address")
        assert "Traceback" not in result.output


def test_an_item_joins_the_issues_own_heading_for_its_organisation(tmp_path):
    """The editor wrote "Stortingets saker", which newsletter.yaml gives Stortinget as another name: an
    item whose source files it under "Stortinget" joins that heading rather than open a second one for
    the same organisation beside it; a heading the editor gives (`--heading`) is kept as given, and an
    organisation's topic heading ("Representantforslag") is not its name, so it is not joined."""
    from newsletter.collect.urls import identify
    from tests.test_editor_loop import FEEDS, RAWS, SOURCE

    organisations = (
        "organisations:\n  - name: Stortinget\n    aliases: [Stortingets saker]\n    headings: [Representantforslag]\n"
    )
    root = write_workspace(tmp_path / "ws", FEEDS, KOM_SECTIONS + organisations)
    with Store(Workspace(root).db_path) as store:
        store.upsert_items(SOURCE, [(identify(r.url), r) for r in RAWS[:2]], dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
        ids = [i.id for i in store.iter_items(order="newest")]
    invoke(root, "issue", "new", "2025-q2")

    def note(heading):
        result = invoke(
            root, "issue", "note", "2025-q2", "--section", "norway", "--heading", heading, "--text", "Tekst."
        )
        assert result.exit_code == 0, result.output

    note("Representantforslag")  # a topic heading of Stortinget's: not joined
    added = invoke(root, "issue", "add", "2025-q2", ids[0])
    assert added.exit_code == 0 and "[Stortinget]" in added.stdout, added.output
    invoke(root, "issue", "remove", "2025-q2", ids[0])
    note("Stortingets saker")  # another name of Stortinget: joined
    added = invoke(root, "issue", "add", "2025-q2", ids[0])
    assert added.exit_code == 0 and "[Stortingets saker]" in added.stdout, added.output
    # Triage's `a` takes the suggestion the same way; a heading the editor gives is the editor's word.
    triaged = invoke(root, "issue", "triage", "2025-q2", input="aq")
    assert triaged.exit_code == 0 and "under 'Stortingets saker'" in triaged.stdout, triaged.output
    invoke(root, "issue", "remove", "2025-q2", ids[1])
    told = invoke(root, "issue", "add", "2025-q2", ids[1], "--heading", "Stortinget")
    assert told.exit_code == 0 and "[Stortinget]" in told.stdout, told.output
    assert sorted(e["heading"] for e in outline(root, "2025-q2")["sections"]["norway"]) == [
        "Representantforslag",
        "Stortinget",
        "Stortingets saker",
        "Stortingets saker",
    ]


def test_the_heading_itself_is_joined_before_another_name_for_it():
    from newsletter.curate.edit import same_organisation_heading
    from newsletter.models import ArchiveSettings, Organisation, Settings

    stortinget = Organisation(name="Stortinget", aliases=("Stortingets saker",), headings=("Representantforslag",))
    settings = Settings(archive=ArchiveSettings(organisations=(stortinget,)))
    headings = ["Stortingets saker", "stortinget"]
    assert same_organisation_heading(headings, "Stortinget", settings) == "stortinget"
    assert same_organisation_heading(headings[:1], "Stortinget", settings) == "Stortingets saker"
    assert same_organisation_heading(["Representantforslag"], "Stortinget", settings) is None


def test_an_issue_that_cannot_be_written_is_one_line_and_loses_nothing(ws, monkeypatch):
    """A read-only folder or file (or a full disk) when the issue is saved: the system's reason, the
    file, what to do; the file as it was, and the item still undecided."""
    import errno

    import newsletter.curate.issuefile as issuefile

    invoke(ws, "issue", "new", "2022-q2")
    before = issue_text(ws)
    item = inbox(ws)[0]["id"]

    def read_only(path, content, durable=True):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(issuefile, "atomic_write", read_only)
    result = invoke(ws, "issue", "add", "2022-q2", item)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {ws / 'issues' / '2022-q2.yaml'}: cannot write it (Read-only file system); nothing was written. "
        "Check that the workspace's folders are writable and the disk has room, then run the command again."
    )
    assert issue_text(ws) == before
    assert item in [i["id"] for i in inbox(ws)]  # not marked picked either


def test_a_file_where_the_issues_folder_should_be_is_one_line_saying_so(ws):
    """`issues` a file where the folder should be: the system's refusal, for root as for anyone."""
    assert not (ws / "issues").exists()  # made by the first `issue new`
    (ws / "issues").write_text("not a folder\n", encoding="utf-8")
    result = invoke(ws, "issue", "new", "2022-q2")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == (
        f"Error: {ws / 'issues' / '2022-q2.yaml'}: cannot write it (File exists); nothing was written. "
        "A file stands where a folder should be: move it away, then run the command again."
    )


def test_any_other_file_the_system_refuses_is_one_line_naming_it(ws, tmp_path):
    """An OSError no command words itself (`build --out` below a file): the file, the system's
    reason and what to do, in one line."""
    invoke(ws, "issue", "new", "2022-q2")
    (tmp_path / "afile").write_text("", encoding="utf-8")
    result = invoke(ws, "build", "2022-q2", "--out", str(tmp_path / "afile" / "sub"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot use {tmp_path / 'afile'}: File exists. "
        "A file stands where a folder should be: move it away, then run the command again."
    )


def test_editors_adding_at_once_all_land_and_no_lock_file_is_left_among_the_issues(ws):
    """Two commands on one issue wait for each other (a lock on the issues folder itself), so
    every add lands; the editor's folder, kept in git, holds nothing but the issue files."""
    invoke(ws, "issue", "new", "2022-q2")
    ids = [i["id"] for i in inbox(ws)[:6]]
    command = [sys.executable, "-m", "newsletter", "--workspace", str(ws), "issue", "add", "2022-q2"]
    runs = [
        subprocess.Popen(
            [*command, item],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        for item in ids
    ]
    outcomes = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    assert outcomes == [(0, "")] * len(ids)
    cited = [entry["item"] for entries in outline(ws)["sections"].values() for entry in entries]
    assert sorted(cited) == sorted(ids)
    assert sorted(p.name for p in (ws / "issues").iterdir()) == ["2022-q2.yaml"]
    missing = invoke(ws, "issue", "add", "2032-q1", ids[0])
    assert missing.exit_code == 1
    assert sorted(p.name for p in (ws / "issues").iterdir()) == ["2022-q2.yaml"]


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_heading_is_refused_before_anything_is_written(ws, blank):
    """An entry without a heading stops every later command; an empty one must not mean "suggested"."""
    invoke(ws, "issue", "new", "2022-q2")
    first, second = [i["id"] for i in inbox(ws)[:2]]
    assert invoke(ws, "issue", "add", "2022-q2", first).exit_code == 0
    before = issue_text(ws)
    message = (
        "Error: --heading is blank: give the organisation, country or theme the entry stands under, "
        "or leave --heading out"
    )
    added = invoke(ws, "issue", "add", "2022-q2", second, "--heading", blank)
    moved = invoke(ws, "issue", "move", "2022-q2", first, "--heading", blank)
    for result in (added, moved):
        assert result.exit_code == 2 and result.stderr.strip().splitlines()[-1] == message
    assert issue_text(ws) == before
    assert second in [i["id"] for i in inbox(ws)]
    assert invoke(ws, "issue", "check", "2022-q2").exit_code in (0, 1)  # the file still reads


def test_an_item_given_twice_is_added_once(ws):
    invoke(ws, "issue", "new", "2022-q2")
    item = inbox(ws)[0]
    result = invoke(ws, "issue", "add", "2022-q2", item["id"], item["url"], item["id"][:5])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("added ") == 1
    cited = [entry["item"] for entries in outline(ws)["sections"].values() for entry in entries]
    assert cited == [item["id"]]


@pytest.mark.parametrize("command", ["skip", "unskip"])
def test_skip_with_an_issue_id_shows_the_command_it_takes(ws, command):
    """The mirror of `issue add ID ITEM`: said plainly, and nothing changes."""
    item = inbox(ws)[0]["id"]
    result = invoke(ws, "issue", command, "2022-q2", item)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: '2022-q2' is an issue id; `issue {command}` takes only items (a skip holds in every quarter): "
        f"`newsletter issue {command} {item}`; nothing was changed"
    )
    assert item in [i["id"] for i in inbox(ws)]


def test_a_triage_card_shows_a_deadline_and_wraps_its_reasons(ws):
    """What `items` shows of an item is on its card (the deadline decides whether it is worth a
    word), and no line of reasons runs past the terminal."""
    invoke(ws, "issue", "new", "2022-q2")
    due = next(i for i in inbox(ws) if i["deadline"])
    result = invoke(ws, "issue", "triage", "2022-q2", input="l" * len(inbox(ws)))
    assert result.exit_code == 0, result.output
    assert f"  {due['id']} · {due['source']} · " in result.stdout
    assert f" · {due['kind']} · due {due['deadline']}\n" in result.stdout
    reasons = [line for line in result.stdout.splitlines() if " likely: " in line]
    assert reasons and all(len(line) <= 80 for line in reasons)


def test_skipping_twice_or_unskipping_an_undecided_item_says_nothing_changed(ws):
    item = inbox(ws)[0]
    assert invoke(ws, "issue", "skip", item["id"]).stdout == f"skipped {item['id']}  {item['title']}\n"
    assert invoke(ws, "issue", "skip", item["id"]).stdout == f"already skipped: {item['id']}  {item['title']}\n"
    assert invoke(ws, "issue", "unskip", item["id"]).stdout == f"unskipped {item['id']}  {item['title']}\n"
    again = invoke(ws, "issue", "unskip", item["id"])
    assert again.exit_code == 0 and again.stdout == f"not skipped (nothing to undo): {item['id']}  {item['title']}\n"


def test_items_refuses_dates_the_wrong_way_round_and_an_unknown_section(ws):
    reversed_dates = invoke(ws, "items", "--since", "2022-06-01", "--until", "2022-04-01")
    assert reversed_dates.exit_code == 2
    assert (
        reversed_dates.stderr.strip().splitlines()[-1]
        == "Error: --since 2022-06-01 is after --until 2022-04-01: swap them"
    )
    for args in (("items", "--section", "nosuch"), ("items", "--issue", "2022-q2", "--section", "nosuch")):
        result = invoke(ws, *args)
        assert result.exit_code == 2
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .startswith("Error: no section 'nosuch' in newsletter.yaml (sections: ")
        )


def test_a_blank_heading_typed_in_triage_files_the_item_under_the_suggested_one(ws):
    """Spaces alone at the heading prompt are the suggested heading, as Enter alone is; the session goes on."""
    invoke(ws, "issue", "new", "2022-q2")
    first = inbox(ws)[0]
    result = invoke(ws, "issue", "triage", "2022-q2", input="ckom\n   \ns")
    assert result.exit_code == 0, result.output
    assert [(e["item"], e["heading"]) for e in outline(ws)["sections"]["kom"]] == [(first["id"], first["heading"])]
    assert result.stdout.splitlines()[-1].startswith("added 1, skipped 1, later 0")


def test_a_move_without_where_to_is_a_usage_error_and_a_grep_finding_nothing_says_so(ws):
    invoke(ws, "issue", "new", "2022-q2")
    item = inbox(ws)[0]
    invoke(ws, "issue", "add", "2022-q2", item["id"])
    before = issue_text(ws)
    moved = invoke(ws, "issue", "move", "2022-q2", item["id"])
    assert moved.exit_code == 2
    assert (
        moved.stderr.strip().splitlines()[-1]
        == "Error: say where to: --section, --heading or --before (or more than one)"
    )
    assert issue_text(ws) == before
    found = invoke(ws, "items", "--issue", "2022-q2", "--grep", "zzzintetzzz")
    assert found.exit_code == 0 and found.stdout == ""
    assert found.stderr == (
        "No candidates contain 'zzzintetzzz' in their title, summary or article text; "
        "try other words, or widen the filters (--all, --status all).\n"
    )


def test_a_typed_note_that_cannot_be_added_is_kept_and_named(ws, monkeypatch):
    """A note piped in (or written in $EDITOR) exists nowhere else: when the issue cannot be written,
    it is saved under var/ and the error names the file and the command that adds it later."""
    import errno

    import newsletter.curate.issuefile as issuefile

    invoke(ws, "issue", "new", "2022-q2")
    before = issue_text(ws)

    def read_only(path, content, durable=True):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(issuefile, "atomic_write", read_only)
    note = "KOM holdt **fagdag** for politidistriktene.\n\nMer om det [her](https://www.politiet.no/kom).\n"
    args = ("issue", "note", "2022-q2", "--section", "kom", "--heading", "Fagdag", "--text", "-")
    result = invoke(ws, *args, input=note)
    assert result.exit_code == 1 and "Traceback" not in result.output
    kept = sorted((ws / "var" / "unsaved-notes").glob("2022-q2-*.md"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == note
    assert result.stderr.strip().endswith(
        f"the note's text is kept in {kept[0]}: once that is fixed, `newsletter issue note 2022-q2 --section kom "
        f"--heading Fagdag --text - < {kept[0]}` adds it"
    )
    assert issue_text(ws) == before
    monkeypatch.undo()
    again = invoke(ws, *args, input=kept[0].read_text(encoding="utf-8"))
    assert again.exit_code == 0 and "fagdag" in issue_text(ws)


def test_the_command_that_adds_a_kept_note_gives_every_option_as_typed(ws, monkeypatch):
    """Run as printed (a heading with an apostrophe, a title, dates), it adds the note the editor meant."""
    import errno
    import shlex

    from newsletter.curate import issuefile

    invoke(ws, "issue", "new", "2022-q2")

    def read_only(path, content, durable=True):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(issuefile, "atomic_write", read_only)
    args = ["issue", "note", "2022-q2", "--section", "kom", "--heading", "KOM's fagdag", "--title", "Fagdag i mai"]
    args += ["--date", "2022-05-10", "--event-date", "2022-06-01", "--text", "-"]
    failed = invoke(ws, *args, input="KOM holdt fagdag.\n")
    assert failed.exit_code == 1
    command = failed.stderr.strip().rsplit("`", 2)[-2]  # between the last pair of backticks
    words = shlex.split(command)
    assert words[:2] == ["newsletter", "issue"] and words[-2] == "<"
    kept = Path(words[-1])
    monkeypatch.undo()
    again = invoke(ws, *words[1:-2], input=kept.read_text(encoding="utf-8"))
    assert again.exit_code == 0, again.output
    (entry,) = outline(ws)["sections"]["kom"]
    assert (entry["heading"], entry["title"], entry["date"], entry["event_date"]) == (
        "KOM's fagdag",
        "Fagdag i mai",
        "2022-05-10",
        "2022-06-01",
    )


def test_adding_an_item_from_outside_the_quarter_warns_at_once_and_undoing_it_leaves_it_undecided(ws):
    """An id typed from another quarter's list: said when it is added, not first at `issue check`, with
    the way back that keeps the item on its own quarter's list (a skip would take it off that too)."""
    invoke(ws, "issue", "new", "2022-q3")
    item, other = inbox(ws)[:2]  # of April–June 2022
    result = invoke(ws, "issue", "add", "2022-q3", item["id"])
    assert result.exit_code == 0, result.output
    warning = result.stderr.strip().splitlines()[-1]
    assert warning == (
        f"warning: item {item['id']} was published {item['published']}, outside 2022-q3 (2022-07-01 – 2022-09-30); "
        f"if that was a slip, `newsletter issue remove 2022-q3 {item['id']} --undecided` takes it out and puts it "
        "back among its quarter's candidates"
    )
    assert item["id"] not in [i["id"] for i in inbox(ws)]
    assert invoke(ws, *shlex.split(re.findall(r"`newsletter ([^`]+)`", warning)[0])).exit_code == 0
    assert item["id"] in [i["id"] for i in inbox(ws)]
    shown = json.loads(invoke(ws, "show", item["id"], "--json").stdout)
    assert (shown["status"], shown["cited_in"]) == ("new", [])
    # Joined to an entry of several items, the entry is not the slip: the item's id is.
    invoke(ws, "issue", "add", "2022-q3", item["id"])
    joined = invoke(ws, "issue", "add", "2022-q3", other["id"], "--to", item["id"])
    ref = next(
        f"{key}:{n}" for key, entries in outline(ws, "2022-q3")["sections"].items() for n, _ in enumerate(entries, 1)
    )
    path = ws / "issues" / "2022-q3.yaml"
    assert joined.stderr.strip().splitlines()[-1] == (
        f"warning: item {other['id']} was published {other['published']}, outside 2022-q3 (2022-07-01 – 2022-09-30); "
        f"if that was a slip, delete its id from the `items:` of {ref} in {path} (and its link from the text), then "
        f"`newsletter issue unskip {other['id']}` puts it back among its quarter's candidates"
    )
    text = issue_text(ws, "2022-q3")
    path.write_text(text.replace(f"[{item['id']}, {other['id']}]", f"[{item['id']}]"), encoding="utf-8")
    assert invoke(ws, "issue", "unskip", other["id"]).exit_code == 0
    assert other["id"] in [i["id"] for i in inbox(ws)]
    invoke(ws, "issue", "new", "2022-q2")
    inside = invoke(ws, "issue", "add", "2022-q2", inbox(ws)[0]["id"])
    assert inside.exit_code == 0 and "outside" not in inside.stderr


def test_a_note_linking_to_an_item_picks_it_and_taking_the_note_out_skips_it(ws):
    """A pasted address cites the item as `issue add` would: out of every list at once, and back with the note."""
    invoke(ws, "issue", "new", "2022-q2")
    item = inbox(ws)[0]
    undecided = lambda: [i["id"] for i in json.loads(invoke(ws, "items", "--status", "new", "--json").stdout)]  # noqa: E731
    assert item["id"] in undecided()
    args = ("--section", "kom", "--heading", "Omtalt", "--title", "Lenket", "--text", f"Se [her]({item['url']}).")
    first = invoke(ws, "issue", "note", "2022-q2", *args)
    assert first.exit_code == 0 and f"cites item {item['id']}" in first.stdout, first.output
    assert json.loads(invoke(ws, "show", item["id"], "--json").stdout)["status"] == "picked"
    assert item["id"] not in undecided()  # the keyword inbox too, not only `items --issue`
    # A second note linking to it: taking one out leaves the item cited, and picked.
    again = invoke(ws, "issue", "note", "2022-q2", *args[:-3], "Lenket igjen", *args[-2:])
    assert again.exit_code == 0, again.output
    kept = invoke(ws, "issue", "remove", "2022-q2", "kom:1")
    assert kept.exit_code == 0 and f"  still picked: another entry cites it ({item['id']})\n" in kept.stdout
    gone = invoke(ws, "issue", "remove", "2022-q2", "kom:1")
    assert gone.exit_code == 0 and f"  skipped {item['id']}: out of the list" in gone.stdout, gone.output
    assert json.loads(invoke(ws, "show", item["id"], "--json").stdout)["status"] == "skipped"


def test_removing_an_entry_keeps_the_text_the_editor_wrote_and_a_starting_text_is_not_kept(ws, tmp_path):
    """A slip (a ref that shifted) must not cost the blurb: the removed entry's lines are kept in var/."""
    invoke(ws, "issue", "new", "2022-q2")
    first, second = (i["id"] for i in inbox(ws)[:2])
    assert invoke(ws, "issue", "add", "2022-q2", first, second).exit_code == 0
    path = ws / "issues" / "2022-q2.yaml"
    starting = next(e for entries in outline(ws)["sections"].values() for e in entries if e["item"] == first)["text"]
    text = path.read_text(encoding="utf-8")
    blurb = "KOM anbefaler rapporten, som viser hvordan utnyttelsen foregår."
    path.write_text(text.replace(starting.splitlines()[0], blurb, 1), encoding="utf-8")
    assert blurb in path.read_text(encoding="utf-8")
    place = next(
        f"{k}:{n}" for k, es in outline(ws)["sections"].items() for n, e in enumerate(es, 1) if e["item"] == first
    )
    removed = invoke(ws, "issue", "remove", "2022-q2", first)
    assert removed.exit_code == 0, removed.output
    kept = sorted((ws / "var" / "removed-entries").glob("2022-q2-*.yaml"))
    assert len(kept) == 1 and blurb in kept[0].read_text(encoding="utf-8")
    # Each entry kept says where it stood, so it can be pasted back there.
    key, position = place.split(":")
    assert f"# was {place}: paste it under `{key}:` in the issue file, as entry {position}\n" in kept[0].read_text(
        encoding="utf-8"
    )
    assert f"  the text you wrote is kept in {kept[0]}: paste it back" in removed.stdout
    # The starting text is the item's own, there for `issue add` to write again: nothing kept, nothing said.
    plain = invoke(ws, "issue", "remove", "2022-q2", second)
    assert plain.exit_code == 0 and "kept in" not in plain.stdout
    assert len(list((ws / "var" / "removed-entries").glob("*.yaml"))) == 1
    # Where the text cannot be kept (a file where the folder should be: refused even to root), nothing is removed.
    note = invoke(ws, "issue", "note", "2022-q2", "--section", "kom", "--heading", "Møter", "--text", "Møte i Oslo.")
    assert note.exit_code == 0
    shutil.rmtree(ws / "var" / "removed-entries")
    (ws / "var" / "removed-entries").write_text("", encoding="utf-8")
    refused = invoke(ws, "issue", "remove", "2022-q2", "kom:1")
    assert refused.exit_code == 1 and "could not be kept" in refused.stderr and "nothing was removed" in refused.stderr
    assert outline(ws)["sections"]["kom"][0]["text"] == "Møte i Oslo."


def test_a_heading_close_to_a_known_one_is_said_to_be_a_likely_typo_when_typed_and_at_check(ws):
    """Readers would get two headings for one organisation, or a typo as a heading: said as the editor types
    it (`issue add --heading`, `note`, `move`), and by `issue check`, with the move that corrects it."""
    invoke(ws, "issue", "new", "2022-q2")
    first, second, third, *_ = inbox(ws)
    typo = invoke(ws, "issue", "add", "2022-q2", first["id"], "--section", "norway", "--heading", "Stortingett")
    assert typo.exit_code == 0
    assert typo.stdout.splitlines()[1:] == [
        "  note: 'Stortingett' is a heading no other issue, feeds.yaml or newsletter.yaml has, and close to "
        f"'Stortinget' (feeds.yaml): if it is a typo, `newsletter issue move 2022-q2 {first['id']} --heading "
        "Stortinget`"
    ]
    # Known headings, another heading's beginning ("Høring" / "Høringer"), and one unlike any: no note.
    for item, heading in ((second, "Finland"), (third, "Høring")):
        quiet = invoke(ws, "issue", "add", "2022-q2", item["id"], "--section", "international", "--heading", heading)
        assert quiet.exit_code == 0 and "note:" not in quiet.stdout, quiet.stdout
    new = invoke(ws, "issue", "note", "2022-q2", "--section", "kom", "--heading", "Fafo-rapporter", "--text", "Tekst.")
    assert new.exit_code == 0 and "note:" not in new.stdout
    # A new heading close to another new one earlier in the issue: said at check, naming where that one is.
    again = invoke(ws, "issue", "note", "2022-q2", "--section", "kom", "--heading", "Fafo-raporter", "--text", "Mer.")
    assert again.exit_code == 0
    checked = invoke(ws, "issue", "check", "2022-q2", "--json")
    warnings = [p for p in json.loads(checked.stdout) if "a heading no other issue" in p["message"]]
    assert [(p["entry"], p["message"].split(": if it is a typo, ")[1]) for p in warnings] == [
        ("kom:2", "`newsletter issue move 2022-q2 kom:2 --heading Fafo-rapporter`"),
        ("norway:1", "`newsletter issue move 2022-q2 norway:1 --heading Stortinget`"),
    ]
    assert "close to 'Fafo-rapporter' (this issue, kom:1)" in warnings[0]["message"]
    # Corrected by the move it names, it is said no more; two entries under a typo are named both.
    assert invoke(ws, "issue", "move", "2022-q2", "norway:1", "--heading", "Stortinget").exit_code == 0
    moved = invoke(ws, "issue", "move", "2022-q2", "kom:1", "--heading", "Stortingett")
    assert "note: 'Stortingett' is a heading no other issue" in moved.stdout
    invoke(ws, "issue", "move", "2022-q2", "kom:1", "--heading", "Stortingett")
    checked = json.loads(invoke(ws, "issue", "check", "2022-q2", "--json").stdout)
    assert [p["message"].split(": if it is a typo, ")[1] for p in checked if "no other issue" in p["message"]] == [
        "correct the `heading` of its 2 entries (kom:1, kom:2)"
    ]


def test_a_heading_differing_in_its_numbers_or_being_anothers_beginning_is_no_typo():
    from newsletter.curate.edit import misspelt_heading

    known = {"tilstandsrapport 2023": ("Tilstandsrapport 2023", "2024-q2"), "høringer": ("Høringer", "feeds.yaml")}
    known |= {"europarådet og greta": ("Europarådet og GRETA", "2024-q2"), "politiet": ("Politiet", "2024-q2")}
    assert misspelt_heading("Tilstandsrapport 2024", known) is None
    assert misspelt_heading("Høring", known) is None
    assert (
        misspelt_heading("Nasjonalt samarbeid", {"internasjonalt samarbeid": ("Internasjonalt samarbeid", "x")}) is None
    )
    assert misspelt_heading("Politikk", known) is None
    assert misspelt_heading("europarådet  og GRETA", known) is None  # the same heading, folded
    assert misspelt_heading("Europarådet og GRETTA", known) == ("Europarådet og GRETA", "2024-q2")
    assert misspelt_heading("Høringr", known) == ("Høringer", "feeds.yaml")
    # Real bodies one word apart are no typos of each other; a word two letters off in a short word neither.
    for new, old in (
        ("Utdanningsdirektoratet", "Utlendingsdirektoratet"),
        ("Øst politidistrikt", "Vest politidistrikt"),
        ("Sør-Øst politidistrikt", "Sør-Vest politidistrikt"),
        ("Kommunal- og distriktsdepartementet", "Kommunal- og moderniseringsdepartementet"),
        ("IOM", "ILO"),
    ):
        assert misspelt_heading(new, {old.casefold(): (old, "x")}) is None, new
    assert misspelt_heading("Nasjonalt samarbied", {"nasjonalt samarbeid": ("Nasjonalt samarbeid", "x")})


def test_of_two_new_headings_alike_in_one_issue_the_more_used_is_taken_for_the_right_one(ws):
    invoke(ws, "issue", "new", "2022-q2")
    for n, heading in enumerate(("Fafo-raporter", "Fafo-rapporter", "Fafo-rapporter")):
        invoke(ws, "issue", "note", "2022-q2", "--section", "kom", "--heading", heading, "--text", f"Tekst {n}.")
    checked = json.loads(invoke(ws, "issue", "check", "2022-q2", "--json").stdout)
    [warning] = [p for p in checked if "no other issue" in p["message"]]
    assert warning["entry"] == "kom:1" and "close to 'Fafo-rapporter' (this issue, kom:2)" in warning["message"]


def test_triage_says_a_typed_heading_is_likely_a_typo(ws):
    invoke(ws, "issue", "new", "2022-q2")
    result = invoke(ws, "issue", "triage", "2022-q2", input="cnorway\nStortingett\nq")
    assert result.exit_code == 0, result.output
    assert "added to norway:1 under 'Stortingett'\n  note: 'Stortingett' is a heading no other issue" in result.stdout


def test_a_drafts_entries_are_not_learned_from_as_picks_when_the_file_cannot_say_they_are_untouched(ws):
    """A tab in the file, or a section key misspelt, hides which drafted entries the editor kept: their
    items, marked picked by the draft, are still no decision, and the ranking learns what it did before."""
    invoke(ws, "issue", "new", "2022-q2")
    first, second, *_ = inbox(ws)
    invoke(ws, "issue", "add", "2022-q2", first["id"])
    invoke(ws, "issue", "skip", second["id"])
    probabilities = sorted(i["probability"] for i in inbox(ws))
    bar = math.ceil(probabilities[len(probabilities) // 2] * 100)
    assert "entries added" in invoke(ws, "issue", "draft", "2022-q2", "--likely", str(bar)).stdout

    def learned() -> str:
        return invoke(ws, "items", "--issue", "2022-q2", "--limit", "1").stderr.split("(learned from ")[-1]

    before = learned()
    assert before.startswith("1 pick and 1 non-pick"), before
    path = ws / "issues" / "2022-q2.yaml"
    good = path.read_text(encoding="utf-8")
    key = next(k for k, entries in outline(ws)["sections"].items() if any(e["item"] != first["id"] for e in entries))
    path.write_text(good + "\tbroken: [\n", encoding="utf-8")
    assert learned().startswith("1 pick and 1 non-pick")
    assert f"\n  {key}:" in good
    path.write_text(good.replace(f"\n  {key}:", f"\n  {key}x:", 1), encoding="utf-8")
    assert learned().startswith("1 pick and 1 non-pick")
    # And `items` says the section is not read, as it says of a file it cannot read at all.
    listed = invoke(ws, "items", "--issue", "2022-q2", "--limit", "1").stderr
    assert f"sections.{key}x: unknown section '{key}x'" in listed
    assert "until it is fixed, the entries under it are not read" in listed

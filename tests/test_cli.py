"""The command line through click's runner: exit codes, exact error lines, JSON output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from tests.conftest import write_workspace
from tests.server import Route
from tests.test_collect import RSS, feeds_yaml, site  # noqa: F401 (fixture)

README = Path(__file__).parent.parent / "README.md"


def invoke(root, *args):
    result = CliRunner().invoke(cli, ["--workspace", str(root), *args], catch_exceptions=False)
    return result


@pytest.fixture
def collected(site, tmp_path):  # noqa: F811
    root = write_workspace(tmp_path, feeds_yaml(site))
    result = invoke(root, "collect")
    assert result.exit_code == 0, result.output
    return root


def test_collect_prints_a_summary_per_source(collected, site):  # noqa: F811
    result = invoke(collected, "collect", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [s["source"] for s in data["sources"]] == ["regjeringen", "cmm", "stortinget"]
    assert all(s["not_modified"] for s in data["sources"])
    table = invoke(collected, "collect").stdout
    for column in ("source", "new", "updated", "unchanged", "status", "regjeringen", "not modified"):
        assert column in table


def test_collect_exits_1_and_names_the_failed_source(collected, site):  # noqa: F811
    site.routes["/rss"] = Route(b"down", status=503, content_type="text/plain")
    result = invoke(collected, "collect")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: regjeringen: {site.url('/rss')}: HTTP 503 Service Unavailable"
    assert "cmm" in result.stdout and "failed" in result.stdout


def test_items_json_lists_candidates_best_first_with_documented_fields(collected):
    result = invoke(collected, "items", "--issue", "2022-q2", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert rows, "the quarter has candidates"
    for field in (
        "id",
        "source",
        "url",
        "title",
        "summary",
        "published",
        "kind",
        "deadline",
        "score",
        "terms",
        "section",
        "heading",
        "status",
    ):
        assert field in rows[0]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert all("2022-04-01" <= r["published"] <= "2022-06-30" for r in rows if r["published"])
    titles = [r["title"] for r in rows]
    assert "Nye regler for jordbruksoppgjøret" not in titles
    assert "Nye regler for jordbruksoppgjøret" in [
        r["title"] for r in json.loads(invoke(collected, "items", "--issue", "2022-q2", "--all", "--json").stdout)
    ]
    danish = json.loads(invoke(collected, "items", "--source", "cmm", "--json").stdout)
    assert {r["heading"] for r in danish} <= {"Danmark", "Politiske tiltak"} and danish
    assert all(
        r["section"] == "international"
        for r in json.loads(invoke(collected, "items", "--section", "international", "--json").stdout)
    )
    assert all(r["score"] >= 5 for r in json.loads(invoke(collected, "items", "--min-score", "5", "--json").stdout))


@pytest.mark.parametrize("count", [0, 1, 3])
def test_streamed_json_is_the_text_of_one_json_dump(count, capsys):
    from newsletter.cli import _json_out, _json_stream

    rows = [
        {"id": f"a{n}", "title": "Menneskehandel – «sak»", "terms": ["x", "y"], "deadline": None} for n in range(count)
    ]
    _json_stream(iter(rows))
    streamed = capsys.readouterr().out
    _json_out(rows)
    assert streamed == capsys.readouterr().out


def test_items_limit_and_json_without_an_issue_stream_in_keyword_order(collected):
    every = json.loads(invoke(collected, "items", "--all", "--json").stdout)
    assert len(every) > 3
    keys = [(-r["score"], r["published"] is None, [-ord(c) for c in r["published"] or ""], r["id"]) for r in every]
    assert keys == sorted(keys)
    limited = json.loads(invoke(collected, "items", "--all", "--json", "--limit", "3").stdout)
    assert limited == every[:3]
    lines = invoke(collected, "items", "--all", "--limit", "2").stdout.splitlines()
    assert [line.split()[0] for line in lines] == [r["id"] for r in every[:2]]


def test_a_broken_selector_stops_collect_and_sources_check_but_not_the_editors_commands(collected):
    feeds = collected / "feeds.yaml"
    text = feeds.read_text(encoding="utf-8")
    assert "item: div.item\n" in text
    feeds.write_text(text.replace("item: div.item\n", "item: div..item\n", 1), encoding="utf-8")
    line = text[: text.index("item: div.item\n")].count("\n") + 1
    for command in (["collect"], ["sources", "check"]):
        result = invoke(collected, *command)
        assert result.exit_code == 1, result.output
        assert f"{feeds}, line {line}" in result.stderr and "invalid CSS selector 'div..item'" in result.stderr
    # Listing and editing read no page: they do not pay for compiling every selector, nor fail on one.
    assert invoke(collected, "items", "--all", "--limit", "1").exit_code == 0


def test_items_plain_output_and_show(collected):
    lines = invoke(collected, "items", "--issue", "2022-q2").stdout.splitlines()
    first = lines[0].split()
    assert re.fullmatch(r"[0-9a-z]{7}", first[0])
    shown = invoke(collected, "show", first[0])
    assert shown.exit_code == 0
    assert re.search(rf"^id:\s+{first[0]}$", shown.stdout, re.M)
    assert re.search(r"^url:\s+http", shown.stdout, re.M)
    as_json = json.loads(invoke(collected, "show", first[0], "--json").stdout)
    assert as_json["id"] == first[0]


def test_skipped_items_leave_the_inbox(collected):
    rows = json.loads(invoke(collected, "items", "--json").stdout)
    from newsletter.config import Workspace
    from newsletter.store import Store

    with Store(Workspace(collected).db_path) as store:
        store.set_status([rows[0]["id"]], "skipped")
    after = [r["id"] for r in json.loads(invoke(collected, "items", "--json").stdout)]
    assert rows[0]["id"] not in after
    skipped = json.loads(invoke(collected, "items", "--status", "skipped", "--json").stdout)
    assert [r["id"] for r in skipped] == [rows[0]["id"]]


def test_show_unknown_item_is_an_error_with_a_hint(collected):
    result = invoke(collected, "show", "zzzzzzz")
    assert result.exit_code == 1
    assert "Error: no item 'zzzzzzz'" in result.stderr and "newsletter items" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("items", "--issue", "2022-q5"), "'2022-q5' is not an issue id like 2024-q2"),
        (("items", "--issue", "2022-q2", "--since", "2022-01-01"), "give either --issue or --since/--until"),
        (("items", "--since", "yesterday"), "Invalid value for '--since'"),
        (("items", "--status", "maybe"), "Invalid value for '--status'"),
        (("items", "--source", "nope"), "no source 'nope'"),
    ],
)
def test_usage_errors_exit_2(collected, args, message):
    result = invoke(collected, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_collect_unknown_source_is_a_usage_error(collected):
    result = invoke(collected, "collect", "--source", "nope")
    assert result.exit_code == 2
    assert "no source 'nope'" in result.stderr


def test_a_typo_in_feeds_yaml_stops_before_anything_is_fetched(site, tmp_path):  # noqa: F811
    root = write_workspace(tmp_path, feeds_yaml(site).replace("heading: Danmark", "headin: Danmark"))
    result = invoke(root, "collect")
    assert result.exit_code == 1
    feeds = root / "feeds.yaml"
    line = next(n for n, text in enumerate(feeds.read_text().splitlines(), 1) if "headin:" in text)
    assert result.stderr.strip() == (
        f"Error: {feeds}, line {line}: sources[cmm].headin: unknown key (did you mean 'heading'?)"
    )
    assert site.log == []


def test_sources_check_reports_health(collected, site):  # noqa: F811
    site.routes["/nyheder"] = Route(b"<html><body>redesigned</body></html>", content_type="text/html")
    result = invoke(collected, "sources", "check", "--json")
    assert result.exit_code == 1
    checks = {c["source"]: c for c in json.loads(result.stdout)}
    assert checks["regjeringen"]["ok"] and checks["regjeringen"]["items"] == 4
    assert checks["regjeringen"]["newest"] == "2022-06-24"
    assert checks["regjeringen"]["last_success"] is not None
    assert any("no new item for" in w for w in checks["regjeringen"]["warnings"])
    assert not checks["cmm"]["ok"] and "matched 0 items" in checks["cmm"]["error"]
    assert checks["cmm"]["reachable"] is True


def test_workspace_from_environment(collected, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_WORKSPACE", str(collected))
    result = CliRunner().invoke(cli, ["items", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)


def test_a_command_run_in_a_workspaces_subfolder_works_on_the_workspace(collected, monkeypatch):
    monkeypatch.delenv("NEWSLETTER_WORKSPACE", raising=False)
    inside = collected / "issues" / "deeper"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    result = CliRunner().invoke(cli, ["items", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)
    assert not (inside / "var").exists() and not (collected / "issues" / "var").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("items",),
        ("issue", "show", "2022-q2"),
        ("issue", "new", "2022-q2"),
        ("contacts", "list"),
        ("build", "2022-q2"),
        ("templates", "init"),
        ("site", "build"),
        ("site", "serve", "--port", "0"),
        ("preview", "2022-q2", "--port", "0"),
    ],
)
def test_a_command_run_outside_a_workspace_says_so_and_writes_nothing(tmp_path, monkeypatch, args):
    monkeypatch.delenv("NEWSLETTER_WORKSPACE", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {elsewhere}: not a newsletter workspace (no newsletter.yaml or feeds.yaml here, nor in a "
        "folder above); run the command in the workspace folder, or pass --workspace DIR"
    )
    named = CliRunner().invoke(cli, ["--workspace", str(elsewhere), *args])
    assert named.exit_code == 1 and "(no newsletter.yaml or feeds.yaml in it)" in named.stderr
    assert list(elsewhere.iterdir()) == []
    missing = CliRunner().invoke(cli, ["--workspace", str(elsewhere / "nope"), *args])
    assert missing.exit_code == 1 and f"{elsewhere / 'nope'}: no such folder" in missing.stderr
    assert not (elsewhere / "nope").exists()


def all_commands(group=cli, prefix=()):
    """(path, command) for every command and group under `group`, a group before its commands."""
    for name, command in group.commands.items():
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


@pytest.mark.parametrize(
    "path, command", list(all_commands()), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_has_help_and_is_in_the_readme(path, command):
    assert command.help and command.help.strip()
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert f"newsletter {' '.join(path)}" in README.read_text(encoding="utf-8")


def readme_commands() -> list[tuple[str, ...]]:
    """Each distinct `newsletter WORD [WORD]` written as code in README.md (spans and fenced blocks)."""
    text = README.read_text(encoding="utf-8")
    fenced = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
    code = fenced.findall(text) + re.findall(r"`([^`]+)`", fenced.sub("", text))
    found = (
        tuple(words.split())
        for snippet in code
        for words in re.findall(r"\bnewsletter((?:\s+[a-z][a-z-]*){1,2})", snippet)
    )
    return sorted(set(found))


def test_the_root_group_has_help():
    assert cli.help and cli.help.strip()


@pytest.mark.parametrize("words", readme_commands(), ids=" ".join)
def test_every_command_the_readme_shows_exists(words):
    """A renamed or removed command leaves no stale `newsletter …` line in the README."""
    command = cli.get_command(click.Context(cli), words[0])
    assert command is not None, f"README.md shows `newsletter {words[0]}`, which is not a command"
    if isinstance(command, click.Group) and len(words) > 1:
        assert command.get_command(click.Context(command), words[1]) is not None, (
            f"README.md shows `newsletter {' '.join(words)}`, and {words[0]} has no command {words[1]}"
        )


@pytest.mark.parametrize(
    "args, usage",
    [
        (["issue", "move", "2024-q2", "kom:1", "--section", "nosuch"], "Usage: cli issue move [OPTIONS]"),
        (["issue", "note", "2024-q2", "--section", "kom", "--heading", "X", "--text", ""], "Usage: cli issue note"),
        (["links", "2024-q2", "--archive"], "Usage: cli links [OPTIONS]"),
    ],
)
def test_a_usage_error_inside_a_command_shows_that_commands_usage(sample_workspace, args, usage):
    result = invoke(sample_workspace, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(usage)
    assert "Usage: cli [OPTIONS] COMMAND" not in result.stderr


def test_a_logged_warning_is_a_plain_warning_line(sample_workspace):
    # A broken earlier issue: the ranking leaves it out and says so through logging.
    (sample_workspace / "issues" / "2024-q1.yaml").write_text("id: 2024-q1\nsections: [\n", encoding="utf-8")
    result = invoke(sample_workspace, "items", "--issue", "2024-q2")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "2024-q1" in line]
    assert lines and lines[0].startswith("warning: ranking leaves out 2024-q1: "), result.stderr
    assert "WARNING" not in result.stderr


def test_a_librarys_logged_warning_keeps_its_name():
    import logging

    from newsletter.cli import _WarningFormatter

    record = logging.LogRecord("weasyprint", logging.WARNING, __file__, 1, "Ignored %s", ("x",), None)
    assert _WarningFormatter(verbose=False).format(record) == "warning: weasyprint: Ignored x"

"""The command line: parse, call one core function, report. No logic lives here."""

from __future__ import annotations

import calendar
import datetime as dt
import errno
import io
import itertools
import json
import logging
import math
import os
import re
import shlex
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from newsletter import __version__, clock
from newsletter.config import Workspace
from newsletter.curate.listing import counted as _count
from newsletter.errors import NewsletterError, NotFound, UsageError, os_error_advice
from newsletter.models import ITEM_STATUSES, Entry, Issue, heading_runs
from newsletter.quarters import quarter_bounds
from newsletter.store import Store
from newsletter.textcodec import visible

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from newsletter.curate.issuefile import Problem
    from newsletter.terminal import KeyReader

T = TypeVar("T")


class IssueIdType(click.ParamType):
    """An issue id, `YYYY-qN`: checked while parsing, so a bad one is a usage error (exit 2)."""

    name = "ID"

    def convert(self, value, param, ctx):
        text = str(value).strip().lower()
        try:
            quarter_bounds(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return text


ISSUE_ID = IssueIdType()


# In English, as every message is: calendar.month_name follows the locale, where one is set.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class DateType(click.ParamType):
    """A day, `YYYY-MM-DD`, as a `datetime.date`: checked while parsing, so a bad one is a usage error (exit 2).

    click.DateTime would say the value "does not match the format '%Y-%m-%d'", strftime's words, and
    says so of 2022-13-01 too, which matches it; this names the example to follow, and what is
    impossible about a date that only looks right.
    """

    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):  # a default given as a date
            return value
        text = str(value).strip()
        parts = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
        reason = ""
        if parts:
            year, month, day = (int(part) for part in parts.groups())
            try:
                return dt.date(year, month, day)
            except ValueError:
                if year < dt.MINYEAR:
                    reason = f": there is no year {year}"
                elif not 1 <= month <= 12:
                    reason = f": there is no month {month}"
                elif day < 1:
                    reason = ": there is no day 0"
                else:
                    days = calendar.monthrange(year, month)[1]
                    reason = f": {_MONTHS[month - 1]} {year} has {days} days"
        if norwegian := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text):
            # 15.09.2022, as Norwegian writes a day: the same day, written the way asked for.
            with suppress(ValueError):
                day_first = dt.date(*(int(part) for part in reversed(norwegian.groups())))
                reason = f": write {day_first.isoformat()}"
        self.fail(f"'{text}' is not a date like 2024-07-05 (year-month-day){reason}", param, ctx)


DATE = DateType()


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A number option that must be a number: click's float takes "nan" and "inf", which compare false
    with every score and would list nothing, or everything, without a word."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number; give a score such as 3 or 4.5", ctx, param)
    return value


def _report_errors(ctx: click.Context, run: Callable[[], T]) -> T:
    """Run a command or group, turning NewsletterError into a one-line message and exit status 1
    (2 for usage errors, with the usage of the command that was given, not the top-level one)."""
    try:
        return run()
    except UsageError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    except click.UsageError as exc:
        if exc.ctx is None:  # raised by a command without its context: show that command's usage too
            raise click.UsageError(exc.message, ctx) from exc
        raise
    except NewsletterError as exc:
        for line in exc.details:
            click.echo(line, err=True)
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise  # the reader of a pipe left (`| head`): click ends quietly
        # The environment's fault, not the editor's and not a bug: a read-only folder, a full disk,
        # a file another user owns. Said in one line, naming the file, as every other error is.
        names = " and ".join(str(name) for name in (exc.filename, exc.filename2) if name)
        what = f"cannot use {names}: {exc.strerror or exc}" if names else f"a file could not be used: {exc}"
        raise click.ClickException(f"{what}. {os_error_advice(exc)}") from exc


class NewsletterCommand(click.Command):
    """A command whose errors are reported by `_report_errors` with its own context."""

    def invoke(self, ctx):
        return _report_errors(ctx, lambda: super(NewsletterCommand, self).invoke(ctx))


class NewsletterGroup(click.Group):
    """Turns NewsletterError into a one-line message, in one place: every command and subgroup made
    under it is of these classes, so the innermost one reports its error with its own usage line."""

    command_class = NewsletterCommand
    group_class = type  # subgroups are NewsletterGroups too

    def invoke(self, ctx):
        return _report_errors(ctx, lambda: super(NewsletterGroup, self).invoke(ctx))


class _WarningFormatter(logging.Formatter):
    """`warning: message` for the package's warnings, as the commands print theirs; the logger's name
    and level in full only for diagnostics asked for with --verbose."""

    def __init__(self, verbose: bool):
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        if not self.verbose and record.levelno >= logging.WARNING:
            # A library's warning (WeasyPrint's about a stylesheet) keeps its name: it is not ours to explain.
            ours = record.name == "newsletter" or record.name.startswith("newsletter.")
            where = "" if ours else f"{record.name}: "
            return f"{record.levelname.lower()}: {where}{record.getMessage()}"
        return super().format(record)


class Context:
    """What every command needs: the workspace and its loaded configuration."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._settings = None
        self._feeds = None
        self.fetching = False  # set by the commands that fetch: they check every CSS selector first

    @property
    def settings(self):
        """newsletter.yaml, loaded once."""
        if self._settings is None:
            self.workspace.require()
            self._settings = self.workspace.settings()
        return self._settings

    @property
    def feeds(self):
        """feeds.yaml, loaded once and checked against the configured sections."""
        if self._feeds is None:
            self._feeds = self.workspace.feeds(self.settings, check_selectors=self.fetching)
        return self._feeds

    def store(self) -> Store:
        """Open the item store (of a workspace only: see `Workspace.require`)."""
        self.workspace.require()
        return Store(self.workspace.db_path)


pass_context = click.make_pass_decorator(Context)


@click.group(cls=NewsletterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False),
    envvar="NEWSLETTER_WORKSPACE",
    help="Workspace directory (default: the current directory).",
)
@click.option("--verbose", "-v", is_flag=True, help="Log diagnostics to stderr.")
@click.version_option(__version__, prog_name="newsletter")
@click.pass_context
def cli(ctx, workspace, verbose):
    """Collect, curate, render, mail and archive a quarterly newsletter."""
    _log_to_stderr(verbose)
    ctx.obj = Context(Workspace.locate(workspace))


def _log_to_stderr(verbose: bool) -> None:
    """Send log records to stderr: warnings as `warning: …` lines, diagnostics too with --verbose.

    The handler goes on the root logger once (a second `cli` call in one process, as in tests,
    replaces it), and writes to the stderr of the moment (`click.echo`), not the one at setup."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _EchoHandler)]:
        root.removeHandler(handler)
    handler = _EchoHandler()
    handler.setFormatter(_WarningFormatter(verbose))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


class _EchoHandler(logging.Handler):
    """Writes a log record to stderr with click.echo."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # logging must never break a command
            self.handleError(record)


def _stderr() -> Console:
    return Console(stderr=True)


@contextmanager
def _progress_bar(label: str):
    """A rich progress bar on a terminal; nothing at all in a pipe or under CI."""
    console = _stderr()
    if not console.is_terminal:
        yield lambda *_: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks = {}

        def update(event: str, name: str, value) -> None:
            if event == "phase":
                tasks[name] = bar.add_task(f"{label}: {name}", total=value)
            elif event == "source" and "sources" in tasks:
                bar.advance(tasks["sources"])
            elif event == "article" and "articles" in tasks:
                bar.advance(tasks["articles"])

        yield update


def _echo_visible(line: str, err: bool = False, **style) -> None:
    """Print a line holding the editor's or a source's words (a title, a heading, a problem quoting them), each
    invisible character shown as its code point, "⟨U+202E⟩" (`textcodec.visible`); `style` as click.secho.

    The one way listings reach the terminal: printed raw, a right-to-left override reverses the rest of the
    line as the terminal lays it out (Unicode TR9), so the editor would read something else than the file
    holds. JSON (`_json_out`) and the files keep every character as it is.
    """
    # click.secho would add a reset code even with no style, which a terminal's reader sees as noise.
    click.echo(click.style(visible(line), **style) if style else visible(line), err=err)


def _json_out(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _json_stream(objects: Iterable[dict]) -> None:
    """A JSON array written element by element: the same text as `_json_out(list(objects))`."""
    first = True
    for obj in objects:
        click.echo("[\n" if first else ",\n", nl=False)
        click.echo(textwrap.indent(json.dumps(obj, ensure_ascii=False, indent=2), "  "), nl=False)
        first = False
    click.echo("[]" if first else "\n]")


# ---------------------------------------------------------------------- collect


@cli.command()
@click.option("--source", "-s", "keys", multiple=True, metavar="KEY", help="Collect only this source (repeatable).")
@click.option("--since", type=DATE, help="Ignore items published before this date (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print the per-source results as JSON.")
@pass_context
def collect(ctx: Context, keys, since, as_json):
    """Fetch every enabled source and store its items.

    Sources are fetched concurrently, unchanged ones cost one conditional
    request, and one failing source never stops the others. Exit status 1
    when any source failed (each is named on stderr).
    """
    from newsletter.collect.run import collect as run_collect

    ctx.fetching = True
    feeds, settings = ctx.feeds, ctx.settings  # validated, every selector too, before anything is fetched
    with ctx.store() as store, _progress_bar("collect") as progress:
        report = run_collect(store, feeds, settings, keys=keys, since=since, progress=progress)
    if as_json:
        _json_out(
            {
                "sources": [vars(r) | {"ok": r.ok} for r in report.results],
                "articles_fetched": report.articles_fetched,
                "articles_failed": report.articles_failed,
                "articles_cached": report.articles_cached,
                "articles_waiting": report.articles_waiting,
                "article_failures_by_host": {
                    host: [{"reason": r, "count": n, "example": e} for r, n, e in reasons]
                    for host, reasons in report.unreadable_by_host()
                },
                "selectors_matched_nothing": report.selectors_matched_nothing,
                "seconds": round(report.seconds, 2),
            }
        )
    else:
        table = Table(title=f"Collected {_count(len(report.results), 'source')} in {report.seconds:.1f}s")
        for column in ("source", "new", "updated", "unchanged", "status"):
            table.add_column(column, justify="right" if column in ("new", "updated", "unchanged") else "left")
        for r in report.results:
            status = "failed" if not r.ok else ("not modified" if r.not_modified else "ok")
            if r.ok and r.warnings:
                status += f" ({_count(len(r.warnings), 'warning')})"
            table.add_row(r.source, str(r.new), str(r.updated), str(r.unchanged), status)
        Console(width=max(100, Console().width)).print(table)
        if report.articles_fetched or report.articles_failed or report.articles_cached or report.articles_waiting:
            click.echo(
                f"Article pages: {report.articles_fetched} read, {report.articles_cached} from the cache, "
                f"{report.articles_failed} unreadable, {report.articles_waiting} failed before and not asked again yet"
            )
            for host, reasons in report.unreadable_by_host():
                click.echo(f"  {host}:")
                for reason, count, example in reasons:
                    click.echo(f"    {count} × {reason}" + (f" (e.g. {example})" if count > 1 else f" ({example})"))
        if report.selectors_matched_nothing:
            click.echo(
                "Selectors matched nothing (update them in feeds.yaml): " + ", ".join(report.selectors_matched_nothing)
            )
        for r in report.results:
            for warning in r.warnings if r.ok else ():
                click.echo(f"warning: {r.source}: {warning}", err=True)
    for r in report.failed:
        click.echo(f"error: {r.source}: {r.error}", err=True)
    if report.failed:
        sys.exit(1)


# ---------------------------------------------------------------------- sources


@cli.group()
def sources():
    """Inspect the sources of feeds.yaml."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sources_list(ctx: Context, as_json):
    """List the configured sources with their kind, section and heading."""
    rows = [
        {
            "key": s.key,
            "name": s.name,
            "kind": s.kind,
            "url": s.url,
            "enabled": s.enabled,
            "section": s.section,
            "heading": s.heading,
            "language": s.language,
            "relevance": s.relevance,
            "item_kind": s.item_kind,
        }
        for s in ctx.feeds.sources
    ]
    if as_json:
        _json_out(rows)
        return
    for row in rows:
        flag = "" if row["enabled"] else " (disabled)"
        click.echo(f"{row['key']:<28} {row['kind']:<10} {row['section']:<13} {row['heading']}{flag}")


@sources.command("check")
@click.option("--source", "-s", "keys", multiple=True, metavar="KEY", help="Check only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sources_check(ctx: Context, keys, as_json):
    """Fetch each source now and report: reachable, items parsed, newest date, warnings.

    Catches site redesigns (a selector that matches nothing, no new item for
    months) before the quarter's inbox comes up short. Exit status 1 when any
    source cannot be read.
    """
    from newsletter.collect.check import check_sources

    ctx.fetching = True
    feeds, settings = ctx.feeds, ctx.settings
    with ctx.store() as store, _progress_bar("check") as progress:
        checks = check_sources(store, feeds, settings, keys=keys, progress=progress)
    if as_json:
        _json_out([c.to_json() for c in checks])
    else:
        table = Table(title="Sources")
        for column in ("source", "reachable", "items", "newest", "last collect", "failures", "problems"):
            table.add_column(column, overflow="fold")
        for c in checks:
            problems = "; ".join(([c.error] if c.error else []) + c.warnings)
            table.add_row(
                c.source,
                "yes" if c.reachable else "no",
                str(c.items),
                c.newest.isoformat() if c.newest else "-",
                _local_time(c.last_success, settings.timezone),
                str(c.consecutive_failures),
                problems or "ok",
            )
        Console(width=max(140, Console().width)).print(table)
    if any(not c.ok for c in checks):
        sys.exit(1)


def _gave_up(state: str, reply: str, issue_id: str) -> str:
    """What to add to a failed recipient's line whose last reply was a 4xx (RFC 5321 4.2.1: transient): the
    run gave up after mail.max_attempts deferrals, which the reply alone does not say."""
    if state != "failed" or not re.match(r"(?:[A-Za-z ]+: )?4\d\d\b", reply):  # "RCPT TO: 451 …", "end of DATA: 451 …"
        return ""
    return (
        " (deferred on every try, up to mail.max_attempts; the server may take it later: "
        f"`newsletter send {issue_id} --retry-failed` tries again)"
    )


def _local_time(moment, tz: str) -> str:
    """An instant as the editor reads it: minutes in the newsletter's zone ("never" for None)."""
    return clock.local(moment, tz).strftime("%Y-%m-%d %H:%M") if moment else "never"


# ---------------------------------------------------------------------- items


@cli.command()
@click.option("--issue", "issue_id", type=ISSUE_ID, help="The quarter an issue id names, e.g. 2024-q2.")
@click.option("--since", type=DATE, help="Published on or after this date.")
@click.option("--until", type=DATE, help="Published on or before this date.")
@click.option("--source", "-s", "keys", multiple=True, metavar="KEY", help="Only items seen in this source.")
@click.option("--section", "sections", multiple=True, metavar="KEY", help="Only items suggested for this section.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([*ITEM_STATUSES, "all"]),
    help="Only items with this status (default: new and picked).",
)
@click.option("--min-score", type=float, callback=_finite, help="Only items scoring at least this.")
@click.option(
    "--all", "include_all", is_flag=True, help="Every item: also those of filtered sources below the threshold."
)
@click.option(
    "--grep",
    "grep",
    metavar="TEXT",
    help="Only items whose title, summary or article text contains TEXT (any case, any accents).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def items(ctx: Context, issue_id, since, until, keys, sections, statuses, min_score, include_all, grep, limit, as_json):
    """The candidate inbox, best first.

    Every item of a `relevance: all` source, and the items of `relevance:
    filter` sources whose score reaches the threshold in newsletter.yaml,
    ordered by that score.

    With --issue (and no --status), the quarter's undecided items, ordered by
    what this editor is likely to pick: a model learned from the past issues
    and every pick and skip, re-trained on each call. Each line shows the
    probability of a pick, and the list ends with an estimate of the likely
    picks still below the last line shown. Once the quarter has a decision,
    the items of sources with few items judged this quarter are moved up,
    above likelier items, so each source's best is read early (`show ITEM`
    says when an item was).

    Each line shows the id, the score or probability, the date (a month or a
    year when the source gave no day), the kind, a consultation's deadline,
    the source and the title.
    """
    from newsletter.curate.inbox import inbox_query, iter_inbox
    from newsletter.curate.listing import grep_items, item_lines

    query = inbox_query(
        issue_id,
        since,
        until,
        keys,
        sections,
        statuses,
        min_score,
        include_all,
    )
    feeds, settings = ctx.feeds, ctx.settings  # validated before the store is opened
    ranking = None
    with ctx.store() as store:
        if issue_id and not statuses:
            from newsletter.curate.edit import ranked_candidates

            found, ranking = ranked_candidates(_curation(ctx, store), issue_id, query)
            if grep:
                found = list(grep_items(store, found, grep))
            listed = found[:limit] if limit else found
        else:
            # Streamed from the store in keyword order: --limit stops reading, --json writes as it goes.
            found = []
            candidates = iter_inbox(store, feeds, settings, query)
            if grep:
                candidates = grep_items(store, candidates, grep)
            stream = itertools.islice(candidates, limit or None)
            if as_json:
                _json_stream(item.to_json() for item in stream)
                return
            listed = list(stream)
    if as_json:
        _json_out([i.to_json() for i in listed])
        return
    if not listed:
        if issue_id and not (statuses or keys or sections or grep or min_score is not None):
            from newsletter.curate.edit import no_candidates

            with ctx.store() as store:
                click.echo(f"No candidates: {no_candidates(_curation(ctx, store), issue_id)}.", err=True)
            return
        if grep:  # the text searched for is the likeliest reason, not the collection
            click.echo(
                f"No candidates contain '{grep}' in their title, summary or article text; "
                "try other words, or widen the filters (--all, --status all).",
                err=True,
            )
            return
        click.echo("No candidates. Run `newsletter collect`, or widen the filters (--all, --status all).", err=True)
        return
    learned = ranking is not None and ranking.learned
    for line in item_lines(listed, learned):
        _echo_visible(line)
    if ranking is not None:
        moved = learned and _moved_up(listed)
        if moved:
            from newsletter.curate.ranking import MOVED_UP_NOTE

            click.echo(f"-- {MOVED_UP_NOTE}", err=True)
        click.echo(_ranking_footer(ranking, listed, found[len(listed) :], include_all, moved), err=True)


def _moved_up(listed: list) -> bool:
    """Whether a line shown is above a likelier one (`ranking.moved_up_positions`; a line marked as a twin
    of the line above is placed by it): the order departs from the probabilities shown, and must say why."""
    from newsletter.curate.listing import twin_lines
    from newsletter.curate.ranking import moved_up_positions

    return bool(moved_up_positions([item.probability or 0.0 for item in listed], twin_lines(listed)))


def _ranking_footer(ranking, listed: list, below: list, include_all: bool, moved: bool = False) -> str:
    """The line under `items --issue`: how far to read (learned), or why the order is the keyword score's.
    `moved`: some line shown is above a likelier one (`_moved_up`), so the list is not "best first"."""
    if not ranking.learned:
        from newsletter.curate.ranking import PICKS_ALONE

        more = f"{len(below)} more below, " if below else ""
        wider = "" if include_all else "; `--all` lists every undecided item of the quarter"
        return (
            f"-- {more}by keyword score: nothing to learn from yet (no entries of earlier issues in issues/, "
            f"not both a pick and a non-pick among the items, and fewer than {PICKS_ALONE} picks){wider}"
        )
    if ranking.history:
        source = (
            f"learned from {_count(ranking.history, 'entry', 'entries')} of earlier issues, "
            f"{_count(ranking.picks, 'pick')}, {_count(ranking.non_picks, 'non-pick')}"
        )
    else:
        source = (
            f"learned from {_count(ranking.picks, 'pick')} and {_count(ranking.non_picks, 'non-pick')}; "
            "no entries of earlier issues in issues/ to learn from"
        )
    if ranking.unconfirmed:
        # Said, or the picks counted here and the entries in the issue read as a contradiction.
        source += f"; {_untouched_drafts(ranking.unconfirmed)}"
    if below:
        likely = _likely_picks(sum(i.probability or 0.0 for i in below))
        return f"-- {likely} in the {_count(len(below), 'item')} below ({source})"
    likely = _likely_picks(sum(i.probability or 0.0 for i in listed))
    order = "" if moved else ", best first"
    return f"-- {_count(len(listed), 'undecided item')}{order}, {likely} among them ({source})"


def _untouched_drafts(items: int) -> str:
    """ "not from the 3 items drafts added that you have not touched yet": what the ranking leaves out."""
    added = "the item a draft added" if items == 1 else f"the {items} items drafts added"
    return f"not from {added} that you have not touched yet"


def _likely_picks(expected: float) -> str:
    """An estimate of picks in words: "about 3 likely picks", "about 1 likely pick", "less than one likely pick"."""
    if expected < 0.5:
        return "less than one likely pick"
    return f"about {_count(math.floor(expected + 0.5), 'likely pick')}"  # half up: 0.5 is "about 1", not 0


@cli.command()
@click.argument("item_id", metavar="ITEM")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def show(ctx: Context, item_id, as_json):
    """Show one collected item in full.

    An undecided item also shows the editor's ranking of it: the probability
    of a pick in its quarter, what weighed most (`why`), and the section and
    heading the ranking suggests; an item an issue cites, the section and
    heading it is filed under there (the latest issue's). `cited_in` names
    every issue and entry that cites it, each once, saying whether by its id
    or by a link in its text.
    """
    from newsletter.curate.edit import citations, ranked_item

    with ctx.store() as store:
        curation = _curation(ctx, store)
        item = ranked_item(curation, item_id)
        cited_in = citations(curation, item.id)
    data = item.to_json() | {"cited_in": [each.to_json() for each in cited_in]}
    if cited_in:
        # Filed: where it stands in the latest issue citing it, not where the source or ranking would put it.
        latest = cited_in[-1]
        data["section"], data["heading"] = latest.entry.split(":", 1)[0], latest.heading
    if as_json:
        _json_out(data)
        return
    data["cited_in"] = [str(each) for each in cited_in]  # "2025-q2 norway:1 (by id)"
    for key in (
        "id",
        "title",
        "url",
        "source",
        "sources",
        "published",
        "date_precision",
        "kind",
        "deadline",
        "event_date",
        "score",
        "terms",
        "candidate",
        "section",
        "heading",
        "status",
        "cited_in",
        "probability",
        "why",
        "summary",
    ):
        value = data[key]
        if key == "probability" and value is not None:
            from newsletter.curate.listing import percent

            value = f"{percent(value)} likely to be picked"
        if key == "published" and value is not None:
            from newsletter.curate.listing import date_label

            value = date_label(item.published, item.date_precision)  # "juni 2022", not an invented 1 June
        if key == "date_precision":
            continue  # said by the date itself
        if isinstance(value, list):
            value = ", ".join(value)
        if value in (None, ""):
            continue
        _echo_visible(f"{key + ':':<16}{value}")


# ---------------------------------------------------------------------- issue


def _curation(ctx: Context, store: Store):
    from newsletter.curate.edit import Curation

    return Curation(ctx.workspace, ctx.settings, ctx.feeds, store)


def _echo_notes(notes: list[str]) -> None:
    """Print notes about what a command just did, each on its own indented line."""
    for note in notes:
        _echo_visible(f"  note: {note}")


def _placed_line(placed) -> str:
    if placed.items:
        what = "items " + ", ".join(placed.items)
    else:
        what = f"item {placed.item}" if placed.item else "note"
    return f"{placed.section}:{placed.position}  [{placed.heading}]  {placed.title or '(no title)'}  ({what})"


@cli.group()
def issue():
    """Curate an issue: issues/<id>.yaml, the editor's file."""


@issue.command("new")
@click.argument("issue_id", type=ISSUE_ID)
@click.option("--force", is_flag=True, help="Create it even for a quarter before 2000 or beyond the next one.")
@pass_context
def issue_new(ctx: Context, issue_id, force):
    """Create issues/ID.yaml with the configured sections and the period (never overwrites).

    A quarter before 2000, or later than the next one, is refused as a likely typo unless --force.
    """
    from newsletter.curate.edit import new_issue

    with ctx.store() as store:
        path = new_issue(_curation(ctx, store), issue_id, force)
    click.echo(f"created {path}")


@issue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def issue_list(ctx: Context, as_json):
    """All issues with their state: draft, checked, built or sent."""
    from newsletter.curate.edit import issue_states

    with ctx.store() as store:
        states = issue_states(_curation(ctx, store))
    if as_json:
        _json_out([s.to_json() for s in states])
        return
    for s in states:
        published = s.published.isoformat() if s.published else "not published"
        _echo_visible(
            f"{s.id}  {s.state:<8} {s.period:<24} {published:<14} {_count(s.entries, 'entry', 'entries'):>11}  "
            f"{_count(s.errors, 'error')}, {_count(s.warnings, 'warning')}"
        )


@issue.command("add")
@click.argument("issue_id", type=ISSUE_ID)
@click.argument("refs", metavar="ITEM...", nargs=-1, required=True)
@click.option("--section", metavar="KEY", help="Section to add to (default: the suggested one).")
@click.option("--heading", metavar="HEADING", help="Heading to add under (default: the suggested one).")
@click.option("--to", "to", metavar="ENTRY", help="Add the items to this existing entry instead (it cites them all).")
@pass_context
def issue_add(ctx: Context, issue_id, refs, section, heading, to):
    """Turn collected items into entries with a starting text to rewrite; marks them picked.

    Without --section and --heading, each item goes where past issues filed
    entries like it (the place `show` and `items --json` suggest), and
    failing that under its source's section and heading in feeds.yaml.
    With --to ENTRY, the items join that entry ("se her og her"): it keeps
    every item id, and a starting text gains their links.
    """
    from newsletter.curate.edit import (
        add_items,
        cited_elsewhere,
        configured_heading_notes,
        misspelt_notes,
        own_issue_notes,
    )

    with ctx.store() as store:
        curation = _curation(ctx, store)
        placed = add_items(curation, issue_id, refs, section, heading, to=to)
        # A heading typed (a suggested one is known): a typo is said now, not first at `issue check`.
        notes = misspelt_notes(curation, issue_id, [each for each in placed if not each.joined]) if heading else []
        notes += own_issue_notes(curation, issue_id, placed)
        if not heading:  # a heading typed is the editor's word for this item
            notes += configured_heading_notes(curation, issue_id, placed)
        # Citing an item again ("som omtalt i forrige utgave") is the editor's call, but never unnoticed.
        elsewhere = cited_elsewhere(curation, issue_id, [each.item for each in placed if each.item])
        # An id typed from another quarter's list: said now, not first at `issue check` (one another
        # issue cites is cited again on purpose, and said below).
        since, until = quarter_bounds(issue_id)
        dated = [(store.get_item(each.item), each) for each in placed if each.item and each.item not in elsewhere]
        outside = [(i.id, i.published, each) for i, each in dated if i.published and not since <= i.published <= until]
        path = curation.path(issue_id)
        store_urls = {item_id: store.get_item(item_id).url for each in placed for item_id in each.unlinked}
    for each in placed:  # refs as they stand once every item is in
        _echo_visible((f"added {each.item} to " if each.joined else "added ") + _placed_line(each))
    _echo_notes(notes)
    if unaccepted := next((each for each in placed if each.unaccepted), None):
        ref = f"{unaccepted.section}:{unaccepted.position}"
        # Said, not done quietly: the editor accepted that entry once and would not look at it again.
        click.echo(
            f"  {ref} is no longer accepted: its starting text gained the new links; read it, then "
            f"`newsletter issue accept {issue_id} {ref}` keeps it"
        )
    said: set[str] = set()
    for joined in (each for each in placed if each.joined):
        # What joining did to the entry, said once per entry (with --to, one entry for all of them).
        where = f"{joined.section}:{joined.position}"
        for item_id in joined.unlinked:
            url = store_urls.get(item_id, "")
            field = "items" if joined.items else "item"
            click.echo(
                f"  {where}'s text is your own and was left as it is; it does not link to {item_id}: add its link, "
                f"[her]({url}), where the text cites it (if this is the wrong entry, delete {item_id} from its "
                f"`{field}` in {path}, then `newsletter issue unskip {item_id}`)"
            )
        if joined.dates is None or where in said:
            continue
        said.add(where)
        names = {"deadline": "deadline", "event_date": "event date"}
        for name, day in joined.dates.gained.items():
            click.echo(f"  {where} takes the {names[name]} {day.isoformat()} of the items it cites")
        for name, days in joined.dates.kept.items():
            click.echo(
                f"  {where} keeps its {names[name]}; its items give {', '.join(d.isoformat() for d in days)}: "
                f"if that is the right one, set `{name}:` in {path}"
            )
        for name, days in joined.dates.unset.items():
            click.echo(
                f"  {where} has no {names[name]}, and its items give {', '.join(d.isoformat() for d in days)}: "
                f"set the one it means as `{name}:` in {path}"
            )
    for item_id, published, each in outside:
        # Taken out by a slip, it is undecided again, on its own quarter's list: not skipped.
        if each.items:  # one of several items of an entry (`--to`): removing the entry would take the others
            undo = (
                f"delete its id from the `items:` of {each.section}:{each.position} in {path} (and its link from the "
                f"text), then `newsletter issue unskip {item_id}` puts it back among its quarter's candidates"
            )
        else:
            undo = (
                f"`newsletter issue remove {issue_id} {item_id} --undecided` takes it out and puts it back among "
                "its quarter's candidates"
            )
        click.echo(
            f"warning: item {item_id} was published {published.isoformat()}, outside {issue_id} "
            f"({since.isoformat()} – {until.isoformat()}); if that was a slip, {undo}",
            err=True,
        )
    for item, others in elsewhere.items():
        click.echo(f"warning: item {item} is also in {', '.join(others)}", err=True)


@issue.command("note")
@click.argument("issue_id", type=ISSUE_ID)
@click.option("--section", required=True, metavar="KEY", help="Section key from newsletter.yaml.")
@click.option("--heading", required=True, help="Heading (organisation, country or theme).")
@click.option("--text", help="The text, in Markdown; links as [se her](https://…). `-` reads it from standard input.")
@click.option("--edit", "edit", is_flag=True, help="Write the text in $EDITOR (starting from --text, if given).")
@click.option("--title", default="", help="A title for the entry.")
@click.option("--date", type=DATE, help="When it happened (YYYY-MM-DD).")
@click.option("--event-date", type=DATE, help="For an upcoming event: the day it takes place.")
@click.option("--deadline", type=DATE, help="For a consultation: the deadline.")
@pass_context
def issue_note(ctx: Context, issue_id, section, heading, text, edit, title, date, event_date, deadline):
    """Add a hand-written entry: the unit's own activities, meetings, publications.

    The text comes from --text, from standard input (`--text -`), or from
    $EDITOR (`--edit`, on a template whose `#` lines are left out).
    """
    from newsletter.curate.edit import add_note, linked_from, misspelt_notes, note_from_template, note_template

    if text is None and not edit:
        raise UsageError("give the note's text: --text TEXT, --text - (standard input) or --edit ($EDITOR)")
    typed = text == "-" or edit  # text that exists nowhere else once the command ends
    if text == "-":
        if _stdin_is_terminal():  # typed, not piped: without a word it looks as if it hung
            click.echo(f"Type the note, then {_END_OF_INPUT} to add it (Ctrl-C cancels):", err=True)
        text = sys.stdin.read()
    if edit:
        text = note_from_template(click.edit(note_template(issue_id, section, heading, text or ""), extension=".md"))
    try:
        with ctx.store() as store:
            curation = _curation(ctx, store)
            placed = add_note(curation, issue_id, section, heading, text, title, date, event_date, deadline)
            linked = linked_from(curation, text or "")
            notes = misspelt_notes(curation, issue_id, [placed])
    except (NewsletterError, OSError) as exc:
        if not typed or not (text or "").strip():
            raise
        # What the editor typed in $EDITOR or piped in is kept, and named, before the error is said.
        kept = _keep_note(ctx.workspace.var, issue_id, text or "")
        message = f"{exc}" if isinstance(exc, NewsletterError) else f"{exc.filename}: {exc.strerror or exc}"
        error = UsageError if isinstance(exc, UsageError) else NewsletterError  # exit status 2 stays 2
        # The command that adds it as asked: every option given, each quoted for the shell.
        dates = [("--date", date), ("--event-date", event_date), ("--deadline", deadline)]
        options = [("--section", section), ("--heading", heading), ("--title", title)]
        options += [(name, day.isoformat()) for name, day in dates if day]
        again = " ".join(f"{name} {shlex.quote(value)}" for name, value in options if value)
        raise error(
            f"{message}; the note's text is kept in {kept}: once that is fixed, "
            f"`newsletter issue note {issue_id} {again} --text - < {shlex.quote(str(kept))}` adds it"
        ) from exc
    _echo_visible("added " + _placed_line(placed))
    for item in linked:  # the editor pasted the address: say it was recognised, and the item taken
        _echo_visible(f"  cites item {item.id} «{item.title}» by its link")
    _echo_notes(notes)


# What ends typed input on this system's terminal: EOF at the start of a line.
_END_OF_INPUT = "Ctrl-Z then Enter on an empty line" if sys.platform == "win32" else "Ctrl-D on an empty line"


def _keep_note(var: Path, issue_id: str, text: str) -> Path:
    """Save a note's text that could not be added: var/unsaved-notes/ID-YYYYmmddTHHMMSS.md, or, where
    var/ cannot be written either, the system's temporary folder. Returns the file written."""
    import tempfile

    from newsletter.fsutil import atomic_write

    name = f"{issue_id}-{clock.now():%Y%m%dT%H%M%S}.md"
    for folder in (var / "unsaved-notes", Path(tempfile.gettempdir())):
        try:
            atomic_write(folder / name, text)
            return folder / name
        except OSError:
            continue
    raise NewsletterError(f"the note's text could not be kept anywhere; here it is:\n{text}")


@issue.command("remove")
@click.argument("issue_id", type=ISSUE_ID)
@click.argument("refs", metavar="ENTRY...", nargs=-1, required=True)
@click.option(
    "--undecided",
    is_flag=True,
    help="Put the entries' items back in the inbox undecided instead of skipping them (a later "
    "`issue draft` may add them again).",
)
@pass_context
def issue_remove(ctx: Context, issue_id, refs, undecided):
    """Remove entries (section:position or item id, as `issue show` prints them); their items are skipped.

    Positions are read as the file stands before any is removed, so `issue remove 2024-q2 norway:2
    norway:3` takes out the two entries `issue show` lists there.
    """
    from newsletter.curate.edit import item_statuses, remove_entries

    with ctx.store() as store:
        curation = _curation(ctx, store)
        removed = remove_entries(curation, issue_id, refs, skip=not undecided)
        statuses = item_statuses(curation, removed.items)
    for placed in removed.entries:
        _echo_visible("removed " + _placed_line(placed))
    if removed.kept_in is not None:
        click.echo(f"  the text you wrote is kept in {removed.kept_in}: paste it back into the issue file to undo")
    by_status: dict[str, list[str]] = {}
    for item, status in statuses.items():
        by_status.setdefault(status, []).append(item)
    for status, items in by_status.items():
        ids, them = " ".join(items), "it" if len(items) == 1 else "them"
        if status == "skipped":
            click.echo(
                f"  skipped {ids}: out of the list and of `issue draft` (`newsletter issue unskip {ids}` "
                f"puts {them} back in the inbox)"
            )
        elif status == "new":
            # Back among the undecided, a likely pick is listed near the top again, and a later
            # `issue draft` adds it again: a skip is what keeps it out.
            click.echo(
                f"  back in the inbox, undecided: `newsletter issue skip {ids}` keeps {them} out of the list "
                "and of `issue draft`"
            )
        else:
            click.echo(f"  still picked: another entry cites {them} ({ids})")


@issue.command("accept")
@click.argument("issue_id", type=ISSUE_ID)
@click.argument("refs", metavar="ENTRY...", nargs=-1, required=True)
@pass_context
def issue_accept(ctx: Context, issue_id, refs):
    """Keep entries' starting texts as they are (`accepted: true`), so `issue check` stops asking for a blurb."""
    from newsletter.curate.edit import accept_entries

    with ctx.store() as store:
        for placed in accept_entries(_curation(ctx, store), issue_id, refs):
            _echo_visible(("already accepted " if placed.unchanged else "accepted ") + _placed_line(placed))


@issue.command("move")
@click.argument("issue_id", type=ISSUE_ID)
@click.argument("ref", metavar="ENTRY")
@click.option("--section", metavar="KEY", help="Section to move to (default: the entry's own).")
@click.option("--heading", help="New heading for the entry.")
@click.option("--before", metavar="ENTRY", help="Put it just before this entry (same section).")
@click.option("--run", is_flag=True, help="Move the entries next to it under the same heading with it.")
@pass_context
def issue_move(ctx: Context, issue_id, ref, section, heading, before, run):
    """Move an entry to another section, heading or place; without --section it stays in its section.

    With --run, its heading's whole block moves: the entries next to it under that heading, in order.
    """
    from newsletter.curate.edit import misspelt_notes, move_entry

    if section is None and heading is None and before is None:
        # Not a no-op: the entry would go to the end of its heading's run, a reordering nobody asked for.
        raise UsageError("say where to: --section, --heading or --before (or more than one)")
    with ctx.store() as store:
        curation = _curation(ctx, store)
        placed = move_entry(curation, issue_id, ref, section, heading, before, run)
        notes = misspelt_notes(curation, issue_id, [placed]) if heading else []
    _echo_visible("moved to " + _placed_line(placed))
    if placed.moved > 1:
        others = _count(placed.moved - 1, "other entry", "other entries")
        click.echo(f"  with the {others} under «{placed.heading}» next to it, in their order")
    _echo_notes(notes)


def _set_status(ctx: Context, refs, status: str, verb: str) -> None:
    from newsletter.curate.edit import set_item_status

    with ctx.store() as store:
        for item in set_item_status(_curation(ctx, store), refs, status):  # each as it was before
            if item.status == status:  # nothing changed: said so, not as if it had
                already = "already skipped" if status == "skipped" else "not skipped (nothing to undo)"
                _echo_visible(f"{already}: {item.id}  {item.title}")
            else:
                _echo_visible(f"{verb} {item.id}  {item.title}")


@issue.command("skip")
@click.argument("refs", metavar="ITEM...", nargs=-1, required=True)
@pass_context
def issue_skip(ctx: Context, refs):
    """Skip items: they leave the inbox and stay out next quarter too."""
    _set_status(ctx, refs, "skipped", "skipped")


@issue.command("unskip")
@click.argument("refs", metavar="ITEM...", nargs=-1, required=True)
@pass_context
def issue_unskip(ctx: Context, refs):
    """Bring skipped items back into the inbox."""
    _set_status(ctx, refs, "new", "unskipped")


@issue.command("record")
@click.argument("issue_id", type=ISSUE_ID)
@pass_context
def issue_record(ctx: Context, issue_id):
    """Keep the quarter's decisions in issues/ID.decisions.jsonl, for the ranking.

    Every item collected in the issue's quarter, with what became of it: picked
    (the issue cites it), skipped, or left out. The ranking of later quarters
    learns from it once the store no longer holds these items (a new machine, a
    colleague's clone, a store started afresh): commit it with the issue.
    `newsletter send` through the SMTP server records the issue by itself; run
    this for an issue sent another way (the outbox, by hand), or again after
    changing a sent issue.
    """
    from newsletter.curate.edit import record_decisions

    with ctx.store() as store:
        recorded = record_decisions(_curation(ctx, store), issue_id)
    click.echo(_recorded_line(recorded))
    if recorded.warning:
        click.echo(f"warning: {recorded.warning}", err=True)


def _record_after_send(ctx: Context, store: Store, issue_id: str, quiet: bool = False, again: bool = False):
    """The quarter's decisions recorded once the issue went out (`issue record`); None, with a
    warning, when they cannot be: the send itself is done and stays so. `quiet`: a run that mailed
    nobody tries again without a word, since the run that mailed them said why it could not.
    `again`: an earlier run of this send mailed someone, so it said already that the store holds
    none of the quarter's items (which no run between can change but a collect)."""
    from newsletter.curate.edit import NothingToRecord, record_decisions

    try:
        return record_decisions(_curation(ctx, store), issue_id)
    except NewsletterError as exc:
        if not quiet and not (again and isinstance(exc, NothingToRecord)):
            click.echo(f"warning: the quarter's decisions were not recorded: {exc}", err=True)
    except Exception as exc:  # noqa: BLE001 (the mail is out: nothing here may hide the send's report)
        logging.getLogger(__name__).debug("recording %s failed", issue_id, exc_info=True)
        click.echo(
            f"warning: the quarter's decisions were not recorded ({type(exc).__name__}: {exc}); "
            f"run `newsletter issue record {issue_id}` once it is fixed",
            err=True,
        )
    return None


def _recorded_line(recorded) -> str:
    counts = recorded.counts
    return (
        f"recorded {_count(sum(counts.values()), 'item')} of the quarter in {recorded.path}: "
        f"{counts['picked']} picked, {counts['skipped']} skipped, {counts['left out']} left out"
    )


@issue.command("draft")
@click.argument("issue_id", type=ISSUE_ID)
@click.option(
    "--likely",
    type=click.IntRange(1, 100),
    default=50,
    show_default=True,
    metavar="PERCENT",
    help="Add the candidates at least this likely to be picked (the percentage `items --issue` shows).",
)
@click.option(
    "--min-score",
    type=float,
    callback=_finite,
    help="Only candidates whose keyword score (collection's, shown by `items` without --issue) is at least this.",
)
@click.option(
    "--undo",
    is_flag=True,
    help="Take out what earlier drafts added that you have not touched; their items become undecided again.",
)
@pass_context
def issue_draft(ctx: Context, issue_id, likely, min_score, undo):
    """Add the quarter's likely picks into their suggested sections, to prune from.

    Likely: at least --likely (50%) by the editor's ranking; before it has anything to learn
    from (no earlier issue, no decision), every candidate the keyword score lets into the inbox.
    With --undo, the drafts' entries still as they were added go out again (an entry you wrote
    in, accepted or joined with other items stays).
    """
    from newsletter.curate.edit import configured_heading_notes, draft, undo_draft
    from newsletter.curate.listing import percent

    if undo:
        given = [
            f"--{name.replace('_', '-')}"
            for name in ("likely", "min_score")
            if click.get_current_context().get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        ]
        if given:
            raise UsageError(
                f"{', '.join(given)}: not with --undo (it takes back what drafts added, whatever their bar)"
            )
        with ctx.store() as store:
            undone = undo_draft(_curation(ctx, store), issue_id)
        for entry in undone.removed:
            _echo_visible("removed " + _placed_line(entry))
        kept = f"; {_count(undone.kept, 'drafted entry', 'drafted entries')} you changed kept" if undone.kept else ""
        click.echo(
            f"{_count(len(undone.removed), 'drafted entry', 'drafted entries')} taken out of {issue_id}, "
            f"{_count(len(undone.released), 'item')} undecided again{kept}"
        )
        if undone.kept_in is not None:
            click.echo(f"  the entries taken out are kept in {undone.kept_in}, to paste one back")
        return
    with ctx.store() as store:
        curation = _curation(ctx, store)
        result = draft(curation, issue_id, min_score, likely / 100)
        notes = configured_heading_notes(curation, issue_id, result.placed)
    for entry in result.placed:
        # An item of the same story as one drafted before it joins that entry: said as `issue add` says it.
        _echo_visible((f"added {entry.item} to " if entry.joined else "added ") + _placed_line(entry))
    _echo_notes(notes)
    if result.placed:
        new = sum(1 for entry in result.placed if not entry.joined)
        joined = len(result.placed) - new
        also = f" ({_count(joined, 'item')} joined to one of them, the same story)" if joined else ""
        click.echo(f"{_count(new, 'entry', 'entries')} added to {issue_id}{also}")
    elif result.best is not None:
        best = result.best
        # `items` says "about 24 likely picks"; said here too, or the two read as a contradiction.
        spread = (
            f"; {_likely_picks(result.expected)} are spread over the {result.undecided} undecided items, "
            "none of them likely enough alone"
            if result.expected >= 1.5
            else ""
        )
        # What a draft added, untouched, is no decision: said, or its figures and the issue's entries read
        # as a contradiction.
        guesses = (
            f", learning from your decisions, {_untouched_drafts(result.unconfirmed)}" if result.unconfirmed else ""
        )
        click.echo(
            f"nothing added to {issue_id}: no candidate is {likely}% likely to be picked yet "
            f"(the most likely, {best.id} «{best.title}», is {percent(best.probability or 0.0)}{spread}{guesses}); "
            f"add with `newsletter issue add {issue_id} ITEM` or go through them with `newsletter issue triage "
            f"{issue_id}`"
        )
    else:
        click.echo(f"nothing added to {issue_id}" + (f": {result.none}" if result.none else ""))
    shown = 5  # a whole source without a section would flood the output
    for item, why in result.left_out[:shown]:
        _echo_visible(f"left out {item.id} «{item.title}»: {why}")
    if len(result.left_out) > shown:
        click.echo(
            f"left out {len(result.left_out) - shown} more for the same reasons "
            f"(`newsletter items --issue {issue_id}` lists them)"
        )


class _ClickTriageUI:
    """Triage on a terminal: single keys, prompts, the system's browser.

    `keys` reads the terminal for the whole session (see `_triage_keys`); None for an in-process
    caller's stream, which click.getchar reads. `issue_id` is named in the error without a terminal.
    """

    def __init__(self, issue_id: str, keys: KeyReader | None):
        self._issue_id, self._keys = issue_id, keys

    def show(self, item, index, total):
        from newsletter.curate.listing import date_label, percent

        date = date_label(item.published, item.date_precision)
        click.echo("")
        _echo_visible(f"[{index}/{total}] {item.title}", bold=True)
        # What `items` shows of it (a consultation's deadline too), then the reasons, wrapped: one
        # line of them all ran to 170 characters.
        due = f"due {item.deadline.isoformat()}" if item.deadline else ""
        facts = [item.id, item.source, date, item.kind, due]
        _echo_visible("  " + " · ".join(fact for fact in facts if fact))
        if item.probability is not None:
            weight = f"{percent(item.probability)} likely: {'; '.join(item.why) or '-'}"
        else:
            weight = f"score {item.score:.1f}: {', '.join(item.terms) or '-'}"
        _echo_visible("  " + click.wrap_text(weight, 76, subsequent_indent="    "))
        if item.section:
            _echo_visible(f"  → {item.section} / {item.heading}")
        else:  # its source is out of feeds.yaml, and no past pick is like it
            click.echo(f"  → no section suggested: source '{item.source}' is not in feeds.yaml; [c]hoose one")
        if item.summary:
            _echo_visible("  " + click.wrap_text(item.summary, 76, subsequent_indent="  "))
        _echo_visible(f"  {item.url}")
        click.echo("  [a]dd  [c]hoose section  [s]kip  [l]ater  [o]pen  [q]uit  [?]")

    def key(self):
        try:
            return self._keys.key() if self._keys else click.getchar()
        except (EOFError, KeyboardInterrupt, click.Abort):
            return "q"
        except OSError as exc:  # no terminal: click.getchar reads /dev/tty when standard input is a pipe
            raise NewsletterError(_no_terminal(self._issue_id)) from exc

    def choose_section(self, sections, default):
        with self._lines(), _cancellable():
            return click.prompt(
                "section", type=click.Choice(sections), default=default if default in sections else None
            )
        return None  # cancelled

    def choose_heading(self, default):
        with self._lines(), _cancellable():
            # Spaces alone are no heading (an entry without one stops every later command): the
            # suggested one, as Enter alone gives.
            return click.prompt("heading", default=default or None).strip() or default
        return None  # cancelled

    def open_link(self, url):
        from newsletter.curate.triage import open_in_browser

        if not open_in_browser(url):
            self.say(f"no browser to open it here; the link: {url}")

    def say(self, text):
        click.echo("  " + text.replace("\n", "\n  "))

    def _lines(self):
        """The terminal back in line mode (echo, editing) while click.prompt reads an answer."""
        return self._keys.lines() if self._keys else nullcontext()


def _cancellable():
    """Ctrl-C or Ctrl-D at a triage prompt cancels that prompt (click raises Abort), not the session."""
    return suppress(click.Abort, EOFError, KeyboardInterrupt)


def _no_terminal(issue_id: str) -> str:
    """The one-line error of triage without a terminal: the commands that do its work without one."""
    return (
        f"issue triage needs a terminal to read keys; without one, list with `newsletter items --issue {issue_id}` "
        f"and decide with `newsletter issue add {issue_id} ITEM...` and `newsletter issue skip ITEM...`"
    )


@contextmanager
def _triage_keys(issue_id: str) -> Iterator[KeyReader | None]:
    """The editor's keys for a whole triage session, opened before the first card is shown.

    From a terminal on standard input; from /dev/tty when standard input is a pipe or a file (what
    click does then), so `cmd | newsletter issue triage` still works in a terminal. Yields None
    for an in-process caller's stream, which has no file descriptor (click's CliRunner), and on
    Windows, where click.getchar reads the console and drops nothing: click.getchar reads then.
    Without a controlling terminal (cron, CI, a service) /dev/tty does not open: NewsletterError,
    so a pipe or a log gets one line, not half a session.
    """
    try:
        descriptor = sys.stdin.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        descriptor = None
    if descriptor is None or sys.platform == "win32":
        yield None
        return
    from newsletter.terminal import terminal_keys

    with ExitStack() as stack:
        try:
            keys = stack.enter_context(terminal_keys(descriptor))
        except OSError as exc:
            raise NewsletterError(_no_terminal(issue_id)) from exc
        if not os.isatty(descriptor):
            # Keys piped in (`printf 'ssss' | …`) would decide items nobody read: said, not ignored quietly.
            click.echo(
                "note: triage takes its keys from the terminal, one card at a time; its standard input (a pipe or "
                "a file) is not read (to decide items without reading them: `newsletter issue skip ITEM...`)",
                err=True,
            )
        yield keys


@issue.command("triage")
@click.argument("issue_id", type=ISSUE_ID)
@pass_context
def issue_triage(ctx: Context, issue_id):
    """Go through the quarter's candidates one by one, best first; resumable at any point.

    Each card waits for one key, without Enter; keys typed ahead are kept, in order.

    \b
      a  add to the suggested section and heading
      c  choose section and heading, then add
      s  skip (stays out of the inbox, next quarter too)
      l  leave for later
      o  open the link in a browser
      q  quit (every decision so far is saved); Ctrl-C too
      ?  help
    """
    from newsletter.curate.triage import triage

    with _triage_keys(issue_id) as keys, ctx.store() as store:
        result = triage(_curation(ctx, store), issue_id, _ClickTriageUI(issue_id, keys))
    if not result.shown:
        click.echo(f"nothing to triage: {result.none}")
        return
    click.echo(
        f"added {len(result.added)}, skipped {len(result.skipped)}, later {len(result.later)}"
        + (f", {result.remaining} still to go (the card on screen among them)" if result.quit else "")
    )


@issue.command("show")
@click.argument("issue_id", type=ISSUE_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def issue_show(ctx: Context, issue_id, as_json):
    """The issue as an outline: sections, headings, entries with their ids, missing texts.

    Shown also while the file has errors (an item id mistyped, a bad date: what validation could
    make of it), since the editor fixing them needs the entries' refs; a note on stderr says so.
    """
    with ctx.store() as store:
        curation = _curation(ctx, store)
        document, current = curation.load_lenient(issue_id)
        errors = [p for p in document.validate(curation.settings, curation.known_items())[1] if p.level == "error"]
    if errors:
        click.echo(
            f"note: {curation.path(issue_id)} has {_count(len(errors), 'error')}, so this is what could be read of "
            f"it; `newsletter issue check {issue_id}` names them",
            err=True,
        )
    if as_json:
        _json_out(current.to_json())
        return
    published = current.published.isoformat() if current.published else "not published"
    _echo_visible(f"{current.title} · {current.period} · {published}")
    for key, entries in current.sections.items():
        config = ctx.settings.section(key)
        title = (config.title if config else key).replace("{period}", current.period)
        _echo_visible(f"\n{key}: {title}" + ("  (empty)" if not entries else ""))
        for heading, members in heading_runs(entries):  # as every output shows them
            _echo_visible(f"  {heading}")
            for position, entry in members:
                _show_entry(current, key, position, entry)


def _show_entry(current: Issue, key: str, position: int, entry: Entry) -> None:
    """One entry's line of `issue show`: its ref, title and what to know about it."""
    marks = []
    if entry.items:
        marks.append(("items " if len(entry.items) > 1 else "item ") + ", ".join(entry.items))
    if not entry.text.strip():
        marks.append("NO TEXT")
    if entry.accepted:
        marks.append("starting text accepted")
    for name in ("date", "deadline", "event_date"):
        if getattr(entry, name):
            marks.append(f"{name} {getattr(entry, name).isoformat()}")
    if entry.deadline and current.published and entry.deadline < current.published:
        marks.append("closed")
    suffix = f"  ({', '.join(marks)})" if marks else ""
    _echo_visible(f"    {key}:{position}  {entry.title or '(no title)'}{suffix}")


@issue.command("check")
@click.argument("issue_id", type=ISSUE_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def issue_check(ctx: Context, issue_id, as_json):
    """Everything to fix before sending; exit status 1 when there are errors."""
    from newsletter.curate.edit import check_issue

    with ctx.store() as store:
        _issue, problems = check_issue(_curation(ctx, store), issue_id)
    errors = [p for p in problems if p.level == "error"]
    if as_json:
        _json_out([p.to_json() for p in problems])
    else:
        for p in problems:
            _echo_visible(f"{p.level}: {p}", err=p.level == "error")
        click.echo(f"{issue_id}: {_count(len(errors), 'error')}, {_count(len(problems) - len(errors), 'warning')}")
    if errors:
        sys.exit(1)


# ---------------------------------------------------------------------- build, preview, links


def _formats(value: str) -> tuple[str, ...]:
    from newsletter.render.build import FORMATS

    chosen = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise click.BadParameter(f"'{value}': choose from {', '.join(FORMATS)}", param_hint="--format")
    return chosen


@cli.command()
@click.argument("issue_id", type=ISSUE_ID)
@click.option(
    "--format",
    "formats",
    default="web,email,text,pdf",
    show_default=True,
    help="Comma-separated formats: web, email, text, pdf.",
)
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: build/ID).")
@click.option("--force", is_flag=True, help="Build even when `issue check` finds errors.")
@pass_context
def build(ctx: Context, issue_id, formats, out, force):
    """Render an issue to build/ID/: index.html, email.html, email.txt, ID.pdf (and events.ics).

    Runs `issue check` first and refuses an issue with errors unless --force.
    """
    from newsletter.curate.edit import ready_issue
    from newsletter.render.build import build as render_build

    chosen = _formats(formats)
    with ctx.store() as store:
        ready = ready_issue(_curation(ctx, store), issue_id, force)
    for problem in ready.errors:  # forced past them
        _echo_visible(f"{problem.level}: {problem}", err=True)
    out_dir = Path(out) if out else ctx.workspace.build_dir(issue_id)
    result = render_build(ready.issue, ctx.settings, out_dir, chosen, ctx.workspace.root / "templates")
    for _name, path in result.files.items():
        click.echo(f"wrote {path}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    _check_warnings(issue_id, ready.warnings)


# Up to this many of `issue check`'s warnings are printed by `build`; more become one line that
# counts them, so the lines of the build itself stay in view.
BUILD_WARNINGS_SHOWN = 5


def _check_warnings(issue_id: str, warnings: list[Problem]) -> None:
    """After a build, what `issue check` warns of: each warning, or when there are many, how many.

    The warning that the issue has no entries is always printed: such a build succeeds (exit 0, so the
    editor can look at the frame), and `send` refuses the issue.
    """
    if len(warnings) <= BUILD_WARNINGS_SHOWN:
        for problem in warnings:
            _echo_visible(f"warning: {problem}", err=True)
        return
    # An issue with no entries still builds (the editor may want to see the frame), but that one warning
    # must not hide in a count: the outputs hold only the masthead and footer.
    for problem in warnings:
        if problem.field == "sections":
            _echo_visible(f"warning: {problem}", err=True)
    click.echo(
        f"warning: {issue_id}: issue check has {_count(len(warnings), 'warning')}; "
        f"run `newsletter issue check {issue_id}` to see them",
        err=True,
    )


@cli.group()
def templates():
    """The workspace's own templates (templates/), which override the built-in ones file by file."""


@templates.command("init")
@pass_context
def templates_init(ctx: Context):
    """Copy the built-in templates and CSS into templates/ to edit, never over a file already there.

    Records which version each copy came from, so `build` can warn when a built-in one changes later.
    """
    from newsletter.render.overrides import init

    ctx.workspace.require()
    result = init(ctx.workspace.root / "templates")
    for path in result.copied:
        click.echo(f"copied {path}")
    for path in result.kept:
        click.echo(f"kept {path} (already there)")
    click.echo(f"recorded the built-in versions in {result.record}")


@templates.command("mark-current")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@pass_context
def templates_mark_current(ctx: Context, names):
    """Record templates/NAME as brought up to date with today's built-in NAME (e.g. email.html).

    Run it after comparing your copy with the built-in one that `build` warned about and merging what
    changed: the warning stops until the built-in changes again.
    """
    from newsletter.render.overrides import RECORD, mark_current

    templates_dir = ctx.workspace.root / "templates"
    for path in mark_current(templates_dir, list(names)):
        click.echo(f"marked {path} as up to date with the built-in {path.name}")
    click.echo(f"recorded in {templates_dir / RECORD}")


@cli.command()
@click.argument("issue_id", type=ISSUE_ID)
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@pass_context
def preview(ctx: Context, issue_id, port):
    """Build an issue and serve build/ID on localhost, rebuilding when the issue or a template changes."""
    from newsletter.serve import serve

    ctx.workspace.require()  # before serve makes build/ID, wherever it was run

    def rebuild():
        from newsletter.render.build import build as render_build

        with ctx.store() as store:
            _document, current = _curation(ctx, store).load(issue_id)
        render_build(
            current,
            ctx.workspace.settings(),
            ctx.workspace.build_dir(issue_id),
            ("web", "email", "text"),
            ctx.workspace.root / "templates",
        )

    watched = [
        ctx.workspace.issues_dir / f"{issue_id}.yaml",
        ctx.workspace.settings_path,
        ctx.workspace.root / "templates",
    ]
    serve(
        ctx.workspace.build_dir(issue_id),
        rebuild,
        watched,
        port,
        announce=lambda what: click.echo(f"serving {what} (Ctrl-C to stop)" if what.startswith("http") else what),
        on_error=lambda message: click.echo(f"error: {message}", err=True),
    )


@cli.command()
@click.argument("issue_id", type=ISSUE_ID, required=False)
@click.option("--archive", is_flag=True, help="Check every published issue instead, and list the dead links per issue.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def links(ctx: Context, issue_id, archive, as_json):
    """Check every link of an issue (or with --archive, of every published issue); exit status 1 when any is broken.

    With --archive, a dead link whose entry carries `archived_url` (a stored copy, which the archive shows
    beside it) is listed but does not make the exit status 1.
    """
    if archive:
        if issue_id:
            raise click.UsageError("give an issue ID or --archive, not both")
        _archive_links(ctx, as_json)
        return
    if not issue_id:
        raise click.UsageError("give an issue ID, or --archive for every published issue")
    from newsletter.curate.links import check_links, intranet_hosts, issue_links

    with ctx.store() as store:
        _document, current = _curation(ctx, store).load(issue_id)
    results = check_links(issue_links(current), ctx.settings.limits, ctx.settings.user_agent, intranet_hosts(ctx.feeds))
    if as_json:
        _json_out([r.to_json() for r in results])
    else:
        for r in results:
            where = ", ".join(u.ref for u in r.uses)
            if r.state == "ok":
                continue
            detail = r.error if r.state == "broken" else f"→ {r.final_url}"
            click.echo(f"{r.state}: {r.url}  ({where})  {detail}")
        broken = sum(r.state == "broken" for r in results)
        redirected = sum(r.state == "redirected" for r in results)
        click.echo(f"{_count(len(results), 'link')}: {broken} broken, {redirected} redirected")
    if any(r.state == "broken" for r in results):
        sys.exit(1)


def _archive_links(ctx: Context, as_json: bool) -> None:
    """`links --archive`: the dead links of every published issue, per issue."""
    from newsletter.curate.links import intranet_hosts
    from newsletter.site.links import check_archive, published_issues

    issues, warnings = published_issues(ctx.workspace.issues_dir, ctx.settings, clock.today(ctx.settings.timezone))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    report = check_archive(issues, ctx.settings, ctx.workspace.issues_dir, intranet_hosts(ctx.feeds))
    dead = [d for issue in report for d in issue.dead]
    unseen = [d for d in dead if not d.archived_url]
    if as_json:
        _json_out([issue.to_json() for issue in report])
    else:
        for issue in report:
            click.echo(f"{issue.issue} ({issue.path}): {len(issue.dead)} dead of {_count(issue.checked, 'link')}")
            for d in issue.dead:
                where = ", ".join(f"{u.ref} '{u.title}'" for u in d.uses)
                copy = f"; archived copy: {d.archived_url}" if d.archived_url else ""
                click.echo(f"  dead: {d.url}  ({where})  {d.error}{copy}")
        click.echo(
            f"{_count(len(report), 'published issue')}, {_count(sum(i.checked for i in report), 'link')}: "
            f"{len(dead)} dead, "
            f"{len(unseen)} without an archived copy"
            + ("; note a new address in the issue file, or an archived_url on the entry" if unseen else "")
        )
    if unseen:
        sys.exit(1)


# ---------------------------------------------------------------------- site


@cli.group()
def site():
    """The static web archive of every published issue."""


@site.command("build")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: site/).")
@click.option("--pdf/--no-pdf", default=True, show_default=True, help="Put each issue's PDF beside its page.")
@pass_context
def site_build(ctx: Context, out, pdf):
    """Build the archive (only what changed since the last build is written)."""
    from newsletter.site.build import build_site

    out_dir = out or ctx.workspace.site_dir
    report = build_site(
        ctx.workspace.issues_dir,
        ctx.settings,
        ctx.workspace.settings_path,
        out_dir,
        ctx.workspace.root / "templates",
        ctx.workspace.build_dir,
        pdf=pdf,
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for unmapped in report.unmapped:
        click.echo(
            f"warning: heading '{unmapped.heading}' ({', '.join(unmapped.places)}) maps to no organisation: "
            "add it to an organisation's `headings` in newsletter.yaml, or to `archive.themes`",
            err=True,
        )
    click.echo(
        f"{_count(len(report.issues), 'published issue')} in {out_dir}; {_count(len(report.written), 'file')} written, "
        f"{len(report.removed)} removed"
        + (f"; not published yet: {', '.join(report.skipped)}" if report.skipped else "")
    )


@site.command("serve")
@click.option("--port", default=8001, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@pass_context
def site_serve(ctx: Context, port):
    """Preview the archive on localhost, rebuilding when an issue, the settings or a template change.

    The preview is built into var/site-preview/ without PDFs: the archive `site build` wrote into
    site/ is never touched, so what gets published is always what `site build` made.
    """
    from newsletter.serve import serve
    from newsletter.site.build import build_site

    ctx.workspace.require()  # before serve makes var/site-preview, wherever it was run
    out_dir = ctx.workspace.site_preview_dir

    def rebuild():
        build_site(
            ctx.workspace.issues_dir,
            ctx.workspace.settings(),
            ctx.workspace.settings_path,
            out_dir,
            ctx.workspace.root / "templates",
            ctx.workspace.build_dir,
            pdf=False,
        )

    serve(
        out_dir,
        rebuild,
        [ctx.workspace.issues_dir, ctx.workspace.settings_path, ctx.workspace.root / "templates"],
        port,
        announce=lambda what: click.echo(
            f"serving a preview of the archive (built in {out_dir}) at {what} (Ctrl-C to stop)"
            if what.startswith("http")
            else what
        ),
        on_error=lambda message: click.echo(f"error: {message}", err=True),
    )


# ---------------------------------------------------------------------- contacts


@cli.group()
def contacts():
    """The contact list (personal data: kept in var/newsletter.db, never in git)."""


def _contact_lines(found, as_json: bool, as_csv: bool) -> None:
    from newsletter.mail.contacts import export_csv

    if as_json:
        _json_out([c.to_json() for c in found])
    elif as_csv:
        buffer = io.StringIO()
        export_csv(found, buffer)
        click.echo(buffer.getvalue(), nl=False)
    else:
        for c in found:
            tags = f"  [{', '.join(c.tags)}]" if c.tags else ""
            who = " · ".join(x for x in (c.name, c.organisation) if x)
            click.echo(f"{c.email:<40} {c.status:<12} {who}{tags}")


@contacts.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--legal-basis", default="", help="Legal basis for rows that name none (e.g. berettiget interesse).")
@pass_context
def contacts_import(ctx: Context, path, legal_basis):
    """Import contacts from a CSV file (UTF-8 or Windows-1252, `,` or `;`, a header row with `email`).

    In a UTF-8 file, lines that are not UTF-8 are read as Windows-1252 and
    named, to be checked. Invalid rows are listed with their line numbers while the valid ones are
    imported (exit 1 then); duplicates are merged; an unsubscribed, bounced or erased
    address is never made active again.
    """
    from newsletter.mail.contacts import import_csv, way_back

    defaults = {"consent_source": f"import {path.name}"}
    if legal_basis:
        defaults["legal_basis"] = legal_basis
    with ctx.store() as store:
        report = import_csv(store, path, clock.now(), defaults)
    for line in report.recoded:
        click.echo(
            f"{path}, line {line}: not UTF-8 like the rest of the file (saved in another encoding?); "
            "read as Windows-1252: check the row with `newsletter contacts list`",
            err=True,
        )
    for line, raw, reason in sorted(report.invalid + report.kept):
        click.echo(f"{path}, line {line}: {raw!r}: {reason}", err=True)
    for line, address, was in report.held:
        click.echo(f"{path}, line {line}: {address}: {was} earlier, so not made active again; {way_back(address, was)}")
    if report.ignored:
        from newsletter.mail.contacts import HEADER_ALIASES

        known = ", ".join(dict.fromkeys(HEADER_ALIASES.values()))
        for column, header, reason in report.ignored:
            click.echo(f"{path}, column {column} '{header}': not imported ({reason})", err=True)
        click.echo(
            f"{path}: the columns read are {known} (also e-post, navn, organisasjon); the values of the "
            "columns above are not kept: rename a column to one of these if it should be",
            err=True,
        )
    click.echo(
        f"added {report.added}, merged {report.merged}, kept suppressed {report.suppressed}, "
        f"invalid {len(report.invalid)}"
    )
    if report.invalid:
        # The valid rows are in; exit 1 so a script knows some were not (README: 1 is for what the user
        # must act on).
        click.echo(f"{path}: fix the invalid rows above and import the file again (the rest merge)", err=True)
        sys.exit(1)


@contacts.command("add")
@click.argument("address", metavar="ADDR")
@click.option("--name", default="", help="The person's name.")
@click.option("--organisation", default="", help="Organisation.")
@click.option("--tag", "tags", multiple=True, help="A tag, e.g. a sector (repeatable).")
@click.option("--legal-basis", default="", help="Legal basis for keeping the address.")
@click.option("--consent-source", default="", help="How consent was given (form, e-mail, meeting …).")
@click.option("--consent-date", type=DATE, help="When consent was given (YYYY-MM-DD).")
@click.option(
    "--resubscribe",
    is_flag=True,
    help="The person, unsubscribed or erased earlier, asked to be on the list again (needs --consent-source).",
)
@pass_context
def contacts_add(
    ctx: Context, address, name, organisation, tags, legal_basis, consent_source, consent_date, resubscribe
):
    """Add a contact (or merge into the one with the same address).

    An address that unsubscribed or was erased is not added again, unless the person asked to be: then
    --resubscribe with --consent-source saying how they asked (kept as their consent).
    """
    from newsletter.mail.contacts import Contact, add_contact, held_status, way_back
    from newsletter.mail.contacts import resubscribe as subscribe_again

    if consent_date is not None and consent_date > clock.local(clock.now(), ctx.settings.timezone).date():
        raise UsageError(
            f"--consent-date {consent_date.isoformat()} is in the future: a typo? give the day it was given"
        )
    if resubscribe and not consent_source.strip():
        raise UsageError(
            '--resubscribe needs --consent-source: how the person asked to be on the list again (e.g. "e-post til '
            'KOM 2026-12-03"), kept as their consent'
        )
    contact = Contact(
        email=address,
        name=name,
        organisation=organisation,
        tags=tuple(tags),
        legal_basis=legal_basis,
        consent_source=consent_source or "added by hand",
        consent_date=consent_date,
    )
    with ctx.store() as store:
        if resubscribe:
            stored, again = subscribe_again(store, contact, clock.now())
            click.echo(
                f"{again} {stored.email}"
                + (f" (consent: {stored.consent_source})" if again != "already active" else "")
            )
            return
        stored, outcome = add_contact(store, contact, clock.now())
        if outcome == "suppressed":
            was = held_status(store, address)
            raise NewsletterError(f"{address}: {was} earlier; not added: {way_back(stored.email, was)}")
    click.echo(f"{outcome} {stored.email}")


@contacts.command("remove")
@click.argument("address", metavar="ADDR")
@pass_context
def contacts_remove(ctx: Context, address):
    """Remove a contact from the list (an unsubscribed or bounced one stays suppressed)."""
    from newsletter.mail.contacts import remove_contact

    with ctx.store() as store:
        removed = remove_contact(store, address)
    click.echo(f"removed {removed.email}")


@contacts.command("list")
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced"]), help="Only this status.")
@click.option("--tag", help="Only contacts with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@pass_context
def contacts_list(ctx: Context, status, tag, as_json, as_csv):
    """List the contacts."""
    from newsletter.mail.contacts import list_contacts

    with ctx.store() as store:
        found = list_contacts(store, status, tag)
    _contact_lines(found, as_json, as_csv)


@contacts.command("export")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of CSV.")
@click.option("--csv", "as_csv", is_flag=True, default=True, help="CSV (the default).")
@click.option("--excel", is_flag=True, help="CSV for Excel with Norwegian settings: UTF-8 with BOM, `;`.")
@pass_context
def contacts_export(ctx: Context, as_json, as_csv, excel):
    """Export every contact, with status and consent (CSV by default), e.g. for an access request.

    Cells that a spreadsheet could take for a formula (starting with =, +, -, @,
    tab or CR) get a leading ' (OWASP CSV injection); an import takes it off.
    """
    from newsletter.mail.contacts import export_csv, list_contacts

    with ctx.store() as store:
        found = list_contacts(store)
    if excel and not as_json:
        buffer = io.StringIO()
        export_csv(found, buffer, excel=True)
        click.echo(buffer.getvalue(), nl=False)
        return
    _contact_lines(found, as_json, not as_json)


@contacts.command("unsubscribe")
@click.argument("addresses", nargs=-1, metavar="ADDR|URL...")
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, exists=True),
    help="A file of addresses or received one-click links, one a line (an unsubscribe endpoint's log).",
)
@pass_context
def contacts_unsubscribe(ctx: Context, addresses, from_file):
    """Stop mailing addresses (each stays on the list as unsubscribed, so no import re-adds it).

    A received one-click unsubscribe link (https://…&email=…&sig=…) may be given instead of an
    address: its signature is checked first. One that is wrong is named (with its line of --from)
    and the others are unsubscribed all the same; the exit status is then 1.
    """
    from newsletter.mail.compose import verify_unsubscribe_url
    from newsletter.mail.contacts import address_key, unsubscribe

    given = [(address, "") for address in addresses]
    if from_file:
        given += _lines_of(Path(from_file))
    if not given:
        raise UsageError("give the addresses or links to unsubscribe, or --from FILE")
    failed = 0
    with ctx.store() as store:
        for line, where in given:
            # As people write them in a mail or a log: "mailto:…", "Name <…>", a trailing comma.
            written = re.sub(r"^mailto:", "", line.strip(), flags=re.I).rstrip(",;")
            if (angled := re.fullmatch(r"[^<>]*<([^<>]+)>", written)) is not None:
                written = angled.group(1)
            try:
                address = (
                    verify_unsubscribe_url(written, ctx.settings.mail) if written.startswith("https://") else written
                )
                before = store.contact_by_key(address_key(address))
                contact = unsubscribe(store, address, clock.now())
            except NewsletterError as exc:  # a wrong signature, an address that is none
                failed += 1
                click.echo(f"error: {where}{exc}; nobody was unsubscribed by it", err=True)
                continue
            if before is not None and before.status == "unsubscribed":
                click.echo(f"already unsubscribed {contact.email}")
                continue
            known = "" if contact.id is not None else " (not on the list: kept from being added)"
            click.echo(f"unsubscribed {contact.email}{known}")
    if failed:
        sys.exit(1)


def _lines_of(path: Path) -> list[tuple[str, str]]:
    """(line, "FILE, line N: ") for each non-blank line of a text file not starting with #; UsageError naming
    the file when it is not UTF-8 text."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    return [
        (line.strip(), f"{path}, line {number}: ")
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


@contacts.command("reactivate")
@click.argument("addresses", nargs=-1, metavar="ADDR...")
@click.option("--reason", default="", help="Why the bounce was wrong (kept with the contact).")
@click.option(
    "--wrongly-bounced",
    is_flag=True,
    help="Every contact bounced by a reply or a notice that was not about the address.",
)
@pass_context
def contacts_reactivate(ctx: Context, addresses, reason, wrongly_bounced):
    """Make bounced contacts active again, when the bounce was the server's fault, not the address's.

    The change is recorded with when and why; the issues they missed are sent
    to them by the next `send` of each. With --wrongly-bounced, the contacts
    bounced by a 5.7.x policy refusal, a full mailbox, or a refusal many got
    alike (a misconfigured relay), or by a delivery status notification whose
    status `contacts bounces` does not bounce (5.2.x, 5.7.x, 4.x.x, 5.3.x to
    5.6.x), are found and reactivated. An unsubscribed contact is never
    reactivated.
    """
    from newsletter.mail.contacts import reactivate
    from newsletter.mail.contacts import wrongly_bounced as find_wrongly_bounced

    if not addresses and not wrongly_bounced:
        raise UsageError("give the addresses to reactivate, or --wrongly-bounced")
    with ctx.store() as store:
        chosen = [(address, "") for address in addresses]
        if wrongly_bounced:
            chosen += [(c.email, reply) for c, reply in find_wrongly_bounced(store)]
            reason = reason or "bounced by a reply or a notice that was not about the address"
        if not chosen:
            click.echo("no wrongly bounced contacts found")
        for address, reply in chosen:
            contact = reactivate(store, address, reason, clock.now())
            click.echo(f"active {contact.email}" + (f"  (was bounced by: {reply})" if reply else ""))


@contacts.command("bounces")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path), metavar="FILE|DIR...")
@click.option("--json", "as_json", is_flag=True, help="Print what was found as JSON.")
@pass_context
def contacts_bounces(ctx: Context, paths, as_json):
    """Mark contacts bounced from delivery status notifications (RFC 3464) saved from the mailbox.

    FILE|DIR is an mbox file, a Maildir folder, .eml files or a folder of them.
    A permanent failure about the address (5.1.x) bounces a known contact, recorded
    with the file and the status; delayed and 4.x.x notices, a full or disabled
    mailbox (5.2.x) and policy refusals (5.7.x) bounce nobody. Unsubscribed contacts
    stay as they are; a file that cannot be read is named and skipped.
    """
    from newsletter.mail.bounces import mark_bounces, read_bounces

    report = read_bounces(list(paths))
    with ctx.store() as store:
        mark_bounces(store, report, clock.now())
    if as_json:
        _json_out(report.to_json())
        if report.unread:
            sys.exit(1)  # as without --json: a failure nobody could read
        return
    labels = {
        "bounced": "bounced",
        "already bounced": "already bounced",
        "unsubscribed": "unsubscribed, left as it is",
        "not in the contacts": "not in the contacts",
        "transient": "temporary, not bounced",
        "mailbox": "mailbox full or disabled (5.2.x), not bounced",
        "policy": "refused by policy (5.7.x, check SPF/DKIM/DMARC), not bounced",
        "message": "refused for the message, not the address (5.3.x size, 5.6.x content, …), not bounced",
    }
    for outcome in report.outcomes:
        failure = outcome.failure
        click.echo(f"{labels[outcome.result]}: {outcome.address}  {failure.status or '-'}  {failure.source}")
    for source, why in report.ignored:
        click.echo(f"ignored: {source}: {why}")
    for source, why in report.unread:
        click.echo(f"to read: {source}: {why}", err=True)
    for source, why in report.skipped:
        click.echo(f"skipped: {source}: {why}", err=True)
    marked = sum(1 for o in report.outcomes if o.result == "bounced")
    # A contact bounced by an earlier run (or an earlier notice) is no new failure: counted apart.
    already = sum(1 for o in report.outcomes if o.result == "already bounced")
    click.echo(
        f"{marked} marked bounced, {already} already bounced, "
        f"{_count(len(report.outcomes) - marked - already, 'other failure')}, "
        f"{_count(len(report.ignored), 'message')} without one, "
        + (f"{_count(len(report.unread), 'notice')} to read by hand, " if report.unread else "")
        + f"{_count(len(report.skipped), 'file')} skipped"
    )
    if report.unread:
        sys.exit(1)  # a failure nobody could read: the editor has to look


@contacts.command("mark-bounced")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDR...")
@click.option("--reason", required=True, help="What says the address is gone (a notice read by hand), kept with it.")
@pass_context
def contacts_mark_bounced(ctx: Context, addresses, reason):
    """Mark contacts bounced by hand: a failure notice `contacts bounces` could not read says their address is gone.

    As a bounce read from a notice: not mailed again, no import makes them active, recorded with when
    and --reason; `contacts reactivate` undoes it. An unsubscribed contact stays unsubscribed.
    """
    from newsletter.mail.contacts import ContactError, mark_bounced

    if not reason.strip():
        raise UsageError("--reason is empty: say what shows the address is gone (e.g. the notice's file and date)")
    failed = 0
    with ctx.store() as store:
        for address in addresses:
            try:
                result, stored = mark_bounced(store, address, f"by hand: {reason.strip()}", clock.now())
            except ContactError as exc:
                failed += 1
                click.echo(f"error: {exc}", err=True)
                continue
            said = {
                "unsubscribed": "left as it is, unsubscribed",
                "not in the contacts": "not in the contacts, kept from being added",
            }.get(result, result)
            click.echo(f"{said}: {stored or address}")
    if failed:
        sys.exit(1)


@contacts.command("erase")
@click.argument("address", metavar="ADDR")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def contacts_erase(ctx: Context, address, yes):
    """Delete everything kept about an address; only a hash remains, so it stays suppressed."""
    from newsletter.mail.contacts import erase

    if not yes and not _stdin_is_terminal():
        # As `send` says it: a pipe or cron cannot answer, and "Aborted!" says nothing of what to do.
        raise NewsletterError(f"contacts erase {address} deletes for good: confirm on a terminal, or add --yes")
    if not yes and not click.confirm(f"Erase every trace of {address}?", default=False):
        click.echo("not erased: nothing was changed", err=True)
        raise click.exceptions.Exit(1)
    with ctx.store() as store:
        removed = erase(store, address, clock.now(), ctx.workspace.outbox)
    click.echo(
        f"erased {address}; its hash keeps it suppressed"
        + (f"; {len(removed)} messages removed from the outbox" if removed else "")
    )


# ---------------------------------------------------------------------- send


def _send_status(ctx: Context, issue_id: str, dry_run: bool, as_json: bool) -> None:
    from newsletter.curate.issuefile import issue_path
    from newsletter.mail.service import send_status

    with ctx.store() as store:
        status = send_status(store, issue_id, dry_run, ctx.workspace.var)
        waiting = len(store.list_contacts("active")) if not any(status.counts.values()) else 0
    # The ledger is in the store, not in newsletter.yaml: a mistake there (a key mistyped while fixing the
    # SMTP settings mid-send) is said, and the status shown all the same, any time in it in UTC.
    try:
        timezone = ctx.settings.timezone
    except NewsletterError as exc:
        timed = any(row.next_attempt for row in status.undelivered) or (
            len(status.versions) > 1 and any(at for _version, _count, at in status.versions)
        )
        in_utc = "; the times below are in UTC" if timed and not as_json else ""  # JSON's are UTC anyway
        click.echo(f"warning: {exc}; `send` refuses until it is fixed{in_utc}", err=True)
        timezone = "UTC"
    if not any(status.counts.values()) and not issue_path(ctx.workspace.issues_dir, issue_id).exists():
        raise NotFound(f"no issue {issue_id}: {issue_path(ctx.workspace.issues_dir, issue_id)} does not exist")
    if as_json:
        _json_out(status.to_json())
        return
    if not any(status.counts.values()):
        how = "no dry run yet" if dry_run else "not sent yet"
        click.echo(f"{issue_id}: {how}; {_count(waiting, 'active contact')} would be mailed")
        return
    # A dry run's ledger says "sent" for a message written to the outbox; the editor reads "written".
    name = {"sent": "written"} if dry_run else {}
    label = f"{issue_id} (dry run, var/outbox)" if dry_run else status.issue
    click.echo(f"{label}: " + ", ".join(f"{name.get(state, state)} {count}" for state, count in status.counts.items()))
    if len(status.versions) > 1:
        shown = [
            f"{count} {f'version {version}' if version else 'an unrecorded version'}"
            + (f" (last at {_local_time(at, timezone)})" if at else "")
            for version, count, at in status.versions
        ]
        click.echo(f"versions of the e-mail sent, earliest first: {'; '.join(shown)}")
    if status.running:
        click.echo("a send of it is running now: these counts change as it goes")
    elif status.counts["sending"]:
        # Left by a run that died mid-message (a kill, a power cut): the server may have the message.
        click.echo(
            f"no send is running: {_count(status.counts['sending'], 'message')} left in `sending` by a run "
            f"that stopped mid-message; the next `newsletter send {issue_id}` marks them unknown (they may have "
            "arrived) and goes on with the rest"
        )
    for row in status.undelivered:
        due = f" (next try {_local_time(row.next_attempt, timezone)})" if row.next_attempt else ""
        if row.state == "pending":
            due = " (the last reply; kept in its place, the next send tries it)"
        elif row.held:
            due = (
                " (refused in a run that stopped before it could tell the recipient's refusal from the "
                "server's; the next send tries it again)"
            )
        elif row.state == "failed":
            due = _gave_up(row.state, row.reply, issue_id)
        elif row.state == "unknown":
            due = _look_up(row.message_id)
        click.echo(f"  {row.state:<12} {row.email}  {row.reply}{due}")


def _send_settle(ctx: Context, words: tuple[str, ...], arrived: bool | None, dry_run: bool) -> None:
    """`send settle ID ADDR... --arrived|--not-arrived`: each address's unknown delivery settled (exit 1 when
    one could not be)."""
    from newsletter.mail.service import settle_unknown

    if dry_run:
        raise UsageError(
            "--dry-run: not with `send settle` (a dry run's messages are files in var/outbox: none is unknown)"
        )
    if len(words) < 2 or arrived is None:
        raise UsageError(
            "usage: newsletter send settle ID ADDR... --arrived (the mail server's log shows them delivered) or "
            "--not-arrived (the next send mails them)"
        )
    issue_id = ISSUE_ID.convert(words[0], None, None)
    with ctx.store() as store:
        results = settle_unknown(store, ctx.workspace.var, issue_id, list(words[1:]), arrived, clock.now())
    for email, why in results:
        if why is None:
            click.echo(f"{'sent' if arrived else 'pending'} {email}" + ("" if arrived else ": the next send mails it"))
        else:
            click.echo(f"error: {email}: {why}", err=True)
    if any(why is not None for _email, why in results):
        sys.exit(1)


def _look_up(message_id: str) -> str:
    """What to say after an unknown delivery's reply: the Message-ID to find in the mail server's log."""
    return f" ({message_id}: the mail server's log says whether it arrived)" if message_id else ""


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("words", nargs=-1, required=True, metavar="ID | status ID | settle ID ADDR...")
@click.option(
    "--to",
    "to_addresses",
    metavar="ADDR",
    multiple=True,
    help="Send a test copy to ADDR (repeatable); records nothing.",
)
@click.option("--tag", help="Only contacts with this tag.")
@click.option("--dry-run", is_flag=True, help="Write the messages to var/outbox/ID/ instead of sending.")
@click.option("--attach-pdf", is_flag=True, help="Attach the PDF to every message.")
@click.option("--resend-unknown", is_flag=True, help="Send again to recipients whose delivery is unknown.")
@click.option("--retry-failed", is_flag=True, help="Try again the failed recipients who are still active.")
@click.option("--json", "as_json", is_flag=True, help="With `status`: print JSON.")
@click.option("--yes", is_flag=True, help="Do not ask before a real send (for scripts).")
@click.option(
    "--changed",
    is_flag=True,
    help="Send the rest this build though earlier recipients got another version of the e-mail (a correction).",
)
@click.option("--arrived", is_flag=True, help="With `settle`: the mail server's log shows the deliveries arrived.")
@click.option("--not-arrived", is_flag=True, help="With `settle`: the mail server's log shows they did not.")
@pass_context
def send(
    ctx: Context,
    words,
    to_addresses,
    tag,
    dry_run,
    attach_pdf,
    resend_unknown,
    retry_failed,
    as_json,
    yes,
    changed,
    arrived,
    not_arrived,
):
    """Mail an issue to the active contacts, exactly once each; `send status ID` reports a send.

    `send settle ID ADDR... --arrived` (or --not-arrived) settles unknown deliveries by what the mail
    server's log says of each: arrived ones count as sent, the others are mailed by the next send.

    Resumable: run it again after a crash, Ctrl-C or an outage and it goes on
    where it stopped. Refuses an issue that fails `issue check` or whose build
    is missing or older than the issue file, and, without --changed, a build
    whose e-mail differs from the one earlier runs of this send mailed. Without `smtp:` in newsletter.yaml
    (or with --dry-run) the messages go to var/outbox/ID/ as .eml files, with a
    ledger of their own (`send status ID --dry-run`): a dry run never uses up
    the real send.
    """
    from newsletter.curate.decisions import record_path
    from newsletter.curate.edit import ready_issue
    from newsletter.mail.service import SendPlan, prepared_build, send_issue, send_test_copy, transport_for
    from newsletter.mail.transport import OutboxTransport

    _check_send_options(
        words[0] if words[0] in ("status", "settle") else None,
        to_addresses,
        tag,
        attach_pdf,
        resend_unknown,
        retry_failed,
        as_json,
        changed,
    )
    if words[0] == "settle":
        if arrived and not_arrived:
            raise UsageError("--arrived and --not-arrived: give one (what the mail server's log says of these)")
        return _send_settle(ctx, words[1:], True if arrived else False if not_arrived else None, dry_run)
    if arrived or not_arrived:
        raise UsageError("--arrived and --not-arrived go with `send settle ID ADDR...`")
    if words[0] == "status":
        if len(words) != 2:
            raise UsageError("usage: newsletter send status ID")
        issue_id = ISSUE_ID.convert(words[1], None, None)
        return _send_status(ctx, issue_id, dry_run, as_json)
    if len(words) != 1:
        raise UsageError("usage: newsletter send ID [options], or newsletter send status ID")
    issue_id = ISSUE_ID.convert(words[0], None, None)
    settings = ctx.settings
    outbox = ctx.workspace.outbox_dir(issue_id)
    with ctx.store() as store:
        current = ready_issue(_curation(ctx, store), issue_id).issue
        if not any(current.sections.values()) and not dry_run and not to_addresses:
            # Every contact would get the masthead and the footer, and the decisions record would say the
            # whole quarter was left out.
            raise NewsletterError(
                f"{issue_id} has no entries: subscribers would get only its masthead and footer; add items "
                f"(`newsletter issue add {issue_id} ITEM`) or notes, build it, then send"
            )
        prepared = prepared_build(current, ctx.workspace, settings, attach_pdf)
        transport = transport_for(settings, outbox, dry_run)
        if to_addresses:
            from newsletter.mail.contacts import held_status, is_suppressed

            # Someone who unsubscribed, bounced or was erased gets no mail from the list, a test copy included.
            held = [(a, held_status(store, a)) for a in to_addresses if is_suppressed(store, a)]
            if held:
                raise NewsletterError(
                    "; ".join(f"{a} is {status}" for a, status in held) + ": no test copy goes to it; give another "
                    "address (your own)"
                )
            where = (
                f"written to {outbox}"
                if isinstance(transport, OutboxTransport)
                else f"sent via {settings.mail.smtp_host}"
            )
            for to_address in dict.fromkeys(to_addresses):
                send_test_copy(prepared, settings, transport, to_address)
                click.echo(f"test copy to {to_address} {where}; nothing recorded")
            return

        def before(plan: SendPlan) -> None:
            click.echo(_plan_line(issue_id, plan, settings.timezone))
            if plan.other_version and plan.total and not isinstance(transport, OutboxTransport):
                _refuse_changed_version(ctx, issue_id, plan, changed)
            if isinstance(transport, OutboxTransport) or yes or not plan.total:
                return
            if not _stdin_is_terminal():
                raise NewsletterError(
                    f"send {issue_id} mails {plan.total} recipients: confirm on a terminal, or add --yes"
                )
            click.echo(
                f"subject: {prepared.subject}\nfrom:    {settings.mail.sender}\n"
                f"via:     {settings.mail.smtp_host}:{settings.mail.smtp_port}"
            )
            if not click.confirm(f"Mail {issue_id} to {_count(plan.total, 'recipient')} now?", default=False):
                raise _Declined()

        if current.published is None and not isinstance(transport, OutboxTransport):
            raise NewsletterError(
                f"{issue_id} has no `published:` date: set it in {ctx.workspace.issues_dir / (issue_id + '.yaml')} "
                f"to the day it goes out and run `newsletter build {issue_id}` (the archive lists only published "
                "issues, and readers should find what they were sent); --dry-run and --to work without it"
            )
        try:
            with _send_progress() as progress:
                outcome = send_issue(
                    store,
                    ctx.workspace.var,
                    issue_id,
                    prepared,
                    settings,
                    transport,
                    tag,
                    resend_unknown,
                    retry_failed,
                    progress,
                    before,
                )
        except _Declined:
            click.echo("not sent: nothing was mailed or recorded", err=True)
            raise click.exceptions.Exit(1) from None
        # A failed recipient whose contact is bounced or unsubscribed now is settled: nothing to retry.
        gone = {c.email: c.status for c in store.list_contacts() if c.status != "active"}
        # Recorded when this run mailed someone, or no record exists yet (a run that crashed after the
        # last message); a later run with nothing to do leaves the record as it is.
        recorded = (
            _record_after_send(
                ctx,
                store,
                issue_id,
                quiet=not outcome.report.sent,
                again=outcome.report.counts.get("sent", 0) > outcome.report.sent,
            )
            if not isinstance(transport, OutboxTransport)
            and (outcome.report.sent or not record_path(ctx.workspace.issues_dir, issue_id).exists())
            else None
        )
    report, counts = outcome.report, outcome.report.counts
    if retry_failed:
        click.echo(f"{_count(outcome.requeued, 'failed recipient')} queued again")
    # A dry run's ledger says "sent" for a message written to the outbox; the editor reads "written".
    done = "written" if isinstance(transport, OutboxTransport) else "sent"
    in_all = ", ".join(f"{done if k == 'sent' else k} {v}" for k, v in counts.items())
    click.echo(f"{issue_id}: {done} {report.sent} now; in all {in_all}")
    if report.interrupted:
        key = "Ctrl-C" if report.interrupted == "SIGINT" else report.interrupted
        click.echo(
            f"stopped at {key} once the message in hand was through: nobody was mailed twice; "
            f"`newsletter send {issue_id}` goes on where it stopped",
            err=True,
        )
    if isinstance(transport, OutboxTransport):
        click.echo(f"messages written to {outbox}")
    if recorded is not None:
        click.echo(f"{_recorded_line(recorded)}; commit it with the issue, the ranking learns from it")
        if recorded.warning:
            click.echo(f"warning: {recorded.warning}", err=True)
    shown = outcome.undelivered
    for row in shown[:20]:
        now = f" (the contact is {gone[row.email]} now)" if row.state == "failed" and row.email in gone else ""
        now = now or (_look_up(row.message_id) if row.state == "unknown" else _gave_up(row.state, row.reply, issue_id))
        click.echo(f"{row.state} {row.email}: {row.reply}{now}", err=True)
    if len(shown) > 20:
        click.echo(f"… and {len(shown) - 20} more", err=True)
    # A recipient skipped (removed, erased, unsubscribed or bounced after the send began) is settled too.
    open_failed = sum(
        1
        for row in outcome.undelivered
        if row.state == "failed" and row.email not in gone and not row.reply.startswith("skipped:")
    )
    if open_failed or counts["temp_failed"]:
        click.echo(
            f"see `newsletter send status {issue_id}`; temporarily failed recipients are tried again by the next "
            f"`newsletter send {issue_id}` once due, failed ones with --retry-failed",
            err=True,
        )
    if counts["failed"] > open_failed:
        click.echo(
            f"{_count(counts['failed'] - open_failed, 'failed recipient')} bounced, unsubscribed or removed (the "
            "contact list says so now): settled, nothing to retry (`newsletter contacts reactivate ADDR` if a "
            "bounce was wrong)",
            err=True,
        )
    if counts["unknown"]:
        click.echo(
            f"warning: {_count(counts['unknown'], 'delivery', 'deliveries')} unknown (the connection broke, or the "
            f"run stopped, while the message went out); see `newsletter send status {issue_id}`, and run "
            f"`newsletter send {issue_id} --resend-unknown` only if they did not arrive (or settle each by the "
            f"server's log: `newsletter send settle {issue_id} ADDR... --arrived` or `--not-arrived`)",
            err=True,
        )
    if counts["pending"]:
        click.echo(
            f"{_count(counts['pending'], 'recipient')} still pending: run `newsletter send {issue_id}`", err=True
        )
    # Exit 1 for a failure of this run, or one still open; a bounce of an earlier run is settled.
    if report.failed or open_failed or counts["temp_failed"] or counts["pending"] or counts["unknown"]:
        sys.exit(1)


def _stdin_is_terminal() -> bool:
    """True when someone can answer a question (stdin is a terminal); tests replace it."""
    return sys.stdin.isatty()


class _Declined(Exception):
    """The editor answered no when `send` asked before mailing."""


def _refuse_changed_version(ctx: Context, issue_id: str, plan, changed: bool) -> None:
    """Say that this run would mail the rest another e-mail than earlier recipients got; without
    --changed, refuse (NewsletterError), saying both ways on."""
    last = _local_time(plan.other_version_until, ctx.settings.timezone) if plan.other_version_until else "earlier"
    who = _count(plan.other_version, "recipient")
    if changed:
        click.echo(f"{who} got an earlier version of the e-mail (until {last}); the rest get this build (--changed)")
        return
    issue_file = ctx.workspace.issues_dir / f"{issue_id}.yaml"
    raise NewsletterError(
        f"the e-mail of this build differs from the one {who} got (the last at {last}): {issue_file}, "
        "the settings or the templates changed since this send began. To mail the rest this version (a "
        f"correction), run `newsletter send {issue_id} --changed`; to mail them what the others got, put the "
        f"issue file back as it was sent (e.g. `git checkout {issue_file.relative_to(ctx.workspace.root)}` if "
        f"it was committed) and run `newsletter build {issue_id}`"
    )


def _plan_line(issue_id: str, plan, ctx_timezone: str) -> str:
    """What a send is about to do, in one line: new, pending and to-retry recipients (and unknown ones skipped)."""
    who = f" with tag {plan.tag}" if plan.tag else ""
    line = f"{issue_id}: {plan.new} new, {plan.pending} pending, {plan.retry} to retry{who}"
    if plan.waiting and plan.next_retry is not None:
        line += (
            f"; {plan.waiting} temporarily failed not due yet (the first at "
            f"{_local_time(plan.next_retry, ctx_timezone)}: a later send tries them)"
        )
    if plan.unknown:
        line += f"; {plan.unknown} unknown skipped (--resend-unknown sends them again)"
    return line


def _check_send_options(
    form, to_addresses, tag, attach_pdf, resend_unknown, retry_failed, as_json, changed=False
) -> None:
    """Refuse options that mean nothing in the form of `send` given ("status", "settle", or None for a
    send), rather than ignore them (exit 2)."""
    options = {
        "--to": to_addresses,
        "--tag": tag,
        "--attach-pdf": attach_pdf,
        "--resend-unknown": resend_unknown,
        "--retry-failed": retry_failed,
        "--changed": changed,
    }
    if form:
        given = [name for name, value in options.items() if value] + (
            ["--json"] if as_json and form == "settle" else []
        )
        takes = "--dry-run and --json" if form == "status" else "--arrived or --not-arrived"
        if given:
            raise UsageError(f"{', '.join(given)}: not with `send {form} ID` (it takes {takes})")
        return
    if as_json:
        raise UsageError("--json goes with `send status ID`; a send prints its summary")
    for to_address in to_addresses:
        # An empty --to (a shell variable not set) must not become a send to everyone, nor a typo a copy to nowhere.
        from newsletter.mail.contacts import ContactError, normalise_address

        if not to_address.strip():
            raise UsageError("--to is empty: give the address the test copy goes to, or leave --to out to send")
        try:
            normalise_address(to_address)
        except ContactError as exc:
            why = (exc.reason or str(exc)).rstrip(".")
            raise UsageError(
                f"--to '{to_address}' is no e-mail address ({why}): give the one the test copy goes to"
            ) from None
    if to_addresses:
        given = [name for name in ("--tag", "--resend-unknown", "--retry-failed", "--changed") if options[name]]
        if given:
            raise UsageError(
                f"{', '.join(given)}: not with --to (test copies go to the addresses given and record nothing)"
            )


@contextmanager
def _send_progress():
    """A progress bar with rate and ETA on a terminal; silence in a pipe."""
    console = _stderr()
    if not console.is_terminal:
        yield lambda *_: None
        return
    from rich.progress import ProgressColumn, TimeRemainingColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Messages per second."""

        def render(self, task):
            return Text(f"{task.speed:.1f} msg/s" if task.speed else "– msg/s")

    bar = Progress(
        TextColumn("send"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = None

    def update(event: str, value: int) -> None:
        nonlocal task
        if event == "start":
            # Only now: a live display running while `send` asks for confirmation redraws over the answer.
            bar.start()
            task = bar.add_task("send", total=value)
        elif task is not None:
            bar.advance(task, value)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


def main() -> None:
    """Entry point of the `newsletter` console script."""
    cli(prog_name="newsletter")

"""The command line: parse, call one core function, report. No logic lives here."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from newsletter import __version__
from newsletter.dates import quarter_bounds
from newsletter.errors import NewsletterError, UsageError
from newsletter.models import ITEM_STATUSES
from newsletter.store import Store
from newsletter.workspace import Workspace

DATE = click.DateTime(formats=["%Y-%m-%d"])


class NewsletterGroup(click.Group):
    """Turns NewsletterError into a one-line message and exit status 1 (2 for usage errors), in one place."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise click.UsageError(str(exc), ctx) from exc
        except NewsletterError as exc:
            raise click.ClickException(str(exc)) from exc


class Context:
    """What every command needs: the workspace and its loaded configuration."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._settings = None
        self._feeds = None

    @property
    def settings(self):
        if self._settings is None:
            self._settings = self.workspace.settings()
        return self._settings

    @property
    def feeds(self):
        if self._feeds is None:
            self._feeds = self.workspace.feeds(self.settings)
        return self._feeds

    def store(self) -> Store:
        return Store(self.workspace.db_path)


pass_context = click.make_pass_decorator(Context)


@click.group(cls=NewsletterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workspace", "-w", type=click.Path(file_okay=False), envvar="NEWSLETTER_WORKSPACE",
              help="Workspace directory (default: the current directory).")
@click.option("--verbose", "-v", is_flag=True, help="Log diagnostics to stderr.")
@click.version_option(__version__, prog_name="newsletter")
@click.pass_context
def cli(ctx, workspace, verbose):
    """Collect, curate, render, mail and archive a quarterly newsletter."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(Workspace.locate(workspace))


def _stderr() -> Console:
    return Console(stderr=True)


@contextmanager
def _progress_bar(label: str):
    """A rich progress bar on a terminal; nothing at all in a pipe or under CI."""
    console = _stderr()
    if not console.is_terminal:
        yield lambda *_: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        tasks = {}

        def update(event: str, name: str, value) -> None:
            if event == "phase":
                tasks[name] = bar.add_task(f"{label}: {name}", total=value)
            elif event == "source" and "sources" in tasks:
                bar.advance(tasks["sources"])
            elif event == "article" and "articles" in tasks:
                bar.advance(tasks["articles"])

        yield update


def _json_out(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


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
    from newsletter.collect import collect as run_collect

    feeds, settings = ctx.feeds, ctx.settings  # validated before anything is fetched
    with ctx.store() as store, _progress_bar("collect") as progress:
        report = run_collect(store, feeds, settings, keys=keys, since=since.date() if since else None,
                             progress=progress)
    if as_json:
        _json_out({
            "sources": [vars(r) | {"ok": r.ok} for r in report.results],
            "articles_fetched": report.articles_fetched, "articles_failed": report.articles_failed,
            "seconds": round(report.seconds, 2),
        })
    else:
        table = Table(title=f"Collected {len(report.results)} sources in {report.seconds:.1f}s")
        for column in ("source", "new", "updated", "unchanged", "status"):
            table.add_column(column, justify="right" if column in ("new", "updated", "unchanged") else "left")
        for r in report.results:
            status = "failed" if not r.ok else ("not modified" if r.not_modified else "ok")
            if r.ok and r.warnings:
                status += f" ({len(r.warnings)} warnings)"
            table.add_row(r.source, str(r.new), str(r.updated), str(r.unchanged), status)
        Console(width=max(100, Console().width)).print(table)
        if report.articles_fetched or report.articles_failed:
            click.echo(f"Article pages read: {report.articles_fetched}, unreadable: {report.articles_failed}")
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
    rows = [{"key": s.key, "name": s.name, "kind": s.kind, "url": s.url, "enabled": s.enabled,
             "section": s.section, "heading": s.heading, "language": s.language, "relevance": s.relevance,
             "item_kind": s.item_kind} for s in ctx.feeds.sources]
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
            table.add_row(c.source, "yes" if c.reachable else "no", str(c.items),
                          c.newest.isoformat() if c.newest else "-",
                          c.last_success.strftime("%Y-%m-%d %H:%M") if c.last_success else "never",
                          str(c.consecutive_failures), problems or "ok")
        Console(width=max(140, Console().width)).print(table)
    if any(not c.ok for c in checks):
        sys.exit(1)


# ---------------------------------------------------------------------- items

@cli.command()
@click.option("--issue", "issue_id", metavar="ID", help="The quarter an issue id names, e.g. 2024-q2.")
@click.option("--since", type=DATE, help="Published on or after this date.")
@click.option("--until", type=DATE, help="Published on or before this date.")
@click.option("--source", "-s", "keys", multiple=True, metavar="KEY", help="Only items seen in this source.")
@click.option("--section", "sections", multiple=True, metavar="KEY", help="Only items suggested for this section.")
@click.option("--status", "statuses", multiple=True, type=click.Choice([*ITEM_STATUSES, "all"]),
              help="Only items with this status (default: new and picked).")
@click.option("--min-score", type=float, help="Only items scoring at least this.")
@click.option("--all", "include_all", is_flag=True, help="Include items of filtered sources below the threshold.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def items(ctx: Context, issue_id, since, until, keys, sections, statuses, min_score, include_all, limit, as_json):
    """The candidate inbox, best first.

    Every item of a `relevance: all` source, and the items of `relevance:
    filter` sources whose score reaches the threshold in newsletter.yaml.
    """
    from newsletter.inbox import InboxQuery, inbox, statuses_from

    start, end = since.date() if since else None, until.date() if until else None
    if issue_id:
        if since or until:
            raise UsageError("give either --issue or --since/--until, not both")
        try:
            start, end = quarter_bounds(issue_id)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    feeds, settings = ctx.feeds, ctx.settings
    unknown = [k for k in keys if feeds.by_key(k) is None]
    if unknown:
        raise UsageError(f"no source '{unknown[0]}' in {feeds.path}")
    query = InboxQuery(since=start, until=end, sources=tuple(keys), sections=tuple(sections),
                       statuses=statuses_from(statuses), min_score=min_score, include_all=include_all)
    with ctx.store() as store:
        found = inbox(store, feeds, settings, query)
    if limit:
        found = found[:limit]
    if as_json:
        _json_out([i.to_json() for i in found])
        return
    if not found:
        click.echo("No candidates. Run `newsletter collect`, or widen the filters (--all, --status all).", err=True)
        return
    for item in found:
        date = item.published.isoformat() if item.published else "(no date)"
        marks = "" if item.status == "new" else f" [{item.status}]"
        click.echo(f"{item.id}  {item.score:5.1f}  {date:<10}  {item.source:<22}  {item.title}{marks}")


@cli.command()
@click.argument("item_id", metavar="ITEM")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def show(ctx: Context, item_id, as_json):
    """Show one collected item in full."""
    from newsletter.inbox import place

    with ctx.store() as store:
        item = place(store.get_item(item_id), ctx.feeds, ctx.settings)
    if as_json:
        _json_out(item.to_json())
        return
    data = item.to_json()
    for key in ("id", "title", "url", "source", "sources", "published", "date_precision", "kind", "deadline",
                "event_date", "score", "terms", "candidate", "section", "heading", "status", "summary"):
        value = data[key]
        if isinstance(value, list):
            value = ", ".join(value)
        if value in (None, ""):
            continue
        click.echo(f"{key + ':':<16}{value}")


def main() -> None:
    """Entry point of the `newsletter` console script."""
    cli(prog_name="newsletter")

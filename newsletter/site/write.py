"""Rendering the archive's files and writing them, each only when its bytes change.

Every page is a Jinja template (the workspace's `templates/` first, then the
built-in ones): `web.html` per issue, `site_*.html` for the shared pages, and
`feed.xml` (Atom, RFC 4287) and `sitemap.xml` (sitemaps.org 0.9), which are
autoescaped as XML. Every text file goes through `Writer`, which drops the
characters XML forbids.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment

from newsletter.fsutil import atomic_write, safe_join
from newsletter.models import Issue, Settings
from newsletter.render import ics
from newsletter.render import pdf as pdf_format
from newsletter.render import web as web_format
from newsletter.render.build import BUILT_IN_TEMPLATES, environment
from newsletter.render.view import IssueView, norwegian_date
from newsletter.site.plan import IssuePage, Phases, SharedPages
from newsletter.site.search import SEARCH_DIR, content_named, scratch_folder, search_documents, search_index
from newsletter.site.summaries import IssueListing, IssueSummary, slug
from newsletter.textcodec import strip_xml_forbidden


class Writer:
    """Writes files under `out_dir` only, and only when their bytes change; remembers what it wrote."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.written: list[str] = []  # relative paths, in the order written

    def write(self, relative: str, content: str | bytes) -> None:
        """Write `content` (text as UTF-8) to `out_dir/relative` atomically, unless the file already holds it.

        Text loses the characters XML 1.0 forbids first (a control character pasted into an intro would
        make feed.xml not well-formed, and is a parse error in HTML). Raises NewsletterError when
        `relative` would land outside `out_dir`.
        """
        data = strip_xml_forbidden(content).encode("utf-8") if isinstance(content, str) else content
        path = safe_join(self.out_dir, relative)
        if path.exists() and path.read_bytes() == data:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, durable=False)  # whole files for readers; `flush` makes them durable at once
        self.written.append(relative)

    def place(self, relative: str, source: Path, content_named: bool = False) -> None:
        """Move the file `source` to `out_dir/relative` (copy it, from another file system), unless that already
        holds its bytes. A `content_named` file (its name is a hash of its bytes) is taken to hold them when it
        exists, unread.
        """
        path = safe_join(self.out_dir, relative)
        if path.exists() and (content_named or path.read_bytes() == source.read_bytes()):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            atomic_write(path, source.read_bytes(), durable=False)
        self.written.append(relative)

    def flush(self) -> None:
        """Make everything written so far durable, in one sync rather than two fsyncs per file."""
        if self.written:
            os.sync()


class Templates:
    """The Jinja environment, made on first use: a build with nothing to render never loads a template."""

    def __init__(self, workspace_templates: Path | None):
        self.workspace_templates = workspace_templates

    @cached_property
    def env(self) -> Environment:
        """The environment of `newsletter.render.build.environment` (workspace templates first)."""
        return environment(self.workspace_templates)

    def render(self, name: str, **context: object) -> str:
        """Template `name` rendered with `context`."""
        return self.env.get_template(name).render(**context)


def write_issue_page(
    writer: Writer,
    templates: Templates,
    page: IssuePage,
    document: tuple[Issue, IssueView],
    base: str,
    pdf: bool,
    build_dir: Callable[[str], Path] | None,
) -> None:
    """Write an issue's page, with the archive's navigation, and (if `pdf`) its PDF beside it; an issue with
    events has its calendar (`events.ics`, RFC 5545) beside it too, as the built issue has."""
    issue, view = document
    issue_id = page.summary.id
    site = {
        "root": "../",
        "canonical": f"{base}{issue_id}/" if base else "",
        "previous": {"id": page.previous.id, "period": page.previous.period} if page.previous else None,
        "next": {"id": page.following.id, "period": page.following.period} if page.following else None,
        "pdf": f"{issue_id}.pdf" if pdf else None,
        "calendar": "events.ics" if view.has_events else None,
    }
    writer.write(f"{issue_id}/index.html", web_format.render(templates.env, view, site))
    if pdf:
        writer.write(f"{issue_id}/{issue_id}.pdf", _pdf_for(issue, view, build_dir, templates.env))
    if (calendar := ics.render(issue, view)) is not None:
        writer.write(f"{issue_id}/events.ics", calendar)


def _pdf_for(issue: Issue, view: IssueView, build_dir: Callable[[str], Path] | None, env: Environment) -> bytes:
    """The issue's PDF: the one `build` made when it is newer than the issue file, else rendered now."""
    if build_dir:
        built = build_dir(issue.id) / f"{issue.id}.pdf"
        source = Path(issue.path) if issue.path else None
        if built.exists() and source and built.stat().st_mtime >= source.stat().st_mtime:
            return built.read_bytes()
    return pdf_format.render(env, view)


def write_shared_pages(
    writer: Writer,
    templates: Templates,
    shared: SharedPages,
    published: list[IssueSummary],
    settings: Settings,
    base: str,
    pdf: bool,
    today: dt.date,
    phases: Phases | None = None,
) -> list[str]:
    """Write the pages that list every published issue (index, organisations, search page, feed, sitemap) and
    the search index; returns the search index's files (relative paths in `pagefind/`, as Pagefind named them).

    `published` is oldest first; the pages list the newest first. The sitemap is written only with a
    site address (`base`), since it may hold absolute URLs only. `phases` collects the seconds spent on
    the pages ("shared") and on the search index ("search").
    """
    phases = phases if phases is not None else Phases()
    with phases("shared"):
        listed = [IssueListing(**vars(summary), pdf=pdf) for summary in reversed(published)]
        context = {
            "settings": settings,
            "issues": listed,
            "base": base,
            "organisations": shared.organisations,
            "today": today,
            "norwegian_date": norwegian_date,
        }
        writer.write("index.html", templates.render("site_index.html", root="", **context))
        writer.write("organisasjoner/index.html", templates.render("site_organisations.html", root="../", **context))
        for page_slug, page in shared.organisations.items():
            writer.write(
                f"organisasjoner/{page_slug}.html",
                templates.render("site_organisation.html", root="../", page=page, page_slug=page_slug, **context),
            )
        writer.write("sok.html", templates.render("site_search.html", root="", **context))
        writer.write("sok.js", (BUILT_IN_TEMPLATES / "sok.js").read_text(encoding="utf-8"))
        # No canonical address: it stands in for any address that is not there.
        writer.write("404.html", templates.render("site_404.html", root=site_root(base), **{**context, "base": ""}))
        writer.write("feed.xml", atom_feed(templates, listed, settings, base, today))
        if base:  # sitemaps.org: every <loc> is an absolute URL, so no sitemap without the site's address
            writer.write(
                "sitemap.xml",
                templates.render("sitemap.xml", issues=published, organisations=shared.organisations, base=base),
            )
    with (
        phases("search"),
        search_index(search_documents(published, settings), settings.language, scratch_folder(writer.out_dir)) as index,
    ):
        for relative, built in index.items():
            writer.place(f"{SEARCH_DIR}/{relative}", built, content_named(relative))
    return [f"{SEARCH_DIR}/{relative}" for relative in index]


def site_root(base: str) -> str:
    """Where the archive's root is from any page, for the 404 page (which stands in for a page at any depth):
    the path of `base` ("https://www.example.no/nyhetsbrev/" gives "/nyhetsbrev/"), or "/" without one."""
    path = urlsplit(base).path if base else ""
    return path if path.endswith("/") else (path + "/" if path else "/")


def atom_feed(
    templates: Templates, newest_first: list[IssueListing], settings: Settings, base: str, today: dt.date
) -> str:
    """The Atom feed of the published issues, newest first (template `feed.xml`).

    With a site address every id is the entry's URL; without one, ids are tag: URIs (RFC 4151) and links
    are relative. `updated` is the newest publication date, or `today` when nothing is published.
    """
    dates = [summary.published for summary in newest_first if summary.published]
    return templates.render(
        "feed.xml",
        settings=settings,
        issues=newest_first,
        base=base,
        feed_id=f"{base}feed.xml" if base else f"tag:newsletter,2024:{slug(settings.name)}",
        updated=max(dates, default=today),
    )


def remove_outputs(out_dir: Path, relatives: list[str]) -> list[str]:
    """Delete these files under `out_dir` (and folders they leave empty); returns those that existed."""
    removed = []
    for relative in relatives:
        path = safe_join(out_dir, relative)
        if path.exists():
            path.unlink()
            removed.append(relative)
            if path.parent != out_dir.resolve() and not any(path.parent.iterdir()):
                path.parent.rmdir()
    return removed

"""Build: render the view model to every requested format in memory, then write the files.

Each output is a Jinja template over the view model (the workspace's
`templates/` first, then the built-in ones), rendered in memory; files are
written only when every requested format rendered.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from newsletter import buildstamp
from newsletter.errors import NewsletterError, UsageError
from newsletter.fsutil import atomic_write
from newsletter.models import Issue, Settings
from newsletter.render import email, ics, markdown, overrides, pdf, text, web
from newsletter.render.view import IssueView, issue_view

log = logging.getLogger(__name__)

FORMATS = ("web", "email", "text", "pdf")
EMAIL_LIMIT = email.BUDGET  # Gmail clips at 102 KB and hides the footer: warn well before
# The templates shipped with the package; a workspace's templates/ overrides them file by file.
BUILT_IN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def environment(workspace_templates: Path | None) -> Environment:
    """Jinja templates: the workspace's own first, then the built-in ones."""
    loaders: list[BaseLoader] = []
    if workspace_templates and workspace_templates.is_dir():
        loaders.append(FileSystemLoader(str(workspace_templates)))
    loaders.append(PackageLoader("newsletter", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = markdown.wrap
    return env


@dataclass
class BuildResult:
    """What `build` wrote, and what the editor should know about it."""

    out_dir: Path
    files: dict[str, Path]
    warnings: list[str]
    seconds: dict[str, float]


def render_formats(
    view: IssueView, issue: Issue, settings: Settings, formats: tuple[str, ...], workspace_templates: Path | None = None
) -> tuple[dict[str, bytes], list[str], dict[str, float]]:
    """Render the requested formats in memory: file name → bytes, warnings, seconds per format."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown format '{unknown[0]}' (formats: {', '.join(FORMATS)})")
    env = environment(workspace_templates)
    try:
        return _render_all(env, view, issue, formats)
    except TemplateError as exc:
        where = f"{getattr(exc, 'filename', None) or getattr(exc, 'name', None) or 'a template'}"
        lineno = getattr(exc, "lineno", None)  # TemplateSyntaxError has one; other template errors do not
        line = f", line {lineno}" if lineno else ""
        raise NewsletterError(f"{where}{line}: {exc.message or exc}") from exc


def _render_all(env: Environment, view: IssueView, issue: Issue, formats: tuple[str, ...]):
    outputs: dict[str, bytes] = {}
    warnings: list[str] = []
    seconds: dict[str, float] = {}
    web_html = None
    for name in formats:
        started = time.perf_counter()
        if name == "web":
            downloads: tuple[tuple[str, str], ...] = (("PDF", f"{issue.id}.pdf"),) if "pdf" in formats else ()
            if view.has_events:
                downloads += (("kalender (ICS)", "events.ics"),)
            web_html = web.render(env, view, downloads=downloads)
            outputs["index.html"] = web_html.encode("utf-8")
        elif name == "email":
            html = email.render(env, view)
            outputs["email.html"] = html.encode("utf-8")
            size = len(outputs["email.html"])
            if size > EMAIL_LIMIT:
                warnings.append(
                    f"email.html is {size / 1024:.0f} KB, over the {EMAIL_LIMIT // 1024} KB budget: Gmail clips "
                    "messages over 102 KB and hides the end (the footer with the unsubscribe link); a link to the "
                    "web version now stands at the clip point; shorten the texts"
                )
        elif name == "text":
            outputs["email.txt"] = text.render(env, view).encode("utf-8")
        elif name == "pdf":
            outputs[f"{issue.id}.pdf"] = pdf.render(env, view)
        seconds[name] = time.perf_counter() - started
    calendar = ics.render(issue, view)
    if calendar:
        outputs["events.ics"] = calendar
    return outputs, warnings, seconds


def build(
    issue: Issue,
    settings: Settings,
    out_dir: Path,
    formats: tuple[str, ...] = FORMATS,
    workspace_templates: Path | None = None,
) -> BuildResult:
    """Render the issue and write its files into `out_dir` (each atomically), then the build manifest
    (`newsletter.buildstamp`), last: a build interrupted before it never passes for a whole one.

    The result's warnings name what the editor should fix: an e-mail over the size budget, a stale
    overridden template, and a missing `site_url` (without it the e-mail cannot link to its web version).
    """
    made_from = buildstamp.sources(Path(issue.path) if issue.path else None, settings, workspace_templates)
    view = issue_view(issue, settings)
    outputs, warnings, seconds = render_formats(view, issue, settings, formats, workspace_templates)
    warnings = overrides.stale(workspace_templates) + warnings
    if not settings.site_url and ("email" in formats or "text" in formats):
        # The mailing stage fills the web version's address from site_url, and drops the link without it.
        warnings.append(
            "no site_url in newsletter.yaml: the e-mail's link to the web version (\"Les nyhetsbrevet i "
            "nettleseren\") will be left out when it is sent; set site_url to the archive's address, e.g. "
            "site_url: https://www.example.no/nyhetsbrev (newsletter.yaml shows where it goes)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in outputs.items():
        path = out_dir / name
        atomic_write(path, data)
        files[name] = path
    buildstamp.write_manifest(out_dir, issue.id, made_from, outputs)
    return BuildResult(out_dir, files, warnings, seconds)

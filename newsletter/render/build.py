"""Build: render the view model to every requested format in memory, then write the files.

Each output is a Jinja template over the view model (the workspace's
`templates/` first, then the built-in ones), rendered in memory; files are
written only when every requested format rendered.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
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
from markupsafe import Markup

from newsletter import buildstamp
from newsletter.errors import NewsletterError, UsageError
from newsletter.fsutil import atomic_write, folder_lock
from newsletter.models import Issue, Settings
from newsletter.render import email, ics, markdown, overrides, pdf, text, web
from newsletter.render.view import IssueView, issue_view
from newsletter.textcodec import strip_hidden

log = logging.getLogger(__name__)

FORMATS = ("web", "email", "text", "pdf")
EMAIL_LIMIT = email.BUDGET  # Gmail clips at 102 KB and hides the footer: warn well before
# The templates shipped with the package; a workspace's templates/ overrides them file by file.
BUILT_IN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def environment(workspace_templates: Path | None) -> Environment:
    """Jinja templates: the workspace's own first, then the built-in ones.

    Whatever a template prints loses the invisible characters that hide or reorder text (`_visible`).
    """
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
        finalize=_visible,
    )
    env.filters["wrap"] = markdown.wrap
    return env


def _visible(value: object) -> object:
    """A value a template prints, without invisible characters (`textcodec.strip_hidden`).

    The view model leaves them out already; this holds for what a workspace's template prints besides
    (a setting, a value it builds), in every output and the archive's pages. Removing characters that
    are never `<`, `>`, `&` or a quote cannot make markup of escaped text, so Markup stays Markup.
    """
    if isinstance(value, Markup):
        return Markup(strip_hidden(str(value)))
    if isinstance(value, str):
        return strip_hidden(value)
    return value


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
        # An undefined value carries no file name: name the template of the format being rendered.
        named = getattr(exc, "filename", None) or getattr(exc, "name", None) or getattr(exc, "template", None)
        where = f"{named or 'a template'}"
        lineno = getattr(exc, "lineno", None)  # TemplateSyntaxError has one; other template errors do not
        line = f", line {lineno}" if lineno else ""
        raise NewsletterError(f"{where}{line}: {exc.message or exc}") from exc


def _render_all(env: Environment, view: IssueView, issue: Issue, formats: tuple[str, ...]):
    outputs: dict[str, bytes] = {}
    warnings: list[str] = []
    seconds: dict[str, float] = {}
    for name in formats:
        started = time.perf_counter()
        try:
            _render_one(env, view, issue, formats, name, outputs, warnings)
        except TemplateError as exc:
            if not (getattr(exc, "filename", None) or getattr(exc, "name", None)):
                exc.template = TEMPLATES[name]  # type: ignore[attr-defined]
            raise
        seconds[name] = time.perf_counter() - started
    calendar = ics.render(issue, view)
    if calendar:
        outputs["events.ics"] = calendar
    return outputs, warnings, seconds


# The template each format renders (the workspace's templates/ may override each).
TEMPLATES = {"web": "web.html", "email": "email.html", "text": "email.txt", "pdf": "print.html"}


def _render_one(
    env: Environment,
    view: IssueView,
    issue: Issue,
    formats: tuple[str, ...],
    name: str,
    outputs: dict[str, bytes],
    warnings: list[str],
) -> None:
    """Render one format into `outputs` (file name → bytes), adding its warnings."""
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


def build(
    issue: Issue,
    settings: Settings,
    out_dir: Path,
    formats: tuple[str, ...] = FORMATS,
    workspace_templates: Path | None = None,
) -> BuildResult:
    """Render the issue and write its files, then the build manifest (`newsletter.buildstamp`), into a
    folder next to `out_dir` that then takes its place: an interrupted build (an error in a template,
    Ctrl-C, a full disk) leaves the previous complete build as it was, and what it left behind is
    removed by the next build (`clean_leftovers`).

    A folder that holds more than a build (`--out` naming a folder of other things) is never moved:
    the files are written into it in place, each atomically, the manifest last.

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
    out_dir = Path(out_dir)
    if not _swappable(out_dir):
        # A folder the editor keeps other things in (`--out .`): never moved; the parts are written in
        # place, each atomically, and the manifest last, as before.
        return _write_in_place(issue.id, out_dir, outputs, made_from, warnings, seconds)
    # One build of a folder at a time (`preview` rebuilding while the editor runs `build`): each would
    # otherwise clean away the other's stage as a leftover. Rendering, the slow part, runs unlocked.
    with folder_lock(out_dir.parent):
        clean_leftovers(out_dir)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{STAGE_MARK}", dir=out_dir.parent))
        try:
            mask = os.umask(0o022)
            os.umask(mask)
            os.chmod(stage, 0o777 & ~mask)  # mkdtemp's folder is private (0700); a build folder is not
            if out_dir.is_dir():
                # The earlier build's other parts (the PDF, when `preview` builds web, e-mail and text) stay,
                # as hard links where the file system allows: the manifest keeps them if their sources match.
                shutil.copytree(out_dir, stage, dirs_exist_ok=True, copy_function=_link_or_copy)
            files = {}
            for name, data in outputs.items():
                atomic_write(stage / name, data)
                files[name] = out_dir / name
            buildstamp.write_manifest(stage, issue.id, made_from, outputs)
            _swap(stage, out_dir)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return BuildResult(out_dir, files, warnings, seconds)


# Folders next to a build: `.<id>.building-XXXX` is a build being written, `.<id>.previous-XXXX` the build it
# replaces, for the moment between two renames.
STAGE_MARK = ".building-"
PREVIOUS_MARK = ".previous-"


def _swappable(out_dir: Path) -> bool:
    """True when `out_dir` is wholly a build's: missing, empty, or holding a build manifest and no folder."""
    if not out_dir.exists():
        return True
    if not out_dir.is_dir():
        return False
    entries = list(out_dir.iterdir())
    if not entries:
        return True
    return (out_dir / buildstamp.MANIFEST).is_file() and not any(e.is_dir() for e in entries)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _swap(stage: Path, out_dir: Path) -> None:
    """Make `stage` the build at `out_dir`: two renames, the old build out of the way first.

    POSIX cannot rename a folder onto a non-empty one, so for the instant between the two renames
    `out_dir` is missing and the old build waits at `.<name>.previous-*`; `clean_leftovers` puts it
    back should the process die right there.
    """
    if not out_dir.exists():
        os.rename(stage, out_dir)
        return
    previous = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{PREVIOUS_MARK}", dir=out_dir.parent))
    os.rename(out_dir, previous / out_dir.name)
    os.rename(stage, out_dir)
    shutil.rmtree(previous, ignore_errors=True)


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove what an interrupted build left next to `out_dir` (its half-written `.building-` folder) and
    in it (atomic_write's `.*.tmp` files); a build moved aside and never replaced is put back. Returns
    what was removed."""
    removed: list[Path] = []
    parent = out_dir.parent
    if parent.is_dir():
        for previous in sorted(parent.glob(f".{out_dir.name}{PREVIOUS_MARK}*")):
            kept = previous / out_dir.name
            if kept.is_dir() and not out_dir.exists():
                os.rename(kept, out_dir)  # the process died between the two renames of `_swap`
            shutil.rmtree(previous, ignore_errors=True)
            removed.append(previous)
        for stage in sorted(parent.glob(f".{out_dir.name}{STAGE_MARK}*")):
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    if out_dir.is_dir():
        for temp in sorted(out_dir.glob(".*.tmp")):
            temp.unlink(missing_ok=True)
            removed.append(temp)
    if removed:
        log.info("removed what an interrupted build left: %s", ", ".join(p.name for p in removed))
    return removed


def _write_in_place(
    issue_id: str,
    out_dir: Path,
    outputs: dict[str, bytes],
    made_from: dict[str, str],
    warnings: list[str],
    seconds: dict[str, float],
) -> BuildResult:
    files = {}
    for name, data in outputs.items():
        path = out_dir / name
        atomic_write(path, data)
        files[name] = path
    buildstamp.write_manifest(out_dir, issue_id, made_from, outputs)
    return BuildResult(out_dir, files, warnings, seconds)

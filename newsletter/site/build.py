"""The static web archive: every published issue, browsable and searchable, in `site/`.

Pages: `index.html` (every issue, newest first, by year), `<id>/index.html`
(the issue's web page with navigation) and `<id>/<id>.pdf`, `organisasjoner/`
(a page per organisation configured in newsletter.yaml: every GRETA item since
the first issue), `sok.html` searching a Pagefind index of every entry
(`pagefind/`, see `search`), `feed.xml` (Atom) and `sitemap.xml`.

Headings that map to no organisation, and are neither the unit's own nor a
theme, are reported (`SiteReport.unmapped`) so the editor can configure them.

Only published issues appear: a `published` date that is not in the future.
Nothing from the contact list is ever read here.

Incremental (see `plan`): an unchanged archive is checked by hashing files (no
YAML is parsed) and writes nothing, and a changed issue re-renders its own
page, its neighbours' navigation and the pages that list every issue. A file
is written only when its bytes differ (see `write`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newsletter import clock
from newsletter.models import Settings
from newsletter.site.plan import Manifest, Phases, inputs_key, plan_site, read_issues
from newsletter.site.summaries import Unmapped
from newsletter.site.write import Templates, Writer, remove_outputs, write_issue_page, write_shared_pages

NO_SITE_URL = (
    "no site_url in newsletter.yaml: the archive has no sitemap (sitemaps need absolute addresses), no canonical "
    "links, and its feed links only relative; set site_url to the address the archive is published at, e.g. "
    "site_url: https://www.example.no/nyhetsbrev (newsletter.yaml shows where it goes)"
)


@dataclass
class SiteReport:
    """What a site build did: paths relative to `out_dir`, issue ids, and warnings for the editor."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)  # published, oldest first
    skipped: list[str] = field(default_factory=list)  # drafts and future issues
    warnings: list[str] = field(default_factory=list)  # issue files left out and why; no site_url
    unmapped: list[Unmapped] = field(default_factory=list)  # headings no configured organisation claims
    # Seconds per phase: "hash" (issue files hashed), "read" (parsed and validated), "view" (view models and
    # summaries), "pages" (issue pages and PDFs), "shared" (index, organisations, feed …), "search" (Pagefind),
    # "manifest" (planning, removing, the manifest).
    seconds: dict[str, float] = field(default_factory=dict)


def build_site(
    issues_dir: Path,
    settings: Settings,
    settings_path: Path,
    out_dir: Path,
    workspace_templates: Path | None = None,
    build_dir: Callable[[str], Path] | None = None,
    pdf: bool = True,
    today: dt.date | None = None,
) -> SiteReport:
    """Build (or bring up to date) the archive of the issues in `issues_dir` in `out_dir`.

    `settings_path` and `workspace_templates` are hashed to notice a change of settings or templates;
    `build_dir` gives the folder where `newsletter build` put an issue's outputs (Workspace.build_dir;
    its `<id>.pdf` is reused when newer than the issue file); `today` decides what is published (default:
    today in `settings.timezone`). Issue files that do not load are left out with a warning; raises NewsletterError when
    a template fails to render.
    """
    today = today or clock.today(settings.timezone)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = settings.site_url.rstrip("/") + "/" if settings.site_url else ""
    phases = Phases()

    with phases("manifest"):
        previous = Manifest.load(out_dir)
        global_key = inputs_key(settings_path, workspace_templates)
    cached = previous.issues if previous.global_key == global_key else {}
    catalogue = read_issues(issues_dir, settings, cached, today, phases)
    with phases("manifest"):
        plan = plan_site(catalogue, previous, global_key, out_dir, base, pdf, today)

    writer, templates = Writer(out_dir), Templates(workspace_templates)
    for page in plan.pages:
        if page.stale:
            document = catalogue.document(page.summary.id)
            with phases("pages"):
                write_issue_page(writer, templates, page, document, base, pdf, build_dir)
    if plan.shared.stale:
        index_files = write_shared_pages(
            writer, templates, plan.shared, plan.published, settings, base, pdf, today, phases
        )
        plan.search_index_written(index_files)
    with phases("manifest"):
        writer.flush()  # before the manifest vouches for the files
        removed = remove_outputs(out_dir, plan.removals)
        plan.manifest.save(out_dir, previous)

    warnings = list(catalogue.warnings)
    if not base:
        warnings.append(NO_SITE_URL)
    return SiteReport(
        out_dir,
        written=writer.written,
        removed=removed,
        issues=[summary.id for summary in plan.published],
        skipped=sorted(plan.unpublished),
        warnings=warnings,
        unmapped=plan.shared.unmapped,
        seconds=dict(phases),
    )

"""What a site build must write and remove, decided from the manifest of the last build before anything renders.

`.manifest.json` in the output folder remembers a hash of the inputs of every
file it wrote (`outputs`) and, per issue file, its hash and either its summary
(published issues) or only its date (drafts and future issues: the manifest
sits in the published folder, so nothing else of them goes there). A file is
planned for rendering when its inputs' hash differs from the one recorded or
it is missing; an output no longer planned is stale and goes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsletter.curate.issuefile import IssueDocument, IssueFileError, list_issue_ids
from newsletter.fsutil import atomic_write, safe_join
from newsletter.models import Issue, Settings
from newsletter.render.build import BUILT_IN_TEMPLATES
from newsletter.render.view import IssueView, issue_view
from newsletter.site.search import SEARCH_DIR
from newsletter.site.summaries import IssueSummary, OrganisationPage, Unmapped, organisation_pages, summarize

log = logging.getLogger(__name__)

MANIFEST = ".manifest.json"
# 4: summaries lose invisible characters and name an image by its link text, so those a version 3
# manifest kept are made again.
MANIFEST_VERSION = 4
# The pages that list every issue, besides one page per organisation.
SHARED_PAGES = (
    "index.html",
    "organisasjoner/index.html",
    "sok.html",
    "sok.js",
    "404.html",
    "feed.xml",
    "sitemap.xml",
)
# The search index's files are named by Pagefind (by their content), so the plan cannot know them ahead:
# it keeps those the last build wrote, or expects this one, and the build records what Pagefind made.
SEARCH_ENTRY = f"{SEARCH_DIR}/pagefind-entry.json"


def content_hash(*parts: object) -> str:
    """A short hash (20 hex digits) of `parts`: bytes as they are, anything else as sorted-key JSON."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def inputs_key(settings_path: Path, workspace_templates: Path | None) -> str:
    """The hash of what every page depends on: newsletter.yaml, every template (built-in and the workspace's)."""
    files = sorted(BUILT_IN_TEMPLATES.glob("*"))
    if workspace_templates and workspace_templates.is_dir():
        files += sorted(workspace_templates.glob("*"))
    templates = content_hash(*[f.name.encode() + f.read_bytes() for f in files if f.is_file()])
    settings = settings_path.read_bytes() if settings_path.exists() else b""
    return content_hash(settings, templates, MANIFEST_VERSION)


@dataclass
class Manifest:
    """What the last build wrote: the inputs key, each output's hash, and each issue file's state."""

    global_key: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # relative path → hash of its inputs
    # issue id → {"hash": …, "summary": IssueSummary.to_json()} if published, else {"hash": …, "published": date}
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        """The manifest in `out_dir`; an empty one when it is missing or unreadable.

        A manifest of another version keeps only its `outputs`: what an older build wrote is still
        known, so files this build no longer makes (emner/ before organisasjoner/) are removed.
        """
        try:
            data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        outputs = data.get("outputs")
        outputs = {f: "" for f in outputs if isinstance(f, str)} if isinstance(outputs, dict) else {}
        if data.get("version") != MANIFEST_VERSION:
            return cls(outputs=outputs)
        return cls(data.get("global"), data.get("outputs", {}), data.get("issues", {}))

    def to_json(self) -> dict[str, Any]:
        """The manifest as its file holds it."""
        return {"version": MANIFEST_VERSION, "global": self.global_key, "outputs": self.outputs, "issues": self.issues}

    def save(self, out_dir: Path, previous: Manifest) -> None:
        """Write the manifest into `out_dir` atomically, unless it equals `previous` (a no-op build writes nothing)."""
        if self.to_json() != previous.to_json() or not (out_dir / MANIFEST).exists():
            atomic_write(out_dir / MANIFEST, json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True))


class Phases(dict[str, float]):
    """Seconds a build spent in each phase, summed over its calls: `with phases("read"): …`."""

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Add the time the block takes to phase `name`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - started


@dataclass
class Catalogue:
    """Every issue file: its hash and summary, and (for those parsed in this build) its parsed form.

    An issue file whose hash the manifest knows is not parsed again: its summary, or for a draft or
    a future issue its date, comes from the manifest.
    """

    issues_dir: Path
    settings: Settings
    hashes: dict[str, str] = field(default_factory=dict)  # issue id → hash of its file
    summaries: dict[str, IssueSummary] = field(default_factory=dict)
    unpublished: dict[str, dt.date | None] = field(default_factory=dict)  # drafts and future issues → their date
    documents: dict[str, tuple[Issue, IssueView]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    phases: Phases = field(default_factory=Phases)  # "read" (YAML parsed and validated), "view" (view models)

    def document(self, issue_id: str) -> tuple[Issue, IssueView]:
        """The issue and its view model, parsed now if this build has not yet; raises IssueFileError."""
        if issue_id not in self.documents:
            with self.phases("read"):
                issue = IssueDocument.load(self.issues_dir / f"{issue_id}.yaml").issue(self.settings)
            with self.phases("view"):
                self.documents[issue_id] = (issue, issue_view(issue, self.settings))
        return self.documents[issue_id]


def read_issues(
    issues_dir: Path, settings: Settings, cached: dict[str, dict[str, Any]], today: dt.date, phases: Phases
) -> Catalogue:
    """Hash every issue file in `issues_dir`, and parse and summarise those `cached` has no state for.

    `cached` is the manifest's issue states (empty when newsletter.yaml or a template changed). A draft
    or future issue is parsed again once its date has come. An issue file that does not load is left out,
    with a warning.
    """
    catalogue = Catalogue(issues_dir, settings, phases=phases)
    for issue_id in list_issue_ids(issues_dir):
        with phases("hash"):
            digest = catalogue.hashes[issue_id] = content_hash((issues_dir / f"{issue_id}.yaml").read_bytes())
        state = cached.get(issue_id)
        if state and state.get("hash") == digest:
            if "summary" in state:
                try:
                    catalogue.summaries[issue_id] = IssueSummary.from_json(state["summary"])
                    continue
                except (KeyError, TypeError, ValueError) as exc:
                    log.debug("manifest summary of %s unreadable (%s); parsing the issue again", issue_id, exc)
            else:
                waiting = dt.date.fromisoformat(state["published"]) if state.get("published") else None
                if waiting is None or waiting > today:
                    catalogue.unpublished[issue_id] = waiting
                    continue  # still a draft, or still in the future: nothing of it goes out
        try:
            issue, view = catalogue.document(issue_id)
        except IssueFileError as exc:
            catalogue.warnings.append(f"{exc} (left out of the archive)")
            continue
        with phases("view"):
            catalogue.summaries[issue_id] = summarize(issue, view)
    return catalogue


@dataclass
class IssuePage:
    """A published issue's page (and PDF) in the archive, with its neighbours for the navigation."""

    summary: IssueSummary
    previous: IssueSummary | None
    following: IssueSummary | None
    key: str  # hash of its inputs
    files: list[str]  # relative paths: the page, and the PDF when wanted
    stale: bool  # must be rendered: its inputs changed or a file is missing


@dataclass
class SharedPages:
    """The pages that list every published issue, with the organisation pages and the headings none claims."""

    key: str
    files: list[str]
    organisations: dict[str, OrganisationPage]  # slug → page
    unmapped: list[Unmapped]
    stale: bool


@dataclass
class SitePlan:
    """Everything a build will write and remove, and the manifest it leaves."""

    published: list[IssueSummary]  # by id, oldest first
    unpublished: dict[str, dt.date | None]
    pages: list[IssuePage]
    shared: SharedPages
    removals: list[str]  # relative paths of outputs no longer produced, sorted
    manifest: Manifest

    def search_index_written(self, files: list[str]) -> None:
        """Record the search index's files as Pagefind named them this time; those of the last index go."""
        outputs = self.manifest.outputs
        before = {f for f in outputs if f.startswith(f"{SEARCH_DIR}/")}
        for name in before:
            del outputs[name]
        outputs.update(dict.fromkeys(files, self.shared.key))
        self.removals = sorted(set(self.removals) | (before - set(files)))


def plan_site(
    catalogue: Catalogue,
    previous: Manifest,
    global_key: str,
    out_dir: Path,
    base: str,
    pdf: bool,
    today: dt.date,
) -> SitePlan:
    """What to render (what changed since `previous`, or is missing in `out_dir`), what to remove, the new manifest.

    `base` is the site's address ending in "/" (or "" when unknown); `pdf` whether PDFs sit beside the pages.
    """
    published = sorted((s for s in catalogue.summaries.values() if s.is_published(today)), key=lambda s: s.id)
    unpublished = dict(catalogue.unpublished)
    unpublished.update({s.id: s.published for s in catalogue.summaries.values() if not s.is_published(today)})

    def missing_or_changed(files: list[str], key: str) -> bool:
        return not all(previous.outputs.get(f) == key and safe_join(out_dir, f).exists() for f in files)

    pages = []
    for index, summary in enumerate(published):
        before = published[index - 1] if index else None
        after = published[index + 1] if index + 1 < len(published) else None
        neighbours = [(s.id, s.period) if s else None for s in (before, after)]
        key = content_hash(global_key, catalogue.hashes[summary.id], neighbours, pdf, base)
        files = [f"{summary.id}/index.html"] + ([f"{summary.id}/{summary.id}.pdf"] if pdf else [])
        files += [f"{summary.id}/events.ics"] if summary.events else []
        pages.append(IssuePage(summary, before, after, key, files, missing_or_changed(files, key)))

    found, unmapped = organisation_pages(published, catalogue.settings.archive)
    shared_key = content_hash(global_key, [(s.id, catalogue.hashes[s.id]) for s in published], base, pdf)
    # The sitemap protocol takes absolute addresses only: without a site address there is no sitemap.
    shared_files = [f for f in SHARED_PAGES if base or f != "sitemap.xml"]
    shared_files += [f"organisasjoner/{slug}.html" for slug in found]
    index_files = sorted(f for f in previous.outputs if f.startswith(f"{SEARCH_DIR}/"))
    shared_files += index_files or ([SEARCH_ENTRY] if published else [])  # nothing published: no index
    shared = SharedPages(shared_key, shared_files, found, unmapped, missing_or_changed(shared_files, shared_key))

    outputs = {f: page.key for page in pages for f in page.files} | dict.fromkeys(shared_files, shared_key)
    issues_state: dict[str, dict[str, Any]] = {
        s.id: {"hash": catalogue.hashes[s.id], "summary": s.to_json()} for s in published
    }
    issues_state.update(
        {
            issue_id: {"hash": catalogue.hashes[issue_id], "published": date.isoformat() if date else None}
            for issue_id, date in unpublished.items()
        }
    )
    return SitePlan(
        published=published,
        unpublished=unpublished,
        pages=pages,
        shared=shared,
        removals=sorted(set(previous.outputs) - set(outputs)),
        manifest=Manifest(global_key, outputs, issues_state),
    )

"""The static web archive: every published issue, browsable and searchable, in `site/`.

Pages: `index.html` (every issue, newest first, by year), `<id>/index.html`
(the issue's web page with navigation) and `<id>/<id>.pdf`, `emner/` (a page
per heading: everything ever written about GRETA, or Sweden), `sok.html` with
a prebuilt search index (`sok-indeks.js`, searched in the browser; no
server), `feed.xml` (Atom) and `sitemap.xml`.

Only published issues appear: a `published` date that is not in the future.
Nothing from the contact list is ever read here.

Incremental: `.manifest.json` in the output folder remembers a hash of the
inputs of every file and a summary of every issue, so an unchanged archive is
checked by hashing files (no YAML is parsed) and writes nothing, and a changed
issue re-renders its own page, its neighbours' navigation and the pages that
list every issue. A file is written only when its bytes differ.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from newsletter.curate.issuefile import IssueDocument, IssueFileError, list_issue_ids
from newsletter.errors import NewsletterError
from newsletter.fsutil import atomic_write
from newsletter.models import Settings
from newsletter.render import markdown
from newsletter.render import pdf as pdf_format
from newsletter.render import web as web_format
from newsletter.render.build import BUILT_IN_TEMPLATES, environment
from newsletter.render.view import issue_view, norwegian_date

MANIFEST = ".manifest.json"
MANIFEST_VERSION = 2
SNIPPET = 400


@dataclass
class SiteReport:
    """What a site build did."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # drafts and future issues
    warnings: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """A safe file name for a heading: "Østersjørådet (CBSS)" → "ostersjoradet-cbss"."""
    table = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "ae", "Ø": "o", "Å": "a", "ß": "ss"})
    ascii_text = unicodedata.normalize("NFKD", text.translate(table)).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]
    return cleaned or "emne-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def safe_join(root: Path, relative: str) -> Path:
    """`root / relative`, refusing anything that would land outside `root` (as pelican's sanitised_join)."""
    target = (root / relative).resolve()
    if root.resolve() not in (target, *target.parents):
        raise NewsletterError(f"refusing to write outside {root}: {relative}")
    return target


def _hash(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def _templates_hash(workspace_templates: Path | None) -> str:
    package = BUILT_IN_TEMPLATES
    files = sorted(package.glob("*")) + (
        sorted(workspace_templates.glob("*")) if workspace_templates and workspace_templates.is_dir() else []
    )
    return _hash(*[f.name.encode() + f.read_bytes() for f in files if f.is_file()])


def _summary(issue, view) -> dict:
    """What the archive's shared pages need from an issue (kept in the manifest)."""
    entries = []
    for section in view.sections:
        for group in section.groups:
            for entry in group.entries:
                entries.append(
                    {
                        "section": section.title,
                        "heading": group.heading,
                        "title": entry.title,
                        "anchor": entry.anchor,
                        "text": markdown.to_text(_source_text(issue, entry.ref), None, width=None),
                    }
                )
    headings = list(dict.fromkeys(e["heading"] for e in entries))
    return {
        "id": issue.id,
        "title": issue.title,
        "period": issue.period,
        "published": issue.published.isoformat() if issue.published else None,
        "intro": markdown.to_text(issue.intro, None, width=None),
        "headings": headings,
        "entries": entries,
    }


def _source_text(issue, ref: str) -> str:
    key, position = ref.split(":")
    return issue.sections[key][int(position) - 1].text


class _Writer:
    """Writes files under the output folder only when their bytes change."""

    def __init__(self, out_dir: Path, report: SiteReport):
        self.out_dir, self.report = out_dir, report

    def write(self, relative: str, content: str | bytes) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = safe_join(self.out_dir, relative)
        if path.exists() and path.read_bytes() == data:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        self.report.written.append(relative)


def build_site(
    issues_dir: Path,
    settings: Settings,
    settings_path: Path,
    out_dir: Path,
    workspace_templates: Path | None = None,
    build_root: Path | None = None,
    pdf: bool = True,
    today: dt.date | None = None,
) -> SiteReport:
    """Build (or bring up to date) the archive in `out_dir`."""
    today = today or dt.date.today()
    out_dir.mkdir(parents=True, exist_ok=True)
    report = SiteReport(out_dir)
    manifest_path = out_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("version") != MANIFEST_VERSION:
            manifest = {}
    except (FileNotFoundError, ValueError):
        manifest = {}
    old_issues, old_outputs = manifest.get("issues", {}), manifest.get("outputs", {})
    global_key = _hash(
        settings_path.read_bytes() if settings_path.exists() else b"",
        _templates_hash(workspace_templates),
        MANIFEST_VERSION,
    )
    same_global = manifest.get("global") == global_key

    # 1. Every issue file: its hash, and (only when it changed) its parsed form and summary.
    env = None
    documents: dict[str, object] = {}
    summaries: dict[str, dict] = {}
    unpublished: dict[str, str | None] = {}  # drafts and future issues: id → their date, and nothing else
    hashes: dict[str, str] = {}
    for issue_id in list_issue_ids(issues_dir):
        raw = (issues_dir / f"{issue_id}.yaml").read_bytes()
        hashes[issue_id] = _hash(raw)
        cached = old_issues.get(issue_id)
        if same_global and cached and cached.get("hash") == hashes[issue_id]:
            if "summary" in cached:
                summaries[issue_id] = cached["summary"]
                continue
            waiting = cached.get("published")
            if waiting is None or dt.date.fromisoformat(waiting) > today:
                unpublished[issue_id] = waiting
                continue  # still a draft, or still in the future: nothing of it goes out
        try:
            issue = IssueDocument.load(issues_dir / f"{issue_id}.yaml").issue(settings)
        except IssueFileError as exc:
            report.warnings.append(f"{exc} (left out of the archive)")
            continue
        view = issue_view(issue, settings)
        documents[issue_id] = (issue, view)
        summaries[issue_id] = _summary(issue, view)

    published = sorted(
        (s for s in summaries.values() if s["published"] and dt.date.fromisoformat(s["published"]) <= today),
        key=lambda s: s["id"],
    )
    published_ids = {s["id"] for s in published}
    for issue_id, summary in summaries.items():
        if issue_id not in published_ids:
            unpublished[issue_id] = summary["published"]
    report.skipped = sorted(unpublished)
    report.issues = [s["id"] for s in published]
    writer = _Writer(out_dir, report)
    outputs: dict[str, str] = {}
    base = settings.site_url.rstrip("/") + "/" if settings.site_url else ""

    def environment_once():
        nonlocal env
        env = env or environment(workspace_templates)
        return env

    # 2. A page (and PDF) per published issue, re-rendered when it or its neighbours changed.
    for index, summary in enumerate(published):
        issue_id = summary["id"]
        previous = published[index - 1] if index else None
        following = published[index + 1] if index + 1 < len(published) else None
        neighbours = [(s["id"], s["period"]) if s else None for s in (previous, following)]
        page = f"{issue_id}/index.html"
        key = _hash(global_key, hashes[issue_id], neighbours, pdf, base)
        files = [page] + ([f"{issue_id}/{issue_id}.pdf"] if pdf else [])
        for relative in files:
            outputs[relative] = key
        if all(old_outputs.get(f) == key and safe_join(out_dir, f).exists() for f in files):
            continue
        if issue_id not in documents:
            issue = IssueDocument.load(issues_dir / f"{issue_id}.yaml").issue(settings)
            documents[issue_id] = (issue, issue_view(issue, settings))
        issue, view = documents[issue_id]
        site = {
            "root": "../",
            "canonical": f"{base}{issue_id}/" if base else "",
            "previous": {"id": previous["id"], "period": previous["period"]} if previous else None,
            "next": {"id": following["id"], "period": following["period"]} if following else None,
            "pdf": f"{issue_id}.pdf" if pdf else None,
        }
        writer.write(page, web_format.render(environment_once(), view, site))
        if pdf:
            writer.write(f"{issue_id}/{issue_id}.pdf", _pdf_for(issue, view, build_root, environment_once()))

    # 3. The pages that list every issue: re-rendered when any published issue changed.
    shared_key = _hash(global_key, [(s["id"], hashes[s["id"]]) for s in published], base, pdf)
    shared = ["index.html", "emner/index.html", "sok.html", "sok.js", "sok-indeks.js", "feed.xml", "sitemap.xml"]
    headings = _headings(published)
    shared += [f"emner/{slug_}.html" for slug_ in headings]
    if not (
        all(old_outputs.get(p) == shared_key for p in shared) and all(safe_join(out_dir, p).exists() for p in shared)
    ):
        env = environment_once()
        # Grouped by the year an issue covers (2023-q4 is 2023's, even when it came out in January).
        listed = [
            dict(s, published_year=s["id"][:4], published_date=dt.date.fromisoformat(s["published"]), pdf=pdf)
            for s in reversed(published)
        ]
        context = {
            "settings": settings,
            "issues": listed,
            "base": base,
            "headings": headings,
            "today": today,
            "norwegian_date": norwegian_date,
        }
        writer.write("index.html", env.get_template("site_index.html").render(root="", **context))
        writer.write("emner/index.html", env.get_template("site_topics.html").render(root="../", **context))
        for slug_, topic in headings.items():
            writer.write(
                f"emner/{slug_}.html",
                env.get_template("site_topic.html").render(
                    root="../", topic=topic, topic_slug=f"{slug_}.html", **context
                ),
            )
        writer.write("sok.html", env.get_template("site_search.html").render(root="", **context))
        writer.write("sok.js", (BUILT_IN_TEMPLATES / "sok.js").read_text(encoding="utf-8"))
        writer.write("sok-indeks.js", _search_index(published))
        writer.write("feed.xml", _atom(published, settings, base, today))
        writer.write("sitemap.xml", _sitemap(published, headings, base))
    for page in shared:
        outputs[page] = shared_key

    # 4. Outputs of issues that are no longer published (now drafts, or deleted) go.
    for relative in sorted(set(old_outputs) - set(outputs)):
        path = safe_join(out_dir, relative)
        if path.exists():
            path.unlink()
            report.removed.append(relative)
            if path.parent != out_dir.resolve() and not any(path.parent.iterdir()):
                path.parent.rmdir()

    # The manifest sits in the published folder: it holds summaries of published issues only. Of a
    # draft or a future issue it keeps the file's hash and its date, never its text.
    issues_state = {i: {"hash": hashes[i], "summary": summaries[i]} for i in published_ids}
    issues_state.update({i: {"hash": hashes[i], "published": date} for i, date in unpublished.items()})
    new_manifest = {"version": MANIFEST_VERSION, "global": global_key, "outputs": outputs, "issues": issues_state}
    if new_manifest != manifest:
        atomic_write(manifest_path, json.dumps(new_manifest, ensure_ascii=False, sort_keys=True))
    return report


def _pdf_for(issue, view, build_root: Path | None, env) -> bytes:
    """The issue's PDF: the one `build` made when it is newer than the issue file, else rendered now."""
    if build_root:
        built = build_root / issue.id / f"{issue.id}.pdf"
        source = Path(issue.path) if issue.path else None
        if built.exists() and source and built.stat().st_mtime >= source.stat().st_mtime:
            return built.read_bytes()
    return pdf_format.render(env, view)


def _headings(published: list[dict]) -> dict[str, dict]:
    """Every heading → its entries across issues, newest first (slugs unique)."""
    topics: dict[str, dict] = {}
    names: dict[str, str] = {}
    for summary in reversed(published):
        for entry in summary["entries"]:
            name = entry["heading"]
            key = name.lower()
            if key not in names:
                candidate = slug(name)
                if candidate == "index":
                    candidate = "index-emne"  # emner/index.html is the list of every topic
                while candidate in topics:
                    candidate = f"{candidate}-{hashlib.sha256(name.encode()).hexdigest()[:4]}"
                names[key] = candidate
                topics[candidate] = {"name": name, "entries": []}
            topics[names[key]]["entries"].append({**entry, "issue": summary["id"], "period": summary["period"]})
    return dict(sorted(topics.items(), key=lambda item: item[1]["name"].lower()))


def _search_index(published: list[dict]) -> str:
    """The search index as a script (it loads from file:// as well as from any web server)."""
    docs = []
    for summary in published:
        for entry in summary["entries"]:
            text = entry["text"]
            docs.append(
                {
                    "i": summary["id"],
                    "p": summary["period"],
                    "a": entry["anchor"],
                    "h": entry["heading"],
                    "t": entry["title"],
                    "x": text if len(text) <= SNIPPET * 3 else text[: SNIPPET * 3],
                }
            )
    return "window.SOK_INDEKS = " + json.dumps(docs, ensure_ascii=False, separators=(",", ":")) + ";\n"


def _atom(published: list[dict], settings: Settings, base: str, today: dt.date) -> str:
    """An Atom feed of the issues, newest first."""

    def absolute(path: str) -> str:
        return f"{base}{path}" if base else path

    newest = max((s["published"] for s in published), default=today.isoformat())
    feed_id = absolute("feed.xml") if base else f"tag:newsletter,2024:{slug(settings.name)}"
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="nb">',
        f"<title>{escape(settings.name)}</title>",
        f"<id>{escape(feed_id)}</id>",
        f"<updated>{newest}T00:00:00Z</updated>",
        f'<link rel="self" href="{escape(absolute("feed.xml"))}"/>',
        f'<link rel="alternate" type="text/html" href="{escape(absolute("index.html"))}"/>',
        f"<author><name>{escape(settings.publisher or settings.name)}</name></author>",
    ]
    for summary in reversed(published):
        url = absolute(f"{summary['id']}/")
        entry_id = url if base else f"tag:newsletter,2024:{summary['id']}"
        headings = ", ".join(summary["headings"][:12])
        lines += [
            "<entry>",
            f"<title>{escape(summary['title'])} – {escape(summary['period'])}</title>",
            f"<id>{escape(entry_id)}</id>",
            f'<link rel="alternate" type="text/html" href="{escape(url)}"/>',
            f"<updated>{summary['published']}T00:00:00Z</updated>",
            f"<published>{summary['published']}T00:00:00Z</published>",
            f"<summary>{escape((summary['intro'] + ' ' if summary['intro'] else '') + headings)}</summary>",
            "</entry>",
        ]
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def _sitemap(published: list[dict], headings: dict, base: str) -> str:
    """sitemap.xml: the archive's pages, with absolute addresses when the site URL is known."""
    pages = ["index.html", "emner/index.html", "sok.html"] + [f"{s['id']}/" for s in published]
    pages += [f"emner/{slug_}.html" for slug_ in headings]
    lastmod = {f"{s['id']}/": s["published"] for s in published}
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for page in pages:
        extra = f"<lastmod>{lastmod[page]}</lastmod>" if page in lastmod else ""
        lines.append(f"<url><loc>{escape(base + page)}</loc>{extra}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"

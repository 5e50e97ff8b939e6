"""The archive's search: a Pagefind index of every entry of every published issue, in `pagefind/`.

Pagefind (https://pagefind.app; the `pagefind[bin]` package ships its binary) indexes HTML into static
files: the browser's `pagefind.js` loads the index chunks a query needs and the fragments of the hits it
shows, stems Norwegian, and marks the query's words in each excerpt. `sok.js` drives it.

Pagefind indexes pages, and a reader searches entries, so each entry is handed to it as a small HTML
document of its own, written into a temporary folder that is never published:

- indexed: the entry's title and its words (`markdown.to_words`: links as their text, no addresses), so
  "https" matches nothing;
- metadata (shown, not searched): the entry's address in its issue's page, its title, the issue's
  period, the section and the heading;
- filters: the organisations the heading maps to (`HeadingMap`), the section, and the year;
- sort key: the issue id, for listing by filter alone, newest first.

ø: Pagefind (1.5 and later) indexes a letter whose Unicode decomposition carries a mark as its base
letter (å → a, é → e), so "radet" finds "rådet". ø has no decomposition (Unicode makes it a letter of
its own), so "ostersjoradet" would not find "Østersjørådet". The documents write ø as o followed by
U+0338 COMBINING LONG SOLIDUS OVERLAY (Ø as O + U+0338), which Pagefind folds to o like any other mark;
`sok.js` writes the query the same way and turns excerpts back into ø before showing them.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.models import Settings
from newsletter.site.summaries import HeadingMap, IssueSummary

log = logging.getLogger(__name__)

SEARCH_DIR = "pagefind"  # the index's folder in the archive
SCRATCH_PREFIX = ".pagefind-build-"  # the hidden folder Pagefind works in while the archive builds
# Filter names, as sok.js and the search page use them.
FILTERS = ("organisasjon", "seksjon", "år")
# The bundle's files the search page loads; Pagefind's own UIs, its highlighter and its web worker
# (sok.js searches on the page's thread) are left out.
_NEEDED = re.compile(
    r"^(pagefind\.js|pagefind-entry\.json|pagefind\..+\.pf_meta|wasm\..+\.pagefind|(index|fragment|filter)/.+)$"
)


@dataclass(frozen=True)
class SearchDocument:
    """One entry as the search index sees it."""

    url: str  # relative to the archive's root: "2024-q2/index.html#sak-norway-3"
    title: str
    text: str  # the entry's words, no addresses
    meta: dict[str, str] = field(default_factory=dict)  # title, utgave, periode, seksjon, overskrift
    filters: dict[str, list[str]] = field(default_factory=dict)  # FILTERS → values


def fold(text: str) -> str:
    """`text` with ø and Ø written as o and O + U+0338, which Pagefind folds to o (see the module's docstring)."""
    return text.replace("ø", "o\u0338").replace("Ø", "O\u0338")  # str.replace: several times faster than translate


def section_label(settings: Settings, key: str, printed: str) -> str:
    """A section's name without the issue's period ("KOMs hovedaktiviteter"), for the section filter.

    The configured title loses `{period}` and a short word before it ("i {period}"); a section that is not
    configured keeps the title as printed.
    """
    config = settings.section(key)
    if config is None:
        return printed
    return re.sub(r"\s*(?:\b\w{1,3}\s+)?\{period\}", "", config.title).strip(" –-:,") or printed


def search_documents(published: list[IssueSummary], settings: Settings) -> list[SearchDocument]:
    """A document per entry of the `published` issues (oldest first), in issue order."""
    mapping = HeadingMap(settings.archive)
    documents = []
    for summary in published:
        for entry in summary.entries:
            section = section_label(settings, entry.section_key, entry.section)
            title = entry.title or entry.heading
            filters = {
                "organisasjon": [o.name for o in mapping.organisations(entry)],
                "seksjon": [section],
                "år": [summary.published_year],
            }
            meta = {
                "title": title,
                "utgave": summary.id,
                "periode": summary.period,
                "seksjon": section,
                "overskrift": entry.heading,
            }
            url = f"{summary.id}/index.html#{entry.anchor}"
            documents.append(SearchDocument(url, title, entry.text, meta, {k: v for k, v in filters.items() if v}))
    return documents


def document_html(document: SearchDocument, language: str) -> str:
    """The HTML page Pagefind indexes for one entry: title and text as its body, the rest as metadata and filters."""
    attribute = html.escape  # quotes included
    hidden = [
        f'<span data-pagefind-meta="{attribute(name)}">{html.escape(value)}</span>'
        for name, value in document.meta.items()
    ] + [
        f'<span data-pagefind-filter="{attribute(name)}">{html.escape(value)}</span>'
        for name, values in document.filters.items()
        for value in values
    ]
    return (
        f'<!DOCTYPE html><html lang="{attribute(language)}"><head><meta charset="utf-8"><title></title></head><body>'
        f'<main data-pagefind-body data-pagefind-meta="url:{attribute(document.url)}"'
        f' data-pagefind-sort="utgave:{attribute(document.meta["utgave"])}">'
        f"<div data-pagefind-ignore>{''.join(hidden)}</div>"
        f"<h1>{html.escape(fold(document.title))}</h1><p>{html.escape(fold(document.text))}</p>"
        "</main></body></html>"
    )


def content_named(relative: str) -> bool:
    """Whether Pagefind names this file of the bundle by its content ("fragment/nb_1a2b3c4.pf_fragment"): a file
    of that name already in the archive holds the same bytes."""
    return relative.startswith(("fragment/", "index/", "filter/")) or relative.endswith(".pf_meta")


def scratch_folder(out_dir: Path) -> Path:
    """Where Pagefind works: /dev/shm when there is one (memory: thousands of small files are written and most
    are thrown away, since an unchanged entry's fragment is already in the archive), else the archive's folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else out_dir


@contextmanager
def search_index(documents: list[SearchDocument], language: str, scratch: Path) -> Iterator[dict[str, Path]]:
    """Run Pagefind over the documents; yields the files the search page needs, relative path → built file.

    The documents and the bundle go into a hidden folder made in `scratch` (see `scratch_folder`), which is
    removed afterwards; one that a killed build left behind in the same place goes too. Without documents
    there is no index (Pagefind refuses to make an empty one): nothing is yielded. Raises NewsletterError
    when Pagefind is not installed or fails.
    """
    if not documents:
        yield {}
        return
    try:
        from pagefind.service import get_executable
    except ImportError as exc:
        raise NewsletterError("the archive's search needs Pagefind: pip install 'pagefind[bin]'") from exc
    binary = get_executable()
    if binary is None:
        raise NewsletterError("the archive's search needs the Pagefind binary: pip install 'pagefind[bin]'")
    for stale in scratch.glob(f"{SCRATCH_PREFIX}*"):
        if stale.is_dir() and time.time() - stale.stat().st_mtime > 3600:  # not another build's, still running
            shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=scratch) as tmp:
        source, output = Path(tmp) / "entries", Path(tmp) / "index"
        source.mkdir()
        for number, document in enumerate(documents):
            (source / f"{number}.html").write_text(document_html(document, language), encoding="utf-8")
        command = [str(binary), "--site", str(source), "--output-path", str(output), "--force-language", language]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NewsletterError(f"Pagefind ({binary}) did not run: {exc}") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise NewsletterError(f"Pagefind ({binary}) failed with exit status {done.returncode}: {tail}")
        log.debug("pagefind: %s", done.stdout.strip().replace("\n", " | "))
        files = {}
        for path in sorted(output.rglob("*")):
            relative = path.relative_to(output).as_posix()
            if path.is_file() and _NEEDED.match(relative):
                files[relative] = path
        yield files

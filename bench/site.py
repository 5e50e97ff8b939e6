"""Benchmark: building the web archive of 40 issues × 60 entries (2015-q1 … 2024-q4, all published), search included.

The issues are generated into a temporary workspace from the sample issue's
entries (varied per issue: rotated, retitled, their links made distinct), with
the shipped newsletter.yaml (its organisations) and a `site_url`. Reported, each
the best of `--repeat` runs:

- `build_site(..., pdf=False)` into an empty folder (the full build, Pagefind's
  index of every entry included), after one entry's text changed in one issue,
  and with nothing changed, against the targets (< 10 s, < 2 s, < 1 s), with the
  time of each phase (`SiteReport.seconds`);
- the baseline, doing the same work plainly: every issue file read, every view
  model and summary made, every page rendered, the index made by Pagefind and
  everything written to an empty folder, with no manifest, hashing or
  comparing. It is what the incremental build must not be slower than when
  everything changed, and what it saves when little did;
- the search index's size (pagefind/), and what a query loads in headless
  Chromium from a local HTTP server, a fresh browser each time: every request
  under pagefind/ and its bytes, for a common word, a rarer one, and a filter
  alone (skipped when there is no `chromium`).

    python3 bench/site.py [--issues 40] [--entries 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402
from ruamel.yaml.scalarstring import LiteralScalarString  # noqa: E402

from newsletter.config import load_settings  # noqa: E402
from newsletter.curate.issuefile import IssueDocument  # noqa: E402
from newsletter.quarters import period_for, quarter_bounds  # noqa: E402
from newsletter.render.view import issue_view  # noqa: E402
from newsletter.site.build import build_site  # noqa: E402
from newsletter.site.plan import MANIFEST, IssuePage, SharedPages  # noqa: E402
from newsletter.site.search import SEARCH_DIR  # noqa: E402
from newsletter.site.summaries import organisation_pages, summarize  # noqa: E402
from newsletter.site.write import Templates, Writer, write_issue_page, write_shared_pages  # noqa: E402

SITE_URL = "https://nyhetsbrev.example.no/arkiv"
TARGETS = {"full": 10.0, "one": 2.0, "none": 1.0, "index": 2 * 1024 * 1024}
PHASES = ("hash", "read", "view", "pages", "shared", "search", "manifest")
QUERIES = [("menneskehandel", {}), ("østersjørådet", {}), ("", {"organisasjon": "Europarådet og GRETA"})]


def issue_ids(count: int) -> list[str]:
    """2015-q1, 2015-q2, … (`count` quarters)."""
    return [f"{2015 + n // 4}-q{n % 4 + 1}" for n in range(count)]


def write_workspace(root: Path, issues: int, entries: int) -> list[str]:
    """newsletter.yaml with site_url, and `issues` issue files of `entries` entries each; returns the ids."""
    settings_text = (ROOT / "newsletter.yaml").read_text(encoding="utf-8")
    (root / "newsletter.yaml").write_text(settings_text.rstrip("\n") + f"\nsite_url: {SITE_URL}\n", encoding="utf-8")
    settings = load_settings(root / "newsletter.yaml")
    sample = IssueDocument.load(ROOT / "issues" / "2024-q2.yaml").issue(settings)
    pool = [(key, entry) for key, _, entry in sample.entries()]
    (root / "issues").mkdir()
    yaml = YAML()
    yaml.width = 4096
    ids = issue_ids(issues)
    for number, issue_id in enumerate(ids):
        _first, last = quarter_bounds(issue_id)
        sections: dict[str, list] = {key: [] for key in sample.sections}
        for n in range(entries):
            key, entry = pool[(n + number * 7) % len(pool)]
            node = {
                "heading": entry.heading,
                "title": f"{entry.title} ({issue_id}, {n + 1})",
                "text": LiteralScalarString(entry.text.replace("](https://", f"](https://{issue_id}-{n}.") + "\n"),
            }
            for field in ("date", "deadline", "event_date"):
                if getattr(entry, field):
                    node[field] = getattr(entry, field)
            sections[key].append(node)
        data = {
            "id": issue_id,
            "title": sample.title,
            "period": period_for(issue_id),
            "published": last + dt.timedelta(days=5),
            "audience": sample.audience,
            "intro": f"Utgaven for {period_for(issue_id)}: det viktigste nasjonalt og internasjonalt.",
            "sections": sections,
        }
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        (root / "issues" / f"{issue_id}.yaml").write_text(
            f"# bench/site.py: generated issue {issue_id}\n" + buffer.getvalue(), encoding="utf-8"
        )
    return ids


def folder_bytes(folder: Path) -> tuple[int, int]:
    """(bytes, files) under `folder`."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def plain_build(ws: Path, ids: list[str], settings, out: Path, today: dt.date) -> float:
    """The baseline: the full build's work done plainly into an empty folder; its seconds."""
    started = time.perf_counter()
    documents = []
    for issue_id in ids:
        issue = IssueDocument.load(ws / "issues" / f"{issue_id}.yaml").issue(settings)
        view = issue_view(issue, settings)
        documents.append((issue, view, summarize(issue, view)))
    writer, templates = Writer(out), Templates(None)
    base = SITE_URL + "/"
    summaries = [summary for _, _, summary in documents]
    for index, (issue, view, summary) in enumerate(documents):
        before = summaries[index - 1] if index else None
        after = summaries[index + 1] if index + 1 < len(summaries) else None
        page = IssuePage(summary, before, after, "", [], True)
        write_issue_page(writer, templates, page, (issue, view), base, False, None)
    pages, unmapped = organisation_pages(summaries, settings.archive)
    write_shared_pages(
        writer, templates, SharedPages("", [], pages, unmapped, True), summaries, settings, base, False, today
    )
    writer.flush()
    return time.perf_counter() - started


class _CountingHandler(SimpleHTTPRequestHandler):
    """Serves a folder and counts each answer's bytes by path; `/__wait` answers after 50 ms (see HOLD)."""

    counts: Counter = Counter()
    sizes: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/__wait"):
            time.sleep(0.05)
            self.send_response(204)
            self.end_headers()
            return
        path = self.path.split("?", 1)[0]
        target = Path(self.translate_path(path))
        if target.is_file():
            type(self).counts[path] += 1
            type(self).sizes[path] = target.stat().st_size
        super().do_GET()


# As tests/test_site_browser.py: a pending request keeps Chromium's virtual time from running out while
# Pagefind compiles its WebAssembly, until sok.js marks #hits aria-busy="false".
HOLD = """<script>
(function hold(tries) {
  var hits = document.getElementById("hits");
  if ((hits && hits.getAttribute("aria-busy") === "false") || tries > 400) { return; }
  fetch("/__wait", {cache: "no-store"}).then(function () { hold(tries + 1); }, function () { hold(tries + 1); });
})(0);
</script>
"""


def query_bytes(site: Path, work: Path) -> list[tuple[str, int, int, int, int]] | None:
    """Per query: (label, requests under pagefind/, their bytes, of which index chunks and fragments, hits shown)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    markup = (site / "sok.html").read_text(encoding="utf-8")
    end = markup.rfind("</body>")
    (site / "sok-bench.html").write_text(markup[:end] + HOLD + markup[end:], encoding="utf-8")
    handler = functools.partial(_CountingHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    results = []
    try:
        for number, (query, filters) in enumerate(QUERIES):
            _CountingHandler.counts = Counter()
            params = {"q": query, **filters} if query else dict(filters)
            url = f"http://127.0.0.1:{server.server_address[1]}/sok-bench.html?{urlencode(params, quote_via=quote)}"
            command = [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={work / f'profile-{number}'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                url,
            ]
            out = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
            hits = out.count("<li><h3>")
            loaded = {p: n for p, n in _CountingHandler.counts.items() if p.startswith(f"/{SEARCH_DIR}/")}
            total = sum(_CountingHandler.sizes[p] * n for p, n in loaded.items())
            variable = sum(
                _CountingHandler.sizes[p] * n for p, n in loaded.items() if "/index/" in p or "/fragment/" in p
            )
            label = query or " ".join(f"{k}={v}" for k, v in filters.items())
            results.append((label, sum(loaded.values()), total, variable, hits))
    finally:
        server.shutdown()
        server.server_close()
        (site / "sok-bench.html").unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=40)
    parser.add_argument("--entries", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3, help="timings to take of each kind; the best is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        ids = write_workspace(ws, args.issues, args.entries)
        settings_path = ws / "newsletter.yaml"
        settings = load_settings(settings_path)
        today = dt.date(2025, 6, 1)

        def build(out: Path):
            started = time.perf_counter()
            report = build_site(
                ws / "issues", settings, settings_path, out, ws / "templates", None, pdf=False, today=today
            )
            return time.perf_counter() - started, report

        # Full builds and plain (baseline) builds, interleaved, each into an empty folder; a first full
        # build warms imports and template caches.
        full_runs, plain_times = [], []
        for run in range(args.repeat + 1):
            out = ws / f"full{run}"
            seconds, report = build(out)
            full_runs.append((seconds, report))
            if run:
                shutil.rmtree(out)
                plain = ws / f"plain{run}"
                plain_times.append(plain_build(ws, ids, settings, plain, today))
                shutil.rmtree(plain)
        assert report.issues == ids, "every generated issue should be published"
        full_written = len(report.written)
        full, full_report = min(full_runs[1:], key=lambda r: r[0])
        site = ws / "full0"

        # One issue changed: one entry's text, in a different issue each time (the middle of the archive).
        one_runs = []
        for run in range(args.repeat):
            path = ws / "issues" / f"{ids[len(ids) // 2 + run]}.yaml"
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            first_text = next(n for n, line in enumerate(lines) if line.strip() == "text: |") + 1
            lines[first_text] = lines[first_text].rstrip("\n") + f" Endret i kjøring {run}.\n"
            path.write_text("".join(lines), encoding="utf-8")
            one_runs.append(build(site))
        one, one_report = min(one_runs, key=lambda r: r[0])

        # Nothing changed.
        none_runs = []
        for _ in range(args.repeat):
            seconds, report = build(site)
            assert report.written == [] and report.removed == []
            none_runs.append((seconds, report))
        none_, none_report = min(none_runs, key=lambda r: r[0])

        index_size, index_files = folder_bytes(site / SEARCH_DIR)
        total, files = folder_bytes(site)
        manifest = (site / MANIFEST).stat().st_size
        queries = query_bytes(site, ws / "chromium")

    plain = min(plain_times)
    entries = args.issues * args.entries

    def phases(report) -> str:
        seconds = report.seconds
        return ", ".join(f"{name} {seconds[name]:.2f}" for name in PHASES if seconds.get(name, 0) >= 0.005) or "-"

    print(
        f"archive: {args.issues} issues × {args.entries} entries = {entries} entries; "
        f"best of {args.repeat} (first full build, cold: {full_runs[0][0]:.2f} s)"
    )
    print(f"  full build:            {full:6.2f} s   (target < {TARGETS['full']:.0f} s; {full_written} files written)")
    print(f"      phases (s): {phases(full_report)}")
    print(
        f"  one issue changed:     {one:6.2f} s   (target < {TARGETS['one']:.0f} s; "
        f"{'/'.join(str(len(r.written)) for _, r in one_runs)} files written)"
    )
    print(f"      phases (s): {phases(one_report)}")
    print(f"  nothing changed:       {none_:6.3f} s   (target < {TARGETS['none']:.0f} s; 0 files written)")
    print(f"      phases (s): {phases(none_report)}")
    print(
        f"  baseline, the same work done plainly (read, view models, every page, Pagefind, written): {plain:.2f} s; "
        f"full build {full / plain:.2f}×, one changed {one / plain:.2f}×, nothing changed {none_ / plain:.3f}× of it"
    )
    print(
        f"  search index:          {index_size / 1024 / 1024:6.2f} MB  (target < 2 MB; pagefind/, {index_files} files)"
    )
    print(f"  whole site:            {total / 1024 / 1024:6.2f} MB  ({files} files; .manifest.json", end=" ")
    print(f"{manifest / 1024 / 1024:.2f} MB)")
    if queries is None:
        print("  what a query loads:    (no chromium: not measured)")
    else:
        for label, requests, loaded, variable, hits in queries:
            print(
                f"  query {label!r}: {requests} requests, {loaded / 1024:.0f} KB from pagefind/ "
                f"({variable / 1024:.0f} KB index chunks and fragments; {hits} hits shown)"
            )
    ok = full < TARGETS["full"] and one < TARGETS["one"] and none_ < TARGETS["none"] and index_size < TARGETS["index"]
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()

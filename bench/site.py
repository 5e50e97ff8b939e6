"""Benchmark: building the web archive of 40 issues × 60 entries (2015-q1 … 2024-q4, all published).

The issues are generated into a temporary workspace from the sample issue's
entries (varied per issue: rotated, retitled, their links made distinct). Reports
`build_site(..., pdf=False)` for a full build into an empty folder, a rebuild
after one entry's text changed in one issue, and a rebuild with nothing
changed, plus the size of the search index (pagefind/) and of the whole
site, each against its target (full < 10 s, one issue < 2 s, nothing changed
< 1 s, index < 2 MB). The baseline in the same run is rendering the 40 issue
pages alone (render.web over each issue's view model), which any build must do.

    python3 bench/site.py [--issues 40] [--entries 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402
from ruamel.yaml.scalarstring import LiteralScalarString  # noqa: E402

from newsletter.config import load_settings  # noqa: E402
from newsletter.curate.issuefile import IssueDocument  # noqa: E402
from newsletter.quarters import period_for, quarter_bounds  # noqa: E402
from newsletter.render import web as web_format  # noqa: E402
from newsletter.render.build import environment  # noqa: E402
from newsletter.render.view import issue_view  # noqa: E402
from newsletter.site.build import build_site  # noqa: E402
from newsletter.site.plan import MANIFEST  # noqa: E402

SITE_URL = "https://nyhetsbrev.example.no/arkiv"
TARGETS = {"full": 10.0, "one": 2.0, "none": 1.0, "index": 2 * 1024 * 1024}


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


def site_bytes(site: Path) -> tuple[int, int, int]:
    """(all bytes, bytes of the manifest, number of files) under the site folder."""
    files = [p for p in site.rglob("*") if p.is_file()]
    manifest = (site / MANIFEST).stat().st_size if (site / MANIFEST).exists() else 0
    return sum(p.stat().st_size for p in files), manifest, len(files)


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

        # Full builds, each into an empty folder (the first one also warms imports and template caches).
        full_times = []
        for run in range(args.repeat + 1):
            out = ws / f"full{run}"
            seconds, report = build(out)
            full_times.append(seconds)
            if run:
                shutil.rmtree(out)
        assert report.issues == ids, "every generated issue should be published"
        full_written = len(report.written)
        site = ws / "full0"

        # One issue changed: one entry's text, in a different issue each time (the middle of the archive).
        one_times, one_written = [], []
        for run in range(args.repeat):
            path = ws / "issues" / f"{ids[len(ids) // 2 + run]}.yaml"
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            first_text = next(n for n, line in enumerate(lines) if line.strip() == "text: |") + 1
            lines[first_text] = lines[first_text].rstrip("\n") + f" Endret i kjøring {run}.\n"
            path.write_text("".join(lines), encoding="utf-8")
            seconds, report = build(site)
            one_times.append(seconds)
            one_written.append(len(report.written))

        # Nothing changed.
        none_times = []
        for _ in range(args.repeat):
            seconds, report = build(site)
            assert report.written == [] and report.removed == []
            none_times.append(seconds)

        index_size = sum(p.stat().st_size for p in (site / "pagefind").rglob("*") if p.is_file())
        total, manifest, files = site_bytes(site)

        # Baseline: the 40 issue pages alone, render.web over each view model (parsing and views timed apart).
        started = time.perf_counter()
        issues = [IssueDocument.load(ws / "issues" / f"{i}.yaml").issue(settings) for i in ids]
        parse_seconds = time.perf_counter() - started
        views = [issue_view(issue, settings) for issue in issues]
        view_seconds = time.perf_counter() - started - parse_seconds
        env = environment(None)
        web_format.render(env, views[0], None)  # compile the template once
        render_times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            for view in views:
                web_format.render(env, view, None)
            render_times.append(time.perf_counter() - started)

    full, one, none_ = min(full_times[1:]), min(one_times), min(none_times)
    entries = args.issues * args.entries
    print(
        f"archive: {args.issues} issues × {args.entries} entries = {entries} entries; "
        f"best of {args.repeat} (first full build, cold: {full_times[0]:.2f} s)"
    )
    print(f"  full build:            {full:6.2f} s   (target < {TARGETS['full']:.0f} s; {full_written} files written)")
    print(
        f"  one issue changed:     {one:6.2f} s   (target < {TARGETS['one']:.0f} s; "
        f"{'/'.join(map(str, one_written))} files written)"
    )
    print(f"  nothing changed:       {none_:6.3f} s   (target < {TARGETS['none']:.0f} s; 0 files written)")
    print(f"  search index:          {index_size / 1024 / 1024:6.2f} MB  (target < 2 MB; pagefind/)")
    print(
        f"  whole site:            {total / 1024 / 1024:6.2f} MB  ({files} files; .manifest.json "
        f"{manifest / 1024 / 1024:.2f} MB of it)"
    )
    print(
        f"  baseline, render.web of the {args.issues} pages alone: {min(render_times):.2f} s "
        f"(before it: reading and validating the {args.issues} files {parse_seconds:.2f} s, view models with "
        f"Markdown and sanitising {view_seconds:.2f} s)"
    )
    ok = full < TARGETS["full"] and one < TARGETS["one"] and none_ < TARGETS["none"] and index_size < TARGETS["index"]
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()

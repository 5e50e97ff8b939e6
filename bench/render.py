"""Benchmark: building the four formats of an issue of 60, 240 and 960 entries.

For each size, the median of `--repeat` builds (not the best run) of: the view
model alone, each format, web + e-mail + text together, and the whole build
(wall clock: view model, four formats, calendar, writing). Targets on a 2-core
machine for the 60-entry issue: web + e-mail + text under 1 s together, the
PDF under 5 s; the larger sizes show how each grows (the PDF, laid out by
WeasyPrint, grows faster than linearly). It also counts how often Markdown is
parsed in one build (once per entry, plus the intro and the two footer texts)
and how often premailer runs (once per build, never per recipient).

    python3 bench/render.py [--entries 60,240,960] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.config import load_settings  # noqa: E402
from newsletter.curate.issuefile import IssueDocument  # noqa: E402
from newsletter.models import Entry  # noqa: E402


def issue_with(entries: int):
    """The sample issue, trimmed or padded to `entries` entries of realistic length."""
    settings = load_settings(ROOT / "newsletter.yaml")
    issue = IssueDocument.load(ROOT / "issues" / "2024-q2.yaml").issue(settings)
    existing = [(key, entry) for key, _, entry in issue.entries()]
    sections = {key: [] for key in issue.sections}
    for n in range(entries):
        key, entry = existing[n % len(existing)]
        if n >= len(existing):
            entry = Entry(
                heading=entry.heading,
                title=f"{entry.title} ({n})",
                text=entry.text.replace("](https://", f"](https://copy{n}."),
                date=entry.date,
                deadline=entry.deadline,
                event_date=entry.event_date,
                event_end=entry.event_end,
            )
        sections[key].append(entry)
    issue.sections = sections
    return issue, settings


class Counter:
    """Counts calls of a method, patched in place for the benchmark's process only."""

    def __init__(self, owner, name: str):
        self.calls = 0
        original = getattr(owner, name)

        def counting(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        setattr(owner, name, counting)


def measure(entries: int, repeat: int, tmp: Path) -> dict:
    from markdown_it import MarkdownIt
    from premailer import Premailer

    from newsletter.render.build import build
    from newsletter.render.view import issue_view

    issue, settings = issue_with(entries)
    build(issue, settings, tmp / f"warmup{entries}")  # imports, font cache
    parses, inlines = Counter(MarkdownIt, "parse"), Counter(Premailer, "transform")
    times: dict[str, list[float]] = {"view": [], "web": [], "email": [], "text": [], "pdf": [], "wall": []}
    for run in range(repeat):
        started = time.perf_counter()
        issue_view(issue, settings)
        times["view"].append(time.perf_counter() - started)
        parses.calls = inlines.calls = 0
        started = time.perf_counter()
        result = build(issue, settings, tmp / f"run{entries}-{run}")
        times["wall"].append(time.perf_counter() - started)
        for name, seconds in result.seconds.items():
            times[name].append(seconds)
    median = {name: statistics.median(values) for name, values in times.items()}
    median["fast"] = statistics.median(
        w + e + t for w, e, t in zip(times["web"], times["email"], times["text"], strict=True)
    )
    sizes = {p.name: p.stat().st_size for p in (tmp / f"run{entries}-0").iterdir()}
    return {"median": median, "parses": parses.calls, "premailer": inlines.calls, "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="60,240,960", help="comma-separated issue sizes")
    parser.add_argument("--repeat", type=int, default=3, help="builds per size; the median is reported")
    args = parser.parse_args()
    sizes = [int(n) for n in args.entries.split(",")]
    print(f"median of {args.repeat} builds per size; seconds")
    print(
        f"{'entries':>7} {'view':>6} {'web':>6} {'email':>6} {'text':>6} {'w+e+t':>6} {'pdf':>6} {'build':>6}  parses"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = results[n] = measure(n, args.repeat, Path(tmp))
            m = r["median"]
            print(
                f"{n:>7} {m['view']:6.2f} {m['web']:6.2f} {m['email']:6.2f} {m['text']:6.2f} {m['fast']:6.2f} "
                f"{m['pdf']:6.2f} {m['wall']:6.2f}  {r['parses']} (premailer {r['premailer']}), "
                f"email.html {r['sizes']['email.html'] / 1024:.0f} KB"
            )
    first = results[sizes[0]]["median"]
    ok = sizes[0] != 60 or (first["fast"] < 1 and first["pdf"] < 5)
    print("targets met (60 entries: web + e-mail + text < 1 s, PDF < 5 s)" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()

"""Benchmark: building all four formats of a 60-entry issue.

Reports each format's time and the total, against the targets on a 2-core
machine (web + e-mail + text under 1 s together, PDF under 5 s), and how many
times premailer ran (once per build, never per recipient). The baseline in the
same run is rendering the web page alone, the cheapest format.

    python3 bench/render.py [--entries 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
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
            )
        sections[key].append(entry)
    issue.sections = sections
    return issue, settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3, help="builds to time; the best is reported")
    args = parser.parse_args()

    import premailer

    from newsletter.render.build import build

    calls = 0
    original = premailer.Premailer.transform

    def counting(self, *a, **k):
        nonlocal calls
        calls += 1
        return original(self, *a, **k)

    premailer.Premailer.transform = counting
    issue, settings = issue_with(args.entries)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        build(issue, settings, Path(tmp) / "warmup", ("web", "email", "text", "pdf"))  # imports, font cache
        calls = 0
        walls = []
        for run in range(args.repeat):
            started = time.perf_counter()
            result = build(issue, settings, Path(tmp) / f"run{run}")
            walls.append(time.perf_counter() - started)
            for name, seconds in result.seconds.items():
                best[name] = min(best.get(name, seconds), seconds)
        started = time.perf_counter()
        build(issue, settings, Path(tmp) / "baseline", ("web",))
        baseline = time.perf_counter() - started
        sizes = {p.name: p.stat().st_size for p in (Path(tmp) / "run0").iterdir()}
    fast = best["web"] + best["email"] + best["text"]
    print(f"issue: {sum(len(e) for e in issue.sections.values())} entries; best of {args.repeat} builds")
    for name in ("web", "email", "text", "pdf"):
        print(f"  {name:<6} {best[name] * 1000:8.0f} ms")
    print(
        f"  web + email + text: {fast * 1000:.0f} ms (target < 1000 ms); pdf {best['pdf']:.2f} s (target < 5 s); "
        f"total {sum(best.values()):.2f} s"
    )
    print(f"  whole build, wall clock (view model, four formats, calendar, writing): {min(walls):.2f} s")
    print(f"  baseline (web page alone, view model included): {baseline * 1000:.0f} ms")
    print(f"  premailer runs: {calls} for {args.repeat} builds (once per build)")
    print("  sizes: " + ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in sorted(sizes.items())))
    ok = fast < 1 and best["pdf"] < 5 and calls == args.repeat
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()

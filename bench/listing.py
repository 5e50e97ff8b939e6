"""Benchmark: `newsletter items` on stores of 2,000, 20,000 and 100,000 items.

The stores are made from the April–June 2022 fixture's 328 items (titles, links,
dates and sources as `truth.json` and `distractors.json` give them), repeated
back through earlier quarters with their dates moved and their links made
distinct, so every store holds about 300 items a quarter from the fixture's 31
sources, as a unit collecting for years would. The newest copy is moved to
January–March 2025 (`2025-q1`, the quarter ranked), so the workspace's sample
issues (2022-q2, 2024-q2) are its history. In earlier quarters two in five
items are skipped, as an editor's decisions would leave them.

Each listing runs in a fresh process (the command line, as the editor runs
it), three times after one untimed run (which migrates an older store and fills
the ranking's feature cache); reported: the median wall time and the largest
peak memory, for

- `items --limit 20` (the inbox, by keyword score),
- `items --json` (every candidate, by keyword score),
- `items --issue 2025-q1 --limit 20` (the quarter ranked by the learned model),
- `items --issue 2025-q1 --json` (the whole quarter ranked),

each ranked afresh, as after a decision (the kept rankings, `var/ranking-results.json`, are
removed before each run), and then

- `items --issue 2025-q1 --limit 20` once more with no decision between (the kept ranking).

    python3 bench/listing.py [--fixture DIR] [--sizes 2000,20000,100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIXTURE = ROOT.parent / "shared" / "fixtures" / "web-2022q2"

# Runs one CLI command in this process and prints its peak RSS (MB) on the last line of stderr. The
# peak is VmHWM, this process image's own high-water mark: ru_maxrss survives execve on Linux, so a
# child of this benchmark would report the benchmark's own peak (scikit-learn's, once it ranked).
CHILD = """
import resource, sys
from newsletter.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="newsletter", standalone_mode=False)
finally:
    sys.stdout.flush()
    try:
        with open("/proc/self/status") as status:
            kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"PEAK_MB={kb / 1024:.0f}", file=sys.stderr)
"""


SHIFT_MONTHS = 33  # 2022-q2 + 33 months = 2025-q1
RANKED = "2025-q1"


def shifted(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months (the day clamped to the month's length), so quarters stay quarters."""
    month = day.year * 12 + day.month - 1 + months
    year, month = divmod(month, 12)
    last = (dt.date(year + (month == 11), (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


def fixture_records(fixture: Path) -> list[dict]:
    """The fixture's items: truth and distractors, each with url, title, published and source host."""
    records = json.loads((fixture / "truth.json").read_text(encoding="utf-8"))
    records += json.loads((fixture / "distractors.json").read_text(encoding="utf-8"))
    return [r for r in records if r.get("published")]


def make_store(workspace: Path, fixture: Path, size: int) -> int:
    """Fill the workspace's store with about `size` items; returns the number stored."""
    sys.path.insert(0, str(ROOT))
    from newsletter.collect.urls import identify
    from newsletter.config import Workspace
    from newsletter.models import RawItem
    from newsletter.store import Store

    ws = Workspace(workspace)
    settings = ws.settings()
    feeds = ws.feeds(settings)
    by_host: dict[str, list] = {}
    for source in feeds.sources:
        host = source.url.split("/")[2].removeprefix("www.")
        by_host.setdefault(host, []).append(source)
    records = fixture_records(fixture)
    now = dt.datetime(2025, 4, 11, 6, 15, tzinfo=dt.UTC)
    with Store(ws.db_path) as store:
        made, lap = 0, 0
        while made < size:
            batches: dict[str, list] = {}
            for record in records:
                if made >= size:
                    break
                host = record["source_host"].removeprefix("www.")
                sources = by_host.get(host) or [s for h, ss in by_host.items() if host.endswith(h) for s in ss]
                if not sources:
                    continue
                published = shifted(dt.date.fromisoformat(record["published"]), SHIFT_MONTHS - 3 * lap)
                url = f"{record['url']}{'&' if '?' in record['url'] else '?'}lap={lap}"
                raw = RawItem(url=url, title=record["title"], summary=record["title"], published=published)
                batches.setdefault(sources[0].key, []).append((identify(url), raw))
                made += 1
            for key, raws in batches.items():
                store.upsert_items(feeds.by_key(key), raws, now)
            if lap:
                ids = [
                    i.id
                    for n, i in enumerate(store.iter_items(statuses=("new",)))
                    if n % 5 < 2 and i.published and i.published < dt.date(2025, 1, 1)
                ]
                store.set_status(ids, "skipped")
            lap += 1
        return store.count_items()


def run(workspace: Path, args: list[str], kept: bool = False) -> tuple[float, int, int]:
    """(seconds, peak MB, bytes of stdout) of one `newsletter` command in a fresh process; unless
    `kept`, with no ranking kept from an earlier command (as after a decision)."""
    if not kept:
        sys.path.insert(0, str(ROOT))
        from newsletter.curate.ranking import RESULTS_CACHE

        (workspace / "var" / RESULTS_CACHE).unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    peak = int(done.stderr.rsplit("PEAK_MB=", 1)[1].split()[0])
    return seconds, peak, len(done.stdout)


def ranking_seconds(workspace: Path) -> tuple[int, float, float]:
    """(documents the model read, seconds to rank with the feature cache cold, warm), in this process."""
    sys.path.insert(0, str(ROOT))
    from newsletter.config import Workspace
    from newsletter.curate import model  # imported before timing: the CLI's import is timed above
    from newsletter.curate.edit import Curation, ranked_candidates
    from newsletter.curate.ranking import RANKING_CACHE, RESULTS_CACHE
    from newsletter.store import Store

    ws = Workspace(workspace)
    settings = ws.settings()
    documents = []
    real = model.Model.__init__

    def counting(self, docs, *args, **kwargs):
        documents.append(len(docs))
        real(self, docs, *args, **kwargs)

    model.Model.__init__ = counting  # type: ignore[method-assign]
    try:
        with Store(ws.db_path) as store:
            curation = Curation(ws, settings, ws.feeds(settings), store)
            timings = []
            for cold in (True, False):
                (ws.var / RESULTS_CACHE).unlink(missing_ok=True)  # ranked, not taken from the kept rankings
                if cold:
                    (ws.var / RANKING_CACHE).unlink(missing_ok=True)
                started = time.perf_counter()
                ranked_candidates(curation, RANKED)
                timings.append(time.perf_counter() - started)
    finally:
        model.Model.__init__ = real  # type: ignore[method-assign]
    return documents[-1], timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE)
    parser.add_argument("--sizes", default="2000,20000,100000")
    parser.add_argument("--keep", type=Path, help="keep the workspaces in this directory")
    args = parser.parse_args()
    fixture = args.fixture.resolve()
    if not (fixture / "truth.json").exists():
        raise SystemExit(f"no fixture at {fixture}; pass --fixture")
    base = args.keep or Path(tempfile.mkdtemp(prefix="newsletter-listing-"))
    listings = [
        ("items --limit 20", ["items", "--limit", "20"]),
        ("items --json", ["items", "--json"]),
        ("items --issue 2025-q1 --limit 20", ["items", "--issue", "2025-q1", "--limit", "20"]),
        ("items --issue 2025-q1 --json", ["items", "--issue", "2025-q1", "--json"]),
        ("items --issue … --limit 20, kept", ["items", "--issue", "2025-q1", "--limit", "20"]),
    ]
    print(f"{'stored items':>12}  {'listing':36} {'time':>8} {'peak':>8} {'output':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        workspace = base / f"store-{size}"
        workspace.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixture / "feeds.yaml", workspace / "feeds.yaml")
        shutil.copy(ROOT / "newsletter.yaml", workspace / "newsletter.yaml")
        (workspace / "issues").mkdir(exist_ok=True)
        for issue in (ROOT / "issues").glob("*.yaml"):
            shutil.copy(issue, workspace / "issues" / issue.name)
        if not (workspace / "var" / "newsletter.db").exists():
            stored = make_store(workspace, fixture, size)
        else:
            stored = size
        # Once untimed: a store made by an older version migrates, and the ranking's feature cache fills.
        run(workspace, ["items", "--issue", RANKED, "--limit", "1"])
        for name, command in listings:
            kept = name.endswith(", kept")
            if kept:
                run(workspace, command)  # untimed: the ranking the timed runs find kept
            runs = [run(workspace, command, kept) for _ in range(3)]
            seconds = statistics.median(r[0] for r in runs)
            peak, out = max(r[1] for r in runs), runs[0][2]
            print(f"{stored:>12,}  {name:36} {seconds:>6.2f} s {peak:>5} MB {out / 1024:>6.0f} KB", flush=True)
        read, cold, warm = ranking_seconds(workspace)
        print(f"{'':>12}  ranking in process: {read:,} documents, {cold:.2f} s cache cold, {warm:.2f} s warm")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

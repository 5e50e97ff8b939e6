"""Benchmark: the quarter's inbox and the editor's ranking on a frozen web (by default April–June 2022).

Starts the fixture's server (`../shared/fixtures/web-2022q2/serve.py`), runs
`newsletter collect` and `newsletter items --issue ID --json` through it as
an HTTPS proxy (the real https URLs, the fixture's CA), and scores the inbox
with the fixture's `score.py` against the editor's picks: first as a new
workspace lists it (no issue yet: the keyword threshold), then as
`items --issue ID --all` lists it with the history (every undecided item, in the
learned order; score.py's top-31/62/93 then count by that order; made in this
process, since the tool itself never learns from a later issue), and, when the
project ships the quarter's own issue file, what that command says beside it
(its entries' links are picks; the rest are learned from them). The naive
baselines (every item; a regex on title and summary) are printed in the same run
for comparison. The fixture's feeds.yaml carries no keywords: relevance comes
from the tool's own vocabulary. A source the tool cannot read is named and the
rest go on, as in the editor's own `collect`.

Then a simulated editor: list the quarter's undecided items best first, read the
top 10, `issue add` the real picks and `issue skip` the rest, list again, until
95% of the picks are found. It learns from the issues in `issues/` other than
the simulated one (learning from a later issue is fine for a benchmark, never in the
tool). Reported in the same run: reads for 80% and 95% of the picks with
learning, with the first ranking only, by keyword score and newest first (a
feed reader); a ceiling (the same model told nine tenths of the truth, by
cross-validation: how well the features tell picks from the rest at all); the
share of picks placed in the newsletter's section and heading; the model's time
per ranking; and what another quarter's decisions record adds (each month
with picks ranked with and without the quarter's other months as a record, first
ranking and editor's loop: a fixture web holds one quarter; and the same over eight
random halves of the quarter, less lumpy than its months). The simulated
issue's own record, if the project ships one, is never learned from. ASReview
LAB is run on the same items, and on each month with the same record as prior
labels, when it is installed (`pip install asreview`, never a runtime dependency).

    python3 bench/relevance.py [--fixture DIR] [--issue ID] [--keep DIR] [--asreview PATH]
    python3 bench/relevance.py --quarter bench/quarters/2024-q2 [--asreview PATH]

Any fixture web of the same layout serves (serve.py, score.py, truth.json, feeds.yaml, tls/);
the issue simulated is the quarter most of its truth items were published in, unless `--issue`
names it.

`--quarter DIR` simulates a quarter given as its items instead of a web (`load_quarter`:
DIR/items.jsonl, stored under DIR/feeds.yaml's sources as collection would store them): a
quarter of another year, which the ranking was not tuned on, ranked with the project's other
issues and their decisions records as history, as the tool ranks a new quarter. When the history
holds a record, the loop is also run without it: what a record of another year adds. The
2024-q2 items are invented around the real picks of the 2024 sample issue (bench/quarters/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIXTURE = ROOT.parent / "shared" / "fixtures" / "web-2022q2"


def start_server(fixture: Path) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(
        [sys.executable, str(fixture / "serve.py"), "--port", "0", "--max-seconds", "900"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=fixture,
    )
    first = server.stdout.readline().strip()
    if not first.startswith("PORT="):
        server.kill()
        raise SystemExit(f"fixture server did not start: {first!r}")
    return server, int(first.split("=", 1)[1])


def newsletter(args: list[str], env: dict, workspace: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE)
    parser.add_argument("--keep", type=Path, help="keep the workspace (with its store) in this directory")
    parser.add_argument(
        "--asreview",
        default=shutil.which("asreview"),
        help="the asreview command (default: on PATH; `pip install '.[bench]'`, or any venv's bin/asreview)",
    )
    parser.add_argument("--issue", help="the issue to simulate (default: the quarter of most truth items)")
    parser.add_argument(
        "--quarter",
        type=Path,
        help="simulate a quarter given as its items (DIR/items.jsonl and DIR/feeds.yaml, e.g. bench/quarters/2024-q2) "
        "instead of collecting a fixture web (--fixture is then not used; the issue is DIR's name)",
    )
    args = parser.parse_args()
    if args.quarter:
        run_quarter(args.quarter.resolve(), args.asreview, args.keep, args.issue)
        return
    fixture = args.fixture.resolve()
    if not (fixture / "serve.py").exists():
        raise SystemExit(f"no fixture at {fixture}; pass --fixture")
    issue_id = args.issue or truth_quarter(fixture)

    workspace = args.keep or Path(tempfile.mkdtemp(prefix="newsletter-relevance-"))
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copy(fixture / "feeds.yaml", workspace / "feeds.yaml")
    shutil.copy(ROOT / "newsletter.yaml", workspace / "newsletter.yaml")
    (workspace / "var" / "newsletter.db").unlink(missing_ok=True)

    server, port = start_server(fixture)
    try:
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
        env.update(
            HTTPS_PROXY=f"http://127.0.0.1:{port}",
            HTTP_PROXY=f"http://127.0.0.1:{port}",
            REQUESTS_CA_BUNDLE=str(fixture / "tls" / "ca.pem"),
            PYTHONPATH=str(ROOT),
        )
        started = time.perf_counter()
        collected = newsletter(["collect"], env, workspace)
        collect_seconds = time.perf_counter() - started
        collect_failures(collected, "collect", stored_items(workspace))
        started = time.perf_counter()
        warm = newsletter(["collect"], env, workspace)
        warm_seconds = time.perf_counter() - started
        collect_failures(warm, "warm collect", stored_items(workspace))
        listed = newsletter(["items", "--issue", issue_id, "--json"], env, workspace)
        if listed.returncode != 0:
            raise SystemExit(listed.stderr)
    finally:
        server.terminate()
        server.wait(timeout=10)

    items_json = workspace / f"items-{issue_id}.json"
    items_json.write_text(listed.stdout, encoding="utf-8")
    print(
        f"collect through the fixture proxy: cold {collect_seconds:.1f} s, warm {warm_seconds:.1f} s "
        f"(workspace {workspace})\n"
    )
    print(f"== the tool's inbox for {issue_id} before learning (no issue in the workspace: the keyword threshold)")
    print(scored(fixture, items_json))
    # The same quarter as the editor first sees it with the history: every undecided item, learned order.
    # The history may be later than the quarter (the 2024 sample for 2022-q2), which the tool never
    # learns from: the listing is made in this process, as `items --issue ID --all --json` makes it,
    # with the benchmark's leave to learn from later issues.
    copy_history(workspace, issue_id)
    learned_json = workspace / f"items-{issue_id}-learned.json"
    # score.py ranks its top-N by `score`; here the order to judge is the listed one, by probability.
    listed_learned = [{**item, "score": item.get("probability")} for item in learned_listing(workspace, issue_id)]
    learned_json.write_text(json.dumps(listed_learned, ensure_ascii=False), encoding="utf-8")
    print(f"\n== `items --issue {issue_id} --all`, learned from the other issues in issues/ (top-N: by probability)")
    print(scored(fixture, learned_json))
    if (ROOT / "issues" / f"{issue_id}.yaml").exists():
        # The workspace as the project ships it, the simulated quarter's own issue file included: its
        # entries link to the items they cite, which are picks; the rest are listed, learned from them.
        shutil.copy(ROOT / "issues" / f"{issue_id}.yaml", workspace / "issues")
        shipped = newsletter(["items", "--issue", issue_id, "--all"], env, workspace)
        # The listing's closing line ("-- N undecided items, … learned from …") goes to stderr.
        closing = (shipped.stderr.strip().splitlines() or [f"(exit {shipped.returncode}, nothing said)"])[-1]
        print(f"\n== `items --issue {issue_id} --all` beside issues/{issue_id}.yaml as shipped: {closing}")
        copy_history(workspace, issue_id)
    print("\n== baselines (naive inboxes, same web)")
    baseline = subprocess.run([sys.executable, str(fixture / "score.py"), "--baseline"], capture_output=True, text=True)
    text = baseline.stdout.strip() or baseline.stderr.strip()
    # Only the closing summary table: the per-baseline details are in score.py --baseline.
    print(text[text.rfind("\nsummary") + 1 :] if "\nsummary" in text else text)
    print(f"\n== a simulated editor, reading 10 at a time ({issue_id}; history: the other issues in issues/)")
    sys.path.insert(0, str(fixture))
    import score  # the fixture's URL normalisation, so a pick is matched as score.py matches it

    truth = json.loads((fixture / "truth.json").read_text(encoding="utf-8"))
    simulate(workspace, truth, score.norm_url, args.asreview, issue_id)
    if not args.keep:
        shutil.rmtree(workspace, ignore_errors=True)


def run_quarter(quarter: Path, asreview: str | None, keep: Path | None, issue_id: str | None) -> None:
    """Simulate the editor on a quarter given as items (`load_quarter`), with the project's other issues
    and their decisions records as history: a quarter the ranking was not tuned on, from another year."""
    if issue_id and issue_id != quarter.name:
        # The history is every other issue in issues/: under another id, the quarter's own issue would be in it.
        raise SystemExit(f"--issue {issue_id}: a quarter's issue is its folder's name ({quarter.name})")
    issue_id = quarter.name
    if not (quarter / "items.jsonl").is_file() or not (quarter / "feeds.yaml").is_file():
        raise SystemExit(f"no quarter at {quarter}: it needs items.jsonl and feeds.yaml")
    workspace = keep or Path(tempfile.mkdtemp(prefix="newsletter-quarter-"))
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copy(quarter / "feeds.yaml", workspace / "feeds.yaml")
    shutil.copy(ROOT / "newsletter.yaml", workspace / "newsletter.yaml")
    (workspace / "var" / "newsletter.db").unlink(missing_ok=True)
    truth = load_quarter(quarter / "items.jsonl", workspace)
    sys.path.insert(0, str(ROOT))
    from newsletter.collect.urls import dedup_key

    print(
        f"== a simulated editor, reading 10 at a time ({issue_id}, {quarter / 'items.jsonl'}; history: the other "
        f"issues in issues/ and their decisions records)"
    )
    simulate(workspace, truth, dedup_key, asreview, issue_id)
    if not keep:
        shutil.rmtree(workspace, ignore_errors=True)


def load_quarter(path: Path, workspace: Path) -> list[dict]:
    """Store the items of `path` in the workspace's store as collection would, and return its picks.

    `path` is JSON Lines, one item per line: url, source (a key of the workspace's feeds.yaml), kind,
    published (YYYY-MM-DD), title, summary, article (the article page's text, or ""), class (truth,
    related or off_topic), and on truth lines section and heading (the newsletter's place for it)
    and, where the issue cites the pick by another page (a report's page for the news item about
    it), equivalent_urls: those pages.
    Each item is stored under its source with the identity collection gives its URL, its article text
    cached as its page, and scored as collection scores it (`collect.run.score_item`).
    """
    sys.path.insert(0, str(ROOT))
    from newsletter.collect.relevance import keyword_terms
    from newsletter.collect.run import identities, score_item, scoring_fingerprint
    from newsletter.config import Workspace
    from newsletter.models import RawItem
    from newsletter.store import CachedPage, Store

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ws = Workspace(workspace)
    settings = ws.settings()
    feeds = ws.feeds(settings)
    now = dt.datetime.now(dt.UTC)
    precedence = {s.key: i for i, s in enumerate(feeds.sources)}
    fingerprint = scoring_fingerprint(feeds)
    ids: dict[str, str] = {}  # url as given -> stored item's id
    with Store(ws.db_path) as store:
        for key in dict.fromkeys(line["source"] for line in lines):
            source = feeds.by_key(key)
            if source is None:
                raise SystemExit(f"{path}: source {key!r} is not in {feeds.path}")
            raws = [
                RawItem(
                    url=line["url"],
                    title=line["title"],
                    summary=line.get("summary", ""),
                    published=dt.date.fromisoformat(line["published"]),
                    date_precision="day",
                    kind=line.get("kind") or None,
                )
                for line in lines
                if line["source"] == key
            ]
            identified, _ = identities(raws, {})
            store.upsert_items(source, identified, now, precedence)
            stored = store.ids_by_key(identity.key for identity, _ in identified)
            ids.update({raw.url: stored[identity.key] for identity, raw in identified})
        terms = keyword_terms(feeds.keywords)
        with store.transaction():
            for line in lines:
                item = store.get_item(ids[line["url"]])
                article = line.get("article", "")
                if article:
                    store.save_page(CachedPage(item.url, 200, article, None, None, now))
                scored = score_item(item, article, [s for k in item.sources if (s := feeds.by_key(k))], terms)
                store.set_score(item.id, scored.value, scored.terms, fingerprint)
    print(f"{len(lines)} items of {len({line['source'] for line in lines})} sources stored from {path}")
    return [line for line in lines if line.get("class") == "truth"]


def learned_listing(workspace: Path, issue_id: str) -> list[dict]:
    """What `items --issue ID --all --json` lists, learning from every other issue in the workspace's
    issues/, later ones too (a benchmark's leave; the tool learns from earlier issues only)."""
    sys.path.insert(0, str(ROOT))
    from newsletter.config import Workspace
    from newsletter.curate.edit import Curation, ranked_candidates
    from newsletter.curate.inbox import InboxQuery
    from newsletter.store import Store

    ws = Workspace(workspace)
    settings = ws.settings()
    with Store(ws.db_path) as store:
        curation = Curation(ws, settings, ws.feeds(settings), store)
        query = InboxQuery(statuses=("new",), include_all=True)
        listed, _ = ranked_candidates(curation, issue_id, query, learn_from_later=True)
        return [item.to_json() for item in listed]


def stored_items(workspace: Path) -> int:
    """How many items the workspace's store holds (0 when there is no store yet)."""
    import sqlite3

    database = workspace / "var" / "newsletter.db"
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT count(*) FROM items").fetchone()[0]


def scored(fixture: Path, listing: Path) -> str:
    """The fixture's score.py report on a saved `items --json` listing."""
    run = subprocess.run([sys.executable, str(fixture / "score.py"), str(listing)], capture_output=True, text=True)
    return run.stdout.strip() or run.stderr.strip()


def copy_history(workspace: Path, issue_id: str) -> Path:
    """Make the workspace's issues/ the project's issues except `issue_id` (the history); returns it."""
    issues = workspace / "issues"
    shutil.rmtree(issues, ignore_errors=True)
    issues.mkdir()
    for path in sorted((ROOT / "issues").iterdir()):
        # The issue files and their decisions records (issues/ID.decisions.jsonl), of the other issues only.
        if path.name.split(".", 1)[0] != issue_id and path.name.endswith((".yaml", ".decisions.jsonl")):
            shutil.copy(path, issues / path.name)
    return issues


def collect_failures(run: subprocess.CompletedProcess, what: str, stored: int) -> None:
    """Go on past sources that failed (exit 1 with `stored` items from the others), naming them; stop on
    anything else (a configuration or proxy error exits 1 too, with nothing stored).

    A fixture web may hold a source the tool cannot read (a broken page, selectors that miss): the
    benchmark then ranks what the other sources gave, as the editor would, and says which failed.
    """
    if run.returncode == 1 and any(line.startswith("error: ") for line in run.stderr.splitlines()) and stored:
        print(f"{what}: some sources failed; ranking what the others gave:\n{run.stderr.strip()}\n")
    elif run.returncode != 0:
        print(run.stdout, run.stderr, sep="\n")
        raise SystemExit(f"{what} failed (exit {run.returncode})")


def reads_for(positions: list[int], total: int, share: float) -> int | str:
    """Items read until `share` of the `total` picks were found (positions are 1-based, ascending)."""
    needed = math.ceil(share * total)
    return positions[needed - 1] if len(positions) >= needed else "not reached"


def truth_quarter(fixture: Path) -> str:
    """The issue id ("2022-q2") of the quarter in which most of the fixture's truth items were published."""
    truth = json.loads((fixture / "truth.json").read_text(encoding="utf-8"))
    quarters = Counter(
        f"{day.year}-q{(day.month - 1) // 3 + 1}"
        for day in (dt.date.fromisoformat(str(e["published"])[:10]) for e in truth if e.get("published"))
    )
    if not quarters:
        raise SystemExit(f"{fixture / 'truth.json'} dates no item; pass --issue")
    return quarters.most_common(1)[0][0]


def simulate(
    workspace: Path,
    truth: list[dict],
    norm_url: Callable[[str], str],
    asreview: str | None,
    issue_id: str,
    batch: int = 10,
) -> None:
    """Run the editor's loop in this process, through the tool's own curation functions, and print the figures.

    `truth` are the picks (url, and feed_links and equivalent_urls: other links of the same pick;
    section and heading: where the newsletter put it), matched by `norm_url`. When the history
    holds other quarters' decisions records, the loop is run a second time on a copy of the
    workspace without them: what a record from another quarter (another year) adds to the history.
    """
    sys.path.insert(0, str(ROOT))
    from newsletter.config import Workspace
    from newsletter.curate.decisions import read_record
    from newsletter.curate.edit import Curation, new_issue, ranked_candidates
    from newsletter.curate.inbox import InboxQuery
    from newsletter.curate.ranking import keyword_order, past_entries, plain
    from newsletter.store import Store

    issues = copy_history(workspace, issue_id)
    wanted = {}
    for n, entry in enumerate(truth):
        for url in [entry["url"], *entry.get("feed_links", []), *entry.get("equivalent_urls", [])]:
            wanted[norm_url(url)] = n
    without_records = None
    if any(issues.glob("*.decisions.jsonl")):
        without_records = Path(tempfile.mkdtemp(prefix="newsletter-norecord-")) / "workspace"
        shutil.copytree(workspace, without_records)
        for record in (without_records / "issues").glob("*.decisions.jsonl"):
            record.unlink()
    ws = Workspace(workspace)
    settings = ws.settings()
    with Store(ws.db_path) as store:
        curation = Curation(ws, settings, ws.feeds(settings), store)
        new_issue(curation, issue_id)
        query = InboxQuery(statuses=("new",), include_all=True)
        first, ranking = ranked_candidates(curation, issue_id, query, learn_from_later=True)
        keyword = sorted(first, key=keyword_order)
        newest = sorted(first, key=lambda i: (-(i.published or dt.date.min).toordinal(), i.id))
        in_quarter = {wanted[norm_url(i.url)] for i in first if norm_url(i.url) in wanted}
        total = len(in_quarter)

        def positions(order) -> list[int]:
            found, out = set(), []
            for place, item in enumerate(order, 1):
                pick = wanted.get(norm_url(item.url))
                if pick is not None and pick not in found:
                    found.add(pick)
                    out.append(place)
            return out

        loop = editor_loop(curation, issue_id, truth, wanted, norm_url, total, batch)
    rows = [
        ("learning from each decision (the tool)", loop.found_at),
        ("the first ranking only", positions(first)),
        ("keyword score (the tool before learning)", positions(keyword)),
        ("newest first (a feed reader)", positions(newest)),
    ]
    if without_records is not None:
        try:
            ws_bare = Workspace(without_records)
            settings_bare = ws_bare.settings()
            with Store(ws_bare.db_path) as store:
                curation = Curation(ws_bare, settings_bare, ws_bare.feeds(settings_bare), store)
                new_issue(curation, issue_id)
                bare = editor_loop(curation, issue_id, truth, wanted, norm_url, total, batch)
        finally:
            shutil.rmtree(without_records.parent, ignore_errors=True)
        rows.insert(1, ("the same without other quarters' records", bare.found_at))
    print(f"{len(first)} undecided items in the quarter, {total} of the newsletter's picks among them")
    print(f"{'':44} {'reads for 80%':>14} {'reads for 95%':>14}")
    for name, found_positions in rows:
        print(
            f"{name:44} {reads_for(found_positions, total, 0.8)!s:>14} {reads_for(found_positions, total, 0.95)!s:>14}"
        )
    ceiling = cross_validated(
        store_path=ws.db_path,
        settings=settings,
        issues=issues,
        issue_id=issue_id,
        items=first,
        wanted=wanted,
        norm_url=norm_url,
        total=total,
    )
    print(f"{'ceiling: told 9/10 of the labels (10-fold CV)':44} {ceiling[0]!s:>14} {ceiling[1]!s:>14}")
    if asreview:
        # The same past issues the tool learned from: not the simulated one, which the simulation has just filled.
        history = past_entries(issues, settings, [p.stem for p in sorted(issues.glob("*.yaml")) if p.stem != issue_id])
        priors = [(e.title or e.heading, plain(e.text), 1) for e in history]
        # And the other quarters' decisions records, as the tool learns from them: picks 1, the rest 0.
        priors += [
            (line.title, line.summary, int(line.decision == "picked"))
            for record in sorted(issues.glob("*.decisions.jsonl"))
            for line in read_record(record)
        ]
        runs = [asreview_reads(asreview, priors, first, wanted, norm_url, total, seed) for seed in (1, 2, 3)]
        at80, at95 = (_median_reads(r[mark] for r in runs) for mark in (0, 1))
        print(f"{'ASReview LAB, elas_u4 (median of 3 seeds)':44} {at80!s:>14} {at95!s:>14}")
        print(f"{'':44} (seeds 1, 2, 3: {', '.join(f'{a}/{b}' for a, b in runs)})")
    else:
        print(f"{'ASReview LAB':44} {'not installed (--asreview)':>29}")
    print(f"targets: 80% within {math.ceil(1.2 * total)} reads, 95% within {2 * total}")
    splits = learning_from_records(ws.db_path, settings, issues, issue_id, first, wanted, norm_url, asreview)
    if splits:
        print(
            "what another quarter's decisions record adds (the quarter split by month: each month's items ranked, "
            "the other months' items as a record, picks and left out, and the issue's entries about them as history):"
        )
        for month, count, picks, rows, _ in splits:
            print(f"  {month}: {count} items, {picks} picks")
            for name, (at80, at95) in rows.items():
                print(f"{'    ' + name:56} {at80!s:>8} {at95!s:>8}")
        picks_in_all = sum(picks for _, _, picks, _, _ in splits)
        print(f"  all {len(splits)} months together (reads added up; {picks_in_all} picks):")
        for name, (at80, at95) in _added_up(splits).items():
            print(f"{'    ' + name:56} {at80!s:>8} {at95!s:>8}")
        print("  estimate of likely picks unread vs picks really unread, learning from the record and each decision:")
        for month, _, _, _, month_estimates in splits:
            kept = [e for n, e in enumerate(month_estimates) if n in (0, 2, 5) or n == len(month_estimates) - 1]
            print(f"    {month}: " + ", ".join(f"after {r} reads {e:.0f} vs {a}" for r, e, a in kept))
    halves = learning_from_records(
        ws.db_path,
        settings,
        issues,
        issue_id,
        first,
        wanted,
        norm_url,
        asreview,
        splits=random_halves(first),
        seeds=(1,),
    )
    if halves:
        picks_in_all = sum(picks for _, _, picks, _, _ in halves)
        print(
            f"the same, the quarter cut in random halves ({len(halves)} halves of 4 seeds, each ranked with the other "
            f"as the record; reads added up over {picks_in_all} picks; ASReview seed 1):"
        )
        for name, (at80, at95) in _added_up(halves).items():
            print(f"{'    ' + name:56} {at80!s:>8} {at95!s:>8}")
    print(
        f"picks placed in the newsletter's section and heading as suggested: {loop.right_place}/{loop.placed}; "
        f"the editor moved the rest (by the sources' places in feeds.yaml alone: {loop.right_by_source}/{loop.placed})"
    )
    for title, suggested, right in loop.misplaced:
        print(f"  suggested {'/'.join(suggested)}, moved to {'/'.join(right)}: {title[:60]}")
    shown = [e for n, e in enumerate(loop.estimates) if n in (0, 2, 5) or n == len(loop.estimates) - 1]
    print(
        "estimate of likely picks unread vs picks really unread: "
        + ", ".join(f"after {r} reads {e:.0f} vs {a}" for r, e, a in shown)
    )
    print(
        f"ranking (train + rank, {len(first)} items): median {statistics.median(loop.seconds) * 1000:.0f} ms "
        f"over {len(loop.seconds)} rankings; first ranking learned from {ranking.history} past entries"
    )
    history = past_entries(issues, settings, [p.stem for p in sorted(issues.glob("*.yaml")) if p.stem != issue_id])
    with Store(ws.db_path) as store:
        for count, cold, warm, plain_cold, plain_warm in model_seconds(store, history, [5000]):
            print(
                f"the model on {count:,} documents as long as the store's: text features {cold:.2f} s (once per "
                f"change of the store: cached), training and ranking {warm:.2f} s (each listing); baseline, word "
                f"TF-IDF and a logistic regression: {plain_cold:.2f} s and {plain_warm:.2f} s"
            )


@dataclasses.dataclass
class Loop:
    """What one run of the editor's loop found: the reads at which each pick was found, the time of each
    ranking, the estimates said on the way (reads, likely picks unread, picks really unread), and placement."""

    found_at: list[int] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    estimates: list[tuple[int, float, int]] = dataclasses.field(default_factory=list)
    placed: int = 0
    right_place: int = 0
    right_by_source: int = 0
    misplaced: list[tuple[str, tuple[str, str], tuple[str, str]]] = dataclasses.field(default_factory=list)


def editor_loop(
    curation: Any,
    issue_id: str,
    truth: list[dict],
    wanted: dict[str, int],
    norm_url: Callable[[str], str],
    total: int,
    batch: int,
) -> Loop:
    """The simulated editor: list the quarter's undecided items best first, read the top `batch`, `issue add`
    the picks (in the suggested place) and skip the rest, list again, until 95% of the `total` picks are found.
    A pick filed elsewhere than the newsletter has it is moved there (`issue move`), as the editor would."""
    from newsletter.curate.edit import add_items, move_entry, ranked_candidates, set_item_status
    from newsletter.curate.inbox import InboxQuery, place

    query = InboxQuery(statuses=("new",), include_all=True)
    loop = Loop()
    found: set[int] = set()
    reads = 0
    while len(found) < math.ceil(0.95 * total):
        started = time.perf_counter()
        listed, _ = ranked_candidates(curation, issue_id, query, learn_from_later=True)
        loop.seconds.append(time.perf_counter() - started)
        if not listed:
            break
        # What `items --issue` would say now: likely picks among everything still unread.
        loop.estimates.append((reads, sum(i.probability or 0.0 for i in listed), total - len(found)))
        for item in listed[:batch]:
            reads += 1
            pick = wanted.get(norm_url(item.url))
            if pick is None or pick in found:
                set_item_status(curation, [item.id], "skipped")
                continue
            found.add(pick)
            loop.found_at.append(reads)
            # As `issue add` and triage's `a` file it: the suggested place, joining a heading the
            # issue already has for the same organisation.
            added = add_items(curation, issue_id, [item.id], places={item.id: (item.section, item.heading)})[0]
            item.section, item.heading = added.section, added.heading
            loop.placed += 1
            right = (truth[pick].get("section"), truth[pick].get("heading"))
            loop.right_place += (item.section, item.heading) == right
            if (item.section, item.heading) != right:
                loop.misplaced.append((item.title, (item.section, item.heading), right))
                if all(right):
                    # As the editor would: `issue move` it where the newsletter has it, which the
                    # next suggestions may learn from.
                    move_entry(curation, issue_id, item.id, section=right[0], heading=right[1])
            by_source = place(dataclasses.replace(item), curation.feeds, curation.settings)
            loop.right_by_source += (by_source.section, by_source.heading) == right
    return loop


def model_seconds(store, history, counts, rounds: int = 3) -> list[tuple[int, float, float, float, float]]:
    """(documents, seconds to compute the text features, to train and rank; the same two for a baseline
    of word TF-IDF and a logistic regression) per count of documents; medians of `rounds`.

    The documents are made from the store's own (title, summary, article text) of different items,
    mixed at random (seeded), so their length and vocabulary are those of real items and no two are
    alike. One document in ten is labelled, one label in ten a pick, as a quarter with its history.
    """
    import random

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from newsletter.curate.model import Features, Model, _StemmedWords
    from newsletter.curate.ranking import UNDECIDED_WEIGHT, Document, article_text, item_document

    parts = [item_document(i, article_text(store, i)).text.split("\n", 2) for i in store.iter_items()]
    parts = [p + [""] * (3 - len(p)) for p in parts]
    out = []
    for count in counts:
        rng = random.Random(count)
        documents = [
            Document(
                "\n".join(p for p in (rng.choice(parts)[0], rng.choice(parts)[1], rng.choice(parts)[2]) if p),
                source=f"source-{n % 30}",
                kind=("news", "report", "event")[n % 3],
            )
            for n in range(count)
        ]
        labels = {n: (int(n % 100 == 0), 1.0) if n % 10 == 0 else (0, UNDECIDED_WEIGHT) for n in range(count)}
        rows = sorted(labels)
        y = [labels[n][0] for n in rows]
        weights = [labels[n][1] for n in rows]
        timings: list[list[float]] = [[], [], [], []]
        for _ in range(rounds):
            started = time.perf_counter()
            Features.compute(documents, history, _StemmedWords())
            timings[0].append(time.perf_counter() - started)
            model = Model(documents, history)
            started = time.perf_counter()
            model.scores(labels)
            timings[1].append(time.perf_counter() - started)
            # The baseline: the plainest model of the kind, word TF-IDF and a logistic regression.
            started = time.perf_counter()
            matrix = TfidfVectorizer().fit_transform([d.text for d in documents])
            timings[2].append(time.perf_counter() - started)
            started = time.perf_counter()
            plain = LogisticRegression(solver="liblinear", class_weight="balanced")
            plain.fit(matrix, y, sample_weight=weights).decision_function(matrix)
            timings[3].append(time.perf_counter() - started)
        out.append((count, *(statistics.median(t) for t in timings)))
    return out


def cross_validated(store_path, settings, issues, issue_id, items, wanted, norm_url, total, folds=10, seeds=(0, 1, 2)):
    """Reads for 80% and 95% of the picks by the tool's own model told nine tenths of the truth.

    A ceiling for the features, not a way to work: each tenth of the quarter's items is ranked by
    the model trained (as `Model.scores` trains) on the true labels of the other nine tenths, the
    tenth itself left undecided; out-of-fold scores are averaged over `seeds` shuffles. Where
    this order needs more reads than a target allows, the features themselves cannot tell enough
    picks from the rest, whatever is learned first. (The editor's loop can still do a little better
    at the later mark: the picks it has found leave the list, this order keeps them.)
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    from newsletter.curate.model import Model
    from newsletter.curate.ranking import UNDECIDED_WEIGHT, article_text, item_document, past_entries
    from newsletter.store import Store

    history = past_entries(issues, settings, [p.stem for p in sorted(issues.glob("*.yaml")) if p.stem != issue_id])
    # By id, not in the first ranking's order: the folds, drawn from the order, then do not move with
    # every change of the ranking, and the row compares across changes.
    items = sorted(items, key=lambda i: i.id)
    with Store(store_path) as store:
        documents = [item_document(i, article_text(store, i)) for i in items]
    model = Model(documents, history)
    labels = np.array([int(norm_url(i.url) in wanted) for i in items])
    folds = min(folds, int(labels.sum()), int(len(labels) - labels.sum()))  # each fold needs both kinds
    if folds < 2:
        return "n/a", "n/a"
    scores = np.zeros(len(items))
    for seed in seeds:
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(scores, labels):
            told = {int(i): (int(labels[i]), 1.0) for i in train}
            told.update({int(i): (0, UNDECIDED_WEIGHT) for i in test})
            scores[test] += model.scores(told)[test]
    found: set[int] = set()
    positions = []
    for place, index in enumerate(np.argsort(-scores, kind="stable"), 1):
        pick = wanted.get(norm_url(items[index].url))
        if pick is not None and pick not in found:
            found.add(pick)
            positions.append(place)
    return reads_for(positions, total, 0.8), reads_for(positions, total, 0.95)


def _added_up(splits) -> dict[str, list[int | str]]:
    """Each row's reads for 80% and 95% added up over the splits `learning_from_records` returns; "-"
    where a split never reached the mark."""
    totals: dict[str, list[int | str]] = {}
    for _, _, _, rows, _ in splits:
        for name, marks in rows.items():
            total = totals.setdefault(name, [0, 0])
            for mark, value in enumerate(marks):
                both = total[mark]
                total[mark] = both + value if isinstance(both, int) and isinstance(value, int) else "-"
    return totals


def month_splits(items) -> list[tuple[str, list]]:
    """The quarter's items by the month they were published: (month as text, its items), oldest first."""
    months = sorted({(i.published.year, i.published.month) for i in items if i.published})
    return [
        (
            f"{dt.date(*month, 1):%B %Y}",
            [i for i in items if i.published and (i.published.year, i.published.month) == month],
        )
        for month in months
    ]


def random_halves(items, seeds=(0, 1, 2, 3)) -> list[tuple[str, list]]:
    """The quarter's items cut in two at random, once per seed: (name, one half's items), both halves of each.

    Less lumpy than months (the fixture's April holds a handful of the quarter's picks, May and June the
    rest), so eight halves average out what two months cannot."""
    import random

    out = []
    for seed in seeds:
        ids = sorted(i.id for i in items)
        random.Random(seed).shuffle(ids)
        for half, chosen in enumerate((set(ids[: len(ids) // 2]), set(ids[len(ids) // 2 :])), 1):
            out.append((f"seed {seed}, half {half}", [i for i in items if i.id in chosen]))
    return out


def learning_from_records(
    store_path, settings, issues, issue_id, items, wanted, norm_url, asreview, batch=10, splits=None, seeds=(1, 2, 3)
):
    """What learning from another quarter's decisions record adds, shown within the one quarter at hand.

    A fixture web holds one quarter, so the record of another is made from the rest of it: for each
    split of the quarter (`splits`, (name, items); by default its months, `month_splits`) holding at
    least 5 picks, its items are ranked and the rest of the
    quarter's items are labelled as `issue record` labels them (the picks picked, the rest left
    out) and given to `rank_items` as another quarter's, as `rank_quarter` gives a record's lines.
    The history is the other issues' entries and, as it would be for a real earlier quarter, the
    project's own issue file's entries citing no item of the month ranked, each left out of the
    prior of the item it cites (`Document.own_entries`). A later month recorded for an earlier
    one is learning from a later issue: fine for a benchmark, never in the tool.

    Returns one (month as text, items ranked, picks among them, {row: (reads for 80%, 95%)},
    estimates) per month, the rows being the first ranking with the history alone and with the
    record, the editor's loop (read `batch`, decide, list again) with the record, and, when
    `asreview` is given, ASReview LAB told the same history and record as prior labels (median of
    `seeds`, by default 1–3); the estimates are the loop's (reads, likely picks unread, picks really
    unread) per listing, the record's share of picks being what the month is expected to hold.
    """
    from newsletter.curate.ranking import (
        RECORDED,
        article_text,
        entries_citing,
        item_document,
        link_targets,
        past_entries,
        plain,
    )
    from newsletter.store import Store

    others = past_entries(issues, settings, [p.stem for p in sorted(issues.glob("*.yaml")) if p.stem != issue_id])
    with Store(store_path) as store:
        own_issue = past_entries(ROOT / "issues", settings, [issue_id]) if (ROOT / "issues").is_dir() else []
        targets = link_targets(store, (link for e in own_issue for link in e.links))
        articles = {i.id: article_text(store, i) for i in items}
    # A pick the issue cites by another page than its item's (a GRETA news item, cited by the report's
    # page: the truth's `equivalent_urls`) is still the one its entry is about: left out of the history
    # when its split is ranked, and its prior computed without that entry when it is in the record.
    truth_items = {wanted[norm_url(i.url)]: i.id for i in items if norm_url(i.url) in wanted}
    for link in (link for e in own_issue for link in e.links):
        if targets.get(link) is None and wanted.get(norm_url(link)) in truth_items:
            targets[link] = truth_items[wanted[norm_url(link)]]
    out = []
    for name, ranked_here in splits if splits is not None else month_splits(items):
        picks = {wanted[norm_url(i.url)] for i in ranked_here if norm_url(i.url) in wanted}
        if len(picks) < 5:
            continue
        here_ids = {i.id for i in ranked_here}
        history = [*others, *(e for e in own_issue if not any(targets.get(link) in here_ids for link in e.links))]
        citing = entries_citing(history, targets)
        recorded = [i for i in items if i.id not in here_ids]
        record = [
            (
                item_document(i, articles[i.id], tuple(citing.get(i.id, ()))),
                *RECORDED[_recorded_as(i, wanted, norm_url)],
            )
            for i in recorded
        ]
        documents = {i.id: item_document(i, articles[i.id]) for i in ranked_here}
        month_split = _MonthSplit(ranked_here, documents, history, record, wanted, norm_url, len(picks))
        rows = {
            "history alone (the first ranking)": month_split.marks(month_split.first([])),
            "history and the record (the first ranking)": month_split.marks(month_split.first(record)),
            "history and the record, learning from each decision": month_split.marks(month_split.loop(batch)),
        }
        estimates = month_split.estimates
        if asreview:
            priors = [(e.title or e.heading, plain(e.text), 1) for e in history]
            priors += [(i.title, i.summary or "", label) for i, (_, label, _) in zip(recorded, record, strict=True)]
            runs = [asreview_reads(asreview, priors, ranked_here, wanted, norm_url, len(picks), seed) for seed in seeds]
            at80, at95 = (_median_reads(r[mark] for r in runs) for mark in (0, 1))
            rows["ASReview LAB told the same history and record"] = (at80, at95)
        out.append((name, len(ranked_here), len(picks), rows, estimates))
    return out


@dataclasses.dataclass
class _MonthSplit:
    """One month of the quarter ranked, with the rest of the quarter as a record (`learning_from_records`)."""

    items: list
    documents: dict  # item id -> Document
    history: list
    record: list  # (Document, label, weight)
    wanted: dict
    norm_url: Callable[[str], str]
    picks: int
    # (reads so far, likely picks unread as `items --issue` would say, picks really unread) per listing
    # of the last `loop`.
    estimates: list = dataclasses.field(default_factory=list)

    def positions(self, order) -> list[int]:
        """1-based places in `order` (items) where a pick not seen before was found."""
        found: set[int] = set()
        positions = []
        for place, item in enumerate(order, 1):
            pick = self.wanted.get(self.norm_url(item.url))
            if pick is not None and pick not in found:
                found.add(pick)
                positions.append(place)
        return positions

    def marks(self, positions: list[int]) -> tuple[int | str, int | str]:
        """Reads for 80% and 95% of the month's picks."""
        return reads_for(positions, self.picks, 0.8), reads_for(positions, self.picks, 0.95)

    def expected(self) -> float:
        """The picks `rank_quarter` would expect of the month: the record's share of picks times its items."""
        return sum(label for _, label, _ in self.record) / max(len(self.record), 1) * len(self.items)

    def first(self, labelled) -> list[int]:
        """Positions of the picks in one ranking learned from `labelled` alone."""
        from newsletter.curate.ranking import rank_items

        documents = [self.documents[i.id] for i in self.items]
        ranking = rank_items(self.items, documents, self.history, labelled, self.expected())
        return self.positions([r.item for r in ranking.ranked])

    def loop(self, batch: int) -> list[int]:
        """Positions of the picks as the editor reads `batch` at a time, deciding each, with the record.

        The main simulation's loop, in process: decisions weigh as `issue add` and `issue skip`
        make them weigh, listed first among the labels (`decided_here`).
        """
        from newsletter.curate.ranking import DECIDED_WEIGHT, rank_items

        undecided, positions, reads = list(self.items), [], 0
        decisions: list[tuple[Any, int]] = []
        found: set[int] = set()
        self.estimates = []
        while len(found) < math.ceil(0.95 * self.picks) and undecided:
            labelled = [(self.documents[i.id], label, DECIDED_WEIGHT) for i, label in decisions] + self.record
            documents = [self.documents[i.id] for i in undecided]
            ranking = rank_items(undecided, documents, self.history, labelled, self.expected(), None, len(decisions))
            self.estimates.append((reads, ranking.unread_estimate(0), self.picks - len(found)))
            for ranked in ranking.ranked[:batch]:
                reads += 1
                pick = self.wanted.get(self.norm_url(ranked.item.url))
                label = 0
                if pick is not None and pick not in found:
                    label = 1
                    found.add(pick)
                    positions.append(reads)
                decisions.append((ranked.item, label))
                undecided.remove(ranked.item)
        return positions


def _recorded_as(item, wanted, norm_url) -> str:
    """How `issue record` labels an item of a quarter whose picks are `wanted`: picked or left out."""
    return "picked" if norm_url(item.url) in wanted else "left out"


def _median_reads(values) -> int | str:
    """The median of reads counts (ints), or "not reached" when no run reached the mark."""
    reached = [v for v in values if isinstance(v, int)]
    return round(statistics.median(reached)) if reached else "not reached"


def asreview_reads(command, priors, items, wanted, norm_url, total, seed) -> tuple[int | str, int | str]:
    """Reads for 80% and 95% of the picks by `asreview simulate` (its default model, elas_u4).

    The dataset is `priors`, (title, abstract, label 1/0) rows given as prior knowledge (the
    past entries as inclusions: their title, and heading and text as the abstract; a record's
    items with their labels), followed by the quarter's undecided items (title; summary as the
    abstract), labelled by the truth. ASReview re-trains after every decision (`--n-query 1`, its default). Reads count
    the quarter's items in the order ASReview labelled them.
    """
    import csv
    import sqlite3
    import zipfile

    with tempfile.TemporaryDirectory(prefix="asreview-") as tmp:
        data, project = Path(tmp) / "data.csv", Path(tmp) / "sim.asreview"
        picks: dict[int, int] = {}
        with data.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["title", "abstract", "included"])
            writer.writerows(priors)
            for n, item in enumerate(items):
                pick = wanted.get(norm_url(item.url))
                if pick is not None:
                    picks[len(priors) + n] = pick
                writer.writerow([item.title, item.summary or "", int(pick is not None)])
        prior_idx = [str(n) for n in range(len(priors))]
        done = subprocess.run(
            [command, "simulate", str(data), "--prior-idx", *prior_idx, "--seed", str(seed), "-o", str(project)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"asreview simulate failed:\n{done.stderr[-2000:]}")
        with zipfile.ZipFile(project) as archive:
            archive.extract("results.db", tmp)
        with sqlite3.connect(Path(tmp) / "results.db") as db:
            order = [row[0] for row in db.execute("SELECT record_id FROM results ORDER BY rowid")]
    found: set[int] = set()
    positions = []
    for place, record in enumerate((r for r in order if r >= len(priors)), 1):
        pick = picks.get(record)
        if pick is not None and pick not in found:
            found.add(pick)
            positions.append(place)
    return reads_for(positions, total, 0.8), reads_for(positions, total, 0.95)


if __name__ == "__main__":
    main()

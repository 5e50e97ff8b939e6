"""Benchmark: collecting 40 sources served locally with 200 ms latency each.

Reports, in one run: a cold collect (concurrent), the same cold collect done
sequentially (one worker: the baseline), a warm collect where every source
answers 304, and the peak memory of a process whose store holds 20,000 items.
Targets on a 2-core machine: cold ≥ 5× faster than sequential, warm < 1 s with
no feed parsed, memory < 150 MB at 20,000 items.

Each source is a distinct host (src01.bench.test …) reached through the local
server acting as an HTTP proxy, as real sources are distinct hosts; nothing
leaves 127.0.0.1.

    python3 bench/collect.py [--sources 40] [--latency-ms 200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server import LocalServer, Route  # noqa: E402  (a real HTTP server on 127.0.0.1)


def feed(host: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>Sak {n} om menneskehandel fra {host}</title><link>http://{host}/sak/{n}</link>"
        f"<guid>{host}-{n}</guid><pubDate>Mon, {1 + n % 28:02d} Jun 2022 10:00:00 +0200</pubDate>"
        f"<description>&lt;p&gt;Ingress {n} om tvangsarbeid og utnyttelse.&lt;/p&gt;</description></item>"
        for n in range(count)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{host}</title>'
        f"<link>http://{host}/</link><description>bench</description>{items}</channel></rss>"
    ).encode()


def workspace(directory: Path, hosts: list[str], workers: int) -> Path:
    """A workspace in a new `directory` whose feeds.yaml lists one RSS source per host."""
    directory.mkdir()
    sources = "".join(
        f"  - {{key: s{i:02d}, name: Source {i}, kind: rss, url: 'http://{host}/feed.xml', section: international,"
        f" heading: H{i}, relevance: all}}\n"
        for i, host in enumerate(hosts)
    )
    (directory / "feeds.yaml").write_text("sources:\n" + sources, encoding="utf-8")
    (directory / "newsletter.yaml").write_text(
        f"name: Bench\nfetch:\n  workers: {workers}\n  host_interval: 0.2\n  retries: 0\n", encoding="utf-8"
    )
    return directory


def run_collect(root: Path) -> dict:
    """One collect in this process; returns seconds, counts and how many bodies were parsed."""
    import newsletter.collect.run as collect_module
    from newsletter.config import Workspace
    from newsletter.store import Store

    parsed = 0
    original = collect_module.parse_source

    def counting(*args, **kwargs):
        nonlocal parsed
        parsed += 1
        return original(*args, **kwargs)

    collect_module.parse_source = counting
    try:
        ws = Workspace(root)
        settings = ws.settings()
        with Store(ws.db_path) as store:
            started = time.perf_counter()
            report = collect_module.collect(store, ws.feeds(settings), settings)
            seconds = time.perf_counter() - started
            count = store.count_items()
    finally:
        collect_module.parse_source = original
    return {
        "seconds": seconds,
        "parsed": parsed,
        "items": count,
        "failed": [r.error for r in report.results if r.error],
        "not_modified": sum(r.not_modified for r in report.results),
    }


def memory_child(root: str) -> None:
    """Child process: cold and warm collect into a 20,000-item store, then the inbox; print peak RSS."""
    from newsletter.config import Workspace
    from newsletter.curate.inbox import InboxQuery, inbox
    from newsletter.store import Store

    cold = run_collect(Path(root))
    warm = run_collect(Path(root))
    ws = Workspace(Path(root))
    settings = ws.settings()
    with Store(ws.db_path) as store:
        listed = len(inbox(store, ws.feeds(settings), settings, InboxQuery()))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cold": cold, "warm": warm, "listed": listed, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=40)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--items", type=int, default=50, help="items per feed in the timing runs")
    parser.add_argument("--memory-items", type=int, default=20_000, help="items in the store for the memory run")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)

    hosts = [f"src{i:02d}.bench.test" for i in range(args.sources)]
    with LocalServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            {"HTTP_PROXY": f"http://127.0.0.1:{server.port}", "http_proxy": f"http://127.0.0.1:{server.port}"}
        )
        for name in ("NO_PROXY", "no_proxy"):
            os.environ.pop(name, None)
        delay = args.latency_ms / 1000
        for host in hosts:
            server.routes[f"{host}/feed.xml"] = Route(
                feed(host, args.items), delay=delay, etag=f'"{host}"', content_type="application/rss+xml"
            )
        concurrent_ws = workspace(Path(tmp, "concurrent"), hosts, workers=16)
        sequential_ws = workspace(Path(tmp, "sequential"), hosts, workers=1)

        sequential = run_collect(sequential_ws)
        cold = run_collect(concurrent_ws)
        warm = run_collect(concurrent_ws)
        for name, run in (("sequential", sequential), ("cold", cold), ("warm", warm)):
            assert not run["failed"], (name, run["failed"])

        per_feed = max(1, args.memory_items // args.sources)
        for host in hosts:
            server.routes[f"{host}/feed.xml"] = Route(
                feed(host, per_feed), delay=delay, etag=f'"{host}-big"', content_type="application/rss+xml"
            )
        memory_ws = workspace(Path(tmp, "memory"), hosts, workers=16)
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(memory_ws)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            check=True,
        )
        memory = json.loads(child.stdout.strip().splitlines()[-1])

    speedup = sequential["seconds"] / cold["seconds"]
    print(f"sources: {args.sources}, latency {args.latency_ms} ms, {args.items} items each")
    print(f"sequential (baseline, 1 worker): {sequential['seconds']:6.2f} s  items={sequential['items']}")
    print(
        f"cold (concurrent):               {cold['seconds']:6.2f} s  items={cold['items']}  "
        f"speed-up {speedup:.1f}x (target >= 5x)"
    )
    print(
        f"warm (all 304):                  {warm['seconds']:6.2f} s  parsed={warm['parsed']}  "
        f"not modified={warm['not_modified']}/{args.sources} (target < 1 s, 0 parsed)"
    )
    print(
        f"memory: store of {memory['cold']['items']} items, cold collect {memory['cold']['seconds']:.2f} s, "
        f"warm {memory['warm']['seconds']:.2f} s, inbox {memory['listed']} items, "
        f"peak RSS {memory['peak_mb']:.0f} MB (target < 150 MB)"
    )
    ok = speedup >= 5 and warm["seconds"] < 1 and warm["parsed"] == 0 and memory["peak_mb"] < 150
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()

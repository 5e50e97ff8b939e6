"""Benchmark: one recipient's message by the fast path of a send (`MessageTemplate.render`) against
composing it in full (`compose` + `message_bytes`), on the sample issue with a one-click unsubscribe link.

The fast path exists because composing a MIME message and quoted-printable-encoding both bodies for
each of 10,000 recipients made a send slow; it must stay much faster (target: at least 10 times) while
giving the same bytes as `compose`. Both run interleaved, several rounds; medians are reported.

    python3 bench/compose.py [--recipients 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.config import load_settings  # noqa: E402
from newsletter.curate.issuefile import IssueDocument  # noqa: E402
from newsletter.mail.compose import MessageTemplate, compose, message_bytes, prepare  # noqa: E402
from newsletter.render.build import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are reported")
    args = parser.parse_args()
    os.environ.setdefault("NEWSLETTER_UNSUBSCRIBE_SECRET", "bench-secret")
    settings = load_settings(ROOT / "newsletter.yaml")
    mail = dataclasses.replace(settings.mail, unsubscribe_url="https://kom.example.no/avmelding")
    issue = IssueDocument.load(ROOT / "issues" / "2024-q2.yaml").issue(settings)
    people = [(f"mottaker{i:05d}@example.org", f"Mottaker {i} Ødegård") for i in range(args.recipients)]
    now = dt.datetime.now(dt.UTC)
    times: dict[str, list[float]] = {"render": [], "compose": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "build"
        build(issue, settings, out, ("email", "text"))
        prepared = prepare(issue, out, "https://nyhetsbrev.example.no/arkiv")
        started = time.perf_counter()
        template = MessageTemplate(prepared, mail, now)
        setup = time.perf_counter() - started
        size = len(template.render(*people[0]))
        for _ in range(args.rounds):
            started = time.perf_counter()
            for address, name in people:
                template.render(address, name)
            times["render"].append(time.perf_counter() - started)
            started = time.perf_counter()
            for address, name in people:
                message_bytes(compose(prepared, mail, address, name, now))
            times["compose"].append(time.perf_counter() - started)
    n = args.recipients
    fast, full = (statistics.median(times[k]) for k in ("render", "compose"))
    print(f"{n} recipients, message of {size / 1024:.0f} KB, {args.rounds} interleaved rounds, medians")
    print(f"  MessageTemplate.render:   {fast / n * 1e6:8.0f} µs/message ({n / fast:6.0f} msg/s)")
    print(f"  compose + message_bytes:  {full / n * 1e6:8.0f} µs/message ({n / full:6.0f} msg/s)")
    print(f"  the fast path is {full / fast:.1f} times faster (target >= 10); template set-up {setup * 1e3:.0f} ms")
    print("  all rounds (s): " + "; ".join(f"{k} " + ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()))


if __name__ == "__main__":
    main()

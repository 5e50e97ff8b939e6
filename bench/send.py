"""Benchmark: sending one issue to 10,000 recipients through a local SMTP server (aiosmtpd).

Reports messages per second and peak memory for `run_send` (a message per
recipient, ledger commits, one reused connection) next to, in the same run, a
bare smtplib loop sending one prebuilt message over one connection, and the
same messages sent without the ledger, to show what the ledger costs. The three
run interleaved, several rounds, and medians are reported (a local server on a
busy 2-core machine varies). Targets: at least 50% of the bare loop's rate,
under 200 MB, ledger ≤ 10%.

    python3 bench/send.py [--recipients 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import resource
import smtplib
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from newsletter import clock  # noqa: E402
from newsletter.config import load_settings  # noqa: E402
from newsletter.curate.issuefile import IssueDocument  # noqa: E402
from newsletter.mail.compose import MessageTemplate, prepare  # noqa: E402
from newsletter.mail.send import Recipient, freeze_recipients, run_send  # noqa: E402
from newsletter.mail.transport import SMTPTransport  # noqa: E402
from newsletter.render.build import build  # noqa: E402
from newsletter.store import Store  # noqa: E402


class Sink:
    """Accepts everything, keeps only a count."""

    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    args = parser.parse_args()
    import dataclasses
    import statistics

    settings = load_settings(ROOT / "newsletter.yaml")
    issue = IssueDocument.load(ROOT / "issues" / "2024-q2.yaml").issue(settings)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    mail = dataclasses.replace(
        settings.mail, smtp_host="127.0.0.1", smtp_port=controller.port, security="none", timeout=30
    )
    people = [Recipient(f"mottaker{i:05d}@example.org", f"Mottaker {i}") for i in range(args.recipients)]
    times: dict[str, list[float]] = {"bare": [], "send": [], "no ledger": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "build"
        build(issue, settings, out, ("email", "text"))
        prepared = prepare(issue, out)
        data = MessageTemplate(prepared, mail).render(people[0].email)
        for round_ in range(args.rounds):
            # Baseline: one prebuilt message, one connection, a bare smtplib loop.
            started = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
                for person in people:
                    smtp.sendmail(mail.sender, [person.email], data)
            times["bare"].append(time.perf_counter() - started)

            # The real thing: per-recipient message, ledger, one reused connection.
            with Store(Path(tmp) / f"ledger{round_}.db") as store:
                freeze_recipients(store, "2024-q2", people, clock.now())
                started = time.perf_counter()
                report = run_send(store, "2024-q2", prepared, mail, SMTPTransport(mail, password=""))
                times["send"].append(time.perf_counter() - started)
            assert report.sent == args.recipients, report

            # The same per-recipient messages and transport, without the ledger: what the ledger costs.
            transport = SMTPTransport(mail, password="")
            template = MessageTemplate(prepared, mail)
            started = time.perf_counter()
            for person in people:
                transport.send(template.render(person.email, person.name), mail.sender, person.email, False)
            transport.close()
            times["no ledger"].append(time.perf_counter() - started)
    controller.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = args.recipients
    bare, real, unledgered = (statistics.median(times[k]) for k in ("bare", "send", "no ledger"))
    print(f"{n} recipients, message of {len(data) / 1024:.0f} KB, {args.rounds} interleaved rounds, medians")
    print(f"  bare smtplib loop (one prebuilt message):  {n / bare:7.0f} msg/s ({bare:.1f} s)")
    print(
        f"  newsletter send (messages + ledger):       {n / real:7.0f} msg/s ({real:.1f} s) "
        f"= {bare / real * 100:.0f}% of the bare loop (target >= 50%)"
    )
    print(
        f"  the same messages without the ledger:      {n / unledgered:7.0f} msg/s; the ledger adds "
        f"{(real - unledgered) / unledgered * 100:.0f}% (target <= 10%)"
    )
    print("  all rounds (s): " + "; ".join(f"{k} " + ", ".join(f"{t:.1f}" for t in v) for k, v in times.items()))
    print(f"  peak memory: {peak:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()

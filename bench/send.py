"""Benchmark: the whole `newsletter send` of one issue to 10,000 recipients, against a bare smtplib loop.

The SMTP server (aiosmtpd, accepting everything and counting) runs in its own
process, so neither the sender nor the baseline shares an interpreter, or its
lock, with it. Each round, interleaved:

- the baseline: a bare smtplib loop sending one prebuilt message to every
  recipient over one connection (what the machine and the server allow);
- `newsletter send 2024-q2 --yes` as the editor runs it, in its own process,
  timed from start to exit: Python start-up, the checks of the build, adding
  the active contacts to the ledger (freezing), a message per recipient, one
  durable ledger write per message;
- with `--before DIR`, the same command from another copy of the code (e.g.
  `git archive <commit> | tar -x -C DIR`, the code before a change), in a
  workspace of its own (a newer database would be refused by older code).

Every round starts from the same workspace (10,000 active contacts imported,
the issue built, no ledger). Medians over the rounds are reported, the
sender's rate as a share of the baseline's, the change against `--before`,
and the peak memory of the send process.

    python3 bench/send.py [--recipients 10000] [--rounds 3] [--before DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISSUE = "2024-q2"


class Sink:
    """An aiosmtpd handler that accepts everything and keeps only a count."""

    def __init__(self, count):
        self.count = count

    async def handle_DATA(self, server, session, envelope):
        with self.count.get_lock():
            self.count.value += 1
        return "250 OK"


def serve(port: int, count, ready) -> None:
    """The SMTP server's process: aiosmtpd on 127.0.0.1:`port` until terminated."""
    from aiosmtpd.controller import Controller

    controller = Controller(Sink(count), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        asyncio.run(asyncio.sleep(10**9))
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(code: Path, workspace: Path, *args: str, check: bool = True) -> tuple[float, float, str]:
    """`newsletter --workspace W ARGS` with the code in `code`: (seconds, peak memory in MB, output)."""
    env = {**os.environ, "PYTHONPATH": str(code), "NEWSLETTER_SMTP_PASSWORD": ""}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--workspace", str(workspace), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = process.stdout.read().decode("utf-8", "replace")
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if check and process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({process.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def workspace(code: Path, folder: Path, port: int, recipients: int) -> Path:
    """A workspace for `code`: the sample issue built, `recipients` active contacts, SMTP at `port`."""
    folder.mkdir(parents=True)
    if (code / "templates").is_dir():
        shutil.copytree(code / "templates", folder / "templates", dirs_exist_ok=True)
    shutil.copy(code / "feeds.yaml", folder)
    (folder / "issues").mkdir()
    shutil.copy(code / "issues" / f"{ISSUE}.yaml", folder / "issues")
    settings = (code / "newsletter.yaml").read_text(encoding="utf-8")
    settings += f"\nsmtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 60\n"
    (folder / "newsletter.yaml").write_text(settings, encoding="utf-8")
    contacts = folder / "kontakter.csv"
    rows = ["email;name"] + [f"mottaker{i:05d}@example.org;Mottaker {i} Ødegård" for i in range(recipients)]
    contacts.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run(code, folder, "contacts", "import", str(contacts))
    run(code, folder, "build", ISSUE, "--format", "email,text")
    shutil.copytree(folder / "var", folder / "var.fresh")
    return folder


def fresh(folder: Path) -> None:
    """Back to the workspace as set up: the contacts, no ledger."""
    shutil.rmtree(folder / "var")
    shutil.copytree(folder / "var.fresh", folder / "var")


def send_args(code: Path, folder: Path) -> list[str]:
    """`send ISSUE`, with --yes where the code asks before a real send."""
    _s, _m, help_text = run(code, folder, "send", "--help")
    return ["send", ISSUE] + (["--yes"] if "--yes" in help_text else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--before", type=Path, help="another copy of the code to compare with (same bench)")
    args = parser.parse_args()
    n = args.recipients

    context = multiprocessing.get_context("spawn")
    count, ready = context.Value("q", 0), context.Event()
    port = free_port()
    server = context.Process(target=serve, args=(port, count, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("the SMTP server did not start")
    codes = {"send": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    times: dict[str, list[float]] = {"bare": []} | {name: [] for name in codes}
    memory: dict[str, float] = {}
    sys.path.insert(0, str(ROOT))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            spaces = {name: workspace(code, Path(tmp) / name, port, n) for name, code in codes.items()}
            commands = {name: send_args(codes[name], spaces[name]) for name in codes}
            from newsletter.config import load_settings
            from newsletter.curate.issuefile import IssueDocument
            from newsletter.mail.compose import MessageTemplate, prepare

            settings = load_settings(ROOT / "newsletter.yaml")
            issue = IssueDocument.load(ROOT / "issues" / f"{ISSUE}.yaml").issue(settings)
            data = MessageTemplate(prepare(issue, spaces["send"] / "build" / ISSUE), settings.mail).render(
                "mottaker00000@example.org", "Mottaker 0 Ødegård"
            )
            people = [f"mottaker{i:05d}@example.org" for i in range(n)]
            for _round in range(args.rounds):
                started = time.perf_counter()
                with smtplib.SMTP("127.0.0.1", port) as smtp:
                    for address in people:
                        smtp.sendmail(settings.mail.sender, [address], data)
                times["bare"].append(time.perf_counter() - started)
                for name in codes:
                    fresh(spaces[name])
                    before = count.value
                    seconds, peak, output = run(codes[name], spaces[name], *commands[name])
                    if count.value - before != n:
                        raise SystemExit(f"{name}: the server got {count.value - before} of {n}\n{output}")
                    times[name].append(seconds)
                    memory[name] = max(memory.get(name, 0.0), peak)
    finally:
        server.terminate()
        server.join()

    bare = statistics.median(times["bare"])
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    print(f"{n} recipients, message of {len(data) / 1024:.0f} KB, {args.rounds} interleaved rounds, medians")
    print(f"  load average at the end: {' '.join(load)}")
    print(f"  bare smtplib loop (one prebuilt message): {n / bare:6.0f} msg/s ({bare:.1f} s)")
    for name in codes:
        seconds = statistics.median(times[name])
        label = "newsletter send (whole command)" if name == "send" else f"the same, code in {codes[name]}"
        print(
            f"  {label}: {n / seconds:6.0f} msg/s ({seconds:.1f} s) = {bare / seconds * 100:.0f}% of the "
            f"bare loop; peak memory {memory[name]:.0f} MB"
        )
    if "before" in codes:
        now, then = statistics.median(times["send"]), statistics.median(times["before"])
        print(f"  this code against --before: {(now - then) / then * 100:+.1f}% time (budget: +5%)")
    print("  all rounds (s): " + "; ".join(f"{k} " + ", ".join(f"{t:.1f}" for t in v) for k, v in times.items()))


if __name__ == "__main__":
    main()
